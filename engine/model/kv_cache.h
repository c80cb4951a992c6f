// The per-session attention cache: for each layer, a K and a V row per position, of the
// widths the architecture asks for (n_head_kv * head_dim for standard attention; MLA keeps
// its compressed latent in K and no V). Rows are written by the forward pass at the
// positions it evaluates; which positions are valid is the session's business.
//
// Thread-safety: owned by one session; used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "engine/backend/backend.h"
#include "moecode/engine/result.h"

namespace moecode::model {

// Row widths (elements) per layer; a width of 0 means the layer caches nothing there.
struct KvLayout {
  std::vector<int64_t> k_width;
  std::vector<int64_t> v_width;
};

class KvCache {
 public:
  // Allocates n_ctx rows per layer (pages are committed as they are written). Errors name
  // the context size: a size that overflows, more memory than the machine has, an
  // allocation that fails.
  static Result<std::unique_ptr<KvCache>> create(backend::Backend& backend, const KvLayout& layout, int64_t n_ctx,
                                                 backend::CacheType type);
  // The same for tests and tools that know the size is fine (aborts if it is not).
  KvCache(backend::Backend& backend, const KvLayout& layout, int64_t n_ctx, backend::CacheType type);

  // Bytes the cache takes for `n_ctx` rows, or nullopt when that overflows.
  static std::optional<size_t> bytes_for(const KvLayout& layout, int64_t n_ctx, backend::CacheType type);

  backend::CacheView k(int layer) const { return k_[layer]; }
  backend::CacheView v(int layer) const { return v_[layer]; }
  int64_t n_ctx() const { return n_ctx_; }
  backend::CacheType type() const { return type_; }
  size_t n_bytes() const { return n_bytes_; }

 private:
  KvCache(std::unique_ptr<backend::Buffer> buffer, const KvLayout& layout, int64_t n_ctx, backend::CacheType type);

  std::unique_ptr<backend::Buffer> buffer_;
  std::vector<backend::CacheView> k_, v_;
  int64_t n_ctx_;
  backend::CacheType type_;
  size_t n_bytes_ = 0;
};

}  // namespace moecode::model
