// Pieces of the OpenAI-compatible protocol that the client and the server share, free of I/O:
// server-sent events, Retry-After, stop strings applied on a stream, the FIM structure of a
// Prompt, and the error body servers answer with.
// Pure functions and single-owner objects; thread-compatible.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsp/assist/generator.h"

namespace moecode::remote {

// Server-sent events (text/event-stream): lines "event: x", "data: y" (several data lines join
// with '\n'), ":" comments, events end at a blank line; CR LF or LF.
class SseParser {
 public:
  // Receives each complete event; false stops parsing (feed() then returns false too).
  using EventFn = std::function<bool(const std::string& event, const std::string& data)>;
  bool feed(std::string_view bytes, const EventFn& on_event);
  // Bytes of an unfinished line or event held back.
  size_t pending() const { return line_.size() + data_.size(); }

 private:
  bool line(std::string_view l, const EventFn& on_event);
  std::string line_;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
};

// One SSE frame "data: <json>\n\n" (and "data: [DONE]\n\n").
std::string sse_data(std::string_view data);

// The wait a Retry-After value asks for: delay-seconds ("3") or an HTTP date (RFC 7231,
// "Wed, 21 Oct 2015 07:28:00 GMT"), relative to `now_unix` (seconds). nullopt when it cannot
// be read.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, long long now_unix);

// Exponential backoff for retry `attempt` (0-based): 500 ms * 2^attempt, at most 8 s, plus
// up to 20 % jitter drawn from `jitter01` (0..1).
std::chrono::milliseconds backoff_delay(int attempt, double jitter01);

// Applies stop strings to a stream of text: push() returns what may be shown now (holding back
// a tail that may begin a stop string); once a stop string appears the text ends before it.
class StopFilter {
 public:
  explicit StopFilter(std::vector<std::string> stops);
  std::string push(std::string_view piece);
  std::string flush();
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

// The texts a server-side FIM request needs, found in a Prompt built by the completer with the
// sentinel control tokens below (see RemoteGenerator): text before the prefix sentinel (file
// blocks after file_sep sentinels, or plain text), the prefix, and the suffix.
struct FimSentinels {
  std::string prefix = "<|fim_prefix|>";
  std::string suffix = "<|fim_suffix|>";
  std::string middle = "<|fim_middle|>";
  std::string file_sep = "<|file_sep|>";
};
struct FimRequest {
  std::vector<std::pair<std::string, std::string>> files;  // (path, text) of context files
  std::string path;     // the current file's path ("" when not given)
  std::string prefix;   // everything before the cursor (plain text before it included)
  std::string suffix;
};
// nullopt when the prompt is not a FIM prompt of these sentinels.
std::optional<FimRequest> split_fim_prompt(const assist::Prompt& prompt, const FimSentinels& sentinels);

// The prompt as one string for a text API: special parts and markup as their text; in text
// parts, any of `control_texts` is broken up (a zero-width space after its first character) so
// that a server that parses control tokens in prompts cannot be fed one from a document.
std::string render_for_text_api(const assist::Prompt& prompt, const std::vector<std::string>& control_texts);

// The message of an error body: {"error": {"message": ...}}, {"error": "..."}, {"message": ...},
// {"detail": ...}; else the body itself (cut to 300 bytes).
std::string error_message_from_body(const std::string& body);

}  // namespace moecode::remote
