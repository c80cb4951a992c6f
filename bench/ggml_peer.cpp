// The peer of quant_bench: ggml's CPU kernels timed on the same weight bytes (GGUF block
// layouts are ggml's), in the same process, so that the ratios in docs/BENCHMARKS.md come
// from one run on a noisy shared machine. Built only with -DMOECODE_GGML_PEER_DIR=<a
// llama.cpp/ggml source tree with a static CPU build in build/>; moecode never links ggml.
//   Dot/<type>/ggml/<n>    ggml_get_type_traits_cpu(type)->vec_dot row by row, 8 MiB matrix
//   QuantizeAct/<type>/ggml/<n>  ggml_get_type_traits_cpu(type)->from_float
//   Gemm/<type>/ggml/...   ggml_mul_mat(W, X) on ggml's CPU backend with 1 thread, weights
//                          in a plain CPU buffer: ggml quantizes X, then uses llamafile's
//                          tinyBLAS where it applies (nc >= 2; F32/F16/BF16/Q8_0/Q4_0/Q5_0 on
//                          AVX2, if ggml was built with GGML_LLAMAFILE=ON) or vec_dot per
//                          row and column
//   Gemm/<type>/ggml-repack/...  the same with W in the CPU_REPACK buffer (what llama.cpp
//                          does by default for Q4_0 and Q4_K on AVX2: interleaved 8-row
//                          blocks and their own gemv/gemm kernels)
// Single-threaded (benchmark set-up and bodies).
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "ggml-alloc.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "ggml.h"
#include "quant_bench.h"

