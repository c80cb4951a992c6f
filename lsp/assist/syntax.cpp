// tree-sitter facts for fix, translate and review (see syntax.h).
#include "lsp/assist/syntax.h"

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>

#include <tree_sitter/api.h>

#include "grammars/languages.h"

namespace moecode::assist {

namespace {

struct ParserDeleter {
  void operator()(TSParser* p) const { ts_parser_delete(p); }
};
struct TreeDeleter {
  void operator()(TSTree* t) const { ts_tree_delete(t); }
};
struct CursorDeleter {
  void operator()(TSQueryCursor* c) const { ts_query_cursor_delete(c); }
};
using TreePtr = std::unique_ptr<TSTree, TreeDeleter>;

Result<const grammars::Language*> find_language(std::string_view grammar) {
  const grammars::Language* lang = grammars::language_by_name(grammar);
  if (!lang) return make_error(ErrorCode::kInvalidArgument, "no grammar for language '" + std::string(grammar) + "'");
  return lang;
}

Result<TreePtr> parse(const grammars::Language& lang, std::string_view text) {
  std::unique_ptr<TSParser, ParserDeleter> parser(ts_parser_new());
  if (!ts_parser_set_language(parser.get(), lang.ts())) {
    return make_error(ErrorCode::kInternal, "tree-sitter rejected the grammar '" + std::string(lang.name) + "'");
  }
  TSTree* tree = ts_parser_parse_string(parser.get(), nullptr, text.data(), static_cast<uint32_t>(text.size()));
  if (!tree) return make_error(ErrorCode::kInternal, "tree-sitter could not parse the text");
  return TreePtr(tree);
}

// Our tags query of a language, compiled once (queries are immutable; cursors are per call).
const TSQuery* tags_query(const grammars::Language& lang) {
  static std::mutex mu;
  // Lives as long as the process and is never destroyed: the queries stay reachable from it
  // (a static map would be destroyed at exit and LeakSanitizer would report its queries).
  static auto& cache = *new std::map<std::string_view, TSQuery*>();
  std::lock_guard lock(mu);
  if (auto it = cache.find(lang.name); it != cache.end()) return it->second;
  TSQuery* q = nullptr;
  if (!lang.tags_query.empty()) {
    uint32_t err_off = 0;
    TSQueryError err = TSQueryErrorNone;
    q = ts_query_new(lang.ts(), lang.tags_query.data(), static_cast<uint32_t>(lang.tags_query.size()), &err_off,
                     &err);
  }
  cache[lang.name] = q;
  return q;
}

std::string_view node_text(TSNode n, std::string_view text) {
  const size_t b = std::min<size_t>(ts_node_start_byte(n), text.size());
  const size_t e = std::min<size_t>(ts_node_end_byte(n), text.size());
  return text.substr(b, e - b);
}

size_t line_start(std::string_view text, size_t pos) {
  pos = std::min(pos, text.size());
  while (pos > 0 && text[pos - 1] != '\n') --pos;
  return pos;
}

bool contains(std::string_view s, std::string_view what) { return s.find(what) != std::string_view::npos; }

bool is_comment_type(std::string_view type) { return contains(type, "comment"); }
bool is_string_type(std::string_view type) {
  return contains(type, "string") || type == "char_literal" || type == "character_literal" ||
         type == "heredoc_body" || type == "regex";
}
bool is_import_type(std::string_view type) {
  return contains(type, "import") || type == "use_declaration" || type == "preproc_include" ||
         type == "using_directive" || type == "package_declaration" || type == "package_clause" ||
         type == "namespace_use_declaration" || type == "extern_crate_declaration";
}

struct DefinitionMatch {
  TSNode node;
  std::string kind;
  std::string name;
};

// Every @definition.* capture of our tags query, with the @name of its match.
std::vector<DefinitionMatch> definitions(const grammars::Language& lang, TSNode root, std::string_view text) {
  std::vector<DefinitionMatch> out;
  const TSQuery* q = tags_query(lang);
  if (!q) return out;
  std::unique_ptr<TSQueryCursor, CursorDeleter> cursor(ts_query_cursor_new());
  ts_query_cursor_exec(cursor.get(), q, root);
  TSQueryMatch m;
  while (ts_query_cursor_next_match(cursor.get(), &m)) {
    DefinitionMatch d{};
    bool found = false;
    for (uint16_t i = 0; i < m.capture_count; ++i) {
      uint32_t len = 0;
      const char* name = ts_query_capture_name_for_id(q, m.captures[i].index, &len);
      const std::string_view cap(name, len);
      if (cap.starts_with("definition.")) {
        d.node = m.captures[i].node;
        d.kind = std::string(cap.substr(11));
        found = true;
      } else if (cap == "name") {
        d.name = std::string(node_text(m.captures[i].node, text));
      }
    }
    if (found) out.push_back(std::move(d));
  }
  return out;
}

int line_of(std::string_view text, size_t pos) {
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(std::min(pos, text.size())), '\n'));
}

