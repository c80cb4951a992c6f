// Reference quantizers and dequantizers (see quantize.h). Plain scalar C++: this file is
// compiled without SIMD flags and with floating-point contraction off, so it is the
// definition every other implementation is compared with.
#include "engine/quant/quantize.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "engine/quant/fp16.h"
#include "moecode/engine/result.h"

namespace moecode::quant {

namespace {

// Float -> int conversion that is defined for every input (NaN -> 0, clamped to [lo, hi]).
inline int clamp_to_int(float v, int lo, int hi) {
  if (!(v >= static_cast<float>(lo))) return v != v ? 0 : lo;
  if (v >= static_cast<float>(hi)) return hi;
  return static_cast<int>(v);  // truncation, as C's cast does
}

inline int64_t n_blocks(int64_t n, int64_t block) {
  MOE_ASSERT(n >= 0 && n % block == 0);
  return n / block;
}

}  // namespace

// ---- float formats -------------------------------------------------------------------

void dequantize_row_f32(const void* src, float* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void quantize_row_f32(const float* src, void* dst, int64_t n) {
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
}

void dequantize_row_f16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const half_bits*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = fp16_to_fp32(h[i]);
}

void quantize_row_f16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<half_bits*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_fp16(src[i]);
}

void dequantize_row_bf16(const void* src, float* dst, int64_t n) {
  const auto* h = static_cast<const bf16_bits*>(src);
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_fp32(h[i]);
}

void quantize_row_bf16(const float* src, void* dst, int64_t n) {
  auto* h = static_cast<bf16_bits*>(dst);
  for (int64_t i = 0; i < n; ++i) h[i] = fp32_to_bf16(src[i]);
}

// ---- Q8_0 / Q8_1 -----------------------------------------------------------------------

void dequantize_row_q8_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_0*>(src);
  const int64_t nb = n_blocks(n, kQK8_0);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < kQK8_0; ++j) dst[i * kQK8_0 + j] = static_cast<float>(b[i].qs[j]) * d;
  }
}

void dequantize_row_q8_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_1*>(src);
  const int64_t nb = n_blocks(n, kQK8_1);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < kQK8_1; ++j) dst[i * kQK8_1 + j] = static_cast<float>(b[i].qs[j]) * d;
  }
}

namespace {

// Reference Q8 block: d = amax/127, q = roundf(x * (1/d)). Returns sum(q).
int quantize_q8_ref_block(const float* x, half_bits* d_out, int8_t* qs, float* d_float) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = d != 0.0f ? 1.0f / d : 0.0f;
  *d_out = fp32_to_fp16(d);
  *d_float = d;
  int sum = 0;
  for (int j = 0; j < 32; ++j) {
    const int q = clamp_to_int(std::round(x[j] * id), -128, 127);
    qs[j] = static_cast<int8_t>(q);
    sum += q;
  }
  return sum;
}

// llama.cpp x86 activation Q8 block: d = amax/127, q = rint(x * (127/amax)).
int quantize_q8_act_block(const float* x, half_bits* d_out, int8_t* qs, float* d_float) {
  float amax = 0.0f;
  for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[j]));
  const float d = amax / 127.0f;
  const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
  *d_out = fp32_to_fp16(d);
  *d_float = d;
  int sum = 0;
  for (int j = 0; j < 32; ++j) {
    // As vcvtps2dq + saturating packs: round half to even, NaN and |v| >= 2^31 give the
    // "integer indefinite" INT_MIN (-> -128); e.g. a block of denormals, whose 127/amax is inf.
    const float v = x[j] * id;
    int q = -128;
    if (std::fabs(v) < 4194304.0f) {
      q = std::max(-128, std::min(127, nearest_int(v)));
    } else if (std::fabs(v) < 2147483648.0f) {
      q = v > 0 ? 127 : -128;
    }
    qs[j] = static_cast<int8_t>(q);
    sum += q;
  }
  return sum;
}

}  // namespace

void quantize_row_q8_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  const int64_t nb = n_blocks(n, kQK8_0);
  float d;
  for (int64_t i = 0; i < nb; ++i) quantize_q8_ref_block(src + i * kQK8_0, &b[i].d, b[i].qs, &d);
}

