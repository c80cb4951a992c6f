// The GPU runtime calls the backend makes (device query, memory, copies, synchronisation),
// behind plain C++ signatures so that hip_backend.cpp is ordinary C++ and only the .hip
// files need a GPU compiler. Errors come back as false plus a message naming the call.
#pragma once

#include <cstddef>
#include <string>

namespace moecode::gpu {

struct DeviceInfo {
  std::string name;
  std::string arch;        // "gfx90a", "sm_90", ...
  size_t total_bytes = 0;
  size_t free_bytes = 0;
  int warp_size = 32;
  int n_multiprocessors = 0;
  double bandwidth_gbs = 0;  // peak memory bandwidth the driver reports (0: unknown)
};

// "hip-amd" or "hip-nvidia": what these kernels were compiled for.
const char* build_name();
// Devices the runtime sees; 0 with the runtime's reason in *why (no driver, no device).
int device_count(std::string* why);
bool use_device(int device, DeviceInfo* info, std::string* err);
bool mem_info(size_t* free_bytes, size_t* total_bytes);

// nullptr (and *err) when the memory cannot be had.
void* alloc_device(size_t n, std::string* err);
// Memory both the host and the device can address (the activations, the KV cache).
void* alloc_managed(size_t n, std::string* err);
void free_memory(void* p);
// Any direction (unified addressing); synchronous.
bool copy(void* dst, const void* src, size_t n, std::string* err);
// Waits for every launched kernel; false with the first launch or execution error.
bool synchronize(std::string* err);

}  // namespace moecode::gpu
