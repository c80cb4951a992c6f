// Generator: what assist/ needs from a language model, implemented by the local engine
// (LocalGenerator) and by a remote OpenAI-compatible client (lsp/remote). Prompts are lists of
// parts: plain text is always tokenized as text (code that contains "<|fim_prefix|>" cannot
// inject a control token), special parts name a control token by its text.
//
// Threading: a Generator is thread-compatible; the scheduler's single worker thread makes all
// calls. The CancelToken may be set from any thread; generate() checks it between tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "moecode/engine/model.h"
#include "moecode/engine/result.h"
#include "moecode/engine/session.h"

namespace moecode::assist {

using engine::CancelToken;
using engine::ChatMessage;

struct PromptPart {
  // kText: tokenized as plain text. kSpecial: one control token, by its text. kMarkup: a chat
  // template's own text, in which control tokens ("<|im_start|>") are recognised; never
  // holds text that came from a document or a model.
  enum class Kind { kText, kSpecial, kMarkup };
  Kind kind = Kind::kText;
  std::string text;
};

struct Prompt {
  std::vector<PromptPart> parts;

  void add_text(std::string text) {
    if (text.empty()) return;
    if (!parts.empty() && parts.back().kind == PromptPart::Kind::kText) {
      parts.back().text += text;
    } else {
      parts.push_back({PromptPart::Kind::kText, std::move(text)});
    }
  }
  void add_special(std::string text) { parts.push_back({PromptPart::Kind::kSpecial, std::move(text)}); }
  void add_markup(std::string text) {
    if (!text.empty()) parts.push_back({PromptPart::Kind::kMarkup, std::move(text)});
  }
  // All parts concatenated (special tokens as their text): what a text-only API receives.
  std::string render() const {
    std::string out;
    for (const auto& p : parts) out += p.text;
    return out;
  }
};

// Texts of the model's special tokens from its metadata (empty where it has none).
struct SpecialTokenTexts {
  std::string fim_prefix, fim_suffix, fim_middle, fim_pad, fim_repo, fim_file_sep;
  std::string eos, eot;
};

struct GenerationOptions {
  int max_tokens = 64;
  float temperature = 0.0f;  // <= 0: greedy
  float top_p = 1.0f;
  uint64_t seed = 0;
  std::vector<std::string> stop_strings;  // the text ends before the first of these
  std::vector<std::string> stop_special;  // control tokens (by text) that end the generation
};

enum class FinishReason { kLength, kStop, kCallback };
const char* finish_reason_name(FinishReason reason);

struct Generation {
  std::string text;
  FinishReason finish = FinishReason::kLength;
  int n_prompt_tokens = 0;
  int n_cached_tokens = 0;  // prompt tokens served from the KV cache (prefix reuse)
  int n_generated_tokens = 0;
  double prompt_ms = 0;
  double generate_ms = 0;
};

// Receives each new piece of generated text; returning false stops the generation.
using StreamFn = std::function<bool(std::string_view piece)>;

class Generator {
 public:
  virtual ~Generator() = default;

  // "SmolLM2-135M-Instruct (local, cpu)": for logs and the status command.
  virtual std::string describe() const = 0;
  // Context window in tokens.
  virtual int n_ctx() const = 0;
  // Tokens of `text` tokenized as plain text (exact for the local engine).
  virtual int count_tokens(std::string_view text) const = 0;
  virtual SpecialTokenTexts special_tokens() const = 0;
  // True when the vocabulary has a control token whose text is exactly `text`.
  virtual bool has_special_token(std::string_view text) const = 0;
  // Generates a continuation of `prompt`, streaming through `on_piece`. Cancellation gives
  // an error with ErrorCode::kCancelled.
  virtual Result<Generation> generate(const Prompt& prompt, const GenerationOptions& options,
                                      const StreamFn& on_piece, const CancelToken& cancel) = 0;

  // Whether the generator can still run: ok, or why not. A local model whose file changed on
  // disk since it was loaded (truncated, rewritten, replaced) cannot: its weights are mapped
  // from that file, and reading a truncated mapping kills the process. The engine host checks
  // before each job and reloads the model. Cheap (a stat).
  virtual Status check() const { return Status::ok_status(); }

  // The prompt of a chat in the model's template, ending where the assistant's answer
  // starts. Message contents are kText parts (a document cannot inject a control token).
  // Default: "role: content" paragraphs, then "assistant:".
  virtual Prompt chat_prompt(const std::vector<ChatMessage>& messages) const;
  // Answers a chat (fix, translate, review). Default: generate(chat_prompt(messages)); a
  // remote client sends the messages to a chat endpoint instead.
  virtual Result<Generation> chat(const std::vector<ChatMessage>& messages, const GenerationOptions& options,
                                  const StreamFn& on_piece, const CancelToken& cancel) {
    return generate(chat_prompt(messages), options, on_piece, cancel);
  }
};

}  // namespace moecode::assist
