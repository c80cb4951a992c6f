// BPE merging, byte-level or over raw UTF-8 (see bpe.h). Thread-safety: the model is immutable; scratch
// space and the word cache are thread_local.
#include "engine/tokenizer/bpe.h"

#include <algorithm>
#include <atomic>

#include "engine/tokenizer/unicode.h"

namespace moecode::tokenizer {
namespace {

using engine::Token;

uint64_t merge_key(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

uint64_t hash_key(uint64_t key) {
  key ^= key >> 29;
  key *= 0xBF58476D1CE4E5B9ull;
  key ^= key >> 32;
  return key;
}

std::atomic<uint64_t> g_next_serial{1};

// One symbol of the word being merged (a doubly linked list over a vector).
struct Symbol {
  int32_t sym;
  uint32_t start;
  uint32_t len;  // 0 once merged into its left neighbour
  int32_t prev;
  int32_t next;
};

struct Candidate {
  int32_t rank;
  int32_t left;   // symbol index
  int32_t right;  // symbol index
  uint32_t size;  // bytes of left + right when queued
  int32_t result;  // symbol of the merged pair
};

// Heap order: lowest rank first, then leftmost.
struct CandidateAfter {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.rank != b.rank ? a.rank > b.rank : a.left > b.left;
  }
};

struct Scratch {
  std::vector<Symbol> symbols;
  std::vector<Candidate> heap;
};

// Words up to this many bytes are cached per thread (frequent identifiers, keywords,
// indentation); the cache is dropped when it grows past kCacheMaxEntries.
constexpr size_t kCacheMaxWordBytes = 64;
constexpr size_t kCacheMaxEntries = 1 << 16;

// Heterogeneous lookup: find a std::string key from a string_view without a copy.
struct ViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
};

struct WordCache {
  uint64_t serial = 0;
  std::unordered_map<std::string, std::vector<Token>, ViewHash, std::equal_to<>> words;
};

WordCache& word_cache() {
  thread_local WordCache cache;
  return cache;
}

}  // namespace

void clear_bpe_word_cache() {
  word_cache().words.clear();
  word_cache().serial = 0;
}

Result<std::unique_ptr<BpeModel>> BpeModel::build(const std::vector<std::string>& tokens,
                                                  const std::vector<std::string>& merges,
                                                  const BpeOptions& options) {
  std::unique_ptr<BpeModel> m(new BpeModel());
  m->n_vocab_ = static_cast<int32_t>(tokens.size());
  m->options_ = options;
  m->serial_ = g_next_serial.fetch_add(1);
  m->n_merges_ = merges.size();

  // A text of the vocabulary or of a merge as raw bytes; false if it has none.
  auto to_bytes = [&options](std::string_view text, std::string* out) {
    if (options.byte_level) return byte_level_decode(text, out) && !out->empty();
    out->assign(text);
    return !out->empty();
  };

  auto& index = m->bytes_to_sym_;  // views into sym_bytes_, whose elements never move
  index.reserve(tokens.size() + merges.size() / 8 + 256);
  m->sym_bytes_.resize(tokens.size());
  m->sym_is_token_.assign(tokens.size(), 0);
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string& bytes = m->sym_bytes_[i];
    if (!to_bytes(tokens[i], &bytes)) {
      bytes.clear();
      continue;
    }
    if (index.emplace(bytes, static_cast<int32_t>(i)).second) {
      m->sym_is_token_[i] = 1;
    } else {
      bytes.clear();
    }
  }
  auto sym_of = [&](std::string_view b) {
    auto it = index.find(b);
    if (it != index.end()) return it->second;
    const int32_t id = static_cast<int32_t>(m->sym_bytes_.size());
    m->sym_bytes_.emplace_back(b);
    index.emplace(m->sym_bytes_.back(), id);
    return id;
  };
  for (int b = 0; b < 256; ++b) m->byte_sym_[b] = sym_of(std::string(1, static_cast<char>(b)));
  for (int b = 0; b < 256; ++b) {
    Token t = -1;
    if (options.byte_level) {
      if (m->byte_sym_[b] < m->n_vocab_) t = m->byte_sym_[b];
    } else {
      static const char* kHex = "0123456789ABCDEF";
      const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
      auto it = index.find(std::string_view(name, 6));
      if (it != index.end() && it->second < m->n_vocab_) t = it->second;
    }
    m->byte_token_[b] = t;
  }

  // Merge table sized to at most half full.
  size_t cap = 16;
  while (cap < merges.size() * 2) cap <<= 1;
  m->merge_table_.assign(cap, MergeEntry{});
  m->merge_mask_ = cap - 1;
  std::string left, right, joined;
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const std::string& line = merges[rank];
    const size_t sep = line.find(' ', 1);
    if (sep == std::string::npos) {
      return make_error(ErrorCode::kCorrupt, "tokenizer.ggml.merges[" + std::to_string(rank) +
                                                 "] = '" + line + "' is not two tokens separated by a space");
    }
    if (!to_bytes(std::string_view(line).substr(0, sep), &left) ||
        !to_bytes(std::string_view(line).substr(sep + 1), &right)) {
      continue;  // outside the symbol alphabet: can never apply
    }
    joined.assign(left).append(right);
    const int32_t l = sym_of(left), r = sym_of(right), res = sym_of(joined);
    const uint64_t key = merge_key(l, r);
    for (uint64_t slot = hash_key(key) & m->merge_mask_;; slot = (slot + 1) & m->merge_mask_) {
      MergeEntry& e = m->merge_table_[slot];
      if (e.key == key) break;  // a repeated pair keeps its first (lowest) rank
      if (e.key == ~0ull) {
        e = MergeEntry{key, static_cast<int32_t>(rank), res};
        break;
      }
    }
  }
  return m;
}

