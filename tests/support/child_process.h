// Test helper: runs a program with pipes on stdin and stdout (stderr to a temporary file), so
// tests can talk to `moecode serve --stdio` byte by byte: partial frames, garbage, huge
// messages, a client that hangs up. read_message() decodes Content-Length frames.
// For tests only; one thread uses a ChildProcess.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsp/jsonrpc/framing.h"

namespace moecode::testing {

class ChildProcess {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv) {
    static int counter = 0;
    err_path_ = "/tmp/moecode_child_stderr_" + std::to_string(::getpid()) + "_" + std::to_string(counter++);
    int in_pipe[2], out_pipe[2];
    if (::pipe(in_pipe) != 0 || ::pipe(out_pipe) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::dup2(in_pipe[0], 0);
      ::dup2(out_pipe[1], 1);
      const int err = ::open(err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) ::dup2(err, 2);
      ::close(in_pipe[0]);
      ::close(in_pipe[1]);
      ::close(out_pipe[0]);
      ::close(out_pipe[1]);
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::close(in_pipe[0]);
    ::close(out_pipe[1]);
    in_ = in_pipe[1];
    out_ = out_pipe[0];
  }

  ~ChildProcess() {
    if (in_ >= 0) ::close(in_);
    if (pid_ > 0 && !exit_code_) {
      ::kill(pid_, SIGKILL);
      int status;
      ::waitpid(pid_, &status, 0);
    }
    if (out_ >= 0) ::close(out_);
    std::remove(err_path_.c_str());
  }

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // Writes all of `data` to the child's stdin; false if the pipe broke.
  bool write(std::string_view data) {
    ::signal(SIGPIPE, SIG_IGN);
    while (!data.empty()) {
      const ssize_t n = ::write(in_, data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  bool send(const nlohmann::json& message) { return write(jsonrpc::encode_frame(message.dump())); }
  void close_stdin() {
    if (in_ >= 0) ::close(in_);
    in_ = -1;
  }

  // The next LSP message on stdout; nullopt on timeout or end of stream.
  std::optional<nlohmann::json> read_message(int timeout_ms = 10000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (messages_.empty()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0 || eof_) return std::nullopt;
      pollfd p{out_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::read(out_, buf, sizeof buf);
      if (n <= 0) {
        eof_ = true;
        break;
      }
      decoder_.feed(
          std::string_view(buf, static_cast<size_t>(n)),
          [this](std::string body) { messages_.push_back(nlohmann::json::parse(body, nullptr, false)); },
          [](jsonrpc::FrameError) {});
    }
    if (messages_.empty()) return std::nullopt;
    nlohmann::json m = std::move(messages_.front());
    messages_.pop_front();
    return m;
  }
  // The next message that answers request `id` (others, e.g. notifications, are skipped).
  std::optional<nlohmann::json> read_response(const nlohmann::json& id, int timeout_ms = 10000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto m = read_message(static_cast<int>(left.count()));
      if (!m) return std::nullopt;
      if (m->contains("id") && !m->contains("method") && (*m)["id"] == id) return m;
    }
  }

  // Exit code (128+signal if killed), or nullopt if still running after `timeout_ms`.
  std::optional<int> wait(int timeout_ms = 10000) {
    if (exit_code_) return exit_code_;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      int status;
      const pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return std::nullopt;
  }

  std::string stderr_text() const {
    std::ifstream in(err_path_);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }

  // Peak resident memory of the child (VmHWM), in KiB; -1 if unknown.
  long peak_rss_kib() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1;
  int out_ = -1;
  bool eof_ = false;
  std::optional<int> exit_code_;
  std::string err_path_;
  jsonrpc::FrameDecoder decoder_{size_t{1} << 30};
  std::deque<nlohmann::json> messages_;
};

}  // namespace moecode::testing
