// AVX-512 vector kernels (F, BW, VL, DQ; F16C for the scalar tails): the float side of the
// CPU backend on 512-bit vectors, with masked loads and stores for the tails instead of
// scalar loops. Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512dq -mavx2 -mfma
// -mf16c and only reached after a run-time CPU check (vec_scalar.cpp), so, like
// vec_avx2.cpp, it shares no inline library code with another translation unit.
#include <immintrin.h>

#include "engine/backend/cpu/vec.h"

namespace moecode::backend::cpu {

namespace {

inline float hsum(__m512 v) { return _mm512_reduce_add_ps(v); }

// The first n (< 16) lanes.
inline __mmask16 tail_mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }

inline __m512 load_h(const uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
inline __m512 load_h(const uint16_t* p, __mmask16 m) { return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, p)); }

float dot_f32(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
         s3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

float dot_f16_f32(const uint16_t* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
         s3 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
    s0 = _mm512_fmadd_ps(load_h(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(load_h(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    s2 = _mm512_fmadd_ps(load_h(a + i + 32), _mm512_loadu_ps(b + i + 32), s2);
    s3 = _mm512_fmadd_ps(load_h(a + i + 48), _mm512_loadu_ps(b + i + 48), s3);
  }
  for (; i + 16 <= n; i += 16) s0 = _mm512_fmadd_ps(load_h(a + i), _mm512_loadu_ps(b + i), s0);
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    s1 = _mm512_fmadd_ps(load_h(a + i, m), _mm512_maskz_loadu_ps(m, b + i), s1);
  }
  return hsum(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}

void axpy_f32(float* y, float s, const float* x, int64_t n) {
  const __m512 vs = _mm512_set1_ps(s);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm512_storeu_ps(y + i, _mm512_fmadd_ps(vs, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(vs, _mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

void axpy_f16(float* y, float s, const uint16_t* x, int64_t n) {
  const __m512 vs = _mm512_set1_ps(s);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_fmadd_ps(vs, load_h(x + i), _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_fmadd_ps(vs, load_h(x + i, m), _mm512_maskz_loadu_ps(m, y + i)));
  }
}

void scale_f32(float* y, float s, int64_t n) {
  const __m512 vs = _mm512_set1_ps(s);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, _mm512_mul_ps(vs, _mm512_loadu_ps(y + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(vs, _mm512_maskz_loadu_ps(m, y + i)));
  }
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                        _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm256_mask_storeu_epi16(y + i, m,
                             _mm512_cvtps_ph(_mm512_maskz_loadu_ps(m, x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  }
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(y + i, load_h(x + i));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(y + i, m, load_h(x + i, m));
  }
}

double sum_squares(const float* x, int64_t n) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  int64_t i = 0;
  auto add = [&](__m512 v) {
    const __m512 sq = _mm512_mul_ps(v, v);  // squares in float, as ggml's rms_norm
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(sq)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(sq), 1))));
  };
  for (; i + 16 <= n; i += 16) add(_mm512_loadu_ps(x + i));
  if (i < n) add(_mm512_maskz_loadu_ps(tail_mask(n - i), x + i));
  return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}

// exp(x) as in vec_avx2.cpp (x = n ln2 + r, degree-6 Taylor polynomial of exp(r), 2^n in two
// factors), with vscalefps doing the 2^n: it scales by 2^n exactly, over- and underflowing
// to inf and 0 like libm, so no exponent-bit arithmetic and no split are needed.
inline __m512 exp_ps(__m512 x) {
  const __m512 lo = _mm512_set1_ps(-87.3f);
  const __mmask16 under = _mm512_cmp_ps_mask(x, lo, _CMP_LT_OQ);
  x = _mm512_max_ps(x, lo);
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x);  // ln2 high part
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723212e-6f), r);  // ln2 low part
  __m512 p = _mm512_set1_ps(1.0f / 720.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  // Below -87.3 the result is 0, as the other tables give.
  return _mm512_maskz_scalef_ps(static_cast<__mmask16>(~under), p, n);
}

void exp_f32(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, exp_ps(_mm512_loadu_ps(x + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(x + i, m, exp_ps(_mm512_maskz_loadu_ps(m, x + i)));
  }
}

void softmax_f16(float* x, int64_t n) {
  const int64_t full = n / 16 * 16;
  const __mmask16 tm = tail_mask(n - full);
  __m512 m = _mm512_set1_ps(-__builtin_inff());
  for (int64_t i = 0; i < full; i += 16) m = _mm512_max_ps(m, _mm512_loadu_ps(x + i));
  if (full < n) m = _mm512_mask_max_ps(m, tm, m, _mm512_maskz_loadu_ps(tm, x + full));
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(m));
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  auto add = [&](__m512 e) {
    s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
  };
  for (int64_t i = 0; i < full; i += 16) {
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), mx));
    _mm512_storeu_ps(x + i, e);
    add(e);
  }
  if (full < n) {
    const __m512 e = _mm512_maskz_mov_ps(tm, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tm, x + full), mx)));
    _mm512_mask_storeu_ps(x + full, tm, e);
    add(e);
  }
  const __m512 inv = _mm512_set1_ps(static_cast<float>(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(s0, s1))));
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  for (int64_t i = 0; i < full; i += 16) {
    _mm512_storeu_ps(x + i, _mm512_cvtph_ps(_mm512_cvtps_ph(_mm512_mul_ps(_mm512_loadu_ps(x + i), inv), kRound)));
  }
  if (full < n) {
    const __m512 y = _mm512_mul_ps(_mm512_maskz_loadu_ps(tm, x + full), inv);
    _mm512_mask_storeu_ps(x + full, tm, _mm512_cvtph_ps(_mm512_cvtps_ph(y, kRound)));
  }
}

