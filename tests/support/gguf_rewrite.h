// Test helper: a copy of a GGUF file with its metadata edited and some tensors dropped,
// written to the temporary directory (for load-error and variant tests). For tests only;
// needs the moecode_gguf module.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/quant/types.h"

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

// tiny-qwen2 (`qwen2_f32`: the F32 fixture's path) with an attention key head size of
// `head` (value heads 16): its Q and K weights resized to match, zeros. A valid file whose
// head size lies beyond what the CPU backend supports when `head` > 1024. Returns its path
// (the caller removes it).
inline std::string write_qwen2_with_key_head(const std::string& qwen2_f32, const std::string& tag, int64_t head) {
  auto file = gguf::GgufFile::open(qwen2_f32);
  EXPECT_TRUE(file.ok()) << qwen2_f32;
  if (!file.ok()) return {};
  gguf::GgufWriter w;
  for (const auto& kv : (*file)->metadata()) w.set(kv.key, kv.value);
  w.set_uint32("qwen2.attention.key_length", static_cast<uint32_t>(head));
  w.set_uint32("qwen2.attention.value_length", 16);
  w.set_uint32("qwen2.rope.dimension_count", 16);
  std::vector<float> zeros(static_cast<size_t>(64 * 4 * head), 0.0f);
  auto bytes = [&](size_t n) { return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(zeros.data()), n * 4); };
  for (const auto& t : (*file)->tensors()) {
    const std::string name(t.name);
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    const bool q = name.ends_with("attn_q.weight") || name.ends_with("attn_q.bias");
    const bool k = name.ends_with("attn_k.weight") || name.ends_with("attn_k.bias");
    if (q || k) {
      const int64_t rows = (q ? 4 : 2) * head;  // 4 heads, 2 KV heads
      ne.back() = rows;
      const size_t n = static_cast<size_t>(ne.size() == 2 ? ne[0] * rows : rows);
      EXPECT_TRUE(w.add_tensor(t.name, quant::GgmlType::F32, ne, bytes(n)).ok());
    } else {
      EXPECT_TRUE(w.add_tensor(t.name, t.type, ne, {t.data, t.n_bytes}).ok());
    }
  }
  const std::string path =
      (std::filesystem::temp_directory_path() / ("moecode_" + tag + "_" + std::to_string(::getpid()) + ".gguf"))
          .string();
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

}  // namespace moecode::testing
