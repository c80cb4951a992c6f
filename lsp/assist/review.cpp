// Code review of diff hunks through the model, every finding validated (see review.h).
#include "lsp/assist/review.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/assist/syntax.h"

namespace moecode::assist {

namespace {

using nlohmann::json;

constexpr size_t kMaxMessageBytes = 1000;
constexpr size_t kMaxSuggestionBytes = 2000;
constexpr size_t kMaxCategoryBytes = 40;
constexpr int kMaxScanDepth = 16;
constexpr size_t kMaxValues = 200;  // JSON values read from one answer

std::string trim(std::string_view s) {
  const size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Valid UTF-8 only (invalid bytes become '?'), control characters removed: newlines and tabs
// are kept when `multiline`, else every run of whitespace becomes one space.
std::string clean_text(std::string_view s, bool multiline, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(s.size(), max_bytes) + 4);
  size_t i = 0;
  while (i < s.size() && out.size() < max_bytes) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
        if (multiline) {
          if (c != '\r') out += static_cast<char>(c);
        } else if (!out.empty() && out.back() != ' ') {
          out += ' ';
        }
      } else if (c >= 0x20 && c != 0x7F) {
        out += static_cast<char>(c);
      }
      ++i;
      continue;
    }
    const size_t n = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    bool ok = n > 0 && i + n <= s.size();
    for (size_t k = 1; ok && k < n; ++k) ok = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
    if (ok) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += '?';
      ++i;
    }
  }
  out = trim(out);
  if (i < s.size() && !trim(s.substr(i)).empty()) out += "...";
  return out;
}

// The answer without any reasoning block: "<think>...</think>" (every one), an unclosed
// "<think>..." (to the end), and "...</think>" when the prompt opened the block (R1).
std::string strip_reasoning(std::string_view s) {
  static constexpr std::string_view kOpen = "<think>";
  static constexpr std::string_view kClose = "</think>";
  const size_t first_open = s.find(kOpen);
  const size_t first_close = s.find(kClose);
  if (first_close != std::string_view::npos && (first_open == std::string_view::npos || first_close < first_open)) {
    s = s.substr(first_close + kClose.size());
  }
  std::string out;
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t open = s.find(kOpen, pos);
    if (open == std::string_view::npos) {
      out.append(s.substr(pos));
      break;
    }
    out.append(s.substr(pos, open - pos));
    const size_t close = s.find(kClose, open + kOpen.size());
    if (close == std::string_view::npos) break;  // still thinking: the rest is reasoning
    pos = close + kClose.size();
  }
  return out;
}

// The position just past the bracket that closes text[start] ('{' or '['), strings and
// escapes respected; npos when it never closes.
size_t match_close(std::string_view text, size_t start) {
  std::vector<char> stack;
  bool in_string = false;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      stack.push_back(c == '{' ? '}' : ']');
    } else if (c == '}' || c == ']') {
      if (stack.empty() || stack.back() != c) return std::string_view::npos;  // mismatched: not JSON
      stack.pop_back();
      if (stack.empty()) return i + 1;
    }
  }
  return std::string_view::npos;
}

struct Scan {
  std::vector<json> values;
  bool truncated = false;  // a bracket never closed (a cut-off answer)
  bool broken = false;     // something JSON-like did not parse as a whole
};

// Every JSON object or array in `text`, outermost first: a region that does not parse as a
// whole (truncated, or prose in brackets) is searched for the complete values inside it.
void scan_values(std::string_view text, int depth, Scan& scan) {
  if (depth > kMaxScanDepth) return;
  size_t i = 0;
  while (i < text.size() && scan.values.size() < kMaxValues) {
    const char c = text[i];
    if (c != '{' && c != '[') {
      ++i;
      continue;
    }
    const size_t end = match_close(text, i);
    if (end != std::string_view::npos) {
      json v = json::parse(text.substr(i, end - i), nullptr, /*allow_exceptions=*/false);
      if (!v.is_discarded()) {
        scan.values.push_back(std::move(v));
      } else {
        scan.broken = true;
        scan_values(text.substr(i + 1, end - i - 2), depth + 1, scan);
      }
      i = end;
      continue;
    }
    // Never closed (or mismatched): what is complete inside it still counts.
    scan.truncated = true;
    scan_values(text.substr(i + 1), depth + 1, scan);
    return;
  }
}

