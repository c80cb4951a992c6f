// Golden conformance: every fixture model that has a golden file (tests/data, and the full
// shared set when present) is run through the engine and compared with llama.cpp's logits
// and greedy continuations (fixtures README: the prompt in one batch, the continuation fed
// one token at a time). `Conformance` uses the goldens made with an F32 KV cache and runs
// the engine with its F32 cache; `ConformanceKvF16` the goldens made with llama.cpp's F16
// cache (golden/kv_f16/) against the engine's default F16 cache.
//   - prompt logits: the full last-position logits and the top-10 ids of every position,
//     within the tolerance of the file's storage type; identical top-1 at every position
//     unless llama.cpp's own top-2 were a near-tie there;
//   - greedy: the golden continuation is fed back token by token (the decode path) and our
//     argmax must equal llama.cpp's next token; a divergence is accepted only right after a
//     near-tie of llama.cpp's top-2 logits, and is reported.
// Families listed in kSupportedFamilies get these checks; any other family must fail to
// load with a clear "not supported" error (the MoE families add themselves to the list).
// MoE routing flips (MoE files other than F32 with an F32 cache): our activations follow
// llama.cpp's to ~1e-6, but where a value lies that close to a Q8/F16 rounding boundary the
// two round differently, and where the same position has a close expert (or expert-group)
// choice the routing flips: an error of order 1..5 at that position, carried on by its
// cache rows. A large error is called a flip only when it is one: the experts our engine
// chose (EvalOptions::experts) differ from the ones llama.cpp chose (recorded with the
// golden, or in golden/experts/) at that position or before it, and at the first such
// difference our own router was within kFlipMargin of choosing otherwise. Without that it
// fails as any other mismatch, and a first difference where our router was not near a tie
// fails by itself (a routing bug). Such a sequence is reported ("[ routing  ]"); from its
// first flip on, its positions are held to the fixtures README's bounds for MoE quantized
// files (mean|d| <= 0.2, top-1 >= 85 % over the file) instead of the tight ones, and its
// greedy continuation may diverge. Everything before the first flip, and every F32 file
// with the F32 cache, keeps the tight checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
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

// A differing expert choice counts as a routing flip only where our router was this close
// to choosing otherwise (ExpertTrace::Choice::margin, in router-probability units). The
// first differences of every flip in the fixture set had margins of 1e-5..6.8e-3.
constexpr float kFlipMargin = 0.02f;

const char* const kSupportedFamilies[] = {"tiny-llama",          "tiny-qwen2",          "tiny-qwen3",
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

Tolerance tolerance_for(const std::string& family, const std::string& quant, KvCacheType kv) {
  const bool quantized = quant != "F32" && quant != "F16" && quant != "BF16";
  if (kv == KvCacheType::kF16) {
    // The F16 cache as llama.cpp uses it (q and the softmax probabilities rounded to F16 too,
    // CpuBackend::attention_f16). What is left are F16 rounding flips of values that differ
    // by float summation order: with F32 weights 0.9e-3..6.6e-3 max and 3e-6..3.9e-4 mean
    // over the scalar, AVX2 and AVX-512 paths. (An F32 cache gives 5e-3..2.3e-2 /
    // 4.9e-4..1.4e-3 against these goldens, an F16 cache without those two roundings
    // 3.5e-3..1.5e-2 / 4.6e-4..1.2e-3: too close to tell apart by bounds that hold on every
    // path, so check_golden also requires the F16-cache logits to be much closer to this
    // golden than to the F32-cache one.)
    // The legacy deepseek2 layout caches the MLA latent here but per-head K/V in llama.cpp
    // (other values are rounded): it gets the fixtures README's F16-vs-F32 cache bounds.
    if (family == "tiny-deepseek2-lite-legacy-kvb") return {0.03f, 2e-3f, 0.03f};
    if (quant == "F32") return {0.01f, 1e-3f, 0.01f};
    // Quantized weights: each such flip can move an activation across a Q8 rounding step (or
    // a Q8_K block's scale), so the cache's rounding reaches every layer (0.002..0.029 mean
    // measured on dense files).
    if (quantized) return {0.3f, 0.04f, 0.3f};
  }
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
  // quantization is max 0.5 / mean 0.07 / top-1 >= 95 %; these bounds are well inside it
  // (F32 activations give 0.03..0.05 mean on Q8_0, Q4_0, Q4_K_M and Q5_K files; our
  // scalar path, whose sums run in another order, up to 0.022 on tiny-llama.q4_1).
  if (quant == "F16") return {0.05f, 2e-3f, 0.05f};
  // BF16 keeps 8 mantissa bits, so one flipped activation moves logits 8x as far as an F16
  // one: 2e-7..4.7e-3 mean measured on every path, where F32 activations give 0.0098..0.0124.
  if (quant == "BF16") return {0.08f, 6e-3f, 0.08f};
  return {0.3f, 0.025f, 0.3f};
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

// One place where our routed experts differ from llama.cpp's.
struct ExpertMismatch {
  size_t row = 0;  // prompt position, or greedy feed j
  int layer = 0;
  std::vector<int> ours, theirs;  // sorted
  float margin = 0;               // our routing margin there (ExpertTrace::Choice)
};

std::string show(const std::vector<int>& v) {
  std::string s = "{";
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(v[i]);
  }
  s += '}';
  return s;
}

std::string show(const ExpertMismatch& m) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.3g", m.margin);
  return "layer " + std::to_string(m.layer) + ": ours " + show(m.ours) + ", llama.cpp " + show(m.theirs) +
         ", our routing margin " + buf;
}

