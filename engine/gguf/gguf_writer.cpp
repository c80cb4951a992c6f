// GGUF writer (see gguf.h): keys and tensors in insertion order, data aligned with zero
// padding after every tensor, as gguf-py and llama.cpp write files. Not thread-safe.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "engine/gguf/gguf.h"

namespace moecode::gguf {

namespace {

void put_bytes(std::vector<uint8_t>* out, const void* p, size_t n) {
  if (n == 0) return;
  const size_t at = out->size();
  out->resize(at + n);  // (not insert(): g++ 12 -O3 warns falsely about it)
  std::memcpy(out->data() + at, p, n);
}

template <typename T>
void put(std::vector<uint8_t>* out, T v) {
  put_bytes(out, &v, sizeof v);
}

void put_string(std::vector<uint8_t>* out, std::string_view s) {
  put<uint64_t>(out, s.size());
  put_bytes(out, s.data(), s.size());
}

void put_scalar(std::vector<uint8_t>* out, const Value& v) {
  switch (v.type()) {
    case ValueType::kUint8: put<uint8_t>(out, static_cast<uint8_t>(*v.as_uint())); break;
    case ValueType::kUint16: put<uint16_t>(out, static_cast<uint16_t>(*v.as_uint())); break;
    case ValueType::kUint32: put<uint32_t>(out, static_cast<uint32_t>(*v.as_uint())); break;
    case ValueType::kUint64: put<uint64_t>(out, *v.as_uint()); break;
    case ValueType::kInt8: put<int8_t>(out, static_cast<int8_t>(*v.as_int())); break;
    case ValueType::kInt16: put<int16_t>(out, static_cast<int16_t>(*v.as_int())); break;
    case ValueType::kInt32: put<int32_t>(out, static_cast<int32_t>(*v.as_int())); break;
    case ValueType::kInt64: put<int64_t>(out, *v.as_int()); break;
    case ValueType::kFloat32: put<float>(out, static_cast<float>(*v.as_float())); break;
    case ValueType::kFloat64: put<double>(out, *v.as_float()); break;
    case ValueType::kBool: put<uint8_t>(out, *v.as_bool() ? 1 : 0); break;
    case ValueType::kString: put_string(out, *v.as_string()); break;
    case ValueType::kArray: break;
  }
}

// The value without its type tag (arrays: element type, count, elements).
void put_value_body(std::vector<uint8_t>* out, const Value& v) {
  if (v.type() != ValueType::kArray) {
    put_scalar(out, v);
    return;
  }
  put<uint32_t>(out, static_cast<uint32_t>(v.array_type()));
  put<uint64_t>(out, v.array_size());
  if (v.array_type() == ValueType::kString) {
    for (auto s : v.array_strings()) put_string(out, s);
  } else if (v.array_type() == ValueType::kArray) {
    for (const auto& item : v.array_items()) put_value_body(out, item);
  } else {
    put_bytes(out, v.array_raw().data(), v.array_raw().size());
  }
}

uint64_t align_up(uint64_t x, uint64_t a) { return (x + a - 1) / a * a; }

}  // namespace

GgufWriter GgufWriter::from_file(const GgufFile& file) {
  GgufWriter w(file.version());
  w.alignment_ = file.alignment();
  for (const auto& kv : file.metadata()) w.set(kv.key, kv.value);
  for (const auto& t : file.tensors()) {
    Tensor out;
    out.name = std::string(t.name);
    out.type = t.type;
    out.ne.assign(t.ne.begin(), t.ne.begin() + t.n_dims);
    out.n_bytes = t.n_bytes;
    out.data.assign(t.data, t.data + t.n_bytes);
    w.tensors_.push_back(std::move(out));
  }
  return w;
}

void GgufWriter::set_encoded(std::string_view key, std::vector<uint8_t> encoded) {
  for (auto& kv : kvs_) {
    if (kv.first == key) {
      kv.second = std::move(encoded);
      return;
    }
  }
  kvs_.emplace_back(std::string(key), std::move(encoded));
}

void GgufWriter::set(std::string_view key, const Value& value) {
  std::vector<uint8_t> enc;
  put<uint32_t>(&enc, static_cast<uint32_t>(value.type()));
  put_value_body(&enc, value);
  if (key == "general.alignment") {
    if (auto a = value.as_uint()) alignment_ = *a;
  }
  set_encoded(key, std::move(enc));
}

void GgufWriter::set_uint32(std::string_view key, uint32_t v) { set(key, Value::make_uint(ValueType::kUint32, v)); }
void GgufWriter::set_int32(std::string_view key, int32_t v) { set(key, Value::make_int(ValueType::kInt32, v)); }
void GgufWriter::set_uint64(std::string_view key, uint64_t v) { set(key, Value::make_uint(ValueType::kUint64, v)); }
void GgufWriter::set_float32(std::string_view key, float v) { set(key, Value::make_float(ValueType::kFloat32, v)); }
void GgufWriter::set_bool(std::string_view key, bool v) { set(key, Value::make_bool(v)); }
void GgufWriter::set_string(std::string_view key, std::string_view v) { set(key, Value::make_string(v)); }

void GgufWriter::set_string_array(std::string_view key, const std::vector<std::string>& v) {
  std::vector<std::string_view> views(v.begin(), v.end());
  set(key, Value::make_string_array(std::move(views)));
}

void GgufWriter::set_int32_array(std::string_view key, const std::vector<int32_t>& v) {
  set(key, Value::make_scalar_array(ValueType::kInt32, v.size(),
                                    {reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4}));
}

void GgufWriter::set_float32_array(std::string_view key, const std::vector<float>& v) {
  set(key, Value::make_scalar_array(ValueType::kFloat32, v.size(),
                                    {reinterpret_cast<const uint8_t*>(v.data()), v.size() * 4}));
}

void GgufWriter::remove(std::string_view key) {
  std::erase_if(kvs_, [&](const auto& kv) { return kv.first == key; });
  if (key == "general.alignment") alignment_ = kDefaultAlignment;
}

bool GgufWriter::has(std::string_view key) const {
  return std::any_of(kvs_.begin(), kvs_.end(), [&](const auto& kv) { return kv.first == key; });
}

Status GgufWriter::check_new_tensor(std::string_view name, uint32_t type, std::span<const int64_t> ne,
                                    uint64_t* n_bytes) const {
  if (name.empty()) return make_error(ErrorCode::kInvalidArgument, "tensor name is empty");
  for (const auto& t : tensors_) {
    if (t.name == name) return make_error(ErrorCode::kInvalidArgument, "duplicate tensor '" + std::string(name) + "'");
  }
  auto bytes = tensor_bytes(type, ne);
  if (!bytes.ok()) {
    return make_error(ErrorCode::kInvalidArgument, "tensor '" + std::string(name) + "': " + bytes.error().message());
  }
  *n_bytes = *bytes;
  return {};
}

Status GgufWriter::add_tensor(std::string_view name, quant::GgmlType type, std::span<const int64_t> ne,
                              std::span<const uint8_t> data) {
  uint64_t n_bytes = 0;
  MOE_RETURN_IF_ERROR(check_new_tensor(name, static_cast<uint32_t>(type), ne, &n_bytes));
  if (data.size() != n_bytes) {
    return make_error(ErrorCode::kInvalidArgument, "tensor '" + std::string(name) + "': got " +
                                                       std::to_string(data.size()) + " bytes, its shape takes " +
                                                       std::to_string(n_bytes));
  }
  tensors_.push_back({std::string(name), type, {ne.begin(), ne.end()}, n_bytes, {data.begin(), data.end()}, {}});
  return {};
}

Status GgufWriter::add_tensor_lazy(std::string_view name, quant::GgmlType type, std::span<const int64_t> ne,
                                   FillFn fill) {
  uint64_t n_bytes = 0;
  MOE_RETURN_IF_ERROR(check_new_tensor(name, static_cast<uint32_t>(type), ne, &n_bytes));
  tensors_.push_back({std::string(name), type, {ne.begin(), ne.end()}, n_bytes, {}, std::move(fill)});
  return {};
}

std::vector<uint8_t> GgufWriter::header_bytes() const {
  std::vector<uint8_t> out;
  put<uint32_t>(&out, kMagic);
  put<uint32_t>(&out, version_);
  put<uint64_t>(&out, tensors_.size());
  put<uint64_t>(&out, kvs_.size());
  for (const auto& [key, enc] : kvs_) {
    put_string(&out, key);
    put_bytes(&out, enc.data(), enc.size());
  }
  uint64_t offset = 0;
  for (const auto& t : tensors_) {
    put_string(&out, t.name);
    put<uint32_t>(&out, static_cast<uint32_t>(t.ne.size()));
    for (int64_t d : t.ne) put<uint64_t>(&out, static_cast<uint64_t>(d));
    put<uint32_t>(&out, static_cast<uint32_t>(t.type));
    put<uint64_t>(&out, offset);
    offset = align_up(offset + t.n_bytes, alignment_);
  }
  // The data section is aligned; a file without tensors has none, and no padding (as
  // llama.cpp writes vocab-only files).
  if (!tensors_.empty()) out.resize(align_up(out.size(), alignment_), 0);
  return out;
}

std::vector<uint8_t> GgufWriter::to_bytes() const {
  std::vector<uint8_t> out = header_bytes();
  for (const auto& t : tensors_) {
    const size_t at = out.size();
    out.resize(at + t.n_bytes);
    if (t.fill) {
      t.fill(out.data() + at, t.n_bytes);
    } else if (t.n_bytes > 0) {  // an empty tensor (a dimension of 0) has no data pointer
      std::memcpy(out.data() + at, t.data.data(), t.n_bytes);
    }
    out.resize(align_up(out.size(), alignment_), 0);
  }
  return out;
}

Status GgufWriter::write(const std::string& path) const {
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!f) return make_error(ErrorCode::kIo, "cannot create '" + path + "': " + std::strerror(errno));
  auto write_all = [&](const void* p, size_t n) { return n == 0 || std::fwrite(p, 1, n, f.get()) == n; };
  const std::vector<uint8_t> header = header_bytes();
  bool ok = write_all(header.data(), header.size());
  std::vector<uint8_t> buf;
  static const uint8_t kZeros[64] = {};
  for (const auto& t : tensors_) {
    if (!ok) break;
    if (t.fill) {
      buf.resize(t.n_bytes);
      t.fill(buf.data(), t.n_bytes);
      ok = write_all(buf.data(), buf.size());
    } else {
      ok = write_all(t.data.data(), t.n_bytes);
    }
    uint64_t pad = align_up(t.n_bytes, alignment_) - t.n_bytes;
    while (ok && pad > 0) {
      const size_t n = std::min<uint64_t>(pad, sizeof kZeros);
      ok = write_all(kZeros, n);
      pad -= n;
    }
  }
  if (!ok || std::fflush(f.get()) != 0) {
    return make_error(ErrorCode::kIo, "cannot write '" + path + "': " + std::strerror(errno));
  }
  return {};
}

}  // namespace moecode::gguf
