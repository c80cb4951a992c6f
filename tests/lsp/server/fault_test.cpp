// Faults around the real `moecode` binary: the model file truncated, then restored, or
// replaced while the server serves; a cache folder that cannot be used; a full disk (the
// log on /dev/full, outputs on /dev/full, a file-size limit); workspace files deleted and
// renamed while the workspace is indexed; clients that vanish mid-request and mid-message.
// Each gives a clear message, the server keeps serving, and no edit is lost (the server's
// copy of the document, by moecode.status's digest, is the client's).
#include <signal.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "lsp/workspace/temp_tree.h"
#include "support/child_process.h"
#include "support/gguf_rewrite.h"
#include "support/lsp_stream_client.h"
#include "support/lsp_text_model.h"
#include "support/run_command.h"
#include "support/tcp_client.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ChildProcess;
using testing::LspStreamClient;
using testing::TempTree;
using testing::TextModel;

bool sanitized() {
  const char* s = std::getenv("MOECODE_SANITIZED");
  return s && *s && std::string(s) != "0";
}
int slow(int ms) { return sanitized() ? ms * 4 : ms; }

std::string fixture(const std::string& name) { return std::string(MOECODE_TEST_DATA) + "/fixtures/models/" + name; }

// A stdio session that keeps the notifications it reads past while waiting for a response.
class Session {
 public:
  explicit Session(const std::vector<std::string>& argv) : p_(argv) {}
  ChildProcess& process() { return p_; }

  json call(const std::string& method, json params, int timeout_ms = 20000) {
    const int id = next_id_++;
    if (!p_.send(json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}})) return json();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      auto m = p_.read_message(200);
      if (!m) {
        if (p_.wait(0)) return json();  // the server is gone
        continue;
      }
      if (m->contains("method")) {
        if (m->contains("id")) {  // a request of the server's: answer it
          json result = (*m)["method"] == "workspace/configuration" ? json::array({json::object()}) : json();
          p_.send(json{{"jsonrpc", "2.0"}, {"id", (*m)["id"]}, {"result", result}});
        } else {
          notes_.push_back(*m);
        }
        continue;
      }
      if ((*m)["id"] == id) return *m;
    }
    return json();
  }
  void notify(const std::string& method, json params) {
    p_.send(json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
  }
  // Notifications seen so far with `method` (params).
  std::vector<json> notes(const std::string& method) const {
    std::vector<json> out;
    for (const auto& n : notes_) {
      if (n["method"] == method) out.push_back(n.value("params", json()));
    }
    return out;
  }
  std::string shown_messages() const {
    std::string all;
    for (const auto& n : notes("window/showMessage")) all += n.value("message", "") + "\n";
    return all;
  }
  json status(const std::string& uri = "") {
    json args = uri.empty() ? json::array() : json::array({json{{"textDocument", {{"uri", uri}}}}});
    json r = call("workspace/executeCommand", json{{"command", "moecode.status"}, {"arguments", args}});
    return r.contains("result") ? r["result"] : json();
  }
  void initialize(json options = json::object(), json folders = nullptr) {
    json params{{"processId", nullptr}, {"capabilities", {{"window", {{"workDoneProgress", false}}}}},
                {"initializationOptions", std::move(options)}};
    if (!folders.is_null()) params["workspaceFolders"] = std::move(folders);
    json r = call("initialize", params);
    ASSERT_TRUE(r.contains("result")) << r.dump() << p_.stderr_text();
    notify("initialized", json::object());
  }
  // Waits until the model state (moecode.status) is `state`.
  bool wait_state(const std::string& state, int timeout_ms = 20000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (status().value("state", "") == state) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }
  void shutdown_and_exit() {
    EXPECT_TRUE(call("shutdown", nullptr).contains("result"));
    notify("exit", nullptr);
    EXPECT_EQ(p_.wait(slow(10000)), std::optional<int>(0)) << p_.stderr_text();
  }

 private:
  ChildProcess p_;
  int next_id_ = 1;
  std::vector<json> notes_;
};

json position(const std::string& uri, uint32_t line, uint32_t character) {
  return json{{"textDocument", {{"uri", uri}}}, {"position", {{"line", line}, {"character", character}}}};
}

