// Finds special (control, user-defined, unknown) token texts in raw text so that they
// become their token whole. Priority follows llama.cpp: longer token texts first (ties by
// lower id), each taking its non-overlapping occurrences left to right in the text that
// earlier ones left; control and unknown tokens only when parse_special is set; LSTRIP /
// RSTRIP tokens swallow the adjacent whitespace. Immutable after construction; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "moecode/engine/tokenizer.h"

namespace moecode::tokenizer {

struct Fragment {
  engine::Token token = engine::kNoToken;  // a special token, or kNoToken for text
  uint32_t offset = 0;                     // text fragments: bytes of the input
  uint32_t length = 0;
};

class SpecialMatcher {
 public:
  struct Entry {
    engine::Token id;
    std::string text;
    bool always = false;  // matched even without parse_special (user-defined tokens)
    bool lstrip = false;
    bool rstrip = false;
  };
  explicit SpecialMatcher(std::vector<Entry> entries);

  // Splits `text` into text fragments and special tokens, in order.
  void partition(std::string_view text, bool parse_special, std::vector<Fragment>* out) const;

 private:
  struct Node {
    int32_t entry = -1;  // index into entries_ of the token ending here
    std::vector<std::pair<uint8_t, int32_t>> children;
  };
  int32_t child(int32_t node, uint8_t byte) const;

  std::vector<Entry> entries_;
  std::vector<int32_t> rank_;  // entry -> priority (0 = first)
  std::vector<Node> nodes_;    // nodes_[0] is the root
  bool first_byte_[256] = {};
};

}  // namespace moecode::tokenizer
