// The HTTP server (see http_server.h). Beast parses the requests; answers are written as bytes
// (Content-Length, or chunked for streams). One of the few translation units with Beast in it.
#include <utility>  // before Asio: Boost 1.74 + g++12 in C++20 needs std::exchange declared

#include "lsp/remote/http_server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <deque>
#include <optional>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

namespace moecode::remote {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;
using boost::system::error_code;

namespace {

const char* reason(int status) {
  switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
  }
}

class ServerImpl;

// What the responder needs of a connection, whatever its socket type.
class ConnectionBase : public std::enable_shared_from_this<ConnectionBase> {
 public:
  virtual ~ConnectionBase() = default;
  // I/O thread only. `seq` names the request the call is about (stale calls are dropped).
  virtual void respond(uint64_t seq, int status, const std::string& type, std::string body, const HeaderList& h) = 0;
  virtual void start_stream(uint64_t seq, int status, const std::string& type, const HeaderList& h) = 0;
  virtual void send_chunk(uint64_t seq, std::string data) = 0;
  virtual void end_stream(uint64_t seq) = 0;
  virtual void on_disconnect(uint64_t seq, std::function<void()> fn) = 0;
};

class ResponderImpl final : public Responder {
 public:
  // Holds the connection until the answer is done (a gone client only makes the calls no-ops).
  ResponderImpl(std::shared_ptr<ConnectionBase> conn, asio::io_context& io, uint64_t seq)
      : conn_(std::move(conn)), io_(io), seq_(seq) {}
  void respond(int status, const std::string& type, std::string body, HeaderList headers) override {
    run([seq = seq_, status, type, b = std::move(body), h = std::move(headers)](ConnectionBase& c) mutable {
      c.respond(seq, status, type, std::move(b), h);
    });
  }
  void start_stream(int status, const std::string& type, HeaderList headers) override {
    run([seq = seq_, status, type, h = std::move(headers)](ConnectionBase& c) { c.start_stream(seq, status, type, h); });
  }
  void send(std::string data) override {
    run([seq = seq_, d = std::move(data)](ConnectionBase& c) mutable { c.send_chunk(seq, std::move(d)); });
  }
  void end_stream() override {
    run([seq = seq_](ConnectionBase& c) { c.end_stream(seq); });
  }
  void on_disconnect(std::function<void()> fn) override {
    run([seq = seq_, f = std::move(fn)](ConnectionBase& c) mutable { c.on_disconnect(seq, std::move(f)); });
  }

 private:
  // On the I/O thread (the request handler answering or starting its stream) the call runs
  // now; from another thread (the engine's) it is queued behind what that thread queued
  // before. Posting from the I/O thread too lost answers: asio queues such posts privately
  // until the running handler returns, so an engine that finished first had its chunks and
  // its end delivered before the stream's head and dropped, and the client waited for ever.
  template <class F>
  void run(F&& f) {
    asio::dispatch(io_, [c = conn_, f = std::forward<F>(f)]() mutable { f(*c); });
  }
  std::shared_ptr<ConnectionBase> conn_;
  asio::io_context& io_;
  uint64_t seq_;
};

// Shared by the server and its connections.
struct ServerState {
  RequestHandler handler;
  size_t max_body = 0;
  std::atomic<size_t> n_connections{0};
  std::chrono::steady_clock::time_point last_activity = std::chrono::steady_clock::now();
  asio::io_context io{1};  // last: destroyed first, with the connections its handlers hold
};

template <class Socket>
class Connection final : public ConnectionBase {
 public:
  Connection(Socket socket, ServerState& state) : socket_(std::move(socket)), state_(state) {
    ++state_.n_connections;
    state_.last_activity = std::chrono::steady_clock::now();
  }
  ~Connection() override {
    --state_.n_connections;
    state_.last_activity = std::chrono::steady_clock::now();
  }

  void start() { read_request(); }

