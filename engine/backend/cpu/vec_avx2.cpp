// AVX2 + FMA + F16C vector kernels. This file is compiled with -mavx2 -mfma -mf16c and
// only reached after a run-time CPU check (vec_scalar.cpp), so it uses no inline library
// code that another translation unit could share.
#include <immintrin.h>

#include "engine/backend/cpu/vec.h"

namespace moecode::backend::cpu {

namespace {

inline float hsum(__m256 v) {
  __m128 lo = _mm256_castps256_ps128(v);
  __m128 hi = _mm256_extractf128_ps(v, 1);
  lo = _mm_add_ps(lo, hi);
  lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
  lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
  return _mm_cvtss_f32(lo);
}

inline __m256 load_h(const uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

float dot_f32(const float* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
         s3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_f16_f32(const uint16_t* a, const float* b, int64_t n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
         s3 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm256_fmadd_ps(load_h(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(load_h(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    s2 = _mm256_fmadd_ps(load_h(a + i + 16), _mm256_loadu_ps(b + i + 16), s2);
    s3 = _mm256_fmadd_ps(load_h(a + i + 24), _mm256_loadu_ps(b + i + 24), s3);
  }
  for (; i + 8 <= n; i += 8) s0 = _mm256_fmadd_ps(load_h(a + i), _mm256_loadu_ps(b + i), s0);
  float s = hsum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  for (; i < n; ++i) s += h2f(a[i]) * b[i];
  return s;
}

void axpy_f32(float* y, float s, const float* x, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vs, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += s * x[i];
}

void axpy_f16(float* y, float s, const uint16_t* x, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(vs, load_h(x + i), _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] += s * h2f(x[i]);
}

void scale_f32(float* y, float s, int64_t n) {
  const __m256 vs = _mm256_set1_ps(s);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_mul_ps(vs, _mm256_loadu_ps(y + i)));
  for (; i < n; ++i) y[i] *= s;
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; ++i) y[i] = _cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT);
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, load_h(x + i));
  for (; i < n; ++i) y[i] = h2f(x[i]);
}

double sum_squares(const float* x, int64_t n) {
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    const __m256 sq = _mm256_mul_ps(v, v);  // squares in float, as ggml's rms_norm
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(sq)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(sq, 1)));
  }
  s0 = _mm256_add_pd(s0, s1);
  __m128d h = _mm_add_pd(_mm256_castpd256_pd128(s0), _mm256_extractf128_pd(s0, 1));
  double s = _mm_cvtsd_f64(_mm_add_sd(h, _mm_unpackhi_pd(h, h)));
  for (; i < n; ++i) s += static_cast<double>(x[i] * x[i]);
  return s;
}

// exp(x) for x <= 88.7: x = n ln2 + r with |r| <= ln2/2 (ln2 split in two parts so r is
// exact), exp(r) by its Taylor polynomial to degree 6 (relative error < 2e-7 there), times
// 2^n built in the exponent bits. Below -87.3 the result is 0.
inline __m256 exp_ps(__m256 x) {
  const __m256 lo = _mm256_set1_ps(-87.3f);
  const __m256 under = _mm256_cmp_ps(x, lo, _CMP_LT_OQ);
  x = _mm256_max_ps(x, lo);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x);  // ln2 high part
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723212e-6f), r);  // ln2 low part
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  // 2^n: n + 127 in the exponent field (n in [-126, 128): for n = 128, split in two).
  const __m256i ni = _mm256_cvtps_epi32(n);
  const __m256i half = _mm256_srai_epi32(ni, 1);
  const __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(half, _mm256_set1_epi32(127)), 23));
  const __m256 s2 =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(ni, half), _mm256_set1_epi32(127)), 23));
  return _mm256_andnot_ps(under, _mm256_mul_ps(_mm256_mul_ps(p, s1), s2));
}

void exp_f32(float* x, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, exp_ps(_mm256_loadu_ps(x + i)));
  if (i < n) {
    alignas(32) float t[8] = {};
    for (int64_t j = i; j < n; ++j) t[j - i] = x[j];
    _mm256_store_ps(t, exp_ps(_mm256_load_ps(t)));
    for (int64_t j = i; j < n; ++j) x[j] = t[j - i];
  }
}

