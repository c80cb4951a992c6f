// WordPiece tokenization (see wpm.h). Thread-safe: per-call state only.
#include "engine/tokenizer/wpm.h"

#include <algorithm>

#include "engine/tokenizer/unicode.h"

namespace moecode::tokenizer {
namespace {

// CJK ideograph blocks as BERT's tokenizer defines them.
bool is_cjk(uint32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) ||
         (cp >= 0x20000 && cp <= 0x2A6DF) || (cp >= 0x2A700 && cp <= 0x2B73F) ||
         (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B920 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

}  // namespace

std::vector<std::string> wpm_words(std::string_view text, const WordPieceOptions& options) {
  std::vector<uint32_t> cps = utf8_to_cps(text);
  // llama.cpp's accent stripping: every code point becomes the first one of its canonical
  // decomposition (then nonspacing marks are dropped below). Not a full NFD: a Hangul
  // syllable keeps only its leading consonant jamo (한 -> ᄒ, not ᄒ ᅡ ᆫ) and a two-part
  // spacing vowel sign or stemmed note keeps its first part, as llama.cpp does.
  if (options.strip_accents)
    for (uint32_t& cp : cps) cp = nfd_first(cp);
  std::vector<std::string> words(1);
  for (uint32_t cp : cps) {
    const uint32_t flags = char_flags(cp);
    if (flags & kCharWhitespace) {
      if (!words.back().empty()) words.emplace_back();
      continue;
    }
    if (cp == 0 || cp == kReplacementChar || (flags & kCharControl)) continue;
    if (options.strip_accents && (flags & kCharMark)) continue;  // llama.cpp drops every mark (\p{M})
    const uint32_t c = options.lowercase ? to_lower(cp) : cp;
    if ((flags & kCharPunctuation) || (cp < 0x7F && (flags & kCharSymbol)) || is_cjk(cp)) {
      if (!words.back().empty()) words.emplace_back();
      utf8_append(c, &words.back());
      words.emplace_back();
    } else {
      utf8_append(c, &words.back());
    }
  }
  if (words.back().empty()) words.pop_back();
  return words;
}

void wpm_encode(const TokenIndex& index, const WordPieceOptions& options, std::string_view text,
                std::vector<engine::Token>* out) {
  for (const std::string& word : wpm_words(text, options)) {
    const std::string w = "\xE2\x96\x81" + word;  // word-initial pieces start with U+2581
    const size_t n = w.size();
    const size_t first = out->size();
    for (size_t i = 0; i < n;) {
      size_t j = std::min(n, i + index.max_len());
      engine::Token id = engine::kNoToken;
      for (; j > i; --j) {
        id = index.find(std::string_view(w).substr(i, j - i));
        if (id != engine::kNoToken) break;
      }
      if (id == engine::kNoToken) {
        out->resize(first);  // the word has no segmentation: it becomes one unknown token
        break;
      }
      out->push_back(id);
      i = j;
    }
    if (out->size() == first && options.unk != engine::kNoToken) out->push_back(options.unk);
  }
}

}  // namespace moecode::tokenizer
