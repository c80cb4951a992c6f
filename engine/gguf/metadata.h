// Well-known GGUF metadata read in one place: special token ids and tokenizer flags.
// Used by the tokenizer, the model loader and `model info`. Thread-safe (pure functions).
#pragma once

#include "engine/gguf/gguf.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::gguf {

// tokenizer.ggml.*_token_id and add_bos/add_eos, as stored. Ids outside [0, n_vocab) are
// ignored like llama.cpp does (n_vocab = length of tokenizer.ggml.tokens, 0 to keep all);
// a key of the wrong type is an error.
Result<engine::SpecialTokens> read_special_tokens(const GgufFile& file, int64_t n_vocab);

// Length of tokenizer.ggml.tokens (0 if absent).
int64_t vocab_size(const GgufFile& file);

}  // namespace moecode::gguf
