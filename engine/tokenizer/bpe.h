// BPE by merge rank over one pre-token, lowest rank first and leftmost first among equal
// ranks, as Hugging Face and llama.cpp do. Two symbol alphabets:
// - byte-level (tokenizer.ggml.model = "gpt2"): token texts use GPT-2's byte alphabet;
//   they are decoded to raw bytes once at build time, and merging starts from bytes;
// - raw UTF-8 ("gemma4", SentencePiece-style BPE): token texts are the bytes themselves,
//   merging starts from UTF-8 characters, and a piece that is no token falls back to the
//   <0xXX> byte tokens.
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

struct BpeOptions {
  // Token texts and merges in GPT-2's byte alphabet; false: raw UTF-8 (see above).
  bool byte_level = true;
  // A whole pre-token that is a token is taken as is, without merging.
  bool ignore_merges = false;
  // ... only where the pre-token is a run of newlines (llama.cpp's gemma4 rule).
  bool whole_newline_runs = false;
};

class BpeModel {
 public:
  // `tokens` are the vocabulary texts; `merges` are "left right" pairs in rank order.
  // Byte-level: tokens whose text is not in the byte alphabet (e.g. added tokens written
  // as raw UTF-8) take no part in merging.
  static Result<std::unique_ptr<BpeModel>> build(const std::vector<std::string>& tokens,
                                                 const std::vector<std::string>& merges,
                                                 const BpeOptions& options);

  // Appends the tokens of one pre-token (raw bytes) to *out.
  void encode_word(std::string_view word, std::vector<engine::Token>* out) const;

  // The raw bytes of token `id` if its text is in the symbol alphabet (else nullptr).
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
  // The symbol of one starting piece (a byte or a UTF-8 character), or -1 if it has none.
  int32_t start_sym(std::string_view piece) const;
  // Appends the byte tokens of `bytes`; bytes without a token are dropped (as llama.cpp).
  void append_bytes(std::string_view bytes, std::vector<engine::Token>* out) const;

  int32_t n_vocab_ = 0;
  size_t n_merges_ = 0;
  BpeOptions options_;
  uint64_t serial_ = 0;  // distinguishes models in the per-thread cache
  std::deque<std::string> sym_bytes_;  // symbol id -> raw bytes (ids < n_vocab_ are tokens); stable
                                       // element addresses for the views in bytes_to_sym_
  std::vector<uint8_t> sym_is_token_;  // token ids whose text decodes to bytes
  std::unordered_map<std::string_view, int32_t> bytes_to_sym_;  // tokens and merge symbols
  int32_t byte_sym_[256] = {};      // symbol of each single byte
  engine::Token byte_token_[256] = {};  // token of each byte for fallback, or -1
  std::vector<MergeEntry> merge_table_;  // open addressing, power-of-two size
  uint64_t merge_mask_ = 0;
};

}  // namespace moecode::tokenizer
