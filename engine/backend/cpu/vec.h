// Float vector kernels of the CPU backend (attention, norms, F32 matmuls, F16 cache rows):
// a portable scalar table, an AVX2+FMA+F16C table and an AVX-512 (F/BW/VL) one, the best
// chosen once from the CPU's features (MOECODE_ISA=scalar|avx2 caps the choice; avx512 and amx use the AVX-512 table). Quantized dot products are not here: they
// come from engine/quant's kernel table.
//
// Thread-safety: the tables are immutable; every kernel is a pure function on
// caller-owned memory and allocates nothing.
#pragma once

#include <cstddef>
#include <cstdint>

namespace moecode::backend::cpu {

struct VecKernels {
  const char* name;
  // sum_i a[i] * b[i]
  float (*dot_f32)(const float* a, const float* b, int64_t n);
  // sum_i f16(a[i]) * b[i]
  float (*dot_f16_f32)(const uint16_t* a, const float* b, int64_t n);
  // y += s * x
  void (*axpy_f32)(float* y, float s, const float* x, int64_t n);
  void (*axpy_f16)(float* y, float s, const uint16_t* x, int64_t n);
  // y = s * y
  void (*scale_f32)(float* y, float s, int64_t n);
  // Row conversions (round to nearest even, like F16C).
  void (*f32_to_f16)(const float* x, uint16_t* y, int64_t n);
  void (*f16_to_f32)(const uint16_t* x, float* y, int64_t n);
  // sum_i x[i]^2: squares rounded to float (as ggml's rms_norm), accumulated in double.
  double (*sum_squares)(const float* x, int64_t n);
  // x[i] = exp(x[i]) (|error| <= 2 ulp; x <= 88; very negative x gives 0).
  void (*exp_f32)(float* x, int64_t n);
  // g[i] = silu(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i]
  void (*silu_mul)(float* g, const float* u, int64_t n);
  // Softmax of a row of attention scores as llama.cpp computes it over an F16 cache: e[i] =
  // exp(x[i] - max), their sum in double, x[i] = e[i] * float(1 / sum) rounded to an F16
  // value (n >= 1). The SIMD tables sum in several double lanes (a different order).
  void (*softmax_f16)(float* x, int64_t n);
  // Attention over a block of nb cached keys for nh <= 4 query heads (one KV group):
  //   scores:     s[i * ss + j] = scale * <q + i * qs, k_j>          (k_j = row j of k)
  //   accumulate: acc[i * as + c] += sum_j p[i * ps + j] * v_j[c]    (v_j = row j of v)
  // Cache rows are F16 (f16 = true) or F32, `stride` bytes apart, d elements used.
  void (*attn_scores)(const float* q, int64_t qs, int nh, const void* k, size_t stride, bool f16, int64_t nb,
                      int d, float scale, float* s, int64_t ss);
  void (*attn_accumulate)(float* acc, int64_t as, const float* p, int64_t ps, int nh, const void* v,
                          size_t stride, bool f16, int64_t nb, int d);
  // Tile of F32 dot products, same contract as quant::GemmFn (strides in bytes for w and
  // a, in floats for out): out[c * os + r] = dot(w row r, a row c).
  void (*gemm_f32)(int64_t n, int64_t nr, int64_t nc, const void* w, size_t w_stride,
                   const void* a, size_t a_stride, float* out, size_t out_stride);
};

// The active table.
const VecKernels& vec_kernels();
// The portable one (tests compare the SIMD table against it).
const VecKernels& vec_kernels_scalar();
// The AVX2 table, or nullptr when this build or CPU lacks AVX2/FMA/F16C.
const VecKernels* vec_kernels_avx2();
// The AVX-512 table, or nullptr when this build or CPU lacks AVX-512 F/BW/VL (or AVX2).
const VecKernels* vec_kernels_avx512();

// Scalar half <-> float (bit-exact with F16C).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

}  // namespace moecode::backend::cpu
