// make_gpu_backend in a build without a GPU backend (MOECODE_HIP=OFF).
#include "hip_kernels/hip_backend.h"

namespace moecode::backend {

std::string_view gpu_build() { return ""; }

int gpu_device_count(std::string* why) {
  if (why) *why = "this build has no GPU backend (configure with -DMOECODE_HIP=AMD or -DMOECODE_HIP=NVIDIA)";
  return 0;
}

Result<std::unique_ptr<Backend>> make_gpu_backend(const GpuOptions&) {
  std::string why;
  gpu_device_count(&why);
  return make_error(ErrorCode::kUnsupported, why);
}

}  // namespace moecode::backend
