// The symbol data the workspace index keeps per file: definitions (with kind, range,
// container and signature), references (calls, type uses) and imports, as extracted by
// the tags queries in grammars/queries/<lang>/tags.scm. Plain values; thread-compatible.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lsp/workspace/name.h"
#include "lsp/workspace/text_edit.h"

namespace moecode::workspace {

enum class SymbolKind : uint8_t {
  kFunction,
  kMethod,
  kClass,
  kStruct,
  kEnum,
  kInterface,
  kTrait,
  kModule,
  kConstant,
  kType,
  kMacro,
  kField,
  kVariable,
};

enum class ReferenceKind : uint8_t {
  kCall,    // a call of a function or method
  kType,    // a type used in a declaration, annotation, base list...
  kClass,   // a class instantiated (new Foo, Foo{})
  kOther,
};

// "function", "method", ... (the capture suffix in tags.scm: @definition.function).
std::string_view symbol_kind_name(SymbolKind kind);
bool parse_symbol_kind(std::string_view name, SymbolKind* kind);
std::string_view reference_kind_name(ReferenceKind kind);
bool parse_reference_kind(std::string_view name, ReferenceKind* kind);
// Kinds whose members are methods (class, struct, interface, trait, enum).
bool is_type_kind(SymbolKind kind);

struct SourceRange {
  uint32_t start_byte = 0;
  uint32_t end_byte = 0;
  TextPoint start;  // 0-based row, byte column
  TextPoint end;
  bool operator==(const SourceRange&) const = default;
};

// The range in a text of `text` when it starts at (start_byte, start): its end follows
// from the text itself (the rows it crosses, the length of its last line).
SourceRange text_range(uint32_t start_byte, TextPoint start, std::string_view text);

// Like a reference, a definition keeps only where its name starts (the name is the text of
// its range). Its signature lives in its file's FileSymbols::signatures (one string per
// file, not one per definition: /usr/include has 1.1M definitions), where it ends at
// signature_end and starts where the previous definition's ends: read it with
// FileSymbols::signature(d), d an element of that FileSymbols. 56 bytes a definition.
struct Definition {
  Name name;
  Name container;     // enclosing class / impl / namespace name ("" at top level)
  SourceRange range;  // the whole definition node
  uint32_t name_start_byte = 0;
  TextPoint name_start;
  uint32_t signature_end : 24 = 0;  // in FileSymbols::signatures
  SymbolKind kind : 8 = SymbolKind::kFunction;

  // The range of the name in the text.
  SourceRange name_range() const { return text_range(name_start_byte, name_start, name.view()); }
  // Takes the start of `r`, the range of `name` in the text.
  void set_name_start(const SourceRange& r) {
    name_start_byte = r.start_byte;
    name_start = r.start;
  }
  bool operator==(const Definition&) const = default;
};

// A reference keeps where its name starts and nothing more: the name is the text of its
// range, so the end follows from the name (24 bytes a reference; /usr/include has 4.4M).
struct Reference {
  Name name;
  uint32_t start_byte = 0;
  TextPoint start;  // 0-based row, byte column
  ReferenceKind kind = ReferenceKind::kCall;

  // The range of the name in the text.
  SourceRange range() const { return text_range(start_byte, start, name.view()); }
  // Takes the start of `r`, the range of `name` in the text.
  void set_start(const SourceRange& r) {
    start_byte = r.start_byte;
    start = r.start;
  }
  bool operator==(const Reference&) const = default;
};

// Module paths and imported names repeat across files (<stddef.h>, "os"): they are interned.
struct Import {
  Name module;        // as written, quotes stripped: "os.path", "./util", "foo/bar.h"
  Name name;          // one imported name ("" when the whole module is imported)
  SourceRange range;  // the import statement
  bool operator==(const Import&) const = default;
};

// A name a file references, and how often.
struct NameCount {
  Name name;
  uint32_t count = 0;
  bool operator==(const NameCount&) const = default;
};
// Each name of `symbols.references` once, with its count (in no particular order).
std::vector<NameCount> count_reference_names(const struct FileSymbols& symbols);

// Everything the index knows about one file's text. Vectors are sorted by position.
struct FileSymbols {
  // A file's signatures take at most this many bytes; definitions past it get none.
  static constexpr size_t kMaxFileSignatureBytes = (size_t{1} << 24) - 1;

  std::vector<Definition> definitions;
  // The definitions' signatures (source from the definition's start to its body, at most
  // a few lines, secrets redacted), one after another in the order of `definitions`.
  std::string signatures;
  std::vector<Reference> references;
  std::vector<Import> imports;
  bool has_errors = false;  // the parse tree contains ERROR or MISSING nodes

  // The signature of `d`, an element of `definitions` (not a copy of one).
  std::string_view signature(const Definition& d) const {
    const auto i = static_cast<size_t>(&d - definitions.data());
    assert(i < definitions.size());
    if (i >= definitions.size()) return {};
    const uint32_t begin = i == 0 ? 0 : definitions[i - 1].signature_end;
    return std::string_view(signatures).substr(begin, d.signature_end - begin);
  }
  // Appends `d` with `signature` (the only way definitions are added: `signatures` holds
  // them in order, so two equal symbol sets compare equal).
  void add_definition(Definition d, std::string_view signature) {
    if (signatures.size() + signature.size() > kMaxFileSignatureBytes) signature = {};
    signatures.append(signature);
    d.signature_end = static_cast<uint32_t>(signatures.size());
    definitions.push_back(d);
  }
  bool operator==(const FileSymbols&) const = default;
};

}  // namespace moecode::workspace
