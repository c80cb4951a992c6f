// The index's shard cache (see shard_cache.h). A shard is
//   "MOESHRD3" | u32 payload size | u64 FNV-1a of the payload | payload
// and the payload is varints (LEB128; signed ones zigzag-coded):
//   has_errors
//   strings: n, then n x (length, bytes): every name, container, signature and module once
//   definitions: n, then n x (name, kind, range, name range, container, signature)
//   referenced names: n, then n x (name, count), names in text order
//   imports:     n, then n x (module, name, range)
// where a string is its index in the table and a range is (start byte - previous start byte
// of the section, signed; end byte - start byte; start row - previous start row, signed; start
// column; end row - start row; end column). Positions grow through a file, so most numbers
// take one byte: a shard is a fraction of the source's size.
#include "lsp/workspace/shard_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

namespace moecode::workspace {

static_assert(std::endian::native == std::endian::little, "shards are written in the host's byte order");

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "MOESHRD3";
constexpr size_t kHeaderBytes = 8 + 4 + 8;
// Bump when the extraction or the redaction of signatures changes what a file yields
// (grammar and query changes are seen by the fingerprint already).
constexpr uint32_t kExtractorVersion = 1;

uint64_t fnv1a(std::string_view data) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::array<uint8_t, 32> sha256(std::string_view data) {
  std::array<uint8_t, 32> out{};
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &n, EVP_sha256(), nullptr);
  return out;
}

std::string hex(const uint8_t* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string s(n * 2, '0');
  for (size_t i = 0; i < n; ++i) {
    s[2 * i] = digits[p[i] >> 4];
    s[2 * i + 1] = digits[p[i] & 15];
  }
  return s;
}

// "<name>-<16 hex digits>" per language, in all_languages() order.
const std::vector<std::string>& fingerprints() {
  static const std::vector<std::string> table = [] {
    std::vector<std::string> t;
    for (const auto& lang : grammars::all_languages()) {
      const TSLanguage* ts = lang.grammar();  // metadata only: no dense tables built
      std::string seed = fmt::format("format 2|extractor {}|{}|abi {}|symbols {}|fields {}|", kExtractorVersion,
                                     lang.name, ts_language_version(ts), ts_language_symbol_count(ts),
                                     ts_language_field_count(ts));
      seed += lang.tags_query;
      const auto d = sha256(seed);
      t.push_back(fmt::format("{}-{}", lang.name, hex(d.data(), 8)));
    }
    return t;
  }();
  return table;
}

const std::string& fingerprint(const grammars::Language* lang) {
  const auto all = grammars::all_languages();
  const size_t i = static_cast<size_t>(lang - all.data());
  return fingerprints().at(i);
}

