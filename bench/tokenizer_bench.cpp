// Tokenizer throughput on a large source file with the default model (SmolLM2, byte-level
// BPE, "smollm" pre-tokenizer): encode (word cache warm and cold), decode, streaming
// detokenization, and loading the tokenizer from the GGUF.
//   build/bench/tokenizer_bench [--benchmark_filter=...]
// Model: $MOECODE_MODEL or the default model; text: $MOECODE_BENCH_TEXT or the first of
// /usr/include/sqlite3.h, /usr/lib/python3.11/_pydecimal.py that exists.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "engine/tokenizer/bpe.h"
#include "moecode/engine/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using moecode::engine::StreamDetokenizer;
using moecode::engine::Token;
using moecode::engine::Tokenizer;

std::string model_path() {
  if (const char* m = std::getenv("MOECODE_MODEL"); m && *m) return m;
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const fs::path cache = xdg && *xdg ? fs::path(xdg) : fs::path(home ? home : "/tmp") / ".cache";
  return (cache / "moecode" / "models" / "default.gguf").string();
}

std::string text_path() {
  if (const char* t = std::getenv("MOECODE_BENCH_TEXT"); t && *t) return t;
  for (const char* p : {"/usr/include/sqlite3.h", "/usr/lib/python3.11/_pydecimal.py"}) {
    if (fs::exists(p)) return p;
  }
  return {};
}

struct Fixture {
  std::shared_ptr<const Tokenizer> tok;
  std::string text;
  std::vector<Token> ids;
  std::string error;
};

const Fixture& fixture() {
  static const Fixture f = [] {
    Fixture f;
    auto t = Tokenizer::load(model_path());
    if (!t.ok()) {
      f.error = t.error().message();
      return f;
    }
    f.tok = *t;
    const std::string path = text_path();
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    f.text = ss.str();
    if (f.text.empty()) f.error = "no benchmark text (set MOECODE_BENCH_TEXT)";
    f.ids = f.tok->encode(f.text, false, false);
    return f;
  }();
  return f;
}

bool ready(benchmark::State& state) {
  if (!fixture().error.empty()) {
    state.SkipWithError(fixture().error.c_str());
    return false;
  }
  return true;
}

void set_counters(benchmark::State& state) {
  const Fixture& f = fixture();
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * f.text.size()));
  state.counters["tokens"] = static_cast<double>(f.ids.size());
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(state.iterations() * f.ids.size()),
                                               benchmark::Counter::kIsRate);
}

// Repeated tokenization of the same text: the per-thread word cache is warm.
void BM_EncodeWarm(benchmark::State& state) {
  if (!ready(state)) return;
  const Fixture& f = fixture();
  for (auto _ : state) benchmark::DoNotOptimize(f.tok->encode(f.text, false, false));
  set_counters(state);
}
BENCHMARK(BM_EncodeWarm)->Unit(benchmark::kMillisecond);

// First-time tokenization: the word cache is emptied before every iteration.
void BM_EncodeCold(benchmark::State& state) {
  if (!ready(state)) return;
  const Fixture& f = fixture();
  for (auto _ : state) {
    state.PauseTiming();
    moecode::tokenizer::clear_bpe_word_cache();
    state.ResumeTiming();
    benchmark::DoNotOptimize(f.tok->encode(f.text, false, false));
  }
  set_counters(state);
}
BENCHMARK(BM_EncodeCold)->Unit(benchmark::kMillisecond);

void BM_Decode(benchmark::State& state) {
  if (!ready(state)) return;
  const Fixture& f = fixture();
  for (auto _ : state) benchmark::DoNotOptimize(f.tok->decode(f.ids));
  set_counters(state);
}
BENCHMARK(BM_Decode)->Unit(benchmark::kMillisecond);

void BM_StreamDetokenize(benchmark::State& state) {
  if (!ready(state)) return;
  const Fixture& f = fixture();
  for (auto _ : state) {
    StreamDetokenizer stream(*f.tok);
    size_t n = 0;
    for (Token t : f.ids) n += stream.push(t).size();
    n += stream.flush().size();
    benchmark::DoNotOptimize(n);
  }
  set_counters(state);
}
BENCHMARK(BM_StreamDetokenize)->Unit(benchmark::kMillisecond);

void BM_Load(benchmark::State& state) {
  if (!ready(state)) return;
  for (auto _ : state) benchmark::DoNotOptimize(Tokenizer::load(model_path()));
}
BENCHMARK(BM_Load)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
