// The symbol index. Published data (files, name maps, path table) lives in Impl::pub and
// is guarded by SymbolIndex::mu_ (shared for readers, exclusive to publish); writer-only
// state (document trees, the writer's tag extractor, the filters) is guarded by write_mu_.
#include "lsp/workspace/index.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "lsp/workspace/name_map.h"
#include "lsp/workspace/parse_arena.h"
#include "lsp/workspace/secrets.h"
#include "lsp/workspace/small_list.h"
#include "lsp/workspace/worker_pool.h"

namespace moecode::workspace {

namespace {

struct StrHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using StrMap = std::unordered_map<std::string, V, StrHash, std::equal_to<>>;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

uint32_t count_lines(std::string_view text) {
  if (text.empty()) return 0;
  uint32_t n = static_cast<uint32_t>(std::count(text.begin(), text.end(), '\n'));
  return text.back() == '\n' ? n : n + 1;
}

// Reads a whole file into *buf (reusing its capacity). False on any error.
bool read_file(const std::string& path, uint64_t max_bytes, std::string* buf) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > max_bytes) {
    ::close(fd);
    return false;
  }
  buf->resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < buf->size()) {
    const ssize_t n = ::read(fd, buf->data() + got, buf->size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  buf->resize(got);  // the file may have shrunk meanwhile
  return true;
}

TextPoint point_at(std::string_view text, uint32_t byte) {
  TextPoint p;
  size_t line_start = 0;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++p.row;
      line_start = i + 1;
    }
  }
  p.column = static_cast<uint32_t>(byte - line_start);
  return p;
}

bool same_point(TextPoint a, TextPoint b) { return a.row == b.row && a.column == b.column; }

// True when `edits` can turn a text of old.size() bytes into one of new_text.size() bytes;
// for a single edit the points are checked against both texts as well.
bool edits_consistent(std::string_view old_text, std::string_view new_text, std::span<const ByteEdit> edits) {
  uint64_t len = old_text.size();
  for (const ByteEdit& e : edits) {
    if (e.start_byte > e.old_end_byte || e.old_end_byte > len || e.new_end_byte < e.start_byte) return false;
    len = len - (e.old_end_byte - e.start_byte) + (e.new_end_byte - e.start_byte);
  }
  if (len != new_text.size()) return false;
  if (edits.size() == 1) {
    const ByteEdit& e = edits[0];
    if (e.new_end_byte > new_text.size()) return false;
    if (!same_point(point_at(old_text, e.start_byte), e.start_point)) return false;
    if (!same_point(point_at(old_text, e.old_end_byte), e.old_end_point)) return false;
    if (!same_point(point_at(new_text, e.new_end_byte), e.new_end_point)) return false;
  }
  return true;
}

// The data readers see.
struct Published {
  std::vector<std::shared_ptr<const FileEntry>> files;  // by id; null once removed
  size_t n_live = 0;
  StrMap<FileId> by_abs;
  StrMap<FileId> by_display;
  NameMap<SmallList<DefRef>> defs_by_name;
  NameMap<SmallList<RefCount>> refs_by_name;
  PathTable paths;

  void add_names(const FileEntry& f) {
    for (uint32_t i = 0; i < f.symbols.definitions.size(); ++i) {
      defs_by_name[f.symbols.definitions[i].name].push_back({f.id, i});
    }
    for (const auto& [name, n] : f.ref_names) {
      auto it = refs_by_name.find(name);
      if (it == refs_by_name.end()) it = refs_by_name.emplace(name, SmallList<RefCount>{}).first;
      it->second.push_back({f.id, n});
    }
  }

  void remove_names(const FileEntry& f) {
    for (const auto& d : f.symbols.definitions) {
      auto it = defs_by_name.find(d.name);
      if (it == defs_by_name.end()) continue;
      it->second.erase_if([&](const DefRef& r) { return r.file == f.id; });
      if (it->second.empty()) defs_by_name.erase(it);
    }
    for (const auto& r : f.ref_names) {
      auto it = refs_by_name.find(r.name);
      if (it == refs_by_name.end()) continue;
      it->second.erase_if([&](const RefCount& c) { return c.file == f.id; });
      if (it->second.empty()) refs_by_name.erase(it);
    }
  }

