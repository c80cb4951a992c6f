// The built-in workspace index stand-in (see workspace_index.h).
#include "lsp/server/workspace_index.h"

#include <filesystem>

namespace moecode::server {

namespace fs = std::filesystem;

namespace {

bool skipped_dir(const fs::path& p) {
  const std::string name = p.filename().string();
  return (!name.empty() && name[0] == '.') || name == "node_modules" || name.rfind("build", 0) == 0;
}

}  // namespace

std::string FileListIndex::index_folders(const std::vector<std::string>& folders, const ProgressFn& progress,
                                         const engine::CancelToken& cancel) {
  size_t n = 0;
  for (const std::string& folder : folders) {
    std::error_code ec;
    fs::recursive_directory_iterator it(folder, fs::directory_options::skip_permission_denied, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (cancel.cancelled()) return "indexing cancelled after " + std::to_string(n) + " files";
      if (n >= max_files_) break;
      std::error_code ec2;
      if (it->is_directory(ec2)) {
        if (skipped_dir(it->path())) it.disable_recursion_pending();
        continue;
      }
      if (!it->is_regular_file(ec2)) continue;
      ++n;
      if (progress && n % 100 == 0) progress(IndexProgress{std::to_string(n) + " files", -1});
    }
  }
  {
    std::lock_guard lock(mu_);
    counts_.files = n;
  }
  return "indexed " + std::to_string(n) + " files";
}

void FileListIndex::document_opened(const workspace::DocumentSnapshot&) {
  std::lock_guard lock(mu_);
  ++counts_.opened;
}

void FileListIndex::document_changed(const workspace::DocumentSnapshot&, std::span<const workspace::ByteEdit> edits) {
  std::lock_guard lock(mu_);
  ++counts_.changed;
  counts_.edits += edits.size();
}

void FileListIndex::document_saved(const workspace::DocumentSnapshot& doc) {
  std::lock_guard lock(mu_);
  ++counts_.saved;
  counts_.last_saved_version = doc.version;
}

void FileListIndex::document_closed(const std::string&) {
  std::lock_guard lock(mu_);
  ++counts_.closed;
}

FileListIndex::Counts FileListIndex::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace moecode::server
