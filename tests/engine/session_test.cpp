// engine/runtime through the public API on the tiny fixture models: prefix reuse (with
// the evaluation counter), truncate, F16 vs F32 KV cache, generation with stop strings and
// stop tokens, streaming, cancellation from another thread, argument errors.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

#include "moecode/engine/model.h"

namespace moecode {
namespace {

using engine::KvCacheType;
using engine::Token;

std::string fixture(const std::string& name) { return std::string(MOECODE_TEST_DATA) + "/fixtures/models/" + name; }

std::shared_ptr<engine::Model> load(const std::string& name, KvCacheType kv = KvCacheType::kF32, int threads = 0) {
  engine::LoadOptions lo;
  lo.kv_type = kv;
  lo.n_threads = threads;
  auto m = engine::Model::load(fixture(name), lo);
  EXPECT_TRUE(m.ok()) << m.error().message();
  return m.ok() ? *m : nullptr;
}

std::vector<Token> some_tokens(int n, int seed) {
  std::vector<Token> t;
  uint32_t x = static_cast<uint32_t>(seed) * 2654435761u + 1;
  for (int i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    t.push_back(static_cast<Token>((x >> 8) % 506));
  }
  return t;
}

float max_diff(std::span<const float> a, std::span<const float> b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

class SessionTest : public ::testing::TestWithParam<std::string> {};

// eval(A+B) after eval(A) gives eval(A+B)'s logits and computes only B.
TEST_P(SessionTest, PrefixReuseEvaluatesOnlyTheNewTokens) {
  auto model = load(GetParam());
  ASSERT_TRUE(model);
  const std::vector<Token> a = some_tokens(40, 1);
  std::vector<Token> ab = a;
  const std::vector<Token> b = some_tokens(25, 2);
  ab.insert(ab.end(), b.begin(), b.end());

  auto fresh = model->new_session({});
  ASSERT_TRUE(fresh.ok());
  auto full = (*fresh)->eval(ab);
  ASSERT_TRUE(full.ok()) << full.error().message();
  EXPECT_EQ(full->n_evaluated, 65);
  const std::vector<float> expected((*fresh)->last_logits().begin(), (*fresh)->last_logits().end());

  auto s = model->new_session({});
  ASSERT_TRUE(s.ok());
  auto st = (*s)->eval(a);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ((*s)->n_tokens_evaluated(), 40u);
  st = (*s)->eval(ab);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->n_reused, 40);
  EXPECT_EQ(st->n_evaluated, 25);
  EXPECT_EQ(st->n_tokens, 65);
  EXPECT_EQ((*s)->n_tokens_evaluated(), 65u);
  EXPECT_LE(max_diff((*s)->last_logits(), expected), 1e-5f);
  EXPECT_EQ(std::vector<Token>((*s)->cached_tokens().begin(), (*s)->cached_tokens().end()), ab);

  // The same tokens again: nothing to compute.
  st = (*s)->eval(ab);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->n_evaluated, 0);
  EXPECT_EQ((*s)->n_tokens_evaluated(), 65u);
  EXPECT_LE(max_diff((*s)->last_logits(), expected), 1e-5f);

  // A diverging suffix: only the part after the common prefix is computed.
  std::vector<Token> ac = a;
  const std::vector<Token> c = some_tokens(7, 3);
  ac.insert(ac.end(), c.begin(), c.end());
  st = (*s)->eval(ac);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->n_reused, 40);
  EXPECT_EQ(st->n_evaluated, 7);
  auto check = model->new_session({});
  ASSERT_TRUE(check.ok());
  ASSERT_TRUE((*check)->eval(ac).ok());
  EXPECT_LE(max_diff((*s)->last_logits(), (*check)->last_logits()), 1e-5f);

  // A prefix of what is cached: the last token is recomputed for its logits.
  std::vector<Token> a_short(a.begin(), a.begin() + 30);
  st = (*s)->eval(a_short);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->n_reused, 29);
  EXPECT_EQ(st->n_evaluated, 1);
  EXPECT_EQ((*s)->cached_tokens().size(), 30u);
}

