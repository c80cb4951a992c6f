// Force-included (-include) ahead of a generated grammar's parser.c, after the grammar's own
// src/ on the include path. It includes the grammar's tree_sitter/parser.h first (its include
// guard then makes parser.c's own #include a no-op) and routes the lexer's character-set
// tests through an ASCII fast path.
//
// A generated lexer tests "is this character an identifier character?" with
// set_contains(ranges, n, c): a binary search over the grammar's sorted, disjoint Unicode
// ranges (670 for C++), i.e. ten unpredictable branches for every character of every
// identifier. Source code is mostly ASCII, and the ASCII ranges are the first few of each
// set: scanning them in order answers in a handful of well-predicted steps. Other
// characters keep the grammar's own binary search. Same answers: LexerPrelude tests in
// grammars_tags_test compare the two on every character, over many sets.
#ifndef MOECODE_GRAMMARS_LEXER_PRELUDE_H_
#define MOECODE_GRAMMARS_LEXER_PRELUDE_H_

#include "tree_sitter/parser.h"

static inline bool moecode_set_contains(const TSCharacterRange* ranges, uint32_t len, int32_t c) {
  if (c >= 0 && c < 128) {
    for (uint32_t i = 0; i < len && ranges[i].start <= c; ++i) {
      if (c <= ranges[i].end) return true;
    }
    return false;
  }
  return set_contains((TSCharacterRange*)ranges, len, c);
}

#define set_contains(ranges, len, c) moecode_set_contains((ranges), (len), (c))

#endif  // MOECODE_GRAMMARS_LEXER_PRELUDE_H_