// The JSON values of an answer: a fenced or bare document that parses as a whole, else the
// complete values found in it.
Scan extract_json(std::string_view answer) {
  Scan scan;
  for (const CodeBlock& b : code_blocks(answer)) {
    const std::string body = trim(b.code);
    if (body.empty()) continue;
    json v = json::parse(body, nullptr, false);
    if (!v.is_discarded() && (v.is_array() || v.is_object())) {
      scan.values.push_back(std::move(v));
      return scan;
    }
  }
  // JSON lines, prose around JSON, a cut-off array: the complete values, in order.
  scan_values(answer, 0, scan);
  return scan;
}

const json* field(const json& obj, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    auto it = obj.find(n);
    if (it != obj.end() && !it->is_null()) return &*it;
  }
  return nullptr;
}

// A positive line number from an integer, an integral float or a string of digits ("12",
// "L12", "12-14": the first number; *end_out gets the second when there is one).
std::optional<int> line_number(const json& v, int* end_out = nullptr) {
  if (v.is_number_integer()) {
    const auto n = v.get<long long>();
    if (n >= 1 && n <= 10'000'000) return static_cast<int>(n);
    return std::nullopt;
  }
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (std::isfinite(d) && d >= 1 && d <= 1e7 && d == std::floor(d)) return static_cast<int>(d);
    return std::nullopt;
  }
  if (v.is_string()) {
    std::string s = trim(v.get<std::string>());
    if (!s.empty() && (s[0] == 'L' || s[0] == 'l')) s.erase(0, 1);
    size_t i = 0;
    long long n = 0;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) && n < 10'000'000) n = n * 10 + (s[i++] - '0');
    if (i == 0 || n < 1 || n > 10'000'000) return std::nullopt;
    if (i < s.size()) {
      if (s[i] != '-' || !end_out) return std::nullopt;
      size_t j = i + 1;
      long long m = 0;
      while (j < s.size() && std::isdigit(static_cast<unsigned char>(s[j])) && m < 10'000'000) m = m * 10 + (s[j++] - '0');
      if (j == i + 1 || j != s.size() || m < 1) return std::nullopt;
      *end_out = static_cast<int>(m);
    }
    return static_cast<int>(n);
  }
  return std::nullopt;
}

// Severity from the model: exact names, case-insensitive, and the usual synonyms.
std::optional<Severity> severity_from(std::string_view raw) {
  const std::string s = lower(trim(raw));
  static const std::map<std::string, Severity, std::less<>> kNames = {
      {"error", Severity::kError},       {"critical", Severity::kError}, {"fatal", Severity::kError},
      {"high", Severity::kError},        {"blocker", Severity::kError},  {"major", Severity::kError},
      {"warning", Severity::kWarning},   {"warn", Severity::kWarning},   {"medium", Severity::kWarning},
      {"moderate", Severity::kWarning},  {"note", Severity::kNote},      {"info", Severity::kNote},
      {"information", Severity::kNote},  {"hint", Severity::kNote},      {"low", Severity::kNote},
      {"minor", Severity::kNote},        {"suggestion", Severity::kNote}, {"style", Severity::kNote},
      {"nit", Severity::kNote}};
  auto it = kNames.find(s);
  if (it == kNames.end()) return std::nullopt;
  return it->second;
}

const std::vector<std::pair<std::string, std::string>>& category_table() {
  static const std::vector<std::pair<std::string, std::string>> kTable = {
      {"bug", "A logic error: the code does not do what it should (wrong result, crash, off-by-one)."},
      {"security", "A vulnerability: injection, unsafe input handling, secrets, weak cryptography."},
      {"error-handling", "A failure that is ignored, swallowed or reported wrongly."},
      {"resource-leak", "A file, socket, lock or memory that is not released."},
      {"concurrency", "A data race, deadlock or unsafe shared state."},
      {"performance", "Needless work: a quadratic loop, repeated I/O, a large copy."},
      {"api-misuse", "A library or language feature used against its contract."},
      {"maintainability", "Code that is hard to read or change: duplication, unclear names, dead code."},
      {"style", "Formatting and conventions."},
      {"documentation", "Missing or wrong comments and documentation."},
      {"testing", "Missing or wrong tests."},
      {"other", "Anything else."}};
  return kTable;
}

