// Dot-product kernels of quantized weight rows with activation rows, and the activation
// conversions they need, in one table per instruction set: a portable scalar table (the
// reference) and, on x86-64, AVX2 (+FMA, F16C) and AVX-512 (F, BW, VL, VNNI) tables. The
// active table is chosen once, at first use, from the CPU's features, unless the
// environment variable MOECODE_ISA=scalar|avx2|avx512|amx asks for a lower one. The AMX table
// (AVX-512 plus AMX-INT8 tiles, where the CPU has them and Linux grants their state) is the
// AVX-512 one with packed-activation GEMMs added for prefill (see GemmPackedFn).
//
// How the model code computes y = W x for a weight matrix W [n_rows, n] of type T:
//   const KernelTable& k = kernels();                   // once
//   GgmlType at = vec_dot_type(T);                      // activation type
//   k.from_float[at](x, xq, n);                         // quantize x once: row_size(at, n) bytes
//   k.gemm[T](n, n_rows, 1, W, row_size(T, n), xq, 0, y, 0);  // or split rows over threads
// For several activation rows (prefill), quantize each row and pass nc columns.
//
// Thread-safety: the tables are immutable after the first call of kernels() (which is
// itself thread-safe); every kernel is a pure function on caller-owned memory, allocates
// nothing and never dequantizes a whole row, so threads may call them concurrently on
// disjoint outputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/quant/types.h"

namespace moecode::quant {

enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAmx = 3 };

// "scalar", "avx2", "avx512", "amx".
const char* isa_name(Isa isa);

// Number of slots of the per-type arrays: type ids are < kTypeSlots.
inline constexpr int kTypeSlots = 40;

// One dot product: *out = sum_i w[i] * a[i] over n elements, w a row of the weight type, a a
// row of its vec_dot_type. n must be a multiple of the weight type's block size.
using VecDotFn = void (*)(int64_t n, float* out, const void* w, const void* a);

// A tile of dot products: for r in [0, nr), c in [0, nc):
//   out[c * out_stride + r] = dot(w + r * w_stride bytes, a + c * a_stride bytes)
// (strides in bytes for w and a, in floats for out). Rows need only their block type's own
// alignment (at most 4 bytes, as in GGUF data and our scratch), never a SIMD width. Results equal
// VecDotFn's up to float rounding (each output accumulates its blocks in order, in its own
// float lanes). Reads only the nr rows and nc columns (no byte outside them, prefetches
// included) and writes only the nr x nc outputs.
// How the SIMD tables compute it (what the caller's blocking should expect):
//   - nc == 1 (decode): 4-row tiles over rows r, r + q, r + 2q, r + 3q (q = nr / 4), i.e.
//     four sequential streams through the rows handed in, one activation load per 4 rows;
//     the next row of each stream is prefetched. Hand a thread one contiguous range of
//     rows (the longer the better); there is nothing to gain from splitting it further.
//   - nc > 1 (prefill): tiles of 4 rows x 3 columns (legacy and float formats) or 2 rows x
//     4 columns (K-quants), rows outer and columns inner: each weight block is unpacked once
//     per 3-4 columns and stays in L1 across all nc columns, so pass all the tokens of a
//     batch in one call (the activation rows, nc * row_size(vec_dot_type, n) bytes, should
//     fit in L2: e.g. up to ~64 columns of n <= 4096), and split rows across threads.
//     From packed_min_cols columns up, the AVX-512 and AMX tables do better on packed
//     activations (GemmPackedFn).
// The scalar table's gemm is the reference: vec_dot per (r, c).
using GemmFn = void (*)(int64_t n, int64_t nr, int64_t nc, const void* w, size_t w_stride,
                        const void* a, size_t a_stride, float* out, size_t out_stride);

// Row conversion float -> type (n a multiple of the block size).
using ConvertFromFloatFn = void (*)(const float* x, void* y, int64_t n);
// Row conversion type -> float.
using ConvertToFloatFn = void (*)(const void* x, float* y, int64_t n);

