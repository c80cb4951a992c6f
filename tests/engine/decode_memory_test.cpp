// Memory behaviour of inference: decoding a token allocates nothing on the heap (every
// buffer is the session's or the backend's, sized once), and the weights stay in the
// file's mapping (RSS after load <= file size + KV cache + 64 MB, on the default model).
// This binary counts operator new calls, so it holds only these tests.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <new>
#include <string>

#include "moecode/engine/model.h"

namespace {
std::atomic<bool> g_counting{false};
std::atomic<long> g_allocations{0};
}  // namespace

// Replacing the global operators is the point here; GCC cannot see that new and delete
// are replaced as a pair.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  if (g_counting.load(std::memory_order_relaxed)) g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace moecode {
namespace {

using engine::Token;

std::string fixture(const std::string& name) { return std::string(MOECODE_TEST_DATA) + "/fixtures/models/" + name; }

class DecodeAllocations : public ::testing::TestWithParam<std::string> {};

TEST_P(DecodeAllocations, DecodingATokenAllocatesNothing) {
  engine::LoadOptions lo;
  lo.n_threads = 2;
  auto model = engine::Model::load(fixture(GetParam()), lo);
  ASSERT_TRUE(model.ok()) << model.error().message();
  auto s = (*model)->new_session({});
  ASSERT_TRUE(s.ok());
  std::vector<Token> ids;
  ids.reserve(512);
  for (int i = 0; i < 40; ++i) ids.push_back((i * 37) % 500);
  ASSERT_TRUE((*s)->eval(ids).ok());  // prefill: buffers reach their size
  ids.push_back(7);
  ASSERT_TRUE((*s)->eval(ids).ok());  // first decode
  g_allocations = 0;
  g_counting = true;
  for (int i = 0; i < 100; ++i) {
    ids.push_back((i * 13) % 500);
    auto r = (*s)->eval(ids);
    if (!r.ok()) break;
  }
  g_counting = false;
  EXPECT_EQ((*s)->cached_tokens().size(), ids.size());
  EXPECT_EQ(g_allocations.load(), 0) << "heap allocations in 100 decode steps";
}

INSTANTIATE_TEST_SUITE_P(Models, DecodeAllocations,
                         ::testing::Values("tiny-llama.f32.gguf", "tiny-qwen2.q4_1.gguf", "tiny-llama.q4_k_m.gguf"),
                         [](const auto& info) {
                           std::string n = info.param;
                           for (char& c : n)
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           return n;
                         });

long rss_bytes() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6) * 1024;
  return -1;
}

std::string default_model() {
  if (const char* env = std::getenv("MOECODE_MODEL"); env && *env) return env;
  const char* xdg = std::getenv("XDG_CACHE_HOME");
  const char* home = std::getenv("HOME");
  const std::string cache = xdg && *xdg ? std::string(xdg) : std::string(home ? home : "/tmp") + "/.cache";
  return cache + "/moecode/models/default.gguf";
}

// The weights are read from the mapping, never copied: after loading the default model
// and running a prompt, the process holds at most file + KV cache + 64 MB.
TEST(ModelMemory, RssAfterLoadIsBoundedByFilePlusKvCache) {
  const long before = rss_bytes();
  ASSERT_GT(before, 0);
  auto model = engine::Model::load(default_model(), {});
  ASSERT_TRUE(model.ok()) << model.error().message() << " (the default model comes from scripts/setup)";
  engine::SessionOptions so;
  so.n_ctx = 4096;
  auto s = (*model)->new_session(so);
  ASSERT_TRUE(s.ok());
  std::vector<Token> ids;
  for (int i = 0; i < 200; ++i) ids.push_back((i * 101) % 49000);
  ASSERT_TRUE((*s)->eval(ids).ok());
  const long after = rss_bytes();
  const auto& info = (*model)->info();
  // F16 K and V rows of n_head_kv * head_dim = 192 per layer and position.
  const long kv = static_cast<long>(info.n_layer) * so.n_ctx * 2 * 192 * 2;
  const long limit = static_cast<long>(info.file_bytes) + kv + (64l << 20);
  std::printf("[ memory   ] RSS %ld MB (before load %ld MB), file %ld MB, KV cache %ld MB\n", after >> 20,
              before >> 20, static_cast<long>(info.file_bytes) >> 20, kv >> 20);
  EXPECT_LE(after, limit);
}

}  // namespace
}  // namespace moecode
