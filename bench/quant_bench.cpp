// Throughput of engine/quant per format and ISA, single thread:
//   Dot/<type>/<isa>/<n>           gemm with one activation column over ~8 MiB of weights
//                                  (a streaming rate, like decode): GB/s of weights
//   VecDot/<type>/<isa>/<n>        the same matrix through vec_dot, row by row
//   Gemm/<type>/<isa>/<r>x<n>/nc:<c>  quantize c float activation columns, then one gemm
//                                  call over the [r, n] matrix (what a matmul costs):
//                                  GB/s of weights and GFLOP/s (2 r n c per call); from
//                                  packed_min_cols columns up, the table's packed GEMM
//                                  (packing included), as the CPU backend does
//   GemmUnpacked/...               the same through gemm, for the tables with packed GEMMs
//   QuantizeAct/<type>/<isa>/<n>   one activation row -> type: floats/s
// With -DMOECODE_GGML_PEER_DIR=<ggml tree>, ggml's figures for the same matrices run in
// the same process (ggml_peer.cpp): Dot/<type>/ggml/<n> (ggml's vec_dot row by row) and
// Gemm/<type>/ggml[-repack]/... (ggml_mul_mat on ggml's CPU backend, 1 thread).
//   build/bench/quant_bench --benchmark_filter='Gemm/Q4_1/.*/1536x576/'
#include "quant_bench.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "engine/quant/kernels.h"
#include "engine/quant/quantize.h"
#include "engine/quant/types.h"

namespace moecode::bench {

using quant::GgmlType;
using quant::Isa;
using quant::KernelTable;

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::vector<float> x(n);
  for (auto& v : x) v = g(rng);
  return x;
}

Matrix make_matrix(GgmlType type, int64_t n_rows, int64_t n) {
  Matrix m;
  m.type = type;
  m.n_rows = n_rows;
  m.n = n;
  m.row_bytes = quant::row_size(type, n);
  m.data.resize(m.row_bytes * static_cast<size_t>(n_rows));
  const auto row = random_floats(static_cast<size_t>(n), 1);
  const auto& traits = quant::type_traits(type);
  constexpr int64_t kDistinct = 97;
  for (int64_t r = 0; r < std::min(n_rows, kDistinct); ++r) {
    // Rows differ by a scale so that no two are byte-identical.
    std::vector<float> x(row);
    for (auto& v : x) v *= 1.0f + 0.001f * static_cast<float>(r);
    traits.from_float(x.data(), m.data.data() + r * m.row_bytes, n);
  }
  for (int64_t r = kDistinct; r < n_rows; ++r) {
    std::copy_n(m.data.data() + (r % kDistinct) * m.row_bytes, m.row_bytes, m.data.data() + r * m.row_bytes);
  }
  return m;
}

int64_t rows_for_bytes(GgmlType type, int64_t n, size_t bytes) {
  return std::max<int64_t>(1, static_cast<int64_t>(bytes / quant::row_size(type, n)));
}

std::string gemm_name(GgmlType type, const std::string& who, GemmShape shape, int64_t nc) {
  return std::string("Gemm/") + quant::type_name(type) + "/" + who + "/" + std::to_string(shape.rows) + "x" +
         std::to_string(shape.n) + "/nc:" + std::to_string(nc);
}

