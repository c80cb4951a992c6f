// Registration of the `moecode` subcommands. Each add_*_command() adds one subcommand
// (with its options and callback) to the application; called once from main().
#pragma once

#include <CLI/CLI.hpp>

namespace moecode::cli {

// Exit code a subcommand callback leaves for main() (0 on success).
int& exit_code();

// `moecode model info`.
void add_model_command(CLI::App& app);
// `moecode index [DIR] [--json]`: index a tree, print files, symbols, time and memory.
void add_index_command(CLI::App& app);
// `moecode context FILE:LINE:COL [--root DIR] [--budget N] [--json]`: the packed context.
void add_context_command(CLI::App& app);
// `moecode generate`: text from a prompt with a local model.
void add_generate_command(CLI::App& app);
// `moecode logits`: logits of a token sequence (conformance checks).
void add_logits_command(CLI::App& app);
// `moecode bench`: prompt-processing and generation speed.
void add_bench_command(CLI::App& app);

// `moecode tokenize` and `moecode detokenize`.
void add_tokenize_command(CLI::App& app);

// `moecode fix FILE --line N`: a fix (or rewrite) of the code around a line, as a diff.
void add_fix_command(CLI::App& app);
// `moecode translate --to LANG SRC`: a translation, unit by unit.
void add_translate_command(CLI::App& app);
// `moecode review [--base REV | --staged] [PATHS]`: findings on a git diff (text, JSON, SARIF, GitHub).
void add_review_command(CLI::App& app);

// `moecode serve`: the language server (serve_cmd.cpp).
void add_serve_command(CLI::App& app);

}  // namespace moecode::cli
