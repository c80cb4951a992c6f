// The workspace walk and the admission checks. Stateless apart from the ignore rules,
// which lock internally; thread-safe.
#include "lsp/workspace/discovery.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <set>
#include <utility>

#include "lsp/workspace/secrets.h"

namespace moecode::workspace {

namespace {

constexpr size_t kBinaryProbeBytes = 8000;

bool is_vcs_dir(std::string_view name) { return name == ".git" || name == ".hg" || name == ".svn"; }

std::string real_path(const std::string& p) {
  char* r = ::realpath(p.c_str(), nullptr);
  if (!r) return {};
  std::string out(r);
  std::free(r);
  return out;
}

// True when `path` is `root` or below it.
bool under(std::string_view path, std::string_view root) {
  if (!path.starts_with(root)) return false;
  return path.size() == root.size() || path[root.size()] == '/' || root == "/";
}

bool has_vcs_component(std::string_view rel) {
  size_t start = 0;
  while (start <= rel.size()) {
    size_t end = rel.find('/', start);
    if (end == std::string_view::npos) end = rel.size();
    if (is_vcs_dir(rel.substr(start, end - start))) return true;
    start = end + 1;
  }
  return false;
}

}  // namespace

std::string_view verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kAdmit: return "admitted";
    case Verdict::kOutsideRoot: return "outside the workspace root";
    case Verdict::kIgnored: return "ignored";
    case Verdict::kSecret: return "secret";
    case Verdict::kOversize: return "too large";
    case Verdict::kBinary: return "binary";
    case Verdict::kNotRegularFile: return "not a regular file";
    case Verdict::kUnreadable: return "unreadable";
  }
  return "unknown";
}

SkipCounts& SkipCounts::operator+=(const SkipCounts& o) {
  ignored += o.ignored;
  secret += o.secret;
  oversize += o.oversize;
  binary += o.binary;
  symlink_outside += o.symlink_outside;
  symlink_loop += o.symlink_loop;
  unknown_language += o.unknown_language;
  unreadable += o.unreadable;
  return *this;
}

bool is_binary(std::string_view head) {
  head = head.substr(0, std::min(head.size(), kBinaryProbeBytes));
  return std::memchr(head.data(), '\0', head.size()) != nullptr;
}

Result<std::unique_ptr<FileFilter>> FileFilter::open(const std::string& root, uint64_t max_file_bytes) {
  std::string real = real_path(root);
  struct stat st;
  if (real.empty() || ::stat(real.c_str(), &st) != 0) {
    return make_error(ErrorCode::kNotFound, fmt::format("workspace root '{}': {}", root, std::strerror(errno)));
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("workspace root '{}' is not a directory", root));
  }
  std::unique_ptr<FileFilter> f(new FileFilter());
  f->root_ = real;
  f->max_file_bytes_ = max_file_bytes;
  MOE_TRY(f->ignore_, IgnoreRules::open(real));
  return f;
}

std::string FileFilter::absolute(std::string_view path) const {
  std::string in = path.starts_with("/") ? std::string(path) : root_ + "/" + std::string(path);
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= in.size()) {
    size_t end = in.find('/', start);
    if (end == std::string::npos) end = in.size();
    std::string_view part(in.data() + start, end - start);
    if (part.empty() || part == ".") {
    } else if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (auto p : parts) {
    out += '/';
    out += p;
  }
  return out.empty() ? "/" : out;
}

std::vector<DiscoveredFile> FileFilter::discover(SkipCounts* skipped, const std::atomic<bool>* cancel,
                                                 std::string_view start) const {
  std::vector<DiscoveredFile> files;
  discover_each(skipped, cancel, start, [&](DiscoveredFile&& f) { files.push_back(std::move(f)); });
  std::sort(files.begin(), files.end(),
            [](const DiscoveredFile& a, const DiscoveredFile& b) { return a.rel_path < b.rel_path; });
  return files;
}

