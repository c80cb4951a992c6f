// An architecture is one unit: it reads and validates its hyperparameters, checks its
// tensor set (one error listing whatever is missing), says what its KV cache rows hold
// and how much scratch a batch needs, and runs the forward pass from shared ops
// (ops.h: rms_norm, rope incl. YaRN, attention over a KvCache, SwiGLU FFN).
//
// Adding an architecture: write <name>.cpp with a class deriving from Arch and a factory
// `Result<std::unique_ptr<Arch>> create_<name>(const ArchContext&)`, and add a row to the
// table in arch.cpp. See llama.cpp (the dense llama/qwen2/qwen3 family) for the pattern.
//
// Thread-safety: an Arch is immutable after creation (weights are views of the mapped
// file); forward() may run for several sessions, one at a time per backend.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/gguf/gguf.h"
#include "engine/model/hparams.h"
#include "engine/model/kv_cache.h"
#include "moecode/engine/result.h"

namespace moecode::model {

// One batch of tokens to run: tokens at positions pos0 .. pos0 + n - 1 (the cache holds
// positions 0 .. pos0 - 1 already).
struct Batch {
  std::span<const int32_t> tokens;
  int64_t pos0 = 0;
  // Logits for every token of the batch (else only for the last one).
  bool logits_all = false;
};

// A bump allocator over the session's scratch floats, reset for every batch.
class Arena {
 public:
  Arena(float* data, size_t n_floats) : data_(data), size_(n_floats) {}
  // A [rows, cols] matrix; rows are padded to 16 floats (64 bytes).
  backend::Mat mat(int64_t rows, int64_t cols) {
    const int64_t stride = (cols + 15) / 16 * 16;
    const size_t n = static_cast<size_t>(rows * stride);
    MOE_ASSERT(used_ + n <= size_);
    backend::Mat m{data_ + used_, rows, cols, stride};
    used_ += n;
    return m;
  }
  // Everything allocated after mark() is given back by release(mark) (per-layer scratch).
  size_t mark() const { return used_; }
  void release(size_t mark) { used_ = mark; }
  // Floats a mat(rows, cols) takes.
  static size_t mat_floats(int64_t rows, int64_t cols) { return static_cast<size_t>(rows * ((cols + 15) / 16 * 16)); }

 private:
  float* data_;
  size_t size_;
  size_t used_ = 0;
};

struct MoeStats;      // moe.h
struct RoutingTrace;  // moe.h

// One sequence of a multi-sequence batch (continuous batching): its tokens are
// tokens[offset, offset + n_tokens) of the batch, at positions pos0 .. pos0 + n_tokens - 1 of
// its own cache (which holds positions 0 .. pos0 - 1 already).
struct SeqSpan {
  KvCache* cache = nullptr;
  int64_t pos0 = 0;
  int64_t offset = 0;
  int64_t n_tokens = 0;
};

// Several sequences, each with its own KV cache, run in one forward pass: the weights are read
// once for all of their tokens. Only the logits of each sequence's last token are computed.
struct MultiBatch {
  std::span<const int32_t> tokens;  // every sequence's tokens, sequence after sequence
  std::span<const SeqSpan> seqs;
};

// What a forward pass works with.
struct ForwardContext {
  backend::Backend& backend;
  KvCache& cache;
  Arena arena;
  // Routed-expert counters of MoE layers (null: not counted).
  MoeStats* moe_stats = nullptr;
  // The experts each MoE layer chose (null: not recorded).
  RoutingTrace* routing_trace = nullptr;
};

class Arch {
 public:
  virtual ~Arch() = default;

  virtual const Hparams& hparams() const = 0;
  // The KV rows each layer caches.
  virtual KvLayout kv_layout() const = 0;
  // The largest key and value head sizes the forward pass gives attention (MLA's absorbed
  // decode attends over the latent: kv_lora_rank + rope dims / kv_lora_rank).
  struct HeadDims {
    int64_t k = 0;
    int64_t v = 0;
  };
  virtual HeadDims attention_head_dims() const = 0;
  // Scratch floats for a batch of up to n_batch tokens (logits not included).
  virtual size_t scratch_floats(int64_t n_batch) const = 0;
  // Runs the batch, appending its K/V rows to the cache, and writes logits:
  // [batch.logits_all ? n_tokens : 1, n_vocab].
  virtual void forward(ForwardContext& ctx, const Batch& batch, backend::Mat logits) const = 0;

  // Runs several sequences together, appending each one's K/V rows to its own cache, and
  // writes the logits of each sequence's last token: [n_seqs, n_vocab]. The default runs
  // forward() once per sequence (correct for every architecture, without the shared weight
  // reads); the llama family overrides it with one pass.
  virtual void forward_multi(backend::Backend& backend, Arena arena, MoeStats* moe_stats, const MultiBatch& batch,
                             backend::Mat logits) const;
  // Scratch floats forward_multi needs for n_tokens tokens in n_seqs sequences.
  virtual size_t scratch_floats_multi(int64_t n_tokens, int64_t n_seqs) const {
    (void)n_seqs;
    return scratch_floats(n_tokens);
  }
};

// What a factory gets.
struct ArchContext {
  const gguf::GgufFile& file;
  backend::Backend& backend;
  std::string arch;  // general.architecture
};

// Creates the architecture named by the file's general.architecture. Errors: an unknown
// architecture (listing the supported ones), bad hyperparameters, missing tensors (all
// listed), tensor types the backend cannot compute with.
Result<std::unique_ptr<Arch>> create_arch(const gguf::GgufFile& file, backend::Backend& backend);

// Names of the supported architectures.
std::vector<std::string> supported_archs();

}  // namespace moecode::model
