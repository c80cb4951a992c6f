// Test helper: llama.cpp's golden files (tests/data/fixtures, ../shared/fixtures; see the
// fixtures README and tests/data/README.md) — listing the model files that have one and
// reading them, with the routed experts llama.cpp chose where they were recorded (inline,
// or in a golden/experts/<name>.json file made for a golden without them). For tests only.
#pragma once

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace moecode::testing {

// llama.cpp's routed experts for one sequence (MoE models).
struct GoldenExperts {
  std::vector<int> layers;                           // the MoE layers
  std::vector<std::vector<std::vector<int>>> prompt;  // [layer index][position][n_expert_used]
  std::vector<std::vector<std::vector<int>>> greedy;  // [layer index][greedy feed j][...]; empty: not recorded
};

struct GoldenSequence {
  std::vector<int> tokens;
  std::vector<float> last_logits;
  std::vector<std::vector<std::pair<int, float>>> topk_per_pos;  // per prompt position
  std::vector<int> greedy;
  std::vector<std::vector<std::pair<int, float>>> greedy_topk;  // after feeding greedy[j]
  std::optional<GoldenExperts> experts;
};

struct Golden {
  std::string model_path;  // the .gguf
  std::string name;        // e.g. "tiny-llama.q4_0"
  std::string family;      // e.g. "tiny-llama"
  std::string quant;       // e.g. "Q4_0"
  std::string arch;
  std::string kv_type;  // settings.kv_cache_type: "f32" or "f16"
  int n_vocab = 0;
  std::vector<GoldenSequence> sequences;
};

inline std::vector<std::pair<int, float>> read_topk(const nlohmann::json& j) {
  std::vector<std::pair<int, float>> out;
  for (const auto& e : j) out.emplace_back(e[0].get<int>(), e[1].get<float>());
  return out;
}

inline GoldenExperts read_experts(const nlohmann::json& e) {
  GoldenExperts out;
  out.layers = e.at("layers").get<std::vector<int>>();
  out.prompt = e.at("prompt").get<std::vector<std::vector<std::vector<int>>>>();
  if (e.contains("greedy")) out.greedy = e.at("greedy").get<std::vector<std::vector<std::vector<int>>>>();
  return out;
}

// experts_path: a golden/experts/<name>.json for a golden without inline experts ("" if none).
inline Golden read_golden(const std::string& json_path, const std::string& model_path,
                          const std::string& experts_path = "") {
  std::ifstream in(json_path);
  const nlohmann::json j = nlohmann::json::parse(in);
  Golden g;
  g.model_path = model_path;
  g.name = std::filesystem::path(json_path).stem().string();
  g.family = j.at("model_family").get<std::string>();
  g.quant = j.at("quant").get<std::string>();
  g.arch = j.at("arch").get<std::string>();
  g.n_vocab = j.at("n_vocab").get<int>();
  g.kv_type = j.at("settings").at("kv_cache_type").get<std::string>();
  for (const auto& s : j.at("sequences")) {
    GoldenSequence seq;
    seq.tokens = s.at("tokens").get<std::vector<int>>();
    seq.last_logits = s.at("last_logits").get<std::vector<float>>();
    for (const auto& p : s.at("topk_per_pos")) seq.topk_per_pos.push_back(read_topk(p));
    seq.greedy = s.at("greedy").get<std::vector<int>>();
    for (const auto& p : s.at("greedy_topk")) seq.greedy_topk.push_back(read_topk(p));
    if (s.contains("experts")) seq.experts = read_experts(s.at("experts"));
    g.sequences.push_back(std::move(seq));
  }
  if (!experts_path.empty()) {
    std::ifstream ein(experts_path);
    const nlohmann::json e = nlohmann::json::parse(ein);
    const auto& seqs = e.at("sequences");
    if (seqs.size() != g.sequences.size()) throw std::runtime_error(experts_path + ": not this golden's sequences");
    for (size_t i = 0; i < seqs.size(); ++i) {
      if (seqs[i].at("tokens").get<std::vector<int>>() != g.sequences[i].tokens)
        throw std::runtime_error(experts_path + ": not this golden's sequences");
      if (!g.sequences[i].experts) g.sequences[i].experts = read_experts(seqs[i].at("experts"));
    }
  }
  return g;
}

struct GoldenFile {
  std::string json_path;
  std::string model_path;
  std::string name;  // "<family>.<quant>"
  std::string origin;  // "tests/data" or "shared"
  std::string experts_path;  // golden/experts/<name>.json, or ""
};

// gtest prints parameters with this (the name, not the object's bytes).
inline void PrintTo(const GoldenFile& f, std::ostream* os) { *os << f.name << " (" << f.origin << ")"; }

// Golden files with their models: tests/data always, plus the shared set when present
// (models already covered by tests/data are listed once). `subdir` selects a variant of the
// goldens ("kv_f16": made with llama.cpp's F16 KV cache), "" the main ones. Read when the
// test binary starts (gtest_discover_tests lists the cases at build time from the same places).
inline std::vector<GoldenFile> golden_files(const std::string& subdir = "") {
  namespace fs = std::filesystem;
  std::vector<GoldenFile> out;
  std::string shared = MOECODE_SHARED_FIXTURES;
  if (const char* env = std::getenv("MOECODE_SHARED_FIXTURES"); env && *env) shared = env;
  const fs::path data_golden = fs::path(MOECODE_TEST_DATA_GEN) / "fixtures" / "golden";
  // An experts file for a golden: tests/data's first (it carries them for the shared set too).
  auto experts_for = [&](const std::string& name) -> std::string {
    std::error_code ec;
    const fs::path shared_experts = shared.empty() ? fs::path() : fs::path(shared) / "golden" / "experts";
    for (const fs::path& dir : {data_golden / "experts", shared_experts}) {
      if (!dir.empty() && fs::is_regular_file(dir / (name + ".json"), ec)) return (dir / (name + ".json")).string();
    }
    return "";
  };
  auto scan = [&](const fs::path& models, fs::path goldens, const std::string& origin) {
    if (!subdir.empty()) goldens /= subdir;
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
      out.push_back({jp.string(), model.string(), name, origin, subdir.empty() ? experts_for(name) : ""});
    }
  };
  scan(fs::path(MOECODE_TEST_DATA) / "fixtures" / "models", data_golden, "tests/data");
  // The shared set: as configured, or $MOECODE_SHARED_FIXTURES (a checkout elsewhere).
  if (!shared.empty()) scan(fs::path(shared) / "models", fs::path(shared) / "golden", "shared");
  return out;
}

}  // namespace moecode::testing
