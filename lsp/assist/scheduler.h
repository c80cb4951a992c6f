// The engine's work queue: jobs run one at a time on one worker thread (a model session is
// single-threaded), highest priority first (model loads, then inline completion, then
// completion, commands, background work), FIFO within a priority. A job may ask to start no
// earlier than a delay (debounce). Cancelling a queued job removes it and runs its function
// at once with `dropped` set (so its request is still answered); cancelling a running job
// sets its token, which the decode loop checks between tokens.
// Threading: every method is thread-safe. Job functions run on the worker thread, or (when
// dropped) on the thread that cancelled them or destroyed the scheduler.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <thread>

#include "moecode/engine/session.h"

namespace moecode::assist {

using engine::CancelToken;

// kControl: model (re)loads, which every later job needs.
enum class Priority : int { kControl = 0, kInline = 1, kCompletion = 2, kCommand = 3, kBackground = 4 };

class Scheduler {
 public:
  // `dropped`: the job was cancelled before it started (do no work, just answer).
  using JobFn = std::function<void(const CancelToken& cancel, bool dropped)>;

  Scheduler();
  // Drops the queued jobs, cancels the running one and waits for it.
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues `fn`; returns the job id. `token` lets the caller cancel through its own token too.
  uint64_t submit(Priority priority, JobFn fn, CancelToken token = CancelToken(),
                  std::chrono::milliseconds delay = std::chrono::milliseconds(0));
  // Cancels job `id` (no-op when it already finished).
  void cancel(uint64_t id);
  // Jobs queued and not started.
  size_t queue_size() const;
  // True while a job runs.
  bool busy() const;
  bool idle() const;
  // Waits until no job is queued or running; false on timeout.
  bool wait_idle(std::chrono::milliseconds timeout) const;
  uint64_t n_run() const;      // jobs that ran
  uint64_t n_dropped() const;  // jobs dropped before they started

 private:
  struct Job {
    uint64_t id;
    Priority priority;
    std::chrono::steady_clock::time_point not_before;
    CancelToken token;
    JobFn fn;
  };

  void work();

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;       // wakes the worker
  mutable std::condition_variable idle_cv_;  // wakes wait_idle
  std::list<Job> queue_;
  uint64_t next_id_ = 1;
  uint64_t running_id_ = 0;  // 0: none
  CancelToken running_token_;
  bool stopping_ = false;
  uint64_t n_run_ = 0;
  uint64_t n_dropped_ = 0;
  std::thread worker_;
};

}  // namespace moecode::assist
