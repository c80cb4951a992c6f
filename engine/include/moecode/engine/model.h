// Public model API: inspect a GGUF file, load a model, open sessions.
// A loaded Model is immutable and shared by its sessions; its methods are thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "moecode/engine/batch.h"
#include "moecode/engine/result.h"
#include "moecode/engine/session.h"
#include "moecode/engine/tokenizer.h"

namespace moecode::engine {


// ---- inspection (no weights loaded) -------------------------------------------------

// One metadata value, for display. Arrays carry their element type and length, and
// their elements when they are short (<= 16) or scalar-only on request.
struct MetaValue {
  std::string type;  // "u8", "i32", "f32", "bool", "string", "array" ...
  std::variant<std::monostate, uint64_t, int64_t, double, bool, std::string> scalar;
  std::string array_type;  // element type for arrays
  uint64_t array_len = 0;
  std::vector<MetaValue> elements;  // first elements of an array (<= 16)
};

struct TensorTypeStats {
  std::string type;  // "Q4_K", "F32" ...
  uint64_t n_tensors = 0;
  uint64_t n_bytes = 0;
  uint64_t n_elements = 0;
};

// What `moecode model info` shows.
struct ModelSummary {
  std::string path;
  uint64_t file_bytes = 0;
  uint32_t gguf_version = 0;
  uint64_t alignment = 0;
  std::string architecture;  // general.architecture
  std::string name;          // general.name
  std::vector<std::pair<std::string, MetaValue>> metadata;  // every key, file order
  uint64_t n_tensors = 0;
  uint64_t n_params = 0;
  std::vector<TensorTypeStats> tensor_types;  // by type, largest first
  // Architecture hyperparameters (the "<arch>.*" keys), already in `metadata`;
  // repeated here with the prefix stripped for display.
  std::vector<std::pair<std::string, MetaValue>> hparams;
  // Tokenizer.
  std::string tokenizer_model;  // tokenizer.ggml.model
  std::string tokenizer_pre;    // tokenizer.ggml.pre
  int64_t n_vocab = 0;
  SpecialTokens special;
  bool has_chat_template = false;
  std::string chat_template_family;  // "chatml", "llama3", "deepseek3", ... or ""
  // Mixture of experts (0 for dense models).
  int64_t n_expert = 0, n_expert_used = 0, n_expert_shared = 0;
};

// Reads a GGUF's metadata and tensor table (validating everything) without loading weights.
Result<ModelSummary> inspect_model(const std::string& path);

// ---- loading -----------------------------------------------------------------------

// Where a loaded model's weights are kept (llama.cpp's --mmap / --no-mmap).
enum class WeightMemory {
  // A copy when the CPU backend runs the model, the kernel offers transparent huge pages and
  // the file takes at most half the available memory and at most 8 GiB; else the mapping.
  kAuto,
  // The file's read-only mapping: the page cache, shared between processes, nothing read at
  // load.
  kMapped,
  // A private copy in memory advised to use transparent huge pages: each decode step streams
  // every weight, and 2 MiB pages spare the TLB misses of 4 KiB ones (5-10 % more tokens/s
  // on a 2-core EPYC). Costs reading the file at load and private memory of its size.
  kCopied,
};

struct LoadOptions {
  int n_threads = 0;          // 0: number of physical cores
  int n_ctx = 0;              // 0: min(training context, 8192)
  KvCacheType kv_type = KvCacheType::kF16;
  // "cpu", "gpu" (an error when this build or machine has none) or "auto" (the GPU when
  // one is usable, else the CPU); GPU placement may follow a colon and overrides the fields
  // below: "gpu:ngl=20,cpu-moe", "auto:n-cpu-moe=10,device=1".
  std::string backend = "cpu";
  // GPU placement (llama.cpp's meanings): blocks on the GPU (-1: all; the output head counts
  // as one more), routed experts kept in host memory (all, or those of the first N blocks).
  int n_gpu_layers = -1;
  bool cpu_moe = false;
  int n_cpu_moe = 0;
  int gpu_device = 0;
  // Reference mode: quantized weights are dequantized row by row and multiplied with F32
  // activations (slower; not llama.cpp's arithmetic). For exactness checks.
  bool f32_activations = false;
  WeightMemory weight_memory = WeightMemory::kAuto;
  // Chat format: "" detects it from tokenizer.chat_template (ChatML when unknown), or one
  // of "chatml", "llama3", "deepseek2", "deepseek3", "deepseek-coder", "llama2".
  std::string chat_template;
};

// Facts about a loaded model that callers plan with.
struct ModelInfo {
  std::string architecture;
  std::string name;
  int64_t n_ctx_train = 0;
  int64_t n_vocab = 0;
  int64_t n_layer = 0;
  int64_t n_embd = 0;
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  uint64_t n_params = 0;
  uint64_t file_bytes = 0;
  std::string chat_template_family;  // "" when unknown
  std::string backend;               // "cpu" or "gpu"
  std::string backend_detail;        // the backend's describe(): device, weight placement
  WeightMemory weight_memory = WeightMemory::kMapped;  // kMapped or kCopied: where the file's bytes are
};

// Routed-expert counters of a loaded MoE model, summed over its sessions since load or
// reset_moe_stats(). Decode = evaluations of a single token. Dense models have no layers.
struct MoeLayerStats {
  int layer = 0;
  std::vector<uint64_t> expert_tokens;  // [n_expert] tokens routed to each expert
  uint64_t n_tokens = 0;
  uint64_t n_decode_tokens = 0;
  uint64_t bytes_read = 0;         // routed-expert weight bytes the matmuls read
  uint64_t decode_bytes_read = 0;  // the same, while decoding
  uint64_t routed_bytes = 0;       // all routed-expert weight bytes of the layer
};
struct MoeStats {
  int64_t n_expert = 0;
  int64_t n_expert_used = 0;
  std::vector<MoeLayerStats> layers;  // MoE layers only, in order
};

struct ChatMessage {
  std::string role;  // "system", "user", "assistant"
  std::string content;
};

class Model {
 public:
  virtual ~Model() = default;

  // Maps and validates the GGUF, checks the architecture and tensor set (a clear error
  // lists what is unsupported or missing), prepares the backend.
  static Result<std::shared_ptr<Model>> load(const std::string& gguf_path, const LoadOptions& options);

  virtual const ModelInfo& info() const = 0;
  virtual const Tokenizer& tokenizer() const = 0;
  virtual int n_ctx() const = 0;  // context size of new sessions

  // Renders a chat for this model's template (ChatML, Llama 3, DeepSeek...), ending with
  // the assistant prefix when add_assistant_prefix.
  virtual std::string apply_chat_template(const std::vector<ChatMessage>& messages,
                                          bool add_assistant_prefix) const = 0;

  // A new session (its own KV cache). Thread-compatible: one thread per session at a time.
  virtual Result<std::unique_ptr<Session>> new_session(const SessionOptions& options) const = 0;

  // A continuous-batching generator over this model (batch.h): n_slots KV caches of n_ctx
  // tokens, one thread. It keeps the model alive.
  virtual Result<std::unique_ptr<BatchGenerator>> new_batch_generator(const BatchOptions& options) const = 0;

  // Routed-expert usage and bytes read (MoE models; empty layers for dense ones).
  virtual MoeStats moe_stats() const { return {}; }
  virtual void reset_moe_stats() {}
};

// Splits R1-style output "<think>reasoning</think>answer" into its two parts.
struct ReasonedText {
  std::string reasoning;
  std::string answer;
};
ReasonedText split_reasoning(const std::string& text);

}  // namespace moecode::engine
