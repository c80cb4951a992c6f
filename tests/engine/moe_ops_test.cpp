// The backend's MoE/MLA ops on the CPU: matmul_experts equals one plain matmul per expert
// on its gathered rows and one matmul per row (same arithmetic, so bit-identical) for float
// and quantized stacks,
// reads only the active experts (byte counter), and leaves rows of other assignments
// alone; combine_experts sums weighted expert rows in slot order; copy, scale, load_rows.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <random>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/quant/types.h"

namespace moecode::backend {
namespace {

using quant::GgmlType;

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = nd(rng);
  return v;
}

// A stacked weight [n_expert][n_out][n_in] of `type`, quantized from random floats.
struct Stack {
  std::vector<uint8_t> bytes;
  Weight w;
};
Stack make_stack(GgmlType type, int64_t n_in, int64_t n_out, int64_t n_expert, uint32_t seed) {
  Stack s;
  const size_t row = quant::row_size(type, n_in);
  s.bytes.resize(row * n_out * n_expert);
  const auto f = random_floats(static_cast<size_t>(n_in * n_out * n_expert), seed);
  for (int64_t r = 0; r < n_out * n_expert; ++r) quant::type_traits(type).from_float(f.data() + r * n_in, s.bytes.data() + r * row, n_in);
  s.w.data = s.bytes.data();
  s.w.type = type;
  s.w.n_in = n_in;
  s.w.n_out = n_out;
  s.w.n_mat = n_expert;
  s.w.row_bytes = row;
  return s;
}

class ExpertMatmul : public ::testing::TestWithParam<GgmlType> {};

TEST_P(ExpertMatmul, EqualsOneMatmulPerExpert) {
  const GgmlType type = GetParam();
  const int64_t n_in = 256, n_out = 40, n_expert = 6, n_tok = 9;
  for (int threads : {1, 2}) {
    auto be = make_cpu_backend({threads});
    Stack gate = make_stack(type, n_in, n_out, n_expert, 1);
    Stack up = make_stack(type, n_in, n_out, n_expert, 2);
    auto xv = random_floats(static_cast<size_t>(n_tok * n_in), 3);
    Mat x = make_mat(xv.data(), n_tok, n_in);
    // Assignments sorted by expert: expert 0: tokens {1, 4, 8}; 1: none; 2: {0..8};
    // 3: {5}; 4: none; 5: {2, 3}.
    std::vector<int32_t> rows = {1, 4, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 5, 2, 3};
    std::vector<int32_t> offsets = {0, 3, 3, 12, 13, 13, 15};
    const int64_t na = static_cast<int64_t>(rows.size());
    std::vector<float> gy(na * n_out, -7.0f), uy(na * n_out, -7.0f);
    std::atomic<uint64_t> bytes{0};
    const MatmulJob jobs[] = {{&gate.w, nullptr, make_mat(gy.data(), na, n_out), &bytes},
                              {&up.w, nullptr, make_mat(uy.data(), na, n_out), &bytes}};
    be->matmul_experts({jobs, x, rows, offsets});
    // Only the 4 active experts' matrices were read, once each.
    EXPECT_EQ(bytes.load(), 2u * 4u * n_out * gate.w.row_bytes);
    // Reference: gather, plain matmul with matrix(e).
    for (int64_t e = 0; e < n_expert; ++e) {
      const int64_t i0 = offsets[e], cnt = offsets[e + 1] - i0;
      if (cnt == 0) continue;
      std::vector<float> xe(cnt * n_in), ref(cnt * n_out);
      for (int64_t i = 0; i < cnt; ++i) std::copy_n(x.row(rows[i0 + i]), n_in, xe.begin() + i * n_in);
      for (const auto& [st, got] : {std::pair{&gate, &gy}, std::pair{&up, &uy}}) {
        const Weight m = st->w.matrix(e);
        const MatmulJob j[] = {{&m, nullptr, make_mat(ref.data(), cnt, n_out)}};
        be->matmul(j, make_mat(xe.data(), cnt, n_in));
        for (int64_t i = 0; i < cnt * n_out; ++i)
          ASSERT_EQ((*got)[i0 * n_out + i], ref[i]) << "expert " << e << " element " << i << " threads " << threads;
        // And each row as one token alone (decode tiles; expert 2's 9 rows take the packed
        // prefill tiles where the CPU has them, from its 4th assignment on): the same bits.
        for (int64_t i = 0; i < cnt; ++i) {
          std::vector<float> one(n_out);
          const MatmulJob j1[] = {{&m, nullptr, make_mat(one.data(), 1, n_out)}};
          be->matmul(j1, make_mat(xe.data() + i * n_in, 1, n_in));
          for (int64_t o = 0; o < n_out; ++o)
            ASSERT_EQ((*got)[(i0 + i) * n_out + o], one[o]) << "expert " << e << " row " << i << ", " << o;
        }
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Types, ExpertMatmul,
                         ::testing::Values(GgmlType::F32, GgmlType::F16, GgmlType::Q4_0, GgmlType::Q4_1,
                                           GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q4_K,
                                           GgmlType::Q6_K),
                         [](const auto& info) { return std::string(quant::type_name(info.param)); });

TEST(MoeOps, CombineSumsWeightedRowsInSlotOrder) {
  auto be = make_cpu_backend({2});
  const int64_t n = 5, k = 2, width = 8;
  auto yv = random_floats(static_cast<size_t>(n * k * width), 9);
  std::vector<float> ov(n * width, 0.0f);
  std::vector<int32_t> index = {3, 0, 1, 2, 9, 8, 4, 5, 7, 6};
  std::vector<float> w = {0.5f, 0.25f, 1.0f, 2.0f, 0.1f, 0.9f, 0.3f, 0.3f, 1.5f, -1.0f};
  be->combine_experts({make_mat(yv.data(), n * k, width), index, w, static_cast<int>(k), make_mat(ov.data(), n, width)});
  for (int64_t t = 0; t < n; ++t)
    for (int64_t i = 0; i < width; ++i) {
      const float want = yv[index[t * k] * width + i] * w[t * k] + yv[index[t * k + 1] * width + i] * w[t * k + 1];
      EXPECT_EQ(ov[t * width + i], want);
    }
}

TEST(MoeOps, CopyScaleLoadRows) {
  auto be = make_cpu_backend({1});
  auto src = random_floats(4 * 10, 5);
  std::vector<float> dst(4 * 16, 0.0f);
  Mat s = make_mat(src.data(), 4, 10);
  Mat d{dst.data(), 4, 16, 16};
  be->copy(s.cols_view(2, 6), d.cols_view(10, 6));
  be->scale(d.cols_view(10, 6), 2.0f);
  for (int64_t t = 0; t < 4; ++t)
    for (int64_t i = 0; i < 6; ++i) EXPECT_EQ(d.row(t)[10 + i], 2.0f * s.row(t)[2 + i]);
  EXPECT_EQ(d.row(0)[0], 0.0f);
  // Cache rows round trip (F32 exact; F16 to half precision).
  for (CacheType type : {CacheType::kF32, CacheType::kF16}) {
    std::vector<uint8_t> mem(8 * 12 * cache_type_size(type));
    CacheView c{mem.data(), type, 8, 12};
    auto rows = random_floats(3 * 12, 6);
    be->store_rows(make_mat(rows.data(), 3, 12), c, 4);
    std::vector<float> back(3 * 10);
    be->load_rows(c, 4, make_mat(back.data(), 3, 10));
    for (int64_t t = 0; t < 3; ++t)
      for (int64_t i = 0; i < 10; ++i)
        EXPECT_NEAR(back[t * 10 + i], rows[t * 12 + i], type == CacheType::kF32 ? 0.0f : 2e-3f * std::abs(rows[t * 12 + i]));
  }
}

}  // namespace
}  // namespace moecode::backend
