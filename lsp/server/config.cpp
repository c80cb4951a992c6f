// Server settings (see config.h).
#include "lsp/server/config.h"

#include <algorithm>

namespace moecode::server {

using Json = nlohmann::json;

namespace {

std::string show(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  return s.size() > 60 ? s.substr(0, 60) + "..." : s;
}

void read_int(const Json& obj, const char* key, int lo, int hi, int& out, std::vector<std::string>& errors) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return;
  if (!it->is_number_integer() || it->get<int64_t>() < lo || it->get<int64_t>() > hi) {
    errors.push_back(std::string("moecode.") + key + ": expected an integer in " + std::to_string(lo) + ".." +
                     std::to_string(hi) + ", got " + show(*it));
    return;
  }
  out = static_cast<int>(it->get<int64_t>());
}

void read_string(const Json& obj, const char* key, std::string& out, std::vector<std::string>& errors) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return;
  if (!it->is_string()) {
    errors.push_back(std::string("moecode.") + key + ": expected a string, got " + show(*it));
    return;
  }
  out = it->get<std::string>();
}

}  // namespace

bool ServerConfig::language_enabled(const std::string& language_id) const {
  return std::any_of(enabled_languages.begin(), enabled_languages.end(),
                     [&](const std::string& l) { return l == "*" || l == language_id; });
}

Json ServerConfig::to_json() const {
  return Json{{"model", model},
              {"backend", backend},
              {"threads", threads},
              {"contextBudget", context_budget},
              {"maxTokens", max_tokens},
              {"maxLines", max_lines},
              {"temperature", temperature},
              {"debounceMs", debounce_ms},
              {"enabledLanguages", enabled_languages},
              {"remote", remote.enabled() ? remote.to_json() : Json::object()}};
}

std::vector<std::string> apply_settings(ServerConfig& config, const Json& settings) {
  std::vector<std::string> errors;
  if (settings.is_null()) return errors;
  if (!settings.is_object()) {
    errors.push_back("moecode settings: expected an object, got " + show(settings));
    return errors;
  }
  const Json* section = &settings;
  if (auto it = settings.find("moecode"); it != settings.end()) {
    if (!it->is_object()) {
      errors.push_back("moecode: expected an object, got " + show(*it));
      return errors;
    }
    section = &*it;
  }
  const Json& s = *section;
  read_string(s, "model", config.model, errors);
  read_string(s, "backend", config.backend, errors);
  read_int(s, "threads", 0, 1024, config.threads, errors);
  read_int(s, "contextBudget", 64, 1 << 20, config.context_budget, errors);
  read_int(s, "maxTokens", 1, 4096, config.max_tokens, errors);
  read_int(s, "maxLines", 1, 1000, config.max_lines, errors);
  read_int(s, "debounceMs", 0, 10000, config.debounce_ms, errors);
  if (auto it = s.find("temperature"); it != s.end() && !it->is_null()) {
    if (!it->is_number() || it->get<double>() < 0 || it->get<double>() > 5) {
      errors.push_back("moecode.temperature: expected a number in 0..5, got " + show(*it));
    } else {
      config.temperature = it->get<float>();
    }
  }
  if (auto it = s.find("remote"); it != s.end()) {
    for (auto& e : remote::apply_remote_settings(config.remote, *it)) errors.push_back(std::move(e));
  }
  if (auto it = s.find("enabledLanguages"); it != s.end() && !it->is_null()) {
    bool ok = it->is_array();
    std::vector<std::string> langs;
    if (ok) {
      for (const Json& l : *it) {
        if (!l.is_string()) {
          ok = false;
          break;
        }
        langs.push_back(l.get<std::string>());
      }
    }
    if (ok) {
      config.enabled_languages = std::move(langs);
    } else {
      errors.push_back("moecode.enabledLanguages: expected an array of language ids, got " + show(*it));
    }
  }
  return errors;
}

}  // namespace moecode::server
