// lsp/assist/review: reading the model's findings (well-formed and malformed answers, as a
// model writes them), their validation, deduplication, and the Reviewer's prompt and answer
// handling with a scripted generator (reasoning, loops, retries, callers, the budget).
#include "lsp/assist/review.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "lsp/assist/scripted_generator.h"

namespace moecode::assist {
namespace {

// The scope of a hunk of src/area.py whose new lines are 10-20 (the first added line 12).
FindingScope scope() {
  FindingScope s;
  s.file = "src/area.py";
  s.first_line = 10;
  s.last_line = 20;
  s.first_changed_line = 12;
  return s;
}

// Every property a finding must have, whatever the answer was.
void expect_valid(const Finding& f, const FindingScope& s) {
  EXPECT_EQ(f.file, s.file);
  EXPECT_GE(f.line, s.first_line);
  EXPECT_LE(f.line, s.last_line);
  EXPECT_GE(f.end_line, f.line);
  EXPECT_LE(f.end_line, s.last_line);
  Severity sev;
  EXPECT_TRUE(parse_severity(severity_name(f.severity), &sev));
  const auto& cats = review_categories();
  EXPECT_NE(std::find(cats.begin(), cats.end(), f.category), cats.end()) << f.category;
  EXPECT_FALSE(f.message.empty());
  EXPECT_LE(f.message.size(), 1010u);
  EXPECT_LE(f.suggestion.size(), 2010u);
  for (char c : f.message) EXPECT_FALSE(static_cast<unsigned char>(c) < 0x20) << "control character in message";
}

bool any_note(const std::vector<std::string>& notes, std::string_view text) {
  return std::any_of(notes.begin(), notes.end(), [&](const std::string& n) { return n.find(text) != std::string::npos; });
}

const char* kTwoFindings = R"([
  {"line": 12, "end_line": 13, "severity": "error", "category": "bug",
   "message": "Division by zero when rs is empty.", "suggestion": "if not rs:\n    return 0"},
  {"line": 15, "severity": "warning", "category": "performance", "message": "area() is computed twice."}
])";

TEST(ReviewParse, FencedArray) {
  const ParsedFindings p = parse_findings(std::string("Here you go:\n```json\n") + kTwoFindings + "\n```\n", scope());
  ASSERT_EQ(p.findings.size(), 2u);
  EXPECT_TRUE(p.found_json);
  EXPECT_TRUE(p.notes.empty()) << p.notes[0];
  const Finding& a = p.findings[0];
  EXPECT_EQ(a.file, "src/area.py");
  EXPECT_EQ(a.line, 12);
  EXPECT_EQ(a.end_line, 13);
  EXPECT_EQ(a.severity, Severity::kError);
  EXPECT_EQ(a.category, "bug");
  EXPECT_EQ(a.message, "Division by zero when rs is empty.");
  EXPECT_EQ(a.suggestion, "if not rs:\n    return 0");
  EXPECT_EQ(p.findings[1].end_line, 15);  // no end_line: the line itself
  EXPECT_EQ(p.findings[1].suggestion, "");
}

TEST(ReviewParse, BareObjectWrapperAndJsonLines) {
  auto one = parse_findings(R"({"line": 14, "severity": "note", "category": "style", "message": "Long line."})", scope());
  ASSERT_EQ(one.findings.size(), 1u);
  EXPECT_EQ(one.findings[0].line, 14);
  auto wrapped = parse_findings(std::string(R"({"findings": )") + kTwoFindings + "}", scope());
  EXPECT_EQ(wrapped.findings.size(), 2u);
  auto lines = parse_findings(
      "{\"line\": 11, \"severity\": \"warning\", \"message\": \"a\"}\n{\"line\": 16, \"severity\": \"error\", "
      "\"message\": \"b\"}\n",
      scope());
  ASSERT_EQ(lines.findings.size(), 2u);
  EXPECT_EQ(lines.findings[1].line, 16);
}

TEST(ReviewParse, ProseAroundJson) {
  auto p = parse_findings(std::string("I reviewed the change [carefully]. The problems are:\n") + kTwoFindings +
                              "\nLet me know {if} you need more.",
                          scope());
  ASSERT_EQ(p.findings.size(), 2u);
  EXPECT_EQ(p.findings[0].message, "Division by zero when rs is empty.");
}

