// The C++ tag walker (lsp/workspace/tags_cpp.h) against the query it replaces: it is in use
// for our tags.scm, each pattern's role is the query's, and on every C and C++ file of this
// repository plus a sample that exercises each pattern, the symbols it gives equal the
// query cursor's, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "grammars/languages.h"
#include "lsp/workspace/tags.h"
#include "lsp/workspace/tags_cpp.h"

namespace moecode {
namespace {

namespace fs = std::filesystem;
using workspace::CppTagWalker;
using workspace::FileSymbols;
using workspace::TagQuery;

const grammars::Language& cpp() { return *grammars::language_by_name("cpp"); }

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Every pattern of tags.scm at least once (checked below), with the shapes that have
// alternatives: pointer and reference declarators, qualified and template callees, several
// declarators and qualifiers in one declaration.
constexpr const char* kEveryPattern = R"cpp(#include <vector>
#include "local.h"
#define MAX_ITEMS 10
#define SQUARE(x) ((x) * (x))
namespace outer::inner { int helper(int); }
namespace ns {
int proto(int a);
int* proto_ptr(int a);
int& proto_ref();
const int kLimit = 5;
static constexpr double kPi = 3.14, kE = 2.71;
volatile const int kTwice = 1;
int counter = 0, *ptr = nullptr, plain;
int *raw, &alias_of = counter;
class Shape {
 public:
  virtual double area() const;
  int& ref_member();
  int* ptr_member();
  void operator()(int);
  Shape& operator=(const Shape&);
  template <typename T> T get();
  int width, height;
  int (*callback)(int);
};
}  // namespace ns
int top_proto(void);
int* top_ptr(void);
const char* const kName = "x";
struct Point { int x, y; };
union Bits { int i; float f; };
enum Color { kRed, kGreen = 2 };
enum class Mode : int { kA, kB };
using Alias = std::vector<int>;
typedef struct Point PointT, *PointP;
typedef int Int;
template <typename T> T max_of(T a, T b);
template <typename T> T min_of(T a, T b) { return a < b ? a : b; }
double Shape::area() const { return 0; }
int* Shape::ptr_member() { return nullptr; }
int& ns::Shape::ref_member() { static int x; return x; }
Shape& Shape::operator=(const Shape&) { return *this; }
Shape* make() { return new Shape(); }
static int& counter_ref() { return ns::counter; }
void use(Shape& s, Shape* p) {
  s.area();
  p->ptr_member();
  ns::proto(1);
  a::b::c();
  max_of<int>(1, 2);
  ns::min_of<int>(1, 2);
  s.template get<int>();
  auto* q = new ns::Shape;
  auto* r = new Point{1, 2};
  outer::inner::helper(2);
}
)cpp";

// The C and C++ sources of this repository, and the sample above.
std::vector<std::pair<std::string, std::string>> corpus() {
  std::vector<std::pair<std::string, std::string>> out;
  out.emplace_back("every-pattern.cpp", kEveryPattern);
  const fs::path root(MOECODE_SOURCE_DIR);
  for (const char* dir : {"engine", "lsp", "tests", "bench", "hip_kernels", "grammars"}) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root / dir, ec); it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      if (ec) break;
      if (it->is_directory() && it->path().filename() == "node_modules") {
        it.disable_recursion_pending();
        continue;
      }
      const std::string ext = it->path().extension().string();
      const bool source = ext == ".cpp" || ext == ".h" || ext == ".c" || ext == ".hip" || ext == ".cu";
      if (!it->is_regular_file() || !source) continue;
      out.emplace_back(fs::relative(it->path(), root).string(), read(it->path()));
    }
  }
  // The fuzzers' C and C++ seeds: broken code, error recovery (5 header bytes, then text).
  for (const auto& e : fs::directory_iterator(root / "tests" / "fuzz" / "corpus" / "tags_fuzz")) {
    const std::string name = e.path().filename().string();
    if (!name.starts_with("cpp-") && !name.starts_with("c-")) continue;
    const std::string bytes = read(e.path());
    if (bytes.size() > 5) out.emplace_back(name, bytes.substr(5));
  }
  return out;
}

