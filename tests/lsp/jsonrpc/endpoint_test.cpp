// JSON-RPC endpoint: validation and error codes, exactly-once replies, cancellation,
// server->client requests with response matching. A manual executor makes it deterministic.
#include "lsp/jsonrpc/endpoint.h"

#include <gtest/gtest.h>

#include <deque>
#include <thread>

namespace moecode::jsonrpc {
namespace {

class ManualExecutor : public Executor {
 public:
  void post(std::function<void()> fn) override {
    std::lock_guard lock(mu_);
    q_.push_back(std::move(fn));
  }
  void drain() {
    while (true) {
      std::function<void()> fn;
      {
        std::lock_guard lock(mu_);
        if (q_.empty()) return;
        fn = std::move(q_.front());
        q_.pop_front();
      }
      fn();
    }
  }

 private:
  std::mutex mu_;
  std::deque<std::function<void()>> q_;
};

class EndpointTest : public ::testing::Test {
 protected:
  EndpointTest() : ep_(exec_, [this](std::string body) { sent_.push_back(Json::parse(body)); }) {}

  std::vector<Json> take() {
    exec_.drain();
    auto out = std::move(sent_);
    sent_.clear();
    return out;
  }
  Json one() {
    auto all = take();
    EXPECT_EQ(all.size(), 1u);
    return all.empty() ? Json() : all[0];
  }
  static int code(const Json& m) { return m["error"]["code"].get<int>(); }