TEST_P(SessionTest, TruncateDropsTheTail) {
  auto model = load(GetParam());
  ASSERT_TRUE(model);
  auto s = model->new_session({});
  ASSERT_TRUE(s.ok());
  const auto t = some_tokens(20, 4);
  ASSERT_TRUE((*s)->eval(t).ok());
  (*s)->truncate(12);
  EXPECT_EQ((*s)->cached_tokens().size(), 12u);
  EXPECT_TRUE((*s)->last_logits().empty());
  auto st = (*s)->eval(t);
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->n_reused, 12);
  EXPECT_EQ(st->n_evaluated, 8);
  (*s)->truncate(100);  // beyond the end: no change
  EXPECT_EQ((*s)->cached_tokens().size(), 20u);
}

// The F16 cache rounds K and V: close to F32 (fixtures README: up to ~0.03), not equal.
TEST_P(SessionTest, F16CacheIsCloseToF32) {
  auto model = load(GetParam(), KvCacheType::kF16);
  ASSERT_TRUE(model);
  engine::SessionOptions o16, o32;
  o32.kv_type = KvCacheType::kF32;
  auto s16 = model->new_session(o16);
  auto s32 = model->new_session(o32);
  ASSERT_TRUE(s16.ok() && s32.ok());
  EXPECT_EQ((*s16)->kv_type(), KvCacheType::kF16);
  EXPECT_EQ((*s32)->kv_type(), KvCacheType::kF32);
  const auto t = some_tokens(100, 5);
  ASSERT_TRUE((*s16)->eval(t).ok());
  ASSERT_TRUE((*s32)->eval(t).ok());
  const float d = max_diff((*s16)->last_logits(), (*s32)->last_logits());
  EXPECT_GT(d, 0.0f);
  // F32 weights: the README's kv_f16 spread (<= 0.03); quantized weights turn some F16
  // roundings into Q8 steps of the activations.
  EXPECT_LT(d, GetParam().find(".f32.") != std::string::npos ? 0.05f : 0.3f);
}

// Threads change the split of the work, not the result.
TEST_P(SessionTest, ThreadCountDoesNotChangeLogits) {
  auto m1 = load(GetParam(), KvCacheType::kF32, 1);
  auto m3 = load(GetParam(), KvCacheType::kF32, 3);
  ASSERT_TRUE(m1 && m3);
  auto s1 = m1->new_session({});
  auto s3 = m3->new_session({});
  ASSERT_TRUE(s1.ok() && s3.ok());
  const auto t = some_tokens(70, 6);
  ASSERT_TRUE((*s1)->eval(t).ok());
  ASSERT_TRUE((*s3)->eval(t).ok());
  EXPECT_EQ(max_diff((*s1)->last_logits(), (*s3)->last_logits()), 0.0f);
}

TEST_P(SessionTest, BatchSizeDoesNotChangeLogits) {
  auto model = load(GetParam());
  ASSERT_TRUE(model);
  engine::SessionOptions small;
  small.n_batch = 7;
  auto a = model->new_session(small);
  auto b = model->new_session({});
  ASSERT_TRUE(a.ok() && b.ok());
  const auto t = some_tokens(50, 7);
  ASSERT_TRUE((*a)->eval(t).ok());
  ASSERT_TRUE((*b)->eval(t).ok());
  EXPECT_LE(max_diff((*a)->last_logits(), (*b)->last_logits()), 1e-5f);
}

