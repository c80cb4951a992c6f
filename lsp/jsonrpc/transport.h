// The I/O side of a JSON-RPC connection, on Boost.Asio (kept inside transport.cpp): the event
// loop (one io_context, one thread), and byte-stream connections with Content-Length framing
// over stdio (stream descriptors) or TCP (a listener on a loopback address unless told
// otherwise). Reads are asynchronous and robust to partial and pipelined messages; writes are
// queued so that a slow client never blocks the loop.
//
// Threading: Loop::post and Loop::stop are thread-safe; everything else runs on the loop's
// thread (the one inside Loop::run), including every Connection handler.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "lsp/jsonrpc/endpoint.h"
#include "lsp/jsonrpc/framing.h"
#include "moecode/engine/result.h"

namespace moecode::jsonrpc {

class Loop : public Executor {
 public:
  Loop();
  ~Loop() override;

  void post(std::function<void()> fn) override;
  // Runs handlers on the calling thread until stop().
  void run();
  void stop();
  // Calls `fn(signal)` on the loop thread on SIGINT or SIGTERM.
  void on_signals(std::function<void(int)> fn);
  // Calls `fn` on the loop thread after `ms` milliseconds.
  void post_after(int ms, std::function<void()> fn);

  struct Impl;
  Impl& impl() { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

class Connection {
 public:
  struct Handlers {
    std::function<void(std::string body)> on_message;
    std::function<void(const FrameError& error)> on_frame_error;
    // The peer closed the stream or it failed; `mid_message` when a frame was cut short.
    std::function<void(const std::string& why, bool mid_message)> on_closed;
  };

  virtual ~Connection() = default;
  // Starts reading (loop thread).
  virtual void start(Handlers handlers) = 0;
  // Frames and queues one message body (loop thread).
  virtual void send(std::string body) = 0;
  // Stops reading, writes what is queued, closes, then calls `done` (loop thread).
  virtual void close_after_flush(std::function<void()> done) = 0;
  virtual const std::string& peer() const = 0;
  // Bytes the framing decoder holds (tests check that an oversized message is not buffered).
  virtual size_t buffered_bytes() const = 0;
};

// A connection over two file descriptors (stdin/stdout of `moecode serve --stdio`). The
// descriptors are duplicated; pipes, sockets and ttys are read asynchronously, other files
// (a regular file, /dev/null) through a reader thread.
std::shared_ptr<Connection> open_stdio(Loop& loop, int in_fd, int out_fd, size_t max_message_bytes);

// A TCP listener: "PORT" and "localhost:PORT" bind to 127.0.0.1; "ADDR:PORT" (IPv4) or
// "[ADDR]:PORT" (IPv6) bind to ADDR. Port 0 takes a free port (see port()).
class TcpListener {
 public:
  static Result<std::unique_ptr<TcpListener>> listen(Loop& loop, const std::string& address,
                                                     size_t max_message_bytes);
  virtual ~TcpListener() = default;
  virtual uint16_t port() const = 0;
  virtual std::string address() const = 0;
  // Accepts connections until close(); `fn` runs on the loop thread for each one.
  virtual void accept_each(std::function<void(std::shared_ptr<Connection>)> fn) = 0;
  virtual void close() = 0;
};

// Parses a --listen address into host and port (see TcpListener).
struct ListenAddress {
  std::string host;
  uint16_t port = 0;
};
Result<ListenAddress> parse_listen_address(const std::string& text);

}  // namespace moecode::jsonrpc
