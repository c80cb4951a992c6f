// MLA (deepseek2): the latent KV cache holds exactly (kv_lora_rank + n_rot) elements per
// token and layer and nothing else; the absorbed attention (the default) equals the
// decompressed computation (K/V rebuilt per head from the latents) within 1e-4 on the F32
// fixtures, for a prompt in one batch and for single-token decode steps after it; and the
// legacy attn_kv_b file gives the same logits as the split attn_k_b/attn_v_b one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/gguf/gguf.h"
#include "engine/model/arch.h"
#include "engine/model/deepseek2.h"
#include "engine/model/kv_cache.h"

namespace moecode {
namespace {

using backend::CacheType;

std::string fixture(const std::string& name) { return std::string(MOECODE_TEST_DATA) + "/fixtures/models/" + name; }

struct Loaded {
  std::unique_ptr<gguf::GgufFile> file;
  std::unique_ptr<backend::Backend> backend;
  std::unique_ptr<model::Arch> arch;
};

Loaded load(const std::string& name) {
  Loaded l;
  auto f = gguf::GgufFile::open(fixture(name));
  EXPECT_TRUE(f.ok()) << f.error().message();
  l.file = std::move(*f);
  l.backend = backend::make_cpu_backend({1});
  auto a = model::create_arch(*l.file, *l.backend);
  EXPECT_TRUE(a.ok()) << a.error().message();
  l.arch = std::move(*a);
  return l;
}

// Runs `prompt` in one batch (logits of every position), then `decode` one token at a
// time; returns all logits in order.
std::vector<float> run(Loaded& l, const std::vector<int32_t>& prompt, const std::vector<int32_t>& decode,
                       CacheType type) {
  const int64_t n_vocab = l.arch->hparams().n_vocab;
  const int n_ctx = 256;
  model::KvCache cache(*l.backend, l.arch->kv_layout(), n_ctx, type);
  const int64_t n_batch = static_cast<int64_t>(prompt.size());
  std::vector<float> scratch(l.arch->scratch_floats(n_batch));
  std::vector<float> out;
  auto step = [&](std::span<const int32_t> toks, int64_t pos0, bool all) {
    const int64_t rows = all ? static_cast<int64_t>(toks.size()) : 1;
    std::vector<float> logits(static_cast<size_t>(rows * n_vocab));
    model::ForwardContext ctx{*l.backend, cache, model::Arena(scratch.data(), scratch.size())};
    model::Batch b;
    b.tokens = toks;
    b.pos0 = pos0;
    b.logits_all = all;
    l.arch->forward(ctx, b, backend::make_mat(logits.data(), rows, n_vocab));
    out.insert(out.end(), logits.begin(), logits.end());
  };
  step(prompt, 0, true);
  for (size_t j = 0; j < decode.size(); ++j)
    step(std::span<const int32_t>(&decode[j], 1), static_cast<int64_t>(prompt.size() + j), false);
  return out;
}

float max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float d = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
  return d;
}

std::vector<int32_t> tokens(int n, int seed) {
  std::vector<int32_t> t(n);
  t[0] = 506;  // BOS
  for (int i = 1; i < n; ++i) t[i] = (seed + 131 * i + i * i * 7) % 506;
  return t;
}

TEST(Mla, LatentCacheHasExactlyTheLatentAndRopeWidth) {
  for (const char* name : {"tiny-deepseek2-lite.f32.gguf", "tiny-deepseek3.f32.gguf", "tiny-deepseek2-lite-legacy-kvb.f32.gguf"}) {
    SCOPED_TRACE(name);
    Loaded l = load(name);
    ASSERT_TRUE(l.arch);
    auto kv_lora = l.file->get_int("deepseek2.attention.kv_lora_rank");
    auto n_rot = l.file->get_int("deepseek2.rope.dimension_count");
    ASSERT_TRUE(kv_lora.ok() && n_rot.ok());
    const int64_t width = **kv_lora + **n_rot;  // 64 + 16
    const model::KvLayout layout = l.arch->kv_layout();
    const int64_t n_layer = l.arch->hparams().n_layer;
    ASSERT_EQ(static_cast<int64_t>(layout.k_width.size()), n_layer);
    for (int64_t il = 0; il < n_layer; ++il) {
      EXPECT_EQ(layout.k_width[il], width);
      EXPECT_EQ(layout.v_width[il], 0);
    }
    for (CacheType type : {CacheType::kF16, CacheType::kF32}) {
      const int64_t n_ctx = 512;
      model::KvCache cache(*l.backend, layout, n_ctx, type);
      // KV bytes per token per layer = (kv_lora_rank + qk_rope_head_dim) x element size.
      EXPECT_EQ(cache.n_bytes(), static_cast<size_t>(n_layer * n_ctx * width) * backend::cache_type_size(type));
    }
  }
}

TEST(Mla, AbsorbedEqualsDecompressed) {
  for (const char* name : {"tiny-deepseek2-lite.f32.gguf", "tiny-deepseek3.f32.gguf", "tiny-deepseek2-lite-legacy-kvb.f32.gguf"}) {
    SCOPED_TRACE(name);
    Loaded absorbed = load(name);
    Loaded decompressed = load(name);
    ASSERT_TRUE(absorbed.arch && decompressed.arch);
    ASSERT_TRUE(model::set_mla_mode(*decompressed.arch, model::MlaMode::kDecompressed));
    const auto prompt = tokens(37, 3);
    const auto decode = tokens(9, 11);
    const auto a = run(absorbed, prompt, decode, CacheType::kF32);
    const auto d = run(decompressed, prompt, decode, CacheType::kF32);
    const float diff = max_diff(a, d);
    EXPECT_LE(diff, 1e-4f);
    std::printf("[ mla      ] %-40s absorbed vs decompressed max|d| %.3g over %zu logits\n", name, diff, a.size());
    // Both forms produce real logits (not, e.g., all zeros).
    float spread = 0;
    for (float v : a) spread = std::max(spread, std::abs(v));
    EXPECT_GT(spread, 1.0f);
  }
}

TEST(Mla, LegacyKvbLayoutEqualsSplitLayout) {
  Loaded split = load("tiny-deepseek2-lite.f32.gguf");
  Loaded legacy = load("tiny-deepseek2-lite-legacy-kvb.f32.gguf");
  ASSERT_TRUE(split.arch && legacy.arch);
  const auto prompt = tokens(20, 5);
  const auto decode = tokens(5, 17);
  EXPECT_LE(max_diff(run(split, prompt, decode, CacheType::kF32), run(legacy, prompt, decode, CacheType::kF32)),
            1e-4f);
}

TEST(Mla, ModeIsOnlyForDeepseek2) {
  Loaded l = load("tiny-qwen2moe.f32.gguf");
  ASSERT_TRUE(l.arch);
  EXPECT_FALSE(model::set_mla_mode(*l.arch, model::MlaMode::kDecompressed));
}

}  // namespace
}  // namespace moecode