  ManualExecutor exec_;
  std::vector<Json> sent_;
  Endpoint ep_;
};

TEST_F(EndpointTest, DispatchesRequestsAndAnswersOnce) {
  ep_.on_request("echo", [](const Json& params, Reply reply, const RequestContext&) {
    reply.result(params);
    reply.result("second");  // ignored
  });
  ep_.receive(R"({"jsonrpc":"2.0","id":1,"method":"echo","params":{"x":2}})");
  const Json r = one();
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["result"]["x"], 2);
  EXPECT_EQ(ep_.n_pending_requests(), 0u);
}

TEST_F(EndpointTest, StringIdsWork) {
  ep_.on_request("m", [](const Json&, Reply reply, const RequestContext&) { reply.result(nullptr); });
  ep_.receive(R"({"jsonrpc":"2.0","id":"abc","method":"m"})");
  EXPECT_EQ(one()["id"], "abc");
}

TEST_F(EndpointTest, DroppedReplyAnswersInternalError) {
  ep_.on_request("lazy", [](const Json&, Reply, const RequestContext&) {});
  ep_.receive(R"({"jsonrpc":"2.0","id":5,"method":"lazy"})");
  const Json r = one();
  EXPECT_EQ(code(r), static_cast<int>(ErrorCode::kInternalError));
  EXPECT_NE(r["error"]["message"].get<std::string>().find("lazy"), std::string::npos);
}

TEST_F(EndpointTest, HandlerExceptionStillAnswers) {
  ep_.on_request("throws", [](const Json& p, Reply, const RequestContext&) { (void)p.at("missing"); });
  ep_.receive(R"({"jsonrpc":"2.0","id":6,"method":"throws","params":{}})");
  EXPECT_EQ(code(one()), static_cast<int>(ErrorCode::kInternalError));
}

TEST_F(EndpointTest, UnknownMethodAndNotification) {
  ep_.receive(R"({"jsonrpc":"2.0","id":2,"method":"no/such"})");
  const Json r = one();
  EXPECT_EQ(code(r), static_cast<int>(ErrorCode::kMethodNotFound));
  EXPECT_NE(r["error"]["message"].get<std::string>().find("no/such"), std::string::npos);
  ep_.receive(R"({"jsonrpc":"2.0","method":"no/such/notification"})");
  ep_.receive(R"({"jsonrpc":"2.0","method":"$/unknown"})");
  EXPECT_TRUE(take().empty());
}

TEST_F(EndpointTest, MalformedMessagesGetTheRightErrors) {
  ep_.receive("{not json");
  Json r = one();
  EXPECT_EQ(code(r), static_cast<int>(ErrorCode::kParseError));
  EXPECT_TRUE(r["id"].is_null());
  ep_.receive("[1,2]");
  EXPECT_EQ(code(one()), static_cast<int>(ErrorCode::kInvalidRequest));
  ep_.receive("42");
  EXPECT_EQ(code(one()), static_cast<int>(ErrorCode::kInvalidRequest));
  ep_.receive(R"({"id":3,"method":"m"})");  // no "jsonrpc"
  r = one();
  EXPECT_EQ(code(r), static_cast<int>(ErrorCode::kInvalidRequest));
  EXPECT_EQ(r["id"], 3);
  ep_.receive(R"({"jsonrpc":"2.0","id":{"a":1},"method":"m"})");
  r = one();
  EXPECT_EQ(code(r), static_cast<int>(ErrorCode::kInvalidRequest));
  EXPECT_TRUE(r["id"].is_null());
  ep_.receive(R"({"jsonrpc":"2.0","id":4,"method":7})");
  EXPECT_EQ(code(one()), static_cast<int>(ErrorCode::kInvalidRequest));
  ep_.receive(R"({"jsonrpc":"2.0","id":4,"method":"m","params":"str"})");
  EXPECT_EQ(code(one()), static_cast<int>(ErrorCode::kInvalidParams));
  ep_.receive(std::string(100000, '[') + std::string(100000, ']'));
  EXPECT_EQ(code(one()), static_cast<int>(ErrorCode::kParseError));
  ep_.receive("");
  EXPECT_EQ(code(one()), static_cast<int>(ErrorCode::kParseError));
}

TEST_F(EndpointTest, CancelRequestSetsTheTokenAndRunsTheHook) {
  std::optional<Reply> held;
  CancelToken token;
  int hooks = 0;
  ep_.on_request("slow", [&](const Json&, Reply reply, const RequestContext& ctx) {
    token = ctx.cancel();
    ctx.on_cancel([&] { ++hooks; });
    held.emplace(std::move(reply));
  });
  ep_.receive(R"({"jsonrpc":"2.0","id":9,"method":"slow"})");
  EXPECT_FALSE(token.cancelled());
  ep_.receive(R"({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":9}})");
  EXPECT_TRUE(token.cancelled());
  EXPECT_EQ(hooks, 1);
  ep_.receive(R"({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":9}})");  // again: no-op
  EXPECT_EQ(hooks, 1);
  held->error(ErrorCode::kRequestCancelled, "cancelled");
  EXPECT_EQ(code(one()), static_cast<int>(ErrorCode::kRequestCancelled));
  ep_.receive(R"({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":9}})");  // answered: ignored
  ep_.receive(R"({"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"unknown"}})");
  EXPECT_TRUE(take().empty());
}

TEST_F(EndpointTest, DuplicateIdInFlightIsRefused) {
  std::optional<Reply> held;
  ep_.on_request("slow", [&](const Json&, Reply reply, const RequestContext&) { held.emplace(std::move(reply)); });
  ep_.receive(R"({"jsonrpc":"2.0","id":1,"method":"slow"})");
  ep_.receive(R"({"jsonrpc":"2.0","id":1,"method":"slow"})");
  EXPECT_EQ(code(one()), static_cast<int>(ErrorCode::kInvalidRequest));
  held->result(1);
  EXPECT_EQ(one()["result"], 1);
}

TEST_F(EndpointTest, GateRefusesRequestsAndDropsNotifications) {
  int notes = 0;
  ep_.on_notification("n", [&](const Json&) { ++notes; });
  ep_.on_request("r", [](const Json&, Reply reply, const RequestContext&) { reply.result(1); });
  ep_.set_gate([](std::string_view, bool) -> std::optional<RpcError> {
    return RpcError{ErrorCode::kServerNotInitialized, "not yet"};
  });
  ep_.receive(R"({"jsonrpc":"2.0","id":1,"method":"r"})");
  EXPECT_EQ(code(one()), static_cast<int>(ErrorCode::kServerNotInitialized));
  ep_.receive(R"({"jsonrpc":"2.0","method":"n"})");
  EXPECT_EQ(notes, 0);
}

