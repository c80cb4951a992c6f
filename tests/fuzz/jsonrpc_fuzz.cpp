// libFuzzer entry: JSON-RPC framing and dispatch. The input is a byte stream cut into chunks
// (the first byte seeds the chunk sizes, as reads of a socket would cut it) and fed to a
// FrameDecoder with small limits; each body goes to an Endpoint whose handlers answer in
// every way the server's do (at once, with an error, later from a "worker", twice, never, on
// cancellation) and which has calls of its own outstanding (ids 1..3) that the input may
// answer. Checks: no crash; the decoder's buffer stays within its limits; every request a
// handler saw is answered, and no id gets more answers than messages carried it (exactly
// once); nothing stays in flight once every reply is done; each call's handler runs once.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "lsp/jsonrpc/endpoint.h"
#include "lsp/jsonrpc/framing.h"

namespace {

using namespace moecode::jsonrpc;

class QueueExecutor final : public Executor {
 public:
  void post(std::function<void()> fn) override { q_.push_back(std::move(fn)); }
  void drain() {
    while (!q_.empty()) {
      auto fn = std::move(q_.front());
      q_.pop_front();
      fn();
    }
  }

 private:
  std::deque<std::function<void()>> q_;
};

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "jsonrpc_fuzz: %s\n", what.c_str());
  std::abort();
}

// Deepest nesting of arrays/objects (strings skipped): the harness parses a body itself only
// when it is shallow, as the endpoint does (a deep json value would overflow the stack).
size_t nesting_depth(std::string_view s) {
  size_t depth = 0, max_depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      max_depth = std::max(max_depth, ++depth);
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return max_depth;
}

bool valid_id(const Json& id) { return id.is_string() || id.is_number_integer(); }

constexpr size_t kMaxBody = 4096;
constexpr size_t kMaxHeader = 256;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  QueueExecutor loop;
  std::vector<std::string> sent;
  Endpoint ep(loop, [&](std::string body) { sent.push_back(std::move(body)); });

  std::map<std::string, int> seen;  // id -> requests a handler received
  std::vector<std::shared_ptr<Reply>> later;
  auto record = [&](const Reply& r) { ++seen[r.id_text()]; };
  ep.on_request("answer", [&](const Json& params, Reply r, const RequestContext&) {
    record(r);
    r.result(params);
  });
  ep.on_request("fail", [&](const Json&, Reply r, const RequestContext&) {
    record(r);
    r.error(ErrorCode::kRequestFailed, "failed");
  });
  ep.on_request("twice", [&](const Json&, Reply r, const RequestContext&) {
    record(r);
    r.result(1);
    r.result(2);  // logged and ignored
  });
  ep.on_request("drop", [&](const Json&, Reply r, const RequestContext&) { record(r); });  // InternalError
  ep.on_request("later", [&](const Json&, Reply r, const RequestContext& ctx) {
    record(r);
    auto holder = std::make_shared<Reply>(std::move(r));
    ctx.on_cancel([holder] {
      if (!holder->done()) holder->error(ErrorCode::kRequestCancelled, "cancelled");
    });
    later.push_back(holder);
  });
  ep.on_request("throw", [&](const Json& params, Reply r, const RequestContext&) {
    record(r);
    (void)params.at("missing");  // throws: the Reply answers InternalError while unwinding
  });
  ep.on_notification("note", [](const Json& params) { (void)params.dump(); });
  ep.set_gate([](std::string_view method, bool) -> std::optional<RpcError> {
    if (method == "refused") return RpcError{ErrorCode::kServerNotInitialized, "not yet"};
    return std::nullopt;
  });
  int n_responses = 0;
  for (int i = 0; i < 3; ++i) ep.call("client/op", Json{{"i", i}}, [&](Response) { ++n_responses; });

  std::map<std::string, int> with_id;  // id -> messages that carried it (shallow ones)
  FrameDecoder decoder(kMaxBody, kMaxHeader);
  uint32_t seed = data[0];
  size_t pos = 1;
  while (pos < size) {
    seed = seed * 1103515245u + 12345u;
    const size_t chunk = std::min<size_t>(size - pos, 1 + (seed >> 16) % 97);
    decoder.feed(
        std::string_view(reinterpret_cast<const char*>(data + pos), chunk),
        [&](std::string body) {
          if (nesting_depth(body) <= 256) {
            const Json m = Json::parse(body, nullptr, false);
            if (m.is_object() && m.contains("id") && valid_id(m["id"])) ++with_id[id_key(m["id"])];
          }
          ep.receive(body);
        },
        [&](FrameError e) {
          if (!e.id_hint.empty()) {
            const Json id = Json::parse(e.id_hint, nullptr, false);
            if (valid_id(id)) ++with_id[id_key(id)];
          }
          ep.receive_frame_error(e);
        });
    pos += chunk;
    if (decoder.buffered_bytes() > kMaxBody + kMaxHeader + 128) {
      fail("the decoder holds " + std::to_string(decoder.buffered_bytes()) + " bytes");
    }
    loop.drain();
  }
  // Answer what is still held, as a worker finishing would.
  for (auto& r : later) {
    if (!r->done()) r->result("late");
  }
  later.clear();
  loop.drain();
  if (ep.n_pending_requests() != 0) fail(std::to_string(ep.n_pending_requests()) + " requests left in flight");

  // Every request a handler saw got exactly one answer (ids can repeat once answered).
  std::map<std::string, int> answers;
  for (const auto& body : sent) {
    const Json m = Json::parse(body, nullptr, false);
    if (m.is_discarded() || !m.is_object()) fail("the endpoint sent invalid JSON: " + body);
    if (m.contains("method")) continue;  // our own calls
    if (!m.contains("id")) fail("a response without an id: " + body);
    if (m.contains("result") == m.contains("error")) fail("a response needs exactly one of result/error: " + body);
    ++answers[id_key(m["id"])];
  }
  for (const auto& [id, n] : seen) {
    if (answers[id] < n) fail("request " + id + " was answered " + std::to_string(answers[id]) + " times for " +
                              std::to_string(n) + " handled");
  }
  for (const auto& [id, n] : answers) {
    if (id == "null") continue;
    if (n > with_id[id]) fail("id " + id + " got " + std::to_string(n) + " answers for " + std::to_string(with_id[id]) + " messages");
  }
  ep.close();
  loop.drain();
  if (n_responses != 3) fail("an outgoing call's handler ran " + std::to_string(n_responses) + " times, not once each");
  return 0;
}
