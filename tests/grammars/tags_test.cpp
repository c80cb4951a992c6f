// Per-language tags: each tests/grammars/<lang>/ holds a sample source and expected.tags,
// the definitions, references and imports our queries must extract from it, in order:
//   def <kind> [<container>.]<name> <line>
//   ref <kind> <name> <line>
//   import <module> <name or -> <line>
// (lines are 1-based; '#' starts a comment). Also: every grammar loads into the
// tree-sitter runtime (ABI) and every tags query compiles.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "grammars/languages.h"
#include "lsp/workspace/tags.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using workspace::FileSymbols;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> format_tags(const FileSymbols& s) {
  std::vector<std::string> out;
  for (const auto& d : s.definitions) {
    out.push_back("def " + std::string(workspace::symbol_kind_name(d.kind)) + " " +
                  (d.container.empty() ? "" : d.container.str() + ".") + d.name.str() + " " + std::to_string(d.range.start.row + 1));
  }
  for (const auto& r : s.references) {
    out.push_back("ref " + std::string(workspace::reference_kind_name(r.kind)) + " " + r.name.str() + " " +
                  std::to_string(r.start.row + 1));
  }
  for (const auto& i : s.imports) {
    out.push_back("import " + i.module.str() + " " + (i.name.empty() ? "-" : i.name.str()) + " " +
                  std::to_string(i.range.start.row + 1));
  }
  return out;
}

std::vector<std::string> expected_lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == ' ' || line.back() == '\r')) line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    out.push_back(line);
  }
  return out;
}

std::vector<std::string> languages_with_samples() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(fs::path(MOECODE_SOURCE_DIR) / "tests" / "grammars")) {
    if (e.is_directory() && fs::exists(e.path() / "expected.tags")) out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(GrammarsTest, EveryGrammarLoadsIntoTheRuntime) {
  TSParser* parser = ts_parser_new();
  for (const auto& lang : grammars::all_languages()) {
    EXPECT_TRUE(ts_parser_set_language(parser, lang.ts())) << lang.name << ": ABI " << ts_language_version(lang.ts());
  }
  ts_parser_delete(parser);
  EXPECT_GE(grammars::all_languages().size(), 15u);
}

TEST(GrammarsTest, EveryTagsQueryCompiles) {
  int n = 0;
  for (const auto& lang : grammars::all_languages()) {
    if (lang.tags_query.empty()) continue;
    auto q = workspace::TagQuery::get(lang);
    ASSERT_TRUE(q.ok()) << q.error().message();
    EXPECT_NE(*q, nullptr);
    ++n;
  }
  EXPECT_GE(n, 14);  // every language but json
}

TEST(GrammarsTest, LanguageForPath) {
  EXPECT_EQ(grammars::language_for_path("a/b/x.py")->name, "python");
  EXPECT_EQ(grammars::language_for_path("x.H")->name, "cpp");
  EXPECT_EQ(grammars::language_for_path("x.h")->name, "cpp");
  EXPECT_EQ(grammars::language_for_path("x.TSX")->name, "tsx");
  EXPECT_EQ(grammars::language_for_path("Rakefile")->name, "ruby");
  EXPECT_EQ(grammars::language_for_path("README.md"), nullptr);
  EXPECT_EQ(grammars::language_for_path(".gitignore"), nullptr);
  EXPECT_EQ(grammars::language_for_path("noext"), nullptr);
  EXPECT_EQ(grammars::language_by_name("csharp")->name, "c_sharp");
}

TEST(GrammarsTest, QueryErrorsNameTheFileAndPosition) {
  const auto* py = grammars::language_by_name("python");
  auto bad = workspace::TagQuery::compile(*py, "(function_definition name: (identifier) @name) @definition.function\n(nosuchnode) @name");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("queries/python/tags.scm:2:"), std::string::npos) << bad.error().message();
  auto bad_capture = workspace::TagQuery::compile(*py, "(identifier) @definition.gizmo");
  ASSERT_FALSE(bad_capture.ok());
  EXPECT_NE(bad_capture.error().message().find("definition.gizmo"), std::string::npos);
}

