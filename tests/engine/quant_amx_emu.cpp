// The AMX prefill GEMMs (engine/quant/kernels_amx.inc) compiled once more with the tile
// instructions emulated in scalar code, so that the activation packing, the block loop and the
// scaling are tested on every CPU, AMX or not. Test-only.
#include "engine/quant/kernels.h"

#define MOE_AMX_NS amx_emu
#define MOE_AMX_EMULATED 1
#include "engine/quant/kernels_amx.inc"

namespace moecode::quant {
// The scalar table plus the emulated packed GEMMs (packed_min_cols 1: every shape).
const KernelTable* amx_emulated_kernel_table() {
  static const KernelTable t = [] {
    KernelTable k = scalar_kernel_table();
    amx_emu::add_packed(k, 1);
    return k;
  }();
  return &t;
}
}  // namespace moecode::quant
