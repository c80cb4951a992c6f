// GGUF reader and writer: every fixture file reads and writes back byte for byte, typed
// lookups, and a corpus of malformed files that must each give a clear error (run under
// ASan/UBSan in CI, so "no crash, no read outside the file" is checked too).
#include "engine/gguf/gguf.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace moecode::gguf {
namespace {

namespace fs = std::filesystem;
using quant::GgmlType;

std::vector<uint8_t> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Every GGUF file the tests can see: the checked-in fixtures, the tokenizer vocab files,
// and the full shared fixture set when present.
std::vector<fs::path> all_fixture_files() {
  std::vector<fs::path> out;
  auto add_dir = [&](const fs::path& dir) {
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return;
    for (const auto& e : fs::directory_iterator(dir)) {
      if (e.path().extension() == ".gguf") out.push_back(e.path());
    }
  };
  add_dir(fs::path(MOECODE_TEST_DATA) / "fixtures" / "models");
  add_dir(fs::path(MOECODE_TEST_DATA_GEN) / "tokenizer");
  if (std::string(MOECODE_SHARED_FIXTURES).size() > 0) {
    add_dir(fs::path(MOECODE_SHARED_FIXTURES) / "models");
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(GgufTest, EveryFixtureReadsAndWritesBackByteIdentical) {
  const auto files = all_fixture_files();
  ASSERT_GE(files.size(), 20u);
  for (const auto& path : files) {
    SCOPED_TRACE(path.string());
    auto file = GgufFile::open(path.string());
    ASSERT_TRUE(file.ok()) << file.error().message();
    EXPECT_EQ((*file)->version(), 3u);
    const std::vector<uint8_t> original = read_file(path);
    const std::vector<uint8_t> written = GgufWriter::from_file(**file).to_bytes();
    ASSERT_EQ(written.size(), original.size());
    EXPECT_TRUE(written == original) << "first difference at byte "
                                     << (std::mismatch(written.begin(), written.end(), original.begin()).first -
                                         written.begin());
  }
}

TEST(GgufTest, WriteToFileMatchesToBytes) {
  const fs::path src = fs::path(MOECODE_TEST_DATA) / "fixtures/models/tiny-qwen2.q4_k_m.gguf";
  auto file = GgufFile::open(src.string());
  ASSERT_TRUE(file.ok()) << file.error().message();
  const fs::path out = fs::temp_directory_path() / ("moecode_gguf_write_" + std::to_string(::getpid()) + ".gguf");
  ASSERT_TRUE(GgufWriter::from_file(**file).write(out.string()).ok());
  EXPECT_TRUE(read_file(out) == read_file(src));
  fs::remove(out);
}

// A copied file (Residence::kCopied) holds the same bytes and tensors as the mapped one, at a
// huge-page boundary, read-only.
TEST(GgufTest, ACopiedFileEqualsTheMappedOne) {
  const fs::path src = fs::path(MOECODE_TEST_DATA) / "fixtures/models/tiny-qwen3moe.q4_k_m.gguf";
  auto mapped = GgufFile::open(src.string());
  auto copied = GgufFile::open(src.string(), Residence::kCopied);
  ASSERT_TRUE(mapped.ok()) << mapped.error().message();
  ASSERT_TRUE(copied.ok()) << copied.error().message();
  EXPECT_EQ((*mapped)->residence(), Residence::kMapped);
  ASSERT_EQ((*copied)->residence(), Residence::kCopied);
  const auto a = (*mapped)->bytes(), b = (*copied)->bytes();
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size()), 0);
  EXPECT_NE(a.data(), b.data());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(b.data()) % (uintptr_t{2} << 20), 0u);
  ASSERT_EQ((*mapped)->tensors().size(), (*copied)->tensors().size());
  for (size_t i = 0; i < (*mapped)->tensors().size(); ++i) {
    const TensorInfo& t = (*mapped)->tensors()[i];
    const TensorInfo& u = (*copied)->tensors()[i];
    EXPECT_EQ(t.name, u.name);
    EXPECT_EQ(u.data - b.data(), t.data - a.data());
  }
  // Read-only, as the mapping: a stray write faults instead of corrupting a weight.
  EXPECT_DEATH(const_cast<uint8_t*>(b.data())[0] = 0, "");
  // The errors of a missing file are the mapped open's.
  EXPECT_EQ(GgufFile::open("/nonexistent/x.gguf", Residence::kCopied).error().code(), ErrorCode::kNotFound);
}