  // Adds or replaces (same absolute path) an entry; sets its id.
  void put(std::shared_ptr<FileEntry> entry) {
    auto it = by_abs.find(entry->abs_path);
    if (it != by_abs.end()) {
      entry->id = it->second;
      const auto& old = files[entry->id];
      if (old) {
        remove_names(*old);
        paths.remove(old->id, old->path);
        by_display.erase(old->path);
      } else {
        ++n_live;
      }
    } else {
      entry->id = static_cast<FileId>(files.size());
      files.emplace_back();
      by_abs.emplace(entry->abs_path, entry->id);
      ++n_live;
    }
    by_display[entry->path] = entry->id;
    paths.add(entry->id, entry->path);
    add_names(*entry);
    files[entry->id] = std::move(entry);
  }

  bool remove(std::string_view abs) {
    auto it = by_abs.find(abs);
    if (it == by_abs.end() || !files[it->second]) return false;
    const auto& old = files[it->second];
    remove_names(*old);
    paths.remove(old->id, old->path);
    by_display.erase(old->path);
    files[it->second].reset();
    --n_live;
    return true;
  }
};

struct DocState {
  TreePtr tree;
  std::shared_ptr<const std::string> text;
  TagState state;  // of the last extraction (for incremental re-extraction)
  bool state_valid = false;
};

}  // namespace

struct SymbolIndex::Impl {
  Published pub;
  // The filters (one per root): replaced as a whole when ignore files change; readers
  // take a reference-counted copy of the pointer.
  using Filters = std::vector<std::unique_ptr<FileFilter>>;
  mutable std::mutex filters_mu;
  std::shared_ptr<const Filters> filters_ptr = std::make_shared<const Filters>();
  std::shared_ptr<const Filters> filters() const {
    std::lock_guard<std::mutex> lock(filters_mu);
    return filters_ptr;
  }
  void set_filters(Filters f) {
    auto p = std::make_shared<const Filters>(std::move(f));
    std::lock_guard<std::mutex> lock(filters_mu);
    filters_ptr = std::move(p);
  }
  // Writer-only state.
  std::unordered_map<std::string, DocState> docs;    // by absolute path
  TagExtractor extractor;

  std::string display_path(const std::vector<std::string>& roots, uint32_t root, std::string_view rel) const {
    if (roots.size() <= 1) return std::string(rel);
    const std::string& r = roots[root];
    const size_t s = r.find_last_of('/');
    return (s == std::string::npos ? r : r.substr(s + 1)) + "/" + std::string(rel);
  }
};

namespace {

// `keep_references`: an open document's entry keeps its references' positions; the others
// keep the names and counts only (FileEntry::ref_names). `ref_names`: those names when
// already known (from the index cache, or counted for it), else counted here.
std::shared_ptr<FileEntry> make_entry(std::string abs, std::string display, uint32_t root,
                                      const grammars::Language* lang, std::string_view text, FileSymbols symbols,
                                      bool keep_references, std::vector<NameCount>* ref_names = nullptr) {
  auto e = std::make_shared<FileEntry>();
  e->abs_path = std::move(abs);
  e->path = std::move(display);
  e->root = root;
  e->language = lang;
  e->n_bytes = text.size();
  e->n_lines = count_lines(text);
  e->symbols = std::move(symbols);
  e->ref_names = ref_names ? std::move(*ref_names) : count_reference_names(e->symbols);
  e->ref_names.shrink_to_fit();
  if (!keep_references) std::vector<Reference>().swap(e->symbols.references);
  return e;
}

}  // namespace

SymbolIndex::~SymbolIndex() = default;

Result<std::unique_ptr<SymbolIndex>> SymbolIndex::create(const std::vector<std::string>& roots,
                                                         const IndexOptions& options) {
  if (roots.empty()) return make_error(ErrorCode::kInvalidArgument, "workspace index: no root folder given");
  std::unique_ptr<SymbolIndex> index(new SymbolIndex());
  index->options_ = options;
  index->impl_ = std::make_unique<Impl>();
  Impl::Filters filters;
  for (const auto& r : roots) {
    MOE_TRY(auto filter, FileFilter::open(r, options.max_file_bytes));
    index->roots_.push_back(filter->root());
    filters.push_back(std::move(filter));
  }
  index->impl_->set_filters(std::move(filters));
  return index;
}

