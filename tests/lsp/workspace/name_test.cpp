// Name: the interned identifiers of the symbol index.
#include "lsp/workspace/name.h"
#include "lsp/workspace/symbols.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace moecode::workspace {
namespace {

TEST(Name, EqualTextsShareOneHandle) {
  const std::string a = "interned_name_test_alpha";
  const Name x(a);
  const Name y(std::string_view("interned_name_test_alpha"));
  EXPECT_EQ(x, y);
  EXPECT_EQ(x.data(), y.data());  // one copy of the text
  EXPECT_NE(x.data(), a.data());  // not a view of the caller's string
  EXPECT_EQ(x.view(), a);
  EXPECT_EQ(x.size(), a.size());
  EXPECT_EQ(x.data()[x.size()], '\0');
  EXPECT_EQ(x.hash(), y.hash());
  EXPECT_NE(Name("interned_name_test_beta"), x);
  EXPECT_LT(x, Name("interned_name_test_beta"));
  EXPECT_EQ(sizeof(Name), sizeof(void*));
}

TEST(Name, EmptyName) {
  const Name e;
  EXPECT_TRUE(e.empty());
  EXPECT_EQ(e.view(), "");
  EXPECT_EQ(e, Name(""));
  EXPECT_EQ(e, Name(std::string()));
  EXPECT_NE(e, Name("x"));
  ASSERT_TRUE(Name::find("").has_value());
}

TEST(Name, ComparesWithStrings) {
  const Name n("compare_me");
  EXPECT_TRUE(n == "compare_me");
  EXPECT_TRUE(n == std::string("compare_me"));
  EXPECT_TRUE(n == std::string_view("compare_me"));
  EXPECT_TRUE(n != std::string("compare_mf"));
  EXPECT_FALSE(n != std::string("compare_me"));
  EXPECT_EQ(fmt::format("[{}]", n), "[compare_me]");
  // Text that only looks the same up to a NUL is another name.
  EXPECT_NE(Name(std::string_view("nul\0a", 5)), Name(std::string_view("nul\0b", 5)));
}

TEST(Name, FindDoesNotIntern) {
  const std::string text = "never_interned_before_" + std::to_string(reinterpret_cast<uintptr_t>(&text));
  const auto before = Name::pool_stats().n_names;
  EXPECT_FALSE(Name::find(text).has_value());
  EXPECT_EQ(Name::pool_stats().n_names, before);
  const Name n(text);
  EXPECT_EQ(Name::pool_stats().n_names, before + 1);
  ASSERT_TRUE(Name::find(text).has_value());
  EXPECT_EQ(*Name::find(text), n);
}

TEST(Name, ManyAndLongNamesKeepTheirText) {
  // Enough names to grow every shard's table several times, and names longer than the
  // arena's share for one entry.
  std::vector<Name> names;
  for (int i = 0; i < 50000; ++i) names.emplace_back("grow_" + std::to_string(i));
  const std::string long_text(100000, 'q');
  const Name long_name(long_text);
  for (int i = 0; i < 50000; ++i) {
    ASSERT_EQ(names[i].view(), "grow_" + std::to_string(i));
    ASSERT_EQ(Name("grow_" + std::to_string(i)), names[i]);
  }
  EXPECT_EQ(long_name.view(), long_text);
  EXPECT_EQ(Name(long_text), long_name);
  EXPECT_GE(Name::pool_stats().n_names, 50001u);
}

TEST(Name, ConcurrentInterningAgrees) {
  constexpr int kThreads = 4, kNames = 20000;
  std::vector<std::vector<Name>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kNames; ++i) {
        const int k = (i * 7919 + t * 104729) % kNames;  // each thread in its own order
        got[t].push_back(Name("concurrent_" + std::to_string(k)));
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<const char*> by_key(kNames, nullptr);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kNames; ++i) {
      const int k = (i * 7919 + t * 104729) % kNames;
      ASSERT_EQ(got[t][i].view(), "concurrent_" + std::to_string(k));
      if (!by_key[k]) by_key[k] = got[t][i].data();
      ASSERT_EQ(got[t][i].data(), by_key[k]) << "two copies of " << got[t][i].view();
    }
  }
  std::unordered_set<Name> distinct;
  for (const Name& n : got[0]) distinct.insert(n);
  EXPECT_EQ(distinct.size(), static_cast<size_t>(kNames));
}

TEST(Reference, RangeFollowsFromTheName) {
  const Reference one_line{"push_back", 120, {7, 12}, ReferenceKind::kCall};
  EXPECT_EQ(one_line.range(), (SourceRange{120, 129, {7, 12}, {7, 21}}));
  // A name node that spans lines (a qualified name broken after "::"): the end is on the
  // last line, its column counted from that line's start.
  const Reference two_lines{"std::\n    vector", 40, {3, 8}, ReferenceKind::kType};
  EXPECT_EQ(two_lines.range(), (SourceRange{40, 56, {3, 8}, {4, 10}}));
  Reference moved = one_line;
  moved.set_start({200, 209, {9, 0}, {9, 9}});
  EXPECT_EQ(moved.range(), (SourceRange{200, 209, {9, 0}, {9, 9}}));
  EXPECT_EQ(sizeof(Reference), 24u);
}

}  // namespace
}  // namespace moecode::workspace
