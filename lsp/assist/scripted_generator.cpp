// A Generator without a model (see scripted_generator.h).
#include "lsp/assist/scripted_generator.h"

#include <chrono>
#include <thread>

namespace moecode::assist {

namespace {

constexpr size_t kChunk = 4;  // bytes per scripted "token"

// Splits `text` into pieces of up to kChunk bytes that never cut a UTF-8 character.
std::vector<std::string> pieces_of(const std::string& text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t end = std::min(text.size(), i + kChunk);
    while (end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) ++end;
    out.push_back(text.substr(i, end - i));
    i = end;
  }
  return out;
}

int chunks(size_t bytes) { return static_cast<int>((bytes + kChunk - 1) / kChunk); }

}  // namespace

ScriptedGenerator::ScriptedGenerator(Script script) : script_(std::move(script)) {}

int ScriptedGenerator::count_tokens(std::string_view text) const { return chunks(text.size()); }

SpecialTokenTexts ScriptedGenerator::special_tokens() const {
  SpecialTokenTexts t;
  if (script_.fim) {
    t.fim_prefix = "<fim_prefix>";
    t.fim_suffix = "<fim_suffix>";
    t.fim_middle = "<fim_middle>";
  }
  t.eos = "<eos>";
  return t;
}

bool ScriptedGenerator::has_special_token(std::string_view text) const {
  if (text == "<eos>") return true;
  return script_.fim && (text == "<fim_prefix>" || text == "<fim_suffix>" || text == "<fim_middle>");
}

std::string ScriptedGenerator::last_prompt() const {
  std::lock_guard lock(mu_);
  return last_prompt_;
}

bool ScriptedGenerator::wait_for_calls(int n, int timeout_ms) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return n_calls_.load() >= n; });
}

void ScriptedGenerator::on_start(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  on_start_ = std::move(fn);
}

Result<Generation> ScriptedGenerator::generate(const Prompt& prompt, const GenerationOptions& options,
                                               const StreamFn& on_piece, const CancelToken& cancel) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string rendered = prompt.render();
  std::function<void()> hook;
  Generation g;
  {
    std::lock_guard lock(mu_);
    last_prompt_ = rendered;
    size_t common = 0;
    while (common < rendered.size() && common < cache_.size() && rendered[common] == cache_[common]) ++common;
    g.n_prompt_tokens = chunks(rendered.size());
    g.n_cached_tokens = static_cast<int>(common / kChunk);
    cache_ = rendered;
    running_ = true;
    n_calls_.fetch_add(1);
    hook = on_start_;
  }
  cv_.notify_all();
  if (hook) hook();

  struct Done {
    std::atomic<bool>& flag;
    ~Done() { flag = false; }
  } done{running_};

  auto cancelled = [&]() -> Result<Generation> {
    n_cancelled_.fetch_add(1);
    return make_error(ErrorCode::kCancelled, "generation cancelled");
  };
  if (script_.prompt_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(script_.prompt_delay_ms));
  if (cancel.cancelled()) return cancelled();
  const auto t1 = std::chrono::steady_clock::now();
  g.prompt_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();

  const std::string* reply = &script_.fallback;
  for (const auto& r : script_.replies) {
    if (rendered.find(r.match) != std::string::npos) {
      reply = &r.text;
      break;
    }
  }
  std::string answer = *reply;
  g.finish = FinishReason::kStop;
  for (const auto& stop : options.stop_strings) {
    if (stop.empty()) continue;
    const size_t at = answer.find(stop);
    if (at != std::string::npos) answer.resize(at);
  }
  for (const std::string& piece : pieces_of(answer)) {
    if (g.n_generated_tokens >= options.max_tokens) {
      g.finish = FinishReason::kLength;
      break;
    }
    if (script_.token_delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(script_.token_delay_ms));
    if (cancel.cancelled()) return cancelled();
    ++g.n_generated_tokens;
    g.text += piece;
    if (on_piece && !on_piece(piece)) {
      g.finish = FinishReason::kCallback;
      break;
    }
  }
  {
    std::lock_guard lock(mu_);
    cache_ += g.text;
  }
  g.generate_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
  return g;
}

}  // namespace moecode::assist
