// CPU backend micro-benchmarks (CPU time, so they stay meaningful on a shared machine):
// matmuls of SmolLM2-135M's shapes (576 wide, FFN 1536, vocab 49152) per weight type, for
// one token (decode) and a batch (prefill), through the backend's matmul (activation
// conversion + tiles) on one thread; and, with the default model present, one decode step
// and one 64-token prefill of the whole model.
#include <benchmark/benchmark.h>

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/vec.h"
#include "engine/quant/kernels.h"
#include "moecode/engine/model.h"

namespace {

using moecode::backend::MatmulJob;
using moecode::backend::Weight;
using moecode::quant::GgmlType;

struct Fixture {
  std::vector<uint8_t> bytes;
  Weight w;
  std::vector<float> x, y;
};

Fixture make(GgmlType type, int64_t n_in, int64_t n_out, int64_t n_tok) {
  Fixture f;
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  std::vector<float> row(n_in);
  const size_t rb = moecode::quant::row_size(type, n_in);
  f.bytes.resize(rb * n_out);
  for (int64_t r = 0; r < n_out; ++r) {
    for (auto& v : row) v = d(rng);
    moecode::quant::type_traits(type).from_float(row.data(), f.bytes.data() + r * rb, n_in);
  }
  f.w = {f.bytes.data(), type, n_in, n_out, 1, rb, "w"};
  f.x.resize(n_in * n_tok);
  for (auto& v : f.x) v = d(rng);
  f.y.resize(n_out * n_tok);
  return f;
}

void BM_Matmul(benchmark::State& state, GgmlType type, int64_t n_in, int64_t n_out) {
  const int64_t n_tok = state.range(0);
  Fixture f = make(type, n_in, n_out, n_tok);
  auto be = moecode::backend::make_cpu_backend({1});
  const MatmulJob job{&f.w, nullptr, moecode::backend::make_mat(f.y.data(), n_tok, n_out)};
  for (auto _ : state) {
    be->matmul({&job, 1}, moecode::backend::make_mat(f.x.data(), n_tok, n_in));
    benchmark::DoNotOptimize(f.y.data());
  }
  // Weight blocks of 32 multiplied per second (each by every token).
  state.counters["blocks/s"] =
      benchmark::Counter(static_cast<double>(n_in / 32 * n_out * n_tok), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(BM_Matmul, q4_1_ffn_up, GgmlType::Q4_1, 576, 1536)->Arg(1)->Arg(64);
BENCHMARK_CAPTURE(BM_Matmul, q4_1_ffn_down, GgmlType::Q4_1, 1536, 576)->Arg(1)->Arg(64);
BENCHMARK_CAPTURE(BM_Matmul, q8_0_output, GgmlType::Q8_0, 576, 49152)->Arg(1);
BENCHMARK_CAPTURE(BM_Matmul, q8_0_ffn_up, GgmlType::Q8_0, 576, 1536)->Arg(1)->Arg(64);
BENCHMARK_CAPTURE(BM_Matmul, q4_0_ffn_up, GgmlType::Q4_0, 576, 1536)->Arg(1)->Arg(64);
BENCHMARK_CAPTURE(BM_Matmul, q4_k_ffn_up, GgmlType::Q4_K, 768, 1536)->Arg(1)->Arg(64);
BENCHMARK_CAPTURE(BM_Matmul, f32_ffn_up, GgmlType::F32, 576, 1536)->Arg(1)->Arg(64);

// Decode matvec over a weight far larger than the caches (DeepSeek-V2-Lite's 2048-wide rows,
// 128 MiB and up), as in an MoE model's decode step where every weight comes from DRAM: the
// figure is weight bytes read per second, wall time, the backend's own threads (args: rows,
// threads; 512 rows stay in L2, the kernel's own speed). 64 quantized rows repeated fill the
// matrix (quantizing all of it takes long).
void BM_MatvecDram(benchmark::State& state, GgmlType type) {
  const int64_t n_in = 2048, n_out = state.range(0);
  Fixture f = make(type, n_in, 64, 1);
  const size_t rb = f.w.row_bytes;
  // In transparent huge pages, as the engine keeps a model's weights (gguf::Residence::kCopied).
  const size_t size = rb * n_out, huge = size_t{2} << 20;
  const size_t mapped = (size + huge - 1) / huge * huge;
  std::unique_ptr<uint8_t, void (*)(uint8_t*)> bytes(static_cast<uint8_t*>(std::aligned_alloc(huge, mapped)),
                                                     [](uint8_t* p) { std::free(p); });
  if (bytes == nullptr) {
    state.SkipWithError("no memory for the matrix");
    return;
  }
  ::madvise(bytes.get(), mapped, MADV_HUGEPAGE);
  for (int64_t r = 0; r < n_out; ++r) std::memcpy(bytes.get() + r * rb, f.bytes.data() + (r % 64) * rb, rb);
  const Weight w{bytes.get(), type, n_in, n_out, 1, rb, "w"};
  std::vector<float> y(n_out);
  auto be = moecode::backend::make_cpu_backend({static_cast<int>(state.range(1))});
  const MatmulJob job{&w, nullptr, moecode::backend::make_mat(y.data(), 1, n_out)};
  for (auto _ : state) {
    be->matmul({&job, 1}, moecode::backend::make_mat(f.x.data(), 1, n_in));
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["B/s"] =
      benchmark::Counter(static_cast<double>(size), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK_CAPTURE(BM_MatvecDram, q6_k, GgmlType::Q6_K)
    ->Args({102400, 1})
    ->Args({102400, 2})
    ->Args({512, 1})
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_MatvecDram, q4_k, GgmlType::Q4_K)
    ->Args({131072, 1})
    ->Args({131072, 2})
    ->Args({512, 1})
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_MatvecDram, q5_0, GgmlType::Q5_0)
    ->Args({98304, 1})
    ->Args({98304, 2})
    ->Args({512, 1})
    ->UseRealTime();

// Decode attention of one token over an F16 KV cache, SmolLM2-135M's shape (9 query heads, 3
// KV heads of 64), for each of its 30 layers: a distinct cache per layer, so that, as in a
// real decode step, keys and values come from memory rather than the CPU caches. Wall time (the
// backend's own threads): args depth, threads, shape.
void BM_DecodeAttention(benchmark::State& state) {
  // Shape 0: SmolLM2-135M (30 layers, 9 query heads, 3 KV heads of 64); 1: Llama-3-8B's (32
  // layers, 32 query heads, 8 KV heads of 128).
  const bool large = state.range(2) == 1;
  const int kLayers = large ? 32 : 30, kHead = large ? 32 : 9;
  const int kHeadKv = large ? 8 : 3, kDim = large ? 128 : 64;
  const int64_t depth = state.range(0);
  const int64_t n_ctx = depth + 1;
  const int64_t width = kHeadKv * kDim;
  std::mt19937 rng(1);
  std::normal_distribution<float> d(0.0f, 1.0f);
  // One buffer from the backend for every layer's K and V, as the engine's KV cache.
  auto be = moecode::backend::make_cpu_backend({static_cast<int>(state.range(1))});
  const size_t bytes = static_cast<size_t>(n_ctx * width) * sizeof(uint16_t);
  const size_t span = (bytes + 63) / 64 * 64;
  auto buffer = be->alloc(2 * kLayers * span);
  auto* base = static_cast<uint8_t*>(buffer->data());
  for (size_t i = 0; i < bytes / 2 * 2 * kLayers; ++i) {
    reinterpret_cast<uint16_t*>(base + i / (bytes / 2) * span)[i % (bytes / 2)] =
        moecode::backend::cpu::float_to_half(d(rng));
  }
  auto k = [&](int l) { return base + (2 * l) * span; };
  auto v = [&](int l) { return base + (2 * l + 1) * span; };
  std::vector<float> q(kHead * kDim), out(kHead * kDim);
  for (auto& x : q) x = d(rng);
  for (auto _ : state) {
    for (int l = 0; l < kLayers; ++l) {
      moecode::backend::AttentionArgs a;
      a.q = moecode::backend::make_mat(q.data(), 1, kHead * kDim);
      a.k = {k(l), moecode::backend::CacheType::kF16, n_ctx, width};
      a.v = {v(l), moecode::backend::CacheType::kF16, n_ctx, width};
      a.out = moecode::backend::make_mat(out.data(), 1, kHead * kDim);
      a.n_head = kHead;
      a.n_head_kv = kHeadKv;
      a.head_dim_k = a.head_dim_v = kDim;
      a.pos0 = depth;
      a.scale = 0.125f;
      be->attention(a);
    }
    benchmark::DoNotOptimize(out.data());
  }
  // Bytes of K and V read per second.
  state.counters["KV B/s"] = benchmark::Counter(static_cast<double>(kLayers * 2 * n_ctx * width * 2),
                                                benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_DecodeAttention)
    ->Args({2048, 1, 0})
    ->Args({2048, 2, 0})
    ->Args({8192, 2, 0})
    ->Args({2048, 2, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// The whole default model, one thread.
std::string default_model() {
  if (const char* env = std::getenv("MOECODE_MODEL"); env && *env) return env;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : "/tmp") + "/.cache/moecode/models/default.gguf";
}

void BM_ModelStep(benchmark::State& state) {
  const int n_tok = static_cast<int>(state.range(0));
  if (!std::filesystem::exists(default_model())) {
    state.SkipWithError("default model not installed (scripts/setup)");
    return;
  }
  moecode::engine::LoadOptions lo;
  lo.n_threads = 1;
  auto model = moecode::engine::Model::load(default_model(), lo);
  if (!model.ok()) {
    state.SkipWithError(model.error().message().c_str());
    return;
  }
  auto s = (*model)->new_session({});
  std::vector<moecode::engine::Token> ids;
  for (int i = 0; i < 64 + n_tok; ++i) ids.push_back((i * 7919) % 49152);
  for (auto _ : state) {
    // Decode (n_tok = 1) after a 64-token context, or a prefill of n_tok tokens.
    state.PauseTiming();
    (*s)->truncate(0);
    if (n_tok == 1) (void)(*s)->eval(std::span(ids).first(64));
    state.ResumeTiming();
    auto r = (*s)->eval(n_tok == 1 ? std::span(ids).first(65) : std::span(ids).first(n_tok));
    benchmark::DoNotOptimize(r.ok());
  }
  state.counters["tok/s"] = benchmark::Counter(n_tok, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_ModelStep)->Arg(1)->Arg(64)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
