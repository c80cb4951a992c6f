// C++ tags without the query engine: one walk over the tree that finds exactly the matches
// grammars/queries/cpp/tags.scm describes, pattern by pattern, in a hand-written matcher.
//
// Why: on a cold index of /usr/include (22K C++ headers) tree-sitter 0.20.7's query cursor
// costs a quarter of the parse itself, and most of that is its per-node bookkeeping, not our
// patterns (a one-pattern query costs 78 % of ours). A cursor walk that switches on the node
// symbol does the same work in about half the time.
//
// The query stays the definition: the walker is used only for the tags.scm it was written
// from (CppTagWalker::make compares a fingerprint of the query text and returns nullptr
// otherwise, so an edit to tags.scm falls back to the query until the walker follows), and
// tests compare both on every C++ file they have (tags_cpp_test.cpp).
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include <tree_sitter/api.h>

namespace moecode::workspace {

// One match, as the query would report it after its predicates: the pattern's index in
// tags.scm, the node of its role capture (@definition.*, @reference.*, @import), @name (for
// an import: @import.module) and @container (a null node when the pattern has none).
struct WalkedMatch {
  uint32_t pattern = 0;
  TSNode role{};
  TSNode name{};
  TSNode container{};
};

class CppTagWalker {
 public:
  ~CppTagWalker();
  CppTagWalker(const CppTagWalker&) = delete;
  CppTagWalker& operator=(const CppTagWalker&) = delete;

  // A walker for `language` when `query_source` is the tags.scm it implements (and every
  // node type and field it names exists in the grammar); nullptr otherwise.
  static std::unique_ptr<CppTagWalker> make(const TSLanguage* language, std::string_view query_source);

  // The capture name of pattern p's role ("definition.method", "reference.type", "import").
  static std::string_view role_capture(uint32_t pattern);
  static uint32_t pattern_count();

  // Appends every match under `root` to *out (in tree order). Thread-safe: the walker is
  // immutable; the cursors it needs are the caller's stack.
  void walk(TSNode root, std::string_view text, std::vector<WalkedMatch>* out) const;

  struct Impl;

 private:
  CppTagWalker() = default;
  std::unique_ptr<Impl> impl_;
};

// FNV-1a of a query's text (the fingerprint make() compares).
uint64_t query_fingerprint(std::string_view text);

}  // namespace moecode::workspace