// Our choice for the rows of one eval against llama.cpp's rows [row0, row0 + n) of `theirs`
// ([layer index][row][k]); mismatches in row order.
std::vector<ExpertMismatch> compare_experts(const engine::ExpertTrace& ours, const testing::GoldenExperts& g,
                                            const std::vector<std::vector<std::vector<int>>>& theirs, size_t row0,
                                            size_t n) {
  std::vector<ExpertMismatch> out;
  EXPECT_EQ(ours.layers.size(), g.layers.size()) << "MoE layers in our trace vs llama.cpp's record";
  for (size_t li = 0; li < g.layers.size(); ++li) {
    const auto it = ours.layers.find(g.layers[li]);
    if (it == ours.layers.end() || it->second.size() != n || theirs.at(li).size() < row0 + n) {
      ADD_FAILURE() << "no expert choice of ours for layer " << g.layers[li] << " (or not " << n << " rows)";
      continue;
    }
    for (size_t r = 0; r < n; ++r) {
      std::vector<int> a(it->second[r].experts.begin(), it->second[r].experts.end());
      std::vector<int> b = theirs[li][row0 + r];
      std::sort(a.begin(), a.end());
      std::sort(b.begin(), b.end());
      if (a != b) out.push_back({row0 + r, g.layers[li], a, b, it->second[r].margin});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const auto& x, const auto& y) { return x.row < y.row; });
  return out;
}

