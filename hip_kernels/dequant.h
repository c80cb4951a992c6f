// Element-wise reading of GGUF weight rows, for the GPU kernels and, compiled as plain C++,
// for the CPU tests that check it against engine/quant (tests/engine/gpu_dequant_test.cpp):
// the one part of the GPU backend whose arithmetic can be checked on a machine without a GPU.
//
// dq<T>(row, k) is element k of a row stored in format T (ggml's block layouts; the type
// numbers are ggml's). Rows start at any byte address: headers are read byte by byte.
#pragma once

#include <cstdint>

#if defined(__CUDACC__) || defined(__HIP__)
#define MOECODE_HD __host__ __device__
#else
#define MOECODE_HD
#endif

namespace moecode::gpu {

// ggml type numbers of the formats the GPU kernels read.
enum WeightFormat : int {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kBF16 = 30,
};

MOECODE_HD constexpr bool is_gpu_format(int t) {
  return t == kF32 || t == kF16 || t == kQ4_0 || t == kQ4_1 || t == kQ5_0 || t == kQ5_1 || t == kQ8_0 ||
         t == kQ4_K || t == kQ5_K || t == kQ6_K || t == kBF16;
}

// Elements per block and bytes per block.
template <int T> struct Format;
template <> struct Format<kF32> { static constexpr int kBlock = 1, kBytes = 4; };
template <> struct Format<kF16> { static constexpr int kBlock = 1, kBytes = 2; };
template <> struct Format<kBF16> { static constexpr int kBlock = 1, kBytes = 2; };
template <> struct Format<kQ4_0> { static constexpr int kBlock = 32, kBytes = 18; };
template <> struct Format<kQ4_1> { static constexpr int kBlock = 32, kBytes = 20; };
template <> struct Format<kQ5_0> { static constexpr int kBlock = 32, kBytes = 22; };
template <> struct Format<kQ5_1> { static constexpr int kBlock = 32, kBytes = 24; };
template <> struct Format<kQ8_0> { static constexpr int kBlock = 32, kBytes = 34; };
template <> struct Format<kQ4_K> { static constexpr int kBlock = 256, kBytes = 144; };
template <> struct Format<kQ5_K> { static constexpr int kBlock = 256, kBytes = 176; };
template <> struct Format<kQ6_K> { static constexpr int kBlock = 256, kBytes = 210; };

MOECODE_HD inline float f32_from_bits(uint32_t u) {
  union {
    uint32_t u;
    float f;
  } c{u};
  return c.f;
}

// IEEE half -> float (subnormals, infinities and NaN included).
MOECODE_HD inline float half_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    if (man == 0) return f32_from_bits(sign);
    // Subnormal: normalise.
    int e = -1;
    do {
      ++e;
      man <<= 1;
    } while ((man & 0x400u) == 0);
    man &= 0x3ffu;
    return f32_from_bits(sign | ((112u - static_cast<uint32_t>(e)) << 23) | (man << 13));
  }
  if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (man << 13));
  return f32_from_bits(sign | ((exp + 112u) << 23) | (man << 13));
}

// float -> IEEE half bits, rounding to nearest even (overflow to infinity, NaN kept quiet):
// what F16 KV caches store and what llama.cpp's F16 attention rounds to.
MOECODE_HD inline uint16_t f32_to_half_bits(float f) {
  union {
    float f;
    uint32_t u;
  } c{f};
  const uint32_t x = c.u;
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t absx = x & 0x7fffffffu;
  if (absx >= 0x7f800000u) return static_cast<uint16_t>(sign | 0x7c00u | (absx > 0x7f800000u ? 0x200u : 0u));
  if (absx >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (absx < 0x38800000u) {                                              // below 2^-14: subnormal or zero
    if (absx < 0x33000000u) return static_cast<uint16_t>(sign);            // below half the smallest subnormal
    const uint32_t man = (absx & 0x7fffffu) | 0x800000u;
    const int shift = 126 - static_cast<int>(absx >> 23);  // 14..24 more than a normal's 13
    uint32_t h = man >> (shift);
    const uint32_t rem = man & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = ((absx - 0x38000000u) >> 13);
  const uint32_t rem = absx & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

MOECODE_HD inline uint16_t load_u16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (static_cast<uint16_t>(p[1]) << 8));
}
MOECODE_HD inline uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
         (static_cast<uint32_t>(p[3]) << 24);
}
MOECODE_HD inline float load_half(const uint8_t* p) { return half_to_f32(load_u16(p)); }

