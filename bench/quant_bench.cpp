// Dot-product throughput of engine/quant per format and ISA (GB/s of weight bytes read), and
// the cost of quantizing one activation row. Single thread, one activation column, a weight
// matrix of ~8 MiB (larger than L2, so the figure is a streaming rate, like decode).
//   build/bench/quant_bench --benchmark_filter='Dot/Q4_0'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/quant/kernels.h"
#include "engine/quant/quantize.h"
#include "engine/quant/types.h"

namespace {

using moecode::quant::GgmlType;
using moecode::quant::Isa;
using moecode::quant::KernelTable;

constexpr GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                               GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                               GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = g(rng);
  return x;
}

// Weight matrix [n_rows, n] of `type`, about 8 MiB.
struct Matrix {
  int64_t n_rows = 0;
  size_t row_bytes = 0;
  std::vector<uint8_t> data;
};

Matrix make_matrix(GgmlType type, int64_t n) {
  Matrix m;
  m.row_bytes = moecode::quant::row_size(type, n);
  m.n_rows = std::max<int64_t>(1, static_cast<int64_t>((8u << 20) / m.row_bytes));
  m.data.resize(m.row_bytes * static_cast<size_t>(m.n_rows));
  const auto row = random_floats(static_cast<size_t>(n), 1);
  const auto& traits = moecode::quant::type_traits(type);
  for (int64_t r = 0; r < m.n_rows; ++r) {
    // Rows differ by a scale so that no two are byte-identical.
    std::vector<float> x(row);
    for (auto& v : x) v *= 1.0f + 0.001f * static_cast<float>(r % 97);
    traits.from_float(x.data(), m.data.data() + r * m.row_bytes, n);
  }
  return m;
}

void bm_dot(benchmark::State& state, const KernelTable* k, GgmlType type, int64_t n) {
  const Matrix m = make_matrix(type, n);
  const GgmlType at = moecode::quant::vec_dot_type(type);
  const auto x = random_floats(static_cast<size_t>(n), 2);
  std::vector<uint8_t> xq(moecode::quant::row_size(at, n));
  k->from_float[static_cast<int>(at)](x.data(), xq.data(), n);
  std::vector<float> out(static_cast<size_t>(m.n_rows));
  const auto gemm = k->gemm[static_cast<int>(type)];
  for (auto _ : state) {
    gemm(n, m.n_rows, 1, m.data.data(), m.row_bytes, xq.data(), 0, out.data(), 0);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(m.data.size()));
  state.counters["rows"] = static_cast<double>(m.n_rows);
}

void bm_quantize_act(benchmark::State& state, const KernelTable* k, GgmlType at, int64_t n) {
  const auto x = random_floats(static_cast<size_t>(n), 3);
  std::vector<uint8_t> xq(moecode::quant::row_size(at, n));
  const auto fn = k->from_float[static_cast<int>(at)];
  for (auto _ : state) {
    fn(x.data(), xq.data(), n);
    benchmark::DoNotOptimize(xq.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);  // floats/s
}

void register_all() {
  for (Isa isa : moecode::quant::available_isas()) {
    const KernelTable* k = moecode::quant::kernels_for(isa);
    const std::string isa_name = moecode::quant::isa_name(isa);
    for (int64_t n : {576, 1536, 4096}) {
      for (GgmlType t : kTypes) {
        if (n % moecode::quant::type_traits(t).block_size != 0) continue;
        const std::string name = std::string("Dot/") + moecode::quant::type_name(t) + "/" + isa_name + "/" +
                                 std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), bm_dot, k, t, n)->Unit(benchmark::kMicrosecond);
      }
      for (GgmlType at : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::F16, GgmlType::BF16}) {
        if (n % moecode::quant::type_traits(at).block_size != 0) continue;
        const std::string name = std::string("QuantizeAct/") + moecode::quant::type_name(at) + "/" + isa_name +
                                 "/" + std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), bm_quantize_act, k, at, n)->Unit(benchmark::kMicrosecond);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