const BpeModel::MergeEntry* BpeModel::find_merge(int32_t left, int32_t right) const {
  const uint64_t key = merge_key(left, right);
  for (uint64_t slot = hash_key(key) & merge_mask_;; slot = (slot + 1) & merge_mask_) {
    const MergeEntry& e = merge_table_[slot];
    if (e.key == key) return &e;
    if (e.key == ~0ull) return nullptr;
  }
}

const std::string* BpeModel::token_bytes(Token id) const {
  if (id < 0 || id >= n_vocab_ || !sym_is_token_[id]) return nullptr;
  return &sym_bytes_[id];
}

int32_t BpeModel::start_sym(std::string_view piece) const {
  if (piece.size() == 1) return byte_sym_[static_cast<uint8_t>(piece[0])];
  auto it = bytes_to_sym_.find(piece);
  return it != bytes_to_sym_.end() ? it->second : -1;
}

void BpeModel::append_bytes(std::string_view bytes, std::vector<Token>* out) const {
  for (char c : bytes) {
    const Token t = byte_token_[static_cast<uint8_t>(c)];
    if (t >= 0) out->push_back(t);
  }
}

void BpeModel::encode_word(std::string_view word, std::vector<Token>* out) const {
  if (word.empty()) return;
  if (word.size() == 1) {
    const int32_t s = byte_sym_[static_cast<uint8_t>(word[0])];
    if (s < n_vocab_) {
      out->push_back(s);
    } else {
      append_bytes(word, out);
    }
    return;
  }
  if (options_.ignore_merges ||
      (options_.whole_newline_runs && word.find_first_not_of('\n') == std::string_view::npos)) {
    auto it = bytes_to_sym_.find(word);
    if (it != bytes_to_sym_.end() && it->second < n_vocab_) {
      out->push_back(it->second);
      return;
    }
  }
  if (word.size() > kCacheMaxWordBytes) {
    merge_word(word, out);
    return;
  }
  WordCache& cache = word_cache();
  if (cache.serial != serial_ || cache.words.size() >= kCacheMaxEntries) {
    cache.words.clear();
    cache.serial = serial_;
  }
  auto it = cache.words.find(word);
  if (it != cache.words.end()) {
    out->insert(out->end(), it->second.begin(), it->second.end());
    return;
  }
  const size_t first = out->size();
  merge_word(word, out);
  cache.words.emplace(std::string(word), std::vector<Token>(out->begin() + first, out->end()));
}

void BpeModel::merge_word(std::string_view word, std::vector<Token>* out) const {
  thread_local Scratch scratch;
  std::vector<Symbol>& syms = scratch.symbols;
  std::vector<Candidate>& heap = scratch.heap;
  syms.clear();
  heap.clear();
  // The starting pieces: bytes, or UTF-8 characters (an ill-formed part is one piece that
  // no merge and no token matches, so it falls back to its bytes).
  for (size_t pos = 0; pos < word.size();) {
    const size_t start = pos;
    if (options_.byte_level) {
      ++pos;
    } else {
      utf8_decode(word, &pos);
    }
    const int32_t i = static_cast<int32_t>(syms.size());
    syms.push_back({start_sym(word.substr(start, pos - start)), static_cast<uint32_t>(start),
                    static_cast<uint32_t>(pos - start), i - 1, pos < word.size() ? i + 1 : -1});
  }
  auto try_push = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || syms[left].sym < 0 || syms[right].sym < 0) return;
    const MergeEntry* e = find_merge(syms[left].sym, syms[right].sym);
    if (!e) return;
    heap.push_back({e->rank, left, right, syms[left].len + syms[right].len, e->result});
    std::push_heap(heap.begin(), heap.end(), CandidateAfter());
  };
  for (int32_t i = 0; i + 1 < static_cast<int32_t>(syms.size()); ++i) try_push(i, i + 1);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), CandidateAfter());
    const Candidate c = heap.back();
    heap.pop_back();
    Symbol& l = syms[c.left];
    Symbol& r = syms[c.right];
    if (l.len == 0 || r.len == 0 || l.next != c.right || l.len + r.len != c.size) continue;  // stale
    l.sym = c.result;
    l.len += r.len;
    r.len = 0;
    l.next = r.next;
    if (r.next >= 0) syms[r.next].prev = c.left;
    try_push(l.prev, c.left);
    try_push(c.left, l.next);
  }
  for (int32_t i = 0; i >= 0; i = syms[i].next) {
    const Symbol& s = syms[i];
    if (s.sym >= 0 && s.sym < n_vocab_) {
      out->push_back(s.sym);
    } else {
      // Not a token (a merge result missing from the vocabulary, or a character outside
      // it): fall back to its bytes.
      append_bytes(word.substr(s.start, s.len), out);
    }
  }
}

}  // namespace moecode::tokenizer
