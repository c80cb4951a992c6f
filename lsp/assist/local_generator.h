// LocalGenerator: the Generator over moecode's own engine (engine/include/moecode/engine).
// One model, loaded once, and one session: the session's KV cache keeps the previous prompt
// (and its answer), so a request that shares a prefix with the one before evaluates only the
// new tokens. Prompts are tokenized with the model's tokenizer; control tokens (FIM) by their
// text. Cancellation goes to the engine's decode loop (checked between tokens).
// Threading: thread-compatible (the scheduler's worker makes every call).
#pragma once

#include <memory>
#include <string>

#include "lsp/assist/file_stamp.h"
#include "lsp/assist/generator.h"
#include "moecode/engine/model.h"
#include "moecode/engine/session.h"

namespace moecode::assist {

struct LocalGeneratorOptions {
  std::string backend = "cpu";
  int n_threads = 0;  // 0: the engine's default
  int n_ctx = 0;      // 0: the engine's default
  // Prompt tokens per prefill step. The engine checks cancellation between steps, so this
  // bounds how long a cancelled request keeps the worker busy while its prompt is evaluated.
  int n_batch = 64;
};

class LocalGenerator final : public Generator {
 public:
  static Result<std::unique_ptr<LocalGenerator>> load(const std::string& gguf_path,
                                                      const LocalGeneratorOptions& options);

  std::string describe() const override;
  int n_ctx() const override;
  int count_tokens(std::string_view text) const override;
  SpecialTokenTexts special_tokens() const override;
  bool has_special_token(std::string_view text) const override;
  Result<Generation> generate(const Prompt& prompt, const GenerationOptions& options, const StreamFn& on_piece,
                              const CancelToken& cancel) override;
  Prompt chat_prompt(const std::vector<ChatMessage>& messages) const override;
  // Fails when the model file is no longer the one that was loaded (generate() then refuses
  // to run: the mapping may reach past the end of a truncated file).
  Status check() const override;

 private:
  LocalGenerator(std::shared_ptr<engine::Model> model, std::unique_ptr<engine::Session> session,
                 std::string path, std::string backend, FileStamp stamp);

  std::shared_ptr<engine::Model> model_;
  std::unique_ptr<engine::Session> session_;
  std::string path_;
  std::string backend_;
  FileStamp stamp_;  // of the file when it was loaded
};

// The prompt's tokens for `tok`: BOS when the model asks for one, special parts as their one
// token (an error names a control token the vocabulary lacks), markup with control tokens
// recognised, text never. Shared by LocalGenerator, the HTTP server and the daemon client.
Result<std::vector<engine::Token>> tokenize_prompt(const engine::Tokenizer& tok, const Prompt& prompt);

// The chat in `model`'s template as a Prompt ending where the assistant's answer starts:
// template text is markup, message contents are text (a document cannot inject a control
// token). Falls back to the Generator's default rendering when the template drops a message.
Prompt render_chat_prompt(const engine::Model& model, const std::vector<ChatMessage>& messages);

// The texts of the tokenizer's special tokens (Generator::special_tokens of a local model), and
// whether `text` is one of its control tokens (Generator::has_special_token).
SpecialTokenTexts special_token_texts(const engine::Tokenizer& tok);
bool has_control_token(const engine::Tokenizer& tok, std::string_view text);

// LocalGenerator::load as a Generator.
Result<std::unique_ptr<Generator>> load_local_generator(const std::string& gguf_path,
                                                        const LocalGeneratorOptions& options);

}  // namespace moecode::assist
