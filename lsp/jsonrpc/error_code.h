// JSON-RPC 2.0 and LSP error codes: the one enum every reply's error uses. Constants only.
#pragma once

namespace moecode::jsonrpc {

enum class ErrorCode : int {
  // JSON-RPC 2.0
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
  // LSP
  kServerNotInitialized = -32002,
  kUnknownErrorCode = -32001,
  kRequestFailed = -32803,
  kServerCancelled = -32802,
  kContentModified = -32801,
  kRequestCancelled = -32800,
};

inline const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kParseError: return "ParseError";
    case ErrorCode::kInvalidRequest: return "InvalidRequest";
    case ErrorCode::kMethodNotFound: return "MethodNotFound";
    case ErrorCode::kInvalidParams: return "InvalidParams";
    case ErrorCode::kInternalError: return "InternalError";
    case ErrorCode::kServerNotInitialized: return "ServerNotInitialized";
    case ErrorCode::kUnknownErrorCode: return "UnknownErrorCode";
    case ErrorCode::kRequestFailed: return "RequestFailed";
    case ErrorCode::kServerCancelled: return "ServerCancelled";
    case ErrorCode::kContentModified: return "ContentModified";
    case ErrorCode::kRequestCancelled: return "RequestCancelled";
  }
  return "UnknownErrorCode";
}

}  // namespace moecode::jsonrpc