void FileFilter::discover_each(SkipCounts* skipped, const std::atomic<bool>* cancel, std::string_view start,
                               const std::function<void(DiscoveredFile&&)>& sink) const {
  SkipCounts counts;
  std::set<std::pair<dev_t, ino_t>> seen_dirs, seen_files;
  struct stat root_st;
  if (::stat(root_.c_str(), &root_st) == 0) seen_dirs.insert({root_st.st_dev, root_st.st_ino});

  std::vector<std::string> stack{std::string(start)};  // folders relative to the root
  if (!start.empty()) {
    // Every .moecodeignore above the start folder applies.
    for (size_t pos = start.find('/'); pos != std::string_view::npos; pos = start.find('/', pos + 1)) {
      ignore_->load_moecodeignore(start.substr(0, pos));
    }
  }
  while (!stack.empty()) {
    if (cancel && cancel->load(std::memory_order_relaxed)) break;
    const std::string dir_rel = std::move(stack.back());
    stack.pop_back();
    const std::string dir_abs = dir_rel.empty() ? root_ : root_ + "/" + dir_rel;
    ignore_->load_moecodeignore(dir_rel);
    DIR* d = ::opendir(dir_abs.c_str());
    if (!d) {
      ++counts.unreadable;
      continue;
    }
    std::vector<std::string> names;
    while (dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      names.emplace_back(n);
    }
    std::sort(names.begin(), names.end());
    std::vector<std::string> subdirs;
    const int dir_fd = ::dirfd(d);
    for (const std::string& name : names) {
      if (is_vcs_dir(name)) continue;
      const std::string rel = dir_rel.empty() ? name : dir_rel + "/" + name;
      const std::string abs = root_ + "/" + rel;
      struct stat st;
      // Relative to the open folder: no walk of the whole path for every entry.
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        ++counts.unreadable;
        continue;
      }
      bool via_link = false;
      if (S_ISLNK(st.st_mode)) {
        const std::string target = real_path(abs);
        if (target.empty() || !under(target, root_) || ::stat(target.c_str(), &st) != 0) {
          ++counts.symlink_outside;
          continue;
        }
        if (is_secret_file_name(target)) {
          ++counts.secret;
          continue;
        }
        // A link into an ignored part of the root stays out too.
        const std::string target_rel = target.size() > root_.size() ? target.substr(root_.size() + 1) : "";
        if (!target_rel.empty() && (has_vcs_component(target_rel) || ignore_->is_ignored(target_rel, S_ISDIR(st.st_mode)))) {
          ++counts.ignored;
          continue;
        }
        via_link = true;
      }
      if (S_ISDIR(st.st_mode)) {
        if (ignore_->is_ignored(rel, true)) {
          ++counts.ignored;
          continue;
        }
        if (!seen_dirs.insert({st.st_dev, st.st_ino}).second) {
          if (via_link) ++counts.symlink_loop;
          continue;
        }
        subdirs.push_back(rel);
        continue;
      }
      if (!S_ISREG(st.st_mode)) continue;
      if (is_secret_file_name(name)) {
        ++counts.secret;
        continue;
      }
      const grammars::Language* lang = grammars::language_for_path(name);
      if (!lang) {
        ++counts.unknown_language;
        continue;
      }
      if (static_cast<uint64_t>(st.st_size) > max_file_bytes_) {
        ++counts.oversize;
        continue;
      }
      if (ignore_->is_ignored(rel, false)) {
        ++counts.ignored;
        continue;
      }
      if (!seen_files.insert({st.st_dev, st.st_ino}).second) continue;  // the same file twice
      sink({abs, rel, static_cast<uint64_t>(st.st_size), lang});
    }
    ::closedir(d);
    // Depth-first in name order: push in reverse so the first name is visited first.
    for (auto it = subdirs.rbegin(); it != subdirs.rend(); ++it) stack.push_back(std::move(*it));
  }
  if (skipped) *skipped += counts;
}

Verdict FileFilter::check_location(const std::string& abs, std::string* rel_out) const {
  const std::string real = real_path(abs);
  const bool lexical_in = under(abs, root_);
  if (!real.empty() && !under(real, root_)) return Verdict::kOutsideRoot;
  if (real.empty() && !lexical_in) return Verdict::kOutsideRoot;
  std::string rel;
  if (lexical_in) {
    rel = abs.size() > root_.size() ? abs.substr(root_.size() + 1) : "";
  } else {
    rel = real.size() > root_.size() ? real.substr(root_.size() + 1) : "";
  }
  if (rel_out) *rel_out = rel;
  if (rel.empty()) return Verdict::kNotRegularFile;
  if (is_secret_file_name(abs) || (!real.empty() && is_secret_file_name(real))) return Verdict::kSecret;
  if (has_vcs_component(rel) || ignore_->is_ignored(rel, false)) return Verdict::kIgnored;
  if (!real.empty() && real != abs && under(real, root_) && real.size() > root_.size()) {
    const std::string real_rel = real.substr(root_.size() + 1);
    if (has_vcs_component(real_rel) || ignore_->is_ignored(real_rel, false)) return Verdict::kIgnored;
  }
  // Every folder on the way must be admitted too (an ignored folder hides its files even
  // when a pattern would not match the file itself).
  for (size_t pos = rel.find('/'); pos != std::string::npos; pos = rel.find('/', pos + 1)) {
    if (ignore_->is_ignored(rel.substr(0, pos), true)) return Verdict::kIgnored;
  }
  return Verdict::kAdmit;
}

Verdict FileFilter::check(std::string_view path, bool check_content, std::string* rel_out) const {
  const std::string abs = absolute(path);
  const Verdict where = check_location(abs, rel_out);
  if (where != Verdict::kAdmit) return where;
  struct stat st;
  if (::stat(abs.c_str(), &st) != 0) return Verdict::kUnreadable;
  if (!S_ISREG(st.st_mode)) return Verdict::kNotRegularFile;
  if (static_cast<uint64_t>(st.st_size) > max_file_bytes_) return Verdict::kOversize;
  if (check_content) {
    const int fd = ::open(abs.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Verdict::kUnreadable;
    char buf[kBinaryProbeBytes];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n < 0) return Verdict::kUnreadable;
    if (is_binary(std::string_view(buf, static_cast<size_t>(n)))) return Verdict::kBinary;
  }
  return Verdict::kAdmit;
}

Verdict FileFilter::check_document(std::string_view path, std::string_view text, std::string* rel_out) const {
  const Verdict where = check_location(absolute(path), rel_out);
  if (where != Verdict::kAdmit) return where;
  if (text.size() > max_file_bytes_) return Verdict::kOversize;
  if (is_binary(text)) return Verdict::kBinary;
  return Verdict::kAdmit;
}

}  // namespace moecode::workspace
