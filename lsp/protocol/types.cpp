// LSP structures <-> JSON (see types.h).
#include "lsp/protocol/types.h"

#include <limits>

namespace moecode::protocol {

namespace {

Error type_error(const std::string& path, const char* expected, const Json& got) {
  return make_error(ErrorCode::kInvalidArgument,
                    path + ": expected " + expected + ", got " + json_type_name(got));
}

std::string child(const std::string& path, const char* key) { return path + "." + key; }
std::string child(const std::string& path, size_t index) { return path + "[" + std::to_string(index) + "]"; }

// obj[a][b]... present and an object (capability blocks).
const Json* object_at(const Json& obj, std::initializer_list<const char*> keys) {
  const Json* cur = &obj;
  for (const char* k : keys) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

bool bool_at(const Json& obj, std::initializer_list<const char*> keys) {
  const Json* v = object_at(obj, keys);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

Result<std::string> get_uri(const Json& params, const std::string& path) {
  MOE_TRY(const Json* td, get_field(params, "textDocument", path, true));
  if (!td->is_object()) return type_error(child(path, "textDocument"), "an object", *td);
  return get_string(*td, "uri", child(path, "textDocument"));
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const char* json_type_name(const Json& j) {
  switch (j.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::object: return "object";
    case Json::value_t::array: return "array";
    case Json::value_t::string: return "string";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer: return "integer";
    case Json::value_t::number_unsigned: return "unsigned integer";
    case Json::value_t::number_float: return "number";
    case Json::value_t::binary: return "binary";
    case Json::value_t::discarded: return "discarded";
  }
  return "unknown";
}

Result<const Json*> get_field(const Json& obj, const char* key, const std::string& path, bool required) {
  if (!obj.is_object()) return type_error(path, "an object", obj);
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return make_error(ErrorCode::kInvalidArgument, child(path, key) + ": missing");
    return static_cast<const Json*>(nullptr);
  }
  return &*it;
}

Result<std::string> get_string(const Json& obj, const char* key, const std::string& path) {
  MOE_TRY(const Json* f, get_field(obj, key, path, true));
  if (!f->is_string()) return type_error(child(path, key), "a string", *f);
  return f->get<std::string>();
}

Result<int64_t> get_int(const Json& obj, const char* key, const std::string& path) {
  MOE_TRY(const Json* f, get_field(obj, key, path, true));
  if (f->is_number_unsigned()) {
    if (f->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return make_error(ErrorCode::kInvalidArgument, child(path, key) + ": integer out of range");
    }
    return static_cast<int64_t>(f->get<uint64_t>());
  }
  if (!f->is_number_integer()) return type_error(child(path, key), "an integer", *f);
  return f->get<int64_t>();
}

Result<uint32_t> get_uint32(const Json& obj, const char* key, const std::string& path) {
  MOE_TRY(const Json* f, get_field(obj, key, path, true));
  if (!f->is_number_unsigned()) return type_error(child(path, key), "an unsigned integer", *f);
  const uint64_t v = f->get<uint64_t>();
  if (v > std::numeric_limits<uint32_t>::max()) {
    return make_error(ErrorCode::kInvalidArgument,
                      child(path, key) + ": " + std::to_string(v) + " is out of range (uinteger)");
  }
  return static_cast<uint32_t>(v);
}

Result<Position> decode_position(const Json& j, const std::string& path) {
  if (!j.is_object()) return type_error(path, "an object", j);
  MOE_TRY(uint32_t line, get_uint32(j, "line", path));
  MOE_TRY(uint32_t character, get_uint32(j, "character", path));
  return Position{line, character};
}

Result<Range> decode_range(const Json& j, const std::string& path) {
  if (!j.is_object()) return type_error(path, "an object", j);
  MOE_TRY(const Json* s, get_field(j, "start", path, true));
  MOE_TRY(const Json* e, get_field(j, "end", path, true));
  MOE_TRY(Position start, decode_position(*s, child(path, "start")));
  MOE_TRY(Position end, decode_position(*e, child(path, "end")));
  return Range{start, end};
}

Json encode(const Position& p) { return Json{{"line", p.line}, {"character", p.character}}; }
Json encode(const Range& r) { return Json{{"start", encode(r.start)}, {"end", encode(r.end)}}; }

Result<TextDocumentItem> decode_text_document_item(const Json& j, const std::string& path) {
  if (!j.is_object()) return type_error(path, "an object", j);
  TextDocumentItem item;
  MOE_TRY(item.uri, get_string(j, "uri", path));
  MOE_TRY(item.languageId, get_string(j, "languageId", path));
  MOE_TRY(item.version, get_int(j, "version", path));
  MOE_TRY(item.text, get_string(j, "text", path));
  return item;
}

Result<DidOpenTextDocumentParams> decode_did_open(const Json& params) {
  MOE_TRY(const Json* td, get_field(params, "textDocument", "params", true));
  MOE_TRY(TextDocumentItem item, decode_text_document_item(*td, "params.textDocument"));
  return DidOpenTextDocumentParams{std::move(item)};
}

Result<DidChangeTextDocumentParams> decode_did_change(const Json& params) {
  DidChangeTextDocumentParams out;
  MOE_TRY(const Json* td, get_field(params, "textDocument", "params", true));
  if (!td->is_object()) return type_error("params.textDocument", "an object", *td);
  MOE_TRY(out.textDocument.uri, get_string(*td, "uri", "params.textDocument"));
  MOE_TRY(out.textDocument.version, get_int(*td, "version", "params.textDocument"));
  MOE_TRY(const Json* changes, get_field(params, "contentChanges", "params", true));
  if (!changes->is_array()) return type_error("params.contentChanges", "an array", *changes);
  for (size_t i = 0; i < changes->size(); ++i) {
    const Json& c = (*changes)[i];
    const std::string path = child("params.contentChanges", i);
    if (!c.is_object()) return type_error(path, "an object", c);
    TextDocumentContentChangeEvent ev;
    MOE_TRY(ev.text, get_string(c, "text", path));
    MOE_TRY(const Json* range, get_field(c, "range", path, false));
    if (range != nullptr) {
      MOE_TRY(Range r, decode_range(*range, child(path, "range")));
      ev.range = r;
    }
    out.contentChanges.push_back(std::move(ev));
  }
  return out;
}

Result<DidCloseTextDocumentParams> decode_did_close(const Json& params) {
  MOE_TRY(std::string uri, get_uri(params, "params"));
  return DidCloseTextDocumentParams{std::move(uri)};
}

Result<DidSaveTextDocumentParams> decode_did_save(const Json& params) {
  DidSaveTextDocumentParams out;
  MOE_TRY(out.uri, get_uri(params, "params"));
  MOE_TRY(const Json* text, get_field(params, "text", "params", false));
  if (text != nullptr && !text->is_null()) {
    if (!text->is_string()) return type_error("params.text", "a string", *text);
    out.text = text->get<std::string>();
  }
  return out;
}

Result<TextDocumentPositionParams> decode_text_document_position(const Json& params) {
  TextDocumentPositionParams out;
  MOE_TRY(out.uri, get_uri(params, "params"));
  MOE_TRY(const Json* pos, get_field(params, "position", "params", true));
  MOE_TRY(out.position, decode_position(*pos, "params.position"));
  MOE_TRY(const Json* ctx, get_field(params, "context", "params", false));
  if (ctx != nullptr && !ctx->is_null()) {
    if (!ctx->is_object()) return type_error("params.context", "an object", *ctx);
    MOE_TRY(const Json* kind, get_field(*ctx, "triggerKind", "params.context", false));
    if (kind != nullptr) {
      if (!kind->is_number_unsigned()) return type_error("params.context.triggerKind", "an integer", *kind);
      out.triggerKind = static_cast<int>(kind->get<uint64_t>() & 0xff);
    }
  }
  return out;
}

Result<CodeActionParams> decode_code_action(const Json& params) {
  CodeActionParams out;
  MOE_TRY(out.uri, get_uri(params, "params"));
  MOE_TRY(const Json* range, get_field(params, "range", "params", true));
  MOE_TRY(out.range, decode_range(*range, "params.range"));
  MOE_TRY(const Json* ctx, get_field(params, "context", "params", true));
  if (!ctx->is_object()) return type_error("params.context", "an object", *ctx);
  MOE_TRY(const Json* diags, get_field(*ctx, "diagnostics", "params.context", true));
  if (!diags->is_array()) return type_error("params.context.diagnostics", "an array", *diags);
  for (size_t i = 0; i < diags->size(); ++i) {
    const Json& d = (*diags)[i];
    const std::string p = child("params.context.diagnostics", i);
    if (!d.is_object()) return type_error(p, "an object", d);
    Diagnostic diag;
    MOE_TRY(const Json* r, get_field(d, "range", p, true));
    MOE_TRY(diag.range, decode_range(*r, p + ".range"));
    MOE_TRY(diag.message, get_string(d, "message", p));
    if (const auto it = d.find("severity"); it != d.end() && it->is_number_integer()) diag.severity = it->get<int>();
    if (const auto it = d.find("source"); it != d.end() && it->is_string()) diag.source = it->get<std::string>();
    diag.raw = d;
    out.diagnostics.push_back(std::move(diag));
  }
  MOE_TRY(const Json* only, get_field(*ctx, "only", "params.context", false));
  if (only != nullptr && !only->is_null()) {
    if (!only->is_array()) return type_error("params.context.only", "an array", *only);
    for (const Json& k : *only) {
      if (k.is_string()) out.only.push_back(k.get<std::string>());
    }
  }
  return out;
}

Result<std::vector<WorkspaceFolder>> decode_workspace_folders(const Json& j, const std::string& path) {
  std::vector<WorkspaceFolder> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return type_error(path, "an array", j);
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string p = child(path, i);
    if (!j[i].is_object()) return type_error(p, "an object", j[i]);
    WorkspaceFolder f;
    MOE_TRY(f.uri, get_string(j[i], "uri", p));
    MOE_TRY(f.name, get_string(j[i], "name", p));
    out.push_back(std::move(f));
  }
  return out;
}

Result<InitializeParams> decode_initialize(const Json& params) {
  InitializeParams out;
  if (!params.is_object()) return type_error("params", "an object", params);
  MOE_TRY(const Json* pid, get_field(params, "processId", "params", false));
  if (pid != nullptr && !pid->is_null()) {
    MOE_TRY(int64_t v, get_int(params, "processId", "params"));
    out.processId = v;
  }
  MOE_TRY(const Json* root, get_field(params, "rootUri", "params", false));
  if (root != nullptr && !root->is_null()) {
    if (!root->is_string()) return type_error("params.rootUri", "a string or null", *root);
    out.rootUri = root->get<std::string>();
  }
  MOE_TRY(const Json* folders, get_field(params, "workspaceFolders", "params", false));
  if (folders != nullptr) {
    MOE_TRY(out.workspaceFolders, decode_workspace_folders(*folders, "params.workspaceFolders"));
  }
  MOE_TRY(const Json* caps, get_field(params, "capabilities", "params", false));
  if (caps != nullptr) {
    if (!caps->is_object()) return type_error("params.capabilities", "an object", *caps);
    ClientCapabilities& c = out.capabilities;
    if (const Json* enc = object_at(*caps, {"general", "positionEncodings"}); enc != nullptr) {
      if (!enc->is_array()) return type_error("params.capabilities.general.positionEncodings", "an array", *enc);
      for (const Json& e : *enc) {
        if (e.is_string()) c.positionEncodings.push_back(e.get<std::string>());
      }
    }
    c.workDoneProgress = bool_at(*caps, {"window", "workDoneProgress"});
    c.configuration = bool_at(*caps, {"workspace", "configuration"});
    c.workspaceFolders = bool_at(*caps, {"workspace", "workspaceFolders"});
    c.applyEdit = bool_at(*caps, {"workspace", "applyEdit"});
    c.inlineCompletion = object_at(*caps, {"textDocument", "inlineCompletion"}) != nullptr;
    const auto has_string = [](const Json* list, std::string_view what) {
      if (list == nullptr || !list->is_array()) return false;
      for (const Json& e : *list) {
        if (e.is_string() && e.get<std::string>() == what) return true;
      }
      return false;
    };
    c.codeActionResolve =
        has_string(object_at(*caps, {"textDocument", "codeAction", "resolveSupport", "properties"}), "edit");
    c.documentChanges = bool_at(*caps, {"workspace", "workspaceEdit", "documentChanges"});
    c.createFiles = has_string(object_at(*caps, {"workspace", "workspaceEdit", "resourceOperations"}), "create");
  }
  MOE_TRY(const Json* opts, get_field(params, "initializationOptions", "params", false));
  if (opts != nullptr) out.initializationOptions = *opts;
  MOE_TRY(const Json* trace, get_field(params, "trace", "params", false));
  if (trace != nullptr && !trace->is_null()) {
    if (!trace->is_string()) return type_error("params.trace", "a string", *trace);
    out.trace = trace->get<std::string>();
  }
  if (const Json* name = object_at(params, {"clientInfo", "name"}); name != nullptr && name->is_string()) {
    out.clientName = name->get<std::string>();
  }
  return out;
}

Result<WorkspaceFoldersChangeEvent> decode_did_change_workspace_folders(const Json& params) {
  MOE_TRY(const Json* ev, get_field(params, "event", "params", true));
  if (!ev->is_object()) return type_error("params.event", "an object", *ev);
  WorkspaceFoldersChangeEvent out;
  MOE_TRY(const Json* added, get_field(*ev, "added", "params.event", true));
  MOE_TRY(const Json* removed, get_field(*ev, "removed", "params.event", true));
  MOE_TRY(out.added, decode_workspace_folders(*added, "params.event.added"));
  MOE_TRY(out.removed, decode_workspace_folders(*removed, "params.event.removed"));
  return out;
}

Result<ExecuteCommandParams> decode_execute_command(const Json& params) {
  ExecuteCommandParams out;
  MOE_TRY(out.command, get_string(params, "command", "params"));
  MOE_TRY(const Json* args, get_field(params, "arguments", "params", false));
  if (args != nullptr && !args->is_null()) {
    if (!args->is_array()) return type_error("params.arguments", "an array", *args);
    out.arguments = *args;
  }
  return out;
}

Json encode_inline_completion_list(const std::vector<InlineCompletionItem>& items) {
  Json arr = Json::array();
  for (const auto& item : items) {
    arr.push_back(Json{{"insertText", item.insertText}, {"range", encode(item.range)}});
  }
  return Json{{"items", std::move(arr)}};
}

Json encode_completion_list(const std::vector<CompletionItem>& items) {
  Json arr = Json::array();
  for (const auto& item : items) {
    Json j{{"label", item.label},
           {"kind", 1},                 // CompletionItemKind.Text
           {"insertTextFormat", 1},     // PlainText
           {"filterText", item.filterText},
           {"sortText", "0"},
           {"preselect", true},
           {"textEdit", Json{{"range", encode(item.range)}, {"newText", item.newText}}}};
    if (!item.detail.empty()) j["detail"] = item.detail;
    if (!item.documentation.empty()) {
      j["documentation"] = Json{{"kind", "markdown"},
                                {"value", "```" + item.languageId + "\n" + item.documentation + "\n```"}};
    }
    arr.push_back(std::move(j));
  }
  return Json{{"isIncomplete", true}, {"items", std::move(arr)}};
}

Json encode_message(MessageType type, const std::string& message) {
  return Json{{"type", static_cast<int>(type)}, {"message", message}};
}

std::optional<std::string> uri_to_path(const std::string& uri) {
  constexpr std::string_view kScheme = "file://";
  if (uri.compare(0, kScheme.size(), kScheme) != 0) return std::nullopt;
  std::string rest = uri.substr(kScheme.size());
  // file://host/path: only an empty host or "localhost" names a local path.
  const size_t slash = rest.find('/');
  if (slash == std::string::npos) return std::nullopt;
  const std::string host = rest.substr(0, slash);
  if (!host.empty() && host != "localhost") return std::nullopt;
  rest = rest.substr(slash);
  std::string out;
  out.reserve(rest.size());
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '%' && i + 2 < rest.size()) {
      const int hi = hex_value(rest[i + 1]);
      const int lo = hex_value(rest[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += rest[i];
  }
  return out;
}

std::string path_to_uri(const std::string& path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out = "file://";
  for (unsigned char c : path) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
    if (keep) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace moecode::protocol
