// Repository context for a cursor: given (document, cursor, budget in tokens), select and
// pack, with exact token counts from the model's tokenizer:
//   1. the cursor file: a prefix and a suffix window around the cursor (always);
//   2. definitions of identifiers used near the cursor, resolved cross-file through the
//      index and the file's imports, ranked by proximity, use and resolution confidence;
//   3. outlines (signatures) of imported and referenced files;
//   4. similar windows of recently opened/edited files (token-set Jaccard, as Copilot's
//      neighbouring tabs);
//   5. a repo map: files ranked by PageRank over the reference graph, with their top
//      definitions.
// Prompt order is most stable first: repo map, outlines, definitions, similar windows,
// then the cursor file, so consecutive requests share a long token prefix (the engine
// reuses its KV cache for it). Within a section snippets are in a canonical order (path,
// line), not score order, so a new snippet perturbs the prompt only from where it lands.
//
// ContextEngine::pack() is thread-safe; it reads the index through a View for its whole
// duration (a shared lock: writers wait until it returns).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsp/context/token_counter.h"
#include "lsp/workspace/index.h"
#include "moecode/engine/result.h"

namespace moecode::context {

enum class Section : uint8_t { kRepoMap = 0, kOutline, kDefinition, kSimilar, kCursor };
inline constexpr size_t kNumSections = 5;
// "repo_map", "outline", "definition", "similar", "cursor".
std::string_view section_name(Section s);

// How each snippet names its file. The model family's repo-level format where one exists
// (Qwen2.5-Coder "<|file_sep|>path\n", StarCoder2 "<file_sep>path\n"); otherwise a
// comment line in the file's language ("# path", "// path").
struct SnippetFormat {
  std::string file_separator;  // empty: comment headers

  static SnippetFormat comments() { return {}; }
  static SnippetFormat separator(std::string token) { return {std::move(token)}; }
  // The header line(s) for `path`; `comment` is the language's line-comment marker.
  std::string header(std::string_view path, std::string_view comment) const;
};

struct RecentFile {
  std::string path;                 // absolute, or relative to the first workspace root
  std::optional<std::string> text;  // the editor's text; read from the index/disk if absent
};

struct ContextRequest {
  std::string path;           // the cursor's document (absolute or relative to the first root)
  std::string text;           // its full current text
  uint32_t cursor_byte = 0;   // byte offset of the cursor in `text`
  size_t budget_tokens = 0;   // 0: ContextOptions::default_budget
  std::vector<RecentFile> recent;  // recently opened/edited files, most recent first
  SnippetFormat format;
};

struct Snippet {
  std::string path;          // display path
  uint32_t start_line = 0;   // 1-based, inclusive
  uint32_t end_line = 0;     // 1-based, inclusive
  Section section = Section::kCursor;
  std::string text;          // rendered: header + content, ends with '\n'
  size_t tokens = 0;         // tokens of `text` alone
  double score = 0;
};

struct PackedContext {
  // Context snippets in prompt order (the cursor file is not among them).
  std::vector<Snippet> snippets;
  std::string context;        // the snippets' texts, concatenated (stable material)
  std::string cursor_header;  // the cursor file's header
  std::string prefix;         // cursor-file text before the cursor (a window ending at it)
  std::string suffix;         // cursor-file text after the cursor (a window starting at it)
  std::string cursor_path;    // display path of the cursor file
  uint32_t prefix_start_line = 0;  // 1-based first line of the prefix window
  uint32_t suffix_end_line = 0;    // 1-based last line of the suffix window
  size_t tokens = 0;   // exact tokens of prompt()
  size_t budget = 0;
  std::array<size_t, kNumSections> section_tokens{};  // per section (cursor: header+prefix+suffix)
  std::array<double, kNumSections> section_ms{};      // time spent selecting each section
  double total_ms = 0;

  // The whole packed text in prompt order: context, then the cursor file's header, prefix
  // and suffix. A FIM prompt instead puts its markers around prefix and suffix.
  std::string prompt() const { return context + cursor_header + prefix + suffix; }
  // The cursor file as one snippet (section kCursor), for reports.
  Snippet cursor_snippet(const TokenCounter& counter) const;
};

struct ContextOptions {
  size_t default_budget = 8192;
  // Shares of the budget per section, in Section order (the cursor share includes the
  // suffix share). Unused budget flows to the sections after it in prompt order.
  std::array<double, kNumSections> shares = {0.10, 0.15, 0.20, 0.10, 0.45};
  double suffix_share = 0.10;
  // The suffix is also at most this fraction of the rest of the prompt, so that the part of
  // the prompt after the cursor (which changes on every keystroke) stays small.
  double max_suffix_ratio = 0.15;
  // ...except that this many suffix tokens may always stay (a small file's suffix is not cut
  // to nothing because its prefix is short).
  size_t min_suffix_tokens = 64;
  size_t max_definition_lines = 50;  // longer definitions are outlined or cut
  size_t max_outline_entries = 60;
  size_t max_repo_map_defs_per_file = 8;
  size_t similar_window_lines = 20;
  double min_similarity = 0.15;
  size_t max_similar_windows = 4;
};

// The default budget for a model: min(n_ctx - generation_reserve, 128K tokens).
size_t default_budget(size_t n_ctx, size_t generation_reserve = 512);

class ContextEngine {
 public:
  // `index` and `counter` must outlive the engine. The counter is wrapped in a cache.
  ContextEngine(const workspace::SymbolIndex& index, const TokenCounter& counter, ContextOptions options = {});
  ~ContextEngine();

  // Selects and packs the context for one cursor. Errors: a cursor past the end of the
  // text; a secret or binary cursor file (no context is built for it).
  // Guarantees: tokens <= budget; the same request on the same index gives the same result.
  Result<PackedContext> pack(const ContextRequest& request) const;

  const TokenCounter& counter() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace moecode::context
