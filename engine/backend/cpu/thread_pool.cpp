// ThreadPool: chunked jobs, spin-then-sleep workers (see thread_pool.h).
#include "engine/backend/cpu/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace moecode::backend::cpu {

namespace {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#else
  std::this_thread::yield();
#endif
}

// An idle worker spins this many rounds (some tens of microseconds: the gap between two
// ops of a forward pass) before it sleeps.
constexpr int kSpinRounds = 1 << 12;
// The caller waiting for chunks held by others spins this long, then yields its core.
constexpr int kWaitSpins = 1 << 10;

}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(n_threads < 1 ? 1 : n_threads) {
  workers_.reserve(n_threads_ - 1);
  for (int i = 1; i < n_threads_; ++i) workers_.emplace_back([this] { worker_main(); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_release);
  wake_.fetch_add(1, std::memory_order_acq_rel);
  wake_.notify_all();
  for (auto& t : workers_) t.join();
}

void ThreadPool::work_on(uint32_t job) {
  for (;;) {
    uint64_t s = state_.load(std::memory_order_acquire);
    if (static_cast<uint32_t>(s >> 32) != job) return;
    const int64_t next = static_cast<int64_t>(s & 0xffffffffu);
    // The job's fields were written before `state_` published it (acquire above).
    const int64_t n = job_chunks_.load(std::memory_order_relaxed);
    const ChunkFn fn = job_fn_.load(std::memory_order_relaxed);
    void* ctx = job_ctx_.load(std::memory_order_relaxed);
    if (next >= n) return;
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    fn(ctx, next);
    done_.fetch_add(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::run_impl(int64_t n_chunks, ChunkFn fn, void* ctx) {
  if (n_chunks <= 0) return;
  if (n_threads_ == 1 || n_chunks == 1) {
    for (int64_t c = 0; c < n_chunks; ++c) fn(ctx, c);
    return;
  }
  const uint32_t job = ++job_id_;
  job_fn_.store(fn, std::memory_order_relaxed);
  job_ctx_.store(ctx, std::memory_order_relaxed);
  job_chunks_.store(n_chunks, std::memory_order_relaxed);
  done_.store(0, std::memory_order_relaxed);
  state_.store(static_cast<uint64_t>(job) << 32, std::memory_order_release);
  wake_.fetch_add(1, std::memory_order_release);
  wake_.notify_all();
  work_on(job);
  int spins = 0;
  while (done_.load(std::memory_order_acquire) != n_chunks) {
    if (++spins < kWaitSpins) {
      cpu_relax();
    } else {
      std::this_thread::yield();  // a chunk's holder is off its core: let it run
    }
  }
}

void ThreadPool::worker_main() {
  // Starts from 0, not the current value: a job (or the stop) published before this
  // thread ran must not be mistaken for the past.
  uint32_t seen = 0;
  for (;;) {
    if (stop_.load(std::memory_order_acquire)) return;
    uint32_t now = wake_.load(std::memory_order_acquire);
    for (int spins = 0; now == seen && spins < kSpinRounds; ++spins) {
      cpu_relax();
      now = wake_.load(std::memory_order_acquire);
    }
    while (now == seen) {
      wake_.wait(seen, std::memory_order_acquire);
      now = wake_.load(std::memory_order_acquire);
    }
    seen = now;
    if (stop_.load(std::memory_order_acquire)) return;
    const uint64_t s = state_.load(std::memory_order_acquire);
    work_on(static_cast<uint32_t>(s >> 32));
  }
}

}  // namespace moecode::backend::cpu
