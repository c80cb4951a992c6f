// Unit tests of the tokenizer internals: UTF-8 and Unicode tables, the byte alphabet,
// pre-tokenizer patterns, special-token partitioning, BPE / SentencePiece / WordPiece on
// small vocabularies, decoding, streaming detokenization, errors and concurrent use.
#include <algorithm>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "engine/gguf/gguf.h"
#include "engine/tokenizer/gguf_tokenizer.h"
#include "engine/tokenizer/pretokenizer.h"
#include "engine/tokenizer/tokenizer_impl.h"
#include "engine/tokenizer/unicode.h"
#include "engine/tokenizer/wpm.h"
#include "moecode/engine/tokenizer.h"
#include "support/tokenizer_vectors.h"

namespace moecode::tokenizer {
namespace {

namespace fs = std::filesystem;
using engine::kNoToken;
using engine::StreamDetokenizer;
using engine::Token;
using engine::Tokenizer;

// ---- UTF-8 and Unicode ------------------------------------------------------------------

TEST(UnicodeTest, DecodeValidAndInvalidSequences) {
  struct Case {
    std::string bytes;
    uint32_t cp;
    size_t consumed;
  };
  const std::vector<Case> cases = {
      {"A", 'A', 1},
      {"\xC3\xA9", 0xE9, 2},
      {"\xE2\x82\xAC", 0x20AC, 3},
      {"\xF0\x9F\xA6\x99", 0x1F999, 4},
      {"\xC0\x80", kReplacementChar, 1},      // overlong lead
      {"\xED\xA0\x80", kReplacementChar, 1},  // surrogate: ill-formed after the lead
      {"\xF4\x90\x80\x80", kReplacementChar, 1},
      {"\xE2\x82", kReplacementChar, 2},  // truncated: one maximal subpart
      {"\x80", kReplacementChar, 1},
      {"\xFF", kReplacementChar, 1},
  };
  for (const Case& c : cases) {
    size_t pos = 0;
    EXPECT_EQ(utf8_decode(c.bytes, &pos), c.cp) << c.bytes;
    EXPECT_EQ(pos, c.consumed) << c.bytes;
  }
}

TEST(UnicodeTest, ValidPrefixIncompleteTailAndSanitize) {
  EXPECT_EQ(utf8_valid_prefix("abc\xC3\xA9"), 5u);
  EXPECT_EQ(utf8_valid_prefix("abcdefghij\xFFxyz"), 10u);
  EXPECT_EQ(utf8_valid_prefix("\xEF\xBF\xBD"), 3u);  // U+FFFD itself is valid
  EXPECT_EQ(utf8_incomplete_tail("ab\xF0\x9F\xA6"), 3u);
  EXPECT_EQ(utf8_incomplete_tail("ab\xF0\x9F\xA6\x99"), 0u);
  EXPECT_EQ(utf8_incomplete_tail("ab\xE2"), 1u);
  EXPECT_EQ(utf8_incomplete_tail("ab\xE0\x80"), 0u);  // E0 80 can never complete
  EXPECT_EQ(utf8_incomplete_tail("ab\x80"), 0u);
  EXPECT_EQ(utf8_sanitize("a\xE2\x82z"), "a\xEF\xBF\xBDz");
  EXPECT_EQ(utf8_sanitize("\xFF\xFE"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(utf8_sanitize("ok \xC3\xA9"), "ok \xC3\xA9");
}

TEST(UnicodeTest, ClassesLowercaseAndNfd) {
  EXPECT_TRUE(char_flags('a') & kCharLetter);
  EXPECT_TRUE(char_flags('7') & kCharNumber);
  EXPECT_TRUE(char_flags(',') & kCharPunctuation);
  EXPECT_TRUE(char_flags('$') & kCharSymbol);
  EXPECT_TRUE(char_flags(0x0301) & kCharMarkNonspacing);
  EXPECT_TRUE(char_flags(0x200D) & kCharControl);  // ZWJ is Cf
  EXPECT_TRUE(char_flags('\t') & kCharWhitespace);
  EXPECT_TRUE(char_flags(0x3000) & kCharWhitespace);
  EXPECT_FALSE(char_flags('a') & kCharWhitespace);
  EXPECT_EQ(to_lower('Q'), static_cast<uint32_t>('q'));
  EXPECT_EQ(to_lower(0xC4), 0xE4u);    // Ä
  EXPECT_EQ(to_lower(0x3A3), 0x3C3u);  // Σ
  EXPECT_EQ(to_lower(0x4E00), 0x4E00u);
  EXPECT_EQ(nfd({0xE9}), (std::vector<uint32_t>{'e', 0x301}));
  EXPECT_EQ(nfd({0x1EE9}), (std::vector<uint32_t>{'u', 0x31B, 0x301}));  // ứ, fully decomposed
  EXPECT_EQ(nfd({0xAC00}), (std::vector<uint32_t>{0x1100, 0x1161}));      // Hangul 가
  EXPECT_EQ(nfd({'a', 0x301, 0x316}), (std::vector<uint32_t>{'a', 0x316, 0x301}));  // canonical order
  // What llama.cpp's WordPiece normalizer keeps: the first code point only.
  EXPECT_EQ(nfd_first(0xE9), static_cast<uint32_t>('e'));
  EXPECT_EQ(nfd_first(0x1EE9), static_cast<uint32_t>('u'));
  EXPECT_EQ(nfd_first(0xAC00), 0x1100u);    // 가 -> ᄀ
  EXPECT_EQ(nfd_first(0xD55C), 0x1112u);    // 한 -> ᄒ (not ᄒ ᅡ ᆫ)
  EXPECT_EQ(nfd_first(0xD7A3), 0x1112u);    // 힣, the last syllable
  EXPECT_EQ(nfd_first(0x1D15E), 0x1D157u);  // a stemmed note -> its head
  EXPECT_EQ(nfd_first(0x1100), 0x1100u);    // jamo have no decomposition
  EXPECT_EQ(nfd_first('a'), static_cast<uint32_t>('a'));
}

TEST(UnicodeTest, ByteAlphabetRoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  const std::string encoded = byte_level_encode(all);
  std::string back;
  ASSERT_TRUE(byte_level_decode(encoded, &back));
  EXPECT_EQ(back, all);
  EXPECT_EQ(byte_to_cp(' '), 0x120u);  // "Ġ"
  EXPECT_EQ(byte_to_cp('\n'), 0x10Au);  // "Ċ"
  EXPECT_EQ(byte_to_cp('A'), static_cast<uint32_t>('A'));
  EXPECT_FALSE(byte_level_decode("\xE2\x96\x81", &back));  // U+2581 is outside the alphabet
}

// ---- pre-tokenizers ---------------------------------------------------------------------

std::vector<std::string> split(const std::string& pre, const std::string& text) {
  auto spec = find_pre_tokenizer(pre);
  EXPECT_TRUE(spec.ok()) << pre;
  auto splitter = RegexSplitter::create(spec->patterns);
  EXPECT_TRUE(splitter.ok());
  std::vector<Span> spans;
  (*splitter)->split(text, &spans);
  std::vector<std::string> out;
  for (const Span& s : spans) out.push_back(text.substr(s.offset, s.length));
  return out;
}

using Pieces = std::vector<std::string>;

TEST(PreTokenizerTest, FamiliesSplitAsTheirPatternsSay) {
  EXPECT_EQ(split("gpt-2", "Hello world's  12345!!"), (Pieces{"Hello", " world", "'s", " ", " 12345", "!!"}));
  EXPECT_EQ(split("smollm", "x = 123;"), (Pieces{"x", " =", " ", "1", "2", "3", ";"}));
  EXPECT_EQ(split("llama-bpe", "abc 12345\n\n  x"), (Pieces{"abc", " ", "123", "45", "\n\n", " ", " x"}));
  EXPECT_EQ(split("qwen2", "I'M 42"), (Pieces{"I", "'M", " ", "4", "2"}));
  EXPECT_EQ(split("deepseek-coder", "foo(1)\n"), (Pieces{"foo", "(", "1", ")", "\n"}));
  EXPECT_EQ(split("deepseek-v3", "12345 ab"), (Pieces{"123", "45", " ab"}));
  // The default patterns run in sequence: punctuation runs first, then GPT-2, then digits.
  EXPECT_EQ(split("default", "a+b 1234"), (Pieces{"a", "+", "b", " ", "123", "4"}));
  // An empty match only marks a boundary (superbpe groups digits in threes from the right).
  EXPECT_EQ(split("superbpe", "1234567"), (Pieces{"1", "234", "567"}));
}

TEST(PreTokenizerTest, EveryKnownNameCompiles) {
  const auto names = pre_tokenizer_names();
  EXPECT_GT(names.size(), 60u);
  for (const std::string& n : names) {
    auto spec = find_pre_tokenizer(n);
    ASSERT_TRUE(spec.ok()) << n;
    auto splitter = RegexSplitter::create(spec->patterns);
    EXPECT_TRUE(splitter.ok()) << n << ": " << (splitter.ok() ? "" : splitter.error().message());
  }
  auto unknown = find_pre_tokenizer("no-such-pre");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.error().message().find("'no-such-pre'"), std::string::npos);
}

// ---- vocabulary A (the fixture models' 512-token byte-level BPE) ----------------------------

VocabData vocab_a(const std::string& pre) {
  const auto j = nlohmann::json::parse(
      testing::read_binary_file(std::string(MOECODE_TEST_DATA) + "/fixtures/models/vocab-A.json"));
  VocabData v;
  v.model = j.at("tokenizer_model");
  v.pre = pre;
  v.tokens = j.at("tokens").get<std::vector<std::string>>();
  v.types = j.at("token_types").get<std::vector<int32_t>>();
  v.merges = j.at("merges").get<std::vector<std::string>>();
  v.bos = j.at("specials").at("<|begin_of_text|>").get<int64_t>();
  v.eos = j.at("specials").at("<|end_of_text|>").get<int64_t>();
  return v;
}

std::shared_ptr<const Tokenizer> build(VocabData v) {
  auto t = build_tokenizer(std::move(v));
  EXPECT_TRUE(t.ok()) << (t.ok() ? "" : t.error().message());
  return t.ok() ? *t : nullptr;
}

TEST(BpeTest, VocabAMatchesGoldenOfTinyLlama) {
  VocabData v = vocab_a("llama-bpe");
  v.add_bos = true;
  auto tok = build(v);
  ASSERT_TRUE(tok);
  const auto golden = nlohmann::json::parse(
      testing::read_binary_file(std::string(MOECODE_TEST_DATA_GEN) + "/fixtures/golden/tiny-llama.f32.json"));
  for (const auto& t : golden.at("tokenize")) {
    EXPECT_EQ(tok->encode(t.at("text").get<std::string>(), true, true),
              t.at("ids_add_special_parse_special").get<std::vector<Token>>());
    EXPECT_EQ(tok->encode(t.at("text").get<std::string>(), false, false), t.at("ids_plain").get<std::vector<Token>>());
  }
  EXPECT_EQ(tok->special().bos, 506);
  EXPECT_EQ(tok->special().fim_pre, 508);  // found by its text
  EXPECT_EQ(tok->special().fim_suf, 510);
  EXPECT_EQ(tok->special().nl, 10);
  EXPECT_TRUE(tok->is_end_of_generation(507));
  EXPECT_FALSE(tok->is_end_of_generation(506));
  EXPECT_TRUE(tok->is_special(508));
  EXPECT_FALSE(tok->is_special(97));
  EXPECT_EQ(tok->find_token("<|pad|>"), 511);
  EXPECT_EQ(tok->find_token("no such token"), kNoToken);
}

TEST(BpeTest, IllFormedUtf8RoundTripsByteForByte) {
  auto tok = build(vocab_a("qwen2"));
  ASSERT_TRUE(tok);
  const std::string text = "caf\xC3\xA9 \xFF\xFE ok \xE2\x82 x\xF0\x9F\xA6 \xC3";
  const auto ids = tok->encode(text, false, false);
  EXPECT_EQ(tok->decode(ids), text);
}

// Every pre-tokenizer family keeps every byte: random strings mixing ASCII, code
// punctuation, multi-byte characters and ill-formed bytes round-trip exactly.
TEST(BpeTest, EveryFamilyRoundTripsRandomBytes) {
  const std::vector<std::string> alphabet = {
      "a", "Z", "0", "7", " ", "  ", "\t", "\n", "\r\n", "'s", "'LL", "(", ")", "{", "}", ";", "<|", "|>", "_",
      "-", "$", "\xC3\xA9", "\xC3\x84", "\xE2\x80\x94", "\xE4\xBD\xA0", "\xEA\xB0\x80", "\xE3\x81\x82",
      "\xF0\x9F\xA6\x99", "\xCC\x81", "\xE2\x80\x8D", "\xEF\xBF\xBD", "\xFF", "\xC3", "\xE2\x82", "\x80", "\xED\xA0\x80"};
  uint64_t seed = 12345;
  auto next = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(seed >> 33);
  };
  std::vector<std::string> texts;
  for (int i = 0; i < 150; ++i) {
    std::string t;
    const uint32_t len = next() % 40;
    for (uint32_t k = 0; k < len; ++k) t += alphabet[next() % alphabet.size()];
    texts.push_back(t);
  }
  for (const char* family : {"default", "llama-bpe", "dbrx", "deepseek-llm", "deepseek-coder", "deepseek-v3",
                                    "falcon", "starcoder", "gpt-2", "qwen2", "qwen35", "poro-chat", "viking",
                                    "chatglm-bpe", "tekken", "chameleon", "gpt-4o", "seed-coder", "bailingmoe",
                                    "exaone-moe", "minicpm5", "superbpe"}) {
    VocabData v = vocab_a(family);
    v.add_bos = false;
    auto tok = build(v);
    ASSERT_TRUE(tok) << family;
    for (const std::string& t : texts) {
      EXPECT_EQ(tok->decode(tok->encode(t, false, false)), t) << family;
      EXPECT_EQ(tok->decode(tok->encode(t, true, true)), t) << family;
    }
  }
}

TEST(BpeTest, DecodeAndPieces) {
  auto tok = build(vocab_a("gpt-2"));
  ASSERT_TRUE(tok);
  const std::vector<Token> ids = {506, 72, 105, 507, -1, 100000};
  EXPECT_EQ(tok->decode(ids), "<|begin_of_text|>Hi<|end_of_text|>");  // out-of-range ids skipped
  EXPECT_EQ(tok->decode(ids, /*render_special=*/false), "Hi");
  EXPECT_EQ(tok->piece(32), " ");
  EXPECT_EQ(tok->piece(506, false), "");
  EXPECT_EQ(tok->piece(-5), "");
  EXPECT_EQ(tok->n_vocab(), 512);
  EXPECT_EQ(tok->model_name(), "gpt2");
  EXPECT_EQ(tok->pre_name(), "gpt-2");
}

TEST(BpeTest, ConcurrentEncodesAgree) {
  auto tok = build(vocab_a("deepseek-v3"));
  ASSERT_TRUE(tok);
  std::string text;
  for (int i = 0; i < 200; ++i) text += "for (int i = " + std::to_string(i) + "; i < n; ++i) { sum += v[i]; }\n";
  const auto want = tok->encode(text, true, true);
  std::vector<std::vector<Token>> got(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 5; ++k) got[t] = tok->encode(text, true, true);
    });
  }
  for (auto& th : threads) th.join();
  for (const auto& g : got) EXPECT_EQ(g, want);
}

