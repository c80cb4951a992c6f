// The CPU backend's ops (see cpu_backend.h). Each op is one fork/join on the thread pool
// (or runs on the calling thread when it is too small to be worth a dispatch); work is
// handed out in chunks through a shared counter so that a thread slowed down by another
// process on a shared core does not hold the others up.
#include "engine/backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/backend/cpu/f32_act_kernels.h"
#include "engine/backend/cpu/thread_pool.h"
#include "engine/backend/cpu/vec.h"
#include "engine/backend/cpu/weight_kernels.h"
#include "engine/quant/kernels.h"
#include "moecode/engine/result.h"

namespace moecode::backend {

int physical_cores() {
  std::ifstream in("/proc/cpuinfo");
  std::set<std::pair<int, int>> cores;  // (physical id, core id)
  std::string line;
  int phys = 0;
  while (std::getline(in, line)) {
    auto value = [&]() { return std::atoi(line.c_str() + line.find(':') + 1); };
    if (line.rfind("physical id", 0) == 0) phys = value();
    if (line.rfind("core id", 0) == 0) cores.emplace(phys, value());
  }
  if (!cores.empty()) return static_cast<int>(cores.size());
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(n);
}

namespace cpu {

MatmulPlan matmul_plan(quant::GgmlType weight_type) {
  WeightKernels k;
  MatmulPlan p;
  p.supported = weight_kernels(weight_type, &k);
  p.act_type = k.act_type;
  return p;
}

namespace {

constexpr size_t kAlign = 64;
// Below this many multiply-adds an op runs on the calling thread.
constexpr int64_t kMinParallelWork = 1 << 15;
// Weight rows per matmul work item, and activation rows per kernel call.
constexpr int64_t kRowBlock = 16;
constexpr int64_t kColBlock = 64;
constexpr int kMaxJobs = 8;
// Attention: keys per softmax block, heads of a KV group done together, and the largest
// head sizes (MLA's latent: 512 + 64).
constexpr int64_t kKeyBlock = 64;
// Decode over split key ranges reads kSplitKeyStep keys at a time, every KV group's part of
// those rows in turn, and prefetches whole rows kSplitPrefetchKeys keys ahead: a group's part
// alone is 1-2 lines of each row, a strided stream the hardware prefetchers follow poorly
// (BM_DecodeAttention: 0.62-0.70x the time of 64-key steps without it on Zen 4).
constexpr int64_t kSplitKeyStep = 16;
constexpr int64_t kSplitPrefetchKeys = 32;
constexpr int kHeadsPerItem = 4;
constexpr int kMaxHeadDim = 1024;
constexpr int kMaxHeadDimV = 576;
// Decode attention has few items (query tokens x KV groups): their key ranges are split so
// that every thread gets about this many pieces, each at least kMinSplitKeys long.
constexpr int kSplitsPerThread = 4;
constexpr int64_t kMinSplitKeys = 256;

class CpuBuffer final : public Buffer {
 public:
  // nullptr when the allocation fails (or its size overflows).
  static std::unique_ptr<CpuBuffer> make(size_t n) {
    if (n > SIZE_MAX - kAlign) return nullptr;
    const size_t rounded = (n + kAlign - 1) / kAlign * kAlign;
    // Large blocks come straight from mmap, so untouched pages take no memory.
    void* data = rounded == 0 ? nullptr : std::aligned_alloc(kAlign, rounded);
    if (rounded != 0 && data == nullptr) return nullptr;
    return std::unique_ptr<CpuBuffer>(new CpuBuffer(data, n));
  }
  ~CpuBuffer() override { std::free(data_); }
  void* data() override { return data_; }
  size_t size() const override { return size_; }

 private:
  CpuBuffer(void* data, size_t n) : data_(data), size_(n) {}

  void* data_ = nullptr;
  size_t size_ = 0;
};

// Grow-only aligned scratch.
class Scratch {
 public:
  ~Scratch() { std::free(data_); }
  void* get(size_t n) {
    if (n > size_) {
      std::free(data_);
      size_ = (n + kAlign - 1) / kAlign * kAlign;
      data_ = std::aligned_alloc(kAlign, size_);
      MOE_ASSERT(data_ != nullptr);
    }
    return data_;
  }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
};

class CpuBackend final : public Backend {
 public:
  CpuBackend(int n_threads, bool f32_act) : pool_(n_threads), vk_(vec_kernels()), f32_act_(f32_act) {}

  std::string_view name() const override { return "cpu"; }
  int n_threads() const override { return pool_.size(); }
  bool supports(quant::GgmlType type) const override {
    WeightKernels k;
    return weight_kernels(type, &k);
  }
  std::unique_ptr<Buffer> alloc(size_t n_bytes) override { return CpuBuffer::make(n_bytes); }
  Limits limits() const override { return {kMaxHeadDim, kMaxHeadDimV}; }

  void get_rows(const Weight& w, std::span<const int32_t> ids, Mat out) override;
  void rms_norm(Mat x, const float* g, float eps, Mat out) override;
  void matmul(std::span<const MatmulJob> jobs, Mat x) override;
  void rope(const RopeArgs& args) override;
  void swiglu(Mat gate, Mat up) override;
  void add(Mat x, Mat y) override;
  void store_rows(Mat x, const CacheView& dst, int64_t pos0) override;
  void attention(const AttentionArgs& args) override;
  void matmul_experts(const ExpertMatmulArgs& args) override;
  void combine_experts(const ExpertCombineArgs& args) override;
  void copy(Mat src, Mat dst) override;
  void scale(Mat x, float s) override;
  void load_rows(const CacheView& src, int64_t p0, Mat out) override;

 private:
  // attention() over an F16 cache (llama.cpp's arithmetic there, see the definition).
  void attention_f16(const AttentionArgs& args);
  int64_t row_block(int64_t n_out, int64_t n_tok) const;
  // x[0..n) rounded to F16 values, in place.
  void round_to_f16(float* x, int64_t n) const {
    uint16_t h[256];
    for (int64_t i = 0; i < n; i += 256) {
      const int64_t m = std::min<int64_t>(256, n - i);
      vk_.f32_to_f16(x + i, h, m);
      vk_.f16_to_f32(h, x + i, m);
    }
  }

  // Runs fn(i) for i in [0, n) over the pool in chunks of `grain`, or inline when small.
  template <typename Fn>
  void parallel_for(int64_t n, int64_t grain, int64_t work, Fn&& fn) {
    if (pool_.size() == 1 || work < kMinParallelWork || n <= 1) {
      for (int64_t i = 0; i < n; ++i) fn(i);
      return;
    }
    pool_.run_chunks((n + grain - 1) / grain, [&](int64_t c) {
      const int64_t end = std::min(n, (c + 1) * grain);
      for (int64_t i = c * grain; i < end; ++i) fn(i);
    });
  }

