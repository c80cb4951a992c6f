// lsp/remote: the protocol pieces (URLs, SSE, Retry-After, stop strings, FIM prompts) and the
// RemoteGenerator against a capturing server on loopback: streaming, every preset's request
// shape, the API key from the environment (never in a message), 429 with Retry-After, 5xx,
// timeouts, a stalled and a cut stream, cancellation that closes the connection.
#include <stdlib.h>

#include <chrono>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "lsp/remote/http_client.h"
#include "lsp/remote/openai_protocol.h"
#include "lsp/remote/remote_generator.h"
#include "support/capture_server.h"
#include "support/run_command.h"

namespace moecode::remote {
namespace {

using Json = nlohmann::json;
using testing::CannedReply;
using testing::CapturedRequest;
using testing::CaptureServer;
using testing::sse_frames;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string completion_chunk(const std::string& text, const char* finish = nullptr) {
  Json c{{"index", 0}, {"text", text}, {"finish_reason", finish ? Json(finish) : Json(nullptr)}};
  return Json{{"id", "cmpl-1"}, {"object", "text_completion"}, {"choices", Json::array({c})}}.dump();
}

std::string chat_chunk(const std::string& key, const std::string& text, const char* finish = nullptr) {
  Json c{{"index", 0}, {"delta", Json{{key, text}}}, {"finish_reason", finish ? Json(finish) : Json(nullptr)}};
  return Json{{"id", "chat-1"}, {"object", "chat.completion.chunk"}, {"choices", Json::array({c})}}.dump();
}

std::string usage_chunk(int prompt, int completion, int cached) {
  return Json{{"choices", Json::array()},
              {"usage", {{"prompt_tokens", prompt},
                         {"completion_tokens", completion},
                         {"prompt_tokens_details", {{"cached_tokens", cached}}}}}}
      .dump();
}

CannedReply stream_of(const std::vector<std::string>& json, int pause_ms = 0) {
  CannedReply r;
  r.chunks = sse_frames(json);
  r.pause_ms = pause_ms;
  return r;
}

// A FIM prompt as the completer builds it with the remote generator's sentinels.
assist::Prompt fim_prompt(const std::string& prefix, const std::string& suffix, bool with_files = false) {
  assist::Prompt p;
  if (with_files) {
    p.add_special("<|file_sep|>");
    p.add_text("util.py\ndef helper():\n    return 1\n");
    p.add_special("<|file_sep|>");
    p.add_text("main.py\n");
  }
  p.add_special("<|fim_prefix|>");
  p.add_text(prefix);
  p.add_special("<|fim_suffix|>");
  p.add_text(suffix);
  p.add_special("<|fim_middle|>");
  return p;
}

RemoteConfig config_for(const CaptureServer& server, const std::string& preset, const std::string& path = "/v1") {
  RemoteConfig c;
  c.preset = preset;
  c.base_url = server.url(path);
  c.model = "test-model";
  c.max_retries = 2;
  c.timeout_ms = 5000;
  return c;
}

// ---- pure pieces ----------------------------------------------------------------------------

TEST(RemoteUrl, ParsesHttpHttpsAndUnix) {
  auto u = parse_url("https://example.com/openai/v1/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->scheme, "https");
  EXPECT_EQ(u->host, "example.com");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/openai/v1");
  u = parse_url("http://127.0.0.1:8000/v1?api-version=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->port, 8000);
  EXPECT_EQ(u->query, "api-version=1");
  EXPECT_EQ(u->origin(), "http://127.0.0.1:8000");
  u = parse_url("http://[::1]:9/v1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->origin(), "http://[::1]:9");
  u = parse_url("unix:/run/moecode/engine.sock");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->socket, "/run/moecode/engine.sock");
  EXPECT_FALSE(parse_url("ftp://x").ok());
  EXPECT_FALSE(parse_url("http://user:pass@host/v1").ok());  // keys never in URLs
  EXPECT_FALSE(parse_url("http://host:99999").ok());
  EXPECT_FALSE(parse_url("unix:relative.sock").ok());
}

TEST(RemoteSse, SplitsEventsAcrossChunksAndLineEndings) {
  SseParser p;
  std::vector<std::string> got;
  auto on = [&](const std::string& event, const std::string& data) {
    got.push_back(event + "|" + data);
    return true;
  };
  const std::string stream = ": keep-alive\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata: one\ndata: two\n\ndata: [DONE]\n\n";
  for (char c : stream) ASSERT_TRUE(p.feed(std::string_view(&c, 1), on));
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0], "message|{\"a\":1}");
  EXPECT_EQ(got[1], "x|one\ntwo");
  EXPECT_EQ(got[2], "message|[DONE]");
  EXPECT_EQ(p.pending(), 0u);
}

TEST(RemoteRetry, RetryAfterSecondsAndDatesAndBackoff) {
  EXPECT_EQ(parse_retry_after("3", 0), std::chrono::milliseconds(3000));
  EXPECT_EQ(parse_retry_after(" 0 ", 0), std::chrono::milliseconds(0));
  // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412470), std::chrono::milliseconds(10000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 1445412490), std::chrono::milliseconds(0));
  EXPECT_FALSE(parse_retry_after("soon", 0).has_value());
  EXPECT_FALSE(parse_retry_after("", 0).has_value());
  EXPECT_EQ(backoff_delay(0, 0.0), std::chrono::milliseconds(500));
  EXPECT_EQ(backoff_delay(1, 0.0), std::chrono::milliseconds(1000));
  EXPECT_EQ(backoff_delay(10, 0.0), std::chrono::milliseconds(8000));
  EXPECT_EQ(backoff_delay(0, 1.0), std::chrono::milliseconds(600));
}

TEST(RemoteStopFilter, HoldsBackAPossibleStopAndCutsBeforeIt) {
  StopFilter f({"\n\n", "END"});
  EXPECT_EQ(f.push("abc\n"), "abc");
  EXPECT_EQ(f.push("x"), "\nx");
  EXPECT_EQ(f.push("EN"), "");
  EXPECT_EQ(f.push("Dtail"), "");
  EXPECT_TRUE(f.stopped());
  EXPECT_EQ(f.flush(), "");
  StopFilter g({"STOP"});
  EXPECT_EQ(g.push("ST"), "");
  EXPECT_EQ(g.flush(), "ST");
}

TEST(RemoteFim, SplitsSentinelPromptsAndNeutralisesControlText) {
  auto r = split_fim_prompt(fim_prompt("def f():\n    ", "\nprint(f())\n", true), FimSentinels());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->prefix, "def f():\n    ");
  EXPECT_EQ(r->suffix, "\nprint(f())\n");
  EXPECT_EQ(r->path, "main.py");
  ASSERT_EQ(r->files.size(), 1u);
  EXPECT_EQ(r->files[0].first, "util.py");
  EXPECT_EQ(r->files[0].second, "def helper():\n    return 1\n");
  assist::Prompt plain;
  plain.add_text("just text");
  EXPECT_FALSE(split_fim_prompt(plain, FimSentinels()).has_value());