// ---- special tokens ---------------------------------------------------------------------

// Byte tokens 0..255 (GPT-2 alphabet), no merges, plus the given extra tokens.
VocabData byte_vocab(const std::vector<std::pair<std::string, TokenType>>& extra) {
  VocabData v;
  v.model = "gpt2";
  v.pre = "gpt-2";
  for (int b = 0; b < 256; ++b) {
    v.tokens.push_back(byte_level_encode(std::string(1, static_cast<char>(b))));
    v.types.push_back(static_cast<int32_t>(TokenType::kNormal));
  }
  for (const auto& [text, type] : extra) {
    v.tokens.push_back(text);
    v.types.push_back(static_cast<int32_t>(type));
  }
  return v;
}

TEST(SpecialTokenTest, LongestFirstControlOnlyWhenParsingUserDefinedAlways) {
  auto tok = build(byte_vocab({{"<a>", TokenType::kControl},          // 256
                               {"<a><b>", TokenType::kControl},       // 257
                               {"[USER]", TokenType::kUserDefined},   // 258
                               {"<|\xEF\xBD\x9C>", TokenType::kControl}}));  // 259, raw UTF-8 text
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->encode("x<a><b><a>", false, true), (std::vector<Token>{'x', 257, 256}));
  EXPECT_EQ(tok->encode("<a>", false, false), (std::vector<Token>{'<', 'a', '>'}));
  EXPECT_EQ(tok->encode("[USER]", false, false), (std::vector<Token>{258}));
  EXPECT_EQ(tok->encode("<|\xEF\xBD\x9C>", false, true), (std::vector<Token>{259}));
  // Rendering: control text only with render_special; user-defined always.
  EXPECT_EQ(tok->decode(std::vector<Token>{257, 258, 259}, false), "[USER]");
  EXPECT_EQ(tok->decode(std::vector<Token>{257, 258, 259}, true), "<a><b>[USER]<|\xEF\xBD\x9C>");
}