TEST(ReviewParse, TruncatedArrayKeepsTheCompleteFindings) {
  const std::string cut =
      R"([{"line": 12, "severity": "error", "category": "bug", "message": "first"}, {"line": 13, "severity": "warn)";
  auto p = parse_findings(cut, scope());
  ASSERT_EQ(p.findings.size(), 1u);
  EXPECT_EQ(p.findings[0].message, "first");
  EXPECT_TRUE(any_note(p.notes, "cut off"));
}

TEST(ReviewParse, NoJsonIsZeroFindingsAndANote) {
  auto p = parse_findings("The code looks good to me. Great job!", scope());
  EXPECT_TRUE(p.findings.empty());
  EXPECT_FALSE(p.found_json);
  ASSERT_EQ(p.notes.size(), 1u);
  EXPECT_NE(p.notes[0].find("no JSON"), std::string::npos);
  auto empty = parse_findings("", scope());
  EXPECT_TRUE(empty.findings.empty());
  EXPECT_EQ(empty.notes.size(), 1u);
  // An empty array is an answer: no problem, nothing to note.
  auto none = parse_findings("```json\n[]\n```", scope());
  EXPECT_TRUE(none.findings.empty());
  EXPECT_TRUE(none.found_json);
  EXPECT_TRUE(none.notes.empty());
}

TEST(ReviewParse, WrongTypesAreDroppedOrRepaired) {
  auto p = parse_findings(R"([
    {"line": "abc", "severity": "error", "message": "bad line"},
    {"line": 12, "severity": "error", "message": 42},
    {"line": 12, "severity": "error", "message": "   "},
    {"line": -3, "severity": "error", "message": "negative"},
    {"line": 12, "severity": 5, "category": ["bug"], "message": "odd severity", "suggestion": {"code": 1}},
    {"line": "13", "severity": "ERROR", "message": "line as text"},
    {"line": 14.0, "end_line": "L16", "severity": "Warning", "message": "float line"},
    {"line": "17-18", "severity": "critical", "message": "a range"},
    17, "just text", null
  ])",
                          scope());
  ASSERT_EQ(p.findings.size(), 4u);
  for (const Finding& f : p.findings) expect_valid(f, scope());
  EXPECT_EQ(p.findings[0].message, "odd severity");
  EXPECT_EQ(p.findings[0].severity, Severity::kNote);  // an invalid severity is reported as a note
  EXPECT_EQ(p.findings[0].category, "other");
  EXPECT_EQ(p.findings[0].suggestion, "");
  EXPECT_EQ(p.findings[1].line, 13);
  EXPECT_EQ(p.findings[1].severity, Severity::kError);
  EXPECT_EQ(p.findings[2].line, 14);
  EXPECT_EQ(p.findings[2].end_line, 16);
  EXPECT_EQ(p.findings[2].severity, Severity::kWarning);
  EXPECT_EQ(p.findings[3].line, 17);
  EXPECT_EQ(p.findings[3].end_line, 18);
  EXPECT_EQ(p.findings[3].severity, Severity::kError);
  EXPECT_TRUE(any_note(p.notes, "no valid line"));
  EXPECT_TRUE(any_note(p.notes, "without a message"));
  EXPECT_TRUE(any_note(p.notes, "empty message"));
  EXPECT_TRUE(any_note(p.notes, "not error|warning|note"));
  EXPECT_TRUE(any_note(p.notes, "suggestion is not text"));
  EXPECT_TRUE(any_note(p.notes, "not objects"));
}

TEST(ReviewParse, SeverityAndCategoryNames) {
  auto p = parse_findings(R"([
    {"line": 12, "severity": "banana", "category": "bug", "message": "m1"},
    {"line": 12, "severity": "info", "category": "Error Handling", "message": "m2"},
    {"line": 12, "severity": "high", "category": "readability", "message": "m3"},
    {"line": 12, "category": "SECURITY", "message": "m4"},
    {"line": 12, "severity": "warning", "category": "made-up-thing", "message": "m5"}
  ])",
                          scope());
  ASSERT_EQ(p.findings.size(), 5u);
  EXPECT_EQ(p.findings[0].severity, Severity::kNote);
  EXPECT_TRUE(any_note(p.notes, "'banana'") || any_note(p.notes, "\"banana\""));
  EXPECT_EQ(p.findings[1].severity, Severity::kNote);
  EXPECT_EQ(p.findings[1].category, "error-handling");
  EXPECT_EQ(p.findings[2].severity, Severity::kError);
  EXPECT_EQ(p.findings[2].category, "maintainability");
  EXPECT_EQ(p.findings[3].severity, Severity::kNote);  // none given
  EXPECT_EQ(p.findings[3].category, "security");
  EXPECT_EQ(p.findings[4].category, "other");
}

