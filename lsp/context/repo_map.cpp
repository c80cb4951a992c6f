// PageRank over the reference graph, cached by a signature of the index's files.
#include "lsp/context/repo_map.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <unordered_map>

namespace moecode::context {

using workspace::FileEntry;
using workspace::FileId;

namespace {

constexpr size_t kMaxDefiningFiles = 20;  // a name defined in more files says little

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2);
  return h;
}

}  // namespace

std::vector<double> pagerank(const std::vector<std::vector<std::pair<uint32_t, double>>>& out_edges,
                             int max_iterations, double tolerance) {
  const size_t n = out_edges.size();
  if (n == 0) return {};
  constexpr double kDamping = 0.85;
  std::vector<double> out_sum(n, 0.0);
  for (size_t a = 0; a < n; ++a) {
    for (const auto& [b, w] : out_edges[a]) out_sum[a] += w;
  }
  std::vector<double> r(n, 1.0 / n), next(n);
  for (int it = 0; it < max_iterations; ++it) {
    double dangling = 0;
    for (size_t a = 0; a < n; ++a) {
      if (out_sum[a] <= 0) dangling += r[a];
    }
    const double base = (1.0 - kDamping) / n + kDamping * dangling / n;
    std::fill(next.begin(), next.end(), base);
    for (size_t a = 0; a < n; ++a) {
      if (out_sum[a] <= 0) continue;
      const double share = kDamping * r[a] / out_sum[a];
      for (const auto& [b, w] : out_edges[a]) next[b] += share * w;
    }
    double delta = 0;
    for (size_t i = 0; i < n; ++i) delta += std::abs(next[i] - r[i]);
    r.swap(next);
    if (delta < tolerance) break;
  }
  return r;
}

std::shared_ptr<const std::vector<RankedFile>> RepoRanker::rank(const workspace::SymbolIndex::View& view,
                                                                std::optional<FileId> exclude) const {
  // Nodes: every file but `exclude`, by path.
  std::vector<const FileEntry*> files;
  uint64_t key = exclude ? mix(1, *exclude + 1) : 2;
  view.for_each_file([&](const FileEntry& f) {
    if (exclude && f.id == *exclude) return;
    files.push_back(&f);
    key = mix(mix(key, f.id), f.version);
  });
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (valid_ && key_ == key) return cached_;
  }
  std::sort(files.begin(), files.end(), [](const FileEntry* a, const FileEntry* b) { return a->path < b->path; });
  std::unordered_map<FileId, uint32_t> node_of;
  node_of.reserve(files.size());
  for (uint32_t i = 0; i < files.size(); ++i) node_of[files[i]->id] = i;

  std::vector<std::vector<std::pair<uint32_t, double>>> edges(files.size());
  std::vector<workspace::NameCount> names;
  std::unordered_map<uint32_t, double> row;
  std::vector<uint32_t> targets;
  for (uint32_t a = 0; a < files.size(); ++a) {
    // The names in text order: a fixed order of the sums below.
    names.assign(files[a]->ref_names.begin(), files[a]->ref_names.end());
    std::sort(names.begin(), names.end(), [](const auto& x, const auto& y) { return x.name.view() < y.name.view(); });
    row.clear();
    for (const auto& [name, count] : names) {
      const double uses = static_cast<double>(count);
      targets.clear();
      for (const auto& d : view.definitions_of(name)) {
        auto it = node_of.find(d.file);
        if (it == node_of.end() || it->second == a) continue;
        targets.push_back(it->second);
      }
      std::sort(targets.begin(), targets.end());
      targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
      if (targets.empty() || targets.size() > kMaxDefiningFiles) continue;
      double w = std::sqrt(uses) / static_cast<double>(targets.size());
      if (name.view().starts_with("_")) w *= 0.1;
      for (uint32_t b : targets) row[b] += w;
    }
    edges[a].assign(row.begin(), row.end());
    std::sort(edges[a].begin(), edges[a].end());  // a fixed summation order: deterministic
  }
  const std::vector<double> pr = pagerank(edges);
  auto ranked = std::make_shared<std::vector<RankedFile>>();
  ranked->reserve(files.size());
  for (uint32_t i = 0; i < files.size(); ++i) ranked->push_back({files[i]->id, pr[i]});
  // Ranks that differ only by float noise count as ties (decided by path: `files` is in
  // path order and the sort is stable).
  auto quantized = [](double r) { return std::llround(r * 1e12); };
  std::stable_sort(ranked->begin(), ranked->end(),
                   [&](const RankedFile& x, const RankedFile& y) { return quantized(x.rank) > quantized(y.rank); });
  std::lock_guard<std::mutex> lock(mu_);
  key_ = key;
  valid_ = true;
  cached_ = std::move(ranked);
  return cached_;
}

}  // namespace moecode::context
