#include "lsp/workspace/small_list.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "lsp/workspace/index.h"

namespace moecode::workspace {
namespace {

static_assert(sizeof(SmallList<DefRef>) == 16);

std::vector<DefRef> as_vector(std::span<const DefRef> s) { return {s.begin(), s.end()}; }

TEST(SmallListTest, KeepsOneValueInPlaceAndGrowsPastIt) {
  SmallList<DefRef> l;
  EXPECT_TRUE(l.empty());
  l.push_back({7, 1});
  EXPECT_EQ(l.capacity(), 1u);  // in place
  EXPECT_EQ(as_vector(l), (std::vector<DefRef>{{7, 1}}));
  l.push_back({8, 2});
  l.push_back({9, 3});
  EXPECT_GT(l.capacity(), 1u);
  EXPECT_EQ(as_vector(l), (std::vector<DefRef>{{7, 1}, {8, 2}, {9, 3}}));
  l.erase_if([](const DefRef& r) { return r.file != 8; });
  EXPECT_EQ(as_vector(l), (std::vector<DefRef>{{8, 2}}));
  l.shrink_to_fit();
  EXPECT_EQ(l.capacity(), 1u);  // back in place
  EXPECT_EQ(as_vector(l), (std::vector<DefRef>{{8, 2}}));
  l.erase_if([](const DefRef&) { return true; });
  EXPECT_TRUE(l.empty());
}

// Random pushes, removals, shrinks, copies and moves against std::vector.
TEST(SmallListTest, BehavesLikeAVector) {
  std::mt19937 rng(11);
  SmallList<RefCount> l;
  std::vector<RefCount> v;
  for (int step = 0; step < 20000; ++step) {
    switch (rng() % 8) {
      case 0: case 1: case 2: case 3: {
        const RefCount c{static_cast<FileId>(rng() % 50), static_cast<uint32_t>(rng())};
        l.push_back(c);
        v.push_back(c);
        break;
      }
      case 4: {
        const FileId f = static_cast<FileId>(rng() % 50);
        l.erase_if([&](const RefCount& c) { return c.file == f; });
        std::erase_if(v, [&](const RefCount& c) { return c.file == f; });
        break;
      }
      case 5: l.shrink_to_fit(); break;
      case 6: {
        SmallList<RefCount> copy = l;
        SmallList<RefCount> moved = std::move(copy);
        EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): a moved-from list is empty
        l = moved;
        break;
      }
      case 7: {
        SmallList<RefCount> other;
        other = std::move(l);
        l = std::move(other);
        break;
      }
    }
    ASSERT_EQ(l.size(), v.size()) << step;
    ASSERT_TRUE(std::equal(l.begin(), l.end(), v.begin(), v.end())) << step;
  }
}

}  // namespace
}  // namespace moecode::workspace
