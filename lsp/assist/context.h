// Context for a completion: the text before and after the cursor and snippets from elsewhere
// in the repository, within a token budget. ContextProvider is the seam where lsp/context's
// packer (ranking, cross-file definitions, repo map) plugs in; WindowContextProvider is the
// built-in one: prefix/suffix windows of the current document.
// Threading: providers are called from the scheduler's worker thread; WindowContextProvider is
// stateless and thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "moecode/engine/result.h"
#include "moecode/engine/session.h"

namespace moecode::assist {

struct ContextRequest {
  std::string uri;
  std::string path;         // file path when the URI is a file: URI, else empty
  std::string language_id;  // LSP language id ("python", "cpp"...)
  std::shared_ptr<const std::string> text;
  size_t cursor = 0;        // byte offset in *text
  int token_budget = 2048;  // for everything the provider returns
};

struct Snippet {
  std::string path;
  std::string text;
};

struct CompletionContext {
  std::string path;
  std::string language_id;
  std::string prefix;  // text right before the cursor (ends at the cursor)
  std::string suffix;  // text right after the cursor
  std::vector<Snippet> snippets;
  size_t prefix_start = 0;  // byte offset of prefix in the document
};

using TokenCounter = std::function<int(std::string_view)>;

class ContextProvider {
 public:
  virtual ~ContextProvider() = default;
  virtual Result<CompletionContext> gather(const ContextRequest& request, const TokenCounter& count_tokens,
                                           const engine::CancelToken& cancel) = 0;
};

// The current document only. The suffix gets a quarter of the budget (at most
// kMaxSuffixTokens), the prefix the rest; the prefix starts at a line that is a multiple of
// kAnchorLines whenever it can, so that typing does not move the start of the prompt:
// consecutive requests share a long token prefix and the engine reuses its KV cache.
class WindowContextProvider final : public ContextProvider {
 public:
  static constexpr size_t kAnchorLines = 32;
  static constexpr int kMaxSuffixTokens = 256;

  Result<CompletionContext> gather(const ContextRequest& request, const TokenCounter& count_tokens,
                                   const engine::CancelToken& cancel) override;
};

}  // namespace moecode::assist
