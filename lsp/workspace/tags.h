// Tag extraction: runs our tags query (grammars/queries/<lang>/tags.scm) over a parse tree
// and turns its matches into FileSymbols. The tree-sitter 0.20.7 runtime only parses
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
  // Compiles `source` for `language` (tests and tools); the same rules as get().
  static Result<std::unique_ptr<TagQuery>> compile(const grammars::Language& language,
                                                   std::string_view source);

  const TSQuery* ts() const { return query_; }

  // Extracts the symbols of `text` parsed into `root`. Runs on the caller's cursor.
  // `secrets`: sorted spans whose bytes are redacted from signatures.
  void extract(TSQueryCursor* cursor, TSNode root, std::string_view text,
               std::span<const ByteSpan> secrets, FileSymbols* out) const;

  struct Impl;

 private:
  TagQuery() = default;
  TSQuery* query_ = nullptr;
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
  // Returns the new tree. Errors: language without a grammar, a cancelled or timed-out parse.
  Result<TreePtr> parse(const grammars::Language& language, std::string_view text,
                        const TSTree* old_tree, std::span<const ByteSpan> secrets, FileSymbols* out);

 private:
  TSParser* parser_;
  TSQueryCursor* cursor_;
};

// Applies one ByteEdit to a tree (ts_tree_edit).
void apply_edit(TSTree* tree, const ByteEdit& edit);

}  // namespace moecode::workspace