  void respond(uint64_t seq, int status, const std::string& type, std::string body, const HeaderList& h) override {
    if (seq != seq_ || !answering_ || closed_ || started_) return;
    std::string head = status_line(status) + "Content-Type: " + type + "\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n" + header_lines(h) + "\r\n";
    started_ = true;
    write(std::move(head) + body);
    complete();
  }
  void start_stream(uint64_t seq, int status, const std::string& type, const HeaderList& h) override {
    if (seq != seq_ || !answering_ || closed_ || started_) return;
    started_ = true;
    write(status_line(status) + "Content-Type: " + type +
          "\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n" + header_lines(h) + "\r\n");
  }
  void send_chunk(uint64_t seq, std::string data) override {
    if (seq != seq_ || !answering_ || closed_ || !started_ || data.empty()) return;
    char size[24];
    std::snprintf(size, sizeof size, "%zx\r\n", data.size());
    write(size + std::move(data) + "\r\n");
  }
  void end_stream(uint64_t seq) override {
    if (seq != seq_ || !answering_ || closed_ || !started_) return;
    write("0\r\n\r\n");
    complete();
  }
  void on_disconnect(uint64_t seq, std::function<void()> fn) override {
    if (seq != seq_) return;
    if (closed_) {
      fn();
      return;
    }
    on_gone_ = std::move(fn);
  }

 private:
  std::string status_line(int status) const {
    std::string s = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
    if (!keep_alive_) s += "Connection: close\r\n";
    return s;
  }
  static std::string header_lines(const HeaderList& h) {
    std::string s;
    for (const auto& [k, v] : h) s += k + ": " + v + "\r\n";
    return s;
  }

  void read_request() {
    parser_.emplace();
    parser_->body_limit(state_.max_body);
    parser_->header_limit(64 * 1024);
    auto self = std::static_pointer_cast<Connection>(shared_from_this());
    http::async_read_header(socket_, buffer_, *parser_, [self](const error_code& ec, size_t) {
      if (ec) return self->on_request(ec);
      // A client that asks before it sends a body (curl does, past 1 KB) gets its go-ahead.
      auto expect = self->parser_->get().find(http::field::expect);
      if (expect != self->parser_->get().end() && beast::iequals(expect->value(), "100-continue")) {
        auto go = std::make_shared<std::string>("HTTP/1.1 100 Continue\r\n\r\n");
        asio::async_write(self->socket_, asio::buffer(*go), [self, go](const error_code& e, size_t) {
          if (e) return self->close();
          self->read_body();
        });
        return;
      }
      self->read_body();
    });
  }
  void read_body() {
    auto self = std::static_pointer_cast<Connection>(shared_from_this());
    http::async_read(socket_, buffer_, *parser_, [self](const error_code& ec, size_t) { self->on_request(ec); });
  }

  void on_request(const error_code& ec) {
    state_.last_activity = std::chrono::steady_clock::now();
    if (ec) {
      if (ec == http::error::body_limit) {
        keep_alive_ = false;
        answering_ = true;
        ++seq_;
        respond(seq_, 413, "application/json", R"({"error":{"message":"request body too large","type":"invalid_request_error"}})", {});
        return;
      }
      close();
      return;
    }
    auto& msg = parser_->get();
    ServerRequest r;
    r.method = std::string(msg.method_string());
    const std::string target(msg.target());
    const size_t q = target.find('?');
    r.path = target.substr(0, q);
    if (q != std::string::npos) r.query = target.substr(q + 1);
    for (const auto& field : msg) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    r.body = std::move(msg.body());
    keep_alive_ = msg.keep_alive();
    answering_ = true;
    started_ = false;
    on_gone_ = nullptr;
    ++seq_;
    auto responder = std::make_shared<ResponderImpl>(shared_from_this(), state_.io, seq_);
    watch(seq_);
    state_.handler(std::move(r), std::move(responder));
  }

  // Learns that the client went away while its answer is being made: the socket turns
  // readable with nothing to read (EOF) or fails.
  void watch(uint64_t seq) {
    auto self = std::static_pointer_cast<Connection>(shared_from_this());
    socket_.async_wait(Socket::wait_read, [self, seq](const error_code& ec) {
      if (seq != self->seq_ || !self->answering_ || self->closed_) return;
      error_code e;
      const size_t avail = self->socket_.available(e);
      if (ec || e || avail == 0) self->close();
      // Otherwise the client sent more (a pipelined request): read after this answer.
    });
  }

