// SessionImpl: the public Session on top of an Arch (see session.h).
#include "engine/runtime/session.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <string>
#include <vector>

#include "engine/model/kv_cache.h"
#include "engine/runtime/sampler.h"
#include "engine/runtime/stop_strings.h"

namespace moecode::runtime {

namespace {

using engine::CancelToken;
using engine::EvalOptions;
using engine::EvalStats;
using engine::GenerateOptions;
using engine::GenerateResult;
using engine::StopReason;
using engine::Token;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

class SessionImpl final : public engine::Session {
 public:
  SessionImpl(std::shared_ptr<ModelState> state, const SessionConfig& config, std::unique_ptr<model::KvCache> cache,
              std::unique_ptr<backend::Buffer> scratch)
      : state_(std::move(state)),
        config_(config),
        n_vocab_(state_->arch->hparams().n_vocab),
        cache_(std::move(cache)),
        scratch_(std::move(scratch)) {
    tokens_.reserve(config_.n_ctx);
    last_logits_.resize(n_vocab_);
  }

  using engine::Session::eval;
  Result<EvalStats> eval(std::span<const Token> tokens, const EvalOptions& options,
                         const CancelToken* cancel) override;
  std::span<const float> last_logits() const override {
    if (!logits_valid_) return {};
    return last_logits_;
  }
  std::span<const float> all_logits() const override { return all_logits_; }
  Result<GenerateResult> generate(std::span<const Token> prompt, const GenerateOptions& options,
                                  const engine::TextCallback& on_text, const CancelToken* cancel) override;
  void truncate(int n_tokens) override {
    if (n_tokens < 0) n_tokens = 0;
    if (static_cast<size_t>(n_tokens) < tokens_.size()) {
      tokens_.resize(n_tokens);
      logits_valid_ = false;
    }
  }
  std::span<const Token> cached_tokens() const override { return tokens_; }
  int n_ctx() const override { return config_.n_ctx; }
  uint64_t n_tokens_evaluated() const override { return n_evaluated_; }
  engine::KvCacheType kv_type() const override {
    return config_.kv_type == backend::CacheType::kF16 ? engine::KvCacheType::kF16 : engine::KvCacheType::kF32;
  }

 private:
  // Runs tokens at the end of the cache, in batches; logits of the last token (or of all,
  // into `all`). Cancellation is checked between batches.
  Status run(std::span<const Token> tokens, float* all, model::RoutingTrace* trace, const CancelToken* cancel);
  Status check_tokens(std::span<const Token> tokens) const {
    for (Token t : tokens) {
      if (t < 0 || t >= n_vocab_)
        return make_error(ErrorCode::kInvalidArgument,
                          "token id " + std::to_string(t) + " is out of range [0, " + std::to_string(n_vocab_) + ")");
    }
    return Status();
  }

