// gen_moe_model: writes a random-weight `deepseek2` GGUF of DeepSeek-V2-Lite's shape (for
// side-by-side speed runs of moecode and llama.cpp on the same file):
//   2048 wide, MLA (kv_lora 512, q_lora 0, 16 heads, nope 128 + rope 64, v 128), YaRN as
//   V2-Lite, 1 leading dense layer (FFN 10944), then MoE layers of 64 experts of 1408
//   (6 used, softmax gating) + 2 shared experts, vocab 102400, untied output.
// Storage as llama-quantize's Q4_K_M would choose it: Q4_K where the row length is a
// multiple of 256, else Q5_0 (its fallback); output Q6_K; norms and routers F32.
//
//   gen_moe_model OUT.gguf [--layers 4] [--vocab 102400]
//
// Weight values do not change the speed, so each quantized tensor cycles through a pool of
// 61 random rows (quantized with engine/quant's reference quantizers) at an offset of its
// own; the routers are fully random (N(0, 1/sqrt(2048))), so tokens spread over experts.
// The tokenizer is vocabulary A of the fixtures (byte-level BPE, 512 tokens) padded with
// "<|reserved_N|>" control tokens. Single-threaded; writes ~1.4 GB for 4 layers.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/quant/types.h"

namespace {

using moecode::gguf::GgufFile;
using moecode::gguf::GgufWriter;
using moecode::quant::GgmlType;

constexpr int64_t kEmbd = 2048, kHeads = 16, kNope = 128, kRope = 64, kV = 128, kLora = 512;
constexpr int64_t kFf = 10944, kExpFf = 1408, kExperts = 64, kUsed = 6, kShared = 2;

GgmlType pick(int64_t n_in) { return n_in % 256 == 0 ? GgmlType::Q4_K : GgmlType::Q5_0; }

// A quantized tensor [n_in, n_out, n_mat] filled by cycling through random rows.
void add_quant(GgufWriter& w, const std::string& name, GgmlType type, std::vector<int64_t> ne) {
  const int64_t n_in = ne[0];
  const size_t row = moecode::quant::row_size(type, n_in);
  constexpr int kPool = 61;
  auto pool = std::make_shared<std::vector<uint8_t>>(row * kPool);
  std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>{}(name)));
  std::normal_distribution<float> nd(0.0f, 1.0f / std::sqrt(static_cast<float>(n_in)));
  std::vector<float> f(static_cast<size_t>(n_in));
  const auto& traits = moecode::quant::type_traits(type);
  for (int r = 0; r < kPool; ++r) {
    for (auto& v : f) v = nd(rng);
    traits.from_float(f.data(), pool->data() + r * row, n_in);
  }
  const size_t offset = std::hash<std::string>{}(name) % kPool;
  auto st = w.add_tensor_lazy(name, type, ne, [pool, row, offset](uint8_t* dst, uint64_t n_bytes) {
    const uint64_t rows = n_bytes / row;
    for (uint64_t r = 0; r < rows; ++r) std::memcpy(dst + r * row, pool->data() + ((r + offset) % kPool) * row, row);
  });
  if (!st.ok()) {
    std::fprintf(stderr, "gen_moe_model: %s\n", st.error().message().c_str());
    std::exit(1);
  }
}

