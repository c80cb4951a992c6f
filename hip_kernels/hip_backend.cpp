// The GPU backend (see hip_backend.h). Plain C++: the runtime calls and kernel launches
// are behind kernels/*.h. Every op is synchronous, as the Backend contract asks: it
// launches, then waits for the device.
#include "hip_kernels/hip_backend.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "hip_kernels/dequant.h"
#include "hip_kernels/kernels/attention.h"
#include "hip_kernels/kernels/elementwise.h"
#include "hip_kernels/kernels/experts.h"
#include "hip_kernels/kernels/matmul.h"
#include "hip_kernels/kernels/norm.h"
#include "hip_kernels/kernels/rope.h"
#include "hip_kernels/kernels/rows.h"
#include "hip_kernels/kernels/runtime.h"

namespace moecode::backend {
namespace {

// A device fault or a failed copy leaves no way to finish an op that returns nothing: say
// what failed and stop (an editor's client restarts the server).
[[noreturn]] void fatal(const std::string& what) {
  std::fprintf(stderr, "moecode: GPU error: %s\n", what.c_str());
  std::abort();
}

constexpr size_t kMiB = size_t{1} << 20;
// Device memory left free after the weights, for KV caches, scratch and the runtime.
constexpr size_t kReserveBytes = 768 * kMiB;

// Address ranges [begin, begin + bytes) mapped to something, looked up by any address
// inside them.
template <typename V>
class RangeMap {
 public:
  void insert(const void* begin, size_t bytes, V v) { map_[addr(begin)] = {bytes, std::move(v)}; }
  void erase(const void* begin) { map_.erase(addr(begin)); }
  // The entry holding [p, p + n), and p's offset in it.
  const V* find(const void* p, size_t n, size_t* offset) const {
    auto it = map_.upper_bound(addr(p));
    if (it == map_.begin()) return nullptr;
    --it;
    const uintptr_t off = addr(p) - it->first;
    if (off + n > it->second.first) return nullptr;
    *offset = off;
    return &it->second.second;
  }

 private:
  static uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }
  std::map<uintptr_t, std::pair<size_t, V>> map_;
};

// Managed allocations of this backend (shared with its buffers, which may be freed from
// any thread that owns a session).
struct ManagedRegistry {
  std::mutex mu;
  RangeMap<char> ranges;
};

class GpuBuffer final : public Buffer {
 public:
  GpuBuffer(std::shared_ptr<ManagedRegistry> reg, void* p, size_t n) : reg_(std::move(reg)), p_(p), n_(n) {}
  ~GpuBuffer() override {
    {
      std::lock_guard<std::mutex> lock(reg_->mu);
      reg_->ranges.erase(p_);
    }
    gpu::free_memory(p_);
  }
  void* data() override { return p_; }
  size_t size() const override { return n_; }

 private:
  std::shared_ptr<ManagedRegistry> reg_;
  void* p_;
  size_t n_;
};

size_t mat_bytes(const Mat& m) {
  if (m.rows == 0 || m.cols == 0) return 0;
  return static_cast<size_t>((m.rows - 1) * m.stride + m.cols) * sizeof(float);
}

// "blk.12.ffn_up_exps.weight" -> 12; -1 for tensors outside the blocks.
int block_of(std::string_view name) {
  if (name.substr(0, 4) != "blk.") return -1;
  int il = -1;
  const char* b = name.data() + 4;
  const auto [p, ec] = std::from_chars(b, name.data() + name.size(), il);
  return ec == std::errc() && p != b ? il : -1;
}

class HipBackend final : public Backend {
 public:
  HipBackend(const GpuOptions& opt, gpu::DeviceInfo info)
      : opt_(opt),
        info_(std::move(info)),
        cpu_(make_cpu_backend({opt.n_threads, opt.f32_activations})),
        managed_(std::make_shared<ManagedRegistry>()) {}

  ~HipBackend() override {
    for (void* p : device_allocs_) gpu::free_memory(p);
    gpu::free_memory(attn_scratch_);
    gpu::free_memory(arena_);
  }