INSTANTIATE_TEST_SUITE_P(Models, SessionTest,
                         ::testing::Values("tiny-llama.f32.gguf", "tiny-qwen2.f32.gguf", "tiny-qwen2.q4_1.gguf",
                                           "tiny-llama.q4_k_m.gguf"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

TEST(SessionErrors, BadTokensAndContextOverflow) {
  auto model = load("tiny-llama.f32.gguf");
  ASSERT_TRUE(model);
  engine::SessionOptions so;
  so.n_ctx = 16;
  auto s = model->new_session(so);
  ASSERT_TRUE(s.ok());
  const std::vector<Token> bad = {1, 2, 512};
  auto r = (*s)->eval(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("512"), std::string::npos) << r.error().message();
  r = (*s)->eval(some_tokens(17, 1));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kOutOfRange);
  // Generation stops when the context is full.
  engine::GenerateOptions go;
  go.max_tokens = 100;
  go.stop_at_end_of_generation = false;
  auto g = (*s)->generate(some_tokens(10, 2), go);
  ASSERT_TRUE(g.ok()) << g.error().message();
  EXPECT_EQ(g->stop, engine::StopReason::kContextFull);
  EXPECT_EQ(g->tokens.size(), 7u);  // 10 + 6 fill the cache, the 7th is sampled from the last logits
}

// Greedy generation equals argmax decoding done by hand.
TEST(Generate, GreedyMatchesStepByStepArgmax) {
  auto model = load("tiny-qwen2.f32.gguf");
  ASSERT_TRUE(model);
  auto s = model->new_session({});
  ASSERT_TRUE(s.ok());
  const auto prompt = some_tokens(12, 9);
  engine::GenerateOptions go;
  go.max_tokens = 10;
  go.stop_at_end_of_generation = false;
  auto g = (*s)->generate(prompt, go);
  ASSERT_TRUE(g.ok());
  ASSERT_EQ(g->tokens.size(), 10u);
  EXPECT_EQ(g->stop, engine::StopReason::kMaxTokens);

  auto ref = model->new_session({});
  ASSERT_TRUE(ref.ok());
  std::vector<Token> ctx = prompt;
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE((*ref)->eval(ctx).ok());
    const auto l = (*ref)->last_logits();
    const Token best = static_cast<Token>(std::max_element(l.begin(), l.end()) - l.begin());
    EXPECT_EQ(best, g->tokens[i]) << "step " << i;
    ctx.push_back(best);
  }
  // The text is the streamed detokenization of the tokens.
  engine::StreamDetokenizer detok(model->tokenizer());
  std::string text;
  for (Token t : g->tokens) text += detok.push(t);
  text += detok.flush();
  EXPECT_EQ(g->text, text);
  // Prefix reuse across calls: the cache still holds the prompt (and the generated tokens
  // but the last); only the last prompt token is run again, for its logits.
  auto again = (*s)->generate(prompt, go);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->prompt.n_reused, 11);
  EXPECT_EQ(again->prompt.n_evaluated, 1);
  EXPECT_EQ(again->tokens, g->tokens);
}

// Prompt-lookup speculative decoding changes how many evaluations a generation takes, never
// its tokens: on dense and MoE fixtures, F32 and quantized (legacy and K-quants, whose rows
// sit in tiles of other shapes in a batch than in decode), with prompts that repeat (so
// drafts are made and some accepted), at max_tokens boundaries and with a context that fills.
TEST(Generate, PromptLookupGivesExactlyTheGreedyTokens) {
  int drafted = 0, accepted = 0;
  for (const char* name :
       {"tiny-qwen2.f32.gguf", "tiny-llama.f32.gguf", "tiny-qwen2.q4_1.gguf", "tiny-llama.q4_k_m.gguf",
        "tiny-qwen3moe.f32.gguf", "tiny-deepseek2-lite.f32.gguf", "tiny-deepseek2-lite.q4_k_m.gguf"}) {
    auto model = load(name);
    ASSERT_TRUE(model);
    for (int seed : {3, 4, 5}) {
      std::vector<Token> prompt;
      const auto unit = some_tokens(7 + seed, seed);
      for (int r = 0; r < 3; ++r) prompt.insert(prompt.end(), unit.begin(), unit.end());
      for (int max_tokens : {1, 2, 5, 40}) {
        for (int n_ctx : {0, static_cast<int>(prompt.size()) + 9}) {
          SCOPED_TRACE(testing::Message() << name << " seed " << seed << " max_tokens " << max_tokens << " n_ctx "
                                          << n_ctx);
          engine::SessionOptions so;
          so.n_ctx = n_ctx;
          auto plain = model->new_session(so);
          auto spec = model->new_session(so);
          ASSERT_TRUE(plain.ok() && spec.ok());
          engine::GenerateOptions go;
          go.max_tokens = max_tokens;
          go.stop_at_end_of_generation = false;
          auto a = (*plain)->generate(prompt, go);
          go.draft_max = 8;
          auto b = (*spec)->generate(prompt, go);
          ASSERT_TRUE(a.ok() && b.ok());
          EXPECT_EQ(b->tokens, a->tokens);
          EXPECT_EQ(b->text, a->text);
          EXPECT_EQ(b->stop, a->stop);
          EXPECT_EQ(a->n_drafted, 0);
          EXPECT_LE(b->n_accepted, b->n_drafted);
          EXPECT_LE(b->n_decode_steps, a->n_decode_steps);
          drafted += b->n_drafted;
          accepted += b->n_accepted;
          // The session stays usable: the next generation reuses the cached prefix.
          auto again = (*spec)->generate(prompt, go);
          ASSERT_TRUE(again.ok());
          EXPECT_EQ(again->tokens, a->tokens);
        }
      }
    }
  }
  EXPECT_GT(drafted, 0);
  EXPECT_GT(accepted, 0) << "repeated prompts: some drafts must match";
}

