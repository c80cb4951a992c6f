// Code actions, fixes, rewrites and translation for LspServer (see server.h): the editor side of
// lsp/assist's Fixer and Translator.
//   textDocument/codeAction  offers "Fix with moecode" (quickfix) for each diagnostic of the
//                            request and "Rewrite selection with moecode" (refactor.rewrite) for a
//                            selection; nothing runs yet: the model runs in codeAction/resolve.
//                            Clients that cannot resolve edits get the same action as a command.
//   codeAction/resolve       runs the fix on the engine's worker; the action comes back with a
//                            versioned WorkspaceEdit (a minimal diff of the enclosing definition).
//   moecode.fix / .rewrite   the same, applied through workspace/applyEdit.
//   moecode.translate        translates a document into a new file next to it (inside a
//                            workspace folder only), created through workspace/applyEdit.
// Every handler runs on the I/O thread; model work runs as scheduler jobs whose answers are
// posted back, and a result for a document version that is no longer current is refused.
#include <filesystem>
#include <fstream>
#include <iterator>

#include <spdlog/spdlog.h>

#include "lsp/assist/fix.h"
#include "lsp/assist/translate.h"
#include "lsp/protocol/position.h"
#include "lsp/server/redacting_generator.h"
#include "lsp/server/server.h"
#include "lsp/workspace/paths.h"

