// LSP structures <-> JSON: decoding checks types and names the offending field.
#include "lsp/protocol/types.h"

#include <gtest/gtest.h>

namespace moecode::protocol {
namespace {

TEST(TypesTest, DecodesDidChangeWithRangesAndFullText) {
  const Json params = Json::parse(R"({"textDocument": {"uri": "file:///a.py", "version": 3},
    "contentChanges": [{"range": {"start": {"line": 0, "character": 1}, "end": {"line": 0, "character": 2}},
                        "rangeLength": 1, "text": "X"}, {"text": "whole"}]})");
  auto r = decode_did_change(params);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->textDocument.version, 3);
  ASSERT_EQ(r->contentChanges.size(), 2u);
  ASSERT_TRUE(r->contentChanges[0].range.has_value());
  EXPECT_EQ(r->contentChanges[0].range->end.character, 2u);
  EXPECT_FALSE(r->contentChanges[1].range.has_value());
  EXPECT_EQ(r->contentChanges[1].text, "whole");
}

TEST(TypesTest, WrongTypesNameTheField) {
  auto r = decode_text_document_position(
      Json::parse(R"({"textDocument": {"uri": "file:///a"}, "position": {"line": "zero", "character": 0}})"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message(), "params.position.line: expected an unsigned integer, got string");
  auto neg = decode_text_document_position(
      Json::parse(R"({"textDocument": {"uri": "file:///a"}, "position": {"line": -1, "character": 0}})"));
  ASSERT_FALSE(neg.ok());
  EXPECT_NE(neg.error().message().find("params.position.line"), std::string::npos);
  auto missing = decode_did_open(Json::parse(R"({"textDocument": {"uri": "file:///a", "languageId": "c", "version": 1}})"));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().message(), "params.textDocument.text: missing");
  auto not_object = decode_did_close(Json(nullptr));
  ASSERT_FALSE(not_object.ok());
  EXPECT_NE(not_object.error().message().find("expected an object, got null"), std::string::npos);
  auto big = decode_position(Json::parse(R"({"line": 4294967296, "character": 0})"), "p");
  ASSERT_FALSE(big.ok());
  EXPECT_NE(big.error().message().find("out of range"), std::string::npos);
}

TEST(TypesTest, DecodesInitializeCapabilities) {
  const Json params = Json::parse(R"({"processId": 12, "rootUri": "file:///w",
    "capabilities": {"general": {"positionEncodings": ["utf-8", "utf-16"]},
                     "window": {"workDoneProgress": true},
                     "workspace": {"configuration": true, "applyEdit": true},
                     "textDocument": {"inlineCompletion": {}}},
    "initializationOptions": {"maxTokens": 5}, "trace": "verbose",
    "workspaceFolders": [{"uri": "file:///w", "name": "w"}], "clientInfo": {"name": "test"}})");
  auto r = decode_initialize(params);
  ASSERT_TRUE(r.ok()) << r.error().message();
  EXPECT_EQ(r->processId, 12);
  EXPECT_EQ(r->capabilities.positionEncodings, (std::vector<std::string>{"utf-8", "utf-16"}));
  EXPECT_TRUE(r->capabilities.workDoneProgress);
  EXPECT_TRUE(r->capabilities.configuration);
  EXPECT_TRUE(r->capabilities.applyEdit);
  EXPECT_TRUE(r->capabilities.inlineCompletion);
  EXPECT_FALSE(r->capabilities.workspaceFolders);
  EXPECT_EQ(r->initializationOptions["maxTokens"], 5);
  EXPECT_EQ(r->trace, "verbose");
  ASSERT_EQ(r->workspaceFolders.size(), 1u);
  EXPECT_EQ(r->clientName, "test");
}

TEST(TypesTest, EncodesCompletionResults) {
  const Json inl = encode_inline_completion_list({{"return 1", Range{{1, 4}, {1, 4}}}});
  EXPECT_EQ(inl["items"][0]["insertText"], "return 1");
  EXPECT_EQ(inl["items"][0]["range"]["start"]["line"], 1);
  CompletionItem item;
  item.label = "foo";
  item.newText = "foo(x)";
  item.range = Range{{0, 0}, {0, 2}};
  const Json list = encode_completion_list({item});
  EXPECT_EQ(list["isIncomplete"], true);
  EXPECT_EQ(list["items"][0]["textEdit"]["newText"], "foo(x)");
  EXPECT_EQ(list["items"][0]["insertTextFormat"], 1);
}

TEST(TypesTest, FileUrisRoundTrip) {
  EXPECT_EQ(uri_to_path("file:///home/a%20b/c.py"), "/home/a b/c.py");
  EXPECT_EQ(uri_to_path("file://localhost/x"), "/x");
  EXPECT_FALSE(uri_to_path("untitled:Untitled-1").has_value());
  EXPECT_EQ(path_to_uri("/home/a b/c.py"), "file:///home/a%20b/c.py");
  EXPECT_EQ(uri_to_path(path_to_uri("/t/\xC3\xA9#1.c")), "/t/\xC3\xA9#1.c");
}

}  // namespace
}  // namespace moecode::protocol
