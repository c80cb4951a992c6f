// WordPiece (tokenizer.ggml.model = "bert"): BERT normalization as llama.cpp does it
// (optional lowercase, and accent stripping that keeps the first code point of each
// character's canonical decomposition; control characters dropped), splitting on whitespace,
// punctuation and CJK ideographs, then greedy longest-match per word against the
// vocabulary, whose word-initial pieces carry a U+2581 prefix. Thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "engine/tokenizer/token_index.h"

namespace moecode::tokenizer {

struct WordPieceOptions {
  bool lowercase = true;
  bool strip_accents = true;
  engine::Token unk = engine::kNoToken;
};

// The words of `text` after normalization (exposed for tests).
std::vector<std::string> wpm_words(std::string_view text, const WordPieceOptions& options);

void wpm_encode(const TokenIndex& index, const WordPieceOptions& options, std::string_view text,
                std::vector<engine::Token>* out);

}  // namespace moecode::tokenizer
