// moecode's OpenAI-compatible client (RemoteGenerator) against a server we did not write:
// prints PASS/FAIL for each part (model list and context size, streamed completion, stop
// strings, max_tokens, usage, chat, reasoning-free chat text, cancellation, early stop by the
// caller, FIM with "suffix", llama.cpp's /infill, an error answer), so that a peer run records
// what works (bench/peer/llama_cpp_python_peer.sh).
//
//   remote_peer_check --url http://127.0.0.1:8765/v1 [--model ID] [--preset openai]
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "lsp/remote/remote_generator.h"

namespace {

using moecode::remote::RemoteConfig;
using moecode::remote::RemoteGenerator;
using Clock = std::chrono::steady_clock;

int n_pass = 0, n_fail = 0;

void report(bool ok, const std::string& name, const std::string& detail) {
  (ok ? n_pass : n_fail)++;
  std::string d = detail;
  for (char& c : d) {
    if (c == '\n') c = ' ';
  }
  if (d.size() > 160) d = d.substr(0, 160) + "...";
  std::printf("%s  %-28s %s\n", ok ? "PASS" : "FAIL", name.c_str(), d.c_str());
  std::fflush(stdout);
}

moecode::assist::Prompt text(const std::string& s) {
  moecode::assist::Prompt p;
  p.add_text(s);
  return p;
}

}  // namespace

int main(int argc, char** argv) {
  RemoteConfig c;
  c.preset = "openai";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--url") c.base_url = argv[i + 1];
    else if (k == "--model") c.model = argv[i + 1];
    else if (k == "--preset") c.preset = argv[i + 1];
  }
  if (c.base_url.empty()) {
    std::fprintf(stderr, "usage: remote_peer_check --url URL [--model ID] [--preset P]\n");
    return 2;
  }
  c.fim = "none";
  c.timeout_ms = 300000;
  auto g = RemoteGenerator::connect(c);
  if (!g.ok()) {
    report(false, "connect", g.error().message());
    return 1;
  }
  RemoteGenerator& gen = **g;
  report(!gen.model().empty(), "GET /models", "model '" + gen.model() + "', context " + std::to_string(gen.n_ctx()) +
                                                  (gen.config().config.n_ctx > 0 ? "" : " (reported or default 8192)"));
  moecode::assist::GenerationOptions o;
  o.max_tokens = 24;
  const moecode::engine::CancelToken none;

  int pieces = 0;
  auto r = gen.generate(text("def fibonacci(n):\n"), o, [&](std::string_view) { return ++pieces > 0; }, none);
  report(r.ok() && !r->text.empty() && pieces >= 2, "completion, streamed",
         r.ok() ? std::to_string(pieces) + " pieces: " + r->text : r.error().message());
  if (r.ok()) {
    auto again = gen.generate(text("def fibonacci(n):\n"), o, nullptr, none);
    report(again.ok() && again->text == r->text, "greedy is repeatable", again.ok() ? again->text : again.error().message());
    report(r->n_generated_tokens > 0 && r->n_prompt_tokens > 0, "usage in the stream",
           std::to_string(r->n_prompt_tokens) + " prompt, " + std::to_string(r->n_generated_tokens) + " generated, " +
               std::to_string(r->n_cached_tokens) + " cached");
  }
  {
    auto s = o;
    s.max_tokens = 40;
    s.stop_strings = {"\n"};
    auto st = gen.generate(text("Here is a list:\n1."), s, nullptr, none);
    report(st.ok() && st->text.find('\n') == std::string::npos, "stop strings",
           st.ok() ? st->text : st.error().message());
  }
  {
    auto s = o;
    s.max_tokens = 4;
    auto st = gen.generate(text("Once upon a time"), s, nullptr, none);
    report(st.ok() && st->finish == moecode::assist::FinishReason::kLength, "max_tokens -> finish length",
           st.ok() ? std::string(moecode::assist::finish_reason_name(st->finish)) + ": " + st->text : st.error().message());
  }
  {
    int n = 0;
    auto ch = gen.chat({{"system", "You are brief."}, {"user", "Write a Python function that adds two numbers."}}, o,
                       [&](std::string_view) { return ++n > 0; }, none);
    report(ch.ok() && !ch->text.empty(), "chat, streamed", ch.ok() ? std::to_string(n) + " pieces: " + ch->text : ch.error().message());
  }
  {
    auto s = o;
    s.max_tokens = 2000;
    moecode::engine::CancelToken cancel;
    int n = 0;
    Clock::time_point at;
    auto cr = gen.generate(text("Count from one to one thousand: one, two,"), s, [&](std::string_view) {
      if (++n == 3) {
        at = Clock::now();
        cancel.cancel();
      }
      return true;
    }, cancel);
    const double ms = std::chrono::duration<double, std::milli>(Clock::now() - at).count();
    report(!cr.ok() && cr.error().code() == moecode::ErrorCode::kCancelled, "cancellation closes the stream",
           cr.ok() ? "finished anyway" : cr.error().message() + " (" + std::to_string(static_cast<int>(ms)) + " ms after cancel)");
  }
  {
    auto s = o;
    s.max_tokens = 200;
    int n = 0;
    auto cb = gen.generate(text("The alphabet: a, b, c,"), s, [&](std::string_view) { return ++n < 3; }, none);
    report(cb.ok() && cb->finish == moecode::assist::FinishReason::kCallback, "caller stops early",
           cb.ok() ? cb->text : cb.error().message());
  }
  for (const char* fim : {"suffix", "infill"}) {
    RemoteConfig fc = c;
    fc.fim = fim;
    if (std::string(fim) == "infill") fc.preset = "llamacpp";
    auto fg = RemoteGenerator::connect(fc);
    if (!fg.ok()) {
      report(false, std::string("FIM ") + fim, fg.error().message());
      continue;
    }
    moecode::assist::Prompt p;
    p.add_special("<|fim_prefix|>");
    p.add_text("def add(a, b):\n    ");
    p.add_special("<|fim_suffix|>");
    p.add_text("\n\nprint(add(1, 2))\n");
    p.add_special("<|fim_middle|>");
    auto fr = (*fg)->generate(p, o, nullptr, none);
    report(fr.ok(), std::string("FIM ") + (std::string(fim) == "suffix" ? "\"suffix\"" : "/infill"),
           fr.ok() ? fr->text : fr.error().message());
  }
  {
    RemoteConfig bc = c;
    bc.model = "no-such-model-xyz";
    auto bg = RemoteGenerator::connect(bc);
    if (bg.ok()) {
      auto br = (*bg)->generate(text("x"), o, nullptr, none);
      report(true, "unknown model name", br.ok() ? "accepted (the server ignores the name)" : br.error().message());
    }
  }
  std::printf("%d passed, %d failed\n", n_pass, n_fail);
  return 0;
}