  ThreadPool pool_;
  const VecKernels& vk_;
  Scratch act_scratch_;   // activations converted for quantized matmuls
  Scratch attn_scratch_;  // partial softmax sums of split key ranges (attention)
  // The matmul kernels of a weight type (F32 activations in reference mode).
  bool kernels(quant::GgmlType type, WeightKernels* k) const {
    return f32_act_ ? weight_kernels_f32_act(type, k) : weight_kernels(type, k);
  }
  bool f32_act_ = false;
  std::vector<int32_t> active_;  // experts with assignments (matmul_experts)
};

// Row "conversion" for F32 weights in matmul_experts (the rows are gathered).
void copy_f32_row(const float* x, void* y, int64_t n) { std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float)); }

void CpuBackend::get_rows(const Weight& w, std::span<const int32_t> ids, Mat out) {
  WeightKernels k;
  MOE_ASSERT(weight_kernels(w.type, &k));
  MOE_ASSERT(out.cols == w.n_in && out.rows == static_cast<int64_t>(ids.size()));
  parallel_for(out.rows, 4, out.rows * w.n_in, [&](int64_t t) {
    const int32_t id = ids[t];
    MOE_ASSERT(id >= 0 && id < w.n_out);
    k.to_float(w.row(id), out.row(t), w.n_in);
  });
}

void CpuBackend::rms_norm(Mat x, const float* g, float eps, Mat out) {
  const int64_t n = x.cols;
  parallel_for(x.rows, 8, x.rows * n, [&](int64_t t) {
    const float* xr = x.row(t);
    float* yr = out.row(t);
    const float mean = static_cast<float>(vk_.sum_squares(xr, n) / static_cast<double>(n));
    const float scale = 1.0f / std::sqrt(mean + eps);
    if (g) {
      for (int64_t i = 0; i < n; ++i) yr[i] = (xr[i] * scale) * g[i];
    } else {
      for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] * scale;
    }
  });
}

// Weight rows per matmul work item: 16 in prefill (from 16 tokens up); in decode and small
// batches (speculative verification) long ranges, about 4 items per thread, so that the
// kernels' row streams are long enough for the hardware prefetchers (quant/kernels.h).
int64_t CpuBackend::row_block(int64_t n_out, int64_t n_tok) const {
  if (n_tok >= 16) return kRowBlock;
  const int64_t per = n_out / (4 * static_cast<int64_t>(pool_.size()));
  return std::max(kRowBlock, per / kRowBlock * kRowBlock);
}

void CpuBackend::matmul(std::span<const MatmulJob> jobs, Mat x) {
  MOE_ASSERT(!jobs.empty() && jobs.size() <= kMaxJobs);
  const int64_t n_tok = x.rows;
  const int64_t n_in = x.cols;
  if (n_tok == 0) return;

  // Per job: kernels and where its activation rows are (x itself for F32 weights, else a
  // converted copy, shared by the jobs whose weights pair with the same format).
  struct Prepared {
    WeightKernels k;
    const uint8_t* a = nullptr;
    size_t a_stride = 0;
    int64_t n_blocks = 0;
    int64_t rows = kRowBlock;  // weight rows per work item
    int slot = -1;  // converted-activation slot, -1 for x itself
    const uint8_t* packed = nullptr;  // the slot's packed copy when this job's tiles use it
  };
  Prepared prep[kMaxJobs];
  quant::GgmlType conv_types[kMaxJobs];
  size_t conv_offsets[kMaxJobs];
  size_t packed_offsets[kMaxJobs];  // SIZE_MAX: the slot is not packed
  size_t group_bytes[kMaxJobs];     // a packed slot's bytes per group of kPackCols tokens
  int n_conv = 0;
  size_t conv_bytes = 0;
  // Prefill on packed activations (AVX-512, AMX) from packed_min_cols tokens up.
  auto uses_packed = [&](const WeightKernels& k) { return k.gemm_packed != nullptr && n_tok >= k.packed_min_cols; };
  const int64_t n_groups = (n_tok + quant::kPackCols - 1) / quant::kPackCols;
  for (size_t j = 0; j < jobs.size(); ++j) {
    const MatmulJob& job = jobs[j];
    MOE_ASSERT(job.w->n_in == n_in && job.y.rows == n_tok && job.y.cols == job.w->n_out);
    MOE_ASSERT(kernels(job.w->type, &prep[j].k));
    prep[j].rows = row_block(job.w->n_out, n_tok);
    prep[j].n_blocks = (job.w->n_out + prep[j].rows - 1) / prep[j].rows;
    if (prep[j].k.convert == nullptr) {
      prep[j].a = reinterpret_cast<const uint8_t*>(x.data);
      prep[j].a_stride = static_cast<size_t>(x.stride) * sizeof(float);
      continue;
    }
    const size_t row_bytes = type_row_bytes(prep[j].k.act_type, n_in);
    prep[j].a_stride = row_bytes;
    int slot = 0;
    while (slot < n_conv && conv_types[slot] != prep[j].k.act_type) ++slot;
    if (slot == n_conv) {
      conv_types[n_conv] = prep[j].k.act_type;
      conv_offsets[n_conv] = conv_bytes;
      packed_offsets[n_conv] = SIZE_MAX;
      conv_bytes += (row_bytes * n_tok + kAlign - 1) / kAlign * kAlign;
      ++n_conv;
    }
    prep[j].slot = slot;
    if (uses_packed(prep[j].k) && packed_offsets[slot] == SIZE_MAX) {
      packed_offsets[slot] = conv_bytes;
      group_bytes[slot] = prep[j].k.packed_bytes(n_in);
      conv_bytes += group_bytes[slot] * static_cast<size_t>(n_groups);  // a multiple of 64
    }
  }
  uint8_t* conv_base = n_conv ? static_cast<uint8_t*>(act_scratch_.get(conv_bytes)) : nullptr;
  // Convert rows once per activation format (jobs point into the scratch).
  struct Conversion {
    void (*fn)(const float*, void*, int64_t);
    uint8_t* dst;
    size_t row_bytes;
    void (*pack)(int64_t, int64_t, const void*, size_t, void*);  // null: not packed
    uint8_t* packed;
  };
  Conversion convs[kMaxJobs];
  for (int s = 0; s < n_conv; ++s) {
    for (size_t j = 0; j < jobs.size(); ++j) {
      if (prep[j].k.convert && prep[j].k.act_type == conv_types[s]) {
        convs[s] = {prep[j].k.convert, conv_base + conv_offsets[s], prep[j].a_stride, nullptr, nullptr};
        break;
      }
    }
    if (packed_offsets[s] != SIZE_MAX) {
      for (size_t j = 0; j < jobs.size(); ++j) {
        if (prep[j].slot == s && uses_packed(prep[j].k)) convs[s].pack = prep[j].k.pack;
      }
      convs[s].packed = conv_base + packed_offsets[s];
    }
  }
  for (size_t j = 0; j < jobs.size(); ++j) {
    if (prep[j].slot >= 0) prep[j].a = conv_base + conv_offsets[prep[j].slot];
    if (prep[j].slot >= 0 && uses_packed(prep[j].k)) prep[j].packed = convs[prep[j].slot].packed;
  }

  int64_t n_tasks = 0;
  int64_t work = 0;
  for (size_t j = 0; j < jobs.size(); ++j) {
    n_tasks += prep[j].n_blocks;
    work += jobs[j].w->n_out * n_in * n_tok;
  }
  auto run_task = [&](int64_t task) {
    size_t j = 0;
    while (task >= prep[j].n_blocks) task -= prep[j++].n_blocks;
    const MatmulJob& job = jobs[j];
    const Prepared& p = prep[j];
    const int64_t r0 = task * p.rows;
    const int64_t nr = std::min(p.rows, job.w->n_out - r0);
    if (job.bytes_read) job.bytes_read->fetch_add(static_cast<uint64_t>(nr) * job.w->row_bytes, std::memory_order_relaxed);
    if (p.packed) {
      // Every token in one call: the rows are unpacked once, the packed groups stream by.
      p.k.gemm_packed(n_in, nr, n_tok, job.w->row(r0), job.w->row_bytes, p.packed, job.y.row(0) + r0,
                      static_cast<size_t>(job.y.stride));
    } else {
      for (int64_t c0 = 0; c0 < n_tok; c0 += kColBlock) {
        const int64_t nc = std::min(kColBlock, n_tok - c0);
        p.k.gemm(n_in, nr, nc, job.w->row(r0), job.w->row_bytes, p.a + c0 * p.a_stride, p.a_stride,
                 job.y.row(c0) + r0, static_cast<size_t>(job.y.stride));
      }
    }
    if (job.bias) {
      for (int64_t t = 0; t < n_tok; ++t) {
        float* yr = job.y.row(t);
        for (int64_t r = r0; r < r0 + nr; ++r) yr[r] += job.bias[r];
      }
    }
  };
  auto convert_rows = [&](int64_t t) {
    for (int s = 0; s < n_conv; ++s) convs[s].fn(x.row(t), convs[s].dst + t * convs[s].row_bytes, n_in);
  };

  // Convert the activations (one row per chunk), pack them for the packed tiles (one group of
  // 16 tokens per chunk), then the tiles.
  parallel_for(n_conv > 0 ? n_tok : 0, 1, n_tok * n_in * 4, convert_rows);
  for (int s = 0; s < n_conv; ++s) {
    if (!convs[s].pack) continue;
    parallel_for(n_groups, 1, n_tok * n_in, [&](int64_t g) {
      const int64_t c0 = g * quant::kPackCols;
      convs[s].pack(n_in, std::min<int64_t>(quant::kPackCols, n_tok - c0), convs[s].dst + c0 * convs[s].row_bytes,
                    convs[s].row_bytes, convs[s].packed + g * group_bytes[s]);
    });
  }
  if (pool_.size() == 1 || work < kMinParallelWork) {
    for (int64_t i = 0; i < n_tasks; ++i) run_task(i);
    return;
  }
  pool_.run_chunks(n_tasks, run_task);
}

