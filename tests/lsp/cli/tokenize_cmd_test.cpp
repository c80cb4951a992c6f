// `moecode tokenize` / `moecode detokenize`: the output contracts (ids, --json, exact
// text), the options (--file, --add-special, --parse-special, --skip-special, default
// model) and the errors, checked against llama.cpp's reference ids.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lsp/cli/model_path.h"
#include "moecode/engine/tokenizer.h"
#include "support/run_command.h"
#include "support/tokenizer_vectors.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using testing::run_moecode;
using testing::shell_quote;

const fs::path kGpt2Vocab = fs::path(MOECODE_TEST_DATA_GEN) / "tokenizer" / "ggml-vocab-gpt-2.gguf";
const std::string kGpt2Base = std::string(MOECODE_TEST_DATA) + "/tokenizer/ggml-vocab-gpt-2.gguf";

std::string joined(const std::vector<int32_t>& ids, const char* sep) {
  std::string s;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) s += sep;
    s += std::to_string(ids[i]);
  }
  return s;
}

class TokenizeCmdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cases_ = testing::read_vector_cases(kGpt2Base + ".inp");
    expected_ = testing::read_vector_ids(kGpt2Base + ".out");
    ASSERT_EQ(cases_.size(), 46u);
    ASSERT_EQ(expected_.size(), cases_.size());
    dir_ = fs::temp_directory_path() / ("moecode_tokenize_cmd_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path write(const std::string& name, const std::string& content) {
    const fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }
  std::string model() const { return "-m " + shell_quote(kGpt2Vocab.string()); }

  std::vector<std::string> cases_;
  std::vector<std::vector<int32_t>> expected_;
  fs::path dir_;
};

TEST_F(TokenizeCmdTest, TextArgumentPrintsIdsSeparatedBySpaces) {
  ASSERT_EQ(cases_[11], "Hello world");
  auto r = run_moecode("tokenize " + model() + " " + shell_quote(cases_[11]));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, joined(expected_[11], " ") + "\n");
}

TEST_F(TokenizeCmdTest, JsonPrintsIdsObject) {
  auto r = run_moecode("tokenize " + model() + " --json " + shell_quote(cases_[16]));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "{\"ids\":[" + joined(expected_[16], ",") + "]}\n");
  EXPECT_EQ(nlohmann::json::parse(r.out).at("ids").get<std::vector<int32_t>>(), expected_[16]);
}