FileSymbols extract(const TagQuery& q, TSParser* parser, const std::string& text) {
  TSTree* tree = ts_parser_parse_string(parser, nullptr, text.data(), static_cast<uint32_t>(text.size()));
  TSQueryCursor* cursor = ts_query_cursor_new();
  FileSymbols out;
  q.extract(cursor, ts_tree_root_node(tree), text, {}, &out);
  ts_query_cursor_delete(cursor);
  ts_tree_delete(tree);
  return out;
}

TEST(CppTagWalker, IsInUseForOurQuery) {
  auto q = TagQuery::get(cpp());
  ASSERT_TRUE(q.ok()) << q.error().message();
  EXPECT_TRUE((*q)->has_walker())
      << "grammars/queries/cpp/tags.scm changed: make lsp/workspace/tags_cpp.cpp find the same matches "
         "(this test file compares them), then set its kQueryFingerprint to 0x"
      << std::hex << workspace::query_fingerprint(cpp().tags_query) << "ULL";
  // Another query text, even one pattern less, is not the walker's.
  std::string edited(cpp().tags_query);
  edited += "\n(identifier) @name @reference.call\n";
  EXPECT_EQ(CppTagWalker::make(cpp().ts(), edited), nullptr);
  auto other = TagQuery::compile(cpp(), edited);
  ASSERT_TRUE(other.ok()) << other.error().message();
  EXPECT_FALSE((*other)->has_walker());
  auto never = TagQuery::compile(cpp(), cpp().tags_query, TagQuery::Walker::kNever);
  ASSERT_TRUE(never.ok());
  EXPECT_FALSE((*never)->has_walker());
}

// With the walker, the query is compiled only when something needs it: whole files never
// do; ts() (and a range re-extraction) compiles it, once, with the walker's patterns.
TEST(CppTagWalker, TheQueryIsCompiledOnlyWhenARangeNeedsIt) {
  auto q = TagQuery::compile(cpp(), cpp().tags_query);
  ASSERT_TRUE(q.ok()) << q.error().message();
  ASSERT_TRUE((*q)->has_walker());
  EXPECT_FALSE((*q)->query_compiled());
  TSParser* parser = ts_parser_new();
  ASSERT_TRUE(ts_parser_set_language(parser, cpp().ts()));
  const FileSymbols syms = extract(**q, parser, "struct Box { int w; };\nint area(Box b) { return b.w; }\n");
  EXPECT_EQ(syms.definitions.size(), 2u);
  EXPECT_FALSE((*q)->query_compiled()) << "a whole file needs no query";
  const TSQuery* ts = (*q)->ts();
  ASSERT_NE(ts, nullptr);
  EXPECT_TRUE((*q)->query_compiled());
  EXPECT_EQ((*q)->ts(), ts) << "compiled once";
  EXPECT_EQ(ts_query_pattern_count(ts), CppTagWalker::pattern_count());
  // Without the walker the query is compiled at once, as for every other language.
  auto never = TagQuery::compile(cpp(), cpp().tags_query, TagQuery::Walker::kNever);
  ASSERT_TRUE(never.ok());
  EXPECT_TRUE((*never)->query_compiled());
  ts_parser_delete(parser);
}