  std::string_view name() const override { return "gpu"; }
  std::string describe() const override {
    char buf[256];
    std::snprintf(buf, sizeof buf, "gpu %s (%s %s, %.0f GiB), weights %.2f GiB on the GPU, %.2f GiB in host memory",
                  info_.name.c_str(), gpu::build_name(), info_.arch.c_str(),
                  static_cast<double>(info_.total_bytes) / (1024.0 * kMiB), gpu_weight_bytes_ / (1024.0 * kMiB),
                  host_weight_bytes_ / (1024.0 * kMiB));
    return buf;
  }
  int n_threads() const override { return cpu_->n_threads(); }
  // Formats without a GPU kernel run on the embedded CPU backend.
  bool supports(quant::GgmlType type) const override { return cpu_->supports(type); }
  std::unique_ptr<Buffer> alloc(size_t n_bytes) override {
    std::string err;
    void* p = gpu::alloc_managed(n_bytes, &err);
    if (!p) return nullptr;
    {
      std::lock_guard<std::mutex> lock(managed_->mu);
      managed_->ranges.insert(p, n_bytes == 0 ? 1 : n_bytes, 0);
    }
    return std::make_unique<GpuBuffer>(managed_, p, n_bytes);
  }
  Limits limits() const override { return {gpu::kMaxHeadDimK, gpu::kMaxHeadDimV}; }

  Status place_weights(std::span<const Weight> weights) override;

  void get_rows(const Weight& w, std::span<const int32_t> ids, Mat out) override;
  void rms_norm(Mat x, const float* g, float eps, Mat out) override;
  void matmul(std::span<const MatmulJob> jobs, Mat x) override;
  void rope(const RopeArgs& args) override;
  void swiglu(Mat gate, Mat up) override { elementwise(gpu::Elementwise::kSwiglu, gate, up, 0.0f); }
  void add(Mat x, Mat y) override { elementwise(gpu::Elementwise::kAdd, x, y, 0.0f); }
  void store_rows(Mat x, const CacheView& dst, int64_t pos0) override;
  void attention(const AttentionArgs& args) override;
  void matmul_experts(const ExpertMatmulArgs& args) override;
  void combine_experts(const ExpertCombineArgs& args) override;
  void copy(Mat src, Mat dst) override;
  void scale(Mat x, float s) override { elementwise(gpu::Elementwise::kScale, x, x, s); }
  void load_rows(const CacheView& src, int64_t p0, Mat out) override;

 private:
  // Device copies of weights (by host address), and weights deliberately left in host memory.
  struct DeviceCopy {
    void* dev = nullptr;
  };

  // Operands of one op: host pointers the device cannot address are copied to temporary
  // device memory (and outputs copied back when the op is done).
  class Stage {
   public:
    // Ops do not nest, so one Stage at a time uses the backend's staging arena from its start.
    explicit Stage(HipBackend& be) : be_(be) { be_.reset_arena(); }
    ~Stage() {
      for (void* p : temps_) gpu::free_memory(p);
    }
    // A device-addressable pointer for [p, p + n) that the op reads (and writes if out).
    void* get(const void* p, size_t n, bool out) {
      if (n == 0 || p == nullptr) return const_cast<void*>(p);
      if (be_.is_managed(p, n)) return const_cast<void*>(p);
      std::string err;
      void* d = be_.arena_take(n);
      if (!d) {
        // Past the arena (which grows before the next op): memory of its own.
        d = gpu::alloc_device(n, &err);
        if (!d) fatal("staging " + std::to_string(n) + " bytes: " + err);
        temps_.push_back(d);
      }
      if (!gpu::copy(d, p, n, &err)) fatal(err);
      if (out) outs_.push_back({const_cast<void*>(p), d, n});
      return d;
    }
    float* mat(const Mat& m, bool out) { return static_cast<float*>(get(m.data, mat_bytes(m), out)); }
    template <typename T>
    const T* span(std::span<const T> s) {
      return static_cast<const T*>(get(s.data(), s.size_bytes(), false));
    }
    // Waits for the op, then copies the outputs back.
    void finish() {
      std::string err;
      if (!gpu::synchronize(&err)) fatal(err);
      for (const auto& o : outs_)
        if (!gpu::copy(o.host, o.dev, o.n, &err)) fatal(err);
      outs_.clear();
    }

   private:
    struct Out {
      void* host;
      void* dev;
      size_t n;
    };
    HipBackend& be_;
    std::vector<void*> temps_;
    std::vector<Out> outs_;
  };