class Writer {
 public:
  void var(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void svar(int64_t v) { var((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void bytes(std::string_view s) {
    var(s.size());
    out_.append(s);
  }
  // A range after `prev` (the previous range of the same section).
  void range(const SourceRange& r, SourceRange* prev) {
    svar(static_cast<int64_t>(r.start_byte) - prev->start_byte);
    var(r.end_byte - r.start_byte);
    svar(static_cast<int64_t>(r.start.row) - prev->start.row);
    var(r.start.column);
    var(r.end.row - r.start.row);
    var(r.end.column);
    *prev = r;
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view data, uint64_t n_bytes) : data_(data), n_bytes_(n_bytes) {}
  bool var(uint64_t* v) {
    uint64_t x = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (data_.empty()) return false;
      const auto c = static_cast<uint8_t>(data_[0]);
      data_.remove_prefix(1);
      x |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (!(c & 0x80)) {
        // The shortest form only (a padded varint is damage), and no bits past 64.
        if ((c == 0 && shift > 0) || (shift == 63 && c > 1)) return false;
        *v = x;
        return true;
      }
    }
    return false;
  }
  bool u32(uint32_t* v) {
    uint64_t x = 0;
    if (!var(&x) || x > UINT32_MAX) return false;
    *v = static_cast<uint32_t>(x);
    return true;
  }
  bool svar(int64_t* v) {
    uint64_t x = 0;
    if (!var(&x)) return false;
    *v = static_cast<int64_t>(x >> 1) ^ -static_cast<int64_t>(x & 1);
    return true;
  }
  // A view into the data being read.
  bool bytes(std::string_view* s) {
    uint64_t n = 0;
    if (!var(&n) || data_.size() < n) return false;
    *s = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  // A count of records of at least `min_record` bytes each (so a damaged count cannot ask
  // for a huge reservation).
  bool count(uint32_t* n, size_t min_record) { return u32(n) && static_cast<uint64_t>(*n) * min_record <= data_.size(); }
  bool range(SourceRange* r, SourceRange* prev) {
    int64_t d_start = 0, d_row = 0;
    uint32_t length = 0, row_span = 0;
    if (!(svar(&d_start) && u32(&length) && svar(&d_row) && u32(&r->start.column) && u32(&row_span) &&
          u32(&r->end.column))) {
      return false;
    }
    const int64_t start = static_cast<int64_t>(prev->start_byte) + d_start;
    const int64_t row = static_cast<int64_t>(prev->start.row) + d_row;
    if (start < 0 || row < 0 || row > UINT32_MAX || static_cast<uint64_t>(start) + length > n_bytes_ ||
        static_cast<uint64_t>(row) + row_span > UINT32_MAX) {
      return false;
    }
    r->start_byte = static_cast<uint32_t>(start);
    r->end_byte = r->start_byte + length;
    r->start.row = static_cast<uint32_t>(row);
    r->end.row = r->start.row + row_span;
    if (row_span == 0 && r->end.column < r->start.column) return false;
    *prev = *r;
    return true;
  }
  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
  uint64_t n_bytes_;
};

// The string table of one shard: each distinct string once, by first use.
class StringTable {
 public:
  uint32_t id(std::string_view s) {
    if (auto it = ids_.find(s); it != ids_.end()) return it->second;
    auto it = ids_.emplace(std::string(s), static_cast<uint32_t>(strings_.size())).first;
    strings_.push_back(&it->first);
    return it->second;
  }
  const std::vector<const std::string*>& strings() const { return strings_; }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint32_t, Hash, std::equal_to<>> ids_;
  std::vector<const std::string*> strings_;
};

bool read_all(const std::string& path, std::string* out) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st;
  bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (1ll << 31);
  if (ok) {
    out->resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out->size()) {
      const ssize_t r = ::read(fd, out->data() + got, out->size() - got);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    ok = got == out->size();
  }
  ::close(fd);
  return ok;
}

bool write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t w = ::write(fd, data.data(), data.size());
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data.remove_prefix(static_cast<size_t>(w));
  }
  return true;
}

}  // namespace

std::string ShardCache::default_dir() {
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) return std::string(xdg) + "/moecode/index";
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.cache/moecode/index";
  return "";
}

std::shared_ptr<const ShardCache> ShardCache::open_default() {
  std::string dir = default_dir();
  if (const char* env = std::getenv("MOECODE_INDEX_CACHE"); env && *env) {
    const std::string_view v(env);
    if (v == "0" || v == "off" || v == "false" || v == "no") return nullptr;
    dir = env;
  }
  auto cache = open(dir);
  if (!cache.ok()) {
    spdlog::warn("{}: files are indexed without the cache", cache.error().message());
    return nullptr;
  }
  return std::shared_ptr<const ShardCache>(std::move(cache).value());
}

Result<std::unique_ptr<ShardCache>> ShardCache::open(const std::string& dir) {
  if (dir.empty()) return make_error(ErrorCode::kInvalidArgument, "no folder for the index cache");
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec || !fs::is_directory(dir)) {
    return make_error(ErrorCode::kIo, fmt::format("index cache {}: {}", dir, ec ? ec.message() : "not a folder"));
  }
  ::chmod(dir.c_str(), 0700);
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return make_error(ErrorCode::kIo, fmt::format("index cache {}: {}", dir, std::strerror(errno)));
  }
  return std::unique_ptr<ShardCache>(new ShardCache(dir));
}