std::string category_from(std::string_view raw) {
  std::string s = lower(trim(raw));
  for (char& c : s) {
    if (c == ' ' || c == '_') c = '-';
  }
  if (s.size() > kMaxCategoryBytes) return "other";
  for (const auto& [name, _] : category_table()) {
    if (s == name) return name;
  }
  static const std::map<std::string, std::string, std::less<>> kSynonyms = {
      {"correctness", "bug"},         {"logic", "bug"},
      {"logic-error", "bug"},         {"crash", "bug"},
      {"bugs", "bug"},                {"vulnerability", "security"},
      {"errors", "error-handling"},   {"exception", "error-handling"},
      {"exceptions", "error-handling"}, {"exception-handling", "error-handling"},
      {"leak", "resource-leak"},      {"memory-leak", "resource-leak"},
      {"resource", "resource-leak"},  {"resources", "resource-leak"},
      {"race", "concurrency"},        {"race-condition", "concurrency"},
      {"thread-safety", "concurrency"}, {"perf", "performance"},
      {"efficiency", "performance"},  {"api", "api-misuse"},
      {"readability", "maintainability"}, {"complexity", "maintainability"},
      {"design", "maintainability"},  {"naming", "style"},
      {"formatting", "style"},        {"docs", "documentation"},
      {"comment", "documentation"},   {"comments", "documentation"},
      {"tests", "testing"},           {"test", "testing"}};
  auto it = kSynonyms.find(s);
  return it == kSynonyms.end() ? "other" : it->second;
}

// Whether the model's `file` names the hunk's file: the same path, or a trailing part of it
// ("area.py" for "src/area.py"); never with "..", a backslash or an absolute path.
bool names_file(std::string_view given, const std::string& file) {
  std::string g = trim(given);
  if (g.empty()) return true;
  if (g.starts_with("./")) g.erase(0, 2);
  if (g.starts_with("b/") && std::string_view(file) != g && std::string_view(g).substr(2) == file) g.erase(0, 2);
  if (g.starts_with('/') || g.find('\\') != std::string::npos || g.find(':') != std::string::npos) return false;
  size_t pos = 0;
  while (pos <= g.size()) {
    size_t e = g.find('/', pos);
    if (e == std::string::npos) e = g.size();
    const std::string_view part = std::string_view(g).substr(pos, e - pos);
    if (part == ".." || part == "." || part.empty()) return false;
    pos = e + 1;
  }
  if (g == file) return true;
  return file.size() > g.size() && std::string_view(file).ends_with(g) && file[file.size() - g.size() - 1] == '/';
}

std::string short_text(std::string_view s) {
  std::string t = clean_text(s, false, 60);
  return t;
}

