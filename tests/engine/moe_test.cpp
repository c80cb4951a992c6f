// MoE: the routing function (each family's gating, renormalisation, scale, selection bias,
// group limit) against hand-worked cases; the routed-expert byte counter in decode (only
// the chosen experts' weights are read: n_expert_used / n_expert of all routed bytes);
// usage counts; and clear errors for bad MoE metadata (n_expert_used > n_expert, groups
// that do not divide, a missing expert tensor, shapes that disagree with the metadata).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/model/moe.h"
#include "moecode/engine/model.h"
#include "support/gguf_rewrite.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using model::GatingFunc;
using model::RoutingConfig;

std::string fixture(const std::string& name) { return std::string(MOECODE_TEST_DATA) + "/fixtures/models/" + name; }

struct Routed {
  std::vector<int32_t> ids;
  std::vector<float> w;
};

Routed route(const RoutingConfig& c, const std::vector<float>& logits, const float* bias = nullptr) {
  Routed r;
  r.ids.resize(c.n_expert_used);
  r.w.resize(c.n_expert_used);
  std::vector<float> scratch(2 * c.n_expert);
  model::route_token(c, logits.data(), bias, r.ids.data(), r.w.data(), scratch.data());
  return r;
}

TEST(Routing, SoftmaxTopKWithAndWithoutRenormalisation) {
  RoutingConfig c;
  c.n_expert = 4;
  c.n_expert_used = 2;
  const std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.0f};
  double z = 0;
  for (float l : logits) z += std::exp(l);
  // qwen2moe: softmax probabilities of the two best, as they are.
  Routed r = route(c, logits);
  ASSERT_EQ(r.ids, (std::vector<int32_t>{1, 3}));
  EXPECT_NEAR(r.w[0], std::exp(2.0) / z, 1e-6);
  EXPECT_NEAR(r.w[1], std::exp(1.0) / z, 1e-6);
  // Mixtral / qwen3moe: renormalised to sum 1.
  c.norm_weights = true;
  r = route(c, logits);
  EXPECT_NEAR(r.w[0] + r.w[1], 1.0f, 1e-6);
  EXPECT_NEAR(r.w[0], std::exp(2.0) / (std::exp(2.0) + std::exp(1.0)), 1e-6);
  // deepseek2-lite: scaled.
  c.norm_weights = false;
  c.weights_scale = 1.5f;
  r = route(c, logits);
  EXPECT_NEAR(r.w[0], 1.5 * std::exp(2.0) / z, 1e-6);
}

TEST(Routing, SigmoidBiasSelectsButDoesNotWeigh) {
  RoutingConfig c;
  c.n_expert = 4;
  c.n_expert_used = 2;
  c.gating = GatingFunc::kSigmoid;
  const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f};
  const std::vector<float> bias = {1.0f, 0.0f, 0.0f, 3.0f};
  auto sig = [](float x) { return 1.0f / (1.0f + std::exp(-x)); };
  // Selection scores: 1.5, 0.73, 0.88, 3.27 -> experts 3 and 0; weights are the sigmoids.
  Routed r = route(c, logits, bias.data());
  ASSERT_EQ(r.ids, (std::vector<int32_t>{3, 0}));
  EXPECT_FLOAT_EQ(r.w[0], sig(-1.0f));
  EXPECT_FLOAT_EQ(r.w[1], sig(0.0f));
  // V3: normalised, then scaled.
  c.norm_weights = true;
  c.weights_scale = 2.5f;
  r = route(c, logits, bias.data());
  EXPECT_NEAR(r.w[0], 2.5f * sig(-1.0f) / (sig(-1.0f) + sig(0.0f)), 1e-6);
  EXPECT_NEAR(r.w[1], 2.5f * sig(0.0f) / (sig(-1.0f) + sig(0.0f)), 1e-6);
}

TEST(Routing, GroupLimitKeepsTheGroupsWithTheBestTopTwoSums) {
  RoutingConfig c;
  c.n_expert = 8;
  c.n_expert_used = 2;
  c.gating = GatingFunc::kSigmoid;
  c.n_group = 4;  // groups {0,1} {2,3} {4,5} {6,7}
  c.n_group_used = 2;
  // Expert 6 alone is the best, but its group's top-2 sum (6+7) loses to groups {0,1} and
  // {2,3}; so the choice is made among experts 0..3 only.
  std::vector<float> logits = {1.0f, 1.0f, 1.5f, 0.8f, -3.0f, -3.0f, 4.0f, -4.0f};
  Routed r = route(c, logits);
  ASSERT_EQ(r.ids, (std::vector<int32_t>{2, 0}));
  // Without the limit expert 6 wins.
  c.n_group = 1;
  c.n_group_used = 1;
  r = route(c, logits);
  EXPECT_EQ(r.ids[0], 6);
}

