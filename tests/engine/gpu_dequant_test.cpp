// The GPU kernels' element reader (hip_kernels/dequant.h) compiled as plain C++ and checked,
// bit for bit, against engine/quant's row dequantization for every format the GPU backend
// reads: random rows (with zeros, tiny and large values), every element, rows at odd byte
// addresses. This runs on every machine, GPU or not.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "engine/quant/fp16.h"
#include "engine/quant/quantize.h"
#include "engine/quant/types.h"
#include "hip_kernels/dequant.h"

namespace moecode::gpu {
namespace {

using quant::GgmlType;

template <int T>
void check_format() {
  const auto type = static_cast<GgmlType>(T);
  const int64_t n = 1024;
  const auto& tt = quant::type_traits(type);
  std::mt19937 rng(T + 7);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (int round = 0; round < 4; ++round) {
    std::vector<float> f(n);
    for (auto& x : f) x = d(rng) * (round == 1 ? 1e-3f : round == 2 ? 300.0f : 1.0f);
    if (round == 3)
      for (int64_t i = 0; i < n; i += 3) f[i] = 0.0f;
    const size_t bytes = quant::row_size(type, n);
    // engine/quant writes and reads aligned blocks; the reader gets a copy one byte off, as it
    // must not assume aligned rows.
    std::vector<uint8_t> aligned(bytes);
    if (T == kF32) {
      std::memcpy(aligned.data(), f.data(), bytes);
    } else {
      ASSERT_NE(tt.from_float, nullptr);
      tt.from_float(f.data(), aligned.data(), n);
    }
    std::vector<float> ref(n);
    if (T == kF32) {
      ref = f;
    } else {
      tt.to_float(aligned.data(), ref.data(), n);
    }
    std::vector<uint8_t> buf(bytes + 1);
    uint8_t* row = buf.data() + 1;
    std::memcpy(row, aligned.data(), bytes);
    for (int64_t k = 0; k < n; ++k) {
      const float got = dq<T>(row, k);
      ASSERT_EQ(got, ref[k]) << tt.name << " round " << round << " element " << k;
    }
  }
}

TEST(GpuDequant, EveryFormatMatchesTheCpuDequantizationExactly) {
  check_format<kF32>();
  check_format<kF16>();
  check_format<kBF16>();
  check_format<kQ4_0>();
  check_format<kQ4_1>();
  check_format<kQ5_0>();
  check_format<kQ5_1>();
  check_format<kQ8_0>();
  check_format<kQ4_K>();
  check_format<kQ5_K>();
  check_format<kQ6_K>();
}

TEST(GpuDequant, BlockSizesAgreeWithTheTypeTable) {
  auto check = [](int t, int block, int bytes) {
    const auto& tt = quant::type_traits(static_cast<GgmlType>(t));
    EXPECT_EQ(tt.block_size, block) << tt.name;
    EXPECT_EQ(tt.type_size, static_cast<size_t>(bytes)) << tt.name;
    EXPECT_TRUE(is_gpu_format(t));
  };
  check(kF32, Format<kF32>::kBlock, Format<kF32>::kBytes);
  check(kF16, Format<kF16>::kBlock, Format<kF16>::kBytes);
  check(kBF16, Format<kBF16>::kBlock, Format<kBF16>::kBytes);
  check(kQ4_0, Format<kQ4_0>::kBlock, Format<kQ4_0>::kBytes);
  check(kQ4_1, Format<kQ4_1>::kBlock, Format<kQ4_1>::kBytes);
  check(kQ5_0, Format<kQ5_0>::kBlock, Format<kQ5_0>::kBytes);
  check(kQ5_1, Format<kQ5_1>::kBlock, Format<kQ5_1>::kBytes);
  check(kQ8_0, Format<kQ8_0>::kBlock, Format<kQ8_0>::kBytes);
  check(kQ4_K, Format<kQ4_K>::kBlock, Format<kQ4_K>::kBytes);
  check(kQ5_K, Format<kQ5_K>::kBlock, Format<kQ5_K>::kBytes);
  check(kQ6_K, Format<kQ6_K>::kBlock, Format<kQ6_K>::kBytes);
  EXPECT_FALSE(is_gpu_format(static_cast<int>(GgmlType::Q2_K)));
}

TEST(GpuDequant, HalfConversionCoversEverySpecialValue) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float a = half_to_f32(static_cast<uint16_t>(h));
    const float b = quant::fp16_to_fp32(static_cast<uint16_t>(h));
    if (a != a) {
      EXPECT_NE(b, b) << h;
      continue;
    }
    ASSERT_EQ(std::memcmp(&a, &b, 4), 0) << "half bits " << h;
  }
}

TEST(GpuDequant, FloatToHalfRoundsAsTheCpuDoes) {
  auto check = [](uint32_t bits) {
    float f;
    std::memcpy(&f, &bits, 4);
    const uint16_t a = f32_to_half_bits(f);
    const uint16_t b = quant::fp32_to_fp16(f);
    if ((b & 0x7c00u) == 0x7c00u && (b & 0x3ffu) != 0) {  // NaN: any quiet NaN of the same sign
      EXPECT_EQ(a & 0xfc00u, b & 0xfc00u) << std::hex << bits;
      EXPECT_NE(a & 0x3ffu, 0u) << std::hex << bits;
      return;
    }
    ASSERT_EQ(a, b) << "float bits " << std::hex << bits;
  };
  // Every exponent with mantissas around the rounding points, then random bit patterns.
  for (uint32_t e = 0; e < 256; ++e) {
    for (uint32_t m : {0u, 1u, 0xfffu, 0x1000u, 0x1001u, 0x2000u, 0x3000u, 0x7fffffu, 0x400000u, 0x401000u}) {
      check((e << 23) | m);
      check(0x80000000u | (e << 23) | m);
    }
  }
  std::mt19937 rng(5);
  for (int i = 0; i < 2000000; ++i) check(static_cast<uint32_t>(rng()));
}

}  // namespace
}  // namespace moecode::gpu
