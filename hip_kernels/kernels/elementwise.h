// Element-wise ops on [rows, cols] float matrices with row strides, on the GPU.
#pragma once

#include <cstdint>

namespace moecode::gpu {

struct View {
  float* data = nullptr;
  int64_t rows = 0, cols = 0, stride = 0;
};

enum class Elementwise {
  kSwiglu,  // a = silu(a) * b
  kAdd,     // a += b
  kScale,   // a *= s
  kCopy,    // a = b
};

void launch_elementwise(Elementwise op, View a, View b, float s);

}  // namespace moecode::gpu
