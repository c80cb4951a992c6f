// The `moecode` executable's command line: --version, --help, errors.
#include <gtest/gtest.h>

#include "support/run_command.h"

namespace moecode {
namespace {

using testing::run_moecode;

TEST(CliTest, VersionShowsVersionCommitAndBackends) {
  auto r = run_moecode("--version");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("moecode 0."), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("commit "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("backends: cpu"), std::string::npos) << r.out;
}

TEST(CliTest, HelpListsOptions) {
  auto r = run_moecode("--help");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("--version"), std::string::npos);
  EXPECT_NE(r.out.find("Usage"), std::string::npos);
}

TEST(CliTest, UnknownSubcommandFails) {
  auto r = run_moecode("no-such-command");
  EXPECT_NE(r.exit_code, 0);
  EXPECT_FALSE(r.err.empty());
}

}  // namespace
}  // namespace moecode