  assist::Prompt p;
  p.add_special("<|fim_prefix|>");
  p.add_text("x = '<|fim_suffix|>'");
  const std::string s = render_for_text_api(p, {"<|fim_prefix|>", "<|fim_suffix|>"});
  EXPECT_EQ(s.find("<|fim_prefix|>"), 0u);
  EXPECT_EQ(s.find("<|fim_suffix|>"), std::string::npos);  // the document's copy is broken up
  EXPECT_NE(s.find("<\xE2\x80\x8B|fim_suffix|>"), std::string::npos);
}

TEST(RemoteConfigTest, PresetsSettingsAndKeysNeverFromSettings) {
  for (const char* name : {"vllm", "sglang", "llamacpp", "azure", "together", "nim", "openai", "moecode"}) {
    EXPECT_NE(find_preset(name), nullptr) << name;
  }
  RemoteConfig c;
  auto errors = apply_remote_settings(c, Json{{"preset", "vllm"}, {"model", "Qwen/Qwen2.5-Coder-7B"}, {"apiKey", "sekrit"}});
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("apiKeyEnv"), std::string::npos);
  EXPECT_EQ(errors[0].find("sekrit"), std::string::npos);
  EXPECT_EQ(c.preset, "vllm");
  auto r = resolve_remote(c);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->config.base_url, "http://127.0.0.1:8000/v1");
  EXPECT_EQ(r->config.api_key_env, "VLLM_API_KEY");
  EXPECT_EQ(r->fim, FimMode::kTemplate);  // a Qwen coder model: the client writes Qwen's FIM tokens
  EXPECT_EQ(r->fim_family, "qwen");
  errors = apply_remote_settings(c, Json{{"preset", "nope"}, {"fim", "sideways"}, {"timeoutMs", -1}});
  EXPECT_EQ(errors.size(), 3u);
  EXPECT_EQ(c.preset, "vllm");
  RemoteConfig azure;
  azure.preset = "azure";
  EXPECT_FALSE(resolve_remote(azure).ok());  // Azure needs the resource's URL
  azure.base_url = "https://x.services.ai.azure.com/models";
  r = resolve_remote(azure);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->fim, FimMode::kChat);
  EXPECT_EQ(r->config.api_version, "2024-05-01-preview");
  RemoteConfig llama;
  llama.preset = "llamacpp";
  EXPECT_EQ(resolve_remote(llama)->fim, FimMode::kInfill);
  errors = apply_remote_settings(c, Json::object());
  EXPECT_FALSE(c.enabled());
}

