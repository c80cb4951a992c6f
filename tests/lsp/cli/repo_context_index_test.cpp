// The server's workspace index (cli::SymbolWorkspaceIndex): indexing a folder with C++ files
// also compiles the C++ tags query that whole-file extraction skips (the walker needs none),
// so that the first edit of an open C++ file re-extracts incrementally without compiling it
// on the message thread.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <unistd.h>

#include "grammars/languages.h"
#include "lsp/cli/repo_context.h"
#include "lsp/workspace/tags.h"

namespace moecode::cli {
namespace {

namespace fs = std::filesystem;

TEST(SymbolWorkspaceIndexTest, IndexingCompilesTheQueryTheFirstCppEditNeeds) {
  ::setenv("MOECODE_INDEX_CACHE", "off", 1);
  const fs::path dir = fs::temp_directory_path() / ("moecode_wsidx_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string before = "int area(int w, int h) { return w * h; }\n";
  std::ofstream(dir / "geo.cpp") << before;
  const grammars::Language* cpp = grammars::language_by_name("cpp");
  ASSERT_NE(cpp, nullptr);
  auto query = workspace::TagQuery::get(*cpp);
  ASSERT_TRUE(query.ok() && *query);
  ASSERT_TRUE((*query)->has_walker());
  // (Under ctest this test has its own process: nothing compiled the query before.)

  SymbolWorkspaceIndex index(std::make_shared<RepoContextRegistry>());
  const std::string summary = index.index_folders({dir.string()}, nullptr, engine::CancelToken{});
  EXPECT_NE(summary.find("indexed 1 files"), std::string::npos) << summary;
  EXPECT_TRUE((*query)->query_compiled()) << "the first edit would compile it on the message thread";

  // The first edit of the open file: extracted incrementally, with the new name indexed.
  workspace::DocumentSnapshot doc{"file://" + (dir / "geo.cpp").string(), "cpp", 1,
                                  std::make_shared<const std::string>(before)};
  index.document_opened(doc);
  std::string after = before;
  after.insert(4, "rect_");  // "int rect_area(...)"
  workspace::ByteEdit edit;
  edit.start_byte = edit.old_end_byte = 4;
  edit.new_end_byte = 9;
  edit.start_point = edit.old_end_point = {0, 4};
  edit.new_end_point = {0, 9};
  doc.version = 2;
  doc.text = std::make_shared<const std::string>(after);
  index.document_changed(doc, std::span<const workspace::ByteEdit>(&edit, 1));
  auto built = index.index();
  ASSERT_TRUE(built);
  EXPECT_EQ(built->document_parse_counts().incremental, 1u);
  {
    auto view = built->view();
    EXPECT_EQ(view.definitions("rect_area").size(), 1u);
    EXPECT_TRUE(view.definitions("area").empty());
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace moecode::cli