void quantize_row_q8_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  const int64_t nb = n_blocks(n, kQK8_1);
  for (int64_t i = 0; i < nb; ++i) {
    float d;
    const int sum = quantize_q8_ref_block(src + i * kQK8_1, &b[i].d, b[i].qs, &d);
    b[i].s = fp32_to_fp16(static_cast<float>(sum) * d);
  }
}

void quantize_row_q8_0_act(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_0*>(dst);
  const int64_t nb = n_blocks(n, kQK8_0);
  float d;
  for (int64_t i = 0; i < nb; ++i) quantize_q8_act_block(src + i * kQK8_0, &b[i].d, b[i].qs, &d);
}

void quantize_row_q8_1_act(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_1*>(dst);
  const int64_t nb = n_blocks(n, kQK8_1);
  for (int64_t i = 0; i < nb; ++i) {
    float d;
    const int sum = quantize_q8_act_block(src + i * kQK8_1, &b[i].d, b[i].qs, &d);
    b[i].s = fp32_to_fp16(d * static_cast<float>(sum));
  }
}

// ---- Q4_0 / Q4_1 / Q5_0 / Q5_1 ---------------------------------------------------------

void dequantize_row_q4_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_0*>(src);
  const int64_t nb = n_blocks(n, kQK4_0);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    float* y = dst + i * kQK4_0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      y[j] = static_cast<float>((b[i].qs[j] & 0xf) - 8) * d;
      y[j + kQK4_0 / 2] = static_cast<float>((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q4_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_1*>(src);
  const int64_t nb = n_blocks(n, kQK4_1);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    const float m = fp16_to_fp32(b[i].m);
    float* y = dst + i * kQK4_1;
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      y[j] = static_cast<float>(b[i].qs[j] & 0xf) * d + m;
      y[j + kQK4_1 / 2] = static_cast<float>(b[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_row_q5_0(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_0*>(src);
  const int64_t nb = n_blocks(n, kQK5_0);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, sizeof qh);
    float* y = dst + i * kQK5_0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = static_cast<float>(((b[i].qs[j] & 0xf) | h0) - 16) * d;
      y[j + kQK5_0 / 2] = static_cast<float>(((b[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void dequantize_row_q5_1(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_1*>(src);
  const int64_t nb = n_blocks(n, kQK5_1);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    const float m = fp16_to_fp32(b[i].m);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, sizeof qh);
    float* y = dst + i * kQK5_1;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int h0 = static_cast<int>((qh >> j) & 1u) << 4;
      const int h1 = static_cast<int>((qh >> (j + 16)) & 1u) << 4;
      y[j] = static_cast<float>((b[i].qs[j] & 0xf) | h0) * d + m;
      y[j + kQK5_1 / 2] = static_cast<float>((b[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

namespace {

// The signed value of largest magnitude (the first one on ties).
float signed_absmax(const float* x, int n) {
  float amax = 0.0f, max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

void min_max(const float* x, int n, float* mn, float* mx) {
  *mn = FLT_MAX;
  *mx = -FLT_MAX;
  for (int j = 0; j < n; ++j) {
    if (x[j] < *mn) *mn = x[j];
    if (x[j] > *mx) *mx = x[j];
  }
}

}  // namespace

void quantize_row_q4_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_0*>(dst);
  const int64_t nb = n_blocks(n, kQK4_0);
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK4_0;
    const float d = signed_absmax(x, kQK4_0) / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32_to_fp16(d);
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      const int q0 = std::min(15, clamp_to_int(x[j] * id + 8.5f, -128, 127));
      const int q1 = std::min(15, clamp_to_int(x[j + kQK4_0 / 2] * id + 8.5f, -128, 127));
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0xf) | (q1 << 4));
    }
  }
}

void quantize_row_q4_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_1*>(dst);
  const int64_t nb = n_blocks(n, kQK4_1);
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK4_1;
    float mn, mx;
    min_max(x, kQK4_1, &mn, &mx);
    const float d = (mx - mn) / 15.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32_to_fp16(d);
    b[i].m = fp32_to_fp16(mn);
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      const int q0 = std::min(15, clamp_to_int((x[j] - mn) * id + 0.5f, -128, 127));
      const int q1 = std::min(15, clamp_to_int((x[j + kQK4_1 / 2] - mn) * id + 0.5f, -128, 127));
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0xf) | (q1 << 4));
    }
  }
}

void quantize_row_q5_0(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_0*>(dst);
  const int64_t nb = n_blocks(n, kQK5_0);
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK5_0;
    const float d = signed_absmax(x, kQK5_0) / -16.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32_to_fp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int q0 = std::min(31, clamp_to_int(x[j] * id + 16.5f, -128, 127));
      const int q1 = std::min(31, clamp_to_int(x[j + kQK5_0 / 2] * id + 16.5f, -128, 127));
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0xf) | ((q1 & 0xf) << 4));
      qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + kQK5_0 / 2);
    }
    std::memcpy(b[i].qh, &qh, sizeof qh);
  }
}