TEST(Generate, PromptLookupIsOffWhenSamplingIsNotPlainGreedy) {
  auto model = load("tiny-qwen2.f32.gguf");
  ASSERT_TRUE(model);
  std::vector<Token> prompt;
  const auto unit = some_tokens(8, 1);
  for (int r = 0; r < 3; ++r) prompt.insert(prompt.end(), unit.begin(), unit.end());
  engine::GenerateOptions go;
  go.max_tokens = 20;
  go.stop_at_end_of_generation = false;
  go.draft_max = 8;
  go.sampling.temperature = 0.7f;
  go.sampling.seed = 5;
  auto s = model->new_session({});
  ASSERT_TRUE(s.ok());
  auto r = (*s)->generate(prompt, go);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->n_drafted, 0);
  go.sampling.temperature = 0.0f;
  go.sampling.repeat_penalty = 1.3f;
  r = (*s)->generate(prompt, go);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->n_drafted, 0) << "penalties depend on the history: no speculation";
}

TEST(Generate, SeededSamplingIsReproducible) {
  auto model = load("tiny-llama.f32.gguf");
  ASSERT_TRUE(model);
  auto s = model->new_session({});
  ASSERT_TRUE(s.ok());
  engine::GenerateOptions go;
  go.max_tokens = 24;
  go.stop_at_end_of_generation = false;
  go.sampling.temperature = 1.5f;
  go.sampling.seed = 7;
  const auto prompt = some_tokens(5, 10);
  auto a = (*s)->generate(prompt, go);
  auto b = (*s)->generate(prompt, go);
  go.sampling.seed = 8;
  auto c = (*s)->generate(prompt, go);
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->tokens, b->tokens);
  EXPECT_NE(a->tokens, c->tokens);
}

// A stop string that spans two tokens ends the text right before it, and the streamed
// text never shows any of it.
TEST(Generate, StopStringSplitAcrossTokens) {
  auto model = load("tiny-llama.f32.gguf");
  ASSERT_TRUE(model);
  const engine::Tokenizer& tok = model->tokenizer();
  auto s = model->new_session({});
  ASSERT_TRUE(s.ok());
  engine::GenerateOptions go;
  go.max_tokens = 40;
  go.stop_at_end_of_generation = false;
  go.sampling.temperature = 1.0f;
  go.sampling.seed = 3;
  const auto prompt = some_tokens(4, 11);
  auto free_run = (*s)->generate(prompt, go);
  ASSERT_TRUE(free_run.ok());
  // A boundary between two printable multi-character pieces, at least 3 tokens in.
  size_t k = 0;
  std::string stop;
  for (size_t i = 3; i + 1 < free_run->tokens.size(); ++i) {
    const std::string p1 = tok.piece(free_run->tokens[i]);
    const std::string p2 = tok.piece(free_run->tokens[i + 1]);
    auto printable = [](const std::string& p) {
      return p.size() >= 2 && std::all_of(p.begin(), p.end(), [](char ch) { return ch > 32 && ch < 127; });
    };
    if (printable(p1) && printable(p2)) {
      k = i;
      stop = p1.substr(p1.size() - 2) + p2.substr(0, 2);
      break;
    }
  }
  ASSERT_FALSE(stop.empty()) << "no suitable boundary in: " << free_run->text;
  const std::string expected = free_run->text.substr(0, free_run->text.find(stop));

  go.stop_strings = {stop};
  std::string streamed;
  int n_calls = 0;
  auto r = (*s)->generate(prompt, go, [&](std::string_view text, Token) {
    streamed += text;
    ++n_calls;
    return true;
  });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop, engine::StopReason::kStopString);
  EXPECT_EQ(r->text, expected);
  EXPECT_EQ(streamed, expected);
  EXPECT_EQ(n_calls, static_cast<int>(r->tokens.size()));
  EXPECT_LE(r->tokens.size(), k + 2);
}

