// JSON-RPC 2.0 endpoint (see endpoint.h).
#include "lsp/jsonrpc/endpoint.h"

#include <exception>
#include <utility>
#include <vector>

#include <spdlog/spdlog.h>

namespace moecode::jsonrpc {

namespace detail {

struct InFlight {
  std::mutex mu;
  CancelToken token;
  std::function<void()> on_cancel;
  bool cancelled = false;
};

struct Core : std::enable_shared_from_this<Core> {
  Executor* executor = nullptr;
  std::function<void(std::string)> send;  // I/O thread only

  mutable std::mutex mu;
  bool alive = true;
  std::map<std::string, std::shared_ptr<InFlight>> in_flight;  // requests received, unanswered
  std::map<std::string, ResponseHandler> outgoing;             // requests sent, unanswered

  // Queues `body` for the wire (any thread).
  void post_send(std::string body) {
    {
      std::lock_guard lock(mu);
      if (!alive) return;
    }
    executor->post([self = shared_from_this(), body = std::move(body)]() mutable {
      bool alive_now;
      {
        std::lock_guard lock(self->mu);
        alive_now = self->alive;
      }
      if (alive_now) self->send(std::move(body));
    });
  }
};

}  // namespace detail

namespace {

// Serialises without throwing: invalid UTF-8 (from a document's bytes) becomes U+FFFD.
std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

Json error_object(ErrorCode code, const std::string& message) {
  return Json{{"code", static_cast<int>(code)}, {"message", message}};
}

// Deepest nesting of arrays/objects in a JSON text (strings skipped), counted up to `limit`+1.
size_t nesting_depth(std::string_view s, size_t limit) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > limit) return max_depth;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

bool valid_id(const Json& id) { return id.is_string() || id.is_number_integer(); }

constexpr size_t kMaxNesting = 256;

}  // namespace

std::string id_key(const Json& id) { return dump(id); }

// ---- Reply -------------------------------------------------------------------------------

Reply::Reply(std::shared_ptr<detail::Core> core, Json id, std::string id_key, std::string method)
    : core_(std::move(core)), id_(std::move(id)), id_key_(std::move(id_key)), method_(std::move(method)) {}

Reply::Reply(Reply&& other) noexcept
    : core_(std::move(other.core_)),
      id_(std::move(other.id_)),
      id_key_(std::move(other.id_key_)),
      method_(std::move(other.method_)),
      done_(other.done_) {
  other.core_.reset();
  other.done_ = true;
}

Reply& Reply::operator=(Reply&& other) noexcept {
  if (this != &other) {
    if (core_ && !done_) error(ErrorCode::kInternalError, "request '" + method_ + "' was replaced unanswered");
    core_ = std::move(other.core_);
    id_ = std::move(other.id_);
    id_key_ = std::move(other.id_key_);
    method_ = std::move(other.method_);
    done_ = other.done_;
    other.core_.reset();
    other.done_ = true;
  }
  return *this;
}

Reply::~Reply() {
  if (core_ && !done_) {
    bool alive;
    {
      std::lock_guard lock(core_->mu);
      alive = core_->alive;
    }
    if (!alive) return;  // the connection is gone: nobody to answer
    spdlog::error("jsonrpc: request {} '{}' was dropped without an answer", id_key_, method_);
    error(ErrorCode::kInternalError, "the server dropped request '" + method_ + "' without an answer");
  }
}

void Reply::send(Json message) {
  if (!core_) return;
  if (done_) {
    spdlog::warn("jsonrpc: second answer to request {} '{}' ignored", id_key_, method_);
    return;
  }
  done_ = true;
  {
    std::lock_guard lock(core_->mu);
    core_->in_flight.erase(id_key_);
  }
  core_->post_send(dump(message));
}

void Reply::result(Json value) {
  send(Json{{"jsonrpc", "2.0"}, {"id", id_}, {"result", std::move(value)}});
}

void Reply::error(ErrorCode code, std::string message) {
  spdlog::debug("jsonrpc: request {} '{}' fails: {} {}", id_key_, method_, error_code_name(code), message);
  send(Json{{"jsonrpc", "2.0"}, {"id", id_}, {"error", error_object(code, message)}});
}

// ---- RequestContext ------------------------------------------------------------------------

const CancelToken& RequestContext::cancel() const { return state_->token; }

void RequestContext::on_cancel(std::function<void()> fn) const {
  bool run_now;
  {
    std::lock_guard lock(state_->mu);
    run_now = state_->cancelled;
    if (!run_now) state_->on_cancel = fn;
  }
  if (run_now && fn) fn();
}

// ---- Endpoint ------------------------------------------------------------------------------

Endpoint::Endpoint(Executor& executor, std::function<void(std::string)> send)
    : core_(std::make_shared<detail::Core>()) {
  core_->executor = &executor;
  core_->send = std::move(send);
}

Endpoint::~Endpoint() { close(); }

