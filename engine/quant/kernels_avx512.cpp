// AVX-512 instance of the x86 kernels: int8 dots with VNNI (vpdpbusd on 256-bit vectors,
// AVX512-VL, and the 32-element formats' prefill tiles on 512-bit vectors, two blocks per
// instruction), Q4_K and Q6_K on 512-bit vectors (two sub-blocks or quant vectors per instruction), float dots and
// conversions on 512-bit vectors. Compiled with -mavx512f
// -mavx512bw -mavx512vl -mavx512vnni -mavx2 -mfma -mf16c; only called when the CPU has all
// of them. Thread-safe (see kernels_x86.inc).
#include "engine/quant/kernels.h"

#if defined(__x86_64__) && defined(MOECODE_QUANT_X86)
#define MOE_X86_NS avx512
#define MOE_X86_ISA Isa::kAvx512
#define MOE_X86_VNNI 1
#define MOE_X86_512 1
#include "engine/quant/kernels_x86.inc"

namespace moecode::quant {
const KernelTable* avx512_kernel_table() { return &avx512::table(); }
}  // namespace moecode::quant
#else
namespace moecode::quant {
const KernelTable* avx512_kernel_table() { return nullptr; }
}  // namespace moecode::quant
#endif
