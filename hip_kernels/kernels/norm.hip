// RMSNorm kernel (see norm.h): a block per row, the sum of squares reduced in shared memory.
#include "kernels/norm.h"

#include "gpu_compat.h"

namespace moecode::gpu {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) rms_norm_kernel(const float* x, int64_t xs, const float* g, float eps,
                                                            float* out, int64_t os, int64_t cols) {
  __shared__ float red[kThreads];
  const float* xr = x + blockIdx.x * xs;
  float* yr = out + blockIdx.x * os;
  float s = 0.0f;
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) s += xr[i] * xr[i];
  red[threadIdx.x] = s;
  __syncthreads();
  for (int k = kThreads / 2; k > 0; k >>= 1) {
    if (static_cast<int>(threadIdx.x) < k) red[threadIdx.x] += red[threadIdx.x + k];
    __syncthreads();
  }
  const float scale = 1.0f / sqrtf(red[0] / static_cast<float>(cols) + eps);
  for (int64_t i = threadIdx.x; i < cols; i += blockDim.x) yr[i] = g ? (xr[i] * scale) * g[i] : xr[i] * scale;
}

}  // namespace

void launch_rms_norm(const float* x, int64_t x_stride, const float* g, float eps, float* out, int64_t out_stride,
                     int64_t rows, int64_t cols) {
  if (rows == 0) return;
  hipLaunchKernelGGL(rms_norm_kernel, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, 0, x, x_stride, g, eps,
                     out, out_stride, cols);
}

}  // namespace moecode::gpu
