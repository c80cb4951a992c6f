// Shared options of the model-running commands (see engine_args.h).
#include "lsp/cli/engine_args.h"

#include <charconv>

#include <fmt/format.h>

#include "lsp/cli/model_path.h"

namespace moecode::cli {

CLI::Validator backend_check() {
  return CLI::Validator(
      [](std::string& v) -> std::string {
        const std::string kind = v.substr(0, v.find(':'));
        if (kind == "cpu" || kind == "gpu" || kind == "auto") return {};
        return "the backend is cpu, gpu or auto, with GPU placement after a colon (gpu:ngl=20,cpu-moe); got '" + v +
               "'";
      },
      "cpu|gpu|auto[:PLACEMENT]");
}

void add_engine_options(CLI::App* cmd, EngineArgs& args, bool with_chat_template) {
  cmd->add_option("-m,--model", args.model, "GGUF model file (default: the default model; see README)");
  cmd->add_option("-t,--threads", args.threads, "Threads (default: physical cores)")->check(CLI::Range(1, 1024));
  cmd->add_option("-c,--ctx-size", args.ctx, "Context size in tokens (default: the model's, at most 8192)")
      ->check(CLI::Range(1, 1 << 24));
  cmd->add_option("--kv-type", args.kv_type, "KV cache element type: f16 or f32")->check(CLI::IsMember({"f16", "f32"}));
  cmd->add_option("--backend", args.backend, "Compute backend: cpu, gpu (HIP; AMD or NVIDIA) or auto; GPU placement may follow: gpu:ngl=20,cpu-moe")
      ->check(backend_check())
      ->capture_default_str();
  cmd->add_option("--ngl,--n-gpu-layers", args.n_gpu_layers,
                  "GPU backend: blocks whose weights go to the GPU, the output head counting as one more (default: all)")
      ->check(CLI::Range(0, 1 << 20));
  cmd->add_flag("--cpu-moe", args.cpu_moe, "GPU backend: keep every block's routed experts in host memory");
  cmd->add_option("--n-cpu-moe", args.n_cpu_moe,
                  "GPU backend: keep the routed experts of the first N blocks in host memory")
      ->check(CLI::Range(0, 1 << 20));
  auto* mmap = cmd->add_flag("--mmap", args.mmap,
                             "Keep the weights in the model file's mapping (shared page cache, nothing read "
                             "at load)");
  cmd->add_flag("--no-mmap", args.no_mmap,
                "Copy the weights into memory backed by huge pages (faster decode; reads the file at load). "
                "Default: a copy when the CPU runs the model and it takes at most half the available memory "
                "and 8 GiB")
      ->excludes(mmap);
  if (with_chat_template) {
    cmd->add_option("--chat-template", args.chat_template,
                    "Chat format instead of the detected one: chatml, llama3, deepseek2, deepseek3, "
                    "deepseek-coder, llama2");
  }
}

Result<std::shared_ptr<engine::Model>> load_model(const EngineArgs& args, engine::KvCacheType default_kv) {
  MOE_TRY(auto path, resolve_model_path(args.model));
  engine::LoadOptions opts;
  opts.n_threads = args.threads;
  opts.n_ctx = args.ctx;
  opts.kv_type = args.kv_type.empty() ? default_kv
                 : args.kv_type == "f32" ? engine::KvCacheType::kF32
                                         : engine::KvCacheType::kF16;
  opts.chat_template = args.chat_template;
  opts.backend = args.backend;
  opts.n_gpu_layers = args.n_gpu_layers;
  opts.cpu_moe = args.cpu_moe;
  opts.n_cpu_moe = args.n_cpu_moe;
  opts.weight_memory = args.mmap      ? engine::WeightMemory::kMapped
                       : args.no_mmap ? engine::WeightMemory::kCopied
                                      : engine::WeightMemory::kAuto;
  return engine::Model::load(path, opts);
}

Result<std::vector<engine::Token>> parse_token_list(std::string_view text) {
  std::vector<engine::Token> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view item = text.substr(pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    engine::Token v = 0;
    const auto [p, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || p != item.data() + item.size() || v < 0) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("bad token id '{}' in --tokens (expected ids like 1,2,3)", item));
    }
    ids.push_back(v);
    pos = end + 1;
  }
  return ids;
}

}  // namespace moecode::cli
