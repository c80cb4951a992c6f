// lsp/workspace/git_diff: the diff `moecode review` reads, on temporary repositories made
// with the git CLI: which changes each mode picks, line numbers, the new text, paths, and
// the files that must never reach a prompt (deleted, binary, secret, ignored, oversize).
#include "lsp/workspace/git_diff.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>

#include "temp_tree.h"

namespace moecode::workspace {
namespace {

using testing::TempTree;

class GitDiffTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(tree_.git_init()); }

  // Runs git in the repository; fails the test when git fails.
  void git(const std::string& args) {
    const std::string cmd = "git -C '" + tree_.root() +
                            "' -c user.name=moecode -c user.email=test@example.com -c commit.gpgsign=false "
                            "-c core.autocrlf=false " + args + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  }
  void commit(const std::string& message) {
    git("add -A");
    git("commit -q -m '" + message + "'");
  }
  RepoDiff diff(DiffMode mode, const std::string& base = {}, std::vector<std::string> paths = {}) {
    DiffRequest req;
    req.repo_dir = tree_.root();
    req.mode = mode;
    req.base = base;
    req.paths = std::move(paths);
    auto d = read_diff(req);
    EXPECT_TRUE(d.ok()) << d.error().message();
    return d.ok() ? std::move(*d) : RepoDiff{};
  }
  static const DiffFile* file(const RepoDiff& d, const std::string& path) {
    for (const DiffFile& f : d.files) {
      if (f.path == path) return &f;
    }
    return nullptr;
  }
  static std::string skip_reason(const RepoDiff& d, const std::string& path) {
    for (const SkippedFile& s : d.skipped) {
      if (s.path == path) return s.reason;
    }
    return "";
  }

  TempTree tree_;
};

const char* kArea = "import math\n\n\ndef area(r):\n    return math.pi * r * r\n\n\ndef total(rs):\n    return sum(area(r) for r in rs)\n";

TEST_F(GitDiffTest, DefaultIsTheUncommittedChangeWithNewLineNumbers) {
  tree_.write("area.py", kArea);
  commit("first");
  std::string changed = kArea;
  changed.replace(changed.find("math.pi * r * r"), 15, "3.14 * r\n    # approx");
  tree_.write("area.py", changed);
  const RepoDiff d = diff(DiffMode::kAuto);
  EXPECT_EQ(d.mode, DiffMode::kUncommitted);
  EXPECT_NE(d.description.find("uncommitted"), std::string::npos) << d.description;
  EXPECT_EQ(d.workdir, tree_.root());
  ASSERT_EQ(d.files.size(), 1u);
  const DiffFile& f = d.files[0];
  EXPECT_EQ(f.path, "area.py");
  EXPECT_EQ(f.status, 'M');
  EXPECT_EQ(f.new_text, changed);
  ASSERT_EQ(f.hunks.size(), 1u);
  const DiffHunk& h = f.hunks[0];
  EXPECT_EQ(h.header.rfind("@@ -", 0), 0u) << h.header;
  // The removed line has its old number only; the added ones their new numbers.
  std::vector<std::pair<char, int>> changes;
  for (const DiffLine& l : h.lines) {
    if (l.origin == '-') {
      EXPECT_EQ(l.old_line, 5);
      EXPECT_EQ(l.new_line, 0);
      EXPECT_EQ(l.text, "    return math.pi * r * r");
    }
    if (l.origin == '+') changes.push_back({l.origin, l.new_line});
    if (l.origin == ' ') {
      EXPECT_GT(l.new_line, 0);
    }
  }
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].second, 5);
  EXPECT_EQ(changes[1].second, 6);
  for (const DiffLine& l : h.lines) {
    if (l.new_line == 6) {
      EXPECT_EQ(l.text, "    # approx");
    }
  }
}

TEST_F(GitDiffTest, CleanTreeGivesTheLastCommitOnly) {
  tree_.write("a.py", "x = 1\n");
  commit("first");
  tree_.write("a.py", "x = 1\ny = 2\n");
  tree_.write("b.py", "z = 3\n");
  commit("second change");
  const RepoDiff d = diff(DiffMode::kAuto);
  EXPECT_EQ(d.mode, DiffMode::kLastCommit);
  EXPECT_NE(d.description.find("second change"), std::string::npos) << d.description;
  EXPECT_FALSE(d.base_commit.empty());
  ASSERT_EQ(d.files.size(), 2u);
  const DiffFile* a = file(d, "a.py");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->new_text, "x = 1\ny = 2\n");
  ASSERT_EQ(a->hunks.size(), 1u);
  int added = 0;
  for (const DiffLine& l : a->hunks[0].lines) {
    if (l.origin == '+') {
      ++added;
      EXPECT_EQ(l.new_line, 2);
      EXPECT_EQ(l.text, "y = 2");
    }
  }
  EXPECT_EQ(added, 1);
  EXPECT_EQ(file(d, "b.py")->status, 'A');
}

