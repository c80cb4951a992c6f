// https: the client against a TLS server (Python's http.server with a certificate made here by
// the openssl command): a certificate from the configured CA file for the host's name works;
// without that CA, or for another host name, the handshake is refused with the reason.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "lsp/remote/remote_generator.h"
#include "support/child_process.h"
#include "support/run_command.h"

namespace moecode::remote {
namespace {

namespace fs = std::filesystem;

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moecode-tls-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    const auto r = testing::run_command(
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost "
        "-addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout " + dir_ + "/key.pem -out " + dir_ + "/cert.pem");
    if (r.exit_code != 0) GTEST_SKIP() << "no openssl command: " << r.err;
    server_ = std::make_unique<testing::ChildProcess>(std::vector<std::string>{
        "/usr/bin/env", "python3", std::string(MOECODE_SOURCE_DIR) + "/tests/lsp/remote/tls_server.py",
        dir_ + "/cert.pem", dir_ + "/key.pem"});
    for (int i = 0; i < 500 && port_ == 0; ++i) {
      const std::string err = server_->stderr_text();
      if (const size_t at = err.find("port "); at != std::string::npos) port_ = std::atoi(err.c_str() + at + 5);
      if (port_ == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_NE(port_, 0) << server_->stderr_text();
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  RemoteConfig config(const std::string& host, bool with_ca) const {
    RemoteConfig c;
    c.preset = "openai";
    c.base_url = "https://" + host + ":" + std::to_string(port_) + "/v1";
    if (with_ca) c.ca_file = dir_ + "/cert.pem";
    c.max_retries = 0;
    c.timeout_ms = 5000;
    return c;
  }
  Result<assist::Generation> ask(const RemoteConfig& c) const {
    auto g = RemoteGenerator::connect(c);
    if (!g.ok()) return g.error();
    assist::Prompt p;
    p.add_text("hello");
    return (*g)->generate(p, {}, nullptr, CancelToken());
  }
  std::string dir_;
  std::unique_ptr<testing::ChildProcess> server_;
  int port_ = 0;
};

TEST_F(TlsTest, TrustedCertificateForTheHostWorks) {
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto r = ask(config(host, true));
    ASSERT_TRUE(r.ok()) << host << ": " << r.error().message();
    EXPECT_EQ(r->text, "over TLS");
  }
  auto g = RemoteGenerator::connect(config("localhost", true));
  ASSERT_TRUE(g.ok());
  EXPECT_EQ((*g)->model(), "tls-model");  // GET /models over TLS
  EXPECT_EQ((*g)->n_ctx(), 2048);
}

TEST_F(TlsTest, AnUnknownCaIsRefused) {
  auto r = ask(config("localhost", false));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("TLS handshake"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("certificate verify failed"), std::string::npos) << r.error().message();
}

TEST_F(TlsTest, AMissingCaFileIsAClearError) {
  RemoteConfig c = config("localhost", true);
  c.ca_file = dir_ + "/nope.pem";
  auto r = ask(c);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("CA file"), std::string::npos) << r.error().message();
}

}  // namespace
}  // namespace moecode::remote
