// GGUF v2/v3 reader: maps (or copies, see Residence) a file, validates every count, length,
// offset and size before use, and exposes typed metadata and tensor infos. A GgufFile is
// immutable after open(); all methods are const and thread-safe. Views (string_view, data
// pointers) live as long as the GgufFile.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/quant/types.h"
#include "moecode/engine/result.h"

namespace moecode::gguf {

inline constexpr uint32_t kMagic = 0x46554747;  // "GGUF" little-endian
inline constexpr uint64_t kDefaultAlignment = 32;
inline constexpr int kMaxDims = 4;

enum class ValueType : uint32_t {
  kUint8 = 0,
  kInt8 = 1,
  kUint16 = 2,
  kInt16 = 3,
  kUint32 = 4,
  kInt32 = 5,
  kFloat32 = 6,
  kBool = 7,
  kString = 8,
  kArray = 9,
  kUint64 = 10,
  kInt64 = 11,
  kFloat64 = 12,
};

const char* value_type_name(ValueType type);  // "u32", "string", "array"...
bool is_valid_value_type(uint32_t type);
// Bytes of one scalar of this type (0 for string and array).
size_t scalar_size(ValueType type);

// A metadata value. Scalars are held by value; strings are views into the file; arrays
// hold their element type and either a view of their raw little-endian scalars, a list of
// string views, or (arrays of arrays) a list of values.
class Value {
 public:
  ValueType type() const { return type_; }
  bool is_integer() const;
  bool is_float() const { return type_ == ValueType::kFloat32 || type_ == ValueType::kFloat64; }

  // Typed reads that convert between integer widths when the value fits; std::nullopt for
  // another type or a value out of range.
  std::optional<uint64_t> as_uint() const;
  std::optional<int64_t> as_int() const;
  std::optional<double> as_float() const;  // floats and integers
  std::optional<bool> as_bool() const;
  std::optional<std::string_view> as_string() const;

  // Arrays.
  ValueType array_type() const { return array_type_; }
  uint64_t array_size() const { return array_size_; }
  // Raw little-endian elements of a scalar array (array_size * scalar_size bytes, maybe unaligned).
  std::span<const uint8_t> array_raw() const { return array_raw_; }
  // Elements of a string array.
  const std::vector<std::string_view>& array_strings() const { return strings_; }
  // Elements of an array of arrays.
  const std::vector<Value>& array_items() const { return items_; }
  // Element i of any array as a Value (scalars decoded from raw).
  Value array_at(uint64_t i) const;

  // Constructors used by the reader and the writer.
  static Value make_uint(ValueType type, uint64_t v);
  static Value make_int(ValueType type, int64_t v);
  static Value make_float(ValueType type, double v);
  static Value make_bool(bool v);
  static Value make_string(std::string_view v);  // views `v`: keep its storage alive
  static Value make_scalar_array(ValueType elem_type, uint64_t n, std::span<const uint8_t> raw);
  static Value make_string_array(std::vector<std::string_view> items);  // views, as above
  static Value make_array_array(std::vector<Value> items);

 private:
  ValueType type_ = ValueType::kUint8;
  uint64_t u_ = 0;  // unsigned integers and bool
  int64_t i_ = 0;   // signed integers
  double f_ = 0;    // floats
  std::string_view s_;
  ValueType array_type_ = ValueType::kUint8;
  uint64_t array_size_ = 0;
  std::span<const uint8_t> array_raw_;
  std::vector<std::string_view> strings_;
  std::vector<Value> items_;
};

struct KeyValue {
  std::string_view key;
  Value value;
};

struct TensorInfo {
  std::string_view name;
  quant::GgmlType type = quant::GgmlType::F32;
  uint32_t n_dims = 0;
  std::array<int64_t, kMaxDims> ne = {1, 1, 1, 1};  // ne[0] = row length (contiguous)
  uint64_t offset = 0;      // relative to the data section
  uint64_t n_elements = 0;
  uint64_t n_bytes = 0;
  const uint8_t* data = nullptr;  // inside the file's bytes (mapped or copied)
};

// Where an opened file's bytes are kept.
enum class Residence {
  // The file's read-only mapping: the page cache, shared with other processes, paged in on
  // first touch.
  kMapped,
  // Read into private anonymous memory, 2 MiB aligned and advised to use transparent huge
  // pages, then made read-only: decode streams every weight each token, and with 4 KiB pages
  // that is a TLB miss every 4 KiB (tokens 5-10 % faster on a 2-core EPYC, docs/BENCHMARKS.md).
  // Costs a read of the file at open and private memory of its size.
  kCopied,
};

// The residence of LoadOptions' "auto": a copy when the CPU runs the model, the kernel offers
// transparent huge pages (`thp_mode` "always" or "madvise") and the file takes at most half
// the available memory (`mem_available` bytes, 0 when unknown: no copy) and at most
// kAutoCopyMaxBytes; else the mapping.
inline constexpr uint64_t kAutoCopyMaxBytes = uint64_t{8} << 30;
Residence auto_residence(bool cpu_backend, std::string_view thp_mode, uint64_t file_bytes,
                         uint64_t mem_available);
// This machine's facts for it: the selected mode of /sys/kernel/mm/transparent_hugepage/
// enabled ("always", "madvise", "never"; "" when unreadable), and the memory available to
// this process in bytes: MemAvailable, or less when its cgroups (v1 or v2, mounted at
// `cgroup_root`; a container's limit) leave less; 0 when /proc/meminfo is unreadable.
std::string transparent_hugepage_mode();
uint64_t available_memory_bytes(const std::string& cgroup_root = "/sys/fs/cgroup");

class GgufFile {
 public:
  ~GgufFile();
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  // Maps (or copies, see Residence) and validates `path`. Errors name the file, the field and
  // the offending value. A copy that cannot get its memory falls back to the mapping.
  static Result<std::unique_ptr<GgufFile>> open(const std::string& path,
                                                Residence residence = Residence::kMapped);
  // Validates a copy of `bytes` (tests, fuzzing). `name` is used in messages.
  static Result<std::unique_ptr<GgufFile>> from_bytes(std::span<const uint8_t> bytes,
                                                      const std::string& name = "<memory>");

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  uint64_t file_size() const { return size_; }
  uint64_t data_offset() const { return data_offset_; }
  std::span<const uint8_t> bytes() const { return {base_, size_}; }
  // kMapped for from_bytes() files.
  Residence residence() const { return residence_; }