inline __m512 silu_mul_ps(__m512 x, __m512 u) {
  const __m512 e = exp_ps(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(x), _mm512_set1_epi32(INT32_MIN))));
  return _mm512_mul_ps(_mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), u);
}

void silu_mul(float* g, const float* u, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(g + i, silu_mul_ps(_mm512_loadu_ps(g + i), _mm512_loadu_ps(u + i)));
  if (i < n) {
    const __mmask16 m = tail_mask(n - i);
    _mm512_mask_storeu_ps(g + i, m, silu_mul_ps(_mm512_maskz_loadu_ps(m, g + i), _mm512_maskz_loadu_ps(m, u + i)));
  }
}

// [sum(a0), sum(a1), sum(a2), sum(a3)]: the four reductions share their shuffles (lanes are
// added in another order than hsum's).
inline __m128 hsum4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  // Per 128-bit lane: [a0.0 + a0.2, a1.0 + a1.2, a0.1 + a0.3, a1.1 + a1.3], the same for a2, a3.
  const __m512 x01 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  const __m512 x23 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  // Per 128-bit lane: the partial sums of a0, a1, a2, a3.
  const __m512 y = _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(x01), _mm512_castps_pd(x23))),
                                 _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(x01), _mm512_castps_pd(x23))));
  const __m256 h = _mm256_add_ps(_mm512_castps512_ps256(y),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(y), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// Cache rows are read kPrefetchKeys rows ahead: a KV group's rows are a stride apart, short
// streams that the hardware prefetcher picks up late.
constexpr int64_t kPrefetchKeys = 16;
inline void prefetch_row(const uint8_t* row, int bytes) {
  for (int o = 0; o < bytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(row) + o, _MM_HINT_T0);
}

// 16 elements of a cache row as floats.
template <bool F16>
inline __m512 cache16(const uint8_t* row, int c) {
  if constexpr (F16) {
    return load_h(reinterpret_cast<const uint16_t*>(row) + c);
  } else {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(row) + c);
  }
}

