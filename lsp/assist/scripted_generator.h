// ScriptedGenerator: a Generator without a model, for tests and demos. It answers each prompt
// with the first scripted reply whose `match` occurs in the prompt (rendered as text), streams
// it in pieces of up to 4 bytes (one "token" each) with a configurable delay per token, and
// honours max_tokens, stop strings and cancellation like an engine. Its "tokenizer" counts
// 4-byte chunks, and it reports prefix reuse against its previous prompt as an engine would.
// `moecode serve --scripted-generator FILE` uses it so that the end-to-end tests can drive the
// real binary deterministically.
// Threading: generate() runs on one thread at a time; the observers are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "lsp/assist/generator.h"

namespace moecode::assist {

struct ScriptedReply {
  std::string match;  // substring of the rendered prompt; "" matches every prompt
  std::string text;
};

struct Script {
  std::vector<ScriptedReply> replies;
  std::string fallback;      // when no reply matches
  int token_delay_ms = 0;    // sleep per generated token
  int prompt_delay_ms = 0;   // sleep before the first token
  bool fim = false;          // report FIM tokens <fim_prefix>/<fim_suffix>/<fim_middle>
  int n_ctx = 8192;
};

class ScriptedGenerator final : public Generator {
 public:
  explicit ScriptedGenerator(Script script);

  std::string describe() const override { return "scripted generator"; }
  int n_ctx() const override { return script_.n_ctx; }
  int count_tokens(std::string_view text) const override;
  SpecialTokenTexts special_tokens() const override;
  bool has_special_token(std::string_view text) const override;
  Result<Generation> generate(const Prompt& prompt, const GenerationOptions& options, const StreamFn& on_piece,
                              const CancelToken& cancel) override;

  // ---- observers (any thread) ----
  int n_calls() const { return n_calls_.load(); }
  int n_cancelled() const { return n_cancelled_.load(); }
  bool running() const { return running_.load(); }
  std::string last_prompt() const;
  // Blocks until generate() has been entered `n` times in total; false on timeout.
  bool wait_for_calls(int n, int timeout_ms) const;
  // Called on the generating thread when generate() starts (after n_calls is updated).
  void on_start(std::function<void()> fn);

 private:
  Script script_;
  std::atomic<int> n_calls_{0};
  std::atomic<int> n_cancelled_{0};
  std::atomic<bool> running_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::string last_prompt_;
  std::string cache_;  // what the "KV cache" holds: the previous prompt and its answer
  std::function<void()> on_start_;
};

}  // namespace moecode::assist
