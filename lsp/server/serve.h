// Running the server: `moecode serve` over stdio (one session; the process ends with the
// session, with the spec's exit code) or TCP (--listen: a session per client, until SIGINT
// or SIGTERM). Builds the event loop, the engine host and the sessions, and runs the loop on
// the calling thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "lsp/server/engine_host.h"
#include "lsp/server/server.h"
#include "lsp/server/workspace_index.h"

namespace moecode::server {

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
};

// Returns the process exit code.
int serve(const ServeOptions& options);

}  // namespace moecode::server