// ---- against a capturing server ---------------------------------------------------------------

TEST(RemoteGeneratorTest, StreamsACompletionWithTheKeyFromTheEnvironment) {
  CaptureServer server([](const CapturedRequest& r, int) {
    if (r.target == "/v1/models") {
      CannedReply m;
      m.headers = {{"Content-Type", "application/json"}};
      m.chunks = {Json{{"object", "list"}, {"data", {{{"id", "test-model"}, {"max_model_len", 4096}}}}}.dump()};
      return m;
    }
    return stream_of({completion_chunk("Hello"), completion_chunk(", wor"), completion_chunk("ld", "length"),
                      usage_chunk(12, 3, 8)},
                     20);
  });
  ::setenv("MOECODE_TEST_KEY", "key-123-secret", 1);
  RemoteConfig c = config_for(server, "vllm");
  c.api_key_env = "MOECODE_TEST_KEY";
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_EQ((*g)->n_ctx(), 4096);  // max_model_len from GET /models
  EXPECT_EQ((*g)->describe().find("key-123"), std::string::npos);
  assist::Prompt p;
  p.add_text("print(");
  std::vector<std::string> pieces;
  assist::GenerationOptions o;
  o.max_tokens = 3;
  o.stop_strings = {"\n\n"};
  auto gen = (*g)->generate(p, o, [&](std::string_view s) {
    pieces.emplace_back(s);
    return true;
  }, CancelToken());
  ASSERT_TRUE(gen.ok()) << gen.error().message();
  EXPECT_EQ(gen->text, "Hello, world");
  EXPECT_EQ(gen->finish, assist::FinishReason::kLength);
  EXPECT_EQ(gen->n_prompt_tokens, 12);
  EXPECT_EQ(gen->n_generated_tokens, 3);
  EXPECT_EQ(gen->n_cached_tokens, 8);
  EXPECT_GE(pieces.size(), 3u);
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(reqs[0].target, "/v1/models");
  EXPECT_EQ(reqs[1].target, "/v1/completions");
  EXPECT_EQ(reqs[1].header("authorization"), "Bearer key-123-secret");
  const Json body = Json::parse(reqs[1].body);
  EXPECT_EQ(body["model"], "test-model");
  EXPECT_EQ(body["prompt"], "print(");
  EXPECT_EQ(body["max_tokens"], 3);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stop"], Json::array({"\n\n"}));
  EXPECT_EQ(body["temperature"], 0.0);
  ::unsetenv("MOECODE_TEST_KEY");
}

