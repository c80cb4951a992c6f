// Continuous batching (see batch.h and moecode/engine/batch.h).
#include "engine/runtime/batch.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/model/kv_cache.h"
#include "engine/runtime/sampler.h"
#include "engine/runtime/stop_strings.h"

namespace moecode::runtime {

namespace {

using engine::BatchRequest;
using engine::BatchStats;
using engine::GenerateResult;
using engine::StopReason;
using engine::Token;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// A request in a slot: what Session::generate keeps in its locals, kept across steps.
struct Active {
  Active(BatchRequest r, int32_t n_vocab, const engine::Tokenizer* tok)
      : req(std::move(r)), sampler(req.options.sampling, n_vocab), stop(req.options.stop_strings) {
    if (tok) detok.emplace(*tok);
    history = req.prompt;
  }
  BatchRequest req;
  Sampler sampler;
  StopMatcher stop;
  std::optional<engine::StreamDetokenizer> detok;
  std::vector<Token> history;  // prompt + generated (penalties)
  std::vector<Token> pending;  // to evaluate at the next steps
  bool reading_prompt = true;
  GenerateResult result;
  Clock::time_point t0 = Clock::now();
  Clock::time_point t1;
};

struct Slot {
  std::unique_ptr<model::KvCache> cache;
  std::vector<Token> tokens;  // what the cache holds, position by position
  std::unique_ptr<Active> active;
  uint64_t last_used = 0;
};

class BatchImpl final : public engine::BatchGenerator {
 public:
  BatchImpl(std::shared_ptr<ModelState> state, const BatchConfig& config, std::vector<Slot> slots,
            std::unique_ptr<backend::Buffer> scratch)
      : state_(std::move(state)),
        config_(config),
        n_vocab_(state_->arch->hparams().n_vocab),
        slots_(std::move(slots)),
        scratch_(std::move(scratch)),
        logits_(static_cast<size_t>(config_.n_slots) * static_cast<size_t>(n_vocab_)) {
    thread_ = std::thread([this] { loop(); });
  }

  ~BatchImpl() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void submit(BatchRequest request) override {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queue_.push_back(std::move(request));
        cv_.notify_all();
        return;
      }
    }
    if (request.on_done) request.on_done(make_error(ErrorCode::kCancelled, "the batch generator is stopping"));
  }

  BatchStats stats() const override {
    std::lock_guard lock(mu_);
    BatchStats s = stats_;
    s.n_active = n_active_;
    s.n_queued = static_cast<int>(queue_.size());
    return s;
  }
  int n_slots() const override { return config_.n_slots; }
  int n_ctx() const override { return config_.n_ctx; }

 private:
  void loop();
  // Moves queued requests into free slots (the caller holds mu_).
  void admit_locked(std::vector<std::pair<Slot*, BatchRequest>>& admitted);
  void start(Slot& slot, BatchRequest req);
  // After a step that evaluated the slot's last pending token: sample, stream, decide.
  void advance(Slot& slot, std::span<const float> logits);
  void finish(Slot& slot, StopReason stop);
  bool emit(Active& a, const std::string& text, Token t) {
    a.result.text += text;
    return !a.req.on_text || a.req.on_text(text, t);
  }

  std::shared_ptr<ModelState> state_;
  BatchConfig config_;
  int64_t n_vocab_;
  std::vector<Slot> slots_;
  std::unique_ptr<backend::Buffer> scratch_;
  std::vector<float> logits_;  // [n_slots, n_vocab]
  uint64_t clock_ = 0;         // for least-recently-used slots
  size_t next_prefill_ = 0;    // round robin among prompts being read

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<BatchRequest> queue_;
  bool stopping_ = false;
  int n_active_ = 0;  // guarded by mu_ (written by the thread)
  BatchStats stats_;
  std::thread thread_;
};

void BatchImpl::admit_locked(std::vector<std::pair<Slot*, BatchRequest>>& admitted) {
  while (!queue_.empty()) {
    const BatchRequest& r = queue_.front();
    Slot* best = nullptr;
    size_t best_common = 0;
    for (Slot& s : slots_) {
      if (s.active) continue;
      bool taken = false;
      for (auto& [slot, req] : admitted) taken = taken || slot == &s;
      if (taken) continue;
      size_t p = 0;
      while (p < r.prompt.size() && p < s.tokens.size() && r.prompt[p] == s.tokens[p]) ++p;
      if (!best || p > best_common || (p == best_common && s.last_used < best->last_used)) {
        best = &s;
        best_common = p;
      }
    }
    if (!best) return;
    admitted.emplace_back(best, std::move(queue_.front()));
    queue_.pop_front();
  }
}

