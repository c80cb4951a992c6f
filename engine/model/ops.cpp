// Shared forward-pass blocks (see ops.h).
#include "engine/model/ops.h"

#include <cmath>
#include <string>

namespace moecode::model {

using backend::Mat;
using backend::MatmulJob;

namespace {

std::string blk(int il, const char* name) { return "blk." + std::to_string(il) + "." + name; }

// RMS norm of every head of x [n, n_heads * head_dim], viewed as [n * n_heads, head_dim].
void head_rms_norm(backend::Backend& be, Mat x, int n_heads, int head_dim, const float* g, float eps) {
  if (x.stride == x.cols || x.rows == 1) {
    Mat h{x.data, x.rows * n_heads, head_dim, head_dim};
    be.rms_norm(h, g, eps, h);
    return;
  }
  for (int64_t t = 0; t < x.rows; ++t) {
    Mat h{x.row(t), n_heads, head_dim, head_dim};
    be.rms_norm(h, g, eps, h);
  }
}

}  // namespace

AttentionShape attention_shape(const Hparams& hp) {
  AttentionShape s;
  s.n_head = static_cast<int>(hp.n_head);
  s.n_head_kv = static_cast<int>(hp.n_head_kv);
  s.head_dim_k = static_cast<int>(hp.head_dim_k);
  s.head_dim_v = static_cast<int>(hp.head_dim_v);
  s.scale = 1.0f / std::sqrt(static_cast<float>(hp.head_dim_k));
  s.rms_eps = hp.rms_eps;
  s.n_rot = hp.rope.n_rot;
  s.neox = hp.rope.order == RopeOrder::kNeox;
  return s;
}

AttentionWeights load_attention(TensorSet& ts, int il, const Hparams& hp) {
  const int64_t n_embd = hp.n_embd;
  const int64_t nq = hp.n_head * hp.head_dim_k;
  const int64_t nk = hp.n_head_kv * hp.head_dim_k;
  const int64_t nv = hp.n_head_kv * hp.head_dim_v;
  const int64_t no = hp.n_head * hp.head_dim_v;
  AttentionWeights w;
  w.norm = ts.require_vector(blk(il, "attn_norm.weight"), n_embd);
  w.wq = ts.require(blk(il, "attn_q.weight"), {n_embd, nq});
  w.wk = ts.require(blk(il, "attn_k.weight"), {n_embd, nk});
  w.wv = ts.require(blk(il, "attn_v.weight"), {n_embd, nv});
  w.wo = ts.require(blk(il, "attn_output.weight"), {no, n_embd});
  w.bq = ts.optional_vector(blk(il, "attn_q.bias"), nq);
  w.bk = ts.optional_vector(blk(il, "attn_k.bias"), nk);
  w.bv = ts.optional_vector(blk(il, "attn_v.bias"), nv);
  w.bo = ts.optional_vector(blk(il, "attn_output.bias"), n_embd);
  w.q_norm = ts.optional_vector(blk(il, "attn_q_norm.weight"), hp.head_dim_k);
  w.k_norm = ts.optional_vector(blk(il, "attn_k_norm.weight"), hp.head_dim_k);
  return w;
}

size_t self_attention_scratch(const AttentionShape& s, int64_t n) {
  return Arena::mat_floats(n, int64_t{s.n_head} * s.head_dim_k) +     // q
         Arena::mat_floats(n, int64_t{s.n_head_kv} * s.head_dim_k) +  // k
         Arena::mat_floats(n, int64_t{s.n_head_kv} * s.head_dim_v) +  // v
         Arena::mat_floats(n, int64_t{s.n_head} * s.head_dim_v);      // attention output
}

void self_attention(ForwardContext& ctx, const AttentionWeights& w, const AttentionShape& s, int il, Mat x,
                    Mat cos_sin, int64_t pos0, Mat out) {
  backend::Backend& be = ctx.backend;
  const int64_t n = x.rows;
  const int64_t n_out = out.rows;
  const int64_t skip = n - n_out;  // leading tokens whose queries are not needed
  Mat q = ctx.arena.mat(n_out, int64_t{s.n_head} * s.head_dim_k);      // [n_out, n_head*hd_k]
  Mat k = ctx.arena.mat(n, int64_t{s.n_head_kv} * s.head_dim_k);       // [n, n_kv*hd_k]
  Mat v = ctx.arena.mat(n, int64_t{s.n_head_kv} * s.head_dim_v);       // [n, n_kv*hd_v]
  Mat attn = ctx.arena.mat(n_out, int64_t{s.n_head} * s.head_dim_v);   // [n_out, n_head*hd_v]

  // Projections (one conversion of x for all three when every token needs a query).
  if (skip == 0) {
    const MatmulJob jobs[] = {{&w.wq, w.bq, q}, {&w.wk, w.bk, k}, {&w.wv, w.bv, v}};
    be.matmul(jobs, x);
  } else {
    const MatmulJob kv_jobs[] = {{&w.wk, w.bk, k}, {&w.wv, w.bv, v}};
    be.matmul(kv_jobs, x);
    const MatmulJob q_job[] = {{&w.wq, w.bq, q}};
    be.matmul(q_job, x.rows_view(skip, n_out));
  }

  // Per-head RMS norm of q and k (qwen3), before RoPE: view [n * heads, head_dim].
  if (w.q_norm) head_rms_norm(be, q, s.n_head, s.head_dim_k, w.q_norm, s.rms_eps);
  if (w.k_norm) head_rms_norm(be, k, s.n_head_kv, s.head_dim_k, w.k_norm, s.rms_eps);

  // RoPE: q [n_out, n_head, hd_k], k [n, n_kv, hd_k].
  if (s.n_rot > 0) {
    be.rope({q, s.n_head, s.head_dim_k, s.n_rot, s.neox, cos_sin.rows_view(skip, n_out)});
    be.rope({k, s.n_head_kv, s.head_dim_k, s.n_rot, s.neox, cos_sin});
  }

  // Append this batch's K/V, then attend over the cache.
  be.store_rows(k, ctx.cache.k(il), pos0);
  be.store_rows(v, ctx.cache.v(il), pos0);
  backend::AttentionArgs args;
  args.q = q;
  args.k = ctx.cache.k(il);
  args.v = ctx.cache.v(il);
  args.out = attn;
  args.n_head = s.n_head;
  args.n_head_kv = s.n_head_kv;
  args.head_dim_k = s.head_dim_k;
  args.head_dim_v = s.head_dim_v;
  args.pos0 = pos0 + skip;
  args.scale = s.scale;
  be.attention(args);

  // Output projection: [n_out, n_head*hd_v] -> [n_out, n_embd].
  const MatmulJob o_job[] = {{&w.wo, w.bo, out}};
  be.matmul(o_job, attn);
}

void self_attention_multi(ForwardContext& ctx, const AttentionWeights& w, const AttentionShape& s, int il, Mat x,
                          Mat cos_sin, std::span<const SeqSpan> seqs, Mat out) {
  backend::Backend& be = ctx.backend;
  const int64_t n = x.rows;
  Mat q = ctx.arena.mat(n, int64_t{s.n_head} * s.head_dim_k);     // [n, n_head*hd_k]
  Mat k = ctx.arena.mat(n, int64_t{s.n_head_kv} * s.head_dim_k);  // [n, n_kv*hd_k]
  Mat v = ctx.arena.mat(n, int64_t{s.n_head_kv} * s.head_dim_v);  // [n, n_kv*hd_v]
  Mat attn = ctx.arena.mat(n, int64_t{s.n_head} * s.head_dim_v);  // [n, n_head*hd_v]

  const MatmulJob jobs[] = {{&w.wq, w.bq, q}, {&w.wk, w.bk, k}, {&w.wv, w.bv, v}};
  be.matmul(jobs, x);  // every sequence's rows at once
  if (w.q_norm) head_rms_norm(be, q, s.n_head, s.head_dim_k, w.q_norm, s.rms_eps);
  if (w.k_norm) head_rms_norm(be, k, s.n_head_kv, s.head_dim_k, w.k_norm, s.rms_eps);
  if (s.n_rot > 0) {  // each row carries its own position's angles
    be.rope({q, s.n_head, s.head_dim_k, s.n_rot, s.neox, cos_sin});
    be.rope({k, s.n_head_kv, s.head_dim_k, s.n_rot, s.neox, cos_sin});
  }
  for (const SeqSpan& seq : seqs) {
    KvCache& cache = *seq.cache;
    be.store_rows(k.rows_view(seq.offset, seq.n_tokens), cache.k(il), seq.pos0);
    be.store_rows(v.rows_view(seq.offset, seq.n_tokens), cache.v(il), seq.pos0);
    backend::AttentionArgs args;
    args.q = q.rows_view(seq.offset, seq.n_tokens);
    args.k = cache.k(il);
    args.v = cache.v(il);
    args.out = attn.rows_view(seq.offset, seq.n_tokens);
    args.n_head = s.n_head;
    args.n_head_kv = s.n_head_kv;
    args.head_dim_k = s.head_dim_k;
    args.head_dim_v = s.head_dim_v;
    args.pos0 = seq.pos0;
    args.scale = s.scale;
    be.attention(args);
  }
  const MatmulJob o_job[] = {{&w.wo, w.bo, out}};
  be.matmul(o_job, attn);  // [n, n_head*hd_v] -> [n, n_embd]
}

FfnWeights load_ffn(TensorSet& ts, int il, const Hparams& hp) {
  FfnWeights w;
  w.norm = ts.require_vector(blk(il, "ffn_norm.weight"), hp.n_embd);
  w.gate = ts.require(blk(il, "ffn_gate.weight"), {hp.n_embd, hp.n_ff});
  w.up = ts.require(blk(il, "ffn_up.weight"), {hp.n_embd, hp.n_ff});
  w.down = ts.require(blk(il, "ffn_down.weight"), {hp.n_ff, hp.n_embd});
  return w;
}

size_t ffn_swiglu_scratch(int64_t n_ff, int64_t n) { return 2 * Arena::mat_floats(n, n_ff); }

void ffn_swiglu(ForwardContext& ctx, const FfnWeights& w, Mat x, Mat out) {
  const int64_t n = x.rows;
  Mat g = ctx.arena.mat(n, w.gate.n_out);  // [n, n_ff]
  Mat u = ctx.arena.mat(n, w.up.n_out);    // [n, n_ff]
  const MatmulJob jobs[] = {{&w.gate, nullptr, g}, {&w.up, nullptr, u}};
  ctx.backend.matmul(jobs, x);
  ctx.backend.swiglu(g, u);                // g = silu(g) * u
  const MatmulJob down[] = {{&w.down, nullptr, out}};
  ctx.backend.matmul(down, g);             // [n, n_ff] -> [n, n_embd]
}

void output_head(ForwardContext& ctx, Mat x, const float* norm, float eps, const backend::Weight& output, Mat scratch,
                 Mat logits) {
  ctx.backend.rms_norm(x, norm, eps, scratch);  // [n_out, n_embd]
  const MatmulJob job[] = {{&output, nullptr, logits}};
  ctx.backend.matmul(job, scratch);              // -> [n_out, n_vocab]
}

}  // namespace moecode::model
