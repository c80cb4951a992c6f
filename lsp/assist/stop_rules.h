// Where an inline completion naturally ends. Fed the generated text piece by piece, the
// stopper says when to stop decoding and what to insert:
//  - the cursor is mid-line (text after it on the line): one line only;
//  - otherwise lines are judged when complete: a blank line after some code ends the
//    completion, as does a line indented less than the cursor's line (the end of the block),
//    a line equal to the next line already in the document (the model re-typing it), and
//    max_lines lines.
// Pure logic, no model; thread-compatible.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace moecode::assist {

struct StopRules {
  int max_lines = 8;
  std::string line_prefix;  // text before the cursor on its line
  std::string line_suffix;  // text after the cursor on its line
  std::string next_line;    // the first non-blank line after the cursor's line, trimmed
};

// Rules for a cursor at byte `cursor` of `text`.
StopRules stop_rules_at(std::string_view text, size_t cursor, int max_lines);

class CompletionStopper {
 public:
  explicit CompletionStopper(StopRules rules);

  // Adds a generated piece; false once the completion is complete (stop generating).
  bool feed(std::string_view piece);
  bool done() const { return done_; }
  // The text to insert at the cursor (call when generation ended). Trailing blank lines and
  // trailing whitespace are trimmed.
  std::string finish();

 private:
  // Judges one complete line; false when it ends the completion (the line is not kept).
  bool accept_line(const std::string& line, bool complete);

  StopRules rules_;
  size_t base_indent_ = 0;  // columns of the cursor line's indentation
  bool single_line_ = false;
  std::string pending_;     // the line in progress
  std::vector<std::string> lines_;
  bool has_code_ = false;   // a kept line had non-blank text
  bool done_ = false;
};

// Width of a line's leading whitespace (a tab counts 4).
size_t indent_width(std::string_view line);

}  // namespace moecode::assist
