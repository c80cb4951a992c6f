// Row kernels (see rows.h): a block per row.
#include "kernels/rows.h"

#include "dequant.h"
#include "gpu_compat.h"

namespace moecode::gpu {
namespace {

constexpr int kThreads = 256;

template <int T>
__global__ void __launch_bounds__(kThreads) get_rows_kernel(const uint8_t* w, size_t row_bytes, int64_t n_in,
                                                            const int32_t* ids, View out) {
  const uint8_t* wr = w + static_cast<size_t>(ids[blockIdx.x]) * row_bytes;
  float* o = out.data + blockIdx.x * out.stride;
  for (int64_t k = threadIdx.x; k < n_in; k += blockDim.x) o[k] = dq<T>(wr, k);
}

__global__ void __launch_bounds__(kThreads) store_rows_kernel(View x, void* cache, int64_t width, bool f16, int64_t pos0) {
  const float* xr = x.data + blockIdx.x * x.stride;
  const int64_t p = pos0 + blockIdx.x;
  if (f16) {
    uint16_t* c = static_cast<uint16_t*>(cache) + p * width;
    for (int64_t i = threadIdx.x; i < x.cols; i += blockDim.x) c[i] = f32_to_half_bits(xr[i]);
  } else {
    float* c = static_cast<float*>(cache) + p * width;
    for (int64_t i = threadIdx.x; i < x.cols; i += blockDim.x) c[i] = xr[i];
  }
}

__global__ void __launch_bounds__(kThreads) load_rows_kernel(const void* cache, int64_t width, bool f16, int64_t p0,
                                                             View out) {
  float* o = out.data + blockIdx.x * out.stride;
  const int64_t p = p0 + blockIdx.x;
  if (f16) {
    const uint16_t* c = static_cast<const uint16_t*>(cache) + p * width;
    for (int64_t i = threadIdx.x; i < out.cols; i += blockDim.x) o[i] = half_to_f32(c[i]);
  } else {
    const float* c = static_cast<const float*>(cache) + p * width;
    for (int64_t i = threadIdx.x; i < out.cols; i += blockDim.x) o[i] = c[i];
  }
}

template <int T>
void gather(const uint8_t* w, size_t row_bytes, int64_t n_in, const int32_t* ids, View out) {
  hipLaunchKernelGGL(get_rows_kernel<T>, dim3(static_cast<unsigned>(out.rows)), dim3(kThreads), 0, 0, w, row_bytes,
                     n_in, ids, out);
}

}  // namespace

bool launch_get_rows(int type, const uint8_t* w, size_t row_bytes, int64_t n_in, const int32_t* ids, View out) {
  if (out.rows == 0) return is_gpu_format(type);
  switch (type) {
    case kF32: gather<kF32>(w, row_bytes, n_in, ids, out); return true;
    case kF16: gather<kF16>(w, row_bytes, n_in, ids, out); return true;
    case kBF16: gather<kBF16>(w, row_bytes, n_in, ids, out); return true;
    case kQ4_0: gather<kQ4_0>(w, row_bytes, n_in, ids, out); return true;
    case kQ4_1: gather<kQ4_1>(w, row_bytes, n_in, ids, out); return true;
    case kQ5_0: gather<kQ5_0>(w, row_bytes, n_in, ids, out); return true;
    case kQ5_1: gather<kQ5_1>(w, row_bytes, n_in, ids, out); return true;
    case kQ8_0: gather<kQ8_0>(w, row_bytes, n_in, ids, out); return true;
    case kQ4_K: gather<kQ4_K>(w, row_bytes, n_in, ids, out); return true;
    case kQ5_K: gather<kQ5_K>(w, row_bytes, n_in, ids, out); return true;
    case kQ6_K: gather<kQ6_K>(w, row_bytes, n_in, ids, out); return true;
    default: return false;
  }
}

void launch_store_rows(View x, void* cache, int64_t width, bool f16, int64_t pos0) {
  if (x.rows == 0) return;
  hipLaunchKernelGGL(store_rows_kernel, dim3(static_cast<unsigned>(x.rows)), dim3(kThreads), 0, 0, x, cache, width, f16,
                     pos0);
}

void launch_load_rows(const void* cache, int64_t width, bool f16, int64_t p0, View out) {
  if (out.rows == 0) return;
  hipLaunchKernelGGL(load_rows_kernel, dim3(static_cast<unsigned>(out.rows)), dim3(kThreads), 0, 0, cache, width, f16,
                     p0, out);
}

}  // namespace moecode::gpu
