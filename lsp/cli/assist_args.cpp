// Shared set-up of the assist commands (see assist_args.h).
#include "lsp/cli/assist_args.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/assist/local_generator.h"
#include "lsp/assist/scripted_generator.h"
#include "lsp/cli/model_path.h"
#include "lsp/cli/repo_context.h"
#include "lsp/remote/remote_generator.h"
#include "lsp/server/redacting_generator.h"
#include "lsp/workspace/ignore.h"
#include "lsp/workspace/paths.h"

namespace moecode::cli {

namespace fs = std::filesystem;

void add_assist_options(CLI::App* cmd, AssistArgs& args) {
  add_engine_options(cmd, args.engine, /*with_chat_template=*/true);
  cmd->add_option("--scripted-generator", args.scripted, "Answer from a JSON script instead of a model (tests)");
  cmd->add_option("--root", args.root, "Workspace root (default: the git work tree, else the current directory)");
  cmd->add_option("--max-tokens", args.max_tokens, "Tokens the model may generate per answer")
      ->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--temperature", args.temperature, "Sampling temperature (0: greedy)")->check(CLI::Range(0.0, 5.0));
  cmd->add_flag("--show-reasoning", args.show_reasoning, "Print the model's reasoning (<think>...</think>) on stderr");
  cmd->add_flag("--no-context", args.no_context, "No repository context (does not index the workspace)");
  add_remote_options(cmd, args.remote);
}

void add_remote_options(CLI::App* cmd, remote::RemoteConfig& remote) {
  std::string presets;
  for (const auto& p : remote::presets()) presets += std::string(presets.empty() ? "" : ", ") + p.name;
  cmd->add_option("--remote", remote.preset, "Use a remote OpenAI-compatible engine: " + presets + " (docs/remote.md)")
      ->group("Remote engine");
  cmd->add_option("--remote-url", remote.base_url, "Base URL of the remote engine (default: the preset's)")
      ->group("Remote engine");
  cmd->add_option("--remote-model", remote.model, "Model (or deployment) name the remote engine serves")
      ->group("Remote engine");
  cmd->add_option("--api-key-env", remote.api_key_env,
                  "Environment variable that holds the API key (default: the preset's; never pass the key itself)")
      ->group("Remote engine");
  cmd->add_option("--remote-fim", remote.fim, "Fill-in-the-middle: auto, none, suffix, infill, chat, or a family "
                                              "(qwen, starcoder, deepseek, codellama, codestral)")
      ->group("Remote engine");
}

Status finish_remote_options(remote::RemoteConfig& remote) {
  if (remote.preset.empty() && remote.base_url.empty()) {
    if (!remote.model.empty() || !remote.api_key_env.empty() || remote.fim != "auto") {
      return make_error(ErrorCode::kInvalidArgument, "--remote-model, --api-key-env and --remote-fim need --remote PRESET or --remote-url");
    }
    return Status::ok_status();
  }
  if (remote.preset.empty()) remote.preset = "openai";
  MOE_RETURN_IF_ERROR(remote::resolve_remote(remote));
  return Status::ok_status();
}

Result<assist::Script> read_script(const std::string& path) {
  std::ifstream in(path);
  if (!in) return make_error(ErrorCode::kNotFound, "scripted generator file '" + path + "' not found");
  std::stringstream ss;
  ss << in.rdbuf();
  const nlohmann::json j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (!j.is_object()) return make_error(ErrorCode::kCorrupt, "scripted generator file '" + path + "': not a JSON object");
  assist::Script s;
  try {
    for (const auto& r : j.value("replies", nlohmann::json::array())) {
      s.replies.push_back({r.value("match", ""), r.value("text", "")});
    }
    s.fallback = j.value("fallback", "");
    s.token_delay_ms = j.value("tokenDelayMs", 0);
    s.prompt_delay_ms = j.value("promptDelayMs", 0);
    s.fim = j.value("fim", false);
    s.n_ctx = j.value("nCtx", s.n_ctx);
  } catch (const nlohmann::json::exception& e) {
    return make_error(ErrorCode::kCorrupt, "scripted generator file '" + path + "': " + e.what());
  }
  return s;
}

Result<std::unique_ptr<assist::Generator>> make_generator(const AssistArgs& args) {
  // Every prompt passes the redaction of secrets on its way to the model.
  if (!args.scripted.empty()) {
    MOE_TRY(assist::Script script, read_script(args.scripted));
    return server::redacting(std::make_unique<assist::ScriptedGenerator>(std::move(script)));
  }
  remote::RemoteConfig rc = args.remote;
  MOE_RETURN_IF_ERROR(finish_remote_options(rc));
  if (rc.enabled()) {
    MOE_TRY(std::unique_ptr<remote::RemoteGenerator> g, remote::RemoteGenerator::connect(rc));
    return server::redacting(std::move(g));
  }
  MOE_TRY(std::string path, resolve_model_path(args.engine.model));
  assist::LocalGeneratorOptions lo;
  lo.n_threads = args.engine.threads;
  lo.n_ctx = args.engine.ctx;
  lo.n_batch = 256;  // nothing to cancel mid-prompt on the command line
  MOE_TRY(std::unique_ptr<assist::Generator> g, assist::load_local_generator(path, lo));
  return server::redacting(std::move(g));
}

Result<std::string> workspace_root(const AssistArgs& args, const std::string& near) {
  std::error_code ec;
  if (!args.root.empty()) {
    const fs::path root = fs::canonical(args.root, ec);
    if (ec || !fs::is_directory(root)) {
      return make_error(ErrorCode::kNotFound, "--root '" + args.root + "' is not a directory");
    }
    return root.string();
  }
  fs::path start = fs::absolute(near.empty() ? fs::path(".") : fs::path(near), ec);
  if (!fs::is_directory(start, ec)) start = start.parent_path();
  const std::string git = workspace::enclosing_git_worktree(start.string());
  const fs::path root = fs::canonical(git.empty() ? fs::current_path() : fs::path(git), ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot resolve the workspace root: " + ec.message());
  return root.string();
}

namespace {

// The index and the provider over it, alive together.
class WorkspaceContext final : public assist::ContextProvider {
 public:
  WorkspaceContext(std::shared_ptr<RepoContextRegistry> registry, std::shared_ptr<SymbolWorkspaceIndex> index)
      : registry_(std::move(registry)), index_(std::move(index)), provider_(registry_) {}
  Result<assist::CompletionContext> gather(const assist::ContextRequest& request, const assist::TokenCounter& count,
                                           const engine::CancelToken& cancel) override {
    return provider_.gather(request, count, cancel);
  }

 private:
  std::shared_ptr<RepoContextRegistry> registry_;
  std::shared_ptr<SymbolWorkspaceIndex> index_;
  RepoContextProvider provider_;
};

}  // namespace

Result<std::unique_ptr<assist::ContextProvider>> index_workspace(const std::string& root, bool verbose) {
  auto registry = std::make_shared<RepoContextRegistry>();
  auto index = std::make_shared<SymbolWorkspaceIndex>(registry);
  const std::string summary = index->index_folders({root}, nullptr, engine::CancelToken());
  if (!index->index()) return make_error(ErrorCode::kIo, summary);
  if (verbose) fmt::print(stderr, "moecode: {} ({})\n", summary, root);
  return std::unique_ptr<assist::ContextProvider>(std::make_unique<WorkspaceContext>(registry, index));
}

Result<std::string> read_source_file(const std::string& path, size_t max_bytes) {
  if (server::is_secret_document(path)) {
    return make_error(ErrorCode::kInvalidArgument, "'" + path + "' is a secret file: moecode sends nothing of it to a model");
  }
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return make_error(ErrorCode::kNotFound, "'" + path + "' is not a file");
  const auto size = fs::file_size(path, ec);
  if (ec) return make_error(ErrorCode::kIo, "cannot read '" + path + "': " + ec.message());
  if (size > max_bytes) {
    return make_error(ErrorCode::kOutOfRange, fmt::format("'{}' is {} bytes, more than the {} this command reads", path,
                                                          size, max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kIo, "cannot open '" + path + "'");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.find('\0') != std::string::npos) return make_error(ErrorCode::kUnsupported, "'" + path + "' is a binary file");
  return text;
}

namespace {

// Writes `text` into an existing file that is not a regular file (a device such as /dev/full
// or /dev/stdout, a FIFO): no temporary file next to it, and it is never replaced.
Status write_in_place(const std::string& path, const std::string& text) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return make_error(ErrorCode::kIo, "cannot write '" + path + "': " + std::strerror(errno));
  const bool wrote = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  int e = wrote ? 0 : errno;
  if (std::fflush(f) != 0 && e == 0) e = errno;
  if (std::fclose(f) != 0 && e == 0) e = errno;
  if (!wrote || e != 0) return make_error(ErrorCode::kIo, "cannot write '" + path + "': " + std::strerror(e ? e : EIO));
  return Status::ok_status();
}

}  // namespace

Status write_file_atomic(const std::string& path, const std::string& text) {
  const fs::path target(path);
  if (struct stat st {}; ::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    if (S_ISDIR(st.st_mode)) return make_error(ErrorCode::kInvalidArgument, "'" + path + "' is a directory");
    return write_in_place(path, text);
  }
  const fs::path tmp = target.parent_path() / ("." + target.filename().string() + ".moecode-tmp-" + std::to_string(::getpid()));
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(ErrorCode::kIo, "cannot write '" + tmp.string() + "'");
    errno = 0;
    out << text;
    out.flush();
    if (out) out.close();
    if (!out) {
      const int e = errno;
      std::error_code ec;
      fs::remove(tmp, ec);
      return make_error(ErrorCode::kIo, "cannot write '" + path + "': " + (e ? std::strerror(e) : "write failed (disk full?)"));
    }
  }
  // Keep the permissions of a file that exists.
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) ::chmod(tmp.c_str(), st.st_mode & 07777);
  std::error_code ec;
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return make_error(ErrorCode::kIo, "cannot replace '" + path + "': " + ec.message());
  }
  return Status::ok_status();
}

}  // namespace moecode::cli
