// Position encodings: UTF-16 (surrogate pairs), UTF-8, UTF-32; CRLF / CR / LF line ends;
// clamping past the line end; errors past the last line.
#include "lsp/protocol/position.h"

#include <gtest/gtest.h>

namespace moecode::protocol {
namespace {

constexpr auto kU16 = PositionEncoding::kUtf16;
constexpr auto kU8 = PositionEncoding::kUtf8;
constexpr auto kU32 = PositionEncoding::kUtf32;

size_t off(std::string_view text, uint32_t line, uint32_t ch, PositionEncoding enc) {
  auto r = to_offset(text, Position{line, ch}, enc);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message());
  return r.ok() ? *r : SIZE_MAX;
}

TEST(PositionTest, EncodingNames) {
  EXPECT_STREQ(encoding_name(kU16), "utf-16");
  EXPECT_EQ(parse_encoding("utf-8"), kU8);
  EXPECT_EQ(parse_encoding("utf-32"), kU32);
  EXPECT_FALSE(parse_encoding("latin1").has_value());
}

TEST(PositionTest, LineIndexHandlesLfCrLfAndCr) {
  const std::string text = "a\nbc\r\nd\re";
  LineIndex lines(text);
  ASSERT_EQ(lines.n_lines(), 4u);
  EXPECT_EQ(lines.line_start(1), 2u);
  EXPECT_EQ(lines.line_end(1), 4u);  // before "\r\n"
  EXPECT_EQ(lines.line_start(2), 6u);
  EXPECT_EQ(lines.line_end(2), 7u);  // before the lone "\r"
  EXPECT_EQ(lines.line_start(3), 8u);
  EXPECT_EQ(lines.line_end(3), 9u);
  EXPECT_EQ(lines.line_of(5), 1u);
}

TEST(PositionTest, Utf16CountsSurrogatePairsAsTwoUnits) {
  const std::string text = "a\xF0\x9F\x98\x80" "b";  // a 😀 b
  EXPECT_EQ(off(text, 0, 1, kU16), 1u);
  EXPECT_EQ(off(text, 0, 3, kU16), 5u);  // after the emoji (2 units)
  EXPECT_EQ(off(text, 0, 2, kU16), 1u);  // inside the pair: snaps to its start
  EXPECT_EQ(off(text, 0, 2, kU32), 5u);
  EXPECT_EQ(off(text, 0, 5, kU8), 5u);
  EXPECT_EQ(to_position(text, 5, kU16), (Position{0, 3}));
  EXPECT_EQ(to_position(text, 5, kU32), (Position{0, 2}));
  EXPECT_EQ(to_position(text, 3, kU16), (Position{0, 1}));  // mid-sequence counts from its start
}

TEST(PositionTest, TwoAndThreeByteCharacters) {
  const std::string text = "\xC3\xA9\xE4\xB8\xAD!";  // é 中 !
  EXPECT_EQ(off(text, 0, 1, kU16), 2u);
  EXPECT_EQ(off(text, 0, 2, kU16), 5u);
  EXPECT_EQ(count_units(text, kU16), 3u);
  EXPECT_EQ(count_units(text, kU8), 6u);
}

TEST(PositionTest, CharacterPastLineEndClampsBeforeTheTerminator) {
  const std::string text = "ab\r\ncd";
  EXPECT_EQ(off(text, 0, 99, kU16), 2u);
  EXPECT_EQ(off(text, 1, 99, kU16), 6u);
}

TEST(PositionTest, LinePastTheEndIsAnError) {
  const std::string text = "ab\ncd";
  auto r = to_offset(text, Position{2, 0}, kU16);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("line 2"), std::string::npos) << r.error().message();
  // The line after a final newline exists (it is empty).
  EXPECT_EQ(off("ab\n", 1, 0, kU16), 3u);
}

TEST(PositionTest, InvalidUtf8BytesCountAsOneUnitEach) {
  const std::string text = "a\xFF\xFE" "b";
  EXPECT_EQ(count_units(text, kU16), 4u);
  EXPECT_EQ(off(text, 0, 3, kU16), 3u);
  EXPECT_EQ(to_position(text, 4, kU16), (Position{0, 4}));
}

TEST(PositionTest, RoundTripsEveryOffsetOfAMixedText) {
  const std::string text = "x\xC3\xA9\r\n\xF0\x9F\x98\x80y\n\n\xE4\xB8\xAD\rz";
  for (auto enc : {kU16, kU8, kU32}) {
    LineIndex lines(text);
    for (size_t i = 0; i <= text.size(); ++i) {
      // Offsets at character starts (not inside a sequence or between \r and \n) round-trip.
      const bool boundary = i == text.size() || (static_cast<unsigned char>(text[i]) & 0xC0) != 0x80;
      const bool inside_crlf = i > 0 && text[i - 1] == '\r' && i < text.size() && text[i] == '\n';
      if (!boundary || inside_crlf) continue;
      const Position p = to_position(text, lines, i, enc);
      auto back = to_offset(text, lines, p, enc);
      ASSERT_TRUE(back.ok());
      EXPECT_EQ(*back, i) << "encoding " << encoding_name(enc) << " offset " << i;
    }
  }
}

}  // namespace
}  // namespace moecode::protocol
