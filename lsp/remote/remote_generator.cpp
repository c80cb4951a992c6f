// The Generator over a remote OpenAI-compatible server (see remote_generator.h).
#include "lsp/remote/remote_generator.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>
#include <thread>

#include <spdlog/spdlog.h>

#include "lsp/remote/openai_protocol.h"

namespace moecode::remote {

using assist::FinishReason;
using assist::Generation;
using Json = nlohmann::json;

namespace {

// Fill-in-the-middle token texts of the families whose format the client can write itself.
struct Family {
  const char* name;
  const char* prefix;
  const char* suffix;
  const char* middle;
  const char* file_sep;
  std::vector<const char*> stops;
};

const std::vector<Family>& families() {
  static const std::vector<Family> kFamilies = {
      {"qwen", "<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|file_sep|>",
       {"<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>"}},
      {"starcoder", "<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<file_sep>",
       {"<|endoftext|>", "<fim_pad>", "<file_sep>", "<filename>"}},
      {"deepseek", "<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>", "", {"<｜end▁of▁sentence｜>", "<|EOT|>"}},
      {"codellama", "▁<PRE>", "▁<SUF>", "▁<MID>", "", {"▁<EOT>"}},
      {"codestral", "[PREFIX]", "[SUFFIX]", "[MIDDLE]", "", {"</s>"}},
  };
  return kFamilies;
}

const Family* find_family(const std::string& name) {
  for (const Family& f : families()) {
    if (name == f.name) return &f;
  }
  return nullptr;
}

// CodeLlama's control tokens are SentencePiece pieces ("▁<PRE>" is " <PRE>" as text); the
// other families' texts are their own.
std::string as_text(const std::string& family, const std::string& token) {
  if (family != "codellama") return token;
  static const std::string kSpace = "\xE2\x96\x81";  // U+2581
  if (token == kSpace + "<PRE>") return "<PRE> ";
  if (token == kSpace + "<SUF>") return " <SUF>";
  if (token == kSpace + "<MID>") return " <MID>";
  if (token == kSpace + "<EOT>") return " <EOT>";
  return token;
}

// What a server-side FIM mode announces to the completer (never sent as such).
const FimSentinels kSentinels;

const char* kChatFillSystem =
    "You are a code completion engine. The user sends a file with the marker <CURSOR> where the "
    "cursor is. Reply with exactly the code to insert at <CURSOR>: no explanation, no code fences, "
    "and do not repeat the code before or after the cursor.";

std::string strip_fences(std::string text) {
  // A model that fences its answer anyway: keep the inside of the first fenced block.
  const size_t open = text.find("```");
  if (open == std::string::npos) return text;
  const size_t nl = text.find('\n', open);
  if (nl == std::string::npos) return text;
  const size_t close = text.find("```", nl + 1);
  std::string inner = text.substr(nl + 1, close == std::string::npos ? std::string::npos : close - nl - 1);
  if (!inner.empty() && inner.back() == '\n') inner.pop_back();
  return inner;
}

long long unix_now() { return static_cast<long long>(std::time(nullptr)); }

}  // namespace

Result<std::unique_ptr<RemoteGenerator>> RemoteGenerator::connect(const RemoteConfig& config,
                                                                  const CancelToken& cancel) {
  MOE_TRY(ResolvedRemote remote, resolve_remote(config));
  MOE_TRY(Url base, parse_url(remote.config.base_url));
  std::unique_ptr<RemoteGenerator> g(new RemoteGenerator(std::move(remote), std::move(base)));
  MOE_RETURN_IF_ERROR(g->probe(cancel));
  return g;
}

RemoteGenerator::RemoteGenerator(ResolvedRemote remote, Url base)
    : remote_(std::move(remote)),
      base_(std::move(base)),
      client_(std::make_unique<HttpClient>(base_, remote_.config.ca_file)),
      model_(remote_.config.model) {
  if (remote_.config.n_ctx > 0) n_ctx_ = remote_.config.n_ctx;
}

std::string RemoteGenerator::describe() const {
  std::string name = model_.empty() ? std::string("the server's model") : model_;
  return name + " (remote " + remote_.preset->name + ", " + base_.origin() + base_.path + ")";
}

int RemoteGenerator::count_tokens(std::string_view text) const {
  // No tokenizer of the remote model: about one token per 3 bytes of code (an overestimate for
  // most BPE vocabularies, so that packed context stays within the window).
  return static_cast<int>((text.size() + 2) / 3);
}

assist::SpecialTokenTexts RemoteGenerator::special_tokens() const {
  assist::SpecialTokenTexts s;
  switch (remote_.fim) {
    case FimMode::kSuffix:
    case FimMode::kChat:
    case FimMode::kInfill:
      s.fim_prefix = kSentinels.prefix;
      s.fim_suffix = kSentinels.suffix;
      s.fim_middle = kSentinels.middle;
      if (remote_.fim == FimMode::kInfill) s.fim_file_sep = kSentinels.file_sep;
      break;
    default: break;  // templates are found by has_special_token(); none has no FIM
  }
  return s;
}

bool RemoteGenerator::has_special_token(std::string_view text) const {
  switch (remote_.fim) {
    case FimMode::kSuffix:
    case FimMode::kChat:
      return text == kSentinels.prefix || text == kSentinels.suffix || text == kSentinels.middle;
    case FimMode::kInfill:
      return text == kSentinels.prefix || text == kSentinels.suffix || text == kSentinels.middle ||
             text == kSentinels.file_sep;
    case FimMode::kTemplate: {
      const Family* f = find_family(remote_.fim_family);
      if (!f) return false;
      if (text == f->prefix || text == f->suffix || text == f->middle) return true;
      if (*f->file_sep && text == f->file_sep) return true;
      return std::any_of(f->stops.begin(), f->stops.end(), [&](const char* s) { return text == s; });
    }
    default: return false;
  }
}

std::vector<std::pair<std::string, std::string>> RemoteGenerator::headers(bool stream) const {
  std::vector<std::pair<std::string, std::string>> h = {{"Content-Type", "application/json"}};
  if (stream) h.emplace_back("Accept", "text/event-stream");
  const std::string& env = remote_.config.api_key_env;
  if (!env.empty()) {
    if (const char* key = std::getenv(env.c_str()); key != nullptr && *key != '\0') {
      if (remote_.preset->auth == AuthStyle::kApiKeyHeader) {
        h.emplace_back("api-key", key);
      } else {
        h.emplace_back("Authorization", std::string("Bearer ") + key);
      }
    }
  }
  return h;
}

std::string RemoteGenerator::target(const std::string& endpoint) const {
  std::string t = base_.path + endpoint;
  std::string query = base_.query;
  if (!remote_.config.api_version.empty() && query.find("api-version=") == std::string::npos) {
    query += std::string(query.empty() ? "" : "&") + "api-version=" + remote_.config.api_version;
  }
  if (!query.empty()) t += "?" + query;
  return t;
}

Status RemoteGenerator::probe(const CancelToken& cancel) {
  if (!remote_.preset->list_models) return Status::ok_status();
  HttpRequest req;
  req.method = "GET";
  req.target = target("/models");
  req.headers = headers(false);
  HttpTimeouts t;
  t.connect_ms = std::min(remote_.config.connect_timeout_ms, 5000);
  t.read_ms = std::min(remote_.config.timeout_ms, 10000);
  auto r = client_->send(req, nullptr, t, cancel);
  if (!r.ok()) {
    if (r.error().code() == ErrorCode::kCancelled) return r.error();
    spdlog::warn("remote: {} (requests will try again)", r.error().message());
    return Status::ok_status();
  }
  if (r->status == 401 || r->status == 403) {
    const std::string& env = remote_.config.api_key_env;
    const bool set = !env.empty() && std::getenv(env.c_str()) != nullptr;
    return make_error(ErrorCode::kUnavailable,
                      base_.origin() + " refused the API key (HTTP " + std::to_string(r->status) + ": " +
                          error_message_from_body(r->body) + "); " +
                          (env.empty() ? std::string("no apiKeyEnv is configured")
                                       : "the key comes from $" + env + (set ? "" : ", which is not set")));
  }
  if (r->status < 200 || r->status >= 300) {
    spdlog::warn("remote: GET {} answered HTTP {}: {}", req.target, r->status, error_message_from_body(r->body));
    return Status::ok_status();
  }
  const Json j = Json::parse(r->body, nullptr, false);
  const Json* list = nullptr;
  if (j.is_array()) list = &j;
  if (j.is_object() && j.contains("data") && j["data"].is_array()) list = &j["data"];
  if (!list) return Status::ok_status();
  const Json* entry = nullptr;
  for (const Json& m : *list) {
    if (!m.is_object()) continue;
    const std::string id = m.value("id", "");
    if ((!model_.empty() && id == model_) || (model_.empty() && list->size() == 1)) entry = &m;
  }
  if (model_.empty() && entry) model_ = entry->value("id", "");
  if (entry) model_entry_ = *entry;
  if (!model_.empty() && !entry && !list->empty()) {
    std::string ids;
    for (const Json& m : *list) {
      if (m.is_object()) ids += std::string(ids.empty() ? "" : ", ") + m.value("id", "?");
    }
    spdlog::warn("remote: {} does not list the model '{}' (it serves: {})", base_.origin(), model_, ids);
  }
  if (entry && remote_.config.n_ctx <= 0) {
    // vLLM/SGLang: max_model_len; llama.cpp: meta.n_ctx_train; Together: context_length.
    int64_t n = 0;
    if (entry->contains("max_model_len") && (*entry)["max_model_len"].is_number_integer()) {
      n = (*entry)["max_model_len"].get<int64_t>();
    } else if (entry->contains("context_length") && (*entry)["context_length"].is_number_integer()) {
      n = (*entry)["context_length"].get<int64_t>();
    } else if (entry->contains("meta") && (*entry)["meta"].is_object() &&
               (*entry)["meta"].value("n_ctx_train", int64_t{0}) > 0) {
      n = (*entry)["meta"]["n_ctx_train"].get<int64_t>();
    }
    if (n > 0) n_ctx_ = static_cast<int>(std::min<int64_t>(n, 1 << 24));
  }
  return Status::ok_status();
}

Result<HttpResponse> RemoteGenerator::send_with_retries(const HttpRequest& request, const BodyFn& on_body,
                                                        bool& streamed, const CancelToken& cancel) {
  HttpTimeouts t;
  t.connect_ms = remote_.config.connect_timeout_ms;
  t.read_ms = remote_.config.timeout_ms;
  const int max_retries = remote_.config.max_retries;
  std::minstd_rand rng(static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  streamed = false;
  BodyFn wrapped;
  if (on_body) {
    wrapped = [&](std::string_view chunk) {
      streamed = true;
      return on_body(chunk);
    };
  }
  for (int attempt = 0;; ++attempt) {
    ++n_requests_;
    auto r = client_->send(request, wrapped, t, cancel);
    std::chrono::milliseconds wait{0};
    std::string why;
    if (!r.ok()) {
      if (r.error().code() != ErrorCode::kUnavailable || streamed || attempt >= max_retries) return r.error();
      // Only a connection that never got an answer is worth another try.
      const std::string& m = r.error().message();
      if (m.find("cannot connect") == std::string::npos && m.find("no connection") == std::string::npos) {
        return r.error();
      }
      wait = backoff_delay(attempt, jitter(rng));
      why = m;
    } else {
      const int s = r->status;
      const bool retryable = s == 429 || s == 500 || s == 502 || s == 503 || s == 504;
      if (!retryable || attempt >= max_retries) return r;
      why = "HTTP " + std::to_string(s) + " (" + error_message_from_body(r->body) + ")";
      if (auto ra = parse_retry_after(r->header("retry-after"), unix_now())) {
        wait = *ra;
        if (wait > std::chrono::seconds(120)) {
          return make_error(ErrorCode::kUnavailable, base_.origin() + " asks to wait " +
                                                         std::to_string(wait.count() / 1000) +
                                                         " s before trying again (" + why + ")");
        }
      } else {
        wait = backoff_delay(attempt, jitter(rng));
      }
    }
    ++n_retries_;
    spdlog::warn("remote: {}; retrying in {} ms ({}/{})", why, wait.count(), attempt + 1, max_retries);
    const auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until) {
      if (cancel.cancelled()) return make_error(ErrorCode::kCancelled, "request cancelled");
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          std::chrono::milliseconds(20), until - std::chrono::steady_clock::now()));
    }
  }
}

