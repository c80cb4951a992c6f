// Content-Length framing: partial and pipelined reads, bad headers with resynchronisation,
// oversized bodies skipped without being buffered.
#include "lsp/jsonrpc/framing.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace moecode::jsonrpc {
namespace {

struct Collector {
  std::vector<std::string> messages;
  std::vector<FrameError> errors;
  FrameDecoder::MessageFn on_message() {
    return [this](std::string b) { messages.push_back(std::move(b)); };
  }
  FrameDecoder::ErrorFn on_error() {
    return [this](FrameError e) { errors.push_back(std::move(e)); };
  }
};

TEST(FramingTest, EncodesAFrame) { EXPECT_EQ(encode_frame("{}"), "Content-Length: 2\r\n\r\n{}"); }

TEST(FramingTest, DecodesByteByByteAndPipelined) {
  const std::string stream = encode_frame(R"({"a":1})") + encode_frame(R"({"b":"é"})") + encode_frame("[]");
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, stream.size()}) {
    FrameDecoder d;
    Collector c;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      d.feed(std::string_view(stream).substr(i, chunk), c.on_message(), c.on_error());
    }
    ASSERT_EQ(c.messages.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(c.messages[1], R"({"b":"é"})");
    EXPECT_TRUE(c.errors.empty());
    EXPECT_TRUE(d.at_boundary());
    EXPECT_EQ(d.buffered_bytes(), 0u);
  }
}

TEST(FramingTest, AcceptsOtherHeadersAnyCaseAndBareLf) {
  FrameDecoder d;
  Collector c;
  d.feed("content-length: 2\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n{}"
         "Content-Length:2\n\n[]",
         c.on_message(), c.on_error());
  ASSERT_EQ(c.messages.size(), 2u);
  EXPECT_EQ(c.messages[1], "[]");
}

TEST(FramingTest, BadContentLengthIsReportedAndTheNextMessageStillArrives) {
  FrameDecoder d;
  Collector c;
  d.feed("Content-Length: abc\r\n\r\n{\"x\":1}" + encode_frame("{}"), c.on_message(), c.on_error());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::kBadLength);
  EXPECT_NE(c.errors[0].message.find("'abc'"), std::string::npos) << c.errors[0].message;
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], "{}");
}

TEST(FramingTest, MissingContentLengthIsReported) {
  FrameDecoder d;
  Collector c;
  d.feed("Content-Type: x\r\n\r\n{\"lost\":true}" + encode_frame("{}"), c.on_message(), c.on_error());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::kMissingLength);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], "{}");
}

TEST(FramingTest, GarbageWithoutHeadersResynchronises) {
  FrameDecoder d;
  Collector c;
  // A client that forgot the header, then a good message; then a header split across reads.
  d.feed(R"({"jsonrpc":"2.0"})" + std::string("\r\n"), c.on_message(), c.on_error());
  d.feed("noise Content-Len", c.on_message(), c.on_error());
  d.feed("gth: 2\r\n\r\n{}", c.on_message(), c.on_error());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::kMalformedHeader);
  ASSERT_EQ(c.messages.size(), 1u);
  EXPECT_EQ(c.messages[0], "{}");
  EXPECT_GT(d.discarded_bytes(), 0u);
}

TEST(FramingTest, EndlessHeaderIsCutAtTheLimit) {
  FrameDecoder d(1024, 64);
  Collector c;
  d.feed(std::string(100, 'x'), c.on_message(), c.on_error());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::kHeaderTooLong);
  EXPECT_LE(d.buffered_bytes(), 64u);
  d.feed(encode_frame("{}"), c.on_message(), c.on_error());
  EXPECT_EQ(c.messages.size(), 1u);
}

TEST(FramingTest, OversizedBodyIsSkippedWithoutBufferingAndItsIdFound) {
  const size_t limit = 1 << 20;
  FrameDecoder d(limit);
  Collector c;
  const size_t size = 100u << 20;  // 100 MiB
  const std::string head = R"({"jsonrpc":"2.0","id":42,"method":"textDocument/didOpen","params":{"text":")";
  d.feed("Content-Length: " + std::to_string(size) + "\r\n\r\n", c.on_message(), c.on_error());
  d.feed(head, c.on_message(), c.on_error());
  size_t sent = head.size();
  const std::string block(1 << 16, 'a');
  size_t max_buffered = 0;
  while (sent < size) {
    const size_t n = std::min(block.size(), size - sent);
    d.feed(std::string_view(block).substr(0, n), c.on_message(), c.on_error());
    sent += n;
    max_buffered = std::max(max_buffered, d.buffered_bytes());
  }
  EXPECT_LE(max_buffered, 4096u);
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].kind, FrameError::Kind::kTooLarge);
  EXPECT_EQ(c.errors[0].declared_length, size);
  EXPECT_EQ(c.errors[0].id_hint, "42");
  EXPECT_NE(c.errors[0].message.find("104857600"), std::string::npos) << c.errors[0].message;
  EXPECT_TRUE(c.messages.empty());
  d.feed(encode_frame("{}"), c.on_message(), c.on_error());
  ASSERT_EQ(c.messages.size(), 1u);  // and the stream goes on
}

TEST(FramingTest, IdHintIgnoresIdsInsideParams) {
  FrameDecoder d(10);
  Collector c;
  const std::string body = R"({"method":"x","params":{"id":7,"pad":"..........."}})";
  d.feed("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body, c.on_message(), c.on_error());
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0].id_hint, "");
}

TEST(FramingTest, MidMessageStateIsVisible) {
  FrameDecoder d;
  Collector c;
  d.feed("Content-Length: 10\r\n\r\n{\"a\"", c.on_message(), c.on_error());
  EXPECT_FALSE(d.at_boundary());
}

}  // namespace
}  // namespace moecode::jsonrpc
