// The index's shard cache: a second build parses only files whose content changed and
// yields the same index as a build without the cache; corrupt shards and an unwritable
// cache folder cost a parse, never a wrong index; secrets never reach a shard.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "lsp/workspace/index.h"
#include "lsp/workspace/shard_cache.h"
#include "lsp/workspace/temp_tree.h"

namespace moecode::workspace {
namespace {

namespace fs = std::filesystem;
using testing::TempTree;

std::string rep(char c, int n) { return std::string(static_cast<size_t>(n), c); }

// A token find_secrets() knows (assembled here so no scanner flags this file).
const std::string kToken = std::string("ghp_") + rep('a', 18) + rep('B', 18);

void populate(const TempTree& t) {
  t.write("geo/shapes.py",
          "import math\n\nclass Circle:\n    def __init__(self, r):\n        self.r = r\n\n"
          "    def area(self):\n        return math.pi * self.r ** 2\n\n\ndef total(shapes):\n"
          "    return sum(s.area() for s in shapes)\n");
  t.write("app/main.py", "from geo.shapes import Circle, total\n\ndef run(token='" + kToken +
                             "'):\n    return total([Circle(1)])\n");
  t.write("web/canvas.ts", "export class Canvas {\n  add(x: number): void {}\n}\n");
  t.write("web/app.ts", "import { Canvas } from './canvas';\nconst c = new Canvas();\nc.add(1);\n");
  t.write("native/vec.h", "struct Vec { float x, y; };\nfloat dot(Vec a, Vec b);\n");
  t.write("native/vec.cpp", "#include \"vec.h\"\nfloat dot(Vec a, Vec b) { return a.x * b.x + a.y * b.y; }\n");
  t.write("go/geom.go", "package geom\n\nfunc Square(x float64) float64 { return x * x }\n");
  t.write("rs/shapes.rs", "pub struct Circle;\nimpl Circle { pub fn new() -> Self { Circle } }\n");
  t.write("copy/shapes.py", "import math\n\nclass Circle:\n    def __init__(self, r):\n        self.r = r\n\n"
                            "    def area(self):\n        return math.pi * self.r ** 2\n\n\ndef total(shapes):\n"
                            "    return sum(s.area() for s in shapes)\n");  // the same bytes as geo/shapes.py
}

struct Built {
  IndexStats stats;
  std::string dump;
};

Built build(const std::string& root, std::shared_ptr<const ShardCache> cache) {
  IndexOptions options;
  options.cache = std::move(cache);
  auto index = SymbolIndex::create({root}, options);
  EXPECT_TRUE(index.ok()) << index.error().message();
  auto stats = (*index)->build();
  EXPECT_TRUE(stats.ok()) << stats.error().message();
  return {*stats, (*index)->debug_dump()};
}

std::shared_ptr<const ShardCache> open_cache(const std::string& dir) {
  auto cache = ShardCache::open(dir);
  EXPECT_TRUE(cache.ok()) << cache.error().message();
  return std::shared_ptr<const ShardCache>(std::move(*cache));
}

std::vector<fs::path> shards(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) out.push_back(e.path());
  }
  return out;
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ShardCacheTest, ASecondBuildParsesNothingAndEqualsABuildWithoutTheCache) {
  TempTree t, c;
  populate(t);
  const Built plain = build(t.root(), nullptr);
  ASSERT_EQ(plain.stats.n_files, 9u);
  EXPECT_EQ(plain.stats.n_parsed, 8u);
  EXPECT_EQ(plain.stats.n_duplicates, 1u) << "copy/shapes.py has the bytes of geo/shapes.py";

  auto cache = open_cache(c.root());
  const Built cold = build(t.root(), cache);
  // The two files with the same bytes: parsed once, the second a copy of the first.
  EXPECT_EQ(cold.stats.n_parsed, 8u);
  EXPECT_EQ(cold.stats.n_from_cache, 0u);
  EXPECT_EQ(cold.stats.n_duplicates, 1u);
  EXPECT_EQ(cold.dump, plain.dump);
  EXPECT_EQ(shards(c.root()).size(), 8u) << "two files with the same bytes share one shard";

  const Built warm = build(t.root(), open_cache(c.root()));
  EXPECT_EQ(warm.stats.n_parsed, 0u);
  EXPECT_EQ(warm.stats.n_from_cache, 8u);
  EXPECT_EQ(warm.stats.n_duplicates, 1u);
  EXPECT_EQ(warm.dump, plain.dump);
  EXPECT_EQ(warm.stats.n_definitions, plain.stats.n_definitions);
  EXPECT_EQ(warm.stats.n_references, plain.stats.n_references);
}