ShardCache::Key ShardCache::key(const grammars::Language& language, std::string_view content) {
  Key k;
  k.language = &language;
  k.digest = sha256(content);
  k.n_bytes = content.size();
  return k;
}

std::string ShardCache::shard_path(const Key& key) const {
  const std::string h = hex(key.digest.data(), key.digest.size());
  return fmt::format("{}/v3/{}/{}/{}", dir_, fingerprint(key.language), h.substr(0, 2), h.substr(2));
}

std::string ShardCache::encode(const FileSymbols& s, std::span<const NameCount> ref_names) {
  // In text order: the same content gives the same bytes, whichever process writes them.
  std::vector<NameCount> names(ref_names.begin(), ref_names.end());
  std::sort(names.begin(), names.end(),
            [](const NameCount& a, const NameCount& b) { return a.name.view() < b.name.view(); });
  StringTable table;
  std::vector<uint32_t> ids;  // in the order the records below read them
  for (const auto& d : s.definitions) {
    ids.push_back(table.id(d.name));
    ids.push_back(table.id(d.container));
    ids.push_back(table.id(s.signature(d)));
  }
  for (const auto& r : names) ids.push_back(table.id(r.name));
  for (const auto& i : s.imports) {
    ids.push_back(table.id(i.module));
    ids.push_back(table.id(i.name));
  }
  Writer w;
  w.var(s.has_errors ? 1 : 0);
  w.var(table.strings().size());
  for (const std::string* str : table.strings()) w.bytes(*str);
  size_t k = 0;
  SourceRange prev;
  w.var(s.definitions.size());
  for (const auto& d : s.definitions) {
    w.var(ids[k++]);
    w.var(static_cast<uint8_t>(d.kind));
    w.range(d.range, &prev);
    SourceRange name_prev = d.range;  // the name lies inside the definition
    w.range(d.name_range(), &name_prev);
    w.var(ids[k++]);
    w.var(ids[k++]);
  }
  w.var(names.size());
  for (const auto& r : names) {
    w.var(ids[k++]);
    w.var(r.count);
  }
  prev = {};
  w.var(s.imports.size());
  for (const auto& i : s.imports) {
    w.var(ids[k++]);
    w.var(ids[k++]);
    w.range(i.range, &prev);
  }
  const std::string payload = w.take();
  std::string out(kMagic);
  const auto size = static_cast<uint32_t>(payload.size());
  const uint64_t sum = fnv1a(payload);
  out.append(reinterpret_cast<const char*>(&size), 4);
  out.append(reinterpret_cast<const char*>(&sum), 8);
  out += payload;
  return out;
}

