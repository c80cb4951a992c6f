// Special-token partitioning (see special_matcher.h). Thread-safe: immutable trie,
// per-call state only.
#include "engine/tokenizer/special_matcher.h"

#include <algorithm>
#include <numeric>

namespace moecode::tokenizer {
namespace {

bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

struct Occurrence {
  uint32_t pos;
  int32_t entry;
};

}  // namespace

SpecialMatcher::SpecialMatcher(std::vector<Entry> entries) : entries_(std::move(entries)) {
  nodes_.emplace_back();
  for (size_t e = 0; e < entries_.size(); ++e) {
    const std::string& t = entries_[e].text;
    if (t.empty()) continue;
    first_byte_[static_cast<uint8_t>(t[0])] = true;
    int32_t node = 0;
    for (char ch : t) {
      const uint8_t b = static_cast<uint8_t>(ch);
      int32_t next = child(node, b);
      if (next < 0) {
        next = static_cast<int32_t>(nodes_.size());
        nodes_[node].children.emplace_back(b, next);
        nodes_.emplace_back();
      }
      node = next;
    }
    nodes_[node].entry = static_cast<int32_t>(e);
  }
  // Priority: longer texts first, then lower ids.
  std::vector<int32_t> order(entries_.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int32_t a, int32_t b) {
    const size_t la = entries_[a].text.size(), lb = entries_[b].text.size();
    return la != lb ? la > lb : entries_[a].id < entries_[b].id;
  });
  rank_.resize(entries_.size());
  for (size_t i = 0; i < order.size(); ++i) rank_[order[i]] = static_cast<int32_t>(i);
}

int32_t SpecialMatcher::child(int32_t node, uint8_t byte) const {
  for (const auto& [b, next] : nodes_[node].children) {
    if (b == byte) return next;
  }
  return -1;
}

void SpecialMatcher::partition(std::string_view text, bool parse_special,
                               std::vector<Fragment>* out) const {
  // 1. Every occurrence of every eligible special text.
  std::vector<Occurrence> occ;
  const size_t n = text.size();
  for (size_t pos = 0; pos < n; ++pos) {
    if (!first_byte_[static_cast<uint8_t>(text[pos])]) continue;
    int32_t node = 0;
    for (size_t k = pos; k < n; ++k) {
      node = child(node, static_cast<uint8_t>(text[k]));
      if (node < 0) break;
      const int32_t e = nodes_[node].entry;
      if (e >= 0 && (parse_special || entries_[e].always)) occ.push_back({static_cast<uint32_t>(pos), e});
    }
  }
  if (occ.empty()) {
    if (n > 0) out->push_back({engine::kNoToken, 0, static_cast<uint32_t>(n)});
    return;
  }
  // 2. Take them by priority, skipping any that overlaps one already taken.
  std::sort(occ.begin(), occ.end(), [&](const Occurrence& a, const Occurrence& b) {
    return rank_[a.entry] != rank_[b.entry] ? rank_[a.entry] < rank_[b.entry] : a.pos < b.pos;
  });
  std::vector<uint8_t> taken(n, 0);
  std::vector<Occurrence> chosen;
  for (const Occurrence& o : occ) {
    const size_t len = entries_[o.entry].text.size();
    if (std::any_of(taken.begin() + o.pos, taken.begin() + o.pos + len, [](uint8_t t) { return t; })) {
      continue;
    }
    std::fill(taken.begin() + o.pos, taken.begin() + o.pos + len, 1);
    chosen.push_back(o);
  }
  std::sort(chosen.begin(), chosen.end(),
            [](const Occurrence& a, const Occurrence& b) { return a.pos < b.pos; });
  // 3. Text between the tokens, trimmed where a neighbour strips whitespace.
  size_t cursor = 0;
  const Entry* prev = nullptr;
  auto emit_text = [&](size_t begin, size_t end, const Entry* left, const Entry* right) {
    if (left && left->rstrip) {
      while (begin < end && is_space(text[begin])) ++begin;
    }
    if (right && right->lstrip) {
      while (end > begin && is_space(text[end - 1])) --end;
    }
    if (end > begin) {
      out->push_back({engine::kNoToken, static_cast<uint32_t>(begin), static_cast<uint32_t>(end - begin)});
    }
  };
  for (const Occurrence& o : chosen) {
    const Entry& e = entries_[o.entry];
    emit_text(cursor, o.pos, prev, &e);
    out->push_back({e.id, o.pos, static_cast<uint32_t>(e.text.size())});
    cursor = o.pos + e.text.size();
    prev = &e;
  }
  emit_text(cursor, n, prev, nullptr);
}

}  // namespace moecode::tokenizer
