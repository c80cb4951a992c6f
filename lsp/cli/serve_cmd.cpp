// `moecode serve`: the language server over stdio (default) or TCP, or (--http) the
// OpenAI-compatible API over the local engine with continuous batching.
//   moecode serve [--stdio | --listen ADDR | --http ADDR] [-m MODEL] [--backend B] [--threads N]
//                 [--log-file FILE] [--max-message-mb N] [--no-repo-context] [--remote PRESET ...]
//                 [--parallel N] [-c N] [--batch N] [--max-queue N] [--model-id ID]
//                 [--http-api-key-env VAR] [--idle-exit SECONDS]
// Completions get repository context (see repo_context.h) unless --no-repo-context.
// Logs go to stderr (and --log-file), never to stdout: in stdio mode stdout carries LSP.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>

#include "lsp/assist/local_generator.h"
#include "lsp/assist/scripted_generator.h"
#include "lsp/cli/assist_args.h"
#include "lsp/cli/commands.h"
#include "lsp/cli/engine_args.h"
#include "lsp/cli/model_path.h"
#include "lsp/cli/repo_context.h"
#include "lsp/remote/remote_generator.h"
#include "lsp/remote/serve_http.h"
#include "lsp/remote/shared_engine.h"
#include "lsp/server/serve.h"
#include "moecode/engine/version.h"

