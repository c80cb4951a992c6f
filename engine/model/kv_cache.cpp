// KvCache (see kv_cache.h).
#include "engine/model/kv_cache.h"

#include <unistd.h>

#include <cstdio>
#include <limits>

namespace moecode::model {

namespace {

size_t aligned(size_t n) { return (n + 63) / 64 * 64; }

std::string gib(double bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  return buf;
}

}  // namespace

std::optional<size_t> KvCache::bytes_for(const KvLayout& layout, int64_t n_ctx, backend::CacheType type) {
  if (n_ctx <= 0 || layout.k_width.size() != layout.v_width.size()) return std::nullopt;
  const size_t esize = backend::cache_type_size(type);
  const size_t limit = std::numeric_limits<size_t>::max() / 4;
  size_t total = 0;
  for (size_t l = 0; l < layout.k_width.size(); ++l) {
    for (const int64_t width : {layout.k_width[l], layout.v_width[l]}) {
      if (width < 0) return std::nullopt;
      const auto w = static_cast<size_t>(width);
      const auto n = static_cast<size_t>(n_ctx);
      if (w != 0 && n > limit / w / esize) return std::nullopt;
      total += aligned(w * n * esize);
      if (total > limit) return std::nullopt;
    }
  }
  return total;
}

Result<std::unique_ptr<KvCache>> KvCache::create(backend::Backend& backend, const KvLayout& layout, int64_t n_ctx,
                                                 backend::CacheType type) {
  const auto bytes = bytes_for(layout, n_ctx, type);
  if (!bytes) {
    return make_error(ErrorCode::kOutOfRange,
                      "a KV cache of " + std::to_string(n_ctx) + " tokens does not fit in memory (its size overflows)");
  }
  // More than the machine's memory can only end in the OOM killer: say so now.
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page = ::sysconf(_SC_PAGESIZE);
  const double phys = pages > 0 && page > 0 ? static_cast<double>(pages) * static_cast<double>(page) : 0.0;
  if (phys > 0 && static_cast<double>(*bytes) > phys) {
    return make_error(ErrorCode::kOutOfRange, "a KV cache of " + std::to_string(n_ctx) + " tokens needs " +
                                                  gib(static_cast<double>(*bytes)) + ", more than this machine's " +
                                                  gib(phys) + " of memory: use a smaller context size (-c)");
  }
  auto buffer = backend.alloc(*bytes);
  if (!buffer) {
    return make_error(ErrorCode::kOutOfRange, "cannot allocate the KV cache of " + std::to_string(n_ctx) + " tokens (" +
                                                  gib(static_cast<double>(*bytes)) + "): use a smaller context size (-c)");
  }
  return std::unique_ptr<KvCache>(new KvCache(std::move(buffer), layout, n_ctx, type));
}

KvCache::KvCache(backend::Backend& backend, const KvLayout& layout, int64_t n_ctx, backend::CacheType type)
    : KvCache(backend.alloc(bytes_for(layout, n_ctx, type).value_or(0)), layout, n_ctx, type) {}

KvCache::KvCache(std::unique_ptr<backend::Buffer> buffer, const KvLayout& layout, int64_t n_ctx,
                 backend::CacheType type)
    : buffer_(std::move(buffer)), n_ctx_(n_ctx), type_(type) {
  MOE_ASSERT(layout.k_width.size() == layout.v_width.size() && n_ctx > 0 && buffer_ != nullptr);
  const size_t esize = backend::cache_type_size(type);
  n_bytes_ = buffer_->size();
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
