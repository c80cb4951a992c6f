// Writes the seeds of the model-loading fuzzer: one tiny model (~90-330 KB, mostly vocabulary) per architecture
// of tests/data/fixtures/models, so that libFuzzer mutates metadata and tensor tables rather
// than megabytes of weights. Each seed keeps its fixture's metadata (vocabulary, tokenizer,
// special tokens, rope and routing settings) with smaller dimensions, and random weights in
// Q4_0, Q8_0, F16 or F32. The tensor shapes come from the loader itself: the seed is loaded,
// and every "tensor 'X' has shape [..], expected [..]" in the error is regenerated until the
// model loads (and evaluates a token).
//   build-fuzz/fuzz/fuzz_make_model_seeds tests/data/fixtures/models tests/fuzz/corpus/model_load_fuzz
// Not a test; run by hand when the loader's tensor set changes.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include "engine/gguf/gguf.h"
#include "engine/quant/types.h"
#include "moecode/engine/model.h"

namespace {

using namespace moecode;
using quant::GgmlType;

struct Seed {
  std::string fixture;  // file name in the fixture folder
  std::string out;      // seed name
  std::map<std::string, int64_t> dims;  // "<arch>." keys -> new values ("/2": halve)
};

// Halve these keys when the fixture has them (head and latent sizes keep their ratios).
const char* kHalved[] = {"attention.key_length",     "attention.value_length", "attention.key_length_mla",
                         "attention.value_length_mla", "attention.kv_lora_rank", "attention.q_lora_rank",
                         "rope.dimension_count"};

std::vector<uint8_t> random_tensor(GgmlType type, const std::vector<int64_t>& ne, std::mt19937& rng) {
  int64_t n = 1;
  for (int64_t d : ne) n *= d;
  std::normal_distribution<float> dist(0.0f, 0.5f);
  std::vector<float> f(static_cast<size_t>(n));
  for (auto& x : f) x = dist(rng);
  const auto& traits = quant::type_traits(type);
  std::vector<uint8_t> out(static_cast<size_t>(n / traits.block_size * traits.type_size));
  traits.from_float(f.data(), out.data(), n);
  return out;
}

GgmlType pick_type(const std::vector<int64_t>& ne, size_t i) {
  if (ne.size() < 2 || ne[0] % 32 != 0) return GgmlType::F32;
  static const GgmlType kTypes[] = {GgmlType::Q4_0, GgmlType::Q8_0, GgmlType::F16, GgmlType::Q4_0};
  return kTypes[i % 4];
}

std::vector<int64_t> parse_shape(const std::string& s) {
  std::vector<int64_t> ne;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = s.find(',', i);
    if (j == std::string::npos) j = s.size();
    ne.push_back(std::stoll(s.substr(i, j - i)));
    i = j + 1;
  }
  return ne;
}