// The routing margin (how close the choice came to another; the conformance test calls a
// differing choice a routing flip only where it is small).
TEST(Routing, MarginIsTheGapThatDecidedTheChoice) {
  RoutingConfig c;
  c.n_expert = 4;
  c.n_expert_used = 2;
  std::vector<float> logits = {0.5f, 2.0f, -1.0f, 1.0f};
  std::vector<int32_t> ids(2);
  std::vector<float> w(2), scratch(8);
  float margin = -1;
  model::route_token(c, logits.data(), nullptr, ids.data(), w.data(), scratch.data(), &margin);
  double z = 0;
  for (float l : logits) z += std::exp(l);
  // Chosen 1 and 3; the best passed over is 0: p(3) - p(0).
  EXPECT_NEAR(margin, (std::exp(1.0) - std::exp(0.5)) / z, 1e-6);
  // Every expert used: nothing could have been chosen instead.
  c.n_expert_used = 4;
  ids.resize(4);
  w.resize(4);
  model::route_token(c, logits.data(), nullptr, ids.data(), w.data(), scratch.data(), &margin);
  EXPECT_EQ(margin, INFINITY);
  // Group limit: the dropped group's top-2 sum counts too.
  c.n_expert = 8;
  c.n_expert_used = 2;
  c.gating = GatingFunc::kSigmoid;
  c.n_group = 4;
  c.n_group_used = 2;
  logits = {1.0f, 1.0f, 1.5f, 0.8f, -3.0f, -3.0f, 4.0f, -4.0f};
  ids.resize(2);
  w.resize(2);
  scratch.resize(16);
  model::route_token(c, logits.data(), nullptr, ids.data(), w.data(), scratch.data(), &margin);
  auto sig = [](float x) { return 1.0f / (1.0f + std::exp(-x)); };
  const float kept = sig(1.5f) + sig(0.8f), dropped = sig(4.0f) + sig(-4.0f);  // groups {2,3} and {6,7}
  const float in_group = sig(1.0f) - sig(1.0f);  // experts 0 and 1 tie: 0 is chosen, 1 passed over
  EXPECT_NEAR(margin, std::min(kept - dropped, in_group), 1e-6);
}

// EvalOptions::experts: one choice per token and MoE layer, k distinct ids in range; decode
// gives one; a dense model none; without logits_all the last layer sees only the last token.
TEST(ExpertTrace, OneChoicePerTokenAndMoeLayer) {
  auto m = engine::Model::load(fixture("tiny-deepseek3.q4_0.gguf"), {});
  ASSERT_TRUE(m.ok()) << m.error().message();
  const int64_t E = (*m)->info().n_expert, k = (*m)->info().n_expert_used;
  auto s = (*m)->new_session({});
  ASSERT_TRUE(s.ok());
  std::vector<engine::Token> ids = {506, 10, 200, 31, 77, 5};
  engine::ExpertTrace trace;
  engine::EvalOptions eo;
  eo.logits_all = true;
  eo.experts = &trace;
  ASSERT_TRUE((*s)->eval(ids, eo, nullptr).ok());
  ASSERT_EQ(trace.layers.size(), 2u);  // layer 0 is the leading dense block
  EXPECT_EQ(trace.layers.begin()->first, 1);
  for (const auto& [layer, choices] : trace.layers) {
    ASSERT_EQ(choices.size(), ids.size()) << layer;
    for (const auto& c : choices) {
      ASSERT_EQ(c.experts.size(), static_cast<size_t>(k));
      EXPECT_EQ(std::set<int32_t>(c.experts.begin(), c.experts.end()).size(), static_cast<size_t>(k));
      for (int32_t e : c.experts) EXPECT_TRUE(e >= 0 && e < E) << e;
      EXPECT_GE(c.margin, 0.0f);
    }
  }
  ids.push_back(300);
  ASSERT_TRUE((*s)->eval(ids, eo, nullptr).ok());
  for (const auto& [layer, choices] : trace.layers) EXPECT_EQ(choices.size(), 1u) << layer;

  auto s2 = (*m)->new_session({});
  engine::EvalOptions last_only;
  last_only.experts = &trace;
  ASSERT_TRUE((*s2)->eval(ids, last_only, nullptr).ok());
  EXPECT_EQ(trace.layers.at(1).size(), ids.size());
  EXPECT_EQ(trace.layers.at(2).size(), 1u);  // the last layer runs only the logit row

  auto dense = engine::Model::load(fixture("tiny-qwen2.f32.gguf"), {});
  ASSERT_TRUE(dense.ok()) << dense.error().message();
  auto s3 = (*dense)->new_session({});
  ASSERT_TRUE((*s3)->eval(ids, eo, nullptr).ok());
  EXPECT_TRUE(trace.layers.empty());
}

