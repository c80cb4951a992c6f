// `moecode serve --http` (the real binary on a tiny fixture model) with our own client over
// loopback: streaming equals the whole answer, chat, token-id prompts, 429 with Retry-After when
// every slot is busy and the queue is full (the client waits and retries), cancellation by
// closing the stream (the server goes on serving), a server stopped (SIGSTOP: the client times
// out) and a server killed in the middle of a stream (the client reports it).
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lsp/remote/http_client.h"
#include "lsp/remote/http_server.h"
#include "lsp/remote/remote_generator.h"
#include "support/child_process.h"
#include "support/tcp_client.h"

namespace moecode::remote {
namespace {

using Json = nlohmann::json;
using testing::ChildProcess;
using Clock = std::chrono::steady_clock;

std::string fixture(const std::string& name) { return std::string(MOECODE_TEST_DATA) + "/fixtures/models/" + name; }

// `moecode serve --http 127.0.0.1:0` and the port it took.
struct Server {
  explicit Server(std::vector<std::string> extra = {}, int ctx = 1024) {
    std::vector<std::string> argv = {MOECODE_BINARY, "serve", "--http", "127.0.0.1:0", "-m", fixture("tiny-llama.f32.gguf"),
                                     "--threads", "1", "-c", std::to_string(ctx)};
    argv.insert(argv.end(), extra.begin(), extra.end());
    child = std::make_unique<ChildProcess>(argv);
    const std::string marker = "on http 127.0.0.1:";
    for (int i = 0; i < 600 && port == 0; ++i) {
      const std::string err = child->stderr_text();
      if (const size_t at = err.find(marker); at != std::string::npos) {
        port = static_cast<uint16_t>(std::atoi(err.c_str() + at + marker.size()));
      }
      if (port == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port) + "/v1"; }
  std::unique_ptr<ChildProcess> child;
  uint16_t port = 0;
};

RemoteConfig ours(const Server& s) {
  RemoteConfig c;
  c.preset = "moecode";
  c.base_url = s.url();
  c.timeout_ms = 10000;
  return c;
}

assist::Prompt text_prompt(const std::string& text) {
  assist::Prompt p;
  p.add_text(text);
  return p;
}

// A raw POST through our HTTP client.
Result<HttpResponse> post(const Server& s, const std::string& path, const Json& body, const BodyFn& on_body = nullptr,
                          const CancelToken& cancel = CancelToken()) {
  HttpClient client(*parse_url("http://127.0.0.1:" + std::to_string(s.port)));
  HttpRequest r;
  r.target = path;
  r.headers = {{"Content-Type", "application/json"}};
  r.body = body.dump();
  return client.send(r, on_body, HttpTimeouts(), cancel);
}

TEST(HttpServerTest, StreamsWhatItAnswersWholeAndServesChatAndTokenPrompts) {
  Server s;
  ASSERT_NE(s.port, 0) << s.child->stderr_text();
  auto g = RemoteGenerator::connect(ours(s));
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_EQ((*g)->n_ctx(), 1024);  // max_model_len of /v1/models
  assist::GenerationOptions o;
  o.max_tokens = 24;
  std::vector<std::string> pieces;
  auto streamed = (*g)->generate(text_prompt("Once upon a time"), o, [&](std::string_view p) {
    pieces.emplace_back(p);
    return true;
  }, CancelToken());
  ASSERT_TRUE(streamed.ok()) << streamed.error().message() << "\n" << s.child->stderr_text();
  EXPECT_GT(pieces.size(), 1u);
  EXPECT_GT(streamed->n_generated_tokens, 0);
  EXPECT_GT(streamed->n_prompt_tokens, 0);

  // The same request unstreamed: the prompt comes from the slot's cache now, and the text is what
  // the stream gives under the same conditions (the first answer read the prompt whole, these
  // two evaluate its last token again: float sums in another order).
  auto whole = post(s, "/v1/completions", Json{{"prompt", "Once upon a time"}, {"max_tokens", 24}, {"temperature", 0}});
  ASSERT_TRUE(whole.ok());
  ASSERT_EQ(whole->status, 200) << whole->body;
  const Json j = Json::parse(whole->body);
  EXPECT_EQ(j["object"], "text_completion");
  EXPECT_EQ(j["usage"]["completion_tokens"], 24);
  EXPECT_GT(j["usage"]["prompt_tokens_details"]["cached_tokens"].get<int>(), 0);
  auto again = (*g)->generate(text_prompt("Once upon a time"), o, nullptr, CancelToken());
  ASSERT_TRUE(again.ok()) << again.error().message() << "\n" << s.child->stderr_text();
  EXPECT_EQ(j["choices"][0]["text"], again->text);
  EXPECT_GT(again->n_cached_tokens, 0);

  // Token ids and stop_token_ids (what the shared engine's clients send).
  auto ids = post(s, "/v1/completions", Json{{"prompt", {1, 2, 3, 4}}, {"max_tokens", 5}, {"temperature", 0}});
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(ids->status, 200) << ids->body;

  auto chat = (*g)->chat({{"user", "Say hi"}}, o, nullptr, CancelToken());
  ASSERT_TRUE(chat.ok()) << chat.error().message();
  EXPECT_GT(chat->n_generated_tokens, 0);

  // Errors are OpenAI-shaped.
  auto bad = post(s, "/v1/completions", Json{{"prompt", "x"}, {"n", 3}});
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(Json::parse(bad->body)["error"]["message"].get<std::string>().find("'n'"), std::string::npos);
  // Fill-in-the-middle with "suffix" in the model's own format (the fixture has FIM tokens).
  auto fim = post(s, "/v1/completions", Json{{"prompt", "x = "}, {"suffix", "\ny = 2\n"}, {"max_tokens", 4}});
  ASSERT_TRUE(fim.ok());
  EXPECT_EQ(fim->status, 200) << fim->body;
}

// An engine faster than the request handler: the whole stream (pieces and end) comes from
// another thread before the handler that started it has returned. Every piece must still follow
// the head (the server once delivered them first, dropped them, and the client waited for ever).
TEST(HttpServerTest, AStreamFinishedBeforeItsHandlerReturnsArrivesWhole) {
  auto server = HttpServer::listen("127.0.0.1:0", [](ServerRequest, std::shared_ptr<Responder> out) {
    out->start_stream(200, "text/event-stream");
    std::thread engine([out] {
      for (int i = 0; i < 3; ++i) out->send("piece " + std::to_string(i) + "\n");
      out->end_stream();
    });
    engine.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the handler goes on a while
  });
  ASSERT_TRUE(server.ok()) << server.error().message();
  std::thread io([&] { (*server)->run(); });
  HttpClient client(*parse_url("http://127.0.0.1:" + std::to_string((*server)->port())));
  HttpTimeouts t;
  t.read_ms = 3000;
  const HttpRequest r{"POST", "/stream", {{"Content-Type", "application/json"}}, std::string(2, '0')};
  for (int round = 0; round < 20; ++round) {  // keep-alive: the same connection each time
    std::string got;
    auto resp = client.send(r, [&](std::string_view chunk) {
      got.append(chunk);
      return true;
    }, t, CancelToken());
    ASSERT_TRUE(resp.ok()) << "round " << round << ": " << resp.error().message();
    EXPECT_EQ(resp->status, 200);
    EXPECT_EQ(got, "piece 0\npiece 1\npiece 2\n") << "round " << round;
  }
  (*server)->stop();
  io.join();
}

// curl asks "Expect: 100-continue" before it sends a body past 1 KB: the server says go at once
// (instead of the client's one-second wait), then answers.
TEST(HttpServerTest, ExpectContinueGetsAGoAhead) {
  Server s;
  ASSERT_NE(s.port, 0) << s.child->stderr_text();
  const int fd = testing::connect_to_loopback(s.port);
  ASSERT_GE(fd, 0);
  const std::string body = Json{{"prompt", "hi"}, {"max_tokens", 2}}.dump();
  const std::string head = "POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Expect: 100-continue\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  ASSERT_EQ(::send(fd, head.data(), head.size(), 0), static_cast<ssize_t>(head.size()));
  char buf[4096];
  ssize_t n = ::recv(fd, buf, sizeof buf, 0);
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<size_t>(n)).rfind("HTTP/1.1 100 Continue", 0), 0u);
  ASSERT_EQ(::send(fd, body.data(), body.size(), 0), static_cast<ssize_t>(body.size()));
  std::string answer;
  while (answer.find("\"usage\"") == std::string::npos && (n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
    answer.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200 OK", 0), 0u) << answer;
}

TEST(HttpServerTest, BusyServerAnswers429AndTheClientRetriesAfterRetryAfter) {
  Server s({"--parallel", "1", "--max-queue", "0"}, 65536);  // A's answer is long
  ASSERT_NE(s.port, 0) << s.child->stderr_text();
  // A occupies the only slot for ~1.5 s (a long stream that the client closes then).
  std::thread a([&] {
    const auto t0 = Clock::now();
    auto r = post(s, "/v1/completions",
                  Json{{"prompt", "a"}, {"max_tokens", 100000}, {"ignore_eos", true}, {"stream", true}},
                  [&](std::string_view) { return Clock::now() - t0 < std::chrono::milliseconds(1500); });
    EXPECT_TRUE(r.ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto direct = post(s, "/v1/completions", Json{{"prompt", "b"}, {"max_tokens", 2}});
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(direct->status, 429);
  EXPECT_EQ(direct->header("retry-after"), "1");
  RemoteConfig c = ours(s);
  c.max_retries = 5;
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());
  assist::GenerationOptions o;
  o.max_tokens = 3;
  const auto t0 = Clock::now();
  auto b = (*g)->generate(text_prompt("b"), o, nullptr, CancelToken());
  const double waited = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  a.join();
  ASSERT_TRUE(b.ok()) << b.error().message();
  EXPECT_GE((*g)->n_retries(), 1);
  EXPECT_GE(waited, 900.0);  // at least one Retry-After: 1 was waited out
}

TEST(HttpServerTest, CancellingClosesTheStreamAndTheServerGoesOn) {
  Server s({"--parallel", "2", "--log-level", "info"});
  ASSERT_NE(s.port, 0) << s.child->stderr_text();
  auto g = RemoteGenerator::connect(ours(s));
  ASSERT_TRUE(g.ok());
  assist::GenerationOptions o;
  o.max_tokens = 900;
  CancelToken cancel;
  int n = 0;
  auto r = (*g)->generate(text_prompt("count:"), o, [&](std::string_view) {
    if (++n == 3) cancel.cancel();
    return true;
  }, cancel);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kCancelled);
  // The server saw the disconnect and cancelled the generation (its log says so), and serves on.
  for (int i = 0; i < 200 && s.child->stderr_text().find("cancelled") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(s.child->stderr_text().find("cancelled"), std::string::npos) << s.child->stderr_text();
  o.max_tokens = 4;
  auto next = (*g)->generate(text_prompt("again"), o, nullptr, CancelToken());
  EXPECT_TRUE(next.ok()) << next.error().message();
}

TEST(HttpServerTest, AStoppedServerTimesOutAndAKilledOneIsReported) {
  Server s({}, 65536);  // a long answer: the kill lands in the middle of it
  ASSERT_NE(s.port, 0) << s.child->stderr_text();
  RemoteConfig c = ours(s);
  c.timeout_ms = 600;
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());
  assist::GenerationOptions o;
  o.max_tokens = 100000;
  // A stopped server (SIGSTOP) still accepts the connection (the kernel does) but never
  // answers: the client gives up after timeout_ms.
  ::kill(s.child->pid(), SIGSTOP);
  const auto t1 = Clock::now();
  auto stalled = (*g)->generate(text_prompt("x"), o, nullptr, CancelToken());
  const double stalled_ms = std::chrono::duration<double, std::milli>(Clock::now() - t1).count();
  ::kill(s.child->pid(), SIGCONT);
  ASSERT_FALSE(stalled.ok());
  EXPECT_NE(stalled.error().message().find("within 600 ms"), std::string::npos) << stalled.error().message();
  EXPECT_LT(stalled_ms, 2500.0);

  // SIGKILL in the middle of a stream: the client says the server went away.
  int n = 0;
  const auto t0 = Clock::now();
  auto killed = (*g)->generate(text_prompt("y"), o, [&](std::string_view) {
    if (++n == 2) ::kill(s.child->pid(), SIGKILL);
    return true;
  }, CancelToken());
  ASSERT_FALSE(killed.ok());
  EXPECT_EQ(killed.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(killed.error().message().find("in the middle of the answer"), std::string::npos) << killed.error().message();
  const double killed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  EXPECT_LT(killed_ms, 3000.0);
}

}  // namespace
}  // namespace moecode::remote
