// The `moecode` executable: parses the command line and runs one subcommand.
// Logs go to stderr (never stdout: stdout carries results, and LSP messages in stdio mode).
#include <csignal>
#include <cstdio>
#include <algorithm>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "lsp/cli/commands.h"
#include "moecode/engine/version.h"
#include "moecode_git_version.h"

namespace {

std::string version_text() {
  std::string backends;
  for (const auto& b : moecode::engine::compiled_backends()) {
    if (!backends.empty()) backends += ", ";
    backends += b;
    if (b == "cpu") backends += " (" + moecode::engine::cpu_kernel_isa() + ")";
  }
  return fmt::format("moecode {} (commit {})\nbackends: {}", moecode::engine::version(),
                     MOECODE_GIT_COMMIT, backends);
}

}  // namespace

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) makes a write fail with EFBIG, which we report as any write
  // error, instead of killing the process with SIGXFSZ halfway through an output.
  std::signal(SIGXFSZ, SIG_IGN);
  auto logger = spdlog::stderr_color_mt("moecode");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::warn);

  CLI::App app{"moecode: a code assistant that runs where the code is (LSP server, local "
               "MoE/dense inference, repository context)",
               "moecode"};
  app.require_subcommand(0, 1);
  app.set_version_flag("--version", version_text(), "Print the version, git commit and backends");
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "Log level on stderr: trace, debug, info, warn, error, off")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
  app.parse_complete_callback([&] { spdlog::set_level(spdlog::level::from_str(log_level)); });
  moecode::cli::add_model_command(app);
  moecode::cli::add_index_command(app);
  moecode::cli::add_context_command(app);
  moecode::cli::add_serve_command(app);
  moecode::cli::add_generate_command(app);
  moecode::cli::add_logits_command(app);
  moecode::cli::add_bench_command(app);
  moecode::cli::add_tokenize_command(app);
  moecode::cli::add_fix_command(app);
  moecode::cli::add_translate_command(app);
  moecode::cli::add_review_command(app);

  // llama.cpp's users type -ngl; CLI11 takes one-dash names as single letters, so it is read
  // as --ngl (until a "--").
  std::vector<std::string> args(argv + 1, argv + argc);
  for (auto& a : args) {
    if (a == "--") break;
    if (a == "-ngl") a = "--ngl";
  }
  std::reverse(args.begin(), args.end());  // CLI11 takes the arguments last-first
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; a bad command line exits 2, like every command's own
    // argument errors.
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  return moecode::cli::exit_code();
}
