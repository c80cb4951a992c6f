// Tag extraction from tree-sitter query matches, with our own predicate evaluation.
// TagQuery instances are immutable after compile() (a walker's query is compiled at its
// first use, under a once_flag) and shared between threads; the registry behind get() is
// guarded by a mutex. TagExtractor is single-threaded.
#include "lsp/workspace/tags.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <fmt/format.h>
#include <map>
#include <mutex>
#include <spdlog/spdlog.h>
#include <string>
#include <tuple>

#include "lsp/workspace/parse_arena.h"
#include "lsp/workspace/secrets.h"
#include "lsp/workspace/tags_cpp.h"

namespace moecode::workspace {

namespace {

enum class Role : uint8_t {
  kIgnore,
  kName,
  kDefinition,
  kReference,
  kImport,
  kImportModule,
  kImportName,
  kScope,
  kContainer,
};

struct CaptureInfo {
  Role role = Role::kIgnore;
  SymbolKind def_kind = SymbolKind::kFunction;
  ReferenceKind ref_kind = ReferenceKind::kOther;
};

enum class PredOp : uint8_t { kEq, kNotEq, kMatch, kNotMatch, kAnyOf, kNotAnyOf };

struct RegexDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};

struct Predicate {
  PredOp op = PredOp::kEq;
  uint32_t capture = 0;
  bool other_is_capture = false;  // #eq? @a @b
  uint32_t other_capture = 0;
  std::vector<std::string> values;  // string argument(s)
  std::shared_ptr<pcre2_code> regex;
};

constexpr size_t kMaxSignatureLines = 6;
constexpr size_t kMaxSignatureBytes = 400;
constexpr uint64_t kParseTimeoutMicros = 10'000'000;  // a pathological file, not a real one

std::string_view node_text(TSNode node, std::string_view text) {
  const uint32_t b = ts_node_start_byte(node), e = ts_node_end_byte(node);
  if (b > e || e > text.size()) return {};
  return text.substr(b, e - b);
}

SourceRange range_of(TSNode node) {
  SourceRange r;
  r.start_byte = ts_node_start_byte(node);
  r.end_byte = ts_node_end_byte(node);
  const TSPoint s = ts_node_start_point(node), e = ts_node_end_point(node);
  r.start = {s.row, s.column};
  r.end = {e.row, e.column};
  return r;
}

std::string strip_quotes(std::string_view s) {
  if (s.size() >= 2) {
    const char a = s.front(), b = s.back();
    if ((a == '"' && b == '"') || (a == '\'' && b == '\'') || (a == '`' && b == '`') ||
        (a == '<' && b == '>')) {
      s = s.substr(1, s.size() - 2);
    }
  }
  return std::string(s);
}

// Where a definition's header ends: at its body, or at the end of its first line.
uint32_t header_end_of(TSNode node, std::string_view text) {
  const uint32_t begin = ts_node_start_byte(node);
  uint32_t end = ts_node_end_byte(node);
  TSNode body = ts_node_child_by_field_name(node, "body", 4);
  if (!ts_node_is_null(body) && ts_node_start_byte(body) > begin) {
    end = ts_node_start_byte(body);
  } else {
    const size_t nl = text.find('\n', begin);
    if (nl != std::string_view::npos && nl < end) end = static_cast<uint32_t>(nl);
  }
  return std::min<uint32_t>(end, static_cast<uint32_t>(text.size()));
}

// Appends the definition's signature to *out: its header (text[begin, end)), at most
// kMaxSignatureLines lines and kMaxSignatureBytes bytes, trailing blanks trimmed on every
// line, secrets redacted. Returns its size.
uint32_t append_signature(std::string_view text, uint32_t begin, uint32_t end, std::span<const ByteSpan> secrets,
                          std::string* out) {
  end = std::min<uint32_t>(end, static_cast<uint32_t>(text.size()));
  if (end <= begin) return 0;
  // The text as it is, unless a secret overlaps it (rare: no copy otherwise).
  std::string redacted;
  std::string_view raw = text.substr(begin, end - begin);
  const auto first = std::lower_bound(secrets.begin(), secrets.end(), begin,
                                      [](const ByteSpan& sp, uint32_t b) { return sp.end <= b; });
  if (first != secrets.end() && first->begin < end) {
    redacted = redact_range(text, begin, end, secrets);
    raw = redacted;
  }
  const size_t start = out->size();
  size_t lines = 0, pos = 0;
  while (pos <= raw.size() && lines < kMaxSignatureLines) {
    size_t nl = raw.find('\n', pos);
    if (nl == std::string_view::npos) nl = raw.size();
    std::string_view line = raw.substr(pos, nl - pos);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    if (lines > 0) *out += '\n';
    out->append(line);
    ++lines;
    pos = nl + 1;
  }
  while (out->size() > start && (out->back() == '\n' || out->back() == ' ')) out->pop_back();
  if (out->size() - start > kMaxSignatureBytes) {
    size_t n = start + kMaxSignatureBytes;
    while (n > start && (static_cast<unsigned char>((*out)[n]) & 0xC0) == 0x80) --n;
    out->resize(n);
  }
  return static_cast<uint32_t>(out->size() - start);
}

}  // namespace

struct TagQuery::Impl {
  std::vector<CaptureInfo> captures;
  std::vector<std::vector<Predicate>> predicates;  // per pattern
  // C++: the hand-written matcher of the same tags.scm (tags_cpp.h), and its patterns' roles.
  std::unique_ptr<CppTagWalker> walker;
  std::vector<CaptureInfo> walker_roles;
  // With a walker, the query itself is only needed for a range of the tree (incremental
  // re-extraction) and by ts(): it is compiled then, once. Compiling the C++ query is most of
  // the cost of a first C++ file (~120 ms of tree-sitter's pattern analysis).
  const grammars::Language* deferred_language = nullptr;
  std::string deferred_source;
  std::once_flag query_once;
  std::atomic<bool> deferred_done{false};  // the deferred compile ran (query_ set unless it failed)

