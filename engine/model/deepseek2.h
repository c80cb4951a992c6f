// `deepseek2`: DeepSeek-V2, V2-Lite, Coder-V2, V3 and R1. Multi-head latent attention
// (optional q LoRA; kv compressed to kv_lora_rank and RMS-normed; q/k split into a "nope"
// part and a RoPE part, one k_rope shared by every head; YaRN with the mscale^2 softmax
// scale) over a latent KV cache, and MoE FFNs (routed + shared experts) after
// leading_dense_block_count dense layers.
//
// The cache holds, per token and layer, only [latent (kv_lora_rank) | k_rope (n_rot)]:
// (kv_lora_rank + n_rot) x element size bytes; nothing in V. Attention runs in the absorbed
// form by default: q_nope is folded through W_UK into latent space, the heads attend over
// the latent rows as one shared KV head (MQA), and W_UV maps each head's latent output back.
// The decompressed form (K and V rebuilt from the latents for every head) is kept as the
// reference the absorbed form is tested against (MlaMode).
//
// Both GGUF layouts load: split attn_k_b / attn_v_b (current converter; key_length_mla /
// value_length_mla) and the legacy unsplit attn_kv_b. The direction a layout lacks is
// made once at load (an F32 transpose of that part of the weights).
//
// Thread-safety: see arch.h. set_mla_mode must be called before the model is shared.
#pragma once

#include <memory>

#include "engine/model/arch.h"

namespace moecode::model {

enum class MlaMode {
  kAbsorbed,      // default: latent-space attention (prefill and decode)
  kDecompressed,  // rebuild per-head K/V from the cached latents (reference)
};

Result<std::unique_ptr<Arch>> create_deepseek2(const ArchContext& ctx);

// Switches the attention form of a deepseek2 Arch (false when `arch` is not one).
bool set_mla_mode(Arch& arch, MlaMode mode);

}  // namespace moecode::model
