// engine/quant: fp16/bf16 conversions, quantize -> dequantize error bounds per format, every
// SIMD table against the scalar reference (dots within 1e-5 relative, 1e-3 for F16/BF16;
// activation conversions bit-identical), tiles, dispatch.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/quant/fp16.h"
#include "engine/quant/kernels.h"
#include "engine/quant/quantize.h"
#include "engine/quant/types.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace moecode::quant {

// The x86 kernels compiled once more with vpdpbusd emulated (quant_vnni_emu.cpp).
const KernelTable* vnni_emulated_kernel_table();
// The scalar table plus the AMX prefill GEMMs with emulated tiles (quant_amx_emu.cpp).
const KernelTable* amx_emulated_kernel_table();

namespace {

using Bytes = std::vector<uint8_t>;

constexpr GgmlType kDotTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                                  GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                                  GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

// Float data by class: the element classes every test mixes, per block of `block` elements.
enum class Fill { kGauss, kZeros, kDenormal, kMax, kMixed };

std::vector<float> make_floats(std::mt19937& rng, int64_t n, int64_t block, float big, bool allow_max_class = true) {
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t b = 0; b * block < n; ++b) {
    const int cls = static_cast<int>(b % 5);
    for (int64_t j = b * block; j < std::min(n, (b + 1) * block); ++j) {
      float v = 0.0f;
      switch (cls) {
        case 0: v = g(rng); break;
        case 1: v = 0.0f; break;
        case 2: v = g(rng) * 1e-39f; break;  // float32 denormals
        case 3: v = allow_max_class ? u(rng) * big : g(rng); break;
        default: v = g(rng) * std::exp(u(rng) * 8.0f); break;
      }
      x[static_cast<size_t>(j)] = v;
    }
  }
  return x;
}

Bytes quantize(GgmlType t, const std::vector<float>& x) {
  Bytes b(row_size(t, static_cast<int64_t>(x.size())));
  type_traits(t).from_float(x.data(), b.data(), static_cast<int64_t>(x.size()));
  return b;
}

std::vector<float> dequantize(GgmlType t, const Bytes& b, int64_t n) {
  std::vector<float> y(static_cast<size_t>(n));
  type_traits(t).to_float(b.data(), y.data(), n);
  return y;
}

// ---- fp16 / bf16 ----------------------------------------------------------------------

TEST(Fp16, EveryHalfRoundTripsExactly) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const bool nan = (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
    const float f = fp16_to_fp32(static_cast<half_bits>(h));
    if (nan) {
      EXPECT_TRUE(std::isnan(f));
      EXPECT_TRUE(std::isnan(fp16_to_fp32(fp32_to_fp16(f))));
      continue;
    }
    ASSERT_EQ(fp32_to_fp16(f), h) << std::hex << h;
  }
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(fp16_to_fp32(0x7bff), 65504.0f);
}

TEST(Fp16, RoundsToNearestEven) {
  EXPECT_EQ(fp32_to_fp16(65519.99f), 0x7bff);
  EXPECT_EQ(fp32_to_fp16(65520.0f), 0x7c00);                      // tie -> even -> inf
  EXPECT_EQ(fp32_to_fp16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even (down)
  EXPECT_EQ(fp32_to_fp16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);  // tie -> even (up)
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.0f, -25)), 0x0000);             // tie -> 0
  EXPECT_EQ(fp32_to_fp16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(fp32_to_fp16(-FLT_MAX), 0xfc00);
  EXPECT_EQ(fp32_to_fp16(1e-40f), 0x0000);
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t f16c_convert(float f) { return _cvtss_sh(f, 0); }
#endif

// F16C's vcvtps2ph is an independent implementation of the same rounding.
TEST(Fp16, MatchesF16cOnRandomBitPatterns) {
#if defined(__x86_64__)
  if (!__builtin_cpu_supports("f16c")) GTEST_SKIP() << "no F16C on this CPU";
  std::mt19937 rng(1);
  int checked = 0;
  for (int i = 0; i < 2000000; ++i) {
    const float f = f32_from_bits(rng());
    if (std::isnan(f)) continue;
    ASSERT_EQ(fp32_to_fp16(f), f16c_convert(f)) << f;
    ++checked;
  }
  EXPECT_GT(checked, 1000000);
#else
  GTEST_SKIP() << "not x86";
#endif
}

TEST(Bf16, RoundsToNearestEvenAndQuietsNans) {
  EXPECT_EQ(fp32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x3f808000)), 0x3f80);  // tie -> even (down)
  EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x3f818000)), 0x3f82);  // tie -> even (up)
  EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x3f808001)), 0x3f81);
  EXPECT_EQ(fp32_to_bf16(FLT_MAX), 0x7f80);                    // rounds to inf
  EXPECT_EQ(fp32_to_bf16(f32_from_bits(0x7f800001)), 0x7fc0);  // signalling NaN -> quiet
  EXPECT_EQ(bf16_to_fp32(0x0001), f32_from_bits(0x00010000));  // denormals are kept
}

// ---- quantize -> dequantize error bounds --------------------------------------------------

// Per-element bound of the symmetric/asymmetric 32-blocks: from the stored block and the
// input, as the format defines it (rounding to the level, clipping of one extreme, fp16
// rounding of the scale and min). Returns the largest violation ratio (must be <= 1).
double check_legacy_bounds(GgmlType t, const std::vector<float>& x, const Bytes& q, const std::vector<float>& y) {
  double worst = 0;
  const int64_t nb = static_cast<int64_t>(x.size()) / 32;
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x.data() + i * 32;
    float amax = 0, mn = FLT_MAX, mx = -FLT_MAX, signed_max = 0;
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(xb[j]) > amax) signed_max = xb[j];
      amax = std::max(amax, std::fabs(xb[j]));
      mn = std::min(mn, xb[j]);
      mx = std::max(mx, xb[j]);
    }
    double bound = 0;
    const uint8_t* blk = q.data() + i * type_traits(t).type_size;
    half_bits d16, m16 = 0;
    std::memcpy(&d16, blk, 2);
    if (t == GgmlType::Q4_1 || t == GgmlType::Q5_1) std::memcpy(&m16, blk + 2, 2);
    const double dq = fp16_to_fp32(d16);
    switch (t) {
      case GgmlType::Q8_0:
      case GgmlType::Q8_1: {
        const double d = amax / 127.0;
        bound = 0.5 * d + 127 * std::fabs(d - dq);
        break;
      }
      case GgmlType::Q4_0:
      case GgmlType::Q5_0: {
        const double levels = t == GgmlType::Q4_0 ? 8 : 16;
        const double d = std::fabs(signed_max) / levels;
        bound = d + levels * std::fabs(d - std::fabs(dq));  // one extreme clips to levels-1
        break;
      }
      case GgmlType::Q4_1:
      case GgmlType::Q5_1: {
        const double levels = t == GgmlType::Q4_1 ? 15 : 31;
        const double d = (static_cast<double>(mx) - mn) / levels;
        bound = 0.5 * d + levels * std::fabs(d - dq) + std::fabs(mn - fp16_to_fp32(m16));
        break;
      }
      default:
        ADD_FAILURE() << "not a legacy type";
    }
    bound += 1e-6 * std::max(static_cast<double>(amax), static_cast<double>(mx) - mn) + 1e-44;
    for (int j = 0; j < 32; ++j) {
      worst = std::max(worst, std::fabs(static_cast<double>(y[i * 32 + j]) - xb[j]) / bound);
    }
  }
  return worst;
}

