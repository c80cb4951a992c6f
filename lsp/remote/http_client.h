// A small HTTP/1.1 client for OpenAI-compatible servers (Boost.Beast, kept inside
// http_client.cpp): http, https (OpenSSL; the system's CAs, host name checked, SNI) and unix
// sockets ("unix:/run/x.sock" for moecode's engine daemon). One keep-alive connection per
// client, reused across requests. The response body is handed over as it arrives (server-sent
// events stream token by token). Every wait has a deadline and checks a CancelToken: cancelling
// closes the connection, which is how a streamed generation is stopped on the server.
//
// Threading: an HttpClient is used by one thread at a time; it runs its own I/O on the
// calling thread. The CancelToken may be set from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "moecode/engine/result.h"
#include "moecode/engine/session.h"

namespace moecode::remote {

using engine::CancelToken;

// "https://host:8443/v1" -> scheme https, host, port 8443, path "/v1".
// "unix:/path/to.sock" (or "unix:///path/to.sock") -> scheme unix, socket path; path "".
struct Url {
  std::string scheme;  // "http", "https", "unix"
  std::string host;    // for the Host header (unix: "localhost")
  uint16_t port = 0;
  std::string path;    // no trailing '/'
  std::string socket;  // unix only
  std::string query;   // without '?'

  // scheme://host[:port] (or unix:socket), for messages.
  std::string origin() const;
};
Result<Url> parse_url(const std::string& text);

struct HttpRequest {
  std::string method = "POST";
  std::string target;  // "/v1/completions?x=y"
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;       // the body, unless it was streamed to on_body
  bool stopped = false;   // on_body returned false: the connection was closed early

  // The value of header `name` (lower-case), or "".
  std::string header(std::string_view name) const;
};

struct HttpTimeouts {
  int connect_ms = 10000;
  int read_ms = 120000;  // the longest silence: until the head, and between body bytes
};

// Receives the body as it arrives; false stops reading (the connection is closed).
using BodyFn = std::function<bool(std::string_view chunk)>;

class HttpClient {
 public:
  // `ca_file`: an extra PEM bundle for https ("" = the system's).
  explicit HttpClient(Url origin, std::string ca_file = "");
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends `request` and reads the response. With `on_body`, a 2xx body goes to it as it
  // arrives (other statuses are read whole into `body`, for the error message). Errors:
  // kUnavailable (cannot connect, connection lost, timeout: the message says which, and
  // whether any response had arrived), kCancelled. A reused connection that the server had
  // closed is reopened once, transparently.
  Result<HttpResponse> send(const HttpRequest& request, const BodyFn& on_body, const HttpTimeouts& timeouts,
                            const CancelToken& cancel);

  // Closes the kept-alive connection (the next send reconnects).
  void close();
  // True while a kept-alive connection is open.
  bool connected() const;

  // Opens the connection now (send() does it on demand). The daemon client holds one open to
  // learn at once when the daemon goes away: wait_closed() returns when the peer closes it.
  Status connect(const HttpTimeouts& timeouts, const CancelToken& cancel);
  // Blocks until the peer closes the open connection or `cancel` is set (checked every 50 ms).
  // True when the peer closed it.
  bool wait_closed(const CancelToken& cancel);

  struct Impl;  // http_client.cpp

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace moecode::remote
