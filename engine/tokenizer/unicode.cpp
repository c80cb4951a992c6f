// Unicode helpers for the tokenizers (see unicode.h). Thread-safe: constant tables only.
#include "engine/tokenizer/unicode.h"

#include <algorithm>
#include <array>

namespace moecode::tokenizer {
namespace {

struct CharRun {
  uint32_t first;
  uint32_t value;
};
struct CodePair {
  uint32_t from;
  uint32_t to;
};
struct Decomposition {
  uint32_t cp;
  uint32_t offset;
  uint32_t length;
};

#include "engine/tokenizer/unicode_tables.inc"

template <size_t N>
uint32_t run_lookup(const CharRun (&runs)[N], uint32_t cp) {
  const CharRun* end = runs + N;
  const CharRun* it =
      std::upper_bound(runs, end, cp, [](uint32_t v, const CharRun& r) { return v < r.first; });
  return it == runs ? 0 : (it - 1)->value;
}

// Hangul syllable composition constants (Unicode chapter 3.12).
constexpr uint32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr uint32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount;
constexpr uint32_t kSCount = kLCount * kNCount;

struct ByteAlphabet {
  std::array<uint32_t, 256> byte_to_cp{};
  std::array<int16_t, 512> cp_to_byte{};  // every alphabet code point is < 512
  ByteAlphabet() {
    cp_to_byte.fill(-1);
    uint32_t n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      byte_to_cp[b] = printable ? static_cast<uint32_t>(b) : 256 + n++;
      cp_to_byte[byte_to_cp[b]] = static_cast<int16_t>(b);
    }
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

}  // namespace

uint32_t char_flags(uint32_t cp) { return cp >= 0x110000 ? 0 : run_lookup(kCharRuns, cp); }

uint32_t to_lower(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  const CodePair* end = kLowercase + std::size(kLowercase);
  const CodePair* it =
      std::lower_bound(kLowercase, end, cp, [](const CodePair& p, uint32_t v) { return p.from < v; });
  return (it != end && it->from == cp) ? it->to : cp;
}

uint32_t nfd_first(uint32_t cp) {
  if (cp >= kSBase && cp < kSBase + kSCount) return kLBase + (cp - kSBase) / kNCount;  // the leading consonant
  if (cp < 0xC0) return cp;
  const Decomposition* end = kDecompositions + std::size(kDecompositions);
  const Decomposition* it =
      std::lower_bound(kDecompositions, end, cp, [](const Decomposition& d, uint32_t v) { return d.cp < v; });
  return (it != end && it->cp == cp) ? kDecompositionPool[it->offset] : cp;
}

std::vector<uint32_t> nfd(const std::vector<uint32_t>& cps) {
  std::vector<uint32_t> out;
  out.reserve(cps.size());
  const Decomposition* end = kDecompositions + std::size(kDecompositions);
  for (uint32_t cp : cps) {
    if (cp >= kSBase && cp < kSBase + kSCount) {
      const uint32_t s = cp - kSBase;
      out.push_back(kLBase + s / kNCount);
      out.push_back(kVBase + (s % kNCount) / kTCount);
      if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
      continue;
    }
    if (cp < 0xC0) {
      out.push_back(cp);
      continue;
    }
    const Decomposition* it = std::lower_bound(
        kDecompositions, end, cp, [](const Decomposition& d, uint32_t v) { return d.cp < v; });
    if (it != end && it->cp == cp) {
      out.insert(out.end(), kDecompositionPool + it->offset,
                 kDecompositionPool + it->offset + it->length);
    } else {
      out.push_back(cp);
    }
  }
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  for (size_t i = 0; i < out.size();) {
    if (out[i] < 0x300 || run_lookup(kCombiningClassRuns, out[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < out.size() && out[j] >= 0x300 && run_lookup(kCombiningClassRuns, out[j]) != 0) ++j;
    std::stable_sort(out.begin() + i, out.begin() + j, [](uint32_t a, uint32_t b) {
      return run_lookup(kCombiningClassRuns, a) < run_lookup(kCombiningClassRuns, b);
    });
    i = j;
  }
  return out;
}

uint32_t utf8_decode(std::string_view s, size_t* pos) {
  const size_t n = s.size();
  size_t i = *pos;
  const uint8_t b0 = static_cast<uint8_t>(s[i]);
  if (b0 < 0x80) {
    *pos = i + 1;
    return b0;
  }
  size_t len;
  uint32_t cp;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    *pos = i + 1;
    return kReplacementChar;
  }
  for (size_t k = 1; k < len; ++k) {
    if (i + k >= n) {
      *pos = i + k;
      return kReplacementChar;
    }
    const uint8_t b = static_cast<uint8_t>(s[i + k]);
    if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
      *pos = i + k;
      return kReplacementChar;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  *pos = i + len;
  return cp;
}

void utf8_append(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::vector<uint32_t> utf8_to_cps(std::string_view s) {
  std::vector<uint32_t> cps;
  cps.reserve(s.size());
  for (size_t pos = 0; pos < s.size();) cps.push_back(utf8_decode(s, &pos));
  return cps;
}

size_t utf8_valid_prefix(std::string_view s) {
  size_t pos = 0;
  while (pos < s.size()) {
    // Fast path over ASCII, 8 bytes at a time.
    while (pos + 8 <= s.size()) {
      uint64_t w;
      __builtin_memcpy(&w, s.data() + pos, 8);
      if (w & 0x8080808080808080ull) break;
      pos += 8;
    }
    if (pos >= s.size()) break;
    if (static_cast<uint8_t>(s[pos]) < 0x80) {
      ++pos;
      continue;
    }
    size_t next = pos;
    if (utf8_decode(s, &next) == kReplacementChar) {
      // U+FFFD itself (EF BF BD) is valid; anything else decoding to it is not.
      if (!(next - pos == 3 && static_cast<uint8_t>(s[pos]) == 0xEF &&
            static_cast<uint8_t>(s[pos + 1]) == 0xBF && static_cast<uint8_t>(s[pos + 2]) == 0xBD)) {
        return pos;
      }
    }
    pos = next;
  }
  return s.size();
}

size_t utf8_incomplete_tail(std::string_view s) {
  // Look at the last (up to) 3 bytes for the start of an unfinished sequence.
  const size_t n = s.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const uint8_t b = static_cast<uint8_t>(s[n - back]);
    if ((b & 0xC0) == 0x80) continue;  // continuation byte: keep looking for the lead
    if (b < 0xC2 || b > 0xF4) return 0;
    const size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    if (back >= need) return 0;  // the sequence is complete (or invalid)
    // Valid so far? Decoding the fragment must stop exactly at the end of the input.
    size_t pos = n - back;
    utf8_decode(s, &pos);
    return pos == n ? back : 0;
  }
  return 0;
}

std::string utf8_sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t pos = 0;
  while (pos < s.size()) {
    const size_t valid = utf8_valid_prefix(s.substr(pos));
    out.append(s.substr(pos, valid));
    pos += valid;
    if (pos >= s.size()) break;
    utf8_decode(s, &pos);  // skips the maximal ill-formed subpart
    utf8_append(kReplacementChar, &out);
  }
  return out;
}

uint32_t byte_to_cp(uint8_t b) { return alphabet().byte_to_cp[b]; }

int cp_to_byte(uint32_t cp) { return cp < 512 ? alphabet().cp_to_byte[cp] : -1; }

bool byte_level_decode(std::string_view text, std::string* out) {
  out->clear();
  out->reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const uint32_t cp = utf8_decode(text, &pos);
    const int b = cp_to_byte(cp);
    if (b < 0 || (cp == kReplacementChar && pos - start != 3)) return false;
    out->push_back(static_cast<char>(b));
  }
  return true;
}

std::string byte_level_encode(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8_append(byte_to_cp(static_cast<uint8_t>(c)), &out);
  return out;
}

}  // namespace moecode::tokenizer
