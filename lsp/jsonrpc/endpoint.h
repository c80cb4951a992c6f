// One JSON-RPC 2.0 peer over an already-framed message stream (the LSP's base protocol):
// parses and validates messages, dispatches requests and notifications to handlers, matches
// responses to the requests we sent, handles $/cancelRequest, and guarantees that every
// request we receive is answered exactly once (a Reply dropped unanswered answers
// InternalError; a second answer is logged and ignored).
//
// Threading: receive(), the handlers, response callbacks and `send` run on the executor's
// thread (the I/O thread). Reply, notify() and call() may be used from any thread; they post
// the write to the executor. The Executor must outlive the Endpoint; Replies may outlive it
// (they then drop their answer: the connection is gone).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "lsp/jsonrpc/error_code.h"
#include "lsp/jsonrpc/framing.h"
#include "moecode/engine/session.h"

namespace moecode::jsonrpc {

using Json = nlohmann::json;
using engine::CancelToken;

// Runs closures on one thread, in order. Implemented by the Asio loop (transport.h) and by
// test loops.
class Executor {
 public:
  virtual ~Executor() = default;
  virtual void post(std::function<void()> fn) = 0;
};

struct RpcError {
  ErrorCode code = ErrorCode::kInternalError;
  std::string message;
};

namespace detail {
struct Core;
struct InFlight;
}  // namespace detail

// The duty to answer one request. Move-only; usable from any thread.
class Reply {
 public:
  Reply(Reply&& other) noexcept;
  Reply& operator=(Reply&& other) noexcept;
  Reply(const Reply&) = delete;
  Reply& operator=(const Reply&) = delete;
  ~Reply();

  void result(Json value);
  void error(ErrorCode code, std::string message);
  void error(const RpcError& e) { error(e.code, e.message); }
  bool done() const { return done_; }
  const std::string& method() const { return method_; }
  // The request id as JSON text ("7" or "\"abc\"").
  const std::string& id_text() const { return id_key_; }

 private:
  friend class Endpoint;
  Reply(std::shared_ptr<detail::Core> core, Json id, std::string id_key, std::string method);
  void send(Json message);

  std::shared_ptr<detail::Core> core_;
  Json id_;
  std::string id_key_;
  std::string method_;
  bool done_ = false;
};

// Per-request context: the cancellation token ($/cancelRequest sets it) and a hook run on the
// I/O thread when the client cancels.
class RequestContext {
 public:
  const CancelToken& cancel() const;
  // `fn` runs on the I/O thread when $/cancelRequest names this request (at once if it
  // already has). Replaces an earlier hook.
  void on_cancel(std::function<void()> fn) const;

 private:
  friend class Endpoint;
  explicit RequestContext(std::shared_ptr<detail::InFlight> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::InFlight> state_;
};

using RequestHandler = std::function<void(const Json& params, Reply reply, const RequestContext& ctx)>;
using NotificationHandler = std::function<void(const Json& params)>;

// The answer to a request we sent: `result`, or `error` set.
struct Response {
  Json result;
  std::optional<RpcError> error;
};
using ResponseHandler = std::function<void(Response response)>;

// Decides, before dispatch, whether a message may run now: returns an error for requests that
// must be refused (e.g. ServerNotInitialized); for notifications a returned error drops them.
using Gate = std::function<std::optional<RpcError>(std::string_view method, bool is_request)>;

class Endpoint {
 public:
  // `send` writes one message body (framing is the transport's job); called on the executor.
  Endpoint(Executor& executor, std::function<void(std::string)> send);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  void on_request(const std::string& method, RequestHandler handler);
  void on_notification(const std::string& method, NotificationHandler handler);
  void set_gate(Gate gate);
  // Called for a message too large to read whose request id could not be found, or that was a
  // notification (the server may tell the user). I/O thread.
  void on_dropped_message(std::function<void(const std::string& what)> fn);

  // One message body (I/O thread).
  void receive(std::string_view body);
  // A framing error from the transport (I/O thread).
  void receive_frame_error(const FrameError& error);

  // Sends a notification / a request (any thread). `on_response` runs on the I/O thread,
  // once: with the peer's answer, or with an error when the connection closes first.
  void notify(const std::string& method, Json params);
  void call(const std::string& method, Json params, ResponseHandler on_response);

  // The connection is gone: outstanding calls fail, later replies are dropped (I/O thread).
  void close();

  // Requests received and not answered yet; requests sent and not answered yet.
  size_t n_pending_requests() const;
  size_t n_outgoing_calls() const;

 private:
  void dispatch(Json message);
  void handle_response(const Json& message);
  void handle_cancel(const Json& params);
  void send_error(const Json& id, ErrorCode code, const std::string& message);

  std::shared_ptr<detail::Core> core_;
  std::map<std::string, RequestHandler, std::less<>> requests_;
  std::map<std::string, NotificationHandler, std::less<>> notifications_;
  Gate gate_;
  std::function<void(const std::string&)> on_dropped_;
  std::atomic<int64_t> next_id_{1};
};

// JSON text of a request id (the key of in-flight maps): 7 -> "7", "a" -> "\"a\"".
std::string id_key(const Json& id);

}  // namespace moecode::jsonrpc