// As in vec_avx2.cpp: NH heads share each key row's load (and conversion); KB keys at a time
// give NH * KB independent FMA chains. Head sizes are multiples of 16 here.
template <int NH, int KB, bool F16>
void attn_scores_nh(const float* q, int64_t qs, const uint8_t* k, size_t stride, int64_t nb, int d, float scale,
                    float* s, int64_t ss) {
  int64_t j = 0;
  for (; j + KB <= nb; j += KB) {
    __m512 acc[NH][KB];
    for (int i = 0; i < NH; ++i)
      for (int b = 0; b < KB; ++b) acc[i][b] = _mm512_setzero_ps();
    for (int b = 0; b < KB; ++b) prefetch_row(k + (j + b + kPrefetchKeys) * stride, d * (F16 ? 2 : 4));
    for (int c = 0; c < d; c += 16) {
      __m512 qv[NH];
      for (int i = 0; i < NH; ++i) qv[i] = _mm512_loadu_ps(q + i * qs + c);
      for (int b = 0; b < KB; ++b) {
        const __m512 kv = cache16<F16>(k + (j + b) * stride, c);
        for (int i = 0; i < NH; ++i) acc[i][b] = _mm512_fmadd_ps(kv, qv[i], acc[i][b]);
      }
    }
    if constexpr (KB == 4) {
      for (int i = 0; i < NH; ++i) {
        _mm_storeu_ps(s + i * ss + j, _mm_mul_ps(hsum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]), _mm_set1_ps(scale)));
      }
    } else {
      for (int i = 0; i < NH; ++i)
        for (int b = 0; b < KB; ++b) s[i * ss + j + b] = hsum(acc[i][b]) * scale;
    }
  }
  for (; j < nb; ++j) {
    const uint8_t* kr = k + j * stride;
    __m512 acc[NH];
    for (int i = 0; i < NH; ++i) acc[i] = _mm512_setzero_ps();
    for (int c = 0; c < d; c += 16) {
      const __m512 kv = cache16<F16>(kr, c);
      for (int i = 0; i < NH; ++i) acc[i] = _mm512_fmadd_ps(kv, _mm512_loadu_ps(q + i * qs + c), acc[i]);
    }
    for (int i = 0; i < NH; ++i) s[i * ss + j] = hsum(acc[i]) * scale;
  }
}

template <bool F16>
void attn_scores_f(const float* q, int64_t qs, int nh, const uint8_t* kb, size_t stride, int64_t nb, int d,
                   float scale, float* s, int64_t ss) {
  switch (nh) {
    case 1: attn_scores_nh<1, 4, F16>(q, qs, kb, stride, nb, d, scale, s, ss); break;
    case 2: attn_scores_nh<2, 4, F16>(q, qs, kb, stride, nb, d, scale, s, ss); break;
    case 3: attn_scores_nh<3, 4, F16>(q, qs, kb, stride, nb, d, scale, s, ss); break;
    default: attn_scores_nh<4, 4, F16>(q, qs, kb, stride, nb, d, scale, s, ss); break;
  }
}

void attn_scores(const float* q, int64_t qs, int nh, const void* k, size_t stride, bool f16, int64_t nb, int d,
                 float scale, float* s, int64_t ss) {
  const auto* kb = static_cast<const uint8_t*>(k);
  if (d % 16 != 0) {
    for (int64_t j = 0; j < nb; ++j)
      for (int i = 0; i < nh; ++i) {
        const uint8_t* kr = kb + j * stride;
        s[i * ss + j] = (f16 ? dot_f16_f32(reinterpret_cast<const uint16_t*>(kr), q + i * qs, d)
                             : dot_f32(reinterpret_cast<const float*>(kr), q + i * qs, d)) * scale;
      }
    return;
  }
  if (f16) {
    attn_scores_f<true>(q, qs, nh, kb, stride, nb, d, scale, s, ss);
  } else {
    attn_scores_f<false>(q, qs, nh, kb, stride, nb, d, scale, s, ss);
  }
}