// One candidate object -> a finding, or nullopt with a note.
std::optional<Finding> validate(const json& obj, const FindingScope& scope, std::vector<std::string>& notes) {
  const std::string where = scope.file + ":" + std::to_string(scope.first_line) + "-" + std::to_string(scope.last_line);
  const json* msg = field(obj, {"message", "msg", "description", "comment", "issue", "problem", "text"});
  if (!msg || !msg->is_string()) {
    notes.push_back(where + ": a finding without a message (dropped)");
    return std::nullopt;
  }
  Finding f;
  f.file = scope.file;
  f.message = clean_text(msg->get<std::string>(), false, kMaxMessageBytes);
  if (f.message.empty()) {
    notes.push_back(where + ": a finding with an empty message (dropped)");
    return std::nullopt;
  }
  const std::string label = "'" + short_text(f.message) + "'";

  if (const json* file = field(obj, {"file", "path", "filename", "file_path"})) {
    if (!file->is_string() || !names_file(file->get<std::string>(), scope.file)) {
      notes.push_back(where + ": finding " + label + " names another file (" + short_text(file->dump()) +
                      "), not the hunk's (dropped)");
      return std::nullopt;
    }
  }

  int end_from_range = 0;
  const json* line = field(obj, {"line", "start_line", "startLine", "line_number", "lineNumber", "lines"});
  if (line) {
    auto n = line_number(*line, &end_from_range);
    if (!n) {
      notes.push_back(where + ": finding " + label + " has no valid line (" + short_text(line->dump()) + ", dropped)");
      return std::nullopt;
    }
    f.line = *n;
  } else {
    f.line = scope.first_changed_line;
    notes.push_back(where + ": finding " + label + " has no line; placed on line " + std::to_string(f.line));
  }
  f.end_line = end_from_range > 0 ? end_from_range : f.line;
  if (const json* end = field(obj, {"end_line", "endLine", "end", "line_end"})) {
    if (auto n = line_number(*end)) f.end_line = *n;
  }
  // Map to the hunk's new lines.
  const int distance = f.line < scope.first_line ? scope.first_line - f.line
                       : f.line > scope.last_line ? f.line - scope.last_line
                                                  : 0;
  if (distance > scope.clamp_distance) {
    notes.push_back(where + ": finding " + label + " is on line " + std::to_string(f.line) +
                    ", outside the hunk (dropped)");
    return std::nullopt;
  }
  if (distance > 0) {
    const int to = std::clamp(f.line, scope.first_line, scope.last_line);
    notes.push_back(where + ": finding " + label + " moved from line " + std::to_string(f.line) + " to " +
                    std::to_string(to) + ", the nearest line of the hunk");
    f.line = to;
  }
  f.end_line = std::clamp(f.end_line, f.line, std::max(f.line, scope.last_line));

  f.severity = Severity::kNote;
  if (const json* sev = field(obj, {"severity", "level", "priority"})) {
    std::optional<Severity> s = sev->is_string() ? severity_from(sev->get<std::string>()) : std::nullopt;
    if (s) {
      f.severity = *s;
    } else {
      notes.push_back(where + ": finding " + label + " has severity " + short_text(sev->dump()) +
                      ", not error|warning|note (reported as a note)");
    }
  }
  f.category = "other";
  if (const json* cat = field(obj, {"category", "type", "kind", "rule"})) {
    if (cat->is_string()) f.category = category_from(cat->get<std::string>());
  }
  if (const json* sug = field(obj, {"suggestion", "fix", "recommendation", "suggested_fix"})) {
    std::string text;
    if (sug->is_string()) {
      text = sug->get<std::string>();
    } else if (sug->is_array() && std::all_of(sug->begin(), sug->end(), [](const json& e) { return e.is_string(); })) {
      for (const json& e : *sug) text += (text.empty() ? "" : "\n") + e.get<std::string>();
    } else {
      notes.push_back(where + ": finding " + label + ": its suggestion is not text (left out)");
    }
    f.suggestion = clean_text(text, true, kMaxSuggestionBytes);
    if (scope.english_context && has_cjk(f.suggestion)) {
      notes.push_back(where + ": finding " + label + ": its suggestion holds CJK text (left out)");
      f.suggestion.clear();
    }
  }
  return f;
}

// Candidate objects of the values: arrays' elements, a wrapper's "findings", lone objects.
void collect_candidates(const json& v, int depth, std::vector<const json*>& out, int* n_not_objects) {
  if (depth > 3) return;
  if (v.is_array()) {
    for (const json& e : v) {
      if (e.is_object() || e.is_array()) {
        collect_candidates(e, depth + 1, out, n_not_objects);
      } else {
        ++*n_not_objects;
      }
    }
    return;
  }
  if (!v.is_object()) {
    ++*n_not_objects;
    return;
  }
  for (const char* key : {"findings", "issues", "comments", "results", "problems", "review"}) {
    auto it = v.find(key);
    if (it != v.end() && it->is_array()) {
      collect_candidates(*it, depth + 1, out, n_not_objects);
      return;
    }
  }
  out.push_back(&v);
}

