// A small HTTP/1.1 server (Boost.Beast parses requests; kept inside http_server.cpp) on TCP
// (loopback unless an address is given) or a unix socket. Keep-alive connections, answers
// written whole or streamed (chunked, for server-sent events), and a way to learn that a client
// went away while its answer was being made (the connection is watched for EOF), so that its
// generation can be cancelled.
//
// Threading: run() drives everything on the calling thread; the request handler runs there.
// A Responder may be used from any thread (on the I/O thread its calls run at once; from
// others they are posted there, in order); stop() and
// n_connections() are thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "moecode/engine/result.h"

namespace moecode::remote {

struct ServerRequest {
  std::string method;  // "GET", "POST"
  std::string path;    // "/v1/completions" (no query)
  std::string query;   // without '?'
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return v;
    }
    return "";
  }
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// The answer to one request. Exactly one of respond() or start_stream() ... end_stream().
class Responder {
 public:
  virtual ~Responder() = default;
  virtual void respond(int status, const std::string& content_type, std::string body, HeaderList headers = {}) = 0;
  // The head of a chunked answer (text/event-stream), then its pieces, then its end.
  virtual void start_stream(int status, const std::string& content_type, HeaderList headers = {}) = 0;
  virtual void send(std::string data) = 0;
  virtual void end_stream() = 0;
  // `fn` runs (on the I/O thread) if the client closes the connection before the answer has
  // been written; at once if it already has.
  virtual void on_disconnect(std::function<void()> fn) = 0;
};

using RequestHandler = std::function<void(ServerRequest request, std::shared_ptr<Responder> responder)>;

class HttpServer {
 public:
  // "PORT", "HOST:PORT", "[V6]:PORT" (a bare port binds 127.0.0.1; port 0 takes a free one), or
  // "unix:/path.sock" (a stale socket file is replaced; the file is removed on destruction).
  static Result<std::unique_ptr<HttpServer>> listen(const std::string& address, RequestHandler handler,
                                                    size_t max_body_bytes = size_t{64} << 20);
  virtual ~HttpServer() = default;

  // "127.0.0.1:8090" or "unix:/path.sock".
  virtual std::string address() const = 0;
  virtual uint16_t port() const = 0;  // 0 for unix sockets
  // Serves until stop() (or a signal handler that calls it).
  virtual void run() = 0;
  virtual void stop() = 0;
  // Runs `fn` on the I/O thread on SIGINT/SIGTERM.
  virtual void on_signals(std::function<void(int)> fn) = 0;
  // Calls `fn` on the I/O thread once no connection has been open for `idle_ms` (checked every
  // second; the daemon's exit when no editor uses it).
  virtual void on_idle(int idle_ms, std::function<void()> fn) = 0;
  // Runs `fn` on the I/O thread (any thread may call this).
  virtual void post(std::function<void()> fn) = 0;
  virtual size_t n_connections() const = 0;
};

}  // namespace moecode::remote
