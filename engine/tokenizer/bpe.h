// Byte-level BPE (tokenizer.ggml.model = "gpt2"): merges by rank over the bytes of one
// pre-token, lowest rank first and leftmost first among equal ranks, as Hugging Face and
// llama.cpp do. Token texts use GPT-2's byte alphabet; they are decoded to raw bytes once
// at build time so that merging works on bytes and symbol ids.
// A BpeModel is immutable after build(); encode_word() is thread-safe (per-thread scratch
// space and word cache).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "moecode/engine/result.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::tokenizer {

// Empties the calling thread's word cache (benchmarks measure cold tokenization with it).
void clear_bpe_word_cache();

class BpeModel {
 public:
  // `tokens` are the vocabulary texts (byte alphabet); `merges` are "left right" pairs in
  // rank order. Tokens whose text is not in the byte alphabet (e.g. added tokens written
  // as raw UTF-8) take no part in merging.
  static Result<std::unique_ptr<BpeModel>> build(const std::vector<std::string>& tokens,
                                                 const std::vector<std::string>& merges,
                                                 bool ignore_merges);

  // Appends the tokens of one pre-token (raw bytes) to *out.
  void encode_word(std::string_view word, std::vector<engine::Token>* out) const;

  // The raw bytes of token `id` if its text is in the byte alphabet (else nullptr).
  const std::string* token_bytes(engine::Token id) const;

  size_t n_merges() const { return n_merges_; }

 private:
  struct MergeEntry {
    uint64_t key = ~0ull;  // (left sym << 32) | right sym; ~0 marks an empty slot
    int32_t rank = 0;
    int32_t result = 0;
  };

  BpeModel() = default;
  const MergeEntry* find_merge(int32_t left, int32_t right) const;
  void merge_word(std::string_view word, std::vector<engine::Token>* out) const;

  int32_t n_vocab_ = 0;
  size_t n_merges_ = 0;
  bool ignore_merges_ = false;
  uint64_t serial_ = 0;  // distinguishes models in the per-thread cache
  std::deque<std::string> sym_bytes_;  // symbol id -> raw bytes (ids < n_vocab_ are tokens); stable
                                       // element addresses for the views in bytes_to_sym_
  std::vector<uint8_t> sym_is_token_;  // token ids whose text decodes to bytes
  std::unordered_map<std::string_view, int32_t> bytes_to_sym_;  // tokens and merge symbols
  int32_t byte_sym_[256] = {};
  std::vector<MergeEntry> merge_table_;  // open addressing, power-of-two size
  uint64_t merge_mask_ = 0;
};

}  // namespace moecode::tokenizer