void CpuBackend::rope(const RopeArgs& a) {
  const int half = a.n_rot / 2;
  parallel_for(a.x.rows, 4, a.x.rows * a.n_heads * a.n_rot, [&](int64_t t) {
    const float* cs = a.cos_sin.row(t);
    for (int h = 0; h < a.n_heads; ++h) {
      float* v = a.x.row(t) + static_cast<int64_t>(h) * a.head_dim;
      if (a.neox) {
        for (int i = 0; i < half; ++i) {
          const float c = cs[2 * i], s = cs[2 * i + 1];
          const float x0 = v[i], x1 = v[i + half];
          v[i] = x0 * c - x1 * s;
          v[i + half] = x0 * s + x1 * c;
        }
      } else {
        for (int i = 0; i < half; ++i) {
          const float c = cs[2 * i], s = cs[2 * i + 1];
          const float x0 = v[2 * i], x1 = v[2 * i + 1];
          v[2 * i] = x0 * c - x1 * s;
          v[2 * i + 1] = x0 * s + x1 * c;
        }
      }
    }
  });
}

void CpuBackend::swiglu(Mat gate, Mat up) {
  const int64_t n = gate.cols;
  parallel_for(gate.rows, 4, gate.rows * n * 8, [&](int64_t t) {
    float* g = gate.row(t);
    const float* u = up.row(t);
    vk_.silu_mul(g, u, n);
  });
}

void CpuBackend::add(Mat x, Mat y) {
  const int64_t n = x.cols;
  parallel_for(x.rows, 16, x.rows * n, [&](int64_t t) {
    float* xr = x.row(t);
    const float* yr = y.row(t);
    for (int64_t i = 0; i < n; ++i) xr[i] += yr[i];
  });
}

void CpuBackend::store_rows(Mat x, const CacheView& dst, int64_t pos0) {
  MOE_ASSERT(x.cols == dst.width && pos0 >= 0 && pos0 + x.rows <= dst.n_ctx);
  parallel_for(x.rows, 16, x.rows * x.cols, [&](int64_t t) {
    if (dst.type == CacheType::kF16) {
      vk_.f32_to_f16(x.row(t), reinterpret_cast<uint16_t*>(dst.row(pos0 + t)), x.cols);
    } else {
      std::memcpy(dst.row(pos0 + t), x.row(t), static_cast<size_t>(x.cols) * sizeof(float));
    }
  });
}