TEST(ReviewParse, LinesAreMappedToTheHunk) {
  auto p = parse_findings(R"([
    {"line": 8, "severity": "error", "message": "two lines above the hunk"},
    {"line": 22, "end_line": 30, "severity": "error", "message": "two lines below"},
    {"line": 3, "severity": "error", "message": "far above"},
    {"line": 400, "severity": "error", "message": "far below"},
    {"line": 15, "end_line": 11, "severity": "error", "message": "end before start"},
    {"line": 19, "end_line": 99, "severity": "error", "message": "end past the hunk"},
    {"severity": "error", "message": "no line at all"}
  ])",
                          scope());
  ASSERT_EQ(p.findings.size(), 5u);
  for (const Finding& f : p.findings) expect_valid(f, scope());
  EXPECT_EQ(p.findings[0].line, 10);  // clamped up
  EXPECT_EQ(p.findings[1].line, 20);  // clamped down
  EXPECT_EQ(p.findings[1].end_line, 20);
  EXPECT_EQ(p.findings[2].line, 15);
  EXPECT_EQ(p.findings[2].end_line, 15);
  EXPECT_EQ(p.findings[3].end_line, 20);
  EXPECT_EQ(p.findings[4].line, 12);  // the first changed line
  EXPECT_TRUE(any_note(p.notes, "moved from line 8 to 10"));
  EXPECT_TRUE(any_note(p.notes, "on line 3, outside the hunk (dropped)"));
  EXPECT_TRUE(any_note(p.notes, "on line 400, outside the hunk (dropped)"));
  EXPECT_TRUE(any_note(p.notes, "has no line; placed on line 12"));
}

TEST(ReviewParse, OnlyTheHunksFileMayBeNamed) {
  auto p = parse_findings(R"([
    {"file": "src/area.py", "line": 12, "message": "same path"},
    {"file": "./src/area.py", "line": 12, "message": "dot slash"},
    {"file": "b/src/area.py", "line": 12, "message": "diff prefix"},
    {"file": "area.py", "line": 12, "message": "base name"},
    {"file": "../src/area.py", "line": 12, "message": "dot dot"},
    {"file": "src/../../etc/passwd", "line": 12, "message": "traversal"},
    {"file": "/etc/passwd", "line": 12, "message": "absolute"},
    {"file": "C:\\src\\area.py", "line": 12, "message": "windows"},
    {"file": "other.py", "line": 12, "message": "another file"},
    {"file": "rc/area.py", "line": 12, "message": "partial component"},
    {"file": 7, "line": 12, "message": "not a string"}
  ])",
                          scope());
  std::vector<std::string> kept;
  for (const Finding& f : p.findings) kept.push_back(f.message);
  EXPECT_EQ(kept, (std::vector<std::string>{"same path", "dot slash", "diff prefix", "base name"}));
  for (const Finding& f : p.findings) EXPECT_EQ(f.file, "src/area.py");
  EXPECT_EQ(std::count_if(p.notes.begin(), p.notes.end(),
                          [](const std::string& n) { return n.find("names another file") != std::string::npos; }),
            7);
}

TEST(ReviewParse, ReasoningNeverBecomesAFinding) {
  const std::string fake = R"([{"line": 12, "severity": "error", "message": "FAKE from reasoning"}])";
  for (const std::string& answer : {
           "<think>" + fake + "</think>[]",
           "<think>maybe " + fake + " is wrong</think>\n```json\n[]\n```",
           fake + "</think>[]",  // R1: the prompt opened the block
           "[]<think>" + fake,   // an unclosed block at the end
           "<think>a</think>[]<think>" + fake + "</think>",  // a second block
           "<think>" + fake,     // still thinking when cut off
       }) {
    const ParsedFindings p = parse_findings(answer, scope());
    EXPECT_TRUE(p.findings.empty()) << answer;
  }
  auto real = parse_findings("<think>" + fake + "</think>" +
                                 R"([{"line": 13, "severity": "warning", "message": "real"}])",
                             scope());
  ASSERT_EQ(real.findings.size(), 1u);
  EXPECT_EQ(real.findings[0].message, "real");
}

