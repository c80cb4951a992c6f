// Asking a model for fix, translate and review, and reading its answer safely:
//   - ask(): a chat through the Generator, with a loop detector watching the stream;
//     DeepSeek-R1-style reasoning ("<think>...</think>") is split off the answer, so it never
//     reaches an edit, a file or a finding (callers may print it on request);
//   - LoopDetector: stops a generation whose tail repeats a cycle of words and punctuation (R1-family models
//     loop on about 2 % of queries);
//   - code_blocks(): the fenced code of an answer (or the whole answer when it has no fence);
//   - cjk_in_code(): the mixed-language guard: CJK characters in code (not in comments or
//     strings) written for an English-language context.
// Pure functions and per-call objects; thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "lsp/assist/generator.h"
#include "moecode/engine/result.h"

namespace moecode::assist {

struct LoopOptions {
  // Units are words and single punctuation characters ("a.b(c)" is 6 units).
  size_t max_period = 200;   // longest cycle looked for, in units
  int min_repeats = 3;       // a cycle must occur this many times in a row...
  size_t min_words = 64;     // ...and cover at least this many units
};

class LoopDetector {
 public:
  explicit LoopDetector(LoopOptions options = {});
  // Feeds generated text (any split); returns true once the text ends in a repeated cycle.
  bool feed(std::string_view piece);
  void finish();  // feeds the word still being read, at the end of the text
  bool looped() const { return looped_; }
  // "a cycle of 12 words repeated 4 times: 'the answer is ...'" ("" until looped).
  const std::string& description() const { return description_; }

 private:
  void push_word();
  void check();

  LoopOptions options_;
  std::string word_;
  std::vector<uint64_t> hashes_;
  std::vector<std::string> words_;  // for the description (kept short)
  bool looped_ = false;
  std::string description_;
};

// True when `text` ends in a loop (LoopDetector over the whole text); `description` gets why.
bool ends_in_loop(std::string_view text, std::string* description = nullptr, LoopOptions options = {});

struct AskOptions {
  GenerationOptions generation;
  bool detect_loops = true;
};

struct Answer {
  std::string text;       // the answer, reasoning removed
  std::string reasoning;  // what was inside <think>...</think> ("" when none)
  bool looped = false;    // the loop detector stopped the generation
  std::string loop;       // its description
  Generation generation;  // counts and timings
};

// Runs a chat and splits the reasoning off its answer. Errors: the generator's (a cancelled
// request gives ErrorCode::kCancelled).
Result<Answer> ask(Generator& generator, const std::vector<ChatMessage>& messages, const AskOptions& options,
                   const CancelToken& cancel);

struct CodeBlock {
  std::string language;  // the fence's info string ("python"), "" when none
  std::string code;      // ends with '\n' unless empty
  bool fenced = false;   // false: the whole answer, which had no fence
  bool closed = true;    // false: the fence was never closed (a cut-off answer)
};

// The code blocks of an answer in order; an answer without any fence is one unfenced block.
std::vector<CodeBlock> code_blocks(std::string_view answer);

// The block to use for `grammar`: the first whose info string names the language (or its
// usual aliases), else the first block. nullopt when the answer holds no code at all.
std::optional<CodeBlock> pick_code(std::string_view answer, std::string_view grammar);

// True when `text` holds a CJK character (Han, kana, Hangul, CJK and full-width punctuation).
bool has_cjk(std::string_view text);

struct ForeignText {
  int line = 0;          // 1-based line in the code
  std::string fragment;  // the line, trimmed
};

// The first CJK character of `code` outside comments and string literals (per `grammar`'s
// parse; every character counts when the grammar is unknown), or nullopt.
std::optional<ForeignText> cjk_in_code(std::string_view grammar, std::string_view code);

}  // namespace moecode::assist
