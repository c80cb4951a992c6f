// Portable scalar dot kernels: the reference every SIMD kernel is compared with, and the
// fallback on CPUs without AVX2. Integer dots are exact per block; blocks are accumulated
// in double. Thread-safe (pure functions; the table is a constant).
#include <cstring>

#include "engine/quant/fp16.h"
#include "engine/quant/kernels.h"
#include "engine/quant/quantize.h"

namespace moecode::quant {

namespace {

void dot_f32(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const float*>(w);
  const auto* y = static_cast<const float*>(a);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(x[i]) * static_cast<double>(y[i]);
  *out = static_cast<float>(s);
}

void dot_f16(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const half_bits*>(w);
  const auto* y = static_cast<const half_bits*>(a);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(fp16_to_fp32(x[i])) * fp16_to_fp32(y[i]);
  *out = static_cast<float>(s);
}

void dot_bf16(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const bf16_bits*>(w);
  const auto* y = static_cast<const bf16_bits*>(a);
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(bf16_to_fp32(x[i])) * bf16_to_fp32(y[i]);
  *out = static_cast<float>(s);
}

void dot_q8_0_q8_0(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ8_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  double s = 0;
  for (int64_t i = 0; i < n / kQK8_0; ++i) {
    int sum = 0;
    for (int j = 0; j < kQK8_0; ++j) sum += x[i].qs[j] * y[i].qs[j];
    s += static_cast<float>(sum) * (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d));
  }
  *out = static_cast<float>(s);
}

void dot_q4_0_q8_0(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  double s = 0;
  for (int64_t i = 0; i < n / kQK4_0; ++i) {
    int sum = 0;
    for (int j = 0; j < kQK4_0 / 2; ++j) {
      sum += ((x[i].qs[j] & 0xf) - 8) * y[i].qs[j];
      sum += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + kQK4_0 / 2];
    }
    s += static_cast<float>(sum) * (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d));
  }
  *out = static_cast<float>(s);
}

void dot_q4_1_q8_1(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  double s = 0;
  for (int64_t i = 0; i < n / kQK4_1; ++i) {
    int sum = 0;
    for (int j = 0; j < kQK4_1 / 2; ++j) {
      sum += (x[i].qs[j] & 0xf) * y[i].qs[j];
      sum += (x[i].qs[j] >> 4) * y[i].qs[j + kQK4_1 / 2];
    }
    s += static_cast<float>(sum) * (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d));
    s += fp16_to_fp32(x[i].m) * fp16_to_fp32(y[i].s);
  }
  *out = static_cast<float>(s);
}

void dot_q5_0_q8_0(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_0*>(w);
  const auto* y = static_cast<const BlockQ8_0*>(a);
  double s = 0;
  for (int64_t i = 0; i < n / kQK5_0; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    int sum = 0;
    for (int j = 0; j < kQK5_0 / 2; ++j) {
      const int q0 = ((x[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4)) - 16;
      const int q1 = ((x[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4)) - 16;
      sum += q0 * y[i].qs[j] + q1 * y[i].qs[j + kQK5_0 / 2];
    }
    s += static_cast<float>(sum) * (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d));
  }
  *out = static_cast<float>(s);
}

void dot_q5_1_q8_1(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_1*>(w);
  const auto* y = static_cast<const BlockQ8_1*>(a);
  double s = 0;
  for (int64_t i = 0; i < n / kQK5_1; ++i) {
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof qh);
    int sum = 0;
    for (int j = 0; j < kQK5_1 / 2; ++j) {
      const int q0 = (x[i].qs[j] & 0xf) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int q1 = (x[i].qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
      sum += q0 * y[i].qs[j] + q1 * y[i].qs[j + kQK5_1 / 2];
    }
    s += static_cast<float>(sum) * (fp16_to_fp32(x[i].d) * fp16_to_fp32(y[i].d));
    s += fp16_to_fp32(x[i].m) * fp16_to_fp32(y[i].s);
  }
  *out = static_cast<float>(s);
}

// K-quants: per super-block, d_a * d_w * sum_j scale_j * sum(q * a) - d_a * dmin_w *
// sum_j min_j * sum(a) (sum(a) from the Q8_K bsums).
void dot_q4_k_q8_k(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ4_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  double s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sum_q = 0, sum_m = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, x[i].scales, &sc, &m);
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      const int shift = (j & 1) * 4;
      const int8_t* q8 = y[i].qs + 32 * j;
      int sub = 0;
      for (int l = 0; l < 32; ++l) sub += ((q[l] >> shift) & 0xf) * q8[l];
      sum_q += sc * sub;
      sum_m += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    s += static_cast<double>(y[i].d * fp16_to_fp32(x[i].d)) * sum_q;
    s -= static_cast<double>(y[i].d * fp16_to_fp32(x[i].dmin)) * sum_m;
  }
  *out = static_cast<float>(s);
}

