// How the CPU backend multiplies with a weight type: which activation format the input is
// converted to (ggml's pairing: Q8_0 for Q4_0/Q5_0/Q8_0, Q8_1 for Q4_1/Q5_1, Q8_K for the
// K-quants, F16 for F16, F32 for F32), the conversion, the tile kernel and the row
// dequantizer (embeddings). Resolved once per weight; pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/quant/types.h"

namespace moecode::backend::cpu {

struct WeightKernels {
  quant::GgmlType act_type = quant::GgmlType::F32;
  // x row (n floats) -> act_type row; null when act_type is F32 (x is used as it is).
  void (*convert)(const float* x, void* y, int64_t n) = nullptr;
  // out[c * os + r] = dot(w row r, activation row c); strides in bytes for w and a.
  void (*gemm)(int64_t n, int64_t nr, int64_t nc, const void* w, size_t w_stride, const void* a,
               size_t a_stride, float* out, size_t out_stride) = nullptr;
  // Prefill on packed activations (the AVX-512 and AMX tables; quant::GemmPackedFn), from
  // packed_min_cols columns up; null elsewhere. A group of quant::kPackCols packed columns
  // is packed_bytes(n) bytes.
  void (*pack)(int64_t n, int64_t nc, const void* a, size_t a_stride, void* dst) = nullptr;
  size_t (*packed_bytes)(int64_t n) = nullptr;
  // Bytes of one packed column where columns follow one another (AVX-512); null otherwise.
  size_t (*packed_col_bytes)(int64_t n) = nullptr;
  void (*gemm_packed)(int64_t n, int64_t nr, int64_t nc, const void* w, size_t w_stride, const void* packed,
                      float* out, size_t out_stride) = nullptr;
  int64_t packed_min_cols = 0;
  // A weight row -> n floats.
  void (*to_float)(const void* x, float* y, int64_t n) = nullptr;
};

// The kernels for `type`; false when the CPU backend cannot multiply with it.
bool weight_kernels(quant::GgmlType type, WeightKernels* out);

// Bytes of one row of n elements of `type` (n a multiple of its block size).
size_t type_row_bytes(quant::GgmlType type, int64_t n);

}  // namespace moecode::backend::cpu
