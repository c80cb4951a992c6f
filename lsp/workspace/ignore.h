// Ignore rules of one workspace root, through libgit2: .gitignore files (nested ones
// included), .git/info/exclude and core.excludesFile of the enclosing repository (a root
// outside any repository still gets its .gitignore files read), plus our own
// .moecodeignore files (gitignore syntax; a nested one applies below its folder).
// Thread-safe: libgit2 repository objects are not, so calls are serialised by a mutex.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

#include "moecode/engine/result.h"

struct git_repository;

namespace moecode::workspace {

inline constexpr std::string_view kMoecodeIgnoreFile = ".moecodeignore";

// The work tree of the git repository that contains `path` (a file or folder), without a
// trailing '/'; "" when there is none (or it is bare).
std::string enclosing_git_worktree(const std::string& path);

class IgnoreRules {
 public:
  ~IgnoreRules();
  IgnoreRules(const IgnoreRules&) = delete;
  IgnoreRules& operator=(const IgnoreRules&) = delete;

  // `root`: the workspace root, an existing directory, canonical (realpath).
  static Result<std::unique_ptr<IgnoreRules>> open(const std::string& root);

  // True when `rel` (relative to the root, '/'-separated, no leading '/') is ignored.
  // Directories are matched as directories (dir-only patterns like "build/").
  // Loads the .moecodeignore files of rel's folders on first use.
  bool is_ignored(std::string_view rel, bool is_dir);

  // Reads `<root>/<rel_dir>/.moecodeignore` if present (once per folder; "" is the root).
  // The walker calls this when it enters a folder; is_ignored() does it lazily otherwise.
  void load_moecodeignore(std::string_view rel_dir);

  // The root's path relative to the repository's work tree ("" when they are the same or
  // when there is no repository).
  const std::string& repo_prefix() const { return prefix_; }
  bool in_git_repository() const { return in_repo_; }

 private:
  IgnoreRules() = default;
  void load_locked(const std::string& rel_dir);

  std::mutex mu_;
  std::string root_;
  git_repository* repo_ = nullptr;   // the enclosing repository, or a stand-in with root_ as work tree
  git_repository* extra_ = nullptr;  // .moecodeignore rules only (no work tree)
  std::string prefix_;               // root relative to the repo work tree, with a trailing '/'
  bool in_repo_ = false;
  bool has_extra_rules_ = false;  // some .moecodeignore added rules to extra_
  std::set<std::string, std::less<>> loaded_;  // folders whose .moecodeignore was read
};

}  // namespace moecode::workspace
