// engine/runtime/sampler: each option with a deterministic check.
#include "engine/runtime/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <set>
#include <vector>

namespace moecode::runtime {
namespace {

using engine::SamplingParams;
using engine::Token;

const std::vector<float> kLogits = {1.0f, 3.0f, 2.5f, -1.0f, 0.5f, 3.0f, 2.9f, 0.0f};

TEST(Sampler, GreedyTakesTheArgmaxLowestIdOnTies) {
  SamplingParams p;  // temperature 0
  Sampler s(p, 8);
  EXPECT_EQ(s.sample(kLogits, {}), 1);  // 1 and 5 tie at 3.0
  EXPECT_TRUE(s.last_candidates().empty());
}

TEST(Sampler, TopKOneIsGreedy) {
  SamplingParams p;
  p.temperature = 5.0f;
  p.top_k = 1;
  for (uint64_t seed = 0; seed < 20; ++seed) {
    p.seed = seed;
    Sampler s(p, 8);
    EXPECT_EQ(s.sample(kLogits, {}), 1);
  }
}

TEST(Sampler, TopKKeepsTheKLargest) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 3;
  std::set<Token> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    p.seed = seed;
    Sampler s(p, 8);
    seen.insert(s.sample(kLogits, {}));
    EXPECT_EQ(s.last_candidates().size(), 3u);
  }
  EXPECT_EQ(seen, (std::set<Token>{1, 5, 6}));
}

TEST(Sampler, TopPKeepsTheSmallestSetReachingP) {
  // probabilities (temperature 1): 1 and 5 ~0.26 each, 6 ~0.24, 2 ~0.16 ...
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.5f;
  Sampler s(p, 8);
  s.sample(kLogits, {});
  std::set<Token> kept;
  for (const auto& c : s.last_candidates()) kept.insert(c.id);
  EXPECT_EQ(kept, (std::set<Token>{1, 5}));  // 0.26 + 0.26 >= 0.5
  p.top_p = 0.6f;
  Sampler s2(p, 8);
  s2.sample(kLogits, {});
  EXPECT_EQ(s2.last_candidates().size(), 3u);  // + token 6
}

TEST(Sampler, MinPDropsUnlikelyTokens) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.min_p = 0.5f;  // keep p >= 0.5 * p_max: logit >= 3 + ln 0.5 = 2.307
  Sampler s(p, 8);
  s.sample(kLogits, {});
  std::set<Token> kept;
  for (const auto& c : s.last_candidates()) kept.insert(c.id);
  EXPECT_EQ(kept, (std::set<Token>{1, 2, 5, 6}));
}

TEST(Sampler, TemperatureFollowsTheSoftmax) {
  SamplingParams p;
  p.temperature = 2.0f;
  p.seed = 123;
  Sampler s(p, 8);
  std::map<Token, int> counts;
  const int n = 20000;
  for (int i = 0; i < n; ++i) counts[s.sample(kLogits, {})]++;
  double z = 0;
  for (float l : kLogits) z += std::exp(l / 2.0);
  for (Token t = 0; t < 8; ++t) {
    const double expected = std::exp(kLogits[t] / 2.0) / z;
    EXPECT_NEAR(counts[t] / static_cast<double>(n), expected, 0.015) << "token " << t;
  }
  // Probabilities reported for the last draw sum to 1.
  double sum = 0;
  for (float q : s.last_probs()) sum += q;
  EXPECT_NEAR(sum, 1.0, 1e-5);
}

TEST(Sampler, SameSeedSameSequence) {
  SamplingParams p;
  p.temperature = 1.0f;
  p.seed = 99;
  Sampler a(p, 8), b(p, 8);
  p.seed = 100;
  Sampler c(p, 8);
  std::vector<Token> va, vb, vc;
  for (int i = 0; i < 50; ++i) {
    va.push_back(a.sample(kLogits, {}));
    vb.push_back(b.sample(kLogits, {}));
    vc.push_back(c.sample(kLogits, {}));
  }
  EXPECT_EQ(va, vb);
  EXPECT_NE(va, vc);
}

TEST(Sampler, RepeatPenaltyDividesPositiveAndMultipliesNegative) {
  SamplingParams p;
  p.repeat_penalty = 1.5f;
  Sampler s(p, 8);
  // 1 (3.0) and 5 (3.0) are penalised to 2.0; 6 (2.9) wins.
  const std::vector<Token> history = {1, 5};
  EXPECT_EQ(s.sample(kLogits, history), 6);
  // Only the last repeat_last_n tokens count.
  p.repeat_last_n = 1;
  Sampler s2(p, 8);
  EXPECT_EQ(s2.sample(kLogits, history), 1);  // only 5 penalised
  // A negative logit gets more negative: -1 * 1.5 = -1.5 < 0 (0.0 and others stay).
  std::vector<float> neg = {-1.0f, -1.2f};
  SamplingParams q;
  q.repeat_penalty = 1.5f;
  Sampler s3(q, 2);
  const std::vector<Token> h0 = {0};
  EXPECT_EQ(s3.sample(neg, h0), 1);  // -1.5 < -1.2
}

TEST(Sampler, FrequencyAndPresencePenalties) {
  SamplingParams p;
  p.frequency_penalty = 0.2f;
  Sampler s(p, 8);
  // 1 seen 3 times: 3.0 - 0.6 = 2.4; 5 seen once: 2.8; 6: 2.9 wins.
  const std::vector<Token> history = {1, 1, 1, 5};
  EXPECT_EQ(s.sample(kLogits, history), 6);
  SamplingParams q;
  q.presence_penalty = 0.05f;
  Sampler s2(q, 8);
  // 1 -> 2.95, 5 -> 2.95 (once each); 6 at 2.9 loses, lowest id of the tie wins.
  const std::vector<Token> h2 = {1, 5, 5, 5};
  EXPECT_EQ(s2.sample(kLogits, h2), 1);
  q.presence_penalty = 0.2f;
  Sampler s3(q, 8);
  EXPECT_EQ(s3.sample(kLogits, h2), 6);
}

}  // namespace
}  // namespace moecode::runtime
