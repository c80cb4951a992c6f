// Natural ends of a completion (see stop_rules.h).
#include "lsp/assist/stop_rules.h"

#include <algorithm>

namespace moecode::assist {

namespace {

bool is_blank(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

std::string_view trim(std::string_view s) {
  auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.front())) s.remove_prefix(1);
  while (!s.empty() && ws(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace

size_t indent_width(std::string_view line) {
  size_t w = 0;
  for (char c : line) {
    if (c == ' ') {
      ++w;
    } else if (c == '\t') {
      w += 4;
    } else {
      break;
    }
  }
  return w;
}

StopRules stop_rules_at(std::string_view text, size_t cursor, int max_lines) {
  cursor = std::min(cursor, text.size());
  StopRules r;
  r.max_lines = max_lines;
  const size_t nl_before = cursor == 0 ? std::string_view::npos : text.rfind('\n', cursor - 1);
  const size_t line_start = nl_before == std::string_view::npos ? 0 : nl_before + 1;
  size_t line_end = text.find('\n', cursor);
  if (line_end == std::string_view::npos) line_end = text.size();
  r.line_prefix = std::string(text.substr(line_start, cursor - line_start));
  std::string_view suffix = text.substr(cursor, line_end - cursor);
  if (!suffix.empty() && suffix.back() == '\r') suffix.remove_suffix(1);
  r.line_suffix = std::string(suffix);
  size_t i = line_end;
  while (i < text.size()) {
    const size_t start = i + 1;
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    if (start <= end) {
      const std::string_view line = text.substr(start, end - start);
      if (!is_blank(line)) {
        r.next_line = std::string(trim(line));
        break;
      }
    }
    i = end;
  }
  return r;
}

CompletionStopper::CompletionStopper(StopRules rules) : rules_(std::move(rules)) {
  base_indent_ = indent_width(rules_.line_prefix);
  single_line_ = !is_blank(rules_.line_suffix);
  if (rules_.max_lines < 1) rules_.max_lines = 1;
}

bool CompletionStopper::accept_line(const std::string& line, bool complete) {
  const bool first = lines_.empty();
  if (first) {
    lines_.push_back(line);
    has_code_ = !is_blank(line);
    if (single_line_ && complete) done_ = true;
  } else {
    if (is_blank(line)) {
      if (complete) {
        done_ = true;  // a blank line: the end of this piece of code
        return false;
      }
      lines_.push_back(line);
      return true;
    }
    if (indent_width(line) < base_indent_) {
      done_ = true;  // dedent: the end of the cursor's block
      return false;
    }
    if (!rules_.next_line.empty() && trim(line) == rules_.next_line) {
      done_ = true;  // the model is re-typing the code that follows
      return false;
    }
    lines_.push_back(line);
    has_code_ = true;
  }
  if (static_cast<int>(lines_.size()) >= rules_.max_lines && complete) done_ = true;
  return true;
}

bool CompletionStopper::feed(std::string_view piece) {
  if (done_) return false;
  size_t i = 0;
  while (i < piece.size() && !done_) {
    const size_t nl = piece.find('\n', i);
    if (nl == std::string_view::npos) {
      pending_.append(piece.substr(i));
      break;
    }
    pending_.append(piece.substr(i, nl - i));
    std::string line = std::move(pending_);
    pending_.clear();
    if (!line.empty() && line.back() == '\r') line.pop_back();
    accept_line(line, true);
    i = nl + 1;
  }
  return !done_;
}

std::string CompletionStopper::finish() {
  if (!done_ && !pending_.empty()) {
    std::string line = std::move(pending_);
    pending_.clear();
    accept_line(line, false);
  }
  done_ = true;
  std::string out;
  for (size_t i = 0; i < lines_.size(); ++i) {
    if (i > 0) out += '\n';
    out += lines_[i];
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == '\n' || out.back() == '\r')) {
    out.pop_back();
  }
  return out;
}

}  // namespace moecode::assist