// llama-cpp-python's stream ends with usage saying 0 completion tokens: the streamed pieces
// are counted instead, so the footer and the logs do not claim nothing was generated.
TEST(RemoteGeneratorTest, AZeroCompletionCountInTheUsageFallsBackToTheStreamedPieces) {
  CaptureServer server([](const CapturedRequest& r, int) {
    if (r.target == "/v1/models") {
      CannedReply m;
      m.headers = {{"Content-Type", "application/json"}};
      m.chunks = {Json{{"object", "list"}, {"data", {{{"id", "peer"}}}}}.dump()};
      return m;
    }
    return stream_of({completion_chunk("a"), completion_chunk(""), completion_chunk("b"),
                      completion_chunk("c", "length"), usage_chunk(7, 0, 0)});
  });
  auto g = RemoteGenerator::connect(config_for(server, "openai"));
  ASSERT_TRUE(g.ok()) << g.error().message();
  assist::Prompt p;
  p.add_text("x");
  assist::GenerationOptions o;
  o.max_tokens = 3;
  auto gen = (*g)->generate(p, o, nullptr, CancelToken());
  ASSERT_TRUE(gen.ok()) << gen.error().message();
  EXPECT_EQ(gen->text, "abc");
  EXPECT_EQ(gen->n_prompt_tokens, 7);
  EXPECT_EQ(gen->n_generated_tokens, 3);  // three pieces with text; the empty one is not a token
}

TEST(RemoteGeneratorTest, RetriesA429AfterRetryAfter) {
  CaptureServer server([](const CapturedRequest& r, int index) {
    if (r.target == "/v1/models") return CannedReply{404, {}, {"{}"}};
    if (index == 1) {  // the first completion
      CannedReply busy;
      busy.status = 429;
      busy.headers = {{"Retry-After", "1"}, {"Content-Type", "application/json"}};
      busy.chunks = {R"({"error":{"message":"too many requests"}})"};
      return busy;
    }
    return stream_of({completion_chunk("ok", "stop")});
  });
  RemoteConfig c = config_for(server, "openai");
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());
  assist::Prompt p;
  p.add_text("x");
  const auto t0 = Clock::now();
  auto gen = (*g)->generate(p, {}, nullptr, CancelToken());
  ASSERT_TRUE(gen.ok()) << gen.error().message();
  EXPECT_EQ(gen->text, "ok");
  const auto arrivals = server.arrivals();
  ASSERT_EQ(arrivals.size(), 3u);  // GET /models, the 429, the retry
  const double waited = std::chrono::duration<double, std::milli>(arrivals[2] - arrivals[1]).count();
  EXPECT_GE(waited, 950.0);   // Retry-After: 1 was honoured
  EXPECT_LT(ms_since(t0), 4000.0);
  EXPECT_EQ((*g)->n_retries(), 1);
}

TEST(RemoteGeneratorTest, RetriesA503WithBackoffThenGivesUpWithTheServersMessage) {
  CaptureServer server([](const CapturedRequest&, int) {
    CannedReply down;
    down.status = 503;
    down.headers = {{"Content-Type", "application/json"}};
    down.chunks = {R"({"error":{"message":"model is loading"}})"};
    return down;
  });
  RemoteConfig c = config_for(server, "sglang");
  c.max_retries = 1;
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());
  assist::Prompt p;
  p.add_text("x");
  const auto t0 = Clock::now();
  auto gen = (*g)->generate(p, {}, nullptr, CancelToken());
  ASSERT_FALSE(gen.ok());
  EXPECT_NE(gen.error().message().find("HTTP 503"), std::string::npos) << gen.error().message();
  EXPECT_NE(gen.error().message().find("model is loading"), std::string::npos);
  EXPECT_GE(ms_since(t0), 450.0);  // one backoff of ~500 ms
  EXPECT_EQ(server.n_requests(), 3u);  // probe + first try + one retry
}

