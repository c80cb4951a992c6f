// Token text -> id lookup shared by the tokenizers. Immutable after build; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moecode/engine/tokenizer.h"

namespace moecode::tokenizer {

class TokenIndex {
 public:
  // A repeated text keeps its first id (callers reject repeats through n_distinct()).
  explicit TokenIndex(std::vector<std::string> texts) : texts_(std::move(texts)) {
    ids_.reserve(texts_.size());
    for (size_t i = 0; i < texts_.size(); ++i) {
      ids_.emplace(texts_[i], static_cast<engine::Token>(i));
      if (texts_[i].size() > max_len_) max_len_ = texts_[i].size();
    }
  }
  engine::Token find(std::string_view text) const {
    auto it = ids_.find(text);
    return it == ids_.end() ? engine::kNoToken : it->second;
  }
  const std::string& text(engine::Token id) const { return texts_[id]; }
  size_t size() const { return texts_.size(); }
  // Number of distinct texts (< size() when a text repeats).
  size_t n_distinct() const { return ids_.size(); }
  size_t max_len() const { return max_len_; }

 private:
  std::vector<std::string> texts_;
  std::unordered_map<std::string_view, engine::Token> ids_;
  size_t max_len_ = 0;
};

}  // namespace moecode::tokenizer
