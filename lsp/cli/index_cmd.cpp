// `moecode index [DIR] [--json]`: builds the workspace symbol index of DIR (default: the
// current directory) and prints files, symbols, skipped files, time and peak memory.
// Runs on the main thread (the index uses its own bounded worker pool).
#include <malloc.h>
#include <sys/resource.h>

#include <cstdio>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "lsp/cli/commands.h"
#include "lsp/workspace/index.h"

namespace moecode::cli {

namespace {

struct IndexArgs {
  std::string dir = ".";
  bool json = false;
  bool list = false;
  int workers = 0;
  bool no_cache = false;
  uint64_t max_file_kib = workspace::kDefaultMaxFileBytes / 1024;
};

uint64_t peak_rss_bytes() {
  struct rusage ru;
  if (::getrusage(RUSAGE_SELF, &ru) != 0) return 0;
  return static_cast<uint64_t>(ru.ru_maxrss) * 1024;  // Linux reports KiB
}

// The command ends with the process: freeing a large index object by object (millions of
// small allocations: a quarter of a second for /usr/include) would only delay the exit.
// Under AddressSanitizer it is freed as usual, so the leak checker keeps its meaning.
#if defined(__SANITIZE_ADDRESS__)
#define MOECODE_FREE_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOECODE_FREE_AT_EXIT 1
#endif
#endif
void keep_until_exit(std::unique_ptr<workspace::SymbolIndex> index) {
#ifdef MOECODE_FREE_AT_EXIT
  index.reset();
#else
  (void)index.release();
#endif
}

int run_index(const IndexArgs& args) {
  workspace::IndexOptions opts;
  opts.n_workers = args.workers;
  opts.max_file_bytes = args.max_file_kib * 1024;
  if (!args.no_cache) opts.cache = workspace::ShardCache::open_default();
  auto index = workspace::SymbolIndex::create({args.dir}, opts);
  if (!index.ok()) {
    fmt::print(stderr, "moecode index: {}\n", index.error().message());
    return 1;
  }
  auto stats_or = (*index)->build();
  if (!stats_or.ok()) {
    fmt::print(stderr, "moecode index: {}\n", stats_or.error().message());
    return 1;
  }
  const workspace::IndexStats& s = *stats_or;
  struct AtReturn {
    std::unique_ptr<workspace::SymbolIndex>& index;
    ~AtReturn() { keep_until_exit(std::move(index)); }
  } at_return{*index};
  const uint64_t rss = peak_rss_bytes();
  const double secs = s.total_ms / 1000.0;
  const double files_per_s = secs > 0 ? s.n_files / secs : 0;
  const double symbols_per_s = secs > 0 ? s.n_definitions / secs : 0;

  if (args.list) {
    auto view = (*index)->view();
    std::vector<const workspace::FileEntry*> files;
    view.for_each_file([&](const workspace::FileEntry& f) { files.push_back(&f); });
    std::sort(files.begin(), files.end(), [](auto* a, auto* b) { return a->path < b->path; });
    for (const auto* f : files) {
      for (const auto& d : f->symbols.definitions) {
        std::string name = d.container.empty() ? d.name.str() : d.container.str() + "." + d.name.str();
        fmt::print("{}:{}: {} {}\n", f->path, d.range.start.row + 1, workspace::symbol_kind_name(d.kind), name);
      }
    }
  }
  if (args.json) {
    nlohmann::json j;
    j["root"] = (*index)->roots()[0];
    j["files"] = s.n_files;
    j["bytes"] = s.n_bytes;
    j["lines"] = s.n_lines;
    j["symbols"] = s.n_definitions;
    j["definitions"] = s.n_definitions;
    j["references"] = s.n_references;
    j["imports"] = s.n_imports;
    j["files_with_parse_errors"] = s.n_with_errors;
    j["files_failed"] = s.n_failed;
    j["files_parsed"] = s.n_parsed;
    j["files_from_cache"] = s.n_from_cache;
    j["files_duplicate"] = s.n_duplicates;
    j["languages"] = s.files_by_language;
    j["skipped"] = {{"ignored", s.skipped.ignored},
                    {"secret", s.skipped.secret},
                    {"binary", s.skipped.binary},
                    {"oversize", s.skipped.oversize},
                    {"symlink_outside", s.skipped.symlink_outside},
                    {"symlink_loop", s.skipped.symlink_loop},
                    {"unknown_language", s.skipped.unknown_language},
                    {"unreadable", s.skipped.unreadable}};
    j["time_ms"] = s.total_ms;
    j["discover_ms"] = s.discover_ms;
    j["parse_ms"] = s.parse_ms;
    j["workers"] = s.n_workers;
    j["files_per_s"] = files_per_s;
    j["symbols_per_s"] = symbols_per_s;
    j["peak_rss_bytes"] = rss;
    const workspace::Name::PoolStats names = workspace::Name::pool_stats();
    j["names"] = {{"distinct", names.n_names}, {"pool_bytes", names.n_bytes}};
    const struct mallinfo2 mi = mallinfo2();
    j["heap"] = {{"in_use", mi.uordblks}, {"free", mi.fordblks}, {"mmap", mi.hblkhd}, {"arena", mi.arena}};
    fmt::print("{}\n", j.dump());
    return 0;
  }
  std::string langs;
  for (const auto& [name, n] : s.files_by_language) langs += fmt::format("{}{} {}", langs.empty() ? "" : ", ", name, n);
  fmt::print("root: {}\n", (*index)->roots()[0]);
  fmt::print("files: {} ({}), {} lines, {:.1f} MiB\n", s.n_files, langs.empty() ? "none" : langs, s.n_lines,
             s.n_bytes / 1048576.0);
  fmt::print("symbols: {} definitions, {} references, {} imports\n", s.n_definitions, s.n_references, s.n_imports);
  fmt::print("skipped: {} ignored, {} secret, {} binary, {} oversize, {} symlinks out of the root, {} symlink "
             "loops, {} without a grammar\n",
             s.skipped.ignored, s.skipped.secret, s.skipped.binary, s.skipped.oversize, s.skipped.symlink_outside,
             s.skipped.symlink_loop, s.skipped.unknown_language);
  fmt::print("time: {:.1f} ms (discovery {:.1f} ms, parsing {:.1f} ms on {} workers): {:.0f} files/s, {:.0f} "
             "symbols/s\n",
             s.total_ms, s.discover_ms, s.parse_ms, s.n_workers, files_per_s, symbols_per_s);
  const std::string dups = s.n_duplicates ? fmt::format(", {} copies of another file", s.n_duplicates) : "";
  if (opts.cache) {
    fmt::print("cache: {} files parsed, {} from the index cache{} ({})\n", s.n_parsed, s.n_from_cache, dups,
               opts.cache->dir());
  } else {
    fmt::print("cache: none, {} files parsed{}\n", s.n_parsed, dups);
  }
  fmt::print("peak RSS: {:.1f} MiB\n", rss / 1048576.0);
  return 0;
}

}  // namespace

void add_index_command(CLI::App& app) {
  auto args = std::make_shared<IndexArgs>();
  CLI::App* cmd = app.add_subcommand("index", "Index a source tree with tree-sitter: files, symbols, time, memory");
  cmd->add_option("DIR", args->dir, "Folder to index (default: the current directory)");
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_flag("--list", args->list, "List every definition (path:line: kind name) before the summary");
  cmd->add_option("--workers", args->workers, "Parse threads (default: min(cores, 8))")->check(CLI::Range(0, 256));
  cmd->add_flag("--no-cache", args->no_cache,
                "Parse every file; neither read nor write the index cache ($MOECODE_INDEX_CACHE, default "
                "~/.cache/moecode/index)");
  cmd->add_option("--max-file-kib", args->max_file_kib, "Skip files larger than this (KiB, default 1024)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 22));
  cmd->callback([args] { exit_code() = run_index(*args); });
}

}  // namespace moecode::cli
