// Discovery and admission: ignored (.gitignore at every level, .git/info/exclude,
// .moecodeignore), secret, binary, oversize and symlinked-out files never enter the index.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "lsp/workspace/discovery.h"
#include "lsp/workspace/index.h"
#include "lsp/workspace/temp_tree.h"

namespace moecode::workspace {
namespace {

using testing::TempTree;

std::vector<std::string> discovered(const FileFilter& f, SkipCounts* counts = nullptr) {
  SkipCounts local;
  std::vector<std::string> out;
  for (const auto& d : f.discover(counts ? counts : &local)) out.push_back(d.rel_path);
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) { return std::find(v.begin(), v.end(), s) != v.end(); }

// A repository with every kind of file that must stay out, and some that must get in.
void populate(const TempTree& t) {
  t.write("src/main.py", "def main(): pass\n");
  t.write("src/util.ts", "export function util() {}\n");
  t.write("README.md", "# readme\n");  // no grammar
  t.write(".gitignore", "build/\n*.gen.py\n!keep.gen.py\n/top_only.py\n");
  t.write("build/out.py", "def built(): pass\n");
  t.write("a.gen.py", "def generated(): pass\n");
  t.write("keep.gen.py", "def kept(): pass\n");
  t.write("top_only.py", "def top(): pass\n");
  t.write("sub/top_only.py", "def not_top(): pass\n");
  t.write("sub/.gitignore", "local_*.py\n");
  t.write("sub/local_x.py", "def local_x(): pass\n");
  t.write("sub/deep/local_y.py", "def local_y(): pass\n");
  t.write("sub/ok.py", "def ok(): pass\n");
  t.write(".moecodeignore", "vendor/\n");
  t.write("vendor/lib.py", "def vendored(): pass\n");
  t.write("pkg/.moecodeignore", "fixtures/\n/only_here.py\n");
  t.write("pkg/fixtures/f.py", "def fixture(): pass\n");
  t.write("pkg/only_here.py", "def only_here(): pass\n");
  t.write("pkg/sub/only_here.py", "def deeper(): pass\n");
  t.write(".env", "API_KEY=abc\n");
  t.write("config/.env.production", "X=1\n");
  t.write("keys/id_rsa", "not really\n");
  t.write("certs/server.pem", "pem\n");
  t.write("credentials.py", "def creds(): pass\n");  // a secret name even with a grammar
  t.write("bin/blob.py", std::string("def blob(): pass\n\0\x01\x02", 21));
  t.write("big.py", "x = 1\n" + std::string(4096, '#') + "\n");
}

TEST(DiscoveryTest, GitRepositoryRulesAndOurOwn) {
  TempTree t;
  populate(t);
  ASSERT_TRUE(t.git_init());
  t.write(".git/info/exclude", "excluded_by_info.py\n");
  t.write("excluded_by_info.py", "def ex(): pass\n");
  auto filter = FileFilter::open(t.root(), 1024);
  ASSERT_TRUE(filter.ok()) << filter.error().message();
  SkipCounts counts;
  const auto files = discovered(**filter, &counts);
  for (const char* in : {"src/main.py", "src/util.ts", "keep.gen.py", "sub/top_only.py", "sub/ok.py",
                         "pkg/sub/only_here.py", "bin/blob.py"}) {
    EXPECT_TRUE(has(files, in)) << in;
  }
  for (const char* out : {"README.md", "build/out.py", "a.gen.py", "top_only.py", "sub/local_x.py",
                          "sub/deep/local_y.py", "vendor/lib.py", "pkg/fixtures/f.py", "pkg/only_here.py", ".env",
                          "config/.env.production", "keys/id_rsa", "certs/server.pem", "credentials.py", "big.py",
                          "excluded_by_info.py"}) {
    EXPECT_FALSE(has(files, out)) << out;
  }
  EXPECT_TRUE(std::is_sorted(files.begin(), files.end()));
  EXPECT_GE(counts.ignored, 8u);
  EXPECT_GE(counts.secret, 5u);
  EXPECT_EQ(counts.oversize, 1u);
  EXPECT_GE(counts.unknown_language, 1u);
  // The binary .py is found by the walk but refused when read.
  std::string rel;
  EXPECT_EQ((*filter)->check("bin/blob.py", true, &rel), Verdict::kBinary);
  EXPECT_EQ(rel, "bin/blob.py");
  EXPECT_EQ((*filter)->check("src/main.py", true, nullptr), Verdict::kAdmit);
  EXPECT_EQ((*filter)->check(t.path("build/out.py"), true, nullptr), Verdict::kIgnored);
  EXPECT_EQ((*filter)->check("sub/deep/local_y.py", true, nullptr), Verdict::kIgnored);
  EXPECT_EQ((*filter)->check("vendor/lib.py", true, nullptr), Verdict::kIgnored);
  EXPECT_EQ((*filter)->check("pkg/fixtures/f.py", true, nullptr), Verdict::kIgnored);
  EXPECT_EQ((*filter)->check(".env", true, nullptr), Verdict::kSecret);
  EXPECT_EQ((*filter)->check("big.py", true, nullptr), Verdict::kOversize);
  EXPECT_EQ((*filter)->check("excluded_by_info.py", true, nullptr), Verdict::kIgnored);
  EXPECT_EQ((*filter)->check("/etc/hostname", true, nullptr), Verdict::kOutsideRoot);
  EXPECT_EQ((*filter)->check("../outside.py", true, nullptr), Verdict::kOutsideRoot);
  EXPECT_EQ((*filter)->check(".git/config", true, nullptr), Verdict::kIgnored);
}

TEST(DiscoveryTest, GitignoreAppliesWithoutARepositoryToo) {
  TempTree t;
  populate(t);
  auto filter = FileFilter::open(t.root(), 1024);
  ASSERT_TRUE(filter.ok());
  const auto files = discovered(**filter);
  EXPECT_TRUE(has(files, "src/main.py"));
  EXPECT_FALSE(has(files, "build/out.py"));
  EXPECT_FALSE(has(files, "sub/local_x.py"));
  EXPECT_FALSE(has(files, "vendor/lib.py"));
}

TEST(DiscoveryTest, RootInsideARepositoryUsesTheRepositoryRules) {
  TempTree t;
  ASSERT_TRUE(t.git_init());
  t.write(".gitignore", "generated/\nproj/skip.py\n");
  t.write("proj/a.py", "def a(): pass\n");
  t.write("proj/skip.py", "def skip(): pass\n");
  t.write("proj/generated/g.py", "def g(): pass\n");
  t.write("proj/.moecodeignore", "/local.py\n");
  t.write("proj/local.py", "def local(): pass\n");
  auto filter = FileFilter::open(t.path("proj"), 1 << 20);
  ASSERT_TRUE(filter.ok());
  const auto files = discovered(**filter);
  EXPECT_EQ(files, std::vector<std::string>{"a.py"});
  EXPECT_EQ(enclosing_git_worktree(t.path("proj")), t.root());
}

TEST(DiscoveryTest, SymlinksNeverLeadOutOfTheRootOrAround) {
  TempTree outside;
  outside.write("secret_lib.py", "def outside_fn(): pass\n");
  outside.write("dir/other.py", "def outside_dir_fn(): pass\n");
  TempTree t;
  t.write("src/a.py", "def a(): pass\n");
  t.write("src/real/b.py", "def b(): pass\n");
  t.link("src/out.py", outside.path("secret_lib.py"));
  t.link("src/outdir", outside.path("dir"));
  t.link("src/loop", t.path("src"));          // a folder link to its own ancestor
  t.link("src/alias", t.path("src/real"));    // a folder link inside the root
  t.link("src/a_link.py", t.path("src/a.py"));  // a file link inside the root
  t.link("src/dangling.py", t.path("nowhere.py"));
  t.link("src/env_link.py", t.path(".env"));
  t.write(".env", "SECRET=1\n");
  auto filter = FileFilter::open(t.root(), 1 << 20);
  ASSERT_TRUE(filter.ok());
  SkipCounts counts;
  const auto files = discovered(**filter, &counts);
  EXPECT_FALSE(has(files, "src/out.py"));
  EXPECT_FALSE(has(files, "src/outdir/other.py"));
  EXPECT_FALSE(has(files, "src/env_link.py"));
  EXPECT_TRUE(has(files, "src/a.py") || has(files, "src/a_link.py"));
  EXPECT_FALSE(has(files, "src/a.py") && has(files, "src/a_link.py")) << "the same file indexed twice";
  EXPECT_TRUE(has(files, "src/real/b.py") || has(files, "src/alias/b.py"));
  EXPECT_FALSE(has(files, "src/real/b.py") && has(files, "src/alias/b.py"));
  for (const auto& f : files) EXPECT_EQ(f.find("loop/"), std::string::npos) << f;
  EXPECT_GE(counts.symlink_outside, 3u);  // out.py, outdir, dangling.py
  EXPECT_GE(counts.symlink_loop, 1u);
  EXPECT_EQ((*filter)->check("src/out.py", true, nullptr), Verdict::kOutsideRoot);
  EXPECT_EQ((*filter)->check("src/env_link.py", true, nullptr), Verdict::kSecret);
}

TEST(DiscoveryTest, IndexHoldsNoneOfTheExcludedFiles) {
  TempTree outside;
  outside.write("x.py", "def outside_fn(): pass\n");
  TempTree t;
  populate(t);
  t.link("src/out.py", outside.path("x.py"));
  auto index = SymbolIndex::create({t.root()}, IndexOptions{.max_file_bytes = 1024, .n_workers = 2});
  ASSERT_TRUE(index.ok());
  auto stats = (*index)->build();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->skipped.binary, 1u);
  auto view = (*index)->view();
  for (const char* name : {"built", "generated", "top", "local_x", "local_y", "vendored", "fixture", "only_here",
                           "creds", "blob", "outside_fn"}) {
    EXPECT_TRUE(view.definitions(name).empty()) << name << " should not be indexed";
  }
  for (const char* name : {"main", "util", "kept", "not_top", "ok", "deeper"}) {
    EXPECT_EQ(view.definitions(name).size(), 1u) << name;
  }
  std::vector<std::string> paths;
  view.for_each_file([&](const FileEntry& f) { paths.push_back(f.path); });
  EXPECT_EQ(paths.size(), 6u);
  EXPECT_EQ(view.n_files(), 6u);
}

}  // namespace
}  // namespace moecode::workspace
