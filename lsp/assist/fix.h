// Fix: a diagnostic (or a selection and an instruction) -> the model rewrites the enclosing
// definition (tree-sitter) with the definitions it uses as context (a ContextProvider: lsp/context
// in the server and the CLI) -> a minimal edit, validated before anyone sees it:
//   - the answer's code comes from its fenced block; reasoning and loops never become code;
//   - code with CJK characters outside comments and strings, for a file that has none, is
//     resampled once, then refused;
//   - the edited file must not parse worse than before (ERROR/MISSING nodes); an answer that
//     does is retried once with the parser's message, then refused;
//   - the edit is a line diff of the enclosing definition (plus imports the fix adds at the
//     top of the file), never a rewrite of the whole file.
// Protocol-free: the LSP code actions and `moecode fix` share it.
// Threading: a Fixer is thread-compatible (the scheduler's worker, or the CLI's thread).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "lsp/assist/answer.h"
#include "lsp/assist/context.h"
#include "lsp/assist/generator.h"
#include "lsp/assist/line_diff.h"
#include "lsp/assist/syntax.h"

namespace moecode::assist {

struct FixRequest {
  std::string path;         // the file, for the context provider ("" when the document has none)
  std::string display_path; // how prompts name it: relative to the workspace ("" = path's file name)
  std::string uri;
  std::string language_id;  // an LSP language id or a grammar name
  std::shared_ptr<const std::string> text;
  size_t start = 0;         // byte range of the diagnostic, or the selection
  size_t end = 0;
  std::string message;      // the diagnostic's message (a fix)
  std::string instruction;  // what to do with the selection (a rewrite); "" for a fix
  bool rewrite_selection = false;  // the target is the selection's lines, not the definition
  int max_tokens = 768;
  float temperature = 0.0f;
  int context_budget = 768;  // tokens of repository context
};

struct FixResult {
  std::vector<TextEdit> edits;  // into the request's text: sorted, non-overlapping
  std::string new_text;         // the whole document after the edits
  std::string target;           // what was rewritten: "function 'area' (lines 3-9)"
  std::string title;            // a short label for the edit ("Fix: undefined name 'math'")
  std::string reasoning;        // the model's <think> text, if any (never in the edit)
  int problems_before = 0;      // ERROR + MISSING nodes in the document
  int problems_after = 0;
  int n_attempts = 0;
  std::vector<std::string> notes;  // what happened on the way (retries, refused candidates)
  Generation generation;        // of the last attempt
};

class Fixer {
 public:
  // `provider` (may be null) supplies definitions from other files. Both must outlive the Fixer.
  Fixer(Generator& generator, ContextProvider* provider);

  // Errors: an unsupported language, a bad range, cancellation (ErrorCode::kCancelled), and
  // every refusal (ErrorCode::kUnavailable with the reason: no code in the answer, a loop, an
  // edit that parses worse, no change, mixed-language code).
  Result<FixResult> fix(const FixRequest& request, const CancelToken& cancel);

 private:
  Generator& generator_;
  ContextProvider* provider_;
};

}  // namespace moecode::assist
