// Repository context: cross-file definitions at several budgets, the budget as a hard
// limit (property test), determinism, shared prompt prefixes between consecutive
// requests, and files that must never reach a prompt. Token counts are the real ones: the
// default model's tokenizer (SmolLM2-135M-Instruct); the estimator that the CLI falls back
// to without a model has its own budget property test.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "lsp/context/context.h"
#include "lsp/context/repo_map.h"
#include "lsp/context/similar.h"
#include "lsp/workspace/index.h"
#include "context_counter.h"
#include "test_repo.h"

namespace moecode::context {
namespace {

using testing::TempTree;
using workspace::SymbolIndex;

class ContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(testing::context_counter(), nullptr) << testing::setup_hint();
    testing::make_repo(tree_);
    auto index = SymbolIndex::create({tree_.root()});
    ASSERT_TRUE(index.ok()) << index.error().message();
    index_ = std::move(index).value();
    ASSERT_TRUE(index_->build().ok());
  }

  std::string read(const std::string& rel) { return *index_->read_text(tree_.path(rel)); }

  // A request with the cursor right after the first occurrence of `marker` in `rel`.
  ContextRequest at(const std::string& rel, const std::string& marker, size_t budget) {
    ContextRequest r;
    r.path = tree_.path(rel);
    r.text = read(rel);
    const size_t pos = r.text.find(marker);
    EXPECT_NE(pos, std::string::npos) << marker;
    r.cursor_byte = static_cast<uint32_t>(pos + marker.size());
    r.budget_tokens = budget;
    return r;
  }

  const TokenCounter& counter() { return *testing::context_counter(); }

  TempTree tree_;
  std::unique_ptr<SymbolIndex> index_;
};

bool has_definition(const PackedContext& p, const std::string& path, uint32_t line) {
  return std::any_of(p.snippets.begin(), p.snippets.end(), [&](const Snippet& s) {
    return s.section == Section::kDefinition && s.path == path && s.start_line <= line && line <= s.end_line;
  });
}

TEST_F(ContextTest, CallOfAFunctionFromAnotherFileBringsItsDefinition) {
  ContextEngine engine(*index_, counter());
  for (size_t budget : {1024, 4096, 16384}) {
    auto p = engine.pack(at("app/main.py", "total = total_area([c, ", budget));
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_LE(p->tokens, budget);
    EXPECT_TRUE(has_definition(*p, "geo/shapes.py", 26)) << "budget " << budget << ":\n" << p->prompt();
    EXPECT_NE(p->context.find("def total_area(shapes, weights=None) -> float:"), std::string::npos);
    EXPECT_NE(p->prefix.find("total = total_area([c, "), std::string::npos);
  }
}

TEST_F(ContextTest, MethodOfAnImportedClassBringsItsDefinition) {
  ContextEngine engine(*index_, counter());
  for (size_t budget : {1024, 4096, 16384}) {
    auto p = engine.pack(at("app/main.py", "bigger = c.scale(", budget));
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_LE(p->tokens, budget);
    // Circle.scale (line 21 of geo/shapes.py), not one of the noise modules' scale().
    EXPECT_TRUE(has_definition(*p, "geo/shapes.py", 21)) << "budget " << budget << ":\n" << p->prompt();
    EXPECT_NE(p->context.find("return Circle(self.r * k)"), std::string::npos);
  }
}

TEST_F(ContextTest, TypeScriptMethodOfAnImportedClass) {
  ContextEngine engine(*index_, counter());
  for (size_t budget : {1024, 4096, 16384}) {
    auto p = engine.pack(at("web/app.ts", "cv.add(", budget));
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_LE(p->tokens, budget);
    EXPECT_TRUE(has_definition(*p, "web/canvas.ts", 8)) << "budget " << budget << ":\n" << p->prompt();
  }
}

TEST_F(ContextTest, CppCallThroughAnInclude) {
  ContextEngine engine(*index_, counter());
  for (size_t budget : {1024, 4096, 16384}) {
    auto p = engine.pack(at("native/src/use.cpp", "return dot(v, ", budget));
    ASSERT_TRUE(p.ok());
    EXPECT_LE(p->tokens, budget);
    EXPECT_TRUE(has_definition(*p, "native/include/geo/vec.h", 3) || has_definition(*p, "native/src/vec.cpp", 3))
        << p->prompt();
  }
}

