// Inline code completion, protocol-free (the LSP server and the `moecode complete` command
// share it): context -> FIM prompt for the model's family -> generation with prefix reuse ->
// stop at a natural end -> the text to insert and the byte range it replaces.
// Threading: a Completer is thread-compatible; the scheduler's worker thread calls complete().
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "lsp/assist/context.h"
#include "lsp/assist/fim.h"
#include "lsp/assist/generator.h"
#include "moecode/engine/result.h"

namespace moecode::assist {

struct CompletionOptions {
  int max_tokens = 64;
  int max_lines = 8;
  float temperature = 0.0f;
  int context_budget = 2048;  // prompt tokens for context (prefix + suffix + snippets)
};

struct CompletionRequest {
  ContextRequest context;  // document text, cursor, budget (options.context_budget wins)
  CompletionOptions options;
};

struct CompletionResult {
  std::string text;           // to insert; empty: no suggestion
  size_t replace_start = 0;   // byte range of the document it replaces
  size_t replace_end = 0;
  // Where the word being typed starts (for completion items, whose filter text is the word).
  size_t word_start = 0;
  std::string format;         // FIM format name
  Generation generation;      // token counts and timings
  double total_ms = 0;
};

// What a completion at a position would send to the model: the packed context, the prompt
// rendered for the model's format and its size in tokens (`moecode.context`, `moecode context`).
struct ContextPreview {
  CompletionContext context;
  Prompt prompt;
  std::string format;    // FIM format name
  int n_tokens = 0;      // prompt tokens (exact with a model's tokenizer)
  int budget = 0;        // the budget the context was packed into
  bool approximate = false;  // counted without a tokenizer (no model loaded)
};

// A human-readable rendering of a preview: a header, each snippet under its path, then the
// document's prefix, a "<CURSOR>" marker and its suffix.
std::string describe_preview(const ContextPreview& preview);

// The preview without a model: the provider's context counted at ~4 bytes a token, rendered
// as a plain continuation.
Result<ContextPreview> preview_without_model(ContextProvider& provider, const CompletionRequest& request,
                                             const CancelToken& cancel);

class Completer {
 public:
  // Both must outlive the Completer.
  Completer(Generator& generator, ContextProvider& provider);

  Result<CompletionResult> complete(const CompletionRequest& request, const CancelToken& cancel);
  // The context and prompt complete() would use, without generating.
  Result<ContextPreview> preview(const CompletionRequest& request, const CancelToken& cancel);

  const FimFormat& format() const { return format_; }

 private:
  // The context budget left by the model's window for `request`.
  ContextRequest context_request(const CompletionRequest& request) const;

  Generator& generator_;
  ContextProvider& provider_;
  FimFormat format_;
};

}  // namespace moecode::assist
