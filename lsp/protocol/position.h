// LSP positions (line, character in the negotiated encoding) <-> byte offsets in UTF-8 text.
// Lines end at "\n", "\r\n" or a lone "\r" (as the LSP spec says). No JSON here: the document
// store and the server both use these. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "moecode/engine/result.h"

namespace moecode::protocol {

// How `Position::character` counts: UTF-16 code units (the LSP default), bytes, or code points.
enum class PositionEncoding { kUtf16, kUtf8, kUtf32 };

// "utf-16", "utf-8", "utf-32": the spelling of PositionEncodingKind.
const char* encoding_name(PositionEncoding encoding);
std::optional<PositionEncoding> parse_encoding(std::string_view name);

struct Position {
  uint32_t line = 0;
  uint32_t character = 0;
  friend bool operator==(const Position&, const Position&) = default;
};

struct Range {
  Position start;
  Position end;
  friend bool operator==(const Range&, const Range&) = default;
};

// Start offsets of the lines of one text. Built in one pass; valid while the text is unchanged.
class LineIndex {
 public:
  explicit LineIndex(std::string_view text);

  size_t n_lines() const { return starts_.size(); }
  // Byte offset where `line` starts; line < n_lines().
  size_t line_start(size_t line) const { return starts_[line]; }
  // Byte offset of the end of `line`'s content (before its terminator).
  size_t line_end(size_t line) const;
  // The line holding byte `offset` (offset <= text size).
  size_t line_of(size_t offset) const;

 private:
  std::string_view text_;
  std::vector<size_t> starts_;
};

// Length of one UTF-8 sequence starting at s[i]: 1..4 for a valid sequence, 1 for an invalid
// byte (each invalid byte counts as one character, like U+FFFD).
size_t utf8_sequence_length(std::string_view s, size_t i);

// Number of `encoding` units in `s`.
size_t count_units(std::string_view s, PositionEncoding encoding);

// Byte offset of `pos` in `text`. A character past the end of its line clamps to the line's
// end (the spec's rule); a character inside a multi-unit character (half of a surrogate pair)
// snaps to that character's start. A line past the last line is an error.
Result<size_t> to_offset(std::string_view text, const LineIndex& lines, Position pos,
                         PositionEncoding encoding);
Result<size_t> to_offset(std::string_view text, Position pos, PositionEncoding encoding);

// Position of byte `offset` (clamped to the text size; an offset inside a UTF-8 sequence or a
// CRLF pair counts from the start of that character).
Position to_position(std::string_view text, const LineIndex& lines, size_t offset,
                     PositionEncoding encoding);
Position to_position(std::string_view text, size_t offset, PositionEncoding encoding);

}  // namespace moecode::protocol
