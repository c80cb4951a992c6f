// One LSP session (see server.h).
#include "lsp/server/server.h"

#include <algorithm>
#include <cstdio>

#include <spdlog/spdlog.h>

#include "lsp/protocol/position.h"
#include "lsp/server/redacting_generator.h"
#include "lsp/workspace/secrets.h"

namespace moecode::server {

using jsonrpc::ErrorCode;
using jsonrpc::Reply;
using jsonrpc::RequestContext;
using protocol::Json;
using protocol::MessageType;

namespace {

// Why a pending completion was cancelled (decides the error its request gets).
enum CancelReason : int { kByClient = 0, kSuperseded = 1, kModified = 2, kStopping = 3 };

const char* kind_key(int kind) { return kind == 0 ? "inline:" : kind == 1 ? "completion:" : "command:"; }

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// FNV-1a (64 bits) of `text`, as 16 hex digits: the digest moecode.status reports for a document.
std::string text_digest(const std::string& text) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

std::string trimmed(std::string s) {
  const auto ws = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && ws(s.back())) s.pop_back();
  size_t i = 0;
  while (i < s.size() && ws(s[i])) ++i;
  return s.substr(i);
}

}  // namespace

struct LspServer::Pending {
  Kind kind = Kind::kInline;
  std::string key;
  Reply reply;
  engine::CancelToken token;
  uint64_t job = 0;
  std::atomic<int> reason{kByClient};
  workspace::DocumentSnapshot doc;
  size_t cursor = 0;
  protocol::Position position;
  double queued_at_ms = 0;

  explicit Pending(Reply r) : reply(std::move(r)) {}
};

std::shared_ptr<LspServer> LspServer::create(jsonrpc::Executor& loop, EngineHost& host,
                                             std::shared_ptr<WorkspaceIndex> index, ServerOptions options,
                                             std::function<void(std::string)> send) {
  std::shared_ptr<LspServer> s(new LspServer(loop, host, std::move(index), std::move(options), std::move(send)));
  s->register_handlers();
  return s;
}

LspServer::LspServer(jsonrpc::Executor& loop, EngineHost& host, std::shared_ptr<WorkspaceIndex> index,
                     ServerOptions options, std::function<void(std::string)> send)
    : loop_(loop),
      host_(host),
      index_(std::move(index)),
      options_(std::move(options)),
      endpoint_(std::make_shared<jsonrpc::Endpoint>(loop, std::move(send))),
      config_(options_.config),
      seen_reloads_(host.n_reloads()) {}

LspServer::~LspServer() {
  stop_indexing();
  endpoint_->close();
}

void LspServer::disconnected() {
  for (auto& [key, p] : pending_) p->reason = kStopping;
  endpoint_->close();  // cancels every request in flight through its hook
  stop_indexing();
}