void quantize_row_q5_1(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_1*>(dst);
  const int64_t nb = n_blocks(n, kQK5_1);
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK5_1;
    float mn, mx;
    min_max(x, kQK5_1, &mn, &mx);
    const float d = (mx - mn) / 31.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    b[i].d = fp32_to_fp16(d);
    b[i].m = fp32_to_fp16(mn);
    uint32_t qh = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      // ggml converts to uint8_t without a clamp; values stay in [0, 31] for finite input.
      const int q0 = clamp_to_int((x[j] - mn) * id + 0.5f, 0, 31);
      const int q1 = clamp_to_int((x[j + kQK5_1 / 2] - mn) * id + 0.5f, 0, 31);
      b[i].qs[j] = static_cast<uint8_t>((q0 & 0xf) | ((q1 & 0xf) << 4));
      qh |= static_cast<uint32_t>((q0 >> 4) & 1) << j;
      qh |= static_cast<uint32_t>((q1 >> 4) & 1) << (j + kQK5_1 / 2);
    }
    std::memcpy(b[i].qh, &qh, sizeof qh);
  }
}

// ---- K-quants --------------------------------------------------------------------------

void dequantize_row_q4_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ4_K*>(src);
  const int64_t nb = n_blocks(n, kQK_K);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    const float dmin = fp16_to_fp32(b[i].dmin);
    const uint8_t* q = b[i].qs;
    float* y = dst + i * kQK_K;
    for (int c = 0; c < 4; ++c) {  // 4 chunks of 64: low nibbles then high nibbles of 32 bytes
      uint8_t sc, m;
      unpack_scale_min_k4(2 * c, b[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      unpack_scale_min_k4(2 * c + 1, b[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) y[l] = d1 * static_cast<float>(q[l] & 0xf) - m1;
      for (int l = 0; l < 32; ++l) y[l + 32] = d2 * static_cast<float>(q[l] >> 4) - m2;
      q += 32;
      y += 64;
    }
  }
}

void dequantize_row_q5_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ5_K*>(src);
  const int64_t nb = n_blocks(n, kQK_K);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    const float dmin = fp16_to_fp32(b[i].dmin);
    const uint8_t* ql = b[i].qs;
    const uint8_t* qh = b[i].qh;
    float* y = dst + i * kQK_K;
    for (int c = 0; c < 4; ++c) {
      uint8_t sc, m;
      unpack_scale_min_k4(2 * c, b[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = dmin * m;
      unpack_scale_min_k4(2 * c + 1, b[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = dmin * m;
      const uint8_t u1 = static_cast<uint8_t>(1u << (2 * c)), u2 = static_cast<uint8_t>(2u << (2 * c));
      for (int l = 0; l < 32; ++l)
        y[l] = d1 * static_cast<float>((ql[l] & 0xf) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l)
        y[l + 32] = d2 * static_cast<float>((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
      ql += 32;
      y += 64;
    }
  }
}

void dequantize_row_q6_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ6_K*>(src);
  const int64_t nb = n_blocks(n, kQK_K);
  for (int64_t i = 0; i < nb; ++i) {
    const float d = fp16_to_fp32(b[i].d);
    const uint8_t* ql = b[i].ql;
    const uint8_t* qh = b[i].qh;
    const int8_t* sc = b[i].scales;
    float* y = dst + i * kQK_K;
    for (int h = 0; h < 2; ++h) {  // two halves of 128
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * static_cast<float>(sc[is + 0]) * static_cast<float>(q1);
        y[l + 32] = d * static_cast<float>(sc[is + 2]) * static_cast<float>(q2);
        y[l + 64] = d * static_cast<float>(sc[is + 4]) * static_cast<float>(q3);
        y[l + 96] = d * static_cast<float>(sc[is + 6]) * static_cast<float>(q4);
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}

void dequantize_row_q8_k(const void* src, float* dst, int64_t n) {
  const auto* b = static_cast<const BlockQ8_K*>(src);
  const int64_t nb = n_blocks(n, kQK_K);
  for (int64_t i = 0; i < nb; ++i) {
    for (int j = 0; j < kQK_K; ++j) dst[i * kQK_K + j] = b[i].d * static_cast<float>(b[i].qs[j]);
  }
}

void quantize_row_q8_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ8_K*>(dst);
  const int64_t nb = n_blocks(n, kQK_K);
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK_K;
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < kQK_K; ++j) {
      if (std::fabs(x[j]) > amax) {
        amax = std::fabs(x[j]);
        max = x[j];
      }
    }
    if (amax == 0.0f) {
      b[i].d = 0.0f;
      std::memset(b[i].qs, 0, sizeof b[i].qs);
      std::memset(b[i].bsums, 0, sizeof b[i].bsums);
      continue;
    }
    // The scale maps the extreme value to -127 (not +127): ggml's convention.
    const float iscale = -127.0f / max;
    for (int j = 0; j < kQK_K; ++j) {
      // |v| <= 127 unless iscale overflowed (amax < 127/FLT_MAX): then v is +-inf or NaN,
      // for which ggml's nearest_int bit trick yields a multiple of 256, i.e. q = 0.
      const float v = iscale * x[j];
      const int q = std::fabs(v) < 4194304.0f ? std::max(-128, std::min(127, nearest_int(v))) : 0;
      b[i].qs[j] = static_cast<int8_t>(q);
    }
    for (int j = 0; j < kQK_K / 16; ++j) {
      int sum = 0;
      for (int l = 0; l < 16; ++l) sum += b[i].qs[j * 16 + l];
      b[i].bsums[j] = static_cast<int16_t>(sum);
    }
    b[i].d = 1.0f / iscale;
  }
}

namespace {

// Fits x ~ scale * L + min (L in [0, nmax], min <= 0) for one sub-block, minimising the
// weighted squared error over a few trial scales around nmax/(max-min). Returns scale; the
// negated min goes to *neg_min. L receives the levels.
float fit_scale_min(int n, int nmax, const float* x, const float* w, uint8_t* L, float* neg_min,
                    float rmin, float rdelta, int nstep) {
  float mn = x[0], mx = x[0], sum_w = w[0], sum_x = w[0] * x[0];
  for (int i = 1; i < n; ++i) {
    mn = std::min(mn, x[i]);
    mx = std::max(mx, x[i]);
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (mn > 0) mn = 0;
  if (mx == mn) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    *neg_min = -mn;
    return 0.0f;
  }
  float iscale = static_cast<float>(nmax) / (mx - mn);
  float scale = 1.0f / iscale;
  float best = 0.0f;
  for (int i = 0; i < n; ++i) {
    const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - mn))));
    L[i] = static_cast<uint8_t>(l);
    const float diff = scale * static_cast<float>(l) + mn - x[i];
    best += w[i] * diff * diff;
  }
  uint8_t trial[32];
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * static_cast<float>(is) + static_cast<float>(nmax)) / (mx - mn);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(0, std::min(nmax, nearest_int(iscale * (x[i] - mn))));
      trial[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * static_cast<float>(l);
      sum_l2 += w[i] * static_cast<float>(l * l);
      sum_xl += w[i] * static_cast<float>(l) * x[i];
    }
    // Weighted least squares for (scale, min) given the levels.
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (det <= 0) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float err = 0;
    for (int i = 0; i < n; ++i) {
      const float diff = this_scale * static_cast<float>(trial[i]) + this_min - x[i];
      err += w[i] * diff * diff;
    }
    if (err < best) {
      std::memcpy(L, trial, static_cast<size_t>(n));
      best = err;
      scale = this_scale;
      mn = this_min;
    }
  }
  *neg_min = -mn;
  return scale;
}

