// engine/quant against independent references (tests/data/quant/vectors.bin, made by
// tools/gen_quant_vectors.py): gguf-py's quantizers and dequantizers, numpy transcriptions
// of llama.cpp's activation quantizers, and rows of the llama.cpp-made fixture models.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "engine/quant/kernels.h"
#include "engine/quant/quantize.h"
#include "engine/quant/types.h"

namespace moecode::quant {
namespace {

struct Record {
  int kind = 0;
  std::string name;
  GgmlType type = GgmlType::F32;
  int64_t n = 0;
  std::vector<uint8_t> in, out;
};

constexpr int kQuantize = 0, kDequantize = 1, kActivation = 2, kLlamaQuantize = 3;

std::vector<Record> load_vectors() {
  std::ifstream f(std::string(MOECODE_TEST_DATA) + "/quant/vectors.bin", std::ios::binary);
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::vector<Record> recs;
  size_t pos = 0;
  auto need = [&](size_t k) {
    if (pos + k > data.size()) throw std::runtime_error("truncated vectors.bin");
  };
  auto u32 = [&]() {
    need(4);
    uint32_t v;
    std::memcpy(&v, data.data() + pos, 4);
    pos += 4;
    return v;
  };
  auto bytes = [&](size_t k) {
    need(k);
    std::vector<uint8_t> v(data.begin() + static_cast<std::ptrdiff_t>(pos),
                           data.begin() + static_cast<std::ptrdiff_t>(pos + k));
    pos += k;
    return v;
  };
  if (data.size() < 8 || std::memcmp(data.data(), "MQV1", 4) != 0) return recs;
  pos = 4;
  const uint32_t count = u32();
  for (uint32_t i = 0; i < count; ++i) {
    Record r;
    auto head = bytes(2);
    r.kind = head[0];
    auto name = bytes(head[1]);
    r.name.assign(name.begin(), name.end());
    r.type = static_cast<GgmlType>(u32());
    r.n = u32();
    r.in = bytes(u32());
    r.out = bytes(u32());
    recs.push_back(std::move(r));
  }
  return recs;
}

const std::vector<Record>& vectors() {
  static const std::vector<Record> v = load_vectors();
  return v;
}

int count_kind(int kind) {
  int c = 0;
  for (const auto& r : vectors()) c += r.kind == kind;
  return c;
}

// Index of the first differing byte, or -1.
long first_diff(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  if (a.size() != b.size()) return 0;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return static_cast<long>(i);
  }
  return -1;
}

TEST(QuantVectors, FileHasEveryKind) {
  ASSERT_GE(vectors().size(), 30u) << "tests/data/quant/vectors.bin missing or truncated";
  EXPECT_GE(count_kind(kQuantize), 9);
  EXPECT_GE(count_kind(kDequantize), 15);
  EXPECT_EQ(count_kind(kActivation), 3);
  EXPECT_GE(count_kind(kLlamaQuantize), 5);
}

TEST(QuantVectors, ReferenceQuantizersMatchGgufPyBitForBit) {
  for (const auto& r : vectors()) {
    if (r.kind != kQuantize) continue;
    const TypeTraits& t = type_traits(r.type);
    ASSERT_EQ(r.in.size(), static_cast<size_t>(r.n) * 4) << r.name;
    std::vector<uint8_t> got(row_size(r.type, r.n));
    t.from_float(reinterpret_cast<const float*>(r.in.data()), got.data(), r.n);
    EXPECT_EQ(first_diff(got, r.out), -1) << r.name << ": first differing byte";
  }
}

TEST(QuantVectors, DequantizersMatchGgufPyOnEveryIsa) {
  for (const auto& r : vectors()) {
    if (r.kind != kDequantize) continue;
    ASSERT_EQ(r.in.size(), row_size(r.type, r.n)) << r.name;
    ASSERT_EQ(r.out.size(), static_cast<size_t>(r.n) * 4) << r.name;
    std::vector<uint8_t> got(r.out.size());
    type_traits(r.type).to_float(r.in.data(), reinterpret_cast<float*>(got.data()), r.n);
    EXPECT_EQ(first_diff(got, r.out), -1) << r.name << " (reference)";
    for (Isa isa : available_isas()) {
      std::fill(got.begin(), got.end(), 0);
      kernels_for(isa)->to_float[static_cast<int>(r.type)](r.in.data(), reinterpret_cast<float*>(got.data()), r.n);
      EXPECT_EQ(first_diff(got, r.out), -1) << r.name << " (" << isa_name(isa) << ")";
    }
  }
}

TEST(QuantVectors, ActivationQuantizersMatchLlamaCppOnEveryIsa) {
  for (const auto& r : vectors()) {
    if (r.kind != kActivation) continue;
    for (Isa isa : available_isas()) {
      std::vector<uint8_t> got(row_size(r.type, r.n));
      kernels_for(isa)->from_float[static_cast<int>(r.type)](reinterpret_cast<const float*>(r.in.data()), got.data(),
                                                             r.n);
      EXPECT_EQ(first_diff(got, r.out), -1) << r.name << " (" << isa_name(isa) << ")";
    }
  }
}

// Rows of the F32 fixture models against the same rows of llama-quantize's output: our
// reference quantizers are bit-exact for the legacy formats; for the K-quants (whose search
// we re-derived) the result must be at least about as accurate.
TEST(QuantVectors, LlamaQuantizeRowsOfTheFixtureModels) {
  int checked = 0;
  for (const auto& r : vectors()) {
    if (r.kind != kLlamaQuantize) continue;
    ++checked;
    const auto* x = reinterpret_cast<const float*>(r.in.data());
    std::vector<uint8_t> got(row_size(r.type, r.n));
    type_traits(r.type).from_float(x, got.data(), r.n);
    if (r.type == GgmlType::Q4_K || r.type == GgmlType::Q5_K || r.type == GgmlType::Q6_K) {
      std::vector<float> ours(static_cast<size_t>(r.n)), theirs(static_cast<size_t>(r.n));
      type_traits(r.type).to_float(got.data(), ours.data(), r.n);
      type_traits(r.type).to_float(r.out.data(), theirs.data(), r.n);
      double e_ours = 0, e_theirs = 0;
      for (int64_t i = 0; i < r.n; ++i) {
        e_ours += (ours[i] - x[i]) * (ours[i] - x[i]);
        e_theirs += (theirs[i] - x[i]) * (theirs[i] - x[i]);
      }
      EXPECT_LE(e_ours, e_theirs * 1.05) << r.name;
      EXPECT_GT(e_theirs, 0.0) << r.name;
    } else {
      EXPECT_EQ(first_diff(got, r.out), -1) << r.name << ": first differing byte";
    }
  }
  EXPECT_GE(checked, 5);
}

}  // namespace
}  // namespace moecode::quant
