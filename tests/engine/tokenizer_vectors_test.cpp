// Conformance of the tokenizers with llama.cpp's reference data: the tokenizer test
// vectors (tests/data/tokenizer/*.inp|.out, from Hugging Face tokenizers, with their
// vocab-only GGUFs) and the "tokenize" lists of every golden JSON of the fixture models
// (llama.cpp's own ids, with and without special-token handling).
#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "moecode/engine/tokenizer.h"
#include "support/tokenizer_vectors.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using engine::Token;
using engine::Tokenizer;

std::string read_file(const fs::path& p) { return testing::read_binary_file(p.string()); }

std::string show(const std::vector<Token>& ids) {
  std::string s;
  for (Token t : ids) {
    s += ' ';
    s += std::to_string(t);
  }
  return s;
}

// ---- llama.cpp's tokenizer test vectors ---------------------------------------------------

class TokenizerVectorsTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TokenizerVectorsTest, EveryCaseMatches) {
  const std::string name = GetParam();
  const fs::path gguf = fs::path(MOECODE_TEST_DATA_GEN) / "tokenizer" / ("ggml-vocab-" + name + ".gguf");
  const fs::path base = fs::path(MOECODE_TEST_DATA) / "tokenizer" / ("ggml-vocab-" + name + ".gguf");
  auto tok = Tokenizer::load(gguf.string());
  ASSERT_TRUE(tok.ok()) << tok.error().message();
  const auto cases = testing::read_vector_cases(base.string() + ".inp");
  const auto expected = testing::read_vector_ids(base.string() + ".out");
  ASSERT_EQ(cases.size(), 46u) << name;
  ASSERT_EQ(expected.size(), cases.size()) << name;
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<Token> got = (*tok)->encode(cases[i], /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(got, expected[i]) << name << " case " << i << " text '" << cases[i] << "'\n  got:     "
                                << show(got) << "\n  expected:" << show(expected[i]);
    failures += got != expected[i];
  }
  EXPECT_EQ(failures, 0) << name;
}

INSTANTIATE_TEST_SUITE_P(Sets, TokenizerVectorsTest,
                         ::testing::Values("bert-bge", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2",
                                           "llama-spm", "mpt", "phi-3", "refact", "starcoder"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
                           return n;
                         });

// ---- the vector sets whose vocabulary is not in tests/data --------------------------------
//
// tests/data/tokenizer/vectors-only holds llama.cpp's vectors for five vocabularies whose
// vocab-only GGUFs are too big to commit (7.5..15 MB each, 9.7 MB together even with xz -9e;
// tests/data/README.md). They run against llama.cpp's own files: scripts/setup takes them from
// the llama-cpp-python sdist on PyPI into $XDG_CACHE_HOME/moecode/llama-vocab, or
// MOECODE_LLAMA_VOCAB_DIR=<llama.cpp>/models. Otherwise each set is skipped, and says why.

struct VectorsOnlySet {
  const char* name;
  const char* vocab_size;  // of the GGUF that is not here
  size_t n_cases;
  const char* unsupported = nullptr;  // why the engine cannot load this vocabulary yet
};

const VectorsOnlySet kVectorsOnly[] = {
    {"llama-bpe", "7.8 MB", 46},
    {"qwen2", "5.9 MB", 46},
    {"qwen35", "5.9 MB", 50},
    {"command-r", "10.9 MB", 46},
    // llama.cpp's "gemma4" tokenizer: BPE merges over raw UTF-8 (not GPT-2 bytes) with spaces
    // as U+2581, split only at newlines, <0xXX> byte fallback.
    {"gemma-4", "15.8 MB", 46},
};

void PrintTo(const VectorsOnlySet& s, std::ostream* os) { *os << s.name; }

class TokenizerVectorsOnlyTest : public ::testing::TestWithParam<VectorsOnlySet> {};

