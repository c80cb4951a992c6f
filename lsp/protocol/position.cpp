// Position encodings (see position.h).
#include "lsp/protocol/position.h"

#include <algorithm>
#include <string>

namespace moecode::protocol {

const char* encoding_name(PositionEncoding encoding) {
  switch (encoding) {
    case PositionEncoding::kUtf16: return "utf-16";
    case PositionEncoding::kUtf8: return "utf-8";
    case PositionEncoding::kUtf32: return "utf-32";
  }
  return "utf-16";
}

std::optional<PositionEncoding> parse_encoding(std::string_view name) {
  if (name == "utf-16") return PositionEncoding::kUtf16;
  if (name == "utf-8") return PositionEncoding::kUtf8;
  if (name == "utf-32") return PositionEncoding::kUtf32;
  return std::nullopt;
}

LineIndex::LineIndex(std::string_view text) : text_(text) {
  starts_.push_back(0);
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      starts_.push_back(i + 1);
    } else if (text[i] == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      starts_.push_back(i + 1);
    }
  }
}

size_t LineIndex::line_end(size_t line) const {
  size_t end = line + 1 < starts_.size() ? starts_[line + 1] : text_.size();
  // Step back over the terminator: "\n", "\r\n" or "\r".
  if (end > starts_[line] && line + 1 < starts_.size()) {
    if (text_[end - 1] == '\n') {
      --end;
      if (end > starts_[line] && text_[end - 1] == '\r') --end;
    } else if (text_[end - 1] == '\r') {
      --end;
    }
  }
  return end;
}

size_t LineIndex::line_of(size_t offset) const {
  auto it = std::upper_bound(starts_.begin(), starts_.end(), offset);
  return static_cast<size_t>(it - starts_.begin()) - 1;
}

size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) return 1;
  size_t len;
  uint32_t min_cp;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, min_cp = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, min_cp = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, min_cp = 0x10000;
  } else {
    return 1;
  }
  if (i + len > s.size()) return 1;
  uint32_t cp = b0 & (0x7F >> len);
  for (size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) return 1;
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min_cp || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 1;
  return len;
}

namespace {

// Units of the character whose UTF-8 sequence is `len` bytes long.
size_t units_of(size_t len, PositionEncoding encoding) {
  switch (encoding) {
    case PositionEncoding::kUtf8: return len;
    case PositionEncoding::kUtf16: return len == 4 ? 2 : 1;
    case PositionEncoding::kUtf32: return 1;
  }
  return 1;
}

}  // namespace

size_t count_units(std::string_view s, PositionEncoding encoding) {
  if (encoding == PositionEncoding::kUtf8) return s.size();
  size_t n = 0;
  for (size_t i = 0; i < s.size();) {
    const size_t len = utf8_sequence_length(s, i);
    n += units_of(len, encoding);
    i += len;
  }
  return n;
}

Result<size_t> to_offset(std::string_view text, const LineIndex& lines, Position pos,
                         PositionEncoding encoding) {
  if (pos.line >= lines.n_lines()) {
    return make_error(ErrorCode::kOutOfRange,
                      "position line " + std::to_string(pos.line) + " is past the last line " +
                          std::to_string(lines.n_lines() - 1));
  }
  const size_t start = lines.line_start(pos.line);
  const size_t end = lines.line_end(pos.line);
  size_t i = start;
  size_t units = 0;
  while (i < end) {
    const size_t len = std::min(utf8_sequence_length(text, i), end - i);
    const size_t u = units_of(len, encoding);
    if (units + u > pos.character) break;  // the position is at or inside this character
    units += u;
    i += len;
  }
  return i;
}

Result<size_t> to_offset(std::string_view text, Position pos, PositionEncoding encoding) {
  return to_offset(text, LineIndex(text), pos, encoding);
}

Position to_position(std::string_view text, const LineIndex& lines, size_t offset,
                     PositionEncoding encoding) {
  offset = std::min(offset, text.size());
  const size_t line = lines.line_of(offset);
  const size_t start = lines.line_start(line);
  const size_t end = std::min(offset, lines.line_end(line));
  size_t units = 0;
  for (size_t i = start; i < end;) {
    const size_t len = utf8_sequence_length(text, i);
    if (i + len > end) break;  // offset inside a sequence: count from its start
    units += units_of(len, encoding);
    i += len;
  }
  return Position{static_cast<uint32_t>(line), static_cast<uint32_t>(units)};
}

Position to_position(std::string_view text, size_t offset, PositionEncoding encoding) {
  return to_position(text, LineIndex(text), offset, encoding);
}

}  // namespace moecode::protocol
