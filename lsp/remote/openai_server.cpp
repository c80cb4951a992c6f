// The OpenAI-compatible API over the local engine (see openai_server.h).
#include "lsp/remote/openai_server.h"

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include "lsp/assist/local_generator.h"
#include "lsp/remote/openai_protocol.h"

namespace moecode::remote {

using Json = nlohmann::json;
using engine::Token;

namespace {

const char* kJson = "application/json";

std::string error_body(const std::string& message, const std::string& type, const std::string& code = "") {
  return Json{{"error", {{"message", message}, {"type", type}, {"param", nullptr}, {"code", code.empty() ? Json(nullptr) : Json(code)}}}}
      .dump(-1, ' ', false, Json::error_handler_t::replace);
}

void bad_request(const std::shared_ptr<Responder>& out, const std::string& message) {
  out->respond(400, kJson, error_body(message, "invalid_request_error"));
}

std::string finish_reason(engine::StopReason r) {
  switch (r) {
    case engine::StopReason::kMaxTokens:
    case engine::StopReason::kContextFull: return "length";
    default: return "stop";
  }
}

std::string dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

// Reads the sampling fields shared by both endpoints into `o`; "" or an error message.
std::string read_options(const Json& b, bool chat, int n_ctx, engine::GenerateOptions& o, bool& stream,
                         bool& include_usage) {
  auto number = [&](const char* key, double lo, double hi, double& out) -> std::string {
    auto it = b.find(key);
    if (it == b.end() || it->is_null()) return "";
    if (!it->is_number() || it->get<double>() < lo || it->get<double>() > hi) {
      return std::string("'") + key + "' must be a number in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]";
    }
    out = it->get<double>();
    return "";
  };
  double temperature = 1.0, top_p = 1.0, min_p = 0.0, rep = 1.0, pres = 0.0, freq = 0.0, top_k = 0, max_tokens = -1;
  for (auto [key, lo, hi, out] : {std::tuple<const char*, double, double, double*>{"temperature", 0, 5, &temperature},
                                  {"top_p", 0, 1, &top_p},
                                  {"min_p", 0, 1, &min_p},
                                  {"repetition_penalty", 0.01, 10, &rep},
                                  {"presence_penalty", -2, 2, &pres},
                                  {"frequency_penalty", -2, 2, &freq},
                                  {"top_k", -1, 1e9, &top_k},
                                  {"max_tokens", 0, 1e9, &max_tokens}}) {
    if (std::string e = number(key, lo, hi, *out); !e.empty()) return e;
  }
  if (chat) {
    if (std::string e = number("max_completion_tokens", 0, 1e9, max_tokens); !e.empty()) return e;
  }
  for (const char* unsupported : {"best_of", "n"}) {
    if (auto it = b.find(unsupported); it != b.end() && !it->is_null() && !(it->is_number_integer() && it->get<int>() == 1)) {
      return std::string("'") + unsupported + "' other than 1 is not supported";
    }
  }
  if (b.value("echo", false)) return "'echo' is not supported";
  if (auto it = b.find("logprobs"); it != b.end() && !it->is_null() && !(it->is_boolean() && !it->get<bool>())) {
    return "'logprobs' is not supported";
  }
  o.sampling.temperature = static_cast<float>(temperature);
  o.sampling.top_p = static_cast<float>(top_p);
  o.sampling.min_p = static_cast<float>(min_p);
  o.sampling.top_k = top_k > 0 ? static_cast<int>(top_k) : 0;
  o.sampling.repeat_penalty = static_cast<float>(rep);
  o.sampling.presence_penalty = static_cast<float>(pres);
  o.sampling.frequency_penalty = static_cast<float>(freq);
  if (auto it = b.find("seed"); it != b.end() && !it->is_null()) {
    if (!it->is_number_integer()) return "'seed' must be an integer";
    o.sampling.seed = static_cast<uint64_t>(it->get<int64_t>());
  } else {
    o.sampling.seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  // OpenAI: 16 tokens for a completion; a chat runs to the end of the context.
  o.max_tokens = max_tokens >= 0 ? static_cast<int>(max_tokens) : chat ? n_ctx : 16;
  if (auto it = b.find("stop"); it != b.end() && !it->is_null()) {
    if (it->is_string()) {
      o.stop_strings.push_back(it->get<std::string>());
    } else if (it->is_array()) {
      for (const Json& s : *it) {
        if (!s.is_string()) return "'stop' must be a string or an array of strings";
        if (!s.get<std::string>().empty()) o.stop_strings.push_back(s.get<std::string>());
      }
    } else {
      return "'stop' must be a string or an array of strings";
    }
  }
  if (auto it = b.find("stop_token_ids"); it != b.end() && !it->is_null()) {
    if (!it->is_array()) return "'stop_token_ids' must be an array of token ids";
    for (const Json& t : *it) {
      if (!t.is_number_integer()) return "'stop_token_ids' must be an array of token ids";
      o.stop_tokens.push_back(t.get<Token>());
    }
  }
  if (b.value("ignore_eos", false)) o.stop_at_end_of_generation = false;
  stream = b.value("stream", false);
  include_usage = false;
  if (auto it = b.find("stream_options"); it != b.end() && it->is_object()) include_usage = it->value("include_usage", false);
  return "";
}

Json usage_json(const engine::GenerateResult& r) {
  const int prompt = r.prompt.n_tokens;
  const int completion = static_cast<int>(r.tokens.size());
  return Json{{"prompt_tokens", prompt},
              {"completion_tokens", completion},
              {"total_tokens", prompt + completion},
              {"prompt_tokens_details", {{"cached_tokens", r.prompt.n_reused}}}};
}

}  // namespace

OpenAiServer::OpenAiServer(std::shared_ptr<engine::Model> model, std::shared_ptr<engine::BatchGenerator> batch,
                           OpenAiServerOptions options)
    : model_(std::move(model)), batch_(std::move(batch)), options_(std::move(options)) {
  if (options_.model_id.empty()) options_.model_id = model_->info().name.empty() ? "moecode" : model_->info().name;
  if (!options_.api_key_env.empty()) {
    if (const char* k = std::getenv(options_.api_key_env.c_str())) api_key_ = k;
  }
  created_ = static_cast<long long>(std::time(nullptr));
}

void OpenAiServer::handle(ServerRequest request, std::shared_ptr<Responder> out) {
  const std::string& path = request.path;
  if (path == "/health" || path == "/v1/health") {
    out->respond(200, kJson, R"({"status":"ok"})");
    return;
  }
  if (!api_key_.empty() && request.header("authorization") != "Bearer " + api_key_) {
    out->respond(401, kJson, error_body("invalid or missing API key", "invalid_request_error", "invalid_api_key"));
    return;
  }
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  if ((path == "/v1/models" || path == "/models") && get) return models(out);
  if ((path == "/v1/completions" || path == "/completions") && post) return completions(request, out, false);
  if ((path == "/v1/chat/completions" || path == "/chat/completions") && post) return completions(request, out, true);
  if (path == "/tokenize" && post) return tokenize(request, out);
  const bool known = path == "/v1/models" || path == "/v1/completions" || path == "/v1/chat/completions" ||
                     path == "/tokenize";
  out->respond(known ? 405 : 404, kJson,
               error_body(known ? request.method + " is not allowed on " + path : "no route " + path,
                          "invalid_request_error"));
}

void OpenAiServer::models(const std::shared_ptr<Responder>& out) {
  const auto& info = model_->info();
  Json m{{"id", options_.model_id},
         {"object", "model"},
         {"created", created_},
         {"owned_by", "moecode"},
         {"max_model_len", batch_->n_ctx()},
         {"meta", {{"n_ctx_train", info.n_ctx_train}, {"n_vocab", info.n_vocab}, {"n_params", info.n_params},
                   {"architecture", info.architecture}, {"name", info.name}, {"n_slots", batch_->n_slots()},
                   {"pid", static_cast<int>(::getpid())}}}};
  out->respond(200, kJson, dump(Json{{"object", "list"}, {"data", Json::array({m})}}));
}

void OpenAiServer::tokenize(const ServerRequest& request, const std::shared_ptr<Responder>& out) {
  const Json b = Json::parse(request.body, nullptr, false);
  if (!b.is_object() || !b.contains("content") || !b["content"].is_string()) {
    return bad_request(out, "expected {\"content\": \"text\"}");
  }
  const auto ids = model_->tokenizer().encode(b["content"].get<std::string>(), b.value("add_special", false),
                                              b.value("parse_special", true));
  out->respond(200, kJson, dump(Json{{"tokens", ids}}));
}

void OpenAiServer::completions(const ServerRequest& request, const std::shared_ptr<Responder>& out, bool chat) {
  const auto t0 = std::chrono::steady_clock::now();
  const Json b = Json::parse(request.body, nullptr, false);
  if (!b.is_object()) return bad_request(out, "the body must be a JSON object");
  const engine::Tokenizer& tok = model_->tokenizer();
  const int n_ctx = batch_->n_ctx();

  // The prompt's tokens.
  std::vector<Token> prompt;
  if (chat) {
    auto it = b.find("messages");
    if (it == b.end() || !it->is_array() || it->empty()) return bad_request(out, "'messages' must be a non-empty array");
    std::vector<engine::ChatMessage> messages;
    for (const Json& m : *it) {
      if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) {
        return bad_request(out, "each message needs a 'role' and a 'content'");
      }
      std::string content;
      const Json& c = m.contains("content") ? m["content"] : Json();
      if (c.is_string()) {
        content = c.get<std::string>();
      } else if (c.is_array()) {
        for (const Json& part : c) {
          if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string()) {
            content += part["text"].get<std::string>();
          } else {
            return bad_request(out, "only text content parts are supported");
          }
        }
      } else if (!c.is_null()) {
        return bad_request(out, "a message's 'content' must be a string or an array of text parts");
      }
      messages.push_back({m["role"].get<std::string>(), std::move(content)});
    }
    auto ids = assist::tokenize_prompt(tok, assist::render_chat_prompt(*model_, messages));
    if (!ids.ok()) return bad_request(out, ids.error().message());
    prompt = std::move(*ids);
  } else {
    Json p = b.contains("prompt") ? b["prompt"] : Json();
    if (p.is_array() && p.size() == 1 && (p[0].is_string() || p[0].is_array())) p = Json(p[0]);
    if (p.is_string()) {
      const std::string text = p.get<std::string>();
      const std::string suffix = b.contains("suffix") && b["suffix"].is_string() ? b["suffix"].get<std::string>() : "";
      if (b.contains("suffix") && !b["suffix"].is_null()) {
        // Fill-in-the-middle in the model's own format (its GGUF FIM tokens).
        const engine::SpecialTokens& s = tok.special();
        if (s.fim_pre == engine::kNoToken || s.fim_suf == engine::kNoToken || s.fim_mid == engine::kNoToken) {
          return bad_request(out, "'suffix': this model has no fill-in-the-middle tokens");
        }
        if (s.add_bos && s.bos != engine::kNoToken) prompt.push_back(s.bos);
        prompt.push_back(s.fim_pre);
        for (Token t : tok.encode(text, false, false)) prompt.push_back(t);
        prompt.push_back(s.fim_suf);
        for (Token t : tok.encode(suffix, false, false)) prompt.push_back(t);
        prompt.push_back(s.fim_mid);
      } else {
        prompt = tok.encode(text, /*add_special=*/true, /*parse_special=*/true);
      }
    } else if (p.is_array() && !p.empty() && p[0].is_number_integer()) {
      for (const Json& t : p) {
        if (!t.is_number_integer()) return bad_request(out, "'prompt' token ids must be integers");
        prompt.push_back(t.get<Token>());
      }
    } else if (p.is_array()) {
      return bad_request(out, "one prompt per request ('prompt' as a string or a list of token ids)");
    } else {
      return bad_request(out, "'prompt' must be a string or a list of token ids");
    }
  }
  if (prompt.empty()) return bad_request(out, "the prompt is empty");
  if (static_cast<int>(prompt.size()) >= n_ctx) {
    return bad_request(out, "the prompt is " + std::to_string(prompt.size()) + " tokens; the context holds " +
                                std::to_string(n_ctx) + " (prompt and answer)");
  }
  for (Token t : prompt) {
    if (t < 0 || t >= tok.n_vocab()) return bad_request(out, "token id " + std::to_string(t) + " is out of range");
  }

