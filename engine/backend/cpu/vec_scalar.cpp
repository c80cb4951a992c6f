// Portable vector kernels (the reference for vec_avx2.cpp) and the run-time choice.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "engine/backend/cpu/vec.h"
#include "engine/quant/cpu_features.h"

namespace moecode::backend::cpu {

float half_to_float(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (man << 13);
  } else if (exp == 0) {
    if (man == 0) {
      bits = sign;
    } else {
      exp = 113;
      while ((man & 0x400u) == 0) {
        man <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
    }
  } else {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, sizeof x);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  if (ax >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);
  if (ax < 0x38800000u) {
    if (ax <= 0x33000000u) return static_cast<uint16_t>(sign);
    const uint32_t e = ax >> 23;
    const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = (ax - 0x38000000u) >> 13;
  const uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;
  return static_cast<uint16_t>(sign | r);
}

namespace {

float dot_f32(const float* a, const float* b, int64_t n) {
  // Eight partial sums, like a SIMD lane split, for a summation error close to the SIMD one.
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  float s = 0;
  for (float v : acc) s += v;
  for (; i < n; ++i) s += a[i] * b[i];
  return s;
}

float dot_f16_f32(const uint16_t* a, const float* b, int64_t n) {
  float acc[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += half_to_float(a[i + j]) * b[i + j];
  float s = 0;
  for (float v : acc) s += v;
  for (; i < n; ++i) s += half_to_float(a[i]) * b[i];
  return s;
}

void axpy_f32(float* y, float s, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += s * x[i];
}

void axpy_f16(float* y, float s, const uint16_t* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] += s * half_to_float(x[i]);
}

void scale_f32(float* y, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] *= s;
}

void f32_to_f16(const float* x, uint16_t* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = float_to_half(x[i]);
}

void f16_to_f32(const uint16_t* x, float* y, int64_t n) {
  for (int64_t i = 0; i < n; ++i) y[i] = half_to_float(x[i]);
}

double sum_squares(const float* x, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i] * x[i]);  // float squares, as ggml
  return s;
}

void exp_f32(float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) x[i] = std::exp(x[i]);
}

void silu_mul(float* g, const float* u, int64_t n) {
  for (int64_t i = 0; i < n; ++i) g[i] = g[i] / (1.0f + std::exp(-g[i])) * u[i];
}

void softmax_f16(float* x, int64_t n) {
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  for (int64_t i = 0; i < n; ++i) x[i] -= mx;
  exp_f32(x, n);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) sum += x[i];
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] = half_to_float(float_to_half(x[i] * inv));
}

inline float cache_at(const void* row, bool f16, int c) {
  return f16 ? half_to_float(static_cast<const uint16_t*>(row)[c]) : static_cast<const float*>(row)[c];
}

void attn_scores(const float* q, int64_t qs, int nh, const void* k, size_t stride, bool f16, int64_t nb, int d,
                 float scale, float* s, int64_t ss) {
  for (int64_t j = 0; j < nb; ++j) {
    const void* kr = static_cast<const uint8_t*>(k) + j * stride;
    for (int i = 0; i < nh; ++i) {
      float acc = 0;
      for (int c = 0; c < d; ++c) acc += q[i * qs + c] * cache_at(kr, f16, c);
      s[i * ss + j] = acc * scale;
    }
  }
}

void attn_accumulate(float* acc, int64_t as, const float* p, int64_t ps, int nh, const void* v, size_t stride,
                     bool f16, int64_t nb, int d) {
  for (int64_t j = 0; j < nb; ++j) {
    const void* vr = static_cast<const uint8_t*>(v) + j * stride;
    for (int i = 0; i < nh; ++i)
      for (int c = 0; c < d; ++c) acc[i * as + c] += p[i * ps + j] * cache_at(vr, f16, c);
  }
}

void gemm_f32(int64_t n, int64_t nr, int64_t nc, const void* w, size_t w_stride, const void* a,
              size_t a_stride, float* out, size_t out_stride) {
  const auto* wb = static_cast<const uint8_t*>(w);
  const auto* ab = static_cast<const uint8_t*>(a);
  for (int64_t c = 0; c < nc; ++c)
    for (int64_t r = 0; r < nr; ++r)
      out[c * out_stride + r] = dot_f32(reinterpret_cast<const float*>(wb + r * w_stride),
                                        reinterpret_cast<const float*>(ab + c * a_stride), n);
}

const VecKernels kScalar = {
    "scalar", dot_f32,  dot_f16_f32, axpy_f32, axpy_f16, scale_f32, f32_to_f16,
    f16_to_f32, sum_squares, exp_f32, silu_mul, softmax_f16, attn_scores, attn_accumulate, gemm_f32,
};

// The best table the CPU runs, capped by MOECODE_ISA=scalar|avx2 as engine/quant's tables are
// (that one reports a bad or unavailable value; this one follows it silently).
const VecKernels& choose() {
  const char* isa = std::getenv("MOECODE_ISA");
  const std::string_view cap = isa ? isa : "";
  if (cap == "scalar") return kScalar;
  if (cap != "avx2") {
    if (const VecKernels* k = vec_kernels_avx512()) return *k;
  }
  if (const VecKernels* k = vec_kernels_avx2()) return *k;
  return kScalar;
}

}  // namespace

const VecKernels& vec_kernels_avx2_table();    // vec_avx2.cpp
const VecKernels& vec_kernels_avx512_table();  // vec_avx512.cpp

const VecKernels& vec_kernels_scalar() { return kScalar; }

const VecKernels* vec_kernels_avx2() {
#if defined(__x86_64__) && defined(MOECODE_HAVE_AVX2_KERNELS)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && quant::cpu_has_f16c())
    return &vec_kernels_avx2_table();
#endif
  return nullptr;
}

const VecKernels* vec_kernels_avx512() {
#if defined(__x86_64__) && defined(MOECODE_HAVE_AVX2_KERNELS)
  if (vec_kernels_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl"))
    return &vec_kernels_avx512_table();
#endif
  return nullptr;
}

const VecKernels& vec_kernels() {
  static const VecKernels& k = choose();
  return k;
}

}  // namespace moecode::backend::cpu