std::vector<std::string> words_of(std::string_view s) {
  std::vector<std::string> words;
  std::string w;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c)) || (static_cast<unsigned char>(c) >= 0x80)) {
      w += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else if (!w.empty()) {
      words.push_back(std::move(w));
      w.clear();
    }
  }
  if (!w.empty()) words.push_back(std::move(w));
  return words;
}

// ---- prompts -------------------------------------------------------------------------------

std::vector<size_t> line_starts(std::string_view text) {
  std::vector<size_t> starts = {0};
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && i + 1 < text.size()) starts.push_back(i + 1);
  }
  return starts;
}

int line_at(const std::vector<size_t>& starts, size_t offset) {
  return static_cast<int>(std::upper_bound(starts.begin(), starts.end(), offset) - starts.begin());
}

std::string numbered(std::string_view code, int first_line, int max_lines) {
  std::string out;
  int n = 0;
  size_t pos = 0;
  while (pos < code.size()) {
    size_t e = code.find('\n', pos);
    if (e == std::string_view::npos) e = code.size();
    if (n == max_lines) {
      const long rest = std::count(code.begin() + static_cast<long>(pos), code.end(), '\n') + 1;
      out += fmt::format("      ... ({} more lines)\n", rest);
      break;
    }
    std::string_view line = code.substr(pos, e - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out += fmt::format("{:>5}  {}\n", first_line + n, line);
    ++n;
    pos = e + 1;
  }
  return out;
}

std::string categories_list() {
  std::string out;
  for (const auto& [name, _] : category_table()) out += (out.empty() ? "\"" : ", \"") + name + "\"";
  return out;
}

}  // namespace

// ---- names -------------------------------------------------------------------------------------

const char* severity_name(Severity severity) {
  switch (severity) {
    case Severity::kError: return "error";
    case Severity::kWarning: return "warning";
    case Severity::kNote: return "note";
  }
  return "note";
}

bool parse_severity(std::string_view name, Severity* severity) {
  for (Severity s : {Severity::kError, Severity::kWarning, Severity::kNote}) {
    if (name == severity_name(s)) {
      *severity = s;
      return true;
    }
  }
  return false;
}

int severity_rank(Severity severity) {
  switch (severity) {
    case Severity::kError: return 3;
    case Severity::kWarning: return 2;
    case Severity::kNote: return 1;
  }
  return 1;
}

const std::vector<std::string>& review_categories() {
  static const std::vector<std::string> kNames = [] {
    std::vector<std::string> names;
    for (const auto& [name, _] : category_table()) names.push_back(name);
    return names;
  }();
  return kNames;
}

std::string category_description(std::string_view category) {
  for (const auto& [name, text] : category_table()) {
    if (name == category) return text;
  }
  return "Anything else.";
}

// ---- parsing -----------------------------------------------------------------------------------

FindingScope scope_of(const std::string& file, const ReviewHunk& hunk) {
  FindingScope s;
  s.file = file;
  int first = 0, last = 0, first_added = 0;
  for (const ReviewLine& l : hunk.lines) {
    if (l.new_line <= 0) continue;
    if (first == 0) first = l.new_line;
    last = std::max(last, l.new_line);
    if (l.origin == '+' && first_added == 0) first_added = l.new_line;
  }
  if (first == 0) {  // only removed lines: findings point at the line where they were
    first = last = std::max(1, hunk.new_start);
  }
  s.first_line = first;
  s.last_line = last;
  s.first_changed_line = first_added > 0 ? first_added : first;
  return s;
}

