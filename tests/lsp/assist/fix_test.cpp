// Fix and translate over a scripted generator: well-formed answers become minimal, parsing edits
// and files; malformed ones (no code, broken syntax, unchanged code, loops, reasoning, CJK in
// code, a whole file instead of a definition) never become a broken edit.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>

#include "lsp/assist/fix.h"
#include "lsp/assist/scripted_generator.h"
#include "lsp/assist/translate.h"

namespace moecode::assist {
namespace {

const std::string kShapes =
    "import os\n\n\ndef area(radius):\n    return math.pi * radius ** 2\n\n\ndef total(items):\n"
    "    s = 0\n    for it in items:\n        s += it\n    return sm\n";

FixRequest fix_request(const std::string& text, const std::string& needle, const std::string& message) {
  FixRequest r;
  r.path = "shapes.py";
  r.language_id = "python";
  r.text = std::make_shared<const std::string>(text);
  r.start = text.find(needle);
  r.end = r.start + needle.size();
  r.message = message;
  return r;
}

Result<FixResult> run_fix(std::vector<ScriptedReply> replies, const FixRequest& req, ScriptedGenerator** out = nullptr) {
  Script script;
  script.replies = std::move(replies);
  static std::unique_ptr<ScriptedGenerator> g;
  g = std::make_unique<ScriptedGenerator>(script);
  if (out) *out = g.get();
  Fixer fixer(*g, nullptr);
  return fixer.fix(req, CancelToken());
}

TEST(FixTest, AWellFormedAnswerBecomesAMinimalEdit) {
  const auto req = fix_request(kShapes, "sm\n", "undefined name 'sm'");
  auto r = run_fix({{"undefined name 'sm'",
                     "Sure! The variable is `s`.\n```python\ndef total(items):\n    s = 0\n    for it in items:\n"
                     "        s += it\n    return s\n```\n"}},
                   req);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->edits.size(), 1u);
  EXPECT_EQ(kShapes.substr(r->edits[0].start, r->edits[0].end - r->edits[0].start), "    return sm");
  EXPECT_EQ(r->edits[0].new_text, "    return s");
  EXPECT_EQ(r->new_text, kShapes.substr(0, kShapes.size() - 4) + " s\n");
  EXPECT_EQ(r->target, "function 'total' (lines 8-12)");
  EXPECT_EQ(r->problems_after, 0);
}

TEST(FixTest, ThePromptHoldsTheDiagnosticTheDefinitionAndTheImports) {
  const auto req = fix_request(kShapes, "math", "undefined name 'math'");
  ScriptedGenerator* g = nullptr;
  auto r = run_fix({{"", "```python\nimport math\n\ndef area(radius):\n    return math.pi * radius ** 2\n```"}}, req, &g);
  ASSERT_TRUE(r.ok()) << r.error().message();
  const std::string prompt = g->last_prompt();
  EXPECT_NE(prompt.find("line 5: undefined name 'math'"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("def area(radius):\n    return math.pi"), std::string::npos);
  EXPECT_EQ(prompt.find("def total"), std::string::npos) << "only the enclosing definition";
  EXPECT_NE(prompt.find("import os"), std::string::npos) << "the file's imports are context";
  // The import the fix needs goes after the file's imports; the function is unchanged.
  ASSERT_EQ(r->edits.size(), 1u);
  EXPECT_EQ(r->edits[0].start, r->edits[0].end);
  EXPECT_EQ(r->edits[0].new_text, "import math\n");
  EXPECT_EQ(r->new_text.substr(0, 22), "import os\nimport math\n");
}

TEST(FixTest, AMethodWrittenAtColumnZeroGoesBackIntoItsClass) {
  const std::string text = "class A:\n    def f(self):\n        return self.x +\n";
  auto req = fix_request(text, "self.x +", "invalid syntax");
  auto r = run_fix({{"", "```python\ndef f(self):\n    return self.x + 1\n```"}}, req);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->new_text, "class A:\n    def f(self):\n        return self.x + 1\n");
  EXPECT_EQ(r->problems_before > 0, true);
  EXPECT_EQ(r->problems_after, 0);
}

TEST(FixTest, AWholeFileAnswerStillGivesAMinimalEdit) {
  const auto req = fix_request(kShapes, "sm\n", "undefined name 'sm'");
  std::string whole = kShapes;
  whole.replace(whole.find("return sm"), 9, "return s");
  auto r = run_fix({{"", "```python\n" + whole + "```"}}, req);
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->edits.size(), 1u);
  EXPECT_EQ(r->edits[0].new_text, "    return s\n");
  EXPECT_EQ(r->new_text, whole);
}

