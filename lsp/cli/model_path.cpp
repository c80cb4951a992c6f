// Finding the model file (see model_path.h).
#include "lsp/cli/model_path.h"

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

namespace moecode::cli {

namespace fs = std::filesystem;

std::string model_cache_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    return (fs::path(xdg) / "moecode" / "models").string();
  }
  const char* home = std::getenv("HOME");
  return (fs::path(home && *home ? home : "/tmp") / ".cache" / "moecode" / "models").string();
}

Result<std::string> resolve_model_path(const std::string& explicit_path) {
  std::error_code ec;
  if (!explicit_path.empty()) {
    if (!fs::is_regular_file(explicit_path, ec)) {
      return make_error(ErrorCode::kNotFound, fmt::format("model file '{}' not found", explicit_path));
    }
    return explicit_path;
  }
  if (const char* env = std::getenv("MOECODE_MODEL"); env && *env) {
    if (!fs::is_regular_file(env, ec)) {
      return make_error(ErrorCode::kNotFound,
                        fmt::format("model file '{}' (from $MOECODE_MODEL) not found", env));
    }
    return std::string(env);
  }
  const fs::path local = fs::path("models") / "default.gguf";
  if (fs::is_regular_file(local, ec)) return local.string();
  const fs::path cached = fs::path(model_cache_dir()) / "default.gguf";
  if (fs::is_regular_file(cached, ec)) return cached.string();
  return make_error(ErrorCode::kNotFound,
                    fmt::format("no model: pass -m FILE.gguf, set $MOECODE_MODEL, or run scripts/setup "
                                "to install the default model (looked for {} and {})",
                                local.string(), cached.string()));
}

}  // namespace moecode::cli
