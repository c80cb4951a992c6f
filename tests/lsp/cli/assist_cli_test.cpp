// `moecode fix` and `moecode translate` as a user runs them: the real binary with a scripted
// generator (diffs, --apply, --json, exit codes, files kept inside the workspace, existing files
// never overwritten silently) and with the default model (acceptance: a fix of an undefined name
// that parses; a Python module translated to JavaScript that parses).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/run_command.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using testing::run_command;
using testing::shell_quote;

struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("moecode-assist-cli-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(counter()++));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  static int& counter() {
    static int n = 0;
    return n;
  }
  std::string write(const std::string& name, const std::string& text) const {
    const fs::path p = path / name;
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }
  std::string read(const std::string& name) const {
    std::ifstream in(path / name, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
};

testing::CommandResult moecode(const std::string& args) {
  return run_command(shell_quote(testing::moecode_binary()) + " " + args);
}

const std::string kShapes =
    "def area(radius):\n    return 3.14159 * radius ** 2\n\n\ndef total(items):\n    s = 0\n    for it in items:\n"
    "        s += it\n    return sm\n";

std::string script(const TempDir& dir, const json& replies) {
  return dir.write("script.json", json{{"replies", replies}}.dump());
}

TEST(FixCommandTest, PrintsADiffAppliesItAndReportsJson) {
  TempDir dir;
  const std::string file = dir.write("shapes.py", kShapes);
  const std::string s = script(dir, json::array({{{"match", "undefined name 'sm'"},
                                                  {"text", "```python\ndef total(items):\n    s = 0\n    for it in items:\n"
                                                           "        s += it\n    return s\n```"}}}));
  const std::string common = " --root " + shell_quote(dir.path.string()) + " --scripted-generator " + shell_quote(s) +
                             " --line 9 --message \"undefined name 'sm'\" ";
  auto diff = moecode("fix " + shell_quote(file) + common);
  ASSERT_EQ(diff.exit_code, 0) << diff.err;
  EXPECT_NE(diff.out.find("-    return sm\n+    return s\n"), std::string::npos) << diff.out;
  EXPECT_NE(diff.out.find("@@ -6,4 +6,4 @@"), std::string::npos) << diff.out;
  EXPECT_EQ(dir.read("shapes.py"), kShapes) << "without --apply the file is untouched";

  auto js = moecode("fix " + shell_quote(file) + common + "--json");
  ASSERT_EQ(js.exit_code, 0) << js.err;
  const json j = json::parse(js.out);
  EXPECT_EQ(j.at("target"), "function 'total' (lines 5-9)");
  ASSERT_EQ(j.at("edits").size(), 1u);
  EXPECT_EQ(j["edits"][0]["range"]["start"], (json{{"line", 8}, {"character", 0}}));
  EXPECT_EQ(j["edits"][0]["newText"], "    return s");
  EXPECT_EQ(j.at("applied"), false);

  auto applied = moecode("fix " + shell_quote(file) + common + "--apply");
  ASSERT_EQ(applied.exit_code, 0) << applied.err;
  EXPECT_EQ(dir.read("shapes.py"), kShapes.substr(0, kShapes.size() - 3) + "s\n");
}

TEST(FixCommandTest, RefusalsAndBadArgumentsHaveTheirExitCodes) {
  TempDir dir;
  const std::string file = dir.write("shapes.py", kShapes);
  const std::string broken = script(dir, json::array({{{"match", ""}, {"text", "```python\ndef total(items:\n    s = 0\n"
                                                                               "    for it in items:\n        s += it\n"
                                                                               "    return s\n```"}}}));
  auto refused = moecode("fix " + shell_quote(file) + " --root " + shell_quote(dir.path.string()) +
                         " --scripted-generator " + shell_quote(broken) + " --line 9 --apply");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("does not parse"), std::string::npos) << refused.err;
  EXPECT_EQ(dir.read("shapes.py"), kShapes);

  auto past = moecode("fix " + shell_quote(file) + " --scripted-generator " + shell_quote(broken) + " --line 99");
  EXPECT_EQ(past.exit_code, 2);
  EXPECT_NE(past.err.find("line 99 is past the end"), std::string::npos) << past.err;
  auto missing = moecode("fix /nonexistent/x.py --line 1");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("/nonexistent/x.py"), std::string::npos);
  const std::string bin = dir.write("blob.py", std::string("ab\0cd", 5));
  auto binary = moecode("fix " + shell_quote(bin) + " --line 1");
  EXPECT_EQ(binary.exit_code, 2);
  EXPECT_NE(binary.err.find("binary"), std::string::npos) << binary.err;
  // --apply outside the workspace root is refused.
  TempDir other;
  const std::string outside = other.write("o.py", kShapes);
  const std::string good = script(dir, json::array({{{"match", ""}, {"text", "```python\ndef total(items):\n    s = 0\n"
                                                                             "    for it in items:\n        s += it\n"
                                                                             "    return s\n```"}}}));
  auto escape = moecode("fix " + shell_quote(outside) + " --root " + shell_quote(dir.path.string()) +
                        " --scripted-generator " + shell_quote(good) + " --line 9 --apply");
  EXPECT_EQ(escape.exit_code, 2);
  EXPECT_NE(escape.err.find("outside the workspace"), std::string::npos) << escape.err;
  EXPECT_EQ(other.read("o.py"), kShapes);
}

