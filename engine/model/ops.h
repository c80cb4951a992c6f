// Building blocks that architectures assemble their forward pass from: standard
// (grouped-query) self-attention with optional q/k/v biases and per-head q/k norms, RoPE
// and the KV cache; the SwiGLU feed-forward; the output head. MoE architectures replace
// the FFN (and MLA the attention) with their own blocks built from the same backend ops.
//
// Thread-safety: the weights are immutable; each call runs on the caller's backend.
#pragma once

#include <cstdint>

#include "engine/backend/backend.h"
#include "engine/model/arch.h"
#include "engine/model/hparams.h"
#include "engine/model/tensor_set.h"

namespace moecode::model {

// Standard attention of one layer.
struct AttentionWeights {
  const float* norm = nullptr;  // attn_norm [n_embd]
  backend::Weight wq, wk, wv;   // [n_head*hd_k, n_embd], [n_kv*hd_k, n_embd], [n_kv*hd_v, n_embd]
  backend::Weight wo;           // [n_embd, n_head*hd_v]
  const float* bq = nullptr;    // optional biases (qwen2)
  const float* bk = nullptr;
  const float* bv = nullptr;
  const float* bo = nullptr;
  const float* q_norm = nullptr;  // optional per-head RMS norm weights [hd_k] (qwen3)
  const float* k_norm = nullptr;
};

struct AttentionShape {
  int n_head = 0;
  int n_head_kv = 0;
  int head_dim_k = 0;
  int head_dim_v = 0;
  float scale = 1.0f;  // usually 1/sqrt(head_dim_k)
  float rms_eps = 1e-5f;
  int n_rot = 0;
  bool neox = false;
};

AttentionShape attention_shape(const Hparams& hp);

// Loads blk.<il>.attn_{norm,q,k,v,output}.weight, and the optional biases / q,k norms.
AttentionWeights load_attention(TensorSet& ts, int il, const Hparams& hp);

// Self-attention of a batch, with the K/V of every token appended to layer `il`'s cache.
//   x:       [n, n_embd]  the normed input of the batch
//   cos_sin: [n, n_rot]   RoPE table of the batch's positions
//   out:     [n_out, n_embd]  the attention output (Wo applied) of the LAST n_out tokens
// (n_out < n lets the last layer skip the queries whose logits nobody asked for.)
void self_attention(ForwardContext& ctx, const AttentionWeights& w, const AttentionShape& s, int il,
                    backend::Mat x, backend::Mat cos_sin, int64_t pos0, backend::Mat out);
// The same for several sequences in one batch (arch.h's MultiBatch): the projections run once
// over every row of x; RoPE (cos_sin holds each row's own position), the cache append and the
// attention run per sequence, each against its own cache.
//   x: [n, n_embd], cos_sin: [n, n_rot], out: [n, n_embd]
void self_attention_multi(ForwardContext& ctx, const AttentionWeights& w, const AttentionShape& s, int il,
                          backend::Mat x, backend::Mat cos_sin, std::span<const SeqSpan> seqs, backend::Mat out);
// Scratch floats self_attention needs for n tokens.
size_t self_attention_scratch(const AttentionShape& s, int64_t n);

// SwiGLU feed-forward: out = down(silu(gate x) * up x).
struct FfnWeights {
  const float* norm = nullptr;  // ffn_norm [n_embd]
  backend::Weight gate, up;     // [n_ff, n_embd]
  backend::Weight down;         // [n_embd, n_ff]
};

FfnWeights load_ffn(TensorSet& ts, int il, const Hparams& hp);
//   x: [n, n_embd] normed input -> out: [n, n_embd]
void ffn_swiglu(ForwardContext& ctx, const FfnWeights& w, backend::Mat x, backend::Mat out);
size_t ffn_swiglu_scratch(int64_t n_ff, int64_t n);

// Output head of every family: RMSNorm, then the output matrix.
//   x: [n_out, n_embd] residual rows -> scratch: [n_out, n_embd] normed -> logits: [n_out, n_vocab]
void output_head(ForwardContext& ctx, backend::Mat x, const float* norm, float eps, const backend::Weight& output,
                 backend::Mat scratch, backend::Mat logits);

}  // namespace moecode::model
