// The HTTP client (see http_client.h). One of the few translation units with Beast in it.
#include <utility>  // before Asio: Boost 1.74 + g++12 in C++20 needs std::exchange declared

#include "lsp/remote/http_client.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <limits>
#include <optional>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace moecode::remote {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using local = asio::local::stream_protocol;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

// ---- URLs ------------------------------------------------------------------------------------

std::string Url::origin() const {
  if (scheme == "unix") return "unix:" + socket;
  const bool default_port = (scheme == "http" && port == 80) || (scheme == "https" && port == 443);
  const bool v6 = host.find(':') != std::string::npos;
  std::string h = v6 ? "[" + host + "]" : host;
  return scheme + "://" + h + (default_port ? "" : ":" + std::to_string(port));
}

Result<Url> parse_url(const std::string& text) {
  Url u;
  auto bad = [&](const std::string& why) {
    return make_error(ErrorCode::kInvalidArgument, "bad URL '" + text + "': " + why);
  };
  if (text.rfind("unix:", 0) == 0) {
    u.scheme = "unix";
    std::string rest = text.substr(5);
    if (rest.rfind("//", 0) == 0) rest = rest.substr(2);
    if (rest.empty() || rest[0] != '/') return bad("a unix socket needs an absolute path (unix:/run/x.sock)");
    u.socket = rest;
    u.host = "localhost";
    return u;
  }
  const size_t colon = text.find("://");
  if (colon == std::string::npos) return bad("expected http://, https:// or unix:");
  u.scheme = text.substr(0, colon);
  for (char& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https") return bad("the scheme must be http or https");
  std::string rest = text.substr(colon + 3);
  const size_t q = rest.find('?');
  if (q != std::string::npos) {
    u.query = rest.substr(q + 1);
    rest.resize(q);
  }
  const size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "" : rest.substr(slash);
  while (!u.path.empty() && u.path.back() == '/') u.path.pop_back();
  if (authority.find('@') != std::string::npos) return bad("credentials in the URL are not accepted (use apiKeyEnv)");
  std::string port;
  if (!authority.empty() && authority[0] == '[') {
    const size_t close = authority.find(']');
    if (close == std::string::npos) return bad("unclosed '[' in the host");
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return bad("unexpected text after ']'");
      port = authority.substr(close + 2);
    }
  } else {
    const size_t c = authority.rfind(':');
    u.host = authority.substr(0, c);
    if (c != std::string::npos) port = authority.substr(c + 1);
  }
  if (u.host.empty()) return bad("no host");
  if (port.empty()) {
    u.port = u.scheme == "https" ? 443 : 80;
  } else {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return bad("the port must be a number");
    const int p = std::stoi(port);
    if (p < 1 || p > 65535) return bad("the port must be in 1..65535");
    u.port = static_cast<uint16_t>(p);
  }
  return u;
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

// ---- the client --------------------------------------------------------------------------------

struct HttpClient::Impl {
  Url origin;
  std::string ca_file;
  asio::io_context io{1};
  std::unique_ptr<asio::ssl::context> tls_ctx;
  // The open connection: at most one of these.
  std::unique_ptr<tcp::socket> plain;
  std::unique_ptr<asio::ssl::stream<tcp::socket>> tls;
  std::unique_ptr<local::socket> unix_sock;
  beast::flat_buffer buffer;
  bool reused = false;  // the open connection has carried a request already

  enum class Wait { kDone, kTimeout, kCancelled };

  bool is_open() const { return plain || tls || unix_sock; }

  void close_stream() {
    error_code ec;
    if (plain) {
      plain->shutdown(tcp::socket::shutdown_both, ec);
      plain->close(ec);
    }
    if (tls) {
      tls->next_layer().shutdown(tcp::socket::shutdown_both, ec);
      tls->next_layer().close(ec);
    }
    if (unix_sock) {
      unix_sock->shutdown(local::socket::shutdown_both, ec);
      unix_sock->close(ec);
    }
  }

  // Forgets the connection (after close_stream and once no operation is pending).
  void drop() {
    close_stream();
    // Let handlers of the closed sockets run before the objects go.
    if (io.stopped()) io.restart();
    io.poll();
    plain.reset();
    tls.reset();
    unix_sock.reset();
    buffer.clear();
    reused = false;
  }

  // Runs the I/O until `done`; past the deadline or on cancellation the connection is closed
  // (which completes the pending operation with an error) and the reason is returned.
  Wait run_until(const bool& done, Clock::time_point deadline, const CancelToken& cancel) {
    Wait w = Wait::kDone;
    while (!done) {
      if (w == Wait::kDone) {
        if (cancel.cancelled()) {
          w = Wait::kCancelled;
          close_stream();
        } else if (Clock::now() >= deadline) {
          w = Wait::kTimeout;
          close_stream();
        }
      }
      if (io.stopped()) io.restart();
      io.run_one_for(std::chrono::milliseconds(20));
    }
    return w;
  }

  template <class F>
  void with_stream(F&& f) {
    if (tls) {
      f(*tls);
    } else if (plain) {
      f(*plain);
    } else {
      f(*unix_sock);
    }
  }

  Status open(const HttpTimeouts& t, const CancelToken& cancel);
};

namespace {

Clock::time_point after_ms(int ms) { return Clock::now() + std::chrono::milliseconds(ms); }

Error wait_error(HttpClient::Impl::Wait w, const std::string& what, int ms) {
  if (w == HttpClient::Impl::Wait::kCancelled) return make_error(ErrorCode::kCancelled, "request cancelled");
  return make_error(ErrorCode::kUnavailable, what + " within " + std::to_string(ms) + " ms");
}

}  // namespace

Status HttpClient::Impl::open(const HttpTimeouts& t, const CancelToken& cancel) {
  const auto deadline = after_ms(t.connect_ms);
  const std::string where = origin.origin();
  bool done = false;
  error_code ec;
  if (origin.scheme == "unix") {
    unix_sock = std::make_unique<local::socket>(io);
    unix_sock->async_connect(local::endpoint(origin.socket), [&](const error_code& e) {
      ec = e;
      done = true;
    });
    const Wait w = run_until(done, deadline, cancel);
    if (w != Wait::kDone) {
      drop();
      return wait_error(w, "no connection to " + where, t.connect_ms);
    }
    if (ec) {
      drop();
      return make_error(ErrorCode::kUnavailable, "cannot connect to " + where + ": " + ec.message());
    }
    reused = false;
    return Status::ok_status();
  }

  tcp::resolver resolver(io);
  tcp::resolver::results_type endpoints;
  resolver.async_resolve(origin.host, std::to_string(origin.port),
                         [&](const error_code& e, tcp::resolver::results_type r) {
                           ec = e;
                           endpoints = std::move(r);
                           done = true;
                         });
  Wait w = run_until(done, deadline, cancel);
  if (w != Wait::kDone) {
    resolver.cancel();
    if (io.stopped()) io.restart();
    io.poll();
    return wait_error(w, "cannot resolve " + origin.host, t.connect_ms);
  }
  if (ec) return make_error(ErrorCode::kUnavailable, "cannot resolve " + origin.host + ": " + ec.message());

  tcp::socket* sock = nullptr;
  if (origin.scheme == "https") {
    if (!tls_ctx) {
      tls_ctx = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      tls_ctx->set_default_verify_paths(ec);
      if (!ca_file.empty()) {
        tls_ctx->load_verify_file(ca_file, ec);
        if (ec) {
          tls_ctx.reset();
          return make_error(ErrorCode::kInvalidArgument, "cannot read the CA file '" + ca_file + "': " + ec.message());
        }
      }
      tls_ctx->set_verify_mode(asio::ssl::verify_peer);
    }
    tls = std::make_unique<asio::ssl::stream<tcp::socket>>(io, *tls_ctx);
    sock = &tls->next_layer();
  } else {
    plain = std::make_unique<tcp::socket>(io);
    sock = plain.get();
  }
  done = false;
  asio::async_connect(*sock, endpoints, [&](const error_code& e, const tcp::endpoint&) {
    ec = e;
    done = true;
  });
  w = run_until(done, deadline, cancel);
  if (w != Wait::kDone) {
    drop();
    return wait_error(w, "no connection to " + where, t.connect_ms);
  }
  if (ec) {
    drop();
    return make_error(ErrorCode::kUnavailable, "cannot connect to " + where + ": " + ec.message());
  }
  sock->set_option(tcp::no_delay(true), ec);
  if (tls) {
    // SNI, and the certificate must name the host.
    if (!SSL_set_tlsext_host_name(tls->native_handle(), origin.host.c_str())) {
      drop();
      return make_error(ErrorCode::kUnavailable, "TLS: cannot set the server name " + origin.host);
    }
    tls->set_verify_callback(asio::ssl::host_name_verification(origin.host));
    done = false;
    tls->async_handshake(asio::ssl::stream_base::client, [&](const error_code& e) {
      ec = e;
      done = true;
    });
    w = run_until(done, deadline, cancel);
    if (w != Wait::kDone) {
      drop();
      return wait_error(w, "no TLS handshake with " + where, t.connect_ms);
    }
    if (ec) {
      drop();
      return make_error(ErrorCode::kUnavailable, "TLS handshake with " + where + " failed: " + ec.message());
    }
  }
  reused = false;
  return Status::ok_status();
}

HttpClient::HttpClient(Url origin, std::string ca_file) : impl_(std::make_unique<Impl>()) {
  impl_->origin = std::move(origin);
  impl_->ca_file = std::move(ca_file);
}

HttpClient::~HttpClient() { close(); }

void HttpClient::close() {
  if (impl_->is_open()) impl_->drop();
}

bool HttpClient::connected() const { return impl_->is_open(); }

Status HttpClient::connect(const HttpTimeouts& timeouts, const CancelToken& cancel) {
  if (impl_->is_open()) return Status::ok_status();
  return impl_->open(timeouts, cancel);
}

bool HttpClient::wait_closed(const CancelToken& cancel) {
  Impl& d = *impl_;
  if (!d.is_open()) return true;
  bool done = false;
  error_code ec;
  char scratch[256];
  bool closed = false;
  while (!closed) {
    done = false;
    d.with_stream([&](auto& s) {
      s.async_read_some(asio::buffer(scratch), [&](const error_code& e, size_t) {
        ec = e;
        done = true;
      });
    });
    while (!done) {
      if (cancel.cancelled()) {
        d.close_stream();
        while (!done) {
          if (d.io.stopped()) d.io.restart();
          d.io.run_one_for(std::chrono::milliseconds(20));
        }
        d.drop();
        return false;
      }
      if (d.io.stopped()) d.io.restart();
      d.io.run_one_for(std::chrono::milliseconds(50));
    }
    closed = static_cast<bool>(ec);
  }
  d.drop();
  return true;
}

Result<HttpResponse> HttpClient::send(const HttpRequest& request, const BodyFn& on_body, const HttpTimeouts& timeouts,
                                      const CancelToken& cancel) {
  Impl& d = *impl_;
  const std::string where = d.origin.origin();
  http::request<http::string_body> req;
  req.method(http::string_to_verb(request.method));
  req.target(request.target);
  req.version(11);
  req.set(http::field::host, d.origin.scheme == "unix" ? std::string("localhost")
                                                        : (d.origin.host.find(':') != std::string::npos
                                                               ? "[" + d.origin.host + "]"
                                                               : d.origin.host) +
                                                              ":" + std::to_string(d.origin.port));
  req.set(http::field::user_agent, "moecode");
  for (const auto& [k, v] : request.headers) req.set(k, v);
  if (!request.body.empty() || request.method == "POST") {
    req.body() = request.body;
    req.prepare_payload();
  }

  for (int attempt = 0;; ++attempt) {
    if (cancel.cancelled()) return make_error(ErrorCode::kCancelled, "request cancelled");
    if (!d.is_open()) MOE_RETURN_IF_ERROR(d.open(timeouts, cancel));
    const bool was_reused = d.reused;
    d.reused = true;

    // Write the request.
    bool done = false;
    error_code ec;
    d.with_stream([&](auto& s) {
      http::async_write(s, req, [&](const error_code& e, size_t) {
        ec = e;
        done = true;
      });
    });
    Impl::Wait w = d.run_until(done, after_ms(timeouts.read_ms), cancel);
    if (w != Impl::Wait::kDone) {
      d.drop();
      return wait_error(w, "could not send the request to " + where, timeouts.read_ms);
    }
    if (ec) {
      d.drop();
      if (was_reused && attempt == 0) continue;  // the server had closed the idle connection
      return make_error(ErrorCode::kUnavailable, "cannot send the request to " + where + ": " + ec.message());
    }

    // The head.
    http::response_parser<http::buffer_body> parser;
    // No limit (Beast 1.74 compares a length with an empty optional as "over the limit": give
    // the largest value instead of none).
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    done = false;
    d.with_stream([&](auto& s) {
      http::async_read_header(s, d.buffer, parser, [&](const error_code& e, size_t) {
        ec = e;
        done = true;
      });
    });
    w = d.run_until(done, after_ms(timeouts.read_ms), cancel);
    if (w != Impl::Wait::kDone) {
      d.drop();
      return wait_error(w, "no answer from " + where, timeouts.read_ms);
    }
    if (ec) {
      d.drop();
      if (was_reused && attempt == 0 && (ec == http::error::end_of_stream || ec == asio::error::eof ||
                                         ec == asio::error::connection_reset)) {
        continue;
      }
      return make_error(ErrorCode::kUnavailable, "no answer from " + where + ": " + ec.message());
    }

    HttpResponse resp;
    const auto& head = parser.get();
    resp.status = static_cast<int>(head.result_int());
    for (const auto& field : head) {
      std::string name(field.name_string());
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      resp.headers.emplace_back(std::move(name), std::string(field.value()));
    }
    const bool stream_body = on_body && resp.status >= 200 && resp.status < 300;

    // The body, piece by piece.
    char buf[16384];
    while (!parser.is_done()) {
      parser.get().body().data = buf;
      parser.get().body().size = sizeof buf;
      done = false;
      d.with_stream([&](auto& s) {
        http::async_read_some(s, d.buffer, parser, [&](const error_code& e, size_t) {
          ec = e;
          done = true;
        });
      });
      w = d.run_until(done, after_ms(timeouts.read_ms), cancel);
      if (w != Impl::Wait::kDone) {
        d.drop();
        if (w == Impl::Wait::kCancelled) return make_error(ErrorCode::kCancelled, "request cancelled");
        return make_error(ErrorCode::kUnavailable, "the answer from " + where + " stalled for " +
                                                       std::to_string(timeouts.read_ms) + " ms");
      }
      if (ec == http::error::need_buffer) ec = {};
      if (ec) {
        d.drop();
        return make_error(ErrorCode::kUnavailable,
                          where + " closed the connection in the middle of the answer (" + ec.message() + ")");
      }
      const size_t n = sizeof buf - parser.get().body().size;
      if (n == 0) continue;
      if (stream_body) {
        if (!on_body(std::string_view(buf, n))) {
          resp.stopped = true;
          d.drop();  // closing is how a stream is stopped
          return resp;
        }
      } else {
        resp.body.append(buf, n);
      }
    }
    if (!parser.get().keep_alive()) d.drop();
    return resp;
  }
}

}  // namespace moecode::remote