TEST_F(ContextTest, SectionsComeInStableOrderWithTheCursorFileLast) {
  ContextEngine engine(*index_, counter());
  auto p = engine.pack(at("app/main.py", "bigger = c.scale(", 16384));
  ASSERT_TRUE(p.ok());
  ASSERT_FALSE(p->snippets.empty());
  for (size_t i = 1; i < p->snippets.size(); ++i) {
    EXPECT_LE(static_cast<int>(p->snippets[i - 1].section), static_cast<int>(p->snippets[i].section));
  }
  EXPECT_EQ(p->snippets.front().section, Section::kRepoMap);
  // The prompt is the snippets in order, then the cursor file.
  std::string expect;
  for (const auto& s : p->snippets) expect += s.text;
  EXPECT_EQ(p->context, expect);
  EXPECT_EQ(p->prompt(), expect + p->cursor_header + p->prefix + p->suffix);
  EXPECT_EQ(p->cursor_header, "# app/main.py\n");
  EXPECT_TRUE(p->prompt().ends_with(p->suffix));
  // The cursor file is whole at this budget, and split exactly at the cursor.
  const std::string text = read("app/main.py");
  EXPECT_EQ(p->prefix + p->suffix, text);
  EXPECT_EQ(p->prefix_start_line, 1u);
  EXPECT_EQ(p->suffix_end_line, 13u);
  // The repo map never lists the cursor file; outlines cover the imported module.
  for (const auto& s : p->snippets) EXPECT_NE(s.path, "app/main.py");
  size_t sum = 0;
  for (size_t s = 0; s < kNumSections; ++s) sum += p->section_tokens[s];
  EXPECT_EQ(sum, p->tokens);
}

TEST_F(ContextTest, FileSeparatorFormat) {
  ContextEngine engine(*index_, counter());
  auto r = at("app/main.py", "bigger = c.scale(", 4096);
  r.format = SnippetFormat::separator("<|file_sep|>");
  auto p = engine.pack(r);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->cursor_header, "<|file_sep|>app/main.py\n");
  for (const auto& s : p->snippets) EXPECT_TRUE(s.text.starts_with("<|file_sep|>" + s.path + "\n")) << s.text;
  EXPECT_EQ(SnippetFormat::comments().header("a/b.cpp", "//"), "// a/b.cpp\n");
}

// Property: for random cursors, budgets and recent-file lists, the packed prompt never
// exceeds the budget, its reported count is exact, and packing is deterministic.
void check_budget_property(const SymbolIndex& index, const TempTree& tree, const TokenCounter& counter, int trials,
                           uint32_t seed) {
  ContextEngine engine(index, counter);
  const std::vector<std::string> files = {"app/main.py", "geo/shapes.py", "web/app.ts", "web/canvas.ts",
                                          "native/src/use.cpp", "noise/mod3.py"};
  std::mt19937 rng(seed);
  for (int trial = 0; trial < trials; ++trial) {
    const std::string& rel = files[rng() % files.size()];
    ContextRequest r;
    r.path = tree.path(rel);
    r.text = *index.read_text(tree.path(rel));
    r.cursor_byte = static_cast<uint32_t>(rng() % (r.text.size() + 1));
    const size_t budgets[] = {1, 16, 64, 200, 512, 1024, 3000, 8192, 20000};
    r.budget_tokens = budgets[rng() % std::size(budgets)] + rng() % 50;
    for (int k = 0; k < 3; ++k) r.recent.push_back({tree.path(files[rng() % files.size()]), std::nullopt});
    if (trial % 3 == 0) r.format = SnippetFormat::separator("<file_sep>");
    auto p = engine.pack(r);
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_LE(p->tokens, r.budget_tokens) << rel << " @" << r.cursor_byte;
    EXPECT_EQ(p->tokens, counter.count(p->prompt()));
    auto again = engine.pack(r);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->prompt(), p->prompt());
    ASSERT_EQ(again->snippets.size(), p->snippets.size());
    // A fresh engine (cold caches) gives the same prompt too.
    ContextEngine fresh(index, counter);
    EXPECT_EQ(fresh.pack(r)->prompt(), p->prompt());
    for (const auto& s : p->snippets) {
      EXPECT_GE(s.start_line, 1u);
      EXPECT_LE(s.start_line, s.end_line);
      EXPECT_EQ(s.tokens, counter.count(s.text));
    }
    // The prefix ends exactly at the cursor, the suffix starts there.
    EXPECT_TRUE(r.text.substr(0, r.cursor_byte).ends_with(p->prefix) || p->prefix.empty() ||
                p->prefix.find("[REDACTED]") != std::string::npos);
    EXPECT_TRUE(r.text.substr(r.cursor_byte).starts_with(p->suffix));
  }
}

