// The tokenizer's input: a vocabulary as GGUF metadata describes it (tokenizer.ggml.*),
// held in memory so that the tokenizers can be built from a GGUF file or from a test's
// own data. Plain data; thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace moecode::tokenizer {

// tokenizer.ggml.token_type values (llama.cpp's llama_token_type).
enum class TokenType : int32_t {
  kUndefined = 0,
  kNormal = 1,
  kUnknown = 2,
  kControl = 3,
  kUserDefined = 4,
  kUnused = 5,
  kByte = 6,
};

// Per-token attribute bits derived from the type, the model family and known token texts.
enum TokenAttr : uint32_t {
  kAttrUnknown = 1u << 0,
  kAttrUnused = 1u << 1,
  kAttrNormal = 1u << 2,
  kAttrControl = 1u << 3,
  kAttrUserDefined = 1u << 4,
  kAttrByte = 1u << 5,
  kAttrLstrip = 1u << 7,  // matched special text eats the whitespace before it
  kAttrRstrip = 1u << 8,  // ... or after it
};

struct VocabData {
  std::string model;  // tokenizer.ggml.model: "gpt2", "gemma4", "llama", "bert"
  std::string pre;    // tokenizer.ggml.pre (may be empty)
  std::string general_name;  // general.name (some families set token attributes by it)
  std::string architecture;  // general.architecture

  std::vector<std::string> tokens;  // tokenizer.ggml.tokens
  std::vector<float> scores;        // tokenizer.ggml.scores (empty: all 0)
  std::vector<int32_t> types;       // tokenizer.ggml.token_type (empty: all normal)
  std::vector<std::string> merges;  // tokenizer.ggml.merges ("left right")

  // Special token ids as stored (range-checked when the tokenizer is built).
  std::optional<int64_t> bos, eos, eot, eom, unk, sep, pad, mask;
  std::optional<int64_t> fim_pre, fim_suf, fim_mid, fim_pad, fim_rep, fim_sep;

  std::optional<bool> add_bos, add_eos, add_sep, add_space_prefix;
  std::optional<bool> remove_extra_whitespaces;
  std::optional<bool> normalizer_lowercase, normalizer_strip_accents;  // WordPiece
};

}  // namespace moecode::tokenizer
