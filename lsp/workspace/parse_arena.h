// Memory for the tree-sitter objects of one file's parse in a full index build.
//
// A cold build parses each file once and drops its tree as soon as the symbols are out.
// Through malloc, the parse's nodes cost allocator time (and glibc's consolidation of their
// freed chunks), and deleting the tree is one more walk over every node. Inside a
// ParseArena::Scope, this thread's tree-sitter allocations come from the arena instead:
// blocks of a few size classes cut from one reserved region, reused through free lists while
// the parse runs, and all dropped at once when the scope ends. The tree is never deleted node
// by node (ParseArena::drop_tree).
//
// The contract: whatever tree-sitter allocates inside a Scope is dead when it ends (the
// file's parser, query cursor, tree cursors and tree). An object meant to outlive it, such as
// a compiled query, is built under a ParseArena::Pause. Outside a Scope, on every thread,
// tree-sitter uses malloc as before; a block from malloc is always freed by free(), even
// inside a Scope (the arena knows its blocks by address).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

struct TSTree;

namespace moecode::workspace {

class ParseArena {
 public:
  // Reserves `reserve` bytes of address space (no memory until used). When the reservation
  // fails, or under a memory limit that refuses it, the arena is disabled: Scopes then do
  // nothing and tree-sitter keeps using malloc.
  explicit ParseArena(size_t reserve = kDefaultReserve);
  ~ParseArena();
  ParseArena(const ParseArena&) = delete;
  ParseArena& operator=(const ParseArena&) = delete;

  // This thread's tree-sitter allocations come from `arena` until the scope ends; then every
  // block is released together. Scopes do not nest.
  class Scope {
   public:
    explicit Scope(ParseArena& arena);
    ~Scope();
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    ParseArena* arena_;
  };

  // Inside a Scope: tree-sitter uses malloc again until the pause ends (for objects that
  // outlive the scope). Harmless outside one.
  class Pause {
   public:
    Pause();
    ~Pause();
    Pause(const Pause&) = delete;
    Pause& operator=(const Pause&) = delete;

   private:
    bool saved_;
  };

  bool enabled() const { return base_ != nullptr; }
  // Whether this thread is inside a Scope of an enabled arena.
  static bool active();
  // Gives up a tree made inside the current Scope without walking it: its memory goes with
  // the scope. Outside a Scope, or when the arena ran out of room during this one (some of
  // the tree's nodes then came from malloc), it is deleted as usual.
  static void drop_tree(TSTree* tree);

  // Bytes of the region handed out since the last reset (free blocks included), and the
  // most ever (for the tests).
  size_t used() const;
  size_t high_water() const { return std::max(high_water_, used()); }
  // Bytes the arena keeps mapped after a reset; pages beyond are given back to the system.
  static constexpr size_t kRetainBytes = size_t{8} << 20;
  static constexpr size_t kDefaultReserve = size_t{4} << 30;

  // The allocator behind tree-sitter's ts_malloc family (installed once, when the first arena
  // is made). Public for the tests.
  static void* allocate(size_t n);
  static void* allocate_zeroed(size_t count, size_t size);
  static void* reallocate(void* p, size_t n);
  static void release(void* p);

 private:
  static constexpr int kSmallClasses = 64;  // payloads of 8 .. 1016 bytes, 16 apart
  static constexpr int kClasses = kSmallClasses + 40;

  void* take(size_t n);
  void give_back(void* p);
  bool owns(const void* p) const { return p >= base_ && p < end_; }
  void reset();

  char* base_ = nullptr;
  char* end_ = nullptr;
  char* top_ = nullptr;
  size_t high_water_ = 0;
  bool overflowed_ = false;  // a block this scope asked for came from malloc: the region was full
  size_t reserve_ = 0;
  void* free_[kClasses] = {};
};

}  // namespace moecode::workspace