// didChange inserting `text` at `p`.
json did_change(const std::string& uri, int64_t version, TextModel::Pos p, const std::string& text) {
  json range{{"start", TextModel::json_pos(p)}, {"end", TextModel::json_pos(p)}};
  json change{{"range", std::move(range)}, {"text", text}};
  return json{{"textDocument", {{"uri", uri}, {"version", version}}}, {"contentChanges", json::array({std::move(change)})}};
}

// The document's text at the server equals `text` (and `version`).
void expect_document(Session& s, const std::string& uri, const std::string& text, int64_t version) {
  const json d = s.status(uri).value("document", json());
  EXPECT_EQ(d.value("fnv1a64", ""), testing::fnv1a64(text)) << d.dump();
  EXPECT_EQ(d.value("length", size_t{0}), text.size());
  EXPECT_EQ(d.value("version", int64_t{0}), version);
}

void expect_clean_stderr(const std::string& err) {
  EXPECT_EQ(err.find("Sanitizer"), std::string::npos) << err.substr(0, 4000);
  EXPECT_EQ(err.find("runtime error"), std::string::npos) << err.substr(0, 4000);
}

// ---- the model file ------------------------------------------------------------------------

TEST(FaultTest, ModelFileTruncatedWhileServingIsReportedAndRestoringItBringsCompletionsBack) {
  TempTree t;
  const std::string model = t.path("model.gguf");
  fs::copy_file(fixture("tiny-qwen2.q4_0.gguf"), model);
  Session s({testing::moecode_binary(), "serve", "--stdio", "-m", model, "--threads", "1", "--no-repo-context"});
  s.initialize();
  ASSERT_TRUE(s.wait_state("ready")) << s.process().stderr_text();
  const std::string uri = "file://" + t.path("a.py");
  TextModel doc("def add(a, b):\n    return ");
  s.notify("textDocument/didOpen", json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", doc.text()}}}});
  json r = s.call("textDocument/completion", position(uri, 1, 11));
  ASSERT_TRUE(r.contains("result")) << r.dump();

  // Truncated under the server (a download or a copy in progress): the mapping must not be read.
  fs::resize_file(model, 4096);
  r = s.call("textDocument/completion", position(uri, 1, 11));
  ASSERT_FALSE(r.is_null()) << "the server died: " << s.process().stderr_text();
  if (r.contains("result")) {
    EXPECT_TRUE(r["result"]["items"].empty()) << r.dump();
  }
  EXPECT_TRUE(s.wait_state("error")) << s.status().dump();
  EXPECT_NE(s.status().value("model", "").find("model.gguf"), std::string::npos) << s.status().dump();
  EXPECT_NE(s.shown_messages().find("changed on disk"), std::string::npos) << s.shown_messages();

  // Edits go on meanwhile, and none is lost.
  doc.apply({1, 11}, {1, 11}, "a + b");
  s.notify("textDocument/didChange", did_change(uri, 2, {1, 11}, "a + b"));
  expect_document(s, uri, doc.text(), 2);

  // The file comes back (renamed into place, as a download finishes): completions return.
  fs::copy_file(fixture("tiny-qwen2.q4_0.gguf"), t.path("model.part"));
  fs::rename(t.path("model.part"), model);
  r = s.call("textDocument/completion", position(uri, 1, 16));
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_TRUE(s.wait_state("ready")) << s.status().dump();
  s.shutdown_and_exit();
  expect_clean_stderr(s.process().stderr_text());
}

TEST(FaultTest, ModelFileReplacedWhileServingIsReloaded) {
  TempTree t;
  const std::string model = t.path("model.gguf");
  fs::copy_file(fixture("tiny-qwen2.q4_0.gguf"), model);
  Session s({testing::moecode_binary(), "serve", "--stdio", "-m", model, "--threads", "1", "--no-repo-context"});
  s.initialize();
  ASSERT_TRUE(s.wait_state("ready")) << s.process().stderr_text();
  const std::string before = s.status().value("model", "");
  const std::string uri = "file://" + t.path("a.py");
  s.notify("textDocument/didOpen", json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", "x = "}}}});
  ASSERT_TRUE(s.call("textDocument/completion", position(uri, 0, 4)).contains("result"));

  // Replaced by another model through a rename: the next request runs the new one.
  fs::copy_file(fixture("tiny-mixtral.q4_0.gguf"), t.path("model.part"));
  fs::rename(t.path("model.part"), model);
  ASSERT_TRUE(s.call("textDocument/completion", position(uri, 0, 4)).contains("result"));
  EXPECT_TRUE(s.wait_state("ready"));
  EXPECT_NE(s.status().value("model", ""), before);

  // Overwritten in place (cp onto the file: truncated, then written): no crash, reloaded.
  {
    std::ifstream in(fixture("tiny-qwen2.q4_0.gguf"), std::ios::binary);
    std::ofstream out(model, std::ios::binary | std::ios::trunc);
    out << in.rdbuf();
  }
  ASSERT_TRUE(s.call("textDocument/completion", position(uri, 0, 4)).contains("result"));
  EXPECT_TRUE(s.wait_state("ready"));
  EXPECT_EQ(s.status().value("model", ""), before);
  s.shutdown_and_exit();
  expect_clean_stderr(s.process().stderr_text());
}

// A valid GGUF whose attention heads are beyond the CPU kernels (key_length 1100), chosen
// through the client's `model` setting: refused at load with the key named; the server, the
// open document and the edits made meanwhile survive, and a good model brings completions back.
TEST(FaultTest, AModelSettingWithAHeadSizeBeyondTheBackendIsRefusedAndTheServerKeepsServing) {
  TempTree t;
  const std::string bad = testing::write_qwen2_with_key_head(fixture("tiny-qwen2.f32.gguf"), "fault_head1100", 1100);
  ASSERT_FALSE(bad.empty());
  const std::string good = t.path("good.gguf");
  fs::copy_file(fixture("tiny-qwen2.q4_0.gguf"), good);
  Session s({testing::moecode_binary(), "serve", "--stdio", "--threads", "1", "--no-repo-context"});
  s.initialize(json{{"moecode", {{"model", bad}}}});
  EXPECT_TRUE(s.wait_state("error")) << s.status().dump() << s.process().stderr_text();
  const std::string uri = "file://" + t.path("a.py");
  TextModel doc("def add(a, b):\n    return ");
  s.notify("textDocument/didOpen", json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", doc.text()}}}});
  json r = s.call("textDocument/inlineCompletion", position(uri, 1, 11));
  ASSERT_TRUE(r.contains("result")) << "the server died: " << r.dump() << s.process().stderr_text();
  EXPECT_TRUE(r["result"]["items"].empty());
  EXPECT_NE(s.shown_messages().find("key_length"), std::string::npos) << s.shown_messages();
  doc.apply({1, 11}, {1, 11}, "a + b");
  s.notify("textDocument/didChange", did_change(uri, 2, {1, 11}, "a + b"));
  expect_document(s, uri, doc.text(), 2);

  s.notify("workspace/didChangeConfiguration", json{{"settings", {{"moecode", {{"model", good}}}}}});
  EXPECT_TRUE(s.wait_state("ready")) << s.status().dump() << s.process().stderr_text();
  r = s.call("textDocument/completion", position(uri, 1, 16));
  ASSERT_TRUE(r.contains("result")) << r.dump();
  expect_document(s, uri, doc.text(), 2);
  s.shutdown_and_exit();
  fs::remove(bad);
  expect_clean_stderr(s.process().stderr_text());
}

// ---- cache folder and disk -----------------------------------------------------------------

TEST(FaultTest, AnUnusableCacheFolderLeavesTheServerServingWithoutAModel) {
  TempTree t;
  t.write("not-a-dir", "x");
  // No model anywhere: $XDG_CACHE_HOME is a file (so no cache folder can exist under it), HOME
  // does not exist, the working directory has no models/.
  Session s({"/bin/sh", "-c",
             "cd " + testing::shell_quote(t.root()) + " && exec env -u MOECODE_MODEL XDG_CACHE_HOME=" +
                 testing::shell_quote(t.path("not-a-dir/cache")) + " HOME=/nonexistent " +
                 testing::shell_quote(testing::moecode_binary()) + " serve --stdio --no-repo-context"});
  s.initialize();
  EXPECT_TRUE(s.wait_state("noModel")) << s.status().dump() << s.process().stderr_text();
  const std::string uri = "file://" + t.path("a.py");
  s.notify("textDocument/didOpen", json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", "x = 1\n"}}}});
  json r = s.call("textDocument/inlineCompletion", position(uri, 0, 5));
  ASSERT_TRUE(r.contains("result")) << r.dump();
  EXPECT_TRUE(r["result"]["items"].empty());
  EXPECT_NE(s.shown_messages().find("completions are off"), std::string::npos) << s.shown_messages();
  expect_document(s, uri, "x = 1\n", 1);
  s.shutdown_and_exit();
}

TEST(FaultTest, ALogFileOnAFullDiskIsReportedAndTheServerKeepsServing) {
  TempTree t;
  const std::string script = t.path("script.json");
  t.write("script.json", R"({"replies": [], "fallback": "    return 1\n"})");
  Session s({testing::moecode_binary(), "serve", "--stdio", "--scripted-generator", script, "--log-file", "/dev/full",
             "--log-level", "debug"});
  s.initialize();
  const std::string uri = "file://" + t.path("a.py");
  TextModel doc("def f():\n");
  s.notify("textDocument/didOpen", json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", doc.text()}}}});
  for (int i = 0; i < 50; ++i) {  // enough log lines to fill the file's buffer many times
    json r = s.call("textDocument/completion", position(uri, 1, 0));
    ASSERT_TRUE(r.contains("result")) << i << ": " << r.dump() << s.process().stderr_text();
  }
  expect_document(s, uri, doc.text(), 1);
  s.shutdown_and_exit();
  const std::string err = s.process().stderr_text();
  EXPECT_NE(err.find("/dev/full"), std::string::npos) << err.substr(0, 2000);
  EXPECT_NE(err.find("No space left on device"), std::string::npos) << err.substr(0, 2000);
  EXPECT_LT(err.size(), 64u * 1024) << "the log error is reported once, not per line";
}

TEST(FaultTest, OutputsOnAFullDiskFailClearlyAndLeaveTheTargetAlone) {
  TempTree t;
  t.write("m.py", "def add(a, b):\n    return a + b\n");
  t.write("script.json", R"({"replies": [{"match": "", "text": "```javascript\nfunction add(a, b) {\n  return a + b;\n}\n```"}]})");
  // A full disk: /dev/full (every write fails with ENOSPC). Where the test may create device
  // nodes (root), its own copy of /dev/full inside the workspace, so that a regression cannot
  // replace the machine's; else /dev/full itself (which a non-root process cannot replace).
  std::string full = t.path("full");
  std::string root = t.root();
  if (::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)) != 0) {
    full = "/dev/full";
    root = "/dev";
  }
  auto r = testing::run_moecode("translate --to js " + testing::shell_quote(t.path("m.py")) + " --root " +
                                testing::shell_quote(root) + " --force -o " + testing::shell_quote(full) +
                                " --scripted-generator " + testing::shell_quote(t.path("script.json")));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find(full), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("No space left on device"), std::string::npos) << r.err;
  struct stat st {};
  ASSERT_EQ(::stat(full.c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode)) << full << " was replaced by a regular file";

  // A file-size limit (EFBIG, the disk-full of a quota): the fix is not applied, the file is
  // intact, and the process is not killed by SIGXFSZ.
  std::string big = "```python\ndef add(a, b):\n";
  for (int i = 0; i < 200; ++i) big += "    x" + std::to_string(i) + " = a + b  # a long line to pass the limit\n";
  big += "    return a + b\n```";
  t.write("fix.json", json{{"replies", {{{"match", ""}, {"text", big}}}}}.dump());
  const std::string original = "def add(a, b):\n    return a + c\n";
  t.write("m.py", original);
  r = testing::run_command("ulimit -f 4; " + testing::shell_quote(testing::moecode_binary()) + " fix " +
                           testing::shell_quote(t.path("m.py")) + " --root " + testing::shell_quote(t.root()) +
                           " --line 2 --message \"undefined name 'c'\" --apply" +
                           " --scripted-generator " + testing::shell_quote(t.path("fix.json")));
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("File too large"), std::string::npos) << r.err;
  std::ifstream in(t.path("m.py"));
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), original);
  for (const auto& e : fs::directory_iterator(t.root())) {
    EXPECT_EQ(e.path().filename().string().find(".moecode-tmp"), std::string::npos) << "left behind: " << e.path();
  }
}

