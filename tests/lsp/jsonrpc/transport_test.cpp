// Transports: stdio connections over pipes and regular files, TCP on loopback with clients
// that hang up mid-message, listen-address parsing, flushing before close.
#include "lsp/jsonrpc/transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "support/tcp_client.h"

namespace moecode::jsonrpc {
namespace {

// A loop on its own thread plus what a connection reported.
class LoopFixture : public ::testing::Test {
 protected:
  LoopFixture() : thread_([this] { loop_.run(); }) {}
  ~LoopFixture() override {
    loop_.stop();
    thread_.join();
  }

  template <typename F>
  void on_loop(F fn) {
    std::promise<void> done;
    loop_.post([&] {
      fn();
      done.set_value();
    });
    done.get_future().get();
  }

  Connection::Handlers handlers() {
    Connection::Handlers h;
    h.on_message = [this](std::string body) {
      std::lock_guard lock(mu_);
      messages_.push_back(std::move(body));
      cv_.notify_all();
    };
    h.on_frame_error = [this](const FrameError& e) {
      std::lock_guard lock(mu_);
      errors_.push_back(e);
      cv_.notify_all();
    };
    h.on_closed = [this](const std::string& why, bool mid) {
      std::lock_guard lock(mu_);
      closed_.push_back({why, mid});
      cv_.notify_all();
    };
    return h;
  }

  bool wait_messages(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return messages_.size() >= n; });
  }
  bool wait_closed(size_t n) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return closed_.size() >= n; });
  }

  static std::string read_all(int fd, size_t want) {
    std::string out;
    char buf[4096];
    while (out.size() < want) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) break;
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }

  Loop loop_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> messages_;
  std::vector<FrameError> errors_;
  std::vector<std::pair<std::string, bool>> closed_;
};

TEST_F(LoopFixture, StdioOverPipesReadsPartialFramesAndWrites) {
  int in[2], out[2];
  ASSERT_EQ(::pipe(in), 0);
  ASSERT_EQ(::pipe(out), 0);
  std::shared_ptr<Connection> conn;
  on_loop([&] {
    conn = open_stdio(loop_, in[0], out[1], 1 << 20);
    conn->start(handlers());
  });
  const std::string stream = encode_frame(R"({"a":1})") + encode_frame(R"({"b":2})");
  for (char c : stream) ASSERT_EQ(::write(in[1], &c, 1), 1);  // one byte at a time
  ASSERT_TRUE(wait_messages(2));
  EXPECT_EQ(messages_[1], R"({"b":2})");
  on_loop([&] { conn->send(R"({"reply":true})"); });
  const std::string expect = encode_frame(R"({"reply":true})");
  EXPECT_EQ(read_all(out[0], expect.size()), expect);
  // Hang up in the middle of a message.
  const std::string half = "Content-Length: 50\r\n\r\n{\"partial";
  ASSERT_EQ(::write(in[1], half.data(), half.size()), static_cast<ssize_t>(half.size()));
  ::close(in[1]);
  ASSERT_TRUE(wait_closed(1));
  EXPECT_TRUE(closed_[0].second) << "mid-message flag";
  on_loop([&] { conn.reset(); });
  for (int fd : {in[0], out[0], out[1]}) ::close(fd);
}

TEST_F(LoopFixture, StdioFromARegularFileUsesTheReaderThread) {
  char path[] = "/tmp/moecode_transport_XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string data = encode_frame("[1]") + encode_frame("[2]");
  ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  ::lseek(fd, 0, SEEK_SET);
  const int devnull = ::open("/dev/null", O_WRONLY);
  std::shared_ptr<Connection> conn;
  on_loop([&] {
    conn = open_stdio(loop_, fd, devnull, 1 << 20);
    conn->start(handlers());
  });
  ASSERT_TRUE(wait_messages(2));
  ASSERT_TRUE(wait_closed(1));
  EXPECT_FALSE(closed_[0].second);
  on_loop([&] { conn->send("[3]"); });  // /dev/null takes writes synchronously
  on_loop([&] { conn.reset(); });
  ::close(fd);
  ::close(devnull);
  ::unlink(path);
}