  engine::BatchRequest req;
  bool stream = false;
  bool include_usage = false;
  if (std::string e = read_options(b, chat, n_ctx, req.options, stream, include_usage); !e.empty()) {
    return bad_request(out, e);
  }
  req.options.max_tokens = std::min(req.options.max_tokens, n_ctx - static_cast<int>(prompt.size()));
  req.prompt = std::move(prompt);

  // Backpressure: every slot busy and the queue full.
  if (in_flight_.load() >= batch_->n_slots() + options_.max_queue) {
    out->respond(429, kJson, error_body("the server is busy: " + std::to_string(in_flight_.load()) + " requests in flight",
                                        "rate_limit_exceeded"),
                 {{"Retry-After", "1"}});
    return;
  }
  ++in_flight_;

  const std::string id = std::string(chat ? "chatcmpl-" : "cmpl-") + std::to_string(next_id_++);
  const std::string object = chat ? "chat.completion.chunk" : "text_completion";
  const Json head{{"id", id}, {"object", object}, {"created", static_cast<long long>(std::time(nullptr))},
                  {"model", options_.model_id}};
  auto chunk = [head, chat](const std::string& text, const Json& finish) {
    Json c = head;
    Json choice{{"index", 0}, {"logprobs", nullptr}, {"finish_reason", finish}};
    if (chat) {
      choice["delta"] = text.empty() && !finish.is_null() ? Json::object() : Json{{"content", text}};
    } else {
      choice["text"] = text;
    }
    c["choices"] = Json::array({choice});
    return dump(c);
  };