const std::string kModule = "def add(a, b):\n    return a + b\n\n\nprint(add(1, 2))\n";

TEST(TranslateCommandTest, WritesNextToTheSourceNeverOverAFileAndNeverOutsideTheWorkspace) {
  TempDir dir;
  const std::string src = dir.write("m.py", kModule);
  const std::string s = script(dir, json::array({{{"match", "def add"}, {"text", "```javascript\nfunction add(a, b) {\n  return a + b;\n}\n```"}},
                                                 {{"match", "print(add"}, {"text", "```javascript\nconsole.log(add(1, 2));\n```"}}}));
  const std::string common = " --root " + shell_quote(dir.path.string()) + " --scripted-generator " + shell_quote(s);
  auto r = moecode("translate --to js " + shell_quote(src) + common + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("failed"), 0);
  EXPECT_EQ(j.at("parses"), true);
  EXPECT_EQ(j.at("units").size(), 2u);
  EXPECT_EQ(dir.read("m.js"), "function add(a, b) {\n  return a + b;\n}\n\nconsole.log(add(1, 2));\n");

  auto again = moecode("translate --to js " + shell_quote(src) + common);
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("exists; pass --force"), std::string::npos) << again.err;
  EXPECT_EQ(moecode("translate --to js " + shell_quote(src) + common + " --force").exit_code, 0);

  for (const std::string out : {"../escaped.js", "/tmp/moecode-escaped.js", "sub/../../escaped2.js"}) {
    auto esc = moecode("translate --to js " + shell_quote(src) + common + " -o " + shell_quote((dir.path / out).string()));
    EXPECT_EQ(esc.exit_code, 2) << out;
    EXPECT_NE(esc.err.find("outside the workspace"), std::string::npos) << out << ": " << esc.err;
  }
  EXPECT_FALSE(fs::exists(dir.path.parent_path() / "escaped.js"));
  // A symbolic link inside the workspace that points out of it does not let a write escape.
  fs::create_directory_symlink(fs::temp_directory_path(), dir.path / "link");
  auto via_link = moecode("translate --to js " + shell_quote(src) + common + " -o " +
                          shell_quote((dir.path / "link/moecode-escaped3.js").string()));
  EXPECT_EQ(via_link.exit_code, 2) << via_link.err;
  EXPECT_FALSE(fs::exists(fs::temp_directory_path() / "moecode-escaped3.js"));

  auto stdout_run = moecode("translate --to javascript " + shell_quote(src) + common + " -o -");
  EXPECT_EQ(stdout_run.exit_code, 0) << stdout_run.err;
  EXPECT_EQ(stdout_run.out, dir.read("m.js"));
  auto unknown = moecode("translate --to cobol " + shell_quote(src) + common);
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("cobol"), std::string::npos);
}

