// The diff to review, through libgit2 (see git_diff.h).
#include "lsp/workspace/git_diff.h"

#include <git2.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>

#include <fmt/format.h>

#include "lsp/workspace/ignore.h"
#include "lsp/workspace/secrets.h"

namespace moecode::workspace {

namespace {

void init_libgit2() {
  static const int once = git_libgit2_init();
  (void)once;
}

std::string git_error_text() {
  const git_error* e = git_error_last();
  return e && e->message ? e->message : "unknown libgit2 error";
}

template <typename T, void (*Free)(T*)>
struct GitFree {
  void operator()(T* p) const {
    if (p) Free(p);
  }
};
using RepoPtr = std::unique_ptr<git_repository, GitFree<git_repository, git_repository_free>>;
using ObjectPtr = std::unique_ptr<git_object, GitFree<git_object, git_object_free>>;
using TreePtr = std::unique_ptr<git_tree, GitFree<git_tree, git_tree_free>>;
using CommitPtr = std::unique_ptr<git_commit, GitFree<git_commit, git_commit_free>>;
using DiffPtr = std::unique_ptr<git_diff, GitFree<git_diff, git_diff_free>>;
using PatchPtr = std::unique_ptr<git_patch, GitFree<git_patch, git_patch_free>>;
using BlobPtr = std::unique_ptr<git_blob, GitFree<git_blob, git_blob_free>>;

Error git_failure(ErrorCode code, const std::string& what) {
  return make_error(code, fmt::format("{}: {}", what, git_error_text()));
}

std::string short_id(const git_oid* id) {
  char buf[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(buf, sizeof buf, id);
  return std::string(buf).substr(0, 7);
}

std::string full_id(const git_oid* id) {
  char buf[GIT_OID_HEXSZ + 1] = {};
  git_oid_tostr(buf, sizeof buf, id);
  return buf;
}

// The first line of a commit's message, cut to 60 bytes.
std::string subject_of(const git_commit* c) {
  const char* s = git_commit_summary(const_cast<git_commit*>(c));
  std::string out = s ? s : "";
  if (out.size() > 60) out = out.substr(0, 57) + "...";
  return out;
}

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t e = text.find('\n', pos);
    if (e == std::string_view::npos) e = text.size();
    std::string line(text.substr(pos, e - pos));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    pos = e + 1;
  }
  return lines;
}

struct NewSide {
  bool workdir = false;  // the new side of the diff is the working tree (else a blob)
};

// Reads the new side of a delta: the working tree's file, or the blob. Sets *skip_reason
// instead when the file must not be reviewed.
std::string read_new_text(git_repository* repo, const std::string& workdir, const git_diff_delta* d,
                          const NewSide& side, uint64_t max_bytes, std::string* skip_reason) {
  if (side.workdir) {
    const std::string abs = workdir + "/" + d->new_file.path;
    struct stat st {};
    if (::lstat(abs.c_str(), &st) != 0) {
      *skip_reason = "unreadable";
      return {};
    }
    if (S_ISLNK(st.st_mode)) {
      *skip_reason = "symlink";
      return {};
    }
    if (!S_ISREG(st.st_mode)) {
      *skip_reason = "not a regular file";
      return {};
    }
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      *skip_reason = fmt::format("oversize ({} bytes, more than {})", st.st_size, max_bytes);
      return {};
    }
    std::ifstream in(abs, std::ios::binary);
    if (!in) {
      *skip_reason = "unreadable";
      return {};
    }
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  git_blob* raw = nullptr;
  if (git_blob_lookup(&raw, repo, &d->new_file.id) != 0) {
    *skip_reason = "unreadable";
    return {};
  }
  BlobPtr blob(raw);
  const auto size = static_cast<uint64_t>(git_blob_rawsize(blob.get()));
  if (size > max_bytes) {
    *skip_reason = fmt::format("oversize ({} bytes, more than {})", size, max_bytes);
    return {};
  }
  return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())), size);
}

// Redacts the secrets of a hunk's removed lines (joined, so that a key block spanning lines
// is found), in place; returns how many spans were redacted.
int redact_removed(std::vector<DiffLine*>& removed) {
  if (removed.empty()) return 0;
  std::string joined;
  for (const DiffLine* l : removed) joined += l->text + "\n";
  const std::vector<ByteSpan> spans = find_secrets(joined);
  if (spans.empty()) return 0;
  const std::vector<std::string> lines = split_lines(redact(joined, spans));
  for (size_t i = 0; i < removed.size(); ++i) removed[i]->text = i < lines.size() ? lines[i] : "";
  return static_cast<int>(spans.size());
}