TEST(QuantRoundTrip, LegacyFormatsWithinTheirBound) {
  std::mt19937 rng(2);
  // Largest magnitudes whose scale (and min) still fit in fp16.
  const struct {
    GgmlType t;
    float big;
  } cases[] = {{GgmlType::Q8_0, 127 * 65000.0f}, {GgmlType::Q8_1, 127 * 65000.0f}, {GgmlType::Q4_0, 8 * 65000.0f},
               {GgmlType::Q5_0, 16 * 65000.0f},  {GgmlType::Q4_1, 65000.0f},        {GgmlType::Q5_1, 65000.0f}};
  for (const auto& c : cases) {
    const auto x = make_floats(rng, 32 * 200, 32, c.big);
    const Bytes q = quantize(c.t, x);
    const auto y = dequantize(c.t, q, static_cast<int64_t>(x.size()));
    EXPECT_LE(check_legacy_bounds(c.t, x, q, y), 1.0) << type_name(c.t);
    for (size_t i = 0; i < x.size(); ++i) {
      if (x[i] == 0.0f && (c.t == GgmlType::Q8_0 || c.t == GgmlType::Q4_0 || c.t == GgmlType::Q5_0)) {
        ASSERT_EQ(y[i], 0.0f) << type_name(c.t) << " zero at " << i;  // symmetric formats keep 0
      }
    }
  }
}

TEST(QuantRoundTrip, Q8_1SumIsTheScaledSumOfTheQuants) {
  std::mt19937 rng(3);
  const auto x = make_floats(rng, 32 * 50, 32, 1e4f);
  for (auto fn : {quantize_row_q8_1, quantize_row_q8_1_act}) {
    std::vector<BlockQ8_1> b(50);
    fn(x.data(), b.data(), static_cast<int64_t>(x.size()));
    for (const auto& blk : b) {
      int sum = 0;
      for (int8_t v : blk.qs) sum += v;
      // s = fp16(d * sum) with the float d before its fp16 rounding: within half an fp16 ulp
      // of the value recomputed from the rounded d.
      const double expect = static_cast<double>(fp16_to_fp32(blk.d)) * sum;
      EXPECT_NEAR(fp16_to_fp32(blk.s), expect, std::fabs(expect) * 2e-3 + 1e-7);
    }
  }
}

TEST(QuantRoundTrip, Q8_KWithinHalfAStepAndBsums) {
  std::mt19937 rng(4);
  const auto x = make_floats(rng, 256 * 20, 256, 1e30f);
  const Bytes q = quantize(GgmlType::Q8_K, x);
  const auto y = dequantize(GgmlType::Q8_K, q, static_cast<int64_t>(x.size()));
  const auto* b = reinterpret_cast<const BlockQ8_K*>(q.data());
  for (int i = 0; i < 20; ++i) {
    float amax = 0;
    for (int j = 0; j < 256; ++j) amax = std::max(amax, std::fabs(x[i * 256 + j]));
    for (int j = 0; j < 256; ++j) {
      // Blocks with amax < 127/FLT_MAX (denormals) have an infinite scale: all zeros, as in ggml.
      const double flush = amax < 127 / FLT_MAX ? amax : 0.0;
      ASSERT_LE(std::fabs(y[i * 256 + j] - x[i * 256 + j]), 0.5 * std::fabs(b[i].d) * (1 + 1e-5) + 1e-6 * amax + flush)
          << "block " << i << " element " << j;
    }
    for (int k = 0; k < 16; ++k) {
      int s = 0;
      for (int l = 0; l < 16; ++l) s += b[i].qs[16 * k + l];
      EXPECT_EQ(b[i].bsums[k], s);
    }
  }
}

TEST(QuantRoundTrip, FloatFormats) {
  std::mt19937 rng(5);
  const auto x = make_floats(rng, 4096, 64, 65504.0f);
  const auto y32 = dequantize(GgmlType::F32, quantize(GgmlType::F32, x), 4096);
  EXPECT_EQ(std::memcmp(x.data(), y32.data(), 4096 * 4), 0);
  const auto y16 = dequantize(GgmlType::F16, quantize(GgmlType::F16, x), 4096);
  const auto yb = dequantize(GgmlType::BF16, quantize(GgmlType::BF16, x), 4096);
  for (size_t i = 0; i < x.size(); ++i) {
    ASSERT_LE(std::fabs(y16[i] - x[i]), std::max(std::fabs(x[i]) * std::ldexp(1.0f, -11), std::ldexp(1.0f, -25)));
    ASSERT_LE(std::fabs(yb[i] - x[i]), std::max(std::fabs(x[i]) * std::ldexp(1.0f, -8), std::ldexp(1.0f, -133)));
  }
  // +-max: BF16 keeps FLT_MAX's range; F16 saturates to inf past 65504.
  const std::vector<float> big = {FLT_MAX, -FLT_MAX, 65504.0f, 70000.0f};
  const auto b16 = dequantize(GgmlType::F16, quantize(GgmlType::F16, big), 4);
  EXPECT_TRUE(std::isinf(b16[0]) && b16[0] > 0);
  EXPECT_TRUE(std::isinf(b16[1]) && b16[1] < 0);
  EXPECT_EQ(b16[2], 65504.0f);
  EXPECT_TRUE(std::isinf(b16[3]));
  const auto bb = dequantize(GgmlType::BF16, quantize(GgmlType::BF16, {3.3895314e38f, -3.3895314e38f}), 2);
  EXPECT_EQ(bb[0], 3.3895314e38f);
  EXPECT_EQ(bb[1], -3.3895314e38f);
}

