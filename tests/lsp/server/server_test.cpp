// The LSP server in process (real loop, endpoint, scheduler; a ScriptedGenerator for the
// model): lifecycle, sync, inline completion and completion, supersession, ContentModified,
// cancellation, configuration, progress, commands, trace, shutdown/exit.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "support/lsp_client.h"

namespace moecode::server {
namespace {

using testing::InProcessClient;
using testing::Json;
using jsonrpc::ErrorCode;

constexpr const char* kUri = "file:///w/a.py";

int error_code(const Json& response) {
  return response.contains("error") ? response["error"]["code"].get<int>() : 0;
}

std::string text_of(InProcessClient& c, const std::string& uri) {
  return c.on_loop([&] {
    auto snap = c.server().documents().get(uri);
    return snap ? *snap->text : std::string("<closed>");
  });
}

assist::Script add_script() {
  assist::Script s;
  s.replies = {{"def add(a, b):", "\n    return a + b\n\nprint(add(1, 2))\n"}};
  s.fallback = "pass";
  return s;
}

TEST(ServerTest, InitializeNegotiatesCapabilitiesAndEncoding) {
  InProcessClient c(add_script());
  const Json r = c.initialize();
  ASSERT_TRUE(r.contains("result")) << r.dump();
  const Json& caps = r["result"]["capabilities"];
  EXPECT_EQ(caps["positionEncoding"], "utf-16");
  EXPECT_EQ(caps["textDocumentSync"]["change"], 2);
  EXPECT_EQ(caps["inlineCompletionProvider"], true);
  EXPECT_TRUE(caps.contains("completionProvider"));
  EXPECT_EQ(caps["executeCommandProvider"]["commands"][0], "moecode.status");
  EXPECT_EQ(r["result"]["serverInfo"]["name"], "moecode");
  EXPECT_EQ(error_code(c.request("initialize", Json{{"capabilities", Json::object()}})),
            static_cast<int>(ErrorCode::kInvalidRequest));

  InProcessClient c8(add_script());
  const Json r8 = c8.initialize(Json::parse(R"({"general": {"positionEncodings": ["utf-32", "utf-8", "utf-16"]}})"));
  EXPECT_EQ(r8["result"]["capabilities"]["positionEncoding"], "utf-8");
  EXPECT_EQ(c8.on_loop([&] { return c8.server().encoding(); }), protocol::PositionEncoding::kUtf8);
}

TEST(ServerTest, RequestsBeforeInitializeAreRefused) {
  InProcessClient c(add_script());
  c.open(kUri, "x");  // dropped: not initialized
  const Json r = c.request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 0, 0));
  EXPECT_EQ(error_code(r), static_cast<int>(ErrorCode::kServerNotInitialized));
  EXPECT_EQ(error_code(c.request("shutdown", nullptr)), static_cast<int>(ErrorCode::kServerNotInitialized));
  c.initialize();
  EXPECT_EQ(text_of(c, kUri), "<closed>");
}

