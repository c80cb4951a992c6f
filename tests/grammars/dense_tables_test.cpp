// grammars::with_dense_parse_table: every ABI-14 grammar is served with dense parse tables,
// and they give the same trees as the grammar's own compressed tables, on every sample,
// every fuzzer seed and the C/C++ sources of this repository (broken code included: error
// recovery reads the tables most).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "grammars/languages.h"

extern "C" const TSLanguage* tree_sitter_cpp();

namespace moecode {
namespace {

namespace fs = std::filesystem;

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string tree_string(TSParser* parser, const TSLanguage* language, const std::string& text) {
  EXPECT_TRUE(ts_parser_set_language(parser, language));
  TSTree* tree = ts_parser_parse_string(parser, nullptr, text.data(), static_cast<uint32_t>(text.size()));
  char* s = ts_node_string(ts_tree_root_node(tree));
  std::string out(s);
  std::free(s);
  ts_tree_delete(tree);
  return out;
}

TEST(DenseParseTables, EveryAbi14GrammarIsServedDense) {
  // grammar() is the compiled grammar itself.
  EXPECT_EQ(grammars::language_by_name("cpp")->grammar(), tree_sitter_cpp());
  for (const auto& lang : grammars::all_languages()) {
    const TSLanguage* original = lang.grammar();
    EXPECT_EQ(lang.ts(), lang.ts()) << lang.name;  // built once
    if (ts_language_version(original) == 14) {
      EXPECT_NE(lang.ts(), original) << lang.name << ": not served with dense tables";
    } else {
      EXPECT_EQ(lang.ts(), original) << lang.name << ": ABI " << ts_language_version(original);
    }
    EXPECT_EQ(ts_language_symbol_count(lang.ts()), ts_language_symbol_count(original));
  }
  EXPECT_EQ(grammars::with_dense_parse_table(nullptr), nullptr);
  EXPECT_GE(grammars::dense_parse_table_bytes(), size_t{9} << 20);  // C++ alone: 8637 x 538 x 2
}

TEST(DenseParseTables, GiveTheSameTreesAsTheGrammarsTables) {
  const fs::path root(MOECODE_SOURCE_DIR);
  std::map<std::string, std::vector<std::string>> texts;  // language -> sources
  for (const auto& e : fs::directory_iterator(root / "tests" / "grammars")) {
    if (!e.is_directory()) continue;
    for (const auto& f : fs::directory_iterator(e.path())) {
      if (f.path().filename() == "expected.tags") continue;
      texts[e.path().filename().string()].push_back(read(f.path()));
    }
  }
  for (const auto& e : fs::directory_iterator(root / "tests" / "fuzz" / "corpus" / "tags_fuzz")) {
    const std::string name = e.path().filename().string();
    const std::string bytes = read(e.path());
    if (bytes.size() > 5) texts[name.substr(0, name.rfind('-'))].push_back(bytes.substr(5));
  }
  size_t n_cpp = 0;
  for (const char* dir : {"engine", "lsp"}) {
    for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
      const std::string ext = e.path().extension().string();
      if (!e.is_regular_file() || (ext != ".cpp" && ext != ".h")) continue;
      texts["cpp"].push_back(read(e.path()));
      ++n_cpp;
    }
  }
  EXPECT_GE(n_cpp, 100u);
  TSParser* parser = ts_parser_new();
  size_t n_compared = 0;
  for (const auto& [name, sources] : texts) {
    const grammars::Language* lang = grammars::language_by_name(name);
    if (!lang) continue;
    const TSLanguage* original = lang->grammar();
    for (const std::string& text : sources) {
      // Broken variants too: the text cut in half, and with a stray brace in the middle.
      const std::string cut = text.substr(0, text.size() / 2);
      const std::string stray = text.substr(0, text.size() / 2) + "{ ) ]" + text.substr(text.size() / 2);
      for (const std::string* t : {&text, &cut, &stray}) {
        ASSERT_EQ(tree_string(parser, lang->ts(), *t), tree_string(parser, original, *t)) << name;
        ++n_compared;
      }
    }
  }
  ts_parser_delete(parser);
  EXPECT_GE(n_compared, 500u);
}

}  // namespace
}  // namespace moecode
