// Test helper: a temporary folder tree, removed when the object goes. write() creates
// parent folders; link() makes a symlink; git_init() turns the root into a repository.
// For tests only; not thread-safe.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace moecode::testing {

class TempTree {
 public:
  TempTree() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "moecode_ws_XXXXXX").string();
    char* p = ::mkdtemp(tmpl.data());
    root_ = p ? std::filesystem::canonical(p).string() : std::string();
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& root() const { return root_; }
  std::string path(const std::string& rel) const { return root_ + "/" + rel; }

  void write(const std::string& rel, const std::string& content) const {
    const std::filesystem::path p = path(rel);
    std::filesystem::create_directories(p.parent_path());
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out << content;
  }
  void mkdir(const std::string& rel) const { std::filesystem::create_directories(path(rel)); }
  void link(const std::string& rel, const std::string& target) const {
    const std::filesystem::path p = path(rel);
    std::filesystem::create_directories(p.parent_path());
    std::filesystem::create_symlink(target, p);
  }
  void remove(const std::string& rel) const { std::filesystem::remove_all(path(rel)); }
  // `git init` (quietly) in the root; true on success.
  bool git_init() const {
    const std::string cmd = "git init -q '" + root_ + "' >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }

 private:
  std::string root_;
};

}  // namespace moecode::testing
