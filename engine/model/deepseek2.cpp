// deepseek2: MLA over a latent cache + MoE (see deepseek2.h).
#include "engine/model/deepseek2.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "engine/model/moe.h"
#include "engine/model/ops.h"
#include "engine/model/rope.h"
#include "engine/model/tensor_set.h"
#include "engine/quant/types.h"

namespace moecode::model {

namespace {

using backend::CacheView;
using backend::Mat;
using backend::MatmulJob;
using backend::Weight;

std::string blk(int il, const char* name) { return "blk." + std::to_string(il) + "." + name; }

struct MlaShape {
  int n_head = 0;
  int q_lora = 0;   // 0: plain attn_q
  int kv_lora = 0;  // latent width L
  int n_rot = 0;    // k_rope width R
  int nope = 0;     // per-head non-rotated q/k width
  int k_head = 0;   // nope + n_rot
  int v_head = 0;   // per-head value width
  float scale = 1.0f;
  float eps = 1e-6f;
};

struct MlaWeights {
  const float* norm = nullptr;  // attn_norm [n_embd]
  Weight wq;                    // [n_head*k_head, n_embd] (q_lora 0)
  Weight wq_a;                  // [q_lora, n_embd]
  const float* q_a_norm = nullptr;
  Weight wq_b;                  // [n_head*k_head, q_lora]
  Weight wkv_a;                 // [L + R, n_embd]
  const float* kv_a_norm = nullptr;  // [L]
  Weight wo;                    // [n_embd, n_head*v_head]
  // Per head h:
  std::vector<Weight> k_absorb;  // [L, nope]: q_nope -> latent space (W_UK^T)
  std::vector<Weight> k_decomp;  // [nope, L]: latent -> k_nope (W_UK); decompressed mode
  std::vector<Weight> v_up;      // [v_head, L]: latent -> v (W_UV)
  // Where the per-head matrices come from, to make the missing direction.
  Weight wk_b, wkv_b;
};

struct Layer {
  MlaWeights attn;
  bool moe = false;
  FfnWeights ffn;  // leading dense layers
  MoeWeights experts;
};

// An F32 Weight over `data` ([n_out, n_in]).
Weight f32_weight(const std::vector<float>& data, int64_t n_out, int64_t n_in) {
  Weight w;
  w.data = data.data();
  w.type = quant::GgmlType::F32;
  w.n_in = n_in;
  w.n_out = n_out;
  w.row_bytes = static_cast<size_t>(n_in) * sizeof(float);
  return w;
}

// out[c][r] = src row r, element c: the F32 transpose of a [rows, cols] Weight.
std::vector<float> transpose_f32(const Weight& src) {
  const auto& traits = quant::type_traits(src.type);
  std::vector<float> row(static_cast<size_t>(src.n_in));
  std::vector<float> out(static_cast<size_t>(src.n_in * src.n_out));
  for (int64_t r = 0; r < src.n_out; ++r) {
    traits.to_float(src.row(r), row.data(), src.n_in);
    for (int64_t c = 0; c < src.n_in; ++c) out[static_cast<size_t>(c * src.n_out + r)] = row[c];
  }
  return out;
}

// Rows [r0, r0 + n) of a 2-D Weight as a Weight.
Weight sub_rows(const Weight& w, int64_t r0, int64_t n) {
  Weight s = w;
  s.data = w.row(r0);
  s.n_out = n;
  s.n_mat = 1;
  return s;
}

class Deepseek2Arch final : public Arch {
 public:
  const Hparams& hparams() const override { return hp_; }

  KvLayout kv_layout() const override {
    KvLayout l;
    l.k_width.assign(hp_.n_layer, int64_t{s_.kv_lora} + s_.n_rot);
    l.v_width.assign(hp_.n_layer, 0);
    return l;
  }

  HeadDims attention_head_dims() const override {
    return {std::max<int64_t>(int64_t{s_.kv_lora} + s_.n_rot, s_.k_head), std::max<int64_t>(s_.kv_lora, s_.v_head)};
  }

  size_t scratch_floats(int64_t n) const override {
    const int64_t H = s_.n_head;
    size_t attn = Arena::mat_floats(n, H * s_.k_head) + Arena::mat_floats(n, std::max<int64_t>(s_.q_lora, 1)) +
                  Arena::mat_floats(n, int64_t{s_.kv_lora} + s_.n_rot) +
                  Arena::mat_floats(n, H * (int64_t{s_.kv_lora} + s_.n_rot)) + Arena::mat_floats(n, H * s_.kv_lora) +
                  Arena::mat_floats(n, H * s_.v_head);
    size_t ffn = ffn_swiglu_scratch(hp_.n_ff, n);
    if (has_moe_) ffn = std::max(ffn, moe_ffn_scratch(moe_shape_, routing_, n));
    return 3 * Arena::mat_floats(n, hp_.n_embd) + Arena::mat_floats(n, s_.n_rot) + std::max(attn, ffn);
  }