TEST(RemoteGeneratorTest, TimesOutWhenTheServerDoesNotAnswer) {
  CaptureServer server([](const CapturedRequest& r, int) {
    CannedReply slow = stream_of({completion_chunk("late", "stop")});
    if (r.target != "/v1/models") slow.head_delay_ms = 3000;
    return slow;
  });
  RemoteConfig c = config_for(server, "openai");
  c.timeout_ms = 300;
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());
  assist::Prompt p;
  p.add_text("x");
  const auto t0 = Clock::now();
  auto gen = (*g)->generate(p, {}, nullptr, CancelToken());
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.error().code(), ErrorCode::kUnavailable);
  EXPECT_NE(gen.error().message().find("within 300 ms"), std::string::npos) << gen.error().message();
  EXPECT_LT(ms_since(t0), 2000.0);
}

TEST(RemoteGeneratorTest, AStalledStreamTimesOutAndACutStreamIsAnError) {
  CaptureServer server([](const CapturedRequest& r, int index) {
    CannedReply reply = stream_of({completion_chunk("part")}, 0);
    reply.chunks.pop_back();  // no [DONE]
    if (r.target == "/v1/models") return reply;
    if (index == 1) reply.stall_ms = 3000;  // stalls after the first piece
    if (index == 2) reply.cut = true;       // the server goes away mid-answer
    return reply;
  });
  RemoteConfig c = config_for(server, "openai");
  c.timeout_ms = 400;
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());
  assist::Prompt p;
  p.add_text("x");
  std::string seen;
  auto on = [&](std::string_view s) {
    seen += s;
    return true;
  };
  auto stalled = (*g)->generate(p, {}, on, CancelToken());
  ASSERT_FALSE(stalled.ok());
  EXPECT_NE(stalled.error().message().find("stalled"), std::string::npos) << stalled.error().message();
  EXPECT_EQ(seen, "part");
  auto cut = (*g)->generate(p, {}, on, CancelToken());
  ASSERT_FALSE(cut.ok());
  EXPECT_NE(cut.error().message().find("in the middle of the answer"), std::string::npos) << cut.error().message();
  EXPECT_EQ(server.n_requests(), 3u);  // nothing is retried once text has streamed
}

TEST(RemoteGeneratorTest, CancellationClosesTheStream) {
  CaptureServer server([](const CapturedRequest&, int) {
    std::vector<std::string> many;
    for (int i = 0; i < 200; ++i) many.push_back(completion_chunk("t"));
    return stream_of(many, 20);
  });
  RemoteConfig c = config_for(server, "openai");
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());
  assist::Prompt p;
  p.add_text("x");
  CancelToken cancel;
  int n = 0;
  std::thread canceller;
  auto gen = (*g)->generate(p, {}, [&](std::string_view) {
    if (++n == 3) canceller = std::thread([cancel] { cancel.cancel(); });
    return true;
  }, cancel);
  canceller.join();
  ASSERT_FALSE(gen.ok());
  EXPECT_EQ(gen.error().code(), ErrorCode::kCancelled);
  EXPECT_LT(n, 20);
  for (int i = 0; i < 100 && !server.client_went_away(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(server.client_went_away());  // the server saw the connection close

  // A callback that has seen enough also closes it, and the generation ends "by callback".
  int m = 0;
  auto stopped = (*g)->generate(p, {}, [&](std::string_view) { return ++m < 2; }, CancelToken());
  ASSERT_TRUE(stopped.ok());
  EXPECT_EQ(stopped->finish, assist::FinishReason::kCallback);
  EXPECT_EQ(stopped->text, "tt");
}

TEST(RemoteGeneratorTest, RefusedKeyNamesTheVariableButNeverTheKey) {
  CaptureServer server([](const CapturedRequest&, int) {
    CannedReply no;
    no.status = 401;
    no.headers = {{"Content-Type", "application/json"}};
    no.chunks = {R"({"error":{"message":"invalid api key"}})"};
    return no;
  });
  ::setenv("MOECODE_TEST_KEY2", "very-secret-value", 1);
  RemoteConfig c = config_for(server, "together");
  c.api_key_env = "MOECODE_TEST_KEY2";
  auto g = RemoteGenerator::connect(c);
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message().find("$MOECODE_TEST_KEY2"), std::string::npos) << g.error().message();
  EXPECT_EQ(g.error().message().find("very-secret-value"), std::string::npos);
  ::unsetenv("MOECODE_TEST_KEY2");
}

