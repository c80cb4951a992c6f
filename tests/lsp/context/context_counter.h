// Test helper: the token counter context tests use — the real tokenizer of the default
// model (SmolLM2-135M-Instruct, installed by scripts/setup into models/default.gguf or the
// model cache) — and the token sequence it gives a text (for common-prefix measurements).
// Tests fail, never skip, when the default model is missing. For tests only.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "lsp/cli/model_path.h"
#include "lsp/context/token_counter.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::testing {

// The default model that scripts/setup installs (never $MOECODE_MODEL: these tests are
// about that model's tokenizer), or "" when it is not installed.
inline std::string default_model_path() {
  namespace fs = std::filesystem;
  for (const fs::path& p : {fs::path(MOECODE_SOURCE_DIR) / "models" / "default.gguf",
                            fs::path(cli::model_cache_dir()) / "default.gguf"}) {
    if (fs::is_regular_file(p)) return p.string();
  }
  return {};
}

// The default model's tokenizer, loaded once; null when the model is missing or unreadable.
inline std::shared_ptr<const engine::Tokenizer> default_tokenizer() {
  static const std::shared_ptr<const engine::Tokenizer> tok = []() -> std::shared_ptr<const engine::Tokenizer> {
    const std::string path = default_model_path();
    if (path.empty()) return nullptr;
    auto t = engine::Tokenizer::load(path);
    return t.ok() ? std::move(t).value() : nullptr;
  }();
  return tok;
}

// The counter of the context tests: exact counts from the default model's tokenizer
// (null when it is missing: tests ASSERT on it with setup_hint()).
inline const context::TokenCounter* context_counter() {
  static const std::unique_ptr<context::TokenizerCounter> counter =
      default_tokenizer() ? std::make_unique<context::TokenizerCounter>(default_tokenizer(), "default model")
                          : nullptr;
  return counter.get();
}

inline std::string setup_hint() {
  return "the default model is not installed (looked in " + std::string(MOECODE_SOURCE_DIR) +
         "/models/default.gguf and " + cli::model_cache_dir() + "/default.gguf): run scripts/setup";
}

// The token ids of `text` as they appear in a prompt (special-token text parsed, as the
// counter counts it).
inline std::vector<engine::Token> context_tokens(std::string_view text) {
  return default_tokenizer()->encode(text, /*add_special=*/false, /*parse_special=*/true);
}

}  // namespace moecode::testing
