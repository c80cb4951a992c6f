// RoPE angle tables: for each position of a batch, the (cos, sin) pairs of every rotated
// dimension pair, with linear or YaRN frequency scaling (the formulas llama.cpp/ggml use,
// so that logits match: theta_i = pos * base^(-2i/n_rot), computed by the same float
// recurrence; YaRN ramps between interpolated and extrapolated angles and scales the
// magnitude by 1 + 0.1 ln(1/freq_scale)).
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "engine/backend/backend.h"
#include "engine/model/hparams.h"

namespace moecode::model {

// The YaRN correction range [low, high] of pair indices (ggml's corr dims).
void rope_yarn_corr_dims(int n_rot, int64_t n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                         float dims[2]);

// Fills out.row(t) (n_rot floats: cos, sin per pair) for positions pos0 + t.
// `freq_factors` (n_rot/2 values, Llama 3.1's rope_freqs) divides the angles when set.
// `mscale` is the magnitude factor (RopeConfig::attn_factor for most archs).
void rope_cos_sin(const RopeConfig& cfg, int64_t pos0, backend::Mat out, const float* freq_factors,
                  float mscale);

}  // namespace moecode::model
