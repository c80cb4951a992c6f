// The open documents: text, version and language of each, kept in sync with the editor through
// LSP changes (full or incremental, positions in the negotiated encoding). Each applied change
// yields a ByteEdit for the index's incremental re-parse.
// Document is thread-compatible; DocumentStore is thread-safe (one mutex; snapshots share the
// immutable text, so readers on other threads never copy or block an edit for long).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "lsp/protocol/position.h"
#include "lsp/workspace/text_edit.h"
#include "moecode/engine/result.h"

namespace moecode::workspace {

// One entry of didChange's contentChanges: a range and its replacement, or (no range) the
// whole new text.
struct ContentChange {
  std::optional<protocol::Range> range;
  std::string text;
};

// An immutable view of a document at one version; cheap to copy.
struct DocumentSnapshot {
  std::string uri;
  std::string language_id;
  int64_t version = 0;
  std::shared_ptr<const std::string> text;
};

class Document {
 public:
  Document(std::string uri, std::string language_id, int64_t version, std::string text);

  const std::string& uri() const { return uri_; }
  const std::string& language_id() const { return language_id_; }
  int64_t version() const { return version_; }
  const std::string& text() const { return *text_; }
  DocumentSnapshot snapshot() const { return {uri_, language_id_, version_, text_}; }

  // Applies one change. Positions are converted with `encoding`; a character past its line's
  // end clamps to the end, a line past the document's end or a range whose start is after
  // its end is an error and leaves the text unchanged.
  Result<ByteEdit> apply(const ContentChange& change, protocol::PositionEncoding encoding);

  // Applies changes in order (each against the text the previous one left), then sets the
  // version. All or nothing: on an error the document keeps its text and version.
  Result<std::vector<ByteEdit>> apply_all(std::span<const ContentChange> changes, int64_t version,
                                          protocol::PositionEncoding encoding);

 private:
  std::string uri_;
  std::string language_id_;
  int64_t version_;
  std::shared_ptr<const std::string> text_;
};

// Replaces bytes [start, end) of `text` with `replacement` and describes the edit in
// tree-sitter's terms: rows count '\n' only, columns are bytes after the last '\n'.
ByteEdit make_byte_edit(const std::string& text, size_t start, size_t end, const std::string& replacement);

class DocumentStore {
 public:
  // didOpen. Opening a document that is already open replaces it.
  void open(const std::string& uri, const std::string& language_id, int64_t version, std::string text);

  // didChange: applies `changes` atomically (see Document::apply_all). Errors name the URI.
  Result<std::vector<ByteEdit>> change(const std::string& uri, int64_t version,
                                       std::span<const ContentChange> changes,
                                       protocol::PositionEncoding encoding);

  // didClose. Closing a document that is not open is an error (and changes nothing).
  Status close(const std::string& uri);

  std::optional<DocumentSnapshot> get(const std::string& uri) const;
  // The current version of `uri`, or nullopt when it is not open.
  std::optional<int64_t> version(const std::string& uri) const;
  std::vector<std::string> uris() const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, Document> docs_;
};

}  // namespace moecode::workspace