void BatchImpl::start(Slot& slot, BatchRequest req) {
  if (req.prompt.empty() || req.prompt.size() > static_cast<size_t>(config_.n_ctx)) {
    const std::string why = req.prompt.empty() ? "generate: the prompt is empty"
                                               : std::to_string(req.prompt.size()) +
                                                     " tokens do not fit the context of " +
                                                     std::to_string(config_.n_ctx);
    if (req.on_done) req.on_done(make_error(req.prompt.empty() ? ErrorCode::kInvalidArgument : ErrorCode::kOutOfRange, why));
    return;
  }
  for (Token t : req.prompt) {
    if (t < 0 || t >= n_vocab_) {
      if (req.on_done) {
        req.on_done(make_error(ErrorCode::kInvalidArgument, "token id " + std::to_string(t) + " is out of range [0, " +
                                                                std::to_string(n_vocab_) + ")"));
      }
      return;
    }
  }
  slot.active = std::make_unique<Active>(std::move(req), static_cast<int32_t>(n_vocab_), state_->tokenizer.get());
  Active& a = *slot.active;
  const std::vector<Token>& prompt = a.req.prompt;
  size_t p = 0;
  while (p < prompt.size() && p < slot.tokens.size() && prompt[p] == slot.tokens[p]) ++p;
  if (p == prompt.size()) --p;  // the last token is evaluated again, for its logits
  slot.tokens.resize(p);
  a.pending.assign(prompt.begin() + static_cast<long>(p), prompt.end());
  a.result.prompt.n_reused = static_cast<int>(p);
  a.result.prompt.n_tokens = static_cast<int>(prompt.size());
  a.result.prompt.n_evaluated = static_cast<int>(prompt.size() - p);
  a.result.tokens.reserve(static_cast<size_t>(std::max(a.req.options.max_tokens, 0)));
  slot.last_used = ++clock_;
  std::lock_guard lock(mu_);
  stats_.n_reused += p;
}

void BatchImpl::finish(Slot& slot, StopReason stop) {
  Active& a = *slot.active;
  a.result.stop = stop;
  if (a.reading_prompt) {
    a.result.prompt_ms = ms_since(a.t0);
    a.t1 = Clock::now();
  }
  if (a.detok && stop != StopReason::kStopString && stop != StopReason::kCallback && stop != StopReason::kCancelled) {
    const StopMatcher::Output out = a.stop.push(a.detok->flush());
    std::string rest = out.text + (out.stopped ? "" : a.stop.flush());
    if (out.stopped) a.result.stop = StopReason::kStopString;
    if (!rest.empty()) {
      const Token last = a.result.tokens.empty() ? engine::kNoToken : a.result.tokens.back();
      if (!emit(a, rest, last)) a.result.stop = StopReason::kCallback;
    }
  }
  a.result.prompt.ms = a.result.prompt_ms;
  a.result.generate_ms = ms_since(a.t1);
  std::unique_ptr<Active> done = std::move(slot.active);
  slot.last_used = ++clock_;
  {
    std::lock_guard lock(mu_);
    ++stats_.n_requests;
    --n_active_;
  }
  if (done->req.on_done) done->req.on_done(std::move(done->result));
}

void BatchImpl::advance(Slot& slot, std::span<const float> logits) {
  Active& a = *slot.active;
  const engine::GenerateOptions& o = a.req.options;
  if (a.reading_prompt) {
    a.reading_prompt = false;
    a.result.prompt_ms = ms_since(a.t0);
    a.t1 = Clock::now();
  }
  if (a.req.cancel.cancelled()) return finish(slot, StopReason::kCancelled);
  if (static_cast<int>(a.result.tokens.size()) >= o.max_tokens) return finish(slot, StopReason::kMaxTokens);
  const engine::Tokenizer* tok = state_->tokenizer.get();
  const Token t = a.sampler.sample(logits, a.history);
  if (o.stop_at_end_of_generation && tok && tok->is_end_of_generation(t)) return finish(slot, StopReason::kEndOfGeneration);
  if (std::find(o.stop_tokens.begin(), o.stop_tokens.end(), t) != o.stop_tokens.end()) {
    return finish(slot, StopReason::kStopToken);
  }
  a.result.tokens.push_back(t);
  a.history.push_back(t);
  const StopMatcher::Output out = a.detok ? a.stop.push(a.detok->push(t)) : StopMatcher::Output{};
  if (!emit(a, out.text, t)) return finish(slot, StopReason::kCallback);
  if (out.stopped) return finish(slot, StopReason::kStopString);
  if (static_cast<int>(a.result.tokens.size()) >= o.max_tokens) return finish(slot, StopReason::kMaxTokens);
  if (slot.tokens.size() >= static_cast<size_t>(config_.n_ctx)) return finish(slot, StopReason::kContextFull);
  a.pending.assign(1, t);  // decode: the token goes through the model at the next step
}

