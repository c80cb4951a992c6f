// libFuzzer entry: one LSP session in process, fed fuzzed messages. Each input is a fresh
// LspServer (the engine host, with a scripted generator, is shared by all inputs, as the
// sessions of `moecode serve --listen` share one), initialized by the harness with every
// client capability; then each line of the input is one message body (requests,
// notifications, and answers to the server's own requests, whose ids count from 1). Byte 0:
// bit 0 makes the harness answer each server->client request at once (applyEdit applied,
// configuration with settings from the input's last line), bit 1 disconnects before the
// pending work ends instead of after. The workspace index is a stub that never reads the
// file system.
// Checks: no crash, no sanitizer report; every request the input sent is answered exactly
// once, or refused as a duplicate id; the session answers nothing after it is gone.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <spdlog/spdlog.h>

#include "lsp/assist/scripted_generator.h"
#include "lsp/server/engine_host.h"
#include "lsp/server/server.h"
#include "lsp/server/workspace_index.h"

namespace {

using namespace moecode;
using nlohmann::json;

class QueueExecutor final : public jsonrpc::Executor {
 public:
  void post(std::function<void()> fn) override {
    std::lock_guard lock(mu_);
    q_.push_back(std::move(fn));
  }
  // Runs what is queued (and what that queues); returns whether anything ran.
  bool drain() {
    bool ran = false;
    while (true) {
      std::function<void()> fn;
      {
        std::lock_guard lock(mu_);
        if (q_.empty()) return ran;
        fn = std::move(q_.front());
        q_.pop_front();
      }
      fn();
      ran = true;
    }
  }

 private:
  std::mutex mu_;
  std::deque<std::function<void()>> q_;
};

// Counts document events; never touches the file system.
class StubIndex final : public server::WorkspaceIndex {
 public:
  std::string index_folders(const std::vector<std::string>& folders, const server::ProgressFn& progress,
                            const engine::CancelToken&) override {
    progress({std::to_string(folders.size()) + " folders", 50});
    return "indexed nothing";
  }
  void document_opened(const workspace::DocumentSnapshot&) override {}
  void document_changed(const workspace::DocumentSnapshot&, std::span<const workspace::ByteEdit>) override {}
  void document_saved(const workspace::DocumentSnapshot&) override {}
  void document_closed(const std::string&) override {}
};

assist::Script script() {
  assist::Script s;
  s.replies.push_back({"def add", "\n    return a + b\n\n"});
  s.replies.push_back({"Fix", "```python\ndef add(a, b):\n    return a + b\n```\n"});
  s.replies.push_back({"Translate", "```javascript\nfunction add(a, b) {\n  return a + b;\n}\n```\n"});
  s.fallback = "x = 1\n";
  s.fim = true;
  return s;
}

server::EngineHost& host() {
  static server::EngineHost* h = new server::EngineHost([](const server::ModelSpec&) {
    return Result<std::unique_ptr<assist::Generator>>(std::make_unique<assist::ScriptedGenerator>(script()));
  });
  return *h;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "lsp_server_fuzz: %s\n", what.c_str());
  std::abort();
}

size_t nesting_depth(std::string_view s) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

