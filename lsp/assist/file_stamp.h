// FileStamp: what identifies the contents of a file cheaply (device, inode, size, change
// time), to notice that a file we depend on (a mapped model) changed on disk. One stat(2).
// Plain data; thread-safe.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>

namespace moecode::assist {

struct FileStamp {
  bool exists = false;
  uint64_t dev = 0, ino = 0;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

inline FileStamp file_stamp(const std::string& path) {
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) return {};
  return FileStamp{true, static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                   static_cast<uint64_t>(st.st_size),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

}  // namespace moecode::assist
