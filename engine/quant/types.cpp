// The type-traits table (see types.h).
#include "engine/quant/types.h"

#include <array>

#include "engine/quant/quantize.h"
#include "moecode/engine/result.h"

namespace moecode::quant {

namespace {

struct Entry {
  uint32_t id;
  TypeTraits traits;
};

// Sizes of the types we do not compute with are from the GGUF/ggml block layouts; their
// conversions are null and their vec_dot_type is unused (F32).
constexpr std::array<Entry, 32> kTable = {{
    {0, {"F32", 1, 4, false, true, dequantize_row_f32, quantize_row_f32, GgmlType::F32}},
    {1, {"F16", 1, 2, false, true, dequantize_row_f16, quantize_row_f16, GgmlType::F16}},
    {2, {"Q4_0", kQK4_0, sizeof(BlockQ4_0), true, true, dequantize_row_q4_0, quantize_row_q4_0,
          GgmlType::Q8_0}},
    {3, {"Q4_1", kQK4_1, sizeof(BlockQ4_1), true, true, dequantize_row_q4_1, quantize_row_q4_1,
          GgmlType::Q8_1}},
    {6, {"Q5_0", kQK5_0, sizeof(BlockQ5_0), true, true, dequantize_row_q5_0, quantize_row_q5_0,
          GgmlType::Q8_0}},
    {7, {"Q5_1", kQK5_1, sizeof(BlockQ5_1), true, true, dequantize_row_q5_1, quantize_row_q5_1,
          GgmlType::Q8_1}},
    {8, {"Q8_0", kQK8_0, sizeof(BlockQ8_0), true, true, dequantize_row_q8_0, quantize_row_q8_0,
          GgmlType::Q8_0}},
    {9, {"Q8_1", kQK8_1, sizeof(BlockQ8_1), true, true, dequantize_row_q8_1, quantize_row_q8_1,
          GgmlType::Q8_1}},
    {10, {"Q2_K", kQK_K, sizeof(BlockQ2_K), true, false}},
    {11, {"Q3_K", kQK_K, sizeof(BlockQ3_K), true, false}},
    {12, {"Q4_K", kQK_K, sizeof(BlockQ4_K), true, true, dequantize_row_q4_k, quantize_row_q4_k,
          GgmlType::Q8_K}},
    {13, {"Q5_K", kQK_K, sizeof(BlockQ5_K), true, true, dequantize_row_q5_k, quantize_row_q5_k,
          GgmlType::Q8_K}},
    {14, {"Q6_K", kQK_K, sizeof(BlockQ6_K), true, true, dequantize_row_q6_k, quantize_row_q6_k,
          GgmlType::Q8_K}},
    {15, {"Q8_K", kQK_K, sizeof(BlockQ8_K), true, true, dequantize_row_q8_k, quantize_row_q8_k,
          GgmlType::Q8_K}},
    {16, {"IQ2_XXS", kQK_K, 66, true, false}},
    {17, {"IQ2_XS", kQK_K, 74, true, false}},
    {18, {"IQ3_XXS", kQK_K, 98, true, false}},
    {19, {"IQ1_S", kQK_K, 50, true, false}},
    {20, {"IQ4_NL", 32, 18, true, false}},
    {21, {"IQ3_S", kQK_K, 110, true, false}},
    {22, {"IQ2_S", kQK_K, 82, true, false}},
    {23, {"IQ4_XS", kQK_K, 136, true, false}},
    {24, {"I8", 1, 1, false, false}},
    {25, {"I16", 1, 2, false, false}},
    {26, {"I32", 1, 4, false, false}},
    {27, {"I64", 1, 8, false, false}},
    {28, {"F64", 1, 8, false, false}},
    {29, {"IQ1_M", kQK_K, 56, true, false}},
    {30, {"BF16", 1, 2, false, true, dequantize_row_bf16, quantize_row_bf16, GgmlType::BF16}},
    {34, {"TQ1_0", kQK_K, 54, true, false}},
    {35, {"TQ2_0", kQK_K, 66, true, false}},
    {39, {"MXFP4", 32, 17, true, false}},
}};

}  // namespace

const TypeTraits* find_type_traits(uint32_t type_id) {
  for (const auto& e : kTable) {
    if (e.id == type_id) return &e.traits;
  }
  return nullptr;
}

const TypeTraits& type_traits(GgmlType type) {
  const TypeTraits* t = find_type_traits(static_cast<uint32_t>(type));
  MOE_ASSERT(t != nullptr);
  return *t;
}

const char* type_name(GgmlType type) { return type_traits(type).name; }

size_t row_size(GgmlType type, int64_t n) {
  const TypeTraits& t = type_traits(type);
  MOE_ASSERT(n >= 0 && n % t.block_size == 0);
  return static_cast<size_t>(n / t.block_size) * t.type_size;
}

}  // namespace moecode::quant
