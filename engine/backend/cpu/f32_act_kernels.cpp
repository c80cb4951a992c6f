// F32-activation (dequantizing) matmul kernels (see f32_act_kernels.h).
#include "engine/backend/cpu/f32_act_kernels.h"

#include <vector>

#include "engine/backend/cpu/vec.h"
#include "engine/quant/types.h"

namespace moecode::backend::cpu {

namespace {

using quant::GgmlType;

// out[c * os + r] = dot(dequantized w row r, a row c); a rows are floats.
template <GgmlType T>
void gemm_dequant(int64_t n, int64_t nr, int64_t nc, const void* w, size_t ws, const void* a, size_t as, float* out,
                  size_t os) {
  thread_local std::vector<float> row;
  row.resize(static_cast<size_t>(n));
  const auto to_float = quant::type_traits(T).to_float;
  const auto dot = vec_kernels().dot_f32;
  for (int64_t r = 0; r < nr; ++r) {
    to_float(static_cast<const uint8_t*>(w) + r * ws, row.data(), n);
    for (int64_t c = 0; c < nc; ++c)
      out[c * os + r] = dot(row.data(), reinterpret_cast<const float*>(static_cast<const uint8_t*>(a) + c * as), n);
  }
}

}  // namespace

bool weight_kernels_f32_act(GgmlType type, WeightKernels* out) {
  if (type == GgmlType::F32) return weight_kernels(type, out);  // already F32 x F32
  WeightKernels k;
  if (!weight_kernels(type, &k)) return false;  // only types the backend computes with
  k.act_type = GgmlType::F32;
  k.convert = nullptr;
  // Nothing to pack: the packed tiles read quantized activations.
  k.pack = nullptr;
  k.packed_bytes = nullptr;
  k.packed_col_bytes = nullptr;
  k.gemm_packed = nullptr;
  k.packed_min_cols = 0;
  switch (type) {
#define MOE_F32ACT(T) \
  case GgmlType::T:   \
    k.gemm = gemm_dequant<GgmlType::T>; \
    break;
    MOE_F32ACT(F16)
    MOE_F32ACT(BF16)
    MOE_F32ACT(Q4_0)
    MOE_F32ACT(Q4_1)
    MOE_F32ACT(Q5_0)
    MOE_F32ACT(Q5_1)
    MOE_F32ACT(Q8_0)
    MOE_F32ACT(Q2_K)
    MOE_F32ACT(Q3_K)
    MOE_F32ACT(Q4_K)
    MOE_F32ACT(Q5_K)
    MOE_F32ACT(Q6_K)
#undef MOE_F32ACT
    default:
      return false;
  }
  if (!quant::type_traits(type).to_float) return false;
  *out = k;
  return true;
}

}  // namespace moecode::backend::cpu