// Q4_K/Q5_K common part: per-sub-block (scale, min) search, 6-bit packing into `scales`,
// fp16 d/dmin, then final levels in L[256] (0..nmax) with the quantized scales.
void quantize_kx_superblock(const float* x, int nmax, float rmin, float rdelta, int nstep,
                            half_bits* d_out, half_bits* dmin_out, uint8_t* scales, uint8_t* L) {
  float sub_scale[8], sub_min[8], w[32];
  float max_scale = 0, max_min = 0;
  for (int j = 0; j < 8; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) w[l] = av_x + std::fabs(xs[l]);
    sub_scale[j] = fit_scale_min(32, nmax, xs, w, L + 32 * j, &sub_min[j], rmin, rdelta, nstep);
    max_scale = std::max(max_scale, sub_scale[j]);
    max_min = std::max(max_min, sub_min[j]);
  }
  const float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
  const float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
  std::memset(scales, 0, kKScaleSize);
  for (int j = 0; j < 8; ++j) {
    const int ls = std::max(0, std::min(63, nearest_int(inv_scale * sub_scale[j])));
    const int lm = std::max(0, std::min(63, nearest_int(inv_min * sub_min[j])));
    if (j < 4) {
      scales[j] = static_cast<uint8_t>(ls);
      scales[j + 4] = static_cast<uint8_t>(lm);
    } else {
      scales[j + 4] = static_cast<uint8_t>((ls & 0xf) | ((lm & 0xf) << 4));
      scales[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      scales[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
  *d_out = fp32_to_fp16(max_scale / 63.0f);
  *dmin_out = fp32_to_fp16(max_min / 63.0f);
  const float d = fp16_to_fp32(*d_out), dmin = fp16_to_fp32(*dmin_out);
  for (int j = 0; j < 8; ++j) {
    uint8_t sc, m;
    unpack_scale_min_k4(j, scales, &sc, &m);
    const float ds = d * sc;
    if (ds == 0.0f) continue;  // keep the levels of the search (all map to -min anyway)
    const float dm = dmin * m;
    for (int l = 0; l < 32; ++l) {
      const float v = (x[32 * j + l] + dm) / ds;
      L[32 * j + l] = static_cast<uint8_t>(std::fabs(v) < 4194304.0f ? std::max(0, std::min(nmax, nearest_int(v)))
                                                                     : (v > 0 ? nmax : 0));
    }
  }
}

// Q6_K sub-block fit: symmetric levels in [-32, 31], scale chosen among trial values to
// maximise the (x^2-weighted) fit. Returns the (signed) scale; L gets level + 32.
float fit_symmetric(const float* x, int8_t* L) {
  constexpr int n = 16, nmax = 32;
  const float max = signed_absmax(x, n);
  if (std::fabs(max) < 1e-15f) {
    for (int i = 0; i < n; ++i) L[i] = 0;
    return 0.0f;
  }
  auto levels = [&](float iscale, float* sumlx, float* suml2, bool store) {
    *sumlx = *suml2 = 0;
    for (int i = 0; i < n; ++i) {
      const int l = std::max(-nmax, std::min(nmax - 1, nearest_int(iscale * x[i])));
      if (store) L[i] = static_cast<int8_t>(l + nmax);
      const float w = x[i] * x[i];
      *sumlx += w * x[i] * static_cast<float>(l);
      *suml2 += w * static_cast<float>(l * l);
    }
  };
  float sumlx, suml2;
  levels(-nmax / max, &sumlx, &suml2, true);
  float scale = suml2 > 0 ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  for (int is = -9; is <= 9; ++is) {
    if (is == 0) continue;
    const float iscale = -(static_cast<float>(nmax) + 0.1f * static_cast<float>(is)) / max;
    levels(iscale, &sumlx, &suml2, false);
    if (suml2 > 0 && sumlx * sumlx > best * suml2) {
      levels(iscale, &sumlx, &suml2, true);
      scale = sumlx / suml2;
      best = scale * sumlx;
    }
  }
  return scale;
}

}  // namespace

void quantize_row_q4_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ4_K*>(dst);
  const int64_t nb = n_blocks(n, kQK_K);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i) {
    quantize_kx_superblock(src + i * kQK_K, 15, -1.0f, 0.1f, 20, &b[i].d, &b[i].dmin, b[i].scales, L);
    uint8_t* q = b[i].qs;
    for (int j = 0; j < kQK_K; j += 64) {
      for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
      q += 32;
    }
  }
}

