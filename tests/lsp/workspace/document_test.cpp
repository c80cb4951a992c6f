// The document store: incremental changes in UTF-16/UTF-8 positions (surrogate pairs, CRLF),
// clamping, bad ranges, atomic multi-change updates, ByteEdits for the index; and a property
// test: 1,000 random incremental edits keep the server's text equal to the client's.
#include "lsp/workspace/document.h"

#include <gtest/gtest.h>

#include <random>

namespace moecode::workspace {
namespace {

using protocol::Position;
using protocol::PositionEncoding;
using protocol::Range;

ContentChange change(uint32_t l0, uint32_t c0, uint32_t l1, uint32_t c1, std::string text) {
  return ContentChange{Range{{l0, c0}, {l1, c1}}, std::move(text)};
}

// tree-sitter's point of a byte offset: rows count '\n', columns are bytes.
TextPoint point_of(const std::string& s, size_t off) {
  TextPoint p;
  for (size_t i = 0; i < off; ++i) {
    if (s[i] == '\n') {
      ++p.row;
      p.column = 0;
    } else {
      ++p.column;
    }
  }
  return p;
}

void expect_edit_consistent(const ByteEdit& e, const std::string& before, const std::string& after) {
  EXPECT_EQ(e.new_end_byte + (before.size() - e.old_end_byte), after.size());
  EXPECT_EQ(before.substr(0, e.start_byte), after.substr(0, e.start_byte));
  EXPECT_EQ(before.substr(e.old_end_byte), after.substr(e.new_end_byte));
  const TextPoint s = point_of(before, e.start_byte), o = point_of(before, e.old_end_byte),
                  n = point_of(after, e.new_end_byte);
  EXPECT_EQ(e.start_point.row, s.row);
  EXPECT_EQ(e.start_point.column, s.column);
  EXPECT_EQ(e.old_end_point.row, o.row);
  EXPECT_EQ(e.old_end_point.column, o.column);
  EXPECT_EQ(e.new_end_point.row, n.row);
  EXPECT_EQ(e.new_end_point.column, n.column);
}

TEST(DocumentTest, AppliesUtf16ChangesAroundSurrogatePairs) {
  Document d("file:///a", "python", 1, "x = \"\xF0\x9F\x98\x80\"\n");  // x = "😀"
  // Insert after the emoji: UTF-16 column 7 (x,space,=,space,",😀=2).
  auto e = d.apply(change(0, 7, 0, 7, "!"), PositionEncoding::kUtf16);
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(d.text(), "x = \"\xF0\x9F\x98\x80!\"\n");
  EXPECT_EQ(e->start_byte, 9u);
  // Delete the emoji (2 UTF-16 units).
  ASSERT_TRUE(d.apply(change(0, 5, 0, 7, ""), PositionEncoding::kUtf16).ok());
  EXPECT_EQ(d.text(), "x = \"!\"\n");
}

TEST(DocumentTest, Utf8EncodingCountsBytes) {
  Document d("file:///a", "c", 1, "\xC3\xA9t\xC3\xA9");  // été
  ASSERT_TRUE(d.apply(change(0, 2, 0, 3, "T"), PositionEncoding::kUtf8).ok());
  EXPECT_EQ(d.text(), "\xC3\xA9T\xC3\xA9");
}

TEST(DocumentTest, CrLfLinesAndClampPastLineEnd) {
  Document d("file:///a", "c", 1, "ab\r\ncd\r\n");
  ASSERT_TRUE(d.apply(change(0, 50, 0, 50, "X"), PositionEncoding::kUtf16).ok());  // clamps to line end
  EXPECT_EQ(d.text(), "abX\r\ncd\r\n");
  ASSERT_TRUE(d.apply(change(0, 3, 1, 0, ""), PositionEncoding::kUtf16).ok());  // joins the lines
  EXPECT_EQ(d.text(), "abXcd\r\n");
  ASSERT_TRUE(d.apply(change(1, 0, 1, 0, "end"), PositionEncoding::kUtf16).ok());  // the last (empty) line
  EXPECT_EQ(d.text(), "abXcd\r\nend");
}

TEST(DocumentTest, BadRangesAreErrorsAndChangeNothing) {
  Document d("file:///a", "c", 4, "one\ntwo\n");
  auto past = d.apply(change(5, 0, 5, 1, "x"), PositionEncoding::kUtf16);
  ASSERT_FALSE(past.ok());
  EXPECT_NE(past.error().message().find("file:///a"), std::string::npos) << past.error().message();
  auto backwards = d.apply(change(1, 2, 0, 1, "x"), PositionEncoding::kUtf16);
  ASSERT_FALSE(backwards.ok());
  EXPECT_NE(backwards.error().message().find("ends before it starts"), std::string::npos);
  EXPECT_EQ(d.text(), "one\ntwo\n");
  // apply_all is atomic: the first change is rolled back when the second fails.
  std::vector<ContentChange> changes{change(0, 0, 0, 0, "A"), change(9, 0, 9, 0, "B")};
  auto r = d.apply_all(changes, 5, PositionEncoding::kUtf16);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("contentChanges[1]"), std::string::npos);
  EXPECT_EQ(d.text(), "one\ntwo\n");
  EXPECT_EQ(d.version(), 4);
}

TEST(DocumentTest, FullReplacementAndByteEdits) {
  Document d("file:///a", "c", 1, "a\nbb\n");
  auto e = d.apply(ContentChange{std::nullopt, "zzz"}, PositionEncoding::kUtf16);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->start_byte, 0u);
  EXPECT_EQ(e->old_end_byte, 5u);
  EXPECT_EQ(e->new_end_byte, 3u);
  EXPECT_EQ(e->old_end_point.row, 2u);
  EXPECT_EQ(e->new_end_point.row, 0u);
  EXPECT_EQ(e->new_end_point.column, 3u);
  const std::string before = "x\r\ny\nzz";
  Document d2("file:///b", "c", 1, before);
  auto e2 = d2.apply(change(1, 0, 2, 1, "Q\nR"), PositionEncoding::kUtf16);
  ASSERT_TRUE(e2.ok());
  expect_edit_consistent(*e2, before, d2.text());
}