  void forward(ForwardContext& ctx, const Batch& batch, Mat logits) const override;

  void set_mode(MlaMode mode) {
    mode_ = mode;
    if (mode != MlaMode::kDecompressed) return;
    // Make W_UK per head for the split layout (the legacy one has it in attn_kv_b).
    for (Layer& L : layers_) {
      if (!L.attn.k_decomp.empty()) continue;
      for (int h = 0; h < s_.n_head; ++h) {
        owned_.push_back(transpose_f32(L.attn.wk_b.matrix(h)));  // [L, nope] -> [nope, L]
        L.attn.k_decomp.push_back(f32_weight(owned_.back(), s_.nope, s_.kv_lora));
      }
    }
  }

  void attention(ForwardContext& ctx, const MlaWeights& w, int il, Mat x, Mat cos_sin, int64_t pos0, Mat out) const;

  Hparams hp_;
  MlaShape s_;
  int64_t n_dense_ = 0;
  bool has_moe_ = false;
  MoeShape moe_shape_;
  RoutingConfig routing_;
  float rope_mscale_ = 1.0f;
  MlaMode mode_ = MlaMode::kAbsorbed;
  Weight tok_embd_;
  Weight output_;
  const float* output_norm_ = nullptr;
  std::vector<Layer> layers_;
  OwnedFloats owned_floats_;
  std::vector<std::vector<float>> owned_;  // synthesized F32 per-head matrices
};

// MLA of one layer.
//   x: [n, n_embd] normed input; cos_sin: [n, n_rot]; out: [n_out, n_embd] for the last
//   n_out tokens.
void Deepseek2Arch::attention(ForwardContext& ctx, const MlaWeights& w, int il, Mat x, Mat cos_sin, int64_t pos0,
                              Mat out) const {
  backend::Backend& be = ctx.backend;
  const int64_t n = x.rows, n_out = out.rows, skip = n - n_out;
  const int H = s_.n_head, L = s_.kv_lora, R = s_.n_rot, NOPE = s_.nope, KH = s_.k_head, VH = s_.v_head;
  Mat xq = x.rows_view(skip, n_out);

  // q: [n_out, H*KH], per head [q_nope | q_rope].
  Mat q = ctx.arena.mat(n_out, int64_t{H} * KH);
  if (s_.q_lora > 0) {
    Mat qa = ctx.arena.mat(n_out, s_.q_lora);
    const MatmulJob ja[] = {{&w.wq_a, nullptr, qa}};
    be.matmul(ja, xq);
    be.rms_norm(qa, w.q_a_norm, s_.eps, qa);
    const MatmulJob jb[] = {{&w.wq_b, nullptr, q}};
    be.matmul(jb, qa);
  } else {
    const MatmulJob jq[] = {{&w.wq, nullptr, q}};
    be.matmul(jq, xq);
  }
  // Compressed kv: [n, L + R] = [latent | k_rope]; the latent is RMS-normed.
  Mat kv = ctx.arena.mat(n, int64_t{L} + R);
  const MatmulJob jkv[] = {{&w.wkv_a, nullptr, kv}};
  be.matmul(jkv, x);
  Mat lat = kv.cols_view(0, L);
  be.rms_norm(lat, w.kv_a_norm, s_.eps, lat);
  // RoPE on the rope parts only: q's per head (offset nope), k_rope (one head).
  be.rope({q.cols_view(NOPE, int64_t{H} * KH - NOPE), H, KH, R, false, cos_sin.rows_view(skip, n_out)});
  be.rope({kv.cols_view(L, R), 1, R, R, false, cos_sin});
  // The latent cache row of each token: [latent | k_rope].
  const CacheView kc = ctx.cache.k(il);
  be.store_rows(kv, kc, pos0);

  Mat ov = ctx.arena.mat(n_out, int64_t{H} * VH);  // [n_out, H*VH] per-head values
  backend::AttentionArgs args;
  args.n_head = H;
  args.pos0 = pos0 + skip;
  args.scale = s_.scale;
  if (mode_ == MlaMode::kAbsorbed) {
    // q in latent space: per head [W_UK^T q_nope (L) | q_rope (R)].
    Mat qa = ctx.arena.mat(n_out, int64_t{H} * (L + R));
    for (int h = 0; h < H; ++h) {
      const MatmulJob j[] = {{&w.k_absorb[h], nullptr, qa.cols_view(int64_t{h} * (L + R), L)}};
      be.matmul(j, q.cols_view(int64_t{h} * KH, NOPE));
      be.copy(q.cols_view(int64_t{h} * KH + NOPE, R), qa.cols_view(int64_t{h} * (L + R) + L, R));
    }
    // One shared KV head: keys are whole cache rows, values their latent part.
    Mat ol = ctx.arena.mat(n_out, int64_t{H} * L);
    args.q = qa;
    args.k = kc;
    args.v = kc;  // the same rows; head_dim_v = L reads their latent part
    args.out = ol;
    args.n_head_kv = 1;
    args.head_dim_k = L + R;
    args.head_dim_v = L;
    be.attention(args);
    // Back from latent space: v_h = W_UV_h o_h.
    for (int h = 0; h < H; ++h) {
      const MatmulJob j[] = {{&w.v_up[h], nullptr, ov.cols_view(int64_t{h} * VH, VH)}};
      be.matmul(j, ol.cols_view(int64_t{h} * L, L));
    }
  } else {
    // Decompressed: K [n_keys, H*KH] = per head [W_UK latent | k_rope], V [n_keys, H*VH].
    const int64_t n_keys = pos0 + n;
    std::vector<float> lat_buf(static_cast<size_t>(n_keys * (L + R)));
    std::vector<float> k_buf(static_cast<size_t>(n_keys * H * KH));
    std::vector<float> v_buf(static_cast<size_t>(n_keys * H * VH));
    Mat all = backend::make_mat(lat_buf.data(), n_keys, L + R);
    Mat K = backend::make_mat(k_buf.data(), n_keys, int64_t{H} * KH);
    Mat V = backend::make_mat(v_buf.data(), n_keys, int64_t{H} * VH);
    be.load_rows(kc, 0, all);
    for (int h = 0; h < H; ++h) {
      const MatmulJob jk[] = {{&w.k_decomp[h], nullptr, K.cols_view(int64_t{h} * KH, NOPE)}};
      be.matmul(jk, all.cols_view(0, L));
      be.copy(all.cols_view(L, R), K.cols_view(int64_t{h} * KH + NOPE, R));
      const MatmulJob jv[] = {{&w.v_up[h], nullptr, V.cols_view(int64_t{h} * VH, VH)}};
      be.matmul(jv, all.cols_view(0, L));
    }
    args.q = q;
    args.k = CacheView{k_buf.data(), backend::CacheType::kF32, n_keys, int64_t{H} * KH};
    args.v = CacheView{v_buf.data(), backend::CacheType::kF32, n_keys, int64_t{H} * VH};
    args.out = ov;
    args.n_head_kv = H;
    args.head_dim_k = KH;
    args.head_dim_v = VH;
    be.attention(args);
  }
  // Output projection: [n_out, H*VH] -> [n_out, n_embd].
  const MatmulJob jo[] = {{&w.wo, nullptr, out}};
  be.matmul(jo, ov);
}

void Deepseek2Arch::forward(ForwardContext& ctx, const Batch& batch, Mat logits) const {
  backend::Backend& be = ctx.backend;
  const int64_t n = static_cast<int64_t>(batch.tokens.size());
  const int64_t n_out = batch.logits_all ? n : 1;
  const float eps = hp_.rms_eps;
  MOE_ASSERT(n > 0 && logits.rows == n_out && logits.cols == hp_.n_vocab);

  Mat x = ctx.arena.mat(n, hp_.n_embd);       // [n, n_embd] residual stream
  Mat cur = ctx.arena.mat(n, hp_.n_embd);     // [n, n_embd] normed input of a block
  Mat tmp = ctx.arena.mat(n, hp_.n_embd);     // [n, n_embd] output of a block
  Mat cos_sin = ctx.arena.mat(n, s_.n_rot);   // [n, n_rot]
  be.get_rows(tok_embd_, batch.tokens, x);
  rope_cos_sin(hp_.rope, batch.pos0, cos_sin, nullptr, rope_mscale_);
  const size_t mark = ctx.arena.mark();

  for (int64_t il = 0; il < hp_.n_layer; ++il) {
    const Layer& L = layers_[il];
    ctx.arena.release(mark);
    const int64_t rows = il == hp_.n_layer - 1 ? n_out : n;
    be.rms_norm(x, L.attn.norm, eps, cur);
    attention(ctx, L.attn, static_cast<int>(il), cur, cos_sin, batch.pos0, tmp.rows_view(0, rows));
    ctx.arena.release(mark);
    if (rows < x.rows) x = x.rows_view(x.rows - rows, rows);
    be.add(x, tmp.rows_view(0, rows));  // x += attn
    Mat c = cur.rows_view(0, rows);
    if (L.moe) {
      be.rms_norm(x, L.experts.norm, eps, c);
      moe_ffn(ctx, L.experts, moe_shape_, routing_, static_cast<int>(il), n == 1, c, tmp.rows_view(0, rows));
    } else {
      be.rms_norm(x, L.ffn.norm, eps, c);
      ffn_swiglu(ctx, L.ffn, c, tmp.rows_view(0, rows));
    }
    be.add(x, tmp.rows_view(0, rows));  // x += ffn
  }

  output_head(ctx, x, output_norm_, eps, output_, cur.rows_view(0, n_out), logits);
}

}  // namespace

Result<std::unique_ptr<Arch>> create_deepseek2(const ArchContext& ctx) {
  const gguf::GgufFile& file = ctx.file;
  auto m = std::make_unique<Deepseek2Arch>();
  HparamReader r(file, ctx.arch);
  m->hp_ = read_common_hparams(r, file, RopeOrder::kNorm, /*needs_ff=*/false);
  Hparams& hp = m->hp_;
  MlaShape& s = m->s_;
  s.n_head = static_cast<int>(hp.n_head);
  s.eps = hp.rms_eps;
  s.q_lora = static_cast<int>(r.opt_int("attention.q_lora_rank", 0, 0));
  s.kv_lora = static_cast<int>(r.req_int("attention.kv_lora_rank"));
  s.n_rot = hp.rope.n_rot;
  // Current layout: key_length/value_length describe the cached latent, *_mla the heads.
  const int64_t k_mla = r.opt_int("attention.key_length_mla", 0, 0);
  const int64_t v_mla = r.opt_int("attention.value_length_mla", 0, 0);
  const bool split = k_mla > 0;
  s.k_head = static_cast<int>(split ? k_mla : hp.head_dim_k);
  s.v_head = static_cast<int>(v_mla > 0 ? v_mla : hp.head_dim_v);
  s.nope = s.k_head - s.n_rot;
  if (s.n_rot < 2) r.fail("rope.dimension_count " + std::to_string(s.n_rot) + " must be at least 2 for MLA");
  if (s.nope < 1)
    r.fail("the key head size " + std::to_string(s.k_head) + " leaves no non-rotated part next to " +
           std::to_string(s.n_rot) + " rotated dims");
  if (s.kv_lora > 1024) r.fail("kv_lora_rank " + std::to_string(s.kv_lora) + " is larger than 1024");
  if (split && (hp.head_dim_k != s.kv_lora + s.n_rot || hp.head_dim_v != s.kv_lora))
    r.fail("key_length " + std::to_string(hp.head_dim_k) + " / value_length " + std::to_string(hp.head_dim_v) +
           " disagree with kv_lora_rank " + std::to_string(s.kv_lora) + " + rope " + std::to_string(s.n_rot) +
           " (the MLA layout caches the latent)");
  m->n_dense_ = r.opt_int("leading_dense_block_count", 0, 0);
  if (m->n_dense_ > hp.n_layer)
    r.fail("leading_dense_block_count " + std::to_string(m->n_dense_) + " is larger than block_count " +
           std::to_string(hp.n_layer));
  if (m->n_dense_ > 0 && hp.n_ff < 1) r.fail("dense layers need feed_forward_length");
  m->has_moe_ = m->n_dense_ < hp.n_layer;
  if (m->has_moe_) {
    read_routing(r, hp, m->routing_);
    MoeShape& ms = m->moe_shape_;
    ms.n_embd = hp.n_embd;
    ms.n_ff_exp = r.req_int("expert_feed_forward_length");
    ms.n_ff_shexp = r.opt_int("expert_shared_count", 0, 0) * ms.n_ff_exp;
    ms.probs_bias = true;
  }
  // Softmax scale: mscale^2 / sqrt(k_head), mscale = 1 + 0.1 * log_mul * ln(1/freq_scale)
  // (llama.cpp reads yarn_log_multiplier as stored / 0.1); RoPE values are not scaled.
  // The float steps are llama.cpp's: the RoPE attn_factor is pre-divided by YaRN's
  // magnitude factor (which rope_cos_sin multiplies back), and the softmax scale uses the
  // product of the two.
  const RopeConfig& rope = hp.rope;
  const float log_mul = rope.yarn_log_multiplier / 0.1f;
  const float yarn_mag = 1.0f + 0.1f * std::log(1.0f / rope.freq_scale);
  m->rope_mscale_ = rope.ext_factor != 0.0f ? rope.attn_factor / yarn_mag : rope.attn_factor;
  const float attn_factor_org = rope.ext_factor != 0.0f ? m->rope_mscale_ * yarn_mag : rope.attn_factor;
  const float mscale = attn_factor_org * (1.0f + 0.1f * log_mul * std::log(1.0f / rope.freq_scale));
  s.scale = 1.0f * mscale * mscale / std::sqrt(static_cast<float>(s.k_head));
  MOE_RETURN_IF_ERROR(r.status());

  const int64_t E = hp.n_embd, H = s.n_head, L = s.kv_lora, R = s.n_rot;
  TensorSet ts(file, ctx.backend);
  m->tok_embd_ = ts.require("token_embd.weight", {E, hp.n_vocab});
  m->output_norm_ = ts.require_vector("output_norm.weight", E);
  m->output_ = ts.optional("output.weight", {E, hp.n_vocab});
  if (!ts.has("output.weight")) m->output_ = m->tok_embd_;
  m->layers_.resize(hp.n_layer);
  for (int il = 0; il < hp.n_layer; ++il) {
    Layer& layer = m->layers_[il];
    MlaWeights& w = layer.attn;
    w.norm = ts.require_vector(blk(il, "attn_norm.weight"), E);
    if (s.q_lora > 0) {
      w.wq_a = ts.require(blk(il, "attn_q_a.weight"), {E, s.q_lora});
      w.q_a_norm = ts.require_vector(blk(il, "attn_q_a_norm.weight"), s.q_lora);
      w.wq_b = ts.require(blk(il, "attn_q_b.weight"), {s.q_lora, H * s.k_head});
    } else {
      w.wq = ts.require(blk(il, "attn_q.weight"), {E, H * s.k_head});
    }
    w.wkv_a = ts.require(blk(il, "attn_kv_a_mqa.weight"), {E, L + R});
    w.kv_a_norm = ts.require_vector(blk(il, "attn_kv_a_norm.weight"), L);
    w.wo = ts.require(blk(il, "attn_output.weight"), {H * s.v_head, E});
    if (split || !ts.has(blk(il, "attn_kv_b.weight"))) {
      w.wk_b = ts.require(blk(il, "attn_k_b.weight"), {s.nope, L, H});
      const Weight wv_b = ts.require(blk(il, "attn_v_b.weight"), {L, s.v_head, H});
      if (!w.wk_b.empty() && !wv_b.empty()) {
        for (int h = 0; h < H; ++h) {
          w.k_absorb.push_back(w.wk_b.matrix(h));
          w.v_up.push_back(wv_b.matrix(h));
        }
      }
    } else {
      w.wkv_b = ts.require(blk(il, "attn_kv_b.weight"), {L, H * (s.nope + s.v_head)});
      if (!w.wkv_b.empty()) {
        for (int h = 0; h < H; ++h) {
          const int64_t r0 = int64_t{h} * (s.nope + s.v_head);
          w.k_decomp.push_back(sub_rows(w.wkv_b, r0, s.nope));
          w.v_up.push_back(sub_rows(w.wkv_b, r0 + s.nope, s.v_head));
          m->owned_.push_back(transpose_f32(w.k_decomp.back()));  // [nope, L] -> [L, nope]
          w.k_absorb.push_back(f32_weight(m->owned_.back(), L, s.nope));
        }
      }
    }
    layer.moe = il >= m->n_dense_;
    if (layer.moe) {
      layer.experts = load_moe(ts, il, m->moe_shape_, hp.n_expert);
    } else {
      layer.ffn = load_ffn(ts, il, hp);
    }
  }
  MOE_RETURN_IF_ERROR(ts.status(ctx.arch));
  m->owned_floats_ = ts.take_storage();
  return std::unique_ptr<Arch>(std::move(m));
}

bool set_mla_mode(Arch& arch, MlaMode mode) {
  auto* ds = dynamic_cast<Deepseek2Arch*>(&arch);
  if (!ds) return false;
  ds->set_mode(mode);
  return true;
}

}  // namespace moecode::model