Json RemoteGenerator::sampling(const assist::GenerationOptions& options) const {
  Json b = Json::object();
  if (!model_.empty()) b["model"] = model_;
  b["temperature"] = options.temperature > 0 ? options.temperature : 0.0f;
  if (options.top_p < 1.0f) b["top_p"] = options.top_p;
  if (options.temperature > 0) b["seed"] = options.seed;
  b["stream"] = true;
  if (remote_.preset->auth != AuthStyle::kApiKeyHeader) b["stream_options"] = Json{{"include_usage", true}};
  return b;
}

std::vector<std::string> RemoteGenerator::stop_list(const assist::GenerationOptions& options) const {
  std::vector<std::string> stops;
  auto add = [&](const std::string& s) {
    if (!s.empty() && std::find(stops.begin(), stops.end(), s) == stops.end()) stops.push_back(s);
  };
  for (const auto& s : options.stop_strings) add(s);
  for (const auto& s : options.stop_special) add(as_text(remote_.fim_family, s));
  return stops;
}

Result<Generation> RemoteGenerator::generate(const assist::Prompt& prompt, const assist::GenerationOptions& options,
                                             const assist::StreamFn& on_piece, const CancelToken& cancel) {
  const std::vector<std::string> stops = stop_list(options);
  auto with_stops = [&](Json b) {
    std::vector<std::string> s = stops;
    if (remote_.preset->max_stop > 0 && static_cast<int>(s.size()) > remote_.preset->max_stop) {
      s.resize(remote_.preset->max_stop);  // the client's filter applies the rest
    }
    if (!s.empty()) b["stop"] = s;
    return b;
  };

  if (remote_.fim == FimMode::kTemplate) {
    const Family* f = find_family(remote_.fim_family);
    std::vector<std::string> controls;
    if (f) {
      for (const char* t : {f->prefix, f->suffix, f->middle, f->file_sep}) {
        if (*t) controls.push_back(as_text(f->name, t));
      }
      for (const char* t : f->stops) controls.push_back(as_text(f->name, t));
    }
    assist::Prompt p;
    for (const auto& part : prompt.parts) {
      if (part.kind == assist::PromptPart::Kind::kSpecial) {
        p.add_special(as_text(remote_.fim_family, part.text));
      } else {
        p.parts.push_back(part);
      }
    }
    Json b = with_stops(sampling(options));
    b["prompt"] = render_for_text_api(p, controls);
    b["max_tokens"] = options.max_tokens;
    if (remote_.preset->skip_special_tokens) b["skip_special_tokens"] = false;  // so that stop texts can match
    return run(Api::kCompletions, target("/completions"), std::move(b), stops, on_piece, cancel);
  }

  const std::vector<std::string> controls = {kSentinels.prefix, kSentinels.suffix, kSentinels.middle,
                                             kSentinels.file_sep};
  const bool server_fim =
      remote_.fim == FimMode::kSuffix || remote_.fim == FimMode::kInfill || remote_.fim == FimMode::kChat;
  std::optional<FimRequest> fim = server_fim ? split_fim_prompt(prompt, kSentinels) : std::nullopt;
  if (!remote_.preset->completions || (fim && remote_.fim == FimMode::kChat)) {
    return chat_fill(prompt, options, on_piece, cancel);
  }
  if (fim && remote_.fim == FimMode::kInfill) {
    // llama.cpp's /infill lives at the server's root, beside /v1.
    std::string root = base_.path;
    if (root.size() >= 3 && root.compare(root.size() - 3, 3, "/v1") == 0) root.resize(root.size() - 3);
    Json b = with_stops(sampling(options));
    b.erase("stream_options");
    b["input_prefix"] = fim->prefix;
    b["input_suffix"] = fim->suffix;
    Json extra = Json::array();
    for (const auto& [path, text] : fim->files) extra.push_back(Json{{"filename", path}, {"text", text}});
    b["input_extra"] = std::move(extra);
    b["n_predict"] = options.max_tokens;
    b["cache_prompt"] = true;
    return run(Api::kInfill, root + "/infill", std::move(b), stops, on_piece, cancel);
  }
  Json b = with_stops(sampling(options));
  b["max_tokens"] = options.max_tokens;
  if (fim) {
    b["prompt"] = fim->prefix;
    b["suffix"] = fim->suffix;
  } else {
    b["prompt"] = render_for_text_api(prompt, controls);
  }
  return run(Api::kCompletions, target("/completions"), std::move(b), stops, on_piece, cancel);
}

