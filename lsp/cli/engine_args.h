// Options shared by the commands that run a model (generate, logits, bench): the model
// path, threads, context, KV cache type, chat template; loading the model with them; and
// token lists ("1,2,3"). Used on the main thread while a command is set up.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "moecode/engine/model.h"
#include "moecode/engine/result.h"

namespace moecode::cli {

struct EngineArgs {
  std::string model;          // -m (empty: the default model)
  int threads = 0;            // -t (0: physical cores)
  int ctx = 0;                // -c (0: the model's default)
  std::string kv_type;        // --kv-type f16|f32 (empty: the command's default)
  std::string chat_template;  // --chat-template NAME
  std::string backend = "cpu";  // --backend cpu|gpu|auto
  int n_gpu_layers = -1;      // -ngl (-1: all)
  bool cpu_moe = false;       // --cpu-moe
  int n_cpu_moe = 0;          // --n-cpu-moe
  bool mmap = false;          // --mmap: keep the weights in the file's mapping
  bool no_mmap = false;       // --no-mmap: copy them into huge pages (default: decided per machine)
};

// Adds -m/--model, -t/--threads, -c/--ctx-size, --kv-type, the backend and GPU placement
// (--backend, -ngl, --cpu-moe, --n-cpu-moe), where the weights live (--mmap, --no-mmap), and
// --chat-template when asked.
void add_engine_options(CLI::App* cmd, EngineArgs& args, bool with_chat_template);

// --backend's check: cpu, gpu or auto, optionally followed by ":" and GPU placement (checked
// when the model loads).
CLI::Validator backend_check();

// Resolves the model path and loads it; `default_kv` when --kv-type was not given.
Result<std::shared_ptr<engine::Model>> load_model(const EngineArgs& args, engine::KvCacheType default_kv);

// "12,7,3" (spaces allowed) -> ids. Errors name the offending item.
Result<std::vector<engine::Token>> parse_token_list(std::string_view text);

}  // namespace moecode::cli