void quantize_row_q5_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ5_K*>(dst);
  const int64_t nb = n_blocks(n, kQK_K);
  uint8_t L[kQK_K];
  for (int64_t i = 0; i < nb; ++i) {
    quantize_kx_superblock(src + i * kQK_K, 31, -0.5f, 0.1f, 15, &b[i].d, &b[i].dmin, b[i].scales, L);
    std::memset(b[i].qh, 0, sizeof b[i].qh);
    uint8_t* ql = b[i].qs;
    for (int c = 0; c < 4; ++c) {
      for (int l = 0; l < 32; ++l) {
        const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
        ql[l] = static_cast<uint8_t>((lo & 0xf) | ((hi & 0xf) << 4));
        b[i].qh[l] |= static_cast<uint8_t>(((lo >> 4) & 1) << (2 * c));
        b[i].qh[l] |= static_cast<uint8_t>(((hi >> 4) & 1) << (2 * c + 1));
      }
      ql += 32;
    }
  }
}

void quantize_row_q6_k(const float* src, void* dst, int64_t n) {
  auto* b = static_cast<BlockQ6_K*>(dst);
  const int64_t nb = n_blocks(n, kQK_K);
  int8_t L[kQK_K];
  float sub_scale[kQK_K / 16];
  for (int64_t i = 0; i < nb; ++i) {
    const float* x = src + i * kQK_K;
    float max_scale = 0, max_abs = 0;
    for (int j = 0; j < kQK_K / 16; ++j) {
      sub_scale[j] = fit_symmetric(x + 16 * j, L + 16 * j);
      if (std::fabs(sub_scale[j]) > max_abs) {
        max_abs = std::fabs(sub_scale[j]);
        max_scale = sub_scale[j];
      }
    }
    if (max_abs < 1e-15f) {
      std::memset(&b[i], 0, sizeof b[i]);
      continue;
    }
    const float iscale = -128.0f / max_scale;
    b[i].d = fp32_to_fp16(1.0f / iscale);
    for (int j = 0; j < kQK_K / 16; ++j) {
      b[i].scales[j] = static_cast<int8_t>(std::max(-128, std::min(127, nearest_int(iscale * sub_scale[j]))));
    }
    const float d = fp16_to_fp32(b[i].d);
    for (int j = 0; j < kQK_K / 16; ++j) {
      const float ds = d * b[i].scales[j];
      if (ds == 0.0f) continue;
      for (int l = 0; l < 16; ++l) {
        const float v = x[16 * j + l] / ds;
        const int q = std::fabs(v) < 4194304.0f ? nearest_int(v) : (v > 0 ? 31 : -32);
        L[16 * j + l] = static_cast<int8_t>(std::max(-32, std::min(31, q)) + 32);
      }
    }
    uint8_t* ql = b[i].ql;
    uint8_t* qh = b[i].qh;
    for (int j = 0; j < kQK_K; j += 128) {
      for (int l = 0; l < 32; ++l) {
        const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
        ql[l] = static_cast<uint8_t>((q1 & 0xf) | ((q3 & 0xf) << 4));
        ql[l + 32] = static_cast<uint8_t>((q2 & 0xf) | ((q4 & 0xf) << 4));
        qh[l] = static_cast<uint8_t>((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
      }
      ql += 64;
      qh += 32;
    }
  }
}

}  // namespace moecode::quant