// ---- byte counter and usage -------------------------------------------------------

TEST(MoeStats, DecodeReadsOnlyTheChosenExperts) {
  for (const char* name : {"tiny-qwen2moe.f32.gguf", "tiny-deepseek3.q4_0.gguf", "tiny-qwen3moe.q4_k_m.gguf"}) {
    SCOPED_TRACE(name);
    auto m = engine::Model::load(fixture(name), {});
    ASSERT_TRUE(m.ok()) << m.error().message();
    engine::Model& model = **m;
    const int64_t E = model.info().n_expert, k = model.info().n_expert_used;
    ASSERT_GT(E, k);
    auto s = model.new_session({});
    ASSERT_TRUE(s.ok());
    std::vector<engine::Token> ids = {10, 200, 31, 77, 5, 300, 411};
    ASSERT_TRUE((*s)->eval(ids).ok());  // prefill: 7 tokens
    model.reset_moe_stats();
    const int n_decode = 6;
    for (int i = 0; i < n_decode; ++i) {
      ids.push_back(static_cast<engine::Token>(50 + 37 * i));
      auto st = (*s)->eval(ids);
      ASSERT_TRUE(st.ok());
      ASSERT_EQ(st->n_evaluated, 1);
    }
    const engine::MoeStats stats = model.moe_stats();
    ASSERT_FALSE(stats.layers.empty());
    EXPECT_EQ(stats.n_expert, E);
    for (const auto& L : stats.layers) {
      SCOPED_TRACE("layer " + std::to_string(L.layer));
      EXPECT_EQ(L.n_decode_tokens, static_cast<uint64_t>(n_decode));
      EXPECT_EQ(L.n_tokens, static_cast<uint64_t>(n_decode));
      ASSERT_EQ(L.routed_bytes % E, 0u);
      // Each decoded token reads exactly its k experts' gate, up and down matrices.
      EXPECT_EQ(L.decode_bytes_read, n_decode * k * (L.routed_bytes / E));
      EXPECT_EQ(L.bytes_read, L.decode_bytes_read);
      ASSERT_EQ(L.expert_tokens.size(), static_cast<size_t>(E));
      EXPECT_EQ(std::accumulate(L.expert_tokens.begin(), L.expert_tokens.end(), uint64_t{0}),
                static_cast<uint64_t>(n_decode * k));
    }
  }
}

