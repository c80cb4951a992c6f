// Acceptance: the default model (SmolLM2-135M-Instruct, byte-level BPE, pre-tokenizer
// "smollm") round-trips every tracked text file of this repository exactly:
// decode(encode(x)) == x, and streaming detokenization gives the same text.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "lsp/cli/model_path.h"
#include "moecode/engine/tokenizer.h"
#include "support/run_command.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using engine::Token;

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The default model that scripts/setup installs (never $MOECODE_MODEL: this test is about
// that model).
std::string default_model() {
  for (const fs::path& p : {fs::path(MOECODE_SOURCE_DIR) / "models" / "default.gguf",
                            fs::path(cli::model_cache_dir()) / "default.gguf"}) {
    if (fs::is_regular_file(p)) return p.string();
  }
  return {};
}

TEST(TokenizerRoundTripTest, DefaultModelRoundTripsEveryTrackedFile) {
  const std::string model = default_model();
  ASSERT_FALSE(model.empty()) << "the default model is not installed (looked in " << MOECODE_SOURCE_DIR
                              << "/models/default.gguf and " << cli::model_cache_dir()
                              << "/default.gguf): run scripts/setup";
  auto tok = engine::Tokenizer::load(model);
  ASSERT_TRUE(tok.ok()) << tok.error().message();
  EXPECT_EQ((*tok)->model_name(), "gpt2");
  EXPECT_EQ((*tok)->pre_name(), "smollm");

  const auto ls = testing::run_command("git -C " + testing::shell_quote(MOECODE_SOURCE_DIR) + " ls-files");
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  std::istringstream lines(ls.out);
  size_t n_files = 0, n_bytes = 0, n_tokens = 0;
  for (std::string rel; std::getline(lines, rel);) {
    const fs::path path = fs::path(MOECODE_SOURCE_DIR) / rel;
    if (!fs::is_regular_file(path)) continue;  // deleted in the work tree, or a submodule
    // Fuzzer seeds are bytes, not text: selector bytes such as 0x06 have no token in this
    // vocabulary (llama.cpp drops them too), and some seeds are not UTF-8 on purpose.
    if (rel.rfind("tests/fuzz/corpus/", 0) == 0) continue;
    const std::string text = read_file(path);
    if (text.find('\0') != std::string::npos) continue;  // binary (archives, models)
    const std::vector<Token> ids = (*tok)->encode(text, false, false);
    const std::string back = (*tok)->decode(ids);
    EXPECT_TRUE(back == text) << rel << ": decode(encode(x)) differs from x (" << text.size() << " bytes in, "
                              << back.size() << " bytes out)";
    engine::StreamDetokenizer stream(**tok);
    std::string streamed;
    for (Token t : ids) streamed += stream.push(t);
    streamed += stream.flush();
    EXPECT_TRUE(streamed == text) << rel << ": streamed detokenization differs";
    ++n_files;
    n_bytes += text.size();
    n_tokens += ids.size();
  }
  EXPECT_GT(n_files, 50u);
  std::printf("round-tripped %zu files, %zu bytes, %zu tokens\n", n_files, n_bytes, n_tokens);
}

}  // namespace
}  // namespace moecode