TEST(ServerTest, DocumentSyncIncrementalUtf16) {
  InProcessClient c(add_script());
  c.initialize();
  c.open(kUri, "s = \"\xF0\x9F\x98\x80\"\r\nprint(s)\r\n");
  c.notify("textDocument/didChange", Json::parse(R"({"textDocument": {"uri": "file:///w/a.py", "version": 2},
      "contentChanges": [{"range": {"start": {"line": 0, "character": 7}, "end": {"line": 0, "character": 7}}, "text": "!"},
                         {"range": {"start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 5}}, "text": "len"}]})"));
  EXPECT_EQ(text_of(c, kUri), "s = \"\xF0\x9F\x98\x80!\"\r\nlen(s)\r\n");
  EXPECT_EQ(c.on_loop([&] { return *c.server().documents().version(kUri); }), 2);
  // A bad range is reported to the user and leaves the text alone.
  c.notify("textDocument/didChange", Json::parse(R"({"textDocument": {"uri": "file:///w/a.py", "version": 3},
      "contentChanges": [{"range": {"start": {"line": 9, "character": 0}, "end": {"line": 9, "character": 0}}, "text": "x"}]})"));
  auto shown = c.wait_notifications("window/showMessage", 1);
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_NE(shown[0]["message"].get<std::string>().find("line 9"), std::string::npos) << shown[0].dump();
  EXPECT_EQ(text_of(c, kUri), "s = \"\xF0\x9F\x98\x80!\"\r\nlen(s)\r\n");
  c.notify("textDocument/didClose", Json{{"textDocument", {{"uri", kUri}}}});
  EXPECT_EQ(text_of(c, kUri), "<closed>");
}

TEST(ServerTest, InlineCompletionAndCompletion) {
  assist::Script script = add_script();
  script.replies.insert(script.replies.begin(), {"x = os.pa", "th.join(a, b)"});
  InProcessClient c(script);
  c.initialize();
  c.open(kUri, "import os\n\ndef add(a, b):\n");
  const Json r = c.request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 2, 14));
  ASSERT_TRUE(r.contains("result")) << r.dump();
  ASSERT_EQ(r["result"]["items"].size(), 1u);
  EXPECT_EQ(r["result"]["items"][0]["insertText"], "\n    return a + b");
  EXPECT_EQ(r["result"]["items"][0]["range"], Json::parse(R"({"start":{"line":2,"character":14},"end":{"line":2,"character":14}})"));

  c.notify("textDocument/didChange", Json::parse(R"({"textDocument": {"uri": "file:///w/a.py", "version": 2},
      "contentChanges": [{"range": {"start": {"line": 3, "character": 0}, "end": {"line": 3, "character": 0}}, "text": "x = os.pa"}]})"));
  const Json cr = c.request("textDocument/completion", InProcessClient::position_params(kUri, 3, 9));
  ASSERT_TRUE(cr.contains("result")) << cr.dump();
  ASSERT_EQ(cr["result"]["items"].size(), 1u);
  const Json& item = cr["result"]["items"][0];
  EXPECT_EQ(item["textEdit"]["newText"], "path.join(a, b)");  // the word being typed + the suggestion
  EXPECT_EQ(item["filterText"], "path.join(a, b)");
  EXPECT_EQ(item["textEdit"]["range"]["start"]["character"], 7);
  EXPECT_EQ(item["textEdit"]["range"]["end"]["character"], 9);
  EXPECT_EQ(item["label"], "path.join(a, b)");
  EXPECT_EQ(cr["result"]["isIncomplete"], true);
  const auto stats = c.on_loop([&] { return c.server().stats(); });
  EXPECT_EQ(stats.n_answered, 2u);
  EXPECT_GT(stats.cached_tokens, 0u);
}

TEST(ServerTest, BadCompletionParams) {
  InProcessClient c(add_script());
  c.initialize();
  c.open(kUri, "x\n");
  Json r = c.request("textDocument/inlineCompletion",
                     Json::parse(R"({"textDocument": {"uri": "file:///w/a.py"}, "position": {"line": "a", "character": 0}})"));
  EXPECT_EQ(error_code(r), static_cast<int>(ErrorCode::kInvalidParams));
  EXPECT_NE(r["error"]["message"].get<std::string>().find("params.position.line"), std::string::npos);
  r = c.request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 7, 0));
  EXPECT_EQ(error_code(r), static_cast<int>(ErrorCode::kInvalidParams));
  r = c.request("textDocument/inlineCompletion", InProcessClient::position_params("file:///nope", 0, 0));
  EXPECT_EQ(error_code(r), static_cast<int>(ErrorCode::kInvalidParams));
  EXPECT_EQ(error_code(c.request("textDocument/hover", InProcessClient::position_params(kUri, 0, 0))),
            static_cast<int>(ErrorCode::kMethodNotFound));
  c.send_raw("{\"jsonrpc\": \"2.0\", \"id\": ");
  const Json pe = c.wait_null_id_response(1);
  EXPECT_EQ(error_code(pe), static_cast<int>(ErrorCode::kParseError));
  // The server still serves.
  EXPECT_TRUE(c.request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 0, 1)).contains("result"));
}

assist::Script slow_script(int token_ms = 5) {
  assist::Script s;
  s.fallback = std::string(2000, 'z');
  s.token_delay_ms = token_ms;
  return s;
}

