// Test helper: a tiny HTTP/1.1 server on 127.0.0.1 that records every request (method,
// target, headers, body) and answers from a handler: a status, headers, and a body sent in
// chunks with pauses (server-sent events token by token), or a stall, or a connection cut in
// the middle. Every answer ends its connection (Connection: close). Plain POSIX sockets, one
// thread per connection. For tests only: tests read `requests()` after the exchange.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace moecode::testing {

struct CapturedRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return "";
  }
};

struct CannedReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::vector<std::string> chunks;  // written in order (chunked encoding), `pause_ms` apart
  int pause_ms = 0;
  int head_delay_ms = 0;   // wait before the status line
  bool cut = false;        // close the connection after the chunks, without the final chunk
  int stall_ms = 0;        // after the chunks, wait this long before finishing
};

// "data: {...}\n\n" frames for a list of JSON strings, then "data: [DONE]\n\n".
inline std::vector<std::string> sse_frames(const std::vector<std::string>& json, bool done = true) {
  std::vector<std::string> out;
  for (const auto& j : json) out.push_back("data: " + j + "\n\n");
  if (done) out.push_back("data: [DONE]\n\n");
  return out;
}

class CaptureServer {
 public:
  using Handler = std::function<CannedReply(const CapturedRequest&, int index)>;

  explicit CaptureServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(fd_, 16);
    socklen_t len = sizeof addr;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~CaptureServer() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    ::close(fd_);
    std::vector<std::thread> conns;
    {
      std::lock_guard lock(mu_);
      conns.swap(conns_);
    }
    for (auto& t : conns) t.join();
  }

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/v1") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  std::vector<CapturedRequest> requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }
  size_t n_requests() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }
  // True once a client closed its end while an answer was being written.
  bool client_went_away() const { return client_went_away_.load(); }
  // Times at which requests arrived.
  std::vector<std::chrono::steady_clock::time_point> arrivals() const {
    std::lock_guard lock(mu_);
    return arrivals_;
  }

 private:
  void accept_loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      std::lock_guard lock(mu_);
      conns_.emplace_back([this, c] { serve(c); });
    }
  }

  static bool read_request(int c, CapturedRequest& r) {
    std::string data;
    char buf[4096];
    size_t head_end = std::string::npos;
    while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return false;
      data.append(buf, static_cast<size_t>(n));
    }
    const std::string head = data.substr(0, head_end);
    std::string body = data.substr(head_end + 4);
    size_t line_end = head.find("\r\n");
    const std::string first = head.substr(0, line_end);
    const size_t sp1 = first.find(' ');
    const size_t sp2 = first.find(' ', sp1 + 1);
    r.method = first.substr(0, sp1);
    r.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    size_t content_length = 0;
    size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      size_t e = head.find("\r\n", pos);
      if (e == std::string::npos) e = head.size();
      const std::string line = head.substr(pos, e - pos);
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        if (name == "content-length") content_length = std::stoul(value);
        r.headers.emplace_back(std::move(name), std::move(value));
      }
      pos = e + 2;
    }
    while (body.size() < content_length) {
      const ssize_t n = ::recv(c, buf, sizeof buf, 0);
      if (n <= 0) return false;
      body.append(buf, static_cast<size_t>(n));
    }
    r.body = body.substr(0, content_length);
    return true;
  }

  bool write_all(int c, const std::string& s) {
    size_t off = 0;
    while (off < s.size()) {
      const ssize_t n = ::send(c, s.data() + off, s.size() - off, MSG_NOSIGNAL);
      if (n <= 0) {
        client_went_away_ = true;
        return false;
      }
      off += static_cast<size_t>(n);
    }
    return true;
  }

  // Sleeps `ms`, watching for the client to hang up (then returns false).
  bool pause(int c, int ms, bool mark = true) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (std::chrono::steady_clock::now() < until && !stop_) {
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 10) > 0) {
        char b;
        if (::recv(c, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
          if (mark) client_went_away_ = true;
          return false;
        }
      }
    }
    return true;
  }

  void serve(int c) {
    CapturedRequest r;
    if (!read_request(c, r)) {
      ::close(c);
      return;
    }
    int index;
    {
      std::lock_guard lock(mu_);
      index = static_cast<int>(requests_.size());
      requests_.push_back(r);
      arrivals_.push_back(std::chrono::steady_clock::now());
    }
    const CannedReply reply = handler_(r, index);
    if (reply.head_delay_ms > 0 && !pause(c, reply.head_delay_ms)) {
      ::close(c);
      return;
    }
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n";
    bool has_type = false;
    for (const auto& [k, v] : reply.headers) {
      head += k + ": " + v + "\r\n";
      if (k == "Content-Type") has_type = true;
    }
    if (!has_type) head += "Content-Type: text/event-stream\r\n";
    head += "\r\n";
    if (!write_all(c, head)) {
      ::close(c);
      return;
    }
    for (size_t i = 0; i < reply.chunks.size(); ++i) {
      if (i > 0 && reply.pause_ms > 0 && !pause(c, reply.pause_ms)) {
        ::close(c);
        return;
      }
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", reply.chunks[i].size());
      if (!write_all(c, size + reply.chunks[i] + "\r\n")) {
        ::close(c);
        return;
      }
    }
    if (reply.stall_ms > 0) pause(c, reply.stall_ms);
    if (!reply.cut) write_all(c, "0\r\n\r\n");
    ::shutdown(c, SHUT_WR);
    // Drain until the client closes (so that it reads everything), at most a second.
    pause(c, reply.cut ? 0 : 1000, /*mark=*/false);
    ::close(c);
  }

  Handler handler_;
  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<bool> client_went_away_{false};
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::thread> conns_;
  std::vector<CapturedRequest> requests_;
  std::vector<std::chrono::steady_clock::time_point> arrivals_;
};

}  // namespace moecode::testing
