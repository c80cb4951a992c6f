// Registration of the `moecode` subcommands. Each add_*_command() adds one subcommand
// (with its options and callback) to the application; called once from main().
#pragma once

#include <CLI/CLI.hpp>

namespace moecode::cli {

// Exit code a subcommand callback leaves for main() (0 on success).
int& exit_code();

// `moecode model info`.
void add_model_command(CLI::App& app);

// `moecode serve`: the language server (serve_cmd.cpp).
void add_serve_command(CLI::App& app);

}  // namespace moecode::cli
