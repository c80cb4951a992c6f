// The x86 kernels compiled once more with AVX2 flags and vpdpbusd emulated in scalar code,
// so that the VNNI code path of kernels_x86.inc (used by the AVX-512 table) is tested on
// CPUs without AVX-512 VNNI too. Test-only.
#include "engine/quant/kernels.h"

#if defined(__x86_64__) && defined(__AVX2__)
#define MOE_X86_NS vnni_emu
#define MOE_X86_ISA Isa::kAvx2
#define MOE_X86_VNNI 2
#define MOE_X86_512 0
#include "engine/quant/kernels_x86.inc"

namespace moecode::quant {
const KernelTable* vnni_emulated_kernel_table() {
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c")
             ? &vnni_emu::table()
             : nullptr;
}
}  // namespace moecode::quant
#else
namespace moecode::quant {
const KernelTable* vnni_emulated_kernel_table() { return nullptr; }
}  // namespace moecode::quant
#endif
