// `moecode serve` (the real binary, a scripted generator) completes with repository context:
// it indexes the workspace folders the client names, and the prompt of a completion carries
// the definition of a function the cursor calls from another file. The scripted generator
// answers only when that definition is in the prompt. With --no-repo-context the prompt is
// the current document alone.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "support/child_process.h"
#include "support/run_command.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ChildProcess;

json request(int id, const std::string& method, json params) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}};
}
json notification(const std::string& method, json params) {
  return json{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}};
}

struct Workspace {
  Workspace() : dir(fs::temp_directory_path() / ("moecode_repoctx_" + std::to_string(::getpid()))) {
    fs::create_directories(dir);
    std::ofstream(dir / "billing.py") << "TAX = 0.2\n\n\n"
                                          "def compute_invoice_total(items, tax_rate):\n"
                                          "    subtotal = sum(item.price * item.quantity for item in items)\n"
                                          "    return round(subtotal * (1 + tax_rate), 2)\n";
    std::ofstream(dir / "script.json")
        << R"js({"replies": [{"match": "return round(subtotal * (1 + tax_rate), 2)", "text": "items, TAX)"}],)js"
        << R"js( "fallback": "pass"})js";
  }
  ~Workspace() { fs::remove_all(dir); }
  fs::path dir;
};

// Opens report.py in a server started with `extra` arguments and asks for an inline
// completion at its end, `tries` times at most (the index is built in the background).
std::string complete(const Workspace& ws, const std::vector<std::string>& extra, const std::string& want, int tries) {
  std::vector<std::string> args{testing::moecode_binary(), "serve", "--stdio", "--scripted-generator",
                                (ws.dir / "script.json").string()};
  args.insert(args.end(), extra.begin(), extra.end());
  ChildProcess p(args);
  const std::string root = "file://" + ws.dir.string();
  EXPECT_TRUE(p.send(request(1, "initialize",
                             json{{"capabilities", json::object()},
                                  {"rootUri", root},
                                  {"workspaceFolders", json::array({json{{"uri", root}, {"name", "w"}}})}})));
  auto init = p.read_response(1);
  EXPECT_TRUE(init.has_value()) << p.stderr_text();
  EXPECT_TRUE(p.send(notification("initialized", json::object())));
  const std::string text = "from billing import compute_invoice_total\n\n\ndef report(items):\n"
                           "    total = compute_invoice_total(";
  const std::string uri = root + "/report.py";
  EXPECT_TRUE(p.send(notification(
      "textDocument/didOpen",
      json{{"textDocument", {{"uri", uri}, {"languageId", "python"}, {"version", 1}, {"text", text}}}})));
  std::string got;
  for (int i = 0; i < tries; ++i) {
    EXPECT_TRUE(p.send(request(10 + i, "textDocument/inlineCompletion",
                               json{{"textDocument", {{"uri", uri}}},
                                    {"position", {{"line", 4}, {"character", 34}}},
                                    {"context", {{"triggerKind", 1}}}})));
    auto r = p.read_response(10 + i);
    if (!r || !r->contains("result")) {
      ADD_FAILURE() << (r ? r->dump() : "no response") << p.stderr_text();
      break;
    }
    const json& items = (*r)["result"]["items"];
    got = items.empty() ? "" : items[0]["insertText"].get<std::string>();
    if (got == want) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(p.send(request(2, "shutdown", nullptr)));
  p.read_response(2);
  EXPECT_TRUE(p.send(notification("exit", nullptr)));
  EXPECT_EQ(p.wait(), 0) << p.stderr_text();
  return got;
}

TEST(RepoContextTest, DefinitionFromAnotherFileReachesTheCompletionPrompt) {
  Workspace ws;
  EXPECT_EQ(complete(ws, {}, "items, TAX)", 100), "items, TAX)");
}

TEST(RepoContextTest, NoRepoContextCompletesFromTheDocumentAlone) {
  Workspace ws;
  EXPECT_EQ(complete(ws, {"--no-repo-context"}, "items, TAX)", 3), "pass");
}

}  // namespace
}  // namespace moecode
