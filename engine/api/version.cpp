// Build identity of the engine.
#include "moecode/engine/version.h"

#include <sstream>

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

}  // namespace moecode::engine
