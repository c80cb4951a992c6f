// Reading model answers: the loop detector and the mixed-language guard on model outputs of the
// shapes these failures take (tests/data/assist/outputs), code extraction, reasoning split off
// by ask(); and the tree-sitter facts (syntax problems, enclosing definitions, top-level units)
// and the line diff that fix and translate rest on.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "lsp/assist/answer.h"
#include "lsp/assist/line_diff.h"
#include "lsp/assist/scripted_generator.h"
#include "lsp/assist/syntax.h"

namespace moecode::assist {
namespace {

std::string output(const std::string& name) {
  std::ifstream in(std::string(MOECODE_TEST_DATA) + "/assist/outputs/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// ---- loops --------------------------------------------------------------------------------------

TEST(LoopDetectorTest, RecordedLoopsAreCaught) {
  std::string why;
  EXPECT_TRUE(ends_in_loop(output("r1_loop_in_think.txt"), &why));
  EXPECT_NE(why.find("repeated"), std::string::npos) << why;
  EXPECT_TRUE(ends_in_loop(output("loop_after_answer.txt"), &why));
  EXPECT_NE(why.find("Let me know"), std::string::npos) << why;
}

TEST(LoopDetectorTest, CodeWithSimilarLinesIsNotALoop) {
  for (const char* name : {"code_table_no_loop.txt", "code_similar_lines_no_loop.txt", "mixed_identifier.txt"}) {
    std::string why;
    EXPECT_FALSE(ends_in_loop(output(name), &why)) << name << ": " << why;
  }
  // A short repetition is fine: "0, 0, 0, 0" in an initialiser.
  EXPECT_FALSE(ends_in_loop("int zeros[8] = {0, 0, 0, 0, 0, 0, 0, 0};"));
  EXPECT_FALSE(ends_in_loop("if (a.b.c.d(e, f)) { return g[h][i]; }"));
}

TEST(LoopDetectorTest, ALoopWithoutSpacesIsCaughtToo) {
  // The default model once answered '{"1.1.1.1.1...' until max_tokens.
  std::string why;
  EXPECT_TRUE(ends_in_loop("[{\"line\": 3, \"message\": \"" + std::string(40, '1') + [] {
    std::string s;
    for (int i = 0; i < 60; ++i) s += "1.";
    return s;
  }(), &why));
  EXPECT_NE(why.find("a cycle of 2 words"), std::string::npos) << why;
}

TEST(LoopDetectorTest, StreamedInAnyPiecesStopsAtTheSamePoint) {
  const std::string text = output("r1_loop_in_think.txt");
  LoopDetector whole;
  size_t stop_whole = text.size();
  for (size_t i = 0; i < text.size(); ++i) {
    if (whole.feed(std::string_view(text).substr(i, 1))) {
      stop_whole = i;
      break;
    }
  }
  ASSERT_TRUE(whole.looped());
  LoopDetector chunked;
  size_t fed = 0;
  for (size_t i = 0; i < text.size(); i += 7) {
    fed = i;
    if (chunked.feed(std::string_view(text).substr(i, 7))) break;
  }
  EXPECT_TRUE(chunked.looped());
  EXPECT_LE(fed, stop_whole);
  EXPECT_GT(stop_whole + 7, fed);
  EXPECT_EQ(whole.description(), chunked.description());
}

TEST(AskTest, ReasoningNeverReachesTheAnswerAndALoopStopsTheGeneration) {
  Script script;
  script.replies.push_back({"think-case", "<think>The fix is ```python\nimport os\n``` maybe.</think>\n```python\nx = 1\n```"});
  script.replies.push_back({"loop-case", output("r1_loop_in_think.txt") + std::string(2000, 'x')});
  ScriptedGenerator g(script);
  AskOptions opt;
  opt.generation.max_tokens = 4096;
  auto a = ask(g, {{"user", "think-case"}}, opt, CancelToken());
  ASSERT_TRUE(a.ok()) << a.error().message();
  EXPECT_EQ(a->reasoning.find("import os") != std::string::npos, true);
  EXPECT_EQ(a->text.find("import os"), std::string::npos);
  auto code = pick_code(a->text, "python");
  ASSERT_TRUE(code);
  EXPECT_EQ(code->code, "x = 1\n");
  EXPECT_FALSE(a->looped);

  auto l = ask(g, {{"user", "loop-case"}}, opt, CancelToken());
  ASSERT_TRUE(l.ok());
  EXPECT_TRUE(l->looped);
  // Stopped while still thinking: nothing is an answer, and the trailing x's were never generated.
  EXPECT_EQ(l->text, "");
  EXPECT_LT(l->generation.text.size(), output("r1_loop_in_think.txt").size());
}

// ---- code in answers ---------------------------------------------------------------------------

TEST(CodeBlocksTest, FencesInfoStringsAndBareAnswers) {
  const auto blocks = code_blocks("Here:\n```js\nlet a = 1;\n```\ntext\n~~~~python\nx = 2\n~~~~\n```\nunclosed\n");
  ASSERT_EQ(blocks.size(), 3u);
  EXPECT_EQ(blocks[0].language, "js");
  EXPECT_EQ(blocks[0].code, "let a = 1;\n");
  EXPECT_EQ(blocks[1].language, "python");
  EXPECT_EQ(blocks[1].code, "x = 2\n");
  EXPECT_TRUE(blocks[1].closed);
  EXPECT_FALSE(blocks[2].closed);
  EXPECT_EQ(pick_code("```js\nlet a;\n```\n```python\nb = 1\n```", "python")->code, "b = 1\n");
  EXPECT_EQ(pick_code("```js\nlet a;\n```", "python")->code, "let a;\n");  // the first block otherwise
  EXPECT_EQ(pick_code("\n  return x\n\n", "python")->code, "  return x\n");  // no fence: the answer
  EXPECT_FALSE(pick_code("```python\n\n```", "python"));
  EXPECT_FALSE(pick_code("   \n", "python"));
}

// ---- the mixed-language guard ----------------------------------------------------------------------

TEST(MixedLanguageTest, CjkInCodeIsFoundButNotInCommentsOrStrings) {
  auto ident = cjk_in_code("python", pick_code(output("mixed_identifier.txt"), "python")->code);
  ASSERT_TRUE(ident);
  EXPECT_EQ(ident->line, 1);
  EXPECT_NE(ident->fragment.find("def "), std::string::npos);
  EXPECT_FALSE(cjk_in_code("python", pick_code(output("mixed_comment_and_string.txt"), "python")->code));
  auto punct = cjk_in_code("javascript", pick_code(output("mixed_fullwidth_punctuation.txt"), "javascript")->code);
  ASSERT_TRUE(punct);
  EXPECT_EQ(punct->line, 2);
  EXPECT_TRUE(has_cjk("a 한국어 b"));
  EXPECT_TRUE(has_cjk("カタカナ"));
  EXPECT_FALSE(has_cjk("naïve café – ünïcödé ✓ 😀"));
}

// ---- syntax -----------------------------------------------------------------------------------------

TEST(SyntaxTest, ProblemsAreCountedAndTheFirstIsNamed) {
  auto ok = check_syntax("python", "def f(x):\n    return x\n");
  ASSERT_TRUE(ok.ok());
  EXPECT_TRUE(ok->clean());
  auto bad = check_syntax("python", "def f(x):\n    return (x\n\nprint(1\n");
  ASSERT_TRUE(bad.ok());
  EXPECT_GT(bad->n_problems(), 0);
  EXPECT_NE(bad->first_problem.find("line "), std::string::npos) << bad->first_problem;
  auto js = check_syntax("javascript", "function f( {\n");
  ASSERT_TRUE(js.ok());
  EXPECT_FALSE(js->clean());
  EXPECT_FALSE(check_syntax("cobol", "x").ok());
}

TEST(SyntaxTest, GrammarForLanguageIdsAndPaths) {
  EXPECT_EQ(grammar_for("python"), "python");
  EXPECT_EQ(grammar_for("typescriptreact"), "tsx");
  EXPECT_EQ(grammar_for("shellscript"), "bash");
  EXPECT_EQ(grammar_for("csharp"), "c_sharp");
  EXPECT_EQ(grammar_for("", "src/a.rs"), "rust");
  EXPECT_EQ(grammar_for("plaintext", "notes.txt"), "");
}

TEST(SyntaxTest, EnclosingDefinitionIsTheSmallest) {
  const std::string py =
      "import os\n\nclass Shape:\n    def area(self):\n        return self.w * self.h\n\n    def name(self):\n"
      "        return 'shape'\n\nx = 1\n";
  const size_t in_area = py.find("self.w");
  auto def = enclosing_definition("python", py, in_area, in_area + 6);
  ASSERT_TRUE(def);
  EXPECT_EQ(def->name, "area");
  EXPECT_EQ(py.substr(def->span.start, def->span.end - def->span.start),
            "    def area(self):\n        return self.w * self.h");
  // A range across two methods: the class holds both.
  auto both = enclosing_definition("python", py, in_area, py.find("'shape'"));
  ASSERT_TRUE(both);
  EXPECT_EQ(both->name, "Shape");
  const std::string cpp = "namespace n {\nint add(int a, int b) {\n  return a + b;\n}\n}\n";
  auto c = enclosing_definition("cpp", cpp, cpp.find("a + b"), cpp.find("a + b"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->name, "add");
}

TEST(SyntaxTest, TopLevelUnitsInSourceOrder) {
  const std::string py =
      "#!/usr/bin/env python3\nimport os\nfrom sys import argv\n\n# Adds.\ndef add(a, b):\n    return a + b\n\n"
      "@decorator\ndef wrapped():\n    pass\n\nclass C:\n    pass\n\nif __name__ == '__main__':\n    add(1, 2)\n";
  auto units = top_level_units("python", py);
  ASSERT_TRUE(units.ok());
  ASSERT_EQ(units->size(), 5u);
  EXPECT_EQ((*units)[0].kind, SourceUnit::Kind::kImports);
  EXPECT_EQ((*units)[0].first_line, 1);  // the shebang comment belongs to the imports
  EXPECT_EQ((*units)[0].last_line, 3);
  EXPECT_EQ((*units)[1].name, "add");
  EXPECT_EQ((*units)[1].first_line, 5);  // with its comment
  EXPECT_EQ((*units)[2].name, "wrapped");
  EXPECT_EQ((*units)[2].kind, SourceUnit::Kind::kDefinition);
  EXPECT_EQ((*units)[3].name, "C");
  EXPECT_EQ((*units)[4].kind, SourceUnit::Kind::kStatement);
  EXPECT_EQ((*units)[4].name, "if __name__ == '__main__':");
  const std::string js = "import fs from 'fs';\nexport function f() { return 1; }\nconst g = () => 2;\n";
  auto js_units = top_level_units("javascript", js);
  ASSERT_TRUE(js_units.ok());
  ASSERT_EQ(js_units->size(), 3u);
  EXPECT_EQ((*js_units)[1].name, "f");
}

// ---- line diff ------------------------------------------------------------------------------------------

TEST(LineDiffTest, RandomEditsRoundTripAndTouchOnlyChangedLines) {
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> lines;
    const int n = static_cast<int>(rng() % 30);
    for (int i = 0; i < n; ++i) lines.push_back("line " + std::to_string(rng() % 12) + "\n");
    std::string before;
    for (const auto& l : lines) before += l;
    std::vector<std::string> changed = lines;
    const int n_ops = static_cast<int>(rng() % 5);
    for (int k = 0; k < n_ops; ++k) {
      const size_t at = changed.empty() ? 0 : rng() % (changed.size() + 1);
      switch (rng() % 3) {
        case 0: changed.insert(changed.begin() + static_cast<long>(at), "new " + std::to_string(k) + "\n"); break;
        case 1: if (at < changed.size()) changed.erase(changed.begin() + static_cast<long>(at)); break;
        default: if (at < changed.size()) changed[at] = "changed " + std::to_string(k) + "\n"; break;
      }
    }
    std::string after;
    for (const auto& l : changed) after += l;
    if (rng() % 4 == 0 && !after.empty()) after.pop_back();  // no final newline
    const auto edits = diff_lines(before, after, 100);
    std::vector<TextEdit> local = edits;
    for (auto& e : local) {
      e.start -= 100;
      e.end -= 100;
    }
    ASSERT_EQ(apply_edits(before, local), after) << "round " << round;
    size_t touched = 0;
    for (const auto& e : local) {
      ASSERT_LE(e.start, e.end);
      touched += static_cast<size_t>(std::count(before.begin() + static_cast<long>(e.start),
                                                before.begin() + static_cast<long>(e.end), '\n'));
    }
    EXPECT_LE(touched, static_cast<size_t>(n_ops) + 1) << "round " << round;
    for (size_t i = 1; i < local.size(); ++i) EXPECT_LT(local[i - 1].end, local[i].start + 1);
  }
}

TEST(LineDiffTest, UnifiedDiffLooksLikeGits) {
  const std::string a = "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n";
  const std::string b = "a\nb\nC\nd\ne\nf\ng\nh\ni\nj\nk\n";
  EXPECT_EQ(unified_diff("x.txt", a, b, 1),
            "--- a/x.txt\n+++ b/x.txt\n@@ -2,3 +2,3 @@\n b\n-c\n+C\n d\n@@ -10,1 +10,2 @@\n j\n+k\n");
  EXPECT_EQ(unified_diff("x.txt", a, a), "");
  EXPECT_EQ(unified_diff("x", "a\n", "a"), "--- a/x\n+++ b/x\n@@ -1,1 +1,1 @@\n-a\n+a\n\\ No newline at end of file\n");
}

}  // namespace
}  // namespace moecode::assist
