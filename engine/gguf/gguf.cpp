// GGUF reader: mmap + strict validation (see gguf.h). Every length, count, offset and size
// read from the file is checked against what remains before it is used, with overflow-safe
// arithmetic, so a hostile file yields an error and never a read outside the mapping.
#include "engine/gguf/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_set>

namespace moecode::gguf {

namespace {

constexpr int kMaxArrayDepth = 4;  // arrays of arrays of ...: more is surely hostile
constexpr uint64_t kMaxStringBytes = uint64_t{1} << 30;

// x * y without overflow; false if it would overflow.
bool mul_ok(uint64_t x, uint64_t y, uint64_t* out) {
  if (x != 0 && y > std::numeric_limits<uint64_t>::max() / x) return false;
  *out = x * y;
  return true;
}

bool add_ok(uint64_t x, uint64_t y, uint64_t* out) {
  if (y > std::numeric_limits<uint64_t>::max() - x) return false;
  *out = x + y;
  return true;
}

std::string printable(std::string_view s, size_t max = 64) {
  std::string out;
  for (char c : s.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

template <typename T>
T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// Keys whose type the GGUF spec / llama.cpp fix. A file that stores another type there is
// rejected at open, so later code can rely on them.
struct KnownKey {
  const char* key;
  ValueType type;  // for arrays: the element type
  bool is_array;
};
constexpr KnownKey kKnownKeys[] = {
    {"general.architecture", ValueType::kString, false},
    {"general.alignment", ValueType::kUint32, false},
    {"general.name", ValueType::kString, false},
    {"general.quantization_version", ValueType::kUint32, false},
    {"tokenizer.ggml.model", ValueType::kString, false},
    {"tokenizer.ggml.pre", ValueType::kString, false},
    {"tokenizer.ggml.tokens", ValueType::kString, true},
    {"tokenizer.ggml.scores", ValueType::kFloat32, true},
    {"tokenizer.ggml.token_type", ValueType::kInt32, true},
    {"tokenizer.ggml.merges", ValueType::kString, true},
    {"tokenizer.chat_template", ValueType::kString, false},
};

// Keys that must hold an integer (any width) or a bool, wherever they appear.
bool is_known_integer_key(std::string_view key) {
  static constexpr std::string_view kSuffixes[] = {
      "_token_id", ".context_length", ".embedding_length", ".block_count", ".feed_forward_length",
      ".attention.head_count", ".attention.head_count_kv", ".expert_count", ".expert_used_count",
      ".vocab_size", "general.file_type"};
  for (auto s : kSuffixes) {
    if (key.size() >= s.size() && key.substr(key.size() - s.size()) == s) return true;
  }
  return false;
}

// Of those, the per-layer hyperparameters llama.cpp reads with get_key_or_arr: an integer,
// or an array of integers with one value per layer (Gemma 3n/4, OpenELM...).
bool is_per_layer_key(std::string_view key) {
  static constexpr std::string_view kSuffixes[] = {".attention.head_count", ".attention.head_count_kv",
                                                   ".feed_forward_length", ".expert_used_count"};
  for (auto s : kSuffixes) {
    if (key.size() >= s.size() && key.substr(key.size() - s.size()) == s) return true;
  }
  return false;
}

bool is_integer_type(ValueType t) {
  switch (t) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kUint16:
    case ValueType::kInt16:
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kUint64:
    case ValueType::kInt64:
      return true;
    default:
      return false;
  }
}

bool is_bool_key(std::string_view key) {
  return key.starts_with("tokenizer.ggml.add_") && key.ends_with("_token");
}

Error corrupt(std::string message) { return make_error(ErrorCode::kCorrupt, std::move(message)); }

}  // namespace

// ---- value types --------------------------------------------------------------------

const char* value_type_name(ValueType type) {
  switch (type) {
    case ValueType::kUint8: return "u8";
    case ValueType::kInt8: return "i8";
    case ValueType::kUint16: return "u16";
    case ValueType::kInt16: return "i16";
    case ValueType::kUint32: return "u32";
    case ValueType::kInt32: return "i32";
    case ValueType::kFloat32: return "f32";
    case ValueType::kBool: return "bool";
    case ValueType::kString: return "string";
    case ValueType::kArray: return "array";
    case ValueType::kUint64: return "u64";
    case ValueType::kInt64: return "i64";
    case ValueType::kFloat64: return "f64";
  }
  return "?";
}

bool is_valid_value_type(uint32_t type) { return type <= static_cast<uint32_t>(ValueType::kFloat64); }

size_t scalar_size(ValueType type) {
  switch (type) {
    case ValueType::kUint8:
    case ValueType::kInt8:
    case ValueType::kBool: return 1;
    case ValueType::kUint16:
    case ValueType::kInt16: return 2;
    case ValueType::kUint32:
    case ValueType::kInt32:
    case ValueType::kFloat32: return 4;
    case ValueType::kUint64:
    case ValueType::kInt64:
    case ValueType::kFloat64: return 8;
    case ValueType::kString:
    case ValueType::kArray: return 0;
  }
  return 0;
}

static bool is_unsigned_type(ValueType t) {
  return t == ValueType::kUint8 || t == ValueType::kUint16 || t == ValueType::kUint32 ||
         t == ValueType::kUint64;
}
static bool is_signed_type(ValueType t) {
  return t == ValueType::kInt8 || t == ValueType::kInt16 || t == ValueType::kInt32 || t == ValueType::kInt64;
}

bool Value::is_integer() const { return is_unsigned_type(type_) || is_signed_type(type_); }

std::optional<uint64_t> Value::as_uint() const {
  if (is_unsigned_type(type_)) return u_;
  if (is_signed_type(type_) && i_ >= 0) return static_cast<uint64_t>(i_);
  return std::nullopt;
}

std::optional<int64_t> Value::as_int() const {
  if (is_signed_type(type_)) return i_;
  if (is_unsigned_type(type_) && u_ <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(u_);
  }
  return std::nullopt;
}

std::optional<double> Value::as_float() const {
  if (is_float()) return f_;
  if (is_unsigned_type(type_)) return static_cast<double>(u_);
  if (is_signed_type(type_)) return static_cast<double>(i_);
  return std::nullopt;
}

std::optional<bool> Value::as_bool() const {
  if (type_ == ValueType::kBool) return u_ != 0;
  return std::nullopt;
}

std::optional<std::string_view> Value::as_string() const {
  if (type_ == ValueType::kString) return s_;
  return std::nullopt;
}

Value Value::make_uint(ValueType type, uint64_t v) {
  Value out;
  out.type_ = type;
  out.u_ = v;
  return out;
}

Value Value::make_int(ValueType type, int64_t v) {
  Value out;
  out.type_ = type;
  out.i_ = v;
  return out;
}

Value Value::make_float(ValueType type, double v) {
  Value out;
  out.type_ = type;
  out.f_ = v;
  return out;
}

Value Value::make_bool(bool v) {
  Value out;
  out.type_ = ValueType::kBool;
  out.u_ = v ? 1 : 0;
  return out;
}

Value Value::make_string(std::string_view v) {
  Value out;
  out.type_ = ValueType::kString;
  out.s_ = v;
  return out;
}

Value Value::make_scalar_array(ValueType elem_type, uint64_t n, std::span<const uint8_t> raw) {
  Value out;
  out.type_ = ValueType::kArray;
  out.array_type_ = elem_type;
  out.array_size_ = n;
  out.array_raw_ = raw;
  return out;
}

Value Value::make_string_array(std::vector<std::string_view> items) {
  Value out;
  out.type_ = ValueType::kArray;
  out.array_type_ = ValueType::kString;
  out.array_size_ = items.size();
  out.strings_ = std::move(items);
  return out;
}

Value Value::make_array_array(std::vector<Value> items) {
  Value out;
  out.type_ = ValueType::kArray;
  out.array_type_ = ValueType::kArray;
  out.array_size_ = items.size();
  out.items_ = std::move(items);
  return out;
}

static Value decode_scalar(ValueType type, const uint8_t* p) {
  switch (type) {
    case ValueType::kUint8: return Value::make_uint(type, load_le<uint8_t>(p));
    case ValueType::kUint16: return Value::make_uint(type, load_le<uint16_t>(p));
    case ValueType::kUint32: return Value::make_uint(type, load_le<uint32_t>(p));
    case ValueType::kUint64: return Value::make_uint(type, load_le<uint64_t>(p));
    case ValueType::kInt8: return Value::make_int(type, load_le<int8_t>(p));
    case ValueType::kInt16: return Value::make_int(type, load_le<int16_t>(p));
    case ValueType::kInt32: return Value::make_int(type, load_le<int32_t>(p));
    case ValueType::kInt64: return Value::make_int(type, load_le<int64_t>(p));
    case ValueType::kFloat32: return Value::make_float(type, load_le<float>(p));
    case ValueType::kFloat64: return Value::make_float(type, load_le<double>(p));
    case ValueType::kBool: return Value::make_bool(load_le<uint8_t>(p) != 0);
    case ValueType::kString:
    case ValueType::kArray: break;
  }
  return Value();
}

Value Value::array_at(uint64_t i) const {
  MOE_ASSERT(type_ == ValueType::kArray && i < array_size_);
  if (array_type_ == ValueType::kString) return make_string(strings_[i]);
  if (array_type_ == ValueType::kArray) return items_[i];
  return decode_scalar(array_type_, array_raw_.data() + i * scalar_size(array_type_));
}

// ---- tensor sizes -------------------------------------------------------------------

Result<uint64_t> tensor_bytes(uint32_t type_id, std::span<const int64_t> ne) {
  const quant::TypeTraits* traits = quant::find_type_traits(type_id);
  if (!traits) return make_error(ErrorCode::kUnsupported, "unknown tensor type id " + std::to_string(type_id));
  if (ne.empty() || ne.size() > static_cast<size_t>(kMaxDims)) {
    return make_error(ErrorCode::kCorrupt, "tensor has " + std::to_string(ne.size()) + " dimensions (1..4 allowed)");
  }
  uint64_t n_elements = 1;
  for (int64_t d : ne) {
    if (d < 0) return make_error(ErrorCode::kCorrupt, "negative dimension " + std::to_string(d));
    if (!mul_ok(n_elements, static_cast<uint64_t>(d), &n_elements) ||
        n_elements > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return make_error(ErrorCode::kCorrupt, "dimensions overflow 64 bits");
    }
  }
  const auto block = static_cast<uint64_t>(traits->block_size);
  if (static_cast<uint64_t>(ne[0]) % block != 0) {
    return make_error(ErrorCode::kCorrupt, "row length " + std::to_string(ne[0]) + " is not a multiple of " +
                                               traits->name + "'s block size " + std::to_string(block));
  }
  uint64_t bytes = 0;
  if (!mul_ok(n_elements / block, traits->type_size, &bytes)) {
    return make_error(ErrorCode::kCorrupt, "tensor byte size overflows 64 bits");
  }
  return bytes;
}

// ---- GgufFile -----------------------------------------------------------------------

GgufFile::~GgufFile() {
  if (mapped_ && base_) ::munmap(const_cast<uint8_t*>(base_), map_len_);
}

Residence auto_residence(bool cpu_backend, std::string_view thp_mode, uint64_t file_bytes,
                         uint64_t mem_available) {
  const bool huge_pages = thp_mode == "always" || thp_mode == "madvise";
  // Past 8 GiB the read at load (a few GB/s from the page cache) would be seconds.
  const bool fits = mem_available > 0 && file_bytes <= mem_available / 2 && file_bytes <= kAutoCopyMaxBytes;
  return cpu_backend && huge_pages && fits ? Residence::kCopied : Residence::kMapped;
}

std::string transparent_hugepage_mode() {
  // One line such as "always [madvise] never": the selected mode is bracketed.
  std::FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
  if (f == nullptr) return {};
  char line[128] = {};
  const bool got = std::fgets(line, sizeof line, f) != nullptr;
  std::fclose(f);
  if (!got) return {};
  const std::string_view text(line);
  const size_t open = text.find('['), close = text.find(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) return {};
  return std::string(text.substr(open + 1, close - open - 1));
}

namespace {

// The first number of a file (a cgroup's limit or usage); nullopt when the file is missing or
// holds "max" (no limit).
std::optional<uint64_t> read_number(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "re");
  if (f == nullptr) return std::nullopt;
  unsigned long long v = 0;
  const bool got = std::fscanf(f, "%llu", &v) == 1;
  std::fclose(f);
  if (!got) return std::nullopt;
  return v;
}

// The memory this process's cgroups leave it (v2 memory.max and v1 memory.limit_in_bytes
// less usage, at every level from its own cgroup up to the root); nullopt when none limits it.
std::optional<uint64_t> cgroup_memory_left(const std::string& cgroup_root) {
  std::FILE* f = std::fopen("/proc/self/cgroup", "re");
  if (f == nullptr) return std::nullopt;
  std::optional<uint64_t> left;
  const auto level = [&](const std::string& dir, const char* limit_file, const char* usage_file) {
    const std::optional<uint64_t> limit = read_number(dir + "/" + limit_file);
    if (!limit || *limit >= (uint64_t{1} << 60)) return;  // v1 writes "no limit" as ~2^63
    const uint64_t usage = read_number(dir + "/" + usage_file).value_or(0);
    const uint64_t here = *limit > usage ? *limit - usage : 0;
    left = left ? std::min(*left, here) : here;
  };
  char line[512];
  while (std::fgets(line, sizeof line, f) != nullptr) {
    std::string_view text(line);
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    // "0::/path" (v2) or "4:memory:/path" (v1).
    const size_t c1 = text.find(':'), c2 = c1 == std::string_view::npos ? c1 : text.find(':', c1 + 1);
    if (c2 == std::string_view::npos) continue;
    const std::string_view controllers = text.substr(c1 + 1, c2 - c1 - 1);
    std::string path(text.substr(c2 + 1));
    const bool v2 = text.substr(0, c1) == "0" && controllers.empty();
    const bool v1 = controllers == "memory" || controllers.find("memory,") != std::string_view::npos ||
                    (controllers.size() > 7 && controllers.substr(controllers.size() - 7) == ",memory");
    if (!v2 && !v1) continue;
    const std::string base = cgroup_root + (v2 ? "" : "/memory");
    for (;;) {
      if (v2) level(base + path, "memory.max", "memory.current");
      else level(base + path, "memory.limit_in_bytes", "memory.usage_in_bytes");
      if (path.empty() || path == "/") break;
      path.erase(path.find_last_of('/'));
    }
  }
  std::fclose(f);
  return left;
}

}  // namespace

uint64_t available_memory_bytes(const std::string& cgroup_root) {
  uint64_t avail = 0;
  if (std::FILE* f = std::fopen("/proc/meminfo", "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, f) != nullptr) {
      unsigned long long v = 0;
      if (std::sscanf(line, "MemAvailable: %llu kB", &v) == 1) {
        avail = v * 1024;
        break;
      }
    }
    std::fclose(f);
  }
  // A container's limit is not in /proc/meminfo (it shows the host's memory).
  if (const std::optional<uint64_t> left = cgroup_memory_left(cgroup_root); left && avail > 0) {
    avail = std::min(avail, *left);
  }
  return avail;
}

namespace {

constexpr size_t kHugePage = size_t{2} << 20;

// The file's bytes in anonymous memory that starts on a huge-page boundary, advised to use
// huge pages, read-only once filled. Sets *len to the length to unmap. nullptr with *len = 0
// when the memory cannot be had (the caller maps the file instead); an error when the read
// fails.
Result<uint8_t*> read_into_anonymous(int fd, const std::string& path, uint64_t size, size_t* len) {
  *len = 0;
  if (size > std::numeric_limits<size_t>::max() - 2 * kHugePage) return nullptr;
  const size_t rounded = (static_cast<size_t>(size) + kHugePage - 1) / kHugePage * kHugePage;
  void* raw =
      ::mmap(nullptr, rounded + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return nullptr;
  // Trim to an aligned [start, start + rounded).
  auto* begin = static_cast<uint8_t*>(raw);
  const uintptr_t aligned = (reinterpret_cast<uintptr_t>(begin) + kHugePage - 1) / kHugePage * kHugePage;
  uint8_t* start = reinterpret_cast<uint8_t*>(aligned);
  if (start > begin) ::munmap(begin, static_cast<size_t>(start - begin));
  const size_t tail = static_cast<size_t>(begin + rounded + kHugePage - (start + rounded));
  if (tail > 0) ::munmap(start + rounded, tail);
  ::madvise(start, rounded, MADV_HUGEPAGE);  // advice: a kernel without THP ignores or refuses it
  uint64_t done = 0;
  while (done < size) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(size - done, uint64_t{64} << 20));
    const ssize_t got = ::pread(fd, start + done, want, static_cast<off_t>(done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      const std::string why = got < 0 ? std::strerror(errno) : "the file ended early (changed while read?)";
      ::munmap(start, rounded);
      return make_error(ErrorCode::kIo,
                        "cannot read '" + path + "' at byte " + std::to_string(done) + ": " + why);
    }
    done += static_cast<uint64_t>(got);
  }
  ::mprotect(start, rounded, PROT_READ);
  *len = rounded;
  return start;
}

}  // namespace

Error GgufFile::error(std::string message) const {
  return make_error(ErrorCode::kCorrupt, "GGUF '" + path_ + "': " + message);
}

Result<std::unique_ptr<GgufFile>> GgufFile::open(const std::string& path, Residence residence) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return make_error(errno == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo,
                      "cannot open '" + path + "': " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    return make_error(ErrorCode::kIo, "cannot stat '" + path + "': " + std::strerror(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(ErrorCode::kInvalidArgument, "'" + path + "' is not a regular file");
  }
  file->size_ = static_cast<uint64_t>(st.st_size);
  if (file->size_ == 0) {
    ::close(fd);
    return file->error("file is empty (0 bytes)");
  }
  if (residence == Residence::kCopied) {
    size_t len = 0;
    auto copied = read_into_anonymous(fd, path, file->size_, &len);
    if (!copied.ok()) {
      ::close(fd);
      return copied.error();
    }
    if (*copied != nullptr) {
      ::close(fd);
      file->base_ = *copied;
      file->map_len_ = len;
      file->mapped_ = true;
      file->residence_ = Residence::kCopied;
      MOE_RETURN_IF_ERROR(file->parse());
      return file;
    }
  }
  void* p = ::mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (p == MAP_FAILED) {
    return make_error(ErrorCode::kIo, "cannot map '" + path + "': " + std::strerror(map_errno));
  }
  file->base_ = static_cast<const uint8_t*>(p);
  file->map_len_ = static_cast<size_t>(file->size_);
  file->mapped_ = true;
  MOE_RETURN_IF_ERROR(file->parse());
  return file;
}

Result<std::unique_ptr<GgufFile>> GgufFile::from_bytes(std::span<const uint8_t> bytes, const std::string& name) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = name;
  file->owned_.assign(bytes.begin(), bytes.end());
  file->base_ = file->owned_.data();
  file->size_ = file->owned_.size();
  MOE_RETURN_IF_ERROR(file->parse());
  return file;
}

const Value* GgufFile::find(std::string_view key) const {
  for (const auto& kv : kvs_) {
    if (kv.key == key) return &kv.value;
  }
  return nullptr;
}

const TensorInfo* GgufFile::find_tensor(std::string_view name) const {
  for (const auto& t : tensors_) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Status GgufFile::parse_value(ValueType type, int depth, Value* out) {
  const uint64_t remaining = size_ - pos_;
  if (type == ValueType::kString) {
    if (remaining < 8) return corrupt("string length at byte " + std::to_string(pos_) + " past end of file");
    const uint64_t len = load_le<uint64_t>(base_ + pos_);
    if (len > remaining - 8 || len > kMaxStringBytes) {
      return corrupt("string length " + std::to_string(len) + " at byte " + std::to_string(pos_) +
                   " past end of file (" + std::to_string(remaining - 8) + " bytes left)");
    }
    *out = Value::make_string(std::string_view(reinterpret_cast<const char*>(base_ + pos_ + 8), len));
    pos_ += 8 + len;
    return {};
  }
  if (type != ValueType::kArray) {
    const size_t n = scalar_size(type);
    if (remaining < n) return corrupt(std::string(value_type_name(type)) + " value at byte " + std::to_string(pos_) + " past end of file");
    *out = decode_scalar(type, base_ + pos_);
    pos_ += n;
    return {};
  }
  // Array: element type, count, elements.
  if (depth >= kMaxArrayDepth) return corrupt("arrays nested deeper than " + std::to_string(kMaxArrayDepth));
  if (remaining < 12) return corrupt("array header at byte " + std::to_string(pos_) + " past end of file");
  const uint32_t elem_raw = load_le<uint32_t>(base_ + pos_);
  const uint64_t count = load_le<uint64_t>(base_ + pos_ + 4);
  if (!is_valid_value_type(elem_raw)) {
    return corrupt("array at byte " + std::to_string(pos_) + " has unknown element type " + std::to_string(elem_raw));
  }
  pos_ += 12;
  const auto elem = static_cast<ValueType>(elem_raw);
  const uint64_t left = size_ - pos_;
  if (elem == ValueType::kString || elem == ValueType::kArray) {
    // Each element takes at least 8 (string) or 12 (array) bytes: bound the count first.
    const uint64_t min_size = elem == ValueType::kString ? 8 : 12;
    if (count > left / min_size) {
      return corrupt("array of " + std::to_string(count) + " " + value_type_name(elem) +
                   " elements cannot fit in the " + std::to_string(left) + " bytes left");
    }
    if (elem == ValueType::kString) {
      std::vector<std::string_view> items;
      items.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        Value v;
        MOE_RETURN_IF_ERROR(parse_value(ValueType::kString, depth + 1, &v));
        items.push_back(*v.as_string());
      }
      *out = Value::make_string_array(std::move(items));
    } else {
      std::vector<Value> items;
      items.reserve(count);
      for (uint64_t i = 0; i < count; ++i) {
        Value v;
        MOE_RETURN_IF_ERROR(parse_value(ValueType::kArray, depth + 1, &v));
        items.push_back(std::move(v));
      }
      *out = Value::make_array_array(std::move(items));
    }
    return {};
  }
  uint64_t bytes = 0;
  if (!mul_ok(count, scalar_size(elem), &bytes) || bytes > left) {
    return corrupt("array of " + std::to_string(count) + " " + value_type_name(elem) + " elements at byte " +
                 std::to_string(pos_ - 12) + " past end of file (" + std::to_string(left) + " bytes left)");
  }
  *out = Value::make_scalar_array(elem, count, std::span<const uint8_t>(base_ + pos_, bytes));
  pos_ += bytes;
  return {};
}

Status GgufFile::check_known_keys() const {
  for (const auto& kv : kvs_) {
    const Value& v = kv.value;
    for (const auto& known : kKnownKeys) {
      if (kv.key != known.key) continue;
      const bool ok = known.is_array ? (v.type() == ValueType::kArray && v.array_type() == known.type)
                                     : v.type() == known.type;
      if (!ok) {
        std::string got = value_type_name(v.type());
        if (v.type() == ValueType::kArray) got += std::string(" of ") + value_type_name(v.array_type());
        std::string want = known.is_array ? std::string("array of ") + value_type_name(known.type)
                                          : value_type_name(known.type);
        return error("key '" + std::string(kv.key) + "' has type " + got + ", expected " + want);
      }
    }
    if (is_known_integer_key(kv.key) && !v.is_integer()) {
      const bool per_layer = is_per_layer_key(kv.key);
      if (!(per_layer && v.type() == ValueType::kArray && is_integer_type(v.array_type()))) {
        std::string got = value_type_name(v.type());
        if (v.type() == ValueType::kArray) got += std::string(" of ") + value_type_name(v.array_type());
        return error("key '" + std::string(kv.key) + "' has type " + got + ", expected an integer" +
                     (per_layer ? " or an array of integers (one per layer)" : ""));
      }
    }
    if (is_bool_key(kv.key) && v.type() != ValueType::kBool) {
      return error("key '" + std::string(kv.key) + "' has type " + value_type_name(v.type()) + ", expected bool");
    }
  }
  return {};
}

Status GgufFile::parse() {
  pos_ = 0;
  if (size_ < 24) return error("file too small for a GGUF header (" + std::to_string(size_) + " bytes, need 24)");
  const uint32_t magic = load_le<uint32_t>(base_);
  if (magic != kMagic) {
    return error("bad magic " + printable(std::string_view(reinterpret_cast<const char*>(base_), 4)) +
                 " (expected \"GGUF\"): not a GGUF file");
  }
  version_ = load_le<uint32_t>(base_ + 4);
  if (version_ == 1) return error("GGUF version 1 is not supported (only 2 and 3)");
  if (version_ < 2 || version_ > 3) return error("unsupported GGUF version " + std::to_string(version_) + " (2 and 3 are supported)");
  const uint64_t n_tensors = load_le<uint64_t>(base_ + 8);
  const uint64_t n_kv = load_le<uint64_t>(base_ + 16);
  pos_ = 24;

  // Every key-value takes at least 8 + 4 + 1 bytes, every tensor info 8 + 4 + 8 + 4 + 8.
  if (n_kv > (size_ - pos_) / 13) {
    return error("metadata count " + std::to_string(n_kv) + " cannot fit in a file of " + std::to_string(size_) + " bytes");
  }
  if (n_tensors > (size_ - pos_) / 32) {
    return error("tensor count " + std::to_string(n_tensors) + " cannot fit in a file of " + std::to_string(size_) + " bytes");
  }

  kvs_.reserve(n_kv);
  std::unordered_set<std::string_view> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    Value key;
    const uint64_t at = pos_;
    if (Status s = parse_value(ValueType::kString, 0, &key); !s.ok()) {
      return error("metadata key #" + std::to_string(i) + ": " + s.error().message());
    }
    const std::string_view k = *key.as_string();
    if (k.empty()) return error("metadata key #" + std::to_string(i) + " at byte " + std::to_string(at) + " is empty");
    if (!keys.insert(k).second) return error("duplicate metadata key '" + printable(k) + "'");
    if (size_ - pos_ < 4) return error("type of key '" + printable(k) + "' past end of file");
    const uint32_t type = load_le<uint32_t>(base_ + pos_);
    if (!is_valid_value_type(type)) {
      return error("key '" + printable(k) + "' has unknown value type " + std::to_string(type));
    }
    pos_ += 4;
    Value v;
    if (Status s = parse_value(static_cast<ValueType>(type), 0, &v); !s.ok()) {
      return error("key '" + printable(k) + "': " + s.error().message());
    }
    kvs_.push_back({k, std::move(v)});
  }
  MOE_RETURN_IF_ERROR(check_known_keys());

