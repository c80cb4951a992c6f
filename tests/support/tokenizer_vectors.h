// Test helper: llama.cpp's tokenizer test vectors (tests/data/tokenizer/*.gguf.inp|.out).
// .inp: cases separated by "\n__ggml_vocab_test__\n" (a trailing separator adds no case);
// .out: one line per case, the expected ids each preceded by a space. For tests only.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace moecode::testing {

inline std::string read_binary_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::vector<std::string> read_vector_cases(const std::string& inp_path) {
  const std::string text = read_binary_file(inp_path);
  const std::string sep = "\n__ggml_vocab_test__\n";
  std::vector<std::string> cases;
  size_t pos = 0;
  while (pos <= text.size()) {
    const size_t hit = text.find(sep, pos);
    if (hit == std::string::npos) {
      if (pos < text.size()) cases.push_back(text.substr(pos));
      break;
    }
    cases.push_back(text.substr(pos, hit - pos));
    pos = hit + sep.size();
  }
  return cases;
}

inline std::vector<std::vector<int32_t>> read_vector_ids(const std::string& out_path) {
  std::vector<std::vector<int32_t>> out;
  std::istringstream in(read_binary_file(out_path));
  for (std::string line; std::getline(in, line);) {
    std::istringstream ids(line);
    std::vector<int32_t> v;
    for (long id; ids >> id;) v.push_back(static_cast<int32_t>(id));
    out.push_back(std::move(v));
  }
  return out;
}

}  // namespace moecode::testing