void collect_problems(TSNode node, std::string_view text, SyntaxReport& report) {
  if (ts_node_is_missing(node)) {
    ++report.n_missing;
    if (report.first_problem.empty()) {
      const TSPoint p = ts_node_start_point(node);
      report.first_problem = "line " + std::to_string(p.row + 1) + ", column " + std::to_string(p.column + 1) +
                             ": missing '" + ts_node_type(node) + "'";
    }
    return;
  }
  if (std::string_view(ts_node_type(node)) == "ERROR") {
    ++report.n_errors;
    if (report.first_problem.empty()) {
      const TSPoint p = ts_node_start_point(node);
      std::string snippet(node_text(node, text).substr(0, 40));
      if (const size_t nl = snippet.find('\n'); nl != std::string::npos) snippet.resize(nl);
      report.first_problem = "line " + std::to_string(p.row + 1) + ", column " + std::to_string(p.column + 1) +
                             ": syntax error at '" + snippet + "'";
    }
  }
  if (!ts_node_has_error(node)) return;
  const uint32_t n = ts_node_child_count(node);
  for (uint32_t i = 0; i < n; ++i) collect_problems(ts_node_child(node, i), text, report);
}

void collect_spans(TSNode node, std::vector<ByteSpan>& out) {
  const std::string_view type = ts_node_type(node);
  if (ts_node_is_named(node) && (is_comment_type(type) || is_string_type(type))) {
    out.push_back({ts_node_start_byte(node), ts_node_end_byte(node)});
    return;
  }
  const uint32_t n = ts_node_child_count(node);
  for (uint32_t i = 0; i < n; ++i) collect_spans(ts_node_child(node, i), out);
}

}  // namespace

std::string grammar_for(std::string_view language_id, std::string_view path) {
  static const std::map<std::string_view, std::string_view> kAliases = {
      {"typescriptreact", "tsx"}, {"javascriptreact", "javascript"}, {"shellscript", "bash"},
      {"sh", "bash"},             {"csharp", "c_sharp"},             {"cuda-cpp", "cpp"},
      {"objective-c", "c"},       {"jsonc", "json"}};
  if (auto it = kAliases.find(language_id); it != kAliases.end()) return std::string(it->second);
  if (const grammars::Language* l = grammars::language_by_name(language_id)) return std::string(l->name);
  if (!path.empty()) {
    if (const grammars::Language* l = grammars::language_for_path(path)) return std::string(l->name);
  }
  return "";
}

std::string language_display_name(std::string_view grammar) {
  static const std::map<std::string_view, std::string_view> kNames = {
      {"c", "C"},          {"cpp", "C++"},      {"python", "Python"}, {"javascript", "JavaScript"},
      {"typescript", "TypeScript"}, {"tsx", "TypeScript (TSX)"}, {"go", "Go"}, {"rust", "Rust"},
      {"java", "Java"},    {"bash", "Bash"},    {"json", "JSON"},     {"ruby", "Ruby"},
      {"c_sharp", "C#"},   {"php", "PHP"},      {"lua", "Lua"}};
  if (auto it = kNames.find(grammar); it != kNames.end()) return std::string(it->second);
  return std::string(grammar);
}

