#include "lsp/workspace/parse_arena.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <tree_sitter/api.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define MOE_ARENA_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define MOE_ARENA_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define MOE_ARENA_POISON(p, n) ((void)(p), (void)(n))
#define MOE_ARENA_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace moecode::workspace {
namespace {

// The arena of the Scope this thread is in (nullptr: none), and whether a Pause holds.
thread_local ParseArena* t_arena = nullptr;
thread_local bool t_paused = false;

// Every block is an 8-byte header (its size class) and a payload; blocks are multiples of 16
// bytes and start 8 bytes past a multiple of 16, so every payload is 16-byte aligned.
constexpr size_t kHeader = 8;
constexpr int kFirstLargeLog2 = 11;  // large classes: whole blocks of 2^11, 2^12, ... bytes

int class_of(size_t n) {
  if (n + kHeader <= 1024) return static_cast<int>((n + kHeader + 15) / 16) - 1;
  const int log2 = std::bit_width(n + kHeader - 1);
  return 64 + (log2 < kFirstLargeLog2 ? 0 : log2 - kFirstLargeLog2);
}

size_t block_bytes(int c) {
  return c < 64 ? static_cast<size_t>(c + 1) * 16 : size_t{1} << (c - 64 + kFirstLargeLog2);
}

[[noreturn]] void out_of_memory(size_t n) {
  // What tree-sitter's own allocator does: its callers do not check for null.
  std::fprintf(stderr, "tree-sitter failed to allocate %zu bytes\n", n);
  std::abort();
}

void* checked_malloc(size_t n) {
  void* p = std::malloc(n);
  if (!p && n) out_of_memory(n);
  return p;
}

// Installed before main (and before any thread): tree-sitter's allocator is a set of plain
// globals. Outside a Scope it is malloc, so code that never opens one sees no change.
const bool kInstalled = [] {
  ts_set_allocator(&ParseArena::allocate, &ParseArena::allocate_zeroed, &ParseArena::reallocate,
                   &ParseArena::release);
  return true;
}();

}  // namespace

ParseArena::ParseArena(size_t reserve) {
  (void)kInstalled;
  // Under an address-space limit a large reservation would take room other allocations need.
  rlimit as{};
  if (getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY) return;
  constexpr int kFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
  void* p = mmap(nullptr, reserve, PROT_READ | PROT_WRITE, kFlags, -1, 0);
  if (p == MAP_FAILED) return;
  reserve_ = reserve;
  base_ = static_cast<char*>(p);
  end_ = base_ + reserve;
  top_ = base_ + kHeader;
}

ParseArena::~ParseArena() {
  if (t_arena == this) t_arena = nullptr;
  if (base_) {
    MOE_ARENA_UNPOISON(base_, kHeader + high_water());
    munmap(base_, reserve_);
  }
}

ParseArena::Scope::Scope(ParseArena& arena) : arena_(arena.enabled() ? &arena : nullptr) {
  if (arena_) t_arena = arena_;
}

ParseArena::Scope::~Scope() {
  if (!arena_) return;
  t_arena = nullptr;
  arena_->reset();
}

ParseArena::Pause::Pause() : saved_(t_paused) { t_paused = true; }

ParseArena::Pause::~Pause() { t_paused = saved_; }

size_t ParseArena::used() const { return base_ ? static_cast<size_t>(top_ - base_) - kHeader : 0; }

bool ParseArena::active() { return t_arena && !t_paused; }

void ParseArena::drop_tree(TSTree* tree) {
  if (!tree) return;
  if (t_arena && t_arena->owns(tree) && !t_arena->overflowed_) return;  // it goes with the scope
  ts_tree_delete(tree);
}

void* ParseArena::take(size_t n) {
  const int c = class_of(n);
  if (c >= kClasses) {
    overflowed_ = true;
    return nullptr;
  }
  const size_t payload = block_bytes(c) - kHeader;
  if (void* p = free_[c]) {
    MOE_ARENA_UNPOISON(p, payload);
    std::memcpy(&free_[c], p, sizeof(void*));
    return p;
  }
  const size_t block = block_bytes(c);
  if (static_cast<size_t>(end_ - top_) < block) {
    overflowed_ = true;
    return nullptr;
  }
  char* b = top_;
  top_ += block;
  MOE_ARENA_UNPOISON(b, block);
  const uint64_t header = static_cast<uint64_t>(c);
  std::memcpy(b, &header, sizeof header);
  return b + kHeader;
}

void ParseArena::give_back(void* p) {
  uint64_t c;
  std::memcpy(&c, static_cast<char*>(p) - kHeader, sizeof c);
  std::memcpy(p, &free_[c], sizeof(void*));
  free_[c] = p;
  MOE_ARENA_POISON(static_cast<char*>(p) + sizeof(void*),
                   block_bytes(static_cast<int>(c)) - kHeader - sizeof(void*));
}

void ParseArena::reset() {
  std::fill(std::begin(free_), std::end(free_), nullptr);
  overflowed_ = false;
  // Pages past the first kRetainBytes go back to the system: one large file's tree does not
  // stay in the build's footprint.
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t used_bytes = used();
  high_water_ = std::max(high_water_, used_bytes);  // kept here, off the allocation path
  if (used_bytes > kRetainBytes) {
    const size_t keep = (kRetainBytes + page - 1) / page * page;
    madvise(base_ + keep, (used_bytes - keep + page - 1) / page * page, MADV_DONTNEED);
  }
  MOE_ARENA_POISON(base_, used_bytes);
  top_ = base_ + kHeader;
}

void* ParseArena::allocate(size_t n) {
  if (t_arena && !t_paused) {
    if (void* p = t_arena->take(n)) return p;
  }
  return checked_malloc(n);
}

void* ParseArena::allocate_zeroed(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) out_of_memory(SIZE_MAX);
  const size_t n = count * size;
  if (t_arena && !t_paused) {
    if (void* p = t_arena->take(n)) return std::memset(p, 0, n);
  }
  void* p = std::calloc(count, size);
  if (!p && n) out_of_memory(n);
  return p;
}

void* ParseArena::reallocate(void* p, size_t n) {
  if (!p) return allocate(n);
  ParseArena* a = t_arena;
  if (!a || !a->owns(p)) {
    void* q = std::realloc(p, n);
    if (!q && n) out_of_memory(n);
    return q;
  }
  uint64_t c;
  std::memcpy(&c, static_cast<char*>(p) - kHeader, sizeof c);
  const size_t capacity = block_bytes(static_cast<int>(c)) - kHeader;
  if (n <= capacity) return p;
  void* q = allocate(n);
  std::memcpy(q, p, capacity);
  a->give_back(p);
  return q;
}

void ParseArena::release(void* p) {
  if (!p) return;
  ParseArena* a = t_arena;
  if (a && a->owns(p)) {
    a->give_back(p);
    return;
  }
  std::free(p);
}

}  // namespace moecode::workspace