TEST(ReviewParse, TextIsCleanedAndCapped) {
  const std::string long_message(5000, 'x');
  auto p = parse_findings(std::string(R"([{"line": 12, "message": ")") + long_message + R"("},
      {"line": 13, "message": "tab\there\nnew line\u0007bell", "suggestion": "a\n  b"},
      {"line": 14, "message": "caf\u00e9 ok"}])",
                          scope());
  ASSERT_EQ(p.findings.size(), 3u);
  EXPECT_LE(p.findings[0].message.size(), 1003u);
  EXPECT_TRUE(p.findings[0].message.ends_with("..."));
  EXPECT_EQ(p.findings[1].message, "tab here new linebell");
  EXPECT_EQ(p.findings[1].suggestion, "a\n  b");  // suggestions keep their lines
  EXPECT_EQ(p.findings[2].message, "caf\xc3\xa9 ok");
}

TEST(ReviewParse, CjkSuggestionIsLeftOutInAnEnglishContext) {
  const std::string answer =
      R"([{"line": 12, "severity": "warning", "message": "Use a guard.", "suggestion": "if 列表为空: return 0"}])";
  auto english = parse_findings(answer, scope());
  ASSERT_EQ(english.findings.size(), 1u);
  EXPECT_EQ(english.findings[0].suggestion, "");
  EXPECT_TRUE(any_note(english.notes, "CJK"));
  FindingScope cjk = scope();
  cjk.english_context = false;
  auto chinese = parse_findings(answer, cjk);
  ASSERT_EQ(chinese.findings.size(), 1u);
  EXPECT_NE(chinese.findings[0].suggestion, "");
}

TEST(ReviewParse, TooManyFindingsAreCapped) {
  std::string answer = "[";
  for (int i = 0; i < 50; ++i) answer += (i ? "," : "") + std::string(R"({"line": 12, "message": "m)") + std::to_string(i) + "\"}";
  answer += "]";
  auto p = parse_findings(answer, scope());
  EXPECT_EQ(p.findings.size(), 20u);
  EXPECT_TRUE(any_note(p.notes, "more than 20"));
}

TEST(ReviewParse, HostileNestingDoesNotCrash) {
  EXPECT_TRUE(parse_findings(std::string(100000, '['), scope()).findings.empty());
  EXPECT_TRUE(parse_findings(std::string(50000, '{') + std::string(50000, '}'), scope()).findings.empty());
  std::string deep;
  for (int i = 0; i < 2000; ++i) deep += "[";
  deep += R"({"line": 12, "message": "deep"})";
  for (int i = 0; i < 2000; ++i) deep += "]";
  for (const Finding& f : parse_findings(deep, scope()).findings) expect_valid(f, scope());
}