void softmax_f16(float* x, int64_t n) {
  // The tail, padded: with -inf it changes no maximum, and its exponentials are zeros.
  const int64_t full = n / 8 * 8;
  alignas(32) float t[8];
  for (int k = 0; k < 8; ++k) t[k] = full + k < n ? x[full + k] : -__builtin_inff();
  __m256 m = _mm256_load_ps(t);
  for (int64_t i = 0; i < full; i += 8) m = _mm256_max_ps(m, _mm256_loadu_ps(x + i));
  __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
  m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
  const __m256 mx = _mm256_set1_ps(_mm_cvtss_f32(m4));
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  auto exp_row = [&](float* p) {
    const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(p), mx));
    _mm256_storeu_ps(p, e);
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
  };
  for (int64_t i = 0; i < full; i += 8) exp_row(x + i);
  if (full < n) {
    exp_row(t);
    // exp(-inf - mx) is 0 here; the padding adds nothing.
  }
  const __m256d s = _mm256_add_pd(s0, s1);
  __m128d s2 = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
  s2 = _mm_add_sd(s2, _mm_unpackhi_pd(s2, s2));
  const __m256 inv = _mm256_set1_ps(static_cast<float>(1.0 / _mm_cvtsd_f64(s2)));
  constexpr int kRound = _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC;
  for (int64_t i = 0; i < full; i += 8) {
    _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_loadu_ps(x + i), inv), kRound)));
  }
  if (full < n) {
    _mm256_store_ps(t, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_mul_ps(_mm256_load_ps(t), inv), kRound)));
    for (int64_t j = full; j < n; ++j) x[j] = t[j - full];
  }
}

void silu_mul(float* g, const float* u, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 sign = _mm256_set1_ps(-0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_loadu_ps(g + i);
    const __m256 e = exp_ps(_mm256_xor_ps(x, sign));  // exp(-x)
    _mm256_storeu_ps(g + i, _mm256_mul_ps(_mm256_div_ps(x, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + i)));
  }
  for (; i < n; ++i) {
    alignas(32) float t[8] = {-g[i]};
    _mm256_store_ps(t, exp_ps(_mm256_load_ps(t)));
    g[i] = g[i] / (1.0f + t[0]) * u[i];
  }
}

// Cache rows are read kPrefetchKeys rows ahead: a KV group's rows are a stride apart, short
// streams that the hardware prefetcher picks up late.
constexpr int64_t kPrefetchKeys = 16;
inline void prefetch_row(const uint8_t* row, int bytes) {
  for (int o = 0; o < bytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(row) + o, _MM_HINT_T0);
}

// 8 elements of a cache row as floats.
template <bool F16>
inline __m256 cache8(const uint8_t* row, int c) {
  if constexpr (F16) {
    return load_h(reinterpret_cast<const uint16_t*>(row) + c);
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + c);
  }
}