TEST(ShardCacheTest, OnlyTheChangedFileIsParsedAgain) {
  TempTree t, c;
  populate(t);
  auto cache = open_cache(c.root());
  build(t.root(), cache);
  t.write("go/geom.go", "package geom\n\nfunc Square(x float64) float64 { return x * x }\n\nfunc Cube(x float64) float64 "
                        "{ return x * x * x }\n");
  t.remove("rs/shapes.rs");
  const Built warm = build(t.root(), cache);
  EXPECT_EQ(warm.stats.n_parsed, 1u);
  EXPECT_EQ(warm.stats.n_from_cache, 6u);
  EXPECT_EQ(warm.stats.n_duplicates, 1u);
  EXPECT_EQ(warm.dump, build(t.root(), nullptr).dump);
  EXPECT_NE(warm.dump.find("Cube"), std::string::npos);
}

TEST(ShardCacheTest, ACorruptShardIsParsedAgainAndRewritten) {
  TempTree t, c;
  populate(t);
  auto cache = open_cache(c.root());
  const Built cold = build(t.root(), cache);
  auto files = shards(c.root());
  ASSERT_EQ(files.size(), 8u);
  // Three kinds of damage: truncated, a flipped byte, garbage of the same size.
  {
    const std::string s = slurp(files[0]);
    std::ofstream(files[0], std::ios::binary | std::ios::trunc) << s.substr(0, s.size() / 2);
  }
  {
    std::string s = slurp(files[1]);
    s[s.size() - 3] ^= 0x40;
    std::ofstream(files[1], std::ios::binary | std::ios::trunc) << s;
  }
  {
    const std::string s = slurp(files[2]);
    std::ofstream(files[2], std::ios::binary | std::ios::trunc) << rep('x', static_cast<int>(s.size()));
  }
  auto again = open_cache(c.root());
  const Built warm = build(t.root(), again);
  EXPECT_EQ(again->counts().corrupt, 3u);
  EXPECT_GE(warm.stats.n_parsed, 3u);
  EXPECT_EQ(warm.dump, cold.dump);
  // Rewritten: a third build reads every file from the cache again.
  const Built third = build(t.root(), open_cache(c.root()));
  EXPECT_EQ(third.stats.n_parsed, 0u);
  EXPECT_EQ(third.dump, cold.dump);
}

TEST(ShardCacheTest, AnUnusableCacheFolderCostsParsesNotTheIndex) {
  TempTree t, c;
  populate(t);
  c.write("file", "not a folder");
  EXPECT_FALSE(ShardCache::open(c.path("file") + "/index").ok());
  EXPECT_FALSE(ShardCache::open("").ok());

  // The folder opens, but its shard tree cannot be made (a file where a folder should be).
  c.mkdir("cache");
  c.write("cache/v3", "in the way");  // the shard format's folder (shard_cache.cpp)
  auto cache = open_cache(c.path("cache"));
  const Built built = build(t.root(), cache);
  EXPECT_EQ(built.stats.n_parsed, 8u);
  EXPECT_EQ(cache->counts().stored, 0u);
  EXPECT_GT(cache->counts().store_failures, 0u);
  EXPECT_EQ(built.dump, build(t.root(), nullptr).dump);
}

TEST(ShardCacheTest, NoSecretIsWrittenToAShard) {
  TempTree t, c;
  populate(t);
  const Built cold = build(t.root(), open_cache(c.root()));
  EXPECT_EQ(cold.dump.find(kToken), std::string::npos);
  size_t n = 0;
  for (const auto& p : shards(c.root())) {
    EXPECT_EQ(slurp(p).find(kToken), std::string::npos) << p;
    EXPECT_EQ(slurp(p).find(kToken.substr(0, 12)), std::string::npos) << p;
    ++n;
  }
  EXPECT_GT(n, 0u);
  EXPECT_EQ(fs::status(c.root()).permissions() & fs::perms::all, fs::perms::owner_all);
}