  bool regex_search(const pcre2_code* re, std::string_view s) const {
    thread_local std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> md(
        pcre2_match_data_create(8, nullptr), pcre2_match_data_free);
    const int rc = pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), 0, 0, md.get(), nullptr);
    return rc >= 0;
  }

  bool passes(const TSQueryMatch& m, std::string_view text) const {
    for (const Predicate& p : predicates[m.pattern_index]) {
      for (uint16_t i = 0; i < m.capture_count; ++i) {
        if (m.captures[i].index != p.capture) continue;
        const std::string_view s = node_text(m.captures[i].node, text);
        bool ok = true;
        switch (p.op) {
          case PredOp::kEq:
          case PredOp::kNotEq: {
            bool eq = false;
            if (p.other_is_capture) {
              for (uint16_t j = 0; j < m.capture_count; ++j) {
                if (m.captures[j].index == p.other_capture) eq = node_text(m.captures[j].node, text) == s;
              }
            } else {
              eq = s == p.values[0];
            }
            ok = (p.op == PredOp::kEq) == eq;
            break;
          }
          case PredOp::kMatch:
          case PredOp::kNotMatch:
            ok = (p.op == PredOp::kMatch) == regex_search(p.regex.get(), s);
            break;
          case PredOp::kAnyOf:
          case PredOp::kNotAnyOf: {
            const bool any = std::find(p.values.begin(), p.values.end(), s) != p.values.end();
            ok = (p.op == PredOp::kAnyOf) == any;
            break;
          }
        }
        if (!ok) return false;
      }
    }
    return true;
  }
};

bool TagQuery::has_walker() const { return impl_->walker != nullptr; }

bool TagQuery::query_compiled() const {
  if (impl_->deferred_language && !impl_->deferred_done.load(std::memory_order_acquire)) return false;
  return query_ != nullptr;
}

TagQuery::~TagQuery() {
  if (query_) ts_query_delete(query_);
}

const TSQuery* TagQuery::query() const {
  std::call_once(impl_->query_once, [this] {
    if (query_ || !impl_->deferred_language) return;
    const Status s = compile_query(*impl_->deferred_language, impl_->deferred_source);
    if (!s.ok()) spdlog::error("tags query: {}", s.error().message());
    impl_->deferred_done.store(true, std::memory_order_release);
  });
  return query_;
}

namespace {

Status parse_capture_name(std::string_view name, CaptureInfo* info, std::string_view lang) {
  auto bad = [&](std::string_view what) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("grammars/queries/{}/tags.scm: {} capture '@{}'", lang, what, name));
  };
  if (name.empty() || name[0] == '_') {
    info->role = Role::kIgnore;
  } else if (name == "name") {
    info->role = Role::kName;
  } else if (name == "import") {
    info->role = Role::kImport;
  } else if (name == "import.module") {
    info->role = Role::kImportModule;
  } else if (name == "import.name") {
    info->role = Role::kImportName;
  } else if (name == "scope") {
    info->role = Role::kScope;
  } else if (name == "container") {
    info->role = Role::kContainer;
  } else if (name.starts_with("definition.")) {
    info->role = Role::kDefinition;
    if (!parse_symbol_kind(name.substr(11), &info->def_kind)) return bad("unknown definition kind in");
  } else if (name.starts_with("reference.")) {
    info->role = Role::kReference;
    if (!parse_reference_kind(name.substr(10), &info->ref_kind)) return bad("unknown reference kind in");
  } else {
    return bad("unknown");
  }
  return Status::ok_status();
}

Status parse_predicates(const TSQuery* q, uint32_t pattern, std::vector<Predicate>* out, std::string_view lang) {
  uint32_t n_steps = 0;
  const TSQueryPredicateStep* steps = ts_query_predicates_for_pattern(q, pattern, &n_steps);
  auto str = [&](uint32_t id) {
    uint32_t len = 0;
    const char* s = ts_query_string_value_for_id(q, id, &len);
    return std::string_view(s, len);
  };
  auto bad = [&](std::string_view what) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("grammars/queries/{}/tags.scm: pattern {}: {}", lang, pattern, what));
  };
  uint32_t i = 0;
  while (i < n_steps) {
    uint32_t j = i;
    while (j < n_steps && steps[j].type != TSQueryPredicateStepTypeDone) ++j;
    // [i, j) is one predicate.
    if (j == i || steps[i].type != TSQueryPredicateStepTypeString) return bad("predicate without a name");
    const std::string_view op = str(steps[i].value_id);
    if (op.ends_with("!") || op == "is?" || op == "is-not?") {  // directives: not ours
      i = j + 1;
      continue;
    }
    Predicate p;
    if (op == "eq?") p.op = PredOp::kEq;
    else if (op == "not-eq?") p.op = PredOp::kNotEq;
    else if (op == "match?") p.op = PredOp::kMatch;
    else if (op == "not-match?") p.op = PredOp::kNotMatch;
    else if (op == "any-of?") p.op = PredOp::kAnyOf;
    else if (op == "not-any-of?") p.op = PredOp::kNotAnyOf;
    else return bad(fmt::format("unknown predicate #{}", op));
    if (j - i < 3 || steps[i + 1].type != TSQueryPredicateStepTypeCapture) {
      return bad(fmt::format("#{} needs a capture and an argument", op));
    }
    p.capture = steps[i + 1].value_id;
    for (uint32_t k = i + 2; k < j; ++k) {
      if (steps[k].type == TSQueryPredicateStepTypeCapture) {
        if ((p.op != PredOp::kEq && p.op != PredOp::kNotEq) || j - i != 3) {
          return bad(fmt::format("#{} takes strings only", op));
        }
        p.other_is_capture = true;
        p.other_capture = steps[k].value_id;
      } else {
        p.values.emplace_back(str(steps[k].value_id));
      }
    }
    if ((p.op == PredOp::kEq || p.op == PredOp::kNotEq || p.op == PredOp::kMatch ||
         p.op == PredOp::kNotMatch) && j - i != 3) {
      return bad(fmt::format("#{} takes exactly one argument", op));
    }
    if (p.op == PredOp::kMatch || p.op == PredOp::kNotMatch) {
      int err = 0;
      PCRE2_SIZE off = 0;
      pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.values[0].data()), p.values[0].size(), 0,
                                     &err, &off, nullptr);
      if (!re) {
        PCRE2_UCHAR buf[256];
        pcre2_get_error_message(err, buf, sizeof buf);
        return bad(fmt::format("bad regex '{}' at {}: {}", p.values[0], off, reinterpret_cast<char*>(buf)));
      }
      pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);  // optional speed-up; the interpreter is the fallback
      p.regex.reset(re, RegexDeleter());
    }
    out->push_back(std::move(p));
    i = j + 1;
  }
  return Status::ok_status();
}

