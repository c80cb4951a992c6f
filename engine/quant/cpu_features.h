// CPU feature checks that both GCC and clang accept. __builtin_cpu_supports covers most
// x86 features, but clang before 15 rejects "f16c" (the libFuzzer builds use clang-14), so
// F16C is read from CPUID directly. Thread-safe (pure queries).
#pragma once

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace moecode::quant {

// F16C (half <-> float conversions): CPUID leaf 1, ECX bit 29.
inline bool cpu_has_f16c() {
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) != 0;
#else
  return false;
#endif
}

}  // namespace moecode::quant