// Q4_K / Q5_K: the 6-bit scale and minimum of sub-block j (0..7) from the 12 packed bytes.
MOECODE_HD inline void k_scale_min(int j, const uint8_t* q, int* sc, int* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

template <int T>
MOECODE_HD inline float dq(const uint8_t* row, int64_t k) {
  constexpr int QK = Format<T>::kBlock;
  const uint8_t* b = row + (k / QK) * Format<T>::kBytes;
  const int j = static_cast<int>(k % QK);
  if constexpr (T == kF32) {
    return f32_from_bits(load_u32(b));
  } else if constexpr (T == kF16) {
    return load_half(b);
  } else if constexpr (T == kBF16) {
    return f32_from_bits(static_cast<uint32_t>(load_u16(b)) << 16);
  } else if constexpr (T == kQ4_0) {  // d, qs[16]: element j < 16 low nibble of qs[j], else high of qs[j - 16]
    const int q = j < 16 ? (b[2 + j] & 0xF) : (b[2 + j - 16] >> 4);
    return load_half(b) * static_cast<float>(q - 8);
  } else if constexpr (T == kQ4_1) {  // d, m, qs[16]
    const int q = j < 16 ? (b[4 + j] & 0xF) : (b[4 + j - 16] >> 4);
    return load_half(b) * static_cast<float>(q) + load_half(b + 2);
  } else if constexpr (T == kQ5_0) {  // d, qh[4] (bit j: high bit of element j), qs[16]
    const uint32_t qh = load_u32(b + 2);
    const int lo = j < 16 ? (b[6 + j] & 0xF) : (b[6 + j - 16] >> 4);
    const int q = lo | static_cast<int>(((qh >> j) & 1u) << 4);
    return load_half(b) * static_cast<float>(q - 16);
  } else if constexpr (T == kQ5_1) {  // d, m, qh[4], qs[16]
    const uint32_t qh = load_u32(b + 4);
    const int lo = j < 16 ? (b[8 + j] & 0xF) : (b[8 + j - 16] >> 4);
    const int q = lo | static_cast<int>(((qh >> j) & 1u) << 4);
    return load_half(b) * static_cast<float>(q) + load_half(b + 2);
  } else if constexpr (T == kQ8_0) {  // d, qs[32] (int8)
    return load_half(b) * static_cast<float>(static_cast<int8_t>(b[2 + j]));
  } else if constexpr (T == kQ4_K) {
    // d, dmin, scales[12], qs[128]: 64-element chunk c = j / 64 uses qs[32c .. 32c + 31],
    // low nibbles for its first 32 elements (sub-block 2c), high for the next (2c + 1).
    const int c = j / 64, l = j % 32, hi = (j / 32) & 1;
    int sc, m;
    k_scale_min(2 * c + hi, b + 4, &sc, &m);
    const uint8_t qb = b[16 + 32 * c + l];
    const int q = hi ? (qb >> 4) : (qb & 0xF);
    return load_half(b) * static_cast<float>(sc) * static_cast<float>(q) - load_half(b + 2) * static_cast<float>(m);
  } else if constexpr (T == kQ5_K) {
    // d, dmin, scales[12], qh[32], qs[128]: as Q4_K, with the fifth bit of element l of
    // sub-block s in bit s of qh[l].
    const int c = j / 64, l = j % 32, hi = (j / 32) & 1, s = 2 * c + hi;
    int sc, m;
    k_scale_min(s, b + 4, &sc, &m);
    const uint8_t qb = b[48 + 32 * c + l];
    const int q = (hi ? (qb >> 4) : (qb & 0xF)) | (((b[16 + l] >> s) & 1) << 4);
    return load_half(b) * static_cast<float>(sc) * static_cast<float>(q) - load_half(b + 2) * static_cast<float>(m);
  } else if constexpr (T == kQ6_K) {
    // ql[128], qh[64], scales[16] (int8), d. Half h = j / 128 uses ql[64h ..], qh[32h ..],
    // scales[8h ..]; inside it, quarter r = (j % 128) / 32, lane l = j % 32:
    //   low 4 bits: ql[l + 32 (r & 1)] (low nibble for r < 2, high for r >= 2)
    //   high 2 bits: qh[l] >> 2r;  scale: scales[l / 16 + 2r]
    const int h = j / 128, r = (j % 128) / 32, l = j % 32;
    const uint8_t* ql = b + 64 * h;
    const uint8_t* qh = b + 128 + 32 * h;
    const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192 + 8 * h);
    const uint8_t lb = ql[l + 32 * (r & 1)];
    const int lo = r < 2 ? (lb & 0xF) : (lb >> 4);
    const int q = (lo | (((qh[l] >> (2 * r)) & 3) << 4)) - 32;
    return load_half(b + 208) * static_cast<float>(sc[l / 16 + 2 * r]) * static_cast<float>(q);
  }
}

}  // namespace moecode::gpu
