// SentencePiece-style BPE (tokenizer.ggml.model = "llama"): characters merge pairwise by
// the score of the merged token (highest first, leftmost among equals); pieces that are no
// token fall back to byte tokens <0xXX>. Thread-safe (no shared mutable state).
#pragma once

#include <span>
#include <string_view>
#include <vector>

#include "engine/tokenizer/token_index.h"

namespace moecode::tokenizer {

// Tokenizes `text` (spaces already escaped as U+2581) and appends the ids to *out.
// `byte_tokens[b]` is the token of byte b (kNoToken if the vocabulary lacks it).
void spm_encode(const TokenIndex& index, std::span<const float> scores,
                std::span<const engine::Token, 256> byte_tokens, std::string_view text,
                std::vector<engine::Token>* out);

}  // namespace moecode::tokenizer
