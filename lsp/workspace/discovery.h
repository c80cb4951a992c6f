// File discovery and admission for one workspace root. A file is admitted into the index
// (and into any prompt) only when it is inside the root after resolving symlinks, not
// ignored (.gitignore, nested ignores, .git/info/exclude, .moecodeignore), not secret by
// name (secrets.h), a regular file no larger than max_file_bytes, and not binary.
// The walk never follows a symlink out of the root, never enters a folder twice (loops),
// and skips VCS folders (.git, .hg, .svn).
// Thread-safe (the ignore rules serialise their own libgit2 calls).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammars/languages.h"
#include "lsp/workspace/ignore.h"
#include "moecode/engine/result.h"

namespace moecode::workspace {

inline constexpr uint64_t kDefaultMaxFileBytes = 1u << 20;  // 1 MiB

enum class Verdict : uint8_t {
  kAdmit,
  kOutsideRoot,     // not under the root (after resolving symlinks)
  kIgnored,
  kSecret,
  kOversize,
  kBinary,
  kNotRegularFile,  // a folder, a device, a dangling link...
  kUnreadable,
};
std::string_view verdict_name(Verdict v);

// How many files the walk left out, by reason.
struct SkipCounts {
  uint64_t ignored = 0;          // files and folders
  uint64_t secret = 0;
  uint64_t oversize = 0;
  uint64_t binary = 0;           // counted by whoever reads the file (is_binary)
  uint64_t symlink_outside = 0;  // links that resolve outside the root (or dangle)
  uint64_t symlink_loop = 0;     // links to a folder already visited
  uint64_t unknown_language = 0;
  uint64_t unreadable = 0;
  SkipCounts& operator+=(const SkipCounts& o);
};

struct DiscoveredFile {
  std::string abs_path;  // root + "/" + rel_path (through the link when reached via one)
  std::string rel_path;  // relative to the root, '/'-separated
  uint64_t n_bytes = 0;
  const grammars::Language* language = nullptr;
};

// True when `head` (the first bytes of a file) looks binary: it holds a NUL byte.
bool is_binary(std::string_view head);

class FileFilter {
 public:
  // `root`: an existing directory (made canonical here).
  static Result<std::unique_ptr<FileFilter>> open(const std::string& root, uint64_t max_file_bytes);

  const std::string& root() const { return root_; }
  uint64_t max_file_bytes() const { return max_file_bytes_; }

  // Walks the root: the files with a known language that pass every check except the
  // binary one (the reader checks that with is_binary()). Sorted by rel_path.
  // Stops early (returning what it has) when *cancel becomes true.
  // `start`: a folder relative to the root to walk instead of the whole root.
  std::vector<DiscoveredFile> discover(SkipCounts* skipped, const std::atomic<bool>* cancel = nullptr,
                                       std::string_view start = {}) const;
  // The same walk, handing each file to `sink` as soon as it is found (in the walk's order,
  // not sorted), so that a caller can start on the first files while the walk goes on.
  void discover_each(SkipCounts* skipped, const std::atomic<bool>* cancel, std::string_view start,
                     const std::function<void(DiscoveredFile&&)>& sink) const;

  // Checks one path (absolute, or relative to the root) without reading it unless
  // `check_content` (then the binary test reads its first 8 KiB). *rel_out gets the path
  // relative to the root when the path is under it.
  Verdict check(std::string_view path, bool check_content, std::string* rel_out) const;

  // The same checks for text that comes from an editor rather than the disk: the path
  // must be under the root, not ignored, not secret; the text not oversize nor binary.
  Verdict check_document(std::string_view path, std::string_view text, std::string* rel_out) const;

  // The absolute form of `path` (relative paths are taken from the root), normalised
  // lexically ("a/./b/../c" -> "a/c"); symlinks are not resolved.
  std::string absolute(std::string_view path) const;

 private:
  FileFilter() = default;
  Verdict check_location(const std::string& abs, std::string* rel_out) const;

  std::string root_;
  uint64_t max_file_bytes_ = kDefaultMaxFileBytes;
  std::unique_ptr<IgnoreRules> ignore_;
};

}  // namespace moecode::workspace
