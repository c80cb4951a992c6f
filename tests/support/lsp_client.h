// Test helper: an in-process LSP client wired to a real LspServer (real event loop on its own
// thread, real engine host and scheduler) with a ScriptedGenerator standing in for the model.
// Messages go through the server's JSON-RPC endpoint exactly as framed bytes would (minus the
// framing). Server->client requests are answered by handlers the test sets (default: null).
// Thread-safe; the test thread calls it, the loop thread delivers.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsp/assist/scripted_generator.h"
#include "lsp/jsonrpc/transport.h"
#include "lsp/server/engine_host.h"
#include "lsp/server/server.h"

namespace moecode::testing {

using Json = nlohmann::json;

class InProcessClient {
 public:
  explicit InProcessClient(assist::Script script = {}, server::ServerOptions options = {},
                           std::shared_ptr<server::WorkspaceIndex> index = std::make_shared<server::FileListIndex>())
      : host_([](const server::ModelSpec& spec) -> Result<std::unique_ptr<assist::Generator>> {
          return make_error(ErrorCode::kNotFound, "model file '" + spec.path + "' not found (test factory)");
        }),
        index_(std::move(index)) {
    auto gen = std::make_unique<assist::ScriptedGenerator>(std::move(script));
    generator_ = gen.get();
    if (options.cli_model.empty()) options.cli_model = "scripted";
    host_.set_generator(std::move(gen), server::ModelSpec{options.cli_model, options.config.backend,
                                                          options.config.threads});
    start(std::move(options));
  }

  // With any generator (a LocalGenerator over a real model, say); generator() is then unusable.
  explicit InProcessClient(std::unique_ptr<assist::Generator> generator, server::ServerOptions options = {})
      : host_([](const server::ModelSpec& spec) -> Result<std::unique_ptr<assist::Generator>> {
          return make_error(ErrorCode::kNotFound, "model file '" + spec.path + "' not found (test factory)");
        }),
        index_(std::make_shared<server::FileListIndex>()) {
    if (options.cli_model.empty()) options.cli_model = "test-generator";
    host_.set_generator(std::move(generator), server::ModelSpec{options.cli_model, options.config.backend,
                                                                options.config.threads});
    start(std::move(options));
  }

  ~InProcessClient() {
    on_loop([this] {
      server_->disconnected();
      server_.reset();
      return 0;
    });
    loop_.stop();
    thread_.join();
  }