const char* query_error_name(TSQueryError e) {
  switch (e) {
    case TSQueryErrorSyntax: return "syntax error";
    case TSQueryErrorNodeType: return "unknown node type";
    case TSQueryErrorField: return "unknown field";
    case TSQueryErrorCapture: return "unknown capture";
    case TSQueryErrorStructure: return "impossible pattern";
    case TSQueryErrorLanguage: return "language mismatch";
    default: return "error";
  }
}

}  // namespace

Status TagQuery::compile_query(const grammars::Language& language, std::string_view source) const {
  uint32_t err_off = 0;
  TSQueryError err = TSQueryErrorNone;
  // The query outlives any file's parse: its memory must not come from a parse arena (it is
  // compiled at first need, which can be inside an index worker's arena scope).
  ParseArena::Pause pause;
  TSQuery* q = ts_query_new(language.ts(), source.data(), static_cast<uint32_t>(source.size()), &err_off, &err);
  if (!q) {
    // Line and column of the offset, for the message.
    size_t line = 1, col = 1;
    for (size_t i = 0; i < err_off && i < source.size(); ++i) {
      if (source[i] == '\n') ++line, col = 1;
      else ++col;
    }
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("grammars/queries/{}/tags.scm:{}:{}: {} near '{}'", language.name, line, col,
                                  query_error_name(err), source.substr(err_off, 24)));
  }
  // Published in query_ only once every table below is complete.
  std::unique_ptr<TSQuery, void (*)(TSQuery*)> owned(q, ts_query_delete);
  const uint32_t n_captures = ts_query_capture_count(q);
  impl_->captures.resize(n_captures);
  for (uint32_t i = 0; i < n_captures; ++i) {
    uint32_t len = 0;
    const char* name = ts_query_capture_name_for_id(q, i, &len);
    MOE_RETURN_IF_ERROR(parse_capture_name(std::string_view(name, len), &impl_->captures[i], language.name));
  }
  const uint32_t n_patterns = ts_query_pattern_count(q);
  impl_->predicates.resize(n_patterns);
  for (uint32_t p = 0; p < n_patterns; ++p) {
    MOE_RETURN_IF_ERROR(parse_predicates(q, p, &impl_->predicates[p], language.name));
  }
  if (impl_->walker && n_patterns != CppTagWalker::pattern_count()) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("grammars/queries/{}/tags.scm: {} patterns, the walker has {}",
                                  language.name, n_patterns, CppTagWalker::pattern_count()));
  }
  query_ = owned.release();
  return Status::ok_status();
}

Result<std::unique_ptr<TagQuery>> TagQuery::compile(const grammars::Language& language,
                                                   std::string_view source, Walker walker) {
  std::unique_ptr<TagQuery> tq(new TagQuery());
  tq->impl_ = std::make_unique<Impl>();
  if (walker == Walker::kAllowed && language.name == "cpp") {
    // make() accepts only the exact query text the walker was written from (its fingerprint),
    // which compiles: the query can wait until a range extraction or ts() asks for it.
    if (auto w = CppTagWalker::make(language.ts(), source)) {
      const uint32_t n_patterns = CppTagWalker::pattern_count();
      tq->impl_->walker_roles.resize(n_patterns);
      for (uint32_t p = 0; p < n_patterns; ++p) {
        MOE_RETURN_IF_ERROR(
            parse_capture_name(CppTagWalker::role_capture(p), &tq->impl_->walker_roles[p], language.name));
      }
      tq->impl_->walker = std::move(w);
      tq->impl_->deferred_language = &language;
      tq->impl_->deferred_source = std::string(source);
      return tq;
    }
  }
  MOE_RETURN_IF_ERROR(tq->compile_query(language, source));
  return tq;
}

Result<const TagQuery*> TagQuery::get(const grammars::Language& language) {
  static std::mutex mu;
  static std::map<std::string_view, std::unique_ptr<TagQuery>> compiled;
  static std::map<std::string_view, std::string> failed;
  if (language.tags_query.empty()) return static_cast<const TagQuery*>(nullptr);
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = compiled.find(language.name); it != compiled.end()) return static_cast<const TagQuery*>(it->second.get());
  if (auto it = failed.find(language.name); it != failed.end()) return make_error(ErrorCode::kInternal, it->second);
  // MOECODE_TAGS_QUERY=1: the tree-sitter query for every language (A/B of the walker).
  const char* env = std::getenv("MOECODE_TAGS_QUERY");
  const Walker walker = env && std::string_view(env) == "1" ? Walker::kNever : Walker::kAllowed;
  auto q = compile(language, language.tags_query, walker);
  if (!q.ok()) {
    failed[language.name] = q.error().message();
    return q.error();
  }
  const TagQuery* ptr = q.value().get();
  compiled[language.name] = std::move(q).value();
  return ptr;
}

