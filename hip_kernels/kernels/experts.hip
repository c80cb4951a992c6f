// Expert combine kernel (see experts.h): a block per token.
#include "kernels/experts.h"

#include "gpu_compat.h"

namespace moecode::gpu {
namespace {

constexpr int kThreads = 256;

__global__ void __launch_bounds__(kThreads) combine_kernel(View y, const int32_t* index, const float* weights, int k,
                                                           View out) {
  const int64_t t = blockIdx.x;
  float* o = out.data + t * out.stride;
  for (int64_t i = threadIdx.x; i < out.cols; i += blockDim.x) {
    float acc = y.data[static_cast<int64_t>(index[t * k]) * y.stride + i] * weights[t * k];
    for (int s = 1; s < k; ++s) {
      const float prod = y.data[static_cast<int64_t>(index[t * k + s]) * y.stride + i] * weights[t * k + s];
      acc = acc + prod;
    }
    o[i] = acc;
  }
}

}  // namespace

void launch_combine_experts(View y, const int32_t* index, const float* weights, int k, View out) {
  if (out.rows == 0) return;
  hipLaunchKernelGGL(combine_kernel, dim3(static_cast<unsigned>(out.rows)), dim3(kThreads), 0, 0, y, index, weights, k,
                     out);
}

}  // namespace moecode::gpu
