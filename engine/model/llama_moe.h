// The llama-like MoE family: Mixtral-style `llama` with experts (softmax, top-k,
// renormalised), `qwen2moe` (softmax, top-k, no renormalisation, shared expert with a
// sigmoid gate, q/k/v biases) and `qwen3moe` (per-head q/k RMS norm before RoPE,
// renormalised top-k, no shared expert). Attention is the dense family's (ops.h); the FFN
// of every layer is the MoE block (moe.h).
//
// Thread-safety: see arch.h.
#pragma once

#include <memory>

#include "engine/model/arch.h"

namespace moecode::model {

Result<std::unique_ptr<Arch>> create_llama_moe(const ArchContext& ctx);
// `llama`: the dense implementation, or the MoE one when the file has experts.
Result<std::unique_ptr<Arch>> create_llama_any(const ArchContext& ctx);

}  // namespace moecode::model
