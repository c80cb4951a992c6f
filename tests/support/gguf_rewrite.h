// Test helper: a copy of a GGUF file with its metadata edited and some tensors dropped,
// written to the temporary directory (for load-error and variant tests). For tests only;
// needs the moecode_gguf module.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"

namespace moecode::testing {

// Copies `src` with its keys edited by `edit_keys` and without the tensors in `drop`.
// Returns the new file's path (unique per `tag` and process; the caller removes it).
inline std::string rewrite_gguf(const std::string& src, const std::string& tag,
                                const std::function<void(gguf::GgufWriter&)>& edit_keys,
                                const std::set<std::string>& drop = {}) {
  auto file = gguf::GgufFile::open(src);
  EXPECT_TRUE(file.ok()) << src;
  if (!file.ok()) return {};
  gguf::GgufWriter w;
  for (const auto& kv : (*file)->metadata()) w.set(kv.key, kv.value);
  edit_keys(w);
  for (const auto& t : (*file)->tensors()) {
    if (drop.count(std::string(t.name))) continue;
    const std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    EXPECT_TRUE(w.add_tensor(t.name, t.type, ne, {t.data, t.n_bytes}).ok());
  }
  const std::string path =
      (std::filesystem::temp_directory_path() / ("moecode_" + tag + "_" + std::to_string(::getpid()) + ".gguf"))
          .string();
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

}  // namespace moecode::testing
