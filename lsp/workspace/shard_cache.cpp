// The index's shard cache (see shard_cache.h). A shard is
//   "MOESHRD1" | u32 payload size | u64 FNV-1a of the payload | payload
// and the payload, little-endian:
//   u8 has_errors
//   u32 n; n x definition: str name, u8 kind, range, range (name), str container, str signature
//   u32 n; n x reference:  str name, u8 kind, range
//   u32 n; n x import:     str module, str name, range
// with str = u32 length + bytes, range = u32 start_byte, end_byte, start row, column, end row,
// column.
#include "lsp/workspace/shard_cache.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include <fmt/format.h>
#include <openssl/evp.h>
#include <spdlog/spdlog.h>

namespace moecode::workspace {

static_assert(std::endian::native == std::endian::little, "shards are written in the host's byte order");

namespace {

namespace fs = std::filesystem;

constexpr std::string_view kMagic = "MOESHRD1";
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
      const TSLanguage* ts = lang.ts();
      std::string seed = fmt::format("format 1|extractor {}|{}|abi {}|symbols {}|fields {}|", kExtractorVersion,
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
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v) { out_.append(reinterpret_cast<const char*>(&v), 4); }
  void str(std::string_view s) {
    u32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  void range(const SourceRange& r) {
    u32(r.start_byte);
    u32(r.end_byte);
    u32(r.start.row);
    u32(r.start.column);
    u32(r.end.row);
    u32(r.end.column);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  Reader(std::string_view data, uint64_t n_bytes) : data_(data), n_bytes_(n_bytes) {}
  bool u8(uint8_t* v) {
    if (data_.size() < 1) return false;
    *v = static_cast<uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool u32(uint32_t* v) {
    if (data_.size() < 4) return false;
    std::memcpy(v, data_.data(), 4);
    data_.remove_prefix(4);
    return true;
  }
  bool str(std::string* s) {
    uint32_t n = 0;
    if (!u32(&n) || data_.size() < n) return false;
    s->assign(data_.data(), n);
    data_.remove_prefix(n);
    return true;
  }
  // A count of records of at least `min_record` bytes each (so a corrupt count cannot ask
  // for a huge reservation).
  bool count(uint32_t* n, size_t min_record) {
    return u32(n) && static_cast<uint64_t>(*n) * min_record <= data_.size();
  }
  bool range(SourceRange* r) {
    if (!(u32(&r->start_byte) && u32(&r->end_byte) && u32(&r->start.row) && u32(&r->start.column) &&
          u32(&r->end.row) && u32(&r->end.column))) {
      return false;
    }
    return r->start_byte <= r->end_byte && r->end_byte <= n_bytes_ &&
           (r->start.row < r->end.row || (r->start.row == r->end.row && r->start.column <= r->end.column));
  }
  bool done() const { return data_.empty(); }

 private:
  std::string_view data_;
  uint64_t n_bytes_;
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
  return fmt::format("{}/v1/{}/{}/{}", dir_, fingerprint(key.language), h.substr(0, 2), h.substr(2));
}

std::string ShardCache::encode(const FileSymbols& s) {
  Writer w;
  w.u8(s.has_errors ? 1 : 0);
  w.u32(static_cast<uint32_t>(s.definitions.size()));
  for (const auto& d : s.definitions) {
    w.str(d.name);
    w.u8(static_cast<uint8_t>(d.kind));
    w.range(d.range);
    w.range(d.name_range);
    w.str(d.container);
    w.str(d.signature);
  }
  w.u32(static_cast<uint32_t>(s.references.size()));
  for (const auto& r : s.references) {
    w.str(r.name);
    w.u8(static_cast<uint8_t>(r.kind));
    w.range(r.range);
  }
  w.u32(static_cast<uint32_t>(s.imports.size()));
  for (const auto& i : s.imports) {
    w.str(i.module);
    w.str(i.name);
    w.range(i.range);
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

bool ShardCache::decode(std::string_view data, uint64_t n_bytes, FileSymbols* out) {
  if (data.size() < kHeaderBytes || data.substr(0, kMagic.size()) != kMagic) return false;
  uint32_t size = 0;
  uint64_t sum = 0;
  std::memcpy(&size, data.data() + 8, 4);
  std::memcpy(&sum, data.data() + 12, 8);
  const std::string_view payload = data.substr(kHeaderBytes);
  if (payload.size() != size || fnv1a(payload) != sum) return false;

  Reader r(payload, n_bytes);
  FileSymbols s;
  uint8_t flag = 0, kind = 0;
  uint32_t n = 0;
  constexpr size_t kRangeBytes = 24;
  if (!r.u8(&flag) || flag > 1) return false;
  s.has_errors = flag == 1;
  if (!r.count(&n, 4 + 1 + 2 * kRangeBytes + 4 + 4)) return false;
  s.definitions.resize(n);
  for (auto& d : s.definitions) {
    if (!r.str(&d.name) || !r.u8(&kind) || kind > static_cast<uint8_t>(SymbolKind::kVariable)) return false;
    d.kind = static_cast<SymbolKind>(kind);
    if (!r.range(&d.range) || !r.range(&d.name_range) || !r.str(&d.container) || !r.str(&d.signature)) return false;
  }
  if (!r.count(&n, 4 + 1 + kRangeBytes)) return false;
  s.references.resize(n);
  for (auto& ref : s.references) {
    if (!r.str(&ref.name) || !r.u8(&kind) || kind > static_cast<uint8_t>(ReferenceKind::kOther)) return false;
    ref.kind = static_cast<ReferenceKind>(kind);
    if (!r.range(&ref.range)) return false;
  }
  if (!r.count(&n, 4 + 4 + kRangeBytes)) return false;
  s.imports.resize(n);
  for (auto& imp : s.imports) {
    if (!r.str(&imp.module) || !r.str(&imp.name) || !r.range(&imp.range)) return false;
  }
  if (!r.done()) return false;
  *out = std::move(s);
  return true;
}

bool ShardCache::load(const Key& key, FileSymbols* out) const {
  const std::string path = shard_path(key);
  std::string data;
  if (!read_all(path, &data)) {
    misses_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (!decode(data, key.n_bytes, out)) {
    corrupt_.fetch_add(1, std::memory_order_relaxed);
    misses_.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("index cache: {} does not decode; removed, the file is parsed again", path);
    ::unlink(path.c_str());
    return false;
  }
  hits_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ShardCache::store(const Key& key, const FileSymbols& symbols) const {
  const std::string path = shard_path(key);
  const std::string folder = path.substr(0, path.rfind('/'));
  const std::string tmp = fmt::format("{}/.tmp-{}-{}", folder, ::getpid(), tmp_counter_.fetch_add(1));
  const std::string data = encode(symbols);
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