bool ShardCache::decode(std::string_view data, uint64_t n_bytes, FileSymbols* out,
                        std::vector<NameCount>* ref_names) {
  if (data.size() < kHeaderBytes || data.substr(0, kMagic.size()) != kMagic) return false;
  uint32_t size = 0;
  uint64_t sum = 0;
  std::memcpy(&size, data.data() + 8, 4);
  std::memcpy(&sum, data.data() + 12, 8);
  const std::string_view payload = data.substr(kHeaderBytes);
  if (payload.size() != size || fnv1a(payload) != sum) return false;

  Reader r(payload, n_bytes);
  FileSymbols s;
  uint32_t flag = 0, n = 0, kind = 0;
  if (!r.u32(&flag) || flag > 1) return false;
  s.has_errors = flag == 1;
  if (!r.count(&n, 1)) return false;
  std::vector<std::string_view> strings(n);  // views into `data`
  for (auto& str : strings) {
    if (!r.bytes(&str)) return false;
  }
  // Names are interned once per shard string, on first use.
  std::vector<Name> names(strings.size());
  std::vector<uint8_t> interned(strings.size(), 0);
  auto name = [&](Name* into) {
    uint32_t id = 0;
    if (!r.u32(&id) || id >= strings.size()) return false;
    if (!interned[id]) names[id] = Name(strings[id]), interned[id] = 1;
    *into = names[id];
    return true;
  };
  constexpr size_t kRangeBytes = 6;  // six varints of one byte at least
  SourceRange prev;
  if (!r.count(&n, 1 + 1 + 2 * kRangeBytes + 1 + 1)) return false;
  s.definitions.resize(n);
  std::vector<uint32_t> sig_ids(n);
  size_t sig_bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    Definition& d = s.definitions[i];
    if (!name(&d.name) || !r.u32(&kind) || kind > static_cast<uint32_t>(SymbolKind::kVariable)) return false;
    d.kind = static_cast<SymbolKind>(kind);
    if (!r.range(&d.range, &prev)) return false;
    SourceRange name_prev = d.range;
    SourceRange name_range;
    if (!r.range(&name_range, &name_prev) || !name(&d.container) || !r.u32(&sig_ids[i]) ||
        sig_ids[i] >= strings.size()) {
      return false;
    }
    d.set_name_start(name_range);
    if (d.name_range() != name_range) return false;  // not the extent of the name: not a shard we wrote
    sig_bytes += strings[sig_ids[i]].size();
  }
  // The signatures in one string, in order (as FileSymbols::add_definition lays them out).
  if (sig_bytes > FileSymbols::kMaxFileSignatureBytes) return false;  // not a shard we wrote
  s.signatures.reserve(sig_bytes);
  for (size_t i = 0; i < n; ++i) {
    s.signatures.append(strings[sig_ids[i]]);
    s.definitions[i].signature_end = static_cast<uint32_t>(s.signatures.size());
  }
  if (!r.count(&n, 1 + 1)) return false;
  std::vector<NameCount> counted(n);
  for (auto& c : counted) {
    // A name is referenced at least once, and its text is at least a byte per reference.
    if (!name(&c.name) || c.name.empty() || !r.u32(&c.count) || c.count == 0 || c.count > n_bytes) return false;
  }
  prev = {};
  if (!r.count(&n, 1 + 1 + kRangeBytes)) return false;
  s.imports.resize(n);
  for (auto& imp : s.imports) {
    if (!name(&imp.module) || !name(&imp.name) || !r.range(&imp.range, &prev)) return false;
  }
  if (!r.done()) return false;
  *out = std::move(s);
  *ref_names = std::move(counted);
  return true;
}

bool ShardCache::load(const Key& key, FileSymbols* out, std::vector<NameCount>* ref_names) const {
  const std::string path = shard_path(key);
  std::string data;
  if (!read_all(path, &data)) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!decode(data, key.n_bytes, out, ref_names)) {
    corrupt_.fetch_add(1, std::memory_order_relaxed);
    misses_.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("index cache: {} does not decode; removed, the file is parsed again", path);
    ::unlink(path.c_str());
    return false;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ShardCache::store(const Key& key, const FileSymbols& symbols, std::span<const NameCount> ref_names) const {
  const std::string path = shard_path(key);
  const std::string folder = path.substr(0, path.rfind('/'));
  const std::string tmp = fmt::format("{}/.tmp-{}-{}", folder, ::getpid(), tmp_counter_.fetch_add(1));
  const std::string data = encode(symbols, ref_names);
  auto fail = [&](const char* what) {
    const int err = errno;
    store_failures_.fetch_add(1, std::memory_order_relaxed);
    if (!warned_.exchange(true)) {
      spdlog::warn("index cache: cannot {} in {} ({}): files are indexed without the cache", what, dir_,
                   std::strerror(err));
    }
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(folder, ec);
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (fd < 0) return fail("create a shard");
  const bool written = write_all(fd, data);
  const int err = errno;
  if (::close(fd) != 0 || !written) {
    errno = written ? errno : err;
    ::unlink(tmp.c_str());
    return fail("write a shard");
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return fail("rename a shard");
  }
  stored_.fetch_add(1, std::memory_order_relaxed);
}

ShardCache::Counts ShardCache::counts() const {
  return {hits_.load(), misses_.load(), corrupt_.load(), stored_.load(), store_failures_.load()};
}

}  // namespace moecode::workspace
