#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace ucr::core {
namespace {

TEST(Ids, NewUuidsAreVersion4AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_uuid();
    ASSERT_EQ(id.size(), 36U);
    EXPECT_EQ(id[14], '4');
    EXPECT_TRUE(is_valid_id(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000U);
}

TEST(Ids, ValidatesFhirIdSyntax) {
  EXPECT_TRUE(is_valid_id("example-1.2"));
  EXPECT_FALSE(is_valid_id(""));
  EXPECT_FALSE(is_valid_id("has space"));
  EXPECT_FALSE(is_valid_id("slash/id"));
  EXPECT_FALSE(is_valid_id(std::string(65, 'a')));
  EXPECT_TRUE(is_valid_id(std::string(64, 'a')));
}

}  // namespace
}  // namespace ucr::core