void BatchImpl::loop() {
  std::vector<model::SeqSpan> seqs;
  std::vector<Token> tokens;
  std::vector<std::pair<Slot*, size_t>> in_step;  // slot, tokens taken from its pending
  for (;;) {
    std::vector<std::pair<Slot*, BatchRequest>> admitted;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty() || n_active_ > 0; });
      if (stopping_) break;
      admit_locked(admitted);
      n_active_ += static_cast<int>(admitted.size());
    }
    for (auto& [slot, req] : admitted) {
      start(*slot, std::move(req));
      if (!slot->active) {
        std::lock_guard lock(mu_);
        --n_active_;
      }
    }
    // Cancelled requests leave now; the caches keep what they evaluated.
    for (Slot& s : slots_) {
      if (s.active && s.active->req.cancel.cancelled()) finish(s, StopReason::kCancelled);
    }

    // The step: one token of every decoding request, then chunks of prompts being read.
    seqs.clear();
    tokens.clear();
    in_step.clear();
    int budget = config_.n_batch;
    auto take = [&](Slot& s, size_t n) {
      model::SeqSpan span;
      span.cache = s.cache.get();
      span.pos0 = static_cast<int64_t>(s.tokens.size());
      span.offset = static_cast<int64_t>(tokens.size());
      span.n_tokens = static_cast<int64_t>(n);
      tokens.insert(tokens.end(), s.active->pending.begin(), s.active->pending.begin() + static_cast<long>(n));
      seqs.push_back(span);
      in_step.emplace_back(&s, n);
      budget -= static_cast<int>(n);
    };
    for (Slot& s : slots_) {
      if (s.active && !s.active->reading_prompt && !s.active->pending.empty() && budget > 0) take(s, 1);
    }
    for (size_t k = 0; k < slots_.size() && budget > 0; ++k) {
      Slot& s = slots_[(next_prefill_ + k) % slots_.size()];
      if (!s.active || !s.active->reading_prompt || s.active->pending.empty()) continue;
      take(s, std::min<size_t>(s.active->pending.size(), static_cast<size_t>(budget)));
    }
    next_prefill_ = (next_prefill_ + 1) % slots_.size();
    if (seqs.empty()) continue;

    backend::Mat logits = backend::make_mat(logits_.data(), static_cast<int64_t>(seqs.size()), n_vocab_);
    {
      std::lock_guard lock(state_->compute);
      model::Arena arena(static_cast<float*>(scratch_->data()), scratch_->size() / sizeof(float));
      model::MultiBatch mb{tokens, seqs};
      state_->arch->forward_multi(*state_->backend, arena, &state_->moe_stats, mb, logits);
    }
    {
      std::lock_guard lock(mu_);
      ++stats_.n_steps;
      stats_.n_tokens += tokens.size();
      if (seqs.size() > 1) ++stats_.n_multi_steps;
      stats_.max_seqs_per_step = std::max(stats_.max_seqs_per_step, static_cast<int>(seqs.size()));
    }
    for (size_t i = 0; i < in_step.size(); ++i) {
      auto [slot, n] = in_step[i];
      Active& a = *slot->active;
      slot->tokens.insert(slot->tokens.end(), a.pending.begin(), a.pending.begin() + static_cast<long>(n));
      a.pending.erase(a.pending.begin(), a.pending.begin() + static_cast<long>(n));
      if (a.pending.empty()) {
        advance(*slot, std::span<const float>(logits_.data() + i * static_cast<size_t>(n_vocab_),
                                              static_cast<size_t>(n_vocab_)));
      } else if (a.req.cancel.cancelled()) {
        finish(*slot, StopReason::kCancelled);
      }
    }
  }
  // Stopping: everything running or queued is answered.
  for (Slot& s : slots_) {
    if (s.active) finish(s, StopReason::kCancelled);
  }
  std::deque<BatchRequest> left;
  {
    std::lock_guard lock(mu_);
    left.swap(queue_);
  }
  for (BatchRequest& r : left) {
    if (r.on_done) r.on_done(make_error(ErrorCode::kCancelled, "the batch generator is stopping"));
  }
}

}  // namespace

Result<std::unique_ptr<engine::BatchGenerator>> make_batch_generator(std::shared_ptr<ModelState> state,
                                                                    const BatchConfig& config) {
  if (config.n_slots < 1 || config.n_slots > 256) {
    return make_error(ErrorCode::kInvalidArgument, "batch: n_slots " + std::to_string(config.n_slots) + " is out of range 1..256");
  }
  if (config.n_batch < config.n_slots) {
    return make_error(ErrorCode::kInvalidArgument, "batch: n_batch " + std::to_string(config.n_batch) +
                                                       " must be at least n_slots " + std::to_string(config.n_slots));
  }
  std::vector<Slot> slots(static_cast<size_t>(config.n_slots));
  for (Slot& s : slots) {
    MOE_TRY(s.cache, model::KvCache::create(*state->backend, state->arch->kv_layout(), config.n_ctx, config.kv_type));
  }
  const size_t scratch_bytes = state->arch->scratch_floats_multi(config.n_batch, config.n_slots) * sizeof(float);
  auto scratch = state->backend->alloc(scratch_bytes);
  if (!scratch) {
    return make_error(ErrorCode::kOutOfRange, "cannot allocate " + std::to_string(scratch_bytes >> 20) +
                                                  " MiB of scratch memory for batches of " +
                                                  std::to_string(config.n_batch) + " tokens");
  }
  return std::unique_ptr<engine::BatchGenerator>(
      std::make_unique<BatchImpl>(std::move(state), config, std::move(slots), std::move(scratch)));
}

}  // namespace moecode::runtime
