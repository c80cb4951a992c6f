// Interned identifiers: the names of definitions, their containers and references.
//
// A workspace repeats a small set of identifiers many times (/usr/include: 4.4M references
// and 1.1M definitions over a few hundred thousand distinct names), so the index keeps each
// distinct name once, in a process-wide pool that is never freed, and every occurrence
// holds an 8-byte handle to it. Equal names share one handle: comparing two Names compares
// pointers, and they hash by address.
//
// Thread-safety: Name::intern and Name::find are thread-safe (the pool is sharded, each
// shard behind its own mutex); a Name is an immutable value readable from any thread.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace moecode::workspace {

class Name {
 public:
  // The empty name.
  Name();
  // Interns `text` (implicit: assigning a string or a literal to a Name interns it).
  Name(std::string_view text);                                // NOLINT(google-explicit-constructor)
  Name(const std::string& text) : Name(std::string_view(text)) {}  // NOLINT
  Name(const char* text) : Name(std::string_view(text)) {}         // NOLINT

  // The interned Name equal to `text`, if some Name with that text exists (interns
  // nothing: lookups with strings that no file contains leave the pool as it is).
  static std::optional<Name> find(std::string_view text);

  std::string_view view() const { return {entry_->text(), entry_->size}; }
  operator std::string_view() const { return view(); }  // NOLINT(google-explicit-constructor)
  std::string str() const { return std::string(view()); }
  const char* data() const { return entry_->text(); }
  size_t size() const { return entry_->size; }
  bool empty() const { return entry_->size == 0; }

  friend bool operator==(Name a, Name b) { return a.entry_ == b.entry_; }
  friend bool operator==(Name a, std::string_view b) { return a.view() == b; }
  friend bool operator==(Name a, const std::string& b) { return a.view() == b; }
  friend bool operator==(Name a, const char* b) { return a.view() == b; }
  friend std::strong_ordering operator<=>(Name a, Name b) {
    return a.entry_ == b.entry_ ? std::strong_ordering::equal : a.view() <=> b.view();
  }
  friend std::strong_ordering operator<=>(Name a, std::string_view b) { return a.view() <=> b; }

  // Hash of the handle (equal names are one handle).
  size_t hash() const noexcept { return std::hash<const void*>{}(entry_); }

  // Pool figures, for the index's statistics and tests.
  struct PoolStats {
    uint64_t n_names = 0;  // distinct names
    uint64_t n_bytes = 0;  // bytes held by the pool (text, headers, tables)
  };
  static PoolStats pool_stats();

  // A pooled name: the header, then `size` bytes of text and a NUL.
  struct Entry {
    uint32_t size;
    const char* text() const { return reinterpret_cast<const char*>(this) + sizeof(Entry); }
  };

 private:
  explicit Name(const Entry* e) : entry_(e) {}
  const Entry* entry_;
};

}  // namespace moecode::workspace

template <>
struct std::hash<moecode::workspace::Name> {
  // noexcept and cheap: std::unordered_map keeps no hash code in its nodes (8 bytes a node).
  size_t operator()(moecode::workspace::Name n) const noexcept { return n.hash(); }
};

// fmt prints a Name as its text.
template <>
struct fmt::formatter<moecode::workspace::Name> : fmt::formatter<std::string_view> {
  template <typename Ctx>
  auto format(moecode::workspace::Name n, Ctx& ctx) const {
    return fmt::formatter<std::string_view>::format(n.view(), ctx);
  }
};
