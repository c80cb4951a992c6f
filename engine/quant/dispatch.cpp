// Run-time choice of the kernel table from the CPU's features (and MOECODE_ISA), plus the
// small helpers of kernels.h. Thread-safe: the choice is a function-local static.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "engine/quant/cpu_features.h"
#include "engine/quant/kernels.h"
#include "moecode/engine/result.h"

#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace moecode::quant {

namespace {

bool cpu_has(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return true;
#if defined(__x86_64__) && defined(MOECODE_QUANT_X86)
    case Isa::kAvx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case Isa::kAvx512:
      return cpu_has(Isa::kAvx2) && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
    case Isa::kAmx:
      return cpu_has(Isa::kAvx512) && cpu_amx_usable();
#endif
    default:
      return false;
  }
}

const KernelTable* table_of(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return &scalar_kernel_table();
    case Isa::kAvx2:
      return avx2_kernel_table();
    case Isa::kAvx512:
      return avx512_kernel_table();
    case Isa::kAmx:
      return amx_kernel_table();
  }
  return nullptr;
}

const KernelTable& choose() {
  Isa best = Isa::kScalar;
  for (Isa isa : available_isas()) best = isa;
  const char* env = std::getenv("MOECODE_ISA");
  if (env != nullptr && *env != '\0') {
    Isa asked = best;
    bool known = true;
    if (std::strcmp(env, "scalar") == 0) {
      asked = Isa::kScalar;
    } else if (std::strcmp(env, "avx2") == 0) {
      asked = Isa::kAvx2;
    } else if (std::strcmp(env, "avx512") == 0) {
      asked = Isa::kAvx512;
    } else if (std::strcmp(env, "amx") == 0) {
      asked = Isa::kAmx;
    } else {
      known = false;
      std::fprintf(stderr, "moecode: MOECODE_ISA='%s' is not one of scalar, avx2, avx512, amx; using %s\n", env,
                   isa_name(best));
    }
    if (known && static_cast<int>(asked) > static_cast<int>(best)) {
      std::fprintf(stderr, "moecode: MOECODE_ISA=%s is not available on this CPU; using %s\n", env, isa_name(best));
    } else if (known) {
      best = asked;
    }
  }
  const KernelTable* t = table_of(best);
  MOE_ASSERT(t != nullptr);
  return *t;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAmx:
      return "amx";
  }
  return "unknown";
}

bool cpu_amx_usable() {
#if defined(__linux__) && defined(__x86_64__)
  static const bool usable = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    if (!__get_cpuid(1, &a, &b, &c, &d) || (c & bit_OSXSAVE) == 0) return false;
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
    constexpr unsigned kAmxTile = 1u << 24, kAmxInt8 = 1u << 25;
    if ((d & kAmxTile) == 0 || (d & kAmxInt8) == 0) return false;
    unsigned lo = 0, hi = 0;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    constexpr unsigned kTileCfg = 1u << 17, kTileData = 1u << 18;  // XCR0: the OS saves both
    if ((lo & kTileCfg) == 0 || (lo & kTileData) == 0) return false;
    // Linux enables the tile data state per process, on request (since 5.16).
    constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
    if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) != 0) return false;
    return amx_tiles_run();
  }();
  return usable;
#else
  return false;
#endif
}

size_t packed_group_bytes(int64_t n) {
  return static_cast<size_t>(n / 32) * (2 * kPackCols * sizeof(float) + 32 * kPackCols);
}

std::vector<Isa> available_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAmx}) {
    if (cpu_has(isa) && table_of(isa) != nullptr) out.push_back(isa);
  }
  return out;
}

const KernelTable* kernels_for(Isa isa) { return cpu_has(isa) ? table_of(isa) : nullptr; }

const KernelTable& kernels() {
  static const KernelTable& chosen = choose();
  return chosen;
}

Isa active_isa() { return kernels().isa; }

GgmlType vec_dot_type(GgmlType weight_type) { return type_traits(weight_type).vec_dot_type; }

bool has_vec_dot(GgmlType weight_type) {
  const auto id = static_cast<uint32_t>(weight_type);
  return id < static_cast<uint32_t>(kTypeSlots) && scalar_kernel_table().vec_dot[id] != nullptr;
}

float dot_f32_reference(GgmlType weight_type, int64_t n, const void* w, const float* x) {
  const TypeTraits& t = type_traits(weight_type);
  MOE_ASSERT(t.to_float != nullptr && n % t.block_size == 0);
  // One block (or, for the float types, a chunk of 256 elements) at a time.
  const int64_t chunk = t.block_size == 1 ? 256 : t.block_size;
  const size_t chunk_bytes = static_cast<size_t>(chunk / t.block_size) * t.type_size;
  float buf[256];
  double s = 0;
  for (int64_t i = 0; i < n; i += chunk) {
    const int64_t m = n - i < chunk ? n - i : chunk;
    t.to_float(static_cast<const uint8_t*>(w) + static_cast<size_t>(i / chunk) * chunk_bytes, buf, m);
    for (int64_t j = 0; j < m; ++j) s += static_cast<double>(buf[j]) * x[i + j];
  }
  return static_cast<float>(s);
}

}  // namespace moecode::quant
