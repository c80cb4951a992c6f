// `moecode model info --json` on every fixture model: the reported metadata matches the
// generator's specification (model-specs.json) and the fixture catalog.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/run_command.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::run_moecode;
using testing::shell_quote;

std::vector<fs::path> fixture_models() {
  std::vector<fs::path> out;
  std::vector<fs::path> dirs = {fs::path(MOECODE_TEST_DATA) / "fixtures/models"};
  if (std::string(MOECODE_SHARED_FIXTURES).size() > 0) dirs.push_back(fs::path(MOECODE_SHARED_FIXTURES) / "models");
  std::set<std::string> seen;
  for (const auto& d : dirs) {
    for (const auto& e : fs::directory_iterator(d)) {
      if (e.path().extension() == ".gguf" && seen.insert(e.path().filename().string()).second) out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Parameter counts from the fixture catalog (../shared/fixtures/README.md).
const std::map<std::string, uint64_t> kParams = {
    {"tiny-llama", 623872},         {"tiny-qwen2", 139840},      {"tiny-deepseek2-lite", 236480},
    {"tiny-deepseek2-lite-legacy-kvb", 236480}, {"tiny-deepseek3", 415488}, {"tiny-qwen2moe", 223040},
    {"tiny-qwen3moe", 527744},      {"tiny-mixtral", 189248},    {"tiny-qwen3", 131520}};

// Which storage types the file's name promises (the main matmul type).
std::string main_type(const std::string& quant) {
  static const std::map<std::string, std::string> m = {
      {"f32", "F32"},   {"f16", "F16"},   {"bf16", "BF16"},  {"q8_0", "Q8_0"},   {"q4_0", "Q4_0"},
      {"q4_1", "Q4_1"}, {"q6_k", "Q6_K"}, {"q4_k_m", "Q4_K"}, {"q5_k_s", "Q5_K"}, {"q5_k_m", "Q5_K"}};
  return m.at(quant);
}

TEST(ModelInfoTest, EveryFixtureReportsItsMetadata) {
  std::ifstream in(fs::path(MOECODE_TEST_DATA) / "fixtures/models/model-specs.json");
  const json specs = json::parse(in);
  const auto models = fixture_models();
  ASSERT_GE(models.size(), 20u);
  for (const auto& path : models) {
    SCOPED_TRACE(path.filename().string());
    const std::string stem = path.stem().string();  // tiny-qwen2.q4_0
    const std::string family = stem.substr(0, stem.find('.'));
    const std::string quant = stem.substr(stem.find('.') + 1);
    auto r = run_moecode("model info --json " + shell_quote(path.string()));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const json j = json::parse(r.out);
    const json& spec = specs.at(family);
    const json& hp = j.at("hparams");
    EXPECT_EQ(j.at("architecture"), spec.at("arch"));
    EXPECT_EQ(j.at("name"), family);
    EXPECT_EQ(hp.at("embedding_length"), spec.at("n_embd"));
    EXPECT_EQ(hp.at("block_count"), spec.at("n_layer"));
    EXPECT_EQ(hp.at("attention.head_count"), spec.at("n_head"));
    EXPECT_EQ(hp.at("attention.head_count_kv"), spec.at("n_head_kv"));
    EXPECT_EQ(hp.at("context_length"), spec.at("n_ctx_train"));
    EXPECT_EQ(hp.at("rope.freq_base").get<double>(), spec.at("rope_base").get<double>());
    EXPECT_EQ(hp.at("attention.layer_norm_rms_epsilon").get<double>(), spec.at("rms_eps").get<double>());
    EXPECT_EQ(j.at("tokenizer").at("model"), "gpt2");
    EXPECT_EQ(j.at("tokenizer").at("pre"), spec.at("tokenizer_pre"));
    EXPECT_EQ(j.at("tokenizer").at("n_vocab"), 512);
    EXPECT_EQ(j.at("tokenizer").at("add_bos"), spec.at("add_bos"));
    EXPECT_EQ(j.at("tokenizer").at("special").at("bos"), 506);
    EXPECT_EQ(j.at("tokenizer").at("special").at("eos"), 507);
    EXPECT_EQ(j.at("n_params"), kParams.at(family));
    const json& experts = j.at("experts");
    EXPECT_EQ(experts.at("n_expert"), spec.value("n_expert", 0));
    EXPECT_EQ(experts.at("n_expert_used"), spec.value("n_expert_used", 0));
    EXPECT_EQ(experts.at("n_expert_shared"), spec.value("n_expert_shared", 0));
    if (spec.contains("kv_lora_rank")) {
      EXPECT_EQ(hp.at("attention.kv_lora_rank"), spec.at("kv_lora_rank"));
    }
    // The file's storage types include the one its name promises; F32 files hold only F32.
    std::set<std::string> types;
    uint64_t n_tensors = 0;
    for (const auto& t : j.at("tensor_types")) {
      types.insert(t.at("type").get<std::string>());
      n_tensors += t.at("n_tensors").get<uint64_t>();
    }
    EXPECT_EQ(n_tensors, j.at("n_tensors").get<uint64_t>());
    // Q4_K_M of the 64-wide families holds no K-quants: llama-quantize falls back to Q5_0
    // when a row is not a multiple of 256 (fixture README).
    std::string want = main_type(quant);
    if (want == "Q4_K" && spec.at("n_embd").get<int>() % 256 != 0) want = "Q5_0";
    EXPECT_TRUE(types.count(want)) << want;
    if (quant == "f32") {
      EXPECT_EQ(types, std::set<std::string>{"F32"});
    }
    EXPECT_EQ(j.at("metadata").at("general.architecture"), spec.at("arch"));
    EXPECT_EQ(j.at("metadata").at("tokenizer.ggml.tokens").at("length"), 512);
  }
}

TEST(ModelInfoTest, TextOutputAndErrors) {
  const std::string path = std::string(MOECODE_TEST_DATA) + "/fixtures/models/tiny-mixtral.q4_0.gguf";
  auto r = run_moecode("model info " + shell_quote(path));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("architecture:  llama"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("experts:       4 routed, 2 used per token"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Q4_0"), std::string::npos);

  auto missing = run_moecode("model info /nonexistent/x.gguf");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/nonexistent/x.gguf"), std::string::npos) << missing.err;

  const fs::path bad = fs::temp_directory_path() / ("moecode_bad_" + std::to_string(::getpid()) + ".gguf");
  std::ofstream(bad) << "GGUF\x03\x00\x00\x00 this is not a model";
  auto corrupt = run_moecode("model info " + shell_quote(bad.string()));
  fs::remove(bad);
  EXPECT_EQ(corrupt.exit_code, 1);
  EXPECT_NE(corrupt.err.find("GGUF '"), std::string::npos) << corrupt.err;
  EXPECT_TRUE(corrupt.out.empty());
}

}  // namespace
}  // namespace moecode
