// The Asio event loop and byte-stream connections (see transport.h). This is one of the two
// translation units that include Asio (compiling it takes a while: keep it small).
#include <utility>  // before Asio: Boost 1.74 + g++12 in C++20 needs std::exchange declared

#include "lsp/jsonrpc/transport.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <atomic>
#include <deque>
#include <mutex>
#include <thread>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

namespace moecode::jsonrpc {

namespace asio = boost::asio;
using boost::system::error_code;
using IoHandler = std::function<void(const error_code&, size_t)>;

// ---- Loop ------------------------------------------------------------------------------------

struct Loop::Impl {
  asio::io_context io{1};
  asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
  std::unique_ptr<asio::signal_set> signals;
};

Loop::Loop() : impl_(std::make_unique<Impl>()) {}
Loop::~Loop() = default;

void Loop::post(std::function<void()> fn) { asio::post(impl_->io, std::move(fn)); }

void Loop::run() {
  impl_->io.restart();
  impl_->io.run();
}

void Loop::stop() { impl_->io.stop(); }

void Loop::on_signals(std::function<void(int)> fn) {
  impl_->signals = std::make_unique<asio::signal_set>(impl_->io, SIGINT, SIGTERM);
  impl_->signals->async_wait([fn = std::move(fn)](const error_code& ec, int sig) {
    if (!ec) fn(sig);
  });
}

void Loop::post_after(int ms, std::function<void()> fn) {
  auto timer = std::make_shared<asio::steady_timer>(impl_->io, std::chrono::milliseconds(ms));
  timer->async_wait([timer, fn = std::move(fn)](const error_code& ec) {
    if (!ec) fn();
  });
}

namespace {

// ---- byte streams ----------------------------------------------------------------------------

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual void async_read(asio::mutable_buffer buf, IoHandler handler) = 0;
  // Writes all of `buf` (or fails).
  virtual void async_write(asio::const_buffer buf, IoHandler handler) = 0;
  virtual void close() = 0;
};

class SocketStream final : public ByteStream {
 public:
  explicit SocketStream(asio::ip::tcp::socket socket) : socket_(std::move(socket)) {}
  void async_read(asio::mutable_buffer buf, IoHandler handler) override {
    socket_.async_read_some(buf, std::move(handler));
  }
  void async_write(asio::const_buffer buf, IoHandler handler) override {
    asio::async_write(socket_, buf, std::move(handler));
  }
  void close() override {
    error_code ec;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

 private:
  asio::ip::tcp::socket socket_;
};

// Reads a descriptor that epoll refuses (regular file, /dev/null) on a thread of its own. The
// thread owns the descriptor; it never touches the io_context after the reader is destroyed.
class ThreadReader {
 public:
  ThreadReader(asio::io_context& io, int fd) : state_(std::make_shared<State>(io)), fd_(fd) {}
  ~ThreadReader() {
    {
      std::lock_guard lock(state_->mu);
      state_->stopped = true;
      state_->pending = nullptr;
    }
    if (thread_.joinable()) {
      if (state_->finished) {
        thread_.join();
      } else {
        thread_.detach();  // blocked in read(2) on a descriptor we cannot interrupt
      }
    } else {
      ::close(fd_);
    }
  }

  void async_read(asio::mutable_buffer buf, IoHandler handler) {
    if (!thread_.joinable()) start();
    std::lock_guard lock(state_->mu);
    state_->pending_buf = buf;
    state_->pending = std::move(handler);
    deliver_locked(*state_);
  }

 private:
  struct State {
    explicit State(asio::io_context& io_context) : io(io_context) {}
    asio::io_context& io;
    std::mutex mu;
    std::deque<std::string> chunks;
    bool eof = false;
    int error = 0;
    bool stopped = false;
    std::atomic<bool> finished{false};
    asio::mutable_buffer pending_buf;
    IoHandler pending;
  };

