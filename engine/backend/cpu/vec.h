// Float vector kernels of the CPU backend (attention, norms, F32 matmuls, F16 cache rows):
// a portable scalar table and an AVX2+FMA+F16C table, chosen once from the CPU's features
// (MOECODE_ISA=scalar forces the scalar one). Quantized dot products are not here: they
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

// Scalar half <-> float (bit-exact with F16C).
float half_to_float(uint16_t h);
uint16_t float_to_half(float f);

}  // namespace moecode::backend::cpu
