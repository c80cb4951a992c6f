// The pool behind Name: 64 shards picked by the text's hash, each an open-addressing table
// of entry pointers (linear probing, at most three quarters full) over an arena of 64 KiB blocks.
// Entries never move and are never freed, so a Name stays valid for the process's life
// and reading one takes no lock.
#include "lsp/workspace/name.h"

#include <array>
#include <cstddef>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <vector>

namespace moecode::workspace {

namespace {

// The empty name: a header and its NUL.
struct EmptyEntry {
  Name::Entry entry{0};
  char nul[4] = {};
};
const EmptyEntry kEmpty;
constexpr size_t kShards = 64;
constexpr size_t kBlockBytes = size_t{64} << 10;

size_t hash_text(std::string_view s) { return std::hash<std::string_view>{}(s); }

class Shard {
 public:
  const Name::Entry* find(std::string_view text, size_t hash) const {
    if (slots_.empty()) return nullptr;
    for (size_t i = hash & mask(); ; i = (i + 1) & mask()) {
      const Name::Entry* e = slots_[i];
      if (!e) return nullptr;
      if (e->size == text.size() && std::memcmp(e->text(), text.data(), text.size()) == 0) return e;
    }
  }

  const Name::Entry* intern(std::string_view text, size_t hash) {
    if (const Name::Entry* e = find(text, hash)) return e;
    if ((n_ + 1) * 4 > slots_.size() * 3) grow();
    const Name::Entry* e = allocate(text);
    size_t i = hash & mask();
    while (slots_[i]) i = (i + 1) & mask();
    slots_[i] = e;
    ++n_;
    return e;
  }

  uint64_t n_names() const { return n_; }
  uint64_t n_bytes() const { return blocks_.size() * kBlockBytes + large_bytes_ + slots_.capacity() * sizeof(void*); }

 private:
  size_t mask() const { return slots_.size() - 1; }

  void grow() {
    std::vector<const Name::Entry*> old = std::move(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, nullptr);
    for (const Name::Entry* e : old) {
      if (!e) continue;
      size_t i = hash_text({e->text(), e->size}) & mask();
      while (slots_[i]) i = (i + 1) & mask();
      slots_[i] = e;
    }
  }

  const Name::Entry* allocate(std::string_view text) {
    constexpr size_t kAlign = alignof(Name::Entry);
    const size_t bytes = (sizeof(Name::Entry) + text.size() + 1 + kAlign - 1) / kAlign * kAlign;
    char* p;
    if (bytes > kBlockBytes / 4) {  // a very long name: a block of its own
      large_.push_back(std::make_unique<char[]>(bytes));
      large_bytes_ += bytes;
      p = large_.back().get();
    } else {
      if (blocks_.empty() || used_ + bytes > kBlockBytes) {
        blocks_.push_back(std::make_unique<char[]>(kBlockBytes));
        used_ = 0;
      }
      p = blocks_.back().get() + used_;
      used_ += bytes;
    }
    auto* e = new (p) Name::Entry{static_cast<uint32_t>(text.size())};
    char* t = p + sizeof(Name::Entry);
    std::memcpy(t, text.data(), text.size());
    t[text.size()] = '\0';
    return e;
  }

  std::vector<const Name::Entry*> slots_;
  size_t n_ = 0;
  std::vector<std::unique_ptr<char[]>> blocks_;
  size_t used_ = 0;
  std::vector<std::unique_ptr<char[]>> large_;
  size_t large_bytes_ = 0;
};

struct Pool {
  std::array<std::mutex, kShards> mu;
  std::array<Shard, kShards> shards;
};

// Never destroyed: Names may be read by static destructors and threads still running at exit.
Pool& pool() {
  static Pool* p = new Pool();
  return *p;
}

// The top bits pick the shard; the tables index with the low bits, which stay independent.
size_t shard_of(size_t hash) { return (hash >> 58) % kShards; }

}  // namespace

Name::Name() : entry_(&kEmpty.entry) {}

Name::Name(std::string_view text) : entry_(&kEmpty.entry) {
  if (text.empty()) return;
  const size_t h = hash_text(text);
  const size_t s = shard_of(h);
  Pool& p = pool();
  std::lock_guard lock(p.mu[s]);
  entry_ = p.shards[s].intern(text, h);
}

std::optional<Name> Name::find(std::string_view text) {
  if (text.empty()) return Name();
  const size_t h = hash_text(text);
  const size_t s = shard_of(h);
  Pool& p = pool();
  std::lock_guard lock(p.mu[s]);
  if (const Entry* e = p.shards[s].find(text, h)) return Name(e);
  return std::nullopt;
}

Name::PoolStats Name::pool_stats() {
  PoolStats st;
  Pool& p = pool();
  for (size_t s = 0; s < kShards; ++s) {
    std::lock_guard lock(p.mu[s]);
    st.n_names += p.shards[s].n_names();
    st.n_bytes += p.shards[s].n_bytes();
  }
  return st;
}

}  // namespace moecode::workspace
