// Secrets never leave the machine: a workspace with secrets planted in its code (an AWS key, a
// GitHub token, a private key, a password in a URL) and in a .env file, and a capturing server as
// the "remote engine". `moecode fix --remote ...` and `moecode serve --stdio` with remote settings
// (a completion with repository context, a fix through a code action) send requests; no request
// body the server receives holds any secret, and the redaction marker shows the text did reach
// the prompts.
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/capture_server.h"
#include "support/child_process.h"
#include "support/run_command.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CannedReply;
using testing::CapturedRequest;
using testing::CaptureServer;

// Built at run time so that this file itself holds no secret.
std::string rep(char c, int n) { return std::string(static_cast<size_t>(n), c); }
const std::string kAws = std::string("AKIA") + "IOSFODNN7" + "EXAMPLE";
const std::string kGithub = std::string("ghp_") + rep('a', 18) + rep('B', 18);
const std::string kPassword = std::string("hunter") + "2secret";
const std::string kPemBody = rep('Q', 64);
const std::string kEnvSecret = std::string("envonly") + "Zq81";

std::vector<std::string> secrets() { return {kAws, kGithub, kPassword, kPemBody, kEnvSecret}; }

struct Workspace {
  Workspace() {
    char tmpl[] = "/tmp/moecode-secret-XXXXXX";
    root = ::mkdtemp(tmpl);
    write("settings.py", "AWS_ACCESS_KEY_ID = \"" + kAws + "\"\nDB_URL = \"postgres://admin:" + kPassword +
                             "@db.internal:5432/app\"\n\ndef token():\n    return \"" + kGithub + "\"\n");
    write("keys.py", "KEY = \"\"\"-----BEGIN RSA PRIVATE KEY-----\n" + kPemBody + "\n" + kPemBody +
                         "\n-----END RSA PRIVATE KEY-----\"\"\"\n");
    write(".env", "API_TOKEN=" + kEnvSecret + "\n");
    write("main.py", "from settings import token, AWS_ACCESS_KEY_ID\n\n# backup key: " + kAws +
                         "\n\ndef connect():\n    t = token()\n    return sm\n");
  }
  ~Workspace() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  void write(const std::string& name, const std::string& text) const { std::ofstream(root + "/" + name) << text; }
  std::string root;
};

// A capturing "remote engine": /models lists model "m"; every other request gets `answer`.
CaptureServer capture_with(std::function<CannedReply(const CapturedRequest&)> answer) {
  return CaptureServer([answer = std::move(answer)](const CapturedRequest& r, int) {
    if (r.target.find("/models") == std::string::npos) return answer(r);
    CannedReply reply;
    reply.headers = {{"Content-Type", "application/json"}};
    reply.chunks = {R"({"data":[{"id":"m","max_model_len":8192}]})"};
    return reply;
  });
}

// Answers chats with a fenced fix, completions with a line of code.
CaptureServer capture() {
  return capture_with([](const CapturedRequest& r) {
    CannedReply reply;
    const bool chat = r.target.find("/chat/completions") != std::string::npos;
    const std::string text = chat ? "```python\\ndef connect():\\n    t = token()\\n    return t\\n```" : "return t";
    const std::string chunk = chat ? R"({"choices":[{"index":0,"delta":{"content":")" + text + R"("},"finish_reason":"stop"}]})"
                                   : R"({"choices":[{"index":0,"text":")" + text + R"(","finish_reason":"stop"}]})";
    reply.chunks = testing::sse_frames({chunk});
    return reply;
  });
}

void expect_clean(const CaptureServer& server, size_t min_bodies) {
  const auto reqs = server.requests();
  size_t bodies = 0;
  bool redacted = false;
  for (const auto& r : reqs) {
    if (r.method != "POST") continue;
    ++bodies;
    for (const auto& s : secrets()) {
      EXPECT_EQ(r.body.find(s), std::string::npos) << "a secret reached " << r.target << ": " << r.body;
    }
    // JSON may escape the brackets' neighbours, never the marker itself.
    redacted = redacted || r.body.find("[REDACTED]") != std::string::npos;
  }
  EXPECT_GE(bodies, min_bodies);
  EXPECT_TRUE(redacted) << "no prompt held the redaction marker: did the secrets reach the prompts at all?";
}

TEST(RemoteSecretTest, FixOnTheCommandLineSendsNoSecret) {
  Workspace ws;
  CaptureServer server = capture();
  const auto r = testing::run_moecode("fix " + testing::shell_quote(ws.root + "/main.py") +
                                      " --line 7 --message \"undefined name 'sm'\" --root " +
                                      testing::shell_quote(ws.root) + " --remote openai --remote-url " +
                                      server.url() + " --remote-model m");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  expect_clean(server, 1);
}

