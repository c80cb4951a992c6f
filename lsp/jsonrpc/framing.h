// Content-Length framing of a JSON-RPC byte stream ("Content-Length: N\r\n\r\n" + N bytes).
// FrameDecoder is incremental: feed it whatever a read returned (partial headers, several
// pipelined messages, one byte at a time); it emits each complete body. Bad framing never
// stops it: a header without a valid Content-Length is reported and the decoder resynchronises
// on the next "Content-Length"; a body over the size limit is reported and skipped without
// being buffered (only its first KiB is kept, to find the request id).
// Not thread-safe: one decoder per connection, used by its reading thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace moecode::jsonrpc {

// Frames one message body for the wire.
std::string encode_frame(std::string_view body);

struct FrameError {
  enum class Kind {
    kMalformedHeader,  // a header line that is not "Name: value"
    kMissingLength,    // header block without Content-Length
    kBadLength,        // Content-Length not a non-negative decimal number, or repeated
    kHeaderTooLong,    // no end of header within the header limit
    kTooLarge,         // Content-Length over the message limit (the body is skipped)
  };
  Kind kind;
  std::string message;
  uint64_t declared_length = 0;  // kTooLarge: the Content-Length
  // kTooLarge: the raw JSON text of the request's "id" when its first KiB shows one before
  // any "params" (so the request can still be answered); empty otherwise.
  std::string id_hint;
};

const char* frame_error_kind_name(FrameError::Kind kind);

class FrameDecoder {
 public:
  using MessageFn = std::function<void(std::string body)>;
  using ErrorFn = std::function<void(FrameError error)>;

  explicit FrameDecoder(size_t max_body_bytes = size_t{64} << 20, size_t max_header_bytes = 8192);

  // Consumes `data`, calling on_message / on_error for each frame or framing error completed.
  void feed(std::string_view data, const MessageFn& on_message, const ErrorFn& on_error);

  // True when no partial frame is pending (a disconnect now loses nothing).
  bool at_boundary() const;
  // Bytes held in memory (header or body in progress); bounded by the limits.
  size_t buffered_bytes() const { return in_.size() - pos_; }
  // Bytes thrown away so far (oversized bodies, garbage while resynchronising).
  uint64_t discarded_bytes() const { return discarded_; }
  size_t max_body_bytes() const { return max_body_; }

 private:
  enum class State { kHeader, kBody, kSkip, kResync };

  // Parses in_[pos_..]; returns bytes that must be re-fed (after a state change) in `refeed`.
  void process(const MessageFn& on_message, const ErrorFn& on_error, std::string& refeed);
  void enter_resync(std::string_view pending, std::string& refeed);
  void finish_skip_prefix(const ErrorFn& on_error);

  size_t max_body_;
  size_t max_header_;
  State state_ = State::kHeader;
  std::string in_;  // bytes of the header or body in progress, from pos_
  size_t pos_ = 0;
  size_t body_len_ = 0;
  // kSkip
  uint64_t skip_left_ = 0;
  std::string skip_prefix_;
  bool skip_reported_ = false;
  FrameError skip_error_{};
  // kResync: the last bytes seen, in case "Content-Length" straddles two reads.
  std::string resync_tail_;
  uint64_t discarded_ = 0;
};

}  // namespace moecode::jsonrpc
