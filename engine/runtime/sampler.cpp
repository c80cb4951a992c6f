// Sampler (see sampler.h).
#include "engine/runtime/sampler.h"

#include <algorithm>
#include <cmath>

#include "moecode/engine/result.h"

namespace moecode::runtime {

using engine::Token;

namespace {

bool by_logit_desc(const Sampler::Candidate& a, const Sampler::Candidate& b) {
  return a.logit != b.logit ? a.logit > b.logit : a.id < b.id;
}

}  // namespace

Sampler::Sampler(const engine::SamplingParams& params, int32_t n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
  MOE_ASSERT(n_vocab > 0);
  logits_.resize(n_vocab);
  cand_.resize(n_vocab);
  probs_.resize(n_vocab);
  window_.reserve(static_cast<size_t>(std::max(params.repeat_last_n, 0)));
}

void Sampler::apply_penalties(std::span<const Token> history) {
  const bool neutral = params_.repeat_penalty == 1.0f && params_.presence_penalty == 0.0f &&
                       params_.frequency_penalty == 0.0f;
  if (neutral || params_.repeat_last_n == 0 || history.empty()) return;
  size_t n = history.size();
  if (params_.repeat_last_n > 0) n = std::min(n, static_cast<size_t>(params_.repeat_last_n));
  window_.assign(history.end() - static_cast<std::ptrdiff_t>(n), history.end());
  std::sort(window_.begin(), window_.end());
  for (size_t i = 0; i < window_.size();) {
    size_t j = i;
    while (j < window_.size() && window_[j] == window_[i]) ++j;
    const Token t = window_[i];
    const float count = static_cast<float>(j - i);
    i = j;
    if (t < 0 || t >= n_vocab_) continue;
    float& l = logits_[t];
    if (params_.repeat_penalty != 1.0f) l = l > 0 ? l / params_.repeat_penalty : l * params_.repeat_penalty;
    l -= count * params_.frequency_penalty + params_.presence_penalty;
  }
}

Token Sampler::greedy() const {
  Token best = 0;
  for (Token i = 1; i < n_vocab_; ++i)
    if (logits_[i] > logits_[best]) best = i;
  return best;
}

Token Sampler::sample(std::span<const float> logits, std::span<const Token> history) {
  MOE_ASSERT(static_cast<int32_t>(logits.size()) == n_vocab_);
  std::copy(logits.begin(), logits.end(), logits_.begin());
  apply_penalties(history);
  n_cand_ = 0;
  if (params_.temperature <= 0.0f) return greedy();

  size_t n = static_cast<size_t>(n_vocab_);
  for (size_t i = 0; i < n; ++i) cand_[i] = {logits_[i], static_cast<Token>(i)};
  size_t n_sorted = 0;  // cand_[0, n_sorted) is sorted, descending

  // top-k
  if (params_.top_k > 0 && static_cast<size_t>(params_.top_k) < n) {
    n = static_cast<size_t>(params_.top_k);
    std::partial_sort(cand_.begin(), cand_.begin() + static_cast<std::ptrdiff_t>(n), cand_.end(), by_logit_desc);
    n_sorted = n;
  }
  // top-p: the smallest set of most likely tokens whose probability reaches top_p
  // (probabilities at temperature 1, as llama.cpp computes them).
  if (params_.top_p < 1.0f) {
    float mx = -INFINITY;
    for (size_t i = 0; i < n; ++i) mx = std::max(mx, cand_[i].logit);
    double sum = 0;
    for (size_t i = 0; i < n; ++i) sum += std::exp(static_cast<double>(cand_[i].logit - mx));
    size_t k = std::min<size_t>(n, 64);
    for (;;) {
      if (n_sorted < k) {
        std::partial_sort(cand_.begin() + static_cast<std::ptrdiff_t>(n_sorted),
                          cand_.begin() + static_cast<std::ptrdiff_t>(k), cand_.begin() + static_cast<std::ptrdiff_t>(n),
                          by_logit_desc);
        n_sorted = k;
      }
      double cum = 0;
      size_t cut = 0;
      for (; cut < k; ++cut) {
        cum += std::exp(static_cast<double>(cand_[cut].logit - mx)) / sum;
        if (cum >= params_.top_p) {
          ++cut;
          break;
        }
      }
      if (cum >= params_.top_p || k == n) {
        n = std::max<size_t>(cut, 1);
        n_sorted = n;
        break;
      }
      k = std::min(n, k * 4);
    }
  }
  // min-p: keep tokens with p >= min_p * p_max, i.e. logit >= max + ln(min_p).
  if (params_.min_p > 0.0f) {
    float mx = -INFINITY;
    for (size_t i = 0; i < n; ++i) mx = std::max(mx, cand_[i].logit);
    const float threshold = mx + std::log(params_.min_p);
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i)
      if (cand_[i].logit >= threshold) cand_[kept++] = cand_[i];
    n = std::max<size_t>(kept, 1);
    n_sorted = std::min(n_sorted, n);
  }
  // temperature, softmax, draw.
  float mx = -INFINITY;
  for (size_t i = 0; i < n; ++i) mx = std::max(mx, cand_[i].logit);
  double sum = 0;
  for (size_t i = 0; i < n; ++i) {
    probs_[i] = std::exp((cand_[i].logit - mx) / params_.temperature);
    sum += probs_[i];
  }
  for (size_t i = 0; i < n; ++i) probs_[i] = static_cast<float>(probs_[i] / sum);
  n_cand_ = n;
  const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0);  // [0, 1)
  double cum = 0;
  for (size_t i = 0; i < n; ++i) {
    cum += probs_[i];
    if (u < cum) return cand_[i].id;
  }
  return cand_[n - 1].id;
}

}  // namespace moecode::runtime