TEST_F(LoopFixture, OversizedMessageOverAPipeIsSkippedNotBuffered) {
  int in[2], out[2];
  ASSERT_EQ(::pipe(in), 0);
  ASSERT_EQ(::pipe(out), 0);
  std::shared_ptr<Connection> conn;
  on_loop([&] {
    conn = open_stdio(loop_, in[0], out[1], 1 << 16);
    conn->start(handlers());
  });
  std::thread writer([&] {
    const size_t size = 8u << 20;
    std::string header = "Content-Length: " + std::to_string(size) + "\r\n\r\n{\"id\":3,";
    ASSERT_EQ(::write(in[1], header.data(), header.size()), static_cast<ssize_t>(header.size()));
    const std::string block(1 << 16, ' ');
    size_t sent = 8;
    while (sent < size) {
      const size_t n = std::min(block.size(), size - sent);
      ASSERT_EQ(::write(in[1], block.data(), n), static_cast<ssize_t>(n));
      sent += n;
    }
    const std::string next = encode_frame("{}");
    ASSERT_EQ(::write(in[1], next.data(), next.size()), static_cast<ssize_t>(next.size()));
  });
  ASSERT_TRUE(wait_messages(1));
  writer.join();
  EXPECT_EQ(messages_[0], "{}");
  ASSERT_EQ(errors_.size(), 1u);
  EXPECT_EQ(errors_[0].kind, FrameError::Kind::kTooLarge);
  EXPECT_EQ(errors_[0].id_hint, "3");
  size_t buffered = 1;
  on_loop([&] { buffered = conn->buffered_bytes(); });
  EXPECT_EQ(buffered, 0u);
  on_loop([&] { conn.reset(); });
  for (int fd : {in[0], in[1], out[0], out[1]}) ::close(fd);
}

int connect_to(uint16_t port) { return testing::connect_to_loopback(port); }

TEST_F(LoopFixture, TcpServesClientsOneAfterAnotherThatHangUpMidMessage) {
  std::unique_ptr<TcpListener> listener;
  std::vector<std::shared_ptr<Connection>> conns;
  on_loop([&] {
    auto l = TcpListener::listen(loop_, "127.0.0.1:0", 1 << 20);
    ASSERT_TRUE(l.ok()) << l.error().message();
    listener = std::move(*l);
    listener->accept_each([&](std::shared_ptr<Connection> c) {
      c->start(handlers());
      conns.push_back(c);
    });
  });
  const uint16_t port = listener->port();
  EXPECT_EQ(listener->address(), "127.0.0.1:" + std::to_string(port));
  // First client: half a message, then gone.
  int s = connect_to(port);
  ASSERT_GE(s, 0);
  const std::string half = "Content-Length: 100\r\n\r\n{\"jsonrpc\":";
  ASSERT_EQ(::send(s, half.data(), half.size(), 0), static_cast<ssize_t>(half.size()));
  ::close(s);
  ASSERT_TRUE(wait_closed(1));
  EXPECT_TRUE(closed_[0].second);
  // Second client: served normally, and gets an answer.
  s = connect_to(port);
  ASSERT_GE(s, 0);
  const std::string frame = encode_frame(R"({"hello":1})");
  ASSERT_EQ(::send(s, frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
  ASSERT_TRUE(wait_messages(1));
  EXPECT_EQ(messages_[0], R"({"hello":1})");
  on_loop([&] { conns.back()->send(R"({"answer":2})"); });
  const std::string expect = encode_frame(R"({"answer":2})");
  EXPECT_EQ(read_all(s, expect.size()), expect);
  // close_after_flush writes what is queued, then closes.
  bool flushed = false;
  on_loop([&] {
    conns.back()->send(R"({"last":3})");
    conns.back()->close_after_flush([&] { flushed = true; });
  });
  const std::string last = encode_frame(R"({"last":3})");
  EXPECT_EQ(read_all(s, last.size() + 1), last);  // then end of stream
  on_loop([&] { EXPECT_TRUE(flushed); });
  ::close(s);
  on_loop([&] {
    listener->close();
    conns.clear();
  });
}

TEST(ListenAddressTest, ParsesPortsHostsAndRejectsBadInput) {
  auto a = parse_listen_address("9257");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "127.0.0.1");  // loopback unless an address is given
  EXPECT_EQ(a->port, 9257);
  auto b = parse_listen_address("0.0.0.0:80");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->host, "0.0.0.0");
  auto c = parse_listen_address("[::1]:7000");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(parse_listen_address("localhost:5")->host, "127.0.0.1");
  EXPECT_FALSE(parse_listen_address("70000").ok());
  EXPECT_FALSE(parse_listen_address("host.example:80").ok());
  auto bad = parse_listen_address("1.2.3.4:x");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("'x'"), std::string::npos);
}

}  // namespace
}  // namespace moecode::jsonrpc
