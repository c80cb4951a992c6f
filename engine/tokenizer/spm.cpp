// SentencePiece-style BPE merging (see spm.h). Thread-safe: per-call state only.
#include "engine/tokenizer/spm.h"

#include <algorithm>
#include <cstdint>

#include "engine/tokenizer/unicode.h"

namespace moecode::tokenizer {
namespace {

struct Symbol {
  uint32_t start;
  uint32_t len;  // 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
};

struct Bigram {
  float score;
  int32_t left;
  int32_t right;
  uint32_t size;
};

// Heap order: highest score first, then leftmost.
struct BigramAfter {
  bool operator()(const Bigram& a, const Bigram& b) const {
    return a.score != b.score ? a.score < b.score : a.left > b.left;
  }
};

}  // namespace

void spm_encode(const TokenIndex& index, std::span<const float> scores,
                std::span<const engine::Token, 256> byte_tokens, std::string_view text,
                std::vector<engine::Token>* out) {
  std::vector<Symbol> syms;
  syms.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t len = std::min(utf8_len_from_lead(static_cast<uint8_t>(text[pos])), text.size() - pos);
    const int32_t i = static_cast<int32_t>(syms.size());
    syms.push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(len), i - 1,
                    pos + len < text.size() ? i + 1 : -1});
    pos += len;
  }
  std::vector<Bigram> heap;
  auto try_push = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0) return;
    const uint32_t size = syms[left].len + syms[right].len;
    const engine::Token id = index.find(text.substr(syms[left].start, size));
    if (id == engine::kNoToken) return;
    heap.push_back({scores.empty() ? 0.0f : scores[id], left, right, size});
    std::push_heap(heap.begin(), heap.end(), BigramAfter());
  };
  for (size_t i = 1; i < syms.size(); ++i) try_push(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), BigramAfter());
    const Bigram b = heap.back();
    heap.pop_back();
    Symbol& l = syms[b.left];
    Symbol& r = syms[b.right];
    if (l.len == 0 || r.len == 0 || l.len + r.len != b.size) continue;  // stale
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = b.left;
    try_push(l.prev, b.left);
    try_push(b.left, l.next);
  }
  for (int32_t i = syms.empty() ? -1 : 0; i >= 0; i = syms[i].next) {
    const std::string_view piece = text.substr(syms[i].start, syms[i].len);
    const engine::Token id = index.find(piece);
    if (id != engine::kNoToken) {
      out->push_back(id);
      continue;
    }
    for (char c : piece) {
      const engine::Token b = byte_tokens[static_cast<uint8_t>(c)];
      if (b != engine::kNoToken) out->push_back(b);
    }
  }
}

}  // namespace moecode::tokenizer
