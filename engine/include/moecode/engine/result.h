// Result<T>: a value or an error message, for every expected failure (bad file,
// parse error, cancellation). Exceptions never cross our APIs. Thread-compatible.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace moecode {

enum class ErrorCode {
  kInvalidArgument,
  kNotFound,
  kCorrupt,       // malformed input file (GGUF, JSON...)
  kUnsupported,   // valid but not handled by us (architecture, type)
  kOutOfRange,
  kCancelled,
  kIo,
  kInternal,
  kUnavailable,   // e.g. a dead remote server
};

inline const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kOutOfRange: return "out of range";
    case ErrorCode::kCancelled: return "cancelled";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kInternal: return "internal error";
    case ErrorCode::kUnavailable: return "unavailable";
  }
  return "unknown";
}

// An error: a code plus a message that names the thing and the offending value.
class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  ErrorCode code_;
  std::string message_;
};

// Result<T>: holds either a T or an Error. [[nodiscard]] so errors are not dropped.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Status: Result without a value.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
  static Status ok_status() { return Status(); }
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }

 private:
  std::optional<Error> error_;
};

inline Error make_error(ErrorCode code, std::string message) { return Error(code, std::move(message)); }

}  // namespace moecode

// MOE_ASSERT: a broken invariant aborts loudly with file and line, in release builds too.
#define MOE_ASSERT(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "moecode: assertion failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

// MOE_TRY(var, expr): unwraps a Result or returns its error from the enclosing function.
#define MOE_CONCAT_INNER(a, b) a##b
#define MOE_CONCAT(a, b) MOE_CONCAT_INNER(a, b)
#define MOE_TRY(lhs, expr)                                          \
  auto MOE_CONCAT(moe_try_, __LINE__) = (expr);                     \
  if (!MOE_CONCAT(moe_try_, __LINE__).ok())                         \
    return MOE_CONCAT(moe_try_, __LINE__).error();                  \
  lhs = std::move(MOE_CONCAT(moe_try_, __LINE__)).value()

// MOE_RETURN_IF_ERROR(status_expr): returns the error of a Status or Result.
#define MOE_RETURN_IF_ERROR(expr)                          \
  do {                                                     \
    auto moe_status_ = (expr);                             \
    if (!moe_status_.ok()) return moe_status_.error();     \
  } while (0)
