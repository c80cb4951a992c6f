// engine_socket_path: editors reach the same shared engine daemon only for the same model,
// settings, build and kernels. A run under another MOECODE_ISA (a benchmark of the AVX2
// path on an AVX-512 machine) gets a daemon of its own, not one started for another ISA.
#include <stdlib.h>

#include <string>

#include <gtest/gtest.h>

#include "lsp/remote/shared_engine.h"

namespace moecode::remote {
namespace {

TEST(SharedEngineKey, SameSettingsSameSocketAndEveryDifferenceAnother) {
  ::unsetenv("MOECODE_ISA");
  SharedEngineOptions o;
  o.model_path = "/models/a.gguf";
  o.backend = "cpu";
  o.threads = 2;
  o.binary = "/proc/self/exe";
  const std::string base = engine_socket_path("/run/x", o);
  EXPECT_EQ(engine_socket_path("/run/x", o), base);
  EXPECT_EQ(base.rfind("/run/x/engine-", 0), 0u) << base;

  SharedEngineOptions other = o;
  other.threads = 4;
  EXPECT_NE(engine_socket_path("/run/x", other), base);
  other = o;
  other.model_path = "/models/b.gguf";
  EXPECT_NE(engine_socket_path("/run/x", other), base);

  ::setenv("MOECODE_ISA", "avx2", 1);
  const std::string avx2 = engine_socket_path("/run/x", o);
  ::setenv("MOECODE_ISA", "avx512", 1);
  const std::string avx512 = engine_socket_path("/run/x", o);
  ::unsetenv("MOECODE_ISA");
  EXPECT_NE(avx2, base);
  EXPECT_NE(avx512, base);
  EXPECT_NE(avx2, avx512);
  EXPECT_EQ(engine_socket_path("/run/x", o), base);
}

}  // namespace
}  // namespace moecode::remote
