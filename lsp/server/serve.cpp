// Running the server over stdio or TCP (see serve.h).
#include "lsp/server/serve.h"

#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <map>

#include <spdlog/spdlog.h>

#include "lsp/jsonrpc/transport.h"

namespace moecode::server {

void Notices::publish(const std::string& message) {
  std::vector<std::function<void(const std::string&)>> subs;
  {
    std::lock_guard lock(mu_);
    if (subscribers_.empty()) {
      pending_.push_back(message);
      return;
    }
    subs = subscribers_;
  }
  for (auto& fn : subs) fn(message);
}

void Notices::subscribe(std::function<void(const std::string&)> fn) {
  std::vector<std::string> pending;
  {
    std::lock_guard lock(mu_);
    subscribers_.push_back(fn);
    pending.swap(pending_);
  }
  for (const auto& m : pending) fn(m);
}

namespace {

std::shared_ptr<WorkspaceIndex> new_index(const ServeOptions& options) {
  return options.make_index ? options.make_index() : std::make_shared<FileListIndex>();
}

jsonrpc::Connection::Handlers handlers_for(const std::weak_ptr<LspServer>& weak,
                                           std::function<void(const std::string&, bool)> on_closed) {
  jsonrpc::Connection::Handlers h;
  h.on_message = [weak](std::string body) {
    if (auto s = weak.lock()) s->endpoint().receive(body);
  };
  h.on_frame_error = [weak](const jsonrpc::FrameError& e) {
    if (auto s = weak.lock()) s->endpoint().receive_frame_error(e);
  };
  h.on_closed = std::move(on_closed);
  return h;
}

int serve_stdio(const ServeOptions& options, jsonrpc::Loop& loop, EngineHost& host) {
  auto conn = jsonrpc::open_stdio(loop, STDIN_FILENO, STDOUT_FILENO, options.max_message_bytes);
  auto server = LspServer::create(loop, host, new_index(options), options.server,
                                  [conn](std::string body) { conn->send(std::move(body)); });
  if (options.notices) {
    std::weak_ptr<LspServer> w = server;
    options.notices->subscribe([&loop, w](const std::string& msg) {
      loop.post([w, msg] {
        if (auto s = w.lock()) s->notify_user(protocol::MessageType::kWarning, msg);
      });
    });
  }
  int code = 1;
  bool stopping = false;
  server->set_exit_handler([&](int c) {
    code = c;
    stopping = true;
    conn->close_after_flush([&loop] { loop.stop(); });
  });
  std::weak_ptr<LspServer> weak = server;
  conn->start(handlers_for(weak, [&, weak](const std::string& why, bool mid_message) {
    if (mid_message) {
      spdlog::warn("serve: the client disconnected in the middle of a message ({})", why);
    } else {
      spdlog::info("serve: the client closed the connection ({})", why);
    }
    if (auto s = weak.lock()) {
      code = s->exit_code();
      s->disconnected();
    }
    loop.stop();
  }));
  loop.on_signals([&](int sig) {
    spdlog::warn("serve: signal {}: stopping", sig);
    if (!stopping) code = server->exit_code();
    loop.stop();
  });
  loop.run();
  server->disconnected();
  return code;
}

int serve_tcp(const ServeOptions& options, jsonrpc::Loop& loop, EngineHost& host) {
  auto listener = jsonrpc::TcpListener::listen(loop, options.listen, options.max_message_bytes);
  if (!listener.ok()) {
    std::fprintf(stderr, "moecode serve: %s\n", listener.error().message().c_str());
    return 2;
  }
  std::fprintf(stderr, "moecode: listening on %s\n", (*listener)->address().c_str());
  std::fflush(stderr);
  std::map<jsonrpc::Connection*, std::shared_ptr<LspServer>> sessions;
  (*listener)->accept_each([&](std::shared_ptr<jsonrpc::Connection> conn) {
    spdlog::info("serve: client {} connected", conn->peer());
    auto server = LspServer::create(loop, host, new_index(options), options.server,
                                    [conn](std::string body) { conn->send(std::move(body)); });
    jsonrpc::Connection* key = conn.get();
    auto end_session = [&sessions, key] {
      auto it = sessions.find(key);
      if (it == sessions.end()) return;
      it->second->disconnected();
      sessions.erase(it);
    };
    std::weak_ptr<jsonrpc::Connection> weak_conn = conn;
    server->set_exit_handler([&loop, weak_conn, end_session](int) {
      if (auto c = weak_conn.lock()) {
        c->close_after_flush([&loop, end_session] { loop.post(end_session); });
      }
    });
    conn->start(handlers_for(server, [peer = conn->peer(), end_session](const std::string& why, bool mid) {
      if (mid) {
        spdlog::warn("serve: client {} disconnected in the middle of a message ({})", peer, why);
      } else {
        spdlog::info("serve: client {} disconnected ({})", peer, why);
      }
      end_session();
    }));
    sessions[key] = std::move(server);
  });
  loop.on_signals([&](int sig) {
    spdlog::warn("serve: signal {}: stopping", sig);
    loop.stop();
  });
  loop.run();
  (*listener)->close();
  for (auto& [key, s] : sessions) s->disconnected();
  sessions.clear();
  return 0;
}

}  // namespace

int serve(const ServeOptions& options) {
  std::signal(SIGPIPE, SIG_IGN);  // a client that goes away is a write error, not a crash
  jsonrpc::Loop loop;
  EngineHost host(options.factory, options.make_provider ? options.make_provider() : nullptr);
  if (options.preload_model) {
    ModelSpec spec;
    spec.path = !options.server.cli_model.empty()      ? options.server.cli_model
                : !options.server.config.model.empty() ? options.server.config.model
                                                       : options.server.default_model;
    spec.backend = options.server.config.backend;
    spec.threads = options.server.config.threads;
    spec.remote = options.server.config.remote;
    if (spec.has_model()) host.ensure_model(spec);
  }
  return options.listen.empty() ? serve_stdio(options, loop, host) : serve_tcp(options, loop, host);
}

}  // namespace moecode::server
