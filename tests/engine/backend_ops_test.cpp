// Backend ops on random inputs against plain reference code (double accumulation):
// matmul for every weight type the fixtures use (with 1 and 3 threads, with the activation
// conversion ggml pairs the type with), get_rows, rms_norm, rope (both orders), swiglu,
// add, store_rows (F16/F32) and attention (causal GQA over a cache). Also the vector
// kernels (AVX2 and AVX-512 vs scalar) and the thread pool. Guard floats around outputs catch
// out-of-bounds writes. Only the CPU backend exists in this build; a GPU backend would be
// compared with it here.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string>
#include <random>
#include <tuple>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/thread_pool.h"
#include "engine/backend/cpu/vec.h"
#include "engine/quant/kernels.h"
#include "engine/quant/quantize.h"

namespace moecode::backend {
namespace {

using quant::GgmlType;

constexpr float kGuard = 12345.0f;

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// A buffer with guard values before and after `n` floats.
struct Guarded {
  explicit Guarded(size_t n) : v(n + 32, kGuard) {}
  float* data() { return v.data() + 16; }
  bool intact(size_t n) const {
    for (size_t i = 0; i < 16; ++i)
      if (v[i] != kGuard || v[16 + n + i] != kGuard) return false;
    return true;
  }
  std::vector<float> v;
};

struct QuantWeight {
  std::vector<uint8_t> bytes;
  Weight w;
  std::vector<float> dequant;  // what the stored weights are, as floats
};

QuantWeight make_weight(GgmlType type, int64_t n_in, int64_t n_out, uint32_t seed) {
  QuantWeight q;
  const auto f = random_floats(static_cast<size_t>(n_in * n_out), seed, 0.5f);
  const auto& tt = quant::type_traits(type);
  const size_t row = quant::row_size(type, n_in);
  q.bytes.resize(row * n_out);
  q.dequant.resize(f.size());
  for (int64_t r = 0; r < n_out; ++r) {
    tt.from_float(f.data() + r * n_in, q.bytes.data() + r * row, n_in);
    tt.to_float(q.bytes.data() + r * row, q.dequant.data() + r * n_in, n_in);
  }
  q.w.data = q.bytes.data();
  q.w.type = type;
  q.w.n_in = n_in;
  q.w.n_out = n_out;
  q.w.row_bytes = row;
  return q;
}

class MatmulTest : public ::testing::TestWithParam<GgmlType> {};

TEST_P(MatmulTest, MatchesDequantizedReference) {
  const GgmlType type = GetParam();
  const int64_t n_in = 512, n_out = 83, n_tok = 37;
  const QuantWeight q = make_weight(type, n_in, n_out, 1);
  const auto x = random_floats(static_cast<size_t>(n_in * n_tok), 2);
  const auto bias = random_floats(n_out, 3);
  // Reference: the activations converted the way the kernels pair them, then exact dots.
  // For Q8_1 activations the weight minimum multiplies the block's stored (F16) sum s.
  const GgmlType act = quant::vec_dot_type(type);
  std::vector<float> xa(x.size());
  std::vector<float> act_s;  // [n_tok][n_in / 32] for Q8_1
  if (act == GgmlType::F32) {
    xa = x;
  } else {
    const auto& at = quant::type_traits(act);
    std::vector<uint8_t> tmp(quant::row_size(act, n_in));
    for (int64_t t = 0; t < n_tok; ++t) {
      quant::kernels().from_float[static_cast<int>(act)](x.data() + t * n_in, tmp.data(), n_in);
      at.to_float(tmp.data(), xa.data() + t * n_in, n_in);
      if (act == GgmlType::Q8_1) {
        const auto* b = reinterpret_cast<const quant::BlockQ8_1*>(tmp.data());
        for (int64_t i = 0; i < n_in / 32; ++i) act_s.push_back(cpu::half_to_float(b[i].s));
      }
    }
  }
  // Weight minimum of row r, block i (Q4_1 / Q5_1 blocks start with d, m).
  auto block_min = [&](int64_t r, int64_t i) {
    quant::half_bits m;
    std::memcpy(&m, q.bytes.data() + r * q.w.row_bytes + i * quant::type_traits(type).type_size + 2, 2);
    return static_cast<double>(cpu::half_to_float(m));
  };
  for (int threads : {1, 3}) {
    auto be = make_cpu_backend({threads});
    ASSERT_TRUE(be->supports(type));
    Guarded y(static_cast<size_t>(n_tok * n_out));
    const MatmulJob job{&q.w, bias.data(), make_mat(y.data(), n_tok, n_out)};
    be->matmul({&job, 1}, make_mat(const_cast<float*>(x.data()), n_tok, n_in));
    ASSERT_TRUE(y.intact(static_cast<size_t>(n_tok * n_out)));
    double max_err = 0, max_ref = 0;
    for (int64_t t = 0; t < n_tok; ++t) {
      for (int64_t r = 0; r < n_out; ++r) {
        double ref = bias[r];
        if (act == GgmlType::Q8_1) {
          for (int64_t b = 0; b < n_in / 32; ++b) {
            const double m = block_min(r, b);
            for (int64_t i = b * 32; i < b * 32 + 32; ++i) ref += (q.dequant[r * n_in + i] - m) * xa[t * n_in + i];
            ref += m * act_s[t * (n_in / 32) + b];
          }
        } else {
          for (int64_t i = 0; i < n_in; ++i) ref += static_cast<double>(q.dequant[r * n_in + i]) * xa[t * n_in + i];
        }
        max_err = std::max(max_err, std::abs(ref - y.data()[t * n_out + r]));
        max_ref = std::max(max_ref, std::abs(ref));
      }
    }
    EXPECT_LE(max_err, 1e-4 * max_ref + 1e-4) << quant::type_name(type) << " threads " << threads;
  }
}

INSTANTIATE_TEST_SUITE_P(Types, MatmulTest,
                         ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1,
                                           GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K),
                         [](const auto& info) { return std::string(quant::type_name(info.param)); });

TEST(BackendOps, MatmulJobsShareTheInputAndSingleTokenDecode) {
  auto be = make_cpu_backend({2});
  const QuantWeight a = make_weight(GgmlType::Q4_1, 256, 40, 4);
  const QuantWeight b = make_weight(GgmlType::Q8_0, 256, 27, 5);  // odd: tiles with a last row alone
  const QuantWeight c = make_weight(GgmlType::F32, 256, 8, 6);
  const auto x = random_floats(256 * 3, 7);
  std::vector<float> ya(3 * 40), yb(3 * 27), yc(3 * 8);
  const MatmulJob jobs[] = {{&a.w, nullptr, make_mat(ya.data(), 3, 40)},
                            {&b.w, nullptr, make_mat(yb.data(), 3, 27)},
                            {&c.w, nullptr, make_mat(yc.data(), 3, 8)}};
  be->matmul(jobs, make_mat(const_cast<float*>(x.data()), 3, 256));
  // Each row of the quantized jobs equals a one-token, one-job call, bit for bit (prompt
  // lookup's draft verification relies on it), on every ISA table.
  for (const auto& [w, y, rows] : {std::tuple{&a.w, &ya, 40}, std::tuple{&b.w, &yb, 27}}) {
    for (int t = 0; t < 3; ++t) {
      std::vector<float> one(rows);
      const MatmulJob j{w, nullptr, make_mat(one.data(), 1, rows)};
      be->matmul({&j, 1}, make_mat(const_cast<float*>(x.data()) + t * 256, 1, 256));
      for (int r = 0; r < rows; ++r) {
        EXPECT_EQ(one[r], (*y)[t * rows + r]) << "rows " << rows << " token " << t << " row " << r;
      }
    }
  }
}

// Prefill: jobs whose weights pair with the same activation format share one converted (and,
// on the AMX table, packed) copy of the input; every job equals its own one-job call, with a
// partial last group of tokens (40 = 2 x 16 + 8) and rows that are not a multiple of 16.
TEST(BackendOps, MatmulJobsSharePackedInputInPrefill) {
  auto be = make_cpu_backend({2});
  const QuantWeight a = make_weight(GgmlType::Q4_1, 256, 40, 14);
  const QuantWeight b = make_weight(GgmlType::Q8_0, 256, 24, 15);
  const QuantWeight c = make_weight(GgmlType::Q4_0, 256, 33, 16);
  const QuantWeight d = make_weight(GgmlType::Q6_K, 256, 8, 17);
  const int64_t n_tok = 40;
  const auto x = random_floats(256 * n_tok, 18);
  std::vector<float> ya(n_tok * 40), yb(n_tok * 24), yc(n_tok * 33), yd(n_tok * 8);
  const MatmulJob jobs[] = {{&a.w, nullptr, make_mat(ya.data(), n_tok, 40)},
                            {&b.w, nullptr, make_mat(yb.data(), n_tok, 24)},
                            {&c.w, nullptr, make_mat(yc.data(), n_tok, 33)},
                            {&d.w, nullptr, make_mat(yd.data(), n_tok, 8)}};
  be->matmul(jobs, make_mat(const_cast<float*>(x.data()), n_tok, 256));
  const std::vector<float>* ys[] = {&ya, &yb, &yc, &yd};
  for (int j = 0; j < 4; ++j) {
    const int64_t n_out = jobs[j].w->n_out;
    std::vector<float> one(static_cast<size_t>(n_tok * n_out));
    const MatmulJob single{jobs[j].w, nullptr, make_mat(one.data(), n_tok, n_out)};
    be->matmul({&single, 1}, make_mat(const_cast<float*>(x.data()), n_tok, 256));
    EXPECT_EQ(one, *ys[j]) << "job " << j;
  }
}

TEST(BackendOps, GetRowsRmsNormSwigluAdd) {
  auto be = make_cpu_backend({2});
  const QuantWeight e = make_weight(GgmlType::Q6_K, 256, 10, 8);
  const int32_t ids[] = {3, 9, 0};
  std::vector<float> rows(3 * 256);
  be->get_rows(e.w, ids, make_mat(rows.data(), 3, 256));
  for (int t = 0; t < 3; ++t)
    for (int i = 0; i < 256; ++i) ASSERT_EQ(rows[t * 256 + i], e.dequant[ids[t] * 256 + i]);

  const auto x = random_floats(5 * 96, 9);
  const auto g = random_floats(96, 10);
  std::vector<float> y(5 * 96);
  be->rms_norm(make_mat(const_cast<float*>(x.data()), 5, 96), g.data(), 1e-5f, make_mat(y.data(), 5, 96));
  for (int t = 0; t < 5; ++t) {
    double ss = 0;
    for (int i = 0; i < 96; ++i) ss += static_cast<double>(x[t * 96 + i]) * x[t * 96 + i];
    const double scale = 1.0 / std::sqrt(ss / 96 + 1e-5);
    for (int i = 0; i < 96; ++i) EXPECT_NEAR(y[t * 96 + i], x[t * 96 + i] * scale * g[i], 1e-5);
  }

  auto gate = random_floats(4 * 50, 11);
  const auto up = random_floats(4 * 50, 12);
  const auto gate0 = gate;
  be->swiglu(make_mat(gate.data(), 4, 50), make_mat(const_cast<float*>(up.data()), 4, 50));
  for (size_t i = 0; i < gate.size(); ++i)
    EXPECT_NEAR(gate[i], gate0[i] / (1 + std::exp(-gate0[i])) * up[i], 1e-6);

  auto acc = random_floats(3 * 20, 13);
  const auto add = random_floats(3 * 20, 14);
  const auto acc0 = acc;
  be->add(make_mat(acc.data(), 3, 20), make_mat(const_cast<float*>(add.data()), 3, 20));
  for (size_t i = 0; i < acc.size(); ++i) EXPECT_EQ(acc[i], acc0[i] + add[i]);
}

TEST(BackendOps, RopeBothOrders) {
  auto be = make_cpu_backend({1});
  const int n_tok = 3, heads = 2, hd = 8, n_rot = 6;
  const auto cs0 = random_floats(n_tok * n_rot, 15);
  for (bool neox : {false, true}) {
    auto x = random_floats(n_tok * heads * hd, 16);
    const auto x0 = x;
    be->rope({make_mat(x.data(), n_tok, heads * hd), heads, hd, n_rot, neox,
              make_mat(const_cast<float*>(cs0.data()), n_tok, n_rot)});
    for (int t = 0; t < n_tok; ++t) {
      for (int h = 0; h < heads; ++h) {
        const float* a = &x0[(t * heads + h) * hd];
        const float* b = &x[(t * heads + h) * hd];
        for (int i = 0; i < n_rot / 2; ++i) {
          const int i0 = neox ? i : 2 * i, i1 = neox ? i + n_rot / 2 : 2 * i + 1;
          const float c = cs0[t * n_rot + 2 * i], s = cs0[t * n_rot + 2 * i + 1];
          EXPECT_NEAR(b[i0], a[i0] * c - a[i1] * s, 1e-6);
          EXPECT_NEAR(b[i1], a[i0] * s + a[i1] * c, 1e-6);
        }
        for (int i = n_rot; i < hd; ++i) EXPECT_EQ(b[i], a[i]);  // not rotated
      }
    }
  }
}

// Causal grouped-query attention over a cache, against a two-pass softmax in double. With an
// F16 cache the reference rounds as llama.cpp does there (q and the normalised probabilities
// to F16, see CpuBackend::attention_f16).
struct AttentionCase {
  int n_head, n_kv, hd, hv, pos0, n_tok;
};

void check_attention(const AttentionCase& c) {
  const int n_ctx = c.pos0 + c.n_tok + 10;
  for (CacheType ct : {CacheType::kF32, CacheType::kF16}) {
    for (int threads : {1, 2}) {
      SCOPED_TRACE(testing::Message() << "heads " << c.n_head << "/" << c.n_kv << " pos0 " << c.pos0 << " n_tok "
                                      << c.n_tok << " threads " << threads << (ct == CacheType::kF16 ? " f16" : " f32"));
      auto be = make_cpu_backend({threads});
      const int nk_all = c.pos0 + c.n_tok;
      const auto kf = random_floats(static_cast<size_t>(nk_all) * c.n_kv * c.hd, 17);
      const auto vf = random_floats(static_cast<size_t>(nk_all) * c.n_kv * c.hv, 18);
      auto kbuf = be->alloc(static_cast<size_t>(n_ctx) * c.n_kv * c.hd * cache_type_size(ct));
      auto vbuf = be->alloc(static_cast<size_t>(n_ctx) * c.n_kv * c.hv * cache_type_size(ct));
      const CacheView k{kbuf->data(), ct, n_ctx, c.n_kv * c.hd};
      const CacheView v{vbuf->data(), ct, n_ctx, c.n_kv * c.hv};
      be->store_rows(make_mat(const_cast<float*>(kf.data()), nk_all, c.n_kv * c.hd), k, 0);
      be->store_rows(make_mat(const_cast<float*>(vf.data()), nk_all, c.n_kv * c.hv), v, 0);
      // What the cache holds (F16 rounds).
      std::vector<float> kc(kf.size()), vc(vf.size());
      for (size_t i = 0; i < kf.size(); ++i)
        kc[i] = ct == CacheType::kF16 ? cpu::half_to_float(cpu::float_to_half(kf[i])) : kf[i];
      for (size_t i = 0; i < vf.size(); ++i)
        vc[i] = ct == CacheType::kF16 ? cpu::half_to_float(cpu::float_to_half(vf[i])) : vf[i];
      const auto q = random_floats(static_cast<size_t>(c.n_tok) * c.n_head * c.hd, 19);
      Guarded out(static_cast<size_t>(c.n_tok) * c.n_head * c.hv);
      AttentionArgs a;
      a.q = make_mat(const_cast<float*>(q.data()), c.n_tok, c.n_head * c.hd);
      a.k = k;
      a.v = v;
      a.out = make_mat(out.data(), c.n_tok, c.n_head * c.hv);
      a.n_head = c.n_head;
      a.n_head_kv = c.n_kv;
      a.head_dim_k = c.hd;
      a.head_dim_v = c.hv;
      a.pos0 = c.pos0;
      a.scale = 0.3f;
      be->attention(a);
      ASSERT_TRUE(out.intact(static_cast<size_t>(c.n_tok) * c.n_head * c.hv));
      int bad = 0;
      for (int t = 0; t < c.n_tok; ++t) {
        for (int h = 0; h < c.n_head; ++h) {
          const int g = h / (c.n_head / c.n_kv);
          const int nk = c.pos0 + t + 1;
          const bool f16 = ct == CacheType::kF16;
          auto f16_round = [&](double x) {
            return f16 ? cpu::half_to_float(cpu::float_to_half(static_cast<float>(x))) : x;
          };
          std::vector<double> s(nk);
          double mx = -1e300;
          for (int j = 0; j < nk; ++j) {
            double d = 0;
            for (int i = 0; i < c.hd; ++i)
              d += f16_round(q[(t * c.n_head + h) * c.hd + i]) *
                   static_cast<double>(kc[(static_cast<size_t>(j) * c.n_kv + g) * c.hd + i]);
            s[j] = d * 0.3;
            mx = std::max(mx, s[j]);
          }
          double z = 0;
          for (double& e : s) z += (e = std::exp(e - mx));
          for (double& e : s) e = f16_round(e / z);
          for (int i = 0; i < c.hv; ++i) {
            double o = 0;
            for (int j = 0; j < nk; ++j) o += s[j] * vc[(static_cast<size_t>(j) * c.n_kv + g) * c.hv + i];
            const float got = out.data()[(t * c.n_head + h) * c.hv + i];
            if (!(std::fabs(got - o) <= 2e-5) && bad++ < 5) ADD_FAILURE() << "t " << t << " h " << h << " i " << i << ": " << got << " want " << o;
          }
        }
      }
      EXPECT_EQ(bad, 0);
    }
  }
}

TEST(BackendOps, AttentionMatchesNaive) { check_attention({6, 2, 40, 24, 150, 5}); }

// Long rows with few (token, group) pairs, or one token: the keys are split into ranges over
// the threads and merged (some ranges empty at 2,100 keys; two head chunks per group at 16 / 2
// heads).
TEST(BackendOps, AttentionSplitOverKeysMatchesNaive) {
  check_attention({9, 3, 64, 64, 1761, 1});   // SmolLM2's decode shape
  check_attention({16, 2, 32, 16, 2099, 1});  // 8 heads per group, an empty last range
  check_attention({4, 1, 576, 512, 700, 2});  // MLA's absorbed shape, two query tokens
  check_attention({32, 8, 64, 64, 1300, 1});  // 8 KV groups (as Llama-3-8B): one token splits too
}

// Every SIMD table this CPU runs (AVX2, AVX-512), kernel by kernel, against the scalar one:
// lengths around each vector width for the element-wise kernels, head sizes with and without
// a whole number of vectors for attention, F16 and F32 cache rows.
std::vector<const cpu::VecKernels*> simd_tables() {
  std::vector<const cpu::VecKernels*> t;
  if (const cpu::VecKernels* k = cpu::vec_kernels_avx2()) t.push_back(k);
  if (const cpu::VecKernels* k = cpu::vec_kernels_avx512()) t.push_back(k);
  return t;
}

TEST(VecKernels, ActiveTableIsTheBestTheCpuRuns) {
  const auto tables = simd_tables();
  if (tables.empty()) {
    EXPECT_EQ(&cpu::vec_kernels(), &cpu::vec_kernels_scalar());  // no AVX2 here
    return;
  }
  if (cpu::vec_kernels_avx512()) {
    EXPECT_NE(cpu::vec_kernels_avx2(), nullptr);  // AVX-512 implies AVX2 here
  }
  const char* cap = std::getenv("MOECODE_ISA");
  // (AVX-512 here implies AVX2, so tables[0] is the AVX2 one.)
  const std::string want = cap && std::string(cap) == "scalar" ? "scalar"
                           : cap && std::string(cap) == "avx2" ? tables.front()->name
                                                               : tables.back()->name;
  EXPECT_EQ(cpu::vec_kernels().name, want);
}

TEST(VecKernels, SimdMatchesScalar) {
  const cpu::VecKernels& s = cpu::vec_kernels_scalar();
  for (const cpu::VecKernels* simd : simd_tables()) {
    SCOPED_TRACE(simd->name);
    for (int n : {1, 7, 8, 15, 16, 17, 33, 64, 100, 130}) {
      SCOPED_TRACE(n);
      const auto a = random_floats(n, 20 + n), b = random_floats(n, 40 + n);
      std::vector<uint16_t> h(n), h2(n + 1, 0xBEEF);
      s.f32_to_f16(a.data(), h.data(), n);
      simd->f32_to_f16(a.data(), h2.data(), n);
      EXPECT_EQ(h2[n], 0xBEEF) << "wrote past the end";
      h2.pop_back();
      EXPECT_EQ(h, h2);
      std::vector<float> f1(n), f2(n + 1, kGuard);
      s.f16_to_f32(h.data(), f1.data(), n);
      simd->f16_to_f32(h.data(), f2.data(), n);
      EXPECT_EQ(f2[n], kGuard);
      f2.pop_back();
      EXPECT_EQ(f1, f2);
      EXPECT_NEAR(s.dot_f32(a.data(), b.data(), n), simd->dot_f32(a.data(), b.data(), n), 1e-4);
      EXPECT_NEAR(s.dot_f16_f32(h.data(), b.data(), n), simd->dot_f16_f32(h.data(), b.data(), n), 1e-4);
      EXPECT_NEAR(s.sum_squares(a.data(), n), simd->sum_squares(a.data(), n), 1e-9);
      // exp and silu: within a few ulp of libm.
      std::vector<float> e(n + 1, kGuard), g;
      for (int i = 0; i < n; ++i) e[i] = a[i] * 20.0f - 5.0f;
      const std::vector<float> e0 = e;
      g = e;
      simd->exp_f32(e.data(), n);
      simd->silu_mul(g.data(), b.data(), n);
      EXPECT_EQ(e[n], kGuard);
      EXPECT_EQ(g[n], kGuard);
      for (int i = 0; i < n; ++i) {
        EXPECT_NEAR(e[i], std::exp(e0[i]), 4e-7f * std::exp(e0[i])) << e0[i];
        const float silu = e0[i] / (1.0f + std::exp(-e0[i])) * b[i];
        EXPECT_NEAR(g[i], silu, 1e-6f * (1.0f + std::abs(silu)));
      }
      // Softmax of scores (llama.cpp's over an F16 cache): F16 values summing to ~1, equal to the
      // scalar one up to the double sum's order (an F16 rounding step apart at most).
      std::vector<float> p1(n), p2(n + 1, kGuard);
      for (int i = 0; i < n; ++i) p1[i] = p2[i] = a[i] * 12.0f - 3.0f;
      s.softmax_f16(p1.data(), n);
      simd->softmax_f16(p2.data(), n);
      EXPECT_EQ(p2[n], kGuard) << "wrote past the end";
      double total = 0;
      for (int i = 0; i < n; ++i) {
        EXPECT_EQ(cpu::half_to_float(cpu::float_to_half(p2[i])), p2[i]) << "not an F16 value";
        EXPECT_NEAR(p1[i], p2[i], 1e-3f * p1[i] + 1e-7f) << i;
        total += p2[i];
      }
      EXPECT_NEAR(total, 1.0, 1e-3 * n);
      std::vector<float> y1 = b, y2 = b;
      y2.push_back(kGuard);
      s.axpy_f16(y1.data(), 0.7f, h.data(), n);
      simd->axpy_f16(y2.data(), 0.7f, h.data(), n);
      EXPECT_EQ(y2[n], kGuard);
      for (int i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 1e-6);
      s.axpy_f32(y1.data(), -1.3f, a.data(), n);
      simd->axpy_f32(y2.data(), -1.3f, a.data(), n);
      s.scale_f32(y1.data(), 0.37f, n);
      simd->scale_f32(y2.data(), 0.37f, n);
      EXPECT_EQ(y2[n], kGuard);
      for (int i = 0; i < n; ++i) EXPECT_NEAR(y1[i], y2[i], 1e-5);
    }
    // A tile of F32 dot products: row lengths with and without a vector tail, 4-row groups
    // and leftover rows.
    for (int n : {16, 37, 128}) {
      const int nr = 7, nc = 3;
      const auto w = random_floats(static_cast<size_t>(nr * n), 60 + n);
      const auto x = random_floats(static_cast<size_t>(nc * n), 70 + n);
      std::vector<float> o1(nc * nr), o2(nc * nr + 1, kGuard);
      s.gemm_f32(n, nr, nc, w.data(), n * sizeof(float), x.data(), n * sizeof(float), o1.data(), nr);
      simd->gemm_f32(n, nr, nc, w.data(), n * sizeof(float), x.data(), n * sizeof(float), o2.data(), nr);
      EXPECT_EQ(o2.back(), kGuard);
      for (int i = 0; i < nc * nr; ++i) EXPECT_NEAR(o1[i], o2[i], 1e-4) << "n " << n << " at " << i;
    }
    // Attention blocks: 1-4 heads over 1-9 keys, F16 and F32 rows, padded strides.
    for (int d : {8, 40, 64, 128}) {
      for (bool f16 : {false, true}) {
        for (int nh = 1; nh <= 4; ++nh) {
          const int nb = 9, qs = d + 3, ps = nb + 2;
          const size_t stride = (f16 ? 2 : 4) * static_cast<size_t>(d + 5);
          const auto q = random_floats(static_cast<size_t>(nh * qs), 80 + d);
          const auto kf = random_floats(stride * nb / 2, 90 + d);  // enough floats either way
          std::vector<uint8_t> k(stride * nb);
          if (f16) {
            std::vector<uint16_t> kh(kf.size());
            s.f32_to_f16(kf.data(), kh.data(), static_cast<int64_t>(kf.size()));
            std::memcpy(k.data(), kh.data(), k.size());
          } else {
            std::memcpy(k.data(), kf.data(), k.size());
          }
          for (int cnt = 1; cnt <= nb; cnt += 4) {
            SCOPED_TRACE(testing::Message() << "d " << d << (f16 ? " f16" : " f32") << " heads " << nh << " keys " << cnt);
            std::vector<float> s1(nh * ps, kGuard), s2(nh * ps, kGuard);
            s.attn_scores(q.data(), qs, nh, k.data(), stride, f16, cnt, d, 0.125f, s1.data(), ps);
            simd->attn_scores(q.data(), qs, nh, k.data(), stride, f16, cnt, d, 0.125f, s2.data(), ps);
            for (int i = 0; i < nh * ps; ++i) EXPECT_NEAR(s1[i], s2[i], 1e-4) << i;
            std::vector<float> p = random_floats(static_cast<size_t>(nh * ps), 100 + cnt);
            std::vector<float> acc1 = random_floats(static_cast<size_t>(nh * qs), 110), acc2 = acc1;
            s.attn_accumulate(acc1.data(), qs, p.data(), ps, nh, k.data(), stride, f16, cnt, d);
            simd->attn_accumulate(acc2.data(), qs, p.data(), ps, nh, k.data(), stride, f16, cnt, d);
            for (int i = 0; i < nh * qs; ++i) EXPECT_NEAR(acc1[i], acc2[i], 1e-4) << i;
          }
        }
      }
    }
  }
}

TEST(VecKernels, ExpHandlesTheRange) {
  const cpu::VecKernels& k = cpu::vec_kernels();
  std::vector<float> x = {-200.0f, -88.0f, -87.0f, -20.0f, -1e-3f, 0.0f, 1e-3f, 1.0f, 10.0f, 88.0f, -0.5f};
  const std::vector<float> x0 = x;
  k.exp_f32(x.data(), static_cast<int64_t>(x.size()));
  EXPECT_LE(x[0], 1e-37f);  // 0 (or a subnormal for the scalar table)
  EXPECT_LE(x[1], 1e-37f);
  EXPECT_GE(x[1], 0.0f);
  for (size_t i = 2; i < x.size(); ++i) EXPECT_NEAR(x[i], std::exp(x0[i]), 4e-7f * std::exp(x0[i])) << x0[i];
}

TEST(ThreadPool, RunsEveryChunkOnceAcrossThreads) {
  for (int n : {1, 2, 4}) {
    cpu::ThreadPool pool(n);
    std::vector<std::atomic<int>> hits(1000);
    std::mutex mu;
    std::set<std::thread::id> threads;
    for (int rep = 0; rep < 200; ++rep) {
      pool.run_chunks(1000, [&](int64_t c) {
        hits[c].fetch_add(1);
        if (c % 97 == 0) {
          std::lock_guard<std::mutex> lock(mu);
          threads.insert(std::this_thread::get_id());
        }
      });
    }
    for (auto& h : hits) ASSERT_EQ(h.load(), 200);
    EXPECT_GE(threads.size(), 1u);
    EXPECT_LE(threads.size(), static_cast<size_t>(n));
    // Tiny jobs one after another (the decode pattern).
    std::atomic<int64_t> sum{0};
    for (int rep = 0; rep < 2000; ++rep) pool.run_chunks(3, [&](int64_t c) { sum.fetch_add(c + 1); });
    EXPECT_EQ(sum.load(), 2000 * 6);
  }
}

// A job larger than the one before: a worker that read the old job's state and then the new
// job's size must not claim a chunk (it once ran a chunk twice and counted it twice, so a
// job could "finish" early or the caller wait forever on a count it had passed).
TEST(ThreadPool, GrowingJobsRunEachChunkOnceBeforeReturning) {
  for (int n : {2, 3}) {
    cpu::ThreadPool pool(n);
    std::vector<std::atomic<int>> hits(16);
    for (int rep = 0; rep < 20000; ++rep) {
      const int64_t chunks = rep % 2 ? 13 : 1 + rep % 3;
      for (int64_t c = 0; c < chunks; ++c) hits[c].store(0, std::memory_order_relaxed);
      pool.run_chunks(chunks, [&](int64_t c) { hits[c].fetch_add(1, std::memory_order_relaxed); });
      for (int64_t c = 0; c < chunks; ++c) ASSERT_EQ(hits[c].load(), 1) << "job " << rep << " chunk " << c;
    }
  }
}

}  // namespace
}  // namespace moecode::backend