TEST(FixTest, AnEditThatParsesWorseIsRetriedWithTheParsersMessageThenRefused) {
  const auto req = fix_request(kShapes, "sm\n", "undefined name 'sm'");
  ScriptedGenerator* g = nullptr;
  // Second answer (after the parser's message) is valid.
  auto ok = run_fix({{"syntax error", "```python\ndef total(items):\n    return sum(items)\n```"},
                     {"", "```python\ndef total(items:\n    return s\n```"}},
                    req, &g);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  EXPECT_EQ(ok->n_attempts, 2);
  EXPECT_EQ(g->n_calls(), 2);
  EXPECT_NE(g->last_prompt().find("Your code has a syntax error (line 1"), std::string::npos) << g->last_prompt();
  // Both broken: refused, and the document is untouched.
  auto bad = run_fix({{"", "```python\ndef total(items:\n    return s\n```"}}, req);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(bad.error().message().find("does not parse"), std::string::npos) << bad.error().message();
}

TEST(FixTest, MalformedAnswersAreRefusedWithTheReason) {
  const auto req = fix_request(kShapes, "sm\n", "undefined name 'sm'");
  struct Case {
    std::string answer;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"I cannot help with that.", "does not define 'total'"},  // prose, taken as code
      {"```python\npass\n```", "does not define 'total'"},          // a stub
      {"", "no code"},
      {"```python\ndef total(items):\n    s = 0\n    for it in items:\n        s += it\n    return sm\n```",
       "unchanged"},
      {"<think>```python\ndef total(items):\n    return 0\n```</think>", "no code"},  // code only in reasoning
      {"```python\ndef total(items):\n    return " + std::string("s + ") + "s\n```\n" +
           std::string(400, ' ') + [] {
             std::string s;
             for (int i = 0; i < 12; ++i) s += "Let me know if this helps. ";
             return s;
           }(),
       "repeated itself"},
      {"```python\ndef total(items):\n    总和 = 0\n    return 总和\n```", "CJK"},
  };
  for (const Case& c : cases) {
    auto r = run_fix({{"", c.answer}}, req);
    ASSERT_FALSE(r.ok()) << c.answer;
    EXPECT_EQ(r.error().code(), ErrorCode::kUnavailable) << c.answer;
    const std::string msg = r.error().message();
    const bool named = msg.find(c.reason) != std::string::npos ||
                       (c.reason == "no change" && (msg.find("does not parse") != std::string::npos ||
                                                    msg.find("drops") != std::string::npos));
    EXPECT_TRUE(named) << c.answer << " -> " << msg;
  }
}

TEST(FixTest, CjkCodeIsResampledOnceAndAcceptedWhenTheResampleIsClean) {
  const auto req = fix_request(kShapes, "sm\n", "undefined name 'sm'");
  Script script;
  script.replies = {{"", "```python\ndef total(items):\n    总和 = sum(items)\n    return 总和\n```"}};
  // The scripted generator answers the same to the same prompt; a sampled resample is the same
  // prompt too, so count the calls: exactly two (the original and one resample), then refused.
  ScriptedGenerator g(script);
  Fixer fixer(g, nullptr);
  auto r = fixer.fix(req, CancelToken());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(g.n_calls(), 2);
  // A file that is itself in Chinese may have Chinese identifiers.
  std::string zh = "def 合计(items):\n    return sm\n";
  auto zr = fix_request(zh, "sm\n", "undefined name 'sm'");
  Script s2;
  s2.replies = {{"", "```python\ndef 合计(items):\n    return sum(items)\n```"}};
  ScriptedGenerator g2(s2);
  Fixer f2(g2, nullptr);
  auto ok = f2.fix(zr, CancelToken());
  ASSERT_TRUE(ok.ok()) << ok.error().message();
}