TEST(SpecialTokenTest, Phi3SpecialTokensEatFollowingWhitespace) {
  VocabData v = byte_vocab({{"<|user|>", TokenType::kUserDefined}, {"<s>", TokenType::kControl}});
  v.general_name = "Phi3";
  auto tok = build(v);
  ASSERT_TRUE(tok);
  // RSTRIP on every special token of a Phi-3 vocabulary except <unk>, <s>, <|endoftext|>.
  EXPECT_EQ(tok->encode("<|user|>\n  hi", false, false), (std::vector<Token>{256, 'h', 'i'}));
  EXPECT_EQ(tok->encode("<s> hi", false, true), (std::vector<Token>{257, ' ', 'h', 'i'}));
}

TEST(SpecialTokenTest, EndOfGenerationAndRolesFromTexts) {
  auto tok = build(byte_vocab({{"<|im_start|>", TokenType::kControl},
                               {"<|im_end|>", TokenType::kControl},
                               {"<|endoftext|>", TokenType::kNormal},
                               {"<|fim_prefix|>", TokenType::kControl},
                               {"<|file_sep|>", TokenType::kControl}}));
  ASSERT_TRUE(tok);
  EXPECT_TRUE(tok->is_end_of_generation(257));  // <|im_end|>
  EXPECT_TRUE(tok->is_end_of_generation(258));  // <|endoftext|>, and now a control token
  EXPECT_TRUE(tok->is_special(258));
  EXPECT_TRUE(tok->is_end_of_generation(260));  // the file separator ends FIM generation
  EXPECT_FALSE(tok->is_end_of_generation(256));
  EXPECT_EQ(tok->special().eot, 257);
  EXPECT_EQ(tok->special().fim_pre, 259);
  EXPECT_EQ(tok->special().fim_sep, 260);
}