  // The staging arena: host operands of an op are copied into it (index lists every MoE
  // layer, vectors in tests), instead of an allocation and a free per operand.
  static constexpr size_t kArenaAlign = 256;
  void reset_arena() {
    arena_used_ = 0;
    if (arena_want_ > arena_cap_) {
      gpu::free_memory(arena_);
      std::string err;
      const size_t cap = arena_want_ + arena_want_ / 2;
      arena_ = gpu::alloc_device(cap, &err);
      arena_cap_ = arena_ ? cap : 0;
      arena_want_ = 0;
    }
  }
  void* arena_take(size_t n) {
    const size_t need = (n + kArenaAlign - 1) / kArenaAlign * kArenaAlign;
    if (arena_ == nullptr || arena_used_ + need > arena_cap_) {
      arena_want_ = std::max(arena_want_, std::max<size_t>(arena_used_ + need, size_t{1} << 20));
      return nullptr;
    }
    void* p = static_cast<char*>(arena_) + arena_used_;
    arena_used_ += need;
    return p;
  }

  bool is_managed(const void* p, size_t n) {
    std::lock_guard<std::mutex> lock(managed_->mu);
    size_t off;
    return managed_->ranges.find(p, n, &off) != nullptr;
  }
  // The device copy of weight data [p, p + n), uploading it if it was never seen (weights
  // the model did not list, norms it converted to F32); nullptr when it stays in host memory.
  const void* device_weight(const void* p, size_t n) {
    size_t off;
    if (const DeviceCopy* d = weights_.find(p, n, &off)) return d->dev ? static_cast<const char*>(d->dev) + off : nullptr;
    if (is_managed(p, n)) return p;
    std::string err;
    void* dev = upload(p, n, &err);
    if (!dev) fatal(err);
    weights_.insert(p, n, {dev});
    return dev;
  }
  const float* device_vector(const float* p, int64_t n) {
    return p ? static_cast<const float*>(device_weight(p, static_cast<size_t>(n) * sizeof(float))) : nullptr;
  }
  size_t weight_bytes(const Weight& w) const { return w.row_bytes * static_cast<size_t>(w.n_out * w.n_mat); }
  // Device pointer of a weight, or nullptr when its op runs on the CPU.
  const uint8_t* device_matrix(const Weight& w) {
    if (!gpu::is_gpu_format(static_cast<int>(w.type))) return nullptr;
    return static_cast<const uint8_t*>(device_weight(w.data, weight_bytes(w)));
  }
  void* upload(const void* p, size_t n, std::string* err) {
    void* dev = gpu::alloc_device(n, err);
    if (!dev) return nullptr;
    if (!gpu::copy(dev, p, n, err)) {
      gpu::free_memory(dev);
      return nullptr;
    }
    device_allocs_.push_back(dev);
    gpu_weight_bytes_ += static_cast<double>(n);
    return dev;
  }
  // Where the placement options put a tensor of the model.
  bool wants_gpu(const Weight& w) const {
    if (!gpu::is_gpu_format(static_cast<int>(w.type))) return false;
    const std::string_view name = w.name;
    if (name.rfind("token_embd", 0) == 0) return false;
    // Norms and biases (vectors) are tiny: always on the GPU, whose kernels read them.
    if (w.n_out == 1 && w.n_mat == 1) return true;
    const int il = block_of(name);
    if (il < 0) {
      // The output head (and its norm) counts as block n_layer.
      return opt_.n_gpu_layers < 0 || opt_.n_gpu_layers > opt_.n_layer;
    }
    if (opt_.n_gpu_layers >= 0 && il >= opt_.n_gpu_layers) return false;
    if (name.find("_exps") != std::string_view::npos && (opt_.cpu_moe || il < opt_.n_cpu_moe)) return false;
    return true;
  }
  void run_cpu_sync() {
    std::string err;
    if (!gpu::synchronize(&err)) fatal(err);
  }
  void elementwise(gpu::Elementwise op, Mat a, Mat b, float s);
  float* attention_scratch(size_t n_floats) {
    if (n_floats > attn_scratch_floats_) {
      gpu::free_memory(attn_scratch_);
      std::string err;
      attn_scratch_ = static_cast<float*>(gpu::alloc_device(n_floats * sizeof(float), &err));
      if (!attn_scratch_) fatal("attention scratch: " + err);
      attn_scratch_floats_ = n_floats;
    }
    return attn_scratch_;
  }

