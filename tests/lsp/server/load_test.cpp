// Load: 8 LSP clients at once against ONE `moecode serve --listen` process (a session per
// client, one engine host; a scripted generator with a 1 ms token delay stands in for the
// model), each sending 500 mixed messages as fast as an editor under a fast typist would:
// bursts of incremental edits (UTF-16 positions, multi-byte and astral characters, several
// changes per notification), inline and plain completions, storms of $/cancelRequest, code
// actions and their resolution, moecode.status and moecode.context.
// Checks: no crash; every request answered exactly once, with a result or an error that the
// protocol allows for it (cancelled, content modified); each client's text equals the
// server's copy at the end (moecode.status's digest); the server's peak RSS stays bounded;
// it exits cleanly on SIGTERM (0, and under ASan no leak report). Prints p50/p95/p99 latency,
// requests/s and the peak RSS (docs/BENCHMARKS.md keeps the figures).
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.h"
#include "support/lsp_stream_client.h"
#include "support/lsp_text_model.h"
#include "support/run_command.h"
#include "support/tcp_client.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ChildProcess;
using testing::LspStreamClient;
using testing::TextModel;

constexpr int kClients = 8;
constexpr int kMessagesPerClient = 500;

bool sanitized() {
  const char* s = std::getenv("MOECODE_SANITIZED");
  return s && *s && std::string(s) != "0";
}

const char* kMain = R"(import util


def total(items):
    """Sum of the prices."""
    acc = 0
    for item in items:
        acc += util.price(item)
    return acc


def average(items):
    if not items:
        return 0
    return total(items) / len(items)
)";

const char* kUtil = R"(PRICES = {"apple": 3, "pear": 4}


def price(name):
    return PRICES.get(name, 0)
)";

struct Stats {
  std::mutex mu;
  std::map<std::string, std::vector<double>> latency_ms;  // by method
  std::vector<std::string> failures;
  int n_requests = 0;
  int n_messages = 0;
  void fail(const std::string& what) {
    std::lock_guard lock(mu);
    if (failures.size() < 20) failures.push_back(what);
  }
};

// CPU seconds (user + system) the process `pid` has used; -1 if unknown.
double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), {});
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p / 100.0 * static_cast<double>(v.size())));
  return v[i];
}

json command(const std::string& name, json args) {
  return json{{"command", name}, {"arguments", std::move(args)}};
}