void dot_q5_k_q8_k(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ5_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  double s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sum_q = 0, sum_m = 0;
    for (int j = 0; j < 8; ++j) {
      uint8_t sc, m;
      unpack_scale_min_k4(j, x[i].scales, &sc, &m);
      const uint8_t* q = x[i].qs + 32 * (j / 2);
      const int shift = (j & 1) * 4;
      const int8_t* q8 = y[i].qs + 32 * j;
      int sub = 0;
      for (int l = 0; l < 32; ++l) {
        const int v = ((q[l] >> shift) & 0xf) | (((x[i].qh[l] >> j) & 1) << 4);
        sub += v * q8[l];
      }
      sum_q += sc * sub;
      sum_m += m * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
    }
    s += static_cast<double>(y[i].d * fp16_to_fp32(x[i].d)) * sum_q;
    s -= static_cast<double>(y[i].d * fp16_to_fp32(x[i].dmin)) * sum_m;
  }
  *out = static_cast<float>(s);
}

void dot_q6_k_q8_k(int64_t n, float* out, const void* w, const void* a) {
  const auto* x = static_cast<const BlockQ6_K*>(w);
  const auto* y = static_cast<const BlockQ8_K*>(a);
  double s = 0;
  for (int64_t i = 0; i < n / kQK_K; ++i) {
    int sum = 0;
    for (int h = 0; h < 2; ++h) {
      const uint8_t* ql = x[i].ql + 64 * h;
      const uint8_t* qh = x[i].qh + 32 * h;
      const int8_t* sc = x[i].scales + 8 * h;
      const int8_t* q8 = y[i].qs + 128 * h;
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        sum += sc[is + 0] * q1 * q8[l] + sc[is + 2] * q2 * q8[l + 32] + sc[is + 4] * q3 * q8[l + 64] +
               sc[is + 6] * q4 * q8[l + 96];
      }
    }
    s += static_cast<double>(y[i].d * fp16_to_fp32(x[i].d)) * sum;
  }
  *out = static_cast<float>(s);
}

template <VecDotFn kDot>
void gemm_by_dot(int64_t n, int64_t nr, int64_t nc, const void* w, size_t w_stride, const void* a,
                 size_t a_stride, float* out, size_t out_stride) {
  for (int64_t c = 0; c < nc; ++c) {
    const auto* ac = static_cast<const uint8_t*>(a) + c * a_stride;
    for (int64_t r = 0; r < nr; ++r) {
      kDot(n, out + c * out_stride + r, static_cast<const uint8_t*>(w) + r * w_stride, ac);
    }
  }
}

template <VecDotFn kDot>
void set(KernelTable& t, GgmlType type) {
  t.vec_dot[static_cast<int>(type)] = kDot;
  t.gemm[static_cast<int>(type)] = gemm_by_dot<kDot>;
}

KernelTable make_table() {
  KernelTable t;
  t.isa = Isa::kScalar;
  set<dot_f32>(t, GgmlType::F32);
  set<dot_f16>(t, GgmlType::F16);
  set<dot_bf16>(t, GgmlType::BF16);
  set<dot_q8_0_q8_0>(t, GgmlType::Q8_0);
  set<dot_q4_0_q8_0>(t, GgmlType::Q4_0);
  set<dot_q4_1_q8_1>(t, GgmlType::Q4_1);
  set<dot_q5_0_q8_0>(t, GgmlType::Q5_0);
  set<dot_q5_1_q8_1>(t, GgmlType::Q5_1);
  set<dot_q4_k_q8_k>(t, GgmlType::Q4_K);
  set<dot_q5_k_q8_k>(t, GgmlType::Q5_K);
  set<dot_q6_k_q8_k>(t, GgmlType::Q6_K);

  t.from_float[static_cast<int>(GgmlType::F32)] = quantize_row_f32;
  t.from_float[static_cast<int>(GgmlType::F16)] = quantize_row_f16;
  t.from_float[static_cast<int>(GgmlType::BF16)] = quantize_row_bf16;
  t.from_float[static_cast<int>(GgmlType::Q8_0)] = quantize_row_q8_0_act;
  t.from_float[static_cast<int>(GgmlType::Q8_1)] = quantize_row_q8_1_act;
  t.from_float[static_cast<int>(GgmlType::Q8_K)] = quantize_row_q8_k;

  for (uint32_t id = 0; id < static_cast<uint32_t>(kTypeSlots); ++id) {
    const TypeTraits* tt = find_type_traits(id);
    if (tt != nullptr && tt->to_float != nullptr) t.to_float[id] = tt->to_float;
  }
  return t;
}

}  // namespace

const KernelTable& scalar_kernel_table() {
  static const KernelTable table = make_table();
  return table;
}

}  // namespace moecode::quant
