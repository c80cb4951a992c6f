// grammars/lexer_prelude.h: the generated lexers' set_contains() with an ASCII fast path
// gives the grammar's own answer for every character, and identifiers outside ASCII still
// lex as identifiers in the grammars it is compiled into.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

// The C++ grammar's parser.h (its src/ is on this file's include path), then the prelude:
// the same order the grammars' parser.c files see.
#include "tree_sitter/parser.h"
#include "grammars/lexer_prelude.h"
#include "lsp/workspace/tags.h"

namespace moecode {
namespace {

// Sorted, disjoint ranges over [0, limit), as a generated grammar writes them.
std::vector<TSCharacterRange> random_set(std::mt19937& rng, int n_ranges, int32_t limit) {
  std::vector<int32_t> cuts;
  std::uniform_int_distribution<int32_t> pick(0, limit - 1);
  while (static_cast<int>(cuts.size()) < 2 * n_ranges) cuts.push_back(pick(rng));
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  std::vector<TSCharacterRange> set;
  for (size_t i = 0; i + 1 < cuts.size(); i += 2) {
    // Gaps of at least one character between ranges (a generator merges touching ones).
    if (!set.empty() && cuts[i] <= set.back().end + 1) continue;
    set.push_back({cuts[i], cuts[i + 1]});
  }
  if (set.empty()) set.push_back({'a', 'z'});
  return set;
}

void expect_same_answers(const std::vector<TSCharacterRange>& set, const std::string& what) {
  auto* ranges = const_cast<TSCharacterRange*>(set.data());
  const auto n = static_cast<uint32_t>(set.size());
  int differences = 0;
  auto check = [&](int32_t c) {
    // (set_contains) is the grammar's own function: the parentheses keep the macro out.
    const bool own = (set_contains)(ranges, n, c);
    const bool fast = set_contains(ranges, n, c);
    if (own != fast && ++differences <= 5) ADD_FAILURE() << what << ": character " << c << ": own " << own;
  };
  for (int32_t c = -1; c < 0x3000; ++c) check(c);
  for (int32_t c = 0x3000; c < 0x110000; c += 97) check(c);
  for (const auto& r : set) {
    for (int32_t c : {r.start - 1, r.start, r.end, r.end + 1}) check(c);
  }
  EXPECT_EQ(differences, 0) << what;
}

TEST(LexerPrelude, AnswersAsTheGrammarsOwnSearchForEveryCharacter) {
  std::mt19937 rng(20261207);
  // An identifier set like the generated ones: ASCII letters, digits, '_', then Unicode.
  std::vector<TSCharacterRange> ident = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}, {0xaa, 0xaa},
                                         {0xb5, 0xb5}, {0xc0, 0xd6}, {0xd8, 0xf6}, {0xf8, 0x2c1}};
  expect_same_answers(ident, "identifier-like");
  expect_same_answers({{'a', 'a'}}, "one character");
  expect_same_answers({{0, 0x10ffff}}, "everything");
  expect_same_answers({{0x61, 0x200}}, "a range across the ASCII limit");
  expect_same_answers({{0x100, 0x200}, {0x300, 0x400}}, "no ASCII at all");
  for (int round = 0; round < 40; ++round) {
    const int n = 1 + round * 20;
    expect_same_answers(random_set(rng, n, 256), "dense near ASCII, " + std::to_string(n));
    expect_same_answers(random_set(rng, n, 0x110000), "Unicode-wide, " + std::to_string(n));
  }
}

TEST(LexerPrelude, IdentifiersOutsideAsciiStillLexAsIdentifiers) {
  workspace::TagExtractor extractor;
  struct Case {
    const char* language;
    std::string text;
    std::string name;
  };
  const std::vector<Case> cases = {
      {"cpp", "struct \xCE\xA9mega { int x; };\nint caf\xC3\xA9(int a) { return a; }\n", "caf\xC3\xA9"},
      {"cpp", "struct \xCE\xA9mega { int x; };\n", "\xCE\xA9mega"},
      {"c", "static int \xE5\x80\xBC_total(void) { return 0; }\n", "\xE5\x80\xBC_total"},
      {"python", "def \xC3\xA9t\xC3\xA9(x):\n    return x\n", "\xC3\xA9t\xC3\xA9"},
      {"rust", "fn gr\xC3\xB6\xC3\x9F" "e() -> u32 { 1 }\n", "gr\xC3\xB6\xC3\x9F" "e"},
  };
  for (const auto& c : cases) {
    const grammars::Language* lang = grammars::language_by_name(c.language);
    ASSERT_NE(lang, nullptr) << c.language;
    workspace::FileSymbols syms;
    auto tree = extractor.parse(*lang, c.text, nullptr, {}, &syms);
    ASSERT_TRUE(tree.ok()) << c.language;
    EXPECT_FALSE(syms.has_errors) << c.language << ": " << c.text;
    bool found = false;
    for (const auto& d : syms.definitions) found = found || d.name.str() == c.name;
    EXPECT_TRUE(found) << c.language << ": no definition named " << c.name;
  }
}

}  // namespace
}  // namespace moecode