TEST(FixTest, RewriteSelectionTouchesOnlyTheSelectedLines) {
  const std::string text = "a = 1\nb = 2\nc = 3\nd = 4\n";
  FixRequest req;
  req.path = "x.py";
  req.language_id = "python";
  req.text = std::make_shared<const std::string>(text);
  req.start = text.find("b = 2");
  req.end = text.find("d = 4");  // the selection ends at the start of line 4: lines 2-3
  req.instruction = "double the values";
  req.rewrite_selection = true;
  ScriptedGenerator* g = nullptr;
  auto r = run_fix({{"double the values", "```python\nb = 4\nc = 6\n```"}}, req, &g);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->new_text, "a = 1\nb = 4\nc = 6\nd = 4\n");
  EXPECT_NE(g->last_prompt().find("```python\nb = 2\nc = 3\n```"), std::string::npos) << g->last_prompt();
}

TEST(FixTest, BadRequestsAreErrors) {
  auto req = fix_request(kShapes, "sm\n", "x");
  req.end = kShapes.size() + 10;
  EXPECT_EQ(run_fix({}, req).error().code(), ErrorCode::kInvalidArgument);
  auto txt = fix_request("hello\n", "hello", "x");
  txt.language_id = "plaintext";
  txt.path = "notes.txt";
  EXPECT_EQ(run_fix({}, txt).error().code(), ErrorCode::kUnsupported);
}

// ---- translate -----------------------------------------------------------------------------------------

const std::string kModule =
    "import math\n\n\ndef area(radius):\n    return math.pi * radius ** 2\n\n\ndef total(items):\n"
    "    return sum(items)\n\n\nprint(total([1, 2]))\n";

TEST(TranslateTest, UnitsInOrderWithTheTranslationSoFarAsContext) {
  Script script;
  script.replies = {
      {"import block", "```javascript\n// math is built in\n```"},
      {"def area", "```javascript\nfunction area(radius) {\n  return Math.PI * radius ** 2;\n}\n```"},
      {"def total", "```js\nfunction total(items) {\n  return items.reduce((a, b) => a + b, 0);\n}\n```"},
      {"print(total", "```javascript\nconsole.log(total([1, 2]));\n```"}};
  ScriptedGenerator g(script);
  Translator t(g);
  std::vector<std::string> seen;
  TranslateRequest req;
  req.path = "m.py";
  req.language_id = "python";
  req.text = kModule;
  req.target = "js";
  auto r = t.translate(req, CancelToken(), [&](size_t i, size_t n, const TranslatedUnit& u) {
    seen.push_back(std::to_string(i) + "/" + std::to_string(n) + " " + u.name);
  });
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(seen, (std::vector<std::string>{"0/4 imports", "1/4 area", "2/4 total", "3/4 print(total([1, 2]))"}));
  EXPECT_EQ(r->target_grammar, "javascript");
  EXPECT_EQ(r->n_failed, 0);
  EXPECT_TRUE(r->syntax.clean());
  EXPECT_EQ(r->code,
            "// math is built in\n\nfunction area(radius) {\n  return Math.PI * radius ** 2;\n}\n\n"
            "function total(items) {\n  return items.reduce((a, b) => a + b, 0);\n}\n\nconsole.log(total([1, 2]));\n");
  // The last unit's prompt carries the units translated before it.
  EXPECT_NE(g.last_prompt().find("function total(items)"), std::string::npos);
}

TranslateRequest module_request() {
  TranslateRequest req;
  req.path = "m.py";
  req.language_id = "python";
  req.text = kModule;
  req.target = "javascript";
  return req;
}

TEST(TranslateTest, AUnitThatDoesNotParseIsRetriedOnceWithTheParsersMessage) {
  Script script;
  script.replies = {
      {"does not parse", "```javascript\nfunction area(radius) {\n  return Math.PI * radius ** 2;\n}\n```"},
      {"def area", "```javascript\nfunction area(radius) {\n  return Math.PI * radius **\n```"},
      {"", "```javascript\n// ok\n```"}};
  ScriptedGenerator g(script);
  Translator t(g);
  auto r = t.translate(module_request(), CancelToken());
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->units.size(), 4u);
  EXPECT_TRUE(r->units[1].ok);
  EXPECT_EQ(r->units[1].attempts, 2);
  EXPECT_EQ(r->units[2].attempts, 1);
  EXPECT_EQ(r->n_failed, 0);
  EXPECT_TRUE(r->syntax.clean()) << r->code;
  EXPECT_NE(r->code.find("return Math.PI * radius ** 2;"), std::string::npos);
}