namespace {

constexpr GgmlType kTypes[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                               GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                               GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};

std::vector<uint8_t> quantized_activation(const KernelTable* k, GgmlType at, int64_t n) {
  const auto x = random_floats(static_cast<size_t>(n), 2);
  std::vector<uint8_t> xq(quant::row_size(at, n));
  k->from_float[static_cast<int>(at)](x.data(), xq.data(), n);
  return xq;
}

void bm_dot(benchmark::State& state, const KernelTable* k, GgmlType type, int64_t n) {
  const Matrix m = make_matrix(type, rows_for_bytes(type, n, 8u << 20), n);
  const auto xq = quantized_activation(k, quant::vec_dot_type(type), n);
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

void bm_vec_dot(benchmark::State& state, const KernelTable* k, GgmlType type, int64_t n) {
  const Matrix m = make_matrix(type, rows_for_bytes(type, n, 8u << 20), n);
  const auto xq = quantized_activation(k, quant::vec_dot_type(type), n);
  std::vector<float> out(static_cast<size_t>(m.n_rows));
  const auto dot = k->vec_dot[static_cast<int>(type)];
  for (auto _ : state) {
    for (int64_t r = 0; r < m.n_rows; ++r) dot(n, &out[r], m.data.data() + r * m.row_bytes, xq.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(m.data.size()));
}

bool uses_packed(const KernelTable* k, GgmlType type, int64_t nc) {
  return k->gemm_packed[static_cast<int>(type)] != nullptr && nc >= k->packed_min_cols;
}

void bm_gemm(benchmark::State& state, const KernelTable* k, GgmlType type, GemmShape shape, int64_t nc,
             bool packed) {
  const Matrix m = make_matrix(type, shape.rows, shape.n);
  const GgmlType at = quant::vec_dot_type(type);
  const size_t arow = quant::row_size(at, shape.n);
  const auto x = random_floats(static_cast<size_t>(shape.n * nc), 2);
  std::vector<uint8_t> xq(arow * static_cast<size_t>(nc));
  std::vector<float> out(static_cast<size_t>(shape.rows * nc));
  const auto from_float = k->from_float[static_cast<int>(at)];
  const auto gemm = k->gemm[static_cast<int>(type)];
  const int64_t groups = (nc + quant::kPackCols - 1) / quant::kPackCols;
  std::vector<uint8_t> pack_storage(packed ? k->packed_bytes(shape.n) * static_cast<size_t>(groups) + 64 : 0);
  uint8_t* pk = pack_storage.data();
  if (packed) pk += (64 - reinterpret_cast<uintptr_t>(pk) % 64) % 64;
  for (auto _ : state) {
    for (int64_t c = 0; c < nc; ++c) from_float(x.data() + c * shape.n, xq.data() + c * arow, shape.n);
    if (packed) {
      k->pack_act[static_cast<int>(at)](shape.n, nc, xq.data(), arow, pk);
      k->gemm_packed[static_cast<int>(type)](shape.n, shape.rows, nc, m.data.data(), m.row_bytes, pk,
                                             out.data(), static_cast<size_t>(shape.rows));
    } else {
      gemm(shape.n, shape.rows, nc, m.data.data(), m.row_bytes, xq.data(), arow, out.data(),
           static_cast<size_t>(shape.rows));
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(m.data.size()));
  state.counters["GFLOP"] = benchmark::Counter(
      2e-9 * static_cast<double>(shape.rows * shape.n * nc) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

void bm_quantize_act(benchmark::State& state, const KernelTable* k, GgmlType at, int64_t n) {
  const auto x = random_floats(static_cast<size_t>(n), 3);
  std::vector<uint8_t> xq(quant::row_size(at, n));
  const auto fn = k->from_float[static_cast<int>(at)];
  for (auto _ : state) {
    fn(x.data(), xq.data(), n);
    benchmark::DoNotOptimize(xq.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);  // floats/s
}

void register_all() {
  for (Isa isa : quant::available_isas()) {
    const KernelTable* k = quant::kernels_for(isa);
    const std::string isa_name = quant::isa_name(isa);
    for (int64_t n : {576, 1536, 4096}) {
      for (GgmlType t : kTypes) {
        if (n % quant::type_traits(t).block_size != 0) continue;
        const std::string tail = std::string(quant::type_name(t)) + "/" + isa_name + "/" + std::to_string(n);
        benchmark::RegisterBenchmark(("Dot/" + tail).c_str(), bm_dot, k, t, n)->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark(("VecDot/" + tail).c_str(), bm_vec_dot, k, t, n)->Unit(benchmark::kMicrosecond);
      }
      for (GgmlType at : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::F16, GgmlType::BF16}) {
        if (n % quant::type_traits(at).block_size != 0) continue;
        const std::string name = std::string("QuantizeAct/") + quant::type_name(at) + "/" + isa_name + "/" +
                                 std::to_string(n);
        benchmark::RegisterBenchmark(name.c_str(), bm_quantize_act, k, at, n)->Unit(benchmark::kMicrosecond);
      }
    }
    for (GemmShape shape : kGemmShapes) {
      for (GgmlType t : kTypes) {
        if (shape.n % quant::type_traits(t).block_size != 0) continue;
        for (int64_t nc : kGemmCols) {
          const bool packed = uses_packed(k, t, nc);
          const std::string name = gemm_name(t, isa_name, shape, nc);
          benchmark::RegisterBenchmark(name.c_str(), bm_gemm, k, t, shape, nc, packed)
              ->Unit(benchmark::kMicrosecond);
          if (packed) {
            const std::string unpacked = "GemmUnpacked/" + name.substr(5);
            benchmark::RegisterBenchmark(unpacked.c_str(), bm_gemm, k, t, shape, nc, false)
                ->Unit(benchmark::kMicrosecond);
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace moecode::bench

int main(int argc, char** argv) {
  moecode::bench::register_all();
#if defined(MOECODE_GGML_PEER)
  moecode::bench::register_ggml_peer();
#endif
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
