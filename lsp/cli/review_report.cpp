// Renderers of `moecode review`'s report (see review_report.h).
#include "lsp/cli/review_report.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "moecode/engine/version.h"

namespace moecode::cli {

namespace {

using nlohmann::json;

constexpr const char* kSarifSchema =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
constexpr const char* kInformationUri = "https://github.com/moecode/moecode";
constexpr const char* kSrcRoot = "SRCROOT";

std::string lines_of(const assist::Finding& f) {
  return f.end_line > f.line ? fmt::format("{}-{}", f.line, f.end_line) : std::to_string(f.line);
}

// "error-handling" -> "ErrorHandling" (a SARIF rule's name).
std::string pascal_case(std::string_view s) {
  std::string out;
  bool up = true;
  for (char c : s) {
    if (c == '-' || c == '_' || c == ' ') {
      up = true;
      continue;
    }
    out += up ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    up = false;
  }
  return out;
}

// The work tree as a file URI with a trailing '/'.
std::string root_uri(const std::string& root) {
  std::string path = root;
  if (path.empty() || path.back() != '/') path += '/';
  return "file://" + uri_encode_path(path);
}

}  // namespace

std::string github_escape_data(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '%': out += "%25"; break;
      case '\r': out += "%0D"; break;
      case '\n': out += "%0A"; break;
      default: out += c;
    }
  }
  return out;
}

std::string github_escape_property(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '%': out += "%25"; break;
      case '\r': out += "%0D"; break;
      case '\n': out += "%0A"; break;
      case ':': out += "%3A"; break;
      case ',': out += "%2C"; break;
      default: out += c;
    }
  }
  return out;
}

std::string uri_encode_path(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : path) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

bool has_finding_at_least(const ReviewReport& report, assist::Severity threshold) {
  for (const assist::Finding& f : report.findings) {
    if (assist::severity_rank(f.severity) >= assist::severity_rank(threshold)) return true;
  }
  return false;
}

std::string render_text(const ReviewReport& r, bool color) {
  auto paint = [color](std::string_view code, const std::string& s) {
    return color ? fmt::format("\033[{}m{}\033[0m", code, s) : s;
  };
  std::string out;
  int n_by[4] = {0, 0, 0, 0};
  for (const assist::Finding& f : r.findings) {
    ++n_by[assist::severity_rank(f.severity)];
    const std::string sev = assist::severity_name(f.severity);
    const std::string_view sev_color = f.severity == assist::Severity::kError     ? "1;31"
                                       : f.severity == assist::Severity::kWarning ? "1;33"
                                                                                  : "1;36";
    out += paint("1", f.file + ":" + lines_of(f) + ":") + " " + paint(sev_color, sev) + " " +
           paint("2", "[" + f.category + "]") + " " + f.message + "\n";
    if (!f.suggestion.empty()) {
      std::string indented;
      size_t pos = 0;
      while (pos <= f.suggestion.size()) {
        size_t e = f.suggestion.find('\n', pos);
        if (e == std::string::npos) e = f.suggestion.size();
        indented += "      " + f.suggestion.substr(pos, e - pos) + "\n";
        pos = e + 1;
      }
      out += "    " + paint("32", "suggestion:") + "\n" + indented;
    }
  }
  for (const std::string& n : r.notes) out += paint("2", "note: " + n) + "\n";
  out += fmt::format("{} {} ({} {}, {} {}, {} {}) in {} {}, {} {} reviewed ({})\n", r.findings.size(),
                     r.findings.size() == 1 ? "finding" : "findings", n_by[3], n_by[3] == 1 ? "error" : "errors",
                     n_by[2], n_by[2] == 1 ? "warning" : "warnings", n_by[1], n_by[1] == 1 ? "note" : "notes",
                     r.files.size(), r.files.size() == 1 ? "file" : "files", r.n_hunks_reviewed,
                     r.n_hunks_reviewed == 1 ? "hunk" : "hunks", r.description);
  return out;
}