namespace moecode::server {

using jsonrpc::ErrorCode;
using jsonrpc::Reply;
using jsonrpc::RequestContext;
using protocol::Json;
using protocol::MessageType;

namespace {

constexpr const char* kDefaultRewrite =
    "make it clearer and simpler, fix any bug you see, and keep its behaviour and its interface";
constexpr size_t kMaxFixActions = 5;  // diagnostics offered a fix per request

bool wanted(const std::vector<std::string>& only, const std::string& kind) {
  if (only.empty()) return true;
  for (const std::string& k : only) {
    // "refactor" asks for "refactor.rewrite" too (kinds are hierarchical).
    if (kind == k || kind.starts_with(k + ".")) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> LspServer::folder_paths() const {
  std::vector<std::string> out;
  for (const auto& f : folders_) {
    if (auto p = protocol::uri_to_path(f.uri)) out.push_back(*p);
  }
  return out;
}

void LspServer::on_code_action(const Json& params, Reply reply) {
  auto p = protocol::decode_code_action(params);
  if (!p.ok()) {
    reply.error(ErrorCode::kInvalidParams, p.error().message());
    return;
  }
  auto doc = documents_.get(p->uri);
  if (!doc) {
    reply.error(ErrorCode::kInvalidParams, "document not open: " + p->uri);
    return;
  }
  Json actions = Json::array();
  auto offer = [&](const std::string& title, const std::string& kind, Json data, Json diagnostics) {
    Json a{{"title", title}, {"kind", kind}, {"data", data}};
    if (!diagnostics.is_null()) a["diagnostics"] = std::move(diagnostics);
    if (!client_.codeActionResolve) {
      // No lazy edits: the action runs the command, which applies the edit when it is ready.
      a["command"] = Json{{"title", title}, {"command", "moecode.fix"}, {"arguments", Json::array({data})}};
    }
    actions.push_back(std::move(a));
  };
  // Nothing to offer without a model (none configured, or it failed to load) or for a language
  // the user turned off. While the model loads, actions are offered: they run once it is there.
  const bool model = status_.model_state == "ready" || status_.model_state == "loading";
  if (!config_.language_enabled(doc->language_id) || !model || is_secret_document(p->uri)) {
    reply.result(actions);
    return;
  }
  if (wanted(p->only, "quickfix")) {
    for (size_t i = 0; i < p->diagnostics.size() && i < kMaxFixActions; ++i) {
      const protocol::Diagnostic& d = p->diagnostics[i];
      std::string first = d.message.substr(0, d.message.find('\n'));
      if (first.size() > 60) first = first.substr(0, 57) + "...";
      Json data{{"uri", p->uri}, {"version", doc->version}, {"kind", "fix"},
                {"range", protocol::encode(d.range)}, {"message", d.message}};
      offer("Fix with moecode: " + first, "quickfix", std::move(data), Json::array({d.raw}));
    }
  }
  const bool selection = p->range.start.line != p->range.end.line || p->range.start.character != p->range.end.character;
  if (selection && wanted(p->only, "refactor.rewrite")) {
    Json data{{"uri", p->uri}, {"version", doc->version}, {"kind", "rewrite"},
              {"range", protocol::encode(p->range)}, {"instruction", kDefaultRewrite}};
    offer("Rewrite selection with moecode", "refactor.rewrite", std::move(data), Json());
  }
  reply.result(actions);
}

void LspServer::on_code_action_resolve(const Json& params, Reply reply, const RequestContext& ctx) {
  if (!params.is_object() || !params.contains("data") || !params["data"].is_object()) {
    reply.error(ErrorCode::kInvalidParams, "codeAction/resolve: expected a code action with its data");
    return;
  }
  auto holder = std::make_shared<Reply>(std::move(reply));
  std::weak_ptr<LspServer> weak = weak_from_this();
  start_fix(params["data"], ctx, [weak, holder, action = params](Result<Json> edit, std::string) mutable {
    if (holder->done()) return;
    if (!edit.ok()) {
      // Editors say nothing when a resolve fails: the user is told why here (commands answer
      // with the error, which their clients show).
      if (auto self = weak.lock(); self && edit.error().code() == moecode::ErrorCode::kUnavailable) {
        self->show_message(MessageType::kWarning, "moecode could not fix this: " + edit.error().message());
      }
      const auto code = edit.error().code() == moecode::ErrorCode::kCancelled ? ErrorCode::kRequestCancelled
                        : edit.error().code() == moecode::ErrorCode::kOutOfRange ? ErrorCode::kContentModified
                                                                                  : ErrorCode::kRequestFailed;
      holder->error(code, edit.error().message());
      return;
    }
    action["edit"] = std::move(*edit);
    holder->result(std::move(action));
  });
}

void LspServer::start_fix(const Json& data, const RequestContext& ctx,
                          std::function<void(Result<Json>, std::string)> done) {
  auto bad = [&](const std::string& why) {
    done(make_error(moecode::ErrorCode::kInvalidArgument, "moecode fix: " + why), "");
  };
  if (!data.is_object() || !data.value("uri", Json()).is_string() || !data.contains("range")) {
    return bad("expected {uri, version, range, message | instruction}");
  }
  const std::string uri = data["uri"].get<std::string>();
  auto doc = documents_.get(uri);
  if (!doc) return bad("document not open: " + uri);
  if (is_secret_document(uri)) return bad(uri + " is a secret file: nothing of it goes to a model");
  if (data.contains("version") && data["version"].is_number_integer() &&
      data["version"].get<int64_t>() != doc->version) {
    done(make_error(moecode::ErrorCode::kOutOfRange, "the document changed since the action was offered"), "");
    return;
  }
  auto range = protocol::decode_range(data["range"], "data.range");
  if (!range.ok()) return bad(range.error().message());
  const protocol::LineIndex lines(*doc->text);
  auto start = protocol::to_offset(*doc->text, lines, range->start, encoding_);
  auto end = protocol::to_offset(*doc->text, lines, range->end, encoding_);
  if (!start.ok() || !end.ok() || *end < *start) return bad("the range is not in the document");

  assist::FixRequest req;
  req.uri = uri;
  req.path = protocol::uri_to_path(uri).value_or("");
  for (const std::string& folder : folder_paths()) {  // prompts name the file relative to its folder
    if (!req.path.empty() && req.path.starts_with(folder + "/")) req.display_path = req.path.substr(folder.size() + 1);
  }
  req.language_id = doc->language_id;
  req.text = doc->text;
  req.start = *start;
  req.end = *end;
  req.message = data.value("message", std::string());
  req.instruction = data.value("instruction", std::string());
  req.rewrite_selection = data.value("kind", std::string()) == "rewrite";
  req.temperature = config_.temperature;

  std::weak_ptr<LspServer> weak = weak_from_this();
  jsonrpc::Executor* loop = &loop_;
  EngineHost* host = &host_;
  auto snapshot = *doc;
  const bool versioned = client_.documentChanges;
  const uint64_t job = host_.scheduler().submit(
      assist::Priority::kCommand,
      [weak, loop, host, req = std::move(req), snapshot, versioned, done = std::move(done)](
          const engine::CancelToken& token, bool dropped) mutable {
        Result<assist::FixResult> r = make_error(moecode::ErrorCode::kCancelled, "fix cancelled");
        if (!dropped && !token.cancelled()) {
          if (assist::Generator* g = host->generator()) {
            assist::Fixer fixer(*g, host->context_provider());
            r = fixer.fix(req, token);
          } else {
            r = make_error(moecode::ErrorCode::kUnavailable, "no model: " + host->describe());
          }
        }
        loop->post([weak, r = std::move(r), snapshot, versioned, done = std::move(done)]() mutable {
          auto self = weak.lock();
          if (!self) return;
          if (!r.ok()) {
            done(r.error(), "");
            return;
          }
          const auto version = self->documents_.version(snapshot.uri);
          if (!version || *version != snapshot.version) {
            done(make_error(moecode::ErrorCode::kOutOfRange, "the document changed while the fix was computed"), "");
            return;
          }
          const std::string& text = *snapshot.text;
          const protocol::LineIndex lines(text);
          Json edits = Json::array();
          for (const assist::TextEdit& e : r->edits) {
            const protocol::Range range{protocol::to_position(text, lines, e.start, self->encoding_),
                                        protocol::to_position(text, lines, e.end, self->encoding_)};
            edits.push_back(Json{{"range", protocol::encode(range)}, {"newText", e.new_text}});
          }
          Json edit = versioned ? Json{{"documentChanges", Json::array({Json{
                                                              {"textDocument", {{"uri", snapshot.uri}, {"version", snapshot.version}}},
                                                              {"edits", edits}}})}}
                                : Json{{"changes", {{snapshot.uri, edits}}}};
          self->trace("fix: " + r->title + " (" + r->target + ", " + std::to_string(r->edits.size()) + " edits, " +
                      std::to_string(r->n_attempts) + " attempts)");
          // A reasoning model's <think> text never reaches the edit; the log keeps it.
          if (!r->reasoning.empty()) spdlog::info("fix: the model's reasoning (not in the edit):\n{}", r->reasoning);
          done(std::move(edit), r->title);
        });
      },
      ctx.cancel());
  ctx.on_cancel([host, job] { host->scheduler().cancel(job); });
}

void LspServer::apply_edit(const std::string& label, Json edit, Reply reply, Json extra) {
  if (!client_.applyEdit) {
    reply.error(ErrorCode::kRequestFailed, "the client does not support workspace/applyEdit");
    return;
  }
  auto holder = std::make_shared<Reply>(std::move(reply));
  endpoint_->call("workspace/applyEdit", Json{{"label", label}, {"edit", std::move(edit)}},
                  [holder, extra = std::move(extra)](jsonrpc::Response resp) mutable {
                    if (resp.error) {
                      holder->error(ErrorCode::kRequestFailed, "workspace/applyEdit failed: " + resp.error->message);
                      return;
                    }
                    extra["applied"] = resp.result.is_object() && resp.result.value("applied", false);
                    if (resp.result.is_object() && resp.result.contains("failureReason")) {
                      extra["failureReason"] = resp.result["failureReason"];
                    }
                    holder->result(std::move(extra));
                  });
}

void LspServer::start_translate(const Json& args, Reply reply, const RequestContext& ctx) {
  // [{"textDocument": {"uri"}, "to": "javascript", "output"?: uri, "overwrite"?: bool}]
  if (!args.is_object() || !args.contains("to") || !args["to"].is_string()) {
    reply.error(ErrorCode::kInvalidParams, "moecode.translate: expected [{textDocument: {uri}, to, output?}]");
    return;
  }
  auto uri = protocol::get_string(args.value("textDocument", Json::object()), "uri", "arguments[0].textDocument");
  if (!uri.ok()) {
    reply.error(ErrorCode::kInvalidParams, "moecode.translate: " + uri.error().message());
    return;
  }
  auto doc = documents_.get(*uri);
  if (!doc) {
    reply.error(ErrorCode::kInvalidParams, "document not open: " + *uri);
    return;
  }
  if (is_secret_document(*uri)) {
    reply.error(ErrorCode::kInvalidParams, "moecode.translate: " + *uri + " is a secret file: nothing of it goes to a model");
    return;
  }
  const std::string to = args["to"].get<std::string>();
  const std::string grammar = assist::target_grammar(to);
  if (grammar.empty()) {
    reply.error(ErrorCode::kInvalidParams, "moecode.translate: no grammar for the target language '" + to + "'");
    return;
  }
  const auto source = protocol::uri_to_path(*uri);
  std::string wanted;
  if (args.contains("output") && args["output"].is_string()) {
    auto out = protocol::uri_to_path(args["output"].get<std::string>());
    if (!out) {
      reply.error(ErrorCode::kInvalidParams, "moecode.translate: output must be a file: URI");
      return;
    }
    wanted = *out;
  } else if (source) {
    wanted = std::filesystem::path(*source).replace_extension(assist::language_extension(grammar)).string();
  } else {
    reply.error(ErrorCode::kInvalidParams, "moecode.translate: the document has no file; give an output URI");
    return;
  }
  // Inside a workspace folder only (after "..", and symbolic links that exist).
  auto out_path = workspace::path_inside_any(folder_paths(), wanted);
  if (!out_path.ok()) {
    reply.error(ErrorCode::kInvalidParams, "moecode.translate: " + out_path.error().message());
    return;
  }
  std::error_code ec;
  const bool overwrite = args.value("overwrite", false);
  if (std::filesystem::exists(*out_path, ec) && !overwrite) {
    reply.error(ErrorCode::kInvalidParams,
                "moecode.translate: " + *out_path + " exists (pass \"overwrite\": true to replace it)");
    return;
  }
  if (!client_.applyEdit || !client_.documentChanges || !client_.createFiles) {
    reply.error(ErrorCode::kRequestFailed,
                "moecode.translate needs a client that creates files through workspace/applyEdit "
                "(workspaceEdit.documentChanges and resourceOperations \"create\"); use `moecode translate`");
    return;
  }

  assist::TranslateRequest req;
  req.path = source.value_or(*uri);
  req.language_id = doc->language_id;
  req.text = *doc->text;
  req.target = to;
  req.temperature = config_.temperature;
  std::string token;
  if (client_.workDoneProgress) {
    token = "moecode/translate/" + std::to_string(++n_progress_tokens_);
    endpoint_->call("window/workDoneProgress/create", Json{{"token", token}}, [](jsonrpc::Response) {});
    endpoint_->notify("$/progress", Json{{"token", token},
                                         {"value", {{"kind", "begin"}, {"title", "moecode: translating"}, {"cancellable", false}}}});
  }
  auto holder = std::make_shared<Reply>(std::move(reply));
  std::weak_ptr<LspServer> weak = weak_from_this();
  jsonrpc::Executor* loop = &loop_;
  EngineHost* host = &host_;
  auto ep = endpoint_;
  const std::string out_uri = protocol::path_to_uri(*out_path);
  const uint64_t job = host_.scheduler().submit(
      assist::Priority::kCommand,
      [weak, loop, host, holder, req = std::move(req), token, ep, out_uri, overwrite](const engine::CancelToken& cancel,
                                                                                       bool dropped) {
        Result<assist::TranslateResult> r = make_error(moecode::ErrorCode::kCancelled, "translation cancelled");
        if (!dropped && !cancel.cancelled()) {
          if (assist::Generator* g = host->generator()) {
            assist::Translator translator(*g);
            r = translator.translate(req, cancel, [&](size_t i, size_t n, const assist::TranslatedUnit& u) {
              if (token.empty()) return;
              ep->notify("$/progress", Json{{"token", token},
                                            {"value", {{"kind", "report"},
                                                       {"message", u.kind + " " + u.name},
                                                       {"percentage", static_cast<int>(100 * i / std::max<size_t>(n, 1))}}}});
            });
          } else {
            r = make_error(moecode::ErrorCode::kUnavailable, "no model: " + host->describe());
          }
        }
        if (!token.empty()) ep->notify("$/progress", Json{{"token", token}, {"value", {{"kind", "end"}}}});
        loop->post([weak, holder, r = std::move(r), out_uri, overwrite]() mutable {
          auto self = weak.lock();
          if (!self || holder->done()) return;
          if (!r.ok()) {
            holder->error(r.error().code() == moecode::ErrorCode::kCancelled ? ErrorCode::kRequestCancelled
                                                                              : ErrorCode::kRequestFailed,
                          "moecode.translate: " + r.error().message());
            return;
          }
          if (!r->reasoning.empty()) spdlog::info("translate: the model's reasoning (not in the file):\n{}", r->reasoning);
          std::string code = r->code;
          if (!code.empty() && code.back() != '\n') code += '\n';
          Json units = Json::array();
          for (const auto& u : r->units) {
            units.push_back(Json{{"kind", u.kind}, {"name", u.name}, {"firstLine", u.first_line},
                                 {"lastLine", u.last_line}, {"ok", u.ok}, {"error", u.error}});
          }
          // A new file is created, then filled; a file being replaced keeps its identity and
          // gets its whole current text (the editor's copy when it is open) replaced.
          Json changes = Json::array();
          protocol::Range whole{};
          std::error_code ec;
          const auto out_path = protocol::uri_to_path(out_uri).value_or("");
          if (overwrite && std::filesystem::exists(out_path, ec)) {
            std::string current;
            if (auto open = self->documents_.get(out_uri)) {
              current = *open->text;
            } else {
              std::ifstream in(out_path, std::ios::binary);
              current.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
            }
            whole.end = protocol::to_position(current, current.size(), self->encoding_);
          } else {
            changes.push_back(Json{{"kind", "create"},
                                   {"uri", out_uri},
                                   {"options", {{"overwrite", overwrite}, {"ignoreIfExists", false}}}});
          }
          changes.push_back(Json{{"textDocument", {{"uri", out_uri}, {"version", nullptr}}},
                                 {"edits", Json::array({Json{{"range", protocol::encode(whole)}, {"newText", code}}})}});
          Json edit{{"documentChanges", std::move(changes)}};
          Json extra{{"uri", out_uri}, {"units", units}, {"failed", r->n_failed}, {"parses", r->syntax.clean()}};
          self->apply_edit("moecode: translate to " + r->target_grammar, std::move(edit), std::move(*holder),
                           std::move(extra));
        });
      },
      ctx.cancel());
  ctx.on_cancel([host, job] { host->scheduler().cancel(job); });
}

}  // namespace moecode::server
