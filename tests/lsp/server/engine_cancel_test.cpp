// The LSP server over the real engine (LocalGenerator on the tiny Qwen2 fixture, random
// weights, FIM tokens): 100 completions cancelled mid-generation ($/cancelRequest and
// didChange) leave the engine idle, the queue empty and the session usable, with its KV cache
// still reused by the next request. Run under ASan in CI for leaks.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "lsp/assist/local_generator.h"
#include "support/lsp_client.h"

namespace moecode::server {
namespace {

using jsonrpc::ErrorCode;
using testing::InProcessClient;
using testing::Json;

constexpr const char* kUri = "file:///w/fib.py";
const std::string kModel = std::string(MOECODE_TEST_DATA) + "/fixtures/models/tiny-qwen2.f32.gguf";

// Forwards to the real generator; while `hold` is set, the first token of each generation
// parks the decode loop (inside the engine's token callback) until the request is cancelled,
// so every cancellation lands mid-generation. Counts what it sees.
class GatedGenerator final : public assist::Generator {
 public:
  explicit GatedGenerator(std::unique_ptr<assist::Generator> inner) : inner_(std::move(inner)) {}

  std::string describe() const override { return inner_->describe(); }
  int n_ctx() const override { return inner_->n_ctx(); }
  int count_tokens(std::string_view text) const override { return inner_->count_tokens(text); }
  assist::SpecialTokenTexts special_tokens() const override { return inner_->special_tokens(); }
  bool has_special_token(std::string_view text) const override { return inner_->has_special_token(text); }

  Result<assist::Generation> generate(const assist::Prompt& prompt, const assist::GenerationOptions& options,
                                      const assist::StreamFn& on_piece, const assist::CancelToken& cancel) override {
    running_ = true;
    bool first = true;
    int after_cancel = 0;
    auto r = inner_->generate(
        prompt, options,
        [&](std::string_view piece) {
          if (cancel.cancelled()) ++after_cancel;
          if (first && hold_) {
            first = false;
            {
              std::lock_guard lock(mu_);
              ++n_parked_;
            }
            cv_.notify_all();
            const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
            while (!cancel.cancelled() && std::chrono::steady_clock::now() < deadline) {
              std::this_thread::sleep_for(std::chrono::microseconds(200));
            }
          }
          return on_piece(piece);
        },
        cancel);
    max_pieces_after_cancel_ = std::max(max_pieces_after_cancel_.load(), after_cancel);
    if (!r.ok() && r.error().code() == moecode::ErrorCode::kCancelled) ++n_cancelled_;
    running_ = false;
    return r;
  }

  bool wait_parked(int n, int timeout_ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return n_parked_ >= n; });
  }
  void set_hold(bool hold) { hold_ = hold; }
  int n_cancelled() const { return n_cancelled_; }
  bool running() const { return running_; }
  // Pieces the engine streamed after the cancel was seen (its final flush at most: no token).
  int max_pieces_after_cancel() const { return max_pieces_after_cancel_; }

 private:
  std::unique_ptr<assist::Generator> inner_;
  std::mutex mu_;
  std::condition_variable cv_;
  int n_parked_ = 0;
  std::atomic<bool> hold_{true};
  std::atomic<int> n_cancelled_{0};
  std::atomic<bool> running_{false};
  std::atomic<int> max_pieces_after_cancel_{0};
};

int error_code(const Json& response) {
  return response.contains("error") ? response["error"]["code"].get<int>() : 0;
}