Result<Generation> RemoteGenerator::generate_tokens(const std::vector<int32_t>& tokens,
                                                    const std::vector<int32_t>& stop_ids,
                                                    const assist::GenerationOptions& options,
                                                    const assist::StreamFn& on_piece, const CancelToken& cancel) {
  Json b = sampling(options);
  b["prompt"] = tokens;
  b["max_tokens"] = options.max_tokens;
  if (!options.stop_strings.empty()) b["stop"] = options.stop_strings;
  if (!stop_ids.empty()) b["stop_token_ids"] = stop_ids;
  return run(Api::kCompletions, target("/completions"), std::move(b), options.stop_strings, on_piece, cancel);
}

Result<Generation> RemoteGenerator::chat_fill(const assist::Prompt& prompt, const assist::GenerationOptions& options,
                                              const assist::StreamFn& on_piece, const CancelToken& cancel) {
  std::vector<assist::ChatMessage> messages;
  if (auto fim = split_fim_prompt(prompt, kSentinels)) {
    std::string user;
    for (const auto& [path, text] : fim->files) user += "File " + path + ":\n" + text + "\n\n";
    if (!fim->path.empty()) user += "File " + fim->path + ":\n";
    user += fim->prefix + "<CURSOR>" + fim->suffix;
    messages = {{"system", kChatFillSystem}, {"user", user}};
  } else {
    messages = {{"system", "Continue the text the user sends. Reply with the continuation only."},
                {"user", prompt.render()}};
  }
  // The answer is collected whole: a fenced answer is unwrapped before anyone sees it.
  MOE_TRY(Generation g, chat(messages, options, nullptr, cancel));
  g.text = strip_fences(std::move(g.text));
  if (on_piece && !g.text.empty() && !on_piece(g.text)) g.finish = FinishReason::kCallback;
  return g;
}

