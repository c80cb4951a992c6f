// Configuration of a remote OpenAI-compatible engine: the provider presets (vLLM, SGLang,
// llama.cpp's server, Azure AI Foundry, Together AI, NVIDIA NIM, any OpenAI-compatible server,
// moecode's own `serve --http`) and what a user may set (server settings `moecode.remote`,
// command-line flags). The API key is never part of it: only the NAME of the environment
// variable that holds it (apiKeyEnv); the key is read from the environment when a request is
// sent, and never logged or written anywhere.
// Plain data and pure functions; thread-compatible.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "moecode/engine/result.h"

namespace moecode::remote {

// How the API key travels.
enum class AuthStyle { kBearer, kApiKeyHeader };

// How inline completions ask for fill-in-the-middle.
enum class FimMode {
  kAuto,      // the preset's choice (llama.cpp: infill; Azure: chat; else by the model's name)
  kNone,      // a plain continuation of the prefix (no suffix sent)
  kSuffix,    // /v1/completions with "suffix" (the server builds the FIM prompt)
  kInfill,    // llama.cpp's /infill (input_prefix, input_suffix, input_extra)
  kChat,      // a chat request that asks for the code at the cursor (chat-only endpoints)
  kTemplate,  // the client writes the model family's FIM tokens into the prompt (fim_family)
};

struct Preset {
  const char* name;            // "vllm"
  const char* title;           // "vLLM"
  const char* base_url;        // default base URL ("" = must be given)
  const char* api_key_env;     // default environment variable of the key ("" = none)
  AuthStyle auth;
  bool completions;            // has /completions (else chat only)
  bool list_models;            // GET /models works (context size, model check)
  bool stop_token_ids;         // accepts "stop_token_ids" (vLLM extension)
  bool skip_special_tokens;    // accepts "skip_special_tokens" (vLLM/SGLang extension)
  int max_stop;                // most "stop" strings a request may carry (0: no limit)
  const char* api_version;     // default ?api-version= (Azure), "" = none
};

// Every preset, in documentation order.
const std::vector<Preset>& presets();
const Preset* find_preset(const std::string& name);

struct RemoteConfig {
  std::string preset;      // a preset name; "" = no remote engine
  std::string base_url;    // "" = the preset's
  std::string model;       // model / deployment name sent in requests
  std::string api_key_env; // "" = the preset's variable
  std::string api_version; // Azure: the api-version query parameter ("" = the preset's)
  std::string fim = "auto";  // auto | none | suffix | infill | chat | qwen | starcoder | deepseek | codellama | codestral
  int n_ctx = 0;              // context window; 0 = from the server (GET /models), else 8192
  int connect_timeout_ms = 10000;
  int timeout_ms = 120000;    // longest silence: until the answer starts, and between streamed bytes
  int max_retries = 3;        // on 429/5xx and refused connections, with backoff (Retry-After honoured)
  std::string ca_file;        // extra CA bundle for https (PEM); "" = the system's

  bool enabled() const { return !preset.empty(); }
  nlohmann::json to_json() const;  // for moecode.status (no key, ever)
  friend bool operator==(const RemoteConfig&, const RemoteConfig&) = default;
};

// Applies the `remote` object of the settings (null or {} = no remote). Unknown keys are
// ignored; a bad value leaves its field unchanged and adds a message naming the key. A key
// in the settings ("apiKey") is refused: keys come from the environment only.
std::vector<std::string> apply_remote_settings(RemoteConfig& config, const nlohmann::json& remote);

// The configuration completed with the preset's defaults, or an error naming what is wrong
// (unknown preset, no base URL, a bad fim value).
struct ResolvedRemote {
  RemoteConfig config;      // base_url, api_key_env, api_version filled in
  const Preset* preset = nullptr;
  FimMode fim = FimMode::kNone;
  std::string fim_family;   // kTemplate: "qwen", "starcoder"...
};
Result<ResolvedRemote> resolve_remote(const RemoteConfig& config);

// The FIM family a model name suggests ("Qwen2.5-Coder-7B" -> "qwen"), or "".
std::string fim_family_from_model_name(const std::string& model);

}  // namespace moecode::remote