  GpuOptions opt_;
  gpu::DeviceInfo info_;
  std::unique_ptr<Backend> cpu_;
  std::shared_ptr<ManagedRegistry> managed_;
  RangeMap<DeviceCopy> weights_;
  std::vector<void*> device_allocs_;
  double gpu_weight_bytes_ = 0, host_weight_bytes_ = 0;
  float* attn_scratch_ = nullptr;
  size_t attn_scratch_floats_ = 0;
  void* arena_ = nullptr;
  size_t arena_cap_ = 0, arena_used_ = 0, arena_want_ = 0;
};

Status HipBackend::place_weights(std::span<const Weight> weights) {
  size_t need = 0;
  for (const Weight& w : weights)
    if (wants_gpu(w)) need += weight_bytes(w);
  size_t free_bytes = 0, total = 0;
  gpu::mem_info(&free_bytes, &total);
  if (need + kReserveBytes > free_bytes) {
    char buf[512];
    std::snprintf(buf, sizeof buf,
                  "not enough GPU memory: the weights placed on %s need %.2f GiB (plus %zu MiB for caches and "
                  "scratch) but %.2f GiB of %.2f GiB are free; put fewer layers on the GPU (-ngl N, of %d) or keep "
                  "the routed experts in host memory (--cpu-moe, --n-cpu-moe N)",
                  info_.name.c_str(), need / (1024.0 * kMiB), kReserveBytes / kMiB, free_bytes / (1024.0 * kMiB),
                  total / (1024.0 * kMiB), opt_.n_layer);
    return make_error(ErrorCode::kOutOfRange, buf);
  }
  for (const Weight& w : weights) {
    const size_t n = weight_bytes(w);
    if (!wants_gpu(w)) {
      weights_.insert(w.data, n, {nullptr});
      host_weight_bytes_ += static_cast<double>(n);
      continue;
    }
    std::string err;
    void* dev = upload(w.data, n, &err);
    if (!dev) {
      return make_error(ErrorCode::kOutOfRange,
                        "copying '" + std::string(w.name) + "' (" + std::to_string(n / kMiB) + " MiB) to the GPU: " + err +
                            "; put fewer layers on the GPU (-ngl N) or keep the routed experts in host memory (--cpu-moe)");
    }
    weights_.insert(w.data, n, {dev});
  }
  return Status();
}

void HipBackend::get_rows(const Weight& w, std::span<const int32_t> ids, Mat out) {
  const uint8_t* dw = device_matrix(w);
  if (!dw) {
    cpu_->get_rows(w, ids, out);
    return;
  }
  for (int32_t id : ids) MOE_ASSERT(id >= 0 && id < w.n_out);
  Stage st(*this);
  const gpu::View o{st.mat(out, true), out.rows, out.cols, out.stride};
  if (!gpu::launch_get_rows(static_cast<int>(w.type), dw, w.row_bytes, w.n_in, st.span(ids), o)) fatal("get_rows: format");
  st.finish();
}

void HipBackend::rms_norm(Mat x, const float* g, float eps, Mat out) {
  Stage st(*this);
  const float* dg = device_vector(g, x.cols);
  float* dx = st.mat(x, x.data == out.data);
  float* dout = x.data == out.data ? dx : st.mat(out, true);
  gpu::launch_rms_norm(dx, x.stride, dg, eps, dout, out.stride, x.rows, x.cols);
  st.finish();
}

void HipBackend::matmul(std::span<const MatmulJob> jobs, Mat x) {
  if (x.rows == 0) return;
  for (const MatmulJob& job : jobs) {
    MOE_ASSERT(job.w->n_in == x.cols && job.y.rows == x.rows && job.y.cols == job.w->n_out);
    const uint8_t* dw = device_matrix(*job.w);
    if (!dw) {
      run_cpu_sync();
      cpu_->matmul({&job, 1}, x);
      continue;
    }
    if (job.bytes_read) job.bytes_read->fetch_add(weight_bytes(*job.w), std::memory_order_relaxed);
    Stage st(*this);
    gpu::MatmulLaunch p;
    p.type = static_cast<int>(job.w->type);
    p.w = dw;
    p.row_bytes = job.w->row_bytes;
    p.n_in = job.w->n_in;
    p.n_out = job.w->n_out;
    p.x = st.mat(x, false);
    p.x_stride = x.stride;
    p.y = st.mat(job.y, true);
    p.y_stride = job.y.stride;
    p.bias = device_vector(job.bias, job.w->n_out);
    p.n_tok = x.rows;
    p.warp_size = info_.warp_size;
    if (!gpu::launch_matmul(p)) fatal("matmul: format");
    st.finish();
  }
}

void HipBackend::rope(const RopeArgs& a) {
  Stage st(*this);
  float* x = st.mat(a.x, true);
  const float* cs = st.mat(a.cos_sin, false);
  gpu::launch_rope(x, a.x.stride, a.x.rows, a.n_heads, a.head_dim, a.n_rot, a.neox, cs, a.cos_sin.stride);
  st.finish();
}

void HipBackend::elementwise(gpu::Elementwise op, Mat a, Mat b, float s) {
  MOE_ASSERT(a.rows == b.rows && a.cols == b.cols);
  Stage st(*this);
  const gpu::View va{st.mat(a, true), a.rows, a.cols, a.stride};
  const gpu::View vb{op == gpu::Elementwise::kScale ? nullptr : st.mat(b, false), b.rows, b.cols, b.stride};
  gpu::launch_elementwise(op, va, vb, s);
  st.finish();
}

void HipBackend::copy(Mat src, Mat dst) {
  MOE_ASSERT(src.rows == dst.rows && src.cols == dst.cols);
  // Overlapping views (a memmove) go through the CPU backend.
  const auto* s0 = reinterpret_cast<const char*>(src.data);
  const auto* d0 = reinterpret_cast<const char*>(dst.data);
  if (s0 < d0 + mat_bytes(dst) && d0 < s0 + mat_bytes(src)) {
    run_cpu_sync();
    cpu_->copy(src, dst);
    return;
  }
  elementwise(gpu::Elementwise::kCopy, dst, src, 0.0f);
}

void HipBackend::store_rows(Mat x, const CacheView& dst, int64_t pos0) {
  MOE_ASSERT(x.cols == dst.width && pos0 >= 0 && pos0 + x.rows <= dst.n_ctx);
  Stage st(*this);
  const size_t cache_bytes = static_cast<size_t>(dst.n_ctx * dst.width) * cache_type_size(dst.type);
  void* cache = st.get(dst.data, cache_bytes, true);
  const gpu::View vx{st.mat(x, false), x.rows, x.cols, x.stride};
  gpu::launch_store_rows(vx, cache, dst.width, dst.type == CacheType::kF16, pos0);
  st.finish();
}

void HipBackend::load_rows(const CacheView& src, int64_t p0, Mat out) {
  MOE_ASSERT(p0 >= 0 && p0 + out.rows <= src.n_ctx && out.cols <= src.width);
  Stage st(*this);
  const size_t cache_bytes = static_cast<size_t>(src.n_ctx * src.width) * cache_type_size(src.type);
  const void* cache = st.get(src.data, cache_bytes, false);
  const gpu::View vo{st.mat(out, true), out.rows, out.cols, out.stride};
  gpu::launch_load_rows(cache, src.width, src.type == CacheType::kF16, p0, vo);
  st.finish();
}

void HipBackend::attention(const AttentionArgs& a) {
  const int64_t n_tok = a.q.rows;
  MOE_ASSERT(a.n_head % a.n_head_kv == 0 && a.pos0 + n_tok <= a.k.n_ctx && a.k.type == a.v.type);
  MOE_ASSERT(a.head_dim_k <= gpu::kMaxHeadDimK && a.head_dim_v <= gpu::kMaxHeadDimV);
  if (n_tok == 0) return;
  Stage st(*this);
  const size_t es = cache_type_size(a.k.type);
  gpu::AttentionLaunch p;
  p.q = st.mat(a.q, false);
  p.q_stride = a.q.stride;
  // K and V may be views of one cache (MLA's latent): stage the union once when needed.
  const size_t k_bytes = static_cast<size_t>(a.k.n_ctx * a.k.width) * es;
  const size_t v_bytes = static_cast<size_t>(a.v.n_ctx * a.v.width) * es;
  p.k = st.get(a.k.data, k_bytes, false);
  p.v = a.v.data == a.k.data ? p.k : st.get(a.v.data, v_bytes, false);
  p.k_width = a.k.width;
  p.v_width = a.v.width;
  p.f16 = a.k.type == CacheType::kF16;
  p.out = st.mat(a.out, true);
  p.out_stride = a.out.stride;
  p.n_tok = n_tok;
  p.n_head = a.n_head;
  p.n_head_kv = a.n_head_kv;
  p.head_dim_k = a.head_dim_k;
  p.head_dim_v = a.head_dim_v;
  p.pos0 = a.pos0;
  p.scale = a.scale;
  // Few (token, head) blocks, as in decode: split the keys so every multiprocessor has work.
  const int64_t blocks = n_tok * a.n_head;
  const int64_t max_keys = a.pos0 + n_tok;
  p.n_split = 1;
  if (blocks < 2 * static_cast<int64_t>(std::max(1, info_.n_multiprocessors)))
    p.n_split = static_cast<int>(std::clamp<int64_t>(max_keys / 256, 1, 64));
  p.scratch = attention_scratch(gpu::attention_scratch_floats(n_tok, a.n_head, p.n_split, a.head_dim_v));
  gpu::launch_attention(p);
  st.finish();
}

void HipBackend::matmul_experts(const ExpertMatmulArgs& a) {
  const int64_t n_assign = static_cast<int64_t>(a.rows.size());
  MOE_ASSERT(!a.jobs.empty() && a.offsets.size() >= 2);
  const int64_t n_expert = static_cast<int64_t>(a.offsets.size()) - 1;
  MOE_ASSERT(a.offsets[0] == 0 && a.offsets[n_expert] == n_assign);
  if (n_assign == 0) return;
  int64_t most = 0, active = 0;
  for (int64_t e = 0; e < n_expert; ++e) {
    const int64_t n = a.offsets[e + 1] - a.offsets[e];
    most = std::max(most, n);
    active += n > 0;
  }
  for (int32_t r : a.rows) MOE_ASSERT(r >= 0 && r < a.x.rows);
  for (const MatmulJob& job : a.jobs) {
    MOE_ASSERT(job.w->n_in == a.x.cols && job.w->n_mat == n_expert && job.y.rows == n_assign &&
               job.y.cols == job.w->n_out);
    const uint8_t* dw = device_matrix(*job.w);
    if (!dw) {
      run_cpu_sync();
      ExpertMatmulArgs one = a;
      one.jobs = {&job, 1};
      cpu_->matmul_experts(one);
      continue;
    }
    // Only the experts with assignments are read (the MoE stats' byte counter).
    if (job.bytes_read)
      job.bytes_read->fetch_add(static_cast<uint64_t>(active) * job.w->row_bytes * job.w->n_out, std::memory_order_relaxed);
    Stage st(*this);
    gpu::MatmulLaunch p;
    p.type = static_cast<int>(job.w->type);
    p.w = dw;
    p.row_bytes = job.w->row_bytes;
    p.mat_bytes = job.w->row_bytes * static_cast<size_t>(job.w->n_out);
    p.n_in = job.w->n_in;
    p.n_out = job.w->n_out;
    p.x = st.mat(a.x, false);
    p.x_stride = a.x.stride;
    p.x_rows = st.span(a.rows);
    p.y = st.mat(job.y, true);
    p.y_stride = job.y.stride;
    p.bias = device_vector(job.bias, job.w->n_out);
    p.offsets = st.span(a.offsets);
    p.n_mat = static_cast<int>(n_expert);
    p.n_tok = most;
    p.warp_size = info_.warp_size;
    if (!gpu::launch_matmul(p)) fatal("matmul_experts: format");
    st.finish();
  }
}

void HipBackend::combine_experts(const ExpertCombineArgs& a) {
  MOE_ASSERT(a.k >= 1 && static_cast<int64_t>(a.index.size()) == a.out.rows * a.k && a.weights.size() == a.index.size());
  for (int32_t i : a.index) MOE_ASSERT(i >= 0 && i < a.y.rows);
  Stage st(*this);
  const gpu::View y{st.mat(a.y, false), a.y.rows, a.y.cols, a.y.stride};
  const gpu::View out{st.mat(a.out, true), a.out.rows, a.out.cols, a.out.stride};
  gpu::launch_combine_experts(y, st.span(a.index), st.span(a.weights), a.k, out);
  st.finish();
}

}  // namespace

std::string_view gpu_build() { return gpu::build_name(); }

int gpu_device_count(std::string* why) { return gpu::device_count(why); }

Result<std::unique_ptr<Backend>> make_gpu_backend(const GpuOptions& options) {
  std::string why;
  const int n = gpu::device_count(&why);
  if (n == 0) return make_error(ErrorCode::kUnavailable, "GPU backend (" + std::string(gpu::build_name()) + "): " + why);
  if (options.device < 0 || options.device >= n)
    return make_error(ErrorCode::kInvalidArgument,
                      "GPU " + std::to_string(options.device) + " does not exist (" + std::to_string(n) + " found)");
  gpu::DeviceInfo info;
  if (!gpu::use_device(options.device, &info, &why)) return make_error(ErrorCode::kUnavailable, "GPU backend: " + why);
  return std::unique_ptr<Backend>(std::make_unique<HipBackend>(options, std::move(info)));
}

}  // namespace moecode::backend