// A copied model survives its file being truncated (a download replacing it while the server
// runs): a mapping of the same file would fault (SIGBUS) at the first weight read past the end.
TEST(GgufTest, ACopyOutlivesItsFileBeingTruncated) {
  const fs::path src = fs::path(MOECODE_TEST_DATA) / "fixtures/models/tiny-qwen2.q4_0.gguf";
  const fs::path tmp =
      fs::temp_directory_path() / ("moecode_gguf_trunc_" + std::to_string(::getpid()) + ".gguf");
  fs::copy_file(src, tmp, fs::copy_options::overwrite_existing);
  auto copied = GgufFile::open(tmp.string(), Residence::kCopied);
  ASSERT_TRUE(copied.ok()) << copied.error().message();
  fs::resize_file(tmp, 0);
  uint64_t sum = 0;
  for (const TensorInfo& t : (*copied)->tensors()) {
    for (uint64_t i = 0; i < t.n_bytes; ++i) sum += t.data[i];
  }
  const std::vector<uint8_t> original = read_file(src);
  uint64_t want = 0;
  for (const TensorInfo& t : (*copied)->tensors()) {
    const auto* p = original.data() + (t.data - (*copied)->bytes().data());
    for (uint64_t i = 0; i < t.n_bytes; ++i) want += p[i];
  }
  EXPECT_EQ(sum, want);
  fs::remove(tmp);
}

TEST(GgufTest, AutoResidenceCopiesOnlyForTheCpuWithHugePagesAndRoom) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  EXPECT_EQ(auto_residence(true, "madvise", kGiB, 8 * kGiB), Residence::kCopied);
  EXPECT_EQ(auto_residence(true, "always", kGiB, 2 * kGiB), Residence::kCopied);
  EXPECT_EQ(auto_residence(false, "madvise", kGiB, 8 * kGiB), Residence::kMapped);  // a GPU runs it
  EXPECT_EQ(auto_residence(true, "never", kGiB, 8 * kGiB), Residence::kMapped);
  EXPECT_EQ(auto_residence(true, "", kGiB, 8 * kGiB), Residence::kMapped);        // unknown
  EXPECT_EQ(auto_residence(true, "madvise", kGiB + 1, 2 * kGiB), Residence::kMapped);  // over half
  EXPECT_EQ(auto_residence(true, "madvise", kGiB, 0), Residence::kMapped);        // memory unknown
  EXPECT_EQ(auto_residence(true, "madvise", kAutoCopyMaxBytes, 64 * kGiB), Residence::kCopied);
  EXPECT_EQ(auto_residence(true, "madvise", kAutoCopyMaxBytes + 1, 64 * kGiB), Residence::kMapped);
}

TEST(GgufTest, MachineFactsForTheResidence) {
  const std::string mode = transparent_hugepage_mode();
  EXPECT_TRUE(mode.empty() || mode == "always" || mode == "madvise" || mode == "never") << mode;
  EXPECT_GT(available_memory_bytes(), uint64_t{1} << 20);  // Linux has /proc/meminfo
}