TEST(ShardCacheTest, TheKeyDependsOnContentAndLanguage) {
  TempTree c;
  auto cache = open_cache(c.root());
  const auto* py = grammars::language_by_name("python");
  const auto* js = grammars::language_by_name("javascript");
  ASSERT_TRUE(py && js);
  const auto a = ShardCache::key(*py, "x = 1\n");
  EXPECT_EQ(cache->shard_path(a), cache->shard_path(ShardCache::key(*py, "x = 1\n")));
  EXPECT_NE(cache->shard_path(a), cache->shard_path(ShardCache::key(*py, "x = 2\n")));
  EXPECT_NE(cache->shard_path(a), cache->shard_path(ShardCache::key(*js, "x = 1\n")));
}

// A warm start reads shards only: keying every language's files must not build the dense
// parse tables a parse needs (9.3 MB for C++; ~40 MB for all fifteen grammars).
TEST(ShardCacheTest, KeysBuildNoParseTables) {
  TempTree c;
  auto cache = open_cache(c.root());
  const size_t before = grammars::dense_parse_table_bytes();
  for (const auto& lang : grammars::all_languages()) {
    EXPECT_FALSE(cache->shard_path(ShardCache::key(lang, "x = 1\n")).empty());
  }
  EXPECT_EQ(grammars::dense_parse_table_bytes(), before);
}

static_assert(sizeof(Definition) == 56, "1.1M definitions for /usr/include: keep them small");

TEST(FileSymbolsTest, SignaturesFollowEachOtherAndStopAtTheCap) {
  FileSymbols s;
  Definition d;
  d.name = "f";
  s.add_definition(d, "void f()");
  s.add_definition(d, "");
  s.add_definition(d, "int g");
  ASSERT_EQ(s.definitions.size(), 3u);
  EXPECT_EQ(s.signature(s.definitions[0]), "void f()");
  EXPECT_EQ(s.signature(s.definitions[1]), "");
  EXPECT_EQ(s.signature(s.definitions[2]), "int g");
  EXPECT_EQ(s.signatures, "void f()int g");
  // Past the per-file cap a definition keeps its place but not its signature.
  const std::string big(FileSymbols::kMaxFileSignatureBytes - s.signatures.size(), 'x');
  s.add_definition(d, big);
  s.add_definition(d, "one byte too many");
  EXPECT_EQ(s.signature(s.definitions[3]).size(), big.size());
  EXPECT_EQ(s.signature(s.definitions[4]), "");
  EXPECT_EQ(s.signature(s.definitions[2]), "int g");
}

TEST(ShardCacheTest, EncodingRoundTripsAndDecodingRejectsDamage) {
  FileSymbols s;
  s.has_errors = true;
  Definition d;
  d.name = "área";
  d.kind = SymbolKind::kMethod;
  d.range = {4, 40, {1, 0}, {3, 2}};
  d.set_name_start({8, 13, {1, 4}, {1, 9}});
  EXPECT_EQ(d.name_range(), (SourceRange{8, 13, {1, 4}, {1, 9}}));
  d.container = "Circle";
  s.add_definition(d, "def área(self):");
  d.kind = SymbolKind::kVariable;
  s.add_definition(d, "área = 1");
  EXPECT_EQ(s.signature(s.definitions[0]), "def área(self):");
  EXPECT_EQ(s.signature(s.definitions[1]), "área = 1");
  s.references = {{"total", 50, {4, 1}, ReferenceKind::kCall}, {"Vec", 0, {0, 0}, ReferenceKind::kOther}};
  s.imports = {{"geo.shapes", "Circle", {0, 30, {0, 0}, {0, 30}}}, {"os", "", {31, 40, {1, 0}, {1, 9}}}};
  s.references.push_back({"total", 57, {5, 1}, ReferenceKind::kCall});
  const std::vector<NameCount> counted = count_reference_names(s);
  const std::string bytes = ShardCache::encode(s, counted);
  FileSymbols back;
  std::vector<NameCount> names;
  ASSERT_TRUE(ShardCache::decode(bytes, 60, &back, &names));
  // Everything but the references' positions; their names with counts, in text order.
  FileSymbols without_refs = s;
  without_refs.references.clear();
  EXPECT_EQ(back, without_refs);
  EXPECT_EQ(names, (std::vector<NameCount>{{"Vec", 1}, {"total", 2}}));
  EXPECT_EQ(back.signature(back.definitions[1]), "área = 1");
  EXPECT_TRUE(ShardCache::decode(ShardCache::encode(FileSymbols{}, {}), 0, &back, &names));
  EXPECT_EQ(back, FileSymbols{});
  EXPECT_TRUE(names.empty());
  // The same names in another order: the same bytes.
  const std::vector<NameCount> reversed(counted.rbegin(), counted.rend());
  EXPECT_EQ(ShardCache::encode(s, reversed), bytes);

  // A range past the end of the file it is for (the content changed under the same key? no:
  // a damaged shard) is rejected, as is every truncation and every single flipped bit.
  EXPECT_FALSE(ShardCache::decode(bytes, 39, &back, &names));
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(ShardCache::decode(std::string_view(bytes).substr(0, n), 60, &back, &names)) << n;
  }
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = bytes;
      damaged[i] = static_cast<char>(damaged[i] ^ (1 << bit));
      EXPECT_FALSE(ShardCache::decode(damaged, 60, &back, &names)) << i << ":" << bit;
    }
  }
  EXPECT_FALSE(ShardCache::decode(bytes + "x", 60, &back, &names));
}