// Turns one delta into a DiffFile, or says why it is skipped.
bool read_file(git_repository* repo, git_diff* diff, size_t index, const std::string& workdir, const NewSide& side,
               const DiffRequest& req, IgnoreRules* ignore, DiffFile* out, SkippedFile* skipped) {
  const git_diff_delta* d = git_diff_get_delta(diff, index);
  const std::string path = d->new_file.path ? d->new_file.path : "";
  const std::string old_path = d->old_file.path ? d->old_file.path : path;
  skipped->path = path;
  switch (d->status) {
    case GIT_DELTA_ADDED: out->status = 'A'; break;
    case GIT_DELTA_MODIFIED: out->status = 'M'; break;
    case GIT_DELTA_RENAMED: out->status = 'R'; break;
    case GIT_DELTA_COPIED: out->status = 'C'; break;
    case GIT_DELTA_TYPECHANGE: out->status = 'T'; break;
    case GIT_DELTA_DELETED: skipped->reason = "deleted"; return false;
    case GIT_DELTA_CONFLICTED: skipped->reason = "conflicted"; return false;
    default: skipped->reason = "unchanged"; return false;
  }
  if (d->new_file.mode == GIT_FILEMODE_LINK) {
    skipped->reason = "symlink";
    return false;
  }
  if (d->new_file.mode == GIT_FILEMODE_COMMIT) {
    skipped->reason = "submodule";
    return false;
  }
  if (is_secret_file_name(path) || is_secret_file_name(old_path)) {
    skipped->reason = "secret";
    return false;
  }
  if (ignore && ignore->is_ignored(path, false)) {
    skipped->reason = "ignored";
    return false;
  }
  std::string reason;
  std::string text = read_new_text(repo, workdir, d, side, req.max_file_bytes, &reason);
  if (!reason.empty()) {
    skipped->reason = reason;
    return false;
  }
  if (std::memchr(text.data(), '\0', text.size()) != nullptr || (d->flags & GIT_DIFF_FLAG_BINARY)) {
    skipped->reason = "binary";
    return false;
  }
  git_patch* raw_patch = nullptr;
  if (git_patch_from_diff(&raw_patch, diff, index) != 0 || raw_patch == nullptr) {
    skipped->reason = "binary";
    return false;
  }
  PatchPtr patch(raw_patch);
  if (git_patch_get_delta(patch.get())->flags & GIT_DIFF_FLAG_BINARY) {
    skipped->reason = "binary";
    return false;
  }
  const size_t n_hunks = git_patch_num_hunks(patch.get());
  if (n_hunks == 0) {
    skipped->reason = "no text change";
    return false;
  }

  // Secrets: the new text is redacted once; its lines are what the hunks show.
  const std::vector<ByteSpan> spans = find_secrets(text);
  out->n_redacted = static_cast<int>(spans.size());
  if (!spans.empty()) text = redact(text, spans);
  const std::vector<std::string> new_lines = split_lines(text);
  out->path = path;
  out->old_path = old_path;
  out->new_text = std::move(text);

  for (size_t h = 0; h < n_hunks; ++h) {
    const git_diff_hunk* gh = nullptr;
    size_t n_lines = 0;
    if (git_patch_get_hunk(&gh, &n_lines, patch.get(), h) != 0) continue;
    DiffHunk hunk;
    hunk.old_start = gh->old_start;
    hunk.old_lines = gh->old_lines;
    hunk.new_start = gh->new_start;
    hunk.new_lines = gh->new_lines;
    hunk.header = std::string(gh->header, strnlen(gh->header, gh->header_len));
    while (!hunk.header.empty() && (hunk.header.back() == '\n' || hunk.header.back() == '\r')) hunk.header.pop_back();
    for (size_t l = 0; l < n_lines; ++l) {
      const git_diff_line* gl = nullptr;
      if (git_patch_get_line_in_hunk(&gl, patch.get(), h, l) != 0) continue;
      if (gl->origin != GIT_DIFF_LINE_CONTEXT && gl->origin != GIT_DIFF_LINE_ADDITION &&
          gl->origin != GIT_DIFF_LINE_DELETION) {
        continue;  // "\ No newline at end of file" markers
      }
      DiffLine line;
      line.origin = gl->origin;
      line.old_line = gl->old_lineno > 0 ? gl->old_lineno : 0;
      line.new_line = gl->new_lineno > 0 ? gl->new_lineno : 0;
      if (line.new_line > 0 && static_cast<size_t>(line.new_line) <= new_lines.size()) {
        line.text = new_lines[static_cast<size_t>(line.new_line) - 1];  // the redacted text
      } else {
        line.text.assign(gl->content, gl->content_len);
        while (!line.text.empty() && (line.text.back() == '\n' || line.text.back() == '\r')) line.text.pop_back();
      }
      hunk.lines.push_back(std::move(line));
    }
    std::vector<DiffLine*> removed;
    for (DiffLine& l : hunk.lines) {
      if (l.origin == '-') removed.push_back(&l);
    }
    out->n_redacted += redact_removed(removed);
    out->hunks.push_back(std::move(hunk));
  }
  return true;
}

