// The languages moecode parses: one entry per compiled tree-sitter grammar, with the file
// names that select it, its line-comment marker and our tags query (grammars/queries/).
// The table is immutable static data; every function here is thread-safe.
#pragma once

#include <span>
#include <string_view>

#include <tree_sitter/api.h>

namespace moecode::grammars {

struct Language {
  std::string_view name;          // "cpp", "python", "tsx" ... (also the queries/ folder)
  const TSLanguage* (*ts)();      // the grammar to parse with: dense tables (below), same trees
  std::string_view line_comment;  // "//", "#", "--" ("" when the language has none: json)
  std::string_view tags_query;    // our tags.scm ("" when we have none for this language)
  // The grammar as compiled (compressed tables), for what reads only its metadata (version,
  // symbol and field names): unlike ts(), it builds nothing.
  const TSLanguage* (*grammar)();
};

// Every compiled language, in a fixed order.
std::span<const Language> all_languages();

// By name ("c_sharp" and "csharp" are the same; case-sensitive otherwise); nullptr if unknown.
const Language* language_by_name(std::string_view name);

// By file name: extension (".py", ".tsx", ".h" -> cpp ...) or exact base name
// ("Makefile" is not parsed; "Rakefile" -> ruby). nullptr when no grammar applies.
const Language* language_for_path(std::string_view path);

// A copy of `language` whose parse table holds every state as a dense row (the runtime's
// layout for its "large" states), so that no lookup scans a compressed list; the same trees,
// faster (a cold index of /usr/include: 0.78x the parse time). `language` itself when its
// ABI is not 14 or the table would pass 16 MiB. Language::ts() returns these copies, built
// once per language on first use and kept for the life of the process (Language::grammar()
// is the compiled grammar itself).
const TSLanguage* with_dense_parse_table(const TSLanguage* language);
// The bytes of every dense table built so far in this process.
size_t dense_parse_table_bytes();
// The text of grammars/queries/<lang>/<kind>.scm as embedded at build time ("" if none).
std::string_view embedded_query(std::string_view lang, std::string_view kind);

}  // namespace moecode::grammars
