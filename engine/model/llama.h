// The dense llama family: `llama` (SmolLM2, Llama 2/3, Mistral, CodeLlama, DeepSeek-Coder
// 1.x; NORM rope), `qwen2` (q/k/v biases, NEOX rope; Qwen2.5-Coder, R1-Distill-Qwen) and
// `qwen3` (per-head q/k RMS norm, NEOX rope). Pre-norm blocks: RMSNorm -> GQA self-attention
// -> residual -> RMSNorm -> SwiGLU FFN -> residual; tied or separate output matrix.
// With experts (moe.h) the FFN of every layer is the MoE block: Mixtral-style `llama`
// (softmax, top-k, renormalised), `qwen2moe` (no renormalisation, shared expert with a
// sigmoid gate, q/k/v biases) and `qwen3moe` (per-head q/k RMS norm, renormalised top-k).
//
// Thread-safety: see arch.h.
#pragma once

#include <memory>

#include "engine/model/arch.h"

namespace moecode::model {

Result<std::unique_ptr<Arch>> create_llama(const ArchContext& ctx);

}  // namespace moecode::model
