// The GPU backend: the engine's Backend interface on an AMD or NVIDIA GPU through HIP
// (hip_kernels/kernels/*.hip, one source for both vendors). Weights are copied to device
// memory when a model loads (place_weights); activations and KV caches live in managed
// memory, which the host code of the model (routing, sampling) reads as it does on the CPU.
// What the GPU does not hold runs on an embedded CPU backend: layers past -ngl, routed
// experts kept in host memory (--cpu-moe / --n-cpu-moe, for models larger than the GPU),
// token embeddings (a gather, as llama.cpp keeps them), and weight formats without a GPU
// kernel. In a build without a GPU (MOECODE_HIP=OFF) make_gpu_backend says so.
//
// Thread-safety: as every Backend, used by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "engine/backend/backend.h"
#include "moecode/engine/result.h"

namespace moecode::backend {

struct GpuOptions {
  int device = 0;
  // Blocks blk.0 .. blk.N-1 on the GPU, the rest in host memory; the output head counts as
  // block n_layer (llama.cpp's -ngl). -1: everything.
  int n_gpu_layers = -1;
  int n_layer = 0;
  bool cpu_moe = false;  // routed experts of every block stay in host memory
  int n_cpu_moe = 0;     // routed experts of blk.0 .. blk.N-1 stay in host memory
  // The embedded CPU backend's.
  int n_threads = 0;
  bool f32_activations = false;
};

// "hip-amd" or "hip-nvidia" for what this binary's kernels were built for; "" without.
std::string_view gpu_build();
// GPUs usable now; 0 with the reason in *why (not built, no driver, no device).
int gpu_device_count(std::string* why);
Result<std::unique_ptr<Backend>> make_gpu_backend(const GpuOptions& options);

}  // namespace moecode::backend
