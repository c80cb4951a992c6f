// Remote engine presets and settings (see remote_config.h).
#include "lsp/remote/remote_config.h"

#include <algorithm>
#include <cctype>

namespace moecode::remote {

using Json = nlohmann::json;

const std::vector<Preset>& presets() {
  // name, title, base URL, key variable, auth, completions, GET /models, stop_token_ids,
  // skip_special_tokens, max stop strings, api-version
  static const std::vector<Preset> kPresets = {
      {"vllm", "vLLM", "http://127.0.0.1:8000/v1", "VLLM_API_KEY", AuthStyle::kBearer, true, true, true, true, 0, ""},
      {"sglang", "SGLang", "http://127.0.0.1:30000/v1", "SGLANG_API_KEY", AuthStyle::kBearer, true, true, true, true, 0,
       ""},
      {"llamacpp", "llama.cpp server", "http://127.0.0.1:8080/v1", "LLAMA_API_KEY", AuthStyle::kBearer, true, true,
       false, false, 0, ""},
      {"azure", "Azure AI Foundry", "", "AZURE_INFERENCE_CREDENTIAL", AuthStyle::kApiKeyHeader, false, false, false,
       false, 4, "2024-05-01-preview"},
      {"together", "Together AI", "https://api.together.xyz/v1", "TOGETHER_API_KEY", AuthStyle::kBearer, true, true,
       false, false, 0, ""},
      {"nim", "NVIDIA NIM", "https://integrate.api.nvidia.com/v1", "NVIDIA_API_KEY", AuthStyle::kBearer, true, true,
       false, false, 0, ""},
      {"openai", "OpenAI-compatible", "", "OPENAI_API_KEY", AuthStyle::kBearer, true, true, false, false, 4, ""},
      {"moecode", "moecode serve --http", "http://127.0.0.1:8090/v1", "MOECODE_API_KEY", AuthStyle::kBearer, true,
       true, true, true, 0, ""},
  };
  return kPresets;
}

const Preset* find_preset(const std::string& name) {
  for (const Preset& p : presets()) {
    if (name == p.name) return &p;
  }
  return nullptr;
}

Json RemoteConfig::to_json() const {
  return Json{{"preset", preset},   {"baseUrl", base_url}, {"model", model},       {"apiKeyEnv", api_key_env},
              {"apiVersion", api_version}, {"fim", fim},   {"nCtx", n_ctx},        {"connectTimeoutMs", connect_timeout_ms},
              {"timeoutMs", timeout_ms},   {"maxRetries", max_retries}, {"caFile", ca_file}};
}

namespace {

std::string show(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

void read_string(const Json& obj, const char* key, std::string& out, std::vector<std::string>& errors) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return;
  if (!it->is_string()) {
    errors.push_back(std::string("moecode.remote.") + key + ": expected a string, got " + show(*it));
    return;
  }
  out = it->get<std::string>();
}

void read_int(const Json& obj, const char* key, int lo, int hi, int& out, std::vector<std::string>& errors) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return;
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi) {
    errors.push_back(std::string("moecode.remote.") + key + ": expected an integer in " + std::to_string(lo) + ".." +
                     std::to_string(hi) + ", got " + show(*it));
    return;
  }
  out = static_cast<int>(it->get<int64_t>());
}

const char* const kFamilies[] = {"qwen", "starcoder", "deepseek", "codellama", "codestral"};

