// The compute interface the model code runs on: buffers and a small set of ops on
// activations (float matrices) and weights (GGUF tensors in their stored format). The CPU
// backend (engine/backend/cpu) is the reference; a GPU backend implements the same ops.
//
// Thread-safety: a Backend is used by one thread at a time (the session that owns it, or
// the model's shared instance under the caller's lock); ops are synchronous — when an op
// returns its output is complete. Weights are read-only and shared by every session.
//
// Shapes in comments are [rows, cols] of row-major matrices; a "row" is one token.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "engine/quant/types.h"
#include "moecode/engine/result.h"

namespace moecode::backend {

// A weight tensor as the GGUF stores it: ne = [n_in (row length), n_out (rows), n_mat].
// n_mat > 1 for stacked matrices (experts, per-head matrices); `row_bytes` is the size of
// one row in its storage type. The data stays in the model file's bytes (mapped or copied).
struct Weight {
  const void* data = nullptr;
  quant::GgmlType type = quant::GgmlType::F32;
  int64_t n_in = 0;
  int64_t n_out = 0;
  int64_t n_mat = 1;
  size_t row_bytes = 0;
  std::string_view name;

  bool empty() const { return data == nullptr; }
  // Row r of matrix m.
  const uint8_t* row(int64_t r, int64_t m = 0) const {
    return static_cast<const uint8_t*>(data) + (static_cast<size_t>(m * n_out + r)) * row_bytes;
  }
  // Matrix m of a stack, as a Weight of its own.
  Weight matrix(int64_t m) const {
    Weight w = *this;
    w.data = row(0, m);
    w.n_mat = 1;
    return w;
  }
};

// A float matrix [rows, cols] with a row stride in floats (>= cols).
struct Mat {
  float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  int64_t stride = 0;

  float* row(int64_t r) const { return data + r * stride; }
  // Rows [r0, r0 + n).
  Mat rows_view(int64_t r0, int64_t n) const { return {row(r0), n, cols, stride}; }
  // Columns [c0, c0 + n) of every row.
  Mat cols_view(int64_t c0, int64_t n) const { return {data + c0, rows, n, stride}; }
};

// Creates a dense Mat over `data` ([rows, cols], stride = cols).
inline Mat make_mat(float* data, int64_t rows, int64_t cols) { return {data, rows, cols, cols}; }

// Element type of a KV cache.
enum class CacheType { kF16, kF32 };
inline size_t cache_type_size(CacheType t) { return t == CacheType::kF16 ? 2 : 4; }

// One layer's cache rows: [n_ctx, width] elements of `type`, row p = position p.
struct CacheView {
  void* data = nullptr;
  CacheType type = CacheType::kF16;
  int64_t n_ctx = 0;
  int64_t width = 0;

  uint8_t* row(int64_t p) const {
    return static_cast<uint8_t*>(data) + static_cast<size_t>(p * width) * cache_type_size(type);
  }
};

// Memory owned by a backend (host memory on the CPU). Freed with the object.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual void* data() = 0;
  virtual size_t size() const = 0;
};

// One output of a matmul: y = x W^T (+ bias). Several jobs sharing the same input `x` are
// run together so that x is converted to the weights' activation format once.
struct MatmulJob {
  const Weight* w = nullptr;   // [n_out, n_in]
  const float* bias = nullptr; // [n_out] or null
  Mat y;                       // [n_tokens, n_out]
  // When set, the backend adds the bytes of weight rows its kernels read (each row once
  // per op, however many tokens use it): the routed-expert byte counter of MoE stats.
  std::atomic<uint64_t>* bytes_read = nullptr;
};

// Grouped expert matmul (ggml's mul_mat_id): `assignments` are (token row, expert) pairs
// sorted by expert; expert e's assignments are [offsets[e], offsets[e + 1]). For every job
// (w a stack of n_expert matrices [n_out, n_in]) and every assignment i of expert e:
//   y.row(i) = x.row(rows[i]) W_e^T            x [n_x, n_in] -> y [n_assign, n_out]
// Only the matrices of experts with assignments are read.
struct ExpertMatmulArgs {
  std::span<const MatmulJob> jobs;   // jobs[j].y is [n_assign, w.n_out]
  Mat x;                             // [n_x, n_in]
  std::span<const int32_t> rows;     // [n_assign] x row of each assignment
  std::span<const int32_t> offsets;  // [n_expert + 1]
};

// Weighted sum of expert outputs per token, in slot order (as ggml adds them):
//   out.row(t) = sum_{s < k} weights[t*k + s] * y.row(index[t*k + s])
struct ExpertCombineArgs {
  Mat y;                             // [n_assign, n]
  std::span<const int32_t> index;    // [n_tokens * k] assignment of (token, slot)
  std::span<const float> weights;    // [n_tokens * k]
  int k = 0;
  Mat out;                           // [n_tokens, n]
};

