// Protocol pieces shared by the client and the server (see openai_protocol.h).
#include "lsp/remote/openai_protocol.h"

#include <algorithm>
#include <cctype>
#include <ctime>

#include <nlohmann/json.hpp>

namespace moecode::remote {

// ---- server-sent events ----------------------------------------------------------------------

bool SseParser::feed(std::string_view bytes, const EventFn& on_event) {
  size_t i = 0;
  while (i < bytes.size()) {
    const size_t nl = bytes.find('\n', i);
    if (nl == std::string_view::npos) {
      line_.append(bytes.substr(i));
      break;
    }
    line_.append(bytes.substr(i, nl - i));
    i = nl + 1;
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    const std::string l = std::move(line_);
    line_.clear();
    if (!line(l, on_event)) return false;
  }
  return true;
}

bool SseParser::line(std::string_view l, const EventFn& on_event) {
  if (l.empty()) {
    if (!has_data_) {
      event_.clear();
      return true;
    }
    const std::string event = event_.empty() ? "message" : event_;
    std::string data = std::move(data_);
    data_.clear();
    event_.clear();
    has_data_ = false;
    return on_event(event, data);
  }
  if (l[0] == ':') return true;  // a comment (keep-alive)
  const size_t colon = l.find(':');
  std::string_view field = l.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : l.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_ = std::string(value);
  }
  return true;
}

std::string sse_data(std::string_view data) {
  std::string out = "data: ";
  out.append(data);
  out += "\n\n";
  return out;
}

// ---- Retry-After and backoff --------------------------------------------------------------------

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value, long long now_unix) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (value.size() > 9) return std::chrono::milliseconds(999999999LL * 1000);
    return std::chrono::milliseconds(std::stoll(std::string(value)) * 1000);
  }
  std::tm tm{};
  const std::string s(value);
  const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const long long when = static_cast<long long>(::timegm(&tm));
  return std::chrono::milliseconds(std::max(0LL, when - now_unix) * 1000);
}

std::chrono::milliseconds backoff_delay(int attempt, double jitter01) {
  const long long base = 500LL << std::min(attempt, 4);  // 0.5, 1, 2, 4, 8 s
  const long long capped = std::min(base, 8000LL);
  return std::chrono::milliseconds(capped + static_cast<long long>(capped * 0.2 * std::clamp(jitter01, 0.0, 1.0)));
}

// ---- stop strings -------------------------------------------------------------------------------

StopFilter::StopFilter(std::vector<std::string> stops) {
  for (auto& s : stops) {
    if (!s.empty()) stops_.push_back(std::move(s));
  }
}

std::string StopFilter::push(std::string_view piece) {
  if (stopped_) return "";
  held_.append(piece);
  size_t cut = std::string::npos;
  for (const std::string& s : stops_) cut = std::min(cut, held_.find(s));
  if (cut != std::string::npos) {
    std::string out = held_.substr(0, cut);
    held_.clear();
    stopped_ = true;
    return out;
  }
  size_t keep = 0;
  for (const std::string& s : stops_) {
    for (size_t k = std::min(s.size() - 1, held_.size()); k > keep; --k) {
      if (held_.compare(held_.size() - k, k, s, 0, k) == 0) {
        keep = k;
        break;
      }
    }
  }
  std::string out = held_.substr(0, held_.size() - keep);
  held_.erase(0, held_.size() - keep);
  return out;
}

std::string StopFilter::flush() {
  if (stopped_) return "";
  std::string out = std::move(held_);
  held_.clear();
  return out;
}

// ---- prompts ------------------------------------------------------------------------------------

std::optional<FimRequest> split_fim_prompt(const assist::Prompt& prompt, const FimSentinels& s) {
  using Kind = assist::PromptPart::Kind;
  enum class Where { kBefore, kFile, kPrefix, kSuffix, kAfter } where = Where::kBefore;
  FimRequest r;
  std::string head;  // plain text before the prefix sentinel
  bool saw_prefix = false, saw_suffix = false, saw_middle = false;
  for (const assist::PromptPart& p : prompt.parts) {
    if (p.kind == Kind::kSpecial) {
      if (p.text == s.file_sep && where <= Where::kFile) {
        r.files.emplace_back();
        where = Where::kFile;
      } else if (p.text == s.prefix && where <= Where::kFile) {
        where = Where::kPrefix;
        saw_prefix = true;
      } else if (p.text == s.suffix && where == Where::kPrefix) {
        where = Where::kSuffix;
        saw_suffix = true;
      } else if (p.text == s.middle && where == Where::kSuffix) {
        where = Where::kAfter;
        saw_middle = true;
      } else {
        return std::nullopt;
      }
      continue;
    }
    switch (where) {
      case Where::kBefore: head += p.text; break;
      case Where::kFile: {
        auto& f = r.files.back();
        f.second += p.text;
        break;
      }
      case Where::kPrefix: r.prefix += p.text; break;
      case Where::kSuffix: r.suffix += p.text; break;
      case Where::kAfter:
        if (!p.text.empty()) return std::nullopt;
        break;
    }
  }
  if (!saw_prefix || !saw_suffix || !saw_middle) return std::nullopt;
  // File blocks are "path\ntext"; the last one without text names the current file.
  std::vector<std::pair<std::string, std::string>> files;
  for (auto& [path, text] : r.files) {
    const size_t nl = text.find('\n');
    std::string name = text.substr(0, nl);
    std::string body = nl == std::string::npos ? "" : text.substr(nl + 1);
    files.emplace_back(std::move(name), std::move(body));
  }
  if (!files.empty() && files.back().second.empty()) {
    r.path = files.back().first;
    files.pop_back();
  }
  r.files = std::move(files);
  r.prefix = head + r.prefix;
  return r;
}

std::string render_for_text_api(const assist::Prompt& prompt, const std::vector<std::string>& control_texts) {
  std::string out;
  for (const assist::PromptPart& p : prompt.parts) {
    if (p.kind != assist::PromptPart::Kind::kText) {
      out += p.text;
      continue;
    }
    std::string text = p.text;
    for (const std::string& c : control_texts) {
      if (c.size() < 2) continue;
      // U+200B after the first character of each occurrence (the first character is ASCII
      // in every family we know; otherwise after its first UTF-8 sequence).
      size_t first = 1;
      while (first < c.size() && (static_cast<unsigned char>(c[first]) & 0xC0) == 0x80) ++first;
      size_t pos = 0;
      while ((pos = text.find(c, pos)) != std::string::npos) {
        text.insert(pos + first, "\xE2\x80\x8B");
        pos += c.size() + 3;
      }
    }
    out += text;
  }
  return out;
}

std::string error_message_from_body(const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_object()) {
    if (auto e = j.find("error"); e != j.end()) {
      if (e->is_string()) return e->get<std::string>();
      if (e->is_object() && e->contains("message") && (*e)["message"].is_string()) return (*e)["message"];
    }
    for (const char* key : {"message", "detail"}) {
      if (auto m = j.find(key); m != j.end() && m->is_string()) return m->get<std::string>();
    }
  }
  std::string s = body.substr(0, 300);
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace moecode::remote