// ---- SentencePiece ------------------------------------------------------------------------

VocabData spm_vocab() {
  VocabData v;
  v.model = "llama";
  auto add = [&](const std::string& text, float score, TokenType type) {
    v.tokens.push_back(text);
    v.scores.push_back(score);
    v.types.push_back(static_cast<int32_t>(type));
  };
  add("<unk>", 0, TokenType::kUnknown);
  add("<s>", 0, TokenType::kControl);
  add("</s>", 0, TokenType::kControl);
  for (int b = 0; b < 256; ++b) {
    static const char* kHex = "0123456789ABCDEF";
    add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", 0, TokenType::kByte);
  }
  add("\xE2\x96\x81", -1, TokenType::kNormal);            // 259 "▁"
  add("h", -2, TokenType::kNormal);                       // 260
  add("i", -2, TokenType::kNormal);                       // 261
  add("\xE2\x96\x81h", -3, TokenType::kNormal);           // 262
  add("\xE2\x96\x81hi", -1.5f, TokenType::kNormal);       // 263
  add("hi", -0.5f, TokenType::kNormal);                   // 264
  return v;
}

TEST(SpmTest, MergesByScoreWithByteFallbackAndSpacePrefix) {
  auto tok = build(spm_vocab());
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->special().bos, 1);
  EXPECT_TRUE(tok->special().add_bos);
  // "▁hi": "hi" (-0.5) merges before "▁h" (-3), then "▁" + "hi" (-1.5).
  EXPECT_EQ(tok->encode("hi", false, false), (std::vector<Token>{263}));
  EXPECT_EQ(tok->encode("hi", true, false), (std::vector<Token>{1, 263}));
  // "▁hi▁hé": the second "▁h" can only merge with "▁".
  EXPECT_EQ(tok->encode("hi h\xC3\xA9", false, false), (std::vector<Token>{263, 262, 3 + 0xC3, 3 + 0xA9}));
  // "é" is no token: its two bytes fall back to <0xC3> <0xA9>.
  EXPECT_EQ(tok->encode("h\xC3\xA9", false, false), (std::vector<Token>{262, 3 + 0xC3, 3 + 0xA9}));
  EXPECT_EQ(tok->decode(tok->encode("hi h\xC3\xA9", false, false)), "hi h\xC3\xA9");
  // After a special token the text gets its space prefix again.
  EXPECT_EQ(tok->encode("<s>hi", false, true), (std::vector<Token>{1, 263}));
  EXPECT_EQ(tok->decode(tok->encode("<s>hi", false, true)), "<s>hi");
  EXPECT_EQ(tok->special().nl, 3 + '\n');
}

