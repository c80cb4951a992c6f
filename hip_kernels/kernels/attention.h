// Causal grouped-query attention over one layer's KV cache on the GPU, with the CPU
// backend's arithmetic: with an F16 cache the queries and the normalised probabilities are
// rounded to F16 (as llama.cpp does without flash attention). Two passes over the keys
// (maximum and sum of the scores, then the probabilities times V), split over key ranges
// when there are few (token, head) pairs (decode), then the ranges' partial outputs summed.
// Head sizes up to kMaxHeadDimK / kMaxHeadDimV (MLA's absorbed 576 / 512 included).
#pragma once

#include <cstddef>
#include <cstdint>

namespace moecode::gpu {

inline constexpr int kMaxHeadDimK = 1024;
inline constexpr int kMaxHeadDimV = 576;

struct AttentionLaunch {
  const float* q = nullptr;
  int64_t q_stride = 0;
  const void* k = nullptr;  // [n_ctx][k_width] elements
  const void* v = nullptr;
  int64_t k_width = 0, v_width = 0;
  bool f16 = true;          // cache element type (else F32)
  float* out = nullptr;
  int64_t out_stride = 0;
  int64_t n_tok = 0;
  int n_head = 0, n_head_kv = 0, head_dim_k = 0, head_dim_v = 0;
  int64_t pos0 = 0;
  float scale = 1.0f;
  int n_split = 1;
  // Device scratch of at least attention_scratch_floats(...) floats.
  float* scratch = nullptr;
};

size_t attention_scratch_floats(int64_t n_tok, int n_head, int n_split, int head_dim_v);
void launch_attention(const AttentionLaunch& p);

}  // namespace moecode::gpu
