// `moecode index` and `moecode context` as a user runs them: outputs, the JSON contract,
// root detection, errors.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <string>

#include "context_counter.h"
#include "support/run_command.h"
#include "test_repo.h"

namespace moecode {
namespace {

using testing::run_command;
using testing::run_moecode;
using testing::shell_quote;
using testing::TempTree;

std::string fixture_model() { return std::string(MOECODE_TEST_DATA) + "/fixtures/models/tiny-qwen2.f32.gguf"; }

TEST(IndexCliTest, JsonSummary) {
  TempTree t;
  testing::make_repo(t);
  t.write(".env", "X=1\n");
  t.write(".gitignore", "noise/\n");
  auto r = run_moecode("index " + shell_quote(t.root()) + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["root"], t.root());
  EXPECT_EQ(j["files"], 8);  // 3 python, 2 ts, 3 c/c++ (noise/ is ignored)
  EXPECT_EQ(j["languages"]["python"], 3);
  EXPECT_GT(j["definitions"].get<int>(), 10);
  EXPECT_EQ(j["symbols"], j["definitions"]);
  EXPECT_GT(j["references"].get<int>(), 10);
  EXPECT_EQ(j["skipped"]["secret"], 1);
  EXPECT_GE(j["skipped"]["ignored"].get<int>(), 1);
  EXPECT_GE(j["time_ms"].get<double>(), 0.0);
  EXPECT_GT(j["peak_rss_bytes"].get<uint64_t>(), 1000000u);
  EXPECT_GE(j["workers"].get<int>(), 1);
}

TEST(IndexCliTest, TextSummaryAndList) {
  TempTree t;
  testing::make_repo(t);
  auto r = run_moecode("index " + shell_quote(t.root()) + " --list --workers 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("files: 32 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("geo/shapes.py:21: method Circle.scale\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("peak RSS: "), std::string::npos);
  EXPECT_NE(r.out.find("symbols/s"), std::string::npos);
  auto missing = run_moecode("index /no/such/dir");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("/no/such/dir"), std::string::npos);
}

TEST(IndexCliTest, ASecondRunTakesEveryFileFromTheCache) {
  TempTree t, cache;
  testing::make_repo(t);
  const std::string env = "MOECODE_INDEX_CACHE=" + shell_quote(cache.path("index")) + " ";
  const std::string cmd = env + shell_quote(testing::moecode_binary()) + " index " + shell_quote(t.root()) + " --json";
  auto first = run_command(cmd);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto a = nlohmann::json::parse(first.out);
  EXPECT_EQ(a["files_from_cache"], 0);
  EXPECT_EQ(a["files_parsed"], a["files"]);
  auto second = run_command(cmd);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  const auto b = nlohmann::json::parse(second.out);
  EXPECT_EQ(b["files_parsed"], 0);
  EXPECT_EQ(b["files_from_cache"], a["files"]);
  EXPECT_EQ(b["definitions"], a["definitions"]);
  EXPECT_EQ(b["references"], a["references"]);
  EXPECT_EQ(b["imports"], a["imports"]);
  // --no-cache and MOECODE_INDEX_CACHE=off parse everything.
  auto bypass = run_command(cmd + " --no-cache");
  ASSERT_EQ(bypass.exit_code, 0) << bypass.err;
  EXPECT_EQ(nlohmann::json::parse(bypass.out)["files_parsed"], a["files"]);
  auto off = run_command("MOECODE_INDEX_CACHE=off " + shell_quote(testing::moecode_binary()) + " index " +
                         shell_quote(t.root()));
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_NE(off.out.find("cache: none"), std::string::npos) << off.out;
  // A cache folder that cannot exist: a warning, and the index all the same.
  cache.write("file", "x");
  auto bad = run_command("MOECODE_INDEX_CACHE=" + shell_quote(cache.path("file") + "/index") + " " +
                         shell_quote(testing::moecode_binary()) + " index " + shell_quote(t.root()) + " --json");
  ASSERT_EQ(bad.exit_code, 0) << bad.err;
  EXPECT_NE(bad.err.find("without the cache"), std::string::npos) << bad.err;
  EXPECT_EQ(nlohmann::json::parse(bad.out)["files"], a["files"]);
}

TEST(ContextCliTest, JsonContract) {
  TempTree t;
  testing::make_repo(t);
  // Line 7, column 29 of app/main.py: inside total_area([c, bigger]).
  const std::string loc = t.path("app/main.py") + ":7:29";
  auto r = run_moecode("context " + shell_quote(loc) + " --root " + shell_quote(t.root()) +
                       " --budget 1024 --json -m " + shell_quote(fixture_model()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out.starts_with("{\"tokens\":")) << r.out.substr(0, 80);
  const auto j = nlohmann::ordered_json::parse(r.out);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.items()) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"tokens", "budget", "snippets", "prompt"}));
  EXPECT_EQ(j["budget"], 1024);
  EXPECT_LE(j["tokens"].get<int>(), 1024);
  EXPECT_GT(j["tokens"].get<int>(), 0);
  const auto& snippets = j["snippets"];
  ASSERT_FALSE(snippets.empty());
  bool found_def = false;
  for (const auto& s : snippets) {
    std::vector<std::string> sk;
    for (const auto& [k, v] : s.items()) sk.push_back(k);
    EXPECT_EQ(sk, (std::vector<std::string>{"path", "start_line", "end_line", "section", "tokens"}));
    EXPECT_GE(s["start_line"].get<int>(), 1);
    EXPECT_LE(s["start_line"].get<int>(), s["end_line"].get<int>());
    if (s["section"] == "definition" && s["path"] == "geo/shapes.py" && s["start_line"].get<int>() <= 26 &&
        s["end_line"].get<int>() >= 26) {
      found_def = true;
    }
  }
  EXPECT_TRUE(found_def) << r.out;
  const auto& last = snippets.back();
  EXPECT_EQ(last["section"], "cursor");
  EXPECT_EQ(last["path"], "app/main.py");
  EXPECT_EQ(last["end_line"], 13);
  const std::string prompt = j["prompt"];
  EXPECT_NE(prompt.find("def total_area(shapes, weights=None) -> float:"), std::string::npos);
  EXPECT_TRUE(prompt.ends_with("    return report([])\n")) << prompt;
}

