// engine BatchGenerator (continuous batching) on the tiny fixture models: concurrent requests
// give the same greedy tokens as one Session each (the llama family's one-pass multi-sequence
// forward, and the per-sequence fallback of deepseek2), prompts are read in chunks next to
// decoding requests, slots reuse a cached prefix, a cancelled request leaves without disturbing
// the others, a full generator queues, and shutting down answers everything.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "moecode/engine/batch.h"
#include "moecode/engine/model.h"

namespace moecode {
namespace {

using engine::BatchRequest;
using engine::GenerateResult;
using engine::Token;

std::string fixture(const std::string& name) { return std::string(MOECODE_TEST_DATA) + "/fixtures/models/" + name; }

std::shared_ptr<engine::Model> load(const std::string& name) {
  engine::LoadOptions lo;
  lo.kv_type = engine::KvCacheType::kF32;
  lo.n_ctx = 512;
  auto m = engine::Model::load(fixture(name), lo);
  EXPECT_TRUE(m.ok()) << m.error().message();
  return m.ok() ? *m : nullptr;
}

std::vector<Token> some_tokens(int n, int seed) {
  std::vector<Token> t;
  uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 7;
  for (int i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    t.push_back(static_cast<Token>((x >> 8) % 500 + 3));
  }
  return t;
}

engine::GenerateOptions greedy(int n) {
  engine::GenerateOptions o;
  o.max_tokens = n;
  o.stop_at_end_of_generation = false;
  return o;
}

// Collects on_done results.
struct Results {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::optional<Result<GenerateResult>>> done;
  explicit Results(size_t n) : done(n) {}
  std::function<void(Result<GenerateResult>)> slot(size_t i) {
    return [this, i](Result<GenerateResult> r) {
      std::lock_guard lock(mu);
      done[i].emplace(std::move(r));
      cv.notify_all();
    };
  }
  bool wait(int timeout_ms = 60000) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
      for (auto& d : done) {
        if (!d) return false;
      }
      return true;
    });
  }
};

class BatchTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchTest, ConcurrentRequestsMatchOneSessionEach) {
  auto model = load(GetParam());
  ASSERT_TRUE(model);
  const std::vector<int> lengths = {5, 70, 17, 1, 33, 48};
  std::vector<std::vector<Token>> prompts;
  std::vector<std::vector<Token>> expected;
  for (size_t i = 0; i < lengths.size(); ++i) {
    prompts.push_back(some_tokens(lengths[i], static_cast<int>(i) + 1));
    auto s = model->new_session({});
    ASSERT_TRUE(s.ok());
    auto r = (*s)->generate(prompts.back(), greedy(20));
    ASSERT_TRUE(r.ok());
    expected.push_back(r->tokens);
  }
  engine::BatchOptions bo;
  bo.n_slots = 4;    // six requests: two wait for a slot
  bo.n_batch = 24;   // long prompts are read in chunks beside the decoding requests
  auto batch = model->new_batch_generator(bo);
  ASSERT_TRUE(batch.ok()) << batch.error().message();
  Results results(prompts.size());
  // The first request's first token holds the batcher until every request is queued: how
  // many run at once then depends on the slots, not on how fast this thread submits (on a
  // loaded machine the batcher could finish the first requests before the last arrive).
  std::mutex m;
  std::condition_variable cv;
  bool all_queued = false;
  for (size_t i = 0; i < prompts.size(); ++i) {
    BatchRequest r;
    r.prompt = prompts[i];
    r.options = greedy(20);
    if (i == 0) {
      r.on_text = [&](std::string_view, Token) {
        std::unique_lock<std::mutex> lock(m);
        cv.wait_for(lock, std::chrono::seconds(30), [&] { return all_queued; });
        return true;
      };
    }
    r.on_done = results.slot(i);
    (*batch)->submit(std::move(r));
  }
  {
    std::lock_guard<std::mutex> lock(m);
    all_queued = true;
  }
  cv.notify_all();
  ASSERT_TRUE(results.wait());
  for (size_t i = 0; i < prompts.size(); ++i) {
    ASSERT_TRUE(results.done[i]->ok()) << results.done[i]->error().message();
    const GenerateResult& g = **results.done[i];
    EXPECT_EQ(g.stop, engine::StopReason::kMaxTokens);
    EXPECT_EQ(g.tokens, expected[i]) << "request " << i << " (" << lengths[i] << " prompt tokens)";
  }
  const engine::BatchStats st = (*batch)->stats();
  EXPECT_EQ(st.n_requests, prompts.size());
  EXPECT_GT(st.n_multi_steps, 0u);
  EXPECT_EQ(st.max_seqs_per_step, 4);
  EXPECT_EQ(st.n_active, 0);
}

