// Token sets and sliding-window Jaccard similarity.
#include "lsp/context/similar.h"

#include <algorithm>

#include "lsp/context/token_counter.h"

namespace moecode::context {

namespace {

bool ident_start(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$'; }
bool ident_char(unsigned char c) { return ident_start(c) || (c >= '0' && c <= '9'); }

void collect(std::string_view text, std::vector<uint64_t>* out) {
  size_t i = 0;
  while (i < text.size()) {
    if (!ident_start(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < text.size() && ident_char(static_cast<unsigned char>(text[j]))) ++j;
    if (j - i >= 2) out->push_back(text_hash(text.substr(i, j - i)));
    i = j;
  }
}

}  // namespace

TokenSet::TokenSet(std::string_view text) {
  collect(text, &hashes_);
  std::sort(hashes_.begin(), hashes_.end());
  hashes_.erase(std::unique(hashes_.begin(), hashes_.end()), hashes_.end());
}

double jaccard(const TokenSet& a, const TokenSet& b) {
  if (a.empty() || b.empty()) return 0;
  size_t inter = 0, i = 0, j = 0;
  const auto& x = a.hashes();
  const auto& y = b.hashes();
  while (i < x.size() && j < y.size()) {
    if (x[i] == y[j]) ++inter, ++i, ++j;
    else if (x[i] < y[j]) ++i;
    else ++j;
  }
  return static_cast<double>(inter) / static_cast<double>(x.size() + y.size() - inter);
}

std::vector<SimilarWindow> best_windows(std::string_view text, const TokenSet& query, uint32_t window_lines,
                                        size_t max_windows, double min_score) {
  std::vector<SimilarWindow> out;
  if (query.empty() || window_lines == 0 || max_windows == 0) return out;
  std::vector<size_t> starts{0};
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n' && i + 1 < text.size()) starts.push_back(i + 1);
  }
  const uint32_t n_lines = static_cast<uint32_t>(starts.size());
  const uint32_t stride = std::max<uint32_t>(1, window_lines / 2);
  std::vector<SimilarWindow> all;
  for (uint32_t s = 0; s < n_lines; s += stride) {
    const uint32_t e = std::min(n_lines, s + window_lines);
    const size_t b = starts[s], end = e < n_lines ? starts[e] : text.size();
    const double score = jaccard(query, TokenSet(text.substr(b, end - b)));
    if (score >= min_score) all.push_back({s, e, score});
    if (e == n_lines) break;
  }
  std::stable_sort(all.begin(), all.end(), [](const SimilarWindow& a, const SimilarWindow& b) { return a.score > b.score; });
  for (const auto& w : all) {
    const bool overlaps = std::any_of(out.begin(), out.end(), [&](const SimilarWindow& o) {
      return w.start_line < o.end_line && o.start_line < w.end_line;
    });
    if (overlaps) continue;
    out.push_back(w);
    if (out.size() == max_windows) break;
  }
  return out;
}

}  // namespace moecode::context
