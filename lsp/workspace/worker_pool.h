// How many parse threads a full index build uses by default (SymbolIndex::build hands the
// walk's files to them as it finds them: index.cpp).
#pragma once

#include <algorithm>
#include <thread>

namespace moecode::workspace {

// min(hardware threads, 8), at least 1.
inline int default_worker_count() {
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp<unsigned>(hw == 0 ? 1 : hw, 1, 8));
}

}  // namespace moecode::workspace
