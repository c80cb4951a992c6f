// The engine's work queue (see scheduler.h).
#include "lsp/assist/scheduler.h"

#include <utility>

namespace moecode::assist {

Scheduler::Scheduler() : worker_([this] { work(); }) {}

Scheduler::~Scheduler() {
  std::list<Job> dropped;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    dropped.swap(queue_);
    running_token_.cancel();
  }
  cv_.notify_all();
  for (Job& job : dropped) {
    job.token.cancel();
    if (job.fn) job.fn(job.token, true);
  }
  if (worker_.joinable()) worker_.join();
}

uint64_t Scheduler::submit(Priority priority, JobFn fn, CancelToken token, std::chrono::milliseconds delay) {
  uint64_t id;
  {
    std::lock_guard lock(mu_);
    id = next_id_++;
    if (stopping_) {
      token.cancel();
      ++n_dropped_;
    } else {
      queue_.push_back(Job{id, priority, std::chrono::steady_clock::now() + delay, token, std::move(fn)});
      cv_.notify_all();
      return id;
    }
  }
  if (fn) fn(token, true);  // the scheduler is shutting down
  return id;
}

void Scheduler::cancel(uint64_t id) {
  Job job;
  {
    std::lock_guard lock(mu_);
    if (running_id_ == id) {
      running_token_.cancel();
      return;
    }
    auto it = queue_.begin();
    while (it != queue_.end() && it->id != id) ++it;
    if (it == queue_.end()) return;
    job = std::move(*it);
    queue_.erase(it);
    ++n_dropped_;
  }
  job.token.cancel();
  if (job.fn) job.fn(job.token, true);
  idle_cv_.notify_all();
}

size_t Scheduler::queue_size() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

bool Scheduler::busy() const {
  std::lock_guard lock(mu_);
  return running_id_ != 0;
}

bool Scheduler::idle() const {
  std::lock_guard lock(mu_);
  return running_id_ == 0 && queue_.empty();
}

bool Scheduler::wait_idle(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return idle_cv_.wait_for(lock, timeout, [this] { return running_id_ == 0 && queue_.empty(); });
}

uint64_t Scheduler::n_run() const {
  std::lock_guard lock(mu_);
  return n_run_;
}

uint64_t Scheduler::n_dropped() const {
  std::lock_guard lock(mu_);
  return n_dropped_;
}

void Scheduler::work() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // Jobs whose own token was cancelled: answer them without running.
    auto cancelled = queue_.begin();
    while (cancelled != queue_.end() && !cancelled->token.cancelled()) ++cancelled;
    if (cancelled != queue_.end()) {
      Job job = std::move(*cancelled);
      queue_.erase(cancelled);
      ++n_dropped_;
      lock.unlock();
      if (job.fn) job.fn(job.token, true);
      lock.lock();
      idle_cv_.notify_all();
      continue;
    }
    // The best job that may start now.
    const auto now = std::chrono::steady_clock::now();
    auto best = queue_.end();
    auto earliest = std::chrono::steady_clock::time_point::max();
    for (auto it = queue_.begin(); it != queue_.end(); ++it) {
      if (it->not_before > now) {
        earliest = std::min(earliest, it->not_before);
        continue;
      }
      if (best == queue_.end() || it->priority < best->priority) best = it;
    }
    if (best != queue_.end()) {
      Job job = std::move(*best);
      queue_.erase(best);
      running_id_ = job.id;
      running_token_ = job.token;
      lock.unlock();
      if (job.fn) job.fn(job.token, false);
      job.fn = nullptr;  // release what it holds before reporting idle
      lock.lock();
      running_id_ = 0;
      running_token_ = CancelToken();
      ++n_run_;
      idle_cv_.notify_all();
      continue;
    }
    if (queue_.empty()) {
      idle_cv_.notify_all();
      cv_.wait(lock);
    } else {
      // Wake for the first delayed job, and now and then to notice cancelled tokens.
      const auto cap = now + std::chrono::milliseconds(50);
      cv_.wait_until(lock, std::min(earliest, cap));
    }
  }
}

}  // namespace moecode::assist
