// A fixed pool of worker threads for the many short ops of a forward pass. A job is a
// number of chunks that the calling thread and the workers claim one at a time; the job is
// done when every chunk is, so a worker that another process keeps off its core (shared
// machines) delays at most the chunk it holds — the others, the caller included, take the
// rest. Idle workers spin briefly (a dispatch costs about a microsecond while they do),
// then sleep on a futex, so an idle model costs no CPU.
//
// Thread-safety: run_chunks() is called by one thread at a time (the owner); chunk
// functions run on that thread and on the workers, for disjoint chunks. No heap
// allocation per job.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <vector>

namespace moecode::backend::cpu {

class ThreadPool {
 public:
  // n_threads >= 1 (the caller counts as one; n_threads - 1 workers are started).
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Runs fn(chunk) for every chunk in [0, n_chunks) across the threads; returns when all
  // are done. fn must not throw.
  template <typename Fn>
  void run_chunks(int64_t n_chunks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run_impl(n_chunks, [](void* ctx, int64_t chunk) { (*static_cast<F*>(ctx))(chunk); },
             const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using ChunkFn = void (*)(void* ctx, int64_t chunk);
  void run_impl(int64_t n_chunks, ChunkFn fn, void* ctx);
  // Claims and runs chunks of job `job` until none is left.
  void work_on(uint32_t job);
  void worker_main();

  int n_threads_;
  std::vector<std::thread> workers_;
  // The current job: its function and size are written before `state_` publishes it.
  std::atomic<ChunkFn> job_fn_{nullptr};
  std::atomic<void*> job_ctx_{nullptr};
  std::atomic<int64_t> job_chunks_{0};
  // (job id << 32) | next chunk index. Claiming a chunk is a CAS that also checks the id,
  // so a late worker never takes a chunk of a finished job.
  alignas(64) std::atomic<uint64_t> state_{0};
  alignas(64) std::atomic<int64_t> done_{0};
  alignas(64) std::atomic<uint32_t> wake_{0};  // futex word: bumped for every job
  std::atomic<bool> stop_{false};
  uint32_t job_id_ = 0;
};

}  // namespace moecode::backend::cpu