json report_json(const ReviewReport& r) {
  json findings = json::array();
  for (const assist::Finding& f : r.findings) {
    findings.push_back({{"file", f.file},
                        {"line", f.line},
                        {"end_line", f.end_line},
                        {"severity", assist::severity_name(f.severity)},
                        {"category", f.category},
                        {"message", f.message},
                        {"suggestion", f.suggestion}});
  }
  json files = json::array();
  for (const ReviewedFile& f : r.files) {
    files.push_back({{"path", f.path}, {"status", std::string(1, f.status)}, {"hunks", f.n_hunks}});
  }
  json skipped = json::array();
  for (const SkippedPath& s : r.skipped) skipped.push_back({{"path", s.path}, {"reason", s.reason}});
  return {{"findings", findings},
          {"notes", r.notes},
          {"reviewed",
           {{"mode", r.mode},
            {"description", r.description},
            {"base", r.base_commit},
            {"root", r.root},
            {"model", r.model},
            {"files", files},
            {"skipped", skipped},
            {"hunks", r.n_hunks},
            {"hunks_reviewed", r.n_hunks_reviewed},
            {"seconds", r.seconds}}}};
}

json report_sarif(const ReviewReport& r) {
  const std::vector<std::string>& categories = assist::review_categories();
  json rules = json::array();
  for (const std::string& c : categories) {
    rules.push_back({{"id", c},
                     {"name", pascal_case(c)},
                     {"shortDescription", {{"text", assist::category_description(c)}}},
                     {"defaultConfiguration", {{"level", "warning"}}}});
  }
  json results = json::array();
  for (const assist::Finding& f : r.findings) {
    size_t rule_index = categories.size() - 1;  // "other"
    for (size_t i = 0; i < categories.size(); ++i) {
      if (categories[i] == f.category) rule_index = i;
    }
    json result = {
        {"ruleId", categories[rule_index]},
        {"ruleIndex", rule_index},
        {"level", assist::severity_name(f.severity)},
        {"message", {{"text", f.message}}},
        {"locations",
         json::array({{{"physicalLocation",
                        {{"artifactLocation", {{"uri", uri_encode_path(f.file)}, {"uriBaseId", kSrcRoot}}},
                         {"region", {{"startLine", f.line}, {"endLine", std::max(f.line, f.end_line)}}}}}}})}};
    if (!f.suggestion.empty()) result["properties"] = {{"suggestion", f.suggestion}};
    results.push_back(std::move(result));
  }
  json notifications = json::array();
  for (const std::string& n : r.notes) notifications.push_back({{"level", "note"}, {"message", {{"text", n}}}});
  json run = {{"tool",
               {{"driver",
                 {{"name", "moecode"},
                  {"version", engine::version()},
                  {"informationUri", kInformationUri},
                  {"rules", rules}}}}},
              {"invocations", json::array({{{"executionSuccessful", true},
                                            {"toolExecutionNotifications", notifications}}})},
              {"results", results}};
  if (!r.root.empty()) run["originalUriBaseIds"] = {{kSrcRoot, {{"uri", root_uri(r.root)}}}};
  if (!r.base_commit.empty()) {
    run["properties"] = {{"mode", r.mode}, {"base", r.base_commit}, {"description", r.description}};
  } else {
    run["properties"] = {{"mode", r.mode}, {"description", r.description}};
  }
  return {{"$schema", kSarifSchema}, {"version", "2.1.0"}, {"runs", json::array({run})}};
}

std::string render_github(const ReviewReport& r) {
  std::string out;
  for (const assist::Finding& f : r.findings) {
    const char* command = f.severity == assist::Severity::kError     ? "error"
                          : f.severity == assist::Severity::kWarning ? "warning"
                                                                     : "notice";
    std::string message = f.message;
    if (!f.suggestion.empty()) message += "\nSuggestion:\n" + f.suggestion;
    out += fmt::format("::{} file={},line={},endLine={},title={}::{}\n", command, github_escape_property(f.file), f.line,
                       std::max(f.line, f.end_line), github_escape_property("moecode " + f.category),
                       github_escape_data(message));
  }
  return out;
}

}  // namespace moecode::cli
