// Build identity of the engine: version and compiled-in backends. Thread-safe (constants).
#pragma once

#include <string>
#include <vector>

namespace moecode::engine {

// "0.1.0"
const char* version();
// Backends compiled into this binary, e.g. {"cpu"} or {"cpu", "hip-AMD"}.
std::vector<std::string> compiled_backends();
// The SIMD kernel set the CPU backend picked on this machine: "avx512", "avx2" or "scalar".
std::string cpu_kernel_isa();

}  // namespace moecode::engine
