// The repo map's ranking: PageRank over the file reference graph (an edge A -> B when A
// references a name that B defines; weight sqrt(uses) split among the defining files,
// names defined in many files or starting with '_' weigh less), as aider's repo map does.
// The cursor file is left out of the graph, so typing in it never moves the ranking (and
// consecutive prompts keep their repo-map prefix). Results are cached per index state.
// Thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "lsp/workspace/index.h"

namespace moecode::context {

struct RankedFile {
  workspace::FileId id = 0;
  double rank = 0;
};

class RepoRanker {
 public:
  // Every file except `exclude`, best first (ties by path).
  std::shared_ptr<const std::vector<RankedFile>> rank(const workspace::SymbolIndex::View& view,
                                                      std::optional<workspace::FileId> exclude) const;

 private:
  mutable std::mutex mu_;
  mutable uint64_t key_ = 0;
  mutable bool valid_ = false;
  mutable std::shared_ptr<const std::vector<RankedFile>> cached_;
};

// PageRank of a weighted graph given as per-node out-edges (target, weight); damping 0.85,
// dangling nodes spread uniformly. Exposed for tests.
std::vector<double> pagerank(const std::vector<std::vector<std::pair<uint32_t, double>>>& out_edges,
                             int max_iterations = 50, double tolerance = 1e-9);

}  // namespace moecode::context
