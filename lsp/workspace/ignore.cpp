// libgit2-backed ignore rules. libgit2 is initialised once per process (never shut down:
// other threads may still use it at exit). All libgit2 calls happen under mu_.
#include "lsp/workspace/ignore.h"

#include <git2.h>
#include <git2/sys/repository.h>

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <vector>

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

// Rewrites one gitignore line of a .moecodeignore in folder `dir` ("" or "a/b/") so that it
// means the same thing in a rules list anchored at the root.
std::string rebase_rule(std::string_view line, const std::string& dir) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  if (line.empty() || line[0] == '#') return {};
  std::string neg;
  if (line[0] == '!') {
    neg = "!";
    line.remove_prefix(1);
  }
  if (dir.empty()) return neg + std::string(line);
  std::string_view body = line;
  if (!body.empty() && body.back() == '/') body.remove_suffix(1);
  const bool anchored = body.find('/') != std::string_view::npos;
  if (!line.empty() && line[0] == '/') line.remove_prefix(1);
  return neg + dir + (anchored ? "" : "**/") + std::string(line);
}

}  // namespace

std::string enclosing_git_worktree(const std::string& path) {
  init_libgit2();
  git_buf buf = GIT_BUF_INIT;
  std::string out;
  if (git_repository_discover(&buf, path.c_str(), 0, nullptr) == 0) {
    git_repository* repo = nullptr;
    if (git_repository_open(&repo, buf.ptr) == 0) {
      if (!git_repository_is_bare(repo) && git_repository_workdir(repo)) {
        out = git_repository_workdir(repo);
        while (out.size() > 1 && out.back() == '/') out.pop_back();
      }
      git_repository_free(repo);
    }
  }
  git_buf_dispose(&buf);
  return out;
}

IgnoreRules::~IgnoreRules() {
  if (repo_) git_repository_free(repo_);
  if (extra_) git_repository_free(extra_);
}

Result<std::unique_ptr<IgnoreRules>> IgnoreRules::open(const std::string& root) {
  init_libgit2();
  std::unique_ptr<IgnoreRules> r(new IgnoreRules());
  r->root_ = root;
  git_repository* repo = nullptr;
  if (git_repository_open_ext(&repo, root.c_str(), 0, nullptr) == 0 && !git_repository_is_bare(repo) &&
      git_repository_workdir(repo) != nullptr) {
    std::string workdir = git_repository_workdir(repo);  // ends with '/'
    char* real = ::realpath(workdir.c_str(), nullptr);
    if (real) {
      workdir = std::string(real) + "/";
      std::free(real);
    }
    const std::string root_slash = root.back() == '/' ? root : root + "/";
    if (root_slash.starts_with(workdir)) {
      r->repo_ = repo;
      r->in_repo_ = true;
      r->prefix_ = root_slash.substr(workdir.size());
    } else {
      git_repository_free(repo);
    }
  } else if (repo) {
    git_repository_free(repo);
  }
  if (!r->repo_) {
    // No repository: a stand-in whose work tree is the root, so .gitignore files still apply.
    if (git_repository_new(&r->repo_) != 0 || git_repository_set_workdir(r->repo_, root.c_str(), 0) != 0) {
      return make_error(ErrorCode::kInternal,
                        fmt::format("ignore rules for '{}': libgit2: {}", root, git_error_text()));
    }
  }
  if (git_repository_new(&r->extra_) != 0) {
    return make_error(ErrorCode::kInternal, fmt::format("ignore rules for '{}': libgit2: {}", root, git_error_text()));
  }
  std::lock_guard<std::mutex> lock(r->mu_);
  r->load_locked("");
  return r;
}

void IgnoreRules::load_moecodeignore(std::string_view rel_dir) {
  std::lock_guard<std::mutex> lock(mu_);
  load_locked(std::string(rel_dir));
}

void IgnoreRules::load_locked(const std::string& rel_dir) {
  if (!loaded_.insert(rel_dir).second) return;
  const std::string dir_slash = rel_dir.empty() ? "" : rel_dir + "/";
  std::ifstream in(root_ + "/" + dir_slash + std::string(kMoecodeIgnoreFile), std::ios::binary);
  if (!in) return;
  std::string rules, line;
  while (std::getline(in, line)) {
    std::string rule = rebase_rule(line, dir_slash);
    if (!rule.empty()) rules += rule + "\n";
  }
  if (!rules.empty() && git_ignore_add_rule(extra_, rules.c_str()) == 0) has_extra_rules_ = true;
}

bool IgnoreRules::is_ignored(std::string_view rel, bool is_dir) {
  std::lock_guard<std::mutex> lock(mu_);
  // .moecodeignore files of every folder above `rel`.
  for (size_t pos = rel.find('/'); pos != std::string_view::npos; pos = rel.find('/', pos + 1)) {
    load_locked(std::string(rel.substr(0, pos)));
  }
  std::string path = std::string(rel);
  if (is_dir && (path.empty() || path.back() != '/')) path += '/';
  int ignored = 0;
  // The .moecodeignore rules, when some folder has any (most trees have none: one libgit2
  // look-up a path instead of two).
  if (has_extra_rules_ && git_ignore_path_is_ignored(&ignored, extra_, path.c_str()) == 0 && ignored) return true;
  const std::string repo_path = prefix_ + path;
  if (git_ignore_path_is_ignored(&ignored, repo_, repo_path.c_str()) == 0 && ignored) return true;
  return false;
}

}  // namespace moecode::workspace