// Column blocks of 16 * CB outer, keys inner, two accumulator sets (even and odd keys). CB = 4
// reads a 64-column row piece whole, one row after another (the hardware prefetcher follows
// that, and rows are also prefetched ahead); each lane sums the same products in the same
// order whatever CB is.
template <int NH, int CB, bool F16>
void attn_accumulate_cb(float* acc, int64_t as, const float* p, int64_t ps, const uint8_t* v, size_t stride,
                        int64_t nb, int c0) {
  __m512 a0[NH][CB], a1[NH][CB];
  for (int i = 0; i < NH; ++i)
    for (int b = 0; b < CB; ++b) {
      a0[i][b] = _mm512_loadu_ps(acc + i * as + c0 + 16 * b);
      a1[i][b] = _mm512_setzero_ps();
    }
  const int bytes = 16 * CB * (F16 ? 2 : 4);
  const uint8_t* base = v + c0 * (F16 ? 2 : 4);
  int64_t j = 0;
  for (; j + 2 <= nb; j += 2) {
    prefetch_row(base + (j + kPrefetchKeys) * stride, bytes);
    prefetch_row(base + (j + 1 + kPrefetchKeys) * stride, bytes);
    for (int b = 0; b < CB; ++b) {
      const __m512 v0 = cache16<F16>(base + j * stride, 16 * b);
      for (int i = 0; i < NH; ++i) a0[i][b] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ps + j]), v0, a0[i][b]);
    }
    for (int b = 0; b < CB; ++b) {
      const __m512 v1 = cache16<F16>(base + (j + 1) * stride, 16 * b);
      for (int i = 0; i < NH; ++i) a1[i][b] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ps + j + 1]), v1, a1[i][b]);
    }
  }
  if (j < nb) {
    for (int b = 0; b < CB; ++b) {
      const __m512 v0 = cache16<F16>(base + j * stride, 16 * b);
      for (int i = 0; i < NH; ++i) a0[i][b] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ps + j]), v0, a0[i][b]);
    }
  }
  for (int i = 0; i < NH; ++i)
    for (int b = 0; b < CB; ++b) _mm512_storeu_ps(acc + i * as + c0 + 16 * b, _mm512_add_ps(a0[i][b], a1[i][b]));
}

template <int NH, bool F16>
void attn_accumulate_nh(float* acc, int64_t as, const float* p, int64_t ps, const uint8_t* v, size_t stride,
                        int64_t nb, int d) {
  constexpr int kCB = NH <= 3 ? 4 : 2;  // 2 * NH * kCB accumulators in the 32 registers
  if (d % (16 * kCB) == 0) {
    for (int c0 = 0; c0 < d; c0 += 16 * kCB) attn_accumulate_cb<NH, kCB, F16>(acc, as, p, ps, v, stride, nb, c0);
    return;
  }
  for (int c = 0; c < d; c += 16) {
    __m512 a0[NH], a1[NH];
    for (int i = 0; i < NH; ++i) {
      a0[i] = _mm512_loadu_ps(acc + i * as + c);
      a1[i] = _mm512_setzero_ps();
    }
    int64_t j = 0;
    for (; j + 2 <= nb; j += 2) {
      const __m512 v0 = cache16<F16>(v + j * stride, c);
      const __m512 v1 = cache16<F16>(v + (j + 1) * stride, c);
      for (int i = 0; i < NH; ++i) {
        a0[i] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ps + j]), v0, a0[i]);
        a1[i] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ps + j + 1]), v1, a1[i]);
      }
    }
    if (j < nb) {
      const __m512 v0 = cache16<F16>(v + j * stride, c);
      for (int i = 0; i < NH; ++i) a0[i] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ps + j]), v0, a0[i]);
    }
    for (int i = 0; i < NH; ++i) _mm512_storeu_ps(acc + i * as + c, _mm512_add_ps(a0[i], a1[i]));
  }
}

