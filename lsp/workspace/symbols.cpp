// Names of symbol and reference kinds (the capture suffixes of tags.scm). Thread-safe.
#include "lsp/workspace/symbols.h"

#include <algorithm>
#include <array>
#include <utility>

namespace moecode::workspace {

namespace {

constexpr std::pair<SymbolKind, std::string_view> kSymbolKinds[] = {
    {SymbolKind::kFunction, "function"},   {SymbolKind::kMethod, "method"},
    {SymbolKind::kClass, "class"},         {SymbolKind::kStruct, "struct"},
    {SymbolKind::kEnum, "enum"},           {SymbolKind::kInterface, "interface"},
    {SymbolKind::kTrait, "trait"},         {SymbolKind::kModule, "module"},
    {SymbolKind::kConstant, "constant"},   {SymbolKind::kType, "type"},
    {SymbolKind::kMacro, "macro"},         {SymbolKind::kField, "field"},
    {SymbolKind::kVariable, "variable"},
};

constexpr std::pair<ReferenceKind, std::string_view> kReferenceKinds[] = {
    {ReferenceKind::kCall, "call"},
    {ReferenceKind::kType, "type"},
    {ReferenceKind::kClass, "class"},
    {ReferenceKind::kOther, "other"},
};

}  // namespace

SourceRange text_range(uint32_t start_byte, TextPoint start, std::string_view text) {
  SourceRange r;
  r.start_byte = start_byte;
  r.end_byte = start_byte + static_cast<uint32_t>(text.size());
  r.start = start;
  const size_t last_nl = text.rfind('\n');
  if (last_nl == std::string_view::npos) {
    r.end = {start.row, start.column + static_cast<uint32_t>(text.size())};
  } else {
    const auto n_nl = static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n'));
    r.end = {start.row + n_nl, static_cast<uint32_t>(text.size() - last_nl - 1)};
  }
  return r;
}

std::vector<NameCount> count_reference_names(const FileSymbols& symbols) {
  std::vector<Name> names;
  names.reserve(symbols.references.size());
  for (const auto& r : symbols.references) names.push_back(r.name);
  // Any order that groups equal names will do: sort the handles, not the texts.
  std::sort(names.begin(), names.end(), [](Name a, Name b) { return a.data() < b.data(); });
  std::vector<NameCount> out;
  for (size_t i = 0; i < names.size();) {
    size_t j = i;
    while (j < names.size() && names[j] == names[i]) ++j;
    out.push_back({names[i], static_cast<uint32_t>(j - i)});
    i = j;
  }
  return out;
}

std::string_view symbol_kind_name(SymbolKind kind) {
  for (const auto& [k, n] : kSymbolKinds) {
    if (k == kind) return n;
  }
  return "unknown";
}

bool parse_symbol_kind(std::string_view name, SymbolKind* kind) {
  for (const auto& [k, n] : kSymbolKinds) {
    if (n == name) {
      *kind = k;
      return true;
    }
  }
  return false;
}

std::string_view reference_kind_name(ReferenceKind kind) {
  for (const auto& [k, n] : kReferenceKinds) {
    if (k == kind) return n;
  }
  return "unknown";
}

bool parse_reference_kind(std::string_view name, ReferenceKind* kind) {
  for (const auto& [k, n] : kReferenceKinds) {
    if (n == name) {
      *kind = k;
      return true;
    }
  }
  return false;
}

bool is_type_kind(SymbolKind kind) {
  switch (kind) {
    case SymbolKind::kClass:
    case SymbolKind::kStruct:
    case SymbolKind::kEnum:
    case SymbolKind::kInterface:
    case SymbolKind::kTrait:
      return true;
    default:
      return false;
  }
}

}  // namespace moecode::workspace
