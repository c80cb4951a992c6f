// RedactingGenerator: the one door every prompt passes on its way to a model. It wraps the
// Generator the server (and the assist commands) use, and replaces the secrets that
// lsp/workspace/secrets.h finds (private keys, cloud and API tokens, passwords in URLs) in
// every text part of every prompt and chat message by "[REDACTED]" before the inner
// generator sees it - whichever path built the prompt: the repository packer, the
// document-only window (before indexing, outside the workspace, --no-repo-context), fixes,
// translation, review; local or remote model. Template markup and control tokens are ours and
// pass unchanged. Secret *files* (.env, *.pem...) are refused before a prompt is built (see
// is_secret_document()).
// Threading: as thread-compatible as the generator it wraps; the counter is atomic.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "lsp/assist/generator.h"

namespace moecode::server {

class RedactingGenerator final : public assist::Generator {
 public:
  explicit RedactingGenerator(std::unique_ptr<assist::Generator> inner);

  std::string describe() const override { return inner_->describe(); }
  int n_ctx() const override { return inner_->n_ctx(); }
  int count_tokens(std::string_view text) const override { return inner_->count_tokens(text); }
  assist::SpecialTokenTexts special_tokens() const override { return inner_->special_tokens(); }
  bool has_special_token(std::string_view text) const override { return inner_->has_special_token(text); }
  Status check() const override { return inner_->check(); }
  Result<assist::Generation> generate(const assist::Prompt& prompt, const assist::GenerationOptions& options,
                                      const assist::StreamFn& on_piece, const assist::CancelToken& cancel) override;
  assist::Prompt chat_prompt(const std::vector<assist::ChatMessage>& messages) const override;
  Result<assist::Generation> chat(const std::vector<assist::ChatMessage>& messages,
                                  const assist::GenerationOptions& options, const assist::StreamFn& on_piece,
                                  const assist::CancelToken& cancel) override;

  assist::Generator& inner() { return *inner_; }
  // Secrets replaced so far (any thread).
  uint64_t n_redacted() const { return n_redacted_.load(); }

 private:
  std::string redacted(std::string_view text) const;

  std::unique_ptr<assist::Generator> inner_;
  mutable std::atomic<uint64_t> n_redacted_{0};
};

// Wraps `g` (null stays null).
std::unique_ptr<assist::Generator> redacting(std::unique_ptr<assist::Generator> g);

// True when the document (a file: URI or a path) is a secret file by its name: nothing of it
// may reach a prompt.
bool is_secret_document(const std::string& uri_or_path);

}  // namespace moecode::server