  void write(std::string bytes) {
    out_.push_back(std::move(bytes));
    if (!writing_) do_write();
  }
  void do_write() {
    if (out_.empty() || closed_) {
      writing_ = false;
      if (complete_ && !closed_) after_answer();
      return;
    }
    writing_ = true;
    auto self = std::static_pointer_cast<Connection>(shared_from_this());
    asio::async_write(socket_, asio::buffer(out_.front()), [self](const error_code& ec, size_t) {
      if (ec || self->closed_) {
        self->close();
        return;
      }
      self->out_.pop_front();
      self->do_write();
    });
  }
  void complete() {
    complete_ = true;
    if (!writing_) after_answer();
  }
  void after_answer() {
    complete_ = false;
    answering_ = false;
    on_gone_ = nullptr;
    state_.last_activity = std::chrono::steady_clock::now();
    if (keep_alive_) {
      read_request();
    } else {
      error_code ec;
      socket_.shutdown(Socket::shutdown_send, ec);
      close();
    }
  }
  void close() {
    if (closed_) return;
    closed_ = true;  // what is queued stays until the pending write's handler has run
    error_code ec;
    socket_.close(ec);
    if (answering_ && on_gone_) {
      auto fn = std::move(on_gone_);
      on_gone_ = nullptr;
      fn();
    }
  }

  Socket socket_;
  ServerState& state_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::deque<std::string> out_;
  std::function<void()> on_gone_;
  uint64_t seq_ = 0;
  bool keep_alive_ = true;
  bool answering_ = false;
  bool started_ = false;
  bool writing_ = false;
  bool complete_ = false;
  bool closed_ = false;
};

Result<std::pair<std::string, uint16_t>> parse_host_port(const std::string& text) {
  auto bad = [&] { return make_error(ErrorCode::kInvalidArgument, "bad address '" + text + "': expected PORT, HOST:PORT, [V6]:PORT or unix:/path.sock"); };
  std::string host = "127.0.0.1";
  std::string port = text;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find("]:");
    if (close == std::string::npos) return bad();
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else if (const size_t c = text.rfind(':'); c != std::string::npos) {
    host = text.substr(0, c);
    port = text.substr(c + 1);
    if (host == "localhost" || host.empty()) host = "127.0.0.1";
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; }))
    return bad();
  const int p = std::stoi(port);
  if (p > 65535) return bad();
  return std::make_pair(host, static_cast<uint16_t>(p));
}

class ServerImpl final : public HttpServer {
 public:
  ServerImpl() = default;
  ~ServerImpl() override {
    error_code ec;
    if (tcp_) tcp_->close(ec);
    if (unix_) {
      unix_->close(ec);
      ::unlink(unix_path_.c_str());
    }
  }

