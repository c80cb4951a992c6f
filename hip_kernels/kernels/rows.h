// Row movement on the GPU: embedding gather from a weight in any format of dequant.h, and
// KV cache rows written (float -> F16 or F32) and read back as floats.
#pragma once

#include <cstddef>
#include <cstdint>

#include "elementwise.h"

namespace moecode::gpu {

// out[t] = row ids[t] of w as floats. False for a format the kernels do not read.
bool launch_get_rows(int type, const uint8_t* w, size_t row_bytes, int64_t n_in, const int32_t* ids, View out);
// Cache rows pos0.. (width = x.cols elements each, F16 or F32) = x's rows.
void launch_store_rows(View x, void* cache, int64_t width, bool f16, int64_t pos0);
// out's rows = the first out.cols elements of cache rows p0...
void launch_load_rows(const void* cache, int64_t width, bool f16, int64_t p0, View out);

}  // namespace moecode::gpu