// K-quants: relative RMS error per super-block on Gaussian data at several scales (the
// expected error of uniform levels over the sub-block ranges, with margin), exact zeros,
// and no blow-up on denormal input.
TEST(QuantRoundTrip, KQuantsWithinRelativeRmsBound) {
  const struct {
    GgmlType t;
    double bound;
  } cases[] = {{GgmlType::Q4_K, 0.12}, {GgmlType::Q5_K, 0.06}, {GgmlType::Q6_K, 0.035}};
  std::mt19937 rng(6);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (const auto& c : cases) {
    for (float scale : {1e-3f, 1.0f, 300.0f}) {
      std::vector<float> x(256 * 16);
      for (auto& v : x) v = g(rng) * scale;
      const auto y = dequantize(c.t, quantize(c.t, x), static_cast<int64_t>(x.size()));
      double worst = 0;
      for (int b = 0; b < 16; ++b) {
        double e2 = 0, x2 = 0;
        for (int j = b * 256; j < (b + 1) * 256; ++j) {
          e2 += (y[j] - x[j]) * static_cast<double>(y[j] - x[j]);
          x2 += x[j] * static_cast<double>(x[j]);
        }
        worst = std::max(worst, std::sqrt(e2 / x2));
      }
      EXPECT_LE(worst, c.bound) << type_name(c.t) << " scale " << scale;
      EXPECT_GT(worst, c.bound / 20) << type_name(c.t) << ": suspiciously exact";
    }
    std::vector<float> zeros(512, 0.0f), tiny(512);
    for (auto& v : tiny) v = g(rng) * 1e-39f;
    for (float v : dequantize(c.t, quantize(c.t, zeros), 512)) ASSERT_EQ(v, 0.0f) << type_name(c.t);
    for (size_t i = 0; i < tiny.size(); ++i) {
      const float v = dequantize(c.t, quantize(c.t, tiny), 512)[i];
      ASSERT_TRUE(std::isfinite(v));
      ASSERT_LE(std::fabs(v - tiny[i]), 1e-37f);
    }
  }
}

// ---- every ISA against the scalar reference -----------------------------------------------

std::vector<const KernelTable*> simd_tables() {
  std::vector<const KernelTable*> out;
  for (Isa isa : available_isas()) {
    if (isa != Isa::kScalar) out.push_back(kernels_for(isa));
  }
  if (vnni_emulated_kernel_table() != nullptr) out.push_back(vnni_emulated_kernel_table());
  return out;
}

std::string table_name(const KernelTable* t) {
  return t == vnni_emulated_kernel_table() ? "avx2+emulated-vnni" : isa_name(t->isa);
}

half_bits random_finite_half(std::mt19937& rng) {
  half_bits h = static_cast<half_bits>(rng());
  if ((h & 0x7c00) == 0x7c00) h &= 0x83ff;  // inf/NaN -> subnormal
  return h;
}

// Weight row: blocks quantized from mixed data, then some blocks of random bytes (every
// code, incl. the extremes) with random finite fp16 scales (incl. subnormal and 65504).
Bytes make_weights(std::mt19937& rng, GgmlType t, int64_t n) {
  const TypeTraits& tt = type_traits(t);
  if (!tt.is_quantized) {
    const float big = t == GgmlType::F16 ? 65504.0f : 1e18f;
    auto x = make_floats(rng, n, 16, big);
    Bytes b = quantize(t, x);
    if (t != GgmlType::F16 && n > 8) {  // a few exact +-max values (paired with tiny activations)
      if (t == GgmlType::F32) {
        reinterpret_cast<float*>(b.data())[3] = FLT_MAX;
        reinterpret_cast<float*>(b.data())[n - 2] = -FLT_MAX;
      } else {
        reinterpret_cast<bf16_bits*>(b.data())[3] = 0x7f7f;
        reinterpret_cast<bf16_bits*>(b.data())[n - 2] = 0xff7f;
      }
    }
    return b;
  }
  auto x = make_floats(rng, n, tt.block_size, 1000.0f);
  Bytes b = quantize(t, x);
  const int64_t nb = n / tt.block_size;
  for (int64_t i = 0; i < nb; i += 3) {  // every third block: random bytes
    uint8_t* blk = b.data() + i * tt.type_size;
    for (size_t k = 0; k < tt.type_size; ++k) blk[k] = static_cast<uint8_t>(rng());
    auto set_half = [&](size_t off) {
      const half_bits h = i % 2 ? random_finite_half(rng) : static_cast<half_bits>(i % 4 ? 0x7bff : 0x0001);
      std::memcpy(blk + off, &h, 2);
    };
    switch (t) {
      case GgmlType::Q6_K: set_half(208); break;
      case GgmlType::Q4_1: case GgmlType::Q5_1: case GgmlType::Q4_K: case GgmlType::Q5_K:
        set_half(0);
        set_half(2);
        break;
      default: set_half(0); break;
    }
  }
  return b;
}

// Activation row of `at` from mixed float data (via the scalar activation quantizer).
Bytes make_activations(std::mt19937& rng, GgmlType at, int64_t n, const Bytes& w, GgmlType wt) {
  // Q8_1 stores s = d * sum(q) in fp16: block sums past 65504 overflow (as in ggml), so
  // its largest activations are smaller.
  auto x = make_floats(rng, n, 32, at == GgmlType::Q8_1 ? 2000.0f : 60000.0f);
  if (wt == GgmlType::F32 || wt == GgmlType::BF16) {
    // Tiny activations where the weights hold +-max, so that the products stay finite.
    for (int64_t i = 0; i < n; ++i) {
      const float wv = wt == GgmlType::F32 ? reinterpret_cast<const float*>(w.data())[i]
                                           : bf16_to_fp32(reinterpret_cast<const bf16_bits*>(w.data())[i]);
      if (std::fabs(wv) > 1e30f) x[static_cast<size_t>(i)] = 1e-20f;
    }
  }
  Bytes b(row_size(at, n));
  scalar_kernel_table().from_float[static_cast<int>(at)](x.data(), b.data(), n);
  return b;
}

// Sum of |w_i a_i| (plus |min part| terms of the formats with a min): the scale against
// which a dot's rounding error is measured.
double magnitude(GgmlType wt, GgmlType at, int64_t n, const Bytes& w, const Bytes& a) {
  std::vector<float> wf(static_cast<size_t>(n)), af(static_cast<size_t>(n));
  type_traits(wt).to_float(w.data(), wf.data(), n);
  type_traits(at).to_float(a.data(), af.data(), n);
  double m = 0;
  for (int64_t i = 0; i < n; ++i) m += std::fabs(static_cast<double>(wf[i]) * af[i]);
  const bool has_min = wt == GgmlType::Q4_1 || wt == GgmlType::Q5_1 || wt == GgmlType::Q4_K || wt == GgmlType::Q5_K;
  if (has_min) {
    Bytes w0 = w;  // quants zeroed: what remains is the min part of each element
    const TypeTraits& tt = type_traits(wt);
    for (int64_t i = 0; i < n / tt.block_size; ++i) {
      uint8_t* blk = w0.data() + i * tt.type_size;
      const size_t keep = wt == GgmlType::Q4_K || wt == GgmlType::Q5_K ? 4 + kKScaleSize : 4;
      std::memset(blk + keep, 0, tt.type_size - keep);
    }
    type_traits(wt).to_float(w0.data(), wf.data(), n);
    for (int64_t i = 0; i < n; ++i) m += 2 * std::fabs(static_cast<double>(wf[i]) * af[i]);
  }
  return m;
}

std::vector<int64_t> lengths_for(GgmlType t) {
  if (type_traits(t).block_size == 256) return {256, 512, 768, 1536, 4096};
  if (type_traits(t).block_size == 32) return {32, 64, 96, 288, 576, 1536, 4096};
  return {1, 7, 8, 15, 16, 31, 33, 63, 64, 65, 127, 129, 576, 1000, 4099};
}