// ---- the workspace -------------------------------------------------------------------------

TEST(FaultTest, WorkspaceFilesDeletedAndRenamedMidIndexLoseNothing) {
  TempTree t;
  constexpr int kFiles = 3000;
  auto file = [&](int i) { return t.path("pkg" + std::to_string(i % 30) + "/m" + std::to_string(i) + ".py"); };
  for (int i = 0; i < kFiles; ++i) {
    t.write("pkg" + std::to_string(i % 30) + "/m" + std::to_string(i) + ".py",
            "def f" + std::to_string(i) + "(x):\n    return x + " + std::to_string(i) + "\n");
  }
  t.write("main.py", "import pkg0\n\n\ndef main():\n    return f1(2)\n");
  t.write("script.json", R"({"replies": [], "fallback": "f1(2)\n", "fim": true})");
  Session s({testing::moecode_binary(), "serve", "--stdio", "--scripted-generator", t.path("script.json")});
  json init = s.call("initialize", json{{"processId", nullptr}, {"capabilities", json::object()},
                                         {"workspaceFolders", {{{"uri", "file://" + t.root()}, {"name", "ws"}}}}});
  ASSERT_TRUE(init.contains("result")) << init.dump();

  // From before indexing starts until it ends: files vanish and move (and come back), whole
  // folders go, and the file the editor has open is deleted.
  std::atomic<bool> stop{false};
  std::atomic<int> n_vandalised{0};
  std::thread vandal([&] {
    for (int pass = 0; !stop; ++pass) {
      for (int i = pass % 3; i < kFiles && !stop; i += 3) {
        std::error_code ec;
        const std::string p = file(i);
        if (i % 2) fs::remove(p, ec);
        else if (pass % 2) fs::rename(p + ".moved", p, ec);
        else fs::rename(p, p + ".moved", ec);
        if (i % 600 == 0) fs::remove_all(t.path("pkg" + std::to_string((i / 600 + pass) % 30)), ec);
        ++n_vandalised;
      }
      std::error_code ec;
      fs::remove(t.path("main.py"), ec);
    }
  });
  s.notify("initialized", json::object());
  const std::string uri = "file://" + t.path("main.py");
  TextModel doc("import pkg0\n\n\ndef main():\n    return f1(2)\n");
  s.notify("textDocument/didOpen", json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", doc.text()}}}});
  int64_t version = 1;
  const auto indexing = [&] { return s.status()["indexing"].value("active", true); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(slow(60000));
  for (int i = 0; std::chrono::steady_clock::now() < deadline; ++i) {  // the user keeps typing
    const TextModel::Pos p{4, 16};
    doc.apply(p, p, "+1");
    s.notify("textDocument/didChange", did_change(uri, ++version, p, "+1"));
    if (i % 10 == 0) {
      EXPECT_FALSE(s.call("textDocument/inlineCompletion", position(uri, 4, 10)).is_null());
      if (i >= 20 && !indexing()) break;
    }
  }
  stop = true;
  vandal.join();
  // Indexing ran while files went (the editor was told), ended with what it could read, and
  // the server answers with repository context.
  EXPECT_FALSE(indexing()) << s.status().dump();
  bool was_active = false;
  for (const json& st : s.notes("moecode/status")) was_active = was_active || st["indexing"].value("active", false);
  EXPECT_TRUE(was_active);
  EXPECT_GT(n_vandalised.load(), kFiles / 3);
  EXPECT_NE(s.status()["indexing"].value("message", "").find("indexed"), std::string::npos) << s.status().dump();
  json r = s.call("workspace/executeCommand", json{{"command", "moecode.context"}, {"arguments", {position(uri, 4, 10)}}});
  EXPECT_TRUE(r.contains("result")) << r.dump();
  expect_document(s, uri, doc.text(), version);
  s.shutdown_and_exit();
  expect_clean_stderr(s.process().stderr_text());
}

// ---- clients that vanish -------------------------------------------------------------------

TEST(FaultTest, ClientsThatVanishMidRequestOrMidMessageDoNotDisturbTheOthers) {
  TempTree t;
  std::string slow_reply;
  for (int i = 0; i < 200; ++i) slow_reply.append("x").append(std::to_string(i)).append(" ");
  t.write("script.json", json{{"replies", json::array()}, {"fallback", slow_reply}, {"tokenDelayMs", 5}}.dump());
  ChildProcess server({testing::moecode_binary(), "serve", "--listen", "127.0.0.1:0", "--scripted-generator",
                       t.path("script.json")});
  int port = 0;
  for (int i = 0; i < 1000 && port == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const std::string err = server.stderr_text();
    const std::string key = "listening on 127.0.0.1:";
    if (auto at = err.find(key); at != std::string::npos) port = std::atoi(err.c_str() + at + key.size());
  }
  ASSERT_GT(port, 0) << server.stderr_text();
  auto connect = [&] { return std::make_unique<LspStreamClient>(testing::connect_to_loopback(static_cast<uint16_t>(port))); };
  auto open = [&](LspStreamClient& c, const std::string& uri, const std::string& text) {
    json caps{{"workspace", {{"applyEdit", true}}}};
    ASSERT_TRUE(c.call("initialize", json{{"capabilities", caps}}).contains("result"));
    c.notify("initialized", json::object());
    c.notify("textDocument/didOpen", json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", text}}}});
  };

  auto steady = connect();  // stays connected throughout
  const std::string steady_uri = "file:///steady.py";
  open(*steady, steady_uri, "def f():\n    ");
  for (int round = 0; round < 3; ++round) {
    // Gone while its completion runs on the shared engine.
    {
      auto c = connect();
      open(*c, "file:///gone.py", "x = ");
      c->request("textDocument/completion", position("file:///gone.py", 0, 4));
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Gone before the server's workspace/applyEdit (for moecode.insertCompletion) is answered.
    {
      auto c = connect();
      open(*c, "file:///gone2.py", "y = ");
      c->request("workspace/executeCommand",
                 json{{"command", "moecode.insertCompletion"}, {"arguments", {position("file:///gone2.py", 0, 4)}}});
      c->close();
    }
    // Gone in the middle of a frame, and in the middle of a header.
    {
      auto c = connect();
      open(*c, "file:///gone3.py", "z = ");
      c->write_raw("Content-Length: 500\r\n\r\n{\"jsonrpc\": \"2.0\", \"id\": 9, \"meth");
    }
    {
      auto c = connect();
      c->write_raw("Content-Len");
    }
    // Meanwhile the steady client is answered, and its document is intact.
    json r = steady->call("textDocument/completion", position(steady_uri, 1, 4), slow(20000));
    EXPECT_TRUE(r.contains("result")) << r.dump() << server.stderr_text();
  }
  json st = steady->call("workspace/executeCommand",
                         json{{"command", "moecode.status"}, {"arguments", {{{"textDocument", {{"uri", steady_uri}}}}}}});
  EXPECT_EQ(st["result"]["document"].value("fnv1a64", ""), testing::fnv1a64("def f():\n    ")) << st.dump();
  EXPECT_EQ(steady->n_unexpected(), 0);
  steady.reset();
  ::kill(server.pid(), SIGTERM);
  EXPECT_EQ(server.wait(slow(20000)), std::optional<int>(0)) << server.stderr_text();
  const std::string err = server.stderr_text();
  EXPECT_NE(err.find("disconnected"), std::string::npos) << err.substr(0, 4000);
  expect_clean_stderr(err);
}

TEST(FaultTest, AStdioClientThatVanishesMidRequestEndsTheSessionPromptly) {
  TempTree t;
  std::string slow_reply;
  for (int i = 0; i < 500; ++i) slow_reply.append("y").append(std::to_string(i)).append(" ");
  t.write("script.json", json{{"replies", json::array()}, {"fallback", slow_reply}, {"tokenDelayMs", 10}}.dump());
  Session s({testing::moecode_binary(), "serve", "--stdio", "--scripted-generator", t.path("script.json")});
  s.initialize();
  s.notify("textDocument/didOpen", json{{"textDocument", {{"uri", "file:///a.py"}, {"languageId", "python"}, {"version", 1}, {"text", "x = "}}}});
  s.process().send(json{{"jsonrpc", "2.0"}, {"id", 77}, {"method", "textDocument/completion"}, {"params", position("file:///a.py", 0, 4)}});
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  s.process().close_stdin();
  // The spec's exit code for a session that ends without shutdown; well before the generation
  // would have ended (500 tokens x 10 ms).
  EXPECT_EQ(s.process().wait(slow(3000)), std::optional<int>(1)) << s.process().stderr_text();
  expect_clean_stderr(s.process().stderr_text());
}

}  // namespace
}  // namespace moecode
