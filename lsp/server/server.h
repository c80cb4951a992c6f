// LspServer: one LSP session (one client). Lifecycle (initialize with capability and position
// encoding negotiation, initialized, shutdown, exit), document sync into the document store
// and the workspace index, inline completion (LSP 3.18) and completion through the engine
// host's scheduler, configuration (initializationOptions, workspace/configuration,
// didChangeConfiguration), $/setTrace, work-done progress for indexing, executeCommand.
//
// Threading: every handler runs on the I/O thread and only queues work; completions run on the
// engine host's worker and post their answer back to the I/O thread, where a result for a
// document version that is no longer current is turned into ContentModified. A newer
// completion request for a document cancels the older one, and so does an edit. Indexing runs
// on a thread of the session's own. Create with create(); destroy on the I/O thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "lsp/jsonrpc/endpoint.h"
#include "lsp/protocol/types.h"
#include "lsp/server/config.h"
#include "lsp/server/engine_host.h"
#include "lsp/server/workspace_index.h"
#include "lsp/workspace/document.h"

namespace moecode::server {

struct ServerOptions {
  ServerConfig config;        // defaults, before the client's settings
  std::string cli_model;      // -m on the command line: wins over the client's "model"
  std::string default_model;  // when neither names a model ("" = none)
  std::string version = "0.1.0";
};

// What the status command reports about completions.
struct CompletionStats {
  uint64_t n_requests = 0;
  uint64_t n_answered = 0;   // answered with a result (possibly empty)
  uint64_t n_cancelled = 0;  // RequestCancelled
  uint64_t n_stale = 0;      // ContentModified
  uint64_t n_failed = 0;
  uint64_t prompt_tokens = 0;
  uint64_t cached_tokens = 0;
  uint64_t generated_tokens = 0;
  double last_ms = 0;
  std::string last_format;
};

class LspServer : public std::enable_shared_from_this<LspServer> {
 public:
  // `send` writes one message body; it is called on the I/O thread.
  static std::shared_ptr<LspServer> create(jsonrpc::Executor& loop, EngineHost& host,
                                           std::shared_ptr<WorkspaceIndex> index, ServerOptions options,
                                           std::function<void(std::string)> send);
  ~LspServer();

  jsonrpc::Endpoint& endpoint() { return *endpoint_; }
  // Called once, on the I/O thread, when `exit` arrives, with the process exit code.
  void set_exit_handler(std::function<void(int code)> fn) { exit_handler_ = std::move(fn); }
  // The connection closed: cancels this session's work (I/O thread).
  void disconnected();
  // 0 once shutdown was requested, else 1 (the spec's exit codes).
  int exit_code() const { return state_ == State::kShutdown ? 0 : 1; }

  // ---- observers (I/O thread) ----
  const workspace::DocumentStore& documents() const { return documents_; }
  protocol::PositionEncoding encoding() const { return encoding_; }
  const ServerConfig& config() const { return config_; }
  // Shows `message` to the user (window/showMessage) and in moecode/status; loop thread.
  void notify_user(protocol::MessageType type, const std::string& message);
  size_t n_pending_completions() const { return pending_.size(); }
  const CompletionStats& stats() const { return stats_; }

 private:
  enum class State { kUninitialized, kRunning, kShutdown };
  enum class Kind { kInline, kCompletion, kCommand };
  struct Pending;

  LspServer(jsonrpc::Executor& loop, EngineHost& host, std::shared_ptr<WorkspaceIndex> index,
            ServerOptions options, std::function<void(std::string)> send);
  void register_handlers();

