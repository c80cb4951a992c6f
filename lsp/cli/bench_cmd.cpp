// `moecode bench [-m MODEL] [-p 512] [-n 128] [-d 0] [-t T] [-r REPS] [--json]`: prompt
// processing and generation speed, measured like llama-bench: random tokens; pp = one prompt
// of p tokens in batches of --batch-size; tg = n single-token decodes; both from a cache that
// holds -d random tokens (0: empty; the fill is not timed, and the test is named like
// llama-bench's, e.g. "tg16 @ d2048"); one warm-up run of each, then REPS timed runs;
// tokens/s as mean ± sd. Output: a markdown table like llama-bench's (or one JSON line with
// --json).
// --moe-stats (MoE models) adds, over the whole run: per layer the tokens routed to each
// expert and the routed-expert weight bytes read per decoded token (also as a share of all
// routed-expert bytes of the layer, which should be n_expert_used / n_expert), and the
// total per decoded token (a second JSON line with --json).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/cli/commands.h"
#include "lsp/cli/engine_args.h"
#include "moecode/engine/model.h"

namespace moecode::cli {

namespace {

struct BenchArgs {
  EngineArgs engine;
  int n_prompt = 512;
  int n_gen = 128;
  int depth = 0;
  int reps = 5;
  int batch = 512;
  bool json = false;
  bool moe_stats = false;
};

struct Figures {
  double mean = 0;
  double sd = 0;
  std::vector<double> samples;
};

Figures summarize(std::vector<double> v) {
  Figures f;
  f.samples = v;
  for (double x : v) f.mean += x;
  f.mean /= static_cast<double>(v.size());
  if (v.size() > 1) {
    double ss = 0;
    for (double x : v) ss += (x - f.mean) * (x - f.mean);
    f.sd = std::sqrt(ss / static_cast<double>(v.size() - 1));
  }
  return f;
}

// Leaves the cache holding exactly `base` (the depth tokens): evaluated once, kept after.
Status fill_depth(engine::Session& s, const std::vector<engine::Token>& base) {
  const auto held = s.cached_tokens();
  if (held.size() >= base.size() && std::equal(base.begin(), base.end(), held.begin())) {
    s.truncate(static_cast<int>(base.size()));
    return Status::ok_status();
  }
  s.truncate(0);
  MOE_RETURN_IF_ERROR(s.eval(base));
  return Status::ok_status();
}

// Seconds for one prompt of n random tokens after the depth tokens.
Result<double> time_prompt(engine::Session& s, const std::vector<engine::Token>& base, int n, std::mt19937& rng,
                           int64_t n_vocab) {
  MOE_RETURN_IF_ERROR(fill_depth(s, base));
  std::vector<engine::Token> ids = base;
  for (int i = 0; i < n; ++i) ids.push_back(static_cast<engine::Token>(rng() % n_vocab));
  const auto t0 = std::chrono::steady_clock::now();
  MOE_RETURN_IF_ERROR(s.eval(ids));
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Seconds for n single-token decodes after the depth tokens.
Result<double> time_gen(engine::Session& s, const std::vector<engine::Token>& base, int n, std::mt19937& rng,
                        int64_t n_vocab) {
  MOE_RETURN_IF_ERROR(fill_depth(s, base));
  std::vector<engine::Token> ids = base;
  ids.reserve(base.size() + n);
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    ids.push_back(static_cast<engine::Token>(rng() % n_vocab));
    MOE_RETURN_IF_ERROR(s.eval(ids));
  }
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string mib(double bytes) { return fmt::format("{:.2f} MiB", bytes / 1048576.0); }

// Prints the routed-expert counters (see the file comment).
void print_moe_stats(const engine::Model& model, bool json) {
  const engine::MoeStats st = model.moe_stats();
  uint64_t decode_tokens = 0, decode_bytes = 0, routed_bytes = 0;
  for (const auto& L : st.layers) {
    decode_tokens = std::max(decode_tokens, L.n_decode_tokens);
    decode_bytes += L.decode_bytes_read;
    routed_bytes += L.routed_bytes;
  }
  const double per_token = decode_tokens ? static_cast<double>(decode_bytes) / static_cast<double>(decode_tokens) : 0;
  const double expected = st.n_expert ? static_cast<double>(st.n_expert_used) / static_cast<double>(st.n_expert) : 0;
  if (json) {
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& L : st.layers) {
      layers.push_back({{"layer", L.layer},
                        {"tokens", L.n_tokens},
                        {"expert_tokens", L.expert_tokens},
                        {"decode_tokens", L.n_decode_tokens},
                        {"decode_bytes_read", L.decode_bytes_read},
                        {"routed_bytes", L.routed_bytes}});
    }
    nlohmann::json j = {{"moe_stats",
                         {{"n_expert", st.n_expert},
                          {"n_expert_used", st.n_expert_used},
                          {"decode_tokens", decode_tokens},
                          {"expert_bytes_per_decoded_token", per_token},
                          {"routed_bytes", routed_bytes},
                          {"layers", layers}}}};
    fmt::print("{}\n", j.dump());
    return;
  }
  if (st.layers.empty()) {
    fmt::print("\nMoE stats: the model has no routed experts\n");
    return;
  }
  fmt::print("\nMoE stats: {} experts, {} used per token; {} decoded tokens\n\n", st.n_expert, st.n_expert_used,
             decode_tokens);
  fmt::print("| layer | tokens | tokens per expert | expert bytes read / decoded token | share of the layer's routed bytes |\n");
  fmt::print("| ---: | ---: | --- | ---: | ---: |\n");
  for (const auto& L : st.layers) {
    std::string usage;
    for (size_t e = 0; e < L.expert_tokens.size(); ++e) usage += (e ? " " : "") + std::to_string(L.expert_tokens[e]);
    const double b = L.n_decode_tokens ? static_cast<double>(L.decode_bytes_read) / static_cast<double>(L.n_decode_tokens) : 0;
    fmt::print("| {} | {} | {} | {} | {:.2f} % |\n", L.layer, L.n_tokens, usage, mib(b),
               L.routed_bytes ? 100.0 * b / static_cast<double>(L.routed_bytes) : 0.0);
  }
  fmt::print("\nexpert weight bytes read per decoded token: {:.0f} ({}) of {} routed-expert bytes = {:.2f} % "
             "(n_expert_used / n_expert = {:.2f} %)\n",
             per_token, mib(per_token), routed_bytes,
             routed_bytes ? 100.0 * per_token / static_cast<double>(routed_bytes) : 0.0, 100.0 * expected);
}

int run_bench(const BenchArgs& a) {
  auto model = load_model(a.engine, engine::KvCacheType::kF16);
  if (!model.ok()) {
    fmt::print(stderr, "moecode: {}\n", model.error().message());
    return 1;
  }
  const engine::ModelInfo& info = (*model)->info();
  engine::SessionOptions so;
  so.n_ctx = a.depth + std::max({a.n_prompt, a.n_gen, 16});
  so.n_batch = a.batch;
  auto session = (*model)->new_session(so);
  if (!session.ok()) {
    fmt::print(stderr, "moecode: {}\n", session.error().message());
    return 1;
  }
  engine::Session& s = **session;
  std::mt19937 rng(1234);
  std::vector<engine::Token> base(static_cast<size_t>(a.depth));
  for (auto& t : base) t = static_cast<engine::Token>(rng() % info.n_vocab);
  (*model)->reset_moe_stats();
  const int threads = a.engine.threads;

  struct Test {
    std::string name;
    int n;
    bool prompt;
  };
  std::vector<Test> tests;
  const std::string at_depth = a.depth > 0 ? " @ d" + std::to_string(a.depth) : "";
  if (a.n_prompt > 0) tests.push_back({"pp" + std::to_string(a.n_prompt) + at_depth, a.n_prompt, true});
  if (a.n_gen > 0) tests.push_back({"tg" + std::to_string(a.n_gen) + at_depth, a.n_gen, false});

  std::vector<std::pair<Test, Figures>> results;
  for (const Test& t : tests) {
    // Warm-up (as llama-bench: the whole prompt, or one generated token).
    auto warm = t.prompt ? time_prompt(s, base, t.n, rng, info.n_vocab) : time_gen(s, base, 1, rng, info.n_vocab);
    if (!warm.ok()) {
      fmt::print(stderr, "moecode: {}\n", warm.error().message());
      return 1;
    }
    std::vector<double> rates;
    for (int r = 0; r < a.reps; ++r) {
      auto secs = t.prompt ? time_prompt(s, base, t.n, rng, info.n_vocab) : time_gen(s, base, t.n, rng, info.n_vocab);
      if (!secs.ok()) {
        fmt::print(stderr, "moecode: {}\n", secs.error().message());
        return 1;
      }
      rates.push_back(t.n / *secs);
    }
    results.emplace_back(t, summarize(rates));
  }

  const std::string model_desc = fmt::format("{} {:.1f}M", info.architecture, info.n_params / 1e6);
  const std::string thread_text = threads > 0 ? std::to_string(threads) : "auto";
  if (a.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& [t, f] : results) {
      j.push_back({{"model", model_desc},
                   {"size_bytes", info.file_bytes},
                   {"params", info.n_params},
                   {"backend", info.backend},
                   {"backend_detail", info.backend_detail},
                   {"weights", info.weight_memory == engine::WeightMemory::kCopied ? "copied" : "mapped"},
                   {"threads", threads},
                   {"test", t.name},
                   {"n_tokens", t.n},
                   {"n_depth", a.depth},
                   {"avg_ts", f.mean},
                   {"stddev_ts", f.sd},
                   {"samples_ts", f.samples}});
    }
    fmt::print("{}\n", j.dump());
    if (a.moe_stats) print_moe_stats(**model, true);
    return 0;
  }
  fmt::print("| model | size | params | backend | threads | test | t/s |\n");
  fmt::print("| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
  for (const auto& [t, f] : results) {
    fmt::print("| {} | {:.2f} MiB | {:.2f} M | {} | {} | {} | {:.2f} ± {:.2f} |\n", model_desc,
               info.file_bytes / 1048576.0, info.n_params / 1e6, info.backend, thread_text, t.name, f.mean, f.sd);
  }
  if (info.backend != "cpu") fmt::print("\nbackend: {}\n", info.backend_detail);
  fmt::print("\nweights: {}\n", info.weight_memory == engine::WeightMemory::kCopied
                                     ? "copied into huge pages (--mmap keeps the file mapped)"
                                     : "the file's mapping (--no-mmap copies them into huge pages)");
  if (a.moe_stats) print_moe_stats(**model, false);
  return 0;
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto a = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Measure prompt processing and generation speed (like llama-bench)");
  add_engine_options(cmd, a->engine, /*with_chat_template=*/false);
  cmd->add_option("-p,--n-prompt", a->n_prompt, "Prompt tokens (default 512; 0 skips the test)")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-n,--n-gen", a->n_gen, "Generated tokens (default 128; 0 skips the test)")->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-d,--n-depth", a->depth,
                  "Tokens already in the cache for each test (default 0; like llama-bench -d)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("-r,--repetitions", a->reps, "Timed runs per test (default 5)")->check(CLI::Range(1, 1000));
  cmd->add_option("-b,--batch-size", a->batch, "Prompt tokens per forward pass (default 512)")->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->add_flag("--moe-stats", a->moe_stats,
                "Also print per-layer expert usage and expert weight bytes read per decoded token");
  cmd->callback([a] { exit_code() = run_bench(*a); });
}

}  // namespace moecode::cli
