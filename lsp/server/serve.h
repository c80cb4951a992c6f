// Running the server: `moecode serve` over stdio (one session; the process ends with the
// session, with the spec's exit code) or TCP (--listen: a session per client, until SIGINT
// or SIGTERM). Builds the event loop, the engine host and the sessions, and runs the loop on
// the calling thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "lsp/server/engine_host.h"
#include "lsp/server/server.h"
#include "lsp/server/workspace_index.h"

namespace moecode::server {

// Messages for the user that come from outside a session (the shared engine went away): every
// session shows them (window/showMessage). Messages published before a session subscribed wait
// for it. Thread-safe.
class Notices {
 public:
  void publish(const std::string& message);
  void subscribe(std::function<void(const std::string&)> fn);

 private:
  std::mutex mu_;
  std::vector<std::function<void(const std::string&)>> subscribers_;
  std::vector<std::string> pending_;
};

struct ServeOptions {
  std::string listen;  // "" = stdio; else a TcpListener address ("PORT", "HOST:PORT")
  size_t max_message_bytes = size_t{64} << 20;
  ServerOptions server;
  GeneratorFactory factory;
  bool preload_model = true;  // start loading the model before a client connects
  // The workspace index of a new session (FileListIndex when unset).
  std::function<std::shared_ptr<WorkspaceIndex>()> make_index;
  // Where completion context comes from (the current document's window when unset).
  std::function<std::unique_ptr<assist::ContextProvider>()> make_provider;
  // Where generators tell the user things (optional).
  std::shared_ptr<Notices> notices;
};

// Returns the process exit code.
int serve(const ServeOptions& options);

}  // namespace moecode::server
