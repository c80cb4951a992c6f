// `moecode serve`: the language server over stdio (default) or TCP.
//   moecode serve [--stdio | --listen ADDR] [-m MODEL] [--backend B] [--threads N]
//                 [--log-file FILE] [--max-message-mb N] [--no-repo-context]
// Completions get repository context (see repo_context.h) unless --no-repo-context.
// Logs go to stderr (and --log-file), never to stdout: in stdio mode stdout carries LSP.
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
#include "lsp/cli/model_path.h"
#include "lsp/cli/repo_context.h"
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
};

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
  server::ServeOptions opts;
  opts.listen = args.listen;
  opts.max_message_bytes = static_cast<size_t>(args.max_message_mb) << 20;
  opts.server.version = engine::version();
  opts.server.config.backend = args.backend;
  opts.server.config.threads = args.threads;

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
    opts.factory = [](const server::ModelSpec& spec) {
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
  CLI::App* cmd = app.add_subcommand("serve", "Run the language server (LSP over stdio, or TCP with --listen)");
  auto* stdio = cmd->add_flag("--stdio", args->stdio, "Talk LSP over stdin/stdout (the default)");
  cmd->add_option("--listen", args->listen,
                  "Listen for LSP clients on TCP: PORT or HOST:PORT (127.0.0.1 unless an address is given)")
      ->excludes(stdio);
  cmd->add_option("-m,--model", args->model, "GGUF model file (default: $MOECODE_MODEL, then the default model)");
  cmd->add_option("--backend", args->backend, "Compute backend")->capture_default_str();
  cmd->add_option("--threads", args->threads, "Engine threads (0: one per physical core)")->check(CLI::Range(0, 1024));
  cmd->add_option("--log-file", args->log_file, "Also write the log to FILE");
  cmd->add_option("--max-message-mb", args->max_message_mb, "Largest LSP message accepted, in MiB")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  cmd->add_flag("--no-repo-context", args->no_repo_context,
               "Complete from the current document only (no workspace index, no cross-file context)");
  cmd->add_option("--scripted-generator", args->scripted,
                  "Answer completions from a JSON script instead of a model (for tests)")
      ->group("");
  cmd->fallthrough();  // global options (--log-level) may follow `serve`
  cmd->callback([args] { run_serve(*args); });
}

}  // namespace moecode::cli
