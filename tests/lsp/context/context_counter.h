// Test helper: the token counter context tests use, and the token sequence it implies
// (for common-prefix measurements). For tests only.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "lsp/context/token_counter.h"
#include "test_repo.h"

namespace moecode::testing {

inline const context::TokenCounter& context_counter() {
  static const context::HeuristicCounter counter;
  return counter;
}

inline std::vector<std::string> context_tokens(std::string_view text) { return heuristic_pieces(text); }

}  // namespace moecode::testing