TEST(RemoteGeneratorTest, ChatStreamsReasoningAsThinkTags) {
  CaptureServer server([](const CapturedRequest&, int) {
    return stream_of({chat_chunk("role", "assistant"), chat_chunk("reasoning_content", "let me see"),
                      chat_chunk("content", "```py\nx = 1\n```"), chat_chunk("content", "", "stop")});
  });
  RemoteConfig c = config_for(server, "vllm");
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());
  auto gen = (*g)->chat({{"system", "be brief"}, {"user", "fix it"}}, {}, nullptr, CancelToken());
  ASSERT_TRUE(gen.ok()) << gen.error().message();
  EXPECT_EQ(gen->text, "<think>let me see</think>```py\nx = 1\n```");
  const auto reqs = server.requests();
  const Json body = Json::parse(reqs.back().body);
  EXPECT_EQ(reqs.back().target, "/v1/chat/completions");
  EXPECT_EQ(body["messages"][1]["content"], "fix it");
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
}

TEST(RemoteGeneratorTest, AzureUsesTheApiKeyHeaderApiVersionAndChatForCompletions) {
  CaptureServer server([](const CapturedRequest&, int) {
    return stream_of({chat_chunk("content", "```python\n"), chat_chunk("content", "return a + b\n```", "stop")});
  });
  ::setenv("MOECODE_TEST_AZURE", "azure-key", 1);
  RemoteConfig c = config_for(server, "azure", "/models");
  c.api_key_env = "MOECODE_TEST_AZURE";
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_EQ(server.n_requests(), 0u);  // no GET /models on Azure
  EXPECT_FALSE((*g)->special_tokens().fim_prefix.empty());  // FIM through a chat
  auto gen = (*g)->generate(fim_prompt("def add(a, b):\n    ", "\n"), {}, nullptr, CancelToken());
  ASSERT_TRUE(gen.ok()) << gen.error().message();
  EXPECT_EQ(gen->text, "return a + b");  // the fence is taken off
  const auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].target, "/models/chat/completions?api-version=2024-05-01-preview");
  EXPECT_EQ(reqs[0].header("api-key"), "azure-key");
  EXPECT_EQ(reqs[0].header("authorization"), "");
  const Json body = Json::parse(reqs[0].body);
  EXPECT_NE(body["messages"][1]["content"].get<std::string>().find("def add(a, b):\n    <CURSOR>\n"), std::string::npos);
  EXPECT_FALSE(body.contains("stream_options"));
  ::unsetenv("MOECODE_TEST_AZURE");
}

TEST(RemoteGeneratorTest, LlamaCppInfillSendsPrefixSuffixAndExtraFiles) {
  CaptureServer server([](const CapturedRequest& r, int) {
    if (r.target == "/v1/models") {
      CannedReply m;
      m.headers = {{"Content-Type", "application/json"}};
      m.chunks = {Json{{"data", {{{"id", "model.gguf"}, {"meta", {{"n_ctx_train", 32768}}}}}}}.dump()};
      return m;
    }
    CannedReply rep;
    rep.chunks = {"data: {\"content\":\"return 1\",\"stop\":false}\n\n",
                  "data: {\"content\":\"\",\"stop\":true,\"stop_type\":\"limit\",\"tokens_predicted\":2,"
                  "\"tokens_evaluated\":40}\n\n"};
    return rep;
  });
  RemoteConfig c = config_for(server, "llamacpp");
  c.model = "";
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());
  EXPECT_EQ((*g)->n_ctx(), 32768);
  EXPECT_EQ((*g)->model(), "model.gguf");
  EXPECT_TRUE((*g)->has_special_token("<|file_sep|>"));
  auto gen = (*g)->generate(fim_prompt("def f():\n    ", "\n", true), {}, nullptr, CancelToken());
  ASSERT_TRUE(gen.ok()) << gen.error().message();
  EXPECT_EQ(gen->text, "return 1");
  EXPECT_EQ(gen->finish, assist::FinishReason::kLength);
  EXPECT_EQ(gen->n_prompt_tokens, 40);
  const auto reqs = server.requests();
  EXPECT_EQ(reqs.back().target, "/infill");
  const Json body = Json::parse(reqs.back().body);
  EXPECT_EQ(body["input_prefix"], "def f():\n    ");
  EXPECT_EQ(body["input_suffix"], "\n");
  EXPECT_EQ(body["input_extra"][0]["filename"], "util.py");
  EXPECT_EQ(body["n_predict"], 64);
}

