// Model::load errors: an unsupported architecture or an incomplete tensor set gives one
// clear error that names what is missing; wrong shapes and bad hyperparameters are named
// too. The broken files are made from a fixture with GgufWriter.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <set>
#include <string>

#include "engine/gguf/gguf.h"
#include "engine/quant/types.h"
#include "hip_kernels/hip_backend.h"
#include "moecode/engine/model.h"
#include "support/gguf_rewrite.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;

std::string fixture(const std::string& name) { return std::string(MOECODE_TEST_DATA) + "/fixtures/models/" + name; }

// Copies `src` with its keys edited by `edit_keys` and without the tensors in `drop`
// (`reshape` may replace a tensor's data and shape). Returns the new file's path.
std::string rewrite(const std::string& src, const std::string& tag,
                    const std::function<void(gguf::GgufWriter&)>& edit_keys, const std::set<std::string>& drop = {}) {
  return testing::rewrite_gguf(src, "load_" + tag, edit_keys, drop);
}

Result<std::shared_ptr<engine::Model>> load(const std::string& path) { return engine::Model::load(path, {}); }

TEST(ModelLoad, FixturesLoad) {
  for (const char* name : {"tiny-llama.f32.gguf", "tiny-qwen2.f32.gguf", "tiny-qwen2.q8_0.gguf", "tiny-llama.q6_k.gguf"}) {
    auto m = load(fixture(name));
    ASSERT_TRUE(m.ok()) << name << ": " << m.error().message();
    EXPECT_EQ((*m)->info().n_vocab, 512);
    EXPECT_EQ((*m)->info().n_layer, 2);
    EXPECT_GT((*m)->info().n_params, 100000u);
  }
}

// --backend / moecode.backend: cpu, gpu or auto, with GPU placement after a colon. auto
// runs on the CPU where no GPU is usable; gpu there is an error that says why; a bad
// placement names the item.
TEST(ModelLoad, BackendSpecIsParsedAndExplained) {
  auto with = [](const std::string& backend) {
    engine::LoadOptions lo;
    lo.backend = backend;
    return engine::Model::load(fixture("tiny-llama.f32.gguf"), lo);
  };
  ASSERT_TRUE(with("cpu").ok());
  EXPECT_EQ((*with("cpu"))->info().backend, "cpu");
  std::string why;
  const bool gpu = backend::gpu_device_count(&why) > 0;
  for (const char* spec : {"auto", "auto:ngl=2,cpu-moe", "auto:n-cpu-moe=1,device=0"}) {
    auto m = with(spec);
    ASSERT_TRUE(m.ok()) << spec << ": " << m.error().message();
    EXPECT_EQ((*m)->info().backend, gpu ? "gpu" : "cpu") << spec;
  }
  if (!gpu) {
    auto m = with("gpu:ngl=1");
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().message().find(why), std::string::npos) << m.error().message();
  }
  struct Bad {
    const char* spec;
    const char* names;
  };
  for (const Bad& b : {Bad{"tpu", "not one of cpu, gpu, auto"}, Bad{"gpu:ngl=x", "'ngl=x' needs a count"},
                       Bad{"auto:ngl=-1", "'ngl=-1' needs a count"}, Bad{"auto:fast", "unknown option 'fast'"},
                       Bad{"auto:cpu-moe=2", "unknown option 'cpu-moe=2'"}}) {
    auto m = with(b.spec);
    ASSERT_FALSE(m.ok()) << b.spec;
    EXPECT_EQ(m.error().code(), ErrorCode::kInvalidArgument) << b.spec;
    EXPECT_NE(m.error().message().find(b.names), std::string::npos) << m.error().message();
  }
}

TEST(ModelLoad, UnsupportedArchitectureListsTheSupportedOnes) {
  const std::string path = rewrite(fixture("tiny-llama.f32.gguf"), "arch", [](gguf::GgufWriter& w) {
    w.set_string("general.architecture", "gpt2");
  });
  auto m = load(path);
  fs::remove(path);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code(), ErrorCode::kUnsupported);
  const std::string& msg = m.error().message();
  EXPECT_NE(msg.find("'gpt2' is not supported"), std::string::npos) << msg;
  EXPECT_NE(msg.find("llama, qwen2, qwen3"), std::string::npos) << msg;
}

TEST(ModelLoad, MissingTensorsAreAllListed) {
  const std::string path = rewrite(
      fixture("tiny-qwen2.f32.gguf"), "missing", [](gguf::GgufWriter&) {},
      {"blk.1.ffn_up.weight", "blk.0.attn_k.weight", "output_norm.weight"});
  auto m = load(path);
  fs::remove(path);
  ASSERT_FALSE(m.ok());
  const std::string& msg = m.error().message();
  EXPECT_NE(msg.find("3 required tensor(s) missing"), std::string::npos) << msg;
  for (const char* t : {"blk.1.ffn_up.weight", "blk.0.attn_k.weight", "output_norm.weight"})
    EXPECT_NE(msg.find(t), std::string::npos) << t << " not in: " << msg;
  EXPECT_NE(msg.find("qwen2"), std::string::npos) << msg;
}

