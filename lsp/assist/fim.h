// Fill-in-the-middle prompts: which format a model understands, and the prompt for a context.
// The format comes from the GGUF's FIM token ids when present (tokenizer.ggml.fim_*), else from
// the control tokens of a known family (Qwen2.5-Coder / StarCoder2 "<|fim_prefix|>",
// StarCoder "<fim_prefix>", DeepSeek-Coder "<｜fim▁begin｜>", CodeLlama "▁<PRE>", Codestral
// "[SUFFIX]"), else prefix-only (a plain continuation; e.g. SmolLM2 has no FIM tokens).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "lsp/assist/context.h"
#include "lsp/assist/generator.h"

namespace moecode::assist {

struct FimFormat {
  enum class Order {
    kPrefixOnly,  // prefix, continue
    kPsm,         // <pre> prefix <suf> suffix <mid>
    kSpm,         // <suf> suffix <pre> prefix   (Codestral)
  };
  Order order = Order::kPrefixOnly;
  std::string name;  // "gguf", "qwen", "starcoder", "deepseek", "codellama", "codestral", "prefix-only"
  std::string prefix, suffix, middle;  // special token texts
  std::string file_sep;                // repository-level separator token, or ""
  std::vector<std::string> stop_special;  // control tokens that end the middle
};

FimFormat detect_fim_format(const Generator& generator);

// The prompt for `ctx`: snippets first (as file_sep blocks, or as comments in the text), then
// the format's arrangement of prefix and suffix.
Prompt render_prompt(const FimFormat& format, const CompletionContext& ctx);

// The line-comment marker of a language id ("#", "//", "--"...).
std::string line_comment(const std::string& language_id);

}  // namespace moecode::assist
