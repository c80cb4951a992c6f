// The llama family, dense or with experts (see llama.h).
#include "engine/model/llama.h"

#include <algorithm>
#include <string>
#include <vector>

#include "engine/model/moe.h"
#include "engine/model/ops.h"
#include "engine/model/rope.h"
#include "engine/model/tensor_set.h"

namespace moecode::model {

namespace {

using backend::Mat;
using backend::MatmulJob;
using backend::Weight;

// The FFN of a layer is the dense SwiGLU (`ffn`) or, in MoE files, the expert block (`moe`).
struct Layer {
  AttentionWeights attn;
  FfnWeights ffn;
  MoeWeights moe;
};

class LlamaArch final : public Arch {
 public:
  const Hparams& hparams() const override { return hp_; }

  KvLayout kv_layout() const override {
    KvLayout l;
    l.k_width.assign(hp_.n_layer, hp_.n_head_kv * hp_.head_dim_k);
    l.v_width.assign(hp_.n_layer, hp_.n_head_kv * hp_.head_dim_v);
    return l;
  }

  HeadDims attention_head_dims() const override { return {hp_.head_dim_k, hp_.head_dim_v}; }

  size_t scratch_floats(int64_t n) const override {
    const size_t ffn = is_moe() ? moe_ffn_scratch(moe_shape_, routing_, n) : ffn_swiglu_scratch(hp_.n_ff, n);
    const size_t layer = std::max(self_attention_scratch(shape_, n), ffn);
    return 3 * Arena::mat_floats(n, hp_.n_embd) + Arena::mat_floats(n, hp_.rope.n_rot) + layer;
  }

  void forward(ForwardContext& ctx, const Batch& batch, Mat logits) const override;
  void forward_multi(backend::Backend& backend, Arena arena, MoeStats* moe_stats, const MultiBatch& batch,
                     Mat logits) const override;
  size_t scratch_floats_multi(int64_t n, int64_t n_seqs) const override {
    return scratch_floats(n) + Arena::mat_floats(n_seqs, hp_.n_embd);
  }

  bool is_moe() const { return hp_.n_expert > 0; }