void LspServer::register_handlers() {
  auto weak = weak_from_this();
  jsonrpc::Endpoint& ep = *endpoint_;
  // Each handler holds the session weakly: a reply posted after the session ended is dropped.
  auto req = [&ep, weak](const std::string& method, auto fn) {
    ep.on_request(method, [weak, fn](const Json& params, Reply reply, const RequestContext& ctx) {
      if (auto self = weak.lock()) fn(*self, params, std::move(reply), ctx);
    });
  };
  auto note = [&ep, weak](const std::string& method, auto fn) {
    ep.on_notification(method, [weak, fn](const Json& params) {
      if (auto self = weak.lock()) fn(*self, params);
    });
  };

  ep.set_gate([weak](std::string_view method, bool is_request) -> std::optional<jsonrpc::RpcError> {
    auto self = weak.lock();
    if (!self) return jsonrpc::RpcError{ErrorCode::kInternalError, "the session has ended"};
    if (method == "exit") return std::nullopt;
    if (self->state_ == State::kUninitialized && method != "initialize") {
      return jsonrpc::RpcError{ErrorCode::kServerNotInitialized,
                               "the server is not initialized: send 'initialize' first (got '" +
                                   std::string(method) + "')"};
    }
    if (self->state_ == State::kShutdown && is_request) {
      return jsonrpc::RpcError{ErrorCode::kInvalidRequest,
                               "the server is shutting down: only 'exit' is accepted (got '" + std::string(method) +
                                   "')"};
    }
    if (self->state_ == State::kShutdown) return jsonrpc::RpcError{ErrorCode::kInvalidRequest, "shutting down"};
    return std::nullopt;
  });
  ep.on_dropped_message([weak](const std::string& what) {
    if (auto self = weak.lock()) self->show_message(MessageType::kWarning, "moecode dropped a message: " + what);
  });

  req("initialize", [](LspServer& s, const Json& p, Reply r, const RequestContext&) { s.on_initialize(p, std::move(r)); });
  note("initialized", [](LspServer& s, const Json&) { s.on_initialized(); });
  req("shutdown", [](LspServer& s, const Json&, Reply r, const RequestContext&) { s.on_shutdown(std::move(r)); });
  note("exit", [](LspServer& s, const Json&) { s.on_exit(); });
  note("textDocument/didOpen", [](LspServer& s, const Json& p) { s.on_did_open(p); });
  note("textDocument/didChange", [](LspServer& s, const Json& p) { s.on_did_change(p); });
  note("textDocument/didClose", [](LspServer& s, const Json& p) { s.on_did_close(p); });
  note("textDocument/didSave", [](LspServer& s, const Json& p) { s.on_did_save(p); });
  req("textDocument/inlineCompletion", [](LspServer& s, const Json& p, Reply r, const RequestContext& c) {
    s.on_completion(Kind::kInline, p, std::move(r), c);
  });
  req("textDocument/completion", [](LspServer& s, const Json& p, Reply r, const RequestContext& c) {
    s.on_completion(Kind::kCompletion, p, std::move(r), c);
  });
  req("textDocument/codeAction", [](LspServer& s, const Json& p, Reply r, const RequestContext&) {
    s.on_code_action(p, std::move(r));
  });
  req("codeAction/resolve", [](LspServer& s, const Json& p, Reply r, const RequestContext& c) {
    s.on_code_action_resolve(p, std::move(r), c);
  });
  req("workspace/executeCommand", [](LspServer& s, const Json& p, Reply r, const RequestContext& c) {
    s.on_execute_command(p, std::move(r), c);
  });
  note("workspace/didChangeConfiguration", [](LspServer& s, const Json& p) { s.on_did_change_configuration(p); });
  note("workspace/didChangeWorkspaceFolders", [](LspServer& s, const Json& p) { s.on_did_change_workspace_folders(p); });
  note("$/setTrace", [](LspServer& s, const Json& p) {
    if (p.is_object() && p.contains("value") && p["value"].is_string()) {
      const std::string v = p["value"].get<std::string>();
      if (v == "off" || v == "messages" || v == "verbose") {
        s.trace_ = v;
        return;
      }
    }
    s.log_message(MessageType::kWarning, "$/setTrace: expected {\"value\": \"off\"|\"messages\"|\"verbose\"}");
  });
  note("window/workDoneProgress/cancel", [](LspServer& s, const Json&) { s.index_cancel_.cancel(); });
}

// ---- lifecycle ------------------------------------------------------------------------------

void LspServer::on_initialize(const Json& params, Reply reply) {
  if (state_ != State::kUninitialized) {
    reply.error(ErrorCode::kInvalidRequest, "'initialize' may be sent only once");
    return;
  }
  auto p = protocol::decode_initialize(params);
  if (!p.ok()) {
    reply.error(ErrorCode::kInvalidParams, p.error().message());
    return;
  }
  client_ = p->capabilities;
  client_name_ = p->clientName;
  trace_ = p->trace;
  // Position encoding: UTF-8 when the client offers it (no conversion), else UTF-16.
  encoding_ = protocol::PositionEncoding::kUtf16;
  for (const std::string& e : client_.positionEncodings) {
    if (e == "utf-8") encoding_ = protocol::PositionEncoding::kUtf8;
  }
  folders_ = p->workspaceFolders;
  if (folders_.empty() && p->rootUri) folders_.push_back({*p->rootUri, "root"});
  const auto errors = apply_settings(config_, p->initializationOptions);
  state_ = State::kRunning;

  Json caps{
      {"positionEncoding", protocol::encoding_name(encoding_)},
      {"textDocumentSync", {{"openClose", true}, {"change", 2}, {"save", {{"includeText", false}}}}},
      {"inlineCompletionProvider", true},
      {"completionProvider", {{"resolveProvider", false}}},
      {"codeActionProvider", {{"codeActionKinds", {"quickfix", "refactor.rewrite"}}, {"resolveProvider", true}}},
      {"executeCommandProvider",
       {{"commands", {"moecode.status", "moecode.context", "moecode.insertCompletion", "moecode.fix", "moecode.rewrite",
                      "moecode.translate"}}}},
      {"workspace", {{"workspaceFolders", {{"supported", true}, {"changeNotifications", true}}}}},
  };
  reply.result(Json{{"capabilities", std::move(caps)},
                    {"serverInfo", {{"name", "moecode"}, {"version", options_.version}}}});
  spdlog::info("lsp: initialized by {} (position encoding {})", client_name_.empty() ? "a client" : client_name_,
               protocol::encoding_name(encoding_));
  for (const auto& e : errors) show_message(MessageType::kError, "moecode initializationOptions: " + e);
}

void LspServer::on_initialized() {
  if (client_.configuration) pull_configuration();
  load_model();
  start_indexing();
}

void LspServer::on_shutdown(Reply reply) {
  state_ = State::kShutdown;
  cancel_pending("", kStopping);
  stop_indexing();
  reply.result(nullptr);
}

void LspServer::on_exit() {
  if (exited_) return;
  exited_ = true;
  cancel_pending("", kStopping);
  stop_indexing();
  spdlog::info("lsp: exit ({})", state_ == State::kShutdown ? "after shutdown" : "without shutdown");
  if (exit_handler_) exit_handler_(exit_code());
}