// Pattern p's text in tags.scm holds the capture the walker gives as its role.
TEST(CppTagWalker, RolesAreTheQuerysCaptures) {
  auto q = TagQuery::get(cpp());
  ASSERT_TRUE(q.ok());
  const TSQuery* ts = (*q)->ts();
  const uint32_t n = ts_query_pattern_count(ts);
  ASSERT_EQ(n, CppTagWalker::pattern_count());
  const std::string_view src = cpp().tags_query;
  for (uint32_t p = 0; p < n; ++p) {
    const uint32_t b = ts_query_start_byte_for_pattern(ts, p);
    const uint32_t e =
        p + 1 < n ? ts_query_start_byte_for_pattern(ts, p + 1) : static_cast<uint32_t>(src.size());
    const std::string_view text = src.substr(b, e - b);
    std::string role = "@";
    role += CppTagWalker::role_capture(p);
    size_t at = text.find(role);
    // The whole capture name: "@definition.function" is not "@definition.functions".
    const size_t after = at + role.size();
    const bool whole = at != std::string_view::npos &&
                       (after == text.size() || !std::isalnum(static_cast<unsigned char>(text[after])));
    EXPECT_TRUE(whole) << "pattern " << p << " (" << role << "): " << text;
  }
}

TEST(CppTagWalker, GivesTheQuerysSymbolsOnEveryFile) {
  auto walker_q = TagQuery::compile(cpp(), cpp().tags_query, TagQuery::Walker::kAllowed);
  auto query_q = TagQuery::compile(cpp(), cpp().tags_query, TagQuery::Walker::kNever);
  ASSERT_TRUE(walker_q.ok() && query_q.ok());
  ASSERT_TRUE((*walker_q)->has_walker());
  auto walker = CppTagWalker::make(cpp().ts(), cpp().tags_query);
  ASSERT_NE(walker, nullptr);
  TSParser* parser = ts_parser_new();
  ASSERT_TRUE(ts_parser_set_language(parser, cpp().ts()));
  std::set<uint32_t> patterns_seen;
  size_t n_files = 0, n_defs = 0, n_refs = 0;
  for (const auto& [name, text] : corpus()) {
    const FileSymbols a = extract(**walker_q, parser, text);
    const FileSymbols b = extract(**query_q, parser, text);
    ++n_files;
    n_defs += b.definitions.size();
    n_refs += b.references.size();
    EXPECT_EQ(a.definitions.size(), b.definitions.size()) << name;
    for (size_t i = 0; i < std::min(a.definitions.size(), b.definitions.size()); ++i) {
      const auto& da = a.definitions[i];
      const auto& db = b.definitions[i];
      if (da == db && a.signature(da) == b.signature(db)) continue;
      ADD_FAILURE() << name << ": definition " << i << ": walker " << workspace::symbol_kind_name(da.kind) << " "
                    << da.name.str() << " line " << da.range.start.row + 1 << ", query "
                    << workspace::symbol_kind_name(db.kind) << " " << db.name.str() << " line "
                    << db.range.start.row + 1;
      break;
    }
    EXPECT_EQ(a.references.size(), b.references.size()) << name;
    for (size_t i = 0; i < std::min(a.references.size(), b.references.size()); ++i) {
      if (a.references[i] == b.references[i]) continue;
      ADD_FAILURE() << name << ": reference " << i << ": walker " << a.references[i].name.str() << " line "
                    << a.references[i].start.row + 1 << ", query " << b.references[i].name.str() << " line "
                    << b.references[i].start.row + 1;
      break;
    }
    EXPECT_TRUE(a == b) << name;
    TSTree* tree = ts_parser_parse_string(parser, nullptr, text.data(), static_cast<uint32_t>(text.size()));
    std::vector<workspace::WalkedMatch> matches;
    walker->walk(ts_tree_root_node(tree), text, &matches);
    for (const auto& m : matches) patterns_seen.insert(m.pattern);
    ts_tree_delete(tree);
  }
  ts_parser_delete(parser);
  EXPECT_GE(n_files, 200u);
  EXPECT_GE(n_defs, 5000u);
  EXPECT_GE(n_refs, 20000u);
  for (uint32_t p = 0; p < CppTagWalker::pattern_count(); ++p) {
    EXPECT_TRUE(patterns_seen.count(p)) << "no file exercises pattern " << p << " ("
                                        << CppTagWalker::role_capture(p) << ")";
  }
}

}  // namespace
}  // namespace moecode