  Hparams hp_;
  AttentionShape shape_;
  MoeShape moe_shape_;      // is_moe() only
  RoutingConfig routing_;   // is_moe() only
  Weight tok_embd_;
  Weight output_;
  const float* output_norm_ = nullptr;
  const float* rope_freqs_ = nullptr;
  std::vector<Layer> layers_;
  OwnedFloats owned_;
};

void LlamaArch::forward(ForwardContext& ctx, const Batch& batch, Mat logits) const {
  backend::Backend& be = ctx.backend;
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t n_out = batch.logits_all ? n : 1;
  const float eps = hp_.rms_eps;
  MOE_ASSERT(n > 0 && logits.rows == n_out && logits.cols == hp_.n_vocab);

  Mat x = ctx.arena.mat(n, hp_.n_embd);               // [n, n_embd] residual stream
  Mat cur = ctx.arena.mat(n, hp_.n_embd);             // [n, n_embd] normed input of a block
  Mat tmp = ctx.arena.mat(n, hp_.n_embd);             // [n, n_embd] output of a block
  Mat cos_sin = ctx.arena.mat(n, hp_.rope.n_rot);     // [n, n_rot]
  be.get_rows(tok_embd_, batch.tokens, x);            // token embeddings
  rope_cos_sin(hp_.rope, batch.pos0, cos_sin, rope_freqs_, hp_.rope.attn_factor);
  const size_t mark = ctx.arena.mark();

  for (int64_t il = 0; il < hp_.n_layer; ++il) {
    const Layer& L = layers_[il];
    ctx.arena.release(mark);
    // In the last layer only the tokens whose logits are wanted go past attention.
    const int64_t rows = il == hp_.n_layer - 1 ? n_out : n;
    be.rms_norm(x, L.attn.norm, eps, cur);                                         // [n, n_embd]
    self_attention(ctx, L.attn, shape_, static_cast<int>(il), cur, cos_sin, batch.pos0,
                   tmp.rows_view(0, rows));                                         // [rows, n_embd]
    ctx.arena.release(mark);  // attention scratch is free again
    if (rows < x.rows) x = x.rows_view(x.rows - rows, rows);
    be.add(x, tmp.rows_view(0, rows));                                              // x += attn
    Mat c = cur.rows_view(0, rows);
    if (is_moe()) {
      be.rms_norm(x, L.moe.norm, eps, c);                                           // [rows, n_embd]
      moe_ffn(ctx, L.moe, moe_shape_, routing_, static_cast<int>(il), n == 1, c, tmp.rows_view(0, rows));
    } else {
      be.rms_norm(x, L.ffn.norm, eps, c);                                           // [rows, n_embd]
      ffn_swiglu(ctx, L.ffn, c, tmp.rows_view(0, rows));                            // [rows, n_embd]
    }
    be.add(x, tmp.rows_view(0, rows));                                              // x += ffn
  }

  // Output head on the n_out rows left: [n_out, n_embd] -> [n_out, n_vocab].
  output_head(ctx, x, output_norm_, eps, output_, cur.rows_view(0, n_out), logits);
}

void LlamaArch::forward_multi(backend::Backend& be, Arena arena, MoeStats* moe_stats, const MultiBatch& batch,
                              Mat logits) const {
  const int64_t n_seqs = static_cast<int64_t>(batch.seqs.size());
  MOE_ASSERT(n_seqs > 0 && logits.rows == n_seqs && logits.cols == hp_.n_vocab);
  if (n_seqs == 1) {  // one sequence: the single-session pass, as fast as ever
    Arch::forward_multi(be, arena, moe_stats, batch, logits);
    return;
  }
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const float eps = hp_.rms_eps;
  ForwardContext ctx{be, *batch.seqs[0].cache, arena, moe_stats};  // caches come from the spans

  Mat x = ctx.arena.mat(n, hp_.n_embd);            // [n, n_embd] residual stream, all sequences
  Mat cur = ctx.arena.mat(n, hp_.n_embd);          // [n, n_embd]
  Mat tmp = ctx.arena.mat(n, hp_.n_embd);          // [n, n_embd]
  Mat cos_sin = ctx.arena.mat(n, hp_.rope.n_rot);  // [n, n_rot] each row at its sequence's position
  be.get_rows(tok_embd_, batch.tokens, x);
  for (const SeqSpan& s : batch.seqs) {
    rope_cos_sin(hp_.rope, s.pos0, cos_sin.rows_view(s.offset, s.n_tokens), rope_freqs_, hp_.rope.attn_factor);
  }
  const size_t mark = ctx.arena.mark();
  for (int64_t il = 0; il < hp_.n_layer; ++il) {
    const Layer& L = layers_[il];
    ctx.arena.release(mark);
    be.rms_norm(x, L.attn.norm, eps, cur);                                              // [n, n_embd]
    self_attention_multi(ctx, L.attn, shape_, static_cast<int>(il), cur, cos_sin, batch.seqs, tmp);
    ctx.arena.release(mark);
    be.add(x, tmp);                                                                      // x += attn
    if (is_moe()) {
      be.rms_norm(x, L.moe.norm, eps, cur);
      moe_ffn(ctx, L.moe, moe_shape_, routing_, static_cast<int>(il), /*decode=*/false, cur, tmp);
    } else {
      be.rms_norm(x, L.ffn.norm, eps, cur);
      ffn_swiglu(ctx, L.ffn, cur, tmp);
    }
    be.add(x, tmp);                                                                      // x += ffn
  }
  // The last row of each sequence: [n_seqs, n_embd] -> logits [n_seqs, n_vocab].
  ctx.arena.release(mark);
  Mat last = ctx.arena.mat(n_seqs, hp_.n_embd);
  for (int64_t i = 0; i < n_seqs; ++i) {
    const SeqSpan& s = batch.seqs[i];
    be.copy(x.rows_view(s.offset + s.n_tokens - 1, 1), last.rows_view(i, 1));
  }
  output_head(ctx, last, output_norm_, eps, output_, cur.rows_view(0, n_seqs), logits);
}

}  // namespace

Result<std::unique_ptr<Arch>> create_llama(const ArchContext& ctx) {
  const gguf::GgufFile& file = ctx.file;
  auto m = std::make_unique<LlamaArch>();
  HparamReader reader(file, ctx.arch);
  const RopeOrder order = ctx.arch == "llama" ? RopeOrder::kNorm : RopeOrder::kNeox;
  const bool moe = ctx.arch == "qwen2moe" || ctx.arch == "qwen3moe" || reader.opt_int("expert_count", 0, 0) > 0;
  m->hp_ = read_common_hparams(reader, file, order, /*needs_ff=*/!moe);
  Hparams& hp = m->hp_;
  MoeShape& ms = m->moe_shape_;
  if (moe) {
    // Routing per family (llama.cpp): llama (Mixtral) and qwen3moe renormalise the top-k weights.
    m->routing_.norm_weights = ctx.arch != "qwen2moe";
    read_routing(reader, hp, m->routing_);
    ms.n_embd = hp.n_embd;
    ms.n_ff_exp = ctx.arch == "llama" ? hp.n_ff : reader.opt_int("expert_feed_forward_length", hp.n_ff, 0);
    if (ms.n_ff_exp < 1) reader.fail("the expert width is unknown (no expert_feed_forward_length, no feed_forward_length)");
    if (ctx.arch == "qwen2moe") {
      ms.n_ff_shexp = reader.opt_int("expert_shared_feed_forward_length", 0, 0);
      ms.shexp_gate = true;
    }
  }
  MOE_RETURN_IF_ERROR(reader.status());
  m->shape_ = attention_shape(hp);

  TensorSet ts(file, ctx.backend);
  m->tok_embd_ = ts.require("token_embd.weight", {hp.n_embd, hp.n_vocab});
  m->output_norm_ = ts.require_vector("output_norm.weight", hp.n_embd);
  m->output_ = ts.optional("output.weight", {hp.n_embd, hp.n_vocab});
  if (!ts.has("output.weight")) m->output_ = m->tok_embd_;  // tied embeddings
  if (hp.rope.n_rot > 0) m->rope_freqs_ = ts.optional_vector("rope_freqs.weight", hp.rope.n_rot / 2);
  // qwen2moe: a shared expert exists when its tensors do (its width then comes from them).
  if (ctx.arch == "qwen2moe" && ms.n_ff_shexp == 0 && ts.has("blk.0.ffn_gate_shexp.weight")) {
    ms.n_ff_shexp = file.find_tensor("blk.0.ffn_gate_shexp.weight")->ne[1];
  }
  m->layers_.resize(hp.n_layer);
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    Layer& L = m->layers_[il];
    L.attn = load_attention(ts, static_cast<int>(il), hp);
    if (moe) {
      L.moe = load_moe(ts, static_cast<int>(il), ms, hp.n_expert);
    } else {
      L.ffn = load_ffn(ts, static_cast<int>(il), hp);
    }
  }
  MOE_RETURN_IF_ERROR(ts.status(ctx.arch));
  m->owned_ = ts.take_storage();
  return std::unique_ptr<Arch>(std::move(m));
}

}  // namespace moecode::model
