// SmallList<T>: a vector of small trivially copyable values (at most 8 bytes: DefRef,
// RefCount) that keeps one value in place. The index's name maps hold one list per
// distinct name and most names have one definition or one referencing file
// (/usr/include: 239K of its 317K defined names, 63K of its 97K referenced ones), so a
// list is 16 bytes and a single value costs no allocation (std::vector: 24 bytes plus a
// 32-byte heap block).
//
// Thread-compatible, like std::vector.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <type_traits>
#include <utility>

namespace moecode::workspace {

template <typename T>
class SmallList {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8, "SmallList holds small trivial values");

 public:
  SmallList() = default;
  SmallList(const SmallList& o) { assign(o.data(), o.size_); }
  SmallList(SmallList&& o) noexcept : u_(o.u_), size_(o.size_), cap_(o.cap_) { o.size_ = 0, o.cap_ = 1; }
  SmallList& operator=(const SmallList& o) {
    if (this != &o) {
      release();
      assign(o.data(), o.size_);
    }
    return *this;
  }
  SmallList& operator=(SmallList&& o) noexcept {
    if (this != &o) {
      release();
      u_ = o.u_, size_ = o.size_, cap_ = o.cap_;
      o.size_ = 0, o.cap_ = 1;
    }
    return *this;
  }
  ~SmallList() { release(); }

  uint32_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint32_t capacity() const { return cap_; }
  const T* data() const { return cap_ == 1 ? &u_.one : u_.many; }
  T* data() { return cap_ == 1 ? &u_.one : u_.many; }
  const T* begin() const { return data(); }
  const T* end() const { return data() + size_; }
  const T& operator[](uint32_t i) const { return data()[i]; }
  operator std::span<const T>() const { return {data(), size_}; }  // NOLINT(google-explicit-constructor)

  void push_back(const T& v) {
    if (size_ == cap_) grow(cap_ < 4 ? 4 : cap_ + cap_ / 2);
    data()[size_++] = v;
  }
  // Removes the values for which pred(v) holds (keeping the others' order).
  template <typename Pred>
  void erase_if(Pred pred) {
    T* d = data();
    size_ = static_cast<uint32_t>(std::remove_if(d, d + size_, pred) - d);
  }
  // Gives back unused capacity (back in place when one value or none is left).
  void shrink_to_fit() {
    if (cap_ != 1 && size_ < cap_) grow(size_);
  }

 private:
  union U {
    T one;
    T* many;
    U() : many(nullptr) {}
  };

  void release() {
    if (cap_ != 1) delete[] u_.many;
    size_ = 0, cap_ = 1;
  }
  void assign(const T* src, uint32_t n) {
    if (n > 1) {
      u_.many = new T[n];
      cap_ = n;
    }
    if (n > 0) std::memcpy(static_cast<void*>(data()), src, n * sizeof(T));
    size_ = n;
  }
  // Moves the values to storage for `cap` of them (cap >= size_; 0 or 1: in place).
  void grow(uint32_t cap) {
    if (cap <= 1) {
      if (cap_ == 1) return;
      T* old = u_.many;
      if (size_ == 1) u_.one = old[0];
      delete[] old;
      cap_ = 1;
      return;
    }
    T* fresh = new T[cap];
    if (size_ > 0) std::memcpy(static_cast<void*>(fresh), data(), size_ * sizeof(T));
    if (cap_ != 1) delete[] u_.many;
    u_.many = fresh;
    cap_ = cap;
  }

  U u_;
  uint32_t size_ = 0;
  uint32_t cap_ = 1;  // 1: the value (if any) is in place
};

}  // namespace moecode::workspace
