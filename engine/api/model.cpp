// Model::load and the loaded model: maps (or copies) the GGUF, builds the tokenizer and the
// architecture on the chosen backend, and opens sessions (engine/runtime).
#include <algorithm>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <string>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/gguf/gguf.h"
#include "engine/model/arch.h"
#include "engine/runtime/batch.h"
#include "engine/runtime/chat_template.h"
#include "engine/runtime/session.h"
#include "hip_kernels/hip_backend.h"
#include "engine/tokenizer/gguf_tokenizer.h"
#include "moecode/engine/model.h"

namespace moecode::engine {

namespace {

constexpr int kDefaultMaxCtx = 8192;

// "cpu", "gpu" or "auto", optionally with GPU placement after a colon, as one string that
// every path carrying a backend name (editor settings, the shared engine's command line)
// passes on: "gpu:ngl=20,cpu-moe", "auto:n-cpu-moe=10,device=1". Sets `out`'s fields.
Status parse_backend_spec(const std::string& spec, LoadOptions* out) {
  const size_t colon = spec.find(':');
  const std::string kind = spec.substr(0, colon);
  if (kind != "cpu" && kind != "gpu" && kind != "auto")
    return make_error(ErrorCode::kInvalidArgument, "backend '" + spec + "' is not one of cpu, gpu, auto");
  out->backend = kind;
  if (colon == std::string::npos) return Status();
  std::string rest = spec.substr(colon + 1);
  size_t pos = 0;
  while (pos <= rest.size()) {
    size_t end = rest.find(',', pos);
    if (end == std::string::npos) end = rest.size();
    const std::string item = rest.substr(pos, end - pos);
    pos = end + 1;
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    int value = 0;
    if (eq != std::string::npos) {
      const std::string v = item.substr(eq + 1);
      const auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), value);
      if (v.empty() || ec != std::errc() || p != v.data() + v.size() || value < 0)
        return make_error(ErrorCode::kInvalidArgument, "backend '" + spec + "': '" + item + "' needs a count >= 0");
    }
    if (key == "cpu-moe" && eq == std::string::npos) {
      out->cpu_moe = true;
    } else if (key == "ngl" && eq != std::string::npos) {
      out->n_gpu_layers = value;
    } else if (key == "n-cpu-moe" && eq != std::string::npos) {
      out->n_cpu_moe = value;
    } else if (key == "device" && eq != std::string::npos) {
      out->gpu_device = value;
    } else {
      return make_error(ErrorCode::kInvalidArgument, "backend '" + spec + "': unknown option '" + item +
                                                          "' (known: ngl=N, cpu-moe, n-cpu-moe=N, device=N)");
    }
  }
  return Status();
}

// The backend LoadOptions ask for, "auto" already resolved (see Model::load): the CPU, or
// the GPU (an error naming why there is none).
Result<std::unique_ptr<backend::Backend>> make_backend(const gguf::GgufFile& file, const LoadOptions& options) {
  if (options.backend == "cpu") return backend::make_cpu_backend({options.n_threads, options.f32_activations});
  backend::GpuOptions g;
  g.device = options.gpu_device;
  g.n_gpu_layers = options.n_gpu_layers;
  g.cpu_moe = options.cpu_moe;
  g.n_cpu_moe = options.n_cpu_moe;
  g.n_threads = options.n_threads;
  g.f32_activations = options.f32_activations;
  MOE_TRY(auto arch, file.get_string("general.architecture"));
  if (arch) {
    MOE_TRY(auto n_layer, file.get_int(std::string(*arch) + ".block_count"));
    g.n_layer = static_cast<int>(n_layer.value_or(0));
  }
  return backend::make_gpu_backend(g);
}

// Where the file's bytes go (LoadOptions::weight_memory).
gguf::Residence residence_for(const std::string& path, const LoadOptions& options) {
  switch (options.weight_memory) {
    case WeightMemory::kMapped:
      return gguf::Residence::kMapped;
    case WeightMemory::kCopied:
      return gguf::Residence::kCopied;
    case WeightMemory::kAuto:
      break;
  }
  std::error_code ec;
  const uint64_t bytes = std::filesystem::file_size(path, ec);
  if (ec) return gguf::Residence::kMapped;  // open() reports the problem
  return gguf::auto_residence(options.backend == "cpu", gguf::transparent_hugepage_mode(), bytes,
                              gguf::available_memory_bytes());
}

