// Secret file names and secret patterns. The compiled patterns are built once (function-
// local static) and only read afterwards; match data is per call. Thread-safe.
#include "lsp/workspace/secrets.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>

#include "moecode/engine/result.h"

namespace moecode::workspace {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

constexpr std::string_view kSecretPrefixes[] = {
    ".env", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "credentials",
};
constexpr std::string_view kSecretSuffixes[] = {
    ".pem", ".key", ".p12", ".pfx", ".jks", ".keystore", ".kdbx", ".ppk", ".tfvars", ".tfstate",
};
constexpr std::string_view kSecretNames[] = {
    ".netrc",       "_netrc",         ".npmrc",        ".pypirc",     ".git-credentials",
    ".htpasswd",    ".dockercfg",     "secrets.yml",   "secrets.yaml", "secrets.json",
    "secrets.toml", "terraform.tfstate.backup",
};

// A content pattern: cheap literal needles (any must occur, case-sensitive) gate the regex.
struct PatternSpec {
  std::string_view name;
  std::string_view regex;  // PCRE2; group 1, when present, is the part to redact
  std::array<std::string_view, 10> needles;
};

constexpr PatternSpec kPatterns[] = {
    {"aws-access-key-id",
     R"(\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b)",
     {"AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"}},
    {"aws-secret-access-key",
     R"((?i)aws_?secret_?(?:access_?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=]))",
     {"ecret", "ECRET"}},
    {"github-token", R"(\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b)", {"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}},
    {"github-fine-grained-token", R"(\bgithub_pat_[A-Za-z0-9_]{60,255})", {"github_pat_"}},
    {"gitlab-token", R"(\bglpat-[A-Za-z0-9_-]{20,})", {"glpat-"}},
    {"slack-token", R"(\bxox[abposr]-[A-Za-z0-9-]{10,})", {"xox"}},
    {"slack-webhook", R"(https://hooks\.slack\.com/services/[A-Za-z0-9/_-]{20,})", {"hooks.slack.com"}},
    {"stripe-key", R"(\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,})", {"_live_", "_test_"}},
    {"google-api-key", R"(\bAIza[0-9A-Za-z_-]{35})", {"AIza"}},
    {"openai-key", R"(\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,})", {"T3BlbkFJ"}},
    {"openai-project-key", R"(\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,})", {"sk-proj-", "sk-svcacct-", "sk-admin-"}},
    {"anthropic-key", R"(\bsk-ant-[a-z0-9]+-[A-Za-z0-9_-]{40,})", {"sk-ant-"}},
    {"huggingface-token", R"(\bhf_[A-Za-z0-9]{34,}\b)", {"hf_"}},
    {"npm-token", R"(\bnpm_[A-Za-z0-9]{36}\b)", {"npm_"}},
    {"sendgrid-key", R"(\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b)", {"SG."}},
    {"jwt", R"(\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,})", {"eyJ"}},
    {"azure-account-key", R"((?i)AccountKey=([A-Za-z0-9+/]{40,}={0,2}))", {"ccountKey=", "CCOUNTKEY=", "ccountkey="}},
    {"url-password", R"(\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/@'"<>]+:([^\s:/@'"<>]{3,})@[A-Za-z0-9.-])", {"://"}},
};

struct CodeDeleter {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};

struct Compiled {
  std::vector<std::unique_ptr<pcre2_code, CodeDeleter>> codes;
  // Needles by first byte: (pattern index, needle).
  std::vector<std::pair<size_t, std::string_view>> by_first[256];
  // Bit (b0 << 8 | b1) set when some needle starts with those two bytes.
  std::vector<uint64_t> pairs = std::vector<uint64_t>(65536 / 64, 0);
  Compiled() {
    for (size_t i = 0; i < std::size(kPatterns); ++i) {
      for (std::string_view n : kPatterns[i].needles) {
        if (n.size() < 2) continue;
        by_first[static_cast<unsigned char>(n[0])].push_back({i, n});
        const unsigned key = static_cast<unsigned char>(n[0]) << 8 | static_cast<unsigned char>(n[1]);
        pairs[key / 64] |= uint64_t{1} << (key % 64);
      }
    }
    for (const auto& p : kPatterns) {
      int err = 0;
      PCRE2_SIZE off = 0;
      pcre2_code* c = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(p.regex.data()), p.regex.size(), 0, &err, &off, nullptr);
      MOE_ASSERT(c != nullptr);  // our own constant patterns
      pcre2_jit_compile(c, PCRE2_JIT_COMPLETE);
      codes.emplace_back(c);
    }
  }
};

const Compiled& compiled() {
  static const Compiled c;
  return c;
}

// One pass over the text: which patterns have one of their needles in it.
std::vector<bool> triggered_patterns(std::string_view text, const Compiled& c) {
  std::vector<bool> hit(std::size(kPatterns), false);
  size_t n_hit = 0;
  const char* p = text.data();
  const size_t n = text.size();
  for (size_t i = 0; i + 1 < n; ++i) {
    const unsigned key = static_cast<unsigned char>(p[i]) << 8 | static_cast<unsigned char>(p[i + 1]);
    if (!(c.pairs[key / 64] >> (key % 64) & 1)) continue;
    const auto& cands = c.by_first[static_cast<unsigned char>(p[i])];
    for (const auto& [pat, needle] : cands) {
      if (hit[pat] || needle.size() > n - i || std::memcmp(p + i, needle.data(), needle.size()) != 0) continue;
      hit[pat] = true;
      if (++n_hit == hit.size()) return hit;
    }
  }
  return hit;
}

// "-----BEGIN ... PRIVATE KEY-----" up to its END line (or 8 KiB / the end of the text
// when it has none). Works inside JSON strings too ("\n" escapes stay inside the span).
void find_private_keys(std::string_view text, std::vector<ByteSpan>* out) {
  constexpr std::string_view kBegin = "-----BEGIN ";
  constexpr std::string_view kEnd = "-----END ";
  constexpr size_t kMaxUnterminated = 8192;
  size_t pos = 0;
  while ((pos = text.find(kBegin, pos)) != std::string_view::npos) {
    const size_t header_end = text.find("-----", pos + kBegin.size());
    if (header_end == std::string_view::npos || header_end - pos > 80) {
      pos += kBegin.size();
      continue;
    }
    const std::string_view label = text.substr(pos + kBegin.size(), header_end - pos - kBegin.size());
    if (label.find("PRIVATE KEY") == std::string_view::npos) {
      pos = header_end;
      continue;
    }
    size_t stop;
    const size_t end_at = text.find(kEnd, header_end + 5);
    if (end_at != std::string_view::npos) {
      const size_t close = text.find("-----", end_at + kEnd.size());
      stop = close == std::string_view::npos ? text.size() : close + 5;
    } else {
      stop = std::min(text.size(), pos + kMaxUnterminated);
    }
    out->push_back({static_cast<uint32_t>(pos), static_cast<uint32_t>(stop)});
    pos = stop;
  }
}

}  // namespace

bool is_secret_file_name(std::string_view path) {
  const size_t slash = path.find_last_of('/');
  const std::string base = lower(slash == std::string_view::npos ? path : path.substr(slash + 1));
  for (auto p : kSecretPrefixes) {
    if (base.starts_with(p)) return true;
  }
  for (auto s : kSecretSuffixes) {
    if (base.ends_with(s)) return true;
  }
  for (auto n : kSecretNames) {
    if (base == n) return true;
  }
  if (base.find("service-account") != std::string::npos && base.ends_with(".json")) return true;
  return false;
}

std::vector<ByteSpan> find_secrets(std::string_view text) {
  std::vector<ByteSpan> spans;
  if (text.size() > UINT32_MAX) text = text.substr(0, UINT32_MAX);
  find_private_keys(text, &spans);
  const Compiled& c = compiled();
  const std::vector<bool> triggered = triggered_patterns(text, c);
  pcre2_match_data* md = nullptr;
  for (size_t i = 0; i < std::size(kPatterns); ++i) {
    if (!triggered[i]) continue;
    if (!md) md = pcre2_match_data_create(4, nullptr);
    PCRE2_SIZE start = 0;
    while (start <= text.size()) {
      const int rc = pcre2_match(c.codes[i].get(), reinterpret_cast<PCRE2_SPTR>(text.data()), text.size(), start, 0,
                                 md, nullptr);
      if (rc < 0) break;
      const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
      PCRE2_SIZE b = ov[0], e = ov[1];
      if (rc >= 2 && ov[2] != PCRE2_UNSET) b = ov[2], e = ov[3];
      if (e > b) spans.push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(e)});
      start = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    }
  }
  if (md) pcre2_match_data_free(md);
  std::sort(spans.begin(), spans.end(), [](const ByteSpan& a, const ByteSpan& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end > b.end;
  });
  std::vector<ByteSpan> merged;
  for (const ByteSpan& s : spans) {
    if (!merged.empty() && s.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, s.end);
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

std::string redact_range(std::string_view text, size_t begin, size_t end, std::span<const ByteSpan> spans) {
  end = std::min(end, text.size());
  if (begin >= end) return {};
  std::string out;
  out.reserve(end - begin);
  size_t pos = begin;
  // First span that ends after `begin`.
  auto it = std::lower_bound(spans.begin(), spans.end(), begin,
                             [](const ByteSpan& s, size_t b) { return s.end <= b; });
  for (; it != spans.end() && it->begin < end; ++it) {
    const size_t b = std::max<size_t>(it->begin, begin), e = std::min<size_t>(it->end, end);
    if (b > pos) out.append(text.data() + pos, b - pos);
    out += kRedacted;
    for (size_t i = b; i < e; ++i) {
      if (text[i] == '\n') out += '\n';
    }
    pos = std::max(pos, e);
  }
  if (pos < end) out.append(text.data() + pos, end - pos);
  return out;
}

std::vector<std::string_view> secret_pattern_names() {
  std::vector<std::string_view> names{"private-key-block"};
  for (const auto& p : kPatterns) names.push_back(p.name);
  return names;
}

}  // namespace moecode::workspace