TEST(RemoteGeneratorTest, TemplateFimWritesTheFamilyTokensAndSuffixModeSendsSuffix) {
  CaptureServer server([](const CapturedRequest&, int) { return stream_of({completion_chunk("1", "stop")}); });
  RemoteConfig c = config_for(server, "vllm");
  c.model = "Qwen/Qwen2.5-Coder-1.5B";
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE((*g)->has_special_token("<|fim_prefix|>"));
  EXPECT_TRUE((*g)->has_special_token("<|fim_pad|>"));
  assist::Prompt p;
  p.add_special("<|fim_prefix|>");
  p.add_text("s = '<|fim_middle|>'\nx = ");
  p.add_special("<|fim_suffix|>");
  p.add_text("\n");
  p.add_special("<|fim_middle|>");
  assist::GenerationOptions o;
  o.stop_special = {"<|fim_pad|>", "<|endoftext|>"};
  ASSERT_TRUE((*g)->generate(p, o, nullptr, CancelToken()).ok());
  Json body = Json::parse(server.requests().back().body);
  const std::string prompt = body["prompt"];
  EXPECT_EQ(prompt.rfind("<|fim_prefix|>s = '<\xE2\x80\x8B|fim_middle|>'", 0), 0u) << prompt;
  EXPECT_EQ(prompt.substr(prompt.size() - 14), "<|fim_middle|>");
  EXPECT_EQ(body["stop"], Json::array({"<|fim_pad|>", "<|endoftext|>"}));
  EXPECT_EQ(body["skip_special_tokens"], false);

  RemoteConfig s = config_for(server, "moecode");  // our own server takes "suffix"
  auto ours = RemoteGenerator::connect(s);
  ASSERT_TRUE(ours.ok());
  ASSERT_TRUE((*ours)->generate(fim_prompt("a = ", "\nb = 2\n"), {}, nullptr, CancelToken()).ok());
  body = Json::parse(server.requests().back().body);
  EXPECT_EQ(body["prompt"], "a = ");
  EXPECT_EQ(body["suffix"], "\nb = 2\n");
}

TEST(RemoteGeneratorTest, AcceptsAServerThatDoesNotStream) {
  CaptureServer server([](const CapturedRequest&, int) {
    CannedReply whole;
    whole.headers = {{"Content-Type", "application/json"}};
    whole.chunks = {Json{{"choices", {{{"index", 0}, {"text", "whole answer"}, {"finish_reason", "stop"}}}},
                         {"usage", {{"prompt_tokens", 5}, {"completion_tokens", 2}}}}
                        .dump()};
    return whole;
  });
  auto g = RemoteGenerator::connect(config_for(server, "nim"));
  ASSERT_TRUE(g.ok());
  assist::Prompt p;
  p.add_text("x");
  auto gen = (*g)->generate(p, {}, nullptr, CancelToken());
  ASSERT_TRUE(gen.ok()) << gen.error().message();
  EXPECT_EQ(gen->text, "whole answer");
  EXPECT_EQ(gen->n_generated_tokens, 2);
}