// NH heads: each key row is loaded (and converted) once for all of them. KB keys at a time,
// so that NH * KB independent FMA chains hide the FMA latency (one key's 8-deep chain per
// head alone would wait on it).
template <int NH, int KB, bool F16>
void attn_scores_nh(const float* q, int64_t qs, const uint8_t* k, size_t stride, int64_t nb, int d, float scale,
                    float* s, int64_t ss) {
  int64_t j = 0;
  for (; j + KB <= nb; j += KB) {
    __m256 acc[NH][KB];
    for (int i = 0; i < NH; ++i)
      for (int b = 0; b < KB; ++b) acc[i][b] = _mm256_setzero_ps();
    for (int b = 0; b < KB; ++b) prefetch_row(k + (j + b + kPrefetchKeys) * stride, d * (F16 ? 2 : 4));
    for (int c = 0; c < d; c += 8) {
      __m256 qv[NH];
      for (int i = 0; i < NH; ++i) qv[i] = _mm256_loadu_ps(q + i * qs + c);
      for (int b = 0; b < KB; ++b) {
        const __m256 kv = cache8<F16>(k + (j + b) * stride, c);
        for (int i = 0; i < NH; ++i) acc[i][b] = _mm256_fmadd_ps(kv, qv[i], acc[i][b]);
      }
    }
    for (int i = 0; i < NH; ++i)
      for (int b = 0; b < KB; ++b) s[i * ss + j + b] = hsum(acc[i][b]) * scale;
  }
  for (; j < nb; ++j) {
    const uint8_t* kr = k + j * stride;
    __m256 acc[NH];
    for (int i = 0; i < NH; ++i) acc[i] = _mm256_setzero_ps();
    for (int c = 0; c < d; c += 8) {
      const __m256 kv = cache8<F16>(kr, c);
      for (int i = 0; i < NH; ++i) acc[i] = _mm256_fmadd_ps(kv, _mm256_loadu_ps(q + i * qs + c), acc[i]);
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
    case 3: attn_scores_nh<3, 2, F16>(q, qs, kb, stride, nb, d, scale, s, ss); break;
    default: attn_scores_nh<4, 2, F16>(q, qs, kb, stride, nb, d, scale, s, ss); break;
  }
}

void attn_scores(const float* q, int64_t qs, int nh, const void* k, size_t stride, bool f16, int64_t nb, int d,
                 float scale, float* s, int64_t ss) {
  const auto* kb = static_cast<const uint8_t*>(k);
  if (d % 8 != 0) {
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

// Column blocks of 8 outer, keys inner: the accumulators stay in registers, two sets (even
// and odd keys) so that the FMA chains are twice as many.
template <int NH, bool F16>
void attn_accumulate_nh(float* acc, int64_t as, const float* p, int64_t ps, const uint8_t* v, size_t stride,
                        int64_t nb, int d) {
  for (int c = 0; c < d; c += 8) {
    __m256 a0[NH], a1[NH];
    for (int i = 0; i < NH; ++i) {
      a0[i] = _mm256_loadu_ps(acc + i * as + c);
      a1[i] = _mm256_setzero_ps();
    }
    int64_t j = 0;
    for (; j + 2 <= nb; j += 2) {
      if (c == 0) {  // the first column block reads each row first
        prefetch_row(v + (j + kPrefetchKeys) * stride, d * (F16 ? 2 : 4));
        prefetch_row(v + (j + 1 + kPrefetchKeys) * stride, d * (F16 ? 2 : 4));
      }
      const __m256 v0 = cache8<F16>(v + j * stride, c);
      const __m256 v1 = cache8<F16>(v + (j + 1) * stride, c);
      for (int i = 0; i < NH; ++i) {
        a0[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + i * ps + j), v0, a0[i]);
        a1[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + i * ps + j + 1), v1, a1[i]);
      }
    }
    if (j < nb) {
      const __m256 v0 = cache8<F16>(v + j * stride, c);
      for (int i = 0; i < NH; ++i) a0[i] = _mm256_fmadd_ps(_mm256_broadcast_ss(p + i * ps + j), v0, a0[i]);
    }
    for (int i = 0; i < NH; ++i) _mm256_storeu_ps(acc + i * as + c, _mm256_add_ps(a0[i], a1[i]));
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
  if (d % 8 != 0) {
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

// 4 weight rows x 1 activation row per step: each activation load feeds 4 FMAs.
void gemm_f32(int64_t n, int64_t nr, int64_t nc, const void* w, size_t w_stride, const void* a,
              size_t a_stride, float* out, size_t out_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  for (int64_t c = 0; c < nc; ++c) {
    const float* x = reinterpret_cast<const float*>(ab + c * a_stride);
    float* o = out + c * out_stride;
    int64_t r = 0;
    for (; r + 4 <= nr; r += 4) {
      const float* w0 = reinterpret_cast<const float*>(wb + (r + 0) * w_stride);
      const float* w1 = reinterpret_cast<const float*>(wb + (r + 1) * w_stride);
      const float* w2 = reinterpret_cast<const float*>(wb + (r + 2) * w_stride);
      const float* w3 = reinterpret_cast<const float*>(wb + (r + 3) * w_stride);
      __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(),
             s3 = _mm256_setzero_ps();
      int64_t i = 0;
      for (; i + 8 <= n; i += 8) {
        const __m256 xv = _mm256_loadu_ps(x + i);
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(w0 + i), xv, s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(w1 + i), xv, s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(w2 + i), xv, s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(w3 + i), xv, s3);
      }
      float t0 = hsum(s0), t1 = hsum(s1), t2 = hsum(s2), t3 = hsum(s3);
      for (; i < n; ++i) {
        t0 += w0[i] * x[i];
        t1 += w1[i] * x[i];
        t2 += w2[i] * x[i];
        t3 += w3[i] * x[i];
      }
      o[r] = t0;
      o[r + 1] = t1;
      o[r + 2] = t2;
      o[r + 3] = t3;
    }
    for (; r < nr; ++r) o[r] = dot_f32(reinterpret_cast<const float*>(wb + r * w_stride), x, n);
  }
}

const VecKernels kAvx2 = {
    "avx2",     dot_f32,  dot_f16_f32, axpy_f32, axpy_f16, scale_f32, f32_to_f16,
    f16_to_f32, sum_squares, exp_f32, silu_mul, softmax_f16, attn_scores, attn_accumulate, gemm_f32,
};

}  // namespace

// Called by vec_scalar.cpp after its CPU check.
const VecKernels& vec_kernels_avx2_table() { return kAvx2; }

}  // namespace moecode::backend::cpu