  void start() {
    thread_ = std::thread([state = state_, fd = fd_] {
      std::array<char, 65536> buf;
      while (true) {
        const ssize_t n = ::read(fd, buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        std::lock_guard lock(state->mu);
        if (state->stopped) break;
        if (n <= 0) {
          state->eof = true;
          state->error = n < 0 ? errno : 0;
        } else {
          state->chunks.emplace_back(buf.data(), static_cast<size_t>(n));
        }
        asio::post(state->io, [state] {
          std::lock_guard lock2(state->mu);
          if (!state->stopped) deliver_locked(*state);
        });
        if (n <= 0) break;
      }
      ::close(fd);
      state->finished = true;
    });
  }

  static void deliver_locked(State& s) {
    if (!s.pending) return;
    if (!s.chunks.empty()) {
      std::string& front = s.chunks.front();
      const size_t n = std::min(front.size(), s.pending_buf.size());
      std::memcpy(s.pending_buf.data(), front.data(), n);
      front.erase(0, n);
      if (front.empty()) s.chunks.pop_front();
      asio::post(s.io, [h = std::move(s.pending), n] { h(error_code(), n); });
      s.pending = nullptr;
    } else if (s.eof) {
      const error_code ec = s.error ? error_code(s.error, boost::system::system_category())
                                    : error_code(asio::error::eof);
      asio::post(s.io, [h = std::move(s.pending), ec] { h(ec, 0); });
      s.pending = nullptr;
    }
  }

  std::shared_ptr<State> state_;
  int fd_;
  std::thread thread_;
};

// stdin/stdout: stream descriptors where epoll accepts them, a reader thread and blocking
// writes where it does not.
class StdioStream final : public ByteStream {
 public:
  StdioStream(asio::io_context& io, int in_fd, int out_fd) : io_(io), in_(io), out_(io) {
    error_code ec;
    const int in_dup = ::dup(in_fd);
    if (in_dup >= 0) {
      in_.assign(in_dup, ec);
      if (ec) {
        spdlog::debug("transport: fd {} is not pollable ({}); reading it on a thread", in_fd, ec.message());
        reader_ = std::make_unique<ThreadReader>(io, in_dup);
      }
    }
    out_fd_ = ::dup(out_fd);
    if (out_fd_ >= 0) {
      out_.assign(out_fd_, ec);
      if (ec) {
        spdlog::debug("transport: fd {} is not pollable ({}); writing it synchronously", out_fd, ec.message());
        sync_out_ = true;
      }
    }
  }
  ~StdioStream() override {
    if (sync_out_ && out_fd_ >= 0) ::close(out_fd_);
  }

  void async_read(asio::mutable_buffer buf, IoHandler handler) override {
    if (reader_) {
      reader_->async_read(buf, std::move(handler));
    } else if (in_.is_open()) {
      in_.async_read_some(buf, std::move(handler));
    } else {
      asio::post(io_, [h = std::move(handler)] { h(asio::error::bad_descriptor, 0); });
    }
  }

