// Hyperparameters of a model, read from its GGUF's "<arch>.*" keys with validation, and
// the reader that architectures use for their own keys (every problem is collected, so
// that one error lists all of them).
//
// Thread-safety: Hparams is a plain value; HparamReader is used by one thread while a
// model is loaded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/gguf/gguf.h"
#include "moecode/engine/result.h"

namespace moecode::model {

enum class RopeOrder {
  kNorm,  // rotate consecutive pairs (x[2i], x[2i+1]) — llama, deepseek2
  kNeox,  // rotate (x[i], x[i + n_rot/2]) — qwen2, qwen3, qwen*moe
};

// RoPE, with the YaRN / linear scaling parameters of the file (llama.cpp's semantics).
struct RopeConfig {
  int n_rot = 0;               // rotated dims per head (rope.dimension_count)
  RopeOrder order = RopeOrder::kNorm;
  float freq_base = 10000.0f;  // rope.freq_base
  float freq_scale = 1.0f;     // 1 / rope.scaling.factor (linear and YaRN)
  std::string scaling_type = "none";  // rope.scaling.type: none, linear, yarn
  int64_t n_ctx_orig = 0;      // rope.scaling.original_context_length (YaRN)
  float ext_factor = 0.0f;     // YaRN ramp mix (1 for yarn, 0 otherwise)
  float attn_factor = 1.0f;    // magnitude factor of cos/sin (rope.scaling.attn_factor)
  float beta_fast = 32.0f;     // YaRN correction range
  float beta_slow = 1.0f;
  float yarn_log_multiplier = 0.0f;  // rope.scaling.yarn_log_multiplier (deepseek2 uses it)
};

// What every architecture here has. Architectures keep their extra keys in their own
// structs (read with HparamReader).
struct Hparams {
  std::string arch;        // general.architecture
  std::string name;        // general.name
  int64_t n_vocab = 0;
  int64_t n_ctx_train = 0;
  int64_t n_embd = 0;
  int64_t n_layer = 0;
  int64_t n_head = 0;
  int64_t n_head_kv = 0;
  int64_t head_dim_k = 0;  // attention.key_length, default n_embd / n_head
  int64_t head_dim_v = 0;  // attention.value_length, default n_embd / n_head
  int64_t n_ff = 0;        // feed_forward_length (0 when the arch has none)
  float rms_eps = 1e-5f;
  RopeConfig rope;
  int64_t n_expert = 0;       // expert_count (0: dense)
  int64_t n_expert_used = 0;  // expert_used_count
};

// Reads "<arch>.<key>" values, collecting errors instead of stopping at the first.
class HparamReader {
 public:
  HparamReader(const gguf::GgufFile& file, std::string arch) : file_(file), arch_(std::move(arch)) {}

  // Required positive integer (error when absent, of the wrong type, or < min).
  int64_t req_int(std::string_view key, int64_t min = 1);
  // Optional integer (default when absent); errors for a wrong type or < min.
  int64_t opt_int(std::string_view key, int64_t def, int64_t min = 0);
  float opt_float(std::string_view key, float def);
  bool opt_bool(std::string_view key, bool def);
  std::string opt_string(std::string_view key, std::string def);
  // Adds a problem of the caller's (e.g. an inconsistent pair of values).
  void fail(std::string message) { problems_.push_back(std::move(message)); }

  const std::string& arch() const { return arch_; }
  // OK, or one error listing every problem.
  Status status() const;

 private:
  std::string key(std::string_view k) const { return arch_ + "." + std::string(k); }
  const gguf::GgufFile& file_;
  std::string arch_;
  std::vector<std::string> problems_;
};

// Reads the common hyperparameters (and the RoPE config, with `order` the arch's default).
// n_ff is required when `needs_ff`.
Result<Hparams> read_common_hparams(const gguf::GgufFile& file, RopeOrder order, bool needs_ff);
// The same with a reader the caller continues with (to add its own keys to one error).
Hparams read_common_hparams(HparamReader& r, const gguf::GgufFile& file, RopeOrder order, bool needs_ff);

}  // namespace moecode::model
