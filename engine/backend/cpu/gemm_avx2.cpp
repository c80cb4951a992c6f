// AVX2 tile kernels for the weight formats the default models use most (Q4_0, Q4_1,
// Q8_0 with Q8_0/Q8_1 activations): R weight rows x C activation rows at a time, so that
// each unpacked weight block serves C tokens and each activation block R rows — the
// matmul layer's blocking across tokens (prefill) and across rows (decode, C = 1). Per
// block the arithmetic is ggml's (int8 dot of the block, times d_w * d_a, accumulated in
// one float vector; Q4_1 adds m_w * s_a), so results equal engine/quant's dot kernels up
// to float summation order.
//
// Compiled with -mavx2 -mfma -mf16c and reached only through gemm_avx2_kernel() after a
// CPU check; no inline library code is used, so nothing here leaks into other TUs.
// Thread-safety: pure functions on caller-owned memory.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "engine/backend/cpu/weight_kernels.h"
#include "engine/quant/types.h"

namespace moecode::backend::cpu {

namespace {

using quant::BlockQ4_0;
using quant::BlockQ4_1;
using quant::BlockQ8_0;
using quant::BlockQ8_1;

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// 32 nibbles: low nibbles -> bytes 0..15, high nibbles -> bytes 16..31.
inline __m256i nibbles(const uint8_t* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  const __m256i both = _mm256_set_m128i(_mm_srli_epi16(v, 4), v);
  return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

inline __m256i load32(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Per 32-bit lane: sum of 4 products u8 * s8 (|products| small enough for vpmaddubsw).
inline __m256 dot_u8s8(__m256i u, __m256i s) {
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
}

// ---- weight formats ------------------------------------------------------------------

// Signed weights (Q8_0, Q4_0): the dot of w and a is maddubs(|w|, sign(a, w)).
struct Q8_0W {
  using Block = BlockQ8_0;
  using Act = BlockQ8_0;
  static constexpr bool kMin = false;
  struct Unpacked {
    __m256i abs_w, w;
    float d, m;
  };
  static Unpacked unpack(const Block& b) {
    const __m256i w = load32(b.qs);
    return {_mm256_sign_epi8(w, w), w, h2f(b.d), 0.0f};
  }
  static __m256 dot(const Unpacked& u, __m256i a) { return dot_u8s8(u.abs_w, _mm256_sign_epi8(a, u.w)); }
};

struct Q4_0W {
  using Block = BlockQ4_0;
  using Act = BlockQ8_0;
  static constexpr bool kMin = false;
  struct Unpacked {
    __m256i abs_w, w;
    float d, m;
  };
  static Unpacked unpack(const Block& b) {
    const __m256i w = _mm256_sub_epi8(nibbles(b.qs), _mm256_set1_epi8(8));
    return {_mm256_sign_epi8(w, w), w, h2f(b.d), 0.0f};
  }
  static __m256 dot(const Unpacked& u, __m256i a) { return dot_u8s8(u.abs_w, _mm256_sign_epi8(a, u.w)); }
};

// Unsigned weights with a minimum (Q4_1): x = d * q + m, paired with Q8_1 (s = d_a * sum q_a).
struct Q4_1W {
  using Block = BlockQ4_1;
  using Act = BlockQ8_1;
  static constexpr bool kMin = true;
  struct Unpacked {
    __m256i abs_w, w;
    float d, m;
  };
  static Unpacked unpack(const Block& b) { return {nibbles(b.qs), _mm256_setzero_si256(), h2f(b.d), h2f(b.m)}; }
  static __m256 dot(const Unpacked& u, __m256i a) { return dot_u8s8(u.abs_w, a); }
};

inline float act_s(const BlockQ8_0&) { return 0.0f; }
inline float act_s(const BlockQ8_1& b) { return h2f(b.s); }

// One R x C tile: out[c * os + r] = dot(w row r, a row c) over nb blocks. The Q4_1 minimum
// term sum_b m_rb * s_cb goes in a second pass over the (now cached) blocks, which keeps
// the main loop's 8 accumulators in registers.
template <class W, int R, int C>
void tile(int64_t nb, const uint8_t* w, size_t ws, const uint8_t* a, size_t as, float* out, size_t os) {
  using Block = typename W::Block;
  using Act = typename W::Act;
  __m256 acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  for (int64_t b = 0; b < nb; ++b) {
    __m256i av[C];
    __m256 ad[C];
    for (int c = 0; c < C; ++c) {
      const Act& ab = reinterpret_cast<const Act*>(a + c * as)[b];
      av[c] = load32(ab.qs);
      ad[c] = _mm256_set1_ps(h2f(ab.d));
    }
    for (int r = 0; r < R; ++r) {
      const typename W::Unpacked u = W::unpack(reinterpret_cast<const Block*>(w + r * ws)[b]);
      const __m256 dw = _mm256_set1_ps(u.d);
      for (int c = 0; c < C; ++c)
        acc[r][c] = _mm256_fmadd_ps(_mm256_mul_ps(dw, ad[c]), W::dot(u, av[c]), acc[r][c]);
    }
  }
  float res[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) res[r][c] = hsum(acc[r][c]);
  if constexpr (W::kMin) {
    for (int64_t b = 0; b < nb; ++b) {
      float sa[C];
      for (int c = 0; c < C; ++c) sa[c] = act_s(reinterpret_cast<const Act*>(a + c * as)[b]);
      for (int r = 0; r < R; ++r) {
        const float m = h2f(reinterpret_cast<const Block*>(w + r * ws)[b].m);
        for (int c = 0; c < C; ++c) res[r][c] += m * sa[c];
      }
    }
  }
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < R; ++r) out[c * os + r] = res[r][c];
}

// Rows in tiles of up to 4, activation rows in tiles of up to 2.
template <class W>
void gemm(int64_t n, int64_t nr, int64_t nc, const void* w, size_t ws, const void* a, size_t as, float* out,
          size_t os) {
  const int64_t nb = n / 32;
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  int64_t c = 0;
  for (; c + 2 <= nc; c += 2) {
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) tile<W, 4, 2>(nb, wb + r * ws, ws, ab + c * as, as, out + c * os + r, os);
    for (; r < nr; ++r) tile<W, 1, 2>(nb, wb + r * ws, ws, ab + c * as, as, out + c * os + r, os);
  }
  for (; c < nc; ++c) {
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) tile<W, 4, 1>(nb, wb + r * ws, ws, ab + c * as, as, out + c * os + r, os);
    for (; r < nr; ++r) tile<W, 1, 1>(nb, wb + r * ws, ws, ab + c * as, as, out + c * os + r, os);
  }
}

}  // namespace

// The tile kernel for a weight type id (Q4_0, Q4_1, Q8_0), or nullptr.
GemmTileFn gemm_avx2_kernel(quant::GgmlType type) {
  switch (type) {
    case quant::GgmlType::Q8_0: return gemm<Q8_0W>;
    case quant::GgmlType::Q4_0: return gemm<Q4_0W>;
    case quant::GgmlType::Q4_1: return gemm<Q4_1W>;
    default: return nullptr;
  }
}

}  // namespace moecode::backend::cpu
