// Shared pieces of quant_bench: the weight matrices and activations both our kernels and
// the optional ggml peer (ggml_peer.cpp) are timed on, so that both read the same bytes.
// Single-threaded use only (benchmark set-up).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "engine/quant/types.h"

namespace moecode::bench {

// Weight matrix [n_rows, n] of `type` (GGUF/ggml layout), rows contiguous.
struct Matrix {
  quant::GgmlType type = quant::GgmlType::F32;
  int64_t n_rows = 0;
  int64_t n = 0;
  size_t row_bytes = 0;
  std::vector<uint8_t> data;
};

// Gaussian floats (mean 0, sd 1) from `seed`.
std::vector<float> random_floats(size_t n, uint32_t seed);

// [n_rows, n] of `type`: 97 distinct quantized rows (scaled copies of one Gaussian row),
// repeated, so that large matrices are built quickly.
Matrix make_matrix(quant::GgmlType type, int64_t n_rows, int64_t n);

// Number of rows of a matrix of about `bytes` bytes.
int64_t rows_for_bytes(quant::GgmlType type, int64_t n, size_t bytes);

// The matrix shapes of the Gemm benchmarks, [rows, n]: SmolLM2-135M's ffn_up/gate
// (1536 x 576), ffn_down (576 x 1536) and output (49152 x 576) matrices.
struct GemmShape {
  int64_t rows;
  int64_t n;
};
inline constexpr GemmShape kGemmShapes[] = {{1536, 576}, {576, 1536}, {49152, 576}};
// Activation columns of the Gemm benchmarks: decode (1) and prefill batches.
inline constexpr int64_t kGemmCols[] = {1, 8, 16, 64};

// "Gemm/<type>/<who>/<rows>x<n>/nc:<nc>" (who: an ISA name, "ggml", "ggml-repack").
std::string gemm_name(quant::GgmlType type, const std::string& who, GemmShape shape, int64_t nc);

// The ggml peer's registration (ggml_peer.cpp, built with -DMOECODE_GGML_PEER_DIR=...).
void register_ggml_peer();

}  // namespace moecode::bench