// With the default model's tokenizer (exact counts; "<file_sep>" is one of its control
// tokens and counts as one token).
TEST_F(ContextTest, NeverOverBudgetAndDeterministic) {
  check_budget_property(*index_, tree_, counter(), 150, 7);
}

// With the estimator the CLI uses when no model is given.
TEST_F(ContextTest, NeverOverBudgetWithTheEstimator) {
  const HeuristicCounter estimator;
  check_budget_property(*index_, tree_, estimator, 60, 8);
}

// Consecutive requests one character apart share most of their prompt (>= 80% of the
// shorter prompt's tokens, measured in the default model's token ids): the stable material
// comes first and the cursor file last.
TEST_F(ContextTest, RequestsOneCharacterApartShareALongPrefix) {
  ContextEngine engine(*index_, counter());
  std::mt19937 rng(11);
  const std::vector<std::string> files = {"app/main.py", "geo/shapes.py", "web/app.ts", "noise/mod5.py"};
  int checked = 0;
  for (size_t budget : {2048, 8192}) {
    for (int trial = 0; trial < 20; ++trial) {
      const std::string& rel = files[rng() % files.size()];
      ContextRequest a;
      a.path = tree_.path(rel);
      a.text = read(rel);
      a.cursor_byte = static_cast<uint32_t>(rng() % (a.text.size() + 1));
      a.budget_tokens = budget;
      // The next keystroke: a letter typed at the cursor.
      ContextRequest b = a;
      b.text.insert(b.cursor_byte, "x");
      b.cursor_byte += 1;
      // And a cursor moved by one character (no edit).
      ContextRequest c = a;
      c.cursor_byte = a.cursor_byte < a.text.size() ? a.cursor_byte + 1 : a.cursor_byte - 1;
      auto pa = engine.pack(a), pb = engine.pack(b), pc = engine.pack(c);
      ASSERT_TRUE(pa.ok() && pb.ok() && pc.ok());
      for (const auto* other : {&*pb, &*pc}) {
        const auto ta = testing::context_tokens(pa->prompt());
        const auto tb = testing::context_tokens(other->prompt());
        size_t common = 0;
        while (common < ta.size() && common < tb.size() && ta[common] == tb[common]) ++common;
        const size_t shorter = std::min(ta.size(), tb.size());
        EXPECT_GE(common, shorter * 8 / 10) << rel << " @" << a.cursor_byte << " budget " << budget << ": "
                                            << common << " of " << shorter << "\n--- A:\n" << pa->prompt()
                                            << "\n--- B:\n" << other->prompt();
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 80);
}

// The same on a larger tree at the CLI's budget for this model (8192 - 512), the separator
// format and a cursor in a long file: typing and moving keep >= 80% of the tokens.
TEST_F(ContextTest, KeystrokesKeepTheTokenPrefixAtTheModelBudget) {
  std::string big = "from geo.shapes import Circle, total_area\n\n\n";
  for (int i = 0; i < 300; ++i) {
    big += "def step_" + std::to_string(i) + "(c):\n    c = c.scale(" + std::to_string(i % 7 + 1) +
           ")\n    return total_area([c])\n\n\n";
  }
  tree_.write("app/long.py", big);
  ASSERT_TRUE(index_->build().ok());
  ContextEngine engine(*index_, counter());
  std::mt19937 rng(5);
  for (int trial = 0; trial < 10; ++trial) {
    ContextRequest a;
    a.path = tree_.path("app/long.py");
    a.text = big;
    a.cursor_byte = static_cast<uint32_t>(rng() % (big.size() + 1));
    a.budget_tokens = default_budget(8192);
    a.format = SnippetFormat::separator("<file_sep>");
    ContextRequest b = a;
    b.text.insert(b.cursor_byte, "(");
    b.cursor_byte += 1;
    auto pa = engine.pack(a), pb = engine.pack(b);
    ASSERT_TRUE(pa.ok() && pb.ok());
    EXPECT_LE(pa->tokens, a.budget_tokens);
    EXPECT_LE(pb->tokens, b.budget_tokens);
    const auto ta = testing::context_tokens(pa->prompt());
    const auto tb = testing::context_tokens(pb->prompt());
    EXPECT_EQ(ta.size(), pa->tokens);
    EXPECT_EQ(tb.size(), pb->tokens);
    size_t common = 0;
    while (common < ta.size() && common < tb.size() && ta[common] == tb[common]) ++common;
    EXPECT_GE(common, std::min(ta.size(), tb.size()) * 8 / 10) << "@" << a.cursor_byte;
  }
}

TEST_F(ContextTest, TheRepoMapDoesNotMoveWhileTypingInTheCursorFile) {
  ContextEngine engine(*index_, counter());
  auto a = at("app/main.py", "def main():\n", 8192);
  auto pa = engine.pack(a);
  ASSERT_TRUE(pa.ok());
  // The user types a new call; the editor sends it to the index too.
  ContextRequest b = a;
  b.text.insert(b.cursor_byte, "    helper_3(compute_4([]))\n");
  b.cursor_byte += 28;
  ASSERT_TRUE(index_->update_document(b.path, b.text).ok());
  auto pb = engine.pack(b);
  ASSERT_TRUE(pb.ok());
  auto repo_map = [](const PackedContext& p) {
    std::string s;
    for (const auto& snip : p.snippets) {
      if (snip.section == Section::kRepoMap) s += snip.text;
    }
    return s;
  };
  EXPECT_FALSE(repo_map(*pa).empty());
  EXPECT_EQ(repo_map(*pa), repo_map(*pb));
  EXPECT_TRUE(pb->context.starts_with(repo_map(*pa)));
  // The new names' definitions arrive.
  EXPECT_TRUE(has_definition(*pb, "noise/mod3.py", 9)) << pb->prompt();
}

TEST_F(ContextTest, SimilarWindowsOfRecentFiles) {
  tree_.write("scratch/notes.py", "# unrelated\nalpha = 1\nbeta = 2\n");
  tree_.write("scratch/copy.py",
              "def other():\n    pass\n\n\ndef report2(items):\n    c = Circle(2.0)\n    bigger = c.scale(3)\n"
              "    total = total_area([c, bigger])\n    print('total', total)\n    return total\n");
  ASSERT_TRUE(index_->build().ok());
  ContextEngine engine(*index_, counter());
  auto r = at("app/main.py", "print(\"total\", total)\n", 16384);
  r.recent = {{tree_.path("scratch/notes.py"), std::nullopt}, {tree_.path("scratch/copy.py"), std::nullopt},
              {tree_.path("app/main.py"), std::nullopt}};
  auto p = engine.pack(r);
  ASSERT_TRUE(p.ok());
  std::vector<std::string> similar;
  for (const auto& s : p->snippets) {
    if (s.section == Section::kSimilar) similar.push_back(s.path);
  }
  EXPECT_EQ(similar, std::vector<std::string>{"scratch/copy.py"}) << p->prompt();
  // Editor text of a recent file wins over the disk.
  r.recent = {{tree_.path("scratch/notes.py"),
               std::string("c = Circle(2.0)\nbigger = c.scale(3)\ntotal = total_area([c, bigger])\n")}};
  auto q = engine.pack(r);
  ASSERT_TRUE(q.ok());
  EXPECT_NE(q->context.find("# scratch/notes.py\nc = Circle(2.0)"), std::string::npos) << q->prompt();
}

TEST_F(ContextTest, ExcludedFilesNeverReachAPrompt) {
  TempTree outside;
  outside.write("lib.py", "def outside_helper():\n    return 'MARKER_OUTSIDE'\n");
  tree_.write(".gitignore", "build/\n");
  tree_.write("build/gen.py", "def gen_helper():\n    return 'MARKER_IGNORED'\n");
  tree_.write(".moecodeignore", "private/\n");
  tree_.write("private/p.py", "def private_helper():\n    return 'MARKER_PRIVATE'\n");
  tree_.write(".env", "MARKER_ENV=1\n");
  tree_.write("credentials.py", "def cred_helper():\n    return 'MARKER_CRED'\n");
  tree_.write("blob.py", std::string("def blob_helper():\n    return 'MARKER_BINARY'\n\0\0", 48));
  tree_.write("huge.py", "def huge_helper():\n    return 'MARKER_HUGE'\n" + std::string(2 << 20, '#') + "\n");
  tree_.link("linked.py", outside.path("lib.py"));
  tree_.write("app/uses.py",
              "from linked import outside_helper\n\ndef go():\n    gen_helper(); private_helper(); cred_helper()\n"
              "    blob_helper(); huge_helper(); outside_helper()\n    return 1\n");
  ASSERT_TRUE(index_->build().ok());
  ContextEngine engine(*index_, counter());
  auto r = at("app/uses.py", "outside_helper()\n", 16384);
  for (const char* rel : {"build/gen.py", "private/p.py", ".env", "credentials.py", "blob.py", "huge.py", "linked.py"}) {
    r.recent.push_back({tree_.path(rel), std::nullopt});
  }
  r.recent.push_back({outside.path("lib.py"), std::nullopt});
  r.recent.push_back({tree_.path(".env"), std::string("MARKER_ENV_EDITOR=1\n")});
  auto p = engine.pack(r);
  ASSERT_TRUE(p.ok());
  const std::string prompt = p->prompt();
  for (const char* marker : {"MARKER_OUTSIDE", "MARKER_IGNORED", "MARKER_PRIVATE", "MARKER_ENV", "MARKER_CRED",
                             "MARKER_BINARY", "MARKER_HUGE"}) {
    EXPECT_EQ(prompt.find(marker), std::string::npos) << marker << " leaked:\n" << prompt;
  }
  for (const auto& s : p->snippets) {
    EXPECT_TRUE(s.path.starts_with("app/") || s.path.starts_with("geo/") || s.path.starts_with("noise/") ||
                s.path.starts_with("web/") || s.path.starts_with("native/"))
        << s.path;
  }
  // A secret file gets no context at all.
  ContextRequest secret;
  secret.path = tree_.path(".env");
  secret.text = "MARKER_ENV=1\n";
  secret.cursor_byte = 3;
  auto refused = engine.pack(secret);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message().find("secret"), std::string::npos);
}

TEST_F(ContextTest, SecretTextIsRedactedEverywhere) {
  const std::string key = std::string("AKIA") + "IOSFODNN7" + "EXAMPLE";
  tree_.write("conf/settings.py", "ACCESS_KEY = '" + key + "'\n\ndef connect(region):\n    return (ACCESS_KEY, region)\n");
  ASSERT_TRUE(index_->build().ok());
  ContextEngine engine(*index_, counter());
  ContextRequest r;
  r.path = tree_.path("app/client.py");
  r.text = "from conf.settings import connect, ACCESS_KEY\nLOCAL = '" + key + "'\n\ndef go():\n    return connect(";
  r.cursor_byte = static_cast<uint32_t>(r.text.size());
  r.budget_tokens = 8192;
  r.recent = {{tree_.path("conf/settings.py"), std::nullopt}};
  auto p = engine.pack(r);
  ASSERT_TRUE(p.ok());
  const std::string prompt = p->prompt();
  EXPECT_EQ(prompt.find(key), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("def connect(region):"), std::string::npos) << prompt;
  EXPECT_NE(p->prefix.find("LOCAL = '[REDACTED]'"), std::string::npos) << p->prefix;
}

TEST_F(ContextTest, BadRequestsAreErrors) {
  ContextEngine engine(*index_, counter());
  ContextRequest r;
  r.path = tree_.path("app/main.py");
  r.text = "abc";
  r.cursor_byte = 4;
  auto p = engine.pack(r);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().code(), ErrorCode::kOutOfRange);
  r.cursor_byte = 3;
  r.text = std::string("a\0b", 3);
  EXPECT_FALSE(engine.pack(r).ok());
  // A file outside the workspace still gets its own windows.
  ContextRequest o;
  o.path = "/tmp/elsewhere.py";
  o.text = "x = total_area(";
  o.cursor_byte = static_cast<uint32_t>(o.text.size());
  o.budget_tokens = 4096;
  auto po = engine.pack(o);
  ASSERT_TRUE(po.ok());
  EXPECT_EQ(po->prefix, o.text);
  EXPECT_TRUE(has_definition(*po, "geo/shapes.py", 26));
}