TEST(ServerTest, NewerRequestSupersedesTheOlder) {
  InProcessClient c(slow_script());
  c.initialize();
  c.open(kUri, "x");
  const int64_t first = c.send_request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 0, 1));
  ASSERT_TRUE(c.generator().wait_for_calls(1, 5000));
  const int64_t second = c.send_request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 0, 0));
  const Json r1 = c.wait_response(first);
  EXPECT_EQ(error_code(r1), static_cast<int>(ErrorCode::kRequestCancelled)) << r1.dump();
  EXPECT_NE(r1["error"]["message"].get<std::string>().find("superseded"), std::string::npos);
  c.cancel(second);
  EXPECT_EQ(error_code(c.wait_response(second)), static_cast<int>(ErrorCode::kRequestCancelled));
}

TEST(ServerTest, EditDuringCompletionGivesContentModified) {
  InProcessClient c(slow_script());
  c.initialize();
  c.open(kUri, "x");
  const int64_t id = c.send_request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 0, 1));
  ASSERT_TRUE(c.generator().wait_for_calls(1, 5000));
  c.notify("textDocument/didChange", Json::parse(R"({"textDocument": {"uri": "file:///w/a.py", "version": 2},
      "contentChanges": [{"text": "y"}]})"));
  const Json r = c.wait_response(id);
  EXPECT_EQ(error_code(r), static_cast<int>(ErrorCode::kContentModified)) << r.dump();
}

TEST(ServerTest, StaleResultIsDroppedAsContentModified) {
  // The edit lands after the generation finished but before its answer is delivered: the
  // result is for an old version. A loop task waits for the job to finish (its answer then
  // queues behind the task) and applies the edit.
  assist::Script s;
  s.fallback = "abc";
  InProcessClient c(s);
  c.initialize();
  c.open(kUri, "x");
  c.generator().on_start([&c] {
    c.post([&c] {
      ASSERT_TRUE(c.host().scheduler().wait_idle(std::chrono::seconds(5)));
      c.server().endpoint().receive(
          R"({"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":)"
          R"({"uri":"file:///w/a.py","version":7},"contentChanges":[{"text":"zz"}]}})");
    });
  });
  const int64_t id = c.send_request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 0, 1));
  const Json r = c.wait_response(id);
  EXPECT_EQ(error_code(r), static_cast<int>(ErrorCode::kContentModified)) << r.dump();
  EXPECT_NE(r["error"]["message"].get<std::string>().find("version 1 -> 7"), std::string::npos) << r.dump();
}

TEST(ServerTest, HundredCancelledRequestsLeaveTheEngineIdle) {
  InProcessClient c(slow_script(2));
  c.initialize();
  c.open(kUri, "def f():\n    ");
  for (int i = 0; i < 100; ++i) {
    const int64_t id = c.send_request(i % 2 ? "textDocument/completion" : "textDocument/inlineCompletion",
                                      InProcessClient::position_params(kUri, 1, 4));
    ASSERT_TRUE(c.generator().wait_for_calls(i + 1, 5000)) << "request " << i;
    std::this_thread::sleep_for(std::chrono::milliseconds(3));  // a token or two into the generation
    c.cancel(id);
    const Json r = c.wait_response(id);
    ASSERT_EQ(error_code(r), static_cast<int>(ErrorCode::kRequestCancelled)) << r.dump();
  }
  ASSERT_TRUE(c.host().scheduler().wait_idle(std::chrono::seconds(5)));
  EXPECT_EQ(c.host().scheduler().queue_size(), 0u);
  EXPECT_FALSE(c.host().scheduler().busy());
  EXPECT_FALSE(c.generator().running());
  EXPECT_EQ(c.generator().n_cancelled(), 100);
  EXPECT_EQ(c.on_loop([&] { return c.server().n_pending_completions(); }), 0u);
  EXPECT_EQ(c.on_loop([&] { return c.server().endpoint().n_pending_requests(); }), 0u);
}

