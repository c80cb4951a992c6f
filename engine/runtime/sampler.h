// Token sampling from logits, llama.cpp's chain and semantics: repetition / presence /
// frequency penalties over the last repeat_last_n tokens, then greedy (temperature <= 0)
// or top-k -> top-p -> min-p -> temperature -> a draw from the softmax with a seeded RNG.
//
// Thread-safety: a Sampler belongs to one generation (one thread). It allocates its
// buffers once, in the constructor; sample() allocates nothing.
#pragma once

#include <cstdint>
#include <random>
#include <span>
#include <vector>

#include "moecode/engine/session.h"

namespace moecode::runtime {

class Sampler {
 public:
  Sampler(const engine::SamplingParams& params, int32_t n_vocab);

  // Picks the next token. `history` holds the tokens so far (prompt + generated); only its
  // last repeat_last_n are used for the penalties. logits.size() == n_vocab.
  engine::Token sample(std::span<const float> logits, std::span<const engine::Token> history);

  // The probability the last sample() gave each candidate that survived the filters
  // (tests); empty after a greedy pick.
  struct Candidate {
    float logit;
    engine::Token id;
  };
  std::span<const Candidate> last_candidates() const { return {cand_.data(), n_cand_}; }
  std::span<const float> last_probs() const { return {probs_.data(), n_cand_}; }

 private:
  void apply_penalties(std::span<const engine::Token> history);
  engine::Token greedy() const;

  engine::SamplingParams params_;
  int32_t n_vocab_;
  std::mt19937_64 rng_;
  std::vector<float> logits_;       // penalised copy [n_vocab]
  std::vector<Candidate> cand_;     // [n_vocab]
  std::vector<float> probs_;        // [n_vocab]
  std::vector<engine::Token> window_;  // penalty window (sorted copy)
  size_t n_cand_ = 0;
};

}  // namespace moecode::runtime