TEST(ContextUnitTest, DefaultBudget) {
  EXPECT_EQ(default_budget(8192, 512), 7680u);
  EXPECT_EQ(default_budget(163840, 512), 131072u);
  EXPECT_EQ(default_budget(100, 512), 50u);
}

TEST(ContextUnitTest, PageRankPrefersWhatEverybodyPointsTo) {
  // 0 -> 3, 1 -> 3, 2 -> 3, 3 -> 0: node 3 ranks first, then 0.
  std::vector<std::vector<std::pair<uint32_t, double>>> g(4);
  g[0] = {{3, 1.0}};
  g[1] = {{3, 1.0}};
  g[2] = {{3, 1.0}};
  g[3] = {{0, 1.0}};
  const auto r = pagerank(g);
  double sum = 0;
  for (double x : r) sum += x;
  EXPECT_NEAR(sum, 1.0, 1e-9);
  EXPECT_GT(r[3], r[0]);
  EXPECT_GT(r[0], r[1]);
  EXPECT_NEAR(r[1], r[2], 1e-12);
  EXPECT_TRUE(pagerank({}).empty());
}

TEST(ContextUnitTest, JaccardAndWindows) {
  EXPECT_DOUBLE_EQ(jaccard(TokenSet("alpha beta gamma"), TokenSet("beta gamma delta")), 0.5);
  EXPECT_DOUBLE_EQ(jaccard(TokenSet("x y"), TokenSet("alpha")), 0.0);  // 1-byte words do not count
  std::string text;
  for (int i = 0; i < 40; ++i) text += "noise_" + std::to_string(i) + " = other\n";
  text += "result = compute(items)\nprint(result)\n";
  const auto w = best_windows(text, TokenSet("result compute items print"), 10, 2, 0.1);
  ASSERT_FALSE(w.empty());
  EXPECT_LE(w[0].start_line, 40u);
  EXPECT_GE(w[0].end_line, 41u);
}

