// The CPU backend: every op of backend::Backend on a thread pool, with row-parallel
// quantized matmuls (activations converted once to the format the weight type pairs with,
// then tiles of rows x tokens through engine/quant's dot kernels) and float kernels for
// the rest (vec.h). Weights are read where they lie (the GGUF mapping), never copied.
//
// Thread-safety: one caller at a time (see backend.h); the pool's workers only run inside
// an op. Scratch memory grows to the largest batch seen and is then reused, so decoding
// allocates nothing.
#pragma once

#include <memory>

#include "engine/backend/backend.h"

namespace moecode::backend {

struct CpuOptions {
  int n_threads = 0;  // 0: physical cores
  // Reference mode: activations stay F32, weight rows are dequantized (f32_act_kernels.h).
  bool f32_activations = false;
};

std::unique_ptr<Backend> make_cpu_backend(const CpuOptions& options);

// Physical cores of this machine (at least 1), from /proc/cpuinfo when it says.
int physical_cores();

namespace cpu {

// How a weight type is multiplied: its activation format and kernels. For tests and the
// backend itself.
struct MatmulPlan {
  quant::GgmlType act_type = quant::GgmlType::F32;  // what x is converted to
  bool supported = false;
};
MatmulPlan matmul_plan(quant::GgmlType weight_type);

}  // namespace cpu

}  // namespace moecode::backend