TEST(EngineCancelTest, HundredCancelledGenerationsLeaveTheEngineIdleAndTheSessionUsable) {
  assist::LocalGeneratorOptions lo;
  lo.n_threads = 2;
  lo.n_ctx = 1024;
  auto local = assist::load_local_generator(kModel, lo);
  ASSERT_TRUE(local.ok()) << local.error().message();
  auto gated = std::make_unique<GatedGenerator>(std::move(*local));
  GatedGenerator& gen = *gated;
  InProcessClient c(std::move(gated));
  c.initialize(Json::object(), Json{{"maxTokens", 32}, {"debounceMs", 0}});

  std::string text = "def fib(n):\n    if n < 2:\n        return n\n    return fib(n - 1) + fib(n - 2)\n\n\ndef main():\n    ";
  c.open(kUri, text);
  int64_t version = 1;
  for (int i = 0; i < 100; ++i) {
    const uint32_t character = 4 + static_cast<uint32_t>(i);
    const int64_t id = c.send_request(i % 2 ? "textDocument/completion" : "textDocument/inlineCompletion",
                                      InProcessClient::position_params(kUri, 7, character));
    ASSERT_TRUE(gen.wait_parked(i + 1, 10000)) << "request " << i << " never reached the decode loop";
    if (i % 2 == 0) {
      c.cancel(id);
    } else {  // the user types: the request is superseded by the edit
      c.notify("textDocument/didChange",
               Json{{"textDocument", {{"uri", kUri}, {"version", ++version}}},
                    {"contentChanges", Json::array({Json{{"range", {{"start", {{"line", 7}, {"character", character}}},
                                                                    {"end", {{"line", 7}, {"character", character}}}}},
                                                         {"text", "x"}}})}});
    }
    const Json r = c.wait_response(id);
    ASSERT_EQ(error_code(r), static_cast<int>(i % 2 ? ErrorCode::kContentModified : ErrorCode::kRequestCancelled))
        << "request " << i << ": " << r.dump();
    if (i % 2 == 0) {  // keep the cursor at the end of the line for the next request
      c.notify("textDocument/didChange",
               Json{{"textDocument", {{"uri", kUri}, {"version", ++version}}},
                    {"contentChanges", Json::array({Json{{"range", {{"start", {{"line", 7}, {"character", character}}},
                                                                    {"end", {{"line", 7}, {"character", character}}}}},
                                                         {"text", "y"}}})}});
    }
  }
  ASSERT_TRUE(c.host().scheduler().wait_idle(std::chrono::seconds(10)));
  EXPECT_EQ(c.host().scheduler().queue_size(), 0u);
  EXPECT_FALSE(c.host().scheduler().busy());
  EXPECT_FALSE(gen.running());
  EXPECT_EQ(gen.n_cancelled(), 100);
  // The engine stopped at the token it was on: no further token was decoded and streamed
  // (at most the held-back text is flushed once).
  EXPECT_LE(gen.max_pieces_after_cancel(), 1);
  EXPECT_EQ(c.on_loop([&] { return c.server().n_pending_completions(); }), 0u);
  EXPECT_EQ(c.on_loop([&] { return c.server().endpoint().n_pending_requests(); }), 0u);

  // The session still works, and its KV cache still serves the shared prompt prefix.
  gen.set_hold(false);
  const Json before = c.request("workspace/executeCommand", Json{{"command", "moecode.status"}});
  const Json done = c.request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 7, 104), 30000);
  ASSERT_TRUE(done.contains("result")) << done.dump();
  ASSERT_TRUE(done["result"]["items"].is_array()) << done.dump();
  const Json after = c.request("workspace/executeCommand", Json{{"command", "moecode.status"}});
  ASSERT_TRUE(after.contains("result")) << after.dump();
  const Json& s0 = before["result"]["completions"];
  const Json& s1 = after["result"]["completions"];
  EXPECT_EQ(s1["answered"].get<int>(), s0["answered"].get<int>() + 1);
  EXPECT_EQ(s1["format"], "gguf");  // tokenizer.ggml.fim_* ids in the fixture
  const int prompt = s1["promptTokens"].get<int>() - s0["promptTokens"].get<int>();
  const int cached = s1["cachedTokens"].get<int>() - s0["cachedTokens"].get<int>();
  EXPECT_GT(prompt, 40);
  EXPECT_GT(cached, prompt / 2) << "cached " << cached << " of " << prompt;
  EXPECT_GE(s1["generatedTokens"].get<int>() - s0["generatedTokens"].get<int>(), 1);
  EXPECT_EQ(after["result"]["queue"], 0);
}

}  // namespace
}  // namespace moecode::server
