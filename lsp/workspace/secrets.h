// Secrets never enter the index or a prompt. Two defences:
//   1. files whose names mark them as secret (.env*, *.pem, *.key, id_rsa*, credentials*,
//      .netrc, ...) are never read: is_secret_file_name();
//   2. text that matches a high-confidence secret pattern (private key blocks, cloud and
//      API token formats, passwords in URLs) is found by find_secrets() and replaced by
//      kRedacted (line breaks kept, so line numbers stay right) by redact_range() before it
//      can reach a signature, a snippet or a prompt.
// Everything here is stateless or immutable after first use; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace moecode::workspace {

inline constexpr std::string_view kRedacted = "[REDACTED]";

// A byte range [begin, end) of a text.
struct ByteSpan {
  uint32_t begin = 0;
  uint32_t end = 0;
  bool operator==(const ByteSpan&) const = default;
};

// True when the file's base name marks it as holding secrets (case-insensitive).
bool is_secret_file_name(std::string_view path);

// The secret spans of `text`: sorted, merged, non-overlapping.
std::vector<ByteSpan> find_secrets(std::string_view text);

// text[begin, end) with every part that overlaps a span replaced by kRedacted followed by
// the line breaks the part contained. `spans` sorted as find_secrets() returns them.
std::string redact_range(std::string_view text, size_t begin, size_t end, std::span<const ByteSpan> spans);

// The same for a whole text.
inline std::string redact(std::string_view text, std::span<const ByteSpan> spans) {
  return redact_range(text, 0, text.size(), spans);
}

// Names of the content patterns (for tests and diagnostics), in the order they are tried.
std::vector<std::string_view> secret_pattern_names();

}  // namespace moecode::workspace
