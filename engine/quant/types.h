// Tensor element types and quantization block layouts, bit-compatible with GGUF/ggml.
// Declared once here and compiled by both g++ and hipcc (plain structs of fixed-width
// integers; halves are stored as uint16_t bit patterns). Thread-safe (constants).
#pragma once

#include <cstddef>
#include <cstdint>

namespace moecode::quant {

// ggml type ids as stored in GGUF tensor infos. Gaps are ids ggml has retired.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

using half_bits = uint16_t;  // IEEE binary16, as stored
using bf16_bits = uint16_t;  // bfloat16, as stored

inline constexpr int kQK4_0 = 32;
inline constexpr int kQK4_1 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK5_1 = 32;
inline constexpr int kQK8_0 = 32;
inline constexpr int kQK8_1 = 32;
inline constexpr int kQK_K = 256;       // super-block size of the K-quants
inline constexpr int kKScaleSize = 12;  // packed 6-bit scales/mins of Q4_K/Q5_K

// x = d * (q - 8), q in [0, 15]; low nibbles hold elements 0..15, high nibbles 16..31.
struct BlockQ4_0 {
  half_bits d;
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18, "wrong q4_0 block size");

// x = d * q + m.
struct BlockQ4_1 {
  half_bits d;
  half_bits m;
  uint8_t qs[kQK4_1 / 2];
};
static_assert(sizeof(BlockQ4_1) == 20, "wrong q4_1 block size");

// x = d * (q - 16), the 5th bit of each q in qh.
struct BlockQ5_0 {
  half_bits d;
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22, "wrong q5_0 block size");

struct BlockQ5_1 {
  half_bits d;
  half_bits m;
  uint8_t qh[4];
  uint8_t qs[kQK5_1 / 2];
};
static_assert(sizeof(BlockQ5_1) == 24, "wrong q5_1 block size");

struct BlockQ8_0 {
  half_bits d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34, "wrong q8_0 block size");

// Activations for Q4_1/Q5_1 dots: s = d * sum(qs).
struct BlockQ8_1 {
  half_bits d;
  half_bits s;
  int8_t qs[kQK8_1];
};
static_assert(sizeof(BlockQ8_1) == 36, "wrong q8_1 block size");

struct BlockQ2_K {
  uint8_t scales[kQK_K / 16];
  uint8_t qs[kQK_K / 4];
  half_bits d;
  half_bits dmin;
};
static_assert(sizeof(BlockQ2_K) == 84, "wrong q2_K block size");

struct BlockQ3_K {
  uint8_t hmask[kQK_K / 8];
  uint8_t qs[kQK_K / 4];
  uint8_t scales[12];
  half_bits d;
};
static_assert(sizeof(BlockQ3_K) == 110, "wrong q3_K block size");

// 8 sub-blocks of 32; x = d * scale_j * q - dmin * min_j, 6-bit scales/mins packed in 12 bytes.
struct BlockQ4_K {
  half_bits d;
  half_bits dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144, "wrong q4_K block size");

struct BlockQ5_K {
  half_bits d;
  half_bits dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qh[kQK_K / 8];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ5_K) == 176, "wrong q5_K block size");

// 16 sub-blocks of 16; x = d * scale_j * (q - 32), q 6-bit (4 low bits in ql, 2 high in qh).
struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  half_bits d;
};
static_assert(sizeof(BlockQ6_K) == 210, "wrong q6_K block size");

// Activations for K-quant dots: float scale, bsums = sums of each 16 qs.
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292, "wrong q8_K block size");

// Reference (portable scalar) conversions of a row of n elements (n a multiple of the
// block size). to_float: blocks -> floats. from_float: floats -> blocks, bit-exact with
// ggml's reference quantizer where one exists (what llama-quantize and gguf-py write).
using ToFloatFn = void (*)(const void* src, float* dst, int64_t n);
using FromFloatFn = void (*)(const float* src, void* dst, int64_t n);

// Storage facts of every type a GGUF may contain, and for the types we compute with, the
// reference conversions and the activation type its dot products pair with (ggml's
// type-traits idea: one table indexed by type). `block_size` elements take `type_size`
// bytes. `supported` says whether this engine computes with it (the others are recognised
// so that files holding them validate and are reported, not rejected as corrupt).
struct TypeTraits {
  const char* name;
  int64_t block_size;
  size_t type_size;
  bool is_quantized;
  bool supported;
  ToFloatFn to_float = nullptr;      // null for types we do not compute with
  FromFloatFn from_float = nullptr;  // null for types we do not compute with
  // Activation type of the dot kernels for weights of this type: Q8_0 for Q4_0/Q5_0/Q8_0,
  // Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants, F16/BF16/F32 for themselves, the type
  // itself for the activation-only Q8_1/Q8_K (no dot kernel), F32 for unsupported types.
  GgmlType vec_dot_type = GgmlType::F32;
};

// Traits of a type id; nullptr for an id that is not a ggml type.
const TypeTraits* find_type_traits(uint32_t type_id);
// Traits of a known type.
const TypeTraits& type_traits(GgmlType type);
const char* type_name(GgmlType type);
// Bytes of a row of n elements of `type` (n a multiple of the block size).
size_t row_size(GgmlType type, int64_t n);

}  // namespace moecode::quant
