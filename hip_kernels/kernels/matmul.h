// Weight matmuls on the GPU: y = x W^T (+ bias) for every weight format of dequant.h, and
// the grouped form for experts (ggml's mul_mat_id). Decode-sized batches (at most
// kMatvecTokens rows per matrix) take a warp-per-row matrix-vector kernel; larger ones a
// 64x64 tiled kernel through shared memory. All pointers are device-addressable.
#pragma once

#include <cstddef>
#include <cstdint>

namespace moecode::gpu {

inline constexpr int64_t kMatvecTokens = 8;

struct MatmulLaunch {
  int type = 0;                   // WeightFormat
  const uint8_t* w = nullptr;     // matrix 0, row 0
  size_t row_bytes = 0;
  size_t mat_bytes = 0;           // between stacked matrices (experts)
  int64_t n_in = 0, n_out = 0;
  const float* x = nullptr;
  int64_t x_stride = 0;           // floats
  const int32_t* x_rows = nullptr;  // x row of output row i (null: row i itself)
  float* y = nullptr;
  int64_t y_stride = 0;
  const float* bias = nullptr;    // [n_out] or null
  // Experts: output rows [offsets[e], offsets[e + 1]) use matrix e (grid over n_mat);
  // null: all n_tok rows use matrix 0.
  const int32_t* offsets = nullptr;
  int n_mat = 1;
  int64_t n_tok = 0;              // rows (without offsets) or the most rows of one expert
  int warp_size = 32;
};

// False when `type` is not a format the kernels read.
bool launch_matmul(const MatmulLaunch& p);

}  // namespace moecode::gpu