std::string language_extension(std::string_view grammar) {
  static const std::map<std::string_view, std::string_view> kExt = {
      {"c", ".c"},    {"cpp", ".cpp"},  {"python", ".py"}, {"javascript", ".js"}, {"typescript", ".ts"},
      {"tsx", ".tsx"}, {"go", ".go"},   {"rust", ".rs"},   {"java", ".java"},     {"bash", ".sh"},
      {"json", ".json"}, {"ruby", ".rb"}, {"c_sharp", ".cs"}, {"php", ".php"},    {"lua", ".lua"}};
  if (auto it = kExt.find(grammar); it != kExt.end()) return std::string(it->second);
  return "";
}

Result<SyntaxReport> check_syntax(std::string_view grammar, std::string_view text) {
  MOE_TRY(const grammars::Language* lang, find_language(grammar));
  MOE_TRY(TreePtr tree, parse(*lang, text));
  SyntaxReport report;
  collect_problems(ts_tree_root_node(tree.get()), text, report);
  return report;
}

std::optional<DefinitionSpan> enclosing_definition(std::string_view grammar, std::string_view text, size_t start,
                                                   size_t end) {
  auto lang = find_language(grammar);
  if (!lang.ok()) return std::nullopt;
  auto tree = parse(**lang, text);
  if (!tree.ok()) return std::nullopt;
  end = std::min(std::max(start, end), text.size());
  // A range that takes the line's end ("sm\n") still lies in a definition that ends before it.
  while (end > start && (text[end - 1] == '\n' || text[end - 1] == '\r' || text[end - 1] == ' ')) --end;
  std::optional<DefinitionSpan> best;
  for (const DefinitionMatch& d : definitions(**lang, ts_tree_root_node(tree->get()), text)) {
    const size_t b = ts_node_start_byte(d.node);
    const size_t e = ts_node_end_byte(d.node);
    if (b > start || e < end || e <= b) continue;
    const size_t from = line_start(text, b);
    if (!best || e - from < best->span.end - best->span.start) {
      best = DefinitionSpan{{from, e}, d.kind, d.name};
    }
  }
  return best;
}

const char* unit_kind_name(SourceUnit::Kind kind) {
  switch (kind) {
    case SourceUnit::Kind::kImports: return "imports";
    case SourceUnit::Kind::kDefinition: return "definition";
    case SourceUnit::Kind::kStatement: return "statement";
  }
  return "unit";
}

Result<std::vector<SourceUnit>> top_level_units(std::string_view grammar, std::string_view text) {
  MOE_TRY(const grammars::Language* lang, find_language(grammar));
  MOE_TRY(TreePtr tree, parse(*lang, text));
  const TSNode root = ts_tree_root_node(tree.get());
  const std::vector<DefinitionMatch> defs = definitions(*lang, root, text);

  std::vector<SourceUnit> units;
  constexpr size_t kNone = static_cast<size_t>(-1);
  size_t pending_comment = kNone;  // start of comments waiting for the next unit
  const uint32_t n = ts_node_named_child_count(root);
  for (uint32_t i = 0; i < n; ++i) {
    const TSNode child = ts_node_named_child(root, i);
    const std::string_view type = ts_node_type(child);
    const size_t b = line_start(text, ts_node_start_byte(child));
    const size_t e = ts_node_end_byte(child);
    if (is_comment_type(type)) {
      if (pending_comment == kNone) pending_comment = b;
      continue;
    }
    SourceUnit u;
    u.span = {pending_comment == kNone ? b : pending_comment, e};
    pending_comment = kNone;
    if (is_import_type(type)) {
      if (!units.empty() && units.back().kind == SourceUnit::Kind::kImports) {
        units.back().span.end = e;  // consecutive imports: one unit
        units.back().last_line = line_of(text, e == 0 ? 0 : e - 1);
        continue;
      }
      u.kind = SourceUnit::Kind::kImports;
      u.name = "imports";
    } else {
      // A definition at (or wrapped by) this top-level node: the outermost one inside it.
      const DefinitionMatch* def = nullptr;
      for (const DefinitionMatch& d : defs) {
        const size_t db = ts_node_start_byte(d.node);
        const size_t de = ts_node_end_byte(d.node);
        if (db < ts_node_start_byte(child) || de > e) continue;
        if (!def || db < ts_node_start_byte(def->node) ||
            (db == ts_node_start_byte(def->node) && de > ts_node_end_byte(def->node))) {
          def = &d;
        }
      }
      if (def) {
        u.kind = SourceUnit::Kind::kDefinition;
        u.name = def->name;
      } else {
        u.kind = SourceUnit::Kind::kStatement;
        std::string_view first = node_text(child, text);
        first = first.substr(0, first.find('\n'));
        u.name = std::string(first.substr(0, 60));
      }
    }
    u.first_line = line_of(text, u.span.start);
    u.last_line = line_of(text, e == 0 ? 0 : e - 1);
    units.push_back(std::move(u));
  }
  if (pending_comment != kNone) {  // trailing comments: a statement of their own
    SourceUnit u;
    u.kind = SourceUnit::Kind::kStatement;
    u.span = {pending_comment, text.size()};
    u.name = "comments";
    u.first_line = line_of(text, u.span.start);
    u.last_line = line_of(text, text.empty() ? 0 : text.size() - 1);
    units.push_back(std::move(u));
  }
  return units;
}

