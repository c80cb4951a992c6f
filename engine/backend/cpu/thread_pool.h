// A fixed pool of worker threads that run one job at a time on every thread (fork/join),
// made for the many short ops of a forward pass: workers spin briefly between jobs (a
// dispatch costs about a microsecond), then sleep on a futex so an idle model costs no CPU.
//
// Thread-safety: run() is called by one thread at a time (the owner); the job runs on that
// thread as thread 0 and on every worker. barrier() may be called inside a job by all
// threads. No heap allocation per job.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <type_traits>
#include <utility>
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

  // Runs fn(ith, nth) on all threads; returns when every thread has finished.
  template <typename Fn>
  void run(Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run_impl(
        [](void* ctx, int ith, int nth) { (*static_cast<F*>(ctx))(ith, nth); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

  // Waits until every thread of the running job has reached the barrier. Only inside run().
  void barrier();

  // Work sharing inside a job: a shared counter that threads take chunks from, reset at
  // the start of every job. Returns the next chunk index (may exceed the chunk count).
  int64_t next_chunk() { return chunk_.fetch_add(1, std::memory_order_relaxed); }

 private:
  using JobFn = void (*)(void* ctx, int ith, int nth);
  void run_impl(JobFn fn, void* ctx);
  void worker_main(int ith);

  int n_threads_;
  std::vector<std::thread> workers_;
  // The current job; published by bumping generation_.
  JobFn job_fn_ = nullptr;
  void* job_ctx_ = nullptr;
  alignas(64) std::atomic<uint32_t> generation_{0};
  alignas(64) std::atomic<int> pending_{0};
  alignas(64) std::atomic<int64_t> chunk_{0};
  alignas(64) std::atomic<int> barrier_count_{0};
  alignas(64) std::atomic<uint32_t> barrier_phase_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace moecode::backend::cpu
