// Token counters (see token_counter.h). CachingCounter guards its table with a mutex and
// calls the inner counter outside it.
#include "lsp/context/token_counter.h"

#include <cctype>

namespace moecode::context {

namespace {

bool is_word(unsigned char c) { return std::isalnum(c) || c == '_' || c >= 0x80; }

}  // namespace

uint64_t text_hash(std::string_view text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

size_t HeuristicCounter::count(std::string_view text) const {
  size_t n = 0, i = 0;
  while (i < text.size()) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (is_word(c)) {
      size_t j = i;
      while (j < text.size() && is_word(static_cast<unsigned char>(text[j]))) ++j;
      n += (j - i + 3) / 4;
      i = j;
    } else if (c == ' ' || c == '\t') {
      size_t j = i;
      while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
      ++n;
      i = j;
    } else {
      ++n;
      ++i;
    }
  }
  return n;
}

size_t CachingCounter::count(std::string_view text) const {
  if (text.empty()) return 0;
  const Key key{text_hash(text), text.size()};
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(key);
    if (it != map_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second);
      ++hits_;
      return it->second->second;
    }
  }
  const size_t n = inner_.count(text);
  std::lock_guard<std::mutex> lock(mu_);
  ++misses_;
  if (map_.find(key) == map_.end()) {
    lru_.emplace_front(key, n);
    map_[key] = lru_.begin();
    while (map_.size() > capacity_) {
      map_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }
  return n;
}

size_t CachingCounter::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}

size_t CachingCounter::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

}  // namespace moecode::context
