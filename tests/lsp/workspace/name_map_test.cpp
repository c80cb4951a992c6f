// NameMap: the index's flat Name -> list table (name_map.h), against std::unordered_map.
#include "lsp/workspace/name_map.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "lsp/workspace/index.h"
#include "lsp/workspace/small_list.h"

namespace moecode::workspace {
namespace {

static_assert(sizeof(NameMap<SmallList<DefRef>>::value_type) == 24);

// The map's contents, by text (iteration order is the table's).
std::map<std::string, std::vector<uint32_t>> contents(const NameMap<SmallList<RefCount>>& m) {
  std::map<std::string, std::vector<uint32_t>> out;
  size_t n = 0;
  for (const auto& [name, list] : m) {
    auto& v = out[name.str()];
    for (const RefCount& r : list) v.push_back(r.file);
    ++n;
  }
  EXPECT_EQ(n, m.size());
  EXPECT_EQ(out.size(), m.size());  // every key once
  return out;
}

TEST(NameMapTest, FindsWhatWasInsertedAndNotWhatWasNot) {
  NameMap<SmallList<RefCount>> m;
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(m.find(Name("absent")), m.end());
  m[Name("alpha")].push_back({1, 2});
  auto [it, inserted] = m.emplace(Name("beta"), SmallList<RefCount>{});
  EXPECT_TRUE(inserted);
  it->second.push_back({3, 4});
  auto [again, inserted_again] = m.emplace(Name("alpha"), SmallList<RefCount>{});
  EXPECT_FALSE(inserted_again);
  EXPECT_EQ(again->second.size(), 1u);
  m[Name("alpha")].push_back({5, 6});
  EXPECT_EQ(m.size(), 2u);
  EXPECT_EQ(m.find(Name("alpha"))->second.size(), 2u);
  EXPECT_EQ(m.find(Name("nope")), m.end());
  const auto& cm = m;
  EXPECT_EQ(cm.find(Name("beta"))->second[0].file, 3u);
  m.erase(m.find(Name("alpha")));
  EXPECT_EQ(m.find(Name("alpha")), m.end());
  EXPECT_EQ(m.size(), 1u);
}

// Random inserts, appends and erases (many names in a small table, so long probe runs that
// wrap around its end), checked against std::unordered_map after every step.
TEST(NameMapTest, MatchesUnorderedMapUnderRandomInsertsAndErases) {
  std::mt19937 rng(17);
  std::vector<Name> names;
  for (int i = 0; i < 600; ++i) names.emplace_back("name_map_test_" + std::to_string(i));
  NameMap<SmallList<RefCount>> m;
  std::unordered_map<std::string, std::vector<uint32_t>> ref;
  for (int step = 0; step < 20000; ++step) {
    const Name n = names[rng() % names.size()];
    const uint32_t op = rng() % 10;
    if (op < 6) {
      const auto file = static_cast<uint32_t>(step);
      m[n].push_back({file, 1});
      ref[n.str()].push_back(file);
    } else {
      auto it = m.find(n);
      ASSERT_EQ(it == m.end(), ref.count(n.str()) == 0) << step;
      if (it != m.end()) {
        m.erase(it);
        ref.erase(n.str());
      }
    }
    // Every key still reachable from its home slot after the erase's shifts.
    if (step % 97 == 0 || op >= 6) {
      ASSERT_EQ(m.size(), ref.size()) << step;
      for (const auto& [text, files] : ref) {
        auto it = m.find(Name(text));
        ASSERT_NE(it, m.end()) << text << " at step " << step;
        ASSERT_EQ(it->second.size(), files.size()) << text;
      }
    }
  }
  std::map<std::string, std::vector<uint32_t>> want(ref.begin(), ref.end());
  EXPECT_EQ(contents(m), want);
  EXPECT_LE(m.size() * 8, m.capacity() * 7);  // load at most 7/8
}

TEST(NameMapTest, ReserveAvoidsGrowingAndMovesKeepTheEntries) {
  NameMap<SmallList<RefCount>> m;
  m.reserve(1000);
  const size_t cap = m.capacity();
  EXPECT_GE(cap * 7, 1000u * 8);
  for (uint32_t i = 0; i < 1000; ++i) m[Name("reserve_" + std::to_string(i))].push_back({i, 1});
  EXPECT_EQ(m.capacity(), cap);
  NameMap<SmallList<RefCount>> moved(std::move(m));
  EXPECT_EQ(moved.size(), 1000u);
  EXPECT_TRUE(m.empty());  // NOLINT(bugprone-use-after-move): a moved-from map is empty
  EXPECT_EQ(m.find(Name("reserve_1")), m.end());
  NameMap<SmallList<RefCount>> assigned;
  assigned[Name("old")].push_back({1, 1});
  assigned = std::move(moved);
  EXPECT_EQ(assigned.size(), 1000u);
  EXPECT_EQ(assigned.find(Name("old")), assigned.end());
  EXPECT_EQ(assigned.find(Name("reserve_999"))->second[0].file, 999u);
}

}  // namespace
}  // namespace moecode::workspace