// A container's memory limit is not in /proc/meminfo: the cgroup's limit less its usage
// caps the available memory. This process's cgroup paths are mirrored under a scratch root
// with a limit 1 GiB above the usage, at the cgroup itself (v2 memory.max, v1
// memory.limit_in_bytes) or only at its parent.
TEST(GgufTest, AvailableMemoryHonoursTheCgroupLimit) {
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  const uint64_t host = available_memory_bytes("/nonexistent");
  ASSERT_GT(host, 2 * kGiB);
  for (const bool at_parent : {false, true}) {
    SCOPED_TRACE(at_parent ? "limit at the parent" : "limit at the cgroup");
    const fs::path root = fs::temp_directory_path() / ("moecode_cgroup_" + std::to_string(::getpid()));
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    int mirrored = 0;
    while (std::getline(in, line)) {
      const size_t c1 = line.find(':'), c2 = line.find(':', c1 + 1);
      const std::string controllers = line.substr(c1 + 1, c2 - c1 - 1);
      std::string path = line.substr(c2 + 1);
      const bool v2 = line.substr(0, c1) == "0" && controllers.empty();
      const bool v1 = controllers == "memory";
      if (!v2 && !v1) continue;
      if (at_parent && path != "/") path = path.substr(0, path.find_last_of('/'));
      const fs::path dir = root / (v2 ? "" : "memory") / path.substr(1);
      fs::create_directories(dir);
      std::ofstream(dir / (v2 ? "memory.max" : "memory.limit_in_bytes")) << 3 * kGiB << "\n";
      std::ofstream(dir / (v2 ? "memory.current" : "memory.usage_in_bytes")) << 2 * kGiB << "\n";
      ++mirrored;
    }
    ASSERT_GT(mirrored, 0) << "no cgroup line for memory in /proc/self/cgroup";
    EXPECT_EQ(available_memory_bytes(root.string()), kGiB);
    fs::remove_all(root);
  }
  // "max" is no limit.
  const fs::path root = fs::temp_directory_path() / ("moecode_cgroup_max_" + std::to_string(::getpid()));
  fs::create_directories(root);
  std::ofstream(root / "memory.max") << "max\n";
  EXPECT_GT(available_memory_bytes(root.string()), 2 * kGiB);
  fs::remove_all(root);
}

TEST(GgufTest, MetadataAndTensorsOfAFixture) {
  auto file = GgufFile::open(std::string(MOECODE_TEST_DATA) + "/fixtures/models/tiny-qwen3moe.f32.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();
  const GgufFile& f = **file;
  EXPECT_EQ(*f.require_string("general.architecture"), "qwen3moe");
  EXPECT_EQ(*f.require_uint("qwen3moe.embedding_length"), 256u);
  EXPECT_EQ(*f.require_uint("qwen3moe.expert_count"), 4u);
  EXPECT_EQ(**f.get_float("qwen3moe.rope.freq_base"), 1000000.0);
  EXPECT_EQ(**f.get_bool("tokenizer.ggml.add_bos_token"), false);
  EXPECT_FALSE(f.get_uint("no.such.key")->has_value());
  // A present key of the wrong type is an error naming the key.
  auto wrong = f.get_uint("general.architecture");
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message().find("general.architecture"), std::string::npos);
  EXPECT_FALSE(f.require_uint("no.such.key").ok());

  const Value* tokens = f.find("tokenizer.ggml.tokens");
  ASSERT_NE(tokens, nullptr);
  EXPECT_EQ(tokens->array_type(), ValueType::kString);
  ASSERT_EQ(tokens->array_size(), 512u);
  EXPECT_EQ(tokens->array_strings()[32], "\xC4\xA0");  // "Ġ"
  EXPECT_EQ(*tokens->array_at(506).as_string(), "<|begin_of_text|>");
  const Value* types = f.find("tokenizer.ggml.token_type");
  ASSERT_NE(types, nullptr);
  EXPECT_EQ(*types->array_at(507).as_int(), 3);

  const TensorInfo* t = f.find_tensor("blk.0.ffn_gate_exps.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, GgmlType::F32);
  EXPECT_EQ(t->n_dims, 3u);
  EXPECT_EQ(t->ne[0], 256);
  EXPECT_EQ(t->ne[1], 32);
  EXPECT_EQ(t->ne[2], 4);
  EXPECT_EQ(t->n_bytes, 256u * 32 * 4 * 4);
  EXPECT_EQ((t->data - f.bytes().data()) % 32, 0);
  EXPECT_EQ(f.find_tensor("output.weight"), nullptr);  // tied output
}

TEST(GgufTest, QuantizedTensorSizes) {
  auto file = GgufFile::open(std::string(MOECODE_TEST_DATA) + "/fixtures/models/tiny-llama.q6_k.gguf");
  ASSERT_TRUE(file.ok()) << file.error().message();
  const TensorInfo* t = (*file)->find_tensor("blk.0.attn_q.weight");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, GgmlType::Q6_K);
  EXPECT_EQ(t->n_bytes, 256u * 256 / 256 * 210);
}