Result<TreePtr> tree_of(git_repository* repo, const std::string& rev, ErrorCode code) {
  git_object* obj = nullptr;
  if (git_revparse_single(&obj, repo, rev.c_str()) != 0) {
    return git_failure(code, fmt::format("unknown revision '{}'", rev));
  }
  ObjectPtr o(obj);
  git_object* tree = nullptr;
  if (git_object_peel(&tree, o.get(), GIT_OBJECT_TREE) != 0) {
    return git_failure(ErrorCode::kInvalidArgument, fmt::format("'{}' does not name a tree", rev));
  }
  return TreePtr(reinterpret_cast<git_tree*>(tree));
}

}  // namespace

const char* diff_mode_name(DiffMode mode) {
  switch (mode) {
    case DiffMode::kAuto: return "auto";
    case DiffMode::kUncommitted: return "uncommitted";
    case DiffMode::kStaged: return "staged";
    case DiffMode::kLastCommit: return "last-commit";
    case DiffMode::kBase: return "base";
  }
  return "auto";
}

Result<RepoDiff> read_diff(const DiffRequest& req) {
  init_libgit2();
  git_repository* raw_repo = nullptr;
  if (git_repository_open_ext(&raw_repo, req.repo_dir.c_str(), 0, nullptr) != 0) {
    return git_failure(ErrorCode::kNotFound, fmt::format("no git repository at '{}'", req.repo_dir));
  }
  RepoPtr repo(raw_repo);
  if (git_repository_is_bare(repo.get()) || git_repository_workdir(repo.get()) == nullptr) {
    return make_error(ErrorCode::kUnsupported, fmt::format("'{}' is a bare repository (no work tree)", req.repo_dir));
  }
  RepoDiff out;
  {
    std::string workdir = git_repository_workdir(repo.get());
    if (char* real = ::realpath(workdir.c_str(), nullptr)) {
      workdir = real;
      std::free(real);
    }
    while (workdir.size() > 1 && workdir.back() == '/') workdir.pop_back();
    out.workdir = workdir;
  }

  // HEAD (absent on an unborn branch).
  CommitPtr head;
  TreePtr head_tree;
  {
    git_object* obj = nullptr;
    if (git_revparse_single(&obj, repo.get(), "HEAD^{commit}") == 0) {
      head.reset(reinterpret_cast<git_commit*>(obj));
      git_tree* t = nullptr;
      if (git_commit_tree(&t, head.get()) != 0) return git_failure(ErrorCode::kIo, "cannot read HEAD's tree");
      head_tree.reset(t);
    }
  }

  git_diff_options opts = GIT_DIFF_OPTIONS_INIT;
  opts.context_lines = static_cast<uint32_t>(std::max(0, req.context_lines));
  opts.flags = GIT_DIFF_INCLUDE_TYPECHANGE | GIT_DIFF_IGNORE_SUBMODULES;
  std::vector<std::string> specs;
  for (const std::string& p : req.paths) {
    if (!p.empty() && p != ".") specs.push_back(p);
  }
  std::vector<char*> spec_ptrs;
  for (std::string& s : specs) spec_ptrs.push_back(s.data());
  opts.pathspec.strings = spec_ptrs.data();
  opts.pathspec.count = spec_ptrs.size();

  auto workdir_diff = [&](git_tree* old_tree) -> Result<DiffPtr> {
    git_diff* d = nullptr;
    if (git_diff_tree_to_workdir_with_index(&d, repo.get(), old_tree, &opts) != 0) {
      return git_failure(ErrorCode::kIo, "cannot diff the working tree");
    }
    return DiffPtr(d);
  };
  auto last_commit_diff = [&]() -> Result<DiffPtr> {
    if (!head) return make_error(ErrorCode::kInvalidArgument, "the repository has no commit yet");
    out.base_commit.clear();
    TreePtr parent_tree;
    if (git_commit_parentcount(head.get()) > 0) {
      git_commit* parent = nullptr;
      if (git_commit_parent(&parent, head.get(), 0) != 0) return git_failure(ErrorCode::kIo, "cannot read HEAD's parent");
      CommitPtr p(parent);
      git_tree* t = nullptr;
      if (git_commit_tree(&t, p.get()) != 0) return git_failure(ErrorCode::kIo, "cannot read the parent's tree");
      parent_tree.reset(t);
      out.base_commit = full_id(git_commit_id(p.get()));
      out.description = fmt::format("the last commit {} \"{}\" (vs its parent {})", short_id(git_commit_id(head.get())),
                                    subject_of(head.get()), short_id(git_commit_id(p.get())));
    } else {
      out.description = fmt::format("the last commit {} \"{}\" (a root commit: vs the empty tree)",
                                    short_id(git_commit_id(head.get())), subject_of(head.get()));
    }
    git_diff* d = nullptr;
    if (git_diff_tree_to_tree(&d, repo.get(), parent_tree.get(), head_tree.get(), &opts) != 0) {
      return git_failure(ErrorCode::kIo, "cannot diff the last commit");
    }
    return DiffPtr(d);
  };

  DiffPtr diff;
  NewSide side;
  switch (req.mode) {
    case DiffMode::kAuto:
    case DiffMode::kUncommitted: {
      MOE_TRY(diff, workdir_diff(head_tree.get()));
      side.workdir = true;
      out.mode = DiffMode::kUncommitted;
      if (head) out.base_commit = full_id(git_commit_id(head.get()));
      out.description = head ? "uncommitted changes (HEAD vs the index and the working tree)"
                             : "uncommitted changes (no commit yet: the index and the working tree)";
      if (req.mode == DiffMode::kAuto && git_diff_num_deltas(diff.get()) == 0 && head) {
        MOE_TRY(diff, last_commit_diff());
        side.workdir = false;
        out.mode = DiffMode::kLastCommit;
      }
      break;
    }
    case DiffMode::kStaged: {
      git_diff* d = nullptr;
      if (git_diff_tree_to_index(&d, repo.get(), head_tree.get(), nullptr, &opts) != 0) {
        return git_failure(ErrorCode::kIo, "cannot diff the index");
      }
      diff.reset(d);
      out.mode = DiffMode::kStaged;
      if (head) out.base_commit = full_id(git_commit_id(head.get()));
      out.description = head ? "staged changes (HEAD vs the index)" : "staged changes (no commit yet: the index)";
      break;
    }
    case DiffMode::kLastCommit: {
      MOE_TRY(diff, last_commit_diff());
      out.mode = DiffMode::kLastCommit;
      break;
    }
    case DiffMode::kBase: {
      if (req.base.empty()) return make_error(ErrorCode::kInvalidArgument, "no base revision");
      MOE_TRY(TreePtr base_tree, tree_of(repo.get(), req.base, ErrorCode::kInvalidArgument));
      git_object* obj = nullptr;
      if (git_revparse_single(&obj, repo.get(), (req.base + "^{commit}").c_str()) == 0) {
        ObjectPtr o(obj);
        out.base_commit = full_id(git_object_id(o.get()));
      }
      MOE_TRY(diff, workdir_diff(base_tree.get()));
      side.workdir = true;
      out.mode = DiffMode::kBase;
      out.description = fmt::format("changes since {}{} (vs the index and the working tree)", req.base,
                                    out.base_commit.empty() ? "" : " (" + out.base_commit.substr(0, 7) + ")");
      break;
    }
  }

  git_diff_find_options find = GIT_DIFF_FIND_OPTIONS_INIT;
  find.flags = GIT_DIFF_FIND_RENAMES;
  git_diff_find_similar(diff.get(), &find);  // best effort: without it renames are add + delete

  std::unique_ptr<IgnoreRules> ignore;
  if (auto rules = IgnoreRules::open(out.workdir); rules.ok()) ignore = std::move(*rules);

  const size_t n = git_diff_num_deltas(diff.get());
  for (size_t i = 0; i < n; ++i) {
    DiffFile file;
    SkippedFile skipped;
    if (read_file(repo.get(), diff.get(), i, out.workdir, side, req, ignore.get(), &file, &skipped)) {
      out.files.push_back(std::move(file));
    } else if (skipped.reason != "unchanged") {
      out.skipped.push_back(std::move(skipped));
    }
  }
  std::sort(out.files.begin(), out.files.end(), [](const DiffFile& a, const DiffFile& b) { return a.path < b.path; });
  std::sort(out.skipped.begin(), out.skipped.end(),
            [](const SkippedFile& a, const SkippedFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace moecode::workspace
