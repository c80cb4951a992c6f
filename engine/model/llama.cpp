// The dense llama family (see llama.h).
#include "engine/model/llama.h"

#include <string>
#include <vector>

#include "engine/model/ops.h"
#include "engine/model/rope.h"
#include "engine/model/tensor_set.h"

namespace moecode::model {

namespace {

using backend::Mat;
using backend::MatmulJob;
using backend::Weight;

struct Layer {
  AttentionWeights attn;
  FfnWeights ffn;
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

  size_t scratch_floats(int64_t n) const override {
    const size_t layer = std::max(self_attention_scratch(shape_, n), ffn_swiglu_scratch(hp_.n_ff, n));
    return 3 * Arena::mat_floats(n, hp_.n_embd) + Arena::mat_floats(n, hp_.rope.n_rot) + layer;
  }

  void forward(ForwardContext& ctx, const Batch& batch, Mat logits) const override;

  Hparams hp_;
  AttentionShape shape_;
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
    be.rms_norm(x, L.ffn.norm, eps, c);                                             // [rows, n_embd]
    ffn_swiglu(ctx, L.ffn, c, tmp.rows_view(0, rows));                              // [rows, n_embd]
    be.add(x, tmp.rows_view(0, rows));                                              // x += ffn
  }

  // Output head on the n_out rows left: [n_out, n_embd] -> [n_out, n_vocab].
  Mat c = cur.rows_view(0, n_out);
  be.rms_norm(x, output_norm_, eps, c);
  const MatmulJob out_job[] = {{&output_, nullptr, logits}};
  be.matmul(out_job, c);
}

}  // namespace

Result<std::unique_ptr<Arch>> create_llama(const ArchContext& ctx) {
  const gguf::GgufFile& file = ctx.file;
  auto m = std::make_unique<LlamaArch>();
  HparamReader reader(file, ctx.arch);
  const RopeOrder order = ctx.arch == "llama" ? RopeOrder::kNorm : RopeOrder::kNeox;
  m->hp_ = read_common_hparams(reader, file, order, /*needs_ff=*/true);
  MOE_RETURN_IF_ERROR(reader.status());
  Hparams& hp = m->hp_;
  if (hp.n_expert > 0) {
    return make_error(ErrorCode::kUnsupported,
                      "model '" + file.path() + "' (architecture '" + ctx.arch + "'): " + std::to_string(hp.n_expert) +
                          " experts (Mixtral-style MoE) are not supported by the dense implementation");
  }
  m->shape_ = attention_shape(hp);

  TensorSet ts(file, ctx.backend);
  m->tok_embd_ = ts.require("token_embd.weight", {hp.n_embd, hp.n_vocab});
  m->output_norm_ = ts.require_vector("output_norm.weight", hp.n_embd);
  m->output_ = ts.optional("output.weight", {hp.n_embd, hp.n_vocab});
  if (!ts.has("output.weight")) m->output_ = m->tok_embd_;  // tied embeddings
  if (hp.rope.n_rot > 0) m->rope_freqs_ = ts.optional_vector("rope_freqs.weight", hp.rope.n_rot / 2);
  m->layers_.resize(hp.n_layer);
  for (int64_t il = 0; il < hp.n_layer; ++il) {
    m->layers_[il].attn = load_attention(ts, static_cast<int>(il), hp);
    m->layers_[il].ffn = load_ffn(ts, static_cast<int>(il), hp);
  }
  MOE_RETURN_IF_ERROR(ts.status(ctx.arch));
  m->owned_ = ts.take_storage();
  return std::unique_ptr<Arch>(std::move(m));
}

}  // namespace moecode::model
