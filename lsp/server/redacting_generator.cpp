// Secrets out of every prompt (see redacting_generator.h).
#include "lsp/server/redacting_generator.h"

#include "lsp/protocol/types.h"
#include "lsp/workspace/secrets.h"

namespace moecode::server {

RedactingGenerator::RedactingGenerator(std::unique_ptr<assist::Generator> inner) : inner_(std::move(inner)) {}

std::string RedactingGenerator::redacted(std::string_view text) const {
  const auto spans = workspace::find_secrets(text);
  if (spans.empty()) return std::string(text);
  n_redacted_ += spans.size();
  return workspace::redact(text, spans);
}

Result<assist::Generation> RedactingGenerator::generate(const assist::Prompt& prompt,
                                                        const assist::GenerationOptions& options,
                                                        const assist::StreamFn& on_piece,
                                                        const assist::CancelToken& cancel) {
  assist::Prompt clean;
  clean.parts.reserve(prompt.parts.size());
  for (const assist::PromptPart& part : prompt.parts) {
    clean.parts.push_back(part.kind == assist::PromptPart::Kind::kText
                              ? assist::PromptPart{part.kind, redacted(part.text)}
                              : part);
  }
  return inner_->generate(clean, options, on_piece, cancel);
}

assist::Prompt RedactingGenerator::chat_prompt(const std::vector<assist::ChatMessage>& messages) const {
  // The inner template; generate() redacts its text parts on the way in.
  return inner_->chat_prompt(messages);
}

Result<assist::Generation> RedactingGenerator::chat(const std::vector<assist::ChatMessage>& messages,
                                                    const assist::GenerationOptions& options,
                                                    const assist::StreamFn& on_piece, const assist::CancelToken& cancel) {
  std::vector<assist::ChatMessage> clean = messages;
  for (assist::ChatMessage& m : clean) m.content = redacted(m.content);
  return inner_->chat(clean, options, on_piece, cancel);
}

std::unique_ptr<assist::Generator> redacting(std::unique_ptr<assist::Generator> g) {
  if (!g) return g;
  return std::make_unique<RedactingGenerator>(std::move(g));
}

bool is_secret_document(const std::string& uri_or_path) {
  const std::string path = uri_or_path.starts_with("file:") ? protocol::uri_to_path(uri_or_path).value_or(uri_or_path)
                                                            : uri_or_path;
  return workspace::is_secret_file_name(path);
}

}  // namespace moecode::server
