// Build identity of the engine: version and compiled-in backends. Thread-safe (constants).
#pragma once

#include <string>
#include <vector>

namespace moecode::engine {

// "0.1.0"
const char* version();
// Backends compiled into this binary, e.g. {"cpu"} or {"cpu", "hip-AMD"}.
std::vector<std::string> compiled_backends();

}  // namespace moecode::engine