Result<Generation> RemoteGenerator::chat(const std::vector<assist::ChatMessage>& messages,
                                         const assist::GenerationOptions& options, const assist::StreamFn& on_piece,
                                         const CancelToken& cancel) {
  Json b = sampling(options);
  std::vector<std::string> stops = stop_list(options);
  if (remote_.preset->max_stop > 0 && static_cast<int>(stops.size()) > remote_.preset->max_stop) {
    b["stop"] = std::vector<std::string>(stops.begin(), stops.begin() + remote_.preset->max_stop);
  } else if (!stops.empty()) {
    b["stop"] = stops;
  }
  Json msgs = Json::array();
  for (const auto& m : messages) msgs.push_back(Json{{"role", m.role}, {"content", m.content}});
  b["messages"] = std::move(msgs);
  b["max_tokens"] = options.max_tokens;
  return run(Api::kChat, target("/chat/completions"), std::move(b), stops, on_piece, cancel);
}

Result<Generation> RemoteGenerator::run(Api api, const std::string& target, Json body,
                                        const std::vector<std::string>& stops, const assist::StreamFn& on_piece,
                                        const CancelToken& cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  HttpRequest req;
  req.method = "POST";
  req.target = target;
  req.headers = headers(true);
  req.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);

  Generation g;
  g.finish = FinishReason::kStop;
  StopFilter filter(stops);
  SseParser sse;
  std::string raw;           // the body, while no event has come (a server that does not stream)
  bool any_event = false;
  bool by_callback = false;
  bool in_reasoning = false;
  bool first_piece = true;
  size_t n_pieces = 0;       // streamed pieces with text: about one token each
  std::string stream_error;
  double first_ms = 0;

  auto emit = [&](std::string_view text) -> bool {
    if (text.empty()) return true;
    ++n_pieces;
    if (first_piece) {
      first_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      first_piece = false;
    }
    const std::string out = filter.push(text);
    if (!out.empty()) {
      g.text += out;
      if (on_piece && !on_piece(out)) {
        by_callback = true;
        return false;
      }
    }
    if (filter.stopped()) {
      g.finish = FinishReason::kStop;
      return false;
    }
    return true;
  };
  auto take_usage = [&](const Json& u) {
    if (!u.is_object()) return;
    g.n_prompt_tokens = u.value("prompt_tokens", g.n_prompt_tokens);
    g.n_generated_tokens = u.value("completion_tokens", g.n_generated_tokens);
    if (u.contains("prompt_tokens_details") && u["prompt_tokens_details"].is_object()) {
      g.n_cached_tokens = u["prompt_tokens_details"].value("cached_tokens", g.n_cached_tokens);
    }
  };
  auto take_finish = [&](const Json& f) {
    if (f.is_string()) g.finish = f.get<std::string>() == "length" ? FinishReason::kLength : FinishReason::kStop;
  };
  // One chunk of the answer (a streamed event, or a whole non-streamed answer).
  auto on_json = [&](const Json& j) -> bool {
    if (!j.is_object()) return true;
    if (j.contains("error")) {
      stream_error = error_message_from_body(j.dump());
      return false;
    }
    if (api == Api::kInfill) {
      const bool cont = emit(j.value("content", ""));
      if (j.value("stop", false)) {
        const std::string type = j.value("stop_type", "");
        if (type == "limit") g.finish = FinishReason::kLength;
        g.n_generated_tokens = j.value("tokens_predicted", g.n_generated_tokens);
        g.n_prompt_tokens = j.value("tokens_evaluated", g.n_prompt_tokens);
        g.n_cached_tokens = j.value("tokens_cached", g.n_cached_tokens);
      }
      return cont;
    }
    if (j.contains("usage")) take_usage(j["usage"]);
    if (!j.contains("choices") || !j["choices"].is_array() || j["choices"].empty()) return true;
    const Json& c = j["choices"][0];
    if (!c.is_object()) return true;
    bool cont = true;
    if (api == Api::kChat) {
      const Json& d = c.contains("delta") ? c["delta"] : c.contains("message") ? c["message"] : Json::object();
      if (d.is_object()) {
        // R1-style reasoning arrives apart (reasoning_content): it becomes <think>...</think>,
        // which assist/ splits off as it does for a local model.
        for (const char* key : {"reasoning_content", "reasoning"}) {
          if (d.contains(key) && d[key].is_string() && !d[key].get<std::string>().empty()) {
            if (!in_reasoning) {
              in_reasoning = true;
              cont = cont && emit("<think>");
            }
            cont = cont && emit(d[key].get<std::string>());
          }
        }
        if (d.contains("content") && d["content"].is_string() && !d["content"].get<std::string>().empty()) {
          if (in_reasoning) {
            in_reasoning = false;
            cont = cont && emit("</think>");
          }
          cont = cont && emit(d["content"].get<std::string>());
        }
      }
    } else if (c.contains("text") && c["text"].is_string()) {
      cont = emit(c["text"].get<std::string>());
    }
    if (c.contains("finish_reason")) take_finish(c["finish_reason"]);
    return cont;
  };
  auto on_event = [&](const std::string&, const std::string& data) -> bool {
    any_event = true;
    if (data == "[DONE]") return true;
    const Json j = Json::parse(data, nullptr, false);
    if (j.is_discarded()) return true;  // not ours to judge: skip what is not JSON
    return on_json(j);
  };
  auto on_body = [&](std::string_view chunk) -> bool {
    if (!any_event && raw.size() < (size_t{8} << 20)) raw.append(chunk);
    return sse.feed(chunk, on_event);
  };

  bool streamed = false;
  auto resp = send_with_retries(req, on_body, streamed, cancel);
  if (!resp.ok()) {
    if (resp.error().code() == ErrorCode::kCancelled || cancel.cancelled()) {
      return make_error(ErrorCode::kCancelled, "generation cancelled");
    }
    return resp.error();
  }
  if (resp->status < 200 || resp->status >= 300) {
    std::string msg = "HTTP " + std::to_string(resp->status) + " from " + base_.origin() + target.substr(0, target.find('?')) +
                      ": " + error_message_from_body(resp->body);
    if (resp->status == 401 || resp->status == 403) {
      const std::string& env = remote_.config.api_key_env;
      msg += env.empty() ? " (no apiKeyEnv is configured)"
                         : " (the key comes from $" + env + (std::getenv(env.c_str()) ? ")" : ", which is not set)");
    }
    return make_error(ErrorCode::kUnavailable, msg);
  }
  if (!stream_error.empty()) return make_error(ErrorCode::kUnavailable, base_.origin() + ": " + stream_error);
  if (!any_event && !resp->stopped) {
    // A server that answered with one JSON object instead of a stream.
    const Json j = Json::parse(raw, nullptr, false);
    if (j.is_discarded()) return make_error(ErrorCode::kUnavailable, base_.origin() + " sent an answer that is not JSON");
    on_json(j);
    if (!stream_error.empty()) return make_error(ErrorCode::kUnavailable, base_.origin() + ": " + stream_error);
  }
  if (in_reasoning && !by_callback && !filter.stopped()) emit("</think>");
  if (!by_callback && !filter.stopped()) {
    const std::string tail = filter.flush();
    if (!tail.empty()) {
      g.text += tail;
      if (on_piece && !on_piece(tail)) by_callback = true;
    }
  }
  if (cancel.cancelled()) return make_error(ErrorCode::kCancelled, "generation cancelled");
  if (by_callback) g.finish = FinishReason::kCallback;
  const double total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  g.prompt_ms = first_piece ? total : first_ms;
  g.generate_ms = total - g.prompt_ms;
  if (g.n_prompt_tokens == 0) g.n_prompt_tokens = count_tokens(req.body);
  // Some servers report no completion tokens (llama-cpp-python's stream usage says 0): the
  // streamed pieces are the better count then (one token each on every server we know).
  if (g.n_generated_tokens == 0 && any_event) g.n_generated_tokens = static_cast<int>(n_pieces);
  return g;
}

}  // namespace moecode::remote
