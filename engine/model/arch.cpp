// The architecture table (see arch.h).
#include "engine/model/arch.h"

#include "engine/model/deepseek2.h"
#include "engine/model/llama.h"

namespace moecode::model {

namespace {

struct ArchEntry {
  const char* name;
  Result<std::unique_ptr<Arch>> (*create)(const ArchContext& ctx);
};

// general.architecture -> factory. A new architecture adds its row here.
constexpr ArchEntry kArchs[] = {
    {"llama", create_llama},  // Mixtral-style experts when the file has them
    {"qwen2", create_llama},
    {"qwen3", create_llama},
    {"qwen2moe", create_llama},
    {"qwen3moe", create_llama},
    {"deepseek2", create_deepseek2},
};

}  // namespace

void Arch::forward_multi(backend::Backend& backend, Arena arena, MoeStats* moe_stats, const MultiBatch& batch,
                         backend::Mat logits) const {
  MOE_ASSERT(logits.rows == static_cast<int64_t>(batch.seqs.size()));
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const SeqSpan& s = batch.seqs[i];
    ForwardContext ctx{backend, *s.cache, arena, moe_stats};  // a fresh arena per sequence
    Batch b;
    b.tokens = batch.tokens.subspan(static_cast<size_t>(s.offset), static_cast<size_t>(s.n_tokens));
    b.pos0 = s.pos0;
    forward(ctx, b, logits.rows_view(static_cast<int64_t>(i), 1));
  }
}

std::vector<std::string> supported_archs() {
  std::vector<std::string> names;
  for (const auto& e : kArchs) names.emplace_back(e.name);
  return names;
}

Result<std::unique_ptr<Arch>> create_arch(const gguf::GgufFile& file, backend::Backend& backend) {
  MOE_TRY(auto arch, file.require_string("general.architecture"));
  for (const auto& e : kArchs) {
    if (arch == e.name) return e.create(ArchContext{file, backend, std::string(arch)});
  }
  std::string list;
  for (const auto& e : kArchs) list += (list.empty() ? "" : ", ") + std::string(e.name);
  return make_error(ErrorCode::kUnsupported, "model '" + file.path() + "': architecture '" + std::string(arch) +
                                                 "' is not supported (supported: " + list + ")");
}

}  // namespace moecode::model