TEST(GgufTest, WriterBuildsReadableFiles) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_uint32("llama.block_count", 2);
  w.set_float32("llama.rope.freq_base", 10000.f);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  w.set_string_array("tokenizer.ggml.tokens", {"a", "b", ""});
  w.set_int32_array("tokenizer.ggml.token_type", {1, 1, 3});
  w.set_uint32("llama.block_count", 3);  // replaces in place
  std::vector<float> x(64);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  const int64_t ne[] = {32, 2};
  ASSERT_TRUE(w.add_tensor("x", GgmlType::F32, ne, {reinterpret_cast<uint8_t*>(x.data()), 256}).ok());
  ASSERT_TRUE(w.add_tensor_lazy("lazy", GgmlType::F32, ne, [](uint8_t* dst, uint64_t n) { std::memset(dst, 7, n); }).ok());
  EXPECT_FALSE(w.add_tensor("x", GgmlType::F32, ne, {reinterpret_cast<uint8_t*>(x.data()), 256}).ok());
  EXPECT_FALSE(w.add_tensor("short", GgmlType::F32, ne, {reinterpret_cast<uint8_t*>(x.data()), 100}).ok());
  const int64_t bad_ne[] = {33};
  EXPECT_FALSE(w.add_tensor("q", GgmlType::Q4_0, bad_ne, {}).ok());

  const auto bytes = w.to_bytes();
  auto file = GgufFile::from_bytes(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message();
  const GgufFile& f = **file;
  EXPECT_EQ(f.metadata().size(), 6u);
  EXPECT_EQ(f.metadata()[1].key, "llama.block_count");
  EXPECT_EQ(*f.require_uint("llama.block_count"), 3u);
  EXPECT_EQ(f.find("tokenizer.ggml.tokens")->array_strings()[2], "");
  ASSERT_EQ(f.tensors().size(), 2u);
  float y[64];
  std::memcpy(y, f.tensors()[0].data, sizeof y);
  EXPECT_EQ(y[63], 63.f);
  EXPECT_EQ(f.tensors()[1].data[255], 7);
  EXPECT_EQ(f.tensors()[1].offset, 256u);
  EXPECT_TRUE(GgufWriter::from_file(f).to_bytes() == bytes);
}

// Found by gguf_fuzz: a tensor with a dimension of 0 has no bytes, and writing it back passed
// a null pointer to memcpy (UBSan: "null pointer passed as argument 2").
TEST(GgufTest, AnEmptyTensorIsWrittenBackAndReadAgain) {
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  const int64_t ne[] = {0, 4};
  ASSERT_TRUE(w.add_tensor("empty", GgmlType::F32, ne, {}).ok());
  const auto bytes = w.to_bytes();
  auto file = GgufFile::from_bytes(bytes);
  ASSERT_TRUE(file.ok()) << file.error().message();
  ASSERT_EQ((*file)->tensors().size(), 1u);
  EXPECT_EQ((*file)->tensors()[0].n_bytes, 0u);
  EXPECT_TRUE(GgufWriter::from_file(**file).to_bytes() == bytes);
}

// ---- malformed files -----------------------------------------------------------------

// Byte-level builder for hand-made (broken) files.
struct Raw {
  std::vector<uint8_t> b;
  Raw& u8(uint8_t v) { return put(&v, 1); }
  Raw& u32(uint32_t v) { return put(&v, 4); }
  Raw& u64(uint64_t v) { return put(&v, 8); }
  Raw& f32(float v) { return put(&v, 4); }
  Raw& str(std::string_view s) {
    u64(s.size());
    return put(s.data(), s.size());
  }
  Raw& put(const void* p, size_t n) {
    const auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
    return *this;
  }
  Raw& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
    return u32(kMagic).u32(version).u64(n_tensors).u64(n_kv);
  }
  Raw& pad(size_t align = 32) {
    while (b.size() % align) b.push_back(0);
    return *this;
  }
  Raw& zeros(size_t n) {
    b.insert(b.end(), n, 0);
    return *this;
  }
};

