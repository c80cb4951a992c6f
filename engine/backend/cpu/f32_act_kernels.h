// Reference-mode matmul kernels of the CPU backend (CpuOptions::f32_activations): the
// activations stay F32 and each weight row is dequantized exactly (the type's reference
// to_float) before an F32 dot product. Slower than the quantized-activation kernels and not
// what llama.cpp computes; for exactness checks that must not depend on where activations
// cross a Q8/F16 rounding boundary (e.g. a model against its moefied twin).
//
// Thread-safety: pure functions (a thread-local row buffer).
#pragma once

#include "engine/backend/cpu/weight_kernels.h"

namespace moecode::backend::cpu {

// Kernels for `type` with F32 activations; false when `type` cannot be dequantized.
bool weight_kernels_f32_act(quant::GgmlType type, WeightKernels* out);

}  // namespace moecode::backend::cpu