INSTANTIATE_TEST_SUITE_P(Models, BatchTest,
                         ::testing::Values("tiny-llama.f32.gguf", "tiny-qwen2.q4_1.gguf", "tiny-qwen3moe.f32.gguf",
                                           "tiny-deepseek2-lite.f32.gguf"));

TEST(BatchGeneratorTest, ReusesASlotsCachedPrefix) {
  auto model = load("tiny-llama.f32.gguf");
  ASSERT_TRUE(model);
  engine::BatchOptions bo;
  bo.n_slots = 2;
  auto batch = model->new_batch_generator(bo);
  ASSERT_TRUE(batch.ok());
  const std::vector<Token> a = some_tokens(60, 9);
  std::vector<Token> ab = a;
  for (Token t : some_tokens(10, 10)) ab.push_back(t);
  for (const auto& prompt : {a, ab}) {
    std::promise<Result<GenerateResult>> p;
    BatchRequest r;
    r.prompt = prompt;
    r.options = greedy(4);
    r.on_done = [&p](Result<GenerateResult> res) { p.set_value(std::move(res)); };
    (*batch)->submit(std::move(r));
    auto res = p.get_future().get();
    ASSERT_TRUE(res.ok());
    if (prompt.size() == ab.size()) {
      EXPECT_EQ(res->prompt.n_reused, 60);  // the first request's prompt was still in its slot
      EXPECT_EQ(res->prompt.n_evaluated, 10);
    }
  }
}

TEST(BatchGeneratorTest, CancellingOneRequestLeavesTheOthersAlone) {
  auto model = load("tiny-qwen2.q4_1.gguf");
  ASSERT_TRUE(model);
  engine::BatchOptions bo;
  bo.n_slots = 3;
  auto batch = model->new_batch_generator(bo);
  ASSERT_TRUE(batch.ok());
  Results results(3);
  engine::CancelToken cancel;
  std::atomic<int> streamed{0};
  for (int i = 0; i < 3; ++i) {
    BatchRequest r;
    r.prompt = some_tokens(12, 20 + i);
    r.options = greedy(i == 1 ? 200 : 30);
    if (i == 1) {
      r.cancel = cancel;
      r.on_text = [&](std::string_view, Token) {
        if (++streamed == 5) cancel.cancel();
        return true;
      };
    }
    r.on_done = results.slot(static_cast<size_t>(i));
    (*batch)->submit(std::move(r));
  }
  ASSERT_TRUE(results.wait());
  ASSERT_TRUE(results.done[1]->ok());
  EXPECT_EQ((*results.done[1])->stop, engine::StopReason::kCancelled);
  EXPECT_LT((*results.done[1])->tokens.size(), 10u);
  for (int i : {0, 2}) {
    ASSERT_TRUE(results.done[i]->ok());
    EXPECT_EQ((*results.done[i])->tokens.size(), 30u);
  }
}

TEST(BatchGeneratorTest, RejectsPromptsThatDoNotFitAndAnswersEverythingOnShutdown) {
  auto model = load("tiny-llama.f32.gguf");
  ASSERT_TRUE(model);
  engine::BatchOptions bo;
  bo.n_slots = 1;
  bo.n_ctx = 64;
  auto batch = model->new_batch_generator(bo);
  ASSERT_TRUE(batch.ok());
  Results results(4);
  BatchRequest big;
  big.prompt = some_tokens(65, 1);
  big.on_done = results.slot(0);
  (*batch)->submit(std::move(big));
  for (int i = 0; i < 500; ++i) {
    {
      std::lock_guard lock(results.mu);
      if (results.done[0]) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  for (size_t i = 1; i < 4; ++i) {
    BatchRequest r;
    r.prompt = some_tokens(8, static_cast<int>(i));
    r.options = greedy(40);
    r.on_done = results.slot(i);
    (*batch)->submit(std::move(r));
  }
  batch->reset();  // queued and running requests are answered, the thread joins
  ASSERT_TRUE(results.wait(1000));
  ASSERT_FALSE(results.done[0]->ok());
  EXPECT_EQ(results.done[0]->error().code(), ErrorCode::kOutOfRange);
}

}  // namespace
}  // namespace moecode
