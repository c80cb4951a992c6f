// Element-wise kernels (see elementwise.h): a block per row, threads over the columns.
#include "kernels/elementwise.h"

#include "gpu_compat.h"

namespace moecode::gpu {
namespace {

constexpr int kThreads = 256;

template <Elementwise Op>
__global__ void __launch_bounds__(kThreads) elementwise_kernel(View a, View b, float s) {
  float* ar = a.data + blockIdx.x * a.stride;
  const float* br = Op == Elementwise::kScale ? nullptr : b.data + blockIdx.x * b.stride;
  for (int64_t i = threadIdx.x; i < a.cols; i += blockDim.x) {
    if constexpr (Op == Elementwise::kSwiglu) {
      const float g = ar[i];
      ar[i] = g / (1.0f + expf(-g)) * br[i];
    } else if constexpr (Op == Elementwise::kAdd) {
      ar[i] += br[i];
    } else if constexpr (Op == Elementwise::kScale) {
      ar[i] *= s;
    } else {
      ar[i] = br[i];
    }
  }
}

}  // namespace

void launch_elementwise(Elementwise op, View a, View b, float s) {
  if (a.rows == 0 || a.cols == 0) return;
  const dim3 grid(static_cast<unsigned>(a.rows));
  switch (op) {
    case Elementwise::kSwiglu: hipLaunchKernelGGL(elementwise_kernel<Elementwise::kSwiglu>, grid, dim3(kThreads), 0, 0, a, b, s); break;
    case Elementwise::kAdd: hipLaunchKernelGGL(elementwise_kernel<Elementwise::kAdd>, grid, dim3(kThreads), 0, 0, a, b, s); break;
    case Elementwise::kScale: hipLaunchKernelGGL(elementwise_kernel<Elementwise::kScale>, grid, dim3(kThreads), 0, 0, a, b, s); break;
    case Elementwise::kCopy: hipLaunchKernelGGL(elementwise_kernel<Elementwise::kCopy>, grid, dim3(kThreads), 0, 0, a, b, s); break;
  }
}

}  // namespace moecode::gpu