void Endpoint::on_request(const std::string& method, RequestHandler handler) {
  requests_[method] = std::move(handler);
}

void Endpoint::on_notification(const std::string& method, NotificationHandler handler) {
  notifications_[method] = std::move(handler);
}

void Endpoint::set_gate(Gate gate) { gate_ = std::move(gate); }

void Endpoint::on_dropped_message(std::function<void(const std::string&)> fn) { on_dropped_ = std::move(fn); }

void Endpoint::send_error(const Json& id, ErrorCode code, const std::string& message) {
  spdlog::warn("jsonrpc: {}: {}", error_code_name(code), message);
  core_->post_send(dump(Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", error_object(code, message)}}));
}

void Endpoint::receive_frame_error(const FrameError& error) {
  if (error.kind == FrameError::Kind::kTooLarge && !error.id_hint.empty()) {
    Json id = Json::parse(error.id_hint, nullptr, false);
    if (valid_id(id)) {
      {
        std::lock_guard lock(core_->mu);
        core_->in_flight.erase(id_key(id));
      }
      send_error(id, ErrorCode::kInvalidRequest, error.message);
      return;
    }
  }
  spdlog::error("jsonrpc: {}: {}", frame_error_kind_name(error.kind), error.message);
  if (error.kind == FrameError::Kind::kTooLarge && on_dropped_) on_dropped_(error.message);
}

void Endpoint::receive(std::string_view body) {
  if (nesting_depth(body, kMaxNesting) > kMaxNesting) {
    send_error(nullptr, ErrorCode::kParseError,
               "message nests deeper than " + std::to_string(kMaxNesting) + " levels");
    return;
  }
  Json message;
  try {
    message = Json::parse(body);
  } catch (const Json::exception& e) {
    send_error(nullptr, ErrorCode::kParseError, std::string("invalid JSON: ") + e.what());
    return;
  }
  dispatch(std::move(message));
}

void Endpoint::dispatch(Json message) {
  if (message.is_array()) {
    send_error(nullptr, ErrorCode::kInvalidRequest, "batch messages are not supported by the LSP");
    return;
  }
  if (!message.is_object()) {
    send_error(nullptr, ErrorCode::kInvalidRequest, "a message must be a JSON object");
    return;
  }
  const auto id_it = message.find("id");
  const bool has_id = id_it != message.end();
  const Json id = has_id && valid_id(*id_it) ? *id_it : Json(nullptr);
  const auto version = message.find("jsonrpc");
  if (version == message.end() || *version != "2.0") {
    send_error(id, ErrorCode::kInvalidRequest, "\"jsonrpc\" must be \"2.0\"");
    return;
  }
  const auto method_it = message.find("method");
  if (method_it == message.end()) {
    if (has_id && (message.contains("result") || message.contains("error"))) {
      handle_response(message);
    } else {
      send_error(id, ErrorCode::kInvalidRequest, "a message needs \"method\", or \"id\" with \"result\"/\"error\"");
    }
    return;
  }
  if (!method_it->is_string()) {
    send_error(id, ErrorCode::kInvalidRequest, "\"method\" must be a string");
    return;
  }
  const std::string method = method_it->get<std::string>();
  if (has_id && !valid_id(*id_it)) {
    send_error(nullptr, ErrorCode::kInvalidRequest,
               "request '" + method + "': \"id\" must be an integer or a string");
    return;
  }
  Json params = Json(nullptr);
  if (auto p = message.find("params"); p != message.end()) {
    // null is not a structured value, but some clients send it for "no params": allow it.
    if (!p->is_null() && !p->is_object() && !p->is_array()) {
      if (has_id) {
        send_error(id, ErrorCode::kInvalidParams, "'" + method + "': \"params\" must be an object or an array");
      } else {
        spdlog::warn("jsonrpc: notification '{}' dropped: \"params\" must be an object or an array", method);
      }
      return;
    }
    params = std::move(*p);
  }

  if (!has_id) {  // notification
    if (method == "$/cancelRequest") {
      handle_cancel(params);
      return;
    }
    if (gate_) {
      if (auto refused = gate_(method, false)) {
        spdlog::debug("jsonrpc: notification '{}' dropped: {}", method, refused->message);
        return;
      }
    }
    auto it = notifications_.find(method);
    if (it == notifications_.end()) {
      if (method.rfind("$/", 0) != 0) spdlog::info("jsonrpc: no handler for notification '{}'", method);
      return;
    }
    try {
      it->second(params);
    } catch (const std::exception& e) {
      spdlog::error("jsonrpc: notification '{}' failed: {}", method, e.what());
    }
    return;
  }

  const std::string key = id_key(id);
  auto state = std::make_shared<detail::InFlight>();
  bool duplicate;
  {
    std::lock_guard lock(core_->mu);
    duplicate = !core_->in_flight.emplace(key, state).second;
  }
  if (duplicate) {  // answer it without disturbing the request in flight
    send_error(id, ErrorCode::kInvalidRequest, "request id " + key + " is already in use");
    return;
  }
  Reply reply(core_, id, key, method);
  if (gate_) {
    if (auto refused = gate_(method, true)) {
      reply.error(*refused);
      return;
    }
  }
  auto it = requests_.find(method);
  if (it == requests_.end()) {
    reply.error(ErrorCode::kMethodNotFound, "method '" + method + "' is not supported");
    return;
  }
  spdlog::debug("jsonrpc: <-- request {} '{}'", key, method);
  try {
    it->second(params, std::move(reply), RequestContext(state));
  } catch (const std::exception& e) {
    // The handler's Reply was destroyed during unwinding and answered InternalError.
    spdlog::error("jsonrpc: request {} '{}' failed: {}", key, method, e.what());
  }
}

void Endpoint::handle_response(const Json& message) {
  const std::string key = id_key(message["id"]);
  ResponseHandler handler;
  {
    std::lock_guard lock(core_->mu);
    auto it = core_->outgoing.find(key);
    if (it == core_->outgoing.end()) {
      spdlog::warn("jsonrpc: response to unknown request id {} dropped", key);
      return;
    }
    handler = std::move(it->second);
    core_->outgoing.erase(it);
  }
  Response response;
  if (auto e = message.find("error"); e != message.end() && !e->is_null()) {
    RpcError err;
    if (e->is_object()) {
      if (auto c = e->find("code"); c != e->end() && c->is_number_integer()) {
        err.code = static_cast<ErrorCode>(c->get<int>());
      }
      if (auto m = e->find("message"); m != e->end() && m->is_string()) err.message = m->get<std::string>();
    }
    response.error = std::move(err);
  } else if (auto r = message.find("result"); r != message.end()) {
    response.result = *r;
  }
  try {
    handler(std::move(response));
  } catch (const std::exception& ex) {
    spdlog::error("jsonrpc: response handler for {} failed: {}", key, ex.what());
  }
}

void Endpoint::handle_cancel(const Json& params) {
  if (!params.is_object() || !params.contains("id") || !valid_id(params["id"])) {
    spdlog::warn("jsonrpc: $/cancelRequest without a valid id ignored");
    return;
  }
  std::shared_ptr<detail::InFlight> state;
  {
    std::lock_guard lock(core_->mu);
    auto it = core_->in_flight.find(id_key(params["id"]));
    if (it == core_->in_flight.end()) return;  // already answered: nothing to do
    state = it->second;
  }
  std::function<void()> hook;
  {
    std::lock_guard lock(state->mu);
    if (state->cancelled) return;
    state->cancelled = true;
    state->token.cancel();
    hook = std::move(state->on_cancel);
  }
  spdlog::debug("jsonrpc: request {} cancelled by the client", id_key(params["id"]));
  if (hook) hook();
}

void Endpoint::notify(const std::string& method, Json params) {
  Json message{{"jsonrpc", "2.0"}, {"method", method}};
  if (!params.is_null()) message["params"] = std::move(params);
  core_->post_send(dump(message));
}

void Endpoint::call(const std::string& method, Json params, ResponseHandler on_response) {
  const int64_t id = next_id_.fetch_add(1);
  Json message{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
  if (!params.is_null()) message["params"] = std::move(params);
  {
    std::lock_guard lock(core_->mu);
    if (!core_->alive) return;
    core_->outgoing.emplace(std::to_string(id), std::move(on_response));
  }
  core_->post_send(dump(message));
}

void Endpoint::close() {
  std::map<std::string, ResponseHandler> outgoing;
  std::map<std::string, std::shared_ptr<detail::InFlight>> in_flight;
  {
    std::lock_guard lock(core_->mu);
    if (!core_->alive) return;
    core_->alive = false;
    outgoing.swap(core_->outgoing);
    in_flight.swap(core_->in_flight);
  }
  for (auto& [key, state] : in_flight) {  // nobody is listening any more: stop the work
    std::function<void()> hook;
    {
      std::lock_guard lock(state->mu);
      state->cancelled = true;
      state->token.cancel();
      hook = std::move(state->on_cancel);
    }
    if (hook) hook();
  }
  for (auto& [key, handler] : outgoing) {
    Response r;
    r.error = RpcError{ErrorCode::kRequestCancelled, "the connection closed"};
    try {
      handler(std::move(r));
    } catch (const std::exception& e) {
      spdlog::error("jsonrpc: response handler for {} failed: {}", key, e.what());
    }
  }
}

size_t Endpoint::n_pending_requests() const {
  std::lock_guard lock(core_->mu);
  return core_->in_flight.size();
}

size_t Endpoint::n_outgoing_calls() const {
  std::lock_guard lock(core_->mu);
  return core_->outgoing.size();
}

}  // namespace moecode::jsonrpc