  if (const Value* a = find("general.alignment")) {
    const uint64_t align = *a->as_uint();
    if (align == 0 || (align & (align - 1)) != 0 || align > (1u << 20)) {
      return error("general.alignment " + std::to_string(align) + " is not a power of two in 1..1048576");
    }
    alignment_ = align;
  }

  tensors_.reserve(n_tensors);
  std::unordered_set<std::string_view> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Value name;
    if (Status s = parse_value(ValueType::kString, 0, &name); !s.ok()) {
      return error("tensor info #" + std::to_string(i) + ": name " + s.error().message());
    }
    TensorInfo t;
    t.name = *name.as_string();
    const std::string tn = "tensor '" + printable(t.name) + "'";
    if (t.name.empty()) return error("tensor info #" + std::to_string(i) + " has an empty name");
    if (!names.insert(t.name).second) return error("duplicate " + tn);
    if (size_ - pos_ < 4) return error(tn + ": dimension count past end of file");
    t.n_dims = load_le<uint32_t>(base_ + pos_);
    pos_ += 4;
    if (t.n_dims == 0 || t.n_dims > static_cast<uint32_t>(kMaxDims)) {
      return error(tn + ": " + std::to_string(t.n_dims) + " dimensions (1..4 allowed)");
    }
    if ((size_ - pos_) / 8 < t.n_dims + 1 || size_ - pos_ < 8ull * t.n_dims + 12) {
      return error(tn + ": shape, type and offset past end of file");
    }
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      const uint64_t raw = load_le<uint64_t>(base_ + pos_);
      pos_ += 8;
      if (raw > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return error(tn + ": dimension " + std::to_string(d) + " is " + std::to_string(raw) + " (negative or > 2^63)");
      }
      t.ne[d] = static_cast<int64_t>(raw);
    }
    const uint32_t type = load_le<uint32_t>(base_ + pos_);
    pos_ += 4;
    t.offset = load_le<uint64_t>(base_ + pos_);
    pos_ += 8;
    if (!quant::find_type_traits(type)) return error(tn + ": unknown tensor type " + std::to_string(type));
    t.type = static_cast<quant::GgmlType>(type);
    auto bytes = tensor_bytes(type, std::span<const int64_t>(t.ne.data(), t.n_dims));
    if (!bytes.ok()) return error(tn + ": " + bytes.error().message());
    t.n_bytes = *bytes;
    t.n_elements = 1;
    for (uint32_t d = 0; d < t.n_dims; ++d) t.n_elements *= static_cast<uint64_t>(t.ne[d]);
    if (t.offset % alignment_ != 0) {
      return error(tn + ": data offset " + std::to_string(t.offset) + " is not a multiple of the alignment " +
                   std::to_string(alignment_));
    }
    tensors_.push_back(t);
  }

  // The data section starts at the next multiple of the alignment.
  uint64_t data = 0;
  if (!add_ok(pos_, alignment_ - 1, &data)) return error("data section offset overflows");
  data -= data % alignment_;
  if (!tensors_.empty() && data > size_) {
    return error("data section at byte " + std::to_string(data) + " past end of file (" + std::to_string(size_) + " bytes)");
  }
  data_offset_ = std::min(data, size_);
  const uint64_t data_size = size_ - data_offset_;

  // Each tensor lies inside the file, and no two overlap (an empty tensor, a dimension of 0,
  // holds no bytes: it may share its offset with the next tensor, as writers lay it out).
  std::vector<const TensorInfo*> by_offset;
  by_offset.reserve(tensors_.size());
  for (auto& t : tensors_) {
    uint64_t end = 0;
    if (!add_ok(t.offset, t.n_bytes, &end) || end > data_size) {
      return error("tensor '" + printable(t.name) + "': data [" + std::to_string(t.offset) + ", +" +
                   std::to_string(t.n_bytes) + ") past end of file (data section holds " + std::to_string(data_size) +
                   " bytes)");
    }
    t.data = base_ + data_offset_ + t.offset;
    if (t.n_bytes > 0) by_offset.push_back(&t);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const TensorInfo* a, const TensorInfo* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const TensorInfo* prev = by_offset[i - 1];
    if (by_offset[i]->offset < prev->offset + prev->n_bytes) {
      return error("tensor '" + printable(by_offset[i]->name) + "' (offset " + std::to_string(by_offset[i]->offset) +
                   ") overlaps tensor '" + printable(prev->name) + "'");
    }
  }
  return {};
}

