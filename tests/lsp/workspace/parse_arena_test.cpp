// ParseArena: tree-sitter's memory during a full index build's parses (parse_arena.h).
#include "lsp/workspace/parse_arena.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>
#include <tree_sitter/api.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "grammars/languages.h"
#include "lsp/workspace/tags.h"

namespace moecode::workspace {
namespace {

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// Whether the page holding `p` is in memory (mincore).
bool resident(const void* p) {
  const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  unsigned char v = 0;
  void* start = reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) / page * page);
  EXPECT_EQ(mincore(start, page, &v), 0);
  return v & 1;
}

TEST(ParseArenaTest, OutsideAScopeTreeSitterUsesMalloc) {
  ParseArena arena;
  ASSERT_TRUE(arena.enabled());
  EXPECT_FALSE(ParseArena::active());
  void* p = ParseArena::allocate(100);
  p = ParseArena::reallocate(p, 5000);
  ParseArena::release(p);
  EXPECT_EQ(arena.used(), 0u);
}

TEST(ParseArenaTest, BlocksComeFromTheArenaAlignedAndAreReusedOnceFreed) {
  ParseArena arena;
  ParseArena::Scope scope(arena);
  EXPECT_TRUE(ParseArena::active());
  void* a = ParseArena::allocate(24);
  void* b = ParseArena::allocate(24);
  void* big = ParseArena::allocate(100000);
  for (void* p : {a, b, big}) EXPECT_TRUE(aligned16(p)) << p;
  EXPECT_NE(a, b);
  EXPECT_GE(arena.used(), 100000u + 48);
  std::memset(big, 0xab, 100000);
  ParseArena::release(a);
  EXPECT_EQ(ParseArena::allocate(20), a);  // the same size class, from its free list
  const size_t used = arena.used();
  ParseArena::release(big);
  EXPECT_EQ(ParseArena::allocate(90000), big);
  EXPECT_EQ(arena.used(), used);
  auto* z = static_cast<unsigned char*>(ParseArena::allocate_zeroed(10, 30));
  for (int i = 0; i < 300; ++i) ASSERT_EQ(z[i], 0) << i;
}

TEST(ParseArenaTest, ReallocateKeepsTheBytes) {
  ParseArena arena;
  ParseArena::Scope scope(arena);
  auto* p = static_cast<char*>(ParseArena::allocate(10));
  std::memcpy(p, "0123456789", 10);
  EXPECT_EQ(ParseArena::reallocate(p, 20), p);  // still within its block
  auto* q = static_cast<char*>(ParseArena::reallocate(p, 5000));
  EXPECT_NE(q, p);
  EXPECT_EQ(std::string(q, 10), "0123456789");
  EXPECT_EQ(ParseArena::allocate(10), p);  // the old block was given back
}

TEST(ParseArenaTest, MallocBlocksStayMallocBlocksInsideAScope) {
  ParseArena arena;
  auto* m = static_cast<char*>(ParseArena::allocate(64));
  std::memcpy(m, "kept", 5);
  void* freed = ParseArena::allocate(64);
  ParseArena::Scope scope(arena);
  ParseArena::release(freed);  // to free(), not to a free list of the arena
  EXPECT_EQ(arena.used(), 0u);
  EXPECT_NE(ParseArena::allocate(64), freed);
  const size_t used = arena.used();
  EXPECT_GT(used, 0u);  // a new block, not `freed` from a free list
  m = static_cast<char*>(ParseArena::reallocate(m, 100000));
  EXPECT_STREQ(m, "kept");
  EXPECT_EQ(arena.used(), used);
  ParseArena::release(m);
}

TEST(ParseArenaTest, APauseAllocatesFromMalloc) {
  ParseArena arena;
  ParseArena::Scope scope(arena);
  void* p = nullptr;
  {
    ParseArena::Pause pause;
    EXPECT_FALSE(ParseArena::active());
    p = ParseArena::allocate(64);
    EXPECT_EQ(arena.used(), 0u);
  }
  EXPECT_TRUE(ParseArena::active());
  ParseArena::release(p);
  EXPECT_EQ(arena.used(), 0u);
}

TEST(ParseArenaTest, TheEndOfAScopeReleasesEverythingAndHandsLargeUseBack) {
  ParseArena arena;
  std::vector<char*> blocks;
  {
    ParseArena::Scope scope(arena);
    for (int i = 0; i < 12; ++i) {
      auto* b = static_cast<char*>(ParseArena::allocate((size_t{4} << 20) - 64));
      std::memset(b, 1, (size_t{4} << 20) - 64);
      blocks.push_back(b);
    }
    EXPECT_TRUE(resident(blocks.back()));
  }
  EXPECT_FALSE(ParseArena::active());
  EXPECT_EQ(arena.used(), 0u);
  EXPECT_GE(arena.high_water(), size_t{48} << 20);
  // Past the first kRetainBytes, the pages went back to the system.
  EXPECT_FALSE(resident(blocks.back()));
  EXPECT_FALSE(resident(blocks[ParseArena::kRetainBytes / (size_t{4} << 20) + 1]));
  // The next scope starts again from the beginning.
  ParseArena::Scope scope(arena);
  EXPECT_EQ(ParseArena::allocate(100000), blocks[0]);
}

TEST(ParseArenaTest, AnArenaThatCannotReserveLeavesTreeSitterOnMalloc) {
  ParseArena arena(size_t{1} << 62);
  EXPECT_FALSE(arena.enabled());
  ParseArena::Scope scope(arena);
  EXPECT_FALSE(ParseArena::active());
  void* p = ParseArena::allocate(64);
  EXPECT_EQ(arena.used(), 0u);
  ParseArena::release(p);
}

