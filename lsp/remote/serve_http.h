// `moecode serve --http ADDR`: the OpenAI-compatible API (openai_server.h) over one local
// model with continuous batching, on TCP (loopback by default) or a unix socket. The shared
// engine daemon (daemon.h) is the same server on a unix socket that exits when idle.
// Runs on the calling thread until SIGINT/SIGTERM (or idle exit); returns the exit code.
#pragma once

#include <string>

namespace moecode::remote {

struct HttpServeOptions {
  std::string address;      // "127.0.0.1:8090", "8090", "unix:/path.sock"
  std::string model_path;
  std::string model_id;     // "" = the model's name
  std::string backend = "cpu";
  int threads = 0;
  int n_ctx = 0;            // per slot; 0 = the model's default
  int n_slots = 4;          // requests decoded together
  int n_batch = 256;        // tokens per forward step
  int max_queue = 16;
  std::string api_key_env;  // "" = no key required
  int idle_exit_ms = 0;     // > 0: exit once no client has been connected for this long
  // >= 0: once the socket listens, "ready PID\n" is written to this descriptor and it is closed
  // (the editor that started the daemon waits for it). With a unix socket, PATH.pid is written
  // too (removed at exit).
  int ready_fd = -1;
};

int serve_http(const HttpServeOptions& options);

}  // namespace moecode::remote