// Found by gguf_fuzz: the writer puts an empty tensor at the offset of the tensor after it;
// the overlap check, sorting by offset, took the pair in either order and rejected the file
// when the non-empty one came first. Empty tensors hold no bytes and overlap nothing.
TEST(GgufTest, AnEmptyTensorSharesItsOffsetWithTheNext) {
  for (int empty_first = 0; empty_first < 2; ++empty_first) {
    GgufWriter w;
    w.set_string("general.architecture", "llama");
    const int64_t none[] = {0, 4};
    const int64_t four[] = {4};
    const std::vector<uint8_t> data(16, 1);
    for (int k = 0; k < 4; ++k) {  // a few of each, so that both orders meet the sort
      const bool empty = (k % 2 == 0) == (empty_first == 1);
      const std::string name = {'t', static_cast<char>('0' + k)};
      ASSERT_TRUE((empty ? w.add_tensor(name, GgmlType::F32, none, {}) : w.add_tensor(name, GgmlType::F32, four, data)).ok());
    }
    const auto bytes = w.to_bytes();
    auto file = GgufFile::from_bytes(bytes);
    ASSERT_TRUE(file.ok()) << file.error().message();
    EXPECT_TRUE(GgufWriter::from_file(**file).to_bytes() == bytes);
  }
  // Two non-empty tensors at one offset still overlap.
  Raw r;
  r.header(2, 1).str("general.architecture").u32(8).str("llama");
  r.str("a").u32(1).u64(4).u32(0).u64(0);
  r.str("b").u32(1).u64(4).u32(0).u64(0);
  r.pad().zeros(16);
  auto bad = GgufFile::from_bytes(r.b);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("overlaps"), std::string::npos) << bad.error().message();
}

// A valid file with one F32 tensor [8] at offset 0 and the given extra key (already encoded).
Raw one_tensor_file(const std::function<void(Raw&)>& kvs = {}, uint64_t n_kv = 0) {
  Raw r;
  r.header(1, n_kv);
  if (kvs) kvs(r);
  r.str("t").u32(1).u64(8).u32(0).u64(0).pad().zeros(32);
  return r;
}

struct Case {
  std::string name;
  std::vector<uint8_t> bytes;
  std::string expect;  // a substring the error must contain
};

