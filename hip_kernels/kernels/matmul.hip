// Weight matmul kernels (see matmul.h).
#include "kernels/matmul.h"

#include "dequant.h"
#include "gpu_compat.h"

namespace moecode::gpu {
namespace {

constexpr int kThreads = 256;
constexpr int kTile = 64;   // output rows and tokens per block (tiled kernel)
constexpr int kChunk = 16;  // inputs per shared-memory step

__device__ inline void token_range(const MatmulLaunch& p, int64_t* t0, int64_t* nt) {
  if (p.offsets) {
    *t0 = p.offsets[blockIdx.z];
    *nt = p.offsets[blockIdx.z + 1] - *t0;
  } else {
    *t0 = 0;
    *nt = p.n_tok;
  }
}

__device__ inline const float* x_row(const MatmulLaunch& p, int64_t i) {
  return p.x + (p.x_rows ? static_cast<int64_t>(p.x_rows[i]) : i) * p.x_stride;
}

// One warp per weight row, tokens four at a time; lanes stride over the inputs.
template <int T>
__global__ void __launch_bounds__(kThreads) matvec_kernel(MatmulLaunch p) {
  const int ws = warpSize;
  const int lane = static_cast<int>(threadIdx.x) % ws;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * (kThreads / ws) + threadIdx.x / ws;
  if (r >= p.n_out) return;  // a whole warp leaves together
  int64_t t0, nt;
  token_range(p, &t0, &nt);
  const uint8_t* wr = p.w + blockIdx.z * p.mat_bytes + r * p.row_bytes;
  const float b = p.bias ? p.bias[r] : 0.0f;
  for (int64_t tb = 0; tb < nt; tb += 4) {
    const int n = nt - tb < 4 ? static_cast<int>(nt - tb) : 4;
    const float* xr[4];
    for (int i = 0; i < 4; ++i) xr[i] = x_row(p, t0 + tb + (i < n ? i : n - 1));
    float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    for (int64_t k = lane; k < p.n_in; k += ws) {
      const float wv = dq<T>(wr, k);
      for (int i = 0; i < 4; ++i) acc[i] += wv * xr[i][k];
    }
    for (int i = 0; i < 4; ++i) {
      const float s = gpu_warp_sum(acc[i]);
      if (lane == 0 && i < n) p.y[(t0 + tb + i) * p.y_stride + r] = s + b;
    }
  }
}

// A 64 x 64 tile of outputs (weight rows x tokens) per block, 4 x 4 per thread; weights
// are dequantized into shared memory 16 inputs at a time.
template <int T>
__global__ void __launch_bounds__(kThreads) matmul_tiled_kernel(MatmulLaunch p) {
  __shared__ float ws[kChunk][kTile + 1];
  __shared__ float xs[kChunk][kTile + 1];
  int64_t t0, nt;
  token_range(p, &t0, &nt);
  const int64_t tb = static_cast<int64_t>(blockIdx.y) * kTile;
  if (tb >= nt) return;  // the whole block leaves together
  const int64_t rb = static_cast<int64_t>(blockIdx.x) * kTile;
  const uint8_t* wbase = p.w + blockIdx.z * p.mat_bytes;
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % 16, ty = tid / 16;  // outputs: rows tx + 16i, tokens ty + 16j
  const int lk = tid % kChunk, lr = tid / kChunk;  // loads: input lk of rows/tokens lr + 16i
  const float* xr[4];
  bool t_ok[4];
  for (int i = 0; i < 4; ++i) {
    const int64_t t = tb + lr + 16 * i;
    t_ok[i] = t < nt;
    xr[i] = t_ok[i] ? x_row(p, t0 + t) : p.x;
  }
  float acc[4][4] = {};
  for (int64_t k0 = 0; k0 < p.n_in; k0 += kChunk) {
    const int64_t k = k0 + lk;
    for (int i = 0; i < 4; ++i) {
      const int64_t r = rb + lr + 16 * i;
      ws[lk][lr + 16 * i] = (r < p.n_out && k < p.n_in) ? dq<T>(wbase + r * p.row_bytes, k) : 0.0f;
      xs[lk][lr + 16 * i] = (t_ok[i] && k < p.n_in) ? xr[i][k] : 0.0f;
    }
    __syncthreads();
    for (int kk = 0; kk < kChunk; ++kk) {
      float wv[4], xv[4];
      for (int i = 0; i < 4; ++i) wv[i] = ws[kk][tx + 16 * i];
      for (int j = 0; j < 4; ++j) xv[j] = xs[kk][ty + 16 * j];
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) acc[i][j] += wv[i] * xv[j];
    }
    __syncthreads();
  }
  for (int i = 0; i < 4; ++i) {
    const int64_t r = rb + tx + 16 * i;
    if (r >= p.n_out) continue;
    const float b = p.bias ? p.bias[r] : 0.0f;
    for (int j = 0; j < 4; ++j) {
      const int64_t t = tb + ty + 16 * j;
      if (t < nt) p.y[(t0 + t) * p.y_stride + r] = acc[i][j] + b;
    }
  }
}

template <int T>
void launch(const MatmulLaunch& p) {
  const unsigned n_mat = p.offsets ? static_cast<unsigned>(p.n_mat) : 1u;
  if (p.n_tok <= kMatvecTokens) {
    const int64_t rows_per_block = kThreads / p.warp_size;
    const dim3 grid(static_cast<unsigned>((p.n_out + rows_per_block - 1) / rows_per_block), 1, n_mat);
    hipLaunchKernelGGL(matvec_kernel<T>, grid, dim3(kThreads), 0, 0, p);
  } else {
    const dim3 grid(static_cast<unsigned>((p.n_out + kTile - 1) / kTile),
                    static_cast<unsigned>((p.n_tok + kTile - 1) / kTile), n_mat);
    hipLaunchKernelGGL(matmul_tiled_kernel<T>, grid, dim3(kThreads), 0, 0, p);
  }
}

}  // namespace

bool launch_matmul(const MatmulLaunch& p) {
  switch (p.type) {
    case kF32: launch<kF32>(p); return true;
    case kF16: launch<kF16>(p); return true;
    case kBF16: launch<kBF16>(p); return true;
    case kQ4_0: launch<kQ4_0>(p); return true;
    case kQ4_1: launch<kQ4_1>(p); return true;
    case kQ5_0: launch<kQ5_0>(p); return true;
    case kQ5_1: launch<kQ5_1>(p); return true;
    case kQ8_0: launch<kQ8_0>(p); return true;
    case kQ4_K: launch<kQ4_K>(p); return true;
    case kQ5_K: launch<kQ5_K>(p); return true;
    case kQ6_K: launch<kQ6_K>(p); return true;
    default: return false;
  }
}

}  // namespace moecode::gpu