// One editor session: 500 messages, then the checks of its answers and its document.
void run_client(int index, uint16_t port, const fs::path& root, Stats& stats) {
  const int fd = testing::connect_to_loopback(port);
  if (fd < 0) return stats.fail("client " + std::to_string(index) + ": cannot connect");
  LspStreamClient c(fd);
  const fs::path folder = root / ("client" + std::to_string(index));
  const std::string folder_uri = "file://" + folder.string();
  const std::string uri = folder_uri + "/main.py";
  json caps{{"general", {{"positionEncodings", {"utf-16"}}}},
            {"window", {{"workDoneProgress", true}}},
            {"workspace", {{"configuration", true}, {"applyEdit", true}, {"workspaceEdit", {{"documentChanges", true}}}}},
            {"textDocument", {{"inlineCompletion", json::object()}, {"codeAction", {{"resolveSupport", {{"properties", {"edit"}}}}}}}}};
  json init = c.call("initialize", json{{"processId", nullptr}, {"rootUri", folder_uri}, {"capabilities", caps},
                                        {"workspaceFolders", {{{"uri", folder_uri}, {"name", "ws"}}}},
                                        {"initializationOptions", {{"debounceMs", 5}, {"maxTokens", 16}}}});
  if (!init.contains("result")) return stats.fail("client " + std::to_string(index) + ": initialize: " + init.dump());
  c.notify("initialized", json::object());

  TextModel doc(kMain);
  int64_t version = 1;
  c.notify("textDocument/didOpen",
           json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", version}, {"text", doc.text()}}}});
  std::mt19937 rng(static_cast<uint32_t>(1000 + index));
  static const char* kInserts[] = {"x", "é", "😀", "\n", "    ", "total += 1\n", "def g():\n    return 1\n", "",
                                   "日本", "util.", "ab😀c"};
  const json td{{"uri", uri}};
  auto edit = [&](int n_changes) {
    json changes = json::array();
    for (int k = 0; k < n_changes; ++k) {
      TextModel::Pos a = doc.random_pos(rng), b = a;
      if (rng() % 3 == 0) b = doc.random_pos(rng);
      if (doc.offset(b) < doc.offset(a)) std::swap(a, b);
      if (doc.offset(b) - doc.offset(a) > 40) b = a;  // small deletions only: the text keeps its size
      const std::string ins = kInserts[rng() % std::size(kInserts)];
      changes.push_back(json{{"range", {{"start", TextModel::json_pos(a)}, {"end", TextModel::json_pos(b)}}}, {"text", ins}});
      doc.apply(a, b, ins);
    }
    c.notify("textDocument/didChange", json{{"textDocument", {{"uri", uri}, {"version", ++version}}}, {"contentChanges", changes}});
  };
  auto pos_params = [&](int trigger) {
    return json{{"textDocument", td}, {"position", TextModel::json_pos(doc.random_pos(rng))},
                {"context", {{"triggerKind", trigger}}}};
  };

  int sent = 0;
  std::vector<int64_t> code_actions;
  while (sent < kMessagesPerClient) {
    const unsigned op = rng() % 100;
    if (op < 30) {  // a burst of keystrokes, sometimes several changes in one notification
      const int burst = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < burst && sent < kMessagesPerClient; ++k, ++sent) edit(1 + static_cast<int>(rng() % 3 == 0));
    } else if (op < 50) {
      c.request("textDocument/inlineCompletion", pos_params(1 + static_cast<int>(rng() % 2)));
      ++sent;
    } else if (op < 60) {
      c.request("textDocument/completion", pos_params(1));
      ++sent;
    } else if (op < 70 && sent + 11 <= kMessagesPerClient) {  // a cancel storm: requests, then their cancellations (and a stale one)
      std::vector<int64_t> ids;
      for (int k = 0; k < 5; ++k) ids.push_back(c.request("textDocument/inlineCompletion", pos_params(2)));
      for (auto it = ids.rbegin(); it != ids.rend(); ++it) c.cancel(*it);
      c.cancel(987654321);
      sent += 11;
    } else if (op < 78) {
      const TextModel::Pos p = doc.random_pos(rng);
      const json range{{"start", {{"line", p.line}, {"character", 0}}}, {"end", TextModel::json_pos(p)}};
      const json diag{{"range", range}, {"message", "undefined name 'acc'"}, {"severity", 1}, {"source", "pyflakes"}};
      code_actions.push_back(c.request("textDocument/codeAction",
                                       json{{"textDocument", td}, {"range", range}, {"context", {{"diagnostics", {diag}}}}}));
      ++sent;
    } else if (op < 82 && !code_actions.empty()) {  // resolve an action offered earlier
      auto a = c.wait(code_actions.back(), 0);
      if (a && a->message.contains("result") && a->message["result"].is_array() && !a->message["result"].empty()) {
        c.request("codeAction/resolve", a->message["result"][0]);
        ++sent;
      }
      code_actions.pop_back();
    } else if (op < 90) {
      c.request("workspace/executeCommand", command("moecode.status", json::array()));
      ++sent;
    } else {
      c.request("workspace/executeCommand",
                command("moecode.context", json::array({json{{"textDocument", td}, {"position", TextModel::json_pos(doc.random_pos(rng))}}})));
      ++sent;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 1500));
  }

  const std::string who = "client " + std::to_string(index) + ": ";
  if (!c.wait_all(sanitized() ? 240000 : 90000)) stats.fail(who + "requests left unanswered");
  // The server's copy of the document must be ours.
  json st = c.call("workspace/executeCommand", command("moecode.status", json::array({json{{"textDocument", td}}})));
  const json d = st.contains("result") ? st["result"].value("document", json()) : json();
  if (!d.is_object() || d.value("fnv1a64", "") != testing::fnv1a64(doc.text()) ||
      d.value("length", size_t{0}) != doc.text().size() || d.value("version", int64_t{0}) != version) {
    stats.fail(who + "the server's document differs: " + st.dump() + " vs length " + std::to_string(doc.text().size()) +
               " version " + std::to_string(version));
  }
  if (c.n_unexpected() != 0) stats.fail(who + std::to_string(c.n_unexpected()) + " unexpected or repeated responses");

  const auto methods = c.sent_methods();
  const auto answers = c.answers();
  std::map<std::string, std::vector<double>> lat;
  for (const auto& [id, method] : methods) {
    auto a = answers.find(id);
    if (a == answers.end()) {
      stats.fail(who + "request " + std::to_string(id) + " (" + method + ") unanswered");
      continue;
    }
    if (a->second.n_received != 1) stats.fail(who + "request " + std::to_string(id) + " answered " + std::to_string(a->second.n_received) + " times");
    const json& m = a->second.message;
    if (m.contains("error")) {
      const int code = m["error"].value("code", 0);
      const bool ok = code == -32800 || code == -32801 || (method == "codeAction/resolve" && code == -32803);
      if (!ok) stats.fail(who + method + " failed: " + m["error"].dump());
    }
    lat[method].push_back(a->second.latency_ms);
  }
  // The session ends as the spec says.
  json down = c.call("shutdown", nullptr);
  if (!down.contains("result")) stats.fail(who + "shutdown: " + down.dump());
  c.notify("exit", nullptr);
  std::lock_guard lock(stats.mu);
  for (auto& [m, v] : lat) stats.latency_ms[m].insert(stats.latency_ms[m].end(), v.begin(), v.end());
  stats.n_requests += static_cast<int>(methods.size());
  stats.n_messages += sent;
}