  // lifecycle
  void on_initialize(const protocol::Json& params, jsonrpc::Reply reply);
  void on_initialized();
  void on_shutdown(jsonrpc::Reply reply);
  void on_exit();
  // documents
  void on_did_open(const protocol::Json& params);
  void on_did_change(const protocol::Json& params);
  void on_did_close(const protocol::Json& params);
  void on_did_save(const protocol::Json& params);
  // completion
  void on_completion(Kind kind, const protocol::Json& params, jsonrpc::Reply reply,
                     const jsonrpc::RequestContext& ctx);
  void start_completion(Kind kind, const protocol::TextDocumentPositionParams& pos, jsonrpc::Reply reply,
                        const jsonrpc::RequestContext* ctx);
  void finish_completion(const std::shared_ptr<Pending>& p, Result<assist::CompletionResult> result);
  void deliver(const std::shared_ptr<Pending>& p, const assist::CompletionResult& result);
  void cancel_pending(const std::string& uri, int reason);
  // workspace
  void on_did_change_configuration(const protocol::Json& params);
  void pull_configuration();
  void apply_config(const protocol::Json& settings, const char* source);
  void on_did_change_workspace_folders(const protocol::Json& params);
  void on_execute_command(const protocol::Json& params, jsonrpc::Reply reply, const jsonrpc::RequestContext& ctx);
  // code actions, fixes, rewrites, translation (assist_actions.cpp)
  void on_code_action(const protocol::Json& params, jsonrpc::Reply reply);
  void on_code_action_resolve(const protocol::Json& params, jsonrpc::Reply reply, const jsonrpc::RequestContext& ctx);
  // Runs a fix or rewrite described by `data` (an action's data); `done` gets the WorkspaceEdit
  // or an error, on the I/O thread.
  void start_fix(const protocol::Json& data, const jsonrpc::RequestContext& ctx,
                 std::function<void(Result<protocol::Json> edit, std::string title)> done);
  void start_translate(const protocol::Json& args, jsonrpc::Reply reply, const jsonrpc::RequestContext& ctx);
  void apply_edit(const std::string& label, protocol::Json edit, jsonrpc::Reply reply, protocol::Json extra);
  std::vector<std::string> folder_paths() const;
  void start_context_preview(const protocol::TextDocumentPositionParams& pos, jsonrpc::Reply reply,
                             const jsonrpc::RequestContext& ctx);
  void start_indexing();
  void stop_indexing();
  void load_model();
  // The engine host reloaded the model on its own (its file changed on disk): report the
  // outcome as a load's (status, and the error once to the user). I/O thread.
  void sync_model_state();
  // moecode/status: what the editor shows (model state, indexing, last error).
  protocol::Json status_json() const;
  void publish_status();
  // messages to the user
  void log_message(protocol::MessageType type, const std::string& message);
  void show_message(protocol::MessageType type, const std::string& message);
  void trace(const std::string& message, const std::string& verbose = "");

  jsonrpc::Executor& loop_;
  EngineHost& host_;
  std::shared_ptr<WorkspaceIndex> index_;
  ServerOptions options_;
  std::shared_ptr<jsonrpc::Endpoint> endpoint_;
  std::function<void(int)> exit_handler_;

  State state_ = State::kUninitialized;
  protocol::PositionEncoding encoding_ = protocol::PositionEncoding::kUtf16;
  protocol::ClientCapabilities client_;
  std::string client_name_;
  std::vector<protocol::WorkspaceFolder> folders_;
  ServerConfig config_;
  std::string trace_ = "off";
  workspace::DocumentStore documents_;
  std::map<std::string, std::shared_ptr<Pending>> pending_;  // "inline:" / "completion:" + uri
  CompletionStats stats_;
  std::string shown_model_error_;
  bool exited_ = false;

  struct StatusState {
    std::string model_state = "loading";  // "loading" | "ready" | "noModel" | "error"
    std::string model_message;            // the model file, or why there is none
    bool indexing = false;
    std::string index_message;
    int index_percentage = -1;
    std::string last_error;
  };
  StatusState status_;
  uint64_t n_model_loads_ = 0;  // only the latest load's outcome updates status_
  uint64_t seen_reloads_ = 0;   // host_.n_reloads() when the status last reflected it

  std::thread index_thread_;
  engine::CancelToken index_cancel_;
  int n_progress_tokens_ = 0;
};

}  // namespace moecode::server
