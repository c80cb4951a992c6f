// The server's settings: what initializationOptions, workspace/configuration (section
// "moecode") and workspace/didChangeConfiguration may set. Keys are camelCase:
//   model, backend, threads, contextBudget, maxTokens, maxLines, temperature, debounceMs,
//   enabledLanguages (["*"] or a list of LSP language ids), remote (an OpenAI-compatible
//   engine: {preset, baseUrl, model, apiKeyEnv, ...}, see lsp/remote/remote_config.h).
// Plain data and pure functions; thread-compatible.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsp/remote/remote_config.h"

namespace moecode::server {

struct ServerConfig {
  std::string model;  // GGUF path; "" = the command line's or the default model
  std::string backend = "cpu";
  int threads = 0;  // 0: the engine's default
  int context_budget = 2048;
  int max_tokens = 64;
  int max_lines = 8;
  float temperature = 0.0f;
  int debounce_ms = 40;  // before an automatically triggered completion starts
  std::vector<std::string> enabled_languages{"*"};
  remote::RemoteConfig remote;  // enabled(): completions and commands go to that server

  bool language_enabled(const std::string& language_id) const;
  nlohmann::json to_json() const;
};

// Applies `settings` (an object holding a "moecode" section, or the section itself) to
// `config`. Unknown keys are ignored; a value of the wrong type or out of range leaves its
// field unchanged and adds a message naming the key and the value to the result.
std::vector<std::string> apply_settings(ServerConfig& config, const nlohmann::json& settings);

}  // namespace moecode::server