TEST(LoadTest, EightClientsFiveHundredMixedMessagesAgainstOneServer) {
  const fs::path root = fs::temp_directory_path() / ("moecode_load_" + std::to_string(::getpid()));
  fs::remove_all(root);
  for (int i = 0; i < kClients; ++i) {
    const fs::path f = root / ("client" + std::to_string(i));
    fs::create_directories(f);
    std::ofstream(f / "main.py") << kMain;
    std::ofstream(f / "util.py") << kUtil;
  }
  const fs::path script = root / "script.json";
  std::ofstream(script) << R"({"replies": [{"match": "Fix", "text": "```python\nacc = 0\n```\n"}],
                              "fallback": "    return acc\n", "tokenDelayMs": 1, "fim": true})";

  ChildProcess server({testing::moecode_binary(), "serve", "--listen", "127.0.0.1:0", "--scripted-generator",
                       script.string(), "--log-level", "warn"});
  int port = 0;
  for (int i = 0; i < 1000 && port == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::string err = server.stderr_text();
    const std::string key = "listening on 127.0.0.1:";
    if (auto at = err.find(key); at != std::string::npos) port = std::atoi(err.c_str() + at + key.size());
  }
  ASSERT_GT(port, 0) << server.stderr_text();

  Stats stats;
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back(run_client, i, static_cast<uint16_t>(port), root, std::ref(stats));
  }
  for (auto& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const long rss_kib = server.peak_rss_kib();
  const double server_cpu = cpu_seconds(server.pid());

  for (const auto& f : stats.failures) ADD_FAILURE() << f;
  EXPECT_EQ(stats.n_messages, kClients * kMessagesPerClient);

  std::vector<double> all;
  std::printf("load: %d clients x %d messages, %d requests in %.1f s (%.0f requests/s), server peak RSS %.1f MiB, "
              "server CPU %.1f s\n",
              kClients, kMessagesPerClient, stats.n_requests, seconds, stats.n_requests / seconds, rss_kib / 1024.0,
              server_cpu);
  for (const auto& [method, v] : stats.latency_ms) {
    all.insert(all.end(), v.begin(), v.end());
    std::printf("load:   %-32s n=%5zu  p50 %7.1f ms  p95 %7.1f ms  p99 %7.1f ms\n", method.c_str(), v.size(),
                percentile(v, 50), percentile(v, 95), percentile(v, 99));
  }
  const double p95 = percentile(all, 95);
  std::printf("load:   %-32s n=%5zu  p50 %7.1f ms  p95 %7.1f ms  p99 %7.1f ms\n", "all requests", all.size(),
              percentile(all, 50), p95, percentile(all, 99));
  std::fflush(stdout);
  ::testing::Test::RecordProperty("p95_ms", static_cast<int>(p95));
  ::testing::Test::RecordProperty("peak_rss_kib", static_cast<int>(rss_kib));

  // Bounds: generous for a loaded 2-core CI machine; a leak or a runaway queue breaks them.
  const long rss_bound_mib = sanitized() ? 1536 : 256;
  EXPECT_GT(rss_kib, 0);
  EXPECT_LT(rss_kib / 1024, rss_bound_mib) << "server peak RSS";
  EXPECT_LT(p95, sanitized() ? 60000.0 : 10000.0) << "p95 latency (ms)";

  // The server still serves after the load, and stops cleanly (LSan checks for leaks at exit).
  {
    const int fd = testing::connect_to_loopback(static_cast<uint16_t>(port));
    ASSERT_GE(fd, 0);
    LspStreamClient c(fd);
    EXPECT_TRUE(c.call("initialize", json{{"capabilities", json::object()}}).contains("result"));
  }
  ::kill(server.pid(), SIGTERM);
  const auto code = server.wait(sanitized() ? 60000 : 20000);
  const std::string err = server.stderr_text();
  EXPECT_EQ(code, std::optional<int>(0)) << err.substr(err.size() > 4000 ? err.size() - 4000 : 0);
  EXPECT_EQ(err.find("Sanitizer"), std::string::npos) << err.substr(0, 4000);
  EXPECT_EQ(err.find("runtime error"), std::string::npos) << err.substr(0, 4000);
  fs::remove_all(root);
}

}  // namespace
}  // namespace moecode
