#include "lsp/cli/model_path.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace moecode::cli {
namespace {

namespace fs = std::filesystem;

class ModelPathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("moecode_model_path_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "cache" / "moecode" / "models");
    old_cwd_ = fs::current_path();
    fs::current_path(dir_);
    ::unsetenv("MOECODE_MODEL");
    ::setenv("XDG_CACHE_HOME", (dir_ / "cache").c_str(), 1);
  }
  void TearDown() override {
    fs::current_path(old_cwd_);
    fs::remove_all(dir_);
    ::unsetenv("XDG_CACHE_HOME");
  }
  static void touch(const fs::path& p) { std::ofstream(p) << "GGUF"; }
  fs::path dir_, old_cwd_;
};

TEST_F(ModelPathTest, MissingModelSaysWhatToDo) {
  auto r = resolve_model_path("");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("scripts/setup"), std::string::npos);
  EXPECT_NE(r.error().message().find("-m"), std::string::npos);
}

TEST_F(ModelPathTest, ExplicitPathWinsAndMustExist) {
  touch(dir_ / "a.gguf");
  ::setenv("MOECODE_MODEL", (dir_ / "b.gguf").c_str(), 1);
  EXPECT_EQ(*resolve_model_path((dir_ / "a.gguf").string()), (dir_ / "a.gguf").string());
  EXPECT_FALSE(resolve_model_path((dir_ / "nope.gguf").string()).ok());
}

TEST_F(ModelPathTest, EnvThenLocalThenCache) {
  const fs::path cached = dir_ / "cache" / "moecode" / "models" / "default.gguf";
  touch(cached);
  EXPECT_EQ(*resolve_model_path(""), cached.string());
  fs::create_directories("models");
  touch("models/default.gguf");
  EXPECT_EQ(*resolve_model_path(""), "models/default.gguf");
  touch(dir_ / "env.gguf");
  ::setenv("MOECODE_MODEL", (dir_ / "env.gguf").c_str(), 1);
  EXPECT_EQ(*resolve_model_path(""), (dir_ / "env.gguf").string());
  ::setenv("MOECODE_MODEL", (dir_ / "missing.gguf").c_str(), 1);
  auto r = resolve_model_path("");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("MOECODE_MODEL"), std::string::npos);
}

}  // namespace
}  // namespace moecode::cli
