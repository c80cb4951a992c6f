// RoPE angle tables (see rope.h).
#include "engine/model/rope.h"

#include <algorithm>
#include <cmath>

namespace moecode::model {

namespace {

constexpr float kPi = 3.14159265358979323846f;

// The pair index whose wavelength makes n_rot... rotations over the original context.
float corr_dim(int n_rot, int64_t n_ctx_orig, float n_rotations, float base) {
  return static_cast<float>(n_rot) * std::log(static_cast<float>(n_ctx_orig) / (n_rotations * 2.0f * kPi)) /
         (2.0f * std::log(base));
}

}  // namespace

void rope_yarn_corr_dims(int n_rot, int64_t n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                         float dims[2]) {
  const float lo = std::floor(corr_dim(n_rot, n_ctx_orig, beta_fast, freq_base));
  const float hi = std::ceil(corr_dim(n_rot, n_ctx_orig, beta_slow, freq_base));
  dims[0] = std::max(0.0f, lo);
  dims[1] = std::min(static_cast<float>(n_rot - 1), hi);
}

void rope_cos_sin(const RopeConfig& cfg, int64_t pos0, backend::Mat out, const float* freq_factors, float mscale) {
  const int n_rot = cfg.n_rot;
  const float theta_scale = std::pow(cfg.freq_base, -2.0f / static_cast<float>(n_rot));
  float corr[2] = {0, 0};
  if (cfg.ext_factor != 0.0f)
    rope_yarn_corr_dims(n_rot, cfg.n_ctx_orig, cfg.freq_base, cfg.beta_fast, cfg.beta_slow, corr);
  float ms = mscale;
  if (cfg.ext_factor != 0.0f) ms *= 1.0f + 0.1f * std::log(1.0f / cfg.freq_scale);

  for (int64_t t = 0; t < out.rows; ++t) {
    float* cs = out.row(t);
    float theta_extrap = static_cast<float>(pos0 + t);
    for (int i0 = 0; i0 < n_rot; i0 += 2) {
      const float ff = freq_factors ? freq_factors[i0 / 2] : 1.0f;
      const float te = theta_extrap / ff;
      const float theta_interp = cfg.freq_scale * te;
      float theta = theta_interp;
      if (cfg.ext_factor != 0.0f) {
        const float y = (static_cast<float>(i0 / 2) - corr[0]) / std::max(0.001f, corr[1] - corr[0]);
        const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * cfg.ext_factor;
        theta = theta_interp * (1.0f - ramp) + te * ramp;
      }
      cs[i0] = std::cos(theta) * ms;
      cs[i0 + 1] = std::sin(theta) * ms;
      theta_extrap *= theta_scale;
    }
  }
}

}  // namespace moecode::model