// ---- BPE over SentencePiece-style texts (tokenizer.ggml.model "gemma4") ---------------------

// Control tokens, the 256 <0xXX> byte tokens, then raw UTF-8 texts with "▁" for spaces.
struct Gemma4Vocab {
  VocabData v;
  Token pad, eos, bos, s_end, tool_response, nl, nl3, space, h, i, x, hh, hi, space_hi, space2;
  Token byte(uint8_t b) const { return 4 + b; }
};

Gemma4Vocab gemma4_vocab() {
  Gemma4Vocab g;
  VocabData& v = g.v;
  v.model = "gemma4";
  v.pre = "no-such-pre";  // ignored: the model fixes its pre-tokenizer
  auto add = [&](const std::string& text, TokenType type) {
    v.tokens.push_back(text);
    v.types.push_back(static_cast<int32_t>(type));
    return static_cast<Token>(v.tokens.size() - 1);
  };
  g.pad = add("<pad>", TokenType::kControl);
  g.eos = add("<eos>", TokenType::kControl);
  g.bos = add("<bos>", TokenType::kControl);
  add("<unk>", TokenType::kUnknown);
  for (int b = 0; b < 256; ++b) {
    static const char* kHex = "0123456789ABCDEF";
    add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", TokenType::kByte);
  }
  g.s_end = add("</s>", TokenType::kControl);
  g.tool_response = add("<|tool_response>", TokenType::kControl);
  g.nl = add("\n", TokenType::kNormal);
  g.nl3 = add("\n\n\n", TokenType::kNormal);  // no merge makes it: only the newline-run rule
  g.space = add("\xE2\x96\x81", TokenType::kNormal);
  g.h = add("h", TokenType::kNormal);
  g.i = add("i", TokenType::kNormal);
  g.x = add("x", TokenType::kNormal);
  g.hh = add("hh", TokenType::kNormal);  // no merge makes it either
  g.hi = add("hi", TokenType::kNormal);
  g.space_hi = add("\xE2\x96\x81hi", TokenType::kNormal);
  g.space2 = add("\xE2\x96\x81\xE2\x96\x81", TokenType::kNormal);
  v.merges = {"h i", "\xE2\x96\x81 hi", "\xE2\x96\x81 \xE2\x96\x81", "x x"};  // "xx" is no token
  v.bos = g.bos;
  v.eos = g.eos;
  v.pad = g.pad;
  v.add_bos = false;  // overridden: gemma4 always adds BOS
  return g;
}