TEST_F(EndpointTest, ReplyFromAnotherThreadIsPostedToTheLoop) {
  std::optional<Reply> held;
  ep_.on_request("r", [&](const Json&, Reply reply, const RequestContext&) { held.emplace(std::move(reply)); });
  ep_.receive(R"({"jsonrpc":"2.0","id":1,"method":"r"})");
  std::thread t([&] { held->result("from worker"); });
  t.join();
  EXPECT_TRUE(sent_.empty());  // nothing written off the loop thread
  EXPECT_EQ(one()["result"], "from worker");
}

TEST_F(EndpointTest, OutgoingCallsMatchResponses) {
  std::vector<Response> got;
  ep_.call("workspace/configuration", Json{{"items", Json::array()}}, [&](Response r) { got.push_back(r); });
  ep_.call("window/workDoneProgress/create", Json{{"token", "t"}}, [&](Response r) { got.push_back(r); });
  auto out = take();
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0]["method"], "workspace/configuration");
  EXPECT_EQ(ep_.n_outgoing_calls(), 2u);
  // Answer the second first, with an error; then the first; then an unknown id.
  ep_.receive(Json{{"jsonrpc", "2.0"}, {"id", out[1]["id"]}, {"error", {{"code", -32601}, {"message", "no"}}}}.dump());
  ep_.receive(Json{{"jsonrpc", "2.0"}, {"id", out[0]["id"]}, {"result", Json::array({1})}}.dump());
  ep_.receive(R"({"jsonrpc":"2.0","id":999,"result":null})");
  ASSERT_EQ(got.size(), 2u);
  ASSERT_TRUE(got[0].error.has_value());
  EXPECT_EQ(got[0].error->code, ErrorCode::kMethodNotFound);
  EXPECT_FALSE(got[1].error.has_value());
  EXPECT_EQ(got[1].result[0], 1);
  EXPECT_EQ(ep_.n_outgoing_calls(), 0u);
  EXPECT_TRUE(take().empty());
}

TEST_F(EndpointTest, CloseFailsOutstandingCallsAndSilencesReplies) {
  std::optional<Response> got;
  ep_.call("x", nullptr, [&](Response r) { got = r; });
  std::optional<Reply> held;
  CancelToken token;
  ep_.on_request("r", [&](const Json&, Reply reply, const RequestContext& ctx) {
    token = ctx.cancel();
    held.emplace(std::move(reply));
  });
  ep_.receive(R"({"jsonrpc":"2.0","id":1,"method":"r"})");
  take();
  ep_.close();
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->error.has_value());
  EXPECT_EQ(got->error->code, ErrorCode::kRequestCancelled);
  EXPECT_TRUE(token.cancelled());  // the work of a request nobody waits for stops
  held->result(1);
  ep_.notify("n", nullptr);
  EXPECT_TRUE(take().empty());
}

TEST_F(EndpointTest, OversizedRequestIsAnsweredByItsId) {
  std::string dropped;
  ep_.on_dropped_message([&](const std::string& what) { dropped = what; });
  ep_.receive_frame_error(FrameError{FrameError::Kind::kTooLarge, "message of 9 bytes exceeds", 9, "17"});
  const Json r = one();
  EXPECT_EQ(r["id"], 17);
  EXPECT_EQ(code(r), static_cast<int>(ErrorCode::kInvalidRequest));
  EXPECT_TRUE(dropped.empty());
  ep_.receive_frame_error(FrameError{FrameError::Kind::kTooLarge, "message of 9 bytes exceeds", 9, ""});
  EXPECT_TRUE(take().empty());
  EXPECT_NE(dropped.find("9 bytes"), std::string::npos);
}

TEST_F(EndpointTest, InvalidUtf8InOutputDoesNotThrow) {
  ep_.notify("n", Json{{"text", std::string("bad \xFF byte")}});
  const Json n = one();
  EXPECT_EQ(n["params"]["text"], "bad \xEF\xBF\xBD byte");
}

}  // namespace
}  // namespace moecode::jsonrpc
