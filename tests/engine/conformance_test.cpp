// Golden conformance: every fixture model that has a golden file (tests/data, and the full
// shared set when present) is run through the engine and compared with llama.cpp's logits
// and greedy continuations (fixtures README: F32 KV cache, the prompt in one batch, the
// continuation fed one token at a time).
//   - prompt logits: the full last-position logits and the top-10 ids of every position,
//     within the tolerance of the file's storage type; identical top-1 at every position
//     unless llama.cpp's own top-2 were a near-tie there;
//   - greedy: the golden continuation is fed back token by token (the decode path) and our
//     argmax must equal llama.cpp's next token; a divergence is accepted only right after a
//     near-tie of llama.cpp's top-2 logits, and is reported.
// Families listed in kSupportedFamilies get these checks; any other family must fail to
// load with a clear "not supported" error (the MoE families add themselves to the list).
// MoE routing flips (quantized and F16 files of MoE families only): our activations follow
// llama.cpp's to ~1e-6, but where a value lies that close to a Q8/F16 rounding boundary the
// two round differently, and where the same position has a close expert (or expert-group)
// choice the routing flips: an error of order 1..5 at that position, carried on by its
// cache rows. Such a sequence is reported ("[ routing  ]"); from its first flip on, its
// positions are held to the fixtures README's bounds for MoE quantized files (mean|d| <= 0.2,
// top-1 >= 85 % over the file) instead of the tight ones, and its greedy continuation may
// diverge. Everything before the first flip, and every F32 file, keeps the tight checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "moecode/engine/model.h"
#include "support/golden.h"

