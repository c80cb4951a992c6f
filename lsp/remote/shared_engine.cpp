// The shared engine daemon and the editors' generator over it (see shared_engine.h).
#include "lsp/remote/shared_engine.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <spdlog/spdlog.h>

namespace moecode::remote {

namespace fs = std::filesystem;
using assist::Generation;

namespace {

uint64_t fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

Status own_private_dir(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kIo, "cannot create the engine directory " + dir);
  }
  if (st.st_uid != ::getuid() || (st.st_mode & 0077) != 0) {
    return make_error(ErrorCode::kIo, "the engine directory " + dir + " belongs to someone else or is open to others");
  }
  return Status::ok_status();
}

// True when something accepts connections on the unix socket.
bool socket_answers(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) {
    ::close(fd);
    return false;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

std::string log_tail(const std::string& path, size_t max_bytes = 600) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  if (s.size() > max_bytes) s = s.substr(s.size() - max_bytes);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  const size_t nl = s.rfind('\n');
  return nl == std::string::npos ? s : s.substr(nl + 1);
}

// Starts the daemon (detached: its own session, not our child) and waits for its "ready" line
// on a pipe; EOF before it means the daemon failed (its log says why).
Status spawn_daemon(const SharedEngineOptions& o, const std::string& socket) {
  const std::string log = socket + ".log";
  const std::string binary = o.binary.empty() ? fs::read_symlink("/proc/self/exe").string() : o.binary;
  std::vector<std::string> argv = {binary,          "serve",       "--http",        "unix:" + socket,
                                   "-m",            o.model_path,  "--backend",     o.backend,
                                   "--threads",     std::to_string(o.threads),      "--parallel",
                                   std::to_string(std::max(1, o.n_slots)),          "--idle-exit",
                                   std::to_string(std::max(1, o.idle_exit_s)),      "--model-id",
                                   fs::path(o.model_path).filename().string(),      "--max-queue",
                                   "1024"};  // editors wait for a slot rather than being refused
  if (o.n_ctx > 0) {
    argv.push_back("-c");
    argv.push_back(std::to_string(o.n_ctx));
  }
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return make_error(ErrorCode::kIo, "pipe: " + std::string(std::strerror(errno)));
  argv.push_back("--ready-fd");
  argv.push_back(std::to_string(fds[1]));
  const pid_t child = ::fork();
  if (child < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    return make_error(ErrorCode::kIo, "fork: " + std::string(std::strerror(errno)));
  }
  if (child == 0) {
    ::setsid();
    if (::fork() != 0) ::_exit(0);
    ::fcntl(fds[1], F_SETFD, 0);  // the daemon inherits the write end
    const int null = ::open("/dev/null", O_RDWR);
    const int err = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
    }
    if (err >= 0) ::dup2(err, 2);
    for (int fd = 3; fd < 1024; ++fd) {
      if (fd != fds[1]) ::close(fd);  // nothing of the editor's leaks into the daemon
    }
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  int status = 0;
  ::waitpid(child, &status, 0);
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o.start_timeout_ms);
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      ::close(fds[0]);
      return make_error(ErrorCode::kUnavailable, "the shared engine did not start within " +
                                                     std::to_string(o.start_timeout_ms) + " ms (log: " + log + ")");
    }
    pollfd p{fds[0], POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1000))) <= 0) continue;
    char buf[256];
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      got.append(buf, static_cast<size_t>(n));
      if (got.find('\n') != std::string::npos) break;
      continue;
    }
    break;  // EOF: the daemon exited (or closed the pipe) without saying ready
  }
  ::close(fds[0]);
  if (got.rfind("ready", 0) != 0) {
    const std::string why = log_tail(log);
    return make_error(ErrorCode::kUnavailable,
                      "the shared engine did not start" + (why.empty() ? std::string() : ": " + why) + " (log: " + log + ")");
  }
  return Status::ok_status();
}

}  // namespace

Result<std::string> engine_dir() {
  std::string dir;
  if (const char* d = std::getenv("MOECODE_ENGINE_DIR"); d && *d) {
    dir = d;
  } else if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x && ::access(x, W_OK) == 0) {
    dir = std::string(x) + "/moecode";
  } else {
    dir = "/tmp/moecode-" + std::to_string(::getuid());
  }
  MOE_RETURN_IF_ERROR(own_private_dir(dir));
  return dir;
}

