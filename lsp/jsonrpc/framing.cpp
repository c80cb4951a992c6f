// Content-Length framing (see framing.h).
#include "lsp/jsonrpc/framing.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <utility>

namespace moecode::jsonrpc {

namespace {

constexpr std::string_view kLengthHeader = "content-length";
constexpr size_t kIdHintBytes = 1024;

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

size_t ifind(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return std::string_view::npos;
  for (size_t i = 0; i + needle.size() <= haystack.size(); ++i) {
    if (iequals(haystack.substr(i, needle.size()), needle)) return i;
  }
  return std::string_view::npos;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

std::string printable(std::string_view s, size_t max = 60) {
  std::string out;
  for (char c : s.substr(0, max)) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      out += '?';
    } else {
      out += c;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

// A header field name (an RFC 7230 token): letters, digits, '-' and '_'.
bool is_header_name(std::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

std::optional<uint64_t> parse_length(std::string_view v) {
  v = trim(v);
  if (v.empty() || v.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char c : v) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

// The raw "id" value of a request whose body starts with `prefix`, if it shows before "params".
std::string find_id_hint(std::string_view prefix) {
  const size_t params = prefix.find("\"params\"");
  size_t at = 0;
  while ((at = prefix.find("\"id\"", at)) != std::string_view::npos) {
    if (params != std::string_view::npos && at > params) break;
    size_t i = at + 4;
    while (i < prefix.size() && std::isspace(static_cast<unsigned char>(prefix[i]))) ++i;
    if (i >= prefix.size() || prefix[i] != ':') {
      at += 4;
      continue;
    }
    ++i;
    while (i < prefix.size() && std::isspace(static_cast<unsigned char>(prefix[i]))) ++i;
    if (i >= prefix.size()) return "";
    if (prefix[i] == '"') {
      size_t j = i + 1;
      while (j < prefix.size() && prefix[j] != '"' && prefix[j] != '\\') ++j;
      if (j >= prefix.size() || prefix[j] != '"') return "";
      return std::string(prefix.substr(i, j - i + 1));
    }
    size_t j = i;
    if (j < prefix.size() && prefix[j] == '-') ++j;
    while (j < prefix.size() && std::isdigit(static_cast<unsigned char>(prefix[j]))) ++j;
    if (j == i || (j == i + 1 && prefix[i] == '-')) return "";
    return std::string(prefix.substr(i, j - i));
  }
  return "";
}

}  // namespace

std::string encode_frame(std::string_view body) {
  std::string out = "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
  out.append(body);
  return out;
}

const char* frame_error_kind_name(FrameError::Kind kind) {
  switch (kind) {
    case FrameError::Kind::kMalformedHeader: return "malformed header";
    case FrameError::Kind::kMissingLength: return "missing Content-Length";
    case FrameError::Kind::kBadLength: return "bad Content-Length";
    case FrameError::Kind::kHeaderTooLong: return "header too long";
    case FrameError::Kind::kTooLarge: return "message too large";
  }
  return "framing error";
}

FrameDecoder::FrameDecoder(size_t max_body_bytes, size_t max_header_bytes)
    : max_body_(max_body_bytes), max_header_(max_header_bytes) {}

bool FrameDecoder::at_boundary() const {
  if (state_ != State::kHeader) return false;
  for (size_t i = pos_; i < in_.size(); ++i) {
    if (in_[i] != '\r' && in_[i] != '\n') return false;
  }
  return true;
}

void FrameDecoder::feed(std::string_view data, const MessageFn& on_message, const ErrorFn& on_error) {
  std::string owned;  // bytes handed back by a state change, fed again
  while (!data.empty()) {
    switch (state_) {
      case State::kSkip: {
        const size_t take = static_cast<size_t>(std::min<uint64_t>(skip_left_, data.size()));
        if (skip_prefix_.size() < kIdHintBytes) {
          skip_prefix_.append(data.substr(0, std::min(take, kIdHintBytes - skip_prefix_.size())));
        }
        data.remove_prefix(take);
        skip_left_ -= take;
        discarded_ += take;
        if (!skip_reported_ && (skip_prefix_.size() >= kIdHintBytes || skip_left_ == 0)) {
          finish_skip_prefix(on_error);
        }
        if (skip_left_ == 0) state_ = State::kHeader;
        break;
      }
      case State::kResync: {
        std::string s = resync_tail_;
        s.append(data);
        data = {};
        const size_t k = ifind(s, kLengthHeader);
        if (k == std::string::npos) {
          const size_t keep = std::min(s.size(), kLengthHeader.size() - 1);
          discarded_ += s.size() - keep;
          resync_tail_ = s.substr(s.size() - keep);
        } else {
          discarded_ += k;
          resync_tail_.clear();
          state_ = State::kHeader;
          owned = s.substr(k);
          data = owned;
        }
        break;
      }
      case State::kHeader:
      case State::kBody: {
        in_.append(data);
        data = {};
        std::string refeed;
        process(on_message, on_error, refeed);
        if (!refeed.empty()) {
          owned.swap(refeed);
          data = owned;
        }
        break;
      }
    }
  }
}

void FrameDecoder::finish_skip_prefix(const ErrorFn& on_error) {
  skip_reported_ = true;
  skip_error_.id_hint = find_id_hint(skip_prefix_);
  skip_prefix_.clear();
  skip_prefix_.shrink_to_fit();
  on_error(std::move(skip_error_));
  skip_error_ = FrameError{};
}

void FrameDecoder::enter_resync(std::string_view pending, std::string& refeed) {
  state_ = State::kResync;
  resync_tail_.clear();
  refeed.assign(pending);
  in_.clear();
  pos_ = 0;
}

void FrameDecoder::process(const MessageFn& on_message, const ErrorFn& on_error, std::string& refeed) {
  while (true) {
    if (state_ == State::kBody) {
      if (in_.size() - pos_ < body_len_) {
        if (in_.capacity() < pos_ + body_len_) in_.reserve(pos_ + body_len_);
        return;
      }
      std::string body;
      if (pos_ == 0 && in_.size() == body_len_) {
        body = std::move(in_);  // the common case: one read, one message; no copy
        in_.clear();
      } else {
        body = in_.substr(pos_, body_len_);
        in_.erase(0, pos_ + body_len_);
      }
      pos_ = 0;
      state_ = State::kHeader;
      on_message(std::move(body));
      continue;
    }
    // kHeader: skip blank lines between messages, then read lines up to an empty one.
    while (pos_ < in_.size() && (in_[pos_] == '\r' || in_[pos_] == '\n')) ++pos_;
    std::optional<uint64_t> length;
    bool length_seen = false, length_bad = false;
    std::string bad_value;
    size_t line_start = pos_;
    size_t block_end = std::string::npos;
    while (true) {
      const size_t nl = in_.find('\n', line_start);
      if (nl == std::string::npos) break;
      std::string_view line(in_.data() + line_start, nl - line_start);
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (line.empty()) {
        block_end = nl + 1;
        break;
      }
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos || !is_header_name(line.substr(0, colon))) {
        FrameError err{FrameError::Kind::kMalformedHeader,
                       "malformed header line '" + printable(line) + "' (expected 'Name: value')"};
        enter_resync(std::string_view(in_).substr(line_start + 1), refeed);
        on_error(std::move(err));
        return;
      }
      if (iequals(line.substr(0, colon), kLengthHeader)) {
        auto v = parse_length(line.substr(colon + 1));
        if (!v || (length_seen && length != v)) {
          length_bad = true;
          bad_value = std::string(trim(line.substr(colon + 1)));
        }
        length_seen = true;
        length = v;
      }
      line_start = nl + 1;
    }
    if (block_end == std::string::npos) {
      if (in_.size() - pos_ > max_header_) {
        FrameError err{FrameError::Kind::kHeaderTooLong,
                       "no end of header within " + std::to_string(max_header_) + " bytes (starts with '" +
                           printable(std::string_view(in_).substr(pos_)) + "')"};
        enter_resync(std::string_view(in_).substr(pos_ + 1), refeed);
        on_error(std::move(err));
        return;
      }
      if (pos_ > 0) {
        in_.erase(0, pos_);
        pos_ = 0;
      }
      return;  // need more bytes
    }
    if (!length_seen) {
      FrameError err{FrameError::Kind::kMissingLength, "header without Content-Length; message dropped"};
      enter_resync(std::string_view(in_).substr(block_end), refeed);
      on_error(std::move(err));
      return;
    }
    if (length_bad) {
      FrameError err{FrameError::Kind::kBadLength,
                     "bad Content-Length '" + printable(bad_value) + "' (expected one decimal byte count)"};
      enter_resync(std::string_view(in_).substr(block_end), refeed);
      on_error(std::move(err));
      return;
    }
    if (*length > max_body_) {
      state_ = State::kSkip;
      skip_left_ = *length;
      skip_prefix_.clear();
      skip_reported_ = false;
      skip_error_ = FrameError{FrameError::Kind::kTooLarge,
                               "message of " + std::to_string(*length) + " bytes exceeds the limit of " +
                                   std::to_string(max_body_) + " bytes; skipped",
                               *length, ""};
      refeed.assign(std::string_view(in_).substr(block_end));
      in_.clear();
      pos_ = 0;
      if (skip_left_ == 0) state_ = State::kHeader;
      return;
    }
    body_len_ = static_cast<size_t>(*length);
    in_.erase(0, block_end);
    pos_ = 0;
    state_ = State::kBody;
  }
}

}  // namespace moecode::jsonrpc