namespace {

struct PendingDef {
  Definition def;
  const std::string* signature_text = nullptr;  // its signature: [signature_begin, +signature_size)
  uint32_t signature_begin = 0;
  uint32_t signature_size = 0;
  uint32_t pattern = 0;
  bool explicit_container = false;
  bool frozen = false;  // an ancestor kept from the previous extraction: never changed
  uint32_t header_end = 0;
};
struct PendingRef {
  Reference ref;
  uint32_t pattern = 0;
};
using ScopeItem = TagState::Scope;

struct Collected {
  std::string signatures;  // of defs
  std::vector<PendingDef> defs;
  std::vector<PendingRef> refs;
  std::vector<ScopeItem> scopes;
  std::vector<Import> imports;
};

// Fills containers from the nesting of definitions and scopes; a function directly inside
// a type (class, struct, interface, trait, enum) or a scope (impl) becomes a method.
// Frozen definitions act as containers but are left as they are.
void assign_containers(std::vector<PendingDef>* defs, const std::vector<ScopeItem>& scopes) {
  struct Item {
    uint32_t begin, end;
    int def;  // index into defs, or -1 for a scope
    int scope;
  };
  std::vector<Item> items;
  items.reserve(defs->size() + scopes.size());
  for (size_t i = 0; i < defs->size(); ++i) {
    const auto& r = (*defs)[i].def.range;
    items.push_back({r.start_byte, r.end_byte, static_cast<int>(i), -1});
  }
  for (size_t i = 0; i < scopes.size(); ++i) {
    items.push_back({scopes[i].range.start_byte, scopes[i].range.end_byte, -1, static_cast<int>(i)});
  }
  // Outer before inner; a scope before a definition with the same range.
  std::sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end > b.end;
    return a.scope > b.scope;
  });
  // Only types, modules, scopes and functions hold members; a typedef, a constant or a
  // variable that wraps a definition is not its container.
  auto holds_members = [&](const Item& it) {
    if (it.scope >= 0) return true;
    const SymbolKind k = (*defs)[it.def].def.kind;
    return is_type_kind(k) || k == SymbolKind::kModule || k == SymbolKind::kFunction || k == SymbolKind::kMethod;
  };
  std::vector<const Item*> stack;
  for (const Item& it : items) {
    while (!stack.empty() && !(stack.back()->begin <= it.begin && it.end <= stack.back()->end)) stack.pop_back();
    if (it.def >= 0 && !(*defs)[it.def].frozen) {
      PendingDef& d = (*defs)[it.def];
      if (!stack.empty()) {
        const Item* top = stack.back();
        const bool type_like = top->scope >= 0 || is_type_kind((*defs)[top->def].def.kind);
        if (!d.explicit_container) {
          d.def.container = top->scope >= 0 ? scopes[top->scope].name : (*defs)[top->def].def.name;
        }
        if (type_like && d.def.kind == SymbolKind::kFunction) d.def.kind = SymbolKind::kMethod;
      } else if (d.explicit_container && d.def.kind == SymbolKind::kFunction) {
        d.def.kind = SymbolKind::kMethod;
      }
    }
    if (holds_members(it)) stack.push_back(&it);
  }
}

bool inside(const SourceRange& r, uint32_t lo, uint32_t hi) { return lo <= r.start_byte && r.end_byte <= hi; }

// One definition per name node (the earliest pattern in tags.scm wins).
void dedup_defs(std::vector<PendingDef>* defs) {
  std::sort(defs->begin(), defs->end(), [](const PendingDef& a, const PendingDef& b) {
    return std::tie(a.def.name_start_byte, a.pattern) < std::tie(b.def.name_start_byte, b.pattern);
  });
  defs->erase(std::unique(defs->begin(), defs->end(),
                          [](const PendingDef& a, const PendingDef& b) {
                            return a.def.name_start_byte == b.def.name_start_byte;
                          }),
              defs->end());
}

// One reference per name node; a definition's own name is not a reference to it.
void dedup_refs(std::vector<PendingRef>* refs, const std::vector<PendingDef>& defs) {
  std::sort(refs->begin(), refs->end(), [](const PendingRef& a, const PendingRef& b) {
    return std::tie(a.ref.start_byte, a.pattern) < std::tie(b.ref.start_byte, b.pattern);
  });
  refs->erase(std::unique(refs->begin(), refs->end(),
                          [](const PendingRef& a, const PendingRef& b) {
                            return a.ref.start_byte == b.ref.start_byte;
                          }),
              refs->end());
  std::vector<uint32_t> def_names;
  def_names.reserve(defs.size());
  for (const auto& d : defs) def_names.push_back(d.def.name_start_byte);
  std::sort(def_names.begin(), def_names.end());
  refs->erase(std::remove_if(refs->begin(), refs->end(),
                             [&](const PendingRef& r) {
                               return std::binary_search(def_names.begin(), def_names.end(), r.ref.start_byte);
                             }),
              refs->end());
}

void sort_imports(std::vector<Import>* imports) {
  std::sort(imports->begin(), imports->end(), [](const Import& a, const Import& b) {
    return std::tie(a.range.start_byte, a.module, a.name) < std::tie(b.range.start_byte, b.module, b.name);
  });
  imports->erase(std::unique(imports->begin(), imports->end(),
                             [](const Import& a, const Import& b) {
                               return a.range.start_byte == b.range.start_byte && a.module == b.module &&
                                      a.name == b.name;
                             }),
                 imports->end());
  // A statement that imports names needs no separate whole-module entry.
  std::vector<Import> kept;
  kept.reserve(imports->size());
  for (size_t i = 0; i < imports->size(); ++i) {
    const Import& a = (*imports)[i];
    bool shadowed = false;
    if (a.name.empty()) {
      for (size_t j = i + 1; j < imports->size() && (*imports)[j].range.start_byte == a.range.start_byte; ++j) {
        if ((*imports)[j].module == a.module && !(*imports)[j].name.empty()) shadowed = true;
      }
    }
    if (!shadowed) kept.push_back(std::move((*imports)[i]));
  }
  *imports = std::move(kept);
}

void sort_defs(std::vector<PendingDef>* defs) {
  std::sort(defs->begin(), defs->end(), [](const PendingDef& a, const PendingDef& b) {
    return std::tie(a.def.range.start_byte, a.def.name_start_byte) <
           std::tie(b.def.range.start_byte, b.def.name_start_byte);
  });
}