TEST(MoeStats, PrefillGroupsTokensByExpert) {
  auto m = engine::Model::load(fixture("tiny-mixtral.f32.gguf"), {});
  ASSERT_TRUE(m.ok()) << m.error().message();
  auto s = (*m)->new_session({});
  ASSERT_TRUE(s.ok());
  std::vector<engine::Token> ids(40);
  for (size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<engine::Token>((i * 97) % 500);
  (*m)->reset_moe_stats();
  ASSERT_TRUE((*s)->eval(ids).ok());
  const engine::MoeStats st = (*m)->moe_stats();
  ASSERT_EQ(st.layers.size(), 2u);
  // Layer 0 routes all 40 tokens; the last layer only the one whose logits are needed.
  EXPECT_EQ(st.layers[0].n_tokens, 40u);
  EXPECT_EQ(st.layers[0].n_decode_tokens, 0u);
  EXPECT_EQ(st.layers[1].n_decode_tokens, 0u);  // one row reached it, but the batch was a prefill
  const auto& L = st.layers[0];
  EXPECT_EQ(std::accumulate(L.expert_tokens.begin(), L.expert_tokens.end(), uint64_t{0}), 80u);
  // A prefill batch reads every active expert once, however many of its tokens use it.
  int active = 0;
  for (uint64_t c : L.expert_tokens) active += c > 0;
  EXPECT_EQ(L.bytes_read, active * (L.routed_bytes / 4));
}

// ---- bad metadata -------------------------------------------------------------------

std::string rewrite(const std::string& src, const std::string& tag,
                    const std::function<void(gguf::GgufWriter&)>& edit_keys, const std::set<std::string>& drop = {}) {
  return testing::rewrite_gguf(src, "moe_" + tag, edit_keys, drop);
}

// Loads the rewritten file and returns the error message ("" if it loaded).
std::string load_error(const std::string& src, const std::string& tag,
                       const std::function<void(gguf::GgufWriter&)>& edit, const std::set<std::string>& drop = {}) {
  const std::string path = rewrite(fixture(src), tag, edit, drop);
  auto m = engine::Model::load(path, {});
  fs::remove(path);
  return m.ok() ? std::string() : m.error().message();
}

TEST(MoeBadMetadata, MoreExpertsUsedThanExist) {
  const std::string msg = load_error("tiny-mixtral.f32.gguf", "used", [](gguf::GgufWriter& w) {
    w.set_uint32("llama.expert_used_count", 5);
  });
  EXPECT_NE(msg.find("expert_used_count 5 is larger than expert_count 4"), std::string::npos) << msg;
  EXPECT_NE(msg.find("(architecture 'llama')"), std::string::npos) << msg;
  const std::string msg0 = load_error("tiny-qwen3moe.f32.gguf", "used0", [](gguf::GgufWriter& w) {
    w.set_uint32("qwen3moe.expert_used_count", 0);
  });
  EXPECT_NE(msg0.find("expert_used_count"), std::string::npos) << msg0;
}

TEST(MoeBadMetadata, GroupCountsThatDoNotDivide) {
  std::string msg = load_error("tiny-deepseek3.f32.gguf", "groups", [](gguf::GgufWriter& w) {
    w.set_uint32("deepseek2.expert_group_count", 3);
  });
  EXPECT_NE(msg.find("expert_count 16 is not a multiple of expert_group_count 3"), std::string::npos) << msg;
  msg = load_error("tiny-deepseek3.f32.gguf", "groups_used", [](gguf::GgufWriter& w) {
    w.set_uint32("deepseek2.expert_group_used_count", 5);
  });
  EXPECT_NE(msg.find("expert_group_used_count 5 is larger than expert_group_count 4"), std::string::npos) << msg;
}

TEST(MoeBadMetadata, MissingExpertTensorIsNamed) {
  const std::string msg = load_error(
      "tiny-qwen2moe.f32.gguf", "missing", [](gguf::GgufWriter&) {},
      {"blk.1.ffn_down_exps.weight", "blk.0.ffn_gate_inp.weight"});
  EXPECT_NE(msg.find("2 required tensor(s) missing"), std::string::npos) << msg;
  EXPECT_NE(msg.find("blk.1.ffn_down_exps.weight"), std::string::npos) << msg;
  EXPECT_NE(msg.find("blk.0.ffn_gate_inp.weight"), std::string::npos) << msg;
  const std::string msg2 = load_error(
      "tiny-deepseek2-lite.f32.gguf", "missing_kb", [](gguf::GgufWriter&) {}, {"blk.1.attn_k_b.weight"});
  EXPECT_NE(msg2.find("blk.1.attn_k_b.weight"), std::string::npos) << msg2;
}

TEST(MoeBadMetadata, ShapesThatDisagreeWithTheMetadata) {
  // 6 experts in the metadata, 8 in the tensors.
  std::string msg = load_error("tiny-qwen2moe.f32.gguf", "count", [](gguf::GgufWriter& w) {
    w.set_uint32("qwen2moe.expert_count", 6);
  });
  EXPECT_NE(msg.find("tensor 'blk.0.ffn_gate_exps.weight' has shape [64, 32, 8], expected [64, 32, 6]"),
            std::string::npos)
      << msg;
  // Expert width.
  msg = load_error("tiny-qwen3moe.f32.gguf", "width", [](gguf::GgufWriter& w) {
    w.set_uint32("qwen3moe.expert_feed_forward_length", 64);
  });
  EXPECT_NE(msg.find("ffn_up_exps.weight' has shape [256, 32, 4], expected [256, 64, 4]"), std::string::npos) << msg;
  // MLA: kv_lora_rank against attn_kv_a_mqa and the cached key length.
  msg = load_error("tiny-deepseek2-lite.f32.gguf", "lora", [](gguf::GgufWriter& w) {
    w.set_uint32("deepseek2.attention.kv_lora_rank", 32);
  });
  EXPECT_NE(msg.find("kv_lora_rank 32"), std::string::npos) << msg;
}

}  // namespace
}  // namespace moecode