// ---- documents ------------------------------------------------------------------------------

void LspServer::on_did_open(const Json& params) {
  auto p = protocol::decode_did_open(params);
  if (!p.ok()) {
    log_message(MessageType::kError, "textDocument/didOpen: " + p.error().message());
    return;
  }
  auto& doc = p->textDocument;
  cancel_pending(doc.uri, kModified);
  documents_.open(doc.uri, doc.languageId, doc.version, std::move(doc.text));
  if (index_) {
    if (auto snap = documents_.get(doc.uri)) index_->document_opened(*snap);
  }
}

void LspServer::on_did_change(const Json& params) {
  auto p = protocol::decode_did_change(params);
  if (!p.ok()) {
    log_message(MessageType::kError, "textDocument/didChange: " + p.error().message());
    return;
  }
  const std::string& uri = p->textDocument.uri;
  cancel_pending(uri, kModified);
  std::vector<workspace::ContentChange> changes;
  changes.reserve(p->contentChanges.size());
  for (auto& c : p->contentChanges) changes.push_back({c.range, std::move(c.text)});
  auto edits = documents_.change(uri, p->textDocument.version, changes, encoding_);
  if (!edits.ok()) {
    // The client's text and ours may now differ: say so loudly (the user can reopen the file).
    show_message(MessageType::kError, "moecode: textDocument/didChange: " + edits.error().message());
    return;
  }
  if (index_) {
    if (auto snap = documents_.get(uri)) index_->document_changed(*snap, *edits);
  }
}

void LspServer::on_did_close(const Json& params) {
  auto p = protocol::decode_did_close(params);
  if (!p.ok()) {
    log_message(MessageType::kError, "textDocument/didClose: " + p.error().message());
    return;
  }
  cancel_pending(p->uri, kModified);
  if (auto st = documents_.close(p->uri); !st.ok()) {
    log_message(MessageType::kWarning, "textDocument/didClose: " + st.error().message());
    return;
  }
  if (index_) index_->document_closed(p->uri);
}

void LspServer::on_did_save(const Json& params) {
  auto p = protocol::decode_did_save(params);
  if (!p.ok()) {
    log_message(MessageType::kError, "textDocument/didSave: " + p.error().message());
    return;
  }
  auto snap = documents_.get(p->uri);
  if (!snap) {
    log_message(MessageType::kWarning, "textDocument/didSave for a document that is not open: " + p->uri);
    return;
  }
  if (index_) index_->document_saved(*snap);
}

// ---- completion -----------------------------------------------------------------------------

void LspServer::on_completion(Kind kind, const Json& params, Reply reply, const RequestContext& ctx) {
  auto p = protocol::decode_text_document_position(params);
  if (!p.ok()) {
    reply.error(ErrorCode::kInvalidParams, p.error().message());
    return;
  }
  start_completion(kind, *p, std::move(reply), &ctx);
}

void LspServer::start_completion(Kind kind, const protocol::TextDocumentPositionParams& pos, Reply reply,
                                 const RequestContext* ctx) {
  ++stats_.n_requests;
  auto doc = documents_.get(pos.uri);
  if (!doc) {
    reply.error(ErrorCode::kInvalidParams, "document not open: " + pos.uri);
    return;
  }
  const auto empty = [kind] {
    return kind == Kind::kInline ? protocol::encode_inline_completion_list({})
                                 : protocol::encode_completion_list({});
  };
  if (!config_.language_enabled(doc->language_id)) {
    reply.result(kind == Kind::kCommand ? Json{{"applied", false}, {"reason", "language disabled"}} : empty());
    return;
  }
  // A secret file (.env, *.pem...) never reaches a model, not even its window.
  if (is_secret_document(pos.uri)) {
    reply.result(kind == Kind::kCommand ? Json{{"applied", false}, {"reason", "secret file"}} : empty());
    return;
  }
  auto offset = protocol::to_offset(*doc->text, pos.position, encoding_);
  if (!offset.ok()) {
    reply.error(ErrorCode::kInvalidParams, "params.position: " + offset.error().message());
    return;
  }

  auto p = std::make_shared<Pending>(std::move(reply));
  p->kind = kind;
  p->key = kind_key(static_cast<int>(kind)) + pos.uri;
  p->doc = *doc;
  p->cursor = *offset;
  p->position = pos.position;
  if (ctx) p->token = ctx->cancel();

  // A newer request for the same document supersedes the older one.
  if (auto it = pending_.find(p->key); it != pending_.end()) {
    it->second->reason = kSuperseded;
    it->second->token.cancel();
    host_.scheduler().cancel(it->second->job);
  }
  pending_[p->key] = p;

  assist::CompletionRequest req;
  req.context.uri = pos.uri;
  req.context.path = protocol::uri_to_path(pos.uri).value_or("");
  req.context.language_id = doc->language_id;
  req.context.text = doc->text;
  req.context.cursor = *offset;
  req.options.max_tokens = config_.max_tokens;
  req.options.max_lines = kind == Kind::kCompletion ? std::max(1, config_.max_lines) : config_.max_lines;
  req.options.temperature = config_.temperature;
  req.options.context_budget = config_.context_budget;

  // Automatic triggers (typing) wait a little, so that a burst of keystrokes costs one run.
  const bool automatic = (kind == Kind::kInline && pos.triggerKind == 2) ||
                         (kind == Kind::kCompletion && pos.triggerKind == 3);
  const auto delay = std::chrono::milliseconds(automatic ? config_.debounce_ms : 0);
  const auto priority = kind == Kind::kInline       ? assist::Priority::kInline
                        : kind == Kind::kCompletion ? assist::Priority::kCompletion
                                                    : assist::Priority::kCommand;
  std::weak_ptr<LspServer> weak = weak_from_this();
  jsonrpc::Executor* loop = &loop_;
  EngineHost* host = &host_;
  p->job = host_.scheduler().submit(
      priority,
      [weak, loop, host, p, req = std::move(req)](const engine::CancelToken& token, bool dropped) {
        Result<assist::CompletionResult> r = make_error(moecode::ErrorCode::kCancelled, "completion cancelled");
        if (!dropped && !token.cancelled()) {
          if (assist::Completer* c = host->completer()) {
            r = c->complete(req, token);
          } else {
            r = make_error(moecode::ErrorCode::kUnavailable, host->describe());
          }
        }
        loop->post([weak, p, r = std::move(r)]() mutable {
          if (auto self = weak.lock()) self->finish_completion(p, std::move(r));
        });
      },
      p->token, delay);
  if (ctx) {
    ctx->on_cancel([host, job = p->job] { host->scheduler().cancel(job); });
  }
}

