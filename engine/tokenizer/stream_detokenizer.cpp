// StreamDetokenizer: incremental detokenization that holds back an unfinished UTF-8
// sequence until the token that completes it arrives. Not thread-safe (one per stream).
#include <string>
#include <string_view>

#include "engine/tokenizer/unicode.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::engine {

std::string StreamDetokenizer::push(Token token) {
  pending_ += tokenizer_->piece(token, render_special_);
  const size_t keep = tokenizer::utf8_incomplete_tail(pending_);
  const std::string_view ready = std::string_view(pending_).substr(0, pending_.size() - keep);
  std::string out = tokenizer::utf8_valid_prefix(ready) == ready.size() ? std::string(ready)
                                                                         : tokenizer::utf8_sanitize(ready);
  pending_.erase(0, ready.size());
  return out;
}

std::string StreamDetokenizer::flush() {
  std::string out = tokenizer::utf8_sanitize(pending_);
  pending_.clear();
  return out;
}

}  // namespace moecode::engine