TEST_P(TokenizerVectorsOnlyTest, EveryCaseMatches) {
  const VectorsOnlySet set = GetParam();
  const std::string file = std::string("ggml-vocab-") + set.name + ".gguf";
  const fs::path base = fs::path(MOECODE_TEST_DATA) / "tokenizer" / "vectors-only" / file;
  const auto cases = testing::read_vector_cases(base.string() + ".inp");
  const auto expected = testing::read_vector_ids(base.string() + ".out");
  ASSERT_EQ(cases.size(), set.n_cases) << set.name;
  ASSERT_EQ(expected.size(), cases.size()) << set.name;
  // MOECODE_LLAMA_VOCAB_DIR, else where scripts/setup puts them ($XDG_CACHE_HOME/moecode/llama-vocab).
  std::string dir;
  if (const char* env = std::getenv("MOECODE_LLAMA_VOCAB_DIR"); env != nullptr && *env != '\0') {
    dir = env;
  } else if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    dir = (fs::path(xdg) / "moecode" / "llama-vocab").string();
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    dir = (fs::path(home) / ".cache" / "moecode" / "llama-vocab").string();
  }
  if (dir.empty() || !fs::exists(fs::path(dir) / file)) {
    GTEST_SKIP() << set.name << ": its vocab GGUF " << file << " (" << set.vocab_size
                 << ") is too big for tests/data and is not in '" << dir << "'; run scripts/setup (it takes "
                 << "llama.cpp's vocabularies from the llama-cpp-python sdist on PyPI) or set "
                 << "MOECODE_LLAMA_VOCAB_DIR to a llama.cpp checkout's models/ folder to run these " << cases.size()
                 << " cases";
  }
  auto tok = Tokenizer::load((fs::path(dir) / file).string());
  if (set.unsupported) {
    ASSERT_FALSE(tok.ok()) << set.name << " loads now: drop its `unsupported` note";
    EXPECT_NE(tok.error().message().find("is not supported"), std::string::npos) << tok.error().message();
    GTEST_SKIP() << set.name << ": " << set.unsupported << " (" << tok.error().message() << ")";
  }
  ASSERT_TRUE(tok.ok()) << tok.error().message();
  int failures = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<Token> got = (*tok)->encode(cases[i], /*add_special=*/false, /*parse_special=*/false);
    EXPECT_EQ(got, expected[i]) << set.name << " case " << i << " text '" << cases[i] << "'\n  got:     "
                                << show(got) << "\n  expected:" << show(expected[i]);
    failures += got != expected[i];
  }
  EXPECT_EQ(failures, 0) << set.name;
}

INSTANTIATE_TEST_SUITE_P(Sets, TokenizerVectorsOnlyTest, ::testing::ValuesIn(kVectorsOnly), [](const auto& info) {
  std::string n = info.param.name;
  for (char& c : n) c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return n;
});

TEST(TokenizerVectorsOnlyTest, EverySetIsListed) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(MOECODE_TEST_DATA) / "tokenizer" / "vectors-only")) {
    const std::string f = e.path().filename().string();
    if (!f.ends_with(".gguf.inp")) continue;
    const std::string name = f.substr(11, f.size() - 11 - 9);
    EXPECT_TRUE(std::any_of(std::begin(kVectorsOnly), std::end(kVectorsOnly),
                            [&](const VectorsOnlySet& s) { return name == s.name; }))
        << name;
    ++n;
  }
  EXPECT_EQ(n, static_cast<int>(std::size(kVectorsOnly)));
}

// ---- vectors made with llama.cpp's own tokenizer ------------------------------------------
//
// tests/data/tokenizer/llama-cpp/<vocab>.inp|.out: cases where llama.cpp's tokenizer is the
// reference rather than Hugging Face's (tools/golden_dump tokenize; tests/data/README.md).
// ggml-vocab-bert-bge: WordPiece accent stripping on Hangul, compatibility characters,
// two-part vowel signs and stemmed notes (llama.cpp keeps the first code point of each
// character's decomposition: a Hangul syllable becomes its leading consonant jamo).

