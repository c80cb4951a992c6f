// Uncompressed parse tables for the grammars' hot path (see languages.h).
//
// A generated grammar stores its first `large_state_count` parse states as rows of a dense
// [state][symbol] table and every other state as a list of (action, symbols) groups. The
// tree-sitter runtime (0.20.7) reads a small state's entry by scanning that list, on every
// token, every reduction and, during error recovery, for every token symbol in turn: on
// /usr/include that scan was 18 % of a cold index. The runtime reads the dense layout for any
// state below large_state_count, so a copy of the language whose table holds every state
// as a dense row (and large_state_count = state_count) gives the same trees from the same
// data, with each lookup an index.
#include "grammars/languages.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

// The grammar ABI's TSLanguage (the runtime's api.h only declares it). Every ABI-14 grammar
// ships the same header; tree-sitter 0.20.7's api.h leaves TSStateId to it.
typedef uint16_t TSStateId;
#include "tree_sitter/parser.h"

namespace moecode::grammars {

namespace {

constexpr uint32_t kAbiVersion = 14;                 // the layout of parser.h's TSLanguage
constexpr size_t kMaxDenseBytes = size_t{16} << 20;  // per language

std::atomic<size_t> g_dense_bytes{0};

}  // namespace

const TSLanguage* with_dense_parse_table(const TSLanguage* language) {
  if (!language || ts_language_version(language) != kAbiVersion) return language;
  const TSLanguage& src = *language;
  if (src.large_state_count >= src.state_count || src.symbol_count == 0) return language;
  const size_t n_states = src.state_count, n_symbols = src.symbol_count;
  if (n_states * n_symbols * sizeof(uint16_t) > kMaxDenseBytes) return language;
  std::unique_ptr<uint16_t[]> table(new uint16_t[n_states * n_symbols]());
  std::memcpy(table.get(), src.parse_table, sizeof(uint16_t) * src.large_state_count * n_symbols);
  for (size_t state = src.large_state_count; state < n_states; ++state) {
    // [group count] then per group: [value] [symbol count] [symbols...]
    const uint16_t* p = &src.small_parse_table[src.small_parse_table_map[state - src.large_state_count]];
    const uint16_t n_groups = *p++;
    for (uint16_t g = 0; g < n_groups; ++g) {
      const uint16_t value = *p++;
      const uint16_t n = *p++;
      for (uint16_t i = 0; i < n; ++i, ++p) {
        if (*p >= n_symbols) return language;  // not the layout we know: keep the original
        uint16_t& cell = table[state * n_symbols + *p];
        if (cell == 0) cell = value;  // the scan returns the first group that lists the symbol
      }
    }
  }
  // Both live as long as the process (the runtime keeps the pointer in every tree).
  auto* dense = new TSLanguage(src);
  dense->parse_table = table.release();
  dense->large_state_count = src.state_count;
  g_dense_bytes += n_states * n_symbols * sizeof(uint16_t);
  return dense;
}

size_t dense_parse_table_bytes() { return g_dense_bytes.load(); }

}  // namespace moecode::grammars