TEST(TranslateTest, AUnitBrokenTwiceIsLeftAsACommentedOriginal) {
  Script script;
  script.replies = {{"does not parse", "```javascript\nfunction area(radius {\n```"},
                    {"def area", "```javascript\nfunction area(radius) {\n  return Math.PI * radius **\n```"},
                    {"", "```javascript\n// ok\n```"}};
  ScriptedGenerator g(script);
  Translator t(g);
  auto r = t.translate(module_request(), CancelToken());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_FALSE(r->units[1].ok);
  EXPECT_EQ(r->units[1].attempts, 2);
  EXPECT_NE(r->units[1].error.find("does not parse as JavaScript"), std::string::npos) << r->units[1].error;
  EXPECT_EQ(r->n_failed, 1);
  EXPECT_TRUE(r->syntax.clean()) << r->code;
  EXPECT_EQ(r->code.find("\nfunction area("), std::string::npos) << "only in the note";
  EXPECT_NE(r->code.find("//     return math.pi * radius ** 2"), std::string::npos) << r->code;
}

TEST(TranslateTest, FailedUnitsAreListedAndTheFileStillParses) {
  Script script;
  script.replies = {{"def total", "Sorry, I can't do that."}, {"", "```javascript\n// ok\n```"}};
  ScriptedGenerator g(script);
  Translator t(g);
  auto r = t.translate(module_request(), CancelToken());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->n_failed, 1);
  EXPECT_FALSE(r->units[2].ok);
  EXPECT_EQ(r->units[2].name, "total");
  EXPECT_FALSE(r->units[2].error.empty());
  EXPECT_TRUE(r->syntax.clean()) << r->code;
  EXPECT_NE(r->code.find("// moecode: could not translate definition 'total' (m.py:8-9)"), std::string::npos) << r->code;
  EXPECT_NE(r->code.find("// def total(items):\n//     return sum(items)\n"), std::string::npos) << r->code;
}

TEST(TranslateTest, ANameDeclaredAgainIsAskedAgainThenRefused) {
  Script script;
  script.replies = {{"already declared", "```javascript\nfunction area(radius) {\n  return Math.PI * radius ** 2;\n}\n```"},
                    {"import block", "```javascript\nconst math = Math;\n```"},
                    {"def area", "```javascript\nconst math = Math;\nfunction area(radius) {\n  return math.PI * radius ** 2;\n}\n```"},
                    {"", "```javascript\n// ok\n```"}};
  ScriptedGenerator g(script);
  Translator t(g);
  auto r = t.translate(module_request(), CancelToken());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_TRUE(r->units[1].ok);
  EXPECT_EQ(r->units[1].attempts, 2);
  EXPECT_EQ(r->code.find("const math = Math;"), r->code.rfind("const math = Math;")) << r->code;
  auto names = top_level_names("javascript", "const a = 1, b = 2;\nlet c;\nfunction f() {}\nclass K {}\nexport const d = 3;\n");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"a", "b", "c", "f", "K", "d"}));
  auto py = top_level_names("python", "x = 1\ndef f():\n    y = 2\nclass C:\n    pass\n");
  ASSERT_TRUE(py.ok());
  EXPECT_EQ(*py, (std::vector<std::string>{"x", "f", "C"}));
}

// Any pair of indexed languages: the source is split by its own grammar (imports, then
// definitions and statements in order) and every unit is checked against the target's.
struct PairCase {
  const char* from;
  const char* path;
  const char* to;
  const char* source;
  std::vector<std::pair<std::string, std::string>> replies;  // prompt substring -> answer
  std::vector<std::string> unit_names;
  const char* expected_grammar;
};