void LspServer::cancel_pending(const std::string& uri, int reason) {
  for (auto& [key, p] : pending_) {
    if (!uri.empty() && p->doc.uri != uri) continue;
    p->reason = reason;
    p->token.cancel();
    host_.scheduler().cancel(p->job);
  }
}

void LspServer::finish_completion(const std::shared_ptr<Pending>& p, Result<assist::CompletionResult> result) {
  if (auto it = pending_.find(p->key); it != pending_.end() && it->second == p) pending_.erase(it);
  sync_model_state();
  if (p->reply.done()) return;
  if (!result.ok()) {
    const Error& e = result.error();
    if (e.code() == moecode::ErrorCode::kCancelled || p->token.cancelled()) {
      switch (p->reason.load()) {
        case kModified:
          ++stats_.n_stale;
          p->reply.error(ErrorCode::kContentModified, "the document changed while completing");
          return;
        case kSuperseded:
          ++stats_.n_cancelled;
          p->reply.error(ErrorCode::kRequestCancelled, "superseded by a newer completion request");
          return;
        case kStopping:
          ++stats_.n_cancelled;
          p->reply.error(ErrorCode::kRequestCancelled, "the server is shutting down");
          return;
        default:
          ++stats_.n_cancelled;
          p->reply.error(ErrorCode::kRequestCancelled, "request cancelled");
          return;
      }
    }
    if (e.code() == moecode::ErrorCode::kUnavailable) {  // no model: the user was told once
      ++stats_.n_answered;
      assist::CompletionResult none;
      none.replace_start = none.replace_end = none.word_start = p->cursor;
      deliver(p, none);
      return;
    }
    ++stats_.n_failed;
    spdlog::error("lsp: completion failed: {}", e.message());
    status_.last_error = "completion failed: " + e.message();
    p->reply.error(ErrorCode::kRequestFailed, "completion failed: " + e.message());
    return;
  }
  // A result for a version the editor has moved past is of no use.
  const auto version = documents_.version(p->doc.uri);
  if (!version || *version != p->doc.version) {
    ++stats_.n_stale;
    p->reply.error(ErrorCode::kContentModified,
                   "the document changed (version " + std::to_string(p->doc.version) + " -> " +
                       (version ? std::to_string(*version) : std::string("closed")) + ")");
    return;
  }
  const auto& r = *result;
  ++stats_.n_answered;
  stats_.prompt_tokens += static_cast<uint64_t>(r.generation.n_prompt_tokens);
  stats_.cached_tokens += static_cast<uint64_t>(r.generation.n_cached_tokens);
  stats_.generated_tokens += static_cast<uint64_t>(r.generation.n_generated_tokens);
  stats_.last_ms = r.total_ms;
  stats_.last_format = r.format;
  trace("completion: " + std::to_string(r.generation.n_prompt_tokens) + " prompt tokens (" +
            std::to_string(r.generation.n_cached_tokens) + " cached), " +
            std::to_string(r.generation.n_generated_tokens) + " generated, " +
            std::to_string(static_cast<int>(r.total_ms)) + " ms",
        r.text);
  deliver(p, r);
}