class LoadedModel final : public Model {
 public:
  const ModelInfo& info() const override { return info_; }
  const Tokenizer& tokenizer() const override { return *state_->tokenizer; }
  int n_ctx() const override { return n_ctx_; }

  std::string apply_chat_template(const std::vector<ChatMessage>& messages, bool add_assistant_prefix) const override {
    return runtime::render_chat(chat_, messages, add_assistant_prefix);
  }

  Result<std::unique_ptr<Session>> new_session(const SessionOptions& options) const override {
    runtime::SessionConfig c;
    c.n_ctx = options.n_ctx > 0 ? options.n_ctx : n_ctx_;
    c.n_batch = options.n_batch > 0 ? options.n_batch : 512;
    const KvCacheType kv = options.kv_type.value_or(kv_type_);
    c.kv_type = kv == KvCacheType::kF16 ? backend::CacheType::kF16 : backend::CacheType::kF32;
    if (c.n_ctx < 1 || c.n_ctx > (1 << 24))
      return make_error(ErrorCode::kInvalidArgument, "session context size " + std::to_string(c.n_ctx) + " is out of range");
    c.n_batch = std::min(c.n_batch, c.n_ctx);
    return runtime::make_session(state_, c);
  }

  Result<std::unique_ptr<BatchGenerator>> new_batch_generator(const BatchOptions& options) const override {
    runtime::BatchConfig c;
    c.n_slots = options.n_slots;
    c.n_ctx = options.n_ctx > 0 ? options.n_ctx : n_ctx_;
    c.n_batch = options.n_batch > 0 ? options.n_batch : 256;
    const KvCacheType kv = options.kv_type.value_or(kv_type_);
    c.kv_type = kv == KvCacheType::kF16 ? backend::CacheType::kF16 : backend::CacheType::kF32;
    if (c.n_ctx < 1 || c.n_ctx > (1 << 24))
      return make_error(ErrorCode::kInvalidArgument, "batch context size " + std::to_string(c.n_ctx) + " is out of range");
    return runtime::make_batch_generator(state_, c);
  }

  MoeStats moe_stats() const override {
    MoeStats out;
    out.n_expert = info_.n_expert;
    out.n_expert_used = info_.n_expert_used;
    std::lock_guard<std::mutex> lock(state_->compute);
    const auto& layers = state_->moe_stats.layers;
    for (size_t il = 0; il < layers.size(); ++il) {
      const auto& L = layers[il];
      if (L.expert_tokens.empty()) continue;
      MoeLayerStats m;
      m.layer = static_cast<int>(il);
      m.expert_tokens = L.expert_tokens;
      m.n_tokens = L.n_tokens;
      m.n_decode_tokens = L.n_decode_tokens;
      m.bytes_read = L.bytes_read;
      m.decode_bytes_read = L.decode_bytes_read;
      m.routed_bytes = L.routed_bytes;
      out.layers.push_back(std::move(m));
    }
    return out;
  }
  void reset_moe_stats() override {
    std::lock_guard<std::mutex> lock(state_->compute);
    state_->moe_stats.reset();
  }

  std::shared_ptr<runtime::ModelState> state_;
  ModelInfo info_;
  runtime::ChatTemplate chat_;
  int n_ctx_ = 0;
  KvCacheType kv_type_ = KvCacheType::kF16;
};

}  // namespace