// The index's use: a parser of the file's own, in a scope, its tree dropped.
FileSymbols parse_in(ParseArena* arena, const grammars::Language& lang, const std::string& text) {
  FileSymbols syms;
  if (arena) {
    ParseArena::Scope scope(*arena);
    TagExtractor extractor;
    auto tree = extractor.parse(lang, text, nullptr, {}, &syms);
    EXPECT_TRUE(tree.ok());
    if (tree.ok()) ParseArena::drop_tree(tree->release());
    EXPECT_GT(arena->used(), 0u);
  } else {
    TagExtractor extractor;
    auto tree = extractor.parse(lang, text, nullptr, {}, &syms);
    EXPECT_TRUE(tree.ok());
  }
  return syms;
}

const char kCpp[] = R"(#include <vector>
namespace geo {
struct Point { double x, y; };
class Shape { public: virtual double area() const = 0; };
double total(const std::vector<Shape*>& shapes) {
  double t = 0;
  for (auto* s : shapes) t += s->area();
  return t;
}
int broken( { return ; }
}  // namespace geo
)";

const char kPython[] = R"(import os
class Circle:
    def __init__(self, r):
        self.r = r
    def area(self):
        return 3.14159 * self.r ** 2
def make(r): return Circle(r)
)";

TEST(ParseArenaTest, ATreeParsedInAnArenaGivesTheSameSymbols) {
  ParseArena arena;
  for (const auto& [name, text] : {std::pair{"cpp", kCpp}, std::pair{"python", kPython}}) {
    const grammars::Language* lang = grammars::language_by_name(name);
    ASSERT_NE(lang, nullptr) << name;
    const FileSymbols plain = parse_in(nullptr, *lang, text);
    ASSERT_FALSE(plain.definitions.empty()) << name;
    EXPECT_EQ(parse_in(&arena, *lang, text), plain) << name;
    EXPECT_EQ(arena.used(), 0u);
  }
}

TEST(ParseArenaTest, AFullArenaFallsBackToMallocAndTheTreeIsDeleted) {
  // The region is used up before the parse, its small blocks left on the free lists: the
  // parse gets small blocks (the tree itself among them) from the arena and the rest from
  // malloc. drop_tree must then delete the tree, or its malloc'd nodes leak (LeakSanitizer
  // in the CI's sanitizer stage).
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text += "def f" + std::to_string(i) + "(x):\n    return x + " + std::to_string(i) + "\n";
  }
  const grammars::Language* lang = grammars::language_by_name("python");
  ASSERT_NE(lang, nullptr);
  const FileSymbols plain = parse_in(nullptr, *lang, text);
  EXPECT_EQ(plain.definitions.size(), 200u);

  ParseArena small(size_t{256} << 10);
  ASSERT_TRUE(small.enabled());
  ParseArena::Scope scope(small);
  std::vector<void*> blocks;
  for (size_t n = 8;; n = n >= 1000 ? 8 : n + 16) {
    const size_t before = small.used();
    void* p = ParseArena::allocate(n);
    if (small.used() == before) {  // from malloc: the region is full
      ParseArena::release(p);
      break;
    }
    blocks.push_back(p);
  }
  for (void* p : blocks) ParseArena::release(p);
  FileSymbols syms;
  {
    TagExtractor extractor;
    auto tree = extractor.parse(*lang, text, nullptr, {}, &syms);
    ASSERT_TRUE(tree.ok());
    ParseArena::drop_tree(tree->release());
  }
  EXPECT_EQ(syms, plain);
}

TEST(ParseArenaTest, AQueryCompiledInsideAScopeOutlivesIt) {
  const grammars::Language* lang = grammars::language_by_name("python");
  ASSERT_NE(lang, nullptr);
  ParseArena arena;
  std::unique_ptr<TagQuery> query;
  {
    ParseArena::Scope scope(arena);
    query = std::move(TagQuery::compile(*lang, lang->tags_query, TagQuery::Walker::kNever)).value();
  }
  {
    // Whatever the arena hands out next overwrites the memory of the scope above.
    ParseArena::Scope scope(arena);
    for (int i = 0; i < 4096; ++i) std::memset(ParseArena::allocate(64 + i % 512), 0xff, 64 + i % 512);
  }
  TagExtractor extractor;
  FileSymbols plain;
  auto tree = extractor.parse(*lang, kPython, nullptr, {}, &plain);
  ASSERT_TRUE(tree.ok());
  TSQueryCursor* cursor = ts_query_cursor_new();
  FileSymbols by_query;
  query->extract(cursor, ts_tree_root_node(tree->get()), kPython, {}, &by_query);
  ts_query_cursor_delete(cursor);
  EXPECT_EQ(by_query, plain);
}

TEST(ParseArenaTest, ATreeDroppedOutsideAScopeIsDeleted) {
  // Under LeakSanitizer (the CI's sanitizer stage) a tree left undeleted here is a leak.
  const grammars::Language* lang = grammars::language_by_name("python");
  ASSERT_NE(lang, nullptr);
  TagExtractor extractor;
  FileSymbols syms;
  auto tree = extractor.parse(*lang, kPython, nullptr, {}, &syms);
  ASSERT_TRUE(tree.ok());
  ParseArena::drop_tree(tree->release());
  ParseArena::drop_tree(nullptr);
}

}  // namespace
}  // namespace moecode::workspace