ParsedFindings parse_findings(std::string_view answer, const FindingScope& scope) {
  ParsedFindings out;
  const std::string text = strip_reasoning(answer);
  const std::string where = scope.file + ":" + std::to_string(scope.first_line) + "-" + std::to_string(scope.last_line);
  Scan scan = extract_json(text);
  if (scan.values.empty()) {
    out.notes.push_back(where + ": the model's answer holds no JSON findings" +
                        (trim(text).empty() ? std::string(" (empty)") : " ('" + short_text(text) + "')"));
    return out;
  }
  out.found_json = true;
  if (scan.truncated) out.notes.push_back(where + ": the model's answer was cut off; complete findings kept");
  std::vector<const json*> candidates;
  int n_not_objects = 0;
  for (const json& v : scan.values) collect_candidates(v, 0, candidates, &n_not_objects);
  if (n_not_objects > 0) {
    out.notes.push_back(where + ": " + std::to_string(n_not_objects) + " entries of the answer are not objects (dropped)");
  }
  for (const json* c : candidates) {
    if (static_cast<int>(out.findings.size()) >= scope.max_findings) {
      out.notes.push_back(where + ": more than " + std::to_string(scope.max_findings) +
                          " findings; the rest were dropped");
      break;
    }
    if (auto f = validate(*c, scope, out.notes)) out.findings.push_back(std::move(*f));
  }
  return out;
}

bool similar_messages(std::string_view a, std::string_view b) {
  const std::vector<std::string> wa = words_of(a);
  const std::vector<std::string> wb = words_of(b);
  if (wa == wb) return true;
  const std::set<std::string> sa(wa.begin(), wa.end());
  const std::set<std::string> sb(wb.begin(), wb.end());
  if (sa.empty() || sb.empty()) return false;
  size_t common = 0;
  for (const std::string& w : sa) common += sb.count(w);
  const size_t all = sa.size() + sb.size() - common;
  return common * 4 >= all * 3;  // Jaccard >= 0.75
}

void deduplicate(std::vector<Finding>& findings, std::vector<std::string>* notes) {
  std::vector<Finding> kept;
  kept.reserve(findings.size());
  for (Finding& f : findings) {
    auto same = std::find_if(kept.begin(), kept.end(), [&](const Finding& k) {
      return k.file == f.file && k.line == f.line && k.category == f.category && similar_messages(k.message, f.message);
    });
    if (same == kept.end()) {
      kept.push_back(std::move(f));
      continue;
    }
    if (severity_rank(f.severity) > severity_rank(same->severity)) same->severity = f.severity;
    if (f.suggestion.size() > same->suggestion.size()) same->suggestion = std::move(f.suggestion);
    same->end_line = std::max(same->end_line, f.end_line);
    if (notes) notes->push_back(f.file + ":" + std::to_string(f.line) + ": a duplicate finding merged ('" +
                                short_text(f.message) + "')");
  }
  findings = std::move(kept);
}

void sort_findings(std::vector<Finding>& findings) {
  std::stable_sort(findings.begin(), findings.end(), [](const Finding& a, const Finding& b) {
    if (a.file != b.file) return a.file < b.file;
    if (a.line != b.line) return a.line < b.line;
    if (a.severity != b.severity) return severity_rank(a.severity) > severity_rank(b.severity);
    return a.category < b.category;
  });
}

// ---- prompts ---------------------------------------------------------------------------------