// Every prefix of a valid answer (a cut-off stream) and random corruptions of it: whatever
// comes out is valid.
TEST(ReviewParse, MalformedAnswersNeverYieldAnInvalidFinding) {
  const std::string answer = std::string("```json\n") + kTwoFindings +
                             R"(
, {"file": "../x.py", "line": 99, "severity": "fatal", "category": "race", "message": "m", "suggestion": ["a", "b"]}
```)";
  size_t n_findings = 0;
  for (size_t cut = 0; cut <= answer.size(); ++cut) {
    const ParsedFindings p = parse_findings(answer.substr(0, cut), scope());
    for (const Finding& f : p.findings) expect_valid(f, scope());
    n_findings += p.findings.size();
  }
  EXPECT_GT(n_findings, 0u);  // the prefixes that hold complete findings gave them
  std::mt19937 rng(1234);
  const std::string alphabet = "{}[]\",:0123456789 \n\\abcdelinemsgvrty-";
  for (int iter = 0; iter < 3000; ++iter) {
    std::string s = answer;
    const int n_edits = 1 + static_cast<int>(rng() % 6);
    for (int e = 0; e < n_edits; ++e) {
      const size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: s.erase(at, 1 + rng() % 8); break;
        default: s.insert(s.begin() + static_cast<long>(at), alphabet[rng() % alphabet.size()]);
      }
      if (s.empty()) s.push_back('[');
    }
    const ParsedFindings p = parse_findings(s, scope());
    for (const Finding& f : p.findings) expect_valid(f, scope());
  }
}

TEST(ReviewDedup, SameLineCategoryAndSimilarMessageMerge) {
  std::vector<Finding> f = {
      {"a.py", 3, 3, Severity::kWarning, "bug", "Division by zero when the list is empty.", ""},
      {"a.py", 3, 4, Severity::kError, "bug", "division by zero when the list is empty", "if not xs: return 0"},
      {"a.py", 3, 3, Severity::kWarning, "performance", "Division by zero when the list is empty.", ""},
      {"a.py", 4, 4, Severity::kWarning, "bug", "Division by zero when the list is empty.", ""},
      {"b.py", 3, 3, Severity::kWarning, "bug", "Division by zero when the list is empty.", ""},
      {"a.py", 3, 3, Severity::kNote, "bug", "Unused variable tmp.", ""},
  };
  std::vector<std::string> notes;
  deduplicate(f, &notes);
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0].severity, Severity::kError);  // the more severe one wins
  EXPECT_EQ(f[0].suggestion, "if not xs: return 0");
  EXPECT_EQ(f[0].end_line, 4);
  EXPECT_EQ(notes.size(), 1u);
  EXPECT_TRUE(similar_messages("Off by one in the loop bound", "off-by-one in the loop bound!"));
  EXPECT_FALSE(similar_messages("Off by one in the loop bound", "The file handle is never closed"));
}

// ---- the Reviewer ----------------------------------------------------------------------------

const char* kNewText =
    "import math\n"                            // 1
    "\n"                                       // 2
    "\n"                                       // 3
    "def area(r):\n"                           // 4
    "    return 3.14 * r\n"                    // 5
    "\n"                                       // 6
    "\n"                                       // 7
    "def total(rs):\n"                         // 8
    "    return sum(area(r) for r in rs)\n";   // 9

ReviewFile area_file() {
  ReviewFile f;
  f.path = "src/area.py";
  f.new_text = std::make_shared<const std::string>(kNewText);
  ReviewHunk h;
  h.new_start = 2;
  h.new_lines = 6;
  h.header = "@@ -2,6 +2,6 @@ import math";
  h.lines = {{' ', 2, 2, ""}, {' ', 3, 3, ""}, {' ', 4, 4, "def area(r):"}, {'-', 5, 0, "    return math.pi * r * r"},
             {'+', 0, 5, "    return 3.14 * r"}, {' ', 6, 6, ""}, {' ', 7, 7, ""}};
  f.hunks.push_back(h);
  return f;
}

std::unique_ptr<ScriptedGenerator> scripted(std::vector<ScriptedReply> replies, std::string fallback = "[]") {
  Script s;
  s.replies = std::move(replies);
  s.fallback = std::move(fallback);
  return std::make_unique<ScriptedGenerator>(std::move(s));
}

TEST(Reviewer, PromptHoldsNumberedHunkDefinitionAndCallers) {
  auto gen = scripted({{"src/area.py",
                        R"([{"line": 5, "severity": "error", "category": "bug", "message": "Wrong formula."}])"}});
  std::vector<std::string> asked;
  CallerLookup callers = [&](const std::string& file, const std::string& symbol, int max) {
    asked.push_back(file + ":" + symbol);
    EXPECT_GT(max, 0);
    return std::vector<CallerSnippet>{{symbol, "src/report.py", 7, "def report(c):\n    print(area(c.r))\n"}};
  };
  Reviewer reviewer(*gen, callers);
  auto r = reviewer.review_hunk(area_file(), 0, {}, CancelToken());
  ASSERT_TRUE(r.ok()) << r.error().message();
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].file, "src/area.py");
  EXPECT_EQ(r->findings[0].line, 5);
  EXPECT_EQ(asked, (std::vector<std::string>{"src/area.py:area"}));
  const std::string prompt = gen->last_prompt();
  EXPECT_NE(prompt.find("    5 +     return 3.14 * r"), std::string::npos) << prompt;  // new-file numbers
  EXPECT_NE(prompt.find("      -     return math.pi * r * r"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("lines 4-5: function 'area'"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("src/report.py:7 calls area"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("print(area(c.r))"), std::string::npos) << prompt;
  EXPECT_NE(prompt.find("JSON array"), std::string::npos);
  EXPECT_EQ(r->n_attempts, 1);
}

TEST(Reviewer, ChangedDefinitionsOfAHunk) {
  const auto defs = Reviewer::changed_definitions(area_file(), area_file().hunks[0]);
  ASSERT_EQ(defs.size(), 1u);
  EXPECT_EQ(defs[0].name, "area");
  EXPECT_EQ(defs[0].first_line, 4);
  EXPECT_EQ(defs[0].last_line, 5);
}

TEST(Reviewer, LoopedAnswerGivesNoFindingAndSaysSo) {
  std::string loop = R"([{"line": 5, "severity": "error", "message": "x"}] )";
  for (int i = 0; i < 40; ++i) loop += "the same words again ";
  auto gen = scripted({{"", loop}});
  Reviewer reviewer(*gen, nullptr);
  ReviewOptions options;
  options.max_tokens = 4096;
  auto r = reviewer.review_hunk(area_file(), 0, options, CancelToken());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->looped);
  EXPECT_TRUE(r->findings.empty());
  ASSERT_FALSE(r->notes.empty());
  EXPECT_NE(r->notes.back().find("repeated itself"), std::string::npos) << r->notes.back();
}

TEST(Reviewer, ReasoningIsKeptApartFromFindings) {
  auto gen = scripted({{"", "<think>Line 5 looks wrong: [{\"line\": 5, \"message\": \"FAKE\"}]</think>\n"
                            R"([{"line": 5, "severity": "warning", "category": "bug", "message": "real one"}])"}});
  Reviewer reviewer(*gen, nullptr);
  auto r = reviewer.review_hunk(area_file(), 0, {}, CancelToken());
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].message, "real one");
  EXPECT_NE(r->reasoning.find("FAKE"), std::string::npos);
}

TEST(Reviewer, AnAnswerWithoutJsonIsAskedOnceMore) {
  auto gen = scripted({{"JSON array only", R"([{"line": 5, "severity": "note", "message": "second try"}])"},
                       {"", "This change looks risky to me."}});
  Reviewer reviewer(*gen, nullptr);
  auto r = reviewer.review_hunk(area_file(), 0, {}, CancelToken());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->n_attempts, 2);
  ASSERT_EQ(r->findings.size(), 1u);
  EXPECT_EQ(r->findings[0].message, "second try");
  EXPECT_EQ(gen->n_calls(), 2);
  // Two answers without JSON: zero findings, and notes that say why.
  auto prose = scripted({{"", "No idea."}});
  Reviewer r2(*prose, nullptr);
  auto none = r2.review_hunk(area_file(), 0, {}, CancelToken());
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->findings.empty());
  EXPECT_EQ(none->n_attempts, 2);
  EXPECT_TRUE(any_note(none->notes, "no JSON"));
}

TEST(Reviewer, PromptFitsTheContextWindow) {
  Script s;
  s.fallback = "[]";
  s.n_ctx = 1200;  // tokens of 4 bytes
  ScriptedGenerator gen(std::move(s));
  CallerLookup many = [](const std::string&, const std::string& symbol, int max) {
    std::vector<CallerSnippet> out;
    for (int i = 0; i < max; ++i) {
      std::string file = "c";
      file += std::to_string(i);
      file += ".py";
      out.push_back({symbol, file, 1, std::string(600, 'c')});
    }
    return out;
  };
  Reviewer reviewer(gen, many);
  ReviewOptions options;
  options.max_tokens = 256;
  auto r = reviewer.review_hunk(area_file(), 0, options, CancelToken());
  ASSERT_TRUE(r.ok());
  EXPECT_LE(gen.count_tokens(gen.last_prompt()), 1200 - 256);
  EXPECT_NE(gen.last_prompt().find("return 3.14 * r"), std::string::npos);  // the hunk stays
  EXPECT_NE(gen.last_prompt().find("c0.py"), std::string::npos);            // callers that fit stay
  EXPECT_EQ(gen.last_prompt().find("c5.py"), std::string::npos);            // the rest went
}

TEST(Reviewer, BadHunkIndexIsAnError) {
  auto gen = scripted({});
  Reviewer reviewer(*gen, nullptr);
  EXPECT_FALSE(reviewer.review_hunk(area_file(), 3, {}, CancelToken()).ok());
}

}  // namespace
}  // namespace moecode::assist