TEST(TranslateTest, OtherLanguagePairsAreSplitByTheSourceGrammarAndCheckedByTheTargets) {
  const std::vector<PairCase> cases = {
      {"javascript", "greet.js", "python",
       "import fs from 'fs';\n\nfunction greet(name) {\n  return 'hello ' + name;\n}\n\n"
       "class Counter {\n  constructor() { this.n = 0; }\n  inc() { this.n += 1; return this.n; }\n}\n",
       {{"import block", "```python\nimport os\n```"},
        {"function greet", "```python\ndef greet(name):\n    return 'hello ' + name\n```"},
        {"class Counter", "```python\nclass Counter:\n    def __init__(self):\n        self.n = 0\n\n"
                          "    def inc(self):\n        self.n += 1\n        return self.n\n```"}},
       {"imports", "greet", "Counter"}, "python"},
      {"go", "geo.go", "rust",
       "package geo\n\nimport \"math\"\n\nfunc Area(r float64) float64 {\n\treturn math.Pi * r * r\n}\n\n"
       "type Point struct {\n\tX, Y float64\n}\n",
       {{"import block", "```rust\n// package geo, import math\nuse std::f64::consts::PI;\n```"},
        {"func Area", "```rust\npub fn area(r: f64) -> f64 {\n    PI * r * r\n}\n```"},
        {"type Point", "```rust\npub struct Point {\n    pub x: f64,\n    pub y: f64,\n}\n```"}},
       {"imports", "Area", "Point"}, "rust"},  // the package clause and the imports: one unit
      {"java", "Box.java", "typescript",
       "import java.util.List;\n\npublic class Box {\n  private int size;\n  public int size() { return size; }\n}\n",
       {{"import block", "```typescript\n// java.util.List: arrays\n```"},
        {"class Box", "```ts\nexport class Box {\n  private _size = 0;\n  size(): number {\n    return this._size;\n  }\n}\n```"}},
       {"imports", "Box"}, "typescript"},
  };
  for (const PairCase& c : cases) {
    SCOPED_TRACE(std::string(c.from) + " -> " + c.to);
    Script script;
    for (const auto& [match, text] : c.replies) script.replies.push_back({match, text});
    ScriptedGenerator g(script);
    Translator t(g);
    TranslateRequest req;
    req.path = c.path;
    req.language_id = c.from;
    req.text = c.source;
    req.target = c.to;
    auto r = t.translate(req, CancelToken());
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->target_grammar, c.expected_grammar);
    EXPECT_EQ(r->n_failed, 0) << r->code;
    EXPECT_TRUE(r->syntax.clean()) << r->code;
    std::vector<std::string> names;
    for (const auto& u : r->units) names.push_back(u.name);
    for (const std::string& want : c.unit_names) {
      EXPECT_NE(std::find(names.begin(), names.end(), want), names.end()) << want << " among the units";
    }
    for (const auto& [match, text] : c.replies) {  // every answer's code is in the file
      const size_t open = text.find('\n') + 1;
      const std::string code = text.substr(open, text.rfind("```") - open);
      EXPECT_NE(r->code.find(code), std::string::npos) << code << "\nin\n" << r->code;
    }
  }
  // A unit answered in the wrong language does not pass the target's parser.
  Script wrong;
  wrong.replies = {{"", "```rust\nfn area(r: f64) -> f64 { r }\n```"}};
  ScriptedGenerator g(wrong);
  Translator t(g);
  TranslateRequest req;
  req.path = "a.js";
  req.language_id = "javascript";
  req.text = "function area(r) {\n  return r;\n}\n";
  req.target = "python";
  auto r = t.translate(req, CancelToken());
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->n_failed, 1) << r->code;
  EXPECT_TRUE(r->syntax.clean()) << r->code;
}

TEST(TranslateTest, UnknownLanguagesAreErrors) {
  ScriptedGenerator g(Script{});
  Translator t(g);
  TranslateRequest req;
  req.path = "m.py";
  req.language_id = "python";
  req.text = kModule;
  req.target = "klingon";
  EXPECT_EQ(t.translate(req, CancelToken()).error().code(), ErrorCode::kUnsupported);
  EXPECT_EQ(target_grammar("JS"), "javascript");
  EXPECT_EQ(target_grammar("C++"), "cpp");
  EXPECT_EQ(target_grammar("TypeScript"), "typescript");
}

}  // namespace
}  // namespace moecode::assist
