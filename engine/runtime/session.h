// The runtime behind the public Session: a KV cache with prefix reuse, batched prefill
// and single-token decode through the model's Arch, sampling, stop rules, streaming and
// cancellation. ModelState is what a loaded model's sessions share.
//
// Thread-safety: a session is used by one thread at a time; sessions of one model may run
// on different threads — their forward passes take turns on the shared backend (one
// `compute` mutex), everything else is per session.
#pragma once

#include <memory>
#include <mutex>

#include "engine/backend/backend.h"
#include "engine/gguf/gguf.h"
#include "engine/model/arch.h"
#include "engine/model/moe.h"
#include "moecode/engine/session.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::runtime {

struct ModelState {
  std::unique_ptr<gguf::GgufFile> file;       // the bytes the weights point into (mapped or copied)
  std::unique_ptr<backend::Backend> backend;  // shared; guarded by `compute`
  std::unique_ptr<model::Arch> arch;
  std::shared_ptr<const engine::Tokenizer> tokenizer;
  std::mutex compute;
  model::MoeStats moe_stats;  // routed-expert counters; guarded by `compute`
};

struct SessionConfig {
  int n_ctx = 4096;
  int n_batch = 512;  // tokens per prefill step
  backend::CacheType kv_type = backend::CacheType::kF16;
};

// Errors: a KV cache or scratch memory that cannot be had (the message names the context size).
Result<std::unique_ptr<engine::Session>> make_session(std::shared_ptr<ModelState> state, const SessionConfig& config);

}  // namespace moecode::runtime
