// Looks up an architecture's tensors in a GGUF by name and shape, collecting every
// problem (missing, wrong shape, a storage type the backend cannot compute with) so that
// loading fails with one error that lists all of them.
//
// Thread-safety: used by one thread while a model is loaded; the float vectors it makes
// (norms, biases stored in another type) live as long as the TensorSet's owner keeps
// `take_storage()`.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/gguf/gguf.h"
#include "moecode/engine/result.h"

namespace moecode::model {

// Float copies of small tensors that were not stored as F32 (kept by the model).
struct OwnedFloats {
  std::vector<std::vector<float>> vectors;
};

class TensorSet {
 public:
  TensorSet(const gguf::GgufFile& file, const backend::Backend& backend) : file_(file), backend_(backend) {}

  // A matrix (or stack) with exactly this shape (ne, row length first; 1-3 dims).
  backend::Weight require(const std::string& name, std::initializer_list<int64_t> ne);
  // Like require(), but absence is fine (returns an empty Weight).
  backend::Weight optional(const std::string& name, std::initializer_list<int64_t> ne);
  // A 1-D tensor of n floats (norm weights, biases), converted to F32 if stored otherwise.
  const float* require_vector(const std::string& name, int64_t n);
  const float* optional_vector(const std::string& name, int64_t n);

  bool has(const std::string& name) const { return file_.find_tensor(name) != nullptr; }
  // Adds a problem of the caller's.
  void fail(std::string message) { problems_.push_back(std::move(message)); }

  // OK, or one error listing every problem (missing tensors first).
  Status status(const std::string& arch) const;
  // Tensors of the file that were never looked up (for a warning).
  std::vector<std::string> unused() const;
  OwnedFloats take_storage() { return std::move(owned_); }

 private:
  const gguf::TensorInfo* lookup(const std::string& name, std::initializer_list<int64_t> ne, bool required);
  backend::Weight weight_of(const gguf::TensorInfo& t) const;
  const float* vector_of(const gguf::TensorInfo& t);

  const gguf::GgufFile& file_;
  const backend::Backend& backend_;
  std::vector<std::string> missing_;
  std::vector<std::string> problems_;
  std::vector<std::string> used_;
  OwnedFloats owned_;
};

}  // namespace moecode::model
