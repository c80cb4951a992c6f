// AVX2 + FMA + F16C instance of the x86 kernels (compiled with -mavx2 -mfma -mf16c; only
// called when the CPU has them). Thread-safe (see kernels_x86.inc).
#include "engine/quant/kernels.h"

#if defined(__x86_64__) && defined(MOECODE_QUANT_X86)
#define MOE_X86_NS avx2
#define MOE_X86_ISA Isa::kAvx2
#define MOE_X86_VNNI 0
#define MOE_X86_512 0
#include "engine/quant/kernels_x86.inc"

namespace moecode::quant {
const KernelTable* avx2_kernel_table() { return &avx2::table(); }
}  // namespace moecode::quant
#else
namespace moecode::quant {
const KernelTable* avx2_kernel_table() { return nullptr; }
}  // namespace moecode::quant
#endif