TEST(ContextCliTest, TextReportAndDefaultRoot) {
  TempTree t;
  testing::make_repo(t);
  ASSERT_TRUE(t.git_init());
  // Run from elsewhere: the root is the git work tree around the file.
  const std::string loc = t.path("app/main.py") + ":6:21";
  auto r = run_command("cd / && " + shell_quote(testing::moecode_binary()) + " context " + shell_quote(loc) +
                       " --budget 2048 -m " + shell_quote(fixture_model()));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("context for app/main.py:6:21 (root " + t.root() + ")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("budget 2048 tokens, packed "), std::string::npos);
  for (const char* section : {"repo_map", "outline", "definition", "similar", "cursor"}) {
    EXPECT_NE(r.out.find(std::string("\n") + section + " "), std::string::npos) << section;
  }
  EXPECT_NE(r.out.find("----- prompt -----\n"), std::string::npos);
  EXPECT_NE(r.out.find("def scale(self, k: float) -> \"Circle\":"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("----- end of prompt -----\n"), std::string::npos);
}

// With the default model, counts are the model tokenizer's own and snippets are headed by
// its file separator ("<file_sep>", a control token of SmolLM2's vocabulary).
TEST(ContextCliTest, DefaultModelCountsExactly) {
  const std::string model = testing::default_model_path();
  ASSERT_FALSE(model.empty()) << testing::setup_hint();
  TempTree t;
  testing::make_repo(t);
  const std::string loc = t.path("app/main.py") + ":6:21";
  auto r = run_moecode("context " + shell_quote(loc) + " --root " + shell_quote(t.root()) + " --json -m " +
                       shell_quote(model));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.err.find("estimated"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["budget"], 8192 - 512);  // min(model context - 512, 128K)
  const std::string prompt = j["prompt"];
  const auto ids = testing::context_tokens(prompt);
  EXPECT_EQ(j["tokens"].get<size_t>(), ids.size());
  EXPECT_LE(ids.size(), 8192u - 512u);
  EXPECT_TRUE(prompt.starts_with("<file_sep>")) << prompt.substr(0, 80);
  EXPECT_NE(prompt.find("<file_sep>app/main.py\n"), std::string::npos);
  size_t sum = 0;
  for (const auto& s : j["snippets"]) sum += s["tokens"].get<size_t>();
  EXPECT_GT(sum, 0u);
  // A tight budget binds with the real counts too.
  auto tight = run_moecode("context " + shell_quote(loc) + " --root " + shell_quote(t.root()) +
                           " --budget 300 --json -m " + shell_quote(model));
  ASSERT_EQ(tight.exit_code, 0) << tight.err;
  const auto jt = nlohmann::json::parse(tight.out);
  EXPECT_EQ(testing::context_tokens(jt["prompt"].get<std::string>()).size(), jt["tokens"].get<size_t>());
  EXPECT_LE(jt["tokens"].get<int>(), 300);
  EXPECT_GT(jt["tokens"].get<int>(), 150);
}

// No model at all: the estimator, said on stderr. A model that is there but unreadable is
// an error that names it.
TEST(ContextCliTest, WithoutAModelCountsAreEstimated) {
  TempTree t;
  testing::make_repo(t);
  t.write("home/.keep", "");
  const std::string loc = t.path("app/main.py") + ":6:21";
  const std::string env = "cd " + shell_quote(t.root()) + " && env -u MOECODE_MODEL HOME=" +
                          shell_quote(t.path("home")) + " XDG_CACHE_HOME=" + shell_quote(t.path("home/.cache")) + " ";
  auto r = run_command(env + shell_quote(testing::moecode_binary()) + " context " + shell_quote(loc) +
                       " --budget 512 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("estimated token counts"), std::string::npos) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["budget"], 512);
  EXPECT_EQ(j["tokens"].get<size_t>(), context::HeuristicCounter().count(j["prompt"].get<std::string>()));
  EXPECT_LE(j["tokens"].get<int>(), 512);
  // Comment headers: no model, no file separator.
  EXPECT_NE(j["prompt"].get<std::string>().find("# app/main.py\n"), std::string::npos);
  EXPECT_EQ(j["prompt"].get<std::string>().find("<file_sep>"), std::string::npos);
  t.write("bad.gguf", "not a gguf file");
  auto bad = run_moecode("context " + shell_quote(loc) + " --root " + shell_quote(t.root()) + " -m " +
                         shell_quote(t.path("bad.gguf")));
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(t.path("bad.gguf")), std::string::npos) << bad.err;
}

TEST(ContextCliTest, BadLocations) {
  TempTree t;
  testing::make_repo(t);
  auto no_col = run_moecode("context " + shell_quote(t.path("app/main.py") + ":7") + " --root " + shell_quote(t.root()));
  EXPECT_EQ(no_col.exit_code, 2);
  EXPECT_NE(no_col.err.find("FILE:LINE:COL"), std::string::npos) << no_col.err;
  auto zero = run_moecode("context " + shell_quote(t.path("app/main.py") + ":0:1") + " --root " + shell_quote(t.root()));
  EXPECT_EQ(zero.exit_code, 2);
  auto past = run_moecode("context " + shell_quote(t.path("app/main.py") + ":400:1") + " --root " +
                          shell_quote(t.root()) + " -m " + shell_quote(fixture_model()));
  EXPECT_EQ(past.exit_code, 1);
  EXPECT_NE(past.err.find("line 400 is past the end"), std::string::npos) << past.err;
  auto missing = run_moecode("context /no/such/file.py:1:1");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("/no/such/file.py"), std::string::npos);
  t.write(".env", "KEY=1\n");
  auto secret = run_moecode("context " + shell_quote(t.path(".env") + ":1:2") + " --root " + shell_quote(t.root()) +
                            " -m " + shell_quote(fixture_model()));
  EXPECT_EQ(secret.exit_code, 1);
  EXPECT_NE(secret.err.find("secret"), std::string::npos) << secret.err;
}

}  // namespace
}  // namespace moecode
