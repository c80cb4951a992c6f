// The MoE feed-forward block (see moe.h).
#include "engine/model/moe.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "engine/model/ops.h"

namespace moecode::model {

using backend::Mat;
using backend::MatmulJob;

namespace {

std::string blk(int il, const char* name) { return "blk." + std::to_string(il) + "." + name; }

// Indices of the k largest values of v[0..n) (best first; ties: lower index first).
void top_k(const float* v, int n, int k, int32_t* out) {
  for (int s = 0; s < k; ++s) {
    int best = -1;
    for (int i = 0; i < n; ++i) {
      bool taken = false;
      for (int j = 0; j < s; ++j) taken = taken || out[j] == i;
      if (taken) continue;
      if (best < 0 || v[i] > v[best]) best = i;
    }
    out[s] = best;
  }
}

}  // namespace

void read_routing(HparamReader& r, const Hparams& hp, RoutingConfig& cfg) {
  cfg.n_expert = static_cast<int>(hp.n_expert);
  cfg.n_expert_used = static_cast<int>(hp.n_expert_used);
  const int64_t gating = r.opt_int("expert_gating_func", cfg.gating == GatingFunc::kSigmoid ? 2 : 1, 0);
  if (gating == 0 || gating == 1) {
    cfg.gating = GatingFunc::kSoftmax;
  } else if (gating == 2) {
    cfg.gating = GatingFunc::kSigmoid;
  } else {
    r.fail("expert_gating_func " + std::to_string(gating) + " is not supported (1 softmax, 2 sigmoid)");
  }
  cfg.norm_weights = r.opt_bool("expert_weights_norm", cfg.norm_weights);
  cfg.weights_scale = r.opt_float("expert_weights_scale", cfg.weights_scale);
  cfg.n_group = static_cast<int>(r.opt_int("expert_group_count", 1, 0));
  cfg.n_group_used = static_cast<int>(r.opt_int("expert_group_used_count", cfg.n_group, 0));
  if (cfg.n_group == 0) cfg.n_group = 1;
  if (cfg.n_group_used == 0) cfg.n_group_used = cfg.n_group;

  const std::string a = r.arch() + ".";
  if (hp.n_expert < 1) r.fail("key '" + a + "expert_count' is missing or 0 for a mixture-of-experts model");
  if (hp.n_expert > 4096) r.fail("expert_count " + std::to_string(hp.n_expert) + " is larger than 4096");
  if (hp.n_expert_used < 1) r.fail("key '" + a + "expert_used_count' is missing or 0");
  if (hp.n_expert >= 1 && hp.n_expert_used > hp.n_expert)
    r.fail("expert_used_count " + std::to_string(hp.n_expert_used) + " is larger than expert_count " +
           std::to_string(hp.n_expert));
  if (hp.n_expert >= 1 && cfg.n_group > 1) {
    if (hp.n_expert % cfg.n_group != 0) {
      r.fail("expert_count " + std::to_string(hp.n_expert) + " is not a multiple of expert_group_count " +
             std::to_string(cfg.n_group));
    } else if (cfg.n_group_used > cfg.n_group) {
      r.fail("expert_group_used_count " + std::to_string(cfg.n_group_used) + " is larger than expert_group_count " +
             std::to_string(cfg.n_group));
    } else if (hp.n_expert / cfg.n_group < 2) {
      r.fail("expert groups of " + std::to_string(hp.n_expert / cfg.n_group) +
             " expert(s) cannot be scored (top-2 per group)");
    } else if (hp.n_expert_used > cfg.n_group_used * (hp.n_expert / cfg.n_group)) {
      r.fail("expert_used_count " + std::to_string(hp.n_expert_used) + " is larger than the " +
             std::to_string(cfg.n_group_used * (hp.n_expert / cfg.n_group)) + " experts of the " +
             std::to_string(cfg.n_group_used) + " groups used");
    }
  }
}

void route_token(const RoutingConfig& cfg, const float* logits, const float* bias, int32_t* ids, float* weights,
                 float* scratch, float* margin) {
  const int n = cfg.n_expert;
  const int k = cfg.n_expert_used;
  float* probs = scratch;    // [n]
  float* sel = scratch + n;  // [n] selection scores
  // probs = softmax(logits) (ggml: exp(x - max), sum in double, times float(1/sum)) or sigmoid.
  if (cfg.gating == GatingFunc::kSoftmax) {
    float mx = -INFINITY;
    for (int i = 0; i < n; ++i) mx = std::max(mx, logits[i]);
    double sum = 0;
    for (int i = 0; i < n; ++i) {
      probs[i] = std::exp(logits[i] - mx);
      sum += probs[i];
    }
    const float inv = static_cast<float>(1.0 / sum);
    for (int i = 0; i < n; ++i) probs[i] *= inv;
  } else {
    for (int i = 0; i < n; ++i) probs[i] = 1.0f / (1.0f + std::exp(-logits[i]));
  }
  // The bias only steers the selection.
  for (int i = 0; i < n; ++i) sel[i] = bias ? probs[i] + bias[i] : probs[i];
  // Group limit: score each group by the sum of its top-2 selection scores, keep the best
  // n_group_used groups, mask the others out.
  float group_margin = INFINITY;
  if (cfg.n_group > 1 && cfg.n_group_used < cfg.n_group) {
    const int gsize = n / cfg.n_group;
    float gscore[4096];
    int32_t top2[2];
    for (int g = 0; g < cfg.n_group; ++g) {
      top_k(sel + g * gsize, gsize, 2, top2);
      gscore[g] = sel[g * gsize + top2[0]] + sel[g * gsize + top2[1]];
    }
    int32_t keep[4096];
    top_k(gscore, cfg.n_group, cfg.n_group_used, keep);
    for (int g = 0; g < cfg.n_group; ++g) {
      if (std::find(keep, keep + cfg.n_group_used, g) != keep + cfg.n_group_used) continue;
      if (margin) group_margin = std::min(group_margin, gscore[keep[cfg.n_group_used - 1]] - gscore[g]);
      for (int i = 0; i < gsize; ++i) sel[g * gsize + i] = -INFINITY;
    }
  }
  top_k(sel, n, k, ids);
  if (margin) {
    // The smallest gap between the last chosen score and one passed over (masked groups
    // excluded: their side of the decision is the group margin).
    float m = group_margin;
    for (int i = 0; i < n; ++i) {
      if (sel[i] == -INFINITY || std::find(ids, ids + k, i) != ids + k) continue;
      m = std::min(m, sel[ids[k - 1]] - sel[i]);
    }
    *margin = m;
  }
  for (int s = 0; s < k; ++s) weights[s] = probs[ids[s]];
  if (cfg.norm_weights) {
    double sum = 0;
    for (int s = 0; s < k; ++s) sum += weights[s];
    const float den = std::max(static_cast<float>(sum), 6.103515625e-5f);  // ggml clamps the sum
    for (int s = 0; s < k; ++s) weights[s] /= den;
  }
  if (cfg.weights_scale != 0.0f && cfg.weights_scale != 1.0f)
    for (int s = 0; s < k; ++s) weights[s] *= cfg.weights_scale;
}

MoeWeights load_moe(TensorSet& ts, int il, const MoeShape& s, int64_t n_expert) {
  MoeWeights w;
  w.norm = ts.require_vector(blk(il, "ffn_norm.weight"), s.n_embd);
  w.gate_inp = ts.require(blk(il, "ffn_gate_inp.weight"), {s.n_embd, n_expert});
  if (s.probs_bias) w.exp_probs_b = ts.optional_vector(blk(il, "exp_probs_b.bias"), n_expert);
  w.gate_exps = ts.require(blk(il, "ffn_gate_exps.weight"), {s.n_embd, s.n_ff_exp, n_expert});
  w.up_exps = ts.require(blk(il, "ffn_up_exps.weight"), {s.n_embd, s.n_ff_exp, n_expert});
  w.down_exps = ts.require(blk(il, "ffn_down_exps.weight"), {s.n_ff_exp, s.n_embd, n_expert});
  if (s.n_ff_shexp > 0) {
    w.gate_shexp = ts.require(blk(il, "ffn_gate_shexp.weight"), {s.n_embd, s.n_ff_shexp});
    w.up_shexp = ts.require(blk(il, "ffn_up_shexp.weight"), {s.n_embd, s.n_ff_shexp});
    w.down_shexp = ts.require(blk(il, "ffn_down_shexp.weight"), {s.n_ff_shexp, s.n_embd});
    if (s.shexp_gate) w.gate_inp_shexp = ts.require(blk(il, "ffn_gate_inp_shexp.weight"), {s.n_embd});
  }
  for (const backend::Weight* e : {&w.gate_exps, &w.up_exps, &w.down_exps})
    w.routed_bytes += e->row_bytes * static_cast<uint64_t>(e->n_out * e->n_mat);
  return w;
}

size_t moe_ffn_scratch(const MoeShape& s, const RoutingConfig& cfg, int64_t n) {
  const int64_t na = n * cfg.n_expert_used;  // assignments
  size_t f = Arena::mat_floats(n, cfg.n_expert);                          // router logits
  f += Arena::mat_floats(1, 4 * na + cfg.n_expert + 1 + 2 * cfg.n_expert);  // routing arrays
  f += 2 * Arena::mat_floats(na, s.n_ff_exp);                             // gate, up
  f += Arena::mat_floats(na, s.n_embd);                                   // expert outputs
  if (s.n_ff_shexp > 0) {
    f += Arena::mat_floats(n, s.n_embd) + Arena::mat_floats(n, 1) + ffn_swiglu_scratch(s.n_ff_shexp, n);
  }
  return f;
}

void moe_ffn(ForwardContext& ctx, const MoeWeights& w, const MoeShape& s, const RoutingConfig& cfg, int il,
             bool decode, Mat x, Mat out) {
  backend::Backend& be = ctx.backend;
  const int64_t n = x.rows;
  const int k = cfg.n_expert_used;
  const int n_exp = cfg.n_expert;
  const int64_t na = n * k;

  // Router: [n, n_embd] -> logits [n, n_expert].
  Mat logits = ctx.arena.mat(n, n_exp);
  const MatmulJob router[] = {{&w.gate_inp, nullptr, logits}};
  be.matmul(router, x);

  // Routing arrays (int32 and float share the arena's 4-byte slots).
  Mat arrays = ctx.arena.mat(1, 4 * na + n_exp + 1 + 2 * n_exp);
  float* f = arrays.data;
  auto* ids = reinterpret_cast<int32_t*>(f);           // [n*k] expert of (token, slot)
  float* wts = f + na;                                 // [n*k] weight of (token, slot)
  auto* rows = reinterpret_cast<int32_t*>(f + 2 * na);   // [n*k] token of assignment i (by expert)
  auto* index = reinterpret_cast<int32_t*>(f + 3 * na);  // [n*k] assignment of (token, slot)
  auto* offsets = reinterpret_cast<int32_t*>(f + 4 * na);  // [n_expert + 1]
  float* route_scratch = f + 4 * na + n_exp + 1;       // [2 * n_expert]

  // Route every token: top-k experts and gate weights.
  RoutingTrace::Layer* trace = nullptr;
  if (ctx.routing_trace) {
    trace = &ctx.routing_trace->layers[il];
    trace->margins.resize(trace->margins.size() + n);
  }
  for (int64_t t = 0; t < n; ++t) {
    float* margin = trace ? &trace->margins[trace->margins.size() - n + t] : nullptr;
    route_token(cfg, logits.row(t), w.exp_probs_b, ids + t * k, wts + t * k, route_scratch, margin);
  }
  if (trace) {
    ctx.routing_trace->n_expert_used = k;
    trace->ids.insert(trace->ids.end(), ids, ids + na);
  }

  // Group by expert (counting sort, tokens in order within an expert).
  std::fill(offsets, offsets + n_exp + 1, 0);
  for (int64_t i = 0; i < na; ++i) ++offsets[ids[i] + 1];
  for (int e = 0; e < n_exp; ++e) offsets[e + 1] += offsets[e];
  {
    // Use `index` as the per-expert fill cursor first, then as the (token, slot) map.
    int32_t cursor[4096];
    std::copy(offsets, offsets + n_exp, cursor);
    for (int64_t i = 0; i < na; ++i) {
      const int32_t pos = cursor[ids[i]]++;
      rows[pos] = static_cast<int32_t>(i / k);
      index[i] = pos;
    }
  }

  // Expert FFNs on the grouped rows: gate/up [na, n_ff_exp], SwiGLU, down [na, n_embd].
  std::atomic<uint64_t> bytes{0};
  Mat g = ctx.arena.mat(na, s.n_ff_exp);
  Mat u = ctx.arena.mat(na, s.n_ff_exp);
  const MatmulJob gu[] = {{&w.gate_exps, nullptr, g, &bytes}, {&w.up_exps, nullptr, u, &bytes}};
  be.matmul_experts({gu, x, std::span<const int32_t>(rows, na), std::span<const int32_t>(offsets, n_exp + 1)});
  be.swiglu(g, u);
  Mat eo = ctx.arena.mat(na, s.n_embd);
  // The down projection reads g in assignment order: row i for assignment i.
  for (int64_t i = 0; i < na; ++i) rows[i] = static_cast<int32_t>(i);
  const MatmulJob down[] = {{&w.down_exps, nullptr, eo, &bytes}};
  be.matmul_experts({down, g, std::span<const int32_t>(rows, na), std::span<const int32_t>(offsets, n_exp + 1)});
  // Weighted sum per token in slot order.
  be.combine_experts({eo, std::span<const int32_t>(index, na), std::span<const float>(wts, na), k, out});

  // Shared expert(s): plain SwiGLU, gated by sigmoid(gate_inp_shexp . x) for qwen2moe.
  if (!w.gate_shexp.empty()) {
    Mat sh = ctx.arena.mat(n, s.n_embd);
    FfnWeights fw;
    fw.gate = w.gate_shexp;
    fw.up = w.up_shexp;
    fw.down = w.down_shexp;
    ffn_swiglu(ctx, fw, x, sh);
    if (!w.gate_inp_shexp.empty()) {
      Mat gate = ctx.arena.mat(n, 1);
      const MatmulJob gj[] = {{&w.gate_inp_shexp, nullptr, gate}};
      be.matmul(gj, x);
      for (int64_t t = 0; t < n; ++t) {
        const float sg = 1.0f / (1.0f + std::exp(-gate.row(t)[0]));
        be.scale(sh.rows_view(t, 1), sg);
      }
    }
    be.add(out, sh);
  }

  // Counters.
  if (ctx.moe_stats) {
    auto& layers = ctx.moe_stats->layers;
    if (layers.size() <= static_cast<size_t>(il)) layers.resize(il + 1);
    MoeStats::Layer& L = layers[il];
    if (L.expert_tokens.size() != static_cast<size_t>(n_exp)) L.expert_tokens.assign(n_exp, 0);
    for (int e = 0; e < n_exp; ++e) L.expert_tokens[e] += offsets[e + 1] - offsets[e];
    L.n_tokens += n;
    L.bytes_read += bytes.load();
    if (decode) {
      L.n_decode_tokens += 1;
      L.decode_bytes_read += bytes.load();
    }
    L.routed_bytes = w.routed_bytes;
  }
}

}  // namespace moecode::model
