// libFuzzer entry: tree-sitter tags over arbitrary sources, in every language we parse, and
// the incremental path against a fresh extraction. Input: byte 0 picks the language, bytes
// 1-2 the edit's start, byte 3 how many bytes it deletes, byte 4 how many it inserts, then
// the inserted bytes, then the source text. The text is parsed and its tags extracted (with
// its secrets redacted from signatures); then the edit is applied to the text and the tree,
// and the new text is re-parsed incrementally (re-extracting only the changed region when
// that is exact) and from scratch.
// Checks: no crash; every range inside the text; where the incremental tree equals the
// fresh one, the incremental symbols equal the fresh symbols (tree-sitter's error recovery
// may legitimately build a different tree after an edit; then the symbols may differ);
// where a language has a hand-written tag walker (C++), the query cursor gives the same
// symbols on the fresh tree; a parse in a ParseArena (the full index's) gives the symbols of
// a plain one.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>

#include "grammars/languages.h"
#include "lsp/workspace/document.h"
#include "lsp/workspace/parse_arena.h"
#include "lsp/workspace/secrets.h"
#include "lsp/workspace/tags.h"

namespace {

using namespace moecode;
using namespace moecode::workspace;

[[noreturn]] void fail(const std::string& what, const std::string& lang) {
  std::fprintf(stderr, "tags_fuzz [%s]: %s\n", lang.c_str(), what.c_str());
  std::abort();
}

std::string sexp(const TSTree* tree) {
  char* s = ts_node_string(ts_tree_root_node(tree));
  std::string out(s);
  std::free(s);
  return out;
}

void check_ranges(const FileSymbols& s, size_t size, const std::string& lang) {
  auto in = [&](const SourceRange& r) { return r.start_byte <= r.end_byte && r.end_byte <= size; };
  for (const auto& d : s.definitions) {
    if (!in(d.range) || !in(d.name_range())) fail("definition '" + d.name.str() + "' outside the text", lang);
  }
  for (const auto& r : s.references) {
    if (!in(r.range())) fail("reference '" + r.name.str() + "' outside the text", lang);
  }
  for (const auto& i : s.imports) {
    if (!in(i.range)) fail("import '" + i.module.str() + "' outside the text", lang);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const auto langs = grammars::all_languages();
  const grammars::Language& lang = langs[data[0] % langs.size()];
  const std::string name(lang.name);
  const size_t n_insert = std::min<size_t>(data[4], size - 5);
  const std::string inserted(reinterpret_cast<const char*>(data + 5), n_insert);
  const std::string text(reinterpret_cast<const char*>(data + 5 + n_insert), size - 5 - n_insert);

  static TagExtractor extractor;
  FileSymbols before;
  TagState before_state;
  const auto secrets = find_secrets(text);
  auto tree = extractor.parse(lang, text, nullptr, secrets, &before, &before_state);
  if (!tree.ok()) fail("parse failed: " + tree.error().message(), name);
  check_ranges(before, text.size(), name);
  {
    // The full index's way (index.cpp): a parser of the file's own in an arena scope, the
    // tree dropped with the scope. The same symbols.
    static ParseArena arena;
    ParseArena::Scope scope(arena);
    TagExtractor own;
    FileSymbols in_arena;
    auto t = own.parse(lang, text, nullptr, secrets, &in_arena);
    if (!t.ok()) fail("parse in an arena failed: " + t.error().message(), name);
    ParseArena::drop_tree(t->release());
    if (!(in_arena == before)) fail("a parse in an arena gives different symbols", name);
  }

  const size_t start = (static_cast<size_t>(data[1]) << 8 | data[2]) % (text.size() + 1);
  const size_t end = std::min(text.size(), start + data[3] % 32);
  const ByteEdit edit = make_byte_edit(text, start, end, inserted);
  const std::string after = text.substr(0, start) + inserted + text.substr(end);
  apply_edit(tree->get(), edit);

  FileSymbols incremental;
  TagState after_state;
  const PreviousExtraction previous{&before, &before_state, edit};
  const auto after_secrets = find_secrets(after);
  auto inc_tree = extractor.parse(lang, after, tree->get(), after_secrets, &incremental, &after_state, &previous);
  if (!inc_tree.ok()) fail("incremental parse failed: " + inc_tree.error().message(), name);
  check_ranges(incremental, after.size(), name);

  FileSymbols fresh;
  auto fresh_tree = extractor.parse(lang, after, nullptr, after_secrets, &fresh);
  if (!fresh_tree.ok()) fail("fresh parse failed: " + fresh_tree.error().message(), name);
  if (!(incremental == fresh) && sexp(inc_tree->get()) == sexp(fresh_tree->get())) {
    fail("incremental symbols differ from a fresh extraction of the same tree", name);
  }
  auto walked = TagQuery::get(lang);
  if (walked.ok() && *walked && (*walked)->has_walker()) {
    static std::map<std::string, std::unique_ptr<TagQuery>> query_only;
    static TSQueryCursor* cursor = ts_query_cursor_new();
    auto& q = query_only[name];
    if (!q) q = std::move(TagQuery::compile(lang, lang.tags_query, TagQuery::Walker::kNever)).value();
    FileSymbols by_query;
    q->extract(cursor, ts_tree_root_node(fresh_tree->get()), after, after_secrets, &by_query);
    if (!(by_query == fresh)) fail("the tag walker and the query cursor give different symbols", name);
  }
  return 0;
}
