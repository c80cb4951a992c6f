// The changes `moecode review` looks at, read from a git repository with libgit2, as plain
// values: files -> hunks -> lines with their old and new line numbers, and each file's new
// text. What a model must never see is left out here, before any prompt exists: deleted
// files (nothing to comment on), binary files, symbolic links and submodules, files that are
// ignored (.gitignore, .moecodeignore) or secret by name (secrets.h), oversize files; text
// that matches a secret pattern is redacted (line breaks kept, so line numbers stay right).
// Thread-compatible: one call opens and closes its own repository.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "moecode/engine/result.h"

namespace moecode::workspace {

enum class DiffMode {
  kAuto,         // uncommitted changes when there are any, else the last commit
  kUncommitted,  // HEAD vs the index and the working tree (`git diff HEAD`)
  kStaged,       // HEAD vs the index (`git diff --cached`)
  kLastCommit,   // HEAD's parent (the empty tree for a root commit) vs HEAD
  kBase,         // a revision vs the index and the working tree (`git diff REV`)
};

struct DiffLine {
  char origin = ' ';  // ' ' context, '+' added, '-' removed
  int old_line = 0;   // 1-based; 0 for an added line
  int new_line = 0;   // 1-based; 0 for a removed line
  std::string text;   // without its line break
};

struct DiffHunk {
  int old_start = 0;
  int old_lines = 0;
  int new_start = 0;  // for a hunk that only removes lines: the new line before the removal
  int new_lines = 0;
  std::string header;  // "@@ -3,7 +3,8 @@ def area(r):"
  std::vector<DiffLine> lines;
};

struct DiffFile {
  std::string path;      // the new path, relative to the work tree, '/'-separated
  std::string old_path;  // differs from path for a rename or a copy
  char status = 'M';     // 'A' added, 'M' modified, 'R' renamed, 'C' copied, 'T' type changed
  std::string new_text;  // the whole new file (secrets redacted)
  int n_redacted = 0;    // secret spans redacted in new_text and the removed lines
  std::vector<DiffHunk> hunks;
};

struct SkippedFile {
  std::string path;
  std::string reason;  // "deleted", "binary", "secret", "ignored", "oversize", "symlink"...
};

struct DiffRequest {
  std::string repo_dir;  // the work tree, or any folder inside it
  DiffMode mode = DiffMode::kAuto;
  std::string base;      // the revision for kBase ("main", "HEAD~2", a hash...)
  // Limits the files: paths relative to the work tree (files or folders, git pathspecs).
  std::vector<std::string> paths;
  uint64_t max_file_bytes = 1u << 20;
  int context_lines = 3;
};

struct RepoDiff {
  std::string workdir;      // absolute, without a trailing '/'
  DiffMode mode = DiffMode::kAuto;  // the mode used (never kAuto)
  std::string description;  // "uncommitted changes (HEAD vs the index and the working tree)"
  std::string base_commit;  // the old side's commit id ("" for the empty tree / the index)
  std::vector<DiffFile> files;     // sorted by path
  std::vector<SkippedFile> skipped;
};

const char* diff_mode_name(DiffMode mode);  // "auto", "uncommitted", "staged", "last-commit", "base"

// Reads the diff. Errors: no repository at repo_dir (kNotFound), an unknown revision
// (kInvalidArgument), kStaged/kLastCommit without a commit, libgit2 failures (kIo).
Result<RepoDiff> read_diff(const DiffRequest& request);

}  // namespace moecode::workspace