// Cases with whitespace, newlines, emoji, CJK and the empty string, through --file.
TEST_F(TokenizeCmdTest, FileMatchesReferenceIds) {
  for (size_t i : {2u, 5u, 9u, 10u, 22u, 28u, 32u, 45u}) {
    const fs::path f = write("case" + std::to_string(i), cases_[i]);
    auto r = run_moecode("tokenize " + model() + " --json --file " + shell_quote(f.string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(nlohmann::json::parse(r.out).at("ids").get<std::vector<int32_t>>(), expected_[i]) << "case " << i;
  }
}

TEST_F(TokenizeCmdTest, DetokenizePrintsExactText) {
  for (size_t i : {11u, 28u, 45u}) {
    auto r = run_moecode("detokenize " + model() + " --ids " + joined(expected_[i], ","));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, cases_[i]) << "case " << i;  // no newline added
  }
}

TEST_F(TokenizeCmdTest, RoundTripThroughBothCommands) {
  const std::string text = "int main() {\n\treturn 0; // \xC3\xA9t\xC3\xA9 \xF0\x9F\xA6\x99\n}\n";
  const fs::path f = write("round.c", text);
  auto ids = run_moecode("tokenize " + model() + " --file " + shell_quote(f.string()));
  ASSERT_EQ(ids.exit_code, 0) << ids.err;
  std::string list = ids.out.substr(0, ids.out.size() - 1);
  for (char& c : list) c = c == ' ' ? ',' : c;
  auto back = run_moecode("detokenize " + model() + " --ids " + list);
  ASSERT_EQ(back.exit_code, 0) << back.err;
  EXPECT_EQ(back.out, text);
}

// Vocabulary A with the llama-bpe pre-tokenizer (tiny-llama): BOS added and special-token
// text parsed only when asked, as in the golden JSON.
TEST_F(TokenizeCmdTest, AddSpecialAndParseSpecialFollowGolden) {
  const fs::path model = fs::path(MOECODE_TEST_DATA) / "fixtures/models/tiny-llama.f32.gguf";
  const auto golden = nlohmann::json::parse(
      testing::read_binary_file((fs::path(MOECODE_TEST_DATA_GEN) / "fixtures/golden/tiny-llama.f32.json").string()));
  const auto& entry = golden.at("tokenize").at(3);
  const std::string text = entry.at("text");
  ASSERT_NE(text.find("<|fim_prefix|>"), std::string::npos);
  const fs::path f = write("fim.txt", text);
  const std::string m = "-m " + shell_quote(model.string()) + " --json --file " + shell_quote(f.string());
  auto special = run_moecode("tokenize " + m + " --add-special --parse-special");
  ASSERT_EQ(special.exit_code, 0) << special.err;
  EXPECT_EQ(nlohmann::json::parse(special.out).at("ids").get<std::vector<int32_t>>(),
            entry.at("ids_add_special_parse_special").get<std::vector<int32_t>>());
  auto plain = run_moecode("tokenize " + m);
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_EQ(nlohmann::json::parse(plain.out).at("ids").get<std::vector<int32_t>>(),
            entry.at("ids_plain").get<std::vector<int32_t>>());

  // detokenize renders control tokens unless --skip-special.
  const auto ids = entry.at("ids_add_special_parse_special").get<std::vector<int32_t>>();
  auto shown = run_moecode("detokenize -m " + shell_quote(model.string()) + " --ids " + joined(ids, ","));
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_EQ(shown.out, "<|begin_of_text|>" + text);
  auto skipped =
      run_moecode("detokenize -m " + shell_quote(model.string()) + " --skip-special --ids " + joined(ids, ","));
  ASSERT_EQ(skipped.exit_code, 0) << skipped.err;
  EXPECT_EQ(skipped.out, "def f(x):\n    \n    return y");
}

TEST_F(TokenizeCmdTest, DefaultModelWithoutDashM) {
  const fs::path dflt = fs::path(cli::model_cache_dir()) / "default.gguf";
  ASSERT_TRUE(fs::exists(dflt)) << "the default model is not installed at " << dflt << ": run scripts/setup";
  auto tok = engine::Tokenizer::load(dflt.string());
  ASSERT_TRUE(tok.ok()) << tok.error().message();
  const std::string text = "def greet(name):\n    return f\"Hello, {name}!\"\n";
  const std::vector<int32_t> want = (*tok)->encode(text, false, false);
  auto r = testing::run_command("cd " + shell_quote(dir_.string()) + " && env -u MOECODE_MODEL " +
                       shell_quote(testing::moecode_binary()) + " tokenize --json " + shell_quote(text));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out).at("ids").get<std::vector<int32_t>>(), want);
}

TEST_F(TokenizeCmdTest, Errors) {
  struct Case {
    std::string args;
    std::string message;
  };
  const std::string missing = (dir_ / "missing.gguf").string();
  const std::vector<Case> cases = {
      {"tokenize -m " + shell_quote(missing) + " hi", missing},
      {"detokenize -m " + shell_quote(missing) + " --ids 1", missing},
      {"tokenize " + model() + " --file " + shell_quote((dir_ / "nope.txt").string()), "nope.txt"},
      {"tokenize " + model(), "give TEXT or --file"},
      {"tokenize " + model() + " hi --file " + shell_quote(write("x", "x").string()), "not both"},
      {"detokenize " + model() + " --ids 1,x", "'x'"},
      {"detokenize " + model() + " --ids 1,,2.5", "'2.5'"},
      {"detokenize " + model() + " --ids 50257", "50257"},
      {"detokenize " + model() + " --ids 99999999999999999999", "99999999999999999999"},
      {"detokenize " + model(), "--ids"},
      {"tokenize -m " + shell_quote(write("bad.gguf", "not a gguf file at all").string()) + " hi", "bad.gguf"},
  };
  for (const Case& c : cases) {
    auto r = run_moecode(c.args);
    EXPECT_NE(r.exit_code, 0) << c.args;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << c.args << "\nstderr: " << r.err;
    EXPECT_TRUE(r.out.empty()) << c.args;
  }
}

}  // namespace
}  // namespace moecode
