// libFuzzer entry: the GGUF reader on arbitrary bytes must return a value or an error,
// never crash or read outside the buffer.
#include <cstddef>
#include <cstdint>

#include "engine/gguf/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = moecode::gguf::GgufFile::from_bytes({data, size}, "fuzz");
  if (file.ok()) {
    // Touch everything the reader exposes.
    uint64_t sum = 0;
    for (const auto& kv : (*file)->metadata()) {
      sum += kv.key.size();
      if (kv.value.type() == moecode::gguf::ValueType::kArray && kv.value.array_size() > 0) {
        sum += kv.value.array_at(kv.value.array_size() - 1).type() == moecode::gguf::ValueType::kString;
      }
    }
    for (const auto& t : (*file)->tensors()) sum += t.n_bytes ? t.data[t.n_bytes - 1] : 0;
    (void)sum;
  }
  return 0;
}
