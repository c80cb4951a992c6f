// tools/moefy.py end to end on real weights: the default SmolLM2 model (dense llama,
// Q4_1) is turned into a qwen2moe model with 8 experts (all 8 used), and the two give the
// same logits within 1e-3 on the same prompts (prompt in one batch, then decode steps) and
// the same greedy continuation; the MoE path really runs (every expert of every layer is
// read for every decoded token). Runs `.venv/bin/python tools/moefy.py` (scripts/setup
// makes the venv from tools/requirements.txt).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "lsp/cli/model_path.h"
#include "moecode/engine/model.h"
#include "support/run_command.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;

std::string default_model() {
  for (const fs::path& p : {fs::path(MOECODE_SOURCE_DIR) / "models" / "default.gguf",
                            fs::path(cli::model_cache_dir()) / "default.gguf"}) {
    if (fs::is_regular_file(p)) return p.string();
  }
  return {};
}

int argmax(std::span<const float> v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

TEST(Moefy, SmolLM2WithAllExpertsEqualsTheDenseModel) {
  const fs::path python = fs::path(MOECODE_SOURCE_DIR) / ".venv" / "bin" / "python";
  ASSERT_TRUE(fs::exists(python)) << python << " is missing: run scripts/setup (it installs tools/requirements.txt)";
  const std::string dense_path = default_model();
  ASSERT_FALSE(dense_path.empty()) << "the default model is not installed: run scripts/setup";
  const fs::path out_dir = fs::path(MOECODE_TEST_DATA_GEN) / "moefy";
  fs::create_directories(out_dir);
  const fs::path moe_path = out_dir / ("smollm2-moe-" + std::to_string(::getpid()) + ".gguf");
  const auto r = testing::run_command(testing::shell_quote(python.string()) + " " +
                                      testing::shell_quote(std::string(MOECODE_SOURCE_DIR) + "/tools/moefy.py") + " " +
                                      testing::shell_quote(dense_path) + " " + testing::shell_quote(moe_path.string()) +
                                      " --experts 8");
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("qwen2moe, 30 layers x 8 experts of 192"), std::string::npos) << r.out;

  engine::LoadOptions lo;
  lo.kv_type = engine::KvCacheType::kF32;
  auto dense = engine::Model::load(dense_path, lo);
  auto moe = engine::Model::load(moe_path.string(), lo);
  fs::remove(moe_path);
  ASSERT_TRUE(dense.ok()) << dense.error().message();
  ASSERT_TRUE(moe.ok()) << moe.error().message();
  EXPECT_EQ((*moe)->info().architecture, "qwen2moe");
  EXPECT_EQ((*moe)->info().n_expert, 8);
  EXPECT_EQ((*moe)->info().n_expert_used, 8);
  EXPECT_EQ((*dense)->info().n_expert, 0);

  const char* prompts[] = {"def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
                           "The capital of France is", "<|im_start|>user\nWrite a haiku about C++.<|im_end|>\n"};
  float worst = 0;
  for (const char* text : prompts) {
    SCOPED_TRACE(text);
    const auto ids = (*dense)->tokenizer().encode(text, true, true);
    ASSERT_GT(ids.size(), 3u);
    auto sd = (*dense)->new_session({});
    auto sm = (*moe)->new_session({});
    ASSERT_TRUE(sd.ok() && sm.ok());
    engine::EvalOptions eo;
    eo.logits_all = true;
    ASSERT_TRUE((*sd)->eval(ids, eo, nullptr).ok());
    ASSERT_TRUE((*sm)->eval(ids, eo, nullptr).ok());
    const auto a = (*sd)->all_logits(), b = (*sm)->all_logits();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(a[i] - b[i]));
    // Greedy decode, 8 steps, each model on its own continuation.
    std::vector<engine::Token> cd(ids.begin(), ids.end()), cm = cd;
    for (int j = 0; j < 8; ++j) {
      const auto ld = (*sd)->last_logits(), lm = (*sm)->last_logits();
      for (size_t i = 0; i < ld.size(); ++i) worst = std::max(worst, std::abs(ld[i] - lm[i]));
      cd.push_back(argmax(ld));
      cm.push_back(argmax(lm));
      ASSERT_EQ(cd.back(), cm.back()) << "greedy step " << j;
      ASSERT_TRUE((*sd)->eval(cd).ok());
      (*moe)->reset_moe_stats();
      ASSERT_TRUE((*sm)->eval(cm).ok());
      // All 8 experts of every layer were read for this decoded token.
      const engine::MoeStats st = (*moe)->moe_stats();
      ASSERT_EQ(st.layers.size(), 30u);
      for (const auto& L : st.layers) ASSERT_EQ(L.decode_bytes_read, L.routed_bytes);
    }
  }
  std::printf("[ moefy    ] SmolLM2 dense vs moefied (8 experts, all used): max|d logit| %.3g\n", worst);
  EXPECT_LE(worst, 1e-3f);
}

}  // namespace
}  // namespace moecode