TEST(ContextUnitTest, TokenizerCounterCountsAsTheModelTokenizes) {
  const TokenCounter* c = testing::context_counter();
  ASSERT_NE(c, nullptr) << testing::setup_hint();
  auto tok = testing::default_tokenizer();
  const std::string code = "def total_area(shapes, weights=None) -> float:\n    return 0.0  # ünïcode\n";
  EXPECT_EQ(c->count(code), tok->encode(code, false, false).size());
  EXPECT_EQ(c->count(""), 0u);
  // A file separator is one control token in the prompt, not its characters.
  const engine::Token sep = tok->find_token("<file_sep>");
  ASSERT_NE(sep, engine::kNoToken);
  EXPECT_TRUE(tok->is_special(sep));
  EXPECT_EQ(c->count("<file_sep>a.py\n") , tok->encode("a.py\n", false, false).size() + 1);
  // The estimator is not the tokenizer: it differs on ordinary code.
  EXPECT_NE(HeuristicCounter().count(code), c->count(code));
}

TEST(ContextUnitTest, CountersAndCache) {
  HeuristicCounter h;
  EXPECT_EQ(h.count(""), 0u);
  EXPECT_EQ(h.count("abcd"), 1u);
  EXPECT_EQ(h.count("abcde"), 2u);
  EXPECT_EQ(h.count("a b\n"), 4u);
  CachingCounter c(h, 2);
  EXPECT_EQ(c.count("hello world"), h.count("hello world"));
  EXPECT_EQ(c.count("hello world"), h.count("hello world"));
  EXPECT_EQ(c.hits(), 1u);
  c.count("one");
  c.count("two");
  c.count("hello world");  // evicted by then
  EXPECT_EQ(c.misses(), 4u);
}

}  // namespace
}  // namespace moecode::context
