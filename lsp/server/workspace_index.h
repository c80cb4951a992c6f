// The server's view of the workspace index: what it tells the index (documents opened,
// changed with their ByteEdits, saved, closed; folders to index) and how indexing reports
// progress. lsp/workspace's tree-sitter index implements it; FileListIndex is the built-in
// stand-in, which lists the workspace's files.
// Threading: implementations are thread-safe. index_folders() runs on a background thread and
// must check `cancel` between files; the document hooks run on the I/O thread and must be quick.
#pragma once

#include <cstddef>
#include <functional>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "lsp/workspace/document.h"
#include "lsp/workspace/text_edit.h"
#include "moecode/engine/session.h"

namespace moecode::server {

struct IndexProgress {
  std::string message;  // "1200 files"
  int percentage = -1;  // 0..100, or -1 when unknown
};
using ProgressFn = std::function<void(const IndexProgress&)>;

class WorkspaceIndex {
 public:
  virtual ~WorkspaceIndex() = default;
  // Indexes the folders (file system paths); reports progress now and then. Returns a summary.
  virtual std::string index_folders(const std::vector<std::string>& folders, const ProgressFn& progress,
                                    const engine::CancelToken& cancel) = 0;
  virtual void document_opened(const workspace::DocumentSnapshot& doc) = 0;
  virtual void document_changed(const workspace::DocumentSnapshot& doc,
                                std::span<const workspace::ByteEdit> edits) = 0;
  virtual void document_saved(const workspace::DocumentSnapshot& doc) = 0;
  virtual void document_closed(const std::string& uri) = 0;
};

// Lists regular files under the folders (skipping hidden directories, node_modules and
// build*/ folders, at most max_files), and counts the document events it gets.
class FileListIndex final : public WorkspaceIndex {
 public:
  explicit FileListIndex(size_t max_files = 200000) : max_files_(max_files) {}

  std::string index_folders(const std::vector<std::string>& folders, const ProgressFn& progress,
                            const engine::CancelToken& cancel) override;
  void document_opened(const workspace::DocumentSnapshot& doc) override;
  void document_changed(const workspace::DocumentSnapshot& doc, std::span<const workspace::ByteEdit> edits) override;
  void document_saved(const workspace::DocumentSnapshot& doc) override;
  void document_closed(const std::string& uri) override;

  struct Counts {
    size_t files = 0;
    size_t opened = 0, changed = 0, edits = 0, saved = 0, closed = 0;
    int64_t last_saved_version = -1;
  };
  Counts counts() const;

 private:
  size_t max_files_;
  mutable std::mutex mu_;
  Counts counts_;
};

}  // namespace moecode::server