// Translation and review go through the same remote generator, and the same redaction.
TEST(RemoteSecretTest, TranslateAndReviewOnTheCommandLineSendNoSecret) {
  Workspace ws;
  CaptureServer server = capture_with([](const CapturedRequest& r) {
    CannedReply reply;
    // A translated unit (JavaScript) or a review's findings (none), as the request asks.
    const bool review = r.body.find("finding") != std::string::npos;
    const std::string text = review ? "[]" : "```javascript\\n// translated\\n```";
    reply.chunks = testing::sse_frames(
        {R"({"choices":[{"index":0,"delta":{"content":")" + text + R"("},"finish_reason":"stop"}]})"});
    return reply;
  });
  const std::string remote = " --remote openai --remote-url " + server.url() + " --remote-model m";

  const auto t = testing::run_moecode("translate --to javascript " + testing::shell_quote(ws.root + "/settings.py") +
                                      " -o " + testing::shell_quote(ws.root + "/settings.js") + " --root " +
                                      testing::shell_quote(ws.root) + remote);
  EXPECT_EQ(t.exit_code, 0) << t.out << t.err;
  const size_t after_translate = server.requests().size();
  EXPECT_GE(after_translate, 2u) << "each unit of settings.py is a request";
  expect_clean(server, 2);

  // Review: settings.py committed, then a change that adds another secret.
  const std::string git = "git -C " + testing::shell_quote(ws.root) +
                          " -c user.name=moecode -c user.email=test@example.com -c commit.gpgsign=false ";
  ASSERT_EQ(std::system((git + "init -q >/dev/null 2>&1").c_str()), 0);
  ASSERT_EQ(std::system((git + "add settings.py main.py >/dev/null 2>&1").c_str()), 0);
  ASSERT_EQ(std::system((git + "commit -q -m base >/dev/null 2>&1").c_str()), 0);
  ws.write("settings.py", "AWS_ACCESS_KEY_ID = \"" + kAws + "\"\nBACKUP_TOKEN = \"" + kGithub +
                              "\"\n\ndef token():\n    return BACKUP_TOKEN\n");
  const auto r = testing::run_command("cd " + testing::shell_quote(ws.root) + " && " +
                                      testing::shell_quote(testing::moecode_binary()) + " review --format json" + remote);
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_GT(server.requests().size(), after_translate) << "the review asked the remote engine";
  EXPECT_NE(r.out.find("\"findings\""), std::string::npos) << r.out;
  // The hunk with the new secret reached the remote engine redacted.
  bool hunk_sent = false;
  const auto reqs = server.requests();
  for (size_t i = after_translate; i < reqs.size(); ++i) {
    if (reqs[i].body.find("BACKUP_TOKEN") == std::string::npos) continue;
    hunk_sent = true;
    EXPECT_NE(reqs[i].body.find("[REDACTED]"), std::string::npos) << reqs[i].body;
  }
  EXPECT_TRUE(hunk_sent) << "no review request held the changed hunk";
  expect_clean(server, 3);
}

json request(int id, const std::string& method, json params) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}
json notification(const std::string& method, json params) {
  return json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

TEST(RemoteSecretTest, TheServerSendsNoSecretInCompletionsOrFixes) {
  Workspace ws;
  CaptureServer server = capture();
  testing::ChildProcess p({testing::moecode_binary(), "serve", "--stdio"});
  const std::string uri = "file://" + ws.root + "/main.py";
  std::ifstream in(ws.root + "/main.py");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  json init{{"processId", nullptr},
            {"rootUri", "file://" + ws.root},
            {"capabilities", json::object()},
            {"initializationOptions",
             {{"moecode", {{"remote", {{"preset", "openai"}, {"baseUrl", server.url()}, {"model", "m"}}}}}}}};
  ASSERT_TRUE(p.send(request(1, "initialize", init)));
  ASSERT_TRUE(p.read_response(1).has_value()) << p.stderr_text();
  ASSERT_TRUE(p.send(notification("initialized", json::object())));
  ASSERT_TRUE(p.send(notification("textDocument/didOpen",
                                  json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", text}}}})));
  // Wait until the workspace is indexed, so that the packer adds settings.py's definitions.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(p.send(request(1000 + i, "workspace/executeCommand", json{{"command", "moecode.status"}})));
    auto st = p.read_response(1000 + i);
    if (st && (*st)["result"]["indexing"].value("active", true) == false &&
        (*st)["result"]["model"].get<std::string>().find("remote") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  // A completion inside connect(): repository context and the document, redacted.
  ASSERT_TRUE(p.send(request(10, "textDocument/completion",
                             json{{"textDocument", {{"uri", uri}}}, {"position", {{"line", 6}, {"character", 4}}}})));
  auto c = p.read_response(10, 30000);
  ASSERT_TRUE(c.has_value()) << p.stderr_text();
  // A fix through the code action's command.
  json diag{{"range", {{"start", {{"line", 6}, {"character", 11}}}, {"end", {{"line", 6}, {"character", 13}}}}},
            {"message", "undefined name 'sm'"},
            {"severity", 1}};
  ASSERT_TRUE(p.send(request(11, "textDocument/codeAction",
                             json{{"textDocument", {{"uri", uri}}},
                                  {"range", diag["range"]},
                                  {"context", {{"diagnostics", json::array({diag})}}}})));
  auto actions = p.read_response(11, 30000);
  ASSERT_TRUE(actions.has_value() && (*actions)["result"].is_array() && !(*actions)["result"].empty())
      << (actions ? actions->dump() : p.stderr_text());
  ASSERT_TRUE(p.send(request(12, "codeAction/resolve", (*actions)["result"][0])));
  auto resolved = p.read_response(12, 30000);
  ASSERT_TRUE(resolved.has_value()) << p.stderr_text();
  expect_clean(server, 2);
  bool chat = false, completion = false;
  for (const auto& r : server.requests()) {
    chat = chat || r.target.find("/chat/completions") != std::string::npos;
    completion = completion || r.target == "/v1/completions";
  }
  EXPECT_TRUE(chat);
  EXPECT_TRUE(completion);
}

}  // namespace
}  // namespace moecode
