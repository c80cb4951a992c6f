// EngineHost: the model side of the server, shared by every session of the process (one with
// --stdio, one per client with --listen): the scheduler and its worker thread, the current
// Generator and the Completer over it, and model (re)loading through a factory. Every generator
// is wrapped in a RedactingGenerator: no prompt reaches a model with a secret in it.
// Threading: ensure_model(), describe(), has_model() and scheduler() are thread-safe;
// completer() and generator() are for jobs running on the scheduler's worker thread.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "lsp/assist/completion.h"
#include "lsp/assist/context.h"
#include "lsp/assist/file_stamp.h"
#include "lsp/assist/generator.h"
#include "lsp/assist/scheduler.h"
#include "lsp/remote/remote_config.h"
#include "moecode/engine/result.h"

namespace moecode::server {

struct ModelSpec {
  std::string path;  // "" = no model (unless remote)
  std::string backend = "cpu";
  int threads = 0;
  remote::RemoteConfig remote;  // enabled(): a remote engine instead of `path`
  bool has_model() const { return !path.empty() || remote.enabled(); }
  friend bool operator==(const ModelSpec&, const ModelSpec&) = default;
};

using GeneratorFactory = std::function<Result<std::unique_ptr<assist::Generator>>(const ModelSpec& spec)>;

class EngineHost {
 public:
  // `provider`: where completion context comes from (the window provider when null).
  explicit EngineHost(GeneratorFactory factory, std::unique_ptr<assist::ContextProvider> provider = nullptr);
  ~EngineHost();

  assist::Scheduler& scheduler() { return *scheduler_; }

  // Loads `spec` on the worker (before queued completions) unless it is already loaded or
  // loading. `done` runs on the worker with the outcome (also when nothing had to be done).
  void ensure_model(const ModelSpec& spec, std::function<void(const Status&)> done = nullptr);
  // Installs a generator directly (tests, embedding). Call it while no job runs.
  void set_generator(std::unique_ptr<assist::Generator> generator, const ModelSpec& spec = {});

  // Worker thread only: the current completer / generator, or nullptr without a model.
  // Each call first checks that the model is still the one on disk (Generator::check): a model
  // file truncated, rewritten or replaced since the load is reloaded (and, when that fails,
  // there is no model until the file changes again, which retries the load).
  assist::Completer* completer();
  assist::Generator* generator();

  // Worker thread only: what a completion for `request` would send to the model (with the
  // window or repository provider; counted approximately when no model is loaded).
  Result<assist::ContextPreview> preview_context(const assist::CompletionRequest& request,
                                                 const assist::CancelToken& cancel);

  // Where completion context comes from (also the fixes' definitions). Worker thread.
  assist::ContextProvider* context_provider() { return provider_.get(); }

  bool has_model() const;
  // The model's description, or why there is none.
  std::string describe() const;
  // Counts the reloads that the worker started on its own (a model file changed on disk):
  // sessions compare it with what they last saw to refresh the state they report. Any thread.
  uint64_t n_reloads() const;

 private:
  GeneratorFactory factory_;
  std::unique_ptr<assist::ContextProvider> provider_;
  mutable std::mutex mu_;
  std::unique_ptr<assist::Generator> generator_;
  std::unique_ptr<assist::Completer> completer_;
  ModelSpec loaded_;
  ModelSpec wanted_;
  bool loading_ = false;
  std::string description_ = "no model loaded";
  // The model file as it was when its load failed (exists = false: it was missing); a load
  // that failed is retried once the file differs.
  std::optional<assist::FileStamp> failed_stamp_;
  uint64_t n_reloads_ = 0;
  // Last: the worker stops (and finishes its job) before the generator goes away.
  std::unique_ptr<assist::Scheduler> scheduler_;

  // Worker thread: reloads a model whose file changed, or retries a failed load (see completer()).
  void revalidate();
};

}  // namespace moecode::server
