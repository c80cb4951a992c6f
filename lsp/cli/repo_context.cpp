// Repository context for `moecode serve` (see repo_context.h).
#include "lsp/cli/repo_context.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "grammars/languages.h"
#include "lsp/protocol/types.h"

namespace moecode::cli {

namespace fs = std::filesystem;

namespace {

// Whether `path` is `root` or below it (both absolute and lexically normal).
bool under(const std::string& path, const std::string& root) {
  if (path.size() < root.size() || path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || root.back() == '/' || path[root.size()] == '/';
}

std::string normal(const std::string& path) { return fs::path(path).lexically_normal().string(); }

// The server's token counter (a function of the loaded model) as lsp/context's counter.
class ForwardingCounter final : public context::TokenCounter {
 public:
  size_t count(std::string_view text) const override {
    return fn_ && *fn_ ? static_cast<size_t>(std::max(0, (*fn_)(text))) : heuristic_.count(text);
  }
  std::string_view name() const override { return "the model's tokenizer"; }
  void set(const assist::TokenCounter* fn) { fn_ = fn; }

 private:
  const assist::TokenCounter* fn_ = nullptr;
  context::HeuristicCounter heuristic_;
};

}  // namespace

// ---- SymbolWorkspaceIndex ---------------------------------------------------------------

SymbolWorkspaceIndex::SymbolWorkspaceIndex(std::shared_ptr<RepoContextRegistry> registry)
    : registry_(std::move(registry)) {}

SymbolWorkspaceIndex::~SymbolWorkspaceIndex() {
  std::lock_guard lock(mu_);
  if (index_) registry_->remove(index_.get());
}

std::string SymbolWorkspaceIndex::index_folders(const std::vector<std::string>& folders,
                                                const server::ProgressFn& progress,
                                                const engine::CancelToken& cancel) {
  workspace::IndexOptions options;
  options.cache = workspace::ShardCache::open_default();
  auto created = workspace::SymbolIndex::create(folders, options);
  if (!created.ok()) return "indexing failed: " + created.error().message();
  std::shared_ptr<workspace::SymbolIndex> index = std::move(created).value();
  if (progress) progress(server::IndexProgress{"parsing", -1});
  // SymbolIndex::build polls an atomic flag; the session's token is watched for it.
  std::atomic<bool> stop{false}, done{false};
  std::thread watch([&] {
    while (!done.load()) {
      if (cancel.cancelled()) {
        stop = true;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  auto stats = index->build(&stop);
  done = true;
  watch.join();
  if (!stats.ok()) return "indexing stopped: " + stats.error().message();
  // Whole files never need a walker's tree-sitter query, the first edit of an open file does
  // (incremental re-extraction): compile it here, on the indexing thread, not then on the
  // message thread (~120 ms for C++).
  for (const auto& [name, n] : stats->files_by_language) {
    const grammars::Language* lang = grammars::language_by_name(name);
    if (!lang) continue;
    if (auto q = workspace::TagQuery::get(*lang); q.ok() && *q && (*q)->has_walker()) (void)(*q)->ts();
  }
  {
    std::lock_guard lock(mu_);
    // Documents the editor opened meanwhile keep their editor text.
    for (const auto& [path, text] : open_) {
      if (auto st = index->update_document(path, *text); !st.ok()) spdlog::debug("index: {}", st.error().message());
    }
    if (index_) registry_->remove(index_.get());
    index_ = index;
    registry_->add(index_);
  }
  std::string summary = fmt::format("indexed {} files ({} definitions) in {:.0f} ms", stats->n_files,
                                    stats->n_definitions, stats->total_ms);
  if (stats->n_from_cache > 0) summary += fmt::format(", {} from the index cache", stats->n_from_cache);
  return summary;
}

void SymbolWorkspaceIndex::update(const workspace::DocumentSnapshot& doc, std::span<const workspace::ByteEdit> edits) {
  const auto path = protocol::uri_to_path(doc.uri);
  if (!path || !doc.text) return;
  std::lock_guard lock(mu_);
  open_[*path] = doc.text;
  if (!index_) return;
  if (auto st = index_->update_document(*path, *doc.text, edits); !st.ok()) {
    spdlog::debug("index: {}: {}", *path, st.error().message());
  }
}

void SymbolWorkspaceIndex::document_opened(const workspace::DocumentSnapshot& doc) { update(doc, {}); }

void SymbolWorkspaceIndex::document_changed(const workspace::DocumentSnapshot& doc,
                                            std::span<const workspace::ByteEdit> edits) {
  update(doc, edits);
}

void SymbolWorkspaceIndex::document_saved(const workspace::DocumentSnapshot&) {}

void SymbolWorkspaceIndex::document_closed(const std::string& uri) {
  const auto path = protocol::uri_to_path(uri);
  if (!path) return;
  std::lock_guard lock(mu_);
  open_.erase(*path);
  if (index_) {
    if (auto st = index_->close_document(*path); !st.ok()) spdlog::debug("index: {}", st.error().message());
  }
}

std::shared_ptr<workspace::SymbolIndex> SymbolWorkspaceIndex::index() const {
  std::lock_guard lock(mu_);
  return index_;
}

// ---- RepoContextRegistry ----------------------------------------------------------------

void RepoContextRegistry::add(const std::shared_ptr<workspace::SymbolIndex>& index) {
  std::lock_guard lock(mu_);
  indexes_.push_back(index);
}

void RepoContextRegistry::remove(const workspace::SymbolIndex* index) {
  std::lock_guard lock(mu_);
  std::erase_if(indexes_, [&](const std::weak_ptr<workspace::SymbolIndex>& w) {
    auto p = w.lock();
    return !p || p.get() == index;
  });
}

std::shared_ptr<workspace::SymbolIndex> RepoContextRegistry::find(const std::string& path) const {
  const std::string p = normal(path);
  std::lock_guard lock(mu_);
  for (const auto& w : indexes_) {
    auto index = w.lock();
    if (!index) continue;
    for (const std::string& root : index->roots()) {
      if (under(p, normal(root))) return index;
    }
  }
  return nullptr;
}

// ---- RepoContextProvider ----------------------------------------------------------------

// The packer of one index. Its engine memoises token counts by text, through the counter of
// the request being served: counts from an earlier model may linger after a model switch
// (they only steer how much context fits the budget).
struct RepoContextProvider::Packer {
  std::shared_ptr<workspace::SymbolIndex> index;
  ForwardingCounter counter;
  std::unique_ptr<context::ContextEngine> engine;
};

RepoContextProvider::RepoContextProvider(std::shared_ptr<RepoContextRegistry> registry)
    : registry_(std::move(registry)) {}

RepoContextProvider::~RepoContextProvider() = default;

Result<assist::CompletionContext> RepoContextProvider::gather(const assist::ContextRequest& request,
                                                              const assist::TokenCounter& count_tokens,
                                                              const engine::CancelToken& cancel) {
  auto index = request.path.empty() || !request.text ? nullptr : registry_->find(request.path);
  if (!index) return window_.gather(request, count_tokens, cancel);

  std::lock_guard lock(mu_);
  // Packers of indexes no session holds any more go (a packer keeps its index alive).
  std::erase_if(packers_, [](const std::unique_ptr<Packer>& p) { return p->index.use_count() == 1; });
  auto it = std::find_if(packers_.begin(), packers_.end(), [&](const auto& p) { return p->index == index; });
  if (it == packers_.end()) {
    auto p = std::make_unique<Packer>();
    p->index = index;
    p->engine = std::make_unique<context::ContextEngine>(*index, p->counter);
    packers_.push_back(std::move(p));
    it = packers_.end() - 1;
  }
  Packer& packer = **it;
  packer.counter.set(&count_tokens);

  context::ContextRequest cr;
  cr.path = request.path;
  cr.text = *request.text;
  cr.cursor_byte = static_cast<uint32_t>(std::min(request.cursor, request.text->size()));
  cr.budget_tokens = static_cast<size_t>(std::max(1, request.token_budget));
  cr.format = context::SnippetFormat::comments();
  auto packed = packer.engine->pack(cr);
  packer.counter.set(nullptr);
  if (!packed.ok()) {
    spdlog::debug("context: {}: {}; using the document window", request.path, packed.error().message());
    return window_.gather(request, count_tokens, cancel);
  }

  assist::CompletionContext out;
  out.path = request.path;
  out.language_id = request.language_id;
  out.prefix = std::move(packed->prefix);
  out.suffix = std::move(packed->suffix);
  out.prefix_start = cr.cursor_byte - std::min<size_t>(cr.cursor_byte, out.prefix.size());
  for (context::Snippet& s : packed->snippets) {
    // The rendered text starts with a one-line path header; the prompt renderer writes its own.
    const size_t eol = s.text.find('\n');
    std::string body = eol == std::string::npos ? std::string() : s.text.substr(eol + 1);
    if (body.empty()) continue;
    out.snippets.push_back({std::move(s.path), std::move(body)});
  }
  return out;
}

}  // namespace moecode::cli