TEST(ServerTest, ConfigurationFromInitOptionsChangesAndPulls) {
  assist::Script script;
  script.fallback = "one = 1\ntwo = 2\n";
  InProcessClient c(script);
  c.on_server_request("workspace/configuration", [](const Json&) {
    return Json::array({Json{{"maxLines", 1}, {"enabledLanguages", {"python"}}}});
  });
  c.initialize(Json::parse(R"({"workspace": {"configuration": true}})"),
               Json{{"maxTokens", 32}, {"enabledLanguages", {"go"}}});
  EXPECT_EQ(c.on_loop([&] { return c.server().config().max_tokens; }), 32);
  ASSERT_EQ(c.wait_server_requests("workspace/configuration", 1).size(), 1u);
  c.sync();
  c.sync();
  EXPECT_EQ(c.on_loop([&] { return c.server().config().max_lines; }), 1);
  c.open(kUri, "def add(a, b):\n");
  Json r = c.request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 1, 0));
  ASSERT_EQ(r["result"]["items"].size(), 1u) << r.dump();
  EXPECT_EQ(r["result"]["items"][0]["insertText"], "one = 1") << "maxLines 1 keeps only the first line";

  c.notify("workspace/didChangeConfiguration",
           Json{{"settings", {{"moecode", {{"enabledLanguages", {"go"}}, {"maxTokens", "many"}}}}}});
  auto shown = c.wait_notifications("window/showMessage", 1);
  ASSERT_GE(shown.size(), 1u);
  EXPECT_NE(shown.back()["message"].get<std::string>().find("maxTokens"), std::string::npos);
  r = c.request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 1, 0));
  EXPECT_TRUE(r["result"]["items"].empty()) << "python is no longer enabled";
  // settings: null means "pull".
  c.notify("workspace/didChangeConfiguration", Json{{"settings", nullptr}});
  EXPECT_EQ(c.wait_server_requests("workspace/configuration", 2).size(), 2u);
}

TEST(ServerTest, ModelThatFailsToLoadIsShownOnce) {
  InProcessClient c(add_script(), ServerOptions{});
  c.initialize();
  c.notify("workspace/didChangeConfiguration", Json{{"settings", {{"moecode", {{"backend", "hip"}}}}}});
  auto shown = c.wait_notifications("window/showMessage", 1);
  ASSERT_EQ(shown.size(), 1u);
  EXPECT_NE(shown[0]["message"].get<std::string>().find("completions are off"), std::string::npos);
  c.open(kUri, "x");
  const Json r = c.request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 0, 1));
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_TRUE(r["result"]["items"].empty());
}

TEST(ServerTest, IndexingReportsWorkDoneProgressAndSavesReachTheIndex) {
  const auto dir = std::filesystem::temp_directory_path() / ("moecode_idx_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "src");
  std::filesystem::create_directories(dir / "node_modules" / "x");
  for (int i = 0; i < 5; ++i) std::ofstream(dir / "src" / ("f" + std::to_string(i) + ".py")) << "x = 1\n";
  std::ofstream(dir / "node_modules" / "x" / "skip.js") << "";
  auto index = std::make_shared<FileListIndex>();
  InProcessClient c(add_script(), ServerOptions{}, index);
  c.initialize(Json::parse(R"({"window": {"workDoneProgress": true}})"), nullptr,
               Json::array({Json{{"uri", protocol::path_to_uri(dir.string())}, {"name", "w"}}}));
  auto creates = c.wait_server_requests("window/workDoneProgress/create", 1);
  ASSERT_EQ(creates.size(), 1u);
  auto progress = c.wait_notifications("$/progress", 2);
  ASSERT_GE(progress.size(), 2u);
  EXPECT_EQ(progress.front()["token"], creates[0]["token"]);
  EXPECT_EQ(progress.front()["value"]["kind"], "begin");
  EXPECT_EQ(progress.back()["value"]["kind"], "end");
  EXPECT_EQ(progress.back()["value"]["message"], "indexed 5 files");
  c.open(kUri, "x");
  c.notify("textDocument/didSave", Json{{"textDocument", {{"uri", kUri}}}});
  c.sync();
  EXPECT_EQ(index->counts().saved, 1u);
  EXPECT_EQ(index->counts().last_saved_version, 1);
  EXPECT_EQ(index->counts().opened, 1u);
  std::filesystem::remove_all(dir);
}

TEST(ServerTest, CommandsStatusAndInsertCompletionThroughApplyEdit) {
  InProcessClient c(add_script());
  Json applied_edit;
  c.on_server_request("workspace/applyEdit", [&](const Json& p) {
    applied_edit = p;
    return Json{{"applied", true}};
  });
  c.initialize(Json::parse(R"({"workspace": {"applyEdit": true}})"));
  c.open(kUri, "def add(a, b):\n");
  const Json r = c.request("workspace/executeCommand",
                           Json{{"command", "moecode.insertCompletion"},
                                {"arguments", Json::array({InProcessClient::position_params(kUri, 0, 14)})}});
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_EQ(r["result"]["applied"], true);
  EXPECT_EQ(applied_edit["edit"]["changes"][kUri][0]["newText"], "\n    return a + b");
  const Json st = c.request("workspace/executeCommand", Json{{"command", "moecode.status"}});
  EXPECT_EQ(st["result"]["model"], "scripted generator");
  EXPECT_EQ(st["result"]["documents"][0], kUri);
  EXPECT_EQ(st["result"]["queue"], 0);
  EXPECT_EQ(error_code(c.request("workspace/executeCommand", Json{{"command", "nope"}})),
            static_cast<int>(ErrorCode::kInvalidParams));
}

TEST(ServerTest, TraceSendsLogTrace) {
  InProcessClient c(add_script());
  c.initialize();
  c.notify("$/setTrace", Json{{"value", "verbose"}});
  c.open(kUri, "def add(a, b):\n");
  c.request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 0, 14));
  auto traces = c.wait_notifications("$/logTrace", 1);
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_NE(traces[0]["message"].get<std::string>().find("prompt tokens"), std::string::npos);
  EXPECT_EQ(traces[0]["verbose"], "\n    return a + b");
}