  // ---- sending ----
  int64_t send_request(const std::string& method, Json params) {
    const int64_t id = next_id_++;
    send(Json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    return id;
  }
  void notify(const std::string& method, Json params) {
    send(Json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }
  void send(const Json& message) { send_raw(message.dump()); }
  void send_raw(std::string body) {
    loop_.post([this, body = std::move(body)] {
      if (server_) server_->endpoint().receive(body);
    });
  }
  void cancel(int64_t id) { notify("$/cancelRequest", Json{{"id", id}}); }

  // ---- receiving ----
  // The response message for request `id` (with "result" or "error"); null on timeout.
  Json wait_response(int64_t id, int timeout_ms = 10000) {
    std::unique_lock lock(mu_);
    const std::string key = std::to_string(id);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return responses_.count(key) > 0; });
    auto it = responses_.find(key);
    if (it == responses_.end()) return Json();
    Json r = it->second;
    responses_.erase(it);
    return r;
  }
  Json request(const std::string& method, Json params, int timeout_ms = 10000) {
    return wait_response(send_request(method, std::move(params)), timeout_ms);
  }
  // Responses whose id is null (answers to unparseable messages).
  std::vector<Json> null_id_responses() {
    std::lock_guard lock(mu_);
    return null_responses_;
  }
  Json wait_null_id_response(size_t n, int timeout_ms = 5000) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return null_responses_.size() >= n; });
    return null_responses_.size() >= n ? null_responses_[n - 1] : Json();
  }
  // Notifications the server sent with `method`, waiting for at least `n` of them.
  std::vector<Json> wait_notifications(const std::string& method, size_t n, int timeout_ms = 5000) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return count_locked(method) >= n; });
    std::vector<Json> out;
    for (const auto& m : notifications_) {
      if (m["method"] == method) out.push_back(m["params"]);
    }
    return out;
  }
  std::vector<Json> notifications(const std::string& method) { return wait_notifications(method, 0, 0); }
  // Requests the server sent with `method` (params), waiting for at least `n`.
  std::vector<Json> wait_server_requests(const std::string& method, size_t n, int timeout_ms = 5000) {
    std::unique_lock lock(mu_);
    auto count = [&] {
      size_t c = 0;
      for (const auto& m : server_requests_) c += m["method"] == method;
      return c;
    };
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return count() >= n; });
    std::vector<Json> out;
    for (const auto& m : server_requests_) {
      if (m["method"] == method) out.push_back(m["params"]);
    }
    return out;
  }
  // How the client answers server->client requests of `method` (result JSON).
  void on_server_request(const std::string& method, std::function<Json(const Json& params)> fn) {
    std::lock_guard lock(mu_);
    handlers_[method] = std::move(fn);
  }
  std::optional<int> wait_exit(int timeout_ms = 5000) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return exit_code_.has_value(); });
    return exit_code_;
  }

  // ---- conveniences ----
  Json initialize(Json capabilities = Json::object(), Json options = nullptr, Json folders = nullptr) {
    Json params{{"processId", nullptr}, {"rootUri", nullptr}, {"capabilities", std::move(capabilities)}};
    if (!options.is_null()) params["initializationOptions"] = std::move(options);
    if (!folders.is_null()) params["workspaceFolders"] = std::move(folders);
    Json r = request("initialize", std::move(params));
    notify("initialized", Json::object());
    return r;
  }
  void open(const std::string& uri, const std::string& text, const std::string& language = "python",
            int64_t version = 1) {
    notify("textDocument/didOpen",
           Json{{"textDocument", {{"uri", uri}, {"languageId", language}, {"version", version}, {"text", text}}}});
  }
  static Json position_params(const std::string& uri, uint32_t line, uint32_t character) {
    return Json{{"textDocument", {{"uri", uri}}}, {"position", {{"line", line}, {"character", character}}}};
  }

  // Runs `fn` on the loop thread (where the server's state lives) and returns its result.
  template <typename F>
  auto on_loop(F fn) -> decltype(fn()) {
    std::promise<decltype(fn())> promise;
    auto future = promise.get_future();
    loop_.post([&] { promise.set_value(fn()); });
    return future.get();
  }
  // Runs `fn` on the loop thread, later.
  void post(std::function<void()> fn) { loop_.post(std::move(fn)); }
  // Waits until everything posted to the loop so far has run.
  void sync() {
    on_loop([] { return 0; });
  }

  server::LspServer& server() { return *server_; }
  server::EngineHost& host() { return host_; }
  assist::ScriptedGenerator& generator() {
    if (generator_ == nullptr) throw std::logic_error("InProcessClient: not a scripted generator");
    return *generator_;
  }
  server::WorkspaceIndex& index() { return *index_; }

 private:
  void start(server::ServerOptions options) {
    server_ = server::LspServer::create(loop_, host_, index_, std::move(options),
                                        [this](std::string body) { on_server_message(body); });
    server_->set_exit_handler([this](int code) {
      std::lock_guard lock(mu_);
      exit_code_ = code;
      cv_.notify_all();
    });
    thread_ = std::thread([this] { loop_.run(); });
  }

  size_t count_locked(const std::string& method) const {
    size_t c = 0;
    for (const auto& m : notifications_) c += m["method"] == method;
    return c;
  }

  // Loop thread.
  void on_server_message(const std::string& body) {
    Json m = Json::parse(body, nullptr, false);
    std::unique_lock lock(mu_);
    if (m.contains("method") && m.contains("id")) {
      server_requests_.push_back(m);
      auto it = handlers_.find(m["method"].get<std::string>());
      Json result = it != handlers_.end() ? it->second(m.value("params", Json())) : Json();
      Json answer{{"jsonrpc", "2.0"}, {"id", m["id"]}, {"result", result}};
      lock.unlock();
      send(answer);
      lock.lock();
    } else if (m.contains("method")) {
      notifications_.push_back(m);
    } else if (m.contains("id") && m["id"].is_null()) {
      null_responses_.push_back(m);
    } else if (m.contains("id")) {
      responses_[m["id"].dump()] = m;
    }
    cv_.notify_all();
  }

  jsonrpc::Loop loop_;
  server::EngineHost host_;
  std::shared_ptr<server::WorkspaceIndex> index_;
  assist::ScriptedGenerator* generator_ = nullptr;
  std::shared_ptr<server::LspServer> server_;
  std::thread thread_;
  std::atomic<int64_t> next_id_{1};

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Json> responses_;
  std::vector<Json> null_responses_;
  std::vector<Json> notifications_;
  std::vector<Json> server_requests_;
  std::map<std::string, std::function<Json(const Json&)>> handlers_;
  std::optional<int> exit_code_;
};

}  // namespace moecode::testing
