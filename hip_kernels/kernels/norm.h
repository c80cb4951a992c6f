// RMSNorm on the GPU: out[t] = x[t] / sqrt(mean(x[t]^2) + eps) * g (g may be null).
#pragma once

#include <cstdint>

namespace moecode::gpu {

void launch_rms_norm(const float* x, int64_t x_stride, const float* g, float eps, float* out, int64_t out_stride,
                     int64_t rows, int64_t cols);

}  // namespace moecode::gpu