// Attention of a batch of queries over one layer's cache (causal, grouped-query).
// Query t sits at position pos0 + t and sees keys 0 .. pos0 + t. With an F16 cache the
// queries and the softmax probabilities are rounded to F16 too, as llama.cpp does there
// (its matmuls convert their second operand to the cache's type).
struct AttentionArgs {
  Mat q;              // [n_tokens, n_head * head_dim_k]
  CacheView k;        // [n_ctx, n_head_kv * head_dim_k]
  CacheView v;        // [n_ctx, n_head_kv * head_dim_v]
  Mat out;            // [n_tokens, n_head * head_dim_v]
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim_k = 0;
  int head_dim_v = 0;
  int64_t pos0 = 0;   // position of query 0; keys 0 .. pos0 + n_tokens - 1 are in the cache
  float scale = 1.0f; // applied to q.k before the softmax
};

// RoPE applied in place to x viewed as [n_tokens, n_heads, head_dim]: the first n_rot dims
// of each head are rotated by the angles of the token's position. `cos_sin` holds, per
// token, n_rot/2 pairs (cos, sin) (magnitude scaling already folded in).
struct RopeArgs {
  Mat x;               // [n_tokens, n_heads * head_dim]
  int n_heads = 0;
  int head_dim = 0;
  int n_rot = 0;
  bool neox = false;   // pairs (i, i + n_rot/2) instead of (2i, 2i + 1)
  Mat cos_sin;         // [n_tokens, n_rot]
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;
  // One line for logs and `moecode bench` (the device, where the weights are).
  virtual std::string describe() const { return std::string(name()); }
  virtual int n_threads() const = 0;
  // Called once a model's weights are known (every tensor of its file), before any op. A
  // backend that keeps weights in its own memory copies them now, so that a shortage fails
  // the load with a clear message rather than an op later. The CPU reads them in place.
  virtual Status place_weights(std::span<const Weight> weights) {
    (void)weights;
    return Status();
  }
  // Whether matmul/get_rows handle weights stored in this type.
  virtual bool supports(quant::GgmlType weight_type) const = 0;
  // A buffer of n_bytes. Pages that are never written need not take memory.
  // nullptr when the memory cannot be had (never aborts).
  virtual std::unique_ptr<Buffer> alloc(size_t n_bytes) = 0;
  // What the backend's kernels can handle; checked when a model loads.
  struct Limits {
    int64_t max_head_dim_k = 0;
    int64_t max_head_dim_v = 0;
  };
  virtual Limits limits() const = 0;

  // out[t, :] = row ids[t] of w, as floats.   w [n_rows, n_in] -> out [n_tokens, n_in]
  virtual void get_rows(const Weight& w, std::span<const int32_t> ids, Mat out) = 0;
  // out[t, :] = x[t, :] / sqrt(mean(x[t, :]^2) + eps) * g (g may be null).  In place is fine.
  virtual void rms_norm(Mat x, const float* g, float eps, Mat out) = 0;
  // For each job: y = x W^T + bias.   x [n_tokens, n_in] -> y [n_tokens, n_out]
  virtual void matmul(std::span<const MatmulJob> jobs, Mat x) = 0;
  virtual void rope(const RopeArgs& args) = 0;
  // gate = silu(gate) * up.   [n_tokens, n_ff]
  virtual void swiglu(Mat gate, Mat up) = 0;
  // x += y.   [n_tokens, n]
  virtual void add(Mat x, Mat y) = 0;
  // Writes x's rows into the cache at rows pos0 .. pos0 + x.rows - 1 (converting the type).
  virtual void store_rows(Mat x, const CacheView& dst, int64_t pos0) = 0;
  virtual void attention(const AttentionArgs& args) = 0;

  // ---- MoE and MLA ops -------------------------------------------------------------
  // See ExpertMatmulArgs.
  virtual void matmul_experts(const ExpertMatmulArgs& args) = 0;
  // See ExpertCombineArgs.
  virtual void combine_experts(const ExpertCombineArgs& args) = 0;
  // dst = src (same shape; views with strides are fine).
  virtual void copy(Mat src, Mat dst) = 0;
  // x *= s elementwise.  [n_tokens, n]
  virtual void scale(Mat x, float s) = 0;
  // Reads cache rows p0 .. p0 + out.rows - 1 (the first out.cols elements) as floats.
  virtual void load_rows(const CacheView& src, int64_t p0, Mat out) = 0;
};

}  // namespace moecode::backend