// Predicates are ours: #eq?, #not-eq?, #match?, #not-match?, #any-of?, #not-any-of?.
TEST(GrammarsTest, PredicatesAreEvaluated) {
  const auto* py = grammars::language_by_name("python");
  const std::string src = "def alpha(): pass\ndef beta(): pass\ndef gamma(): pass\nBETA = 1\n";
  auto run = [&](const std::string& query) {
    auto q = workspace::TagQuery::compile(*py, query);
    EXPECT_TRUE(q.ok()) << (q.ok() ? "" : q.error().message());
    if (!q.ok()) return std::vector<std::string>{};
    TSParser* p = ts_parser_new();
    ts_parser_set_language(p, py->ts());
    TSTree* t = ts_parser_parse_string(p, nullptr, src.data(), static_cast<uint32_t>(src.size()));
    TSQueryCursor* c = ts_query_cursor_new();
    FileSymbols syms;
    (*q)->extract(c, ts_tree_root_node(t), src, {}, &syms);
    ts_query_cursor_delete(c);
    ts_tree_delete(t);
    ts_parser_delete(p);
    std::vector<std::string> names;
    for (const auto& d : syms.definitions) names.push_back(d.name.str());
    return names;
  };
  const std::string fn = "((function_definition name: (identifier) @name) @definition.function ";
  EXPECT_EQ(run(fn + "(#eq? @name \"beta\"))"), std::vector<std::string>{"beta"});
  EXPECT_EQ(run(fn + "(#not-eq? @name \"beta\"))"), (std::vector<std::string>{"alpha", "gamma"}));
  EXPECT_EQ(run(fn + "(#match? @name \"^[ab]\"))"), (std::vector<std::string>{"alpha", "beta"}));
  EXPECT_EQ(run(fn + "(#not-match? @name \"a$\"))"), std::vector<std::string>{});
  EXPECT_EQ(run(fn + "(#any-of? @name \"gamma\" \"alpha\"))"), (std::vector<std::string>{"alpha", "gamma"}));
  EXPECT_EQ(run(fn + "(#not-any-of? @name \"gamma\" \"alpha\"))"), std::vector<std::string>{"beta"});
  // Capture against capture: a module-level assignment whose name equals its value's name.
  EXPECT_EQ(run("((assignment left: (identifier) @name right: (_) @_v) @definition.constant (#eq? @name @_v))"),
            std::vector<std::string>{});
}

// The languages the issue names must each have a sample with definitions and references.
TEST(GrammarsTest, RequiredLanguagesHaveSamples) {
  const auto langs = languages_with_samples();
  for (const char* required : {"c", "cpp", "python", "javascript", "typescript", "go", "rust", "java"}) {
    ASSERT_NE(std::find(langs.begin(), langs.end(), required), langs.end()) << required;
    const auto want = expected_lines(read(fs::path(MOECODE_SOURCE_DIR) / "tests" / "grammars" / required / "expected.tags"));
    size_t defs = 0, refs = 0;
    for (const auto& l : want) {
      defs += l.starts_with("def ");
      refs += l.starts_with("ref ");
    }
    EXPECT_GE(defs, 5u) << required;
    EXPECT_GE(refs, 3u) << required;
  }
}

class LanguageTagsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(LanguageTagsTest, SampleGivesExpectedTags) {
  const fs::path dir = fs::path(MOECODE_SOURCE_DIR) / "tests" / "grammars" / GetParam();
  fs::path sample;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename() != "expected.tags") sample = e.path();
  }
  ASSERT_FALSE(sample.empty()) << "no sample in " << dir;
  const grammars::Language* lang = grammars::language_for_path(sample.string());
  ASSERT_NE(lang, nullptr) << sample;
  EXPECT_EQ(lang->name, GetParam());
  const std::string text = read(sample);
  workspace::TagExtractor extractor;
  FileSymbols syms;
  auto tree = extractor.parse(*lang, text, nullptr, {}, &syms);
  ASSERT_TRUE(tree.ok()) << tree.error().message();
  EXPECT_FALSE(syms.has_errors) << sample << " does not parse cleanly";
  const auto got = format_tags(syms);
  const auto want = expected_lines(read(dir / "expected.tags"));
  std::string got_text;
  for (const auto& l : got) got_text += l + "\n";
  EXPECT_EQ(got, want) << "extracted from " << sample.filename() << ":\n" << got_text;
}

INSTANTIATE_TEST_SUITE_P(Languages, LanguageTagsTest, ::testing::ValuesIn(languages_with_samples()),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace moecode
