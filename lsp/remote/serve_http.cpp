// `moecode serve --http` (see serve_http.h).
#include "lsp/remote/serve_http.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "lsp/remote/http_server.h"
#include "lsp/remote/openai_server.h"
#include "moecode/engine/model.h"

namespace moecode::remote {

int serve_http(const HttpServeOptions& o) {
  std::signal(SIGPIPE, SIG_IGN);
  engine::LoadOptions lo;
  lo.backend = o.backend;
  lo.n_threads = o.threads;
  lo.n_ctx = o.n_ctx;
  auto model = engine::Model::load(o.model_path, lo);
  if (!model.ok()) {
    std::fprintf(stderr, "moecode serve: %s\n", model.error().message().c_str());
    return 2;
  }
  engine::BatchOptions bo;
  bo.n_slots = o.n_slots;
  bo.n_ctx = o.n_ctx;
  bo.n_batch = std::max(o.n_batch, o.n_slots);
  auto batch = (*model)->new_batch_generator(bo);
  if (!batch.ok()) {
    std::fprintf(stderr, "moecode serve: %s\n", batch.error().message().c_str());
    return 2;
  }
  OpenAiServerOptions so;
  so.model_id = !o.model_id.empty() ? o.model_id
                : !(*model)->info().name.empty() ? (*model)->info().name
                                                 : std::filesystem::path(o.model_path).stem().string();
  so.max_queue = o.max_queue;
  so.api_key_env = o.api_key_env;
  if (!o.api_key_env.empty() && std::getenv(o.api_key_env.c_str()) == nullptr) {
    std::fprintf(stderr, "moecode serve: --http-api-key-env %s: the variable is not set\n", o.api_key_env.c_str());
    return 2;
  }
  auto api = std::make_shared<OpenAiServer>(*model, std::shared_ptr<engine::BatchGenerator>(std::move(*batch)), so);
  auto server = HttpServer::listen(o.address, [api](ServerRequest r, std::shared_ptr<Responder> out) {
    api->handle(std::move(r), std::move(out));
  });
  if (!server.ok()) {
    std::fprintf(stderr, "moecode serve: %s\n", server.error().message().c_str());
    return 2;
  }
  HttpServer& s = **server;
  std::fprintf(stderr, "moecode: serving %s (OpenAI-compatible API, %d parallel) on http %s\n", so.model_id.c_str(),
               o.n_slots, s.address().c_str());
  std::fflush(stderr);
  std::string pid_file;
  if (s.address().rfind("unix:", 0) == 0) {
    pid_file = s.address().substr(5) + ".pid";
    if (FILE* f = std::fopen(pid_file.c_str(), "w")) {
      std::fprintf(f, "%d\n", static_cast<int>(::getpid()));
      std::fclose(f);
    }
  }
  if (o.ready_fd >= 0) {
    const std::string ready = "ready " + std::to_string(::getpid()) + "\n";
    [[maybe_unused]] const ssize_t n = ::write(o.ready_fd, ready.data(), ready.size());
    ::close(o.ready_fd);
  }
  s.on_signals([&s](int sig) {
    spdlog::warn("serve: signal {}: stopping", sig);
    s.stop();
  });
  if (o.idle_exit_ms > 0) {
    s.on_idle(o.idle_exit_ms, [&s, ms = o.idle_exit_ms] {
      spdlog::info("serve: no client for {} ms: exiting", ms);
      s.stop();
    });
  }
  s.run();
  api->shutdown();  // answers what is still running while the server's I/O objects exist
  if (!pid_file.empty()) std::remove(pid_file.c_str());
  return 0;
}

}  // namespace moecode::remote
