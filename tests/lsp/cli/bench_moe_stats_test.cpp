// `moecode bench --moe-stats`: per-layer expert usage and the routed-expert bytes read per
// decoded token, which for a MoE model are exactly n_expert_used / n_expert of all
// routed-expert bytes (markdown and JSON forms); a dense model says it has no experts.
#include <gtest/gtest.h>

#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/run_command.h"

namespace moecode {
namespace {

using testing::run_moecode;
using testing::shell_quote;

std::string fixture(const std::string& name) { return std::string(MOECODE_TEST_DATA) + "/fixtures/models/" + name; }

TEST(BenchMoeStats, TablePerLayerAndBytesPerDecodedToken) {
  auto r = run_moecode("bench -m " + shell_quote(fixture("tiny-qwen2moe.f32.gguf")) +
                       " -p 8 -n 4 -r 1 -t 1 --moe-stats");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("| tg4 |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("MoE stats: 8 experts, 2 used per token; 5 decoded tokens"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| layer | tokens | tokens per expert | expert bytes read / decoded token |"), std::string::npos)
      << r.out;
  // Both layers, each reading 2 of 8 experts per decoded token.
  EXPECT_NE(r.out.find("\n| 0 | "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\n| 1 | "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("| 25.00 % |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("= 25.00 % (n_expert_used / n_expert = 25.00 %)"), std::string::npos) << r.out;
}

TEST(BenchMoeStats, JsonGivesBytesPerDecodedToken) {
  auto r = run_moecode("bench -m " + shell_quote(fixture("tiny-deepseek3.f32.gguf")) +
                       " -p 8 -n 3 -r 1 -t 1 --json --moe-stats");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string bench_line, stats_line;
  std::getline(lines, bench_line);
  std::getline(lines, stats_line);
  const auto j = nlohmann::json::parse(stats_line).at("moe_stats");
  EXPECT_EQ(j.at("n_expert").get<int>(), 16);
  EXPECT_EQ(j.at("n_expert_used").get<int>(), 4);
  EXPECT_EQ(j.at("decode_tokens").get<int>(), 4);  // 1 warm-up + 3 timed
  ASSERT_EQ(j.at("layers").size(), 2u);             // layers 1 and 2 (layer 0 is dense)
  EXPECT_EQ(j.at("layers")[0].at("layer").get<int>(), 1);
  const double routed = j.at("routed_bytes").get<double>();
  EXPECT_DOUBLE_EQ(j.at("expert_bytes_per_decoded_token").get<double>(), routed * 4 / 16);
}

TEST(BenchMoeStats, DenseModelHasNoExperts) {
  auto r = run_moecode("bench -m " + shell_quote(fixture("tiny-llama.f32.gguf")) + " -p 4 -n 2 -r 1 -t 1 --moe-stats");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("MoE stats: the model has no routed experts"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace moecode
