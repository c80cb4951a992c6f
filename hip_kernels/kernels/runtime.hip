// GPU runtime calls (see runtime.h).
#include "kernels/runtime.h"

#include <string>

#include "gpu_compat.h"

namespace moecode::gpu {
namespace {

bool ok(hipError_t e, const char* what, std::string* err) {
  if (e == hipSuccess) return true;
  if (err) *err = std::string(what) + ": " + hipGetErrorString(e);
  return false;
}

}  // namespace

const char* build_name() {
#if defined(MOECODE_GPU_NVIDIA)
  return "hip-nvidia";
#else
  return "hip-amd";
#endif
}

int device_count(std::string* why) {
  int n = 0;
  const hipError_t e = hipGetDeviceCount(&n);
  if (e != hipSuccess) {
    // Clear the sticky error so later calls report their own.
    (void)hipGetLastError();
    if (why) *why = std::string("no usable GPU (") + hipGetErrorString(e) + ")";
    return 0;
  }
  if (n == 0 && why) *why = "no GPU found";
  return n;
}

bool use_device(int device, DeviceInfo* info, std::string* err) {
  if (!ok(hipSetDevice(device), "hipSetDevice", err)) return false;
  hipDeviceProp_t p{};
  if (!ok(hipGetDeviceProperties(&p, device), "hipGetDeviceProperties", err)) return false;
  info->name = p.name;
#if defined(MOECODE_GPU_NVIDIA)
  info->arch = "sm_" + std::to_string(p.major) + std::to_string(p.minor);
  int clock_khz = 0, bus_bits = 0;
  cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device);
  cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device);
  info->bandwidth_gbs = 2.0 * clock_khz * 1e3 * (bus_bits / 8.0) / 1e9;
#else
  info->arch = p.gcnArchName;
  info->bandwidth_gbs = 2.0 * p.memoryClockRate * 1e3 * (p.memoryBusWidth / 8.0) / 1e9;
#endif
  info->warp_size = p.warpSize;
  info->n_multiprocessors = p.multiProcessorCount;
  return mem_info(&info->free_bytes, &info->total_bytes) || ok(hipGetLastError(), "hipMemGetInfo", err);
}

bool mem_info(size_t* free_bytes, size_t* total_bytes) {
  return hipMemGetInfo(free_bytes, total_bytes) == hipSuccess;
}

void* alloc_device(size_t n, std::string* err) {
  void* p = nullptr;
  if (!ok(hipMalloc(&p, n == 0 ? 1 : n), "hipMalloc", err)) {
    (void)hipGetLastError();
    return nullptr;
  }
  return p;
}

void* alloc_managed(size_t n, std::string* err) {
  void* p = nullptr;
  if (!ok(hipMallocManaged(&p, n == 0 ? 1 : n, hipMemAttachGlobal), "hipMallocManaged", err)) {
    (void)hipGetLastError();
    return nullptr;
  }
  return p;
}

void free_memory(void* p) {
  if (p) (void)hipFree(p);
}

bool copy(void* dst, const void* src, size_t n, std::string* err) {
  if (n == 0) return true;
  return ok(hipMemcpy(dst, src, n, hipMemcpyDefault), "hipMemcpy", err);
}

bool synchronize(std::string* err) {
  if (!ok(hipGetLastError(), "kernel launch", err)) return false;
  return ok(hipDeviceSynchronize(), "kernel execution", err);
}

}  // namespace moecode::gpu