std::vector<Case> malformed_corpus() {
  std::vector<Case> cases;
  auto add = [&](std::string name, const Raw& r, std::string expect) {
    cases.push_back({std::move(name), r.b, std::move(expect)});
  };
  auto kv_file = [&](const std::function<void(Raw&)>& kv) { return one_tensor_file(kv, 1); };

  add("empty", Raw{}, "too small");
  add("ten_bytes", Raw{}.u32(kMagic).u32(3).u8(0).u8(0), "too small");
  add("bad_magic", Raw{}.u32(0x4c4c4747).u32(3).u64(0).u64(0), "bad magic");
  add("version_1", Raw{}.header(0, 0, 1), "version 1");
  add("version_0", Raw{}.header(0, 0, 0), "version 0");
  add("version_4", Raw{}.header(0, 0, 4), "version 4");
  add("huge_kv_count", Raw{}.header(0, uint64_t{1} << 62), "metadata count");
  add("huge_tensor_count", Raw{}.header(~uint64_t{0}, 0), "tensor count");
  add("kv_count_past_eof", Raw{}.header(0, 3).str("a").u32(4).u32(1).zeros(24), "key #1");
  add("key_length_past_eof", Raw{}.header(0, 1).u64(1000).put("abc", 3).zeros(10), "string length 1000");
  add("key_length_max", Raw{}.header(0, 1).u64(~uint64_t{0}).zeros(16), "string length");
  add("empty_key", Raw{}.header(0, 1).str("").u32(4).u32(1), "is empty");
  add("unknown_value_type", Raw{}.header(0, 1).str("k").u32(13).u32(0), "unknown value type 13");
  add("value_type_max", Raw{}.header(0, 1).str("k").u32(0xffffffff).u32(0), "unknown value type");
  add("u64_value_past_eof", Raw{}.header(0, 1).str("k").u32(10).u32(1).zeros(0), "u64 value");
  add("string_value_past_eof", Raw{}.header(0, 1).str("k").u32(8).u64(500).put("x", 1).zeros(20), "string length 500");
  add("array_unknown_elem_type", Raw{}.header(0, 1).str("k").u32(9).u32(77).u64(1).u32(0), "unknown element type 77");
  add("array_count_overflow", Raw{}.header(0, 1).str("k").u32(9).u32(10).u64(uint64_t{1} << 61).zeros(16), "elements");
  add("array_count_past_eof", Raw{}.header(0, 1).str("k").u32(9).u32(4).u64(1000).zeros(16), "past end of file");
  add("string_array_huge_count", Raw{}.header(0, 1).str("k").u32(9).u32(8).u64(uint64_t{1} << 60).zeros(16),
      "cannot fit");
  add("string_array_item_past_eof", Raw{}.header(0, 1).str("k").u32(9).u32(8).u64(2).str("ok").u64(99).zeros(8),
      "string length 99");
  {
    Raw r;
    r.header(0, 1).str("k").u32(9);
    for (int i = 0; i < 6; ++i) r.u32(9).u64(1);
    r.u32(4).u64(1).u32(0);
    // element type array six levels deep
    Raw deep;
    deep.header(0, 1).str("k").u32(9);
    for (int i = 0; i < 6; ++i) deep.u32(9).u64(1);
    deep.u32(4).u64(0);
    add("arrays_nested_too_deep", deep, "nested deeper");
  }
  add("duplicate_key", Raw{}.header(0, 2).str("a.b").u32(4).u32(1).str("a.b").u32(4).u32(2), "duplicate metadata key 'a.b'");
  add("alignment_zero", kv_file([](Raw& r) { r.str("general.alignment").u32(4).u32(0); }), "general.alignment 0");
  add("alignment_not_pow2", kv_file([](Raw& r) { r.str("general.alignment").u32(4).u32(48); }), "general.alignment 48");
  add("alignment_huge", kv_file([](Raw& r) { r.str("general.alignment").u32(4).u32(1u << 30); }), "power of two");
  add("alignment_wrong_type", kv_file([](Raw& r) { r.str("general.alignment").u32(8).str("32"); }),
      "'general.alignment' has type string, expected u32");
  add("architecture_wrong_type", kv_file([](Raw& r) { r.str("general.architecture").u32(4).u32(7); }),
      "'general.architecture' has type u32, expected string");
  add("tokens_wrong_elem_type", kv_file([](Raw& r) { r.str("tokenizer.ggml.tokens").u32(9).u32(5).u64(1).u32(3); }),
      "'tokenizer.ggml.tokens' has type array of i32, expected array of string");
  add("scores_wrong_elem_type", kv_file([](Raw& r) { r.str("tokenizer.ggml.scores").u32(9).u32(8).u64(1).str("x"); }),
      "'tokenizer.ggml.scores'");
  add("block_count_string", kv_file([](Raw& r) { r.str("llama.block_count").u32(8).str("two"); }),
      "'llama.block_count' has type string, expected an integer");
  add("head_count_kv_strings",
      kv_file([](Raw& r) { r.str("gemma4.attention.head_count_kv").u32(9).u32(8).u64(1).str("x"); }),
      "'gemma4.attention.head_count_kv' has type array of string, expected an integer or an array of integers");
  add("block_count_array", kv_file([](Raw& r) { r.str("gemma4.block_count").u32(9).u32(4).u64(2).u32(1).u32(2); }),
      "'gemma4.block_count' has type array of u32, expected an integer");
  add("bos_id_float", kv_file([](Raw& r) { r.str("tokenizer.ggml.bos_token_id").u32(6).f32(1.f); }),
      "'tokenizer.ggml.bos_token_id' has type f32");
  add("add_bos_u8", kv_file([](Raw& r) { r.str("tokenizer.ggml.add_bos_token").u32(0).u8(1); }),
      "'tokenizer.ggml.add_bos_token' has type u8, expected bool");
  add("tensor_name_past_eof", Raw{}.header(1, 0).u64(50).put("ab", 2).zeros(24), "tensor info #0");
  add("tensor_empty_name", Raw{}.header(1, 0).str("").u32(1).u64(8).u32(0).u64(0).pad().zeros(32), "empty name");
  add("tensor_zero_dims", Raw{}.header(1, 0).str("t").u32(0).u32(0).u64(0).pad().zeros(32), "0 dimensions");
  add("tensor_five_dims", Raw{}.header(1, 0).str("t").u32(5).u64(1).u64(1).u64(1).u64(1).u64(1).u32(0).u64(0).pad(),
      "5 dimensions");
  add("tensor_shape_past_eof", Raw{}.header(1, 0).str("t").u32(4).u64(8).zeros(12), "past end of file");
  add("tensor_negative_dim", Raw{}.header(1, 0).str("t").u32(1).u64(~uint64_t{0}).u32(0).u64(0).pad().zeros(32),
      "negative");
  add("tensor_dims_overflow",
      Raw{}.header(1, 0).str("t").u32(2).u64(uint64_t{1} << 32).u64(uint64_t{1} << 32).u32(0).u64(0).pad().zeros(32),
      "overflow");
  add("tensor_unknown_type", Raw{}.header(1, 0).str("t").u32(1).u64(8).u32(31).u64(0).pad().zeros(32),
      "unknown tensor type 31");
  add("tensor_type_max", Raw{}.header(1, 0).str("t").u32(1).u64(8).u32(0xffffffff).u64(0).pad().zeros(32),
      "unknown tensor type");
  add("tensor_row_not_block_multiple", Raw{}.header(1, 0).str("t").u32(1).u64(33).u32(2).u64(0).pad().zeros(64),
      "not a multiple of Q4_0's block size 32");
  add("tensor_offset_misaligned", Raw{}.header(1, 0).str("t").u32(1).u64(8).u32(0).u64(4).pad().zeros(64),
      "not a multiple of the alignment");
  add("tensor_offset_past_eof", Raw{}.header(1, 0).str("t").u32(1).u64(8).u32(0).u64(4096).pad().zeros(32),
      "past end of file");
  add("tensor_offset_overflow", Raw{}.header(1, 0).str("t").u32(1).u64(8).u32(0).u64(~uint64_t{0} - 31).pad().zeros(32),
      "past end of file");
  add("tensor_data_truncated", Raw{}.header(1, 0).str("t").u32(1).u64(64).u32(0).u64(0).pad().zeros(100),
      "past end of file");
  add("tensor_huge_size", Raw{}.header(1, 0).str("t").u32(2).u64(uint64_t{1} << 31).u64(uint64_t{1} << 30).u32(0).u64(0).pad().zeros(32),
      "past end of file");
  add("tensor_bytes_overflow",
      Raw{}.header(1, 0).str("t").u32(2).u64(uint64_t{1} << 31).u64(uint64_t{1} << 31).u32(0).u64(0).pad().zeros(32),
      "byte size overflows");
  add("data_section_missing", Raw{}.header(1, 0).str("t").u32(1).u64(8).u32(0).u64(0), "past end of file");
  add("duplicate_tensor",
      Raw{}.header(2, 0).str("t").u32(1).u64(8).u32(0).u64(0).str("t").u32(1).u64(8).u32(0).u64(32).pad().zeros(64),
      "duplicate tensor 't'");
  add("overlapping_tensors",
      Raw{}.header(2, 0).str("a").u32(1).u64(16).u32(0).u64(0).str("b").u32(1).u64(8).u32(0).u64(32).pad().zeros(96),
      "overlaps");
  return cases;
}