void add_f32(GgufWriter& w, const std::string& name, std::vector<int64_t> ne, float mean, float sd) {
  size_t n = 1;
  for (int64_t d : ne) n *= static_cast<size_t>(d);
  std::vector<float> v(n, mean);
  if (sd > 0) {
    std::mt19937 rng(static_cast<uint32_t>(std::hash<std::string>{}(name)));
    std::normal_distribution<float> nd(mean, sd);
    for (auto& x : v) x = nd(rng);
  }
  auto st = w.add_tensor(name, GgmlType::F32, ne,
                         std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(v.data()), n * sizeof(float)));
  if (!st.ok()) std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const char* kUsage = "usage: gen_moe_model OUT.gguf [--layers N] [--vocab N]\n";
  // An option in OUT's place (--help, a typo) must not become a 1.4 GB file of that name.
  if (argc < 2 || argv[1][0] == '-') {
    const bool help = argc >= 2 && (std::strcmp(argv[1], "-h") == 0 || std::strcmp(argv[1], "--help") == 0);
    std::fputs(kUsage, help ? stdout : stderr);
    return help ? 0 : 2;
  }
  std::string out = argv[1];
  int64_t n_layer = 4, n_vocab = 102400;
  for (int i = 2; i < argc; i += 2) {
    const std::string opt = argv[i];
    if ((opt != "--layers" && opt != "--vocab") || i + 1 >= argc) {
      std::fprintf(stderr, "gen_moe_model: unknown option or missing value: %s\n%s", opt.c_str(), kUsage);
      return 2;
    }
    (opt == "--layers" ? n_layer : n_vocab) = std::atoll(argv[i + 1]);
  }
  if (n_layer < 2 || n_vocab < 512) {
    std::fprintf(stderr, "gen_moe_model: need --layers >= 2 and --vocab >= 512\n");
    return 2;
  }
  // Tokenizer: vocabulary A from a fixture, padded with control tokens.
  auto fx = GgufFile::open(std::string(MOECODE_SOURCE_DIR) + "/tests/data/fixtures/models/tiny-deepseek2-lite.f32.gguf");
  if (!fx.ok()) {
    std::fprintf(stderr, "gen_moe_model: %s\n", fx.error().message().c_str());
    return 1;
  }
  GgufWriter w;
  const std::string a = "deepseek2.";
  w.set_string("general.architecture", "deepseek2");
  w.set_string("general.name", "DeepSeek-V2-Lite-shaped random (" + std::to_string(n_layer) + " layers)");
  w.set_uint32("general.file_type", 15);  // Q4_K_M
  w.set_uint32("general.quantization_version", 2);
  w.set_uint32(a + "context_length", 163840);
  w.set_uint32(a + "embedding_length", kEmbd);
  w.set_uint32(a + "block_count", static_cast<uint32_t>(n_layer));
  w.set_uint32(a + "feed_forward_length", kFf);
  w.set_uint32(a + "attention.head_count", kHeads);
  w.set_uint32(a + "attention.head_count_kv", 1);
  w.set_float32(a + "attention.layer_norm_rms_epsilon", 1e-6f);
  w.set_float32(a + "rope.freq_base", 10000.0f);
  w.set_uint32(a + "rope.dimension_count", kRope);
  w.set_string(a + "rope.scaling.type", "yarn");
  w.set_float32(a + "rope.scaling.factor", 40.0f);
  w.set_uint32(a + "rope.scaling.original_context_length", 4096);
  w.set_float32(a + "rope.scaling.yarn_log_multiplier", 0.0707f);
  w.set_uint32(a + "vocab_size", static_cast<uint32_t>(n_vocab));
  w.set_uint32(a + "leading_dense_block_count", 1);
  w.set_uint32(a + "attention.q_lora_rank", 0);
  w.set_uint32(a + "attention.kv_lora_rank", kLora);
  w.set_uint32(a + "attention.key_length", kLora + kRope);
  w.set_uint32(a + "attention.value_length", kLora);
  w.set_uint32(a + "attention.key_length_mla", kNope + kRope);
  w.set_uint32(a + "attention.value_length_mla", kV);
  w.set_uint32(a + "expert_feed_forward_length", kExpFf);
  w.set_uint32(a + "expert_count", kExperts);
  w.set_uint32(a + "expert_used_count", kUsed);
  w.set_uint32(a + "expert_shared_count", kShared);
  w.set_float32(a + "expert_weights_scale", 1.0f);
  w.set_bool(a + "expert_weights_norm", false);
  w.set_uint32(a + "expert_gating_func", 1);
  for (const auto& kv : (*fx)->metadata()) {
    const std::string key(kv.key);
    if (key.rfind("tokenizer.", 0) == 0) w.set(kv.key, kv.value);
  }
  {
    // Pad tokens / token types to n_vocab.
    std::vector<std::string> tokens;
    std::vector<int32_t> types;
    const auto* tv = (*fx)->find("tokenizer.ggml.tokens");
    const auto* yv = (*fx)->find("tokenizer.ggml.token_type");
    if (!tv || !yv) return 1;
    for (auto t : tv->array_strings()) tokens.emplace_back(t);
    for (uint64_t i = 0; i < yv->array_size(); ++i) types.push_back(static_cast<int32_t>(yv->array_at(i).as_int().value_or(1)));
    for (int64_t i = static_cast<int64_t>(tokens.size()); i < n_vocab; ++i) {
      tokens.push_back("<|reserved_" + std::to_string(i) + "|>");
      types.push_back(3);
    }
    w.set_string_array("tokenizer.ggml.tokens", tokens);
    w.set_int32_array("tokenizer.ggml.token_type", types);
  }

  add_quant(w, "token_embd.weight", GgmlType::Q4_K, {kEmbd, n_vocab});
  add_f32(w, "output_norm.weight", {kEmbd}, 1.0f, 0.0f);
  add_quant(w, "output.weight", GgmlType::Q6_K, {kEmbd, n_vocab});
  for (int64_t il = 0; il < n_layer; ++il) {
    const std::string b = "blk." + std::to_string(il) + ".";
    add_f32(w, b + "attn_norm.weight", {kEmbd}, 1.0f, 0.0f);
    add_quant(w, b + "attn_q.weight", pick(kEmbd), {kEmbd, kHeads * (kNope + kRope)});
    add_quant(w, b + "attn_kv_a_mqa.weight", pick(kEmbd), {kEmbd, kLora + kRope});
    add_f32(w, b + "attn_kv_a_norm.weight", {kLora}, 1.0f, 0.0f);
    add_quant(w, b + "attn_k_b.weight", pick(kNope), {kNope, kLora, kHeads});
    add_quant(w, b + "attn_v_b.weight", pick(kLora), {kLora, kV, kHeads});
    add_quant(w, b + "attn_output.weight", pick(kHeads * kV), {kHeads * kV, kEmbd});
    add_f32(w, b + "ffn_norm.weight", {kEmbd}, 1.0f, 0.0f);
    if (il == 0) {
      add_quant(w, b + "ffn_gate.weight", pick(kEmbd), {kEmbd, kFf});
      add_quant(w, b + "ffn_up.weight", pick(kEmbd), {kEmbd, kFf});
      add_quant(w, b + "ffn_down.weight", pick(kFf), {kFf, kEmbd});
      continue;
    }
    add_f32(w, b + "ffn_gate_inp.weight", {kEmbd, kExperts}, 0.0f, 1.0f / std::sqrt(static_cast<float>(kEmbd)));
    add_quant(w, b + "ffn_gate_exps.weight", pick(kEmbd), {kEmbd, kExpFf, kExperts});
    add_quant(w, b + "ffn_up_exps.weight", pick(kEmbd), {kEmbd, kExpFf, kExperts});
    add_quant(w, b + "ffn_down_exps.weight", pick(kExpFf), {kExpFf, kEmbd, kExperts});
    add_quant(w, b + "ffn_gate_shexp.weight", pick(kEmbd), {kEmbd, kShared * kExpFf});
    add_quant(w, b + "ffn_up_shexp.weight", pick(kEmbd), {kEmbd, kShared * kExpFf});
    add_quant(w, b + "ffn_down_shexp.weight", pick(kShared * kExpFf), {kShared * kExpFf, kEmbd});
  }
  auto st = w.write(out);
  if (!st.ok()) {
    std::fprintf(stderr, "gen_moe_model: %s\n", st.error().message().c_str());
    return 1;
  }
  std::printf("gen_moe_model: wrote %s (%lld layers, vocab %lld)\n", out.c_str(), static_cast<long long>(n_layer),
              static_cast<long long>(n_vocab));
  return 0;
}
