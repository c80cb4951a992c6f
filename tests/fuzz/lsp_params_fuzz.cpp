// libFuzzer entry: what a client controls in each LSP request's params. Byte 0 picks:
//   0: JSON params through every decode_* of lsp/protocol/types.h (and the server's settings,
//      and file URIs): an error value or a value, never a throw or a crash;
//   1: positions: byte offsets <-> (line, character) in each encoding over arbitrary text
//      (invalid UTF-8, CR/LF mixes): to_offset(to_position(o)) snaps o to its character's
//      start and is a fixed point;
//   2: the document store: a text, then edits (ranges from the input, in each encoding)
//      applied one by one; each applied edit's ByteEdit must describe exactly the change.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "lsp/protocol/position.h"
#include "lsp/protocol/types.h"
#include "lsp/server/config.h"
#include "lsp/workspace/document.h"

namespace {

using namespace moecode;
using protocol::Json;
using protocol::PositionEncoding;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "lsp_params_fuzz: %s\n", what.c_str());
  std::abort();
}

size_t nesting_depth(std::string_view s) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

void decode_all(const Json& j) {
  (void)protocol::decode_position(j, "params");
  (void)protocol::decode_range(j, "params");
  (void)protocol::decode_text_document_item(j, "params");
  (void)protocol::decode_did_open(j);
  (void)protocol::decode_did_change(j);
  (void)protocol::decode_did_close(j);
  (void)protocol::decode_did_save(j);
  (void)protocol::decode_text_document_position(j);
  (void)protocol::decode_initialize(j);
  (void)protocol::decode_workspace_folders(j, "params");
  (void)protocol::decode_did_change_workspace_folders(j);
  (void)protocol::decode_execute_command(j);
  (void)protocol::decode_code_action(j);
  server::ServerConfig config;
  (void)server::apply_settings(config, j);
  (void)config.to_json().dump();
  if (j.is_string()) {
    const std::string s = j.get<std::string>();
    if (auto path = protocol::uri_to_path(s)) (void)protocol::path_to_uri(*path);
    if (!s.empty() && s[0] == '/') {
      auto back = protocol::uri_to_path(protocol::path_to_uri(s));
      if (!back || *back != s) fail("uri_to_path(path_to_uri(p)) != p for '" + s + "'");
    }
  }
}

void fuzz_json(std::string_view in) {
  if (nesting_depth(in) > 64) return;
  const Json j = Json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return;
  decode_all(j);
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) decode_all(value);
  }
}

constexpr PositionEncoding kEncodings[] = {PositionEncoding::kUtf16, PositionEncoding::kUtf8, PositionEncoding::kUtf32};

void fuzz_positions(std::string_view text) {
  const protocol::LineIndex lines(text);
  for (PositionEncoding enc : kEncodings) {
    for (size_t off = 0; off <= text.size(); ++off) {
      const protocol::Position p = protocol::to_position(text, lines, off, enc);
      auto back = protocol::to_offset(text, lines, p, enc);
      if (!back.ok()) fail("to_offset(to_position(" + std::to_string(off) + ")) failed: " + back.error().message());
      if (*back > off) fail("to_offset(to_position(" + std::to_string(off) + ")) = " + std::to_string(*back) + " > offset");
      if (!(protocol::to_position(text, lines, *back, enc) == p)) fail("to_position is not a fixed point");
    }
    // Positions from the text's own bytes: anything in range or an error, never past the end.
    for (size_t i = 0; i + 1 < text.size(); i += 2) {
      const protocol::Position p{static_cast<uint8_t>(text[i]) % 8u, static_cast<uint8_t>(text[i + 1])};
      auto o = protocol::to_offset(text, lines, p, enc);
      if (o.ok() && *o > text.size()) fail("to_offset past the end of the text");
    }
  }
}

// Row and byte column of `offset` as tree-sitter counts them ('\n' only).
workspace::TextPoint point_of(const std::string& text, size_t offset) {
  workspace::TextPoint p;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.row;
      p.column = 0;
    } else {
      ++p.column;
    }
  }
  return p;
}

void fuzz_document(std::string_view in) {
  // text \0 edits: [enc, l0, c0, l1, c1, n, n bytes]...
  const size_t nul = in.find('\0');
  const std::string_view text = in.substr(0, nul);
  std::string_view edits = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  workspace::Document doc("file:///fuzz.py", "python", 1, std::string(text));
  int64_t version = 1;
  while (edits.size() >= 6) {
    const auto u = [&](size_t i) { return static_cast<uint8_t>(edits[i]); };
    const PositionEncoding enc = kEncodings[u(0) % 3];
    workspace::ContentChange change;
    if (u(0) & 0x80) {
      change.range = protocol::Range{{u(1) % 16u, u(2)}, {u(3) % 16u, u(4)}};
    }
    const size_t n = std::min<size_t>(u(5) % 16, edits.size() - 6);
    change.text = std::string(edits.substr(6, n));
    edits.remove_prefix(6 + n);

    const std::string before = doc.text();
    auto edit = doc.apply(change, enc);
    if (!edit.ok()) {
      if (doc.text() != before) fail("a refused change modified the text");
      continue;
    }
    const std::string& after = doc.text();
    const auto& e = *edit;
    if (e.start_byte > e.old_end_byte || e.old_end_byte > before.size()) fail("ByteEdit outside the old text");
    if (e.new_end_byte != e.start_byte + change.text.size()) fail("ByteEdit new end != start + inserted bytes");
    if (after != before.substr(0, e.start_byte) + change.text + before.substr(e.old_end_byte))
      fail("the text is not the old text with the ByteEdit applied");
    if (!(e.start_point == point_of(before, e.start_byte)) || !(e.old_end_point == point_of(before, e.old_end_byte)) ||
        !(e.new_end_point == point_of(after, e.new_end_byte)))
      fail("ByteEdit points disagree with its bytes");
    ++version;
  }
  // Whole-batch changes: all or nothing.
  std::vector<workspace::ContentChange> batch{{protocol::Range{{0, 0}, {0, 1}}, "x"},
                                              {protocol::Range{{99, 0}, {99, 0}}, "y"}};
  const std::string before = doc.text();
  auto r = doc.apply_all(batch, version + 1, PositionEncoding::kUtf16);
  if (!r.ok() && (doc.text() != before || doc.version() != 1)) fail("a refused batch left changes behind");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      fuzz_json(in);
      break;
    case 1:
      if (in.size() <= 4096) fuzz_positions(in);
      break;
    default:
      fuzz_document(in);
      break;
  }
  return 0;
}