  const std::vector<KeyValue>& metadata() const { return kvs_; }
  const Value* find(std::string_view key) const;

  // Typed lookups: an absent key gives std::nullopt in the get_* forms; a present key of
  // the wrong type (or out of range) is an error naming key, expected and actual type.
  Result<std::optional<uint64_t>> get_uint(std::string_view key) const;
  Result<std::optional<int64_t>> get_int(std::string_view key) const;
  Result<std::optional<double>> get_float(std::string_view key) const;
  Result<std::optional<bool>> get_bool(std::string_view key) const;
  Result<std::optional<std::string_view>> get_string(std::string_view key) const;
  // A required key: absence is an error too.
  Result<uint64_t> require_uint(std::string_view key) const;
  Result<std::string_view> require_string(std::string_view key) const;

  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;

 private:
  GgufFile() = default;
  Status parse();
  Status parse_value(ValueType type, int depth, Value* out);
  Status check_known_keys() const;
  Error error(std::string message) const;

  std::string path_;
  const uint8_t* base_ = nullptr;
  uint64_t size_ = 0;
  bool mapped_ = false;
  size_t map_len_ = 0;  // bytes to unmap at base_ when mapped_
  Residence residence_ = Residence::kMapped;
  std::vector<uint8_t> owned_;  // from_bytes()
  uint64_t pos_ = 0;            // parse cursor

  uint32_t version_ = 0;
  uint64_t alignment_ = kDefaultAlignment;
  uint64_t data_offset_ = 0;
  std::vector<KeyValue> kvs_;
  std::vector<TensorInfo> tensors_;
};

// Builds GGUF files (tests, tools, moefy-style conversions). Keys and tensors are written
// in insertion order, each tensor's data aligned to the file's alignment with zero padding,
// so that writing what GgufFile read reproduces a standard file byte for byte.
class GgufWriter {
 public:
  explicit GgufWriter(uint32_t version = 3) : version_(version) {}

  // Copies every key and tensor of `file`.
  static GgufWriter from_file(const GgufFile& file);

  void set_alignment(uint64_t alignment) { alignment_ = alignment; }
  // Adds or replaces a key (replacing keeps its position). Strings are copied.
  void set(std::string_view key, const Value& value);
  void set_uint32(std::string_view key, uint32_t v);
  void set_int32(std::string_view key, int32_t v);
  void set_uint64(std::string_view key, uint64_t v);
  void set_float32(std::string_view key, float v);
  void set_bool(std::string_view key, bool v);
  void set_string(std::string_view key, std::string_view v);
  void set_string_array(std::string_view key, const std::vector<std::string>& v);
  void set_int32_array(std::string_view key, const std::vector<int32_t>& v);
  void set_float32_array(std::string_view key, const std::vector<float>& v);
  void remove(std::string_view key);
  bool has(std::string_view key) const;

  // Adds a tensor; `data` must hold exactly the bytes its type and shape take. Copied.
  Status add_tensor(std::string_view name, quant::GgmlType type, std::span<const int64_t> ne,
                    std::span<const uint8_t> data);
  // Adds a tensor whose bytes `fill` writes into a buffer of the right size when the file
  // is written (large generated models without holding them in memory).
  using FillFn = std::function<void(uint8_t* dst, uint64_t n_bytes)>;
  Status add_tensor_lazy(std::string_view name, quant::GgmlType type, std::span<const int64_t> ne,
                         FillFn fill);

  std::vector<uint8_t> to_bytes() const;
  Status write(const std::string& path) const;

 private:
  struct Tensor {
    std::string name;
    quant::GgmlType type;
    std::vector<int64_t> ne;
    uint64_t n_bytes = 0;
    std::vector<uint8_t> data;  // empty when lazy
    FillFn fill;
  };
  Status check_new_tensor(std::string_view name, uint32_t type, std::span<const int64_t> ne,
                          uint64_t* n_bytes) const;
  std::vector<uint8_t> header_bytes() const;  // header, kvs, tensor infos, padding
  void set_encoded(std::string_view key, std::vector<uint8_t> encoded);
  uint32_t version_;
  uint64_t alignment_ = kDefaultAlignment;
  std::vector<std::pair<std::string, std::vector<uint8_t>>> kvs_;  // key, encoded type+value
  std::vector<Tensor> tensors_;
};

// Bytes that a tensor of `type` with shape `ne` takes, or an error (row length not a
// multiple of the block size, overflow, unknown type).
Result<uint64_t> tensor_bytes(uint32_t type_id, std::span<const int64_t> ne);

}  // namespace moecode::gguf