std::string engine_socket_path(const std::string& dir, const SharedEngineOptions& o) {
  // The same model and settings, the same moecode build (a daemon of another build may
  // speak another protocol), and the same kernels: MOECODE_ISA caps them, and a run of one
  // ISA path must not reach a daemon started for another.
  std::error_code ec;
  const std::string binary = o.binary.empty() ? fs::read_symlink("/proc/self/exe", ec).string() : o.binary;
  struct stat st {};
  const long long built = ::stat(binary.c_str(), &st) == 0 ? static_cast<long long>(st.st_mtime) : 0;
  std::string key = o.model_path + "\n" + o.backend + "\n" + std::to_string(o.threads) + "\n" +
                    std::to_string(o.n_ctx) + "\n" + std::to_string(o.n_slots) + "\n" + binary + "\n" +
                    std::to_string(built);
  if (const char* isa = std::getenv("MOECODE_ISA"); isa && *isa) key += std::string("\nisa=") + isa;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a(key)));
  return dir + "/engine-" + std::string(hex, 12) + ".sock";
}

Result<std::string> ensure_engine_daemon(const SharedEngineOptions& o) {
  std::string dir = o.dir;
  if (dir.empty()) {
    MOE_TRY(dir, engine_dir());
  } else {
    MOE_RETURN_IF_ERROR(own_private_dir(dir));
  }
  const std::string socket = engine_socket_path(dir, o);
  if (socket_answers(socket)) return socket;
  // Editors that start together start one daemon: the lock is held while it starts.
  const std::string lock_path = socket + ".lock";
  const int lock = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock < 0) return make_error(ErrorCode::kIo, "cannot open " + lock_path + ": " + std::strerror(errno));
  ::flock(lock, LOCK_EX);
  Status st;
  if (!socket_answers(socket)) {
    spdlog::info("engine: starting the shared engine for {} ({})", o.model_path, socket);
    st = spawn_daemon(o, socket);
    if (!st.ok() && socket_answers(socket)) st = Status::ok_status();  // another editor won the race
  }
  ::flock(lock, LOCK_UN);
  ::close(lock);
  if (!st.ok()) return st.error();
  return socket;
}

// ---- the editor's generator --------------------------------------------------------------------

Result<std::unique_ptr<SharedEngineGenerator>> SharedEngineGenerator::attach(const SharedEngineOptions& options) {
  MOE_TRY(std::shared_ptr<const engine::Tokenizer> tokenizer, engine::Tokenizer::load(options.model_path));
  MOE_TRY(std::string socket, ensure_engine_daemon(options));
  std::unique_ptr<SharedEngineGenerator> g(new SharedEngineGenerator(options, socket, std::move(tokenizer)));
  RemoteConfig rc;
  rc.preset = "moecode";
  rc.base_url = "unix:" + socket;
  rc.connect_timeout_ms = 5000;
  rc.timeout_ms = 600000;  // a long prompt on a busy engine is slow, not dead (the watcher knows)
  rc.max_retries = 0;
  rc.api_key_env = "";
  MOE_TRY(g->remote_, RemoteGenerator::connect(rc));
  const nlohmann::json& entry = g->remote_->model_entry();
  if (!entry.is_object()) return make_error(ErrorCode::kUnavailable, "the shared engine at " + socket + " did not answer");
  if (entry.contains("meta") && entry["meta"].is_object()) {
    g->daemon_pid_ = entry["meta"].value("pid", 0);
    g->model_name_ = entry["meta"].value("name", "");
  }
  // The watcher holds a connection open: when the daemon goes, the connection closes.
  auto url = parse_url("unix:" + socket);
  auto holder = std::make_shared<HttpClient>(*url);
  HttpTimeouts t;
  t.connect_ms = 5000;
  MOE_RETURN_IF_ERROR(holder->connect(t, g->stop_watch_));
  SharedEngineGenerator* self = g.get();
  g->watcher_ = std::thread([self, holder, stop = g->stop_watch_] {
    if (holder->wait_closed(stop) && !stop.cancelled()) self->lost("its connection closed");
  });
  spdlog::info("engine: attached to the shared engine (pid {}, {})", g->daemon_pid_, socket);
  return g;
}

SharedEngineGenerator::SharedEngineGenerator(SharedEngineOptions options, std::string socket,
                                             std::shared_ptr<const engine::Tokenizer> tokenizer)
    : options_(std::move(options)), socket_(std::move(socket)), tokenizer_(std::move(tokenizer)) {}