namespace moecode::cli {

namespace {

struct ServeArgs {
  bool stdio = false;
  std::string listen;
  std::string model;
  std::string backend = "cpu";
  int threads = 0;
  std::string log_file;
  int max_message_mb = 64;
  std::string scripted;
  bool no_repo_context = false;
  remote::RemoteConfig remote;
  // --http
  std::string http;
  int parallel = 4;
  int ctx = 0;
  int batch = 256;
  int max_queue = 16;
  std::string model_id;
  std::string http_api_key_env;
  int idle_exit_s = 0;
  int ready_fd = -1;
  // the shared engine (stdio)
  bool no_shared_engine = false;
  int engine_idle_exit_s = 60;
  int engine_parallel = 4;
};

// `serve --stdio` with a local model attaches to the shared engine unless told not to.
bool use_shared_engine(const ServeArgs& args) {
  if (args.no_shared_engine || !args.listen.empty() || !args.scripted.empty()) return false;
  const char* env = std::getenv("MOECODE_SHARED_ENGINE");
  return env == nullptr || std::string(env) != "0";
}

int run_http(const ServeArgs& args) {
  remote::HttpServeOptions o;
  o.address = args.http;
  auto path = resolve_model_path(args.model);
  if (!path.ok()) {
    fmt::print(stderr, "moecode serve: {}\n", path.error().message());
    return 2;
  }
  o.model_path = *path;
  o.model_id = args.model_id;
  o.backend = args.backend;
  o.threads = args.threads;
  o.n_ctx = args.ctx;
  o.n_slots = args.parallel;
  o.n_batch = args.batch;
  o.max_queue = args.max_queue;
  o.api_key_env = args.http_api_key_env;
  o.idle_exit_ms = args.idle_exit_s * 1000;
  o.ready_fd = args.ready_fd;
  return remote::serve_http(o);
}

void run_serve(const ServeArgs& args) {
  if (!args.log_file.empty()) {
    try {
      spdlog::default_logger()->sinks().push_back(
          std::make_shared<spdlog::sinks::basic_file_sink_mt>(args.log_file));
    } catch (const spdlog::spdlog_ex& e) {
      fmt::print(stderr, "moecode serve: cannot open log file '{}': {}\n", args.log_file, e.what());
      exit_code() = 2;
      return;
    }
  }
  if (!args.http.empty()) {
    if (!args.scripted.empty() || args.remote.enabled() || !args.remote.base_url.empty()) {
      fmt::print(stderr, "moecode serve: --http serves the local engine: it takes -m, not --scripted-generator or --remote\n");
      exit_code() = 2;
      return;
    }
    exit_code() = run_http(args);
    return;
  }
  server::ServeOptions opts;
  opts.listen = args.listen;
  opts.max_message_bytes = static_cast<size_t>(args.max_message_mb) << 20;
  opts.server.version = engine::version();
  opts.server.config.backend = args.backend;
  opts.server.config.threads = args.threads;
  remote::RemoteConfig remote = args.remote;
  if (Status st = finish_remote_options(remote); !st.ok()) {
    fmt::print(stderr, "moecode serve: {}\n", st.error().message());
    exit_code() = 2;
    return;
  }
  opts.server.config.remote = remote;

  if (!args.scripted.empty()) {
    auto script = read_script(args.scripted);
    if (!script.ok()) {
      fmt::print(stderr, "moecode serve: {}\n", script.error().message());
      exit_code() = 2;
      return;
    }
    opts.server.cli_model = "scripted:" + args.scripted;
    opts.factory = [s = *script](const server::ModelSpec&) -> Result<std::unique_ptr<assist::Generator>> {
      return std::unique_ptr<assist::Generator>(std::make_unique<assist::ScriptedGenerator>(s));
    };
  } else {
    if (!args.model.empty()) {
      auto path = resolve_model_path(args.model);
      if (!path.ok()) {
        fmt::print(stderr, "moecode serve: {}\n", path.error().message());
        exit_code() = 2;
        return;
      }
      opts.server.cli_model = *path;
    } else if (auto path = resolve_model_path(""); path.ok()) {
      opts.server.default_model = *path;
    } else {
      spdlog::warn("serve: {}", path.error().message());
    }
    const bool shared = use_shared_engine(args);
    opts.notices = std::make_shared<server::Notices>();
    opts.factory = [shared, notices = opts.notices, idle = args.engine_idle_exit_s,
                    parallel = args.engine_parallel](const server::ModelSpec& spec)
        -> Result<std::unique_ptr<assist::Generator>> {
      if (spec.remote.enabled()) {
        MOE_TRY(std::unique_ptr<remote::RemoteGenerator> g, remote::RemoteGenerator::connect(spec.remote));
        return std::unique_ptr<assist::Generator>(std::move(g));
      }
      if (shared) {
        // One model in memory for every editor: attach to (or start) the shared engine.
        remote::SharedEngineOptions so;
        std::error_code ec;
        so.model_path = std::filesystem::canonical(spec.path, ec).string();
        if (ec) so.model_path = spec.path;
        so.backend = spec.backend;
        so.threads = spec.threads;
        so.n_slots = parallel;
        so.idle_exit_s = idle;
        so.notify = [notices](const std::string& msg) { notices->publish(msg); };
        auto g = remote::SharedEngineGenerator::attach(so);
        if (g.ok()) return std::unique_ptr<assist::Generator>(std::move(*g));
        spdlog::warn("engine: no shared engine ({}); loading the model in this process", g.error().message());
      }
      assist::LocalGeneratorOptions lo;
      lo.backend = spec.backend;
      lo.n_threads = spec.threads;
      return assist::load_local_generator(spec.path, lo);
    };
  }
  if (!args.no_repo_context) {
    // Completions get repository context: each session indexes its workspace folders.
    auto registry = std::make_shared<RepoContextRegistry>();
    opts.make_index = [registry] { return std::make_shared<SymbolWorkspaceIndex>(registry); };
    opts.make_provider = [registry] { return std::make_unique<RepoContextProvider>(registry); };
  }
  exit_code() = server::serve(opts);
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Run the language server (LSP over stdio, or TCP with --listen), or the OpenAI-compatible API (--http)");
  auto* stdio = cmd->add_flag("--stdio", args->stdio, "Talk LSP over stdin/stdout (the default)");
  auto* listen = cmd->add_option("--listen", args->listen,
                                 "Listen for LSP clients on TCP: PORT or HOST:PORT (127.0.0.1 unless an address is given)")
                     ->excludes(stdio);
  cmd->add_option("--http", args->http,
                  "Serve the OpenAI-compatible API over the local model: PORT, HOST:PORT (127.0.0.1 unless an "
                  "address is given) or unix:/path.sock (docs/remote.md)")
      ->excludes(stdio)
      ->excludes(listen);
  cmd->add_option("--parallel", args->parallel, "--http: requests decoded together (continuous batching)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("-c,--ctx-size", args->ctx, "--http: context of each parallel slot (0: the model's default)")
      ->check(CLI::Range(0, 1 << 24));
  cmd->add_option("--batch", args->batch, "--http: tokens per forward step, all requests together")
      ->check(CLI::Range(1, 65536))
      ->capture_default_str();
  cmd->add_option("--max-queue", args->max_queue, "--http: requests that may wait for a slot (more get 429)")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  cmd->add_option("--model-id", args->model_id, "--http: the model id /v1/models lists (default: the model's name)");
  cmd->add_option("--http-api-key-env", args->http_api_key_env,
                  "--http: require 'Authorization: Bearer KEY', KEY from this environment variable");
  cmd->add_option("--idle-exit", args->idle_exit_s, "--http: exit after this many seconds without a client")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--ready-fd", args->ready_fd, "--http: write 'ready PID' to this descriptor once listening")
      ->group("");
  cmd->add_flag("--no-shared-engine", args->no_shared_engine,
                "--stdio: load the model in this process instead of attaching to the shared engine daemon "
                "(also MOECODE_SHARED_ENGINE=0)");
  cmd->add_option("--engine-idle-exit", args->engine_idle_exit_s,
                  "--stdio: seconds the shared engine waits without an editor before it exits")
      ->check(CLI::Range(1, 1 << 20))
      ->capture_default_str();
  cmd->add_option("--engine-parallel", args->engine_parallel,
                  "--stdio: requests the shared engine decodes together")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_option("-m,--model", args->model, "GGUF model file (default: $MOECODE_MODEL, then the default model)");
  cmd->add_option("--backend", args->backend, "Compute backend: cpu, gpu (HIP; AMD or NVIDIA) or auto; GPU placement may follow: gpu:ngl=20,cpu-moe")
      ->check(backend_check())
      ->capture_default_str();
  cmd->add_option("--threads", args->threads, "Engine threads (0: one per physical core)")->check(CLI::Range(0, 1024));
  cmd->add_option("--log-file", args->log_file, "Also write the log to FILE");
  cmd->add_option("--max-message-mb", args->max_message_mb, "Largest LSP message accepted, in MiB")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_flag("--no-repo-context", args->no_repo_context,
               "Complete from the current document only (no workspace index, no cross-file context)");
  add_remote_options(cmd, args->remote);
  cmd->add_option("--scripted-generator", args->scripted,
                  "Answer completions from a JSON script instead of a model (for tests)")
      ->group("");
  cmd->fallthrough();  // global options (--log-level) may follow `serve`
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace moecode::cli
