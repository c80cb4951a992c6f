// One engine shared by many editors. `moecode serve --stdio` does not load the model itself:
// it attaches to a local engine daemon (`moecode serve --http unix:SOCKET --idle-exit S`, one per
// model file and engine settings), starting it when none runs. The daemon holds the model and
// its KV caches once, decodes every editor's requests together (continuous batching), and exits
// once no editor has been attached for a while. Each editor keeps only the model's tokenizer
// (exact token counts for context packing, prompts sent as token ids) and one connection open
// to the daemon, which tells it at once when the daemon goes away: the editor then says so once
// and runs the model in its own process from the next request on.
//
// Sockets live in $MOECODE_ENGINE_DIR, else $XDG_RUNTIME_DIR/moecode, else /tmp/moecode-UID
// (created 0700 and checked to be ours); the daemon's log and pid file sit beside its socket.
//
// Threading: SharedEngineGenerator is thread-compatible like every Generator (the scheduler's
// worker calls it); its watcher thread only sets a flag and calls `notify`.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "lsp/assist/generator.h"
#include "lsp/assist/local_generator.h"
#include "lsp/remote/remote_generator.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::remote {

struct SharedEngineOptions {
  std::string model_path;  // canonical
  std::string backend = "cpu";
  int threads = 0;
  int n_ctx = 0;
  int n_slots = 4;
  int idle_exit_s = 60;
  std::string dir;      // "" = engine_dir()
  std::string binary;   // the moecode executable ("" = /proc/self/exe)
  int start_timeout_ms = 120000;
  // Tells the user something (the daemon went away); any thread; called at most once.
  std::function<void(const std::string& message)> notify;
};

// Where sockets go (see above); created when missing. Errors: a directory that is not ours or
// that others may write.
Result<std::string> engine_dir();

// The socket path of the daemon for these options (same model file and settings, same build,
// same MOECODE_ISA: same daemon).
std::string engine_socket_path(const std::string& dir, const SharedEngineOptions& options);

// Makes sure a daemon listens on the socket: connects, or (holding a lock file, so that editors
// starting together start one daemon) starts one and waits until it listens. Errors carry the
// daemon's own message when it failed to start (from its log).
Result<std::string> ensure_engine_daemon(const SharedEngineOptions& options);

class SharedEngineGenerator final : public assist::Generator {
 public:
  static Result<std::unique_ptr<SharedEngineGenerator>> attach(const SharedEngineOptions& options);
  ~SharedEngineGenerator() override;

  std::string describe() const override;
  int n_ctx() const override;
  int count_tokens(std::string_view text) const override;
  assist::SpecialTokenTexts special_tokens() const override;
  bool has_special_token(std::string_view text) const override;
  Result<assist::Generation> generate(const assist::Prompt& prompt, const assist::GenerationOptions& options,
                                      const assist::StreamFn& on_piece, const CancelToken& cancel) override;
  Result<assist::Generation> chat(const std::vector<assist::ChatMessage>& messages,
                                  const assist::GenerationOptions& options, const assist::StreamFn& on_piece,
                                  const CancelToken& cancel) override;

  // The daemon's process id (0 when unknown) and socket; whether this editor fell back.
  int daemon_pid() const { return daemon_pid_; }
  const std::string& socket_path() const { return socket_; }
  bool fell_back() const { return local_ != nullptr; }

 private:
  SharedEngineGenerator(SharedEngineOptions options, std::string socket,
                        std::shared_ptr<const engine::Tokenizer> tokenizer);
  // The daemon is gone: say so once; the local model is loaded by the next request.
  void lost(const std::string& why);
  Status ensure_local();

  SharedEngineOptions options_;
  std::string socket_;
  std::shared_ptr<const engine::Tokenizer> tokenizer_;
  std::unique_ptr<RemoteGenerator> remote_;
  std::unique_ptr<assist::LocalGenerator> local_;  // after the daemon went away
  std::string model_name_;
  int daemon_pid_ = 0;
  std::atomic<bool> lost_{false};
  std::atomic<bool> told_{false};
  // The watcher: a connection held open; the daemon closing it means the daemon is gone.
  CancelToken stop_watch_;
  std::thread watcher_;
};

}  // namespace moecode::remote