SharedEngineGenerator::~SharedEngineGenerator() {
  stop_watch_.cancel();
  if (watcher_.joinable()) watcher_.join();
}

void SharedEngineGenerator::lost(const std::string& why) {
  lost_ = true;
  if (told_.exchange(true)) return;
  const std::string msg = "moecode: the shared engine (pid " + std::to_string(daemon_pid_) + ") went away (" + why +
                          "); this editor now runs the model in its own process";
  spdlog::warn("{}", msg);
  if (options_.notify) options_.notify(msg);
}

Status SharedEngineGenerator::ensure_local() {
  if (local_) return Status::ok_status();
  assist::LocalGeneratorOptions lo;
  lo.backend = options_.backend;
  lo.n_threads = options_.threads;
  lo.n_ctx = options_.n_ctx;
  MOE_TRY(local_, assist::LocalGenerator::load(options_.model_path, lo));
  spdlog::info("engine: model loaded in this process: {}", local_->describe());
  return Status::ok_status();
}

std::string SharedEngineGenerator::describe() const {
  if (local_) return local_->describe();
  const std::string name = model_name_.empty() ? fs::path(options_.model_path).filename().string() : model_name_;
  return name + " (shared engine, pid " + std::to_string(daemon_pid_) + ", " + options_.backend + ")";
}

int SharedEngineGenerator::n_ctx() const { return local_ ? local_->n_ctx() : remote_->n_ctx(); }

int SharedEngineGenerator::count_tokens(std::string_view text) const {
  return static_cast<int>(tokenizer_->encode(text, false, false).size());
}

assist::SpecialTokenTexts SharedEngineGenerator::special_tokens() const {
  return assist::special_token_texts(*tokenizer_);
}

bool SharedEngineGenerator::has_special_token(std::string_view text) const {
  return assist::has_control_token(*tokenizer_, text);
}

Result<Generation> SharedEngineGenerator::generate(const assist::Prompt& prompt, const assist::GenerationOptions& options,
                                                   const assist::StreamFn& on_piece, const CancelToken& cancel) {
  if (!lost_ && !local_) {
    MOE_TRY(std::vector<int32_t> tokens, assist::tokenize_prompt(*tokenizer_, prompt));
    // Keep the prompt and the answer inside the window: drop the oldest tokens (after BOS).
    const int limit = remote_->n_ctx() - options.max_tokens;
    if (limit <= 1) return make_error(ErrorCode::kOutOfRange, "max_tokens leaves no room for a prompt");
    const bool bos = tokenizer_->special().add_bos && tokenizer_->special().bos != engine::kNoToken;
    if (static_cast<int>(tokens.size()) > limit) {
      const size_t drop = tokens.size() - static_cast<size_t>(limit);
      tokens.erase(tokens.begin() + (bos ? 1 : 0), tokens.begin() + (bos ? 1 : 0) + static_cast<long>(drop));
    }
    std::vector<int32_t> stop_ids;
    for (const std::string& s : options.stop_special) {
      const engine::Token t = tokenizer_->find_token(s);
      if (t != engine::kNoToken) stop_ids.push_back(t);
    }
    bool streamed = false;
    auto on = [&](std::string_view piece) {
      streamed = true;
      return !on_piece || on_piece(piece);
    };
    auto r = remote_->generate_tokens(tokens, stop_ids, options, on, cancel);
    if (r.ok() || r.error().code() != ErrorCode::kUnavailable || streamed) return r;
    lost(r.error().message());
  }
  MOE_RETURN_IF_ERROR(ensure_local());
  return local_->generate(prompt, options, on_piece, cancel);
}

Result<Generation> SharedEngineGenerator::chat(const std::vector<assist::ChatMessage>& messages,
                                               const assist::GenerationOptions& options,
                                               const assist::StreamFn& on_piece, const CancelToken& cancel) {
  if (!lost_ && !local_) {
    bool streamed = false;
    auto on = [&](std::string_view piece) {
      streamed = true;
      return !on_piece || on_piece(piece);
    };
    auto r = remote_->chat(messages, options, on, cancel);
    if (r.ok() || r.error().code() != ErrorCode::kUnavailable || streamed) return r;
    lost(r.error().message());
  }
  MOE_RETURN_IF_ERROR(ensure_local());
  return local_->chat(messages, options, on_piece, cancel);
}

}  // namespace moecode::remote
