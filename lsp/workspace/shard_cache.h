// A persistent cache of what the tags extraction found in each file: one shard per (file
// content, language, extractor), so that a second build of a workspace, or of any folder
// holding the same files, re-parses only files whose content changed.
//
//   <dir>/v3/<language>-<fingerprint>/<ab>/<cdef...>
//
// <ab><cdef...> is the SHA-256 of the file's bytes; the fingerprint (per language) covers the
// shard format, the grammar (ABI version, symbol and field counts), our tags query and the
// extractor's version, so a change of any of them makes the old shards unreachable.
// A shard holds what the index keeps of a closed file: its definitions (signatures already
// redacted: no secret is ever written), imports, and the names it references with their
// counts (FileEntry::ref_names; the positions of references are read again from the text
// when asked for, so a shard does not keep them). Writes are atomic (a temporary file in the same folder,
// then rename), so readers never see half a shard and concurrent writers of the same content
// agree; a shard that does not decode (truncated, corrupted, out of range) is a miss, removed
// and written again. The folder is created 0700: it names what the user's files contain.
//
// Thread-safe: load and store may run concurrently from any number of threads.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "grammars/languages.h"
#include "lsp/workspace/symbols.h"
#include "moecode/engine/result.h"

namespace moecode::workspace {

class ShardCache {
 public:
  // The default folder: $XDG_CACHE_HOME/moecode/index, else ~/.cache/moecode/index ("" when
  // neither variable is set).
  static std::string default_dir();

  // The cache of the commands and the server: the folder $MOECODE_INDEX_CACHE names ("0" or
  // "off": no cache), else default_dir(). nullptr (with a warning) when it cannot be used.
  static std::shared_ptr<const ShardCache> open_default();

  // Creates `dir` (and its parents) if needed. An unusable folder (not creatable, not
  // writable) is an error: the caller indexes without a cache.
  static Result<std::unique_ptr<ShardCache>> open(const std::string& dir);

  // A file's key: its language and content.
  struct Key {
    const grammars::Language* language = nullptr;
    std::array<uint8_t, 32> digest{};  // SHA-256 of the content
    uint64_t n_bytes = 0;              // content size (ranges are checked against it)
  };
  static Key key(const grammars::Language& language, std::string_view content);

  // The symbols stored for `key` (without references: out->references is empty) and the
  // names the file references with their counts; false when there are none or the shard
  // does not decode (then it is removed).
  bool load(const Key& key, FileSymbols* out, std::vector<NameCount>* ref_names) const;
  // Stores `symbols` (its references are not read) and `ref_names` (count_reference_names
  // of the symbols) for `key`, replacing any shard. Failures (disk full, permissions) are
  // counted and logged once, never raised: the index works without its cache.
  void store(const Key& key, const FileSymbols& symbols, std::span<const NameCount> ref_names) const;

  // The path of the shard for `key` (tests corrupt shards through it).
  std::string shard_path(const Key& key) const;
  const std::string& dir() const { return dir_; }

  struct Counts {
    uint64_t hits = 0;
    uint64_t misses = 0;
    uint64_t corrupt = 0;  // shards that did not decode (counted in misses too)
    uint64_t stored = 0;
    uint64_t store_failures = 0;
  };
  Counts counts() const;

  // Serialisation, exposed for tests: decode(encode(s, names), n) gives back s without its
  // references, and names (in text order), for every s whose ranges fit in n bytes; decode
  // rejects anything else.
  static std::string encode(const FileSymbols& symbols, std::span<const NameCount> ref_names);
  static bool decode(std::string_view data, uint64_t n_bytes, FileSymbols* out,
                     std::vector<NameCount>* ref_names);

 private:
  explicit ShardCache(std::string dir) : dir_(std::move(dir)) {}

  std::string dir_;
  mutable std::atomic<uint64_t> hits_{0}, misses_{0}, corrupt_{0}, stored_{0}, store_failures_{0};
  mutable std::atomic<uint64_t> tmp_counter_{0};
  mutable std::atomic<bool> warned_{false};
};

}  // namespace moecode::workspace