TEST(ModelLoad, WrongShapeIsNamed) {
  // Claim 3 KV heads: attn_k/attn_v (32 rows) no longer match 3 * 16 = 48, and 4 heads
  // are not a multiple of 3.
  const std::string path = rewrite(fixture("tiny-qwen2.f32.gguf"), "heads", [](gguf::GgufWriter& w) {
    w.set_uint32("qwen2.attention.head_count_kv", 3);
  });
  auto m = load(path);
  fs::remove(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("head_count 4 is not a multiple of head_count_kv 3"), std::string::npos)
      << m.error().message();
  // A shape mismatch.
  const std::string path2 = rewrite(fixture("tiny-qwen2.f32.gguf"), "ff", [](gguf::GgufWriter& w) {
    w.set_uint32("qwen2.feed_forward_length", 96);
  });
  auto m2 = load(path2);
  fs::remove(path2);
  ASSERT_FALSE(m2.ok());
  EXPECT_NE(m2.error().message().find("tensor 'blk.0.ffn_gate.weight' has shape [64, 128], expected [64, 96]"),
            std::string::npos)
      << m2.error().message();
}

TEST(ModelLoad, MissingHyperparameterIsNamed) {
  auto file = gguf::GgufFile::open(fixture("tiny-llama.f32.gguf"));
  ASSERT_TRUE(file.ok());
  const std::string path = rewrite(fixture("tiny-llama.f32.gguf"), "hp", [](gguf::GgufWriter& w) {
    w.remove("llama.block_count");
    w.remove("llama.embedding_length");
  });
  auto m = load(path);
  fs::remove(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("missing key 'llama.block_count'"), std::string::npos) << m.error().message();
  EXPECT_NE(m.error().message().find("missing key 'llama.embedding_length'"), std::string::npos) << m.error().message();
}

// A block count no file could hold (found by model_load_fuzz: deepseek2 sized its layer table
// from it first and asked for 5.5 TB) is a clear error naming the key, for every architecture.
TEST(ModelLoad, ABlockCountBeyondTheTensorsIsNamed) {
  for (const auto& [name, arch] : {std::pair<std::string, std::string>{"tiny-llama.f32.gguf", "llama"},
                                   {"tiny-deepseek2-lite.f32.gguf", "deepseek2"}}) {
    const std::string path = rewrite(fixture(name), "blocks_" + arch, [&](gguf::GgufWriter& w) {
      w.set_uint32(arch + ".block_count", 4000000000u);
    });
    auto m = load(path);
    fs::remove(path);
    ASSERT_FALSE(m.ok()) << arch;
    EXPECT_NE(m.error().message().find("block_count 4000000000 is more than the file's"), std::string::npos)
        << m.error().message();
  }
}

// Mixtral-style experts in the llama architecture load through the MoE path.
TEST(ModelLoad, MoeInTheLlamaArchLoadsThroughTheMoePath) {
  auto m = load(fixture("tiny-mixtral.f32.gguf"));
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ((*m)->info().n_expert, 4);
  EXPECT_EQ((*m)->info().n_expert_used, 2);
}

// qwen3 = qwen2 without biases, with per-head RMS norms of q and k before RoPE. Made from
// the tiny qwen2 fixture: it loads, runs, and the norm weights take effect.
std::string make_qwen3(const std::string& tag, float norm_value) {
  auto file = gguf::GgufFile::open(fixture("tiny-qwen2.f32.gguf"));
  EXPECT_TRUE(file.ok());
  gguf::GgufWriter w;
  for (const auto& kv : (*file)->metadata()) {
    std::string key(kv.key);
    if (key.rfind("qwen2.", 0) == 0) key = "qwen3." + key.substr(6);
    w.set(key, kv.value);
  }
  w.set_string("general.architecture", "qwen3");
  for (const auto& t : (*file)->tensors()) {
    const std::string name(t.name);
    if (name.find(".bias") != std::string::npos) continue;
    const std::vector<int64_t> ne(t.ne.begin(), t.ne.begin() + t.n_dims);
    EXPECT_TRUE(w.add_tensor(t.name, t.type, ne, {t.data, t.n_bytes}).ok());
  }
  const std::vector<float> norm(16, norm_value);
  const std::vector<int64_t> ne = {16};
  for (int il = 0; il < 2; ++il) {
    for (const char* n : {"attn_q_norm", "attn_k_norm"}) {
      const std::string name = "blk." + std::to_string(il) + "." + n + ".weight";
      EXPECT_TRUE(w.add_tensor(name, quant::GgmlType::F32, ne,
                               {reinterpret_cast<const uint8_t*>(norm.data()), norm.size() * sizeof(float)})
                      .ok());
    }
  }
  const std::string path =
      (fs::temp_directory_path() / ("moecode_qwen3_" + tag + "_" + std::to_string(::getpid()) + ".gguf")).string();
  EXPECT_TRUE(w.write(path).ok());
  return path;
}