  engine::CancelToken cancel = req.cancel;
  out->on_disconnect([cancel] { cancel.cancel(); });
  if (stream) {
    out->start_stream(200, "text/event-stream");
    if (chat) {
      Json first = head;
      first["choices"] = Json::array({Json{{"index", 0}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                                           {"logprobs", nullptr}, {"finish_reason", nullptr}}});
      out->send(sse_data(dump(first)));
    }
    req.on_text = [out, chunk](std::string_view text, Token) {
      if (!text.empty()) out->send(sse_data(chunk(std::string(text), Json(nullptr))));
      return true;
    };
  }
  const std::string path = request.path;
  req.on_done = [this, out, stream, include_usage, chat, head, chunk, t0, path](Result<engine::GenerateResult> r) {
    --in_flight_;
    ++n_served_;
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!r.ok()) {
      spdlog::warn("http: POST {}: {}", path, r.error().message());
      if (stream) {
        out->send(sse_data(error_body(r.error().message(), "server_error")));
        out->end_stream();
      } else {
        out->respond(r.error().code() == ErrorCode::kOutOfRange ? 400 : 500, kJson,
                     error_body(r.error().message(), "server_error"));
      }
      return;
    }
    const engine::GenerateResult& g = *r;
    spdlog::info("http: POST {}: {} prompt tokens ({} cached), {} generated, {:.0f} ms, {}", path, g.prompt.n_tokens,
                 g.prompt.n_reused, g.tokens.size(), ms, engine::stop_reason_name(g.stop));
    if (g.stop == engine::StopReason::kCancelled) {
      if (stream) out->end_stream();
      return;  // the client is gone (or asked to stop): nothing to answer
    }
    const std::string fr = finish_reason(g.stop);
    if (stream) {
      out->send(sse_data(chunk("", Json(fr))));
      if (include_usage) {
        Json u = head;
        u["choices"] = Json::array();
        u["usage"] = usage_json(g);
        out->send(sse_data(dump(u)));
      }
      out->send(sse_data("[DONE]"));
      out->end_stream();
      return;
    }
    Json body = head;
    body["object"] = chat ? "chat.completion" : "text_completion";
    Json choice{{"index", 0}, {"logprobs", nullptr}, {"finish_reason", fr}};
    if (chat) {
      choice["message"] = Json{{"role", "assistant"}, {"content", g.text}};
    } else {
      choice["text"] = g.text;
    }
    body["choices"] = Json::array({choice});
    body["usage"] = usage_json(g);
    out->respond(200, kJson, dump(body));
  };
  batch_->submit(std::move(req));
}

}  // namespace moecode::remote
