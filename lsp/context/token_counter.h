// Token counting for context packing. The packer only needs "how many tokens is this
// text"; TokenizerCounter gives exact counts from the model's tokenizer (the engine's
// Tokenizer), CachingCounter memoises any counter (the same lines and snippets are
// counted again on every keystroke), HeuristicCounter is a deterministic stand-in for
// when no model is at hand (it is not exact for any model).
// All counters are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <memory>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "moecode/engine/tokenizer.h"

namespace moecode::context {

class TokenCounter {
 public:
  virtual ~TokenCounter() = default;
  // Tokens of `text` as the model would see it inside a prompt (no BOS/EOS added).
  virtual size_t count(std::string_view text) const = 0;
  // A short description for reports ("tokenizer of model X", "heuristic").
  virtual std::string_view name() const = 0;
};

// Exact counts from the engine's tokenizer. Special-token text in the input (a file
// separator like "<|file_sep|>") counts as that one special token, as in the final prompt.
class TokenizerCounter : public TokenCounter {
 public:
  TokenizerCounter(std::shared_ptr<const engine::Tokenizer> tokenizer, std::string name)
      : tokenizer_(std::move(tokenizer)), name_(std::move(name)) {}
  size_t count(std::string_view text) const override {
    return text.empty() ? 0 : tokenizer_->encode(text, /*add_special=*/false, /*parse_special=*/true).size();
  }
  std::string_view name() const override { return name_; }
  const engine::Tokenizer& tokenizer() const { return *tokenizer_; }

 private:
  std::shared_ptr<const engine::Tokenizer> tokenizer_;
  std::string name_;
};

// A deterministic approximation: a run of letters, digits, underscores and non-ASCII bytes
// costs one token per 4 bytes (rounded up), a run of spaces or tabs one token, every other
// byte (newlines, punctuation) one token. For tests and model-less runs only.
class HeuristicCounter : public TokenCounter {
 public:
  size_t count(std::string_view text) const override;
  std::string_view name() const override { return "heuristic (no tokenizer)"; }
};

// Memoises another counter by text content (64-bit hash + length), keeping at most
// `capacity` entries (least recently used go first).
class CachingCounter : public TokenCounter {
 public:
  explicit CachingCounter(const TokenCounter& inner, size_t capacity = 1 << 16)
      : inner_(inner), capacity_(capacity) {}
  size_t count(std::string_view text) const override;
  std::string_view name() const override { return inner_.name(); }
  size_t hits() const;
  size_t misses() const;

 private:
  struct Key {
    uint64_t hash;
    size_t size;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return static_cast<size_t>(k.hash ^ (k.size * 0x9E3779B97F4A7C15ull)); }
  };
  const TokenCounter& inner_;
  size_t capacity_;
  mutable std::mutex mu_;
  mutable std::list<std::pair<Key, size_t>> lru_;  // front: most recent
  mutable std::unordered_map<Key, std::list<std::pair<Key, size_t>>::iterator, KeyHash> map_;
  mutable size_t hits_ = 0, misses_ = 0;
};

// 64-bit FNV-1a with a final mix; stable across runs.
uint64_t text_hash(std::string_view text);

}  // namespace moecode::context