namespace moecode::bench {

namespace {

using quant::GgmlType;

ggml_type to_ggml(GgmlType t) { return static_cast<ggml_type>(static_cast<uint32_t>(t)); }

void bm_ggml_dot(benchmark::State& state, GgmlType type, int64_t n) {
  const Matrix m = make_matrix(type, rows_for_bytes(type, n, 8u << 20), n);
  const auto* tc = ggml_get_type_traits_cpu(to_ggml(type));
  const ggml_type at = tc->vec_dot_type;
  const auto x = random_floats(static_cast<size_t>(n), 2);
  std::vector<uint8_t> xq(ggml_row_size(at, n));
  if (at == GGML_TYPE_F32) {
    std::memcpy(xq.data(), x.data(), xq.size());
  } else {
    ggml_get_type_traits_cpu(at)->from_float(x.data(), xq.data(), n);
  }
  std::vector<float> out(static_cast<size_t>(m.n_rows));
  for (auto _ : state) {
    for (int64_t r = 0; r < m.n_rows; ++r) {
      tc->vec_dot(static_cast<int>(n), &out[r], 0, m.data.data() + r * m.row_bytes, 0, xq.data(), 0, 1);
    }
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(m.data.size()));
}

// ggml's activation conversion (what its mul_mat applies to src1): floats/s.
void bm_ggml_quantize_act(benchmark::State& state, GgmlType at, int64_t n) {
  const auto x = random_floats(static_cast<size_t>(n), 3);
  std::vector<uint8_t> xq(ggml_row_size(to_ggml(at), n));
  const auto fn = ggml_get_type_traits_cpu(to_ggml(at))->from_float;
  for (auto _ : state) {
    fn(x.data(), xq.data(), n);
    benchmark::DoNotOptimize(xq.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * n);
}

ggml_backend_buffer_type_t repack_buffer_type() {
  ggml_backend_dev_t dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
  auto get = reinterpret_cast<ggml_backend_dev_get_extra_bufts_t>(
      ggml_backend_reg_get_proc_address(ggml_backend_dev_backend_reg(dev), "ggml_backend_dev_get_extra_bufts"));
  if (get == nullptr) return nullptr;
  for (ggml_backend_buffer_type_t* b = get(dev); b != nullptr && *b != nullptr; ++b) {
    if (std::strcmp(ggml_backend_buft_name(*b), "CPU_REPACK") == 0) return *b;
  }
  return nullptr;
}

void bm_ggml_gemm(benchmark::State& state, GgmlType type, GemmShape shape, int64_t nc, bool repack) {
  const Matrix m = make_matrix(type, shape.rows, shape.n);
  ggml_backend_t backend = ggml_backend_cpu_init();
  ggml_backend_cpu_set_n_threads(backend, 1);
  const size_t meta = ggml_tensor_overhead() * 8 + ggml_graph_overhead();
  ggml_init_params params = {meta, nullptr, true};
  ggml_context* ctx_w = ggml_init(params);
  ggml_context* ctx = ggml_init(params);
  ggml_tensor* w = ggml_new_tensor_2d(ctx_w, to_ggml(type), shape.n, shape.rows);
  ggml_backend_buffer_type_t buft = repack ? repack_buffer_type() : ggml_backend_cpu_buffer_type();
  if (buft == nullptr) {
    state.SkipWithError("no CPU_REPACK buffer type in this ggml build");
    return;
  }
  ggml_backend_buffer_t wbuf = ggml_backend_alloc_ctx_tensors_from_buft(ctx_w, buft);
  ggml_backend_tensor_set(w, m.data.data(), 0, m.data.size());
  ggml_tensor* x = ggml_new_tensor_2d(ctx, GGML_TYPE_F32, shape.n, nc);
  ggml_tensor* y = ggml_mul_mat(ctx, w, x);
  ggml_cgraph* graph = ggml_new_graph(ctx);
  ggml_build_forward_expand(graph, y);
  ggml_backend_buffer_t xbuf = ggml_backend_alloc_ctx_tensors(ctx, backend);
  const auto xf = random_floats(static_cast<size_t>(shape.n * nc), 2);
  ggml_backend_tensor_set(x, xf.data(), 0, xf.size() * sizeof(float));
  for (auto _ : state) {
    ggml_backend_graph_compute(backend, graph);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(m.data.size()));
  state.counters["GFLOP"] = benchmark::Counter(
      2e-9 * static_cast<double>(shape.rows * shape.n * nc) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
  ggml_backend_buffer_free(xbuf);
  ggml_backend_buffer_free(wbuf);
  ggml_free(ctx);
  ggml_free(ctx_w);
  ggml_backend_free(backend);
}

}  // namespace

void register_ggml_peer() {
  ggml_cpu_init();
  const GgmlType types[] = {GgmlType::F32,  GgmlType::F16,  GgmlType::BF16, GgmlType::Q8_0,
                            GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1,
                            GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K};
  for (int64_t n : {576, 1536, 4096}) {
    for (GgmlType t : types) {
      if (n % ggml_blck_size(to_ggml(t)) != 0) continue;
      const std::string name = std::string("Dot/") + quant::type_name(t) + "/ggml/" + std::to_string(n);
      benchmark::RegisterBenchmark(name.c_str(), bm_ggml_dot, t, n)->Unit(benchmark::kMicrosecond);
    }
    for (GgmlType at : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K, GgmlType::F16, GgmlType::BF16}) {
      if (n % ggml_blck_size(to_ggml(at)) != 0) continue;
      const std::string name = std::string("QuantizeAct/") + quant::type_name(at) + "/ggml/" + std::to_string(n);
      benchmark::RegisterBenchmark(name.c_str(), bm_ggml_quantize_act, at, n)->Unit(benchmark::kMicrosecond);
    }
  }
  for (GemmShape shape : kGemmShapes) {
    for (GgmlType t : types) {
      if (shape.n % ggml_blck_size(to_ggml(t)) != 0) continue;
      for (int64_t nc : kGemmCols) {
        benchmark::RegisterBenchmark(gemm_name(t, "ggml", shape, nc).c_str(), bm_ggml_gemm, t, shape, nc, false)
            ->Unit(benchmark::kMicrosecond);
        // ggml repacks these on AVX2 (rows a multiple of 8).
        if (t == GgmlType::Q4_0 || t == GgmlType::Q4_K) {
          benchmark::RegisterBenchmark(gemm_name(t, "ggml-repack", shape, nc).c_str(), bm_ggml_gemm, t, shape, nc,
                                       true)
              ->Unit(benchmark::kMicrosecond);
        }
      }
    }
  }
}

}  // namespace moecode::bench
