// RoPE on the GPU, in place (see backend::RopeArgs): the first n_rot dims of each head
// rotated by the token's (cos, sin) pairs; pairs (2i, 2i+1) or, NeoX order, (i, i + n_rot/2).
// YaRN and other scalings are folded into the table by the model code.
#pragma once

#include <cstdint>

namespace moecode::gpu {

void launch_rope(float* x, int64_t x_stride, int64_t rows, int n_heads, int head_dim, int n_rot, bool neox,
                 const float* cos_sin, int64_t cs_stride);

}  // namespace moecode::gpu