TEST(ModelLoad, Qwen3AppliesPerHeadQkNorms) {
  std::vector<std::vector<float>> logits;
  for (float v : {1.0f, 1.5f}) {
    const std::string path = make_qwen3(std::to_string(static_cast<int>(v * 10)), v);
    auto m = load(path);
    fs::remove(path);
    ASSERT_TRUE(m.ok()) << m.error().message();
    EXPECT_EQ((*m)->info().architecture, "qwen3");
    auto s = (*m)->new_session({});
    ASSERT_TRUE(s.ok());
    const std::vector<engine::Token> ids = {506, 45, 391, 100, 7};
    ASSERT_TRUE((*s)->eval(ids).ok());
    const auto l = (*s)->last_logits();
    for (float x : l) ASSERT_TRUE(std::isfinite(x));
    logits.emplace_back(l.begin(), l.end());
  }
  float diff = 0;
  for (size_t i = 0; i < logits[0].size(); ++i) diff = std::max(diff, std::abs(logits[0][i] - logits[1][i]));
  EXPECT_GT(diff, 1e-2f) << "the q/k norm weights have no effect";
}

// The weights in the file's mapping or copied into huge pages: the same logits, bit for bit,
// and ModelInfo says which.
TEST(ModelLoad, MappedAndCopiedWeightsGiveTheSameLogits) {
  std::vector<std::vector<float>> logits;
  for (auto wm : {engine::WeightMemory::kMapped, engine::WeightMemory::kCopied}) {
    engine::LoadOptions o;
    o.weight_memory = wm;
    auto m = engine::Model::load(fixture("tiny-deepseek2-lite.q4_k_m.gguf"), o);
    ASSERT_TRUE(m.ok()) << m.error().message();
    EXPECT_EQ((*m)->info().weight_memory, wm);
    auto s = (*m)->new_session({});
    ASSERT_TRUE(s.ok());
    const std::vector<engine::Token> ids = {1, 45, 391, 100, 7};
    ASSERT_TRUE((*s)->eval(ids).ok());
    const auto l = (*s)->last_logits();
    logits.emplace_back(l.begin(), l.end());
  }
  ASSERT_EQ(logits[0].size(), logits[1].size());
  EXPECT_TRUE(logits[0] == logits[1]);
  // Auto resolves to one of the two.
  auto m = load(fixture("tiny-llama.f32.gguf"));
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_NE((*m)->info().weight_memory, engine::WeightMemory::kAuto);
}

// A valid file whose attention heads are larger than the CPU kernels take (key_length 1100
// > 1024): refused when it loads, naming the keys; it used to load and abort at the first eval.
TEST(ModelLoad, HeadSizeBeyondTheBackendIsAnErrorAtLoadNotAnAbort) {
  const std::string path = testing::write_qwen2_with_key_head(fixture("tiny-qwen2.f32.gguf"), "load_head1100", 1100);
  ASSERT_FALSE(path.empty());
  auto m = load(path);
  fs::remove(path);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("attention head size 1100 (keys)"), std::string::npos) << m.error().message();
  EXPECT_NE(m.error().message().find("supports (1024"), std::string::npos) << m.error().message();
  EXPECT_NE(m.error().message().find("qwen2.attention.key_length"), std::string::npos) << m.error().message();
}

// A KV cache larger than the machine's memory (or whose size overflows) is an error when the
// session is made, naming the context size; it used to abort in the allocator.
TEST(ModelLoad, AKvCacheThatCannotBeHadIsAnErrorNotAnAbort) {
  engine::LoadOptions o;
  o.n_ctx = 1 << 24;
  auto m = engine::Model::load(fixture("tiny-llama.f32.gguf"), o);
  ASSERT_TRUE(m.ok()) << m.error().message();
  // tiny-llama: 2 layers x (2 x 64) x 2 (K, V) x 4 bytes = 2 KiB a token: 32 GiB at 16M tokens.
  engine::SessionOptions so;
  so.kv_type = engine::KvCacheType::kF32;
  auto s = (*m)->new_session(so);
  if (s.ok()) GTEST_SKIP() << "this machine has more than 32 GiB of memory: the cache was allocated";
  EXPECT_NE(s.error().message().find("16777216 tokens"), std::string::npos) << s.error().message();
  EXPECT_NE(s.error().message().find("-c"), std::string::npos) << s.error().message();
  // A normal session still works after that.
  so.n_ctx = 64;
  auto ok = (*m)->new_session(so);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
}

TEST(ModelLoad, OptionsAreChecked) {
  engine::LoadOptions o;
  o.backend = "hip";
  auto m = engine::Model::load(fixture("tiny-llama.f32.gguf"), o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("'hip'"), std::string::npos);
  o = {};
  o.chat_template = "nonsense";
  m = engine::Model::load(fixture("tiny-llama.f32.gguf"), o);
  ASSERT_FALSE(m.ok());
  EXPECT_NE(m.error().message().find("nonsense"), std::string::npos);
  m = engine::Model::load(fixture("no-such-file.gguf"), {});
  ASSERT_FALSE(m.ok());
}

}  // namespace
}  // namespace moecode