TEST(ShardCacheTest, RandomSymbolsRoundTrip) {
  std::mt19937 rng(7);
  const std::vector<std::string> pool = {"", "x", "área", "Circle", std::string(300, 'n'), "operator<=>", "a\nb"};
  const uint64_t n_bytes = 0xffffffffu;
  auto pick = [&](uint64_t hi) { return std::uniform_int_distribution<uint64_t>(0, hi)(rng); };
  auto range = [&] {
    SourceRange r;
    r.start_byte = static_cast<uint32_t>(pick(n_bytes));
    r.end_byte = static_cast<uint32_t>(r.start_byte + pick(n_bytes - r.start_byte));
    r.start.row = static_cast<uint32_t>(pick(rng() % 2 ? 100 : 0xffffffffu));
    r.end.row = static_cast<uint32_t>(r.start.row + pick(rng() % 2 ? 3 : 0xffffffffu - r.start.row));
    r.start.column = static_cast<uint32_t>(pick(rng() % 2 ? 80 : 0xffffffffu));
    r.end.column = static_cast<uint32_t>(r.end.row == r.start.row ? r.start.column + pick(0xffffffffu - r.start.column)
                                                                  : pick(0xffffffffu));
    return r;
  };
  for (int round = 0; round < 300; ++round) {
    FileSymbols s;
    s.has_errors = rng() % 2;
    for (int i = static_cast<int>(pick(6)); i > 0; --i) {
      Definition d;
      d.name = pool[pick(pool.size() - 1)];
      d.kind = static_cast<SymbolKind>(pick(12));
      d.range = range();
      const SourceRange r = range();  // the name's start (its end follows from the name)
      d.name_start_byte = std::min(r.start_byte, 0xfffff000u);
      d.name_start = {std::min(r.start.row, 0xfffff000u), std::min(r.start.column, 0xfffff000u)};
      d.container = pool[pick(pool.size() - 1)];
      s.add_definition(d, pool[pick(pool.size() - 1)]);
    }
    for (int i = static_cast<int>(pick(6)); i > 0; --i) {
      // A reference is its name's start; its end follows from the name (no overflow).
      const SourceRange r = range();
      s.references.push_back({pool[1 + pick(pool.size() - 2)], std::min(r.start_byte, 0xfffff000u),
                              {std::min(r.start.row, 0xfffff000u), std::min(r.start.column, 0xfffff000u)},
                              static_cast<ReferenceKind>(pick(3))});
    }
    for (int i = static_cast<int>(pick(4)); i > 0; --i) {
      s.imports.push_back({pool[pick(pool.size() - 1)], pool[pick(pool.size() - 1)], range()});
    }
    FileSymbols back;
    std::vector<NameCount> names;
    const std::vector<NameCount> counted = count_reference_names(s);
    ASSERT_TRUE(ShardCache::decode(ShardCache::encode(s, counted), n_bytes, &back, &names)) << round;
    FileSymbols without_refs = s;
    without_refs.references.clear();
    ASSERT_EQ(back, without_refs) << round;
    auto by_text = [](std::vector<NameCount> v) {
      std::sort(v.begin(), v.end(),
                [](const NameCount& a, const NameCount& b) { return a.name.view() < b.name.view(); });
      return v;
    };
    ASSERT_EQ(names, by_text(counted)) << round;
  }
}

}  // namespace
}  // namespace moecode::workspace