void LspServer::deliver(const std::shared_ptr<Pending>& p, const assist::CompletionResult& r) {
  const std::string& text = *p->doc.text;
  const protocol::LineIndex lines(text);
  auto pos = [&](size_t off) { return protocol::to_position(text, lines, off, encoding_); };
  switch (p->kind) {
    case Kind::kInline: {
      std::vector<protocol::InlineCompletionItem> items;
      if (!r.text.empty()) items.push_back({r.text, {pos(r.replace_start), pos(r.replace_end)}});
      p->reply.result(protocol::encode_inline_completion_list(items));
      return;
    }
    case Kind::kCompletion: {
      std::vector<protocol::CompletionItem> items;
      if (!r.text.empty()) {
        const std::string word = text.substr(r.word_start, p->cursor - r.word_start);
        protocol::CompletionItem item;
        item.newText = word + r.text;
        item.filterText = word + first_line(r.text);
        item.label = trimmed(first_line(item.newText));
        if (item.label.empty()) item.label = trimmed(item.newText).substr(0, 80);
        if (item.label.size() > 80) item.label = item.label.substr(0, 77) + "...";
        const size_t n_lines = static_cast<size_t>(std::count(r.text.begin(), r.text.end(), '\n')) + 1;
        item.detail = n_lines > 1 ? "moecode (" + std::to_string(n_lines) + " lines)" : "moecode";
        item.documentation = item.newText;
        item.languageId = p->doc.language_id;
        item.range = {pos(r.word_start), pos(r.replace_end)};
        items.push_back(std::move(item));
      }
      p->reply.result(protocol::encode_completion_list(items));
      return;
    }
    case Kind::kCommand: {
      if (r.text.empty()) {
        p->reply.result(Json{{"applied", false}, {"reason", "no suggestion"}});
        return;
      }
      Json edit{{"range", protocol::encode(protocol::Range{pos(r.replace_start), pos(r.replace_end)})},
                {"newText", r.text}};
      Json params{{"label", "moecode completion"},
                  {"edit", {{"changes", {{p->doc.uri, Json::array({edit})}}}}}};
      // Answer the command once the client has applied (or refused) the edit.
      auto holder = std::make_shared<Reply>(std::move(p->reply));
      endpoint_->call("workspace/applyEdit", std::move(params), [holder, text = r.text](jsonrpc::Response resp) {
        if (resp.error) {
          holder->error(ErrorCode::kRequestFailed, "workspace/applyEdit failed: " + resp.error->message);
          return;
        }
        const bool applied = resp.result.is_object() && resp.result.value("applied", false);
        holder->result(Json{{"applied", applied}, {"text", text}});
      });
      return;
    }
  }
}

// ---- workspace ------------------------------------------------------------------------------

void LspServer::apply_config(const Json& settings, const char* source) {
  const ServerConfig before = config_;
  for (const auto& e : apply_settings(config_, settings)) show_message(MessageType::kError, std::string("moecode ") + source + ": " + e);
  if (config_.model != before.model || config_.backend != before.backend || config_.threads != before.threads ||
      !(config_.remote == before.remote)) {
    load_model();
  }
}

void LspServer::on_did_change_configuration(const Json& params) {
  const Json settings = params.is_object() && params.contains("settings") ? params["settings"] : Json();
  const bool has_section = settings.is_object() && !settings.empty();
  if (has_section) {
    apply_config(settings, "settings");
  } else if (client_.configuration) {
    pull_configuration();  // "settings": null means "ask me" (pull model)
  }
}

void LspServer::pull_configuration() {
  std::weak_ptr<LspServer> weak = weak_from_this();
  endpoint_->call("workspace/configuration", Json{{"items", Json::array({Json{{"section", "moecode"}}})}},
                  [weak](jsonrpc::Response r) {
                    auto self = weak.lock();
                    if (!self) return;
                    if (r.error) {
                      spdlog::warn("lsp: workspace/configuration failed: {}", r.error->message);
                      return;
                    }
                    if (r.result.is_array() && !r.result.empty() && r.result[0].is_object()) {
                      self->apply_config(r.result[0], "configuration");
                    }
                  });
}

void LspServer::on_did_change_workspace_folders(const Json& params) {
  auto ev = protocol::decode_did_change_workspace_folders(params);
  if (!ev.ok()) {
    log_message(MessageType::kError, "workspace/didChangeWorkspaceFolders: " + ev.error().message());
    return;
  }
  for (const auto& r : ev->removed) {
    folders_.erase(std::remove_if(folders_.begin(), folders_.end(),
                                  [&](const protocol::WorkspaceFolder& f) { return f.uri == r.uri; }),
                   folders_.end());
  }
  for (const auto& a : ev->added) folders_.push_back(a);
  start_indexing();
}