namespace moecode {
namespace {

using engine::KvCacheType;
using testing::Golden;
using testing::GoldenFile;

const char* const kMoeFamilies[] = {"tiny-deepseek2-lite", "tiny-deepseek2-lite-legacy-kvb", "tiny-deepseek3",
                                    "tiny-qwen2moe", "tiny-qwen3moe", "tiny-mixtral"};

const char* const kSupportedFamilies[] = {"tiny-llama",          "tiny-qwen2",
                                          "tiny-deepseek2-lite", "tiny-deepseek2-lite-legacy-kvb",
                                          "tiny-deepseek3",      "tiny-qwen2moe",
                                          "tiny-qwen3moe",       "tiny-mixtral"};

bool family_supported(const std::string& family) {
  return std::find(std::begin(kSupportedFamilies), std::end(kSupportedFamilies), family) != std::end(kSupportedFamilies);
}

// What a storage type is held to.
struct Tolerance {
  float max_abs;   // every compared logit
  float mean_abs;  // over the full last-position logits of all sequences
  float near_tie;  // llama.cpp top-2 gap below which a different argmax is accepted
};

Tolerance tolerance_for(const std::string& quant) {
  // F32: the fixtures README's check (llama.cpp's own batch-vs-incremental spread is 2.5e-5).
  if (quant == "F32") return {1e-3f, 1e-4f, 1e-3f};
  // F16 and quantized weights: activations are converted exactly as ggml converts them
  // (to F16, or to Q8_0/Q8_1/Q8_K with its rounding), so whole sequences often agree to
  // ~1e-6. What differs is float summation order (matmul accumulators, attention, exp),
  // ~1e-7 relative, which now and then moves an activation across a rounding boundary of
  // that conversion: a flipped F16 value moves logits by ~1e-3..1e-2, a flipped Q8 step by
  // up to ~0.2, and a flip in a cached K/V row stays for the rest of the sequence. (ggml's
  // own orders differ between its AVX2/AVX-512/sgemm/repack paths, so bit-exactness is not
  // a goal.) The README's guidance for engines that do not mirror the activation
  // quantization is max 0.5 / mean 0.07 / top-1 >= 95 %; these bounds are well inside it.
  if (quant == "F16") return {0.05f, 2e-3f, 0.05f};
  return {0.3f, 0.02f, 0.3f};
}

std::string test_name(const ::testing::TestParamInfo<GoldenFile>& info) {
  std::string n = info.param.name + "_" + (info.param.origin == "shared" ? "shared" : "data");
  for (char& c : n)
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  return n;
}

class Conformance : public ::testing::TestWithParam<GoldenFile> {};

// Largest |ours - golden| over the golden's (id, logit) pairs.
float topk_error(std::span<const float> logits, const std::vector<std::pair<int, float>>& topk) {
  float e = 0;
  for (const auto& [id, v] : topk) e = std::max(e, std::abs(logits[id] - v));
  return e;
}

int argmax(std::span<const float> v) {
  int best = 0;
  for (int i = 1; i < static_cast<int>(v.size()); ++i)
    if (v[i] > v[best]) best = i;
  return best;
}

float top2_gap(const std::vector<std::pair<int, float>>& topk) {
  return topk.size() < 2 ? INFINITY : topk[0].second - topk[1].second;
}

TEST_P(Conformance, LogitsAndGreedyMatchLlamaCpp) {
  const Golden g = testing::read_golden(GetParam().json_path, GetParam().model_path);
  engine::LoadOptions lo;
  lo.kv_type = KvCacheType::kF32;
  auto model = engine::Model::load(g.model_path, lo);
  if (!family_supported(g.family)) {
    ASSERT_FALSE(model.ok()) << g.family << " loads now: add it to kSupportedFamilies";
    EXPECT_EQ(model.error().code(), ErrorCode::kUnsupported) << model.error().message();
    EXPECT_NE(model.error().message().find("not supported"), std::string::npos) << model.error().message();
    return;
  }
  ASSERT_TRUE(model.ok()) << model.error().message();
  ASSERT_EQ((*model)->info().n_vocab, g.n_vocab);
  const bool moe = std::find(std::begin(kMoeFamilies), std::end(kMoeFamilies), g.family) != std::end(kMoeFamilies);
  Tolerance tol = tolerance_for(g.quant);
  // F16 activations: each rounding flip moves logits by ~1e-3..1e-2, and the MoE fixtures are
  // wider (tiny-qwen3moe: 256) and have more matmuls per token, so more flips; the README
  // measured 0.0012..0.003 mean for F16 files against their weights in F32.
  if (moe && g.quant == "F16") tol.mean_abs = 4e-3f;
  const bool flips_possible = moe && g.quant != "F32";
  int n_flipped = 0;

  engine::SessionOptions so;
  so.n_ctx = 512;
  so.n_batch = 512;

  float worst = 0;
  double sum_last = 0;
  size_t n_last = 0;
  int n_positions = 0, n_top1 = 0, n_ties = 0;
  for (size_t si = 0; si < g.sequences.size(); ++si) {
    const auto& seq = g.sequences[si];
    SCOPED_TRACE("sequence " + std::to_string(si) + " (" + std::to_string(seq.tokens.size()) + " tokens)");
    auto session = (*model)->new_session(so);
    ASSERT_TRUE(session.ok()) << session.error().message();
    engine::Session& s = **session;
    ASSERT_EQ(s.kv_type(), KvCacheType::kF32);
    engine::EvalOptions eo;
    eo.logits_all = true;
    auto st = s.eval(seq.tokens, eo, nullptr);
    ASSERT_TRUE(st.ok()) << st.error().message();
    ASSERT_EQ(st->n_evaluated, static_cast<int>(seq.tokens.size()));
    const auto all = s.all_logits();
    ASSERT_EQ(all.size(), seq.tokens.size() * g.n_vocab);

    // Every prompt position: the golden top-10 logits and the argmax.
    bool flipped = false;  // a routing flip happened (MoE quantized files; see the top)
    for (size_t p = 0; p < seq.tokens.size(); ++p) {
      const auto row = all.subspan(p * g.n_vocab, g.n_vocab);
      const float e = topk_error(row, seq.topk_per_pos[p]);
      worst = std::max(worst, e);
      if (e > tol.max_abs && flips_possible && !flipped) {
        flipped = true;
        ++n_flipped;
        std::printf("[ routing  ] %s seq %zu pos %zu: |d| %.3g, a routing flip; the rest of this sequence is held to the "
                    "README's MoE bounds\n",
                    g.name.c_str(), si, p, e);
      }
      if (!flipped) {
        EXPECT_LE(e, tol.max_abs) << "position " << p;
      }
      ++n_positions;
      if (argmax(row) == seq.topk_per_pos[p][0].first) {
        ++n_top1;
      } else if (flipped) {
        // counted against the top-1 agreement of the file
      } else if (top2_gap(seq.topk_per_pos[p]) < tol.near_tie) {
        ++n_ties;
        std::printf("[ near-tie ] %s seq %zu pos %zu: llama.cpp top-2 gap %.3g, argmax %d vs %d\n", g.name.c_str(), si, p,
                    top2_gap(seq.topk_per_pos[p]), argmax(row), seq.topk_per_pos[p][0].first);
      } else {
        ADD_FAILURE() << "top-1 differs at position " << p << ": " << argmax(row) << " vs "
                      << seq.topk_per_pos[p][0].first;
      }
    }
    // The full last-position logits.
    const auto last = all.subspan((seq.tokens.size() - 1) * g.n_vocab, g.n_vocab);
    for (int i = 0; i < g.n_vocab; ++i) {
      const float e = std::abs(last[i] - seq.last_logits[i]);
      worst = std::max(worst, e);
      sum_last += e;
      ++n_last;
      if (e > tol.max_abs && !flipped) {
        ADD_FAILURE() << "last logits[" << i << "] = " << last[i] << ", llama.cpp " << seq.last_logits[i];
        break;
      }
    }

    // Greedy: feed llama.cpp's continuation one token at a time.
    bool diverged = false;
    for (size_t j = 0; j + 1 < seq.greedy.size() && !diverged; ++j) {
      const auto& prev_topk = j == 0 ? seq.topk_per_pos.back() : seq.greedy_topk[j - 1];
      const int ours = argmax(j == 0 ? last : s.last_logits());
      if (ours != seq.greedy[j]) {
        if (flipped) {
          std::printf("[ routing  ] %s seq %zu greedy step %zu: continuation diverges after the routing flip\n",
                      g.name.c_str(), si, j);
          diverged = true;
          break;
        }
        if (top2_gap(prev_topk) < tol.near_tie) {
          std::printf("[ near-tie ] %s seq %zu greedy step %zu: llama.cpp top-2 gap %.3g; continuation diverges here\n",
                      g.name.c_str(), si, j, top2_gap(prev_topk));
          diverged = true;
          break;
        }
        ADD_FAILURE() << "greedy step " << j << ": " << ours << " vs llama.cpp " << seq.greedy[j];
        break;
      }
      std::vector<engine::Token> ctx(seq.tokens.begin(), seq.tokens.end());
      ctx.insert(ctx.end(), seq.greedy.begin(), seq.greedy.begin() + static_cast<std::ptrdiff_t>(j) + 1);
      auto dst = s.eval(ctx);
      ASSERT_TRUE(dst.ok()) << dst.error().message();
      ASSERT_EQ(dst->n_evaluated, 1) << "decode must reuse the cached prefix";
      const float e = topk_error(s.last_logits(), seq.greedy_topk[j]);
      worst = std::max(worst, e);
      if (e > tol.max_abs && flips_possible && !flipped) {
        flipped = true;
        ++n_flipped;
        std::printf("[ routing  ] %s seq %zu greedy step %zu: |d| %.3g, a routing flip\n", g.name.c_str(), si, j + 1, e);
      }
      if (!flipped) {
        EXPECT_LE(e, tol.max_abs) << "greedy step " << j + 1;
      }
    }
    if (!diverged) {
      EXPECT_EQ(argmax(s.last_logits()), seq.greedy.back()) << "last greedy token";
    }
  }
  const double mean_last = sum_last / static_cast<double>(n_last);
  if (n_flipped == 0) {
    EXPECT_LE(mean_last, tol.mean_abs);
    EXPECT_GE(n_top1, n_positions * 97 / 100) << "top-1 agreement below 97 %";
  } else {
    // The fixtures README's bounds for MoE quantized files.
    EXPECT_LE(mean_last, 0.2);
    EXPECT_GE(n_top1, n_positions * 85 / 100) << "top-1 agreement below 85 % with routing flips";
    EXPECT_LE(n_flipped, static_cast<int>(g.sequences.size()) / 2) << "routing flips in most sequences";
  }
  std::printf("[ conform  ] %-28s (%s) max|d| %.3g  mean|d| last %.3g  top-1 %d/%d  near-ties %d  routing flips %d\n",
              g.name.c_str(), GetParam().origin.c_str(), worst, mean_last, n_top1, n_positions, n_ties, n_flipped);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Conformance, ::testing::ValuesIn(testing::golden_files()), test_name);

TEST(ConformanceData, FixturesArePresent) {
  // tests/data always holds the dense and MoE families in F32 (a missing file must not make the
  // conformance suite pass by having nothing to check).
  std::map<std::string, int> n;
  for (const auto& f : testing::golden_files()) n[f.name] += 1;
  EXPECT_EQ(n.count("tiny-llama.f32"), 1u);
  EXPECT_EQ(n.count("tiny-qwen2.f32"), 1u);
  // ... and every MoE family in F32 and at least one quantized form.
  for (const char* family : kMoeFamilies) {
    SCOPED_TRACE(family);
    EXPECT_EQ(n.count(std::string(family) + ".f32"), 1u);
    int quantized = 0;
    for (const auto& [name, count] : n)
      quantized += name.rfind(std::string(family) + ".q", 0) == 0 ? count : 0;
    if (std::string(family) != "tiny-deepseek2-lite-legacy-kvb") {
      EXPECT_GE(quantized, 1);
    }
  }
  EXPECT_GE(n.size(), 10u);
}

}  // namespace
}  // namespace moecode