  void async_write(asio::const_buffer buf, IoHandler handler) override {
    if (!sync_out_) {
      asio::async_write(out_, buf, std::move(handler));
      return;
    }
    const char* p = static_cast<const char*>(buf.data());
    size_t left = buf.size();
    error_code ec;
    while (left > 0) {
      const ssize_t n = ::write(out_fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        ec = error_code(errno, boost::system::system_category());
        break;
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    asio::post(io_, [h = std::move(handler), ec, n = buf.size() - left] { h(ec, n); });
  }

  void close() override {
    error_code ec;
    in_.close(ec);
    out_.close(ec);
    reader_.reset();
  }

 private:
  asio::io_context& io_;
  asio::posix::stream_descriptor in_;
  asio::posix::stream_descriptor out_;
  std::unique_ptr<ThreadReader> reader_;
  int out_fd_ = -1;
  bool sync_out_ = false;
};

// ---- connection ------------------------------------------------------------------------------

class StreamConnection final : public Connection, public std::enable_shared_from_this<StreamConnection> {
 public:
  StreamConnection(std::unique_ptr<ByteStream> stream, std::string peer, size_t max_message_bytes)
      : stream_(std::move(stream)), peer_(std::move(peer)), decoder_(max_message_bytes) {}

  void start(Handlers handlers) override {
    handlers_ = std::move(handlers);
    read_more();
  }

  void send(std::string body) override {
    if (closed_) return;
    writes_.push_back(encode_frame(body));
    if (!writing_) write_next();
  }

  void close_after_flush(std::function<void()> done) override {
    if (closed_) {
      if (done) done();
      return;
    }
    closing_ = true;
    on_flushed_ = std::move(done);
    if (!writing_) finish_close();
  }

  const std::string& peer() const override { return peer_; }
  size_t buffered_bytes() const override { return decoder_.buffered_bytes(); }

 private:
  void read_more() {
    stream_->async_read(asio::buffer(buf_), [self = shared_from_this()](const error_code& ec, size_t n) {
      self->on_read(ec, n);
    });
  }

  void on_read(const error_code& ec, size_t n) {
    if (closed_ || closing_) return;
    if (n > 0) {
      decoder_.feed(
          std::string_view(buf_.data(), n),
          [this](std::string body) {
            if (!closing_ && !closed_ && handlers_.on_message) handlers_.on_message(std::move(body));
          },
          [this](FrameError err) {
            if (!closing_ && !closed_ && handlers_.on_frame_error) handlers_.on_frame_error(err);
          });
    }
    if (closed_ || closing_) return;
    if (ec) {
      const bool mid = !decoder_.at_boundary();
      const std::string why = ec == asio::error::eof ? "end of stream" : ec.message();
      closed_ = true;
      stream_->close();
      writes_.clear();
      if (handlers_.on_closed) handlers_.on_closed(why, mid);
      return;
    }
    read_more();
  }

  void write_next() {
    if (writes_.empty()) {
      writing_ = false;
      if (closing_) finish_close();
      return;
    }
    writing_ = true;
    stream_->async_write(asio::buffer(writes_.front()),
                         [self = shared_from_this()](const error_code& ec, size_t) {
                           if (self->closed_) return;
                           self->writes_.pop_front();
                           if (ec) {
                             spdlog::warn("transport: write to {} failed: {}", self->peer_, ec.message());
                             self->writes_.clear();
                           }
                           self->write_next();
                         });
  }

  void finish_close() {
    if (closed_) return;
    closed_ = true;
    stream_->close();
    if (auto done = std::move(on_flushed_)) done();
  }

  std::unique_ptr<ByteStream> stream_;
  std::string peer_;
  FrameDecoder decoder_;
  Handlers handlers_;
  std::array<char, 65536> buf_{};
  std::deque<std::string> writes_;
  bool writing_ = false;
  bool closing_ = false;
  bool closed_ = false;
  std::function<void()> on_flushed_;
};

// ---- TCP -------------------------------------------------------------------------------------

class AsioTcpListener final : public TcpListener {
 public:
  AsioTcpListener(asio::io_context& io, asio::ip::tcp::endpoint ep, size_t max_message_bytes)
      : state_(std::make_shared<State>(io)), max_message_bytes_(max_message_bytes) {
    state_->acceptor.open(ep.protocol());
    state_->acceptor.set_option(asio::ip::tcp::acceptor::reuse_address(true));
    state_->acceptor.bind(ep);
    state_->acceptor.listen();
  }
  ~AsioTcpListener() override { close(); }

  uint16_t port() const override { return state_->acceptor.local_endpoint().port(); }
  std::string address() const override {
    const auto ep = state_->acceptor.local_endpoint();
    return ep.address().to_string() + ":" + std::to_string(ep.port());
  }

  void accept_each(std::function<void(std::shared_ptr<Connection>)> fn) override {
    state_->on_connection = std::move(fn);
    accept_next(state_, max_message_bytes_);
  }

  void close() override {
    error_code ec;
    state_->acceptor.close(ec);
  }

 private:
  struct State {
    explicit State(asio::io_context& io) : acceptor(io) {}
    asio::ip::tcp::acceptor acceptor;
    std::function<void(std::shared_ptr<Connection>)> on_connection;
  };

  static void accept_next(const std::shared_ptr<State>& state, size_t max_bytes) {
    state->acceptor.async_accept([state, max_bytes](const error_code& ec, asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted || !state->acceptor.is_open()) return;
      if (ec) {
        spdlog::warn("transport: accept failed: {}", ec.message());
      } else {
        error_code ec2;
        const auto remote = socket.remote_endpoint(ec2);
        std::string peer = ec2 ? "tcp client" : remote.address().to_string() + ":" + std::to_string(remote.port());
        socket.set_option(asio::ip::tcp::no_delay(true), ec2);
        auto conn = std::make_shared<StreamConnection>(std::make_unique<SocketStream>(std::move(socket)),
                                                       std::move(peer), max_bytes);
        if (state->on_connection) state->on_connection(conn);
      }
      accept_next(state, max_bytes);
    });
  }

  std::shared_ptr<State> state_;
  size_t max_message_bytes_;
};

}  // namespace

std::shared_ptr<Connection> open_stdio(Loop& loop, int in_fd, int out_fd, size_t max_message_bytes) {
  return std::make_shared<StreamConnection>(std::make_unique<StdioStream>(loop.impl().io, in_fd, out_fd),
                                            "stdio", max_message_bytes);
}

Result<ListenAddress> parse_listen_address(const std::string& text) {
  ListenAddress out;
  std::string port_text = text;
  out.host = "127.0.0.1";
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find("]:");
    if (close == std::string::npos) {
      return make_error(moecode::ErrorCode::kInvalidArgument, "listen address '" + text + "': expected [ADDR]:PORT");
    }
    out.host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
  } else if (const size_t colon = text.rfind(':'); colon != std::string::npos) {
    out.host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (out.host == "localhost" || out.host.empty()) out.host = "127.0.0.1";
  }
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos || std::stoul(port_text) > 65535) {
    return make_error(moecode::ErrorCode::kInvalidArgument,
                      "listen address '" + text + "': port '" + port_text + "' is not a number in 0..65535");
  }
  out.port = static_cast<uint16_t>(std::stoul(port_text));
  error_code ec;
  asio::ip::make_address(out.host, ec);
  if (ec) {
    return make_error(moecode::ErrorCode::kInvalidArgument,
                      "listen address '" + text + "': '" + out.host + "' is not an IP address");
  }
  return out;
}

Result<std::unique_ptr<TcpListener>> TcpListener::listen(Loop& loop, const std::string& address,
                                                         size_t max_message_bytes) {
  MOE_TRY(ListenAddress addr, parse_listen_address(address));
  try {
    const asio::ip::tcp::endpoint ep(asio::ip::make_address(addr.host), addr.port);
    return std::unique_ptr<TcpListener>(std::make_unique<AsioTcpListener>(loop.impl().io, ep, max_message_bytes));
  } catch (const boost::system::system_error& e) {
    return make_error(moecode::ErrorCode::kIo, "cannot listen on " + address + ": " + e.code().message());
  }
}

}  // namespace moecode::jsonrpc
