// Syntax facts that fix, translate and review need from tree-sitter: how well a text parses
// (ERROR and MISSING nodes), the definition that encloses a range, the top-level units of a
// file in source order, and where comments and strings are (the mixed-language guard looks
// only at code). Languages are our grammar names ("python", "cpp", "tsx"...); grammar_for()
// maps an LSP language id or a file name to one.
// Pure functions over a text; thread-safe (each call has its own parser).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "moecode/engine/result.h"

namespace moecode::assist {

// The grammar name for an LSP language id ("typescriptreact" -> "tsx", "shellscript" -> "bash")
// or, when the id says nothing we parse, for the file name's extension. "" when neither does.
std::string grammar_for(std::string_view language_id, std::string_view path = {});
// The display name of a language for prompts ("Python", "C++", "TypeScript"...).
std::string language_display_name(std::string_view grammar);
// The usual file extension of a language (".py", ".js", ".rs"...), "" when unknown.
std::string language_extension(std::string_view grammar);

struct SyntaxReport {
  int n_errors = 0;   // ERROR nodes
  int n_missing = 0;  // MISSING nodes (inserted by the parser's error recovery)
  std::string first_problem;  // "line 3, column 7: unexpected 'foo'" ("" when clean)

  int n_problems() const { return n_errors + n_missing; }
  bool clean() const { return n_problems() == 0; }
};

// Parses `text` with `grammar`. Errors: an unknown grammar.
Result<SyntaxReport> check_syntax(std::string_view grammar, std::string_view text);

struct ByteSpan {
  size_t start = 0;
  size_t end = 0;  // exclusive
  friend bool operator==(const ByteSpan&, const ByteSpan&) = default;
};

struct DefinitionSpan {
  ByteSpan span;     // the whole definition, from the start of its first line
  std::string kind;  // "function", "method", "class"... (the tags query's kind)
  std::string name;
};

// The smallest definition (per our tags query) that contains [start, end), or nullopt.
std::optional<DefinitionSpan> enclosing_definition(std::string_view grammar, std::string_view text, size_t start,
                                                   size_t end);

// A top-level piece of a file, in source order. Comments directly above a unit belong to it;
// consecutive import statements form one unit.
struct SourceUnit {
  enum class Kind { kImports, kDefinition, kStatement };
  Kind kind = Kind::kStatement;
  ByteSpan span;
  std::string name;  // a definition's name, "imports", or the first line of a statement
  int first_line = 0;  // 1-based
  int last_line = 0;
};
const char* unit_kind_name(SourceUnit::Kind kind);

Result<std::vector<SourceUnit>> top_level_units(std::string_view grammar, std::string_view text);

// The names a text declares at its top level: definitions (our tags query) and declared
// variables and constants ("const x = ...", "var a, b", "x = 1" in Python), in source order.
Result<std::vector<std::string>> top_level_names(std::string_view grammar, std::string_view text);

// Byte ranges of comments and string literals (sorted, non-overlapping).
Result<std::vector<ByteSpan>> comment_and_string_spans(std::string_view grammar, std::string_view text);

}  // namespace moecode::assist
