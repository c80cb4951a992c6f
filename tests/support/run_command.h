// Test helper: runs a command line through /bin/sh and captures its exit status,
// stdout and stderr (stderr goes through a temporary file). For tests only.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace moecode::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// The `moecode` binary under test.
inline std::string moecode_binary() {
  if (const char* env = std::getenv("MOECODE_BINARY"); env && *env) return env;
#ifdef MOECODE_BINARY
  return MOECODE_BINARY;
#else
  return "moecode";
#endif
}

// Quotes `s` for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

inline CommandResult run_command(const std::string& command) {
  static int counter = 0;
  const std::string err_path = "/tmp/moecode_test_stderr_" + std::to_string(::getpid()) + "_" +
                               std::to_string(counter++);
  const std::string full = command + " 2>" + shell_quote(err_path);
  CommandResult result;
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return result;
  std::array<char, 65536> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) result.out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream err(err_path, std::ios::binary);
  std::stringstream ss;
  ss << err.rdbuf();
  result.err = ss.str();
  std::remove(err_path.c_str());
  return result;
}

// Runs `moecode <args>`; args are passed through the shell as written.
inline CommandResult run_moecode(const std::string& args) {
  return run_command(shell_quote(moecode_binary()) + " " + args);
}

}  // namespace moecode::testing
