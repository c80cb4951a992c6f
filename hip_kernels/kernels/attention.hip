// Attention kernels (see attention.h). Block = (query token, head, key range).
#include "kernels/attention.h"

#include <cmath>

#include "dequant.h"
#include "gpu_compat.h"

namespace moecode::gpu {
namespace {

constexpr int kThreads = 128;
constexpr int kAccPerThread = (kMaxHeadDimV + kThreads - 1) / kThreads;

struct Block {
  int64_t t;
  int h, g;
  int64_t j0, j1;  // the block's keys
};

__device__ inline Block block_of(const AttentionLaunch& p) {
  Block b;
  b.t = blockIdx.x / p.n_head;
  b.h = static_cast<int>(blockIdx.x % p.n_head);
  b.g = b.h / (p.n_head / p.n_head_kv);
  const int64_t n_keys = p.pos0 + b.t + 1;
  const int64_t per = (n_keys + p.n_split - 1) / p.n_split;
  b.j0 = min(n_keys, static_cast<int64_t>(blockIdx.y) * per);
  b.j1 = min(n_keys, b.j0 + per);
  return b;
}

// q of the block's head into shared memory (rounded to F16 values with an F16 cache).
__device__ inline void load_q(const AttentionLaunch& p, const Block& b, float* qs) {
  const float* q = p.q + b.t * p.q_stride + static_cast<int64_t>(b.h) * p.head_dim_k;
  for (int d = threadIdx.x; d < p.head_dim_k; d += blockDim.x)
    qs[d] = p.f16 ? half_to_f32(f32_to_half_bits(q[d])) : q[d];
  __syncthreads();
}

__device__ inline float score(const AttentionLaunch& p, const Block& b, const float* qs, int64_t j) {
  float s = 0.0f;
  if (p.f16) {
    const uint16_t* kr = static_cast<const uint16_t*>(p.k) + j * p.k_width + static_cast<int64_t>(b.g) * p.head_dim_k;
    for (int d = 0; d < p.head_dim_k; ++d) s += qs[d] * half_to_f32(kr[d]);
  } else {
    const float* kr = static_cast<const float*>(p.k) + j * p.k_width + static_cast<int64_t>(b.g) * p.head_dim_k;
    for (int d = 0; d < p.head_dim_k; ++d) s += qs[d] * kr[d];
  }
  return s * p.scale;
}

// (max, sum of exp(s - max)) pairs merged.
__device__ inline void merge(float* m, float* l, float m2, float l2) {
  if (m2 == -INFINITY) return;
  if (*m == -INFINITY) {
    *m = m2;
    *l = l2;
    return;
  }
  const float mx = fmaxf(*m, m2);
  *l = *l * expf(*m - mx) + l2 * expf(m2 - mx);
  *m = mx;
}

// Pass 1: the maximum score of the key range and the sum of exp(score - maximum).
__global__ void __launch_bounds__(kThreads) attention_stats_kernel(AttentionLaunch p) {
  __shared__ float qs[kMaxHeadDimK];
  __shared__ float red_m[kThreads], red_l[kThreads];
  const Block b = block_of(p);
  load_q(p, b, qs);
  float m = -INFINITY, l = 0.0f;
  for (int64_t j = b.j0 + threadIdx.x; j < b.j1; j += blockDim.x) merge(&m, &l, score(p, b, qs, j), 1.0f);
  red_m[threadIdx.x] = m;
  red_l[threadIdx.x] = l;
  __syncthreads();
  for (int s = kThreads / 2; s > 0; s >>= 1) {
    if (static_cast<int>(threadIdx.x) < s) {
      float mm = red_m[threadIdx.x], ll = red_l[threadIdx.x];
      merge(&mm, &ll, red_m[threadIdx.x + s], red_l[threadIdx.x + s]);
      red_m[threadIdx.x] = mm;
      red_l[threadIdx.x] = ll;
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    float* st = p.scratch + (static_cast<int64_t>(blockIdx.x) * p.n_split + blockIdx.y) * 2;
    st[0] = red_m[0];
    st[1] = red_l[0];
  }
}

// Pass 2: probabilities (normalised over every range, then rounded with an F16 cache)
// times V, into the range's partial output.
__global__ void __launch_bounds__(kThreads) attention_values_kernel(AttentionLaunch p) {
  __shared__ float qs[kMaxHeadDimK];
  __shared__ float ps[kThreads];
  const Block b = block_of(p);
  load_q(p, b, qs);
  const float* st = p.scratch + static_cast<int64_t>(blockIdx.x) * p.n_split * 2;
  float m = -INFINITY, l = 0.0f;
  for (int s = 0; s < p.n_split; ++s) merge(&m, &l, st[2 * s], st[2 * s + 1]);
  const float inv = 1.0f / l;
  float acc[kAccPerThread];
  for (int i = 0; i < kAccPerThread; ++i) acc[i] = 0.0f;
  for (int64_t c0 = b.j0; c0 < b.j1; c0 += kThreads) {
    const int64_t j = c0 + threadIdx.x;
    float pj = 0.0f;
    if (j < b.j1) {
      pj = expf(score(p, b, qs, j) - m) * inv;
      if (p.f16) pj = half_to_f32(f32_to_half_bits(pj));
    }
    ps[threadIdx.x] = pj;
    __syncthreads();
    const int64_t n = min(static_cast<int64_t>(kThreads), b.j1 - c0);
    for (int i = 0; i < kAccPerThread; ++i) {
      const int d = static_cast<int>(threadIdx.x) + i * kThreads;
      if (d >= p.head_dim_v) break;
      float a = acc[i];
      if (p.f16) {
        const uint16_t* vr = static_cast<const uint16_t*>(p.v) + c0 * p.v_width + static_cast<int64_t>(b.g) * p.head_dim_v + d;
        for (int64_t jj = 0; jj < n; ++jj) a += ps[jj] * half_to_f32(vr[jj * p.v_width]);
      } else {
        const float* vr = static_cast<const float*>(p.v) + c0 * p.v_width + static_cast<int64_t>(b.g) * p.head_dim_v + d;
        for (int64_t jj = 0; jj < n; ++jj) a += ps[jj] * vr[jj * p.v_width];
      }
      acc[i] = a;
    }
    __syncthreads();
  }
  float* part = p.scratch + static_cast<int64_t>(gridDim.x) * p.n_split * 2 +
                (static_cast<int64_t>(blockIdx.x) * p.n_split + blockIdx.y) * p.head_dim_v;
  for (int i = 0; i < kAccPerThread; ++i) {
    const int d = static_cast<int>(threadIdx.x) + i * kThreads;
    if (d < p.head_dim_v) part[d] = acc[i];
  }
}

// The ranges' partial outputs summed into out.
__global__ void __launch_bounds__(kThreads) attention_reduce_kernel(AttentionLaunch p) {
  const int64_t t = blockIdx.x / p.n_head;
  const int h = static_cast<int>(blockIdx.x % p.n_head);
  const float* part = p.scratch + static_cast<int64_t>(gridDim.x) * p.n_split * 2 +
                      static_cast<int64_t>(blockIdx.x) * p.n_split * p.head_dim_v;
  float* out = p.out + t * p.out_stride + static_cast<int64_t>(h) * p.head_dim_v;
  for (int d = threadIdx.x; d < p.head_dim_v; d += blockDim.x) {
    float s = 0.0f;
    for (int r = 0; r < p.n_split; ++r) s += part[static_cast<int64_t>(r) * p.head_dim_v + d];
    out[d] = s;
  }
}

}  // namespace

size_t attention_scratch_floats(int64_t n_tok, int n_head, int n_split, int head_dim_v) {
  return static_cast<size_t>(n_tok) * n_head * n_split * (2 + static_cast<size_t>(head_dim_v));
}

void launch_attention(const AttentionLaunch& p) {
  const dim3 grid(static_cast<unsigned>(p.n_tok * p.n_head), static_cast<unsigned>(p.n_split));
  hipLaunchKernelGGL(attention_stats_kernel, grid, dim3(kThreads), 0, 0, p);
  hipLaunchKernelGGL(attention_values_kernel, grid, dim3(kThreads), 0, 0, p);
  hipLaunchKernelGGL(attention_reduce_kernel, dim3(static_cast<unsigned>(p.n_tok * p.n_head)), dim3(kThreads), 0, 0, p);
}

}  // namespace moecode::gpu