TEST_F(GitDiffTest, RootCommitIsComparedWithTheEmptyTree) {
  tree_.write("main.py", "print('hi')\nprint('there')\n");
  commit("root");
  const RepoDiff d = diff(DiffMode::kAuto);
  EXPECT_EQ(d.mode, DiffMode::kLastCommit);
  EXPECT_NE(d.description.find("root commit"), std::string::npos) << d.description;
  EXPECT_TRUE(d.base_commit.empty());
  ASSERT_EQ(d.files.size(), 1u);
  EXPECT_EQ(d.files[0].status, 'A');
  ASSERT_EQ(d.files[0].hunks.size(), 1u);
  const auto& lines = d.files[0].hunks[0].lines;
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].origin, '+');
  EXPECT_EQ(lines[0].new_line, 1);
  EXPECT_EQ(lines[1].new_line, 2);
  EXPECT_EQ(lines[1].text, "print('there')");
}

TEST_F(GitDiffTest, StagedSeesTheIndexNotTheWorkingTree) {
  tree_.write("a.py", "x = 1\n");
  commit("first");
  tree_.write("a.py", "x = 2\n");
  git("add a.py");
  tree_.write("a.py", "x = 3\n");  // unstaged on top
  const RepoDiff staged = diff(DiffMode::kStaged);
  EXPECT_EQ(staged.mode, DiffMode::kStaged);
  ASSERT_EQ(staged.files.size(), 1u);
  EXPECT_EQ(staged.files[0].new_text, "x = 2\n");  // the index's version
  const RepoDiff all = diff(DiffMode::kAuto);
  ASSERT_EQ(all.files.size(), 1u);
  EXPECT_EQ(all.files[0].new_text, "x = 3\n");  // the working tree's
  // Nothing staged: an empty diff, not the last commit.
  git("add a.py");
  git("commit -q -m second");
  EXPECT_TRUE(diff(DiffMode::kStaged).files.empty());
}

