// Tag extraction: runs our tags query (grammars/queries/<lang>/tags.scm) over a parse tree
// and turns its matches into FileSymbols. For C++ a hand-written walker finds the same
// matches as the query, in half the time (tags_cpp.h); the query stays the definition. The tree-sitter 0.20.7 runtime only parses
// predicates, so #eq?, #not-eq?, #match?, #not-match?, #any-of? and #not-any-of? are
// evaluated here (regexes with PCRE2).
//
// Capture names (the role of a match comes from its capture name):
//   @definition.<kind>  the definition node (kind: function, method, class, struct, enum,
//                       interface, trait, module, constant, type, macro, field, variable)
//   @reference.<kind>   the reference node (kind: call, type, class)
//   @import             an import statement; @import.module (the module), @import.name
//                       (each imported name, optional)
//   @scope              a named container that is not itself a definition (a Rust impl)
//   @name               the name of the definition / reference / scope
//   @container          explicit container name (a Go method's receiver type)
//   @_anything          helper captures for predicates; ignored otherwise
//
// TagQuery::get() compiles each language's query once (thread-safe); a compiled query is
// immutable and shared. A TagExtractor owns a parser and a query cursor: one per thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <tree_sitter/api.h>

#include "grammars/languages.h"
#include "lsp/workspace/secrets.h"
#include "lsp/workspace/symbols.h"
#include "lsp/workspace/text_edit.h"
#include "moecode/engine/result.h"

namespace moecode::workspace {

class TagQuery;

// What an incremental re-extraction needs to know about the previous extraction of a text
// (besides its FileSymbols). Filled by extract(); plain data.
struct TagState {
  std::vector<uint32_t> header_end;         // per definition: where its header ends (byte)
  std::vector<uint8_t> explicit_container;  // per definition: the container came from @container
  struct Scope {
    SourceRange range;
    uint32_t header_end = 0;  // end of the scope's name
    Name name;
  };
  std::vector<Scope> scopes;       // @scope items (Rust impl blocks), by position
  std::vector<ByteSpan> secrets;   // the text's secret spans
};

// The previous extraction of a document and the single edit since (see TagExtractor::parse).
struct PreviousExtraction {
  const FileSymbols* symbols = nullptr;
  const TagState* state = nullptr;
  ByteEdit edit;
};

// Owns a TSTree (deleted with ts_tree_delete).
struct TreeDeleter {
  void operator()(TSTree* t) const { ts_tree_delete(t); }
};
using TreePtr = std::unique_ptr<TSTree, TreeDeleter>;

class TagQuery {
 public:
  ~TagQuery();
  TagQuery(const TagQuery&) = delete;
  TagQuery& operator=(const TagQuery&) = delete;

  // The compiled tags query of `language` (compiled on first use, then shared).
  // nullptr when the language has no tags query. An error when our query does not compile
  // (a bug in grammars/queries: the message names the file and the offset).
  static Result<const TagQuery*> get(const grammars::Language& language);
  // kAllowed: extract() walks the tree with a hand-written matcher where one exists for this
  // language and exactly this query (C++: tags_cpp.h); kNever: always the query cursor.
  enum class Walker { kAllowed, kNever };
  // Compiles `source` for `language` (tests and tools); the same rules as get().
  // get() compiles with kAllowed unless MOECODE_TAGS_QUERY=1.
  static Result<std::unique_ptr<TagQuery>> compile(const grammars::Language& language,
                                                   std::string_view source, Walker walker = Walker::kAllowed);

  // The compiled tree-sitter query (with a walker, compiled on this first call).
  const TSQuery* ts() const { return query(); }
  // Whether extract() runs a hand-written matcher for this query (tags_cpp.h).
  bool has_walker() const;
  // Whether the tree-sitter query is compiled yet. With a walker it waits for its first use
  // (ts(), or extract_incremental() on a range): whole files never need it, and compiling
  // the C++ query is most of the cost of indexing a first C++ file. A server warms it off
  // the message thread (SymbolWorkspaceIndex) before the first edit asks for it.
  bool query_compiled() const;

  // Extracts the symbols of `text` parsed into `root`. Runs on the caller's cursor.
  // `secrets`: sorted spans whose bytes are redacted from signatures. `state` (optional)
  // receives what a later extract_incremental() needs.
  void extract(TSQueryCursor* cursor, TSNode root, std::string_view text, std::span<const ByteSpan> secrets,
               FileSymbols* out, TagState* state = nullptr) const;

  // The same result as extract() on the new text, computed from the previous extraction:
  // only the matches inside [r0, r1) (a node of the new tree that covers the edit and
  // every changed range) are recomputed; everything else is kept, shifted past the edit.
  // Returns false (and leaves *out alone) when that would not be exact: the edit touches
  // an enclosing definition's header, a secret crosses the region's edge, a symbol
  // straddles it. Then the caller runs extract().
  bool extract_incremental(TSQueryCursor* cursor, TSNode root, std::string_view text,
                           std::span<const ByteSpan> secrets, const ByteEdit& edit, uint32_t r0, uint32_t r1,
                           const FileSymbols& old, const TagState& old_state, FileSymbols* out,
                           TagState* state) const;

  struct Impl;

 private:
  TagQuery() = default;
  // Runs the query over [lo, hi) and appends raw matches to *out (an internal type).
  void collect(TSQueryCursor* cursor, TSNode root, std::string_view text, std::span<const ByteSpan> secrets,
               uint32_t lo, uint32_t hi, void* out) const;
  // query_ and the captures' and predicates' tables: now, or for a walker at first need.
  Status compile_query(const grammars::Language& language, std::string_view source) const;
  const TSQuery* query() const;
  mutable TSQuery* query_ = nullptr;
  std::unique_ptr<Impl> impl_;
};

// A parser plus a query cursor for one thread. Not thread-safe; cheap to keep around.
class TagExtractor {
 public:
  TagExtractor();
  ~TagExtractor();
  TagExtractor(const TagExtractor&) = delete;
  TagExtractor& operator=(const TagExtractor&) = delete;

  // Aborts a parse in progress when *flag becomes non-zero (nullptr: never).
  void set_cancellation_flag(const std::atomic<size_t>* flag);

  // Parses `text` (incrementally when `old_tree` is given: it must already have been
  // edited with ts_tree_edit to match `text`) and extracts its symbols into *out.
  // With `previous` (the old tree's extraction and the one edit since) the query runs only
  // over the changed region when that is exact (TagQuery::extract_incremental).
  // `state` (optional) receives what the next incremental extraction needs.
  // Returns the new tree. Errors: language without a grammar, a cancelled or timed-out parse.
  Result<TreePtr> parse(const grammars::Language& language, std::string_view text,
                        const TSTree* old_tree, std::span<const ByteSpan> secrets, FileSymbols* out,
                        TagState* state = nullptr, const PreviousExtraction* previous = nullptr);

  // Whether the last parse() re-extracted only a region (true) or the whole text.
  bool last_extraction_was_partial() const { return last_partial_; }

 private:
  TSParser* parser_;
  TSQueryCursor* cursor_;
  bool last_partial_ = false;
};

// Applies one ByteEdit to a tree (ts_tree_edit).
void apply_edit(TSTree* tree, const ByteEdit& edit);

}  // namespace moecode::workspace
