// TensorSet (see tensor_set.h).
#include "engine/model/tensor_set.h"

#include <algorithm>
#include <cstring>

#include "engine/quant/types.h"

namespace moecode::model {

namespace {

std::string shape_text(const int64_t* ne, size_t n) {
  std::string s = "[";
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ", ";
    s += std::to_string(ne[i]);
  }
  return s + "]";
}

// Dequantizes one small row of a 1-D tensor for the types a norm or bias may use.
bool to_floats(const gguf::TensorInfo& t, float* out) {
  using quant::GgmlType;
  const int64_t n = static_cast<int64_t>(t.n_elements);
  switch (t.type) {
    case GgmlType::F32:
      std::memcpy(out, t.data, static_cast<size_t>(n) * sizeof(float));
      return true;
    case GgmlType::F16:
    case GgmlType::BF16: {
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, t.data + 2 * i, 2);
        uint32_t bits;
        if (t.type == GgmlType::BF16) {
          bits = static_cast<uint32_t>(h) << 16;
        } else {
          // binary16 -> binary32 (normal, subnormal, inf/nan).
          const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
          uint32_t exp = (h >> 10) & 0x1fu, man = h & 0x3ffu;
          if (exp == 0x1f) {
            bits = sign | 0x7f800000u | (man << 13);
          } else if (exp == 0) {
            if (man == 0) {
              bits = sign;
            } else {
              exp = 113;
              while ((man & 0x400u) == 0) {
                man <<= 1;
                --exp;
              }
              bits = sign | (exp << 23) | ((man & 0x3ffu) << 13);
            }
          } else {
            bits = sign | ((exp + 112) << 23) | (man << 13);
          }
        }
        std::memcpy(out + i, &bits, sizeof bits);
      }
      return true;
    }
    default:
      return false;
  }
}

}  // namespace

const gguf::TensorInfo* TensorSet::lookup(const std::string& name, std::initializer_list<int64_t> ne, bool required) {
  const gguf::TensorInfo* t = file_.find_tensor(name);
  if (!t) {
    if (required) missing_.push_back(name);
    return nullptr;
  }
  used_.push_back(name);
  // Compare the shape; trailing dims of 1 are equivalent.
  int64_t want[gguf::kMaxDims] = {1, 1, 1, 1};
  size_t i = 0;
  for (int64_t v : ne) want[i++] = v;
  bool same = true;
  for (int d = 0; d < gguf::kMaxDims; ++d) same = same && want[d] == t->ne[d];
  if (!same) {
    problems_.push_back("tensor '" + name + "' has shape " + shape_text(t->ne.data(), std::max<size_t>(t->n_dims, 1)) +
                        ", expected " + shape_text(want, ne.size()));
    return nullptr;
  }
  return t;
}

backend::Weight TensorSet::weight_of(const gguf::TensorInfo& t) const {
  backend::Weight w;
  w.data = t.data;
  w.type = t.type;
  w.n_in = t.ne[0];
  w.n_out = t.ne[1];
  w.n_mat = t.ne[2] * t.ne[3];
  const auto& traits = quant::type_traits(t.type);
  w.row_bytes = static_cast<size_t>(w.n_in / traits.block_size) * traits.type_size;
  w.name = t.name;
  return w;
}

backend::Weight TensorSet::require(const std::string& name, std::initializer_list<int64_t> ne) {
  const gguf::TensorInfo* t = lookup(name, ne, true);
  if (!t) return {};
  if (!backend_.supports(t->type)) {
    problems_.push_back("tensor '" + name + "' is stored as " + quant::type_name(t->type) + ", which the " +
                        std::string(backend_.name()) + " backend cannot multiply with");
    return {};
  }
  return weight_of(*t);
}

backend::Weight TensorSet::optional(const std::string& name, std::initializer_list<int64_t> ne) {
  if (!has(name)) return {};
  return require(name, ne);
}

const float* TensorSet::vector_of(const gguf::TensorInfo& t) {
  if (t.type == quant::GgmlType::F32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0)
    return reinterpret_cast<const float*>(t.data);
  std::vector<float> v(t.n_elements);
  if (!to_floats(t, v.data())) {
    problems_.push_back("tensor '" + std::string(t.name) + "' is stored as " + quant::type_name(t.type) +
                        " (expected F32, F16 or BF16 for a vector)");
    return nullptr;
  }
  owned_.vectors.push_back(std::move(v));
  return owned_.vectors.back().data();
}

const float* TensorSet::require_vector(const std::string& name, int64_t n) {
  const gguf::TensorInfo* t = lookup(name, {n}, true);
  return t ? vector_of(*t) : nullptr;
}

const float* TensorSet::optional_vector(const std::string& name, int64_t n) {
  if (!has(name)) return nullptr;
  return require_vector(name, n);
}

Status TensorSet::status(const std::string& arch) const {
  if (missing_.empty() && problems_.empty()) return Status();
  std::string msg = "model '" + file_.path() + "' (architecture '" + arch + "'): ";
  if (!missing_.empty()) {
    msg += std::to_string(missing_.size()) + " required tensor(s) missing: ";
    for (size_t i = 0; i < missing_.size(); ++i) msg += (i ? ", " : "") + missing_[i];
  }
  if (!problems_.empty()) {
    if (!missing_.empty()) msg += "; ";
    for (size_t i = 0; i < problems_.size(); ++i) msg += (i ? "; " : "") + problems_[i];
  }
  return make_error(missing_.empty() ? ErrorCode::kUnsupported : ErrorCode::kCorrupt, msg);
}

std::vector<std::string> TensorSet::unused() const {
  std::vector<std::string> out;
  for (const auto& t : file_.tensors()) {
    const std::string name(t.name);
    if (std::find(used_.begin(), used_.end(), name) == used_.end()) out.push_back(name);
  }
  return out;
}

}  // namespace moecode::model