// Writes the final symbols (and the state an incremental update needs) from sorted parts.
void emit(std::vector<PendingDef>&& defs, std::vector<PendingRef>&& refs, std::vector<Import>&& imports,
          std::vector<ScopeItem>&& scopes, bool has_errors, std::span<const ByteSpan> secrets, FileSymbols* out,
          TagState* state) {
  // The signatures may be read from out's own (the previous symbols): a new string.
  size_t sig_bytes = 0;
  for (const auto& d : defs) sig_bytes += d.signature_size;
  FileSymbols sym;
  sym.signatures.reserve(sig_bytes);
  sym.definitions.reserve(defs.size());
  if (state) {
    state->header_end.clear();
    state->explicit_container.clear();
  }
  for (auto& d : defs) {
    if (state) {
      state->header_end.push_back(d.header_end);
      state->explicit_container.push_back(d.explicit_container ? 1 : 0);
    }
    const std::string_view sig =
        d.signature_text ? std::string_view(*d.signature_text).substr(d.signature_begin, d.signature_size)
                         : std::string_view();
    sym.add_definition(d.def, sig);
  }
  out->definitions = std::move(sym.definitions);
  out->signatures = std::move(sym.signatures);
  out->references.clear();
  out->references.reserve(refs.size());
  for (auto& r : refs) out->references.push_back(std::move(r.ref));
  out->imports = std::move(imports);
  out->has_errors = has_errors;
  if (state) {
    std::sort(scopes.begin(), scopes.end(), [](const ScopeItem& a, const ScopeItem& b) {
      return a.range.start_byte < b.range.start_byte;
    });
    state->scopes = std::move(scopes);
    state->secrets.assign(secrets.begin(), secrets.end());
  }
}

// An outermost ERROR or MISSING node: where it is, what it is, and the node.
struct ErrorSpan {
  uint32_t start, end;
  TSSymbol symbol;
  TSNode node;
  auto key() const { return std::tuple(start, end, symbol); }
};

// The outermost ERROR and MISSING nodes under `node`. Only subtrees that hold an error are
// walked (tree-sitter keeps that flag per node), so an error-free tree costs one call.
void error_spans(TSNode node, std::vector<ErrorSpan>* out) {
  if (!ts_node_has_error(node)) return;
  if (ts_node_is_missing(node) || ts_node_symbol(node) == static_cast<TSSymbol>(-1)) {
    out->push_back({ts_node_start_byte(node), ts_node_end_byte(node), ts_node_symbol(node), node});
    return;
  }
  TSTreeCursor c = ts_tree_cursor_new(node);
  if (ts_tree_cursor_goto_first_child(&c)) {
    do {
      error_spans(ts_tree_cursor_current_node(&c), out);
    } while (ts_tree_cursor_goto_next_sibling(&c));
  }
  ts_tree_cursor_delete(&c);
}

// Whether the subtrees under `a` and `b` have the same shape: the same nodes (symbol,
// bytes, missing or not) in the same order.
bool same_subtree(TSNode a, TSNode b) {
  TSTreeCursor ca = ts_tree_cursor_new(a), cb = ts_tree_cursor_new(b);
  bool same = true;
  for (bool done = false; same && !done;) {
    const TSNode x = ts_tree_cursor_current_node(&ca), y = ts_tree_cursor_current_node(&cb);
    if (ts_node_symbol(x) != ts_node_symbol(y) || ts_node_start_byte(x) != ts_node_start_byte(y) ||
        ts_node_end_byte(x) != ts_node_end_byte(y) || ts_node_is_missing(x) != ts_node_is_missing(y)) {
      same = false;
      break;
    }
    const bool down = ts_tree_cursor_goto_first_child(&ca);
    if (down != ts_tree_cursor_goto_first_child(&cb)) {
      same = false;
      break;
    }
    if (down) continue;
    for (;;) {  // to the next node in pre-order, climbing as far as needed
      const bool next = ts_tree_cursor_goto_next_sibling(&ca);
      if (next != ts_tree_cursor_goto_next_sibling(&cb)) {
        same = false;
        break;
      }
      if (next) break;
      const bool up = ts_tree_cursor_goto_parent(&ca);
      ts_tree_cursor_goto_parent(&cb);
      if (!up) {
        done = true;
        break;
      }
    }
  }
  ts_tree_cursor_delete(&ca);
  ts_tree_cursor_delete(&cb);
  return same;
}

// Widens [*lo, *hi) over every error of the old or the new tree that is not the same in
// both: an error found in one tree only (by place and kind), or one whose subtree changed.
// The old tree's positions are already edited.
void widen_over_changed_errors(TSNode old_root, TSNode new_root, uint32_t* lo, uint32_t* hi) {
  std::vector<ErrorSpan> old_errors, new_errors;
  error_spans(old_root, &old_errors);
  error_spans(new_root, &new_errors);
  if (old_errors.empty() && new_errors.empty()) return;
  auto by_key = [](const ErrorSpan& x, const ErrorSpan& y) { return x.key() < y.key(); };
  std::sort(old_errors.begin(), old_errors.end(), by_key);
  std::sort(new_errors.begin(), new_errors.end(), by_key);
  auto widen = [&](const ErrorSpan& x) {
    *lo = std::min(*lo, x.start);
    *hi = std::max(*hi, x.end);
  };
  size_t i = 0, j = 0;
  while (i < old_errors.size() || j < new_errors.size()) {
    if (j == new_errors.size() || (i < old_errors.size() && by_key(old_errors[i], new_errors[j]))) {
      widen(old_errors[i++]);
    } else if (i == old_errors.size() || by_key(new_errors[j], old_errors[i])) {
      widen(new_errors[j++]);
    } else {
      if (!same_subtree(old_errors[i].node, new_errors[j].node)) widen(new_errors[j]);
      ++i;
      ++j;
    }
  }
}

// A point at or after the end of `e` (old coordinates) moved to new coordinates.
TextPoint shift_point(TextPoint p, const ByteEdit& e) {
  if (p.row == e.old_end_point.row) {
    return {e.new_end_point.row, e.new_end_point.column + (p.column - e.old_end_point.column)};
  }
  return {static_cast<uint32_t>(static_cast<int64_t>(p.row) + e.new_end_point.row - e.old_end_point.row), p.column};
}