TEST(Gemma4Test, MergesRawUtf8WithEscapedSpaces) {
  const Gemma4Vocab g = gemma4_vocab();
  auto tok = build(g.v);
  ASSERT_TRUE(tok);
  using Ids = std::vector<Token>;
  EXPECT_EQ(tok->model_name(), "gemma4");
  // Spaces become "▁" and merge like any character: "hi▁hi".
  EXPECT_EQ(tok->encode("hi hi", false, false), (Ids{g.hi, g.space_hi}));
  // "▁▁hi": "h i" (rank 0), then "▁ hi" (rank 1) before "▁ ▁" (rank 2).
  EXPECT_EQ(tok->encode("  hi", false, false), (Ids{g.space, g.space_hi}));
  EXPECT_EQ(tok->encode("  ", false, false), (Ids{g.space2}));
  // Only newlines split; BPE runs over the rest of the line, spaces included.
  EXPECT_EQ(tok->encode("hi\nhi hi", false, false), (Ids{g.hi, g.nl, g.hi, g.space_hi}));
  // A run of newlines that is a token is taken whole (no merge makes "\n\n\n")...
  EXPECT_EQ(tok->encode("h\n\n\nh", false, false), (Ids{g.h, g.nl3, g.h}));
  // ... other runs merge as usual, and the rule is for newline runs only ("hh" stays two).
  EXPECT_EQ(tok->encode("\n\n", false, false), (Ids{g.nl, g.nl}));
  EXPECT_EQ(tok->encode("hh", false, false), (Ids{g.h, g.h}));
  // A character outside the vocabulary, and a merge result that is no token, fall back to
  // the <0xXX> byte tokens.
  EXPECT_EQ(tok->encode("h\xC3\xA9", false, false), (Ids{g.h, g.byte(0xC3), g.byte(0xA9)}));
  EXPECT_EQ(tok->encode("xx", false, false), (Ids{g.byte('x'), g.byte('x')}));
  EXPECT_EQ(tok->encode("x", false, false), (Ids{g.x}));
  // Ill-formed UTF-8 keeps its bytes.
  EXPECT_EQ(tok->encode("\xE2\x82h\xFF", false, false), (Ids{g.byte(0xE2), g.byte(0x82), g.h, g.byte(0xFF)}));
  // BOS is added although the file says no; no EOS.
  EXPECT_TRUE(tok->special().add_bos);
  EXPECT_EQ(tok->encode("hi", true, false), (Ids{g.bos, g.hi}));
  EXPECT_EQ(tok->special().nl, g.nl);
}

