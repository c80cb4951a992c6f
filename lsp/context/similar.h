// Similar windows: the text near the cursor compared with windows of other files by the
// Jaccard index of their identifier sets (the "neighbouring tabs" idea of Copilot).
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace moecode::context {

// The set of identifiers/words ([A-Za-z_$][A-Za-z0-9_$]*, at least 2 bytes) of a text, as
// sorted unique 64-bit hashes.
class TokenSet {
 public:
  TokenSet() = default;
  explicit TokenSet(std::string_view text);
  size_t size() const { return hashes_.size(); }
  bool empty() const { return hashes_.empty(); }
  const std::vector<uint64_t>& hashes() const { return hashes_; }

 private:
  std::vector<uint64_t> hashes_;
};

double jaccard(const TokenSet& a, const TokenSet& b);

struct SimilarWindow {
  uint32_t start_line = 0;  // 0-based
  uint32_t end_line = 0;    // 0-based, exclusive
  double score = 0;
};

// The best non-overlapping windows of `window_lines` lines (stride window_lines / 2) of
// `text` by Jaccard similarity to `query`, at least `min_score`, best first (ties: earlier).
std::vector<SimilarWindow> best_windows(std::string_view text, const TokenSet& query, uint32_t window_lines,
                                        size_t max_windows, double min_score);

}  // namespace moecode::context
