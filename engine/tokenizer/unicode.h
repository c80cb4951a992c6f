// Unicode helpers for the tokenizers: UTF-8 decoding and validation, the GPT-2 byte <->
// code point alphabet, character classes, simple lowercase and canonical decomposition
// (NFD) from tables generated for Unicode 14 (gen_unicode_tables.py). Thread-safe
// (pure functions over constant tables).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace moecode::tokenizer {

inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Character class bits (keep in sync with gen_unicode_tables.py).
enum CharFlag : uint32_t {
  kCharLetter = 1u << 0,          // L*
  kCharNumber = 1u << 1,          // N*
  kCharPunctuation = 1u << 2,     // P*
  kCharSymbol = 1u << 3,          // S*
  kCharMark = 1u << 4,            // M*
  kCharMarkNonspacing = 1u << 5,  // Mn
  kCharControl = 1u << 6,         // Cc, Cf, Co, Cs
  kCharSeparator = 1u << 7,       // Z*
  kCharWhitespace = 1u << 8,      // BERT-style whitespace (tab, newline, Zs...)
};

uint32_t char_flags(uint32_t cp);
uint32_t to_lower(uint32_t cp);
// Canonical decomposition (NFD) of a sequence, with canonical ordering of marks.
std::vector<uint32_t> nfd(const std::vector<uint32_t>& cps);
// The first code point of cp's canonical decomposition (cp itself when it has none): what
// llama.cpp's WordPiece normalizer keeps of each code point (é -> e, 가 -> U+1100 ᄀ).
uint32_t nfd_first(uint32_t cp);

// Length of the UTF-8 sequence that `lead` starts, from the lead byte alone (1 for
// continuation or invalid bytes), as SentencePiece-style tokenizers split characters.
inline size_t utf8_len_from_lead(uint8_t lead) {
  static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return kLen[lead >> 4];
}

// Decodes the well-formed UTF-8 sequence at s[*pos]; returns U+FFFD and advances by the
// length of the maximal ill-formed subpart (at least 1) for an invalid one.
uint32_t utf8_decode(std::string_view s, size_t* pos);
void utf8_append(uint32_t cp, std::string* out);
std::vector<uint32_t> utf8_to_cps(std::string_view s);

// Length of the longest prefix of `s` that is well-formed UTF-8.
size_t utf8_valid_prefix(std::string_view s);
// For the well-formed-so-far tail of `s`: the number of trailing bytes that begin a UTF-8
// sequence that is valid so far but incomplete (0..3). Bytes before them are complete or
// definitely invalid.
size_t utf8_incomplete_tail(std::string_view s);
// Copies `s` with each maximal ill-formed subpart replaced by U+FFFD.
std::string utf8_sanitize(std::string_view s);

// GPT-2 byte-level alphabet: every byte has a printable code point (bytes_to_unicode).
uint32_t byte_to_cp(uint8_t b);
// The byte of a code point of that alphabet, or -1.
int cp_to_byte(uint32_t cp);
// Raw bytes of a token text written in that alphabet; false if a character is outside it.
bool byte_level_decode(std::string_view text, std::string* out);
std::string byte_level_encode(std::string_view bytes);

}  // namespace moecode::tokenizer
