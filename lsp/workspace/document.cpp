// The document store (see document.h).
#include "lsp/workspace/document.h"

#include <string_view>
#include <utility>

namespace moecode::workspace {

namespace {

// tree-sitter's point of byte `offset` in `text`: rows count '\n', columns are bytes.
TextPoint point_at(std::string_view text, size_t offset) {
  TextPoint p;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++p.row;
      line_start = i + 1;
    }
  }
  p.column = static_cast<uint32_t>(offset - line_start);
  return p;
}

// The point reached from `start` after inserting `inserted`.
TextPoint point_after(TextPoint start, std::string_view inserted) {
  const size_t last_nl = inserted.rfind('\n');
  if (last_nl == std::string_view::npos) {
    start.column += static_cast<uint32_t>(inserted.size());
    return start;
  }
  uint32_t rows = 0;
  for (char c : inserted) rows += c == '\n';
  return TextPoint{start.row + rows, static_cast<uint32_t>(inserted.size() - last_nl - 1)};
}

std::string describe(const protocol::Position& p) {
  return std::to_string(p.line) + ":" + std::to_string(p.character);
}

}  // namespace

ByteEdit make_byte_edit(const std::string& text, size_t start, size_t end, const std::string& replacement) {
  ByteEdit e;
  e.start_byte = static_cast<uint32_t>(start);
  e.old_end_byte = static_cast<uint32_t>(end);
  e.new_end_byte = static_cast<uint32_t>(start + replacement.size());
  e.start_point = point_at(text, start);
  // old_end from start: count the rows of the removed span only.
  e.old_end_point = point_after(e.start_point, std::string_view(text).substr(start, end - start));
  e.new_end_point = point_after(e.start_point, replacement);
  return e;
}

Document::Document(std::string uri, std::string language_id, int64_t version, std::string text)
    : uri_(std::move(uri)),
      language_id_(std::move(language_id)),
      version_(version),
      text_(std::make_shared<const std::string>(std::move(text))) {}

Result<ByteEdit> Document::apply(const ContentChange& change, protocol::PositionEncoding encoding) {
  const std::string& old = *text_;
  size_t start = 0, end = old.size();
  if (change.range) {
    const protocol::LineIndex lines(old);
    auto s = protocol::to_offset(old, lines, change.range->start, encoding);
    if (!s.ok()) {
      return make_error(ErrorCode::kOutOfRange, "change range start " + describe(change.range->start) +
                                                    " in " + uri_ + ": " + s.error().message());
    }
    auto e = protocol::to_offset(old, lines, change.range->end, encoding);
    if (!e.ok()) {
      return make_error(ErrorCode::kOutOfRange, "change range end " + describe(change.range->end) +
                                                    " in " + uri_ + ": " + e.error().message());
    }
    if (*e < *s) {
      return make_error(ErrorCode::kInvalidArgument, "change range " + describe(change.range->start) + "-" +
                                                         describe(change.range->end) + " in " + uri_ +
                                                         " ends before it starts");
    }
    start = *s;
    end = *e;
  }
  ByteEdit edit = make_byte_edit(old, start, end, change.text);
  std::string next;
  next.reserve(old.size() - (end - start) + change.text.size());
  next.append(old, 0, start);
  next.append(change.text);
  next.append(old, end, std::string::npos);
  text_ = std::make_shared<const std::string>(std::move(next));
  return edit;
}

Result<std::vector<ByteEdit>> Document::apply_all(std::span<const ContentChange> changes, int64_t version,
                                                  protocol::PositionEncoding encoding) {
  const auto saved = text_;
  std::vector<ByteEdit> edits;
  edits.reserve(changes.size());
  for (size_t i = 0; i < changes.size(); ++i) {
    auto edit = apply(changes[i], encoding);
    if (!edit.ok()) {
      text_ = saved;
      return make_error(edit.error().code(),
                        "contentChanges[" + std::to_string(i) + "]: " + edit.error().message());
    }
    edits.push_back(*edit);
  }
  version_ = version;
  return edits;
}

void DocumentStore::open(const std::string& uri, const std::string& language_id, int64_t version,
                         std::string text) {
  std::lock_guard lock(mu_);
  docs_.insert_or_assign(uri, Document(uri, language_id, version, std::move(text)));
}

Result<std::vector<ByteEdit>> DocumentStore::change(const std::string& uri, int64_t version,
                                                    std::span<const ContentChange> changes,
                                                    protocol::PositionEncoding encoding) {
  std::lock_guard lock(mu_);
  auto it = docs_.find(uri);
  if (it == docs_.end()) {
    return make_error(ErrorCode::kNotFound, "didChange for a document that is not open: " + uri);
  }
  return it->second.apply_all(changes, version, encoding);
}

Status DocumentStore::close(const std::string& uri) {
  std::lock_guard lock(mu_);
  if (docs_.erase(uri) == 0) {
    return make_error(ErrorCode::kNotFound, "didClose for a document that is not open: " + uri);
  }
  return Status::ok_status();
}

std::optional<DocumentSnapshot> DocumentStore::get(const std::string& uri) const {
  std::lock_guard lock(mu_);
  auto it = docs_.find(uri);
  if (it == docs_.end()) return std::nullopt;
  return it->second.snapshot();
}

std::optional<int64_t> DocumentStore::version(const std::string& uri) const {
  std::lock_guard lock(mu_);
  auto it = docs_.find(uri);
  if (it == docs_.end()) return std::nullopt;
  return it->second.version();
}

std::vector<std::string> DocumentStore::uris() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.reserve(docs_.size());
  for (const auto& [uri, doc] : docs_) out.push_back(uri);
  return out;
}

size_t DocumentStore::size() const {
  std::lock_guard lock(mu_);
  return docs_.size();
}

}  // namespace moecode::workspace
