// Reference (portable scalar) quantization and dequantization of rows, one pair per type.
// These are the definitions the SIMD kernels are tested against, and what the type-traits
// table (types.h) points to. Thread-safe (pure functions on caller-owned memory); no heap.
//
// Every row length n must be a multiple of the type's block size (checked by the callers
// that take untrusted sizes; here it is a precondition, MOE_ASSERTed).
//
// Weight quantizers (quantize_row_<type>) follow ggml's reference quantizers, bit-exact for
// F16, BF16, Q8_0, Q8_1, Q4_0, Q4_1, Q5_0, Q5_1 and Q8_K (what llama-quantize and gguf-py
// write). Q4_K/Q5_K/Q6_K use the same kind of scale search as ggml but are not promised to
// be bit-identical to llama-quantize.
//
// Activation quantizers (quantize_row_<type>_act) reproduce what llama.cpp's x86 CPU backend
// does to activations before a quantized dot product, bit for bit, because llama.cpp's
// golden logits depend on it: for Q8_0/Q8_1 that differs from the reference quantizer in two
// ways (scale 127/amax instead of 1/(amax/127), and round-half-to-even instead of roundf);
// for Q8_K, F16 and BF16 it is the reference quantizer.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/quant/types.h"

namespace moecode::quant {

// ---- reference dequantizers: src blocks -> n floats ----------------------------------
void dequantize_row_f32(const void* src, float* dst, int64_t n);
void dequantize_row_f16(const void* src, float* dst, int64_t n);
void dequantize_row_bf16(const void* src, float* dst, int64_t n);
void dequantize_row_q8_0(const void* src, float* dst, int64_t n);
void dequantize_row_q8_1(const void* src, float* dst, int64_t n);
void dequantize_row_q4_0(const void* src, float* dst, int64_t n);
void dequantize_row_q4_1(const void* src, float* dst, int64_t n);
void dequantize_row_q5_0(const void* src, float* dst, int64_t n);
void dequantize_row_q5_1(const void* src, float* dst, int64_t n);
void dequantize_row_q4_k(const void* src, float* dst, int64_t n);
void dequantize_row_q5_k(const void* src, float* dst, int64_t n);
void dequantize_row_q6_k(const void* src, float* dst, int64_t n);
void dequantize_row_q8_k(const void* src, float* dst, int64_t n);

// ---- reference (weight) quantizers: n floats -> blocks --------------------------------
void quantize_row_f32(const float* src, void* dst, int64_t n);
void quantize_row_f16(const float* src, void* dst, int64_t n);
void quantize_row_bf16(const float* src, void* dst, int64_t n);
void quantize_row_q8_0(const float* src, void* dst, int64_t n);
void quantize_row_q8_1(const float* src, void* dst, int64_t n);
void quantize_row_q4_0(const float* src, void* dst, int64_t n);
void quantize_row_q4_1(const float* src, void* dst, int64_t n);
void quantize_row_q5_0(const float* src, void* dst, int64_t n);
void quantize_row_q5_1(const float* src, void* dst, int64_t n);
void quantize_row_q4_k(const float* src, void* dst, int64_t n);
void quantize_row_q5_k(const float* src, void* dst, int64_t n);
void quantize_row_q6_k(const float* src, void* dst, int64_t n);
void quantize_row_q8_k(const float* src, void* dst, int64_t n);

// ---- activation quantizers (scalar definitions; the SIMD versions are bit-identical) ---
// Q8_0: per block amax = max|x|, d = amax/127 (stored as fp16), q = round_half_even(x * (127/amax)).
void quantize_row_q8_0_act(const float* src, void* dst, int64_t n);
// Q8_1: as Q8_0, plus s = fp16(d * sum(q)) with the unrounded float d.
void quantize_row_q8_1_act(const float* src, void* dst, int64_t n);

// Round to nearest, ties to even, for |v| < 2^22 (ggml's nearest_int). `static inline`
// like fp16.h's functions: the per-ISA files include this header too.
static inline int nearest_int(float v) {
  const float t = v + 12582912.f;  // 1.5 * 2^23: the mantissa holds the rounded value
  uint32_t i;
  __builtin_memcpy(&i, &t, sizeof i);
  return static_cast<int>(i & 0x007fffffu) - 0x00400000;
}

// 6-bit scale and min of sub-block j (0..7) of a Q4_K/Q5_K super-block's packed scales:
// j < 4: low 6 bits of bytes j and j+4; j >= 4: low/high nibble of byte j+4 plus the top
// two bits of bytes j-4 and j.
static inline void unpack_scale_min_k4(int j, const uint8_t* s, uint8_t* scale, uint8_t* min) {
  if (j < 4) {
    *scale = s[j] & 63;
    *min = s[j + 4] & 63;
  } else {
    *scale = static_cast<uint8_t>((s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4));
    *min = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

}  // namespace moecode::quant
