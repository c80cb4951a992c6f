// The GPU backend's ops against the CPU backend's, on random inputs: every op the forward
// passes use, every weight format with a GPU kernel, decode- and prefill-sized batches,
// inputs in host memory (staged) and in the backend's own buffers (managed). Matmuls are
// compared with the CPU in reference mode (F32 activations, dequantized weights: the GPU's
// arithmetic), other ops with the CPU directly; the measure is the normalised error
// ||gpu - cpu|| / ||cpu||, with a tolerance per format. On a machine without a GPU (or a
// build without the GPU backend) every case is reported as skipped, with the reason.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/quant/quantize.h"
#include "engine/quant/types.h"
#include "hip_kernels/hip_backend.h"

namespace moecode::backend {
namespace {

using quant::GgmlType;

std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double norm_error(const std::vector<float>& got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(got[i]) - want[i];
    num += d * d;
    den += static_cast<double>(want[i]) * want[i];
  }
  return den == 0 ? std::sqrt(num) : std::sqrt(num / den);
}

struct Stack {
  std::vector<uint8_t> bytes;
  Weight w;
};
Stack make_weight(GgmlType type, int64_t n_in, int64_t n_out, int64_t n_mat, uint32_t seed) {
  Stack s;
  const size_t row = quant::row_size(type, n_in);
  s.bytes.resize(row * n_out * n_mat);
  const auto f = random_floats(static_cast<size_t>(n_in * n_out * n_mat), seed, 0.5f);
  for (int64_t r = 0; r < n_out * n_mat; ++r) {
    if (type == GgmlType::F32) {
      std::memcpy(s.bytes.data() + r * row, f.data() + r * n_in, row);
    } else {
      quant::type_traits(type).from_float(f.data() + r * n_in, s.bytes.data() + r * row, n_in);
    }
  }
  s.w.data = s.bytes.data();
  s.w.type = type;
  s.w.n_in = n_in;
  s.w.n_out = n_out;
  s.w.n_mat = n_mat;
  s.w.row_bytes = row;
  s.w.name = "blk.0.test.weight";
  return s;
}

const GgmlType kFormats[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q4_0,
                             GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0,
                             GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

// A fresh GPU backend per case (its weight copies are keyed by host address), or a skip.
class GpuOps : public ::testing::Test {
 protected:
  void SetUp() override {
    auto g = make_gpu_backend({});
    if (!g.ok()) GTEST_SKIP() << g.error().message();
    gpu_ = std::move(*g);
    cpu_ = make_cpu_backend({2});
    ref_ = make_cpu_backend({2, /*f32_activations=*/true});
  }
  // A copy of v in a buffer of the GPU backend (managed memory), or v itself.
  float* place(std::vector<float>& v, bool managed) {
    if (!managed) return v.data();
    bufs_.push_back(gpu_->alloc(v.size() * sizeof(float)));
    std::memcpy(bufs_.back()->data(), v.data(), v.size() * sizeof(float));
    return static_cast<float*>(bufs_.back()->data());
  }
  std::unique_ptr<Backend> gpu_, cpu_, ref_;
  std::vector<std::unique_ptr<Buffer>> bufs_;
};

TEST_F(GpuOps, MatmulEveryFormatDecodeAndPrefill) {
  const int64_t n_in = 512, n_out = 97;
  for (GgmlType type : kFormats) {
    const Stack q = make_weight(type, n_in, n_out, 1, 1);
    const auto bias = random_floats(n_out, 3);
    for (int64_t n_tok : {1, 3, 8, 9, 70}) {
      for (bool managed : {false, true}) {
        SCOPED_TRACE(std::string(quant::type_name(type)) + " tokens " + std::to_string(n_tok) +
                     (managed ? " managed" : " host"));
        auto x = random_floats(static_cast<size_t>(n_in * n_tok), 2);
        std::vector<float> want(static_cast<size_t>(n_tok * n_out)), got(want.size());
        const MatmulJob rj{&q.w, bias.data(), make_mat(want.data(), n_tok, n_out)};
        ref_->matmul({&rj, 1}, make_mat(x.data(), n_tok, n_in));
        float* gy = place(got, managed);
        const MatmulJob gj{&q.w, bias.data(), make_mat(gy, n_tok, n_out)};
        gpu_->matmul({&gj, 1}, make_mat(place(x, managed), n_tok, n_in));
        if (managed) std::memcpy(got.data(), gy, got.size() * sizeof(float));
        EXPECT_LT(norm_error(got, want), 1e-4);
      }
    }
  }
}

TEST_F(GpuOps, MatmulJobsWithStridedViews) {
  const int64_t n_in = 256, n_tok = 5;
  const Stack a = make_weight(GgmlType::Q4_K, n_in, 64, 1, 4);
  const Stack b = make_weight(GgmlType::Q8_0, n_in, 32, 1, 5);
  auto x = random_floats(static_cast<size_t>(n_tok * (n_in + 7)), 6);
  const Mat xv{x.data(), n_tok, n_in, n_in + 7};
  // Both outputs side by side in one [n_tok, 96 + 3] matrix.
  std::vector<float> want(static_cast<size_t>(n_tok * 99), 7.0f), got(want);
  for (auto* pair : {&want, &got}) {
    Backend& be = pair == &want ? *ref_ : *gpu_;
    const Mat y{pair->data(), n_tok, 99, 99};
    const MatmulJob jobs[2] = {{&a.w, nullptr, y.cols_view(0, 64)}, {&b.w, nullptr, y.cols_view(64, 32)}};
    be.matmul(jobs, xv);
  }
  EXPECT_LT(norm_error(got, want), 1e-4);
  for (int64_t t = 0; t < n_tok; ++t)
    for (int c = 96; c < 99; ++c) EXPECT_EQ(got[t * 99 + c], 7.0f) << "untouched column " << c;
}

TEST_F(GpuOps, GetRowsEveryFormat) {
  for (GgmlType type : kFormats) {
    SCOPED_TRACE(quant::type_name(type));
    const Stack q = make_weight(type, 256, 50, 1, 8);
    const std::vector<int32_t> ids = {3, 0, 49, 3, 17};
    std::vector<float> want(5 * 256), got(want.size());
    cpu_->get_rows(q.w, ids, make_mat(want.data(), 5, 256));
    gpu_->get_rows(q.w, ids, make_mat(got.data(), 5, 256));
    EXPECT_EQ(norm_error(got, want), 0.0);
  }
}

TEST_F(GpuOps, NormRopeSwigluAddScaleCopy) {
  const int64_t n = 7, d = 576;
  auto x = random_floats(static_cast<size_t>(n * d), 9);
  const auto g = random_floats(d, 10);
  for (bool managed : {false, true}) {
    SCOPED_TRACE(managed ? "managed" : "host");
    std::vector<float> want(x.size()), got(x.size());
    cpu_->rms_norm(make_mat(x.data(), n, d), g.data(), 1e-5f, make_mat(want.data(), n, d));
    float* gy = place(got, managed);
    gpu_->rms_norm(make_mat(place(x, managed), n, d), g.data(), 1e-5f, make_mat(gy, n, d));
    if (gy != got.data()) std::memcpy(got.data(), gy, got.size() * sizeof(float));
    EXPECT_LT(norm_error(got, want), 1e-6);
    // In place, without weights.
    std::vector<float> a = x, b = x;
    cpu_->rms_norm(make_mat(a.data(), n, d), nullptr, 1e-6f, make_mat(a.data(), n, d));
    float* pb = place(b, managed);
    gpu_->rms_norm(make_mat(pb, n, d), nullptr, 1e-6f, make_mat(pb, n, d));
    if (pb != b.data()) std::memcpy(b.data(), pb, b.size() * sizeof(float));
    EXPECT_LT(norm_error(b, a), 1e-6);
  }
  // RoPE, both pair orders, partial rotation (n_rot < head_dim).
  for (bool neox : {false, true}) {
    const int heads = 9, hd = 64, n_rot = 48;
    auto v = random_floats(static_cast<size_t>(n * heads * hd), 11);
    auto cs = random_floats(static_cast<size_t>(n * n_rot), 12);
    std::vector<float> a = v, b = v;
    RopeArgs r{make_mat(a.data(), n, heads * hd), heads, hd, n_rot, neox, make_mat(cs.data(), n, n_rot)};
    cpu_->rope(r);
    r.x = make_mat(b.data(), n, heads * hd);
    gpu_->rope(r);
    EXPECT_LT(norm_error(b, a), 1e-6) << (neox ? "neox" : "normal");
  }
  auto y = random_floats(x.size(), 13);
  std::vector<float> a = x, b = x;
  cpu_->swiglu(make_mat(a.data(), n, d), make_mat(y.data(), n, d));
  gpu_->swiglu(make_mat(b.data(), n, d), make_mat(y.data(), n, d));
  EXPECT_LT(norm_error(b, a), 1e-6) << "swiglu";
  cpu_->add(make_mat(a.data(), n, d), make_mat(y.data(), n, d));
  gpu_->add(make_mat(b.data(), n, d), make_mat(y.data(), n, d));
  EXPECT_LT(norm_error(b, a), 1e-6) << "add";
  cpu_->scale(make_mat(a.data(), n, d), 0.37f);
  gpu_->scale(make_mat(b.data(), n, d), 0.37f);
  EXPECT_LT(norm_error(b, a), 1e-6) << "scale";
  std::vector<float> ca(x.size(), 0.0f), cb(x.size(), 0.0f);
  cpu_->copy(make_mat(a.data(), n, d).cols_view(3, 100), make_mat(ca.data(), n, d).cols_view(50, 100));
  gpu_->copy(make_mat(b.data(), n, d).cols_view(3, 100), make_mat(cb.data(), n, d).cols_view(50, 100));
  EXPECT_LT(norm_error(cb, ca), 1e-6) << "copy";
}

TEST_F(GpuOps, CacheRowsStoreAndLoad) {
  for (CacheType ct : {CacheType::kF16, CacheType::kF32}) {
    const int64_t n_ctx = 40, width = 96;
    auto x = random_floats(static_cast<size_t>(9 * width), 14);
    auto cb = cpu_->alloc(n_ctx * width * cache_type_size(ct));
    auto gb = gpu_->alloc(n_ctx * width * cache_type_size(ct));
    std::memset(cb->data(), 0, cb->size());
    std::memset(gb->data(), 0, gb->size());
    const CacheView c{cb->data(), ct, n_ctx, width}, g{gb->data(), ct, n_ctx, width};
    cpu_->store_rows(make_mat(x.data(), 9, width), c, 13);
    gpu_->store_rows(make_mat(x.data(), 9, width), g, 13);
    EXPECT_EQ(std::memcmp(cb->data(), gb->data(), cb->size()), 0) << "cache bytes";
    std::vector<float> a(static_cast<size_t>(11 * 80)), b(a.size());
    cpu_->load_rows(c, 12, make_mat(a.data(), 11, 80));
    gpu_->load_rows(g, 12, make_mat(b.data(), 11, 80));
    EXPECT_EQ(norm_error(b, a), 0.0);
  }
}

struct AttnCase {
  int n_head, n_kv, hd, hv, pos0, n_tok;
};

void check_attention(Backend& cpu, Backend& gpu, const AttnCase& c) {
  for (CacheType ct : {CacheType::kF16, CacheType::kF32}) {
    SCOPED_TRACE(testing::Message() << c.n_head << "/" << c.n_kv << " heads, dims " << c.hd << "/" << c.hv << ", pos0 "
                                    << c.pos0 << ", tokens " << c.n_tok << (ct == CacheType::kF16 ? " f16" : " f32"));
    const int n_ctx = c.pos0 + c.n_tok + 3;
    std::vector<float> out_c, out_g;
    for (Backend* be : {&cpu, &gpu}) {
      const auto kf = random_floats(static_cast<size_t>(n_ctx) * c.n_kv * c.hd, 17);
      const auto vf = random_floats(static_cast<size_t>(n_ctx) * c.n_kv * c.hv, 18);
      auto kb = be->alloc(static_cast<size_t>(n_ctx) * c.n_kv * c.hd * cache_type_size(ct));
      auto vb = be->alloc(static_cast<size_t>(n_ctx) * c.n_kv * c.hv * cache_type_size(ct));
      const CacheView k{kb->data(), ct, n_ctx, c.n_kv * c.hd};
      const CacheView v{vb->data(), ct, n_ctx, c.n_kv * c.hv};
      be->store_rows(make_mat(const_cast<float*>(kf.data()), n_ctx, c.n_kv * c.hd), k, 0);
      be->store_rows(make_mat(const_cast<float*>(vf.data()), n_ctx, c.n_kv * c.hv), v, 0);
      auto q = random_floats(static_cast<size_t>(c.n_tok) * c.n_head * c.hd, 19);
      std::vector<float>& out = be == &cpu ? out_c : out_g;
      out.assign(static_cast<size_t>(c.n_tok) * c.n_head * c.hv, 0.0f);
      AttentionArgs a;
      a.q = make_mat(q.data(), c.n_tok, c.n_head * c.hd);
      a.k = k;
      a.v = v;
      a.out = make_mat(out.data(), c.n_tok, c.n_head * c.hv);
      a.n_head = c.n_head;
      a.n_head_kv = c.n_kv;
      a.head_dim_k = c.hd;
      a.head_dim_v = c.hv;
      a.pos0 = c.pos0;
      a.scale = 0.3f;
      be->attention(a);
    }
    // F16 rounds the probabilities: an ulp flip of one of them moves the output by ~1e-3.
    EXPECT_LT(norm_error(out_g, out_c), ct == CacheType::kF16 ? 2e-3 : 1e-5);
  }
}

TEST_F(GpuOps, AttentionPrefillDecodeLongContextAndMla) {
  check_attention(*cpu_, *gpu_, {6, 2, 40, 24, 150, 5});     // GQA, a short prefill after a prefix
  check_attention(*cpu_, *gpu_, {9, 3, 64, 64, 0, 300});     // SmolLM2's shape, a prompt
  check_attention(*cpu_, *gpu_, {9, 3, 64, 64, 4000, 1});    // decode: keys split over ranges
  check_attention(*cpu_, *gpu_, {16, 1, 576, 512, 700, 2});  // MLA absorbed decode (latent cache)
  check_attention(*cpu_, *gpu_, {32, 8, 128, 128, 30000, 1});  // a long cache
}

TEST_F(GpuOps, ExpertMatmulAndCombine) {
  const int64_t n_in = 256, n_out = 48, n_expert = 8;
  for (GgmlType type : kFormats) {
    const Stack s = make_weight(type, n_in, n_out, n_expert, 20);
    for (int n_tok : {1, 40}) {
      SCOPED_TRACE(std::string(quant::type_name(type)) + " tokens " + std::to_string(n_tok));
      // Each token picks 2 experts, deterministically spread; assignments sorted by expert.
      const int k = 2;
      std::vector<std::vector<int32_t>> per(n_expert);
      for (int t = 0; t < n_tok; ++t)
        for (int s2 = 0; s2 < k; ++s2) per[(t * 3 + s2 * 5) % n_expert].push_back(t);
      std::vector<int32_t> rows, offsets = {0};
      for (const auto& p : per) {
        rows.insert(rows.end(), p.begin(), p.end());
        offsets.push_back(static_cast<int32_t>(rows.size()));
      }
      auto x = random_floats(static_cast<size_t>(n_tok * n_in), 21);
      std::vector<float> want(rows.size() * n_out, 5.0f), got(want);
      for (auto* pair : {&want, &got}) {
        Backend& be = pair == &want ? *ref_ : *gpu_;
        const MatmulJob job{&s.w, nullptr, make_mat(pair->data(), static_cast<int64_t>(rows.size()), n_out)};
        be.matmul_experts({{&job, 1}, make_mat(x.data(), n_tok, n_in), rows, offsets});
      }
      EXPECT_LT(norm_error(got, want), 1e-4);
      // Combine: token t's slots are its assignments, in expert order.
      std::vector<int32_t> index(static_cast<size_t>(n_tok * k), -1);
      std::vector<int> seen(n_tok, 0);
      for (size_t i = 0; i < rows.size(); ++i) index[rows[i] * k + seen[rows[i]]++] = static_cast<int32_t>(i);
      const auto w = random_floats(index.size(), 22);
      std::vector<float> ca(static_cast<size_t>(n_tok * n_out)), cb(ca.size());
      cpu_->combine_experts({make_mat(want.data(), static_cast<int64_t>(rows.size()), n_out), index, w, k,
                             make_mat(ca.data(), n_tok, n_out)});
      gpu_->combine_experts({make_mat(want.data(), static_cast<int64_t>(rows.size()), n_out), index, w, k,
                             make_mat(cb.data(), n_tok, n_out)});
      EXPECT_LT(norm_error(cb, ca), 1e-6);
    }
  }
}

TEST_F(GpuOps, PlacementKeepsRoutedExpertsAndLayersPastNglOnTheCpu) {
  // Placement is by tensor name; what stays in host memory runs on the embedded CPU backend
  // and must give the CPU's own result bit for bit.
  auto g = make_gpu_backend({.device = 0, .n_gpu_layers = 1, .n_layer = 2, .cpu_moe = true});
  ASSERT_TRUE(g.ok()) << g.error().message();
  Stack l0 = make_weight(GgmlType::Q4_K, 256, 32, 1, 30);
  Stack l1 = make_weight(GgmlType::Q4_K, 256, 32, 1, 31);
  Stack ex = make_weight(GgmlType::Q4_K, 256, 32, 4, 32);
  l0.w.name = "blk.0.attn_q.weight";
  l1.w.name = "blk.1.attn_q.weight";
  ex.w.name = "blk.0.ffn_up_exps.weight";
  const Weight all[] = {l0.w, l1.w, ex.w};
  ASSERT_TRUE((*g)->place_weights(all).ok());
  EXPECT_NE((*g)->describe().find("in host memory"), std::string::npos);
  auto x = random_floats(256 * 3, 33);
  std::vector<float> a(3 * 32), b(3 * 32);
  const MatmulJob ja{&l1.w, nullptr, make_mat(a.data(), 3, 32)}, jb{&l1.w, nullptr, make_mat(b.data(), 3, 32)};
  cpu_->matmul({&ja, 1}, make_mat(x.data(), 3, 256));
  (*g)->matmul({&jb, 1}, make_mat(x.data(), 3, 256));
  EXPECT_EQ(a, b) << "blk.1 is past -ngl 1: the CPU's arithmetic";
}

TEST(GpuBackend, WithoutAGpuTheErrorSaysWhy) {
  std::string why;
  if (gpu_device_count(&why) > 0) GTEST_SKIP() << "a GPU is present";
  EXPECT_FALSE(why.empty());
  auto g = make_gpu_backend({});
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.error().message().find(why), std::string::npos) << g.error().message();
}

}  // namespace
}  // namespace moecode::backend
