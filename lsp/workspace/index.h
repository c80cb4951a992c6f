// The workspace symbol index: every admitted source file under the workspace roots,
// parsed with tree-sitter (a bounded worker pool for full builds), with
//   name -> definitions (file, range, kind, container, signature),
//   file -> definitions, references and imports,
//   name -> files that reference it (reverse references, with counts),
// and incremental updates: an editor edit is applied with ts_tree_edit and an incremental
// re-parse, and only that file's entries are replaced; watched-file events add, update
// and remove files.
//
// Thread-safety: all methods are thread-safe. Readers take a View (a shared lock held for
// the View's lifetime: keep it short); writers (build, documents, events) are serialised
// and hold the exclusive lock only to publish their results.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammars/languages.h"
#include "lsp/workspace/discovery.h"
#include "lsp/workspace/imports.h"
#include "lsp/workspace/shard_cache.h"
#include "lsp/workspace/symbols.h"
#include "lsp/workspace/tags.h"
#include "lsp/workspace/text_edit.h"
#include "moecode/engine/result.h"

namespace moecode::workspace {

struct IndexOptions {
  uint64_t max_file_bytes = kDefaultMaxFileBytes;
  int n_workers = 0;  // parse threads for full builds; 0: default_worker_count()
  // Where full builds keep and find each file's symbols by content (shard_cache.h), so a
  // second build parses only changed files; nullptr: parse every file.
  std::shared_ptr<const ShardCache> cache;
};

struct IndexStats {
  uint64_t n_files = 0;
  uint64_t n_bytes = 0;
  uint64_t n_lines = 0;
  uint64_t n_definitions = 0;
  uint64_t n_references = 0;
  uint64_t n_imports = 0;
  uint64_t n_with_errors = 0;  // files whose parse tree has ERROR/MISSING nodes
  uint64_t n_failed = 0;       // parse timed out / failed: indexed without symbols
  uint64_t n_parsed = 0;       // files parsed by this build
  uint64_t n_from_cache = 0;   // files whose symbols came from the shard cache
  uint64_t n_duplicates = 0;   // files with the same bytes as another file: parsed once
  SkipCounts skipped;
  std::map<std::string, uint64_t> files_by_language;
  double discover_ms = 0;
  double parse_ms = 0;
  double total_ms = 0;
  int n_workers = 0;
};

// One indexed file. Immutable once published (replaced as a whole on update).
struct FileEntry {
  FileId id = 0;
  std::string path;      // display path: relative to its root (prefixed with the root's
                         // folder name when the workspace has several roots)
  std::string abs_path;  // absolute, as reached from the root (links not resolved)
  uint32_t root = 0;
  const grammars::Language* language = nullptr;
  uint64_t n_bytes = 0;
  uint32_t n_lines = 0;
  uint64_t version = 0;        // index generation of the last (re)index of this file
  bool open_document = false;  // text from the editor (update_document), not the disk
  std::shared_ptr<const std::string> document_text;  // that text (open documents only)
  // The file's symbols. symbols.references is kept for open documents only (incremental
  // re-extraction needs it); other files keep ref_names, and the positions of their
  // references are read again from the text when asked for (SymbolIndex::references_in):
  // /usr/include has 4.4M references in 2.4M (file, name) pairs.
  FileSymbols symbols;
  std::vector<NameCount> ref_names;  // every file: the names it references, with counts
  uint64_t n_references() const;
};

struct DefRef {
  FileId file = 0;
  uint32_t index = 0;  // into FileEntry::symbols.definitions
  bool operator==(const DefRef&) const = default;
};

struct RefCount {
  FileId file = 0;
  uint32_t count = 0;
  bool operator==(const RefCount&) const = default;
};

enum class FileEvent { kCreated, kChanged, kDeleted };

// Why a path may or may not be used (index, prompt).
struct Admission {
  Verdict verdict = Verdict::kOutsideRoot;
  int root = -1;             // the root it is under, -1 if none
  std::string display_path;  // as FileEntry::path
  std::string abs_path;
  bool ok() const { return verdict == Verdict::kAdmit; }
};

class SymbolIndex {
 public:
  class View;

  // `roots`: existing folders (canonicalised here). Nothing is indexed until build().
  static Result<std::unique_ptr<SymbolIndex>> create(const std::vector<std::string>& roots,
                                                     const IndexOptions& options = {});
  ~SymbolIndex();