const char* kInitialize = R"({"jsonrpc":"2.0","id":"init","method":"initialize","params":{
  "processId":null,"rootUri":null,"clientInfo":{"name":"fuzz"},
  "initializationOptions":{"debounceMs":0,"maxTokens":16},
  "capabilities":{"general":{"positionEncodings":["utf-16"]},
    "window":{"workDoneProgress":true,"showMessage":{}},
    "workspace":{"configuration":true,"workspaceFolders":true,"applyEdit":true,
      "workspaceEdit":{"documentChanges":true,"resourceOperations":["create"]}},
    "textDocument":{"inlineCompletion":{},"codeAction":{"resolveSupport":{"properties":["edit"]}}}}}})";

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  (void)host();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 16384) return 0;
  const bool auto_answer = data[0] & 1;
  const bool early_disconnect = data[0] & 2;
  std::vector<std::string> lines;
  {
    std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
    while (!in.empty() && lines.size() < 64) {
      const size_t nl = in.find('\n');
      lines.emplace_back(in.substr(0, nl));
      in = nl == std::string_view::npos ? std::string_view() : in.substr(nl + 1);
    }
  }

  server::EngineHost& h = host();
  if (!h.scheduler().wait_idle(std::chrono::seconds(10))) fail("the engine worker is stuck");
  h.set_generator(std::make_unique<assist::ScriptedGenerator>(script()), server::ModelSpec{"scripted", "cpu", 0});

  QueueExecutor loop;
  std::vector<json> sent;
  bool gone = false;
  std::shared_ptr<server::LspServer> session;
  std::function<void(json)> receive;
  server::ServerOptions options;
  options.cli_model = "scripted";
  session = server::LspServer::create(loop, h, std::make_shared<StubIndex>(), options, [&](std::string body) {
    if (gone) fail("a message after the session ended: " + body);
    json m = json::parse(body, nullptr, false);
    if (m.is_discarded()) fail("the server sent invalid JSON: " + body);
    if (auto_answer && m.contains("method") && m.contains("id")) {
      const std::string method = m["method"].get<std::string>();
      json result = nullptr;
      if (method == "workspace/applyEdit") result = json{{"applied", true}};
      if (method == "workspace/configuration") {
        json settings = lines.empty() ? json() : json::parse(lines.back(), nullptr, false);
        result = json::array({settings.is_discarded() ? json() : settings});
      }
      loop.post([&, id = m["id"], result] {
        if (session) session->endpoint().receive(json{{"jsonrpc", "2.0"}, {"id", id}, {"result", result}}.dump());
      });
    }
    sent.push_back(std::move(m));
  });
  session->endpoint().receive(kInitialize);
  session->endpoint().receive(R"({"jsonrpc":"2.0","method":"initialized","params":{}})");
  loop.drain();

  std::map<std::string, int> requests;  // id -> requests the input sent with it
  for (const std::string& line : lines) {
    if (nesting_depth(line) <= 256) {
      // Every object with a valid id is answered, unless it is a response (JSON-RPC 2.0, no
      // method, a result or an error): an invalid request with an id gets its error answer.
      const json m = json::parse(line, nullptr, false);
      if (m.is_object() && m.contains("id") && (m["id"].is_string() || m["id"].is_number_integer())) {
        const bool response = !m.contains("method") && (m.contains("result") || m.contains("error")) &&
                              m.contains("jsonrpc") && m["jsonrpc"] == "2.0";
        if (!response) ++requests[m["id"].dump()];
      }
    }
    session->endpoint().receive(line);
    loop.drain();
  }

  // Let the work finish (or cut it short), then end the session as a closed connection does.
  const auto settle = [&](int ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < deadline) {
      const bool ran = loop.drain();
      if (!ran && h.scheduler().idle()) {
        if (!loop.drain()) return true;
      }
      if (!ran) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return false;
  };
  const bool settled = !early_disconnect && settle(300);
  session->disconnected();
  if (!settle(10000)) fail("the session's work did not end after the disconnect");

  // Exactly once: each request id is answered as often as it was sent (a duplicate id in
  // flight is refused, which is an answer too); "init" once.
  std::map<std::string, int> answers;
  for (const json& m : sent) {
    if (m.contains("id") && !m.contains("method")) ++answers[m["id"].dump()];
  }
  for (const auto& [id, n] : answers) {
    if (id == "null") continue;
    const int expected = id == "\"init\"" ? 1 + requests[id] : requests[id];
    if (n > expected) fail("request " + id + " answered " + std::to_string(n) + " times");
  }
  for (const auto& [id, n] : requests) {
    if (answers[id] < n) {
      // A request still in flight when the connection closed gets no answer (nobody listens),
      // and one may wait for the client's answer to a request of the server's.
      if (settled && auto_answer) fail("request " + id + " unanswered (" + std::to_string(answers[id]) + " of " + std::to_string(n) + ")");
    }
  }
  gone = true;
  session.reset();
  // A job the engine worker is still running may post its last news to this input's loop: the
  // loop (a local here, the process's own in `moecode serve`) must outlive it.
  if (!h.scheduler().wait_idle(std::chrono::seconds(10))) fail("the engine worker is stuck after the session");
  loop.drain();
  return 0;
}
