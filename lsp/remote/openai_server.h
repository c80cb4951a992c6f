// The OpenAI-compatible API over the local engine, for `moecode serve --http` and the shared
// engine daemon: GET /v1/models, POST /v1/completions (a text prompt, or token ids; "suffix"
// for fill-in-the-middle on models with FIM tokens), POST /v1/chat/completions (the model's
// chat template), streamed as server-sent events or answered whole; GET /health and
// POST /tokenize (llama.cpp's shape). Every request goes to one engine::BatchGenerator, so
// concurrent requests are decoded together (continuous batching); a client that disconnects
// cancels its generation. When every slot is busy and the queue is full, requests get 429
// with Retry-After. vLLM's extensions stop_token_ids, top_k, min_p, repetition_penalty and
// skip_special_tokens are accepted.
//
// Threading: handle() runs on the HTTP server's I/O thread; generation callbacks come from the
// batch generator's thread and only touch their Responder (thread-safe) and atomics.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "lsp/remote/http_server.h"
#include "moecode/engine/batch.h"
#include "moecode/engine/model.h"

namespace moecode::remote {

struct OpenAiServerOptions {
  std::string model_id;     // the id /v1/models lists (default: the file name)
  int max_queue = 16;       // requests that may wait for a slot; more get 429
  std::string api_key_env;  // when set, requests must carry "Authorization: Bearer $VAR"
  int default_max_tokens = 256;
};

class OpenAiServer {
 public:
  OpenAiServer(std::shared_ptr<engine::Model> model, std::shared_ptr<engine::BatchGenerator> batch,
               OpenAiServerOptions options);
  // Stops the batch generator first: the requests it still holds are answered while this
  // object is whole.
  ~OpenAiServer() { shutdown(); }
  // The same, earlier: after the HTTP server stopped running (handle() may not be called after).
  void shutdown() { batch_.reset(); }

  void handle(ServerRequest request, std::shared_ptr<Responder> out);

  // Requests in a slot or waiting for one.
  int n_in_flight() const { return in_flight_.load(); }
  uint64_t n_served() const { return n_served_.load(); }

 private:
  void completions(const ServerRequest& request, const std::shared_ptr<Responder>& out, bool chat);
  void models(const std::shared_ptr<Responder>& out);
  void tokenize(const ServerRequest& request, const std::shared_ptr<Responder>& out);

  std::shared_ptr<engine::Model> model_;
  std::shared_ptr<engine::BatchGenerator> batch_;
  OpenAiServerOptions options_;
  std::string api_key_;  // read once from the environment at start
  std::atomic<int> in_flight_{0};
  std::atomic<uint64_t> n_served_{0};
  std::atomic<uint64_t> next_id_{1};
  long long created_ = 0;
};

}  // namespace moecode::remote
