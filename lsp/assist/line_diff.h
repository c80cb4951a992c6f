// Minimal line edits between two texts (longest common subsequence of lines), so that a fix
// touches only the lines it changes. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace moecode::assist {

// Replace the bytes [start, end) of the original text with new_text.
struct TextEdit {
  size_t start = 0;
  size_t end = 0;
  std::string new_text;
  friend bool operator==(const TextEdit&, const TextEdit&) = default;
};

// The edits, in order and non-overlapping, that turn `before` into `after`; offsets are into
// `before`, plus `base` (where `before` starts in a larger text). Lines keep their endings.
// Past kMaxDiffLines lines on either side, the common first and last lines are kept and the
// rest is one edit.
inline constexpr size_t kMaxDiffLines = 2000;
std::vector<TextEdit> diff_lines(std::string_view before, std::string_view after, size_t base = 0);

// Applies edits (sorted, non-overlapping) to `text`.
std::string apply_edits(std::string_view text, const std::vector<TextEdit>& edits);

// `git diff`-style unified diff of two versions of `path` ("" when they are equal).
std::string unified_diff(std::string_view path, std::string_view before, std::string_view after, int context = 3);

}  // namespace moecode::assist