Result<std::shared_ptr<Model>> Model::load(const std::string& gguf_path, const LoadOptions& options) {
  LoadOptions resolved = options;
  MOE_RETURN_IF_ERROR(parse_backend_spec(options.backend, &resolved));
  if (resolved.n_gpu_layers < -1 || resolved.n_cpu_moe < 0)
    return make_error(ErrorCode::kInvalidArgument, "GPU layer and expert counts must not be negative");
  if (options.n_threads < 0 || options.n_threads > 1024)
    return make_error(ErrorCode::kInvalidArgument, "thread count " + std::to_string(options.n_threads) + " is out of range");
  if (options.n_ctx < 0) return make_error(ErrorCode::kInvalidArgument, "context size " + std::to_string(options.n_ctx) + " is negative");

  // "auto": the GPU when one is usable, else the CPU, decided once (the weights' residence
  // depends on it too).
  if (resolved.backend == "auto") {
    std::string why;
    resolved.backend = backend::gpu_device_count(&why) > 0 ? "gpu" : "cpu";
  }

  auto state = std::make_shared<runtime::ModelState>();
  MOE_TRY(state->file, gguf::GgufFile::open(gguf_path, residence_for(gguf_path, resolved)));
  const gguf::GgufFile& file = *state->file;
  MOE_TRY(state->backend, make_backend(file, resolved));
  MOE_TRY(state->arch, model::create_arch(file, *state->backend));
  {
    // Every tensor of the file, for backends that keep weights in their own memory.
    std::vector<backend::Weight> weights;
    weights.reserve(file.tensors().size());
    for (const auto& t : file.tensors()) {
      backend::Weight w;
      w.data = t.data;
      w.type = t.type;
      w.n_in = t.ne[0];
      w.n_out = t.ne[1];
      w.n_mat = t.ne[2] * t.ne[3];
      const auto& traits = quant::type_traits(t.type);
      w.row_bytes = static_cast<size_t>(w.n_in / traits.block_size) * traits.type_size;
      w.name = t.name;
      weights.push_back(w);
    }
    if (Status st = state->backend->place_weights(weights); !st.ok())
      return make_error(st.error().code(), "model '" + gguf_path + "': " + st.error().message());
  }
  MOE_TRY(state->tokenizer, tokenizer::tokenizer_from_gguf(file));
  const model::Hparams& hp = state->arch->hparams();
  // The backend's kernels have limits: a file beyond them is refused now, with the key to blame,
  // never at the first evaluation.
  const backend::Backend::Limits limits = state->backend->limits();
  const model::Arch::HeadDims dims = state->arch->attention_head_dims();
  if (dims.k > limits.max_head_dim_k || dims.v > limits.max_head_dim_v) {
    const bool mla = hp.arch == "deepseek2";
    return make_error(ErrorCode::kUnsupported,
                      "model '" + gguf_path + "': attention head size " + std::to_string(dims.k) + " (keys) / " +
                          std::to_string(dims.v) + " (values) is larger than the " + std::string(state->backend->name()) +
                          " backend supports (" + std::to_string(limits.max_head_dim_k) + " / " +
                          std::to_string(limits.max_head_dim_v) + "); see " + hp.arch +
                          (mla ? ".attention.kv_lora_rank, .rope.dimension_count and .attention.key_length_mla"
                               : ".attention.key_length and .attention.value_length"));
  }
  if (state->tokenizer->n_vocab() != hp.n_vocab)
    return make_error(ErrorCode::kCorrupt, "model '" + gguf_path + "': the tokenizer has " +
                                               std::to_string(state->tokenizer->n_vocab()) + " tokens but the model " +
                                               std::to_string(hp.n_vocab));

  auto m = std::make_shared<LoadedModel>();
  m->info_.architecture = hp.arch;
  m->info_.name = hp.name;
  m->info_.n_ctx_train = hp.n_ctx_train;
  m->info_.n_vocab = hp.n_vocab;
  m->info_.n_layer = hp.n_layer;
  m->info_.n_embd = hp.n_embd;
  m->info_.n_expert = hp.n_expert;
  m->info_.n_expert_used = hp.n_expert_used;
  m->info_.backend = std::string(state->backend->name());
  m->info_.backend_detail = state->backend->describe();
  for (const auto& t : file.tensors()) m->info_.n_params += t.n_elements;
  m->info_.file_bytes = file.file_size();
  m->info_.weight_memory =
      file.residence() == gguf::Residence::kCopied ? WeightMemory::kCopied : WeightMemory::kMapped;
  MOE_TRY(auto tmpl, file.get_string("tokenizer.chat_template"));
  m->chat_ = runtime::chat_template_for(tmpl.value_or(""));
  if (tmpl) m->info_.chat_template_family = runtime::chat_template_family(*tmpl);
  if (!options.chat_template.empty()) {
    const auto format = runtime::chat_format_from_name(options.chat_template);
    if (!format)
      return make_error(ErrorCode::kInvalidArgument,
                        "unknown chat template '" + options.chat_template +
                            "' (chatml, llama3, deepseek2, deepseek3, deepseek-coder, llama2)");
    if (*format != m->chat_.format) m->chat_ = runtime::ChatTemplate{*format, ""};
    m->info_.chat_template_family = runtime::chat_format_name(*format);
  }
  m->n_ctx_ = options.n_ctx > 0 ? options.n_ctx : static_cast<int>(std::min<int64_t>(hp.n_ctx_train, kDefaultMaxCtx));
  m->kv_type_ = options.kv_type;
  m->state_ = std::move(state);
  return std::shared_ptr<Model>(std::move(m));
}

}  // namespace moecode::engine