void CpuBackend::attention(const AttentionArgs& a) {
  const int64_t n_tok = a.q.rows;
  const int group = a.n_head / a.n_head_kv;
  const int64_t max_keys = a.pos0 + n_tok;
  MOE_ASSERT(a.n_head % a.n_head_kv == 0 && max_keys <= a.k.n_ctx);
  MOE_ASSERT(a.head_dim_k <= kMaxHeadDim && a.head_dim_v <= kMaxHeadDimV);
  MOE_ASSERT(a.k.type == a.v.type);
  if (a.k.type == CacheType::kF16) {
    attention_f16(a);
    return;
  }
  // F32 cache: one pass with a running softmax (llama.cpp's F32 path rounds nothing, so the
  // order of the sums is all that differs).
  const bool f16 = false;
  const size_t esize = cache_type_size(a.k.type);
  const size_t kstride = static_cast<size_t>(a.k.width) * esize;
  const size_t vstride = static_cast<size_t>(a.v.width) * esize;
  const int dv = a.head_dim_v;
  // Heads of one KV group are done together (each K/V row is read and converted once for
  // all of them), at most kHeadsPerItem at a time.
  const int sub = std::min(group, kHeadsPerItem);
  const int n_sub = (group + sub - 1) / sub;
  const int64_t n_groups = n_tok * a.n_head_kv * n_sub;
  const int64_t work = n_tok * a.n_head * max_keys * (a.head_dim_k + dv);
  const bool parallel = pool_.size() > 1 && work >= kMinParallelWork;

  // Keys [j_begin, j_end) for heads h0 .. h0 + nh - 1 of KV group g and query token t:
  // softmax in one pass over blocks of keys (running maximum mx, rescaled sums sum, acc rows
  // `as` floats apart), so no buffer grows with the context.
  auto attend = [&](int64_t t, int g, int h0, int nh, int64_t j_begin, int64_t j_end, float* acc, int64_t as,
                    float* mx, double* sum) {
    const uint8_t* kbase = static_cast<const uint8_t*>(a.k.data) + static_cast<size_t>(g) * a.head_dim_k * esize;
    const uint8_t* vbase = static_cast<const uint8_t*>(a.v.data) + static_cast<size_t>(g) * dv * esize;
    const float* q0 = a.q.row(t) + static_cast<int64_t>(h0) * a.head_dim_k;  // heads h0.. are adjacent
    alignas(64) float s[kHeadsPerItem][kKeyBlock];
    for (int64_t j0 = j_begin; j0 < j_end; j0 += kKeyBlock) {
      const int64_t nb = std::min<int64_t>(kKeyBlock, j_end - j0);
      // Scores of the block: s[i][j] = scale * q_i . k_j
      vk_.attn_scores(q0, a.head_dim_k, nh, kbase + j0 * kstride, kstride, f16, nb, a.head_dim_k, a.scale, s[0],
                      kKeyBlock);
      // Running softmax: rescale what was summed when the maximum grows.
      for (int i = 0; i < nh; ++i) {
        float bmx = -INFINITY;
        for (int64_t j = 0; j < nb; ++j) bmx = std::max(bmx, s[i][j]);
        if (bmx > mx[i]) {
          if (mx[i] != -INFINITY) {
            const float r = std::exp(mx[i] - bmx);
            vk_.scale_f32(acc + i * as, r, dv);
            sum[i] *= r;
          }
          mx[i] = bmx;
        }
        for (int64_t j = 0; j < nb; ++j) s[i][j] -= mx[i];
        vk_.exp_f32(s[i], nb);
        for (int64_t j = 0; j < nb; ++j) sum[i] += s[i][j];
      }
      // acc_i += sum_j p_ij v_j
      vk_.attn_accumulate(acc, as, s[0], kKeyBlock, nh, vbase + j0 * vstride, vstride, f16, nb, dv);
    }
  };

  // Few (token, group) pairs, as in decode (1 token x n_head_kv groups), would leave threads
  // idle: then the keys are split into ranges, one item per (token, range) doing every head
  // (so each block of K/V rows is read from memory once, whole, for all groups), and the
  // ranges' partial sums are merged at the end.
  int64_t n_split = 1;
  if (parallel && n_groups < static_cast<int64_t>(kSplitsPerThread) * pool_.size()) {
    n_split = std::clamp<int64_t>(max_keys / kMinSplitKeys, 1, static_cast<int64_t>(kSplitsPerThread) * pool_.size());
  }
  if (n_split > 1) {
    const int64_t n_items = n_tok * n_split;
    const int64_t nh_all = a.n_head;
    // Per item: acc [n_head][dv], mx [n_head], sum [n_head] (double).
    const size_t item_bytes = static_cast<size_t>(nh_all) * (static_cast<size_t>(dv) * sizeof(float) + sizeof(float) +
                                                              sizeof(double));
    const size_t item_stride = (item_bytes + kAlign - 1) / kAlign * kAlign;
    auto* base = static_cast<uint8_t*>(attn_scratch_.get(static_cast<size_t>(n_items) * item_stride));
    auto acc_of = [&](int64_t item) { return reinterpret_cast<float*>(base + item * item_stride); };
    auto sum_of = [&](int64_t item) {
      return reinterpret_cast<double*>(base + item * item_stride + static_cast<size_t>(nh_all) * dv * sizeof(float));
    };
    auto mx_of = [&](int64_t item) { return reinterpret_cast<float*>(sum_of(item) + nh_all); };
    auto run_range = [&](int64_t item) {
      const int64_t t = item / n_split;
      const int64_t sp = item % n_split;
      const int64_t n_keys = a.pos0 + t + 1;
      // Whole key blocks; a range may be empty for a short row.
      const int64_t per = (n_keys + n_split - 1) / n_split;
      const int64_t chunk = (per + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
      const int64_t j_begin = std::min(n_keys, sp * chunk);
      const int64_t j_end = std::min(n_keys, j_begin + chunk);
      float* acc = acc_of(item);
      float* mx = mx_of(item);
      double* sum = sum_of(item);
      std::fill(acc, acc + nh_all * dv, 0.0f);
      std::fill(mx, mx + nh_all, -INFINITY);
      std::fill(sum, sum + nh_all, 0.0);
      for (int64_t j0 = j_begin; j0 < j_end; j0 += kKeyBlock) {
        const int64_t j1 = std::min(j_end, j0 + kKeyBlock);
        for (int g = 0; g < a.n_head_kv; ++g) {
          for (int h0 = g * group; h0 < (g + 1) * group; h0 += sub) {
            const int nh = std::min(sub, (g + 1) * group - h0);
            attend(t, g, h0, nh, j0, j1, acc + static_cast<int64_t>(h0) * dv, dv, mx + h0, sum + h0);
          }
        }
      }
    };
    pool_.run_chunks(n_items, run_range);
    // Merge: out = sum_s e^(m_s - M) acc_s / sum_s e^(m_s - M) sum_s.
    for (int64_t t = 0; t < n_tok; ++t) {
      for (int h = 0; h < a.n_head; ++h) {
        float m = -INFINITY;
        for (int64_t sp = 0; sp < n_split; ++sp) m = std::max(m, mx_of(t * n_split + sp)[h]);
        float* out = a.out.row(t) + static_cast<int64_t>(h) * dv;
        std::fill(out, out + dv, 0.0f);
        double total = 0;
        for (int64_t sp = 0; sp < n_split; ++sp) {
          const int64_t item = t * n_split + sp;
          const float ms = mx_of(item)[h];
          if (ms == -INFINITY) continue;  // an empty range
          const float w = std::exp(ms - m);
          total += static_cast<double>(w) * sum_of(item)[h];
          const float* acc = acc_of(item) + static_cast<int64_t>(h) * dv;
          for (int d = 0; d < dv; ++d) out[d] += w * acc[d];
        }
        const float inv = static_cast<float>(1.0 / total);
        for (int d = 0; d < dv; ++d) out[d] *= inv;
      }
    }
    return;
  }

  // One item: query token t, KV head g, heads h0 .. h0 + nh - 1 of its group, all its keys.
  auto run_item = [&](int64_t item) {
    const int g = static_cast<int>(item / (n_tok * n_sub));
    const int64_t rem = item % (n_tok * n_sub);
    const int64_t t = rem / n_sub;
    const int h0 = g * group + static_cast<int>(rem % n_sub) * sub;
    const int nh = std::min(sub, g * group + group - h0);
    alignas(64) float acc[kHeadsPerItem][kMaxHeadDimV];
    float mx[kHeadsPerItem];
    double sum[kHeadsPerItem];
    for (int i = 0; i < nh; ++i) {
      std::memset(acc[i], 0, static_cast<size_t>(dv) * sizeof(float));
      mx[i] = -INFINITY;
      sum[i] = 0;
    }
    attend(t, g, h0, nh, 0, a.pos0 + t + 1, acc[0], kMaxHeadDimV, mx, sum);
    for (int i = 0; i < nh; ++i) {
      float* out = a.out.row(t) + static_cast<int64_t>(h0 + i) * dv;
      const float inv = static_cast<float>(1.0 / sum[i]);
      for (int d = 0; d < dv; ++d) out[d] = acc[i][d] * inv;
    }
  };
  if (!parallel) {
    for (int64_t i = 0; i < n_groups; ++i) run_item(i);
    return;
  }
  pool_.run_chunks(n_groups, run_item);
}

// Rows [j, j + kSplitKeyStep) of a cache, capped at `end`, whole, towards L2.
void prefetch_rows(const uint8_t* base, size_t stride, int64_t j, int64_t end) {
  for (const int64_t e = std::min(end, j + kSplitKeyStep); j < e; ++j) {
    const uint8_t* row = base + static_cast<size_t>(j) * stride;
    for (size_t o = 0; o < stride; o += 64) __builtin_prefetch(row + o, 0, 2);
  }
}

// F16 cache, as llama.cpp computes attention without flash attention: kq = ggml_mul_mat(k, q)
// converts q to F16 (products of F16 values, summed in F32); the softmax runs over all keys
// (scaled scores, exp(s - max), the sum in double, times float(1 / sum)); kqv =
// ggml_mul_mat(v, kq) converts those probabilities to F16. So the scores of an item are kept
// (per thread), and every probability is normalised before it is rounded. Against llama.cpp's
// F16-cache goldens the logits then differ only by F16 rounding flips (~1e-4 mean, 10x less
// than without these two roundings; tests/engine/conformance_test.cpp, ConformanceKvF16).
// Costs about what the one-pass F32 path does: one score per key and head is stored and read
// back once.
void CpuBackend::attention_f16(const AttentionArgs& a) {
  const int64_t n_tok = a.q.rows;
  const int group = a.n_head / a.n_head_kv;
  const int64_t max_keys = a.pos0 + n_tok;
  const int dk = a.head_dim_k;
  const int dv = a.head_dim_v;
  const size_t kstride = static_cast<size_t>(a.k.width) * sizeof(uint16_t);
  const size_t vstride = static_cast<size_t>(a.v.width) * sizeof(uint16_t);
  const int sub = std::min(group, kHeadsPerItem);
  const int n_sub = (group + sub - 1) / sub;
  const int64_t n_groups = n_tok * a.n_head_kv * n_sub;
  const int64_t work = n_tok * a.n_head * max_keys * (dk + dv);
  const bool parallel = pool_.size() > 1 && work >= kMinParallelWork;

  auto kbase = [&](int g) { return static_cast<const uint8_t*>(a.k.data) + static_cast<size_t>(g) * dk * 2; };
  auto vbase = [&](int g) { return static_cast<const uint8_t*>(a.v.data) + static_cast<size_t>(g) * dv * 2; };
  // q of heads h0 .. h0 + nh - 1 of token t rounded to F16: q16 [nh][dk].
  auto load_q = [&](int64_t t, int h0, int nh, float* q16) {
    std::memcpy(q16, a.q.row(t) + static_cast<int64_t>(h0) * dk, static_cast<size_t>(nh) * dk * sizeof(float));
    round_to_f16(q16, static_cast<int64_t>(nh) * dk);
  };
  // Scores of keys [j0, j1) for those heads: s[i * ss + j] (j from 0 = key 0).
  auto scores = [&](const float* q16, int g, int nh, int64_t j0, int64_t j1, float* s, int64_t ss) {
    for (int64_t j = j0; j < j1; j += kKeyBlock) {
      const int64_t nb = std::min<int64_t>(kKeyBlock, j1 - j);
      vk_.attn_scores(q16, dk, nh, kbase(g) + j * kstride, kstride, true, nb, dk, a.scale, s + j, ss);
    }
  };
  // acc[i * as + c] += sum_j p16[i * ss + j] v_j[c] over keys [j0, j1).
  auto accumulate = [&](const float* p, int64_t ss, int g, int nh, int64_t j0, int64_t j1, float* acc, int64_t as) {
    for (int64_t j = j0; j < j1; j += kKeyBlock) {
      const int64_t nb = std::min<int64_t>(kKeyBlock, j1 - j);
      vk_.attn_accumulate(acc, as, p + j, ss, nh, vbase(g) + j * vstride, vstride, true, nb, dv);
    }
  };

  // Decode (one token, or few items): key ranges split over the threads, in three passes with
  // the scores of every head in attn_scratch_: scores and range maxima; exp and range sums;
  // rounded probabilities times V, range by range, summed at the end. Each range reads whole
  // cache rows in turn, every KV group's part (so a single thread takes this path too, with
  // one range): BM_DecodeAttention 0.83x the time of an item per KV group at Llama-3-8B's
  // shape (8 KV heads, 2 threads).
  int64_t n_split = 1;
  bool split = false;
  if (n_tok == 1 || n_groups < static_cast<int64_t>(kSplitsPerThread) * pool_.size()) {
    if (parallel) {
      const int64_t most = static_cast<int64_t>(kSplitsPerThread) * pool_.size();
      n_split = std::clamp<int64_t>(max_keys / kMinSplitKeys, 1, most);
      split = n_split > 1;
    } else {
      split = pool_.size() == 1 && max_keys >= kMinSplitKeys;
    }
  }
  if (split) {
    const int64_t nh_all = a.n_head;
    const int64_t ss = (max_keys + 15) / 16 * 16;
    const int64_t n_items = n_tok * n_split;
    // Scores [n_tok][n_head][ss]; per item: acc [n_head][dv], max [n_head], sum [n_head].
    const size_t score_bytes = static_cast<size_t>(n_tok * nh_all * ss) * sizeof(float);
    const size_t item_bytes = static_cast<size_t>(nh_all) * (dv * sizeof(float) + sizeof(float) + sizeof(double));
    const size_t item_stride = (item_bytes + kAlign - 1) / kAlign * kAlign;
    // Then the merged maxima and 1 / sums: [n_tok][n_head] each.
    const size_t merged_bytes = 2 * static_cast<size_t>(n_tok * nh_all) * sizeof(float);
    auto* base = static_cast<uint8_t*>(
        attn_scratch_.get(score_bytes + static_cast<size_t>(n_items) * item_stride + merged_bytes));
    auto score_of = [&](int64_t t, int h) { return reinterpret_cast<float*>(base) + (t * nh_all + h) * ss; };
    auto item_of = [&](int64_t item) { return base + score_bytes + item * item_stride; };
    auto acc_of = [&](int64_t item) { return reinterpret_cast<float*>(item_of(item)); };
    auto sum_of = [&](int64_t item) { return reinterpret_cast<double*>(item_of(item) + nh_all * dv * sizeof(float)); };
    auto mx_of = [&](int64_t item) { return reinterpret_cast<float*>(sum_of(item) + nh_all); };
    auto range_of = [&](int64_t item, int64_t* j0, int64_t* j1) {
      const int64_t t = item / n_split, sp = item % n_split;
      const int64_t n_keys = a.pos0 + t + 1;
      const int64_t per = (n_keys + n_split - 1) / n_split;
      const int64_t chunk = (per + kKeyBlock - 1) / kKeyBlock * kKeyBlock;
      *j0 = std::min(n_keys, sp * chunk);
      *j1 = std::min(n_keys, *j0 + chunk);
    };
    float* m = reinterpret_cast<float*>(base + score_bytes + static_cast<size_t>(n_items) * item_stride);
    float* inv = m + n_tok * nh_all;
    std::fill(m, m + n_tok * nh_all, -INFINITY);
    // Key blocks outer, KV groups inner: a block's cache rows (every group's) are read whole,
    // one after another.
    pool_.run_chunks(n_items, [&](int64_t item) {
      const int64_t t = item / n_split;
      int64_t j0, j1;
      range_of(item, &j0, &j1);
      thread_local Scratch q_scratch;
      float* q16 = static_cast<float*>(q_scratch.get(static_cast<size_t>(nh_all) * dk * sizeof(float)));
      load_q(t, 0, a.n_head, q16);
      for (int h = 0; h < nh_all; ++h) mx_of(item)[h] = -INFINITY;
      for (int64_t jb = j0; jb < j1; jb += kSplitKeyStep) {
        const int64_t je = std::min(j1, jb + kSplitKeyStep);
        prefetch_rows(static_cast<const uint8_t*>(a.k.data), kstride, jb + kSplitPrefetchKeys, j1);
        for (int g = 0; g < a.n_head_kv; ++g) {
          for (int h0 = g * group; h0 < (g + 1) * group; h0 += sub) {
            const int nh = std::min(sub, (g + 1) * group - h0);
            scores(q16 + static_cast<int64_t>(h0) * dk, g, nh, jb, je, score_of(t, h0), ss);
          }
        }
      }
      for (int h = 0; h < nh_all; ++h) {
        const float* s = score_of(t, h);
        for (int64_t j = j0; j < j1; ++j) mx_of(item)[h] = std::max(mx_of(item)[h], s[j]);
      }
    });
    for (int64_t item = 0; item < n_items; ++item) {
      float* mt = m + (item / n_split) * nh_all;
      for (int h = 0; h < nh_all; ++h) mt[h] = std::max(mt[h], mx_of(item)[h]);
    }
    pool_.run_chunks(n_items, [&](int64_t item) {
      const int64_t t = item / n_split;
      int64_t j0, j1;
      range_of(item, &j0, &j1);
      for (int h = 0; h < nh_all; ++h) {
        float* s = score_of(t, h);
        const float mx = m[t * nh_all + h];
        for (int64_t j = j0; j < j1; ++j) s[j] -= mx;
        vk_.exp_f32(s + j0, j1 - j0);
        double sum = 0;
        for (int64_t j = j0; j < j1; ++j) sum += s[j];
        sum_of(item)[h] = sum;
      }
    });
    for (int64_t t = 0; t < n_tok; ++t) {
      for (int h = 0; h < nh_all; ++h) {
        double total = 0;
        for (int64_t sp = 0; sp < n_split; ++sp) total += sum_of(t * n_split + sp)[h];
        inv[t * nh_all + h] = static_cast<float>(1.0 / total);
      }
    }
    pool_.run_chunks(n_items, [&](int64_t item) {
      const int64_t t = item / n_split;
      int64_t j0, j1;
      range_of(item, &j0, &j1);
      float* acc = acc_of(item);
      std::fill(acc, acc + nh_all * dv, 0.0f);
      for (int h = 0; h < nh_all; ++h) {
        float* s = score_of(t, h);
        vk_.scale_f32(s + j0, inv[t * nh_all + h], j1 - j0);
        round_to_f16(s + j0, j1 - j0);
      }
      for (int64_t jb = j0; jb < j1; jb += kSplitKeyStep) {
        const int64_t je = std::min(j1, jb + kSplitKeyStep);
        prefetch_rows(static_cast<const uint8_t*>(a.v.data), vstride, jb + kSplitPrefetchKeys, j1);
        for (int g = 0; g < a.n_head_kv; ++g) {
          for (int h0 = g * group; h0 < (g + 1) * group; h0 += sub) {
            const int nh = std::min(sub, (g + 1) * group - h0);
            accumulate(score_of(t, h0), ss, g, nh, jb, je, acc + static_cast<int64_t>(h0) * dv, dv);
          }
        }
      }
    });
    for (int64_t t = 0; t < n_tok; ++t) {
      for (int h = 0; h < nh_all; ++h) {
        float* out = a.out.row(t) + static_cast<int64_t>(h) * dv;
        std::fill(out, out + dv, 0.0f);
        for (int64_t sp = 0; sp < n_split; ++sp) {
          const float* acc = acc_of(t * n_split + sp) + static_cast<int64_t>(h) * dv;
          for (int d = 0; d < dv; ++d) out[d] += acc[d];
        }
      }
    }
    return;
  }

  // One item: query token t, KV head g, heads h0 .. h0 + nh - 1 of its group, all its keys;
  // the scores in a per-thread buffer.
  auto run_item = [&](int64_t item) {
    const int g = static_cast<int>(item / (n_tok * n_sub));
    const int64_t rem = item % (n_tok * n_sub);
    const int64_t t = rem / n_sub;
    const int h0 = g * group + static_cast<int>(rem % n_sub) * sub;
    const int nh = std::min(sub, g * group + group - h0);
    const int64_t n_keys = a.pos0 + t + 1;
    const int64_t ss = (n_keys + 15) / 16 * 16;
    thread_local Scratch score_scratch;
    float* s = static_cast<float*>(score_scratch.get(static_cast<size_t>(nh * ss) * sizeof(float)));
    alignas(64) float q16[kHeadsPerItem * kMaxHeadDim];
    load_q(t, h0, nh, q16);
    scores(q16, g, nh, 0, n_keys, s, ss);
    for (int i = 0; i < nh; ++i) vk_.softmax_f16(s + i * ss, n_keys);
    alignas(64) float acc[kHeadsPerItem][kMaxHeadDimV];
    for (int i = 0; i < nh; ++i) std::memset(acc[i], 0, static_cast<size_t>(dv) * sizeof(float));
    accumulate(s, ss, g, nh, 0, n_keys, acc[0], kMaxHeadDimV);
    for (int i = 0; i < nh; ++i)
      std::memcpy(a.out.row(t) + static_cast<int64_t>(h0 + i) * dv, acc[i], static_cast<size_t>(dv) * sizeof(float));
  };
  if (!parallel) {
    for (int64_t i = 0; i < n_groups; ++i) run_item(i);
    return;
  }
  pool_.run_chunks(n_groups, run_item);
}

void CpuBackend::matmul_experts(const ExpertMatmulArgs& a) {
  const int64_t n_assign = static_cast<int64_t>(a.rows.size());
  const int64_t n_in = a.x.cols;
  MOE_ASSERT(!a.jobs.empty() && a.jobs.size() <= kMaxJobs && a.offsets.size() >= 2);
  const int64_t n_expert = static_cast<int64_t>(a.offsets.size()) - 1;
  MOE_ASSERT(a.offsets[0] == 0 && a.offsets[n_expert] == n_assign);
  if (n_assign == 0) return;
  active_.clear();
  for (int64_t e = 0; e < n_expert; ++e)
    if (a.offsets[e + 1] > a.offsets[e]) active_.push_back(static_cast<int32_t>(e));

  // Per job: kernels and a slot of activation rows gathered in assignment order, converted
  // to the job's activation format (one slot per format, shared by jobs).
  struct Prepared {
    WeightKernels k;
    size_t a_stride = 0;
    int slot = 0;
    int64_t n_blocks = 0;
    int64_t rows = kRowBlock;  // weight rows per work item
    bool packed = false;       // its experts with packed_min_cols tokens read the slot's packed copy
  };
  Prepared prep[kMaxJobs];
  quant::GgmlType slot_types[kMaxJobs];
  size_t slot_offsets[kMaxJobs];
  void (*slot_fns[kMaxJobs])(const float*, void*, int64_t);
  size_t slot_strides[kMaxJobs];
  // Packed activations (AVX-512: columns one after another, so an expert's tokens are a run
  // of them) for the experts with packed_min_cols tokens or more.
  void (*slot_packs[kMaxJobs])(int64_t, int64_t, const void*, size_t, void*);
  size_t slot_packed[kMaxJobs];  // offset of the packed copy; SIZE_MAX: none
  size_t slot_col_bytes[kMaxJobs];
  int64_t most_rows = 0;  // tokens of the busiest expert
  for (int64_t e = 0; e < n_expert; ++e) {
    most_rows = std::max<int64_t>(most_rows, a.offsets[e + 1] - a.offsets[e]);
  }
  auto uses_packed = [&](const WeightKernels& k) {
    return k.convert != nullptr && k.gemm_packed != nullptr && k.packed_col_bytes != nullptr &&
           most_rows >= k.packed_min_cols;
  };
  int n_slots = 0;
  size_t bytes = 0;
  for (size_t j = 0; j < a.jobs.size(); ++j) {
    const MatmulJob& job = a.jobs[j];
    MOE_ASSERT(job.w->n_in == n_in && job.w->n_mat == n_expert && job.y.rows == n_assign && job.y.cols == job.w->n_out);
    MOE_ASSERT(kernels(job.w->type, &prep[j].k));
    // Decode (about one row per active expert): long row ranges, about 4 items per thread over
    // all the active experts' matrices (see row_block).
    const int64_t n_act = std::max<int64_t>(1, static_cast<int64_t>(active_.size()));
    prep[j].rows = n_assign <= 2 * n_act
                       ? std::min(job.w->n_out, std::max(kRowBlock, row_block(job.w->n_out * n_act, 1) / n_act))
                       : kRowBlock;
    prep[j].n_blocks = (job.w->n_out + prep[j].rows - 1) / prep[j].rows;
    const quant::GgmlType at = prep[j].k.act_type;
    const size_t row_bytes = prep[j].k.convert ? type_row_bytes(at, n_in) : static_cast<size_t>(n_in) * sizeof(float);
    prep[j].a_stride = row_bytes;
    int slot = 0;
    while (slot < n_slots && slot_types[slot] != at) ++slot;
    if (slot == n_slots) {
      slot_types[slot] = at;
      slot_offsets[slot] = bytes;
      slot_fns[slot] = prep[j].k.convert ? prep[j].k.convert : copy_f32_row;
      slot_strides[slot] = row_bytes;
      slot_packed[slot] = SIZE_MAX;
      bytes += (row_bytes * n_assign + kAlign - 1) / kAlign * kAlign;
      ++n_slots;
    }
    prep[j].slot = slot;
    prep[j].packed = uses_packed(prep[j].k);
    if (prep[j].packed && slot_packed[slot] == SIZE_MAX) {
      slot_packs[slot] = prep[j].k.pack;
      slot_col_bytes[slot] = prep[j].k.packed_col_bytes(n_in);
      slot_packed[slot] = bytes;
      bytes += slot_col_bytes[slot] * static_cast<size_t>(n_assign);  // a multiple of 64
    }
  }
  uint8_t* base = static_cast<uint8_t*>(act_scratch_.get(bytes));

  const int64_t n_active = static_cast<int64_t>(active_.size());
  int64_t n_tasks = 0, work = 0;
  for (size_t j = 0; j < a.jobs.size(); ++j) {
    n_tasks += prep[j].n_blocks * n_active;
    work += a.jobs[j].w->n_out * n_in * n_assign;
  }
  auto convert_row = [&](int64_t i) {
    const int32_t r = a.rows[i];
    MOE_ASSERT(r >= 0 && r < a.x.rows);
    for (int s = 0; s < n_slots; ++s) slot_fns[s](a.x.row(r), base + slot_offsets[s] + i * slot_strides[s], n_in);
  };
  // Task: (job, active expert, block of weight rows), job-major.
  auto run_task = [&](int64_t task) {
    size_t j = 0;
    while (task >= prep[j].n_blocks * n_active) task -= prep[j++].n_blocks * n_active;
    const MatmulJob& job = a.jobs[j];
    const Prepared& p = prep[j];
    const int32_t e = active_[task / p.n_blocks];
    const int64_t r0 = (task % p.n_blocks) * p.rows;
    const int64_t nr = std::min(p.rows, job.w->n_out - r0);
    const int64_t i0 = a.offsets[e], n_rows = a.offsets[e + 1] - i0;
    if (job.bytes_read) job.bytes_read->fetch_add(static_cast<uint64_t>(nr) * job.w->row_bytes, std::memory_order_relaxed);
    if (p.packed && n_rows >= p.k.packed_min_cols) {
      // The same bits as the unpacked tiles (quant::GemmPackedFn, AVX-512).
      p.k.gemm_packed(n_in, nr, n_rows, job.w->row(r0, e), job.w->row_bytes,
                      base + slot_packed[p.slot] + i0 * slot_col_bytes[p.slot], job.y.row(i0) + r0,
                      static_cast<size_t>(job.y.stride));
      return;
    }
    const uint8_t* act = base + slot_offsets[p.slot] + i0 * p.a_stride;
    for (int64_t c0 = 0; c0 < n_rows; c0 += kColBlock) {
      const int64_t nc = std::min(kColBlock, n_rows - c0);
      p.k.gemm(n_in, nr, nc, job.w->row(r0, e), job.w->row_bytes, act + c0 * p.a_stride, p.a_stride,
               job.y.row(i0 + c0) + r0, static_cast<size_t>(job.y.stride));
    }
  };
  // Gather + convert the activation rows (one row per chunk), pack them (16 per chunk), then
  // the tiles.
  parallel_for(n_assign, 1, n_assign * n_in * 4, convert_row);
  for (int s = 0; s < n_slots; ++s) {
    if (slot_packed[s] == SIZE_MAX) continue;
    const int64_t n_groups = (n_assign + quant::kPackCols - 1) / quant::kPackCols;
    parallel_for(n_groups, 1, n_assign * n_in, [&](int64_t g) {
      const int64_t c0 = g * quant::kPackCols;
      slot_packs[s](n_in, std::min<int64_t>(quant::kPackCols, n_assign - c0),
                    base + slot_offsets[s] + c0 * slot_strides[s], slot_strides[s],
                    base + slot_packed[s] + c0 * slot_col_bytes[s]);
    });
  }
  if (pool_.size() == 1 || work < kMinParallelWork) {
    for (int64_t i = 0; i < n_tasks; ++i) run_task(i);
    return;
  }
  pool_.run_chunks(n_tasks, run_task);
}

void CpuBackend::combine_experts(const ExpertCombineArgs& a) {
  const int64_t n = a.out.cols;
  const int k = a.k;
  MOE_ASSERT(k >= 1 && static_cast<int64_t>(a.index.size()) == a.out.rows * k && a.weights.size() == a.index.size());
  parallel_for(a.out.rows, 4, a.out.rows * n * k, [&](int64_t t) {
    float* o = a.out.row(t);
    // ggml: experts = y * w (rounded products), then slot 0 + slot 1 + ...
    const float w0 = a.weights[t * k];
    const float* y0 = a.y.row(a.index[t * k]);
    for (int64_t i = 0; i < n; ++i) o[i] = y0[i] * w0;
    for (int s = 1; s < k; ++s) {
      const float w = a.weights[t * k + s];
      const float* y = a.y.row(a.index[t * k + s]);
      for (int64_t i = 0; i < n; ++i) {
        const float p = y[i] * w;
        o[i] = o[i] + p;
      }
    }
  });
}

void CpuBackend::copy(Mat src, Mat dst) {
  MOE_ASSERT(src.rows == dst.rows && src.cols == dst.cols);
  for (int64_t t = 0; t < src.rows; ++t)
    std::memmove(dst.row(t), src.row(t), static_cast<size_t>(src.cols) * sizeof(float));
}

void CpuBackend::scale(Mat x, float s) {
  for (int64_t t = 0; t < x.rows; ++t) vk_.scale_f32(x.row(t), s, x.cols);
}

void CpuBackend::load_rows(const CacheView& src, int64_t p0, Mat out) {
  MOE_ASSERT(p0 >= 0 && p0 + out.rows <= src.n_ctx && out.cols <= src.width);
  parallel_for(out.rows, 16, out.rows * out.cols, [&](int64_t t) {
    if (src.type == CacheType::kF16) {
      vk_.f16_to_f32(reinterpret_cast<const uint16_t*>(src.row(p0 + t)), out.row(t), out.cols);
    } else {
      std::memcpy(out.row(t), src.row(p0 + t), static_cast<size_t>(out.cols) * sizeof(float));
    }
  });
}

}  // namespace

}  // namespace cpu

std::unique_ptr<Backend> make_cpu_backend(const CpuOptions& options) {
  const int n = options.n_threads > 0 ? options.n_threads : physical_cores();
  return std::make_unique<cpu::CpuBackend>(n, options.f32_activations);
}

}  // namespace moecode::backend
