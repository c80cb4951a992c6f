// The runtime behind engine::BatchGenerator (moecode/engine/batch.h): slots with their own KV
// caches, a scheduler thread that admits requests into slots, and steps that run every active
// slot's next tokens through Arch::forward_multi in one pass.
// Thread-safety: see batch.h; forward passes take the model's `compute` mutex, so sessions of
// the same model can run beside a batch generator.
#pragma once

#include <memory>

#include "engine/runtime/session.h"
#include "moecode/engine/batch.h"

namespace moecode::runtime {

struct BatchConfig {
  int n_slots = 4;
  int n_ctx = 4096;
  int n_batch = 256;
  backend::CacheType kv_type = backend::CacheType::kF16;
};

// Errors: KV caches or scratch memory that cannot be had.
Result<std::unique_ptr<engine::BatchGenerator>> make_batch_generator(std::shared_ptr<ModelState> state,
                                                                    const BatchConfig& config);

}  // namespace moecode::runtime