TEST(Generate, StopTokenAndCallbackStop) {
  auto model = load("tiny-qwen2.f32.gguf");
  ASSERT_TRUE(model);
  auto s = model->new_session({});
  ASSERT_TRUE(s.ok());
  engine::GenerateOptions go;
  go.max_tokens = 12;
  go.stop_at_end_of_generation = false;
  const auto prompt = some_tokens(6, 12);
  auto free_run = (*s)->generate(prompt, go);
  ASSERT_TRUE(free_run.ok());
  ASSERT_EQ(free_run->tokens.size(), 12u);
  // Stop at the first occurrence of the 5th token.
  const Token t5 = free_run->tokens[4];
  const size_t first = std::find(free_run->tokens.begin(), free_run->tokens.end(), t5) - free_run->tokens.begin();
  go.stop_tokens = {t5};
  auto r = (*s)->generate(prompt, go);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop, engine::StopReason::kStopToken);
  EXPECT_EQ(r->tokens.size(), first);
  // A callback returning false stops after that token.
  go.stop_tokens.clear();
  int calls = 0;
  r = (*s)->generate(prompt, go, [&](std::string_view, Token) { return ++calls < 3; });
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->stop, engine::StopReason::kCallback);
  EXPECT_EQ(r->tokens.size(), 3u);
}

// Cancellation from another thread stops the generation within one token.
TEST(Generate, CancelFromAnotherThreadStopsWithinOneToken) {
  auto model = load("tiny-llama.f32.gguf");
  ASSERT_TRUE(model);
  auto s = model->new_session({});
  ASSERT_TRUE(s.ok());
  engine::GenerateOptions go;
  go.max_tokens = 3000;
  go.stop_at_end_of_generation = false;
  go.sampling.temperature = 1.0f;
  engine::CancelToken cancel;
  std::atomic<int> n_tokens{0};
  engine::GenerateResult result;
  std::thread gen([&] {
    auto r = (*s)->generate(some_tokens(8, 13), go,
                            [&](std::string_view, Token) {
                              n_tokens.fetch_add(1);
                              return true;
                            },
                            &cancel);
    ASSERT_TRUE(r.ok());
    result = std::move(*r);
  });
  while (n_tokens.load() < 20) std::this_thread::sleep_for(std::chrono::microseconds(50));
  cancel.cancel();
  const int at_cancel = n_tokens.load();
  gen.join();
  EXPECT_EQ(result.stop, engine::StopReason::kCancelled);
  EXPECT_GE(static_cast<int>(result.tokens.size()), at_cancel);
  EXPECT_LE(static_cast<int>(result.tokens.size()), at_cancel + 1);
  // A cancelled eval keeps a consistent prefix and the session goes on working.
  engine::CancelToken pre;
  pre.cancel();
  engine::SessionOptions so;
  so.n_batch = 8;
  auto s2 = model->new_session(so);
  ASSERT_TRUE(s2.ok());
  auto e = (*s2)->eval(some_tokens(40, 14), engine::EvalOptions{}, &pre);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().code(), ErrorCode::kCancelled);
  EXPECT_EQ((*s2)->cached_tokens().size(), 0u);
  EXPECT_TRUE((*s2)->eval(some_tokens(40, 14)).ok());
}

TEST(Generate, EndOfGenerationTokenStops) {
  auto model = load("tiny-llama.f32.gguf");
  ASSERT_TRUE(model);
  const Token eos = model->tokenizer().special().eos;
  ASSERT_EQ(eos, 507);
  ASSERT_TRUE(model->tokenizer().is_end_of_generation(eos));
  // Hot sampling reaches EOS within 200 tokens for some of these seeds.
  auto s = model->new_session({});
  ASSERT_TRUE(s.ok());
  engine::GenerateOptions go;
  go.max_tokens = 200;
  go.sampling.temperature = 2.0f;
  go.sampling.top_k = 0;
  go.sampling.top_p = 1.0f;
  bool saw_eog = false;
  for (uint64_t seed = 0; seed < 40 && !saw_eog; ++seed) {
    go.sampling.seed = seed;
    auto r = (*s)->generate(some_tokens(4, 15), go);
    ASSERT_TRUE(r.ok());
    if (r->stop == engine::StopReason::kEndOfGeneration) {
      saw_eog = true;
      EXPECT_EQ(std::count(r->tokens.begin(), r->tokens.end(), eos), 0);
    } else {
      EXPECT_EQ(r->stop, engine::StopReason::kMaxTokens);
    }
  }
  EXPECT_TRUE(saw_eog);
}

}  // namespace
}  // namespace moecode
