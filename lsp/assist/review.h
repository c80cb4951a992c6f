// Review: one chat per diff hunk -> findings in a fixed schema, validated before anyone sees
// them. The prompt holds the hunk with its new-file line numbers, the definitions the change
// touches (tree-sitter, from the new text) and their callers (snippets a CallerLookup gives:
// the CLI's comes from the workspace index). The answer is read tolerantly (fenced or bare
// JSON, one object or an array, JSON lines, a cut-off array, prose around it) and every
// finding is checked:
//   - the model's reasoning (<think>...</think>, even a second or unclosed block) is never
//     read, and a looped answer yields no finding (a note says it looped);
//   - types: line numbers are positive integers, the severity is error|warning|note (common
//     synonyms mapped, anything else reported as a note), the category is one of
//     review_categories() ("other" when unknown), the message is non-empty; texts are cut
//     to a cap and control characters removed;
//   - a finding names only the hunk's file (no other path, no "..", nothing absolute);
//   - lines are mapped to the hunk's new-file lines: a line just outside is clamped (with a
//     note), one far outside is dropped (with a note);
//   - duplicates (same file, line and category, near-identical message) are merged.
// A malformed answer yields zero findings and a note: never a crash or an invalid finding.
// Protocol-free: `moecode review` uses it; an editor command could too.
// Threading: a Reviewer is thread-compatible; the free functions are pure.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lsp/assist/answer.h"
#include "lsp/assist/generator.h"

namespace moecode::assist {

enum class Severity { kError, kWarning, kNote };
const char* severity_name(Severity severity);  // "error", "warning", "note"
// Exact names only ("error", "warning", "note"); false otherwise.
bool parse_severity(std::string_view name, Severity* severity);
// Higher is more severe: error 3, warning 2, note 1.
int severity_rank(Severity severity);

// The categories a finding may have, in a fixed order; the last is "other".
const std::vector<std::string>& review_categories();
// A one-line description of a category (for SARIF rules, the prompt).
std::string category_description(std::string_view category);

struct Finding {
  std::string file;  // relative to the repository's work tree, '/'-separated
  int line = 0;      // 1-based, in the new file
  int end_line = 0;  // >= line
  Severity severity = Severity::kNote;
  std::string category;  // one of review_categories()
  std::string message;   // non-empty
  std::string suggestion;  // "" when none
};

struct ReviewLine {
  char origin = ' ';  // ' ', '+', '-'
  int old_line = 0;   // 0 for an added line
  int new_line = 0;   // 0 for a removed line
  std::string text;
};

struct ReviewHunk {
  int new_start = 0;  // as git says: for a pure removal, the new line before it
  int new_lines = 0;
  std::string header;  // "@@ -3,7 +3,8 @@ ..."
  std::vector<ReviewLine> lines;
};

struct ReviewFile {
  std::string path;  // relative to the work tree
  std::string language_id;  // a grammar name or LSP language id ("" to guess from the path)
  std::shared_ptr<const std::string> new_text;  // the whole new file
  std::vector<ReviewHunk> hunks;
};

// A place that calls a changed definition (for the prompt; never a finding's location).
struct CallerSnippet {
  std::string symbol;  // the changed definition's name
  std::string file;
  int line = 0;        // 1-based line of the call
  std::string text;    // a few lines around the call (secrets already redacted)
};

// The callers of `symbol` (defined in `file`), at most `max` of them. May be empty.
using CallerLookup = std::function<std::vector<CallerSnippet>(const std::string& file, const std::string& symbol,
                                                              int max)>;

// Where a hunk's findings may point.
struct FindingScope {
  std::string file;
  int first_line = 1;  // the hunk's new lines, inclusive
  int last_line = 1;
  int first_changed_line = 1;  // the first added line (a finding without a line goes here)
  int clamp_distance = 3;      // a line up to this far outside is clamped, further is dropped
  bool english_context = true; // CJK text in a suggestion is dropped (the mixed-language guard)
  int max_findings = 20;
};

// The scope of a hunk of `file`.
FindingScope scope_of(const std::string& file, const ReviewHunk& hunk);

struct ParsedFindings {
  std::vector<Finding> findings;    // all valid
  std::vector<std::string> notes;   // what was dropped, clamped or could not be read
  bool found_json = false;          // the answer held JSON (an empty array counts)
};

// Reads a model's answer (reasoning blocks are removed first). Never fails.
ParsedFindings parse_findings(std::string_view answer, const FindingScope& scope);

// Merges duplicates in place (same file, line and category, near-identical message; the
// more severe and the longer suggestion are kept), in a stable order. Notes say what merged.
void deduplicate(std::vector<Finding>& findings, std::vector<std::string>* notes);

// True when two messages say nearly the same (case, punctuation and word order aside).
bool similar_messages(std::string_view a, std::string_view b);

// Sorts by file, line, severity (most severe first), category.
void sort_findings(std::vector<Finding>& findings);

struct ReviewOptions {
  int max_tokens = 512;     // per answer
  float temperature = 0.0f;
  int max_callers = 6;      // caller snippets per hunk
  int max_hunk_lines = 200; // longer hunks are cut (with a note)
  int max_definition_lines = 120;  // longer definitions show only their first lines
  bool retry_without_json = true;  // ask once more when the answer holds no JSON
};

struct HunkReview {
  std::vector<Finding> findings;  // validated, deduplicated within the hunk
  std::vector<std::string> notes;
  std::string reasoning;  // the model's <think> text, if any (never in a finding)
  bool looped = false;
  int n_attempts = 0;
  Generation generation;  // of the last attempt
};

// The chat that asks for a hunk's review (exposed for tests and --show-prompt).
struct ReviewPromptParts {
  std::vector<std::string> definitions;  // "lines 3-9: function 'area'\n<numbered code>"
  std::vector<CallerSnippet> callers;
};
std::vector<ChatMessage> review_messages(const ReviewFile& file, const ReviewHunk& hunk,
                                         const ReviewPromptParts& parts, const ReviewOptions& options);

class Reviewer {
 public:
  // `callers` may be empty (no caller context). The generator must outlive the Reviewer.
  Reviewer(Generator& generator, CallerLookup callers);

  // Reviews hunk `index` of `file`. Errors: a bad index, the generator's (cancellation gives
  // ErrorCode::kCancelled). A bad answer is not an error: zero findings and a note.
  Result<HunkReview> review_hunk(const ReviewFile& file, size_t index, const ReviewOptions& options,
                                 const CancelToken& cancel);

  // The definitions of `file`'s new text that hunk `index` changes, named and with their
  // lines (for the prompt and the caller lookup).
  struct ChangedDefinition {
    std::string name;
    std::string kind;
    int first_line = 0;
    int last_line = 0;
    std::string text;  // the definition's source
  };
  static std::vector<ChangedDefinition> changed_definitions(const ReviewFile& file, const ReviewHunk& hunk);

 private:
  Generator& generator_;
  CallerLookup callers_;
};

}  // namespace moecode::assist
