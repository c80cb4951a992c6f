// `moecode logits -m MODEL --tokens ID,ID,... [-t N] [--top K] [--json]`: runs the tokens
// through the model as one batch and prints the logits of the last position and the top K
// of every position — the conformance check against llama.cpp's golden logits.
// Contract (--json): {"n_vocab":V,"last":[V floats],"top":[[[id,logit],...] per position]}.
// The KV cache is F32 here unless --kv-type says otherwise (goldens use F32).
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/cli/commands.h"
#include "lsp/cli/engine_args.h"
#include "moecode/engine/model.h"

namespace moecode::cli {

namespace {

struct LogitsArgs {
  EngineArgs engine;
  std::string tokens;
  int top = 10;
  bool json = false;
};

// Top k (id, logit) of one row, logit descending, ties to the lower id.
std::vector<std::pair<int, float>> top_k(std::span<const float> row, int k, std::vector<int>& idx) {
  idx.resize(row.size());
  std::iota(idx.begin(), idx.end(), 0);
  const size_t n = std::min<size_t>(static_cast<size_t>(k), row.size());
  std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(n), idx.end(),
                    [&](int a, int b) { return row[a] != row[b] ? row[a] > row[b] : a < b; });
  std::vector<std::pair<int, float>> out;
  for (size_t i = 0; i < n; ++i) out.emplace_back(idx[i], row[idx[i]]);
  return out;
}

int run_logits(const LogitsArgs& a) {
  auto ids = parse_token_list(a.tokens);
  if (!ids.ok()) {
    fmt::print(stderr, "moecode: {}\n", ids.error().message());
    return 1;
  }
  if (ids->empty()) {
    fmt::print(stderr, "moecode: --tokens is empty\n");
    return 1;
  }
  auto model = load_model(a.engine, engine::KvCacheType::kF32);
  if (!model.ok()) {
    fmt::print(stderr, "moecode: {}\n", model.error().message());
    return 1;
  }
  const int n = static_cast<int>(ids->size());
  engine::SessionOptions so;
  so.n_ctx = std::max(n, a.engine.ctx);
  so.n_batch = n;  // the whole sequence in one batch, like the goldens
  auto session = (*model)->new_session(so);
  if (!session.ok()) {
    fmt::print(stderr, "moecode: {}\n", session.error().message());
    return 1;
  }
  engine::EvalOptions eo;
  eo.logits_all = true;
  auto stats = (*session)->eval(*ids, eo, nullptr);
  if (!stats.ok()) {
    fmt::print(stderr, "moecode: {}\n", stats.error().message());
    return 1;
  }
  const int64_t n_vocab = (*model)->info().n_vocab;
  std::span<const float> all = (*session)->all_logits();
  std::span<const float> last = all.subspan(static_cast<size_t>(n - 1) * n_vocab, n_vocab);
  std::vector<int> idx;
  if (a.json) {
    nlohmann::json j;
    j["n_vocab"] = n_vocab;
    j["last"] = std::vector<float>(last.begin(), last.end());
    nlohmann::json top = nlohmann::json::array();
    for (int p = 0; p < n; ++p) {
      nlohmann::json row = nlohmann::json::array();
      for (const auto& [id, logit] : top_k(all.subspan(static_cast<size_t>(p) * n_vocab, n_vocab), a.top, idx))
        row.push_back({id, logit});
      top.push_back(std::move(row));
    }
    j["top"] = std::move(top);
    fmt::print("{}\n", j.dump());
    return 0;
  }
  fmt::print("n_vocab {}, {} positions\n", n_vocab, n);
  for (int p = 0; p < n; ++p) {
    std::string line = fmt::format("pos {:>4} (token {:>6}):", p, (*ids)[p]);
    for (const auto& [id, logit] : top_k(all.subspan(static_cast<size_t>(p) * n_vocab, n_vocab), a.top, idx))
      line += fmt::format(" {}:{:.6g}", id, logit);
    fmt::print("{}\n", line);
  }
  return 0;
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto args = std::make_shared<LogitsArgs>();
  auto* cmd = app.add_subcommand("logits", "Print the logits of a token sequence (conformance checks)");
  add_engine_options(cmd, args->engine, /*with_chat_template=*/false);
  cmd->add_option("--tokens", args->tokens, "Token ids, comma-separated")->required();
  cmd->add_option("--top", args->top, "Top K per position (default 10)")->check(CLI::Range(1, 1 << 20));
  cmd->add_flag("--json", args->json, "Print JSON: {\"n_vocab\",\"last\",\"top\"}");
  cmd->callback([args] { exit_code() = run_logits(*args); });
}

}  // namespace moecode::cli
