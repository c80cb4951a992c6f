// Finding the model file a command runs: -m/--model, else $MOECODE_MODEL, else
// models/default.gguf under the current directory, else the cache that scripts/setup
// fills ($XDG_CACHE_HOME/moecode/models/default.gguf, default ~/.cache/...). Thread-safe.
#pragma once

#include <string>

#include "moecode/engine/result.h"

namespace moecode::cli {

// The cache directory for models: $XDG_CACHE_HOME/moecode/models or ~/.cache/moecode/models.
std::string model_cache_dir();

// Resolves the model path; `explicit_path` is the -m value (may be empty). A missing
// model gives an error that says to run scripts/setup or pass -m.
Result<std::string> resolve_model_path(const std::string& explicit_path);

}  // namespace moecode::cli
