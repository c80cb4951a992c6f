#include "moecode/engine/result.h"

#include <memory>
#include <string>

#include <gtest/gtest.h>

namespace moecode {
namespace {

Result<int> parse_positive(int x) {
  if (x <= 0) return make_error(ErrorCode::kInvalidArgument, "not positive: " + std::to_string(x));
  return x;
}

Result<int> twice(int x) {
  MOE_TRY(int v, parse_positive(x));
  return 2 * v;
}

Status check(int x) {
  MOE_RETURN_IF_ERROR(parse_positive(x));
  return {};
}

TEST(ResultTest, ValueAndError) {
  auto ok = parse_positive(3);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "not positive: -1");
}

TEST(ResultTest, TryPropagates) {
  EXPECT_EQ(*twice(4), 8);
  EXPECT_FALSE(twice(0).ok());
  EXPECT_TRUE(check(1).ok());
  EXPECT_EQ(check(-2).error().message(), "not positive: -2");
}

TEST(ResultTest, MoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace moecode