TEST(GgufMalformedTest, ControlFileIsValid) {
  auto ok = GgufFile::from_bytes(one_tensor_file().b);
  ASSERT_TRUE(ok.ok()) << ok.error().message();
  auto ok_kv = GgufFile::from_bytes(one_tensor_file([](Raw& r) { r.str("general.alignment").u32(4).u32(32); }, 1).b);
  ASSERT_TRUE(ok_kv.ok()) << ok_kv.error().message();
}

// Per-layer hyperparameters are valid as arrays (llama.cpp's get_key_or_arr; the gemma-4
// vocab GGUF stores gemma4.attention.head_count_kv so): the file opens, and reading the key
// as one integer is the error, naming it.
TEST(GgufMalformedTest, PerLayerArraysOpen) {
  auto f = GgufFile::from_bytes(
      one_tensor_file([](Raw& r) { r.str("gemma4.attention.head_count_kv").u32(9).u32(5).u64(3).u32(8).u32(1).u32(8); },
                      1).b);
  ASSERT_TRUE(f.ok()) << f.error().message();
  auto v = (*f)->get_int("gemma4.attention.head_count_kv");
  ASSERT_FALSE(v.ok());
  EXPECT_NE(v.error().message().find("'gemma4.attention.head_count_kv' has type array of i32"), std::string::npos)
      << v.error().message();
}