template <bool F16>
void attn_accumulate_f(float* acc, int64_t as, const float* p, int64_t ps, int nh, const uint8_t* vb, size_t stride,
                       int64_t nb, int d) {
  switch (nh) {
    case 1: attn_accumulate_nh<1, F16>(acc, as, p, ps, vb, stride, nb, d); break;
    case 2: attn_accumulate_nh<2, F16>(acc, as, p, ps, vb, stride, nb, d); break;
    case 3: attn_accumulate_nh<3, F16>(acc, as, p, ps, vb, stride, nb, d); break;
    default: attn_accumulate_nh<4, F16>(acc, as, p, ps, vb, stride, nb, d); break;
  }
}

void attn_accumulate(float* acc, int64_t as, const float* p, int64_t ps, int nh, const void* v, size_t stride,
                     bool f16, int64_t nb, int d) {
  const auto* vb = static_cast<const uint8_t*>(v);
  if (d % 16 != 0) {
    for (int64_t j = 0; j < nb; ++j)
      for (int i = 0; i < nh; ++i) {
        const uint8_t* vr = vb + j * stride;
        if (f16) {
          axpy_f16(acc + i * as, p[i * ps + j], reinterpret_cast<const uint16_t*>(vr), d);
        } else {
          axpy_f32(acc + i * as, p[i * ps + j], reinterpret_cast<const float*>(vr), d);
        }
      }
    return;
  }
  if (f16) {
    attn_accumulate_f<true>(acc, as, p, ps, nh, vb, stride, nb, d);
  } else {
    attn_accumulate_f<false>(acc, as, p, ps, nh, vb, stride, nb, d);
  }
}

// 4 weight rows x 1 activation row per step, the tail of each row masked.
void gemm_f32(int64_t n, int64_t nr, int64_t nc, const void* w, size_t w_stride, const void* a,
              size_t a_stride, float* out, size_t out_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  const int64_t n16 = n & ~int64_t{15};
  const __mmask16 mt = tail_mask(n - n16);
  for (int64_t c = 0; c < nc; ++c) {
    const float* x = reinterpret_cast<const float*>(ab + c * a_stride);
    float* o = out + c * out_stride;
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) {
      const float* w0 = reinterpret_cast<const float*>(wb + (r + 0) * w_stride);
      const float* w1 = reinterpret_cast<const float*>(wb + (r + 1) * w_stride);
      const float* w2 = reinterpret_cast<const float*>(wb + (r + 2) * w_stride);
      const float* w3 = reinterpret_cast<const float*>(wb + (r + 3) * w_stride);
      __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(),
             s3 = _mm512_setzero_ps();
      for (int64_t i = 0; i < n16; i += 16) {
        const __m512 xv = _mm512_loadu_ps(x + i);
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(w0 + i), xv, s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(w1 + i), xv, s1);
        s2 = _mm512_fmadd_ps(_mm512_loadu_ps(w2 + i), xv, s2);
        s3 = _mm512_fmadd_ps(_mm512_loadu_ps(w3 + i), xv, s3);
      }
      if (mt) {
        const __m512 xv = _mm512_maskz_loadu_ps(mt, x + n16);
        s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mt, w0 + n16), xv, s0);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mt, w1 + n16), xv, s1);
        s2 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mt, w2 + n16), xv, s2);
        s3 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mt, w3 + n16), xv, s3);
      }
      o[r] = hsum(s0);
      o[r + 1] = hsum(s1);
      o[r + 2] = hsum(s2);
      o[r + 3] = hsum(s3);
    }
    for (; r < nr; ++r) o[r] = dot_f32(reinterpret_cast<const float*>(wb + r * w_stride), x, n);
  }
}

const VecKernels kAvx512 = {
    "avx512",   dot_f32,  dot_f16_f32, axpy_f32, axpy_f16, scale_f32, f32_to_f16,
    f16_to_f32, sum_squares, exp_f32, silu_mul, softmax_f16, attn_scores, attn_accumulate, gemm_f32,
};

}  // namespace

// Called by vec_scalar.cpp after its CPU check.
const VecKernels& vec_kernels_avx512_table() { return kAvx512; }

}  // namespace moecode::backend::cpu