TEST(DocumentStoreTest, OpenChangeCloseAndSnapshots) {
  DocumentStore store;
  store.open("file:///a", "python", 1, "hello");
  auto snap = store.get("file:///a");
  ASSERT_TRUE(snap.has_value());
  std::vector<ContentChange> changes{change(0, 5, 0, 5, " world")};
  ASSERT_TRUE(store.change("file:///a", 2, changes, PositionEncoding::kUtf16).ok());
  EXPECT_EQ(*snap->text, "hello");  // snapshots are immutable
  EXPECT_EQ(*store.get("file:///a")->text, "hello world");
  EXPECT_EQ(store.version("file:///a"), 2);
  EXPECT_FALSE(store.change("file:///nope", 1, changes, PositionEncoding::kUtf16).ok());
  EXPECT_TRUE(store.close("file:///a").ok());
  EXPECT_FALSE(store.close("file:///a").ok());
  EXPECT_FALSE(store.get("file:///a").has_value());
}

// ---- property test: random edits against a UTF-16 reference model --------------------------

std::u16string to_u16(const std::string& s) {
  std::u16string out;
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    uint32_t cp;
    size_t len;
    if (b < 0x80) {
      cp = b, len = 1;
    } else if ((b & 0xE0) == 0xC0) {
      cp = b & 0x1F, len = 2;
    } else if ((b & 0xF0) == 0xE0) {
      cp = b & 0x0F, len = 3;
    } else {
      cp = b & 0x07, len = 4;
    }
    for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    if (cp >= 0x10000) {
      cp -= 0x10000;
      out += static_cast<char16_t>(0xD800 + (cp >> 10));
      out += static_cast<char16_t>(0xDC00 + (cp & 0x3FF));
    } else {
      out += static_cast<char16_t>(cp);
    }
    i += len;
  }
  return out;
}

std::string to_u8(const std::u16string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    uint32_t cp = s[i];
    if (cp >= 0xD800 && cp <= 0xDBFF && i + 1 < s.size()) {
      cp = 0x10000 + ((cp - 0xD800) << 10) + (s[i + 1] - 0xDC00);
      ++i;
    }
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  return out;
}

// The client's model: lines end at \n, \r\n or \r; returns [start, content end) per line.
std::vector<std::pair<size_t, size_t>> ref_lines(const std::u16string& s) {
  std::vector<std::pair<size_t, size_t>> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == u'\n' || s[i] == u'\r') {
      lines.push_back({start, i});
      if (s[i] == u'\r' && i + 1 < s.size() && s[i + 1] == u'\n') ++i;
      start = i + 1;
    }
  }
  lines.push_back({start, s.size()});
  return lines;
}

TEST(DocumentPropertyTest, ThousandRandomIncrementalEditsKeepTextsEqual) {
  const std::vector<std::string> atoms = {"a", "b", "z", " ", "\t", "(", "}", "\xC3\xA9", "\xE4\xB8\xAD",
                                          "\xF0\x9F\x98\x80", "\xF0\x9D\x84\x9E", "\n", "\r\n", "\r", "\n\n"};
  std::mt19937 rng(20261128);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  auto random_text = [&](size_t max_atoms) {
    std::string s;
    const size_t n = pick(max_atoms + 1);
    for (size_t i = 0; i < n; ++i) s += atoms[pick(atoms.size())];
    return s;
  };

  std::string initial = random_text(60);
  std::u16string ref = to_u16(initial);
  DocumentStore store;
  store.open("file:///p", "plaintext", 0, initial);
  for (int step = 1; step <= 1000; ++step) {
    const auto lines = ref_lines(ref);
    ContentChange ch;
    ch.text = random_text(5);
    size_t a, b;
    if (pick(40) == 0) {  // now and then a whole-document replacement
      a = 0;
      b = ref.size();
    } else {
      auto random_pos = [&](Position& p) {
        p.line = static_cast<uint32_t>(pick(lines.size()));
        const auto [ls, le] = lines[p.line];
        size_t c = pick(le - ls + 3);  // sometimes past the end of the line (clamps)
        size_t at = ls + std::min(c, le - ls);
        if (at < le && at > ls && ref[at] >= 0xDC00 && ref[at] <= 0xDFFF) {
          --c;  // never split a surrogate pair: step back to its start
          --at;
        }
        p.character = static_cast<uint32_t>(c);
        return at;
      };
      Position p0, p1;
      a = random_pos(p0);
      b = random_pos(p1);
      if (b < a) {
        std::swap(a, b);
        std::swap(p0, p1);
      }
      ch.range = Range{p0, p1};
    }
    const std::string before = *store.get("file:///p")->text;
    ref = ref.substr(0, a) + to_u16(ch.text) + ref.substr(b);
    std::vector<ContentChange> changes{ch};
    auto edits = store.change("file:///p", step, changes, PositionEncoding::kUtf16);
    ASSERT_TRUE(edits.ok()) << "step " << step << ": " << edits.error().message();
    const std::string after = *store.get("file:///p")->text;
    ASSERT_EQ(after, to_u8(ref)) << "step " << step;
    ASSERT_EQ(edits->size(), 1u);
    expect_edit_consistent((*edits)[0], before, after);
  }
  EXPECT_EQ(store.version("file:///p"), 1000);
}

}  // namespace
}  // namespace moecode::workspace