Result<IndexStats> SymbolIndex::build(const std::atomic<bool>* cancel) {
  std::lock_guard<std::mutex> wlock(write_mu_);
  const auto t0 = std::chrono::steady_clock::now();
  IndexStats stats;
  // Fresh filters: ignore files (.moecodeignore included) may have changed since.
  {
    Impl::Filters fresh_filters;
    for (const auto& r : roots_) {
      MOE_TRY(auto f, FileFilter::open(r, options_.max_file_bytes));
      fresh_filters.push_back(std::move(f));
    }
    impl_->set_filters(std::move(fresh_filters));
  }
  const auto filters = impl_->filters();
  const auto t1 = std::chrono::steady_clock::now();
  const int n_workers = options_.n_workers > 0 ? options_.n_workers : default_worker_count();
  stats.n_workers = n_workers;

  struct Job {
    uint32_t root;
    DiscoveredFile file;
    std::shared_ptr<FileEntry> result;
    bool complete = false;  // symbols of a finished parse (or shard)
  };
  // The walk and the parse overlap: the walk (this thread) hands each file over as it finds
  // it, and the other n_workers - 1 threads parse them meanwhile. Once the walk is over,
  // every thread takes the files left, largest first: the last jobs to finish are then
  // small ones, and the workers end together.
  std::deque<Job> jobs;  // grows during the walk; references to its jobs stay valid
  std::mutex feed_mu;
  std::condition_variable feed_cv;
  size_t next_in_walk = 0;  // during the walk, jobs are taken in its order
  bool walk_done = false;
  std::vector<Job*> rest;  // after it, the jobs nobody took yet, largest first
  size_t next_in_rest = 0;
  auto take = [&]() -> Job* {
    std::unique_lock<std::mutex> lock(feed_mu);
    for (;;) {
      if (cancel && cancel->load(std::memory_order_relaxed)) return nullptr;
      if (walk_done) return next_in_rest < rest.size() ? rest[next_in_rest++] : nullptr;
      if (next_in_walk < jobs.size()) return &jobs[next_in_walk++];
      feed_cv.wait(lock);
    }
  };

  // Each file's reference names are counted on its worker (make_entry): publishing, which
  // runs on one thread, then only inserts them (a third of a warm start of /usr/include was
  // this sort).
  struct Worker {
    ParseArena arena;
    std::string buf;
    uint64_t binary = 0, unreadable = 0, failed = 0, parsed = 0, from_cache = 0;
  };
  std::vector<std::unique_ptr<Worker>> workers;
  for (int w = 0; w < n_workers; ++w) workers.push_back(std::make_unique<Worker>());
  std::atomic<size_t> cancel_flag{0};
  // Files with the same language and bytes (/usr/include holds ~2,300 copies of another
  // file) are parsed once: the first to arrive claims the content, the others wait in
  // `copies` and take its symbols after the parallel pass.
  struct KeyHash {
    size_t operator()(const ShardCache::Key& k) const {
      uint64_t h;
      std::memcpy(&h, k.digest.data(), sizeof h);
      return static_cast<size_t>(h ^ reinterpret_cast<uintptr_t>(k.language));
    }
  };
  struct KeyEq {
    bool operator()(const ShardCache::Key& a, const ShardCache::Key& b) const {
      return a.language == b.language && a.digest == b.digest && a.n_bytes == b.n_bytes;
    }
  };
  std::mutex first_mu;
  std::unordered_map<ShardCache::Key, Job*, KeyHash, KeyEq> first_of;  // content -> its first job
  std::vector<std::pair<Job*, Job*>> copies;                          // (job, first job)
  auto index_file = [&](Worker& w, Job& job, bool dedupe) {
    if (impl_->docs.count(job.file.abs_path)) return;  // an open document: kept below
    if (!read_file(job.file.abs_path, options_.max_file_bytes, &w.buf)) {
      ++w.unreadable;
      return;
    }
    if (is_binary(w.buf)) {
      ++w.binary;
      return;
    }
    const ShardCache::Key key = ShardCache::key(*job.file.language, w.buf);
    if (dedupe) {
      std::lock_guard<std::mutex> lock(first_mu);
      auto [it, first] = first_of.try_emplace(key, &job);
      if (!first) {
        copies.emplace_back(&job, it->second);
        return;
      }
    }
    FileSymbols syms;
    std::vector<NameCount> ref_names;
    bool ok = true;
    if (options_.cache && options_.cache->load(key, &syms, &ref_names)) {
      ++w.from_cache;
    } else {
      const std::vector<ByteSpan> secrets = find_secrets(w.buf);
      {
        // The file's parser, tree and cursors take their memory from the worker's arena and
        // give it back at once at the end of this block (parse_arena.h): no free per node, no
        // walk over the tree to delete it.
        ParseArena::Scope arena(w.arena);
        TagExtractor extractor;
        extractor.set_cancellation_flag(&cancel_flag);
        auto tree = extractor.parse(*job.file.language, w.buf, nullptr, secrets, &syms);
        ++w.parsed;
        if (tree.ok()) {
          ParseArena::drop_tree(tree->release());
        } else {
          ++w.failed;
          ok = false;
          spdlog::debug("index: {}: {}", job.file.rel_path, tree.error().message());
          syms = FileSymbols{};
        }
      }
      ref_names = count_reference_names(syms);
      // A failed parse (timeout, cancel) is not stored.
      if (options_.cache && ok) options_.cache->store(key, syms, ref_names);
    }
    std::string display = impl_->display_path(roots_, job.root, job.file.rel_path);
    job.result = make_entry(job.file.abs_path, std::move(display), job.root, job.file.language, w.buf,
                            std::move(syms), /*keep_references=*/false, &ref_names);
    job.complete = ok;
  };
  auto work = [&](int wi) {
    while (Job* job = take()) index_file(*workers[wi], *job, /*dedupe=*/true);
  };
  std::vector<std::thread> threads;
  for (int w = 1; w < n_workers; ++w) threads.emplace_back(work, w);
  try {
    for (uint32_t r = 0; r < filters->size(); ++r) {
      (*filters)[r]->discover_each(&stats.skipped, cancel, {}, [&](DiscoveredFile&& f) {
        {
          std::lock_guard<std::mutex> lock(feed_mu);
          jobs.push_back(Job{r, std::move(f), nullptr, false});
        }
        feed_cv.notify_one();
      });
    }
  } catch (...) {
    // Out of memory in the walk: the threads finish the file in hand, then stop.
    {
      std::lock_guard<std::mutex> lock(feed_mu);
      walk_done = true;
    }
    feed_cv.notify_all();
    for (auto& t : threads) t.join();
    throw;
  }
  {
    std::lock_guard<std::mutex> lock(feed_mu);
    for (size_t i = next_in_walk; i < jobs.size(); ++i) rest.push_back(&jobs[i]);
    std::stable_sort(rest.begin(), rest.end(),
                     [](const Job* a, const Job* b) { return a->file.n_bytes > b->file.n_bytes; });
    walk_done = true;
  }
  feed_cv.notify_all();
  stats.discover_ms = ms_since(t0);
  work(0);
  for (auto& t : threads) t.join();
  if (cancel && cancel->load()) return make_error(ErrorCode::kCancelled, "workspace index build cancelled");
  // The copies: the first job's entry under this file's paths, or (when that parse failed)
  // a parse of their own.
  for (const auto& [job, first] : copies) {
    if (first->complete && first->result) {
      const FileEntry& src = *first->result;
      auto e = std::make_shared<FileEntry>();
      e->abs_path = job->file.abs_path;
      e->path = impl_->display_path(roots_, job->root, job->file.rel_path);
      e->root = job->root;
      e->language = job->file.language;
      e->n_bytes = src.n_bytes;
      e->n_lines = src.n_lines;
      e->symbols = src.symbols;
      e->ref_names = src.ref_names;
      job->result = std::move(e);
      ++stats.n_duplicates;
    } else {
      index_file(*workers[0], *job, /*dedupe=*/false);
    }
  }
  if (cancel && cancel->load()) return make_error(ErrorCode::kCancelled, "workspace index build cancelled");
  for (auto& w : workers) {
    stats.skipped.binary += w->binary;
    stats.skipped.unreadable += w->unreadable;
    stats.n_failed += w->failed;
    stats.n_parsed += w->parsed;
    stats.n_from_cache += w->from_cache;
  }
  stats.parse_ms = ms_since(t1);
  workers.clear();
  // The entries in the order of their paths (each root's, roots in order), as a sorted
  // walk would give them: file ids do not depend on which thread finished first.
  std::vector<Job*> by_path;
  by_path.reserve(jobs.size());
  for (auto& j : jobs) by_path.push_back(&j);
  std::sort(by_path.begin(), by_path.end(), [](const Job* a, const Job* b) {
    return a->root != b->root ? a->root < b->root : a->file.rel_path < b->file.rel_path;
  });
  std::vector<std::shared_ptr<FileEntry>> results;
  results.reserve(by_path.size());
  for (Job* j : by_path) results.push_back(std::move(j->result));
  // The discovered paths (22K jobs for /usr/include, ~4 MiB) and the content map are in the
  // results now: free them before the trim, so that publishing starts from a smaller heap.
  decltype(by_path)().swap(by_path);
  decltype(rest)().swap(rest);
  decltype(jobs)().swap(jobs);
  decltype(first_of)().swap(first_of);
  decltype(copies)().swap(copies);
#if defined(__GLIBC__)
  // The parse trees and buffers the workers freed leave holes between the entries they
  // kept: hand those pages back before publishing (/usr/include: 12 MB).
  malloc_trim(0);
#endif

  // Publish: a fresh table, with the open documents' current entries carried over.
  Published fresh;
  const uint64_t gen = generation_.load() + 1;
  {
    size_t n_files = 0, n_defs = 0, n_ref_names = 0;
    for (size_t i = 0; i < results.size(); ++i) {
      if (!results[i]) continue;
      ++n_files;
      n_defs += results[i]->symbols.definitions.size();
      n_ref_names += results[i]->ref_names.size();
    }
    fresh.files.reserve(n_files + impl_->docs.size());
    fresh.by_abs.reserve(n_files + impl_->docs.size());
    fresh.by_display.reserve(n_files + impl_->docs.size());
    // Names repeat across files: a quarter is a guess that spares most of the rehashing.
    fresh.defs_by_name.reserve(n_defs / 4);
    fresh.refs_by_name.reserve(n_ref_names / 4);
  }
  for (size_t i = 0; i < results.size(); ++i) {
    auto& e = results[i];
    if (!e) continue;
    e->version = gen;
    fresh.put(std::move(e));
  }
  for (const auto& [abs, doc] : impl_->docs) {
    auto it = impl_->pub.by_abs.find(abs);
    if (it != impl_->pub.by_abs.end() && impl_->pub.files[it->second]) {
      auto copy = std::make_shared<FileEntry>(*impl_->pub.files[it->second]);
      fresh.put(std::move(copy));
    }
  }
  // The lists grew one file at a time: give their spare room back.
  for (auto& [name, refs] : fresh.defs_by_name) refs.shrink_to_fit();
  for (auto& [name, refs] : fresh.refs_by_name) refs.shrink_to_fit();
  for (const auto& f : fresh.files) {
    if (!f) continue;
    ++stats.n_files;
    stats.n_bytes += f->n_bytes;
    stats.n_lines += f->n_lines;
    stats.n_definitions += f->symbols.definitions.size();
    stats.n_references += f->n_references();
    stats.n_imports += f->symbols.imports.size();
    stats.n_with_errors += f->symbols.has_errors ? 1 : 0;
    ++stats.files_by_language[std::string(f->language->name)];
  }
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    impl_->pub = std::move(fresh);
    generation_.store(gen, std::memory_order_release);
  }
  stats.total_ms = ms_since(t0);
  return stats;
}

