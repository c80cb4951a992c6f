// Line diff by longest common subsequence (see line_diff.h).
#include "lsp/assist/line_diff.h"

#include <algorithm>
#include <cstdint>

namespace moecode::assist {

namespace {

// Lines with their endings; the last one may have none.
std::vector<std::string_view> split_lines(std::string_view s) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < s.size()) {
    size_t e = s.find('\n', pos);
    e = e == std::string_view::npos ? s.size() : e + 1;
    out.push_back(s.substr(pos, e - pos));
    pos = e;
  }
  return out;
}

}  // namespace

std::vector<TextEdit> diff_lines(std::string_view before, std::string_view after, size_t base) {
  const std::vector<std::string_view> a = split_lines(before);
  const std::vector<std::string_view> b = split_lines(after);
  // Common head and tail first: most fixes change a few lines in the middle.
  size_t head = 0;
  while (head < a.size() && head < b.size() && a[head] == b[head]) ++head;
  size_t tail = 0;
  while (tail < a.size() - head && tail < b.size() - head && a[a.size() - 1 - tail] == b[b.size() - 1 - tail]) ++tail;
  const size_t n = a.size() - head - tail;
  const size_t m = b.size() - head - tail;

  // match[i] = the line of b that line head+i of a is kept as (or -1).
  std::vector<int64_t> match(n, -1);
  if (n > 0 && m > 0 && n <= kMaxDiffLines && m <= kMaxDiffLines) {
    // lcs[i][j]: LCS length of a[head+i..] and b[head+j..].
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    auto at = [&](size_t i, size_t j) -> uint32_t& { return lcs[i * (m + 1) + j]; };
    for (size_t i = n; i-- > 0;) {
      for (size_t j = m; j-- > 0;) {
        at(i, j) = a[head + i] == b[head + j] ? at(i + 1, j + 1) + 1 : std::max(at(i + 1, j), at(i, j + 1));
      }
    }
    for (size_t i = 0, j = 0; i < n && j < m;) {
      if (a[head + i] == b[head + j]) {
        match[i++] = static_cast<int64_t>(j++);
      } else if (at(i + 1, j) >= at(i, j + 1)) {
        ++i;
      } else {
        ++j;
      }
    }
  }

  // Offsets of a's lines in `before`.
  std::vector<size_t> offset(a.size() + 1, 0);
  for (size_t i = 0; i < a.size(); ++i) offset[i + 1] = offset[i] + a[i].size();

  std::vector<TextEdit> edits;
  size_t i = 0;  // into the middle of a
  size_t j = 0;  // into the middle of b
  while (i < n || j < m) {
    if (i < n && match[i] >= 0 && static_cast<size_t>(match[i]) == j) {
      ++i;
      ++j;
      continue;
    }
    // A hunk: a's lines until the next kept one, b's lines until its partner.
    size_t i_end = i;
    while (i_end < n && match[i_end] < 0) ++i_end;
    const size_t j_end = i_end < n ? static_cast<size_t>(match[i_end]) : m;
    TextEdit e;
    e.start = base + offset[head + i];
    e.end = base + offset[head + i_end];
    for (size_t k = j; k < j_end; ++k) e.new_text.append(b[head + k]);
    edits.push_back(std::move(e));
    i = i_end;
    j = j_end;
  }
  return edits;
}

std::string apply_edits(std::string_view text, const std::vector<TextEdit>& edits) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  for (const TextEdit& e : edits) {
    out.append(text.substr(pos, e.start - pos));
    out.append(e.new_text);
    pos = e.end;
  }
  out.append(text.substr(pos));
  return out;
}

std::string unified_diff(std::string_view path, std::string_view before, std::string_view after, int context) {
  const std::vector<std::string_view> a = split_lines(before);
  std::vector<size_t> offset(a.size() + 1, 0);
  for (size_t i = 0; i < a.size(); ++i) offset[i + 1] = offset[i] + a[i].size();
  const auto line_at = [&](size_t byte) {  // the line that starts at `byte` (edits start at lines)
    return static_cast<size_t>(std::lower_bound(offset.begin(), offset.end(), byte) - offset.begin());
  };
  struct Change {
    size_t a0, a1;  // a's lines [a0, a1) replaced
    std::vector<std::string_view> lines;
  };
  std::vector<Change> changes;
  const std::vector<TextEdit> edits = diff_lines(before, after);  // the changes' lines view into it
  for (const TextEdit& e : edits) {
    Change c{line_at(e.start), line_at(e.end), split_lines(e.new_text)};
    changes.push_back(std::move(c));
  }
  if (changes.empty()) return "";
  const auto ctx = static_cast<size_t>(std::max(0, context));
  std::string out = "--- a/" + std::string(path) + "\n+++ b/" + std::string(path) + "\n";
  const auto emit = [&out](char mark, std::string_view line) {
    out += mark;
    out.append(line);
    if (line.empty() || line.back() != '\n') out += "\n\\ No newline at end of file\n";
  };
  size_t i = 0;
  int64_t shift = 0;  // b's line number minus a's, before the current hunk
  while (i < changes.size()) {
    // A hunk: changes whose context windows touch.
    size_t j = i;
    while (j + 1 < changes.size() && changes[j + 1].a0 <= changes[j].a1 + 2 * ctx) ++j;
    const size_t h0 = changes[i].a0 > ctx ? changes[i].a0 - ctx : 0;
    const size_t h1 = std::min(a.size(), changes[j].a1 + ctx);
    size_t n_new = 0;
    std::string body;
    std::swap(out, body);
    size_t line = h0;
    int64_t hunk_shift = shift;
    for (size_t k = i; k <= j; ++k) {
      for (; line < changes[k].a0; ++line, ++n_new) emit(' ', a[line]);
      for (; line < changes[k].a1; ++line) emit('-', a[line]);
      for (std::string_view l : changes[k].lines) {
        emit('+', l);
        ++n_new;
      }
      shift += static_cast<int64_t>(changes[k].lines.size()) - static_cast<int64_t>(changes[k].a1 - changes[k].a0);
    }
    for (; line < h1; ++line, ++n_new) emit(' ', a[line]);
    std::swap(out, body);
    const size_t n_old = h1 - h0;
    const auto start = [](size_t first, size_t count) { return count == 0 ? first : first + 1; };
    out += "@@ -" + std::to_string(start(h0, n_old)) + "," + std::to_string(n_old) + " +" +
           std::to_string(start(static_cast<size_t>(static_cast<int64_t>(h0) + hunk_shift), n_new)) + "," +
           std::to_string(n_new) + " @@\n" + body;
    i = j + 1;
  }
  return out;
}

}  // namespace moecode::assist
