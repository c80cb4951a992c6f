// The real `moecode serve` binary under hostile input, over pipes (stdio) and TCP: bad or
// missing Content-Length, garbage, invalid JSON, wrong parameter types, unknown methods,
// requests before initialize, a 100 MB message, clients that hang up mid-message. Each gets
// the right error or a logged drop, and the server keeps serving. Also: the exit codes.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "support/child_process.h"
#include "support/run_command.h"
#include "support/tcp_client.h"

namespace moecode {
namespace {

using nlohmann::json;
using testing::ChildProcess;

std::string script_file() {
  static const std::string path = [] {
    const std::string p = "/tmp/moecode_hostile_script_" + std::to_string(::getpid()) + ".json";
    std::ofstream(p) << R"({"replies": [{"match": "def add", "text": "\n    return a + b\n\n"}], "fallback": "pass"})";
    return p;
  }();
  return path;
}

std::vector<std::string> serve_args(std::vector<std::string> extra = {}) {
  std::vector<std::string> args{testing::moecode_binary(), "serve", "--stdio", "--scripted-generator", script_file()};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

json request(int id, const std::string& method, json params) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}
json notification(const std::string& method, json params) {
  return json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}
int code_of(const std::optional<json>& m) { return m && m->contains("error") ? (*m)["error"]["code"].get<int>() : 0; }

void initialize(ChildProcess& p, int id = 100) {
  ASSERT_TRUE(p.send(request(id, "initialize", json{{"capabilities", json::object()}})));
  auto r = p.read_response(id);
  ASSERT_TRUE(r.has_value()) << p.stderr_text();
  ASSERT_TRUE(r->contains("result")) << r->dump();
  ASSERT_TRUE(p.send(notification("initialized", json::object())));
}

TEST(HostileInputTest, ShutdownThenExitIsZeroAndExitAloneIsOne) {
  {
    ChildProcess p(serve_args());
    initialize(p);
    ASSERT_TRUE(p.send(request(2, "shutdown", nullptr)));
    auto r = p.read_response(2);
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE((*r)["result"].is_null());
    ASSERT_TRUE(p.send(notification("exit", nullptr)));
    EXPECT_EQ(p.wait(), 0) << p.stderr_text();
  }
  {
    ChildProcess p(serve_args());
    initialize(p);
    ASSERT_TRUE(p.send(notification("exit", nullptr)));
    EXPECT_EQ(p.wait(), 1);
  }
}

TEST(HostileInputTest, BadFramingAndBadMessagesGetErrorsAndTheServerKeepsServing) {
  ChildProcess p(serve_args({"--log-level", "info"}));
  // A request before initialize.
  ASSERT_TRUE(p.send(request(1, "textDocument/completion", json::object())));
  EXPECT_EQ(code_of(p.read_response(1)), -32002);
  // Bad Content-Length, missing Content-Length, a garbage header: each is a logged drop, and
  // the next good request (refused: not initialized yet) is still read and answered.
  const std::vector<std::string> garbage = {
      "Content-Length: abc\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":50,\"method\":\"x\"}",
      "Content-Type: text/plain\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":51,\"method\":\"x\"}",
      "GET / HTTP/1.1\r\n",
      "{\"jsonrpc\":\"2.0\",\"id\":52,\"method\":\"no header\"}\r\n\r\n",
  };
  int id = 20;
  for (const std::string& g : garbage) {
    ASSERT_TRUE(p.write(g));
    ASSERT_TRUE(p.send(request(id, "textDocument/completion", json::object())));
    EXPECT_EQ(code_of(p.read_response(id)), -32002) << "after: " << g;
    ++id;
  }
  initialize(p);
  // Invalid JSON: ParseError with a null id.
  ASSERT_TRUE(p.write(jsonrpc::encode_frame("{\"jsonrpc\": \"2.0\", \"id\": 3, \"method\": ")));
  auto pe = p.read_response(nullptr);
  ASSERT_TRUE(pe.has_value());
  EXPECT_EQ(code_of(pe), -32700);
  // Wrong parameter types name the field.
  ASSERT_TRUE(p.send(notification("textDocument/didOpen",
                                  json{{"textDocument", {{"uri", "file:///a.py"}, {"languageId", "python"},
                                                         {"version", 1}, {"text", "def add(a, b):\n"}}}})));
  ASSERT_TRUE(p.send(request(4, "textDocument/inlineCompletion",
                             json{{"textDocument", {{"uri", "file:///a.py"}}}, {"position", {{"line", true}, {"character", 0}}}})));
  auto ip = p.read_response(4);
  EXPECT_EQ(code_of(ip), -32602);
  EXPECT_NE((*ip)["error"]["message"].get<std::string>().find("params.position.line"), std::string::npos);
  ASSERT_TRUE(p.send(request(5, "textDocument/inlineCompletion", json{{"textDocument", 7}})));
  EXPECT_EQ(code_of(p.read_response(5)), -32602);
  // Unknown methods.
  ASSERT_TRUE(p.send(request(6, "workspace/noSuchThing", json::object())));
  EXPECT_EQ(code_of(p.read_response(6)), -32601);
  ASSERT_TRUE(p.send(notification("custom/unknownNotification", json::object())));
  // Notifications with params of the wrong kind are dropped, not fatal.
  ASSERT_TRUE(p.send(notification("textDocument/didChange", json{{"textDocument", "x"}})));
  // Still serving: a completion works.
  ASSERT_TRUE(p.send(request(7, "textDocument/inlineCompletion",
                             json{{"textDocument", {{"uri", "file:///a.py"}}}, {"position", {{"line", 0}, {"character", 14}}}})));
  auto ok = p.read_response(7);
  ASSERT_TRUE(ok.has_value()) << p.stderr_text();
  ASSERT_TRUE(ok->contains("result")) << ok->dump();
  EXPECT_EQ((*ok)["result"]["items"][0]["insertText"], "\n    return a + b");
  ASSERT_TRUE(p.send(request(8, "shutdown", nullptr)));
  ASSERT_TRUE(p.read_response(8).has_value());
  ASSERT_TRUE(p.send(notification("exit", nullptr)));
  EXPECT_EQ(p.wait(), 0);
  const std::string err = p.stderr_text();
  EXPECT_NE(err.find("bad Content-Length 'abc'"), std::string::npos) << err;
  EXPECT_NE(err.find("header without Content-Length"), std::string::npos) << err;
  EXPECT_NE(err.find("malformed header line"), std::string::npos) << err;
}

TEST(HostileInputTest, HundredMegabyteMessageIsRejectedWithoutBufferingIt) {
  ChildProcess p(serve_args());
  initialize(p);
  // The high-water mark before the message: the server's own footprint (larger under
  // AddressSanitizer, whose shadow memory and quarantine count in it).
  const long base_kib = p.peak_rss_kib();
  ASSERT_GT(base_kib, 0);
  const size_t size = 100u * 1000 * 1000;
  const std::string head = R"({"jsonrpc":"2.0","id":9,"method":"textDocument/didOpen","params":{"text":")";
  ASSERT_TRUE(p.write("Content-Length: " + std::to_string(size) + "\r\n\r\n" + head));
  const std::string block(1 << 20, 'x');
  size_t sent = head.size();
  while (sent < size) {
    const size_t n = std::min(block.size(), size - sent);
    ASSERT_TRUE(p.write(std::string_view(block).substr(0, n)));
    sent += n;
  }
  auto r = p.read_response(9, 30000);
  ASSERT_TRUE(r.has_value()) << p.stderr_text();
  EXPECT_EQ(code_of(r), -32600);
  EXPECT_NE((*r)["error"]["message"].get<std::string>().find("exceeds the limit"), std::string::npos);
  // Buffering the 100 MB message would raise the mark by about 100 MB; skipping it in
  // chunks raises it by little.
  const long peak_kib = p.peak_rss_kib();
  EXPECT_LT(peak_kib - base_kib, 32 * 1024) << "the server buffered the oversized message (" << base_kib
                                            << " KiB before it, " << peak_kib << " KiB after)";
  // And it keeps serving.
  ASSERT_TRUE(p.send(request(10, "workspace/executeCommand", json{{"command", "moecode.status"}})));
  auto st = p.read_response(10);
  ASSERT_TRUE(st.has_value());
  EXPECT_TRUE(st->contains("result"));
}

TEST(HostileInputTest, ClientThatDisconnectsMidMessageIsLogged) {
  ChildProcess p(serve_args());
  initialize(p);
  ASSERT_TRUE(p.write("Content-Length: 80\r\n\r\n{\"jsonrpc\":\"2.0\","));
  p.close_stdin();
  EXPECT_EQ(p.wait(), 1);  // no shutdown was requested
  EXPECT_NE(p.stderr_text().find("middle of a message"), std::string::npos) << p.stderr_text();
}

int connect_to(uint16_t port) { return testing::connect_to_loopback(port); }

TEST(HostileInputTest, TcpServerKeepsServingAfterAClientHangsUpMidMessage) {
  ChildProcess p({testing::moecode_binary(), "serve", "--listen", "127.0.0.1:0", "--scripted-generator", script_file()});
  int port = 0;
  for (int i = 0; i < 500 && port == 0; ++i) {
    // (no std::regex: GCC 12 warns maybe-uninitialized inside it under ASan -O3 -Werror)
    const std::string err = p.stderr_text();
    const std::string key = "listening on 127.0.0.1:";
    if (const size_t at = err.find(key); at != std::string::npos && err.find('\n', at) != std::string::npos) {
      port = std::atoi(err.c_str() + at + key.size());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(port, 0) << p.stderr_text();
  int s = connect_to(static_cast<uint16_t>(port));
  ASSERT_GE(s, 0);
  const std::string half = "Content-Length: 200\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":1,";
  ASSERT_EQ(::send(s, half.data(), half.size(), 0), static_cast<ssize_t>(half.size()));
  ::close(s);
  s = connect_to(static_cast<uint16_t>(port));
  ASSERT_GE(s, 0);
  const std::string frame =
      jsonrpc::encode_frame(request(1, "initialize", json{{"capabilities", json::object()}}).dump());
  ASSERT_EQ(::send(s, frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
  jsonrpc::FrameDecoder d;
  std::optional<json> got;
  char buf[65536];
  for (int i = 0; i < 100 && !got; ++i) {
    pollfd pf{s, POLLIN, 0};
    if (::poll(&pf, 1, 100) <= 0) continue;
    const ssize_t n = ::recv(s, buf, sizeof buf, 0);
    if (n <= 0) break;
    d.feed(std::string_view(buf, static_cast<size_t>(n)), [&](std::string b) { got = json::parse(b); },
           [](jsonrpc::FrameError) {});
  }
  ::close(s);
  ASSERT_TRUE(got.has_value()) << p.stderr_text();
  EXPECT_EQ((*got)["result"]["serverInfo"]["name"], "moecode");
  ::kill(p.pid(), SIGTERM);
  EXPECT_EQ(p.wait(), 0);
}

TEST(HostileInputTest, ServeRejectsBadArguments) {
  auto r = testing::run_moecode("serve --listen 99999");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("99999"), std::string::npos) << r.err;
  r = testing::run_moecode("serve -m /no/such/model.gguf");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("/no/such/model.gguf"), std::string::npos) << r.err;
  r = testing::run_moecode("serve --stdio --listen 5");
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace moecode
