// The engine's Tokenizer built from a vocabulary (VocabData): byte-level BPE ("gpt2"),
// BPE over SentencePiece-style texts ("gemma4"), SentencePiece ("llama") or WordPiece ("bert"), with llama.cpp's handling of
// special tokens, BOS/EOS and end-of-generation tokens. Immutable after build; every
// method is const and thread-safe.
#pragma once

#include <memory>

#include "engine/tokenizer/vocab.h"
#include "moecode/engine/result.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::tokenizer {

// Validates `vocab` (counts, ids, merges, known model and pre-tokenizer) and builds the
// tokenizer. Errors name the offending key and value.
Result<std::shared_ptr<const engine::Tokenizer>> build_tokenizer(VocabData vocab);

}  // namespace moecode::tokenizer