void shift_end(SourceRange* r, const ByteEdit& e) {
  r->end_byte = static_cast<uint32_t>(static_cast<int64_t>(r->end_byte) + e.new_end_byte - e.old_end_byte);
  r->end = shift_point(r->end, e);
}

void shift_all(SourceRange* r, const ByteEdit& e) {
  r->start_byte = static_cast<uint32_t>(static_cast<int64_t>(r->start_byte) + e.new_end_byte - e.old_end_byte);
  r->start = shift_point(r->start, e);
  shift_end(r, e);
}

}  // namespace

namespace {

// The nodes of one match that become a symbol (after its predicates passed).
struct MatchNodes {
  TSNode role{}, name{}, container{}, module{};
  bool has_name = false, has_container = false, has_module = false;
  uint32_t pattern = 0;
};

// Adds one match with role `role` to *c (imports without @import.name only: the query path
// handles those names itself).
void add_match(const CaptureInfo& role, const MatchNodes& m, std::string_view text,
               std::span<const ByteSpan> secrets, Collected* c) {
  switch (role.role) {
    case Role::kDefinition: {
      if (!m.has_name) break;
      PendingDef d;
      d.def.name = node_text(m.name, text);
      if (d.def.name.empty()) break;
      d.def.kind = role.def_kind;
      d.def.range = range_of(m.role);
      d.def.set_name_start(range_of(m.name));
      d.header_end = header_end_of(m.role, text);
      d.signature_begin = static_cast<uint32_t>(c->signatures.size());
      d.signature_size =
          append_signature(text, d.def.range.start_byte, d.header_end, secrets, &c->signatures);
      d.signature_text = &c->signatures;
      d.explicit_container = m.has_container;
      if (m.has_container) d.def.container = node_text(m.container, text);
      d.pattern = m.pattern;
      c->defs.push_back(std::move(d));
      break;
    }
    case Role::kReference: {
      if (!m.has_name) break;
      PendingRef r;
      r.ref.name = node_text(m.name, text);
      if (r.ref.name.empty()) break;
      r.ref.kind = role.ref_kind;
      r.ref.set_start(range_of(m.name));
      r.pattern = m.pattern;
      c->refs.push_back(std::move(r));
      break;
    }
    case Role::kScope:
      if (m.has_name) {
        c->scopes.push_back({range_of(m.role), ts_node_end_byte(m.name), Name(node_text(m.name, text))});
      }
      break;
    case Role::kImport: {
      if (!m.has_module) break;
      Import imp;
      imp.module = strip_quotes(node_text(m.module, text));
      imp.range = range_of(m.role);
      if (!imp.module.empty()) c->imports.push_back(std::move(imp));
      break;
    }
    default:
      break;
  }
}

}  // namespace

void TagQuery::collect(TSQueryCursor* cursor, TSNode root, std::string_view text, std::span<const ByteSpan> secrets,
                       uint32_t lo, uint32_t hi, void* out_collected) const {
  Collected& c = *static_cast<Collected*>(out_collected);
  if (impl_->walker && lo == 0 && hi == UINT32_MAX) {
    // The whole tree: the hand-written matcher finds the same matches, faster (tags_cpp.h).
    std::vector<WalkedMatch> walked;
    impl_->walker->walk(root, text, &walked);
    for (const WalkedMatch& w : walked) {
      MatchNodes m;
      m.role = w.role;
      m.pattern = w.pattern;
      const CaptureInfo& role = impl_->walker_roles[w.pattern];
      if (role.role == Role::kImport) {
        m.module = w.name, m.has_module = true;
      } else {
        m.name = w.name, m.has_name = true;
      }
      if (!ts_node_is_null(w.container)) m.container = w.container, m.has_container = true;
      add_match(role, m, text, secrets, &c);
    }
    return;
  }
  const TSQuery* q = query();
  if (!q) return;  // a deferred query that did not compile (logged): no matches
  ts_query_cursor_set_byte_range(cursor, lo, hi);
  ts_query_cursor_exec(cursor, q, root);
  TSQueryMatch qm;
  while (ts_query_cursor_next_match(cursor, &qm)) {
    if (!impl_->passes(qm, text)) continue;
    const CaptureInfo* role = nullptr;
    MatchNodes m;
    m.pattern = qm.pattern_index;
    bool has_import_names = false;
    for (uint16_t i = 0; i < qm.capture_count; ++i) {
      const CaptureInfo& ci = impl_->captures[qm.captures[i].index];
      switch (ci.role) {
        case Role::kDefinition:
        case Role::kReference:
        case Role::kImport:
        case Role::kScope:
          if (!role) role = &ci, m.role = qm.captures[i].node;
          break;
        case Role::kName:
          if (!m.has_name) m.name = qm.captures[i].node, m.has_name = true;
          break;
        case Role::kContainer:
          m.container = qm.captures[i].node, m.has_container = true;
          break;
        case Role::kImportModule:
          if (!m.has_module) m.module = qm.captures[i].node, m.has_module = true;
          break;
        case Role::kImportName:
          has_import_names = true;
          break;
        default:
          break;
      }
    }
    if (!role) continue;
    if (role->role != Role::kImport || !has_import_names) {
      add_match(*role, m, text, secrets, &c);
      continue;
    }
    // An import with names: one entry per imported name.
    if (!m.has_module) continue;
    Import imp;
    imp.module = strip_quotes(node_text(m.module, text));
    imp.range = range_of(m.role);
    for (uint16_t i = 0; i < qm.capture_count; ++i) {
      if (impl_->captures[qm.captures[i].index].role != Role::kImportName) continue;
      Import named = imp;
      named.name = node_text(qm.captures[i].node, text);
      c.imports.push_back(std::move(named));
    }
  }
}