  std::shared_ptr<ModelState> state_;
  SessionConfig config_;
  int64_t n_vocab_;
  std::unique_ptr<model::KvCache> cache_;
  std::unique_ptr<backend::Buffer> scratch_;
  std::vector<Token> tokens_;       // what the cache holds, position by position
  std::vector<float> last_logits_;  // [n_vocab]
  bool logits_valid_ = false;       // last_logits_ belong to tokens_.back()
  std::vector<float> all_logits_;
  uint64_t n_evaluated_ = 0;
};

Status SessionImpl::run(std::span<const Token> tokens, float* all, model::RoutingTrace* trace,
                        const CancelToken* cancel) {
  size_t done = 0;
  while (done < tokens.size()) {
    if (cancel && cancel->cancelled()) return make_error(ErrorCode::kCancelled, "evaluation cancelled");
    const size_t n = std::min<size_t>(config_.n_batch, tokens.size() - done);
    model::Batch batch;
    batch.tokens = tokens.subspan(done, n);
    batch.pos0 = static_cast<int64_t>(tokens_.size());
    batch.logits_all = all != nullptr;
    backend::Mat logits = all ? backend::make_mat(all + done * n_vocab_, static_cast<int64_t>(n), n_vocab_)
                              : backend::make_mat(last_logits_.data(), 1, n_vocab_);
    {
      std::lock_guard<std::mutex> lock(state_->compute);
      model::ForwardContext ctx{*state_->backend, *cache_,
                                model::Arena(static_cast<float*>(scratch_->data()), scratch_->size() / sizeof(float)),
                                &state_->moe_stats, trace};
      state_->arch->forward(ctx, batch, logits);
    }
    tokens_.insert(tokens_.end(), batch.tokens.begin(), batch.tokens.end());
    n_evaluated_ += n;
    done += n;
    if (all) std::copy_n(all + (done - 1) * n_vocab_, n_vocab_, last_logits_.begin());
    logits_valid_ = true;
  }
  return Status();
}

Result<EvalStats> SessionImpl::eval(std::span<const Token> tokens, const EvalOptions& options,
                                    const CancelToken* cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  MOE_RETURN_IF_ERROR(check_tokens(tokens));
  if (tokens.size() > static_cast<size_t>(config_.n_ctx))
    return make_error(ErrorCode::kOutOfRange, std::to_string(tokens.size()) + " tokens do not fit the context of " +
                                                  std::to_string(config_.n_ctx));
  all_logits_.clear();
  if (options.experts) options.experts->layers.clear();
  // Longest common prefix with what the cache holds.
  size_t p = 0;
  while (p < tokens.size() && p < tokens_.size() && tokens[p] == tokens_[p]) ++p;
  EvalStats stats;
  const bool same = p == tokens.size() && p == tokens_.size();
  if (tokens.empty() || (same && logits_valid_ && !options.logits_all)) {
    truncate(static_cast<int>(p));
    stats.n_tokens = static_cast<int>(p);
    stats.n_reused = static_cast<int>(p);
    stats.ms = ms_since(t0);
    return stats;
  }
  // At least the last token is evaluated, for its logits.
  if (p == tokens.size()) --p;
  truncate(static_cast<int>(p));
  if (tokens_.size() == p) logits_valid_ = false;
  const std::span<const Token> rest = tokens.subspan(p);
  float* all = nullptr;
  if (options.logits_all) {
    all_logits_.resize(rest.size() * n_vocab_);
    all = all_logits_.data();
  }
  model::RoutingTrace trace;
  const Status st = run(rest, all, options.experts ? &trace : nullptr, cancel);
  if (options.experts) {
    const size_t k = static_cast<size_t>(trace.n_expert_used);
    for (const auto& [il, layer] : trace.layers) {
      auto& out = options.experts->layers[il];
      for (size_t t = 0; t < layer.margins.size(); ++t) {
        out.push_back({std::vector<int32_t>(layer.ids.begin() + t * k, layer.ids.begin() + (t + 1) * k),
                       layer.margins[t]});
      }
    }
  }
  stats.n_tokens = static_cast<int>(tokens_.size());
  stats.n_reused = static_cast<int>(p);
  stats.n_evaluated = static_cast<int>(tokens_.size() - p);
  stats.ms = ms_since(t0);
  if (!st.ok()) {
    if (all) all_logits_.resize(stats.n_evaluated * n_vocab_);
    return st.error();
  }
  return stats;
}

// Prompt lookup: the tokens that followed the latest earlier occurrence of the last 3 (else
// 2) tokens of `history`, at most `max` of them; empty when neither n-gram recurs.
void lookup_draft(std::span<const Token> history, int max, std::vector<Token>* draft) {
  draft->clear();
  const size_t len = history.size();
  for (size_t n : {size_t{3}, size_t{2}}) {
    if (len <= n) continue;
    const Token* tail = history.data() + len - n;
    // Latest start s < len - n with history[s, s + n) == tail and a token after it.
    for (size_t s = len - n; s-- > 0;) {
      if (!std::equal(tail, tail + n, history.data() + s)) continue;
      const size_t from = s + n;
      const size_t count = std::min(static_cast<size_t>(max), len - from);
      draft->assign(history.begin() + static_cast<std::ptrdiff_t>(from),
                    history.begin() + static_cast<std::ptrdiff_t>(from + count));
      return;
    }
  }
}

Result<GenerateResult> SessionImpl::generate(std::span<const Token> prompt, const GenerateOptions& options,
                                             const engine::TextCallback& on_text, const CancelToken* cancel) {
  GenerateResult result;
  const auto t0 = std::chrono::steady_clock::now();
  if (prompt.empty()) return make_error(ErrorCode::kInvalidArgument, "generate: the prompt is empty");
  auto stats = eval(prompt, EvalOptions{}, cancel);
  result.prompt_ms = ms_since(t0);
  if (!stats.ok()) {
    if (stats.error().code() != ErrorCode::kCancelled) return stats.error();
    result.stop = StopReason::kCancelled;
    return result;
  }
  result.prompt = *stats;

  const auto t1 = std::chrono::steady_clock::now();
  const engine::Tokenizer* tok = state_->tokenizer.get();
  Sampler sampler(options.sampling, static_cast<int32_t>(n_vocab_));
  StopMatcher stop(options.stop_strings);
  std::optional<engine::StreamDetokenizer> detok;
  if (tok) detok.emplace(*tok);
  std::vector<Token> history(prompt.begin(), prompt.end());
  history.reserve(prompt.size() + std::max(options.max_tokens, 0));
  result.tokens.reserve(std::max(options.max_tokens, 0));
  auto emit = [&](const std::string& text, Token t) {
    result.text += text;
    return !on_text || on_text(text, t);
  };

  // Speculation needs the choice to be a function of the logits alone.
  const engine::SamplingParams& sp = options.sampling;
  const bool speculate = options.draft_max > 0 && sp.temperature <= 0.0f && sp.repeat_penalty == 1.0f &&
                         sp.presence_penalty == 0.0f && sp.frequency_penalty == 0.0f;
  std::vector<Token> draft;
  std::vector<float> draft_logits;
  std::deque<Token> verified;  // accepted draft tokens: already in the cache, not yet emitted
  // Draft length, adapted to how well drafts have matched (a rejected draft token costs a
  // batch row): one more than the last accepted run, two more after a full match.
  int draft_len = std::min(options.draft_max, 2);

  result.stop = StopReason::kMaxTokens;
  bool stopped = false;
  for (int i = 0; i < options.max_tokens && !stopped; ++i) {
    if (cancel && cancel->cancelled()) {
      result.stop = StopReason::kCancelled;
      break;
    }
    const bool in_cache = !verified.empty();
    Token t;
    if (in_cache) {
      t = verified.front();
      verified.pop_front();
    } else {
      t = sampler.sample(last_logits_, history);
    }
    if (options.stop_at_end_of_generation && tok && tok->is_end_of_generation(t)) {
      result.stop = StopReason::kEndOfGeneration;
      break;
    }
    if (std::find(options.stop_tokens.begin(), options.stop_tokens.end(), t) != options.stop_tokens.end()) {
      result.stop = StopReason::kStopToken;
      break;
    }
    result.tokens.push_back(t);
    history.push_back(t);
    const StopMatcher::Output out = detok ? stop.push(detok->push(t)) : StopMatcher::Output{};
    if (!emit(out.text, t)) {
      result.stop = StopReason::kCallback;
      stopped = true;
    }
    if (out.stopped) {
      result.stop = StopReason::kStopString;
      stopped = true;
    }
    if (stopped || i + 1 == options.max_tokens) break;
    // An accepted draft token is in the cache already; what follows it is known.
    if (in_cache) continue;
    if (tokens_.size() >= static_cast<size_t>(config_.n_ctx)) {
      result.stop = StopReason::kContextFull;
      break;
    }
    // Decode: feed the token back (one-token batch; the cache grows by one).
    if (cancel && cancel->cancelled()) {
      result.stop = StopReason::kCancelled;
      break;
    }
    ++result.n_decode_steps;
    const int room = std::min(config_.n_ctx - static_cast<int>(tokens_.size()) - 1, options.max_tokens - i - 2);
    if (speculate && room > 0) lookup_draft(history, std::min(draft_len, room), &draft);
    if (!speculate || room <= 0 || draft.empty()) {
      const Token one[] = {t};
      MOE_RETURN_IF_ERROR(run(one, nullptr, nullptr, nullptr));
      continue;
    }
    // t and the draft in one batch, with the logits after each; keep the draft while it is
    // what greedy decoding picks, then drop the rest from the cache.
    std::vector<Token> batch = {t};
    batch.insert(batch.end(), draft.begin(), draft.end());
    draft_logits.resize(batch.size() * n_vocab_);
    MOE_RETURN_IF_ERROR(run(batch, draft_logits.data(), nullptr, nullptr));
    std::vector<Token> scratch_history;  // unused by greedy sampling without penalties
    size_t j = 0;
    while (j < draft.size() &&
           sampler.sample({draft_logits.data() + j * n_vocab_, static_cast<size_t>(n_vocab_)}, scratch_history) ==
               draft[j])
      ++j;
    result.n_drafted += static_cast<int>(draft.size());
    result.n_accepted += static_cast<int>(j);
    draft_len = j == draft.size() ? std::min(options.draft_max, draft_len + 2) : static_cast<int>(j) + 1;
    truncate(static_cast<int>(tokens_.size() - (draft.size() - j)));
    std::copy_n(draft_logits.data() + j * n_vocab_, n_vocab_, last_logits_.begin());
    logits_valid_ = true;
    verified.assign(draft.begin(), draft.begin() + static_cast<std::ptrdiff_t>(j));
  }
  if (detok && result.stop != StopReason::kStopString && result.stop != StopReason::kCallback) {
    const StopMatcher::Output out = stop.push(detok->flush());
    std::string rest = out.text + (out.stopped ? "" : stop.flush());
    if (out.stopped) result.stop = StopReason::kStopString;
    if (!rest.empty()) {
      const Token last = result.tokens.empty() ? engine::kNoToken : result.tokens.back();
      if (!emit(rest, last)) result.stop = StopReason::kCallback;
    }
  }
  result.generate_ms = ms_since(t1);
  return result;
}

}  // namespace

Result<std::unique_ptr<engine::Session>> make_session(std::shared_ptr<ModelState> state, const SessionConfig& config) {
  MOE_TRY(std::unique_ptr<model::KvCache> cache,
          model::KvCache::create(*state->backend, state->arch->kv_layout(), config.n_ctx, config.kv_type));
  const size_t scratch_bytes = state->arch->scratch_floats(config.n_batch) * sizeof(float);
  auto scratch = state->backend->alloc(scratch_bytes);
  if (!scratch) {
    return make_error(ErrorCode::kOutOfRange, "cannot allocate " + std::to_string(scratch_bytes >> 20) +
                                                  " MiB of scratch memory for batches of " +
                                                  std::to_string(config.n_batch) + " tokens");
  }
  return std::unique_ptr<engine::Session>(
      std::make_unique<SessionImpl>(std::move(state), config, std::move(cache), std::move(scratch)));
}

}  // namespace moecode::runtime

namespace moecode::engine {

const char* stop_reason_name(StopReason reason) {
  switch (reason) {
    case StopReason::kMaxTokens: return "max_tokens";
    case StopReason::kEndOfGeneration: return "end_of_generation";
    case StopReason::kStopToken: return "stop_token";
    case StopReason::kStopString: return "stop_string";
    case StopReason::kCallback: return "callback";
    case StopReason::kCancelled: return "cancelled";
    case StopReason::kContextFull: return "context_full";
  }
  return "unknown";
}

}  // namespace moecode::engine
