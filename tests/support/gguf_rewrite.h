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

// Copies `src` into a new file in the temporary directory: its keys edited by `edit_keys`,
// each tensor written by `add_tensor` (which may resize it or leave it out). Returns the
// new file's path (unique per `tag` and process; the caller removes it), "" on failure.
inline std::string copy_gguf(const std::string& src, const std::string& tag,
                             const std::function<void(gguf::GgufWriter&)>& edit_keys,
                             const std::function<void(gguf::GgufWriter&, const gguf::TensorInfo&)>& add_tensor) {
  auto file = gguf::GgufFile::open(src);
  EXPECT_TRUE(file.ok()) << src;
  if (!file.ok()) return {};
  gguf::GgufWriter w;
  for (const auto& kv : (*file)->metadata()) w.set(kv.key, kv.value);
  edit_keys(w);
  for (const auto& t : (*file)->tensors()) add_tensor(w, t);
  const std::string path =
      (std::filesystem::temp_directory_path() / ("moecode_" + tag + "_" + std::to_string(::getpid()) + ".gguf"))
          .string();
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

// Copies `src` with its keys edited by `edit_keys` and without the tensors in `drop`.
inline std::string rewrite_gguf(const std::string& src, const std::string& tag,
                                const std::function<void(gguf::GgufWriter&)>& edit_keys,
                                const std::set<std::string>& drop = {}) {
  return copy_gguf(src, tag, edit_keys, [&](gguf::GgufWriter& w, const gguf::TensorInfo& t) {
    if (drop.count(std::string(t.name))) return;
    const std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    EXPECT_TRUE(w.add_tensor(t.name, t.type, ne, {t.data, t.n_bytes}).ok());
  });
}

// tiny-qwen2 (`qwen2_f32`: the F32 fixture's path) with an attention key head size of
// `head` (value heads 16): its Q and K weights resized to match, zeros. A valid file whose
// head size lies beyond what the CPU backend supports when `head` > 1024.
inline std::string write_qwen2_with_key_head(const std::string& qwen2_f32, const std::string& tag, int64_t head) {
  const std::vector<float> zeros(static_cast<size_t>(64 * 4 * head), 0.0f);
  auto edit_keys = [&](gguf::GgufWriter& w) {
    w.set_uint32("qwen2.attention.key_length", static_cast<uint32_t>(head));
    w.set_uint32("qwen2.attention.value_length", 16);
    w.set_uint32("qwen2.rope.dimension_count", 16);
  };
  return copy_gguf(qwen2_f32, tag, edit_keys, [&](gguf::GgufWriter& w, const gguf::TensorInfo& t) {
    const std::string name(t.name);
    std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    const bool q = name.ends_with("attn_q.weight") || name.ends_with("attn_q.bias");
    const bool k = name.ends_with("attn_k.weight") || name.ends_with("attn_k.bias");
    if (!q && !k) {
      EXPECT_TRUE(w.add_tensor(t.name, t.type, ne, {t.data, t.n_bytes}).ok());
      return;
    }
    const int64_t rows = (q ? 4 : 2) * head;  // 4 heads, 2 KV heads
    ne.back() = rows;
    const size_t n = static_cast<size_t>(ne.size() == 2 ? ne[0] * rows : rows);
    const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(zeros.data()), n * sizeof(float));
    EXPECT_TRUE(w.add_tensor(t.name, quant::GgmlType::F32, ne, bytes).ok());
  });
}

}  // namespace moecode::testing