  // Discovers and parses every admitted file of every root (replacing the current content;
  // open documents keep their editor text). Stops early with kCancelled when *cancel.
  Result<IndexStats> build(const std::atomic<bool>* cancel = nullptr);

  // An editor document's new full text, with the edits that turned the previous text into
  // it (ByteEdits in order; empty: no edit information, the file is re-parsed from scratch).
  // The first call for a path opens the document (its text now overrides the disk).
  // A path that is not admitted (outside the roots, ignored, secret, binary, oversize)
  // or has no grammar is not indexed (and is removed if it was): that is not an error.
  Status update_document(std::string_view path, std::string_view text, std::span<const ByteEdit> edits = {});
  // The editor closed the document: the disk version is indexed again (or removed).
  Status close_document(std::string_view path);
  // A watched-file event (file or folder). Changes to .gitignore / .moecodeignore rebuild.
  Status on_file_event(std::string_view path, FileEvent event);

  // Whether `path` (absolute, or relative to the first root) may be used. check_content:
  // also read the first bytes to detect binaries.
  Admission admit(std::string_view path, bool check_content) const;
  // The same for an editor's text (which may not be on disk).
  Admission admit_document(std::string_view path, std::string_view text) const;

  // The current text of an indexed file: the open document's text, else the disk's.
  Result<std::string> read_text(std::string_view abs_path) const;
  // The references of an entry obtained from a View, with their positions: an open
  // document's as kept, another file's extracted again from `text` (its entry_text()).
  // Takes no lock.
  Result<std::vector<Reference>> references_in(const FileEntry& entry, std::string_view text) const;
  // The same for an entry obtained from a View (takes no lock: call it while holding one).
  Result<std::string> entry_text(const FileEntry& entry) const;

  View view() const;
  const std::vector<std::string>& roots() const { return roots_; }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // How document updates were parsed: incrementally (an edited old tree) or from scratch;
  // and how many of them re-ran the tags query on the changed region only.
  struct ParseCounts {
    uint64_t incremental = 0;
    uint64_t full = 0;
    uint64_t partial_extractions = 0;
  };
  ParseCounts document_parse_counts() const;

  // A canonical text dump of the whole index (files, symbols, maps): tests compare two
  // indexes with it.
  std::string debug_dump() const;

 private:
  friend class View;
  struct Impl;
  SymbolIndex() = default;

  std::vector<std::string> roots_;
  IndexOptions options_;
  std::unique_ptr<Impl> impl_;
  mutable std::shared_mutex mu_;  // guards the published data in impl_
  std::mutex write_mu_;           // serialises writers
  std::atomic<uint64_t> generation_{0};
  std::atomic<uint64_t> n_incremental_{0};
  std::atomic<uint64_t> n_full_{0};
  std::atomic<uint64_t> n_partial_{0};
};

// Read access to the index under a shared lock. Pointers and spans it returns are valid
// while the View lives. Not thread-safe itself (one View per thread).
class SymbolIndex::View {
 public:
  explicit View(const SymbolIndex& index);
  View(View&&) = default;

  uint64_t generation() const { return index_->generation(); }
  size_t n_files() const;
  // Ids are dense in [0, id_limit()); removed files give nullptr.
  FileId id_limit() const;
  const FileEntry* file(FileId id) const;
  // By absolute path or display path.
  const FileEntry* find(std::string_view path) const;

  std::span<const DefRef> definitions(std::string_view name) const;
  std::span<const DefRef> definitions_of(Name name) const;  // the same, without the name lookup
  const Definition& definition(DefRef ref) const;
  std::string_view signature(DefRef ref) const;  // of definition(ref)
  std::span<const RefCount> referencing_files(std::string_view name) const;
  // The files an import of `from` refers to (see imports.h), best first.
  std::vector<FileId> resolve(const FileEntry& from, const Import& imp, size_t max_files = 8) const;

  template <typename Fn>
  void for_each_file(Fn&& fn) const {
    for (FileId id = 0; id < id_limit(); ++id) {
      if (const FileEntry* f = file(id)) fn(*f);
    }
  }

 private:
  const SymbolIndex* index_;
  std::shared_lock<std::shared_mutex> lock_;
};

}  // namespace moecode::workspace