Admission SymbolIndex::admit(std::string_view path, bool check_content) const {
  Admission a;
  const auto filters = impl_->filters();
  for (uint32_t r = 0; r < filters->size(); ++r) {
    const FileFilter& f = *(*filters)[r];
    if (!path.starts_with("/") && r > 0) break;  // relative paths belong to the first root
    std::string rel;
    const Verdict v = f.check(path, check_content, &rel);
    if (v == Verdict::kOutsideRoot) continue;
    a.verdict = v;
    a.root = static_cast<int>(r);
    a.abs_path = f.absolute(path);
    a.display_path = impl_->display_path(roots_, r, rel);
    return a;
  }
  return a;
}

Admission SymbolIndex::admit_document(std::string_view path, std::string_view text) const {
  Admission a;
  const auto filters = impl_->filters();
  for (uint32_t r = 0; r < filters->size(); ++r) {
    const FileFilter& f = *(*filters)[r];
    if (!path.starts_with("/") && r > 0) break;
    std::string rel;
    const Verdict v = f.check_document(path, text, &rel);
    if (v == Verdict::kOutsideRoot) continue;
    a.verdict = v;
    a.root = static_cast<int>(r);
    a.abs_path = f.absolute(path);
    a.display_path = impl_->display_path(roots_, r, rel);
    return a;
  }
  return a;
}

