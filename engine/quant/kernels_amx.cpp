// AMX instance: the AVX-512 table plus prefill GEMMs on AMX-INT8 tiles over packed
// activations (kernels_amx.inc). Compiled with the AVX-512 flags and -mamx-tile -mamx-int8;
// only called when cpu_amx_usable(). Thread-safe (see kernels_amx.inc).
#include "engine/quant/kernels.h"

#if defined(__x86_64__) && defined(MOECODE_QUANT_AMX)
#include <sys/wait.h>
#include <cerrno>
#include <unistd.h>

#define MOE_AMX_NS amx
#define MOE_AMX_EMULATED 0
#include "engine/quant/kernels_amx.inc"

namespace moecode::quant {

// Some hypervisors advertise AMX, set XCR0 and grant the permission, and still fault on the
// first tile instruction (TOOLCHAIN.md: seen on our KVM Xeons): so the tiles are tried once
// in a child process, which a fault kills instead of us.
bool amx_tiles_run() {
  const pid_t pid = fork();
  if (pid < 0) return false;
  if (pid == 0) {
    alignas(64) int32_t c[16][16];
    amx::tiles_begin();
    MOE_TILE_ZERO(2);
    MOE_TILE_STORE(2, c, 64);
    amx::tiles_end();
    _exit(c[3][5] == 0 ? 0 : 1);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return false;
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

namespace {
// Below this many columns the AVX-512 tiles (4 x 3 per pass, no packing) are as fast.
constexpr int64_t kAmxMinCols = 16;

KernelTable make_amx_table() {
  const KernelTable* base = avx512_kernel_table();
  KernelTable t = base != nullptr ? *base : scalar_kernel_table();
  t.isa = Isa::kAmx;
  amx::add_packed(t, kAmxMinCols);
  return t;
}
}  // namespace

const KernelTable* amx_kernel_table() {
  if (avx512_kernel_table() == nullptr) return nullptr;
  static const KernelTable t = make_amx_table();
  return &t;
}
}  // namespace moecode::quant
#else
namespace moecode::quant {
bool amx_tiles_run() { return false; }
const KernelTable* amx_kernel_table() { return nullptr; }
}  // namespace moecode::quant
#endif