bool is_family(const std::string& s) {
  return std::any_of(std::begin(kFamilies), std::end(kFamilies), [&](const char* f) { return s == f; });
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

std::vector<std::string> apply_remote_settings(RemoteConfig& config, const Json& remote) {
  std::vector<std::string> errors;
  if (remote.is_null()) return errors;
  if (!remote.is_object()) {
    errors.push_back("moecode.remote: expected an object, got " + show(remote));
    return errors;
  }
  for (const char* secret : {"apiKey", "api_key", "key", "token"}) {
    if (remote.contains(secret)) {
      errors.push_back(std::string("moecode.remote.") + secret +
                       ": keys are never read from settings; put the key in an environment variable and name it "
                       "in moecode.remote.apiKeyEnv");
    }
  }
  RemoteConfig next = config;
  if (remote.empty()) {
    config = RemoteConfig();
    return errors;
  }
  read_string(remote, "preset", next.preset, errors);
  read_string(remote, "baseUrl", next.base_url, errors);
  read_string(remote, "model", next.model, errors);
  read_string(remote, "apiKeyEnv", next.api_key_env, errors);
  read_string(remote, "apiVersion", next.api_version, errors);
  read_string(remote, "fim", next.fim, errors);
  read_string(remote, "caFile", next.ca_file, errors);
  read_int(remote, "nCtx", 0, 1 << 24, next.n_ctx, errors);
  read_int(remote, "connectTimeoutMs", 1, 600000, next.connect_timeout_ms, errors);
  read_int(remote, "timeoutMs", 1, 3600000, next.timeout_ms, errors);
  read_int(remote, "maxRetries", 0, 20, next.max_retries, errors);
  if (!next.preset.empty() && !find_preset(next.preset)) {
    std::string names;
    for (const Preset& p : presets()) names += std::string(names.empty() ? "" : ", ") + p.name;
    errors.push_back("moecode.remote.preset: unknown preset '" + next.preset + "' (one of " + names + ")");
    next.preset = config.preset;
  }
  if (next.preset.empty() && !next.base_url.empty()) next.preset = "openai";
  const std::string fim = next.fim;
  if (!(fim == "auto" || fim == "none" || fim == "suffix" || fim == "infill" || fim == "chat" || is_family(fim))) {
    errors.push_back("moecode.remote.fim: expected auto, none, suffix, infill, chat or a family (qwen, starcoder, "
                     "deepseek, codellama, codestral), got '" + fim + "'");
    next.fim = config.fim;
  }
  config = next;
  return errors;
}

std::string fim_family_from_model_name(const std::string& model) {
  const std::string m = lower(model);
  const bool coder = m.find("coder") != std::string::npos;
  if (m.find("codestral") != std::string::npos) return "codestral";
  if (m.find("starcoder") != std::string::npos) return "starcoder";
  if (m.find("codellama") != std::string::npos || m.find("code-llama") != std::string::npos) return "codellama";
  if (m.find("qwen") != std::string::npos && coder) return "qwen";
  if (m.find("deepseek") != std::string::npos && coder && m.find("v2") == std::string::npos) return "deepseek";
  return "";
}

Result<ResolvedRemote> resolve_remote(const RemoteConfig& config) {
  ResolvedRemote r;
  r.config = config;
  r.preset = find_preset(config.preset);
  if (!r.preset) return make_error(ErrorCode::kInvalidArgument, "unknown remote preset '" + config.preset + "'");
  RemoteConfig& c = r.config;
  if (c.base_url.empty()) c.base_url = r.preset->base_url;
  if (c.base_url.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      std::string("the ") + r.preset->title + " preset needs a base URL (moecode.remote.baseUrl, --remote-url)");
  }
  while (!c.base_url.empty() && c.base_url.back() == '/') c.base_url.pop_back();
  if (c.api_key_env.empty()) c.api_key_env = r.preset->api_key_env;
  if (c.api_version.empty()) c.api_version = r.preset->api_version;
  const std::string& fim = c.fim;
  if (fim == "auto" || fim.empty()) {
    if (std::string(r.preset->name) == "llamacpp") {
      r.fim = FimMode::kInfill;
    } else if (!r.preset->completions) {
      r.fim = FimMode::kChat;
    } else if (std::string(r.preset->name) == "moecode") {
      r.fim = FimMode::kSuffix;
    } else if (std::string family = fim_family_from_model_name(c.model); !family.empty()) {
      r.fim = FimMode::kTemplate;
      r.fim_family = family;
    } else {
      r.fim = FimMode::kNone;
    }
  } else if (fim == "none") {
    r.fim = FimMode::kNone;
  } else if (fim == "suffix") {
    r.fim = FimMode::kSuffix;
  } else if (fim == "infill") {
    r.fim = FimMode::kInfill;
  } else if (fim == "chat") {
    r.fim = FimMode::kChat;
  } else if (is_family(fim)) {
    r.fim = FimMode::kTemplate;
    r.fim_family = fim;
  } else {
    return make_error(ErrorCode::kInvalidArgument, "moecode.remote.fim: unknown mode '" + fim + "'");
  }
  if (!r.preset->completions && r.fim != FimMode::kChat && r.fim != FimMode::kNone) {
    return make_error(ErrorCode::kInvalidArgument, std::string("the ") + r.preset->title +
                                                       " preset has no completions endpoint: fim must be chat or none");
  }
  return r;
}

}  // namespace moecode::remote
