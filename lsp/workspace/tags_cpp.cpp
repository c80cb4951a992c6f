#include "lsp/workspace/tags_cpp.h"

#include <array>
#include <cstring>

namespace moecode::workspace {

namespace {

// FNV-1a of grammars/queries/cpp/tags.scm as this walker implements it. After an edit of
// tags.scm: make the walker find the same matches (tags_cpp_test compares them), then put
// the new value here (the test prints it).
constexpr uint64_t kQueryFingerprint = 0x6b89633892959d0fULL;

// The node types and fields the patterns name.
enum Sym : uint8_t {
  kNone,
  kIdentifier,
  kFieldIdentifier,
  kOperatorName,
  kTypeIdentifier,
  kNamespaceIdentifier,
  kNestedNamespaceSpecifier,
  kQualifiedIdentifier,
  kFunctionDefinition,
  kFunctionDeclarator,
  kPointerDeclarator,
  kReferenceDeclarator,
  kDeclaration,
  kFieldDeclaration,
  kTranslationUnit,
  kDeclarationList,
  kFieldDeclarationList,
  kTemplateDeclaration,
  kClassSpecifier,
  kStructSpecifier,
  kUnionSpecifier,
  kEnumSpecifier,
  kEnumeratorList,
  kEnumerator,
  kAliasDeclaration,
  kTypeDefinition,
  kNamespaceDefinition,
  kPreprocDef,
  kPreprocFunctionDef,
  kTypeQualifier,
  kInitDeclarator,
  kCallExpression,
  kFieldExpression,
  kTemplateFunction,
  kTemplateMethod,
  kNewExpression,
  kPreprocInclude,
  kStringLiteral,
  kSystemLibString,
  kSymCount,
};

constexpr std::array<const char*, kSymCount> kSymNames = {
    "",
    "identifier",
    "field_identifier",
    "operator_name",
    "type_identifier",
    "namespace_identifier",
    "nested_namespace_specifier",
    "qualified_identifier",
    "function_definition",
    "function_declarator",
    "pointer_declarator",
    "reference_declarator",
    "declaration",
    "field_declaration",
    "translation_unit",
    "declaration_list",
    "field_declaration_list",
    "template_declaration",
    "class_specifier",
    "struct_specifier",
    "union_specifier",
    "enum_specifier",
    "enumerator_list",
    "enumerator",
    "alias_declaration",
    "type_definition",
    "namespace_definition",
    "preproc_def",
    "preproc_function_def",
    "type_qualifier",
    "init_declarator",
    "call_expression",
    "field_expression",
    "template_function",
    "template_method",
    "new_expression",
    "preproc_include",
    "string_literal",
    "system_lib_string",
};

enum Field : uint8_t { kDeclarator, kScope, kName, kBody, kFunction, kFieldF, kType, kPath, kFieldCount };
constexpr std::array<const char*, kFieldCount> kFieldNames = {"declarator", "scope",    "name", "body",
                                                              "function",   "field", "type", "path"};

// The role capture of each pattern of tags.scm, in its order (the index is the pattern's).
constexpr std::array<std::string_view, 25> kRoles = {
    "definition.method",    // 0  out-of-line member: void Shape::area() { }
    "definition.function",  // 1  function_definition
    "definition.function",  // 2  prototype at translation_unit scope
    "definition.function",  // 3  prototype in a declaration_list (namespace)
    "definition.function",  // 4  declaration in a field_declaration_list
    "definition.function",  // 5  field_declaration in a field_declaration_list
    "definition.function",  // 6  template_declaration's declaration
    "definition.class",     // 7
    "definition.struct",    // 8  struct
    "definition.struct",    // 9  union
    "definition.enum",      // 10
    "definition.constant",  // 11 enumerator
    "definition.type",      // 12 alias_declaration
    "definition.type",      // 13 type_definition
    "definition.module",    // 14 namespace_definition
    "definition.macro",     // 15 preproc_def
    "definition.macro",     // 16 preproc_function_def
    "definition.constant",  // 17 const at translation_unit scope
    "definition.constant",  // 18 const in a declaration_list
    "definition.variable",  // 19 variable at translation_unit scope
    "definition.variable",  // 20 variable in a declaration_list
    "reference.call",       // 21
    "reference.class",      // 22 new_expression
    "reference.type",       // 23 every type_identifier
    "import",               // 24 preproc_include
};

constexpr int kCursors = 4;  // the deepest nesting of child loops below

}  // namespace

uint64_t query_fingerprint(std::string_view text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct CppTagWalker::Impl {
  std::vector<uint8_t> sym;  // language symbol -> Sym (kNone for the rest)
  std::array<TSFieldId, kFieldCount> field{};
};

namespace {

class Walk {
 public:
  Walk(const CppTagWalker::Impl& m, TSNode root, std::string_view text, std::vector<WalkedMatch>* out)
      : m_(m), text_(text), out_(out) {
    for (auto& c : sub_) c = ts_tree_cursor_new(root);
  }
  ~Walk() {
    for (auto& c : sub_) ts_tree_cursor_delete(&c);
  }

  Sym sym(TSNode n) const {
    const TSSymbol s = ts_node_symbol(n);
    return s < m_.sym.size() ? static_cast<Sym>(m_.sym[s]) : kNone;
  }

  // Calls f(child) for every child of n in `field`, in order; field kFieldCount: every child.
  template <typename F>
  void children(int depth, TSNode n, Field field, F&& f) {
    TSTreeCursor& c = sub_[depth];
    ts_tree_cursor_reset(&c, n);
    if (!ts_tree_cursor_goto_first_child(&c)) return;
    const TSFieldId want = field == kFieldCount ? 0 : m_.field[field];
    do {
      if (want && ts_tree_cursor_current_field_id(&c) != want) continue;
      f(ts_tree_cursor_current_node(&c));
    } while (ts_tree_cursor_goto_next_sibling(&c));
  }

  void emit(uint32_t pattern, TSNode role, TSNode name, TSNode container = TSNode{}) {
    out_->push_back({pattern, role, name, container});
  }

  static bool is_function_name(Sym s) {
    return s == kIdentifier || s == kFieldIdentifier || s == kOperatorName;
  }

  // Every function_declarator that `d` is, or holds as pointer_declarator's declarator or as
  // a child of reference_declarator: the three shapes of the function patterns.
  template <typename F>
  void function_declarators(int depth, TSNode d, F&& f) {
    switch (sym(d)) {
      case kFunctionDeclarator:
        f(d);
        break;
      case kPointerDeclarator:
        children(depth, d, kDeclarator, [&](TSNode x) {
          if (sym(x) == kFunctionDeclarator) f(x);
        });
        break;
      case kReferenceDeclarator:
        children(depth, d, kFieldCount, [&](TSNode x) {
          if (sym(x) == kFunctionDeclarator) f(x);
        });
        break;
      default:
        break;
    }
  }

  // Patterns 2-5: a prototype (declaration or field_declaration) whose declarator is one of
  // the function shapes with a plain name.
  void prototype(uint32_t pattern, TSNode decl) {
    children(0, decl, kDeclarator, [&](TSNode d) {
      function_declarators(1, d, [&](TSNode fd) {
        children(2, fd, kDeclarator, [&](TSNode x) {
          if (is_function_name(sym(x))) emit(pattern, decl, x);
        });
      });
    });
  }

  // Patterns 17-20: constants (a const, constexpr or constinit qualifier before an
  // initialized declarator) and variables, in a translation_unit or a declaration_list.
  void variables(uint32_t constant_pattern, uint32_t variable_pattern, TSNode decl) {
    bool qualified = false;
    const TSFieldId declarator = m_.field[kDeclarator];
    TSTreeCursor& c = sub_[0];
    ts_tree_cursor_reset(&c, decl);
    if (!ts_tree_cursor_goto_first_child(&c)) return;
    do {
      const TSNode n = ts_tree_cursor_current_node(&c);
      const Sym s = sym(n);
      if (s == kTypeQualifier) {
        const std::string_view q = text_of(n);
        qualified = qualified || q == "const" || q == "constexpr" || q == "constinit";
      }
      if (ts_tree_cursor_current_field_id(&c) != declarator) continue;
      if (s == kIdentifier) {
        emit(variable_pattern, decl, n);
      } else if (s == kPointerDeclarator) {
        children(1, n, kDeclarator, [&](TSNode x) {
          if (sym(x) == kIdentifier) emit(variable_pattern, decl, x);
        });
      } else if (s == kInitDeclarator) {
        children(1, n, kDeclarator, [&](TSNode x) {
          const Sym xs = sym(x);
          if (xs == kIdentifier) {
            if (qualified) emit(constant_pattern, decl, x);
            emit(variable_pattern, decl, x);
          } else if (xs == kPointerDeclarator) {
            children(2, x, kDeclarator, [&](TSNode y) {
              if (sym(y) == kIdentifier) emit(variable_pattern, decl, y);
            });
          }
        });
      }
    } while (ts_tree_cursor_goto_next_sibling(&c));
  }

  // Patterns 7-10: a named type with a body (name before body).
  void named_type(uint32_t pattern, TSNode n, Sym name_sym, Sym body_sym) {
    children(0, n, kName, [&](TSNode name) {
      if (sym(name) != name_sym) return;
      bool body = false;
      children(1, n, kBody, [&](TSNode b) {
        body = body || (sym(b) == body_sym && ts_node_start_byte(b) >= ts_node_end_byte(name));
      });
      if (body) emit(pattern, n, name);
    });
  }

  // A single `field` child of n with symbol s: pattern `field: (s) @name`.
  void named_child(uint32_t pattern, TSNode n, Field field, Sym s) {
    children(0, n, field, [&](TSNode x) {
      if (sym(x) == s) emit(pattern, n, x);
    });
  }

  void visit(TSNode n, Sym s, Sym parent) {
    switch (s) {
      case kFunctionDefinition:
        children(0, n, kDeclarator, [&](TSNode d) {
          function_declarators(1, d, [&](TSNode fd) {
            children(2, fd, kDeclarator, [&](TSNode x) {
              const Sym xs = sym(x);
              if (is_function_name(xs)) {
                emit(1, n, x);
              } else if (xs == kQualifiedIdentifier) {
                // (qualified_identifier scope: (_) @container name: [...] @name)
                TSNode scope{};
                bool has_scope = false;
                children(3, x, kFieldCount, [&](TSNode part) {
                  const TSFieldId f = ts_tree_cursor_current_field_id(&sub_[3]);
                  if (f == m_.field[kScope] && ts_node_is_named(part) && !has_scope) {
                    scope = part, has_scope = true;
                  } else if (f == m_.field[kName] && has_scope && is_function_name(sym(part))) {
                    emit(0, n, part, scope);
                  }
                });
              }
            });
          });
        });
        break;
      case kDeclaration:
        if (parent == kTranslationUnit) {
          prototype(2, n);
          variables(17, 19, n);
        } else if (parent == kDeclarationList) {
          prototype(3, n);
          variables(18, 20, n);
        } else if (parent == kFieldDeclarationList) {
          prototype(4, n);
        }
        break;
      case kFieldDeclaration:
        if (parent == kFieldDeclarationList) prototype(5, n);
        break;
      case kTemplateDeclaration:
        children(0, n, kFieldCount, [&](TSNode decl) {
          if (sym(decl) != kDeclaration) return;
          children(1, decl, kDeclarator, [&](TSNode fd) {
            if (sym(fd) != kFunctionDeclarator) return;
            children(2, fd, kDeclarator, [&](TSNode x) {
              const Sym xs = sym(x);
              if (xs == kIdentifier || xs == kFieldIdentifier) emit(6, decl, x);
            });
          });
        });
        break;
      case kClassSpecifier:
        named_type(7, n, kTypeIdentifier, kFieldDeclarationList);
        break;
      case kStructSpecifier:
        named_type(8, n, kTypeIdentifier, kFieldDeclarationList);
        break;
      case kUnionSpecifier:
        named_type(9, n, kTypeIdentifier, kFieldDeclarationList);
        break;
      case kEnumSpecifier:
        named_type(10, n, kTypeIdentifier, kEnumeratorList);
        break;
      case kEnumerator:
        named_child(11, n, kName, kIdentifier);
        break;
      case kAliasDeclaration:
        named_child(12, n, kName, kTypeIdentifier);
        break;
      case kTypeDefinition:
        children(0, n, kDeclarator, [&](TSNode d) {
          const Sym ds = sym(d);
          if (ds == kTypeIdentifier) {
            emit(13, n, d);
          } else if (ds == kPointerDeclarator) {
            children(1, d, kDeclarator, [&](TSNode x) {
              if (sym(x) == kTypeIdentifier) emit(13, n, x);
            });
          }
        });
        break;
      case kNamespaceDefinition:
        children(0, n, kName, [&](TSNode x) {
          const Sym xs = sym(x);
          if (xs == kNamespaceIdentifier || xs == kNestedNamespaceSpecifier) emit(14, n, x);
        });
        break;
      case kPreprocDef:
        named_child(15, n, kName, kIdentifier);
        break;
      case kPreprocFunctionDef:
        named_child(16, n, kName, kIdentifier);
        break;
      case kCallExpression:
        children(0, n, kFunction, [&](TSNode f) { callee(n, f); });
        break;
      case kNewExpression:
        children(0, n, kType, [&](TSNode t) {
          const Sym ts = sym(t);
          if (ts == kTypeIdentifier) {
            emit(22, n, t);
          } else if (ts == kQualifiedIdentifier) {
            children(1, t, kName, [&](TSNode x) {
              if (sym(x) == kTypeIdentifier) emit(22, n, x);
            });
          }
        });
        break;
      case kTypeIdentifier:
        emit(23, n, n);
        break;
      case kPreprocInclude:
        children(0, n, kPath, [&](TSNode p) {
          const Sym ps = sym(p);
          if (ps == kStringLiteral || ps == kSystemLibString) emit(24, n, p);
        });
        break;
      default:
        break;
    }
  }

  // Pattern 21: the shapes of a call's function.
  void callee(TSNode call, TSNode f) {
    switch (sym(f)) {
      case kIdentifier:
        emit(21, call, f);
        break;
      case kFieldExpression:
        children(1, f, kFieldF, [&](TSNode x) {
          const Sym xs = sym(x);
          if (xs == kFieldIdentifier) {
            emit(21, call, x);
          } else if (xs == kTemplateMethod) {
            children(2, x, kName, [&](TSNode y) {
              if (sym(y) == kFieldIdentifier) emit(21, call, y);
            });
          }
        });
        break;
      case kQualifiedIdentifier:
        children(1, f, kName, [&](TSNode x) {
          const Sym xs = sym(x);
          if (xs == kIdentifier) {
            emit(21, call, x);
          } else if (xs == kQualifiedIdentifier || xs == kTemplateFunction) {
            children(2, x, kName, [&](TSNode y) {
              if (sym(y) == kIdentifier) emit(21, call, y);
            });
          }
        });
        break;
      case kTemplateFunction:
        children(1, f, kName, [&](TSNode x) {
          if (sym(x) == kIdentifier) emit(21, call, x);
        });
        break;
      default:
        break;
    }
  }

  void run(TSNode root) {
    TSTreeCursor c = ts_tree_cursor_new(root);
    std::vector<uint8_t> parents;  // the Sym of each ancestor of the cursor's node
    parents.reserve(64);
    for (;;) {
      const TSNode n = ts_tree_cursor_current_node(&c);
      const Sym s = sym(n);
      if (s != kNone) visit(n, s, parents.empty() ? kNone : static_cast<Sym>(parents.back()));
      if (ts_tree_cursor_goto_first_child(&c)) {
        parents.push_back(s);
        continue;
      }
      while (!ts_tree_cursor_goto_next_sibling(&c)) {
        if (!ts_tree_cursor_goto_parent(&c)) {
          ts_tree_cursor_delete(&c);
          return;
        }
        parents.pop_back();
      }
    }
  }

 private:
  std::string_view text_of(TSNode n) const {
    const uint32_t b = ts_node_start_byte(n), e = ts_node_end_byte(n);
    if (b > e || e > text_.size()) return {};
    return text_.substr(b, e - b);
  }

  const CppTagWalker::Impl& m_;
  std::string_view text_;
  std::vector<WalkedMatch>* out_;
  std::array<TSTreeCursor, kCursors> sub_;
};

}  // namespace

CppTagWalker::~CppTagWalker() = default;

std::unique_ptr<CppTagWalker> CppTagWalker::make(const TSLanguage* language, std::string_view query_source) {
  if (!language || query_fingerprint(query_source) != kQueryFingerprint) return nullptr;
  auto impl = std::make_unique<Impl>();
  // The query matches a node by the first symbol with its name and namedness (aliases
  // share a name): map every symbol of the grammar the same way.
  const uint32_t n_symbols = ts_language_symbol_count(language);
  impl->sym.assign(n_symbols, kNone);
  std::array<TSSymbol, kSymCount> ids{};
  for (int s = 1; s < kSymCount; ++s) {
    const uint32_t len = static_cast<uint32_t>(std::strlen(kSymNames[s]));
    ids[s] = ts_language_symbol_for_name(language, kSymNames[s], len, true);
    if (ids[s] == 0) return nullptr;
  }
  for (uint32_t i = 0; i < n_symbols; ++i) {
    const TSSymbolType type = ts_language_symbol_type(language, static_cast<TSSymbol>(i));
    if (type != TSSymbolTypeRegular) continue;  // named nodes only
    const char* name = ts_language_symbol_name(language, static_cast<TSSymbol>(i));
    if (!name) continue;
    const TSSymbol canonical =
        ts_language_symbol_for_name(language, name, static_cast<uint32_t>(std::strlen(name)), true);
    for (int s = 1; s < kSymCount; ++s) {
      if (canonical == ids[s]) impl->sym[i] = static_cast<uint8_t>(s);
    }
  }
  for (int f = 0; f < kFieldCount; ++f) {
    const uint32_t len = static_cast<uint32_t>(std::strlen(kFieldNames[f]));
    impl->field[f] = ts_language_field_id_for_name(language, kFieldNames[f], len);
    if (impl->field[f] == 0) return nullptr;
  }
  std::unique_ptr<CppTagWalker> w(new CppTagWalker());
  w->impl_ = std::move(impl);
  return w;
}

std::string_view CppTagWalker::role_capture(uint32_t pattern) {
  return pattern < kRoles.size() ? kRoles[pattern] : std::string_view();
}

uint32_t CppTagWalker::pattern_count() { return static_cast<uint32_t>(kRoles.size()); }

void CppTagWalker::walk(TSNode root, std::string_view text, std::vector<WalkedMatch>* out) const {
  Walk(*impl_, root, text, out).run(root);
}

}  // namespace moecode::workspace