TEST(RemoteGeneratorTest, AnUnreachableServerIsRetriedThenReported) {
  // A port nothing listens on: bind one and close it.
  uint16_t port;
  { CaptureServer probe([](const CapturedRequest&, int) { return CannedReply(); }); port = probe.port(); }
  RemoteConfig c;
  c.preset = "openai";
  c.base_url = "http://127.0.0.1:" + std::to_string(port) + "/v1";
  c.max_retries = 1;
  auto g = RemoteGenerator::connect(c);
  ASSERT_TRUE(g.ok());  // only a warning at connect time
  assist::Prompt p;
  p.add_text("x");
  auto gen = (*g)->generate(p, {}, nullptr, CancelToken());
  ASSERT_FALSE(gen.ok());
  EXPECT_NE(gen.error().message().find("cannot connect"), std::string::npos) << gen.error().message();
  EXPECT_EQ((*g)->n_retries(), 1);
}

TEST(RemoteCliTest, GenerateAndChatFromTheCommandLine) {
  CaptureServer server([](const CapturedRequest& r, int) {
    if (r.target == "/v1/chat/completions") {
      return stream_of({chat_chunk("reasoning_content", "hmm"), chat_chunk("content", "Hello!", "stop")});
    }
    return stream_of({completion_chunk("    return a"), completion_chunk(" + b\n", "stop")});
  });
  auto r = testing::run_moecode("generate --remote openai --remote-url " + server.url() +
                                " --remote-model m -p 'def add(a, b):' -n 8 --temp 0");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "    return a + b\n\n");
  EXPECT_NE(r.err.find("remote openai"), std::string::npos) << r.err;
  r = testing::run_moecode("generate --chat --remote openai --remote-url " + server.url() + " -p hi -n 8 --json");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(Json::parse(r.out)["text"], "Hello!");  // the reasoning is kept out
  const Json body = Json::parse(server.requests().back().body);
  EXPECT_EQ(body["messages"][0]["content"], "hi");
  // Flags that make no sense alone are refused.
  r = testing::run_moecode("generate --remote-model m -p x");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--remote"), std::string::npos) << r.err;
}

// The API key goes into the Authorization header and nowhere else: not in the log at its most
// verbose level, not on stdout, not when the server refuses it (a 401), not on a retry.
TEST(RemoteCliTest, TheApiKeyIsSentButNeverLogged) {
  const std::string key = std::string("sk-") + "moecodetest" + "Kq7Z9";
  CaptureServer server([](const CapturedRequest&, int index) {
    if (index == 0) {  // one 503 first: the retry path logs too
      CannedReply busy;
      busy.status = 503;
      busy.headers = {{"Retry-After", "0"}};
      busy.chunks = {"busy"};
      return busy;
    }
    if (index >= 2) {
      CannedReply refused;
      refused.status = 401;
      refused.chunks = {R"({"error":{"message":"invalid api key"}})"};
      return refused;
    }
    return stream_of({completion_chunk("    return a + b\n", "stop")});
  });
  const std::string cmd = "MOECODE_TEST_API_KEY=" + key + " " + testing::shell_quote(testing::moecode_binary()) +
                          " --log-level trace generate --remote openai --remote-url " + server.url() +
                          " --remote-model m --api-key-env MOECODE_TEST_API_KEY -p 'def add(a, b):' -n 8 --temp 0";
  auto r = testing::run_command(cmd);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  auto refused = testing::run_command(cmd);
  EXPECT_NE(refused.exit_code, 0);
  for (const auto* res : {&r, &refused}) {
    EXPECT_EQ(res->out.find(key), std::string::npos) << res->out;
    EXPECT_EQ(res->err.find(key), std::string::npos) << res->err;
    EXPECT_EQ(res->err.find("moecodetest"), std::string::npos) << "no part of the key either: " << res->err;
  }
  EXPECT_NE(refused.err.find("401"), std::string::npos) << refused.err;
  EXPECT_NE(r.err.find("503"), std::string::npos) << "the retry was logged: " << r.err;
  const auto reqs = server.requests();
  ASSERT_GE(reqs.size(), 3u);
  for (const auto& q : reqs) {
    EXPECT_EQ(q.header("authorization"), "Bearer " + key);
    EXPECT_EQ(q.body.find(key), std::string::npos);
  }
}

}  // namespace
}  // namespace moecode::remote