TEST(TranslateCommandTest, FailedUnitsGiveExitCodeOneAndAreListed) {
  TempDir dir;
  const std::string src = dir.write("m.py", kModule);
  const std::string s = script(dir, json::array({{{"match", "def add"}, {"text", "```javascript\nfunction add(a, b {\n```"}},
                                                 {{"match", ""}, {"text", "```javascript\nconsole.log(add(1, 2));\n```"}}}));
  auto r = moecode("translate --to js " + shell_quote(src) + " --root " + shell_quote(dir.path.string()) +
                   " --scripted-generator " + shell_quote(s));
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("failed: definition 'add' (lines 1-2)"), std::string::npos) << r.err;
  EXPECT_NE(dir.read("m.js").find("// moecode: could not translate definition 'add'"), std::string::npos);
}

// ---- with the default model (scripts/setup installs it) ----------------------------------------------

std::string node_check(const std::string& file) {  // the file parses as JavaScript (node --check)
  auto r = run_command("node --check " + shell_quote(file) + " 2>&1");
  return r.exit_code == 0 ? "" : r.out + r.err;
}

TEST(DefaultModelAssist, FixOfAnUndefinedNameReturnsAnEditThatParses) {
  TempDir dir;
  const std::string file = dir.write("shapes.py", kShapes);
  auto r = moecode("fix " + shell_quote(file) + " --root " + shell_quote(dir.path.string()) +
                   " --line 9 --message \"undefined name 'sm'\" --json -t 2");
  ASSERT_EQ(r.exit_code, 0) << r.err << " (the default model comes from scripts/setup)";
  const json j = json::parse(r.out);
  EXPECT_FALSE(j.at("edits").empty());
  EXPECT_EQ(j.at("problemsAfter"), 0);
  // Apply it and let Python itself compile the result.
  ASSERT_EQ(moecode("fix " + shell_quote(file) + " --root " + shell_quote(dir.path.string()) +
                    " --line 9 --message \"undefined name 'sm'\" --apply -t 2").exit_code, 0);
  auto py = run_command("python3 -m py_compile " + shell_quote(file) + " 2>&1");
  EXPECT_EQ(py.exit_code, 0) << py.out << dir.read("shapes.py");
  EXPECT_EQ(dir.read("shapes.py").find("return sm"), std::string::npos) << dir.read("shapes.py");
}

TEST(DefaultModelAssist, TranslateAPythonModuleToJavaScriptWritesAFileThatParses) {
  TempDir dir;
  const std::string src = dir.write("mathx.py",
                                    "import math\n\n\ndef area(radius):\n    \"\"\"Area of a circle.\"\"\"\n"
                                    "    return math.pi * radius ** 2\n\n\ndef total(items):\n    s = 0\n"
                                    "    for it in items:\n        s += it\n    return s\n\n\nprint(total([1, 2, 3]))\n");
  auto r = moecode("translate --to javascript " + shell_quote(src) + " --root " + shell_quote(dir.path.string()) +
                   " --json -t 2");
  ASSERT_LE(r.exit_code, 1) << r.err;
  const json j = json::parse(r.out);
  EXPECT_EQ(j.at("parses"), true) << dir.read("mathx.js");
  EXPECT_EQ(j.at("units").size(), 4u);
  ASSERT_TRUE(fs::exists(dir.path / "mathx.js"));
  EXPECT_EQ(node_check((dir.path / "mathx.js").string()), "") << dir.read("mathx.js");
  int translated = 0;
  for (const auto& u : j.at("units")) translated += u.at("ok").get<bool>() ? 1 : 0;
  EXPECT_GE(translated, 2) << r.out;
}

}  // namespace
}  // namespace moecode