TEST(Gemma4Test, DecodesSpacesAndBytesAndRoundTrips) {
  const Gemma4Vocab g = gemma4_vocab();
  auto tok = build(g.v);
  ASSERT_TRUE(tok);
  EXPECT_EQ(tok->piece(g.space_hi), " hi");
  EXPECT_EQ(tok->piece(g.byte(0x41)), "A");
  EXPECT_EQ(tok->decode(std::vector<Token>{g.bos, g.hi, g.space_hi, g.nl3}, false), "hi hi\n\n\n");
  EXPECT_EQ(tok->decode(std::vector<Token>{g.bos, g.hi}, true), "<bos>hi");
  const std::vector<std::string> alphabet = {"h", "i", "x", " ", "  ", "\n", "\n\n\n", "\t", "hi", "\xC3\xA9",
                                             "\xE4\xBD\xA0", "\xF0\x9F\xA6\x99", "\xFF", "\xE2\x82", "\x80", "<"};
  uint64_t seed = 777;
  auto next = [&] {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(seed >> 33);
  };
  for (int n = 0; n < 200; ++n) {
    std::string t;
    const uint32_t len = next() % 30;
    for (uint32_t k = 0; k < len; ++k) t += alphabet[next() % alphabet.size()];
    EXPECT_EQ(tok->decode(tok->encode(t, false, false)), t);
    EXPECT_EQ(tok->decode(tok->encode(t, true, true), /*render_special=*/false), t);
  }
}

TEST(Gemma4Test, EndOfGenerationAndSpecialTokens) {
  const Gemma4Vocab g = gemma4_vocab();
  auto tok = build(g.v);
  ASSERT_TRUE(tok);
  EXPECT_TRUE(tok->is_end_of_generation(g.eos));
  EXPECT_TRUE(tok->is_end_of_generation(g.tool_response));
  // With <|tool_response> among the ends, "</s>" is ordinary text (as in llama.cpp).
  EXPECT_FALSE(tok->is_end_of_generation(g.s_end));
  EXPECT_FALSE(tok->is_special(g.s_end));
  EXPECT_EQ(tok->encode("<eos>hi", false, true), (std::vector<Token>{g.eos, g.hi}));
  // Merges are checked, as for gpt2.
  VocabData v = g.v;
  v.merges = {"nospace"};
  auto bad = build_tokenizer(v);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("'nospace'"), std::string::npos);
}

// ---- WordPiece ----------------------------------------------------------------------------

TEST(WpmTest, NormalizesAndSplits) {
  WordPieceOptions o;
  EXPECT_EQ(wpm_words("H\xC3\xA9llo, WORLD!\tC\xE1\xBB\xAD" "a \xE4\xBD\xA0\xE5\xA5\xBD", o),
            (Pieces{"hello", ",", "world", "!", "cua", "\xE4\xBD\xA0", "\xE5\xA5\xBD"}));
  o.lowercase = false;
  o.strip_accents = false;
  EXPECT_EQ(wpm_words("H\xC3\xA9llo$x", o), (Pieces{"H\xC3\xA9llo", "$", "x"}));
}

// ---- streaming detokenization ----------------------------------------------------------

