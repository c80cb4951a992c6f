// Scalar IEEE binary16 and bfloat16 conversions, bit-exact with ggml's (round to nearest,
// ties to even; subnormals kept). Header-only, no library dependencies, so the HIP kernels
// can include it too. Thread-safe (pure functions).
//
// The functions are `static inline` on purpose: the per-ISA kernel files compile this header
// with -mavx2/-mavx512f, and an ordinary inline function's out-of-line copy from such a file
// could be the one the linker keeps for every caller (then a plain x86-64 would fault).
//
// NaN: fp32 -> fp16 gives a quiet NaN with the sign and the top payload bits (what the F16C
// instruction vcvtps2ph does, which ggml uses on x86); fp32 -> bf16 keeps the top payload
// bits and sets the quiet bit (ggml_compute_fp32_to_bf16).
#pragma once

#include <cstdint>
#include <cstring>

#include "engine/quant/types.h"

namespace moecode::quant {

static inline uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

static inline float f32_from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

static inline float fp16_to_fp32(half_bits h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  if (exp == 0x1f) return f32_from_bits(sign | 0x7f800000u | (man << 13));  // inf, NaN
  if (exp == 0) {
    if (man == 0) return f32_from_bits(sign);  // +-0
    // Subnormal man * 2^-24: normalise.
    exp = 113;
    while ((man & 0x400u) == 0) {
      man <<= 1;
      --exp;
    }
    man &= 0x3ffu;
    return f32_from_bits(sign | (exp << 23) | (man << 13));
  }
  return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

static inline half_bits fp32_to_fp16(float f) {
  const uint32_t x = f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) return static_cast<half_bits>(sign | 0x7e00u | ((ax >> 13) & 0x3ffu));
  if (ax >= 0x477ff000u) return static_cast<half_bits>(sign | 0x7c00u);  // >= 65520: inf
  if (ax < 0x38800000u) {                                                // below 2^-14
    if (ax <= 0x33000000u) return static_cast<half_bits>(sign);          // <= 2^-25: 0
    // Subnormal result: round(value / 2^-24), value = m * 2^(e-150).
    const uint32_t e = ax >> 23;
    const uint32_t m = (ax & 0x7fffffu) | 0x800000u;
    const uint32_t shift = 126 - e;  // 14..24
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u))) ++r;
    return static_cast<half_bits>(sign | r);
  }
  uint32_t r = (ax - 0x38000000u) >> 13;  // rebias the exponent by 127 - 15
  const uint32_t rem = ax & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (r & 1u))) ++r;  // a carry may reach the exponent
  return static_cast<half_bits>(sign | r);
}

static inline float bf16_to_fp32(bf16_bits h) { return f32_from_bits(static_cast<uint32_t>(h) << 16); }

static inline bf16_bits fp32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return static_cast<bf16_bits>((u >> 16) | 64u);  // quiet NaN
  return static_cast<bf16_bits>((u + (0x7fffu + ((u >> 16) & 1u))) >> 16);
}

}  // namespace moecode::quant