namespace {

// Declared names in a top-level node: its "name" field, or its declarators' (JS/TS
// lexical_declaration, Go var/const specs), or a Python assignment's target.
void declared_names(TSNode node, std::string_view text, std::vector<std::string>& out, int depth = 0) {
  if (depth > 3) return;
  const std::string_view type = ts_node_type(node);
  if (type == "expression_statement" || type == "export_statement" || type == "decorated_definition") {
    const uint32_t n = ts_node_named_child_count(node);
    for (uint32_t i = 0; i < n; ++i) declared_names(ts_node_named_child(node, i), text, out, depth + 1);
    return;
  }
  if (type == "assignment") {  // Python: x = ... (a plain name on the left)
    const TSNode left = ts_node_child_by_field_name(node, "left", 4);
    if (!ts_node_is_null(left) && std::string_view(ts_node_type(left)) == "identifier") {
      out.emplace_back(node_text(left, text));
    }
    return;
  }
  const TSNode name = ts_node_child_by_field_name(node, "name", 4);
  if (!ts_node_is_null(name)) {
    out.emplace_back(node_text(name, text));
    return;
  }
  if (contains(type, "declaration") || contains(type, "spec")) {
    const uint32_t n = ts_node_named_child_count(node);
    for (uint32_t i = 0; i < n; ++i) {
      const TSNode c = ts_node_named_child(node, i);
      const std::string_view ct = ts_node_type(c);
      if (contains(ct, "declarator") || contains(ct, "spec") || contains(ct, "declaration")) {
        declared_names(c, text, out, depth + 1);
      }
    }
  }
}

}  // namespace

Result<std::vector<std::string>> top_level_names(std::string_view grammar, std::string_view text) {
  MOE_TRY(const grammars::Language* lang, find_language(grammar));
  MOE_TRY(TreePtr tree, parse(*lang, text));
  const TSNode root = ts_tree_root_node(tree.get());
  std::vector<std::string> out;
  const uint32_t n = ts_node_named_child_count(root);
  for (uint32_t i = 0; i < n; ++i) {
    const TSNode child = ts_node_named_child(root, i);
    const std::string_view type = ts_node_type(child);
    if (is_comment_type(type) || is_import_type(type)) continue;
    declared_names(child, text, out);
  }
  return out;
}

Result<std::vector<ByteSpan>> comment_and_string_spans(std::string_view grammar, std::string_view text) {
  MOE_TRY(const grammars::Language* lang, find_language(grammar));
  MOE_TRY(TreePtr tree, parse(*lang, text));
  std::vector<ByteSpan> out;
  collect_spans(ts_tree_root_node(tree.get()), out);
  return out;
}

}  // namespace moecode::assist