TEST(GgufMalformedTest, EachCaseGivesAClearError) {
  const auto cases = malformed_corpus();
  EXPECT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto r = GgufFile::from_bytes(c.bytes, c.name + ".gguf");
    ASSERT_FALSE(r.ok()) << "accepted a malformed file";
    EXPECT_NE(r.error().message().find(c.expect), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().rfind("GGUF '" + c.name + ".gguf': ", 0), 0u) << r.error().message();
  }
}

TEST(GgufMalformedTest, MalformedFilesOnDisk) {
  const fs::path dir = fs::temp_directory_path() / ("moecode_gguf_bad_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const auto& c : malformed_corpus()) {
    const fs::path p = dir / (c.name + ".gguf");
    std::ofstream(p, std::ios::binary).write(reinterpret_cast<const char*>(c.bytes.data()),
                                              static_cast<std::streamsize>(c.bytes.size()));
    auto r = GgufFile::open(p.string());
    EXPECT_FALSE(r.ok()) << c.name;
  }
  EXPECT_EQ(GgufFile::open((dir / "missing.gguf").string()).error().code(), ErrorCode::kNotFound);
  EXPECT_FALSE(GgufFile::open(dir.string()).ok());  // a directory
  fs::remove_all(dir);
}

// Truncating a real file anywhere before the end of its last tensor's data must fail.
TEST(GgufMalformedTest, TruncatedAtEveryLength) {
  const auto bytes = read_file(fs::path(MOECODE_TEST_DATA) / "fixtures/models/tiny-qwen2.q4_0.gguf");
  auto full = GgufFile::from_bytes(bytes);
  ASSERT_TRUE(full.ok());
  uint64_t data_end = 0;
  for (const auto& t : (*full)->tensors()) data_end = std::max(data_end, t.offset + t.n_bytes);
  const uint64_t needed = (*full)->data_offset() + data_end;
  // Every length up to the end of the header, then a stride through the data.
  for (uint64_t n = 0; n < needed; n += (n < (*full)->data_offset() + 64 ? 1 : 997)) {
    auto r = GgufFile::from_bytes({bytes.data(), n}, "cut");
    ASSERT_FALSE(r.ok()) << "accepted a file cut at " << n << " bytes";
  }
  EXPECT_TRUE(GgufFile::from_bytes({bytes.data(), needed}, "cut").ok());
}

// Random byte flips in a real header: any outcome but a crash is fine.
TEST(GgufMalformedTest, RandomCorruptionNeverCrashes) {
  const auto bytes = read_file(fs::path(MOECODE_TEST_DATA) / "fixtures/models/tiny-mixtral.q4_0.gguf");
  auto full = GgufFile::from_bytes(bytes);
  ASSERT_TRUE(full.ok());
  const uint64_t header = (*full)->data_offset();
  uint64_t state = 0x9E3779B97F4A7C15ull;
  auto next = [&] {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  };
  int rejected = 0;
  for (int i = 0; i < 300; ++i) {
    std::vector<uint8_t> copy(bytes.begin(), bytes.begin() + static_cast<long>(header));
    for (int k = 0; k < 4; ++k) copy[next() % header] = static_cast<uint8_t>(next());
    auto r = GgufFile::from_bytes(copy, "fuzz");
    if (!r.ok()) ++rejected;
  }
  EXPECT_GT(rejected, 0);
}

}  // namespace
}  // namespace moecode::gguf