  Status open(const std::string& address) {
    error_code ec;
    if (address.rfind("unix:", 0) == 0) {
      unix_path_ = address.substr(5);
      if (unix_path_.empty() || unix_path_[0] != '/') {
        return make_error(ErrorCode::kInvalidArgument, "a unix socket needs an absolute path: " + address);
      }
      struct stat st {};
      if (::lstat(unix_path_.c_str(), &st) == 0) {
        // A server there already? Otherwise the file is stale (a daemon that died).
        local::socket probe(state_.io);
        probe.connect(local::endpoint(unix_path_), ec);
        if (!ec) return make_error(ErrorCode::kUnavailable, "a server is already listening on " + address);
        ::unlink(unix_path_.c_str());
      }
      unix_ = std::make_unique<local::acceptor>(state_.io);
      unix_->open(local(), ec);
      if (!ec) unix_->bind(local::endpoint(unix_path_), ec);
      if (!ec) ::chmod(unix_path_.c_str(), 0600);  // this user's editors only
      if (!ec) unix_->listen(asio::socket_base::max_listen_connections, ec);
      if (ec) return make_error(ErrorCode::kIo, "cannot listen on " + address + ": " + ec.message());
      address_ = address;
      return Status::ok_status();
    }
    MOE_TRY(auto hp, parse_host_port(address));
    const auto ip = asio::ip::make_address(hp.first, ec);
    if (ec) return make_error(ErrorCode::kInvalidArgument, "bad address '" + hp.first + "': " + ec.message());
    const tcp::endpoint ep(ip, hp.second);
    tcp_ = std::make_unique<tcp::acceptor>(state_.io);
    tcp_->open(ep.protocol(), ec);
    if (!ec) tcp_->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) tcp_->bind(ep, ec);
    if (!ec) tcp_->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return make_error(ErrorCode::kIo, "cannot listen on " + address + ": " + ec.message());
    port_ = tcp_->local_endpoint().port();
    const bool v6 = ip.is_v6();
    address_ = (v6 ? "[" + hp.first + "]" : hp.first) + ":" + std::to_string(port_);
    return Status::ok_status();
  }

  std::string address() const override { return address_; }
  uint16_t port() const override { return port_; }

  void run() override {
    accept();
    state_.io.run();
  }
  void stop() override {
    asio::post(state_.io, [this] {
      error_code ec;
      if (tcp_) tcp_->close(ec);
      if (unix_) unix_->close(ec);
      if (idle_timer_) idle_timer_->cancel();
      if (signals_) signals_->cancel(ec);
      state_.io.stop();
    });
  }
  void on_signals(std::function<void(int)> fn) override {
    signals_ = std::make_unique<asio::signal_set>(state_.io, SIGINT, SIGTERM);
    signals_->async_wait([fn = std::move(fn)](const error_code& ec, int sig) {
      if (!ec) fn(sig);
    });
  }
  void on_idle(int idle_ms, std::function<void()> fn) override {
    idle_ms_ = idle_ms;
    on_idle_ = std::move(fn);
    idle_timer_ = std::make_unique<asio::steady_timer>(state_.io);
    arm_idle();
  }
  void post(std::function<void()> fn) override { asio::post(state_.io, std::move(fn)); }
  size_t n_connections() const override { return state_.n_connections.load(); }

  ServerState state_;

 private:
  void accept() {
    if (tcp_) {
      tcp_->async_accept([this](const error_code& ec, tcp::socket s) {
        if (ec) {
          if (ec != asio::error::operation_aborted) spdlog::warn("http: accept failed: {}", ec.message());
          if (tcp_->is_open()) accept();
          return;
        }
        error_code e;
        s.set_option(tcp::no_delay(true), e);
        std::make_shared<Connection<tcp::socket>>(std::move(s), state_)->start();
        accept();
      });
    } else {
      unix_->async_accept([this](const error_code& ec, local::socket s) {
        if (ec) {
          if (ec != asio::error::operation_aborted) spdlog::warn("http: accept failed: {}", ec.message());
          if (unix_->is_open()) accept();
          return;
        }
        std::make_shared<Connection<local::socket>>(std::move(s), state_)->start();
        accept();
      });
    }
  }
  void arm_idle() {
    idle_timer_->expires_after(std::chrono::seconds(1));
    idle_timer_->async_wait([this](const error_code& ec) {
      if (ec) return;
      const auto idle = std::chrono::steady_clock::now() - state_.last_activity;
      if (state_.n_connections.load() == 0 && idle >= std::chrono::milliseconds(idle_ms_)) {
        if (on_idle_) on_idle_();
        return;
      }
      arm_idle();
    });
  }

  std::unique_ptr<tcp::acceptor> tcp_;
  std::unique_ptr<local::acceptor> unix_;
  std::string unix_path_;
  std::string address_;
  uint16_t port_ = 0;
  std::unique_ptr<asio::signal_set> signals_;
  std::unique_ptr<asio::steady_timer> idle_timer_;
  int idle_ms_ = 0;
  std::function<void()> on_idle_;
};

}  // namespace

Result<std::unique_ptr<HttpServer>> HttpServer::listen(const std::string& address, RequestHandler handler,
                                                       size_t max_body_bytes) {
  auto s = std::make_unique<ServerImpl>();
  s->state_.handler = std::move(handler);
  s->state_.max_body = max_body_bytes;
  MOE_RETURN_IF_ERROR(s->open(address));
  return std::unique_ptr<HttpServer>(std::move(s));
}

}  // namespace moecode::remote
