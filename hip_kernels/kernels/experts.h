// MoE on the GPU, after the grouped expert matmuls (matmul.h with offsets): the weighted
// sum of each token's expert outputs, in slot order (ggml's rounding: products, then sums).
#pragma once

#include <cstdint>

#include "elementwise.h"

namespace moecode::gpu {

// out[t] = sum_{s < k} weights[t*k + s] * y[index[t*k + s]]
void launch_combine_experts(View y, const int32_t* index, const float* weights, int k, View out);

}  // namespace moecode::gpu
