// Weight type -> kernels (see weight_kernels.h).
#include "engine/backend/cpu/weight_kernels.h"

#include <cstring>

#include "engine/backend/cpu/vec.h"
#include "engine/quant/kernels.h"

namespace moecode::backend::cpu {

namespace {

using quant::GgmlType;

void f32_row(const void* x, float* y, int64_t n) { std::memcpy(y, x, static_cast<size_t>(n) * sizeof(float)); }

void gemm_f32(int64_t n, int64_t nr, int64_t nc, const void* w, size_t ws, const void* a, size_t as,
              float* out, size_t os) {
  vec_kernels().gemm_f32(n, nr, nc, w, ws, a, as, out, os);
}

}  // namespace

size_t type_row_bytes(quant::GgmlType type, int64_t n) { return quant::row_size(type, n); }

bool weight_kernels(quant::GgmlType type, WeightKernels* out) {
  WeightKernels k;
  if (type == GgmlType::F32) {
    // F32 x F32: our 4-row tile, x used in place.
    k.act_type = GgmlType::F32;
    k.gemm = gemm_f32;
    k.to_float = f32_row;
    *out = k;
    return true;
  }
  const quant::KernelTable& table = quant::kernels();
  const int id = static_cast<int>(type);
  if (id < 0 || id >= quant::kTypeSlots || !table.gemm[id] || !table.to_float[id]) return false;
  k.act_type = quant::vec_dot_type(type);
  const int act = static_cast<int>(k.act_type);
  if (k.act_type != GgmlType::F32) {
    k.convert = table.from_float[act];
    if (!k.convert) return false;
  }
  k.gemm = table.gemm[id];
  k.to_float = table.to_float[id];
  if (table.gemm_packed[id] && table.pack_act[act]) {
    k.pack = table.pack_act[act];
    k.packed_bytes = table.packed_bytes;
    k.packed_col_bytes = table.packed_col_bytes;
    k.gemm_packed = table.gemm_packed[id];
    k.packed_min_cols = table.packed_min_cols;
  }
  *out = k;
  return true;
}

}  // namespace moecode::backend::cpu