std::vector<ChatMessage> review_messages(const ReviewFile& file, const ReviewHunk& hunk,
                                         const ReviewPromptParts& parts, const ReviewOptions& options) {
  const std::string grammar = grammar_for(file.language_id, file.path);
  const std::string lang = grammar.empty() ? std::string("text") : language_display_name(grammar);
  std::string system =
      "You are a meticulous code reviewer. You see one change (a diff hunk) of a " + lang +
      " file. Each line shows its line number in the new file, then '+' for an added line, '-' for a removed line "
      "(no number) or a space for unchanged context. Report only real problems in the changed code: bugs, security "
      "issues, crashes, wrong error handling, resource leaks, performance traps. Do not invent problems.\n"
      "Answer with a JSON array and nothing else. Each element: {\"line\": <new-file line>, \"end_line\": <new-file "
      "line>, \"severity\": \"error\" | \"warning\" | \"note\", \"category\": one of " +
      categories_list() +
      ", \"message\": \"<what is wrong and why>\", \"suggestion\": \"<the corrected code or what to do>\"}.\n"
      "Answer [] when the change has no problem.";

  std::string user = "File: " + file.path + " (" + lang + ")\n\n";
  for (const std::string& d : parts.definitions) user += "Definition the change is in (" + d + "\n";
  if (!parts.callers.empty()) {
    user += "Callers of the changed definitions:\n";
    for (const CallerSnippet& c : parts.callers) {
      user += "- " + c.file + ":" + std::to_string(c.line) + " calls " + c.symbol + ":\n```\n" + trim(c.text) + "\n```\n";
    }
    user += "\n";
  }
  // "@@ -3,7 +3,8 @@ def area(r):" -> "@@ -3,7 +3,8 @@"
  const size_t header_end = hunk.header.find("@@", 2);
  const std::string range = header_end == std::string::npos ? hunk.header : hunk.header.substr(0, header_end + 2);
  user += "The change" + (range.empty() ? std::string() : " (" + range + ")") + ":\n```diff\n";
  int n = 0;
  for (const ReviewLine& l : hunk.lines) {
    if (n++ == options.max_hunk_lines) {
      user += fmt::format("      ... ({} more lines not shown)\n", hunk.lines.size() - static_cast<size_t>(options.max_hunk_lines));
      break;
    }
    const std::string num = l.origin == '-' || l.new_line <= 0 ? std::string(5, ' ') : fmt::format("{:>5}", l.new_line);
    user += num + " " + std::string(1, l.origin) + " " + l.text + "\n";
  }
  user += "```\n\nList the problems of this change as a JSON array (or [] if there are none).";
  return {{"system", std::move(system)}, {"user", std::move(user)}};
}

// ---- the reviewer ------------------------------------------------------------------------------

Reviewer::Reviewer(Generator& generator, CallerLookup callers) : generator_(generator), callers_(std::move(callers)) {}

std::vector<Reviewer::ChangedDefinition> Reviewer::changed_definitions(const ReviewFile& file, const ReviewHunk& hunk) {
  std::vector<ChangedDefinition> out;
  if (!file.new_text) return out;
  const std::string grammar = grammar_for(file.language_id, file.path);
  if (grammar.empty()) return out;
  const std::string_view text = *file.new_text;
  const std::vector<size_t> starts = line_starts(text);
  // The new lines the change touches: added lines, or where lines were removed.
  std::vector<int> lines;
  for (const ReviewLine& l : hunk.lines) {
    if (l.origin == '+' && l.new_line > 0) lines.push_back(l.new_line);
  }
  if (lines.empty()) {
    for (size_t i = 0; i < hunk.lines.size(); ++i) {
      if (hunk.lines[i].origin != '-') continue;
      // The context line before the removal (or after it, at the top of the file).
      int at = 0;
      for (size_t k = i; k-- > 0;) {
        if (hunk.lines[k].new_line > 0) {
          at = hunk.lines[k].new_line;
          break;
        }
      }
      for (size_t k = i; at == 0 && k < hunk.lines.size(); ++k) at = hunk.lines[k].new_line;
      if (at > 0) lines.push_back(at);
    }
  }
  std::vector<ByteSpan> seen;
  int n_lookups = 0;
  for (int line : lines) {
    if (line < 1 || static_cast<size_t>(line) > starts.size() || n_lookups >= 24) continue;
    const size_t start = starts[static_cast<size_t>(line) - 1];
    if (std::any_of(seen.begin(), seen.end(), [&](const ByteSpan& s) { return s.start <= start && start < s.end; })) {
      continue;
    }
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    // The code of the line, not its indentation.
    size_t code = start;
    while (code < end && (text[code] == ' ' || text[code] == '\t')) ++code;
    if (code == end) continue;  // a blank line
    ++n_lookups;
    auto def = enclosing_definition(grammar, text, code, end);
    if (!def) continue;
    seen.push_back(def->span);
    ChangedDefinition d;
    d.name = def->name;
    d.kind = def->kind;
    d.first_line = line_at(starts, def->span.start);
    d.last_line = line_at(starts, def->span.end > def->span.start ? def->span.end - 1 : def->span.start);
    d.text = std::string(text.substr(def->span.start, def->span.end - def->span.start));
    out.push_back(std::move(d));
  }
  return out;
}

