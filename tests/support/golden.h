// Test helper: llama.cpp's golden files (tests/data/fixtures, ../shared/fixtures; see the
// fixtures README) — listing the model files that have one, reading them, and the
// tolerances each storage type is held to. For tests only.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moecode::testing {

struct GoldenSequence {
  std::vector<int> tokens;
  std::vector<float> last_logits;
  std::vector<std::vector<std::pair<int, float>>> topk_per_pos;  // per prompt position
  std::vector<int> greedy;
  std::vector<std::vector<std::pair<int, float>>> greedy_topk;  // after feeding greedy[j]
};

struct Golden {
  std::string model_path;  // the .gguf
  std::string name;        // e.g. "tiny-llama.q4_0"
  std::string family;      // e.g. "tiny-llama"
  std::string quant;       // e.g. "Q4_0"
  std::string arch;
  int n_vocab = 0;
  std::vector<GoldenSequence> sequences;
};

inline std::vector<std::pair<int, float>> read_topk(const nlohmann::json& j) {
  std::vector<std::pair<int, float>> out;
  for (const auto& e : j) out.emplace_back(e[0].get<int>(), e[1].get<float>());
  return out;
}

inline Golden read_golden(const std::string& json_path, const std::string& model_path) {
  std::ifstream in(json_path);
  const nlohmann::json j = nlohmann::json::parse(in);
  Golden g;
  g.model_path = model_path;
  g.name = std::filesystem::path(json_path).stem().string();
  g.family = j.at("model_family").get<std::string>();
  g.quant = j.at("quant").get<std::string>();
  g.arch = j.at("arch").get<std::string>();
  g.n_vocab = j.at("n_vocab").get<int>();
  for (const auto& s : j.at("sequences")) {
    GoldenSequence seq;
    seq.tokens = s.at("tokens").get<std::vector<int>>();
    seq.last_logits = s.at("last_logits").get<std::vector<float>>();
    for (const auto& p : s.at("topk_per_pos")) seq.topk_per_pos.push_back(read_topk(p));
    seq.greedy = s.at("greedy").get<std::vector<int>>();
    for (const auto& p : s.at("greedy_topk")) seq.greedy_topk.push_back(read_topk(p));
    g.sequences.push_back(std::move(seq));
  }
  return g;
}

struct GoldenFile {
  std::string json_path;
  std::string model_path;
  std::string name;  // "<family>.<quant>"
  std::string origin;  // "tests/data" or "shared"
};

// Golden files with their models: tests/data always, plus the shared set when present
// (models already covered by tests/data are listed once). Read when the test binary
// starts (gtest_discover_tests lists the cases at build time from the same places).
inline std::vector<GoldenFile> golden_files() {
  namespace fs = std::filesystem;
  std::vector<GoldenFile> out;
  auto scan = [&](const fs::path& models, const fs::path& goldens, const std::string& origin) {
    std::error_code ec;
    if (!fs::is_directory(goldens, ec)) return;
    std::vector<fs::path> jsons;
    for (const auto& e : fs::directory_iterator(goldens, ec))
      if (e.path().extension() == ".json" && e.path().stem() != "tolerance-stats") jsons.push_back(e.path());
    std::sort(jsons.begin(), jsons.end());
    for (const auto& jp : jsons) {
      const std::string name = jp.stem().string();
      const fs::path model = models / (name + ".gguf");
      if (!fs::is_regular_file(model, ec)) continue;
      if (std::any_of(out.begin(), out.end(), [&](const GoldenFile& g) { return g.name == name; })) continue;
      out.push_back({jp.string(), model.string(), name, origin});
    }
  };
  scan(fs::path(MOECODE_TEST_DATA) / "fixtures" / "models", fs::path(MOECODE_TEST_DATA_GEN) / "fixtures" / "golden",
       "tests/data");
  // The shared set: as configured, or $MOECODE_SHARED_FIXTURES (a checkout elsewhere).
  std::string shared = MOECODE_SHARED_FIXTURES;
  if (const char* env = std::getenv("MOECODE_SHARED_FIXTURES"); env && *env) shared = env;
  if (!shared.empty()) scan(fs::path(shared) / "models", fs::path(shared) / "golden", "shared");
  return out;
}

}  // namespace moecode::testing