TEST(TokenizerLlamaCppVectorsTest, WpmMatchesLlamaCpp) {
  const fs::path base = fs::path(MOECODE_TEST_DATA) / "tokenizer" / "llama-cpp" / "ggml-vocab-bert-bge.gguf";
  auto tok = Tokenizer::load((fs::path(MOECODE_TEST_DATA_GEN) / "tokenizer" / "ggml-vocab-bert-bge.gguf").string());
  ASSERT_TRUE(tok.ok()) << tok.error().message();
  const auto cases = testing::read_vector_cases(base.string() + ".inp");
  const auto expected = testing::read_vector_ids(base.string() + ".out");
  ASSERT_EQ(cases.size(), 12u);
  ASSERT_EQ(expected.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i) {
    const std::vector<Token> got = (*tok)->encode(cases[i], false, false);
    EXPECT_EQ(got, expected[i]) << "case " << i << " text '" << cases[i] << "'\n  got:     " << show(got)
                                << "\n  expected:" << show(expected[i]);
  }
  // The case that shows the difference: 안녕하세요 is five leading consonants, not 13 jamo.
  EXPECT_EQ(expected[0].size(), 5u);
}

// Every vector set of tests/data/tokenizer/ with a vocabulary is in the list above.
TEST(TokenizerVectorsTest, EverySetIsCovered) {
  const std::vector<std::string> listed = {"bert-bge", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2",
                                           "llama-spm", "mpt", "phi-3", "refact", "starcoder"};
  int n = 0;
  for (const auto& e : fs::directory_iterator(fs::path(MOECODE_TEST_DATA) / "tokenizer")) {
    const std::string f = e.path().filename().string();
    if (!f.ends_with(".gguf.inp")) continue;
    const std::string name = f.substr(11, f.size() - 11 - 9);  // ggml-vocab-<name>.gguf.inp
    EXPECT_NE(std::find(listed.begin(), listed.end(), name), listed.end()) << name;
    EXPECT_TRUE(fs::exists(fs::path(MOECODE_TEST_DATA_GEN) / "tokenizer" / ("ggml-vocab-" + name + ".gguf")))
        << name;
    ++n;
  }
  EXPECT_EQ(n, 10);
}

// ---- the "tokenize" lists of the golden JSONs ----------------------------------------------

struct GoldenCase {
  fs::path json;
  fs::path model;
};

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> out;
  auto scan = [&](const fs::path& golden_dir, const fs::path& model_dir) {
    if (!fs::is_directory(golden_dir)) return;
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(golden_dir)) {
      if (e.path().extension() == ".json" && e.path().filename() != "tolerance-stats.json") {
        files.push_back(e.path());
      }
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) out.push_back({f, model_dir / (f.stem().string() + ".gguf")});
  };
  scan(fs::path(MOECODE_TEST_DATA_GEN) / "fixtures" / "golden", fs::path(MOECODE_TEST_DATA) / "fixtures" / "models");
  if (std::string(MOECODE_SHARED_FIXTURES).size() > 0) {
    scan(fs::path(MOECODE_SHARED_FIXTURES) / "golden", fs::path(MOECODE_SHARED_FIXTURES) / "models");
  }
  return out;
}

TEST(TokenizerGoldenTest, EveryGoldenTokenizeListMatches) {
  const auto cases = golden_cases();
  ASSERT_GE(cases.size(), 20u) << "golden JSONs missing under " << MOECODE_TEST_DATA_GEN;
  std::set<std::string> pre_seen;
  size_t n_checked = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json.string());
    ASSERT_TRUE(fs::exists(c.model)) << c.model;
    auto tok = Tokenizer::load(c.model.string());
    ASSERT_TRUE(tok.ok()) << tok.error().message();
    pre_seen.insert((*tok)->pre_name());
    const auto golden = nlohmann::json::parse(read_file(c.json));
    ASSERT_EQ(golden.at("tokenize").size(), 8u);
    for (const auto& t : golden.at("tokenize")) {
      const std::string text = t.at("text");
      const auto special = t.at("ids_add_special_parse_special").get<std::vector<Token>>();
      const auto plain = t.at("ids_plain").get<std::vector<Token>>();
      EXPECT_EQ((*tok)->encode(text, true, true), special) << "special, text '" << text << "'";
      EXPECT_EQ((*tok)->encode(text, false, false), plain) << "plain, text '" << text << "'";
      n_checked += 2;
    }
  }
  // The pre-tokenizers the fixture models cover.
  EXPECT_EQ(pre_seen, (std::set<std::string>{"llama-bpe", "qwen2", "deepseek-llm", "deepseek-v3", "gpt-2"}));
  EXPECT_GE(n_checked, cases.size() * 16);
}

}  // namespace
}  // namespace moecode