TEST(StreamDetokenizerTest, NeverEmitsHalfACharacter) {
  auto tok = build(byte_vocab({}));
  ASSERT_TRUE(tok);
  StreamDetokenizer stream(*tok);
  // U+1F999 (4 bytes) one byte token at a time, then ASCII.
  EXPECT_EQ(stream.push(0xF0), "");
  EXPECT_EQ(stream.push(0x9F), "");
  EXPECT_EQ(stream.push(0xA6), "");
  EXPECT_EQ(stream.push(0x99), "\xF0\x9F\xA6\x99");
  EXPECT_EQ(stream.push('a'), "a");
  // A byte that can never start a character is replaced at once.
  EXPECT_EQ(stream.push(0xFF), "\xEF\xBF\xBD");
  // An interrupted sequence becomes U+FFFD followed by what interrupted it.
  EXPECT_EQ(stream.push(0xE2), "");
  EXPECT_EQ(stream.push('b'), "\xEF\xBF\xBD" "b");
  // flush(): an unfinished trailing sequence becomes U+FFFD.
  EXPECT_EQ(stream.push(0xF0), "");
  EXPECT_EQ(stream.push(0x9F), "");
  EXPECT_EQ(stream.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(stream.flush(), "");
}

TEST(StreamDetokenizerTest, ConcatenationEqualsDecode) {
  auto tok = build(vocab_a("qwen2"));
  ASSERT_TRUE(tok);
  const std::string text = "unicode: h\xC3\xA9llo w\xC3\xB6rld \xE2\x80\x94 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x99\x82 <|pad|>";
  const auto ids = tok->encode(text, true, true);
  StreamDetokenizer stream(*tok);
  std::string out;
  for (Token t : ids) {
    const std::string part = stream.push(t);
    EXPECT_EQ(utf8_valid_prefix(part), part.size());
    out += part;
  }
  out += stream.flush();
  EXPECT_EQ(out, tok->decode(ids));
  StreamDetokenizer quiet(*tok, /*render_special=*/false);
  std::string plain;
  for (Token t : ids) plain += quiet.push(t);
  plain += quiet.flush();
  EXPECT_EQ(plain, tok->decode(ids, false));
}

// ---- errors -------------------------------------------------------------------------------

std::string build_error(VocabData v) {
  auto t = build_tokenizer(std::move(v));
  return t.ok() ? "" : t.error().message();
}

TEST(TokenizerErrorTest, BadVocabulariesAreErrorsThatNameTheProblem) {
  VocabData v = byte_vocab({});
  v.model = "t5";
  EXPECT_NE(build_error(v).find("'t5'"), std::string::npos);
  v = byte_vocab({});
  v.pre = "mystery";
  EXPECT_NE(build_error(v).find("'mystery'"), std::string::npos);
  v = byte_vocab({{"A", TokenType::kNormal}});  // "A" is also byte 0x41
  EXPECT_NE(build_error(v).find("duplicate token 'A'"), std::string::npos);
  v = byte_vocab({});
  v.add_bos = true;
  EXPECT_NE(build_error(v).find("bos_token_id"), std::string::npos);
  v = byte_vocab({});
  v.merges = {"nospace"};
  EXPECT_NE(build_error(v).find("'nospace'"), std::string::npos);
  v = byte_vocab({});
  v.scores = {1.0f};
  EXPECT_NE(build_error(v).find("tokenizer.ggml.scores"), std::string::npos);
  v = VocabData();
  v.model = "gpt2";
  EXPECT_NE(build_error(v).find("empty"), std::string::npos);
  // Special ids outside the vocabulary are ignored, as llama.cpp does.
  v = byte_vocab({});
  v.eos = 100000;
  EXPECT_EQ(build_error(v), "");
}

TEST(TokenizerErrorTest, GgufKeysAreChecked) {
  auto from = [](const gguf::GgufWriter& w) -> std::string {
    const std::vector<uint8_t> bytes = w.to_bytes();
    auto file = gguf::GgufFile::from_bytes(bytes, "test.gguf");
    if (!file.ok()) return "open: " + file.error().message();
    auto t = tokenizer_from_gguf(**file);
    return t.ok() ? "" : t.error().message();
  };
  gguf::GgufWriter w;
  w.set_string("general.architecture", "llama");
  EXPECT_NE(from(w).find("tokenizer.ggml.model"), std::string::npos);
  w.set_string("tokenizer.ggml.model", "gpt2");
  EXPECT_NE(from(w).find("tokenizer.ggml.tokens"), std::string::npos);
  w.set_string_array("tokenizer.ggml.tokens", byte_vocab({}).tokens);
  EXPECT_NE(from(w).find("tokenizer.ggml.merges"), std::string::npos);
  w.set_string_array("tokenizer.ggml.merges", {"\xC4\xA0 t"});
  w.set_string("tokenizer.ggml.pre", "gpt-2");
  w.set_uint32("tokenizer.ggml.eos_token_id", 7);
  w.set_string("tokenizer.ggml.bos_token_id", "seven");
  EXPECT_NE(from(w).find("bos_token_id"), std::string::npos);
  w.set_uint32("tokenizer.ggml.bos_token_id", 7);
  EXPECT_EQ(from(w), "");
}

}  // namespace
}  // namespace moecode::tokenizer
