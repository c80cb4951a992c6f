// Translate: a source file into another language, unit by unit (the imports, then each top-level
// definition or statement in source order; tree-sitter finds them), with the units already
// translated as the model's context. Each unit's answer must parse in the target grammar, else it
// is asked again once with the parser's message; a unit that still fails (or loops, or writes
// CJK in code for an English-language file) goes into the output as a commented-out original
// under a "could not translate" note, so the file always parses, and the result lists it.
// Protocol-free: `moecode translate` and the LSP command share it. Writing the file (inside the
// workspace only) is the caller's job.
// Threading: thread-compatible.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "lsp/assist/answer.h"
#include "lsp/assist/generator.h"
#include "lsp/assist/syntax.h"

namespace moecode::assist {

struct TranslateRequest {
  std::string path;         // the source file (for prompts and notes)
  std::string language_id;  // the source's LSP language id or grammar name
  std::string text;
  std::string target;       // the target language: a grammar name or an alias ("js", "c++")
  int max_tokens_per_unit = 1024;
  float temperature = 0.0f;
  int context_tokens = 1536;  // of already translated code, shown to the model
};

struct TranslatedUnit {
  std::string kind;  // "imports", "definition", "statement"
  std::string name;
  int first_line = 0;  // in the source
  int last_line = 0;
  bool ok = false;
  int attempts = 0;
  std::string error;  // why it failed ("" when ok)
  std::string code;   // its translation ("" when it failed)
};

struct TranslateResult {
  std::string source_grammar;
  std::string target_grammar;
  std::string code;  // the whole translated file
  std::vector<TranslatedUnit> units;
  int n_failed = 0;
  SyntaxReport syntax;    // of `code` in the target grammar
  std::string reasoning;  // the model's <think> text, all units (never in `code`)
  int n_prompt_tokens = 0;
  int n_generated_tokens = 0;
};

// Called before each unit: (index, count, the unit).
using TranslateProgress = std::function<void(size_t index, size_t count, const TranslatedUnit& unit)>;

// The grammar name for a target given by the user ("js", "JavaScript", "c++", "rust"); "" when
// moecode has no grammar for it.
std::string target_grammar(std::string_view name);

class Translator {
 public:
  explicit Translator(Generator& generator);  // must outlive the Translator

  // Errors: an unknown source or target language, a source that does not parse at all,
  // cancellation. Units that fail are not errors: see TranslateResult::units.
  Result<TranslateResult> translate(const TranslateRequest& request, const CancelToken& cancel,
                                    const TranslateProgress& progress = nullptr);

 private:
  Generator& generator_;
};

}  // namespace moecode::assist
