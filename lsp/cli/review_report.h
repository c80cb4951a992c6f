// The outputs of `moecode review`: plain or coloured text, JSON in a fixed schema, SARIF 2.1.0
// and GitHub workflow commands (annotations). Pure functions of a ReviewReport whose findings
// are already validated (assist/review.h); each renderer escapes what its format needs.
// Thread-safe (no state).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsp/assist/review.h"

namespace moecode::cli {

struct ReviewedFile {
  std::string path;
  char status = 'M';
  int n_hunks = 0;
};

struct SkippedPath {
  std::string path;
  std::string reason;
};

struct ReviewReport {
  std::vector<assist::Finding> findings;  // sorted (assist::sort_findings)
  std::vector<std::string> notes;
  std::string mode;         // "uncommitted", "staged", "last-commit", "base"
  std::string description;  // what was compared, in words
  std::string base_commit;  // "" when none
  std::string root;         // the work tree (absolute)
  std::string model;        // the generator's description
  std::vector<ReviewedFile> files;
  std::vector<SkippedPath> skipped;
  int n_hunks = 0;
  int n_hunks_reviewed = 0;
  double seconds = 0;
};

// "path:line[-end]: severity [category] message" lines, each suggestion indented below,
// then the notes and a summary line. ANSI colours when `color`.
std::string render_text(const ReviewReport& report, bool color);

// {"findings":[{"file","line","end_line","severity","category","message","suggestion"}],
//  "notes":[...], "reviewed":{"mode","description","base","root","model","files":[{"path",
//  "status","hunks"}],"skipped":[{"path","reason"}],"hunks","hunks_reviewed","seconds"}}
nlohmann::json report_json(const ReviewReport& report);

// A SARIF 2.1.0 log: one run, a rule per category, a result per finding (paths relative to
// the %SRCROOT% base), the notes as tool execution notifications.
nlohmann::json report_sarif(const ReviewReport& report);

// One `::error|warning|notice file=...,line=...,endLine=...,title=...::message` per finding.
std::string render_github(const ReviewReport& report);

// GitHub workflow-command escaping: a message ("%", "\r", "\n") and a property value (those,
// and ":" and ",").
std::string github_escape_data(std::string_view s);
std::string github_escape_property(std::string_view s);

// A relative path as a URI reference (RFC 3986: unreserved characters and '/' kept, every
// other byte percent-encoded).
std::string uri_encode_path(std::string_view path);

// Whether a report has a finding at or above `threshold`.
bool has_finding_at_least(const ReviewReport& report, assist::Severity threshold);

}  // namespace moecode::cli