TEST_F(GitDiffTest, BaseRevisionTakesCommitsAndTheWorkingTree) {
  tree_.write("a.py", "x = 1\n");
  commit("first");
  tree_.write("b.py", "y = 1\n");
  commit("second");
  tree_.write("c.py", "z = 1\n");
  git("add c.py");
  const RepoDiff d = diff(DiffMode::kBase, "HEAD~1");
  EXPECT_EQ(d.mode, DiffMode::kBase);
  EXPECT_NE(d.description.find("HEAD~1"), std::string::npos);
  ASSERT_EQ(d.files.size(), 2u);
  EXPECT_EQ(d.files[0].path, "b.py");
  EXPECT_EQ(d.files[1].path, "c.py");

  DiffRequest bad;
  bad.repo_dir = tree_.root();
  bad.mode = DiffMode::kBase;
  bad.base = "no-such-branch";
  auto r = read_diff(bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(r.error().message().find("no-such-branch"), std::string::npos);
}

TEST_F(GitDiffTest, PathsLimitTheFiles) {
  tree_.write("src/a.py", "a = 1\n");
  tree_.write("src/b.py", "b = 1\n");
  tree_.write("docs/c.md", "c\n");
  commit("first");
  tree_.write("src/a.py", "a = 2\n");
  tree_.write("src/b.py", "b = 2\n");
  tree_.write("docs/c.md", "cc\n");
  const RepoDiff src = diff(DiffMode::kAuto, "", {"src"});
  ASSERT_EQ(src.files.size(), 2u);
  EXPECT_EQ(src.files[0].path, "src/a.py");
  EXPECT_EQ(src.files[1].path, "src/b.py");
  const RepoDiff one = diff(DiffMode::kAuto, "", {"docs/c.md"});
  ASSERT_EQ(one.files.size(), 1u);
  EXPECT_EQ(one.files[0].path, "docs/c.md");
  // No uncommitted change under the path: the last commit, limited to it.
  const RepoDiff none = diff(DiffMode::kAuto, "", {"nothing-here"});
  EXPECT_EQ(none.mode, DiffMode::kLastCommit);
  EXPECT_TRUE(none.files.empty());
}

TEST_F(GitDiffTest, FilesThatMustNotReachAPromptAreSkipped) {
  tree_.write("keep.py", "k = 1\n");
  tree_.write("gone.py", "g = 1\n");
  tree_.write("big.py", "b = 1\n");
  tree_.write("vendor/lib.py", "v = 1\n");
  commit("first");
  tree_.write(".moecodeignore", "vendor/\n");
  tree_.write("keep.py", "k = 2\n");
  tree_.remove("gone.py");
  tree_.write(".env", "TOKEN=abc\n");
  tree_.write("deploy/id_rsa", "key\n");
  tree_.write("server.pem", "pem\n");
  tree_.write("logo.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  tree_.write("big.py", std::string(5000, 'x') + "\n");
  tree_.write("vendor/lib.py", "v = 2\n");
  git("add -A");
  DiffRequest req;
  req.repo_dir = tree_.root();
  req.max_file_bytes = 4096;
  auto d = read_diff(req);
  ASSERT_TRUE(d.ok()) << d.error().message();
  std::vector<std::string> paths;
  for (const DiffFile& f : d->files) paths.push_back(f.path);
  EXPECT_EQ(paths, (std::vector<std::string>{".moecodeignore", "keep.py"}));
  EXPECT_EQ(skip_reason(*d, "gone.py"), "deleted");
  EXPECT_EQ(skip_reason(*d, ".env"), "secret");
  EXPECT_EQ(skip_reason(*d, "deploy/id_rsa"), "secret");
  EXPECT_EQ(skip_reason(*d, "server.pem"), "secret");
  EXPECT_EQ(skip_reason(*d, "logo.png"), "binary");
  EXPECT_EQ(skip_reason(*d, "vendor/lib.py"), "ignored");
  EXPECT_EQ(skip_reason(*d, "big.py").rfind("oversize", 0), 0u) << skip_reason(*d, "big.py");
}

TEST_F(GitDiffTest, SecretsInTheTextAreRedactedKeepingLineNumbers) {
  tree_.write("config.py", "a = 1\n");
  commit("first");
  const std::string aws_id = std::string("AKIA") + "IOSFODNN7" + "EXAMPLE";
  tree_.write("config.py", "a = 1\nkey = '" + aws_id + "'\nb = 2\n");
  const RepoDiff d = diff(DiffMode::kAuto);
  ASSERT_EQ(d.files.size(), 1u);
  const DiffFile& f = d.files[0];
  EXPECT_GE(f.n_redacted, 1);
  EXPECT_EQ(f.new_text.find(aws_id), std::string::npos);
  EXPECT_NE(f.new_text.find("[REDACTED]"), std::string::npos);
  EXPECT_EQ(std::count(f.new_text.begin(), f.new_text.end(), '\n'), 3);
  for (const DiffLine& l : f.hunks[0].lines) {
    EXPECT_EQ(l.text.find(aws_id), std::string::npos) << l.text;
    if (l.new_line == 3) {
      EXPECT_EQ(l.text, "b = 2");
    }
  }
  // A secret that is removed is redacted in the removed line too.
  commit("second");
  tree_.write("config.py", "a = 1\nb = 2\n");
  const RepoDiff removed = diff(DiffMode::kAuto);
  ASSERT_EQ(removed.files.size(), 1u);
  bool saw_removed = false;
  for (const DiffLine& l : removed.files[0].hunks[0].lines) {
    EXPECT_EQ(l.text.find(aws_id), std::string::npos) << l.text;
    saw_removed |= l.origin == '-';
  }
  EXPECT_TRUE(saw_removed);
}

TEST_F(GitDiffTest, NoCommitYetReviewsTheIndex) {
  tree_.write("new.py", "n = 1\n");
  git("add new.py");
  const RepoDiff d = diff(DiffMode::kAuto);
  EXPECT_EQ(d.mode, DiffMode::kUncommitted);
  ASSERT_EQ(d.files.size(), 1u);
  EXPECT_EQ(d.files[0].status, 'A');
  DiffRequest last;
  last.repo_dir = tree_.root();
  last.mode = DiffMode::kLastCommit;
  EXPECT_FALSE(read_diff(last).ok());
}

TEST(GitDiff, NotARepositoryIsAnError) {
  TempTree plain;
  DiffRequest req;
  req.repo_dir = plain.root();
  auto d = read_diff(req);
  // A temp folder may sit inside some repository on a developer's machine; it is never one itself.
  if (d.ok()) {
    EXPECT_NE(d->workdir, plain.root());
  } else {
    EXPECT_EQ(d.error().code(), ErrorCode::kNotFound);
  }
}

}  // namespace
}  // namespace moecode::workspace