// Packed activations, for prefill: the activation rows of a matmul (its vec_dot_type: Q8_0
// or Q8_1) are rearranged once per matmul into groups of kPackCols columns, in the layout of
// the table's packed tiles, so that the tiles only load what they would otherwise compute
// again for every row tile. A group is KernelTable::packed_bytes(n) bytes. Layouts:
//   - AMX (packed_group_bytes): each 32-element block of a group is one tile operand: per
//     block, float d[16] (the columns' scales), float s[16] (d * the sum of the block's
//     quants: what the offset formats need), then int8 q[16][32] (column c's 32 quants: the
//     rows of a tile's A operand); columns past the last one are zeros.
//   - AVX-512 VNNI: column after column, each the operands of the 512-bit tiles, two blocks
//     at a time (see pack_act512 in kernels_x86_tiles.inc); columns past the last one are
//     not written. Its tiles do the unpacked tiles' arithmetic: the same bits.
inline constexpr int kPackCols = 16;
// nc activation rows (row c at a + c * a_stride bytes, n elements each) -> ceil(nc / 16)
// groups at dst (64-byte aligned).
using PackActFn = void (*)(int64_t n, int64_t nc, const void* a, size_t a_stride, void* dst);
// Bytes of one packed group of kPackCols columns of n elements (a multiple of 64), or of
// one column where the layout has columns one after another.
using PackedBytesFn = size_t (*)(int64_t n);
// out[c * out_stride + r] = dot(w row r, column c) for r < nr, c < nc, the columns packed
// by PackActFn (packed: the group of column 0, 64-byte aligned as every group is when the
// first one is). Same results as GemmFn up to float rounding (AVX-512 VNNI: the same bits);
// reads only the nr weight rows and ceil(nc / 16) groups, writes only the nr x nc outputs.
// AMX: uses a per-thread scratch of 16 * n bytes (kept between calls) and, on hardware, the
// AMX tile state (released before it returns).
using GemmPackedFn = void (*)(int64_t n, int64_t nr, int64_t nc, const void* w, size_t w_stride,
                              const void* packed, float* out, size_t out_stride);
// Bytes of a group in the AMX layout.
size_t packed_group_bytes(int64_t n);

struct KernelTable {
  Isa isa = Isa::kScalar;
  // Indexed by weight type id; null where the type has no dot kernel.
  VecDotFn vec_dot[kTypeSlots] = {};
  GemmFn gemm[kTypeSlots] = {};
  // Activation conversion, indexed by activation type id (F32, F16, BF16, Q8_0, Q8_1, Q8_K):
  // bit-identical across ISAs and with llama.cpp's x86 CPU backend (see quantize.h).
  ConvertFromFloatFn from_float[kTypeSlots] = {};
  // Fast dequantization, indexed by type id (equal to the reference for F32/F16/BF16 and
  // the integer formats up to float rounding of the multiply-adds).
  ConvertToFloatFn to_float[kTypeSlots] = {};
  // Packed prefill GEMMs (the AVX-512 and AMX tables): pack_act indexed by activation type,
  // gemm_packed by weight type, packed_bytes the size of a group in this table's layout. The
  // caller should use them from packed_min_cols columns up.
  PackActFn pack_act[kTypeSlots] = {};
  GemmPackedFn gemm_packed[kTypeSlots] = {};
  PackedBytesFn packed_bytes = nullptr;
  // Where packed columns follow one another (AVX-512), the bytes of one: a call may then
  // start at any column, e.g. at an expert's first token. Null in the AMX layout.
  PackedBytesFn packed_col_bytes = nullptr;
  int64_t packed_min_cols = 0;
};

// The table of the active ISA. Thread-safe; the choice is made on the first call.
const KernelTable& kernels();
// The active ISA (what `moecode --version` reports).
Isa active_isa();
// ISAs this CPU can run (always includes kScalar), lowest first.
std::vector<Isa> available_isas();
// The table of a given ISA; nullptr when this build or this CPU does not have it.
const KernelTable* kernels_for(Isa isa);

// Activation type paired with weights of `weight_type` (TypeTraits::vec_dot_type).
GgmlType vec_dot_type(GgmlType weight_type);
// Whether there is a dot kernel for weights of this type.
bool has_vec_dot(GgmlType weight_type);

// Reference dot of a weight row with a float vector: dequantizes one block at a time on
// the stack (never the whole row) and accumulates in double. For tests and tools, not for
// the hot path. n must be a multiple of the block size.
float dot_f32_reference(GgmlType weight_type, int64_t n, const void* w, const float* x);

// Internal: per-ISA tables (kernels_scalar.cpp, kernels_avx2.cpp, kernels_avx512.cpp,
// kernels_amx.cpp). The x86 ones return nullptr when the build has no such kernels.
const KernelTable& scalar_kernel_table();
const KernelTable* avx2_kernel_table();
const KernelTable* avx512_kernel_table();
const KernelTable* amx_kernel_table();
// Whether the CPU has AMX-INT8 and the OS lets this process use the tile state (on Linux,
// asked for once with arch_prctl(ARCH_REQ_XCOMP_PERM)); without that grant the first tile
// instruction faults. And whether a tile instruction runs (tried once in a child process:
// some hypervisors grant all that and still fault).
bool cpu_amx_usable();
bool amx_tiles_run();

}  // namespace moecode::quant