void LspServer::on_execute_command(const Json& params, Reply reply, const RequestContext& ctx) {
  auto p = protocol::decode_execute_command(params);
  if (!p.ok()) {
    reply.error(ErrorCode::kInvalidParams, p.error().message());
    return;
  }
  if (p->command == "moecode.status") {
    sync_model_state();
    Json docs = Json::array();
    for (const auto& uri : documents_.uris()) docs.push_back(uri);
    Json status{
        {"model", host_.describe()},
        {"modelLoaded", host_.has_model()},
        {"state", status_.model_state},
        {"backend", config_.backend},
        {"lastError", status_.last_error},
        {"indexing", status_json()["indexing"]},
        {"positionEncoding", protocol::encoding_name(encoding_)},
        {"config", config_.to_json()},
        {"documents", docs},
        {"queue", host_.scheduler().queue_size()},
        {"busy", host_.scheduler().busy()},
        {"pendingCompletions", pending_.size()},
        {"completions",
         {{"requests", stats_.n_requests},
          {"answered", stats_.n_answered},
          {"cancelled", stats_.n_cancelled},
          {"stale", stats_.n_stale},
          {"failed", stats_.n_failed},
          {"promptTokens", stats_.prompt_tokens},
          {"cachedTokens", stats_.cached_tokens},
          {"generatedTokens", stats_.generated_tokens},
          {"lastMs", stats_.last_ms},
          {"format", stats_.last_format}}},
    };
    // [{"textDocument": {"uri"}}]: the server's copy of that document, so that a client can
    // check that its text and ours agree (version, length and digest; the text stays here).
    if (!p->arguments.empty() && p->arguments[0].is_object()) {
      const Json td = p->arguments[0].value("textDocument", Json::object());
      const std::string uri = td.is_object() ? td.value("uri", std::string()) : std::string();
      auto doc = documents_.get(uri);
      if (!doc) {
        reply.error(ErrorCode::kInvalidParams, "moecode.status: document not open: " + uri);
        return;
      }
      status["document"] = Json{{"uri", uri},
                                {"version", doc->version},
                                {"length", doc->text->size()},
                                {"fnv1a64", text_digest(*doc->text)}};
    }
    reply.result(std::move(status));
    return;
  }
  // Commands whose argument is [{"textDocument": {"uri"}, "position": {...}}].
  const auto position_argument = [&]() -> Result<protocol::TextDocumentPositionParams> {
    if (p->arguments.empty()) {
      return make_error(moecode::ErrorCode::kInvalidArgument, p->command + ": expected [{textDocument, position}]");
    }
    auto pos = protocol::decode_text_document_position(p->arguments[0]);
    if (!pos.ok()) return make_error(moecode::ErrorCode::kInvalidArgument, p->command + " arguments[0]: " + pos.error().message());
    return pos;
  };
  if (p->command == "moecode.context") {
    auto pos = position_argument();
    if (!pos.ok()) {
      reply.error(ErrorCode::kInvalidParams, pos.error().message());
      return;
    }
    start_context_preview(*pos, std::move(reply), ctx);
    return;
  }
  if (p->command == "moecode.insertCompletion") {
    auto pos = position_argument();
    if (!pos.ok()) {
      reply.error(ErrorCode::kInvalidParams, pos.error().message());
      return;
    }
    if (!client_.applyEdit) {
      reply.error(ErrorCode::kRequestFailed, "the client does not support workspace/applyEdit");
      return;
    }
    start_completion(Kind::kCommand, *pos, std::move(reply), &ctx);
    return;
  }
  if (p->command == "moecode.fix" || p->command == "moecode.rewrite") {
    // moecode.fix: [action data]; moecode.rewrite: [{"textDocument": {"uri"}, "range", "instruction"}].
    if (p->arguments.empty() || !p->arguments[0].is_object()) {
      reply.error(ErrorCode::kInvalidParams, p->command + ": expected one object argument");
      return;
    }
    Json data = p->arguments[0];
    if (p->command == "moecode.rewrite") {
      const Json td = data.value("textDocument", Json::object());
      data = Json{{"uri", td.is_object() ? td.value("uri", Json()) : Json()},
                  {"kind", "rewrite"},
                  {"range", data.value("range", Json())},
                  {"instruction", data.value("instruction", std::string())}};
      if (data["instruction"].get<std::string>().empty()) {
        reply.error(ErrorCode::kInvalidParams, "moecode.rewrite: the instruction is empty");
        return;
      }
    }
    auto holder = std::make_shared<Reply>(std::move(reply));
    std::weak_ptr<LspServer> weak = weak_from_this();
    start_fix(data, ctx, [weak, holder](Result<Json> edit, std::string title) {
      auto self = weak.lock();
      if (!self || holder->done()) return;
      if (!edit.ok()) {
        holder->error(edit.error().code() == moecode::ErrorCode::kCancelled ? ErrorCode::kRequestCancelled
                                                                             : ErrorCode::kRequestFailed,
                      edit.error().message());
        return;
      }
      self->apply_edit("moecode: " + title, std::move(*edit), std::move(*holder), Json{{"title", title}});
    });
    return;
  }
  if (p->command == "moecode.translate") {
    start_translate(p->arguments.empty() ? Json() : p->arguments[0], std::move(reply), ctx);
    return;
  }
  reply.error(ErrorCode::kInvalidParams, "unknown command '" + p->command + "'");
}

