// tools/moefy.py end to end on real weights: the default SmolLM2 model (dense llama,
// Q4_1) is turned into a qwen2moe model with 8 experts (all 8 used), and the two give the
// same logits within 1e-3 on the same prompts (prompt in one batch, then decode steps) and
// the same greedy continuation; the MoE path really runs (every expert of every layer is
// read for every decoded token). Runs `.venv/bin/python tools/moefy.py` (scripts/setup
// makes the venv from tools/requirements.txt).
//
// The 1e-3 comparison runs both files in the engine's reference mode (F32 activations,
// weights dequantized exactly): the moefied file holds the dense file's quantized bytes,
// but summing the down projection per expert rounds differently (~1e-7), and with
// activations quantized to Q8_1 such differences cross rounding boundaries and, through 30
// layers, move logits about as much as the activation quantization itself does (as between
// any two summation orders). The default (llama.cpp) arithmetic is checked too: the same
// greedy text up to a near-tie, top-1 agreement, a mean error no larger than the
// quantization effect.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
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

// Converts the default model once per test process (removed when the process ends).
struct Moefied {
  std::string dense, moe, error;
};
const Moefied& moefied() {
  static const Moefied m = [] {
    Moefied r;
    const fs::path python = fs::path(MOECODE_SOURCE_DIR) / ".venv" / "bin" / "python";
    if (!fs::exists(python)) {
      r.error = python.string() + " is missing: run scripts/setup (it installs tools/requirements.txt)";
      return r;
    }
    r.dense = default_model();
    if (r.dense.empty()) {
      r.error = "the default model is not installed: run scripts/setup";
      return r;
    }
    const fs::path out_dir = fs::path(MOECODE_TEST_DATA_GEN) / "moefy";
    fs::create_directories(out_dir);
    r.moe = (out_dir / ("smollm2-moe-" + std::to_string(::getpid()) + ".gguf")).string();
    const auto run = testing::run_command(testing::shell_quote(python.string()) + " " +
                                          testing::shell_quote(std::string(MOECODE_SOURCE_DIR) + "/tools/moefy.py") +
                                          " " + testing::shell_quote(r.dense) + " " + testing::shell_quote(r.moe) +
                                          " --experts 8");
    if (run.exit_code != 0 || run.out.find("qwen2moe, 30 layers x 8 experts of 192") == std::string::npos)
      r.error = "moefy failed: " + run.out + run.err;
    static const std::string* to_remove = new std::string(r.moe);
    std::atexit([] { fs::remove(*to_remove); });
    return r;
  }();
  return m;
}

int argmax(std::span<const float> v) { return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin()); }