TEST(ServerTest, ShutdownThenExitCodes) {
  {
    InProcessClient c(add_script());
    c.initialize();
    const Json r = c.request("shutdown", nullptr);
    ASSERT_TRUE(r.contains("result"));
    EXPECT_TRUE(r["result"].is_null());
    EXPECT_EQ(error_code(c.request("textDocument/inlineCompletion", InProcessClient::position_params(kUri, 0, 0))),
              static_cast<int>(ErrorCode::kInvalidRequest));
    c.notify("exit", nullptr);
    EXPECT_EQ(c.wait_exit(), 0);
  }
  {
    InProcessClient c(add_script());
    c.initialize();
    c.notify("exit", nullptr);
    EXPECT_EQ(c.wait_exit(), 1);
  }
}

TEST(ServerTest, RandomEditsThroughTheServerMatchTheClient) {
  InProcessClient c(add_script());
  c.initialize(Json::parse(R"({"general": {"positionEncodings": ["utf-8"]}})"));
  std::string client_text = "seed\n";
  c.open(kUri, client_text);
  std::mt19937 rng(7);
  const std::vector<std::string> atoms = {"a", "\xC3\xA9", "\xF0\x9F\x98\x80", "\n", "\r\n", " "};
  for (int v = 2; v < 200; ++v) {
    // UTF-8 positions: pick byte offsets at character starts on a random line.
    std::vector<size_t> starts{0};
    for (size_t i = 0; i < client_text.size(); ++i) {
      if (client_text[i] == '\n') starts.push_back(i + 1);
    }
    const size_t line = rng() % starts.size();
    const size_t line_end = line + 1 < starts.size() ? starts[line + 1] - 1 : client_text.size();
    size_t col = starts[line];
    const size_t steps = rng() % 4;
    for (size_t k = 0; k < steps && col < line_end && client_text[col] != '\r'; ++k) {
      col += protocol::utf8_sequence_length(client_text, col);
    }
    std::string ins;
    for (size_t k = rng() % 3; k > 0; --k) ins += atoms[rng() % atoms.size()];
    client_text.insert(col, ins);
    c.notify("textDocument/didChange",
             Json{{"textDocument", {{"uri", kUri}, {"version", v}}},
                  {"contentChanges", Json::array({Json{{"range", {{"start", {{"line", line}, {"character", col - starts[line]}}},
                                                                  {"end", {{"line", line}, {"character", col - starts[line]}}}}},
                                                       {"text", ins}}})}});
  }
  EXPECT_EQ(text_of(c, kUri), client_text);
}

}  // namespace
}  // namespace moecode::server