// f32_cache: for an F16-cache golden of an F32 file, the golden of the same file made with
// llama.cpp's F32 cache (or null).
void check_golden(const GoldenFile& file, KvCacheType kv, const GoldenFile* f32_cache = nullptr) {
  const Golden g = testing::read_golden(file.json_path, file.model_path, file.experts_path);
  std::optional<Golden> g32;
  // (Not for the legacy deepseek2 layout, whose cache holds other values than llama.cpp's.)
  if (f32_cache && kv == KvCacheType::kF16 && g.quant == "F32" && g.family != "tiny-deepseek2-lite-legacy-kvb")
    g32 = testing::read_golden(f32_cache->json_path, "");
  ASSERT_EQ(g.kv_type, kv == KvCacheType::kF32 ? "f32" : "f16") << "the golden's KV cache type";
  engine::LoadOptions lo;
  lo.kv_type = kv;
  // scripts/gpu-check runs the suite on the GPU backend (MOECODE_TEST_BACKEND=gpu).
  if (const char* be = std::getenv("MOECODE_TEST_BACKEND")) lo.backend = be;
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
  Tolerance tol = tolerance_for(g.family, g.quant, kv);
  // F16 activations: each rounding flip moves logits by ~1e-3..1e-2, and the MoE fixtures are
  // wider (tiny-qwen3moe: 256) and have more matmuls per token, so more flips; the README
  // measured 0.0012..0.003 mean for F16 files against their weights in F32.
  if (moe && g.quant == "F16") tol.mean_abs = std::max(tol.mean_abs, 4e-3f);
  const bool flips_possible = moe && (g.quant != "F32" || kv == KvCacheType::kF16);
  int n_flipped = 0;

  engine::SessionOptions so;
  so.n_ctx = 512;
  so.n_batch = 512;

  float worst = 0;
  double sum_last = 0, sum_last_vs_f32_cache = 0, sum_last_unflipped = 0;
  size_t n_last = 0, n_last_unflipped = 0;
  int n_positions = 0, n_top1 = 0, n_ties = 0, n_route_diffs = 0;
  for (size_t si = 0; si < g.sequences.size(); ++si) {
    const auto& seq = g.sequences[si];
    SCOPED_TRACE("sequence " + std::to_string(si) + " (" + std::to_string(seq.tokens.size()) + " tokens)");
    auto session = (*model)->new_session(so);
    ASSERT_TRUE(session.ok()) << session.error().message();
    engine::Session& s = **session;
    ASSERT_EQ(s.kv_type(), kv);
    engine::ExpertTrace trace;
    engine::EvalOptions eo;
    eo.logits_all = true;
    eo.experts = &trace;
    auto st = s.eval(seq.tokens, eo, nullptr);
    ASSERT_TRUE(st.ok()) << st.error().message();
    ASSERT_EQ(st->n_evaluated, static_cast<int>(seq.tokens.size()));
    const auto all = s.all_logits();
    ASSERT_EQ(all.size(), seq.tokens.size() * g.n_vocab);

    // Where our experts differ from llama.cpp's. A real routing flip is a near-tie of the
    // router: a differing choice that our own scores did not find close is a bug.
    std::vector<ExpertMismatch> route_diffs;
    if (moe && seq.experts) {
      route_diffs = compare_experts(trace, *seq.experts, seq.experts->prompt, 0, seq.tokens.size());
    }
    if (moe) {
      EXPECT_FALSE(trace.layers.empty()) << "no expert trace from a MoE model";
    }
    // Only the first difference of a sequence has to be a near-tie: from there on (later
    // layers of that position, later positions through the cache) the hidden states differ.
    auto check_first = [&](const ExpertMismatch& m, const char* where) {
      if (m.margin > kFlipMargin) {
        ADD_FAILURE() << where << " " << m.row << ": experts differ from llama.cpp's where our router was not near a "
                      << "tie (" << show(m) << " > " << kFlipMargin << ")";
      }
    };
    n_route_diffs += static_cast<int>(route_diffs.size());
    if (!route_diffs.empty()) check_first(route_diffs.front(), "position");
    auto flip_before = [&](size_t p) -> const ExpertMismatch* {
      return !route_diffs.empty() && route_diffs.front().row <= p ? &route_diffs.front() : nullptr;
    };
    auto why_not_flip = [&]() -> std::string {
      if (!flips_possible) return "";
      if (!seq.experts) return " (no llama.cpp expert record for this golden: a routing flip cannot be confirmed)";
      return " (llama.cpp chose the same experts up to here: not a routing flip)";
    };

    // Every prompt position: the golden top-10 logits and the argmax.
    bool flipped = false;  // a routing flip happened (MoE quantized files; see the top)
    for (size_t p = 0; p < seq.tokens.size(); ++p) {
      const auto row = all.subspan(p * g.n_vocab, g.n_vocab);
      const float e = topk_error(row, seq.topk_per_pos[p]);
      worst = std::max(worst, e);
      if (e > tol.max_abs && flips_possible && !flipped) {
        if (const ExpertMismatch* m = flip_before(p)) {
          flipped = true;
          ++n_flipped;
          std::printf("[ routing  ] %s seq %zu pos %zu: |d| %.3g after a routing flip at position %zu (%s); the "
                      "rest of this sequence is held to the README's MoE bounds\n",
                      g.name.c_str(), si, p, e, m->row, show(*m).c_str());
        }
      }
      if (!flipped) {
        EXPECT_LE(e, tol.max_abs) << "position " << p << why_not_flip();
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
    if (g32) {
      const auto& ref = g32->sequences[si].last_logits;
      for (int i = 0; i < g.n_vocab; ++i) sum_last_vs_f32_cache += std::abs(last[i] - ref[i]);
    }
    for (int i = 0; i < g.n_vocab; ++i) {
      const float e = std::abs(last[i] - seq.last_logits[i]);
      worst = std::max(worst, e);
      sum_last += e;
      ++n_last;
      if (!flipped) {
        sum_last_unflipped += e;
        ++n_last_unflipped;
      }
      if (e > tol.max_abs && !flipped) {
        ADD_FAILURE() << "last logits[" << i << "] = " << last[i] << ", llama.cpp " << seq.last_logits[i];
        break;
      }
    }

    // Greedy: feed llama.cpp's continuation one token at a time.
    bool diverged = false;
    const size_t n = seq.tokens.size();
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
      engine::ExpertTrace step_trace;
      engine::EvalOptions step_eo;
      step_eo.experts = &step_trace;
      auto dst = s.eval(ctx, step_eo, nullptr);
      ASSERT_TRUE(dst.ok()) << dst.error().message();
      ASSERT_EQ(dst->n_evaluated, 1) << "decode must reuse the cached prefix";
      if (moe && seq.experts && !seq.experts->greedy.empty()) {
        for (auto m : compare_experts(step_trace, *seq.experts, seq.experts->greedy, j, 1)) {
          ++n_route_diffs;
          m.row = n + j;  // as a position
          if (route_diffs.empty()) check_first(m, "position (greedy feed)");
          route_diffs.push_back(m);
        }
      }
      const float e = topk_error(s.last_logits(), seq.greedy_topk[j]);
      worst = std::max(worst, e);
      if (e > tol.max_abs && flips_possible && !flipped) {
        if (const ExpertMismatch* m = flip_before(n + j)) {
          flipped = true;
          ++n_flipped;
          std::printf("[ routing  ] %s seq %zu greedy step %zu: |d| %.3g after a routing flip at position %zu (%s)\n",
                      g.name.c_str(), si, j + 1, e, m->row, show(*m).c_str());
        }
      }
      if (!flipped) {
        EXPECT_LE(e, tol.max_abs) << "greedy step " << j + 1 << why_not_flip();
      }
    }
    if (!diverged && argmax(s.last_logits()) != seq.greedy.back()) {
      if (flipped || top2_gap(seq.greedy_topk.back()) < tol.near_tie) {
        std::printf("[ %s ] %s seq %zu: the last greedy token differs (llama.cpp top-2 gap %.3g)\n",
                    flipped ? "routing " : "near-tie", g.name.c_str(), si, top2_gap(seq.greedy_topk.back()));
      } else {
        ADD_FAILURE() << "last greedy token: " << argmax(s.last_logits()) << " vs llama.cpp " << seq.greedy.back();
      }
    }
  }
  const double mean_last = sum_last / static_cast<double>(n_last);
  if (g32) {
    // The F16 cache must follow llama.cpp's F16 cache, not merely stay near the F32 one: our
    // logits are 3x (scalar path, deepseek3) to 250x closer to this golden than to the
    // F32-cache golden; an F32 cache or an F16 cache without llama.cpp's roundings is not.
    const double mean_vs_f32 = sum_last_vs_f32_cache / static_cast<double>(n_last);
    EXPECT_LE(mean_last, 0.5 * mean_vs_f32) << "the F16 cache's logits are not closer to llama.cpp's F16-cache logits ("
                                            << mean_last << ") than to its F32-cache ones (" << mean_vs_f32 << ")";
    std::printf("[ kv f16   ] %s: mean|d| last %.3g to the F16-cache golden, %.3g to the F32-cache golden\n",
                g.name.c_str(), mean_last, mean_vs_f32);
  }
  if (n_flipped == 0) {
    EXPECT_LE(mean_last, tol.mean_abs);
    EXPECT_GE(n_top1, n_positions * 97 / 100) << "top-1 agreement below 97 %";
  } else {
    // The fixtures README's bounds for MoE quantized files over the whole file; the
    // sequences that did not flip keep the tight bound (an error that makes the router drift
    // into near-ties everywhere must still show where it did not).
    EXPECT_LE(mean_last, 0.2);
    if (n_last_unflipped > 0) {
      EXPECT_LE(sum_last_unflipped / static_cast<double>(n_last_unflipped), tol.mean_abs)
          << "mean |d| of the last logits of the sequences without a routing flip";
    }
    EXPECT_GE(n_top1, n_positions * 85 / 100) << "top-1 agreement below 85 % with routing flips";
    // At most half of the sequences (with the F16 cache, a second source of near-tie flips,
    // 3 of 4: deepseek3's 16 sigmoid-routed experts flip that often on every SIMD path).
    const int max_flipped = static_cast<int>(g.sequences.size()) / (kv == KvCacheType::kF16 ? 1 : 2) -
                            (kv == KvCacheType::kF16 ? 1 : 0);
    EXPECT_LE(n_flipped, max_flipped) << "routing flips in most sequences";
  }
  std::printf("[ conform  ] %-28s (%s%s) max|d| %.3g  mean|d| last %.3g  top-1 %d/%d  near-ties %d  routing flips %d"
              "  expert diffs %d%s\n",
              g.name.c_str(), file.origin.c_str(), kv == KvCacheType::kF16 ? ", F16 KV" : "", worst, mean_last, n_top1,
              n_positions, n_ties, n_flipped, n_route_diffs,
              moe && !g.sequences.empty() && !g.sequences[0].experts ? "  (no expert record)" : "");
}

TEST_P(Conformance, LogitsAndGreedyMatchLlamaCpp) { check_golden(GetParam(), KvCacheType::kF32); }

INSTANTIATE_TEST_SUITE_P(Fixtures, Conformance, ::testing::ValuesIn(testing::golden_files()), test_name);

// The engine's default F16 KV cache against goldens made with llama.cpp's F16 KV cache
// (golden/kv_f16/, tests/data/README.md).
class ConformanceKvF16 : public ::testing::TestWithParam<GoldenFile> {};

TEST_P(ConformanceKvF16, LogitsAndGreedyMatchLlamaCpp) {
  std::optional<GoldenFile> f32_cache;
  for (const auto& f : testing::golden_files())
    if (f.name == GetParam().name) f32_cache = f;
  check_golden(GetParam(), KvCacheType::kF16, f32_cache ? &*f32_cache : nullptr);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ConformanceKvF16, ::testing::ValuesIn(testing::golden_files("kv_f16")), test_name);

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

// What issue 15 added to tests/data: a dense qwen3, BF16 and Q5_K tensors, goldens made with
// llama.cpp's F16 cache, and llama.cpp's expert choice for every MoE golden that is not F32.
TEST(ConformanceData, NewCoverageIsPresent) {
  std::map<std::string, GoldenFile> files;
  for (const auto& f : testing::golden_files()) files.emplace(f.name, f);
  for (const char* name : {"tiny-qwen3.f32", "tiny-qwen3.bf16", "tiny-qwen3.q8_0", "tiny-llama.q5_k_s"})
    EXPECT_EQ(files.count(name), 1u) << name;
  auto has_type = [&](const std::string& name, const std::string& type) {
    if (!files.count(name)) return false;
    auto summary = engine::inspect_model(files.at(name).model_path);
    if (!summary.ok()) return false;
    for (const auto& t : summary->tensor_types)
      if (t.type == type && t.n_tensors >= 10) return true;
    return false;
  };
  EXPECT_TRUE(has_type("tiny-qwen3.bf16", "BF16"));
  EXPECT_TRUE(has_type("tiny-llama.q5_k_s", "Q5_K"));
  EXPECT_EQ(testing::read_golden(files.at("tiny-qwen3.f32").json_path, "").arch, "qwen3");

  std::map<std::string, int> kv;
  for (const auto& f : testing::golden_files("kv_f16")) kv[f.name] += 1;
  for (const char* name : {"tiny-llama.f32", "tiny-qwen2.f32", "tiny-qwen3.f32", "tiny-deepseek2-lite.f32",
                           "tiny-deepseek3.f32", "tiny-qwen2moe.f32", "tiny-qwen3moe.f32", "tiny-mixtral.f32",
                           "tiny-llama.q4_k_m", "tiny-qwen3moe.q4_k_m"})
    EXPECT_EQ(kv.count(name), 1u) << "kv_f16/" << name;

  for (const auto& [name, f] : files) {
    const std::string family = name.substr(0, name.rfind('.'));
    if (f.origin != "tests/data" ||
        std::find(std::begin(kMoeFamilies), std::end(kMoeFamilies), family) == std::end(kMoeFamilies))
      continue;
    const Golden g = testing::read_golden(f.json_path, f.model_path, f.experts_path);
    for (const auto& seq : g.sequences) {
      ASSERT_TRUE(seq.experts.has_value()) << name << ": no llama.cpp expert record";
      EXPECT_EQ(seq.experts->prompt.at(0).size(), seq.tokens.size()) << name;
      EXPECT_EQ(seq.experts->greedy.at(0).size(), seq.greedy.size() - 1) << name;
    }
  }
}

}  // namespace
}  // namespace moecode