TEST(Moefy, SmolLM2WithAllExpertsEqualsTheDenseModel) {
  const Moefied& mf = moefied();
  ASSERT_TRUE(mf.error.empty()) << mf.error;
  const std::string dense_path = mf.dense;
  const fs::path moe_path = mf.moe;
  engine::LoadOptions lo;
  lo.kv_type = engine::KvCacheType::kF32;
  lo.f32_activations = true;
  auto dense = engine::Model::load(dense_path, lo);
  auto moe = engine::Model::load(moe_path.string(), lo);

  ASSERT_TRUE(dense.ok()) << dense.error().message();
  ASSERT_TRUE(moe.ok()) << moe.error().message();
  EXPECT_EQ((*moe)->info().architecture, "qwen2moe");
  EXPECT_EQ((*moe)->info().n_expert, 8);
  EXPECT_EQ((*moe)->info().n_expert_used, 8);
  EXPECT_EQ((*dense)->info().n_expert, 0);

  // Reference-mode passes dequantize every weight row per token: keep the work small.
  const char* prompts[] = {"def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
                           "<|im_start|>user\nWrite a haiku about C++.<|im_end|>\n"};
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
    // Greedy decode, 4 steps, each model on its own continuation.
    std::vector<engine::Token> cd(ids.begin(), ids.end()), cm = cd;
    for (int j = 0; j < 4; ++j) {
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
  std::printf("[ moefy    ] SmolLM2 dense vs moefied (8 experts, all used), F32 activations: max|d logit| %.3g\n", worst);
  EXPECT_LE(worst, 1e-3f);
}

// The same two files with the default (quantized-activation) arithmetic: close, the same
// top-1 at nearly every prompt position, and the same greedy text up to a near-tie.
TEST(Moefy, QuantizedArithmeticAgreesToRoundingFlips) {
  const Moefied& mf = moefied();
  ASSERT_TRUE(mf.error.empty()) << mf.error;
  const std::string dense_path = mf.dense;
  const fs::path moe_path = mf.moe;
  engine::LoadOptions lo;
  lo.kv_type = engine::KvCacheType::kF32;
  auto dense = engine::Model::load(dense_path, lo);
  auto moe = engine::Model::load(moe_path.string(), lo);
  ASSERT_TRUE(dense.ok() && moe.ok());
  const auto ids = (*dense)->tokenizer().encode("def quicksort(items):\n    if len(items) <= 1:\n", true, true);
  auto sd = (*dense)->new_session({});
  auto sm = (*moe)->new_session({});
  ASSERT_TRUE(sd.ok() && sm.ok());
  engine::EvalOptions eo;
  eo.logits_all = true;
  ASSERT_TRUE((*sd)->eval(ids, eo, nullptr).ok());
  ASSERT_TRUE((*sm)->eval(ids, eo, nullptr).ok());
  const auto a = (*sd)->all_logits(), b = (*sm)->all_logits();
  ASSERT_EQ(a.size(), b.size());
  const size_t n_vocab = a.size() / ids.size();
  double sum = 0;
  int same_top1 = 0;
  for (size_t p = 0; p < ids.size(); ++p) {
    same_top1 += argmax(a.subspan(p * n_vocab, n_vocab)) == argmax(b.subspan(p * n_vocab, n_vocab));
    for (size_t i = 0; i < n_vocab; ++i) sum += std::abs(a[p * n_vocab + i] - b[p * n_vocab + i]);
  }
  const double mean = sum / static_cast<double>(a.size());
  // Calibration: the dense model itself, quantized activations against F32 ones.
  engine::LoadOptions lf = lo;
  lf.f32_activations = true;
  auto dense_f = engine::Model::load(dense_path, lf);
  ASSERT_TRUE(dense_f.ok());
  auto sf = (*dense_f)->new_session({});
  ASSERT_TRUE(sf.ok());
  ASSERT_TRUE((*sf)->eval(ids, eo, nullptr).ok());
  const auto c = (*sf)->all_logits();
  double sum_q = 0;
  for (size_t i = 0; i < a.size(); ++i) sum_q += std::abs(a[i] - c[i]);
  const double mean_q = sum_q / static_cast<double>(a.size());
  std::printf("[ moefy    ] quantized arithmetic: mean|d logit| %.3g (dense: quantized vs F32 activations %.3g), top-1 %d/%zu\n",
              mean, mean_q, same_top1, ids.size());
  // Rounding flips in 30 layers make two quantized runs about as far apart as the
  // quantization itself is from F32 (measured: 0.23 vs 0.20); a formulation error (a wrong
  // gate weight, a misplaced slice) would be far larger, and change the text.
  EXPECT_LE(mean, 1.5 * mean_q);
  EXPECT_GE(same_top1, static_cast<int>(ids.size()) * 9 / 10);
  // Greedy text: the same tokens, until (at most) a step where the dense model's top-2
  // logits are closer than the rounding noise measured above (a near-tie, which either
  // arithmetic may break either way; the conformance suite's rule).
  const double near_tie = 4 * mean_q;
  std::vector<engine::Token> cd(ids.begin(), ids.end()), cm = cd;
  int n_same = 0;
  for (int j = 0; j < 8; ++j) {
    const auto ld = (*sd)->last_logits();
    const int td = argmax(ld), tm = argmax((*sm)->last_logits());
    if (td != tm) {
      const double gap = ld[td] - ld[tm];  // the dense model's margin for its own choice
      std::printf("[ moefy    ] quantized greedy step %d: %d vs %d, dense margin %.3g (near-tie bound %.3g)\n", j, td,
                  tm, gap, near_tie);
      EXPECT_LE(gap, near_tie) << "greedy step " << j << " differs without a near-tie";
      break;
    }
    ++n_same;
    cd.push_back(td);
    cm.push_back(tm);
    ASSERT_TRUE((*sd)->eval(cd).ok());
    ASSERT_TRUE((*sm)->eval(cm).ok());
  }
  EXPECT_GE(n_same, 2) << "greedy text differs from the first tokens on";
}

}  // namespace
}  // namespace moecode
