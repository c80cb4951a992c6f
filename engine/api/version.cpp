// Build identity of the engine.
#include "moecode/engine/version.h"

#include <sstream>

#include "engine/quant/kernels.h"

namespace moecode::engine {

const char* version() { return MOECODE_VERSION; }

std::vector<std::string> compiled_backends() {
  std::vector<std::string> out;
  std::stringstream ss(MOECODE_BACKENDS);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

std::string cpu_kernel_isa() { return quant::isa_name(quant::active_isa()); }

}  // namespace moecode::engine
