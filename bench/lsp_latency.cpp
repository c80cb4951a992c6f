// Inline-completion latency of `moecode serve`, end to end over stdio as an editor sees it:
// open a Python file of about 2K tokens of context, then N times: type one character
// (textDocument/didChange) and ask for an inline completion at the cursor (at most 16 new
// tokens). Prints p50/p95/mean latency in ms and the fraction of prompt tokens the engine
// served from its KV cache (from the server's moecode.status command).
// --root DIR makes DIR the workspace folder (the server indexes it and packs repository
// context into each prompt); the file is then DIR/bench_inventory.py (an editor buffer, not
// on disk), and the benchmark waits --index-wait-ms (default 6000) for the index first.
//
//   lsp_latency_bench [--binary build/bin/moecode] [-m MODEL] [--requests 50] [--threads 2]
//                     [--max-tokens 16] [--budget 2048] [--scripted FILE] [--root DIR]
//                     [--index-wait-ms MS]
// Figures go to docs/BENCHMARKS.md.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsp/jsonrpc/framing.h"

using nlohmann::json;

namespace {

struct Args {
  std::string binary = "build/bin/moecode";
  std::string model;
  std::string scripted;
  int requests = 50;
  int threads = 2;
  int max_tokens = 16;
  int budget = 2048;
  std::string root;
  int index_wait_ms = 6000;
};

class Server {
 public:
  explicit Server(const std::vector<std::string>& argv) {
    int in[2], out[2];
    if (::pipe(in) != 0 || ::pipe(out) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in[0], 0);
      ::dup2(out[1], 1);
      ::close(in[1]);
      ::close(out[0]);
      std::vector<char*> a;
      for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
      a.push_back(nullptr);
      ::execv(a[0], a.data());
      ::_exit(127);
    }
    ::close(in[0]);
    ::close(out[1]);
    in_ = in[1];
    out_ = out[0];
  }
  ~Server() {
    if (pid_ > 0) {
      ::close(in_);
      int status;
      for (int i = 0; i < 200; ++i) {
        if (::waitpid(pid_, &status, WNOHANG) == pid_) return;
        ::usleep(10000);
      }
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
  }
  void send(const json& m) {
    const std::string f = moecode::jsonrpc::encode_frame(m.dump());
    size_t off = 0;
    while (off < f.size()) {
      const ssize_t n = ::write(in_, f.data() + off, f.size() - off);
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  std::optional<json> response(int64_t id, int timeout_ms = 600000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      for (auto it = queue_.begin(); it != queue_.end(); ++it) {
        if (it->contains("id") && !it->contains("method") && (*it)["id"] == id) {
          json m = *it;
          queue_.erase(it);
          return m;
        }
      }
      queue_.clear();  // notifications and others
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      decoder_.feed(std::string_view(buf, static_cast<size_t>(n)),
                    [this](std::string b) { queue_.push_back(json::parse(b, nullptr, false)); },
                    [](moecode::jsonrpc::FrameError) {});
    }
  }
  json request(int64_t id, const std::string& method, json params) {
    send(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    auto r = response(id);
    return r ? *r : json();
  }
  void notify(const std::string& method, json params) {
    send(json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  moecode::jsonrpc::FrameDecoder decoder_{size_t{1} << 30};
  std::deque<json> queue_;
};

// A Python module of realistic shape, about `bytes` long.
std::string python_source(size_t bytes) {
  std::string s = "\"\"\"Inventory management: items, stock levels and reports.\"\"\"\n\nimport json\nimport math\n"
                  "from dataclasses import dataclass, field\nfrom typing import Dict, List, Optional\n\n\n";
  for (int i = 0; s.size() < bytes; ++i) {
    const std::string n = std::to_string(i);
    s += "@dataclass\nclass Item" + n + ":\n    name: str\n    price: float\n    quantity: int = 0\n"
         "    tags: List[str] = field(default_factory=list)\n\n"
         "    def total_value(self) -> float:\n        \"\"\"Value of the stock of this item.\"\"\"\n"
         "        return self.price * self.quantity\n\n"
         "    def restock(self, amount: int) -> None:\n        if amount <= 0:\n"
         "            raise ValueError(f\"restock amount must be positive, got {amount}\")\n"
         "        self.quantity += amount\n\n\n"
         "def load_items_" + n + "(path: str) -> Dict[str, Item" + n + "]:\n"
         "    with open(path) as f:\n        data = json.load(f)\n"
         "    return {d[\"name\"]: Item" + n + "(**d) for d in data}\n\n\n";
  }
  return s;
}

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  const double idx = p * static_cast<double>(v.size() - 1);
  const size_t lo = static_cast<size_t>(idx);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (idx - static_cast<double>(lo));
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (k == "--binary") a.binary = next();
    else if (k == "-m" || k == "--model") a.model = next();
    else if (k == "--scripted") a.scripted = next();
    else if (k == "--requests") a.requests = std::stoi(next());
    else if (k == "--threads") a.threads = std::stoi(next());
    else if (k == "--max-tokens") a.max_tokens = std::stoi(next());
    else if (k == "--budget") a.budget = std::stoi(next());
    else if (k == "--root") a.root = next();
    else if (k == "--index-wait-ms") a.index_wait_ms = std::stoi(next());
    else {
      std::fprintf(stderr, "usage: lsp_latency_bench [--binary B] [-m MODEL] [--requests N] [--threads N] "
                           "[--max-tokens N] [--budget N] [--scripted FILE] [--root DIR] [--index-wait-ms MS]\n");
      return 2;
    }
  }
  std::vector<std::string> cmd{a.binary, "serve", "--stdio", "--threads", std::to_string(a.threads)};
  if (!a.scripted.empty()) {
    cmd.insert(cmd.end(), {"--scripted-generator", a.scripted});
  } else if (!a.model.empty()) {
    cmd.insert(cmd.end(), {"-m", a.model});
  }
  Server server(cmd);
  int64_t id = 1;
  json init_params{{"processId", nullptr}, {"rootUri", nullptr}, {"capabilities", json::object()},
                   {"initializationOptions",
                    {{"maxTokens", a.max_tokens}, {"contextBudget", a.budget}, {"threads", a.threads}}}};
  std::string root_uri;
  if (!a.root.empty()) {
    root_uri = "file://" + std::filesystem::absolute(a.root).lexically_normal().string();
    if (root_uri.back() == '/') root_uri.pop_back();
    init_params["rootUri"] = root_uri;
    init_params["workspaceFolders"] = json::array({json{{"uri", root_uri}, {"name", "bench"}}});
  }
  json init = server.request(id++, "initialize", init_params);
  if (!init.contains("result")) {
    std::fprintf(stderr, "initialize failed: %s\n", init.dump().c_str());
    return 1;
  }
  server.notify("initialized", json::object());
  const std::string uri = root_uri.empty() ? "file:///bench/inventory.py" : root_uri + "/bench_inventory.py";
  // ~2K tokens before the cursor (about 3.5 bytes per token), and some code after it.
  std::string text = python_source(static_cast<size_t>(a.budget) * 4);
  const std::string tail = "\n\ndef report(items):\n    ";
  text += tail;
  size_t cursor = text.size();
  text += "\n\n\nif __name__ == \"__main__\":\n    report([])\n";
  server.notify("textDocument/didOpen",
                json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", text}}}});
  auto position = [&] {
    size_t line = 0, col = 0;
    for (size_t i = 0; i < cursor; ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 0;
      } else {
        ++col;  // the file is ASCII: bytes are UTF-16 units
      }
    }
    return json{{"line", line}, {"character", col}};
  };
  if (!root_uri.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(a.index_wait_ms));
  // Warm-up: the model loads and the first prompt fills the cache (not measured).
  json warm = server.request(id++, "textDocument/inlineCompletion",
                             json{{"textDocument", {{"uri", uri}}}, {"position", position()},
                                  {"context", {{"triggerKind", 1}}}});
  json st0 = server.request(id++, "workspace/executeCommand", json{{"command", "moecode.status"}});
  if (!st0.contains("result") || !st0["result"].value("modelLoaded", false)) {
    std::fprintf(stderr, "no model loaded: %s\n", st0.dump().c_str());
    return 1;
  }
  const std::string letters = "abcdefghijklmnopqrstuvwxyz";
  std::vector<double> ms;
  int version = 1, errors = 0;
  for (int r = 0; r < a.requests; ++r) {
    const json pos = position();
    const std::string ch(1, letters[static_cast<size_t>(r) % letters.size()]);
    const auto t0 = std::chrono::steady_clock::now();
    server.notify("textDocument/didChange",
                  json{{"textDocument", {{"uri", uri}, {"version", ++version}}},
                       {"contentChanges", json::array({json{{"range", {{"start", pos}, {"end", pos}}}, {"text", ch}}})}});
    text.insert(cursor, ch);
    ++cursor;
    json resp = server.request(id++, "textDocument/inlineCompletion",
                               json{{"textDocument", {{"uri", uri}}}, {"position", position()},
                                    {"context", {{"triggerKind", 1}}}});
    const double dt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!resp.contains("result")) {
      ++errors;
      continue;
    }
    ms.push_back(dt);
  }
  json st = server.request(id++, "workspace/executeCommand", json{{"command", "moecode.status"}});
  server.request(id++, "shutdown", nullptr);
  server.notify("exit", nullptr);
  if (ms.empty()) {
    std::fprintf(stderr, "no successful requests\n");
    return 1;
  }
  const json& c0 = st0["result"]["completions"];
  const json& c1 = st["result"]["completions"];
  const double prompt = c1["promptTokens"].get<double>() - c0["promptTokens"].get<double>();
  const double cached = c1["cachedTokens"].get<double>() - c0["cachedTokens"].get<double>();
  const double generated = c1["generatedTokens"].get<double>() - c0["generatedTokens"].get<double>();
  double mean = 0;
  for (double v : ms) mean += v;
  mean /= static_cast<double>(ms.size());
  std::printf("model: %s\n", st["result"]["model"].get<std::string>().c_str());
  std::printf("requests: %zu ok, %d errors; prompt tokens/request: %.0f; generated tokens/request: %.1f\n",
              ms.size(), errors, prompt / static_cast<double>(ms.size()), generated / static_cast<double>(ms.size()));
  std::printf("latency ms: p50 %.1f  p95 %.1f  mean %.1f  min %.1f  max %.1f\n", percentile(ms, 0.5),
              percentile(ms, 0.95), mean, *std::min_element(ms.begin(), ms.end()),
              *std::max_element(ms.begin(), ms.end()));
  std::printf("prompt tokens from the KV cache: %.1f%%\n", prompt > 0 ? 100.0 * cached / prompt : 0.0);
  (void)warm;
  return errors == 0 ? 0 : 1;
}
