// Public session API: a KV cache with prefix reuse, evaluation, sampling, generation.
// A Session is used by one thread at a time; CancelToken may be set from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "moecode/engine/result.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::engine {

// Cooperative cancellation: copies share one flag. Checked between tokens (and between
// prompt chunks), so a generation stops within one token of cancel().
class CancelToken {
 public:
  CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
  void cancel() const { flag_->store(true, std::memory_order_relaxed); }
  bool cancelled() const { return flag_->load(std::memory_order_relaxed); }

 private:
  std::shared_ptr<std::atomic<bool>> flag_;
};

enum class KvCacheType { kF16, kF32 };

struct SessionOptions {
  int n_ctx = 0;    // 0: the model's n_ctx()
  int n_batch = 0;  // tokens per prefill step; 0: 512
  std::optional<KvCacheType> kv_type;  // unset: the model's LoadOptions::kv_type
};

// The routed experts an eval chose, per MoE layer (a diagnostic: the conformance tests
// compare it with llama.cpp's choice). Dense models leave it empty.
struct ExpertTrace {
  struct Choice {
    std::vector<int32_t> experts;  // n_expert_used ids, best first
    // How close the choice came to another: the smallest gap between the last chosen
    // selection score (router probability, plus the selection bias where the model has
    // one) and a passed-over one, or between the last kept expert group's score and a
    // dropped group's (group-limited routing); +inf when every expert is used.
    float margin = 0;
  };
  // layer -> one Choice per token that reached the layer, in order: every token the eval
  // ran, except that the last layer runs only the tokens whose logits are kept.
  std::map<int, std::vector<Choice>> layers;
};

struct EvalOptions {
  // Keep the logits of every token this eval computes (all_logits()), not only the last.
  bool logits_all = false;
  // When set, receives the experts chosen for the tokens this eval runs (cleared first).
  ExpertTrace* experts = nullptr;
};

struct SamplingParams {
  float temperature = 0.0f;  // <= 0: greedy
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  float min_p = 0.0f;        // 0: off
  float repeat_penalty = 1.0f;
  int repeat_last_n = 64;
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  uint64_t seed = 0;
};

struct GenerateOptions {
  int max_tokens = 128;
  SamplingParams sampling;
  std::vector<std::string> stop_strings;  // the text is cut before the stop string
  std::vector<Token> stop_tokens;
  bool stop_at_end_of_generation = true;  // EOS/EOT end the generation
  // Prompt-lookup speculative decoding (greedy sampling without penalties only): after each
  // token, up to draft_max tokens that followed the latest earlier occurrence of the last
  // n-gram (3, else 2 tokens) of prompt + output are evaluated with it in one batch, and
  // kept while they equal the greedy choice. The tokens are those of plain greedy decoding;
  // code that repeats nearby text (fixes, translation, edits) decodes several tokens per
  // step. 0: off.
  int draft_max = 0;
};

enum class StopReason { kMaxTokens, kEndOfGeneration, kStopToken, kStopString, kCallback, kCancelled, kContextFull };
const char* stop_reason_name(StopReason reason);

struct EvalStats {
  int n_tokens = 0;    // tokens now in the cache
  int n_reused = 0;    // of which reused from the previous contents (common prefix)
  int n_evaluated = 0; // evaluated by this call
  double ms = 0;
};

struct GenerateResult {
  std::vector<Token> tokens;  // generated ids only
  std::string text;           // their text (cut at a stop string)
  StopReason stop = StopReason::kMaxTokens;
  EvalStats prompt;
  double prompt_ms = 0;
  double generate_ms = 0;
  // Speculative decoding (GenerateOptions::draft_max): draft tokens evaluated, and of them
  // those that matched the greedy choice; decode steps (model evaluations after the prompt).
  int n_drafted = 0;
  int n_accepted = 0;
  int n_decode_steps = 0;
};

// Called once per generated token, on the generating thread, with the complete UTF-8
// text that token made available (empty when it completed no character, or when the
// text is held back because it may start a stop string) and the token; at the end, once
// more for text still held back. Returning false stops the generation
// (StopReason::kCallback).
using TextCallback = std::function<bool(std::string_view text, Token token)>;

class Session {
 public:
  virtual ~Session() = default;

  // Makes the cache hold exactly `tokens`: keeps the longest common prefix with what it
  // holds, evaluates the rest. Afterwards last_logits() are those of the last token.
  // Cancellation is checked between chunks; a cancelled eval leaves a consistent prefix.
  Result<EvalStats> eval(std::span<const Token> tokens, const CancelToken* cancel = nullptr) {
    return eval(tokens, EvalOptions{}, cancel);
  }
  virtual Result<EvalStats> eval(std::span<const Token> tokens, const EvalOptions& options,
                                 const CancelToken* cancel) = 0;

  // Logits after the last evaluated token, n_vocab floats (empty before any eval).
  virtual std::span<const float> last_logits() const = 0;
  // After an eval with logits_all: the logits of each token it evaluated, in order
  // ([n_evaluated][n_vocab]; the first is position n_reused). Empty otherwise.
  virtual std::span<const float> all_logits() const = 0;

  // eval(prompt), then samples up to max_tokens tokens, streaming through `on_text`.
  virtual Result<GenerateResult> generate(std::span<const Token> prompt, const GenerateOptions& options,
                                          const TextCallback& on_text = {},
                                          const CancelToken* cancel = nullptr) = 0;

  // Drops cached tokens beyond the first n.
  virtual void truncate(int n_tokens) = 0;
  virtual std::span<const Token> cached_tokens() const = 0;
  virtual int n_ctx() const = 0;
  // Total tokens this session has run through the model (tests check prefix reuse with it).
  virtual uint64_t n_tokens_evaluated() const = 0;
  virtual KvCacheType kv_type() const = 0;
};

}  // namespace moecode::engine
