// NameMap<V>: the index's maps from a Name to its list of places (definitions, referencing
// files), as one flat open-addressing table. /usr/include puts 317K names in the
// definitions' map and 97K in the references': std::unordered_map spends a 48-byte heap
// node and an 8-byte bucket on each (25.7 MB for the two), this table a 24-byte slot and a
// control byte at a load of at most 7/8 (16.4 MB), and no allocation per name.
//
// Linear probing on the handle's hash (mixed: handles are pointers), erase by shifting the
// following entries back (no tombstones). The interface is the subset of std::unordered_map
// the index uses; unlike it, any insertion or erase invalidates iterators and references.
// Thread-compatible.
#pragma once

#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "lsp/workspace/name.h"

namespace moecode::workspace {

template <typename V>
class NameMap {
 public:
  using value_type = std::pair<Name, V>;

  template <bool kConst>
  class Iter {
   public:
    using Map = std::conditional_t<kConst, const NameMap, NameMap>;
    using Ref = std::conditional_t<kConst, const value_type&, value_type&>;
    using Ptr = std::conditional_t<kConst, const value_type*, value_type*>;
    Iter(Map* m, size_t i) : m_(m), i_(i) { skip(); }
    // iterator -> const_iterator (a template: the implicit copy operations stay).
    template <bool kOther>
      requires(kConst && !kOther)
    Iter(const Iter<kOther>& o) : m_(o.m_), i_(o.i_) {}  // NOLINT(google-explicit-constructor)
    Ref operator*() const { return m_->slots_[i_]; }
    Ptr operator->() const { return &m_->slots_[i_]; }
    Iter& operator++() {
      ++i_;
      skip();
      return *this;
    }
    friend bool operator==(const Iter& a, const Iter& b) { return a.i_ == b.i_; }

   private:
    friend class NameMap;
    template <bool>
    friend class Iter;
    void skip() {
      while (i_ < m_->cap_ && !m_->full_[i_]) ++i_;
    }
    Map* m_;
    size_t i_;
  };
  using iterator = Iter<false>;
  using const_iterator = Iter<true>;

  NameMap() = default;
  NameMap(NameMap&& o) noexcept { swap(o); }
  NameMap& operator=(NameMap&& o) noexcept {
    if (this != &o) {
      NameMap(std::move(o)).swap(*this);
    }
    return *this;
  }
  NameMap(const NameMap&) = delete;
  NameMap& operator=(const NameMap&) = delete;
  ~NameMap() { destroy(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // Slots in the table (a power of two, or 0).
  size_t capacity() const { return cap_; }

  iterator begin() { return iterator(this, 0); }
  iterator end() { return iterator(this, cap_); }
  const_iterator begin() const { return const_iterator(this, 0); }
  const_iterator end() const { return const_iterator(this, cap_); }

  iterator find(Name key) { return iterator(this, find_slot(key)); }
  const_iterator find(Name key) const { return const_iterator(this, find_slot(key)); }

  // Inserts (key, value) unless key is present; returns where key is and whether it was new.
  std::pair<iterator, bool> emplace(Name key, V value) {
    if (size_t i = find_slot(key); i != cap_) return {iterator(this, i), false};
    if ((size_ + 1) * 8 > cap_ * 7) grow(cap_ == 0 ? 16 : cap_ * 2);
    size_t i = home(key);
    while (full_[i]) i = (i + 1) & (cap_ - 1);
    new (&slots_[i]) value_type(key, std::move(value));
    full_[i] = 1;
    ++size_;
    return {iterator(this, i), true};
  }

  V& operator[](Name key) { return emplace(key, V{}).first->second; }

  // Removes the entry at `it` (from this map).
  void erase(const_iterator it) {
    size_t i = it.i_;
    assert(i < cap_ && full_[i]);
    slots_[i].~value_type();
    full_[i] = 0;
    --size_;
    // Entries after the hole that would probe through it move back into it.
    for (size_t j = (i + 1) & (cap_ - 1); full_[j]; j = (j + 1) & (cap_ - 1)) {
      const size_t h = home(slots_[j].first);
      // j's entry may move to i when i lies on its probe path: in [h, j) cyclically.
      const bool on_path = i <= j ? (h <= i || h > j) : (h <= i && h > j);
      if (!on_path) continue;
      new (&slots_[i]) value_type(std::move(slots_[j]));
      slots_[j].~value_type();
      full_[i] = 1;
      full_[j] = 0;
      i = j;
    }
  }

  // Room for n entries without growing.
  void reserve(size_t n) {
    size_t cap = 16;
    while (n * 8 > cap * 7) cap *= 2;
    if (cap > cap_) grow(cap);
  }

  void swap(NameMap& o) noexcept {
    std::swap(slots_, o.slots_);
    std::swap(full_, o.full_);
    std::swap(cap_, o.cap_);
    std::swap(shift_, o.shift_);
    std::swap(size_, o.size_);
  }

 private:
  static_assert(std::is_nothrow_move_constructible_v<V>);

  size_t home(Name key) const {
    // Fibonacci hashing: the top bits of the product (handles are aligned pointers, whose low
    // bits are all alike).
    return static_cast<size_t>((static_cast<uint64_t>(key.hash()) * 0x9E3779B97F4A7C15ull) >> shift_);
  }

  size_t find_slot(Name key) const {
    if (cap_ == 0) return 0;
    for (size_t i = home(key);; i = (i + 1) & (cap_ - 1)) {
      if (!full_[i]) return cap_;
      if (slots_[i].first == key) return i;
    }
  }

  void grow(size_t cap) {
    NameMap bigger;
    bigger.slots_ = static_cast<value_type*>(
        ::operator new(cap * sizeof(value_type), std::align_val_t(alignof(value_type))));
    bigger.full_ = new uint8_t[cap]();
    bigger.cap_ = cap;
    bigger.shift_ = 64 - std::countr_zero(cap);
    for (size_t i = 0; i < cap_; ++i) {
      if (!full_[i]) continue;
      size_t j = bigger.home(slots_[i].first);
      while (bigger.full_[j]) j = (j + 1) & (cap - 1);
      new (&bigger.slots_[j]) value_type(std::move(slots_[i]));
      bigger.full_[j] = 1;
      ++bigger.size_;
    }
    swap(bigger);
  }

  void destroy() {
    if (!slots_) return;
    for (size_t i = 0; i < cap_; ++i) {
      if (full_[i]) slots_[i].~value_type();
    }
    ::operator delete(slots_, std::align_val_t(alignof(value_type)));
    delete[] full_;
    slots_ = nullptr;
    full_ = nullptr;
    cap_ = size_ = 0;
  }

  value_type* slots_ = nullptr;
  uint8_t* full_ = nullptr;
  size_t cap_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

}  // namespace moecode::workspace
