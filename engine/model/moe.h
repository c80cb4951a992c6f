// Mixture-of-experts feed-forward block shared by the MoE architectures (Mixtral-style
// llama, qwen2moe, qwen3moe, deepseek2): the router, top-k routing with each family's
// gating, bias, group limit, normalisation and scaling (llama.cpp's build_moe_ffn
// semantics), the grouped expert matmuls (tokens grouped by expert, one matmul per active
// expert, only the active experts' weights read), the weighted combination in slot order,
// the optional shared expert (plain or sigmoid-gated), and the usage / byte counters.
//
// Thread-safety: the weights are immutable; moe_ffn runs on the caller's backend and
// updates the MoeStats it is given (the caller holds the model's compute lock).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/model/arch.h"
#include "engine/model/hparams.h"
#include "engine/model/tensor_set.h"

namespace moecode::model {

enum class GatingFunc {
  kSoftmax,  // expert_gating_func 1 (or absent)
  kSigmoid,  // expert_gating_func 2 (DeepSeek-V3/R1)
};

struct RoutingConfig {
  int n_expert = 0;
  int n_expert_used = 0;
  GatingFunc gating = GatingFunc::kSoftmax;
  bool norm_weights = false;   // divide the chosen weights by their sum
  float weights_scale = 0.0f;  // multiply the chosen weights (0 or 1: none)
  int n_group = 1;             // expert_group_count (experts split in consecutive groups)
  int n_group_used = 1;        // expert_group_used_count
};

// Reads the routing keys every MoE family may have (expert_gating_func, expert_weights_norm,
// expert_weights_scale, expert_group_count, expert_group_used_count) over the family's
// defaults in `cfg`, and validates the whole config (n_expert_used in [1, n_expert], groups
// dividing n_expert, ...), reporting problems through `r`.
void read_routing(HparamReader& r, const Hparams& hp, RoutingConfig& cfg);

// Routes one token. logits: [n_expert] router outputs; bias: [n_expert] selection bias
// (exp_probs_b) or null. Writes ids[n_expert_used] (best first) and their weights.
// scratch: 2 * n_expert floats. margin (optional): how close the choice came to another
// one, the smallest gap between the last chosen selection score and a passed-over one, or
// between the last kept group's score and a dropped group's (+inf when all are used).
void route_token(const RoutingConfig& cfg, const float* logits, const float* bias, int32_t* ids, float* weights,
                 float* scratch, float* margin = nullptr);

// The experts moe_ffn chose, per MoE layer, for the rows it ran (appended in order over the
// batches of an eval). A diagnostic: conformance tests compare it with llama.cpp's choice.
struct RoutingTrace {
  struct Layer {
    std::vector<int32_t> ids;    // [rows][n_expert_used], best first
    std::vector<float> margins;  // [rows] route_token's margin
  };
  int n_expert_used = 0;
  std::map<int, Layer> layers;
};

// One MoE layer's tensors.
struct MoeWeights {
  const float* norm = nullptr;      // ffn_norm [n_embd]
  backend::Weight gate_inp;         // router [n_expert, n_embd] (F32 in every file)
  const float* exp_probs_b = nullptr;  // [n_expert] selection bias (deepseek V3)
  backend::Weight gate_exps, up_exps;  // [n_expert][n_ff_exp, n_embd]
  backend::Weight down_exps;           // [n_expert][n_embd, n_ff_exp]
  backend::Weight gate_shexp, up_shexp, down_shexp;  // shared expert(s), empty if none
  backend::Weight gate_inp_shexp;      // [1, n_embd] sigmoid gate of the shared expert (qwen2moe)
  uint64_t routed_bytes = 0;           // bytes of all routed-expert matrices of the layer
};

struct MoeShape {
  int64_t n_embd = 0;
  int64_t n_ff_exp = 0;    // width of one routed expert
  int64_t n_ff_shexp = 0;  // width of the shared expert(s) (0: none)
  bool shexp_gate = false; // qwen2moe's ffn_gate_inp_shexp
  bool probs_bias = false; // exp_probs_b
};

// Loads blk.<il>.ffn_norm, ffn_gate_inp, ffn_{gate,up,down}_exps and the shared expert.
MoeWeights load_moe(TensorSet& ts, int il, const MoeShape& s, int64_t n_expert);

// Usage and byte counters of the routed experts, per layer (layers without experts stay
// empty). Updated by moe_ffn; decode = batches of one token.
struct MoeStats {
  struct Layer {
    std::vector<uint64_t> expert_tokens;  // [n_expert] tokens routed to each expert
    uint64_t n_tokens = 0;
    uint64_t n_decode_tokens = 0;
    uint64_t bytes_read = 0;         // routed-expert weight bytes read by the matmuls
    uint64_t decode_bytes_read = 0;  // the same, in decode batches
    uint64_t routed_bytes = 0;       // all routed-expert bytes of the layer
  };
  std::vector<Layer> layers;
  void reset() { layers.clear(); }
};

// Scratch floats moe_ffn needs for n tokens.
size_t moe_ffn_scratch(const MoeShape& s, const RoutingConfig& cfg, int64_t n);

//   x: [n, n_embd] the normed input -> out: [n, n_embd]
// `decode`: the batch is one token (counted as decode in MoeStats; the rows that reach a
// layer can be fewer than the batch's tokens: the last layer runs only the logit rows).
void moe_ffn(ForwardContext& ctx, const MoeWeights& w, const MoeShape& s, const RoutingConfig& cfg, int il,
             bool decode, backend::Mat x, backend::Mat out);

}  // namespace moecode::model
