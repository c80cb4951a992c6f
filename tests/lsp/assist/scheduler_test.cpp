// The engine's work queue: priorities, debounce delays, cancellation of queued and running
// jobs (each job's function runs exactly once), idle state.
#include "lsp/assist/scheduler.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>
#include <vector>

namespace moecode::assist {
namespace {

using namespace std::chrono_literals;

TEST(SchedulerTest, RunsHigherPriorityFirst) {
  Scheduler s;
  std::promise<void> gate;
  auto gate_f = gate.get_future().share();
  std::mutex mu;
  std::vector<std::string> order;
  auto record = [&](std::string name) {
    return [&, name](const CancelToken&, bool dropped) {
      if (!dropped) {
        std::lock_guard lock(mu);
        order.push_back(name);
      }
    };
  };
  // Hold the worker so the next jobs queue up behind it.
  s.submit(Priority::kBackground, [gate_f](const CancelToken&, bool) { gate_f.wait(); });
  while (!s.busy()) std::this_thread::sleep_for(1ms);
  s.submit(Priority::kCommand, record("command"));
  s.submit(Priority::kCompletion, record("completion"));
  s.submit(Priority::kInline, record("inline-1"));
  s.submit(Priority::kInline, record("inline-2"));
  s.submit(Priority::kControl, record("model"));
  EXPECT_EQ(s.queue_size(), 5u);
  gate.set_value();
  ASSERT_TRUE(s.wait_idle(5s));
  EXPECT_EQ(order, (std::vector<std::string>{"model", "inline-1", "inline-2", "completion", "command"}));
  EXPECT_EQ(s.n_run(), 6u);
}

TEST(SchedulerTest, DelayedJobWaitsAndCanBeCancelledMeanwhile) {
  Scheduler s;
  std::atomic<int> ran{0}, dropped{0};
  const auto t0 = std::chrono::steady_clock::now();
  std::atomic<int64_t> started_ms{-1};
  const uint64_t a = s.submit(
      Priority::kInline,
      [&](const CancelToken&, bool d) {
        if (d) {
          ++dropped;
        } else {
          ++ran;
        }
      },
      CancelToken(), 200ms);
  s.submit(
      Priority::kInline,
      [&](const CancelToken&, bool d) {
        if (!d) {
          started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
        }
      },
      CancelToken(), 60ms);
  s.cancel(a);  // dropped at once: its function runs with dropped = true
  EXPECT_EQ(dropped.load(), 1);
  ASSERT_TRUE(s.wait_idle(5s));
  EXPECT_EQ(ran.load(), 0);
  EXPECT_GE(started_ms.load(), 55);
  EXPECT_EQ(s.n_dropped(), 1u);
}

TEST(SchedulerTest, CancellingTheRunningJobSetsItsToken) {
  Scheduler s;
  std::promise<void> started;
  std::atomic<bool> saw_cancel{false};
  const uint64_t id = s.submit(Priority::kInline, [&](const CancelToken& token, bool) {
    started.set_value();
    while (!token.cancelled()) std::this_thread::sleep_for(1ms);
    saw_cancel = true;
  });
  started.get_future().wait();
  s.cancel(id);
  ASSERT_TRUE(s.wait_idle(5s));
  EXPECT_TRUE(saw_cancel.load());
}

TEST(SchedulerTest, ACallersOwnTokenDropsAQueuedJob) {
  Scheduler s;
  std::promise<void> gate;
  auto gate_f = gate.get_future().share();
  s.submit(Priority::kBackground, [gate_f](const CancelToken&, bool) { gate_f.wait(); });
  CancelToken mine;
  std::atomic<int> dropped{0};
  s.submit(Priority::kInline, [&](const CancelToken&, bool d) { dropped += d; }, mine);
  mine.cancel();
  gate.set_value();
  ASSERT_TRUE(s.wait_idle(5s));
  EXPECT_EQ(dropped.load(), 1);
}

TEST(SchedulerTest, DestructionDropsQueuedJobsAndStopsTheRunningOne) {
  std::atomic<int> dropped{0}, stopped{0};
  {
    Scheduler s;
    std::promise<void> started;
    s.submit(Priority::kInline, [&](const CancelToken& token, bool) {
      started.set_value();
      while (!token.cancelled()) std::this_thread::sleep_for(1ms);
      ++stopped;
    });
    started.get_future().wait();
    for (int i = 0; i < 5; ++i) s.submit(Priority::kInline, [&](const CancelToken&, bool d) { dropped += d; });
  }
  EXPECT_EQ(dropped.load(), 5);
  EXPECT_EQ(stopped.load(), 1);
}

}  // namespace
}  // namespace moecode::assist