Result<HunkReview> Reviewer::review_hunk(const ReviewFile& file, size_t index, const ReviewOptions& options,
                                         const CancelToken& cancel) {
  if (index >= file.hunks.size()) {
    return make_error(ErrorCode::kOutOfRange, fmt::format("hunk {} of '{}' does not exist ({} hunks)", index, file.path,
                                                          file.hunks.size()));
  }
  const ReviewHunk& hunk = file.hunks[index];
  FindingScope scope = scope_of(file.path, hunk);
  scope.english_context = !file.new_text || !has_cjk(*file.new_text);

  // Context: the changed definitions and their callers.
  ReviewPromptParts parts;
  const std::vector<ChangedDefinition> defs = changed_definitions(file, hunk);
  for (const ChangedDefinition& d : defs) {
    const int n_lines = d.last_line - d.first_line + 1;
    const int shown = n_lines > options.max_definition_lines ? 12 : n_lines;
    parts.definitions.push_back(fmt::format("lines {}-{}: {} '{}'):\n```\n{}```\n", d.first_line, d.last_line, d.kind,
                                            d.name, numbered(d.text, d.first_line, shown)));
  }
  if (callers_) {
    for (const ChangedDefinition& d : defs) {
      if (d.name.empty() || static_cast<int>(parts.callers.size()) >= options.max_callers) continue;
      for (CallerSnippet& c : callers_(file.path, d.name, options.max_callers - static_cast<int>(parts.callers.size()))) {
        // A call inside the changed definition itself is already in the prompt.
        if (c.file == file.path && c.line >= d.first_line && c.line <= d.last_line) continue;
        parts.callers.push_back(std::move(c));
      }
    }
  }

  // Keep the prompt within the context window: callers go first, then definitions, then the
  // hunk is cut.
  ReviewOptions opts = options;
  const int budget = std::max(256, generator_.n_ctx() - options.max_tokens - 64);
  HunkReview result;
  std::vector<ChatMessage> messages;
  for (;;) {
    messages = review_messages(file, hunk, parts, opts);
    int n_tokens = 0;
    for (const ChatMessage& m : messages) n_tokens += generator_.count_tokens(m.content) + 8;
    if (n_tokens <= budget) break;
    if (!parts.callers.empty()) {
      parts.callers.pop_back();
    } else if (!parts.definitions.empty()) {
      parts.definitions.pop_back();
    } else if (opts.max_hunk_lines > 20) {
      opts.max_hunk_lines /= 2;
    } else {
      break;  // as small as it gets: the generator reports a prompt that is too long
    }
  }
  if (opts.max_hunk_lines < static_cast<int>(hunk.lines.size())) {
    result.notes.push_back(fmt::format("{}:{}-{}: only the first {} of the hunk's {} lines were reviewed", file.path,
                                       scope.first_line, scope.last_line, opts.max_hunk_lines, hunk.lines.size()));
  }

  AskOptions ask_options;
  ask_options.generation.max_tokens = options.max_tokens;
  ask_options.generation.temperature = options.temperature;
  for (int attempt = 0; attempt < 2; ++attempt) {
    ++result.n_attempts;
    MOE_TRY(Answer answer, ask(generator_, messages, ask_options, cancel));
    result.generation = answer.generation;
    if (!answer.reasoning.empty()) result.reasoning += (result.reasoning.empty() ? "" : "\n") + answer.reasoning;
    if (answer.looped) {
      result.looped = true;
      result.notes.push_back(fmt::format("{}:{}-{}: the model repeated itself ({}); its answer was dropped", file.path,
                                         scope.first_line, scope.last_line, answer.loop));
      return result;
    }
    ParsedFindings parsed = parse_findings(answer.text, scope);
    result.notes.insert(result.notes.end(), parsed.notes.begin(), parsed.notes.end());
    if (parsed.found_json || !options.retry_without_json || attempt == 1) {
      result.findings = std::move(parsed.findings);
      break;
    }
    messages.push_back({"assistant", answer.text});
    messages.push_back({"user", "Answer with the JSON array only, no other text (or [] if there is no problem)."});
  }
  deduplicate(result.findings, &result.notes);
  return result;
}

}  // namespace moecode::assist
