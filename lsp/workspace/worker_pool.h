// A bounded pool for one batch of independent jobs: parallel_for() runs fn(worker, i) for
// every i in [0, n) on at most n_workers threads (the calling thread is one of them) and
// returns when all are done. Jobs are taken in index order from a shared counter, so each
// worker holds one job at a time. Thread-safe; fn must be safe to call concurrently for
// different i (worker is in [0, n_workers) and identifies per-worker state).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <thread>
#include <vector>

namespace moecode::workspace {

// min(hardware threads, 8), at least 1.
inline int default_worker_count() {
  const unsigned hw = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp<unsigned>(hw == 0 ? 1 : hw, 1, 8));
}

template <typename Fn>
void parallel_for(size_t n, int n_workers, Fn&& fn, const std::atomic<bool>* cancel = nullptr) {
  n_workers = std::max(1, std::min<int>(n_workers, static_cast<int>(std::max<size_t>(n, 1))));
  std::atomic<size_t> next{0};
  auto work = [&](int worker) {
    for (;;) {
      if (cancel && cancel->load(std::memory_order_relaxed)) return;
      const size_t i = next.fetch_add(1, std::memory_order_relaxed);
      if (i >= n) return;
      fn(worker, i);
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(n_workers - 1));
  for (int w = 1; w < n_workers; ++w) threads.emplace_back(work, w);
  work(0);
  for (auto& t : threads) t.join();
}

}  // namespace moecode::workspace
