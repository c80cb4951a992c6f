// Workspace index and context benchmarks on a large real tree present on every machine:
// the Python standard library (/usr/lib/python3.N), or $MOECODE_BENCH_ROOT (/usr/include...).
//   BM_IndexBuild       full index (discovery + parse + tags) on the worker pool: files/s,
//                       definitions/s
//   BM_TreeSitterOnly   what tree-sitter alone costs for the same files, on 1 and 2 threads:
//                       parsing, then running our tags query over the tree (matches read,
//                       nothing extracted); the floor under BM_IndexBuild with as many workers
//   BM_IncrementalEdit  a one-character edit (typed, then deleted) in a 5,000-line file:
//                       update_document latency, p50/p95 ms
//   BM_Pack             packing a 128K-token budget (warm engine; and cold, a fresh engine
//                       per pack) with exact counts from the default model's tokenizer
//                       ($MOECODE_MODEL, else ~/.cache/moecode/models/default.gguf); the
//                       label says "heuristic" when no model is installed
// Figures go to docs/BENCHMARKS.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <atomic>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <tree_sitter/api.h>

#include "grammars/languages.h"
#include "lsp/context/context.h"
#include "lsp/workspace/discovery.h"
#include "lsp/workspace/index.h"
#include "moecode/engine/tokenizer.h"

namespace {

namespace fs = std::filesystem;
using namespace moecode;

// The largest /usr/lib/python3.N (by number of .py files at its top level).
std::string python_stdlib() {
  std::string best;
  size_t best_n = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib", ec)) {
    const std::string name = e.path().filename().string();
    if (!e.is_directory() || !name.starts_with("python3.")) continue;
    size_t n = 0;
    for (const auto& f : fs::directory_iterator(e.path(), ec)) n += f.path().extension() == ".py";
    if (n > best_n) best_n = n, best = e.path().string();
  }
  return best;
}

std::string read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string bench_root() {
  const char* env = std::getenv("MOECODE_BENCH_ROOT");
  return env && *env ? std::string(env) : python_stdlib();
}

void BM_IndexBuild(benchmark::State& state) {
  const std::string root = bench_root();
  if (root.empty()) {
    state.SkipWithError("no /usr/lib/python3.N on this machine");
    return;
  }
  workspace::IndexStats last;
  for (auto _ : state) {
    auto index = workspace::SymbolIndex::create({root}, {.n_workers = static_cast<int>(state.range(0))});
    auto stats = (*index)->build();
    if (!stats.ok()) {
      state.SkipWithError(stats.error().message().c_str());
      return;
    }
    last = *stats;
  }
  state.counters["files"] = static_cast<double>(last.n_files);
  state.counters["definitions"] = static_cast<double>(last.n_definitions);
  state.counters["files/s"] = benchmark::Counter(static_cast<double>(last.n_files) * state.iterations(),
                                                 benchmark::Counter::kIsRate);
  state.counters["symbols/s"] = benchmark::Counter(static_cast<double>(last.n_definitions) * state.iterations(),
                                                   benchmark::Counter::kIsRate);
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(last.n_bytes) * state.iterations() / 1e6,
                                              benchmark::Counter::kIsRate);
}
BENCHMARK(BM_IndexBuild)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