void TagQuery::extract(TSQueryCursor* cursor, TSNode root, std::string_view text, std::span<const ByteSpan> secrets,
                       FileSymbols* out, TagState* state) const {
  Collected c;
  collect(cursor, root, text, secrets, 0, UINT32_MAX, &c);
  dedup_defs(&c.defs);
  dedup_refs(&c.refs, c.defs);
  assign_containers(&c.defs, c.scopes);
  sort_defs(&c.defs);
  sort_imports(&c.imports);
  emit(std::move(c.defs), std::move(c.refs), std::move(c.imports), std::move(c.scopes), ts_node_has_error(root),
       secrets, out, state);
}

bool TagQuery::extract_incremental(TSQueryCursor* cursor, TSNode root, std::string_view text,
                                   std::span<const ByteSpan> secrets, const ByteEdit& e, uint32_t r0, uint32_t r1,
                                   const FileSymbols& old, const TagState& old_state, FileSymbols* out,
                                   TagState* state) const {
  const int64_t delta = static_cast<int64_t>(e.new_end_byte) - e.old_end_byte;
  if (r0 > e.start_byte || r1 < e.new_end_byte || static_cast<int64_t>(r1) - delta < r0) return false;
  if (old_state.header_end.size() != old.definitions.size() ||
      old_state.explicit_container.size() != old.definitions.size()) {
    return false;
  }
  const uint32_t r1_old = static_cast<uint32_t>(static_cast<int64_t>(r1) - delta);
  enum class Where { kBefore, kAfter, kInside, kContains, kPartial };
  auto where = [&](uint32_t a, uint32_t b) {
    if (a >= r0 && b <= r1_old) return Where::kInside;
    if (b <= r0) return Where::kBefore;
    if (a >= r1_old) return Where::kAfter;
    if (a <= r0 && b >= r1_old) return Where::kContains;
    return Where::kPartial;
  };
  // Secrets outside the region must be the same (shifted); none may cross its edges.
  {
    std::vector<ByteSpan> kept_old, kept_new;
    for (const ByteSpan& s : old_state.secrets) {
      switch (where(s.begin, s.end)) {
        case Where::kBefore: kept_old.push_back(s); break;
        case Where::kAfter:
          kept_old.push_back({static_cast<uint32_t>(s.begin + delta), static_cast<uint32_t>(s.end + delta)});
          break;
        case Where::kInside: break;
        default: return false;
      }
    }
    for (const ByteSpan& s : secrets) {
      if (s.begin >= r0 && s.end <= r1) continue;
      if (s.end > r0 && s.begin < r1) return false;
      kept_new.push_back(s);
    }
    if (kept_old != kept_new) return false;
  }

  // The previous definitions, scopes, references and imports outside the region.
  std::vector<PendingDef> defs;
  std::vector<ScopeItem> scopes;
  for (size_t i = 0; i < old.definitions.size(); ++i) {
    const Definition& d = old.definitions[i];
    PendingDef p;
    p.def = d;
    const std::string_view sig = old.signature(d);
    p.signature_text = &old.signatures;
    p.signature_begin = static_cast<uint32_t>(sig.data() - old.signatures.data());
    p.signature_size = static_cast<uint32_t>(sig.size());
    p.header_end = old_state.header_end[i];
    p.explicit_container = old_state.explicit_container[i] != 0;
    switch (where(d.range.start_byte, d.range.end_byte)) {
      case Where::kInside: continue;
      case Where::kBefore: break;
      case Where::kAfter:
        shift_all(&p.def.range, e);
        {
          SourceRange name_range = d.name_range();
          shift_all(&name_range, e);
          p.def.set_name_start(name_range);
        }
        p.header_end = static_cast<uint32_t>(p.header_end + delta);
        break;
      case Where::kContains:
        // An enclosing definition: only its end moves, unless the edit touches its header.
        if (p.header_end > r0 || d.name_range().end_byte > r0) return false;
        shift_end(&p.def.range, e);
        p.frozen = true;
        break;
      case Where::kPartial: return false;
    }
    defs.push_back(std::move(p));
  }
  for (const ScopeItem& sc : old_state.scopes) {
    ScopeItem s = sc;
    switch (where(sc.range.start_byte, sc.range.end_byte)) {
      case Where::kInside: continue;
      case Where::kBefore: break;
      case Where::kAfter:
        shift_all(&s.range, e);
        s.header_end = static_cast<uint32_t>(s.header_end + delta);
        break;
      case Where::kContains:
        if (sc.header_end > r0) return false;
        shift_end(&s.range, e);
        break;
      case Where::kPartial: return false;
    }
    scopes.push_back(std::move(s));
  }
  std::vector<PendingRef> refs;
  for (const Reference& r : old.references) {
    PendingRef p{r, 0};
    SourceRange range = r.range();
    switch (where(range.start_byte, range.end_byte)) {
      case Where::kInside: continue;
      case Where::kBefore: break;
      case Where::kAfter:
        shift_all(&range, e);
        p.ref.set_start(range);
        break;
      default: return false;
    }
    refs.push_back(std::move(p));
  }
  std::vector<Import> imports;
  for (const Import& imp : old.imports) {
    Import i = imp;
    switch (where(imp.range.start_byte, imp.range.end_byte)) {
      case Where::kInside: continue;
      case Where::kBefore: break;
      case Where::kAfter: shift_all(&i.range, e); break;
      default: return false;
    }
    imports.push_back(std::move(i));
  }

  // What the region holds now.
  Collected c;
  collect(cursor, root, text, secrets, r0, r1, &c);
  std::erase_if(c.defs, [&](const PendingDef& d) { return !inside(d.def.range, r0, r1); });
  std::erase_if(c.refs, [&](const PendingRef& r) { return !inside(r.ref.range(), r0, r1); });
  std::erase_if(c.imports, [&](const Import& i) { return !inside(i.range, r0, r1); });
  std::erase_if(c.scopes, [&](const ScopeItem& s) { return !inside(s.range, r0, r1); });
  dedup_defs(&c.defs);
  dedup_refs(&c.refs, c.defs);
  sort_imports(&c.imports);

  // Containers of the new definitions come from the enclosing ones (frozen) and each other.
  {
    std::vector<PendingDef> nest;
    std::vector<size_t> ancestors;
    for (size_t i = 0; i < defs.size(); ++i) {
      if (defs[i].frozen) ancestors.push_back(i);
    }
    for (size_t i : ancestors) nest.push_back(defs[i]);
    const size_t n_frozen = nest.size();
    for (auto& d : c.defs) nest.push_back(std::move(d));
    std::vector<ScopeItem> nest_scopes;
    for (const auto& s : scopes) {
      if (s.range.start_byte <= r0 && s.range.end_byte >= r1) nest_scopes.push_back(s);
    }
    for (const auto& s : c.scopes) nest_scopes.push_back(s);
    assign_containers(&nest, nest_scopes);
    for (size_t i = n_frozen; i < nest.size(); ++i) defs.push_back(std::move(nest[i]));
  }
  for (auto& d : defs) d.frozen = false;
  for (auto& s : c.scopes) scopes.push_back(std::move(s));
  for (auto& r : c.refs) refs.push_back(std::move(r));
  for (auto& i : c.imports) imports.push_back(std::move(i));
  sort_defs(&defs);
  std::sort(refs.begin(), refs.end(), [](const PendingRef& a, const PendingRef& b) {
    return a.ref.start_byte < b.ref.start_byte;
  });
  std::sort(imports.begin(), imports.end(), [](const Import& a, const Import& b) {
    return std::tie(a.range.start_byte, a.module, a.name) < std::tie(b.range.start_byte, b.module, b.name);
  });
  emit(std::move(defs), std::move(refs), std::move(imports), std::move(scopes), ts_node_has_error(root), secrets,
       out, state);
  return true;
}

