// Pre-tokenization of BPE models: the split patterns of each
// tokenizer.ggml.pre family (applied in sequence, each to every piece of the previous
// one; matches and the text between them both become pieces, as Hugging Face's
// "Isolated" splits do), compiled with PCRE2 (UTF + UCP, JIT).
// A RegexSplitter is immutable after create(); split() is thread-safe (per-thread match
// data and JIT stack).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "moecode/engine/result.h"

namespace moecode::tokenizer {

struct PreTokenizerSpec {
  std::string family;                // canonical name, e.g. "llama3" for "llama-bpe"
  std::vector<std::string> patterns;  // PCRE2 syntax, applied in order
  bool ignore_merges = false;         // a whole pre-token that is in the vocabulary wins
  bool default_add_bos = false;       // add_bos when the file does not say
  // SentencePiece-style BPE (llama.cpp's "gemma4"): token texts are raw UTF-8, not GPT-2
  // bytes; spaces are written U+2581 before splitting; a pre-token made only of newlines
  // is taken whole when it is a token; BOS is added whatever the file says.
  bool raw_utf8 = false;
  bool escape_spaces = false;
  bool whole_newline_runs = false;
  bool force_add_bos = false;
};

// The spec of a tokenizer.ggml.pre name ("" and "default" give the default patterns).
Result<PreTokenizerSpec> find_pre_tokenizer(std::string_view name);
// Every name find_pre_tokenizer() accepts.
std::vector<std::string> pre_tokenizer_names();

struct Span {
  uint32_t offset;
  uint32_t length;
};

class RegexSplitter {
 public:
  static Result<std::unique_ptr<RegexSplitter>> create(const std::vector<std::string>& patterns);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Splits well-formed UTF-8 `text` (at most 4 GiB) into consecutive non-empty pieces that
  // cover it exactly; appends them to *out (offsets relative to `text`).
  void split(std::string_view text, std::vector<Span>* out) const;

 private:
  struct Pattern;
  RegexSplitter() = default;
  std::vector<std::unique_ptr<Pattern>> patterns_;
};

}  // namespace moecode::tokenizer