// ---- typed lookups ------------------------------------------------------------------

namespace {
std::string type_desc(const Value& v) {
  std::string s = value_type_name(v.type());
  if (v.type() == ValueType::kArray) s += std::string(" of ") + value_type_name(v.array_type());
  return s;
}
}  // namespace

#define MOE_GGUF_GETTER(fn, T, conv, want)                                                              \
  Result<std::optional<T>> GgufFile::fn(std::string_view key) const {                                    \
    const Value* v = find(key);                                                                          \
    if (!v) return std::optional<T>();                                                                   \
    auto x = v->conv();                                                                                  \
    if (!x) {                                                                                            \
      return error("key '" + std::string(key) + "' has type " + type_desc(*v) + ", expected " + (want)); \
    }                                                                                                    \
    return std::optional<T>(*x);                                                                         \
  }

MOE_GGUF_GETTER(get_uint, uint64_t, as_uint, "a non-negative integer")
MOE_GGUF_GETTER(get_int, int64_t, as_int, "an integer")
MOE_GGUF_GETTER(get_float, double, as_float, "a number")
MOE_GGUF_GETTER(get_bool, bool, as_bool, "bool")
MOE_GGUF_GETTER(get_string, std::string_view, as_string, "string")
#undef MOE_GGUF_GETTER

Result<uint64_t> GgufFile::require_uint(std::string_view key) const {
  MOE_TRY(auto v, get_uint(key));
  if (!v) return error("required key '" + std::string(key) + "' is missing");
  return *v;
}

Result<std::string_view> GgufFile::require_string(std::string_view key) const {
  MOE_TRY(auto v, get_string(key));
  if (!v) return error("required key '" + std::string(key) + "' is missing");
  return *v;
}

}  // namespace moecode::gguf
