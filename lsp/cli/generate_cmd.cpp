// `moecode generate [-m MODEL] (-p TEXT | --tokens ID,ID,...) [--chat] [-n N] [--temp T]
// [--top-k K] [--top-p P] [--min-p P] [--seed S] [--stop S]... [--json]`: streams the
// model's continuation of the prompt to stdout (Ctrl-C stops it cleanly).
// Contract (--json): nothing is streamed; one line {"tokens":[generated ids],"text":"..."}.
// With --chat the prompt is the user message of a chat in the model's template; R1-style
// reasoning (<think>...</think>) is then kept out of the text unless --show-reasoning.
#include <csignal>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/assist/generator.h"
#include "lsp/cli/assist_args.h"
#include "lsp/cli/commands.h"
#include "lsp/cli/engine_args.h"
#include "lsp/remote/remote_generator.h"
#include "moecode/engine/model.h"

namespace moecode::cli {

namespace {

struct GenerateArgs {
  EngineArgs engine;
  std::string prompt;
  std::string tokens;
  std::string system;
  bool chat = false;
  bool json = false;
  bool show_reasoning = false;
  int n_predict = 128;
  int draft = 0;
  float temp = 0.8f;
  int top_k = 40;
  float top_p = 0.95f;
  float min_p = 0.05f;
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  int64_t seed = -1;  // -1: random
  std::vector<std::string> stop;
  remote::RemoteConfig remote;
};

// Ctrl-C cancels the running generation (CancelToken::cancel is a lock-free store).
const engine::CancelToken* g_cancel = nullptr;
extern "C" void on_sigint(int) {
  if (g_cancel) g_cancel->cancel();
}

// --remote: the prompt goes to a remote OpenAI-compatible engine (docs/remote.md).
template <class OnText>
int run_remote(const GenerateArgs& a, const remote::RemoteConfig& rc, OnText& on_text, bool hide_reasoning,
               bool& in_reasoning, size_t& shown, std::string& streamed) {
  if (!a.tokens.empty()) {
    fmt::print(stderr, "moecode: --tokens needs the local model (a remote engine takes text)\n");
    return 1;
  }
  auto g = remote::RemoteGenerator::connect(rc);
  if (!g.ok()) {
    fmt::print(stderr, "moecode: {}\n", g.error().message());
    return 1;
  }
  assist::GenerationOptions o;
  o.max_tokens = a.n_predict;
  o.temperature = a.temp;
  o.top_p = a.top_p;
  o.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();
  o.stop_strings = a.stop;
  auto piece = [&](std::string_view p) { return on_text(p, engine::Token{0}); };
  engine::CancelToken cancel;
  g_cancel = &cancel;
  std::signal(SIGINT, on_sigint);
  Result<assist::Generation> r = make_error(ErrorCode::kInternal, "");
  if (a.chat) {
    std::vector<engine::ChatMessage> messages;
    if (!a.system.empty()) messages.push_back({"system", a.system});
    messages.push_back({"user", a.prompt});
    r = (*g)->chat(messages, o, piece, cancel);
  } else {
    assist::Prompt p;
    p.add_text(a.prompt);
    r = (*g)->generate(p, o, piece, cancel);
  }
  std::signal(SIGINT, SIG_DFL);
  g_cancel = nullptr;
  if (!r.ok()) {
    fmt::print(stderr, "\nmoecode: {}\n", r.error().message());
    return 1;
  }
  if (a.json) {
    std::string text = r->text;
    if (hide_reasoning) text = engine::split_reasoning(text).answer;
    fmt::print("{}\n", nlohmann::json{{"tokens", nlohmann::json::array()}, {"text", text}}.dump(
                            -1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    if (hide_reasoning && !in_reasoning && shown < streamed.size())
      std::fwrite(streamed.data() + shown, 1, streamed.size() - shown, stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);
  fmt::print(stderr, "[{}: {} prompt tokens ({} cached), {} tokens, first text after {:.0f} ms, {:.0f} ms in all, finish: {}]\n",
             (*g)->describe(), r->n_prompt_tokens, r->n_cached_tokens, r->n_generated_tokens, r->prompt_ms,
             r->prompt_ms + r->generate_ms, assist::finish_reason_name(r->finish));
  return 0;
}

int run_generate(const GenerateArgs& a) {
  remote::RemoteConfig remote = a.remote;
  if (Status st = finish_remote_options(remote); !st.ok()) {
    fmt::print(stderr, "moecode: {}\n", st.error().message());
    return 2;
  }
  if (a.prompt.empty() == a.tokens.empty()) {
    fmt::print(stderr, "moecode: give exactly one of -p TEXT or --tokens ID,ID,...\n");
    return 1;
  }
  if (a.chat && !a.tokens.empty()) {
    fmt::print(stderr, "moecode: --chat needs a text prompt (-p)\n");
    return 1;
  }
  std::vector<engine::Token> ids;
  if (!a.tokens.empty()) {
    auto parsed = parse_token_list(a.tokens);
    if (!parsed.ok()) {
      fmt::print(stderr, "moecode: {}\n", parsed.error().message());
      return 1;
    }
    ids = std::move(*parsed);
  }
  // Streaming: with --chat, hide the reasoning block as it streams (until </think>).
  const bool hide_reasoning = a.chat && !a.show_reasoning;
  std::string streamed;
  bool in_reasoning = false;
  size_t shown = 0;
  auto on_text = [&](std::string_view piece, engine::Token) {
    if (a.json) return true;
    if (!hide_reasoning) {
      std::fwrite(piece.data(), 1, piece.size(), stdout);
      std::fflush(stdout);
      return true;
    }
    streamed.append(piece);
    // Show what is certainly outside <think>...</think>.
    for (;;) {
      if (!in_reasoning) {
        const size_t open = streamed.find("<think>", shown);
        const size_t close = streamed.find("</think>", shown);
        if (close != std::string::npos && (open == std::string::npos || close < open)) {
          shown = close + 8;  // R1: the prompt opened the block; drop what came before
          continue;
        }
        size_t upto = open == std::string::npos ? streamed.size() : open;
        if (open == std::string::npos) {
          // Hold back a possible partial "<think>" / "</think>" at the end.
          const size_t lt = streamed.rfind('<');
          if (lt != std::string::npos && lt >= shown && streamed.size() - lt < 8) upto = lt;
        }
        std::fwrite(streamed.data() + shown, 1, upto - shown, stdout);
        shown = upto;
        if (open == std::string::npos) break;
        in_reasoning = true;
        shown = open + 7;
      } else {
        const size_t close = streamed.find("</think>", shown);
        if (close == std::string::npos) break;
        in_reasoning = false;
        shown = close + 8;
      }
    }
    std::fflush(stdout);
    return true;
  };

  if (remote.enabled()) return run_remote(a, remote, on_text, hide_reasoning, in_reasoning, shown, streamed);
  auto model_r = load_model(a.engine, engine::KvCacheType::kF16);
  if (!model_r.ok()) {
    fmt::print(stderr, "moecode: {}\n", model_r.error().message());
    return 1;
  }
  const engine::Model& model = **model_r;
  if (!a.prompt.empty()) {
    std::string text = a.prompt;
    if (a.chat) {
      std::vector<engine::ChatMessage> messages;
      if (!a.system.empty()) messages.push_back({"system", a.system});
      messages.push_back({"user", a.prompt});
      text = model.apply_chat_template(messages, /*add_assistant_prefix=*/true);
    }
    ids = model.tokenizer().encode(text, /*add_special=*/true, /*parse_special=*/true);
  }
  if (ids.empty()) {
    fmt::print(stderr, "moecode: the prompt has no tokens\n");
    return 1;
  }

  auto session = model.new_session({});
  if (!session.ok()) {
    fmt::print(stderr, "moecode: {}\n", session.error().message());
    return 1;
  }
  engine::GenerateOptions go;
  go.max_tokens = a.n_predict;
  go.draft_max = a.draft;
  go.stop_strings = a.stop;
  go.sampling.temperature = a.temp;
  go.sampling.top_k = a.top_k;
  go.sampling.top_p = a.top_p;
  go.sampling.min_p = a.min_p;
  go.sampling.repeat_penalty = a.repeat_penalty;
  go.sampling.repeat_last_n = a.repeat_last_n;
  go.sampling.presence_penalty = a.presence_penalty;
  go.sampling.frequency_penalty = a.frequency_penalty;
  go.sampling.seed = a.seed >= 0 ? static_cast<uint64_t>(a.seed) : std::random_device{}();

  engine::CancelToken cancel;
  g_cancel = &cancel;
  std::signal(SIGINT, on_sigint);
  auto result = (*session)->generate(ids, go, on_text, &cancel);
  std::signal(SIGINT, SIG_DFL);
  g_cancel = nullptr;
  if (!result.ok()) {
    fmt::print(stderr, "moecode: {}\n", result.error().message());
    return 1;
  }
  if (a.json) {
    std::string text = result->text;
    if (hide_reasoning) text = engine::split_reasoning(text).answer;
    nlohmann::json j;
    j["tokens"] = result->tokens;
    j["text"] = text;
    fmt::print("{}\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  } else {
    if (hide_reasoning && !in_reasoning && shown < streamed.size())
      std::fwrite(streamed.data() + shown, 1, streamed.size() - shown, stdout);
    std::fputc('\n', stdout);
  }
  std::fflush(stdout);  // the text before the statistics, also when both go to one pipe
  const double tg = result->generate_ms > 0 ? 1000.0 * result->tokens.size() / result->generate_ms : 0;
  fmt::print(stderr, "[{} prompt tokens ({} reused) in {:.0f} ms, {} tokens in {:.0f} ms ({:.1f} tok/s), stop: {}]\n",
             result->prompt.n_tokens, result->prompt.n_reused, result->prompt_ms, result->tokens.size(),
             result->generate_ms, tg, engine::stop_reason_name(result->stop));
  if (a.draft > 0) {
    fmt::print(stderr, "[prompt lookup: {} decode steps, {} of {} draft tokens accepted]\n", result->n_decode_steps,
               result->n_accepted, result->n_drafted);
  }
  return 0;
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  auto* cmd = app.add_subcommand("generate", "Generate text from a prompt with a local model (or --remote)");
  add_engine_options(cmd, a->engine, /*with_chat_template=*/true);
  cmd->add_option("-p,--prompt", a->prompt, "Prompt text");
  cmd->add_option("--tokens", a->tokens, "Prompt as token ids, comma-separated");
  cmd->add_flag("--chat", a->chat, "Treat the prompt as a user message in the model's chat template");
  cmd->add_option("--system", a->system, "System message (with --chat)");
  cmd->add_flag("--show-reasoning", a->show_reasoning, "With --chat, also print <think> reasoning");
  cmd->add_option("-n,--n-predict", a->n_predict, "Tokens to generate at most (default 128)")->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--draft", a->draft,
                  "Prompt-lookup speculative decoding with up to N draft tokens per step (greedy only; same output)")
      ->check(CLI::Range(0, 64));
  cmd->add_option("--temp", a->temp, "Temperature; 0 = greedy (default 0.8)");
  cmd->add_option("--top-k", a->top_k, "Top-k, 0 = off (default 40)")->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--top-p", a->top_p, "Top-p, 1 = off (default 0.95)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--min-p", a->min_p, "Min-p, 0 = off (default 0.05)")->check(CLI::Range(0.0, 1.0));
  cmd->add_option("--repeat-penalty", a->repeat_penalty, "Repetition penalty, 1 = off (default 1)");
  cmd->add_option("--repeat-last-n", a->repeat_last_n, "Tokens the penalties look back (default 64)");
  cmd->add_option("--presence-penalty", a->presence_penalty, "Presence penalty (default 0)");
  cmd->add_option("--frequency-penalty", a->frequency_penalty, "Frequency penalty (default 0)");
  cmd->add_option("--seed", a->seed, "Random seed (default -1: random)");
  cmd->add_option("--stop", a->stop, "Stop string (repeatable); the text ends before it");
  cmd->add_flag("--json", a->json, "Print only {\"tokens\":[...],\"text\":\"...\"} at the end");
  add_remote_options(cmd, a->remote);
  cmd->callback([a] { exit_code() = run_generate(*a); });
}

}  // namespace moecode::cli
