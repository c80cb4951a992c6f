// One source for AMD and NVIDIA: the .hip files include this header instead of
// <hip/hip_runtime.h>. On AMD (hipcc / clang -x hip) it is HIP itself. On NVIDIA the .hip files
// are compiled by nvcc as CUDA, and the names they use are mapped to CUDA's here: Debian's HIP
// headers for NVIDIA (hip/nvidia_detail) no longer compile against CUDA 12/13 (see
// ../shared/TOOLCHAIN.md §5.2), so only the small subset moecode uses is mapped.
//
// Warp size differs by target (64 on CDNA, 32 on RDNA and NVIDIA): kernels ask for it with
// gpu_warp_size() and pass shuffle widths explicitly, never a literal 32.
#pragma once

#if defined(__CUDACC__) && !defined(__HIP__)
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#define MOECODE_GPU_NVIDIA 1
using hipError_t = cudaError_t;
using hipStream_t = cudaStream_t;
using hipDeviceProp_t = cudaDeviceProp;
#define hipSuccess cudaSuccess
#define hipErrorMemoryAllocation cudaErrorMemoryAllocation
#define hipMalloc cudaMalloc
#define hipMallocManaged cudaMallocManaged
#define hipMemAttachGlobal cudaMemAttachGlobal
#define hipFree cudaFree
#define hipMemcpy cudaMemcpy
#define hipMemcpyAsync cudaMemcpyAsync
#define hipMemset cudaMemset
#define hipMemsetAsync cudaMemsetAsync
#define hipMemcpyHostToDevice cudaMemcpyHostToDevice
#define hipMemcpyDeviceToHost cudaMemcpyDeviceToHost
#define hipMemcpyDeviceToDevice cudaMemcpyDeviceToDevice
#define hipMemcpyDefault cudaMemcpyDefault
#define hipMemGetInfo cudaMemGetInfo
#define hipGetErrorString cudaGetErrorString
#define hipGetLastError cudaGetLastError
#define hipDeviceSynchronize cudaDeviceSynchronize
#define hipGetDeviceCount cudaGetDeviceCount
#define hipGetDeviceProperties cudaGetDeviceProperties
#define hipSetDevice cudaSetDevice
#define hipStreamCreate cudaStreamCreate
#define hipStreamDestroy cudaStreamDestroy
#define hipStreamSynchronize cudaStreamSynchronize
#define hipLaunchKernelGGL(kernel, grid, block, shmem, stream, ...) \
  kernel<<<(grid), (block), (shmem), (stream)>>>(__VA_ARGS__)

// All lanes take part in every shuffle moecode makes.
__device__ inline float gpu_shfl_xor(float v, int mask, int width) {
  return __shfl_xor_sync(0xffffffffu, v, mask, width);
}
#else
#include <hip/hip_fp16.h>
#include <hip/hip_runtime.h>

#define MOECODE_GPU_AMD 1
// HIP 5.2 has no _sync shuffles; a wavefront executes them together.
__device__ inline float gpu_shfl_xor(float v, int mask, int width) { return __shfl_xor(v, mask, width); }
#endif

// The target's warp (wavefront) size, as the device code sees it.
__device__ inline int gpu_warp_size() { return warpSize; }

// Sum over the lanes of a warp; every lane gets the total.
__device__ inline float gpu_warp_sum(float v) {
  for (int m = warpSize / 2; m > 0; m >>= 1) v += gpu_shfl_xor(v, m, warpSize);
  return v;
}
// Maximum over the lanes of a warp; every lane gets it.
__device__ inline float gpu_warp_max(float v) {
  for (int m = warpSize / 2; m > 0; m >>= 1) v = fmaxf(v, gpu_shfl_xor(v, m, warpSize));
  return v;
}
