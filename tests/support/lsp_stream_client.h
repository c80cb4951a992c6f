// Test helper: an LSP client over a byte stream (a TCP socket to `moecode serve --listen`),
// with a reader thread. It frames what it sends, decodes what it receives, answers the
// server's requests (workspace/configuration, window/workDoneProgress/create,
// workspace/applyEdit) at once, and keeps every response: the load and fault suites check
// that each request is answered exactly once and measure latencies.
// Thread-safe: any thread may send and wait; callbacks run on the reader thread.
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsp/jsonrpc/framing.h"

namespace moecode::testing {

class LspStreamClient {
 public:
  using Json = nlohmann::json;
  using Clock = std::chrono::steady_clock;

  struct Answer {
    Json message;                // the response ("result" or "error")
    std::string method;          // of the request
    double latency_ms = 0;       // from send to receipt
    double sent_ms = 0;          // when it was sent, from the client's start
    int n_received = 0;          // responses seen for this id (1 unless the server erred)
  };

  // Takes ownership of `fd` (a connected stream socket).
  explicit LspStreamClient(int fd) : fd_(fd) {
    // As editors do: no Nagle delay on small messages (a TCP client that waits for ACKs
    // before sending its next keystroke measures the kernel, not the server).
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    reader_ = std::thread([this] { read_loop(); });
  }
  ~LspStreamClient() { close(); }
  LspStreamClient(const LspStreamClient&) = delete;
  LspStreamClient& operator=(const LspStreamClient&) = delete;

  // Stops reading and closes the socket (what a client that vanishes does).
  void close() {
    if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
    if (reader_.joinable()) reader_.join();
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Writes raw bytes (partial frames, garbage); false when the connection is gone.
  bool write_raw(std::string_view data) {
    std::lock_guard lock(write_mu_);
    while (!data.empty()) {
      const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool send(const Json& message) { return write_raw(jsonrpc::encode_frame(message.dump())); }

  int64_t request(const std::string& method, Json params) {
    const int64_t id = next_id_++;
    {
      std::lock_guard lock(mu_);
      sent_[id] = {method, Clock::now()};
    }
    send(Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    return id;
  }
  void notify(const std::string& method, Json params) {
    send(Json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }
  void cancel(int64_t id) { notify("$/cancelRequest", Json{{"id", id}}); }

  // The answer to `id`, waiting up to `timeout_ms`; nullopt on timeout.
  std::optional<Answer> wait(int64_t id, int timeout_ms = 10000) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return answers_.count(id) > 0 || closed_; });
    auto it = answers_.find(id);
    if (it == answers_.end()) return std::nullopt;
    return it->second;
  }
  Json call(const std::string& method, Json params, int timeout_ms = 10000) {
    auto a = wait(request(method, std::move(params)), timeout_ms);
    return a ? a->message : Json();
  }
  // Waits until every request sent so far is answered; false on timeout.
  bool wait_all(int timeout_ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return answers_.size() >= sent_.size() || closed_; }) &&
           answers_.size() >= sent_.size();
  }
  // Every request sent, and its answer if any (copies).
  std::map<int64_t, std::string> sent_methods() const {
    std::lock_guard lock(mu_);
    std::map<int64_t, std::string> out;
    for (const auto& [id, s] : sent_) out[id] = s.method;
    return out;
  }
  std::map<int64_t, Answer> answers() const {
    std::lock_guard lock(mu_);
    return answers_;
  }
  std::vector<Json> notifications(const std::string& method) const {
    std::lock_guard lock(mu_);
    std::vector<Json> out;
    for (const auto& n : notifications_) {
      if (n.value("method", "") == method) out.push_back(n.value("params", Json()));
    }
    return out;
  }
  // Waits for at least `n` notifications of `method` whose params satisfy `pred`.
  bool wait_notification(const std::string& method, const std::function<bool(const Json&)>& pred, int timeout_ms) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
      for (const auto& n : notifications_) {
        if (n.value("method", "") == method && pred(n.value("params", Json()))) return true;
      }
      return false;
    });
  }
  // Responses that matched no request we sent, or came twice (must stay 0).
  int n_unexpected() const { return unexpected_.load(); }
  bool closed() const {
    std::lock_guard lock(mu_);
    return closed_;
  }
  // How the client answers `workspace/applyEdit` (default: applied).
  void set_apply_edit_result(Json result) {
    std::lock_guard lock(mu_);
    apply_edit_result_ = std::move(result);
  }

 private:
  struct Sent {
    std::string method;
    Clock::time_point at;
  };

  void read_loop() {
    jsonrpc::FrameDecoder decoder(size_t{256} << 20);
    char buf[65536];
    while (true) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      decoder.feed(
          std::string_view(buf, static_cast<size_t>(n)), [this](std::string body) { on_message(body); },
          [](jsonrpc::FrameError) {});
    }
    std::lock_guard lock(mu_);
    closed_ = true;
    cv_.notify_all();
  }

  void on_message(const std::string& body) {
    Json m = Json::parse(body, nullptr, false);
    if (m.is_discarded()) {
      ++unexpected_;
      return;
    }
    if (m.contains("method") && m.contains("id")) {  // a request of the server's
      const std::string method = m["method"].get<std::string>();
      Json result = nullptr;
      if (method == "workspace/configuration") result = Json::array({Json::object()});
      if (method == "workspace/applyEdit") {
        std::lock_guard lock(mu_);
        result = apply_edit_result_;
      }
      send(Json{{"jsonrpc", "2.0"}, {"id", m["id"]}, {"result", result}});
      return;
    }
    std::lock_guard lock(mu_);
    if (m.contains("method")) {
      notifications_.push_back(std::move(m));
    } else if (m.contains("id") && m["id"].is_number_integer()) {
      const int64_t id = m["id"].get<int64_t>();
      auto s = sent_.find(id);
      if (s == sent_.end()) {
        ++unexpected_;
        return;
      }
      auto [it, fresh] = answers_.try_emplace(id);
      ++it->second.n_received;
      if (!fresh) {
        ++unexpected_;
      } else {
        it->second.message = std::move(m);
        it->second.method = s->second.method;
        it->second.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - s->second.at).count();
        it->second.sent_ms = std::chrono::duration<double, std::milli>(s->second.at - start_).count();
      }
    } else {
      ++unexpected_;
    }
    cv_.notify_all();
  }

  int fd_;
  std::thread reader_;
  std::mutex write_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::atomic<int64_t> next_id_{1};
  const Clock::time_point start_ = Clock::now();
  std::map<int64_t, Sent> sent_;
  std::map<int64_t, Answer> answers_;
  std::vector<Json> notifications_;
  std::atomic<int> unexpected_{0};
  Json apply_edit_result_ = Json{{"applied", true}};
  bool closed_ = false;
};

}  // namespace moecode::testing