void BM_TreeSitterOnly(benchmark::State& state) {
  const std::string root = bench_root();
  if (root.empty()) {
    state.SkipWithError("no /usr/lib/python3.N on this machine");
    return;
  }
  auto filter = workspace::FileFilter::open(root, workspace::kDefaultMaxFileBytes);
  if (!filter.ok()) {
    state.SkipWithError(filter.error().message().c_str());
    return;
  }
  workspace::SkipCounts skipped;
  struct File {
    const grammars::Language* language;
    std::string text;
  };
  std::vector<File> files;
  uint64_t n_bytes = 0;
  for (const auto& f : (*filter)->discover(&skipped)) {
    std::string text = read_file(f.abs_path);
    if (workspace::is_binary(text) || f.language->tags_query.empty()) continue;
    n_bytes += text.size();
    files.push_back({f.language, std::move(text)});
  }
  std::map<const grammars::Language*, TSQuery*> queries;
  for (const auto& f : files) {
    if (queries.count(f.language)) continue;
    uint32_t offset = 0;
    TSQueryError error = TSQueryErrorNone;
    queries[f.language] = ts_query_new(f.language->ts(), f.language->tags_query.data(),
                                       static_cast<uint32_t>(f.language->tags_query.size()), &offset, &error);
  }
  // Each thread takes the next file (as the index's workers do), with its own parser and
  // cursor; the queries are shared (read-only).
  const int n_threads = static_cast<int>(state.range(0));
  std::atomic<double> parse_s{0}, query_s{0};
  std::atomic<uint64_t> n_matches{0};
  auto run = [&](std::atomic<size_t>* next) {
    TSParser* parser = ts_parser_new();
    TSQueryCursor* cursor = ts_query_cursor_new();
    double p = 0, q = 0;
    uint64_t m_count = 0;
    for (size_t i; (i = next->fetch_add(1)) < files.size();) {
      const File& f = files[i];
      const auto t0 = std::chrono::steady_clock::now();
      ts_parser_set_language(parser, f.language->ts());
      TSTree* tree = ts_parser_parse_string(parser, nullptr, f.text.data(), static_cast<uint32_t>(f.text.size()));
      const auto t1 = std::chrono::steady_clock::now();
      if (tree && queries.at(f.language)) {
        ts_query_cursor_exec(cursor, queries.at(f.language), ts_tree_root_node(tree));
        TSQueryMatch m;
        while (ts_query_cursor_next_match(cursor, &m)) ++m_count;
      }
      const auto t2 = std::chrono::steady_clock::now();
      ts_tree_delete(tree);
      p += std::chrono::duration<double>(t1 - t0).count();
      q += std::chrono::duration<double>(t2 - t1).count();
    }
    ts_query_cursor_delete(cursor);
    ts_parser_delete(parser);
    parse_s.fetch_add(p);
    query_s.fetch_add(q);
    n_matches.fetch_add(m_count);
  };
  for (auto _ : state) {
    std::atomic<size_t> next{0};
    std::vector<std::thread> threads;
    for (int t = 1; t < n_threads; ++t) threads.emplace_back(run, &next);
    run(&next);
    for (auto& t : threads) t.join();
  }
  for (auto& [lang, q] : queries) ts_query_delete(q);
  const double n = static_cast<double>(state.iterations());
  state.counters["files"] = static_cast<double>(files.size());
  state.counters["MB"] = static_cast<double>(n_bytes) / 1e6;
  state.counters["parse_s"] = parse_s.load() / n;  // summed over the threads
  state.counters["query_s"] = query_s.load() / n;
  state.counters["matches"] = static_cast<double>(n_matches.load()) / n;
  state.counters["MB/s"] = benchmark::Counter(static_cast<double>(n_bytes) * n / 1e6, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TreeSitterOnly)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(2);

workspace::TextPoint point_at(const std::string& t, size_t byte) {
  workspace::TextPoint p;
  size_t ls = 0;
  for (size_t i = 0; i < byte; ++i) {
    if (t[i] == '\n') ++p.row, ls = i + 1;
  }
  p.column = static_cast<uint32_t>(byte - ls);
  return p;
}

void BM_IncrementalEdit(benchmark::State& state) {
  const std::string root = python_stdlib();
  std::string source = read_file(root + "/_pydecimal.py");
  if (source.empty()) source = read_file(root + "/typing.py");
  // Exactly 5,000 lines (repeating the file if it is shorter).
  std::string text;
  size_t lines = 0, pos = 0;
  while (lines < 5000 && !source.empty()) {
    size_t nl = source.find('\n', pos);
    if (nl == std::string::npos) {
      pos = 0;
      continue;
    }
    text.append(source, pos, nl + 1 - pos);
    pos = nl + 1;
    ++lines;
  }
  const fs::path dir = fs::temp_directory_path() / "moecode_bench_incremental";
  fs::create_directories(dir);
  std::ofstream(dir / "big.py") << text;
  auto index = workspace::SymbolIndex::create({dir.string()});
  (void)(*index)->build();
  const std::string path = (dir / "big.py").string();
  (void)(*index)->update_document(path, text);
  std::mt19937 rng(42);
  std::vector<double> ms;
  bool inserted = false;
  size_t at = 0;
  for (auto _ : state) {
    workspace::ByteEdit e;
    if (!inserted) {
      at = rng() % text.size();
      e.start_byte = e.old_end_byte = static_cast<uint32_t>(at);
      e.new_end_byte = static_cast<uint32_t>(at + 1);
      e.start_point = e.old_end_point = point_at(text, at);
      text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), 'x');
      e.new_end_point = {e.start_point.row, e.start_point.column + 1};
    } else {
      e.start_byte = e.new_end_byte = static_cast<uint32_t>(at);
      e.old_end_byte = static_cast<uint32_t>(at + 1);
      e.start_point = e.new_end_point = point_at(text, at);
      e.old_end_point = {e.start_point.row, e.start_point.column + 1};
      text.erase(at, 1);
    }
    inserted = !inserted;
    const auto t0 = std::chrono::steady_clock::now();
    auto s = (*index)->update_document(path, text, std::span<const workspace::ByteEdit>(&e, 1));
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!s.ok()) state.SkipWithError(s.error().message().c_str());
  }
  std::sort(ms.begin(), ms.end());
  state.counters["p50_ms"] = ms[ms.size() / 2];
  state.counters["p95_ms"] = ms[std::min(ms.size() - 1, ms.size() * 95 / 100)];
  state.counters["lines"] = static_cast<double>(lines);
  state.counters["incremental"] = static_cast<double>((*index)->document_parse_counts().incremental);
  fs::remove_all(dir);
}
BENCHMARK(BM_IncrementalEdit)->Unit(benchmark::kMillisecond)->Iterations(400);