Status SymbolIndex::update_document(std::string_view path, std::string_view text, std::span<const ByteEdit> edits) {
  std::lock_guard<std::mutex> wlock(write_mu_);
  const Admission adm = admit_document(path, text);
  const grammars::Language* lang = grammars::language_for_path(adm.abs_path);
  if (!adm.ok() || !lang) {
    impl_->docs.erase(adm.abs_path);
    std::unique_lock<std::shared_mutex> lock(mu_);
    if (impl_->pub.remove(adm.abs_path)) generation_.fetch_add(1, std::memory_order_acq_rel);
    return Status::ok_status();
  }
  DocState& doc = impl_->docs[adm.abs_path];
  const TSTree* old_tree = nullptr;
  PreviousExtraction previous;
  const PreviousExtraction* previous_ptr = nullptr;
  if (doc.tree && doc.text && !edits.empty() && edits_consistent(*doc.text, text, edits)) {
    for (const ByteEdit& e : edits) apply_edit(doc.tree.get(), e);
    old_tree = doc.tree.get();
    // One edit since an extraction we still have: the query can run on the changed region.
    auto it = impl_->pub.by_abs.find(adm.abs_path);
    if (edits.size() == 1 && doc.state_valid && it != impl_->pub.by_abs.end() && impl_->pub.files[it->second] &&
        impl_->pub.files[it->second]->document_text == doc.text) {
      previous.symbols = &impl_->pub.files[it->second]->symbols;
      previous.state = &doc.state;
      previous.edit = edits[0];
      previous_ptr = &previous;
    }
  }
  (old_tree ? n_incremental_ : n_full_).fetch_add(1, std::memory_order_relaxed);
  const std::vector<ByteSpan> secrets = find_secrets(text);
  FileSymbols syms;
  TagState state;
  auto tree = impl_->extractor.parse(*lang, text, old_tree, secrets, &syms, &state, previous_ptr);
  if (!tree.ok()) {
    doc.tree.reset();  // it may have been edited already: the next update parses afresh
    doc.state_valid = false;
    return make_error(tree.error().code(), fmt::format("indexing '{}': {}", adm.display_path, tree.error().message()));
  }
  if (impl_->extractor.last_extraction_was_partial()) n_partial_.fetch_add(1, std::memory_order_relaxed);
  doc.tree = std::move(tree).value();
  doc.text = std::make_shared<const std::string>(text);
  doc.state = std::move(state);
  doc.state_valid = true;
  auto entry = make_entry(adm.abs_path, adm.display_path, static_cast<uint32_t>(adm.root), lang, text, std::move(syms),
                          /*keep_references=*/true);
  entry->open_document = true;
  entry->document_text = doc.text;
  std::unique_lock<std::shared_mutex> lock(mu_);
  entry->version = generation_.load() + 1;
  impl_->pub.put(std::move(entry));
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return Status::ok_status();
}

