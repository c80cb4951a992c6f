// Registration of the `moecode` subcommands. Each add_*_command() adds one subcommand
// (with its options and callback) to the application; called once from main().
#pragma once

#include <CLI/CLI.hpp>

namespace moecode::cli {

// Exit code a subcommand callback leaves for main() (0 on success).
int& exit_code();

// `moecode model info`.
void add_model_command(CLI::App& app);
// `moecode generate`: text from a prompt with a local model.
void add_generate_command(CLI::App& app);
// `moecode logits`: logits of a token sequence (conformance checks).
void add_logits_command(CLI::App& app);
// `moecode bench`: prompt-processing and generation speed.
void add_bench_command(CLI::App& app);

// `moecode tokenize` and `moecode detokenize`.
void add_tokenize_command(CLI::App& app);

}  // namespace moecode::cli