bool make_seed(const std::string& dir, const std::string& out_dir, const Seed& seed) {
  auto file = gguf::GgufFile::open(dir + "/" + seed.fixture);
  if (!file.ok()) {
    std::fprintf(stderr, "%s\n", file.error().message().c_str());
    return false;
  }
  const std::string arch(*(*file)->get_string("general.architecture").value());
  gguf::GgufWriter meta;
  for (const auto& kv : (*file)->metadata()) meta.set(kv.key, kv.value);
  for (const char* k : kHalved) {
    const std::string key = arch + "." + k;
    auto v = (*file)->get_int(key);
    if (v.ok() && v->has_value() && **v > 1) meta.set_uint32(key, static_cast<uint32_t>(**v / 2));
  }
  for (const auto& [k, v] : seed.dims) meta.set_uint32(arch + "." + k, static_cast<uint32_t>(v));
  meta.set_uint32(arch + ".context_length", 64);

  std::mt19937 rng(1234);
  std::map<std::string, std::vector<int64_t>> shapes;  // name -> shape (fixture's at first)
  std::vector<std::string> order;
  for (const auto& t : (*file)->tensors()) {
    order.emplace_back(t.name);
    shapes[std::string(t.name)] = std::vector<int64_t>(t.ne.begin(), t.ne.begin() + t.n_dims);
  }
  const std::string path = out_dir + "/" + seed.out + ".gguf";
  const std::regex shape_re("tensor '([^']+)' has shape \\[[^\\]]*\\], expected \\[([^\\]]*)\\]");
  for (int attempt = 0; attempt < 8; ++attempt) {
    gguf::GgufWriter w = meta;
    for (size_t i = 0; i < order.size(); ++i) {
      const auto& ne = shapes[order[i]];
      const GgmlType type = pick_type(ne, i);
      if (!w.add_tensor(order[i], type, ne, random_tensor(type, ne, rng)).ok()) return false;
    }
    if (!w.write(path).ok()) return false;
    engine::LoadOptions lo;
    lo.n_threads = 1;
    lo.n_ctx = 16;
    auto m = engine::Model::load(path, lo);
    if (m.ok()) {
      auto s = (*m)->new_session({});
      std::vector<engine::Token> prompt{1, 2};
      engine::GenerateOptions g;
      g.max_tokens = 1;
      auto r = s.ok() ? (*s)->generate(prompt, g) : Result<engine::GenerateResult>(s.error());
      if (!r.ok()) {
        std::fprintf(stderr, "%s: loads but does not run: %s\n", seed.out.c_str(), r.error().message().c_str());
        return false;
      }
      std::printf("%s: %ld bytes, %s\n", path.c_str(), static_cast<long>(w.to_bytes().size()),
                  (*m)->info().architecture.c_str());
      return true;
    }
    const std::string msg = m.error().message();
    bool changed = false;
    for (std::sregex_iterator it(msg.begin(), msg.end(), shape_re), end; it != end; ++it) {
      shapes[(*it)[1]] = parse_shape((*it)[2]);
      changed = true;
    }
    if (!changed) {
      std::fprintf(stderr, "%s: %s\n", seed.out.c_str(), msg.c_str());
      return false;
    }
  }
  std::fprintf(stderr, "%s: shapes did not settle\n", seed.out.c_str());
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FIXTURE_DIR OUT_DIR\n", argv[0]);
    return 2;
  }
  const std::map<std::string, int64_t> dense{{"embedding_length", 32}, {"feed_forward_length", 32},
                                             {"attention.head_count", 2}, {"attention.head_count_kv", 1}};
  auto with = [&](std::map<std::string, int64_t> extra) {
    auto d = dense;
    for (auto& [k, v] : extra) d[k] = v;
    return d;
  };
  const std::vector<Seed> seeds{
      {"tiny-llama.q4_k_m.gguf", "llama", with({{"block_count", 1}, {"rope.dimension_count", 16}})},
      {"tiny-qwen2.q4_0.gguf", "qwen2", with({{"block_count", 1}})},
      {"tiny-mixtral.q4_0.gguf", "mixtral", with({{"block_count", 1}, {"expert_count", 4}, {"expert_used_count", 2}})},
      {"tiny-qwen2moe.q4_1.gguf", "qwen2moe",
       with({{"block_count", 1}, {"expert_count", 4}, {"expert_used_count", 2}, {"expert_feed_forward_length", 32},
             {"expert_shared_feed_forward_length", 32}})},
      {"tiny-qwen3moe.q4_k_m.gguf", "qwen3moe",
       with({{"block_count", 1}, {"expert_count", 4}, {"expert_used_count", 2}, {"expert_feed_forward_length", 32}})},
      {"tiny-deepseek2-lite.q8_0.gguf", "deepseek2-lite",
       with({{"block_count", 2}, {"expert_count", 4}, {"expert_used_count", 2}, {"expert_feed_forward_length", 32},
             {"attention.head_count_kv", 1}})},
      {"tiny-deepseek3.q4_0.gguf", "deepseek3",
       with({{"block_count", 2}, {"expert_count", 4}, {"expert_used_count", 2}, {"expert_feed_forward_length", 32},
             {"attention.head_count_kv", 1}, {"expert_group_count", 2}, {"expert_group_used_count", 1}})},
  };
  int failed = 0;
  for (const auto& s : seeds) failed += !make_seed(argv[1], argv[2], s);
  return failed ? 1 : 0;
}
