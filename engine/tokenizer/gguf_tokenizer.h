// Tokenizers from GGUF metadata (tokenizer.ggml.*, general.name/architecture); tensor data
// is never read. The model loader calls tokenizer_from_gguf() on the GgufFile it already
// opened; Tokenizer::load() opens the file itself. Thread-safe (no shared state).
#pragma once

#include <memory>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/vocab.h"
#include "moecode/engine/result.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::tokenizer {

// The vocabulary keys of `file`. Errors name the key and the offending value.
Result<VocabData> read_vocab(const gguf::GgufFile& file);

// read_vocab() + build_tokenizer(); errors are prefixed with the file's path.
Result<std::shared_ptr<const engine::Tokenizer>> tokenizer_from_gguf(const gguf::GgufFile& file);

}  // namespace moecode::tokenizer