void LspServer::start_context_preview(const protocol::TextDocumentPositionParams& pos, Reply reply,
                                      const RequestContext& ctx) {
  auto doc = documents_.get(pos.uri);
  if (!doc) {
    reply.error(ErrorCode::kInvalidParams, "document not open: " + pos.uri);
    return;
  }
  if (is_secret_document(pos.uri)) {
    reply.error(ErrorCode::kRequestFailed, "moecode.context: " + pos.uri + " is a secret file: nothing of it goes to a model");
    return;
  }
  auto offset = protocol::to_offset(*doc->text, pos.position, encoding_);
  if (!offset.ok()) {
    reply.error(ErrorCode::kInvalidParams, "params.position: " + offset.error().message());
    return;
  }
  assist::CompletionRequest req;
  req.context.uri = pos.uri;
  req.context.path = protocol::uri_to_path(pos.uri).value_or("");
  req.context.language_id = doc->language_id;
  req.context.text = doc->text;
  req.context.cursor = *offset;
  req.options.max_tokens = config_.max_tokens;
  req.options.context_budget = config_.context_budget;
  auto holder = std::make_shared<Reply>(std::move(reply));
  std::weak_ptr<LspServer> weak = weak_from_this();
  jsonrpc::Executor* loop = &loop_;
  EngineHost* host = &host_;
  const uint64_t job = host_.scheduler().submit(
      assist::Priority::kCommand,
      [weak, loop, host, holder, req = std::move(req)](const engine::CancelToken& token, bool dropped) {
        Result<assist::ContextPreview> r = make_error(moecode::ErrorCode::kCancelled, "cancelled");
        if (!dropped && !token.cancelled()) r = host->preview_context(req, token);
        loop->post([weak, holder, uri = req.context.uri, r = std::move(r)]() mutable {
          auto self = weak.lock();
          if (!self || holder->done()) return;
          self->sync_model_state();
          if (!r.ok()) {
            const bool cancelled = r.error().code() == moecode::ErrorCode::kCancelled;
            holder->error(cancelled ? ErrorCode::kRequestCancelled : ErrorCode::kRequestFailed,
                          "moecode.context: " + r.error().message());
            return;
          }
          // What the model would get: secrets redacted as RedactingGenerator does on the way.
          const auto clean = [](const std::string& s) { return workspace::redact(s, workspace::find_secrets(s)); };
          holder->result(Json{{"uri", uri},
                              {"format", r->format},
                              {"tokens", r->n_tokens},
                              {"budget", r->budget},
                              {"approximate", r->approximate},
                              {"snippets", r->context.snippets.size()},
                              {"text", clean(assist::describe_preview(*r))},
                              {"prompt", clean(r->prompt.render())}});
        });
      },
      ctx.cancel());
  ctx.on_cancel([host, job] { host->scheduler().cancel(job); });
}

void LspServer::load_model() {
  ModelSpec spec;
  spec.path = !options_.cli_model.empty() ? options_.cli_model
              : !config_.model.empty()    ? config_.model
                                          : options_.default_model;
  spec.backend = config_.backend;
  spec.threads = config_.threads;
  spec.remote = config_.remote;
  const uint64_t load = ++n_model_loads_;
  status_.model_state = "loading";
  status_.model_message = spec.remote.enabled() ? "remote " + spec.remote.preset : spec.path;
  publish_status();
  std::weak_ptr<LspServer> weak = weak_from_this();
  jsonrpc::Executor* loop = &loop_;
  host_.ensure_model(spec, [weak, loop, load, no_path = !spec.has_model(),
                            remote = spec.remote.enabled()](const Status& st) {
    const std::string msg = st.ok() ? std::string() : st.error().message();
    loop->post([weak, msg, load, no_path, remote, ok = st.ok()] {
      auto self = weak.lock();
      if (!self) return;
      if (load == self->n_model_loads_) {
        self->status_.model_state = ok ? "ready" : no_path ? "noModel" : "error";
        self->status_.model_message = ok ? std::string() : msg;
        self->publish_status();
      }
      if (ok || self->shown_model_error_ == msg) return;
      self->shown_model_error_ = msg;
      self->show_message(MessageType::kError,
                         "moecode: completions are off: " + msg +
                             (remote ? std::string(" (check moecode.remote: docs/remote.md)")
                                     : std::string(" (set moecode.model, pass -m FILE.gguf, or run scripts/setup for "
                                                   "the default model)")));
    });
  });
}

