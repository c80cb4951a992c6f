// KvCache (see kv_cache.h).
#include "engine/model/kv_cache.h"

#include "moecode/engine/result.h"

namespace moecode::model {

KvCache::KvCache(backend::Backend& backend, const KvLayout& layout, int64_t n_ctx, backend::CacheType type)
    : n_ctx_(n_ctx), type_(type) {
  MOE_ASSERT(layout.k_width.size() == layout.v_width.size() && n_ctx > 0);
  const size_t esize = backend::cache_type_size(type);
  auto aligned = [](size_t n) { return (n + 63) / 64 * 64; };
  size_t total = 0;
  for (size_t l = 0; l < layout.k_width.size(); ++l) {
    total += aligned(static_cast<size_t>(layout.k_width[l] * n_ctx) * esize);
    total += aligned(static_cast<size_t>(layout.v_width[l] * n_ctx) * esize);
  }
  buffer_ = backend.alloc(total);
  n_bytes_ = total;
  auto* base = static_cast<uint8_t*>(buffer_->data());
  size_t off = 0;
  for (size_t l = 0; l < layout.k_width.size(); ++l) {
    k_.push_back({base + off, type, n_ctx, layout.k_width[l]});
    off += aligned(static_cast<size_t>(layout.k_width[l] * n_ctx) * esize);
    v_.push_back({base + off, type, n_ctx, layout.v_width[l]});
    off += aligned(static_cast<size_t>(layout.v_width[l] * n_ctx) * esize);
  }
}

}  // namespace moecode::model
