// RoPE kernel (see rope.h): a block per token, a thread per (head, pair).
#include "kernels/rope.h"

#include "gpu_compat.h"

namespace moecode::gpu {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) rope_kernel(float* x, int64_t xs, int n_heads, int head_dim, int n_rot,
                                                        bool neox, const float* cos_sin, int64_t css) {
  const int half = n_rot / 2;
  const float* cs = cos_sin + blockIdx.x * css;
  float* row = x + blockIdx.x * xs;
  for (int k = threadIdx.x; k < n_heads * half; k += blockDim.x) {
    const int h = k / half, i = k % half;
    float* v = row + static_cast<int64_t>(h) * head_dim;
    const float c = cs[2 * i], s = cs[2 * i + 1];
    const int a = neox ? i : 2 * i;
    const int b = neox ? i + half : 2 * i + 1;
    const float x0 = v[a], x1 = v[b];
    v[a] = x0 * c - x1 * s;
    v[b] = x0 * s + x1 * c;
  }
}

}  // namespace

void launch_rope(float* x, int64_t x_stride, int64_t rows, int n_heads, int head_dim, int n_rot, bool neox,
                 const float* cos_sin, int64_t cs_stride) {
  if (rows == 0 || n_rot < 2) return;
  hipLaunchKernelGGL(rope_kernel, dim3(static_cast<unsigned>(rows)), dim3(kThreads), 0, 0, x, x_stride, n_heads,
                     head_dim, n_rot, neox, cos_sin, cs_stride);
}

}  // namespace moecode::gpu