// The default model's tokenizer, or null.
std::shared_ptr<const engine::Tokenizer> default_tokenizer() {
  std::string path;
  if (const char* env = std::getenv("MOECODE_MODEL"); env && *env) {
    path = env;
  } else {
    const char* xdg = std::getenv("XDG_CACHE_HOME");
    const char* home = std::getenv("HOME");
    path = (xdg && *xdg ? std::string(xdg) : std::string(home ? home : "") + "/.cache") +
           "/moecode/models/default.gguf";
  }
  auto tok = engine::Tokenizer::load(path);
  return tok.ok() ? std::move(tok).value() : nullptr;
}

struct PackFixture {
  std::unique_ptr<workspace::SymbolIndex> index;
  std::unique_ptr<context::TokenCounter> counter_ptr;
  std::string root;
  const context::TokenCounter& counter() const { return *counter_ptr; }
  PackFixture() {
    if (auto tok = default_tokenizer()) {
      counter_ptr = std::make_unique<context::TokenizerCounter>(tok, "tokenizer of the default model");
    } else {
      counter_ptr = std::make_unique<context::HeuristicCounter>();
    }
    root = python_stdlib();
    index = std::move(workspace::SymbolIndex::create({root})).value();
    (void)index->build();
  }
  context::ContextRequest request() const {
    context::ContextRequest r;
    r.path = root + "/json/decoder.py";
    r.text = read_file(r.path);
    const size_t at = r.text.find("obj, end = self.raw_decode(s, idx=_w(s, 0).end())");
    r.cursor_byte = static_cast<uint32_t>(at == std::string::npos ? r.text.size() / 2 : at + 11);
    r.budget_tokens = 128 * 1024;
    for (const char* f : {"/json/encoder.py", "/json/scanner.py", "/json/__init__.py"}) {
      r.recent.push_back({root + f, std::nullopt});
    }
    return r;
  }
};

PackFixture& pack_fixture() {
  static PackFixture f;
  return f;
}

void BM_Pack(benchmark::State& state) {
  PackFixture& f = pack_fixture();
  const bool cold = state.range(0) == 1;
  const context::ContextRequest req = f.request();
  context::ContextEngine warm_engine(*f.index, f.counter());
  (void)warm_engine.pack(req);
  size_t tokens = 0, snippets = 0;
  for (auto _ : state) {
    if (cold) {
      context::ContextEngine engine(*f.index, f.counter());
      auto p = engine.pack(req);
      tokens = p->tokens, snippets = p->snippets.size();
    } else {
      auto p = warm_engine.pack(req);
      tokens = p->tokens, snippets = p->snippets.size();
    }
  }
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["snippets"] = static_cast<double>(snippets);
  state.SetLabel(std::string(cold ? "cold" : "warm") + ", " + std::string(f.counter().name()));
}
BENCHMARK(BM_Pack)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