TagExtractor::TagExtractor() : parser_(ts_parser_new()), cursor_(ts_query_cursor_new()) {
  ts_parser_set_timeout_micros(parser_, kParseTimeoutMicros);
}

TagExtractor::~TagExtractor() {
  ts_query_cursor_delete(cursor_);
  ts_parser_delete(parser_);
}

void TagExtractor::set_cancellation_flag(const std::atomic<size_t>* flag) {
  static_assert(sizeof(std::atomic<size_t>) == sizeof(size_t));
  ts_parser_set_cancellation_flag(parser_, reinterpret_cast<const size_t*>(flag));
}

Result<TreePtr> TagExtractor::parse(const grammars::Language& language, std::string_view text,
                                    const TSTree* old_tree, std::span<const ByteSpan> secrets, FileSymbols* out,
                                    TagState* state, const PreviousExtraction* previous) {
  *out = FileSymbols{};
  last_partial_ = false;
  MOE_TRY(const TagQuery* query, TagQuery::get(language));
  if (text.size() > UINT32_MAX) {
    return make_error(ErrorCode::kOutOfRange, fmt::format("text of {} bytes is too large to parse", text.size()));
  }
  if (!ts_parser_set_language(parser_, language.ts())) {
    return make_error(ErrorCode::kUnsupported,
                      fmt::format("grammar '{}' has an ABI the tree-sitter runtime rejects", language.name));
  }
  TSTree* tree = ts_parser_parse_string(parser_, old_tree, text.data(), static_cast<uint32_t>(text.size()));
  if (!tree) {
    ts_parser_reset(parser_);
    return make_error(ErrorCode::kCancelled, fmt::format("{} parse cancelled or timed out", language.name));
  }
  TreePtr owned(tree);
  const TSNode root = ts_tree_root_node(tree);
  if (!query) {
    out->has_errors = ts_node_has_error(root);
    return owned;
  }
  if (previous && old_tree && state && previous->symbols && previous->state) {
    // The region to re-extract: the smallest named node covering the edit and every range
    // whose structure changed (one byte of margin on each side: tokens may merge).
    const ByteEdit& e = previous->edit;
    uint32_t lo = e.start_byte, hi = e.new_end_byte;
    uint32_t n_ranges = 0;
    TSRange* ranges = ts_tree_get_changed_ranges(old_tree, tree, &n_ranges);
    for (uint32_t i = 0; i < n_ranges; ++i) {
      lo = std::min(lo, ranges[i].start_byte);
      hi = std::max(hi, ranges[i].end_byte);
    }
    std::free(ranges);
    // tree-sitter (0.20.7) can leave out of the changed ranges a place where error recovery
    // built a different structure, even far from the edit (found by tags_fuzz: an unterminated
    // Lua string above a recovered error; a C++ identifier that left an ERROR node inside an
    // unchanged outer one). So every error that is not the same in both trees joins the region.
    widen_over_changed_errors(ts_tree_root_node(old_tree), root, &lo, &hi);
    lo = lo > 0 ? lo - 1 : 0;
    hi = std::min<uint32_t>(static_cast<uint32_t>(text.size()), hi + 1);
    TSNode region = ts_node_descendant_for_byte_range(root, lo, hi);
    while (!ts_node_is_null(region) && !ts_node_is_named(region)) region = ts_node_parent(region);
    if (!ts_node_is_null(region) && !ts_node_eq(region, root)) {
      last_partial_ = query->extract_incremental(cursor_, root, text, secrets, e, ts_node_start_byte(region),
                                                 ts_node_end_byte(region), *previous->symbols, *previous->state,
                                                 out, state);
    }
  }
  if (!last_partial_) query->extract(cursor_, root, text, secrets, out, state);
  return owned;
}

void apply_edit(TSTree* tree, const ByteEdit& e) {
  TSInputEdit in;
  in.start_byte = e.start_byte;
  in.old_end_byte = e.old_end_byte;
  in.new_end_byte = e.new_end_byte;
  in.start_point = {e.start_point.row, e.start_point.column};
  in.old_end_point = {e.old_end_point.row, e.old_end_point.column};
  in.new_end_point = {e.new_end_point.row, e.new_end_point.column};
  ts_tree_edit(tree, &in);
}

}  // namespace moecode::workspace
