// What `moecode fix`, `translate` and `review` share: the generator they ask (the local model,
// or a scripted one for tests), the workspace root, keeping written files inside it, and the
// repository context of the root (the tree-sitter index and the packer behind a
// ContextProvider). Used on the command's thread.
#pragma once

#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "lsp/assist/context.h"
#include "lsp/assist/generator.h"
#include "lsp/assist/scripted_generator.h"
#include "lsp/cli/engine_args.h"
#include "lsp/remote/remote_config.h"
#include "lsp/workspace/paths.h"
#include "moecode/engine/result.h"

namespace moecode::cli {

using workspace::path_inside;

struct AssistArgs {
  EngineArgs engine;
  std::string scripted;       // --scripted-generator FILE (tests): answers without a model
  std::string root;           // --root DIR (default: the git work tree, else the current dir)
  int max_tokens = 0;         // 0: the command's default
  float temperature = 0.0f;
  bool show_reasoning = false;  // print the model's <think> text on stderr
  bool no_context = false;      // no repository context (no indexing)
  remote::RemoteConfig remote;  // --remote PRESET ...: a remote engine instead of the local model
};

// Adds --remote PRESET, --remote-url URL, --remote-model NAME, --api-key-env VAR, --remote-fim MODE
// (the remote engine; docs/remote.md).
void add_remote_options(CLI::App* cmd, remote::RemoteConfig& remote);
// The configuration the flags gave: a URL without a preset means "openai"; errors name the flag.
Status finish_remote_options(remote::RemoteConfig& remote);

// Adds -m/-t/-c, --scripted-generator, --root, --max-tokens, --temperature, --show-reasoning,
// --no-context, and the remote options.
void add_assist_options(CLI::App* cmd, AssistArgs& args);

// The local model, the remote engine (--remote), or the scripted generator; always behind the
// redaction of secrets.
Result<std::unique_ptr<assist::Generator>> make_generator(const AssistArgs& args);

// A ScriptedGenerator's script from a JSON file (`--scripted-generator`, tests):
//   {"replies": [{"match": "...", "text": "..."}], "fallback": "...", "tokenDelayMs": 0,
//    "promptDelayMs": 0, "fim": false, "nCtx": 8192}
Result<assist::Script> read_script(const std::string& path);

// The workspace root: --root, else the git work tree that holds `near` (a file or folder),
// else the current directory. Absolute and canonical.
Result<std::string> workspace_root(const AssistArgs& args, const std::string& near);

// The repository context of `root`: indexes it (ignores, secrets and binaries left out) and
// returns a provider that packs definitions from it. Progress goes to stderr when `verbose`.
Result<std::unique_ptr<assist::ContextProvider>> index_workspace(const std::string& root, bool verbose);

// The file's text. Errors: a secret file (.env, *.pem...), missing, unreadable, binary (a NUL
// byte), or larger than `max_bytes`.
Result<std::string> read_source_file(const std::string& path, size_t max_bytes = 8u << 20);

// Writes `text` to `path` atomically (a temporary file in the same folder, then rename): a
// failed write (disk full, file-size limit) leaves the old file whole, and the error names
// the path and the cause. A path that exists and is not a regular file (/dev/full, a FIFO)
// is written in place, never replaced.
Status write_file_atomic(const std::string& path, const std::string& text);

}  // namespace moecode::cli