void LspServer::sync_model_state() {
  const uint64_t n = host_.n_reloads();
  if (n == seen_reloads_ || status_.model_state == "loading") return;  // a load of ours reports itself
  seen_reloads_ = n;
  const bool ok = host_.has_model();
  const std::string msg = ok ? std::string() : host_.describe();
  status_.model_state = ok ? "ready" : "error";
  status_.model_message = msg;
  publish_status();
  if (ok) {
    shown_model_error_.clear();
    log_message(MessageType::kInfo, "moecode: model reloaded: " + host_.describe());
  } else if (shown_model_error_ != msg) {
    shown_model_error_ = msg;
    show_message(MessageType::kError, "moecode: completions are off: " + msg);
  }
}

Json LspServer::status_json() const {
  Json indexing{{"active", status_.indexing}, {"message", status_.index_message}};
  if (status_.index_percentage >= 0) indexing["percentage"] = status_.index_percentage;
  return Json{{"state", status_.model_state},
              {"model", status_.model_state == "ready" ? host_.describe() : status_.model_message},
              {"backend", config_.remote.enabled() ? "remote " + config_.remote.preset : config_.backend},
              {"message", status_.model_state == "ready" ? std::string() : status_.model_message},
              {"indexing", std::move(indexing)},
              {"lastError", status_.last_error}};
}

void LspServer::publish_status() {
  if (state_ != State::kRunning) return;
  endpoint_->notify("moecode/status", status_json());
}

void LspServer::start_indexing() {
  stop_indexing();
  std::vector<std::string> paths;
  for (const auto& f : folders_) {
    if (auto path = protocol::uri_to_path(f.uri)) paths.push_back(*path);
  }
  if (!index_ || paths.empty()) {
    status_.indexing = false;
    return;
  }
  // Active from now on, not from when the thread first reports: a status asked for right after
  // `initialized` must not read "idle" before indexing has even begun.
  status_.indexing = true;
  status_.index_message = "starting";
  status_.index_percentage = -1;
  index_cancel_ = engine::CancelToken();
  std::weak_ptr<LspServer> self_weak = weak_from_this();
  jsonrpc::Executor* loop = &loop_;
  auto run = [ep = endpoint_, index = index_, paths, cancel = index_cancel_, self_weak, loop](std::string token) {
    auto progress = [&](const Json& value) {
      if (!token.empty()) ep->notify("$/progress", Json{{"token", token}, {"value", value}});
      // The same news, for the editor's status item (on the I/O thread).
      loop->post([self_weak, value] {
        auto self = self_weak.lock();
        if (!self) return;
        const std::string kind = value.value("kind", "");
        self->status_.indexing = kind != "end";
        self->status_.index_message = value.value("message", "");
        self->status_.index_percentage = kind == "end" ? 100 : value.value("percentage", -1);
        self->publish_status();
      });
    };
    progress(Json{{"kind", "begin"}, {"title", "moecode: indexing"}, {"cancellable", true}, {"message", "starting"}});
    const std::string summary = index->index_folders(
        paths,
        [&](const IndexProgress& p) {
          Json v{{"kind", "report"}, {"message", p.message}};
          if (p.percentage >= 0) v["percentage"] = p.percentage;
          progress(v);
        },
        cancel);
    progress(Json{{"kind", "end"}, {"message", summary}});
    spdlog::info("lsp: {}", summary);
  };
  if (!client_.workDoneProgress) {
    index_thread_ = std::thread(run, std::string());
    return;
  }
  const std::string token = "moecode/index/" + std::to_string(++n_progress_tokens_);
  std::weak_ptr<LspServer> weak = weak_from_this();
  endpoint_->call("window/workDoneProgress/create", Json{{"token", token}},
                  [weak, run, token, cancel = index_cancel_](jsonrpc::Response r) {
                    auto self = weak.lock();
                    if (!self || cancel.cancelled() || self->index_thread_.joinable()) return;
                    self->index_thread_ = std::thread(run, r.error ? std::string() : token);
                  });
}

void LspServer::stop_indexing() {
  index_cancel_.cancel();
  if (index_thread_.joinable()) index_thread_.join();
}

// ---- messages -------------------------------------------------------------------------------

void LspServer::log_message(MessageType type, const std::string& message) {
  if (type == MessageType::kError) {
    spdlog::error("lsp: {}", message);
  } else {
    spdlog::warn("lsp: {}", message);
  }
  endpoint_->notify("window/logMessage", protocol::encode_message(type, message));
}

void LspServer::notify_user(MessageType type, const std::string& message) {
  if (state_ != State::kRunning) return;
  show_message(type, message);
  status_.last_error = message;
  publish_status();
}

void LspServer::show_message(MessageType type, const std::string& message) {
  if (type == MessageType::kError) {
    status_.last_error = message;
    spdlog::error("lsp: {}", message);
  } else {
    spdlog::warn("lsp: {}", message);
  }
  endpoint_->notify("window/showMessage", protocol::encode_message(type, message));
}

void LspServer::trace(const std::string& message, const std::string& verbose) {
  if (trace_ == "off") return;
  Json p{{"message", message}};
  if (trace_ == "verbose" && !verbose.empty()) p["verbose"] = verbose;
  endpoint_->notify("$/logTrace", p);
}

}  // namespace moecode::server
