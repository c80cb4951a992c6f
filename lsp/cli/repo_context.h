// Repository context for `moecode serve`: the session's workspace folders in lsp/workspace's
// tree-sitter symbol index (behind server::WorkspaceIndex), and lsp/context's packer
// (cross-file definitions, outlines, similar windows, repo map) behind
// assist::ContextProvider, so completions see the code the cursor uses.
//
// The two meet in a RepoContextRegistry, shared by the provider (one per server) and the
// indexes (one per client session): the provider serves a request from the index whose
// folders hold the request's file. Until a folder is indexed, or for files outside every
// indexed folder, or when packing fails (e.g. a secret cursor file), the provider falls back
// to the current document's window (assist::WindowContextProvider).
//
// Threading: the indexes' document hooks run on the I/O thread, index_folders() on a
// background thread, gather() on the scheduler's worker thread; all of them are safe
// together (the symbol index and the packer are thread-safe; the registry and each
// provider's engines are behind mutexes).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "lsp/assist/context.h"
#include "lsp/context/context.h"
#include "lsp/server/workspace_index.h"
#include "lsp/workspace/index.h"

namespace moecode::cli {

class RepoContextRegistry;

// A session's workspace index: the symbol index of its folders (built by index_folders),
// kept up to date with the editor's documents.
class SymbolWorkspaceIndex final : public server::WorkspaceIndex {
 public:
  explicit SymbolWorkspaceIndex(std::shared_ptr<RepoContextRegistry> registry);
  ~SymbolWorkspaceIndex() override;

  std::string index_folders(const std::vector<std::string>& folders, const server::ProgressFn& progress,
                            const engine::CancelToken& cancel) override;
  void document_opened(const workspace::DocumentSnapshot& doc) override;
  void document_changed(const workspace::DocumentSnapshot& doc, std::span<const workspace::ByteEdit> edits) override;
  void document_saved(const workspace::DocumentSnapshot& doc) override;
  void document_closed(const std::string& uri) override;

  // The built index (null before index_folders() succeeds).
  std::shared_ptr<workspace::SymbolIndex> index() const;

 private:
  void update(const workspace::DocumentSnapshot& doc, std::span<const workspace::ByteEdit> edits);

  std::shared_ptr<RepoContextRegistry> registry_;
  mutable std::mutex mu_;
  std::shared_ptr<workspace::SymbolIndex> index_;
  std::map<std::string, std::shared_ptr<const std::string>> open_;  // editor documents by path
};

// The live session indexes.
class RepoContextRegistry {
 public:
  void add(const std::shared_ptr<workspace::SymbolIndex>& index);
  void remove(const workspace::SymbolIndex* index);
  // The index with a root that holds `path` (absolute), or null.
  std::shared_ptr<workspace::SymbolIndex> find(const std::string& path) const;

 private:
  mutable std::mutex mu_;
  std::vector<std::weak_ptr<workspace::SymbolIndex>> indexes_;
};

class RepoContextProvider final : public assist::ContextProvider {
 public:
  explicit RepoContextProvider(std::shared_ptr<RepoContextRegistry> registry);
  ~RepoContextProvider() override;

  Result<assist::CompletionContext> gather(const assist::ContextRequest& request,
                                           const assist::TokenCounter& count_tokens,
                                           const engine::CancelToken& cancel) override;

 private:
  struct Packer;
  std::shared_ptr<RepoContextRegistry> registry_;
  assist::WindowContextProvider window_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Packer>> packers_;  // one per index seen (released with it)
};

}  // namespace moecode::cli
