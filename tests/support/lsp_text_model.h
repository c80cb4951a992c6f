// Test helper: a client's own copy of a document under incremental LSP edits, written
// independently of the server's position code (lsp/protocol/position.cpp): positions count
// UTF-16 code units, lines end at "\n" (the texts here have no CR). Random edits land on
// code-point boundaries. Also the FNV-1a digest that `moecode.status` reports. Tests only;
// not thread-safe.
#pragma once

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moecode::testing {

// FNV-1a (64 bits) as 16 hex digits, as moecode.status reports a document's text.
inline std::string fnv1a64(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

class TextModel {
 public:
  struct Pos {
    uint32_t line = 0;
    uint32_t character = 0;  // UTF-16 code units
  };

  explicit TextModel(std::string text) : text_(std::move(text)) {}
  const std::string& text() const { return text_; }

  // Byte offset of a position on a code-point boundary (clamped to its line's end).
  size_t offset(Pos p) const {
    size_t i = 0;
    for (uint32_t l = 0; l < p.line; ++l) {
      const size_t nl = text_.find('\n', i);
      if (nl == std::string::npos) return text_.size();
      i = nl + 1;
    }
    uint32_t units = 0;
    while (i < text_.size() && text_[i] != '\n' && units < p.character) {
      const size_t n = seq_len(static_cast<unsigned char>(text_[i]));
      units += n == 4 ? 2 : 1;
      i += n;
    }
    return i;
  }

  uint32_t n_lines() const {
    uint32_t n = 1;
    for (char c : text_) n += c == '\n';
    return n;
  }

  // A random position on a code-point boundary.
  Pos random_pos(std::mt19937& rng) const {
    Pos p;
    p.line = static_cast<uint32_t>(rng() % n_lines());
    const std::vector<uint32_t> b = boundaries(p.line);
    p.character = b[rng() % b.size()];
    return p;
  }

  // Applies a change (range in UTF-16 positions) to the local copy.
  void apply(Pos start, Pos end, const std::string& replacement) {
    const size_t a = offset(start), b = offset(end);
    text_.replace(a, b - a, replacement);
  }

  static nlohmann::json json_pos(Pos p) { return {{"line", p.line}, {"character", p.character}}; }

 private:
  static size_t seq_len(unsigned char c) { return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4; }

  // UTF-16 columns of the code-point boundaries of `line` (0 and its end included).
  std::vector<uint32_t> boundaries(uint32_t line) const {
    size_t i = offset(Pos{line, 0});
    std::vector<uint32_t> out{0};
    uint32_t units = 0;
    while (i < text_.size() && text_[i] != '\n') {
      const size_t n = seq_len(static_cast<unsigned char>(text_[i]));
      units += n == 4 ? 2 : 1;
      i += n;
      out.push_back(units);
    }
    return out;
  }

  std::string text_;
};

}  // namespace moecode::testing