namespace {

// Indexes one file from disk into `pub` (or removes it when it is no longer admitted).
// Returns true when the published data changed.
bool reindex_from_disk(SymbolIndex& index, const Admission& adm, TagExtractor& extractor, uint64_t max_bytes,
                       const std::string& display, std::shared_mutex& mu, Published& pub,
                       std::atomic<uint64_t>& generation) {
  const grammars::Language* lang = grammars::language_for_path(adm.abs_path);
  std::string text;
  FileSymbols syms;
  bool ok = adm.ok() && lang && read_file(adm.abs_path, max_bytes, &text) && !is_binary(text);
  if (ok) {
    auto tree = extractor.parse(*lang, text, nullptr, find_secrets(text), &syms);
    if (!tree.ok()) syms = FileSymbols{};
  }
  (void)index;
  std::unique_lock<std::shared_mutex> lock(mu);
  if (!ok) {
    if (!pub.remove(adm.abs_path)) return false;
    generation.fetch_add(1, std::memory_order_acq_rel);
    return true;
  }
  auto entry = make_entry(adm.abs_path, display, static_cast<uint32_t>(adm.root), lang, text, std::move(syms),
                          /*keep_references=*/false);
  entry->version = generation.load() + 1;
  pub.put(std::move(entry));
  generation.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

}  // namespace

Status SymbolIndex::close_document(std::string_view path) {
  std::lock_guard<std::mutex> wlock(write_mu_);
  const Admission adm = admit(path, true);
  const std::string abs = adm.abs_path.empty() ? impl_->filters()->front()->absolute(path) : adm.abs_path;
  impl_->docs.erase(abs);
  Admission a = adm;
  a.abs_path = abs;
  reindex_from_disk(*this, a, impl_->extractor, options_.max_file_bytes, adm.display_path, mu_, impl_->pub,
                    generation_);
  return Status::ok_status();
}

Status SymbolIndex::on_file_event(std::string_view path, FileEvent event) {
  const std::string_view base = path.substr(path.find_last_of('/') == std::string_view::npos ? 0 : path.find_last_of('/') + 1);
  if (base == ".gitignore" || base == kMoecodeIgnoreFile || path.ends_with(".git/info/exclude")) {
    // The rules changed: a full rebuild (with fresh filters).
    auto stats = build();
    if (!stats.ok()) return stats.error();
    return Status::ok_status();
  }
  std::lock_guard<std::mutex> wlock(write_mu_);
  const auto filters = impl_->filters();
  const std::string abs = filters->front()->absolute(path);
  if (event == FileEvent::kDeleted) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    bool changed = false;
    std::vector<std::string> gone;
    for (const auto& [a, id] : impl_->pub.by_abs) {
      if ((a == abs || (a.size() > abs.size() && a.starts_with(abs) && a[abs.size()] == '/')) &&
          !impl_->docs.count(a)) {
        gone.push_back(a);
      }
    }
    for (const auto& a : gone) changed |= impl_->pub.remove(a);
    if (changed) generation_.fetch_add(1, std::memory_order_acq_rel);
    return Status::ok_status();
  }
  struct stat st;
  if (::stat(abs.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    // A folder appeared (or changed): walk it.
    for (uint32_t r = 0; r < filters->size(); ++r) {
      const FileFilter& f = *(*filters)[r];
      const std::string& root = f.root();
      if (!(abs == root || (abs.starts_with(root) && abs[root.size()] == '/'))) continue;
      const std::string rel = abs.size() > root.size() ? abs.substr(root.size() + 1) : "";
      SkipCounts skipped;
      for (const auto& df : f.discover(&skipped, nullptr, rel)) {
        if (impl_->docs.count(df.abs_path)) continue;
        Admission a;
        a.verdict = Verdict::kAdmit;
        a.root = static_cast<int>(r);
        a.abs_path = df.abs_path;
        a.display_path = impl_->display_path(roots_, r, df.rel_path);
        reindex_from_disk(*this, a, impl_->extractor, options_.max_file_bytes, a.display_path, mu_, impl_->pub,
                          generation_);
      }
      break;
    }
    return Status::ok_status();
  }
  if (impl_->docs.count(abs)) return Status::ok_status();  // the editor owns an open document
  Admission adm = admit(path, true);
  if (adm.abs_path.empty()) adm.abs_path = abs;
  reindex_from_disk(*this, adm, impl_->extractor, options_.max_file_bytes, adm.display_path, mu_, impl_->pub,
                    generation_);
  return Status::ok_status();
}

Result<std::string> SymbolIndex::read_text(std::string_view abs_path) const {
  View v = view();
  const FileEntry* f = v.find(abs_path);
  if (!f) return make_error(ErrorCode::kNotFound, fmt::format("'{}' is not in the workspace index", abs_path));
  return entry_text(*f);
}

Result<std::string> SymbolIndex::entry_text(const FileEntry& entry) const {
  if (entry.document_text) return std::string(*entry.document_text);
  const Admission adm = admit(entry.abs_path, false);
  if (!adm.ok()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' may not be read: {}", entry.path, verdict_name(adm.verdict)));
  }
  std::string text;
  if (!read_file(adm.abs_path, options_.max_file_bytes, &text)) {
    return make_error(ErrorCode::kIo, fmt::format("cannot read '{}': {}", entry.path, std::strerror(errno)));
  }
  if (is_binary(text)) return make_error(ErrorCode::kInvalidArgument, fmt::format("'{}' is binary", entry.path));
  return text;
}

Result<std::vector<Reference>> SymbolIndex::references_in(const FileEntry& entry, std::string_view text) const {
  if (entry.open_document || entry.ref_names.empty()) return entry.symbols.references;
  thread_local TagExtractor extractor;
  FileSymbols syms;
  auto tree = extractor.parse(*entry.language, text, nullptr, {}, &syms);
  if (!tree.ok()) {
    return make_error(tree.error().code(), fmt::format("references of '{}': {}", entry.path, tree.error().message()));
  }
  return std::move(syms.references);
}

SymbolIndex::View SymbolIndex::view() const { return View(*this); }

SymbolIndex::ParseCounts SymbolIndex::document_parse_counts() const {
  return {n_incremental_.load(std::memory_order_relaxed), n_full_.load(std::memory_order_relaxed),
          n_partial_.load(std::memory_order_relaxed)};
}

std::string SymbolIndex::debug_dump() const {
  View v = view();
  const Published& pub = impl_->pub;
  std::vector<const FileEntry*> files;
  v.for_each_file([&](const FileEntry& f) { files.push_back(&f); });
  std::sort(files.begin(), files.end(), [](const FileEntry* a, const FileEntry* b) { return a->path < b->path; });
  std::string out;
  auto range = [](const SourceRange& r) {
    return fmt::format("{}:{}-{}:{}@{}-{}", r.start.row, r.start.column, r.end.row, r.end.column, r.start_byte,
                       r.end_byte);
  };
  for (const FileEntry* f : files) {
    out += fmt::format("file {} {} bytes={} lines={} errors={}\n", f->path, f->language->name, f->n_bytes,
                       f->n_lines, f->symbols.has_errors);
    for (const auto& d : f->symbols.definitions) {
      out += fmt::format("  def {} {} container={} range={} name={} sig={:?}\n", symbol_kind_name(d.kind), d.name,
                         d.container, range(d.range), range(d.name_range()), f->symbols.signature(d));
    }
    // Positions as a caller gets them: kept (open documents) or extracted again.
    auto text = entry_text(*f);
    auto refs = text.ok() ? references_in(*f, *text) : Result<std::vector<Reference>>(text.error());
    if (!refs.ok()) out += fmt::format("  refs unavailable: {}\n", refs.error().message());
    for (const auto& r : refs.ok() ? *refs : std::vector<Reference>{}) {
      out += fmt::format("  ref {} {} {}\n", reference_kind_name(r.kind), r.name, range(r.range()));
    }
    for (const auto& i : f->symbols.imports) {
      out += fmt::format("  import {} name={} {}\n", i.module, i.name, range(i.range));
    }
  }
  std::vector<std::string> lines;
  for (const auto& [name, refs] : pub.defs_by_name) {
    std::vector<std::string> where;
    for (const auto& r : refs) where.push_back(fmt::format("{}#{}", pub.files[r.file]->path, r.index));
    std::sort(where.begin(), where.end());
    lines.push_back(fmt::format("defs {} -> {}", name, fmt::join(where, " ")));
  }
  for (const auto& [name, refs] : pub.refs_by_name) {
    std::vector<std::string> where;
    for (const auto& r : refs) where.push_back(fmt::format("{}x{}", pub.files[r.file]->path, r.count));
    std::sort(where.begin(), where.end());
    lines.push_back(fmt::format("refs {} -> {}", name, fmt::join(where, " ")));
  }
  std::sort(lines.begin(), lines.end());
  for (const auto& l : lines) out += l + "\n";
  return out;
}

uint64_t FileEntry::n_references() const {
  uint64_t n = 0;
  for (const NameCount& c : ref_names) n += c.count;
  return n;
}

// ---- View ---------------------------------------------------------------------------------

SymbolIndex::View::View(const SymbolIndex& index) : index_(&index), lock_(index.mu_) {}

size_t SymbolIndex::View::n_files() const { return index_->impl_->pub.n_live; }

FileId SymbolIndex::View::id_limit() const { return static_cast<FileId>(index_->impl_->pub.files.size()); }

const FileEntry* SymbolIndex::View::file(FileId id) const {
  const auto& files = index_->impl_->pub.files;
  return id < files.size() ? files[id].get() : nullptr;
}

const FileEntry* SymbolIndex::View::find(std::string_view path) const {
  const Published& pub = index_->impl_->pub;
  if (auto it = pub.by_abs.find(path); it != pub.by_abs.end()) return file(it->second);
  if (auto it = pub.by_display.find(path); it != pub.by_display.end()) return file(it->second);
  if (!path.starts_with("/")) {
    const std::string abs = index_->impl_->filters()->front()->absolute(path);
    if (auto it = pub.by_abs.find(abs); it != pub.by_abs.end()) return file(it->second);
  }
  return nullptr;
}

std::span<const DefRef> SymbolIndex::View::definitions(std::string_view name) const {
  const auto& m = index_->impl_->pub.defs_by_name;
  const std::optional<Name> key = Name::find(name);
  if (!key) return {};
  auto it = m.find(*key);
  return it == m.end() ? std::span<const DefRef>() : std::span<const DefRef>(it->second);
}

std::span<const DefRef> SymbolIndex::View::definitions_of(Name name) const {
  const auto& m = index_->impl_->pub.defs_by_name;
  auto it = m.find(name);
  return it == m.end() ? std::span<const DefRef>() : std::span<const DefRef>(it->second);
}

const Definition& SymbolIndex::View::definition(DefRef ref) const {
  return index_->impl_->pub.files[ref.file]->symbols.definitions[ref.index];
}

std::string_view SymbolIndex::View::signature(DefRef ref) const {
  const FileSymbols& s = index_->impl_->pub.files[ref.file]->symbols;
  return s.signature(s.definitions[ref.index]);
}

std::span<const RefCount> SymbolIndex::View::referencing_files(std::string_view name) const {
  const auto& m = index_->impl_->pub.refs_by_name;
  const std::optional<Name> key = Name::find(name);
  if (!key) return {};
  auto it = m.find(*key);
  return it == m.end() ? std::span<const RefCount>() : std::span<const RefCount>(it->second);
}

std::vector<FileId> SymbolIndex::View::resolve(const FileEntry& from, const Import& imp, size_t max_files) const {
  return resolve_import(index_->impl_->pub.paths, *from.language, from.path, imp, max_files);
}

}  // namespace moecode::workspace
