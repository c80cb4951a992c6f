// Names of symbol and reference kinds (the capture suffixes of tags.scm). Thread-safe.
#include "lsp/workspace/symbols.h"

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
