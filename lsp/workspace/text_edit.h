// ByteEdit: one edit of a document's text in bytes and (row, byte column) points — the
// form tree-sitter's ts_tree_edit takes. Produced by the document store when it applies an
// LSP change (after converting UTF-16/UTF-8 positions), consumed by the workspace index
// for incremental re-parsing. Plain data; thread-compatible.
#pragma once

#include <cstdint>

namespace moecode::workspace {

struct TextPoint {
  uint32_t row = 0;     // 0-based line
  uint32_t column = 0;  // 0-based byte offset within the line
  bool operator==(const TextPoint&) const = default;
};

struct ByteEdit {
  uint32_t start_byte = 0;
  uint32_t old_end_byte = 0;
  uint32_t new_end_byte = 0;
  TextPoint start_point;
  TextPoint old_end_point;
  TextPoint new_end_point;
};

}  // namespace moecode::workspace