TEST(QuantDot, EverySimdDotMatchesScalar) {
  const auto tables = simd_tables();
  if (tables.empty()) GTEST_SKIP() << "no SIMD table on this CPU";
  std::mt19937 rng(7);
  const KernelTable& ref = scalar_kernel_table();
  int checked = 0;
  for (GgmlType wt : kDotTypes) {
    const GgmlType at = vec_dot_type(wt);
    const double tol = (wt == GgmlType::F16 || wt == GgmlType::BF16) ? 1e-3 : 1e-5;
    for (int64_t n : lengths_for(wt)) {
      for (int rep = 0; rep < 4; ++rep) {
        const Bytes w = make_weights(rng, wt, n);
        const Bytes a = make_activations(rng, at, n, w, wt);
        float expect = 0;
        ref.vec_dot[static_cast<int>(wt)](n, &expect, w.data(), a.data());
        ASSERT_TRUE(std::isfinite(expect)) << type_name(wt) << " n=" << n;
        const double mag = magnitude(wt, at, n, w, a);
        for (const KernelTable* t : tables) {
          float got = -1;
          t->vec_dot[static_cast<int>(wt)](n, &got, w.data(), a.data());
          EXPECT_LE(std::fabs(static_cast<double>(got) - expect), tol * mag + 1e-30)
              << table_name(t) << " " << type_name(wt) << " n=" << n << " rep=" << rep << " got " << got
              << " want " << expect << " magnitude " << mag;
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 100);
}

// The scalar integer dots are exact per block: check them against the dequantized rows.
TEST(QuantDot, ScalarDotEqualsDequantizedDot) {
  std::mt19937 rng(8);
  for (GgmlType wt : kDotTypes) {
    const GgmlType at = vec_dot_type(wt);
    const int64_t n = type_traits(wt).block_size == 256 ? 1024 : 512;
    const Bytes w = make_weights(rng, wt, n);
    const Bytes a = make_activations(rng, at, n, w, wt);
    std::vector<float> af(static_cast<size_t>(n));
    type_traits(at).to_float(a.data(), af.data(), n);
    float got = 0;
    scalar_kernel_table().vec_dot[static_cast<int>(wt)](n, &got, w.data(), a.data());
    double want = dot_f32_reference(wt, n, w.data(), af.data());
    if (at == GgmlType::Q8_1) {
      // The min term uses the block's stored s = fp16(d * sum(q)), not sum(d16 * q).
      const auto* ab = reinterpret_cast<const BlockQ8_1*>(a.data());
      const size_t wsize = type_traits(wt).type_size;
      for (int64_t i = 0; i < n / 32; ++i) {
        half_bits m;
        std::memcpy(&m, w.data() + i * wsize + 2, 2);
        int sum = 0;
        for (int8_t q : ab[i].qs) sum += q;
        want += static_cast<double>(fp16_to_fp32(m)) *
                (fp16_to_fp32(ab[i].s) - static_cast<double>(fp16_to_fp32(ab[i].d)) * sum);
      }
    }
    EXPECT_NEAR(got, want, 2e-6 * magnitude(wt, at, n, w, a) + 1e-30) << type_name(wt);
  }
}

// rows x cols dot products of weight type wt: weight rows w (row r at r * wstride) and
// activation rows a (column c at c * astride), each row padded by 4 bytes (rows keep their
// blocks' alignment, <= 4, but not a SIMD width's), with the scalar table's dots (want) and
// their magnitudes (mag), both [r * cols + c].
struct DotMatrices {
  size_t wstride = 0, astride = 0;
  Bytes w, a;
  std::vector<Bytes> wrows, arows;
  std::vector<double> want, mag;
};

DotMatrices make_dot_matrices(std::mt19937& rng, GgmlType wt, int64_t n, int rows, int cols) {
  const GgmlType at = vec_dot_type(wt);
  DotMatrices m;
  const size_t wrow = row_size(wt, n), arow = row_size(at, n);
  m.wstride = wrow + 4;
  m.astride = arow + 4;
  m.w.assign(m.wstride * rows, 0xee);
  m.a.assign(m.astride * cols, 0xee);
  for (int r = 0; r < rows; ++r) {
    m.wrows.push_back(make_weights(rng, wt, n));
    std::memcpy(m.w.data() + r * m.wstride, m.wrows.back().data(), wrow);
  }
  for (int c = 0; c < cols; ++c) {
    m.arows.push_back(make_activations(rng, at, n, m.wrows[0], wt));
    std::memcpy(m.a.data() + c * m.astride, m.arows.back().data(), arow);
  }
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      float v = 0;
      scalar_kernel_table().vec_dot[static_cast<int>(wt)](n, &v, m.wrows[r].data(), m.arows[c].data());
      EXPECT_TRUE(std::isfinite(v)) << type_name(wt);
      m.want.push_back(v);
      m.mag.push_back(magnitude(wt, at, n, m.wrows[r], m.arows[c]));
    }
  }
  return m;
}

// Tiles of every shape (decode nc = 1, prefill tiles, odd row/column tails, padded strides
// that break SIMD alignment) against the scalar reference dots, within the tolerances of
// EverySimdDotMatchesScalar, and against the same table's vec_dot; nothing outside the
// tile is written.
TEST(QuantDot, GemmTilesMatchScalarDots) {
  std::mt19937 rng(9);
  std::vector<const KernelTable*> tables = {&scalar_kernel_table()};
  for (const KernelTable* t : simd_tables()) tables.push_back(t);
  constexpr int kRows = 13, kCols = 9;
  const struct {
    int64_t nr, nc;
  } shapes[] = {{1, 1}, {2, 1}, {3, 1}, {4, 1}, {5, 1}, {9, 1}, {13, 1}, {1, 2}, {7, 3}, {4, 4},
                {5, 6}, {8, 8}, {3, 9}, {13, 9}, {12, 5}};
  int checked = 0;
  for (GgmlType wt : kDotTypes) {
    const double tol = (wt == GgmlType::F16 || wt == GgmlType::BF16) ? 1e-3 : 1e-5;
    const int64_t bs = type_traits(wt).block_size;
    for (int64_t n : {bs == 1 ? int64_t{37} : bs, bs == 1 ? int64_t{100} : bs * 5}) {
      const DotMatrices m = make_dot_matrices(rng, wt, n, kRows, kCols);
      const size_t wstride = m.wstride, astride = m.astride;
      const Bytes &w = m.w, &a = m.a;
      auto want = [&](int64_t r, int64_t c) { return m.want[r * kCols + c]; };
      auto mag = [&](int64_t r, int64_t c) { return m.mag[r * kCols + c]; };
      for (const KernelTable* t : tables) {
        for (const auto& sh : shapes) {
          const size_t out_stride = static_cast<size_t>(sh.nr) + 2;
          std::vector<float> out(out_stride * static_cast<size_t>(sh.nc) + 1, -7.0f);
          t->gemm[static_cast<int>(wt)](n, sh.nr, sh.nc, w.data(), wstride, a.data(), astride, out.data(), out_stride);
          for (int64_t c = 0; c < sh.nc; ++c) {
            for (int64_t r = 0; r < sh.nr; ++r) {
              const float got = out[c * out_stride + r];
              float one = 0;
              t->vec_dot[static_cast<int>(wt)](n, &one, w.data() + r * wstride, a.data() + c * astride);
              const double bound = tol * mag(r, c) + 1e-30;
              EXPECT_LE(std::fabs(got - want(r, c)), bound)
                  << table_name(t) << " " << type_name(wt) << " n=" << n << " tile " << sh.nr << "x" << sh.nc
                  << " at (" << r << "," << c << ") got " << got << " want " << want(r, c);
              EXPECT_LE(std::fabs(static_cast<double>(got) - one), bound)
                  << table_name(t) << " " << type_name(wt) << " gemm vs vec_dot at (" << r << "," << c << ")";
              ++checked;
            }
            EXPECT_EQ(out[c * out_stride + sh.nr], -7.0f) << "wrote past the tile";
            EXPECT_EQ(out[c * out_stride + sh.nr + 1], -7.0f) << "wrote past the tile";
          }
          EXPECT_EQ(out.back(), -7.0f) << "wrote past the last column";
        }
      }
    }
  }
  EXPECT_GT(checked, 10000);
}

// A row's dot is the same bits in every tile shape: alone (vec_dot), in a decode call (one
// column: the strided 4-row tiles and their tail rows) and in every prefill tile and tail
// (prompt lookup's draft verification and continuous batching rely on it): a K-quant row
// is in a 4-row tile in decode and a 2-row tile in prefill, a legacy row in a 4-row tile or
// a tail of 1 to 3. Block counts odd and even (the AVX-512 tiles take blocks two at a time,
// an odd last one alone), and Q8_0 weights with -128 quants.
TEST(QuantDot, EveryTileShapeGivesARowTheSameBits) {
  std::mt19937 rng(23);
  std::vector<const KernelTable*> tables = {&scalar_kernel_table()};
  for (const KernelTable* t : simd_tables()) tables.push_back(t);
  constexpr int kRows = 13, kCols = 9;
  int checked = 0;
  for (GgmlType wt : kDotTypes) {
    const int64_t bs = type_traits(wt).block_size;
    for (int64_t n : {bs == 1 ? int64_t{37} : bs * 5, bs == 1 ? int64_t{64} : bs * 8}) {
      DotMatrices m = make_dot_matrices(rng, wt, n, kRows, kCols);
      if (wt == GgmlType::Q8_0) {  // -128 is a valid quant (llama.cpp's quantizer never writes it)
        for (int r = 0; r < kRows; r += 3) {
          reinterpret_cast<BlockQ8_0*>(m.w.data() + r * m.wstride)->qs[5] = -128;
        }
      }
      for (const KernelTable* t : tables) {
        const GemmFn gemm = t->gemm[static_cast<int>(wt)];
        std::vector<float> all(kRows * kCols);
        gemm(n, kRows, kCols, m.w.data(), m.wstride, m.a.data(), m.astride, all.data(), kRows);
        // The AVX-512 table's packed prefill does the same arithmetic (AMX's does not).
        std::vector<float> packed_out;
        if (t->isa == Isa::kAvx512 && t->gemm_packed[static_cast<int>(wt)] != nullptr) {
          const GgmlType at = vec_dot_type(wt);
          Bytes storage(t->packed_bytes(n) + 64);
          uint8_t* packed = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
          t->pack_act[static_cast<int>(at)](n, kCols, m.a.data(), m.astride, packed);
          packed_out.resize(kRows * kCols);
          t->gemm_packed[static_cast<int>(wt)](n, kRows, kCols, m.w.data(), m.wstride, packed,
                                               packed_out.data(), kRows);
        }
        for (int64_t c = 0; c < kCols; ++c) {
          std::vector<float> col(kRows);
          gemm(n, kRows, 1, m.w.data(), m.wstride, m.a.data() + c * m.astride, m.astride, col.data(), kRows);
          for (int64_t r = 0; r < kRows; ++r) {
            float one = 0;
            t->vec_dot[static_cast<int>(wt)](n, &one, m.w.data() + r * m.wstride, m.a.data() + c * m.astride);
            EXPECT_EQ(f32_bits(all[c * kRows + r]), f32_bits(one))
                << table_name(t) << " " << type_name(wt) << " n=" << n << " prefill vs vec_dot at (" << r
                << "," << c << ")";
            EXPECT_EQ(f32_bits(col[r]), f32_bits(one))
                << table_name(t) << " " << type_name(wt) << " n=" << n << " decode vs vec_dot at (" << r
                << "," << c << ")";
            if (!packed_out.empty()) {
              EXPECT_EQ(f32_bits(packed_out[c * kRows + r]), f32_bits(one))
                  << table_name(t) << " " << type_name(wt) << " n=" << n << " packed prefill vs vec_dot at ("
                  << r << "," << c << ")";
            }
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 2000);
}

// The AVX-512 table's packed prefill (kernels_x86_tiles.inc): the layout of a column (two
// blocks' quants, -sum4 of each 4 quants or Q8_1's sums four times, the scales as 16 lanes, an
// odd last block as it is), and long rows whose packed columns are multiplied in several column blocks (the
// blocks stay in L2), bit for bit against the unpacked tiles. Needs AVX-512 VNNI hardware.
TEST(QuantDot, Avx512PackedColumnsAndColumnBlocks) {
  const KernelTable* t = kernels_for(Isa::kAvx512);
  if (t == nullptr) GTEST_SKIP() << "no AVX-512 VNNI on this CPU";
  std::mt19937 rng(31);
  // Layout: 5 blocks (two pairs and a last block), 3 columns.
  for (GgmlType at : {GgmlType::Q8_0, GgmlType::Q8_1}) {
    const int64_t n = 160, nc = 3;
    const size_t arow = row_size(at, n), cb = t->packed_bytes(n) / kPackCols;
    ASSERT_EQ(cb, 2 * 192u + 64u);
    Bytes a(arow * nc);
    for (int64_t c = 0; c < nc; ++c) {
      Bytes row = make_activations(rng, at, n, {}, GgmlType::Q8_0);
      std::memcpy(a.data() + c * arow, row.data(), arow);
    }
    std::vector<float> storage(t->packed_bytes(n) / sizeof(float) + 16);
    uint8_t* packed = reinterpret_cast<uint8_t*>(storage.data());
    packed += (64 - reinterpret_cast<uintptr_t>(packed) % 64) % 64;
    t->pack_act[static_cast<int>(at)](n, nc, a.data(), arow, packed);
    const size_t bsize = type_traits(at).type_size, qoff = at == GgmlType::Q8_1 ? 4 : 2;
    for (int64_t c = 0; c < nc; ++c) {
      const uint8_t* col = packed + c * cb;
      const uint8_t* src = a.data() + c * arow;
      for (int64_t p = 0; p < 2; ++p) {
        const uint8_t* pair = col + p * 192;
        const auto* q = reinterpret_cast<const int8_t*>(pair);
        const auto* x = reinterpret_cast<const int32_t*>(pair + 64);
        const auto* xf = reinterpret_cast<const float*>(pair + 64);
        const auto* d = reinterpret_cast<const float*>(pair + 128);
        for (int h = 0; h < 2; ++h) {
          const uint8_t* blk = src + (2 * p + h) * bsize;
          half_bits dh, sh;
          std::memcpy(&dh, blk, 2);
          std::memcpy(&sh, blk + 2, 2);
          const auto* qs = reinterpret_cast<const int8_t*>(blk + qoff);
          for (int i = 0; i < 32; ++i) ASSERT_EQ(q[32 * h + i], qs[i]) << "column " << c << " pair " << p;
          for (int l = 0; l < 8; ++l) {
            EXPECT_EQ(d[8 * h + l], fp16_to_fp32(dh));
            if (at == GgmlType::Q8_0) {
              EXPECT_EQ(x[8 * h + l], -(qs[4 * l] + qs[4 * l + 1] + qs[4 * l + 2] + qs[4 * l + 3]));
            }
          }
          if (at == GgmlType::Q8_1) {
            for (int k = 0; k < 4; ++k) EXPECT_EQ(xf[2 * k + h], fp16_to_fp32(sh));
          }
        }
      }
      EXPECT_EQ(std::memcmp(col + 2 * 192, src + 4 * bsize, bsize), 0) << "the last block, column " << c;
    }
  }
  // Rows of 12,800 elements: 38,400 packed bytes a column, so 9 columns take three column blocks.
  for (GgmlType wt : {GgmlType::Q8_0, GgmlType::Q4_1}) {
    const int64_t n = 12800, nr = 6, nc = 9;
    const DotMatrices m = make_dot_matrices(rng, wt, n, nr, nc);
    Bytes storage(t->packed_bytes(n) + 64);
    uint8_t* packed = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
    t->pack_act[static_cast<int>(vec_dot_type(wt))](n, nc, m.a.data(), m.astride, packed);
    std::vector<float> got(nr * nc, -7.0f), want(nr * nc);
    t->gemm_packed[static_cast<int>(wt)](n, nr, nc, m.w.data(), m.wstride, packed, got.data(), nr);
    t->gemm[static_cast<int>(wt)](n, nr, nc, m.w.data(), m.wstride, m.a.data(), m.astride, want.data(), nr);
    for (size_t k = 0; k < got.size(); ++k) {
      EXPECT_EQ(f32_bits(got[k]), f32_bits(want[k])) << type_name(wt) << " output " << k;
    }
  }
}

// The packed prefill GEMMs (AMX tiles; kernels_amx.inc) against the scalar dots: with the
// tiles emulated on every CPU, and on the hardware where the CPU has AMX-INT8. Shapes cover
// partial row tiles (nr % 16), partial column groups (nc % 16), more than one pass of 4 groups
// and a start at the second group.
TEST(QuantDot, PackedGemmMatchesScalarDots) {
  std::vector<std::pair<const KernelTable*, std::string>> tables = {{amx_emulated_kernel_table(), "emulated-amx"}};
  if (const KernelTable* t = kernels_for(Isa::kAmx)) tables.emplace_back(t, "amx");
  std::mt19937 rng(11);
  constexpr int kRows = 37, kCols = 85;
  const struct {
    int64_t nr, nc, c0;
  } shapes[] = {{1, 1, 0}, {16, 16, 0}, {16, 64, 0}, {5, 17, 0}, {37, 85, 0}, {33, 1, 0},
                {17, 48, 16}, {16, 69, 16}, {32, 3, 80}};
  int checked = 0;
  for (GgmlType wt : {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_1}) {
    const GgmlType at = vec_dot_type(wt);
    for (int64_t n : {int64_t{32}, int64_t{32 * 7}}) {
      const DotMatrices m = make_dot_matrices(rng, wt, n, kRows, kCols);
      const std::vector<double>& want = m.want;
      const std::vector<double>& mag = m.mag;
      const size_t gbytes = packed_group_bytes(n);
      const int64_t groups = (kCols + kPackCols - 1) / kPackCols;
      for (const auto& [t, name] : tables) {
        ASSERT_NE(t->pack_act[static_cast<int>(at)], nullptr) << name;
        ASSERT_NE(t->gemm_packed[static_cast<int>(wt)], nullptr) << name;
        EXPECT_GE(t->packed_min_cols, 1) << name;
        Bytes storage(gbytes * groups + 64, 0xcd);
        uint8_t* packed = storage.data() + (64 - reinterpret_cast<uintptr_t>(storage.data()) % 64) % 64;
        t->pack_act[static_cast<int>(at)](n, kCols, m.a.data(), m.astride, packed);
        for (const auto& sh : shapes) {
          ASSERT_EQ(sh.c0 % kPackCols, 0);
          const size_t out_stride = static_cast<size_t>(sh.nr) + 2;
          std::vector<float> out(out_stride * static_cast<size_t>(sh.nc) + 1, -7.0f);
          t->gemm_packed[static_cast<int>(wt)](n, sh.nr, sh.nc, m.w.data(), m.wstride,
                                               packed + sh.c0 / kPackCols * gbytes, out.data(), out_stride);
          for (int64_t c = 0; c < sh.nc; ++c) {
            for (int64_t r = 0; r < sh.nr; ++r) {
              const size_t k = static_cast<size_t>(r * kCols + sh.c0 + c);
              const float got = out[c * out_stride + r];
              EXPECT_LE(std::fabs(got - want[k]), 1e-5 * mag[k] + 1e-30)
                  << name << " " << type_name(wt) << " n=" << n << " " << sh.nr << "x" << sh.nc << "+" << sh.c0
                  << " at (" << r << "," << c << ") got " << got << " want " << want[k];
              ++checked;
            }
            EXPECT_EQ(out[c * out_stride + sh.nr], -7.0f) << "wrote past the rows";
            EXPECT_EQ(out[c * out_stride + sh.nr + 1], -7.0f) << "wrote past the rows";
          }
          EXPECT_EQ(out.back(), -7.0f) << "wrote past the last column";
        }
      }
    }
  }
  EXPECT_GT(checked, 20000);
}

// The packed activations: the layout kernels.h gives (scales, s = d * sum of the quants, quants
// of a column in a row), zeros past the last column.
TEST(QuantConvert, PackedActivationLayout) {
  const KernelTable* t = amx_emulated_kernel_table();
  std::mt19937 rng(5);
  const int64_t n = 64, nc = 19;
  for (GgmlType at : {GgmlType::Q8_0, GgmlType::Q8_1}) {
    const size_t arow = row_size(at, n);
    Bytes a(arow * nc);
    for (int64_t c = 0; c < nc; ++c) {
      Bytes row = make_activations(rng, at, n, {}, GgmlType::Q8_0);
      std::memcpy(a.data() + c * arow, row.data(), arow);
    }
    const size_t gbytes = packed_group_bytes(n);
    ASSERT_EQ(gbytes, 2u * 640u);
    std::vector<float> storage((2 * gbytes + 64) / sizeof(float), -1.0f);
    auto* packed = reinterpret_cast<uint8_t*>(storage.data());
    t->pack_act[static_cast<int>(at)](n, nc, a.data(), arow, packed);
    for (int64_t c = 0; c < 32; ++c) {
      for (int64_t b = 0; b < n / 32; ++b) {
        const uint8_t* blk = packed + (c / 16) * gbytes + b * 640;
        const float* d = reinterpret_cast<const float*>(blk);
        const int8_t* q = reinterpret_cast<const int8_t*>(blk + 128);
        const int64_t k = c % 16;
        if (c >= nc) {
          EXPECT_EQ(d[k], 0.0f);
          EXPECT_EQ(d[16 + k], 0.0f);
          for (int i = 0; i < 32; ++i) EXPECT_EQ(q[k * 32 + i], 0);
          continue;
        }
        const uint8_t* src = a.data() + c * arow + b * type_traits(at).type_size;
        half_bits dh;
        std::memcpy(&dh, src, 2);
        const int8_t* qs = reinterpret_cast<const int8_t*>(src + (at == GgmlType::Q8_1 ? 4 : 2));
        int sum = 0;
        for (int i = 0; i < 32; ++i) {
          EXPECT_EQ(q[k * 32 + i], qs[i]) << "column " << c << " element " << i;
          sum += qs[i];
        }
        EXPECT_EQ(d[k], fp16_to_fp32(dh));
        if (at == GgmlType::Q8_1) {
          half_bits sh;
          std::memcpy(&sh, src + 2, 2);
          EXPECT_EQ(d[16 + k], fp16_to_fp32(sh));
        } else {
          EXPECT_EQ(d[16 + k], fp16_to_fp32(dh) * static_cast<float>(sum));
        }
      }
    }
  }
}

// Q8_K activations at their edges: the extreme value's sign and first occurrence decide the
// scale's sign, NaNs never win, infinities and denormal blocks quantize to zeros.
TEST(QuantConvert, Q8_KEdgeCasesBitIdenticalOnEveryIsa) {
  const auto tables = simd_tables();
  if (tables.empty()) GTEST_SKIP() << "no SIMD table on this CPU";
  std::mt19937 rng(12);
  std::normal_distribution<float> g(0.0f, 1.0f);
  constexpr int kBlocks = 12;
  std::vector<float> x(256 * kBlocks);
  for (auto& v : x) v = g(rng);
  float* b = x.data();
  b[10] = -5.0f, b[200] = 5.0f;                       // block 0: -max first
  b += 256, b[3] = 7.0f, b[4] = -7.0f;                // block 1: +max first
  b += 256, b[0] = std::nanf(""), b[255] = 9.0f;      // block 2: NaN, max last
  b += 256, b[17] = INFINITY;                         // block 3: +inf
  b += 256, b[17] = -INFINITY, b[18] = INFINITY;      // block 4: -inf first
  b += 256;                                           // block 5: all NaN
  for (int j = 0; j < 256; ++j) b[j] = std::nanf("");
  b += 256;                                           // block 6: denormals (iscale overflows)
  for (int j = 0; j < 256; ++j) b[j] = g(rng) * 1e-40f;
  b += 256;                                           // block 7: zeros and -0
  for (int j = 0; j < 256; ++j) b[j] = j % 2 ? 0.0f : -0.0f;
  b += 256;                                           // block 8: exact ties of 127 * x / max
  for (int j = 0; j < 256; ++j) b[j] = static_cast<float>(j % 255 - 127) + 0.5f * (j % 3 == 0);
  b[100] = -127.0f;
  b += 256;                                           // block 9: FLT_MAX
  b[9] = FLT_MAX, b[10] = -FLT_MAX;
  b += 256;                                           // block 10: one element, rest zeros
  for (int j = 0; j < 256; ++j) b[j] = j == 77 ? -3e-3f : 0.0f;
  Bytes want(row_size(GgmlType::Q8_K, static_cast<int64_t>(x.size())));
  quantize_row_q8_k(x.data(), want.data(), static_cast<int64_t>(x.size()));
  const auto* wb = reinterpret_cast<const BlockQ8_K*>(want.data());
  EXPECT_EQ(wb[0].qs[10], -127);  // the first extreme maps to -127 (iscale = -127 / max)
  EXPECT_EQ(wb[0].qs[200], 127);
  EXPECT_EQ(wb[1].qs[3], -127);
  EXPECT_EQ(wb[1].qs[4], 127);
  EXPECT_EQ(wb[2].qs[0], 0);
  EXPECT_EQ(wb[2].qs[255], -127);
  for (int8_t q : wb[5].qs) ASSERT_EQ(q, 0);
  for (const KernelTable* t : tables) {
    Bytes got(want.size(), 0xcd);
    t->from_float[static_cast<int>(GgmlType::Q8_K)](x.data(), got.data(), static_cast<int64_t>(x.size()));
    for (int i = 0; i < kBlocks; ++i) {
      const size_t off = static_cast<size_t>(i) * sizeof(BlockQ8_K);
      EXPECT_EQ(std::memcmp(got.data() + off, want.data() + off, sizeof(BlockQ8_K)), 0)
          << table_name(t) << " block " << i;
    }
  }
}

TEST(QuantConvert, ActivationConversionsBitIdenticalOnEveryIsa) {
  const auto tables = simd_tables();
  if (tables.empty()) GTEST_SKIP() << "no SIMD table on this CPU";
  std::mt19937 rng(10);
  const GgmlType acts[] = {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K};
  for (GgmlType at : acts) {
    for (int64_t n : {256, 4096}) {
      for (float big : {1.0f, 65504.0f, 1e30f, FLT_MAX}) {
        auto x = make_floats(rng, n, 32, big);
        // Exact ties of the Q8 scaling (127/amax == 1): rounding mode decides.
        for (int j = 0; j < 32; ++j) x[static_cast<size_t>(j)] = static_cast<float>(j % 7) - 2.5f;
        x[5] = 127.0f;
        Bytes want(row_size(at, n));
        scalar_kernel_table().from_float[static_cast<int>(at)](x.data(), want.data(), n);
        for (const KernelTable* t : tables) {
          Bytes got(want.size(), 0xcd);
          t->from_float[static_cast<int>(at)](x.data(), got.data(), n);
          ASSERT_EQ(std::memcmp(got.data(), want.data(), want.size()), 0)
              << table_name(t) << " " << type_name(at) << " n=" << n << " big=" << big;
        }
      }
    }
  }
  // Q8_0 activations round ties to even (llama.cpp's x86 path), the weight quantizer away.
  std::vector<float> x(32, 0.0f);
  x[0] = 127.0f;
  x[1] = 2.5f;
  x[2] = -3.5f;
  BlockQ8_0 act, ref;
  quantize_row_q8_0_act(x.data(), &act, 32);
  quantize_row_q8_0(x.data(), &ref, 32);
  EXPECT_EQ(act.qs[1], 2);
  EXPECT_EQ(act.qs[2], -4);
  EXPECT_EQ(ref.qs[1], 3);
  EXPECT_EQ(ref.qs[2], -4);
}

TEST(QuantConvert, FloatToFloatConversionsOnEveryIsa) {
  std::mt19937 rng(11);
  for (const KernelTable* t : simd_tables()) {
    for (GgmlType ft : {GgmlType::F16, GgmlType::BF16}) {
      for (int64_t n : {1, 15, 16, 17, 100, 1000}) {
        Bytes raw(static_cast<size_t>(n) * 2);
        for (auto& v : raw) v = static_cast<uint8_t>(rng());
        std::vector<float> want(static_cast<size_t>(n)), got(static_cast<size_t>(n));
        type_traits(ft).to_float(raw.data(), want.data(), n);
        t->to_float[static_cast<int>(ft)](raw.data(), got.data(), n);
        for (int64_t i = 0; i < n; ++i) {
          if (std::isnan(want[i])) {
            EXPECT_TRUE(std::isnan(got[i]));
          } else {
            EXPECT_EQ(f32_bits(got[i]), f32_bits(want[i])) << table_name(t) << type_name(ft) << " at " << i;
          }
        }
      }
    }
  }
}

// ---- table and dispatch ---------------------------------------------------------------------

TEST(QuantTable, TraitsOfTheComputedTypes) {
  EXPECT_EQ(vec_dot_type(GgmlType::Q4_0), GgmlType::Q8_0);
  EXPECT_EQ(vec_dot_type(GgmlType::Q5_0), GgmlType::Q8_0);
  EXPECT_EQ(vec_dot_type(GgmlType::Q8_0), GgmlType::Q8_0);
  EXPECT_EQ(vec_dot_type(GgmlType::Q4_1), GgmlType::Q8_1);
  EXPECT_EQ(vec_dot_type(GgmlType::Q5_1), GgmlType::Q8_1);
  EXPECT_EQ(vec_dot_type(GgmlType::Q4_K), GgmlType::Q8_K);
  EXPECT_EQ(vec_dot_type(GgmlType::Q5_K), GgmlType::Q8_K);
  EXPECT_EQ(vec_dot_type(GgmlType::Q6_K), GgmlType::Q8_K);
  EXPECT_EQ(vec_dot_type(GgmlType::F16), GgmlType::F16);
  EXPECT_EQ(vec_dot_type(GgmlType::BF16), GgmlType::BF16);
  EXPECT_EQ(vec_dot_type(GgmlType::F32), GgmlType::F32);
  for (GgmlType t : kDotTypes) {
    EXPECT_TRUE(has_vec_dot(t)) << type_name(t);
    EXPECT_NE(type_traits(t).to_float, nullptr);
    EXPECT_NE(type_traits(t).from_float, nullptr);
    for (Isa isa : available_isas()) {
      const KernelTable* k = kernels_for(isa);
      EXPECT_NE(k->vec_dot[static_cast<int>(t)], nullptr) << isa_name(isa) << type_name(t);
      EXPECT_NE(k->gemm[static_cast<int>(t)], nullptr);
      EXPECT_NE(k->from_float[static_cast<int>(vec_dot_type(t))], nullptr);
    }
  }
  EXPECT_FALSE(has_vec_dot(GgmlType::Q2_K));
  EXPECT_FALSE(has_vec_dot(GgmlType::Q8_K));
  EXPECT_EQ(row_size(GgmlType::Q4_0, 4096), 4096u / 32 * 18);
  EXPECT_EQ(row_size(GgmlType::Q6_K, 512), 2u * 210);
}

TEST(QuantTable, ActiveIsaIsTheBestAvailableOrTheOneAskedFor) {
  const auto isas = available_isas();
  ASSERT_FALSE(isas.empty());
  EXPECT_EQ(isas.front(), Isa::kScalar);
  const char* env = std::getenv("MOECODE_ISA");
  const std::string asked = env != nullptr ? env : "";
  bool asked_available = false;
  for (Isa isa : isas) asked_available |= asked == isa_name(isa);
  if (asked_available) {
    EXPECT_STREQ(isa_name(active_isa()), asked.c_str());
  } else {
    EXPECT_EQ(active_isa(), isas.back()) << "MOECODE_ISA='" << asked << "': the best ISA is used";
  }
  EXPECT_EQ(&kernels(), kernels_for(active_isa()));
#if defined(__x86_64__)
  EXPECT_EQ(kernels_for(Isa::kAvx2) != nullptr, static_cast<bool>(__builtin_cpu_supports("avx2")));
  EXPECT_EQ(kernels_for(Isa::kAvx512) != nullptr, static_cast<bool>(__builtin_cpu_supports("avx512vnni")) &&
                                                      static_cast<bool>(__builtin_cpu_supports("avx512bw")) &&
                                                      static_cast<bool>(__builtin_cpu_supports("avx512vl")));
  EXPECT_EQ(kernels_for(Isa::kAmx) != nullptr, kernels_for(Isa::kAvx512) != nullptr && cpu_amx_usable());
#endif
  // The AVX-512 and AMX tables have packed GEMMs, each in its own layout: AMX's for Q8_0, Q4_0
  // and Q4_1 only (none of the AVX-512 table's, which read another layout), AVX-512's for
  // the five 32-element formats.
  for (Isa isa : isas) {
    const KernelTable* t = kernels_for(isa);
    const bool packed = isa == Isa::kAvx512 || isa == Isa::kAmx;
    EXPECT_EQ(t->gemm_packed[static_cast<int>(GgmlType::Q4_1)] != nullptr, packed) << isa_name(isa);
    EXPECT_EQ(t->gemm_packed[static_cast<int>(GgmlType::Q5_1)] != nullptr, isa == Isa::kAvx512)
        << isa_name(isa);
    EXPECT_EQ(t->packed_bytes != nullptr, packed) << isa_name(isa);
    if (isa == Isa::kAmx) {
      EXPECT_EQ(t->packed_bytes, &packed_group_bytes);
    }
    if (isa == Isa::kAvx512) {
      EXPECT_EQ(t->packed_bytes(64), 16u * 192u);
      EXPECT_EQ(t->packed_col_bytes(64), 192u);
    }
    EXPECT_EQ(t->packed_col_bytes != nullptr, isa == Isa::kAvx512) << isa_name(isa);
  }
}

}  // namespace
}  // namespace moecode::quant
