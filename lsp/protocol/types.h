// LSP structures the server uses, and their JSON forms (nlohmann/json). Decoding checks every
// field's type and returns an error that names the field's path ("params.position.line:
// expected an unsigned integer, got string"), never throws. Field names keep the spec's
// camelCase. Plain data and pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsp/protocol/position.h"
#include "moecode/engine/result.h"

namespace moecode::protocol {

using Json = nlohmann::json;

// ---- decoding helpers: `path` names the value for error messages ------------------------

// The JSON type name for messages: "object", "string", "unsigned integer"...
const char* json_type_name(const Json& j);

Result<const Json*> get_field(const Json& obj, const char* key, const std::string& path, bool required);
Result<std::string> get_string(const Json& obj, const char* key, const std::string& path);
Result<int64_t> get_int(const Json& obj, const char* key, const std::string& path);
Result<uint32_t> get_uint32(const Json& obj, const char* key, const std::string& path);

// ---- basic structures ------------------------------------------------------------------

Result<Position> decode_position(const Json& j, const std::string& path);
Result<Range> decode_range(const Json& j, const std::string& path);
Json encode(const Position& p);
Json encode(const Range& r);

struct TextDocumentItem {
  std::string uri;
  std::string languageId;
  int64_t version = 0;
  std::string text;
};
Result<TextDocumentItem> decode_text_document_item(const Json& j, const std::string& path);

struct VersionedTextDocumentIdentifier {
  std::string uri;
  int64_t version = 0;
};

struct TextDocumentContentChangeEvent {
  std::optional<Range> range;  // absent: `text` is the whole document
  std::string text;
};

struct DidOpenTextDocumentParams {
  TextDocumentItem textDocument;
};
struct DidChangeTextDocumentParams {
  VersionedTextDocumentIdentifier textDocument;
  std::vector<TextDocumentContentChangeEvent> contentChanges;
};
struct DidCloseTextDocumentParams {
  std::string uri;
};
struct DidSaveTextDocumentParams {
  std::string uri;
  std::optional<std::string> text;
};

Result<DidOpenTextDocumentParams> decode_did_open(const Json& params);
Result<DidChangeTextDocumentParams> decode_did_change(const Json& params);
Result<DidCloseTextDocumentParams> decode_did_close(const Json& params);
Result<DidSaveTextDocumentParams> decode_did_save(const Json& params);

// textDocument/inlineCompletion and textDocument/completion share this shape (their
// `context` differs; we read its triggerKind only).
struct TextDocumentPositionParams {
  std::string uri;
  Position position;
  // InlineCompletionTriggerKind (1 invoked, 2 automatic) or CompletionTriggerKind
  // (1 invoked, 2 trigger character, 3 incomplete); 0 when absent.
  int triggerKind = 0;
};
Result<TextDocumentPositionParams> decode_text_document_position(const Json& params);

// ---- initialize ------------------------------------------------------------------------

struct WorkspaceFolder {
  std::string uri;
  std::string name;
};

// What the server reads of ClientCapabilities.
struct ClientCapabilities {
  std::vector<std::string> positionEncodings;  // general.positionEncodings
  bool workDoneProgress = false;               // window.workDoneProgress
  bool showMessage = true;
  bool configuration = false;                  // workspace.configuration
  bool workspaceFolders = false;               // workspace.workspaceFolders
  bool applyEdit = false;                      // workspace.applyEdit
  bool inlineCompletion = false;               // textDocument.inlineCompletion present
  bool codeActionResolve = false;  // textDocument.codeAction.resolveSupport.properties has "edit"
  bool documentChanges = false;    // workspace.workspaceEdit.documentChanges
  bool createFiles = false;        // workspace.workspaceEdit.resourceOperations has "create"
};

struct InitializeParams {
  std::optional<int64_t> processId;
  std::optional<std::string> rootUri;
  std::vector<WorkspaceFolder> workspaceFolders;
  ClientCapabilities capabilities;
  Json initializationOptions;  // null when absent
  std::string trace = "off";
  std::string clientName;
};
Result<InitializeParams> decode_initialize(const Json& params);

Result<std::vector<WorkspaceFolder>> decode_workspace_folders(const Json& j, const std::string& path);

struct WorkspaceFoldersChangeEvent {
  std::vector<WorkspaceFolder> added;
  std::vector<WorkspaceFolder> removed;
};
Result<WorkspaceFoldersChangeEvent> decode_did_change_workspace_folders(const Json& params);

struct ExecuteCommandParams {
  std::string command;
  Json arguments = Json::array();
};
Result<ExecuteCommandParams> decode_execute_command(const Json& params);

// ---- code actions -----------------------------------------------------------------------

struct Diagnostic {
  Range range;
  std::string message;
  int severity = 0;  // 1 error .. 4 hint; 0 when absent
  std::string source;
  Json raw;          // as the client sent it (echoed back in the action's diagnostics)
};

struct CodeActionParams {
  std::string uri;
  Range range;
  std::vector<Diagnostic> diagnostics;
  std::vector<std::string> only;  // context.only: kinds the client wants ("" = all)
};
Result<CodeActionParams> decode_code_action(const Json& params);

// ---- results ---------------------------------------------------------------------------

struct InlineCompletionItem {
  std::string insertText;
  Range range;
};
Json encode_inline_completion_list(const std::vector<InlineCompletionItem>& items);

struct CompletionItem {
  std::string label;
  std::string filterText;
  std::string detail;
  std::string documentation;  // markdown
  std::string languageId;     // for the documentation's code fence
  Range range;
  std::string newText;
};
// A CompletionList (isIncomplete: true, so clients ask again as the user types).
Json encode_completion_list(const std::vector<CompletionItem>& items);

// ---- misc ------------------------------------------------------------------------------

enum class MessageType { kError = 1, kWarning = 2, kInfo = 3, kLog = 4 };
Json encode_message(MessageType type, const std::string& message);

// file:///path -> /path (percent-decoded); other schemes: nullopt.
std::optional<std::string> uri_to_path(const std::string& uri);
// /path -> file:///path (percent-encoding what must be).
std::string path_to_uri(const std::string& path);

}  // namespace moecode::protocol
