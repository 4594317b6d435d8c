#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <set>
#include <string>

namespace ucr::core {
namespace {

TEST(Ids, NewUuidsAreVersion7AndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    const std::string id = new_uuid();
    ASSERT_EQ(id.size(), 36U);
    EXPECT_EQ(id[8], '-');
    EXPECT_EQ(id[14], '7');
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // RFC 9562 variant
    EXPECT_TRUE(is_valid_id(id));
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000U);
}

TEST(Ids, NewUuidsSortByCreationTime) {
  // The first 18 characters are the time (and the version digit): ids made one after another
  // never sort before an earlier one there, so id-keyed indexes grow at one end.
  std::string last = new_uuid();
  const auto now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  const std::string hex_ms = last.substr(0, 8) + last.substr(9, 4);
  EXPECT_NEAR(static_cast<double>(std::stoll(hex_ms, nullptr, 16)), static_cast<double>(now_ms), 5000.0);
  for (int i = 0; i < 10000; ++i) {
    std::string id = new_uuid();
    EXPECT_LE(last.substr(0, 18), id.substr(0, 18));
    last = std::move(id);
  }
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
