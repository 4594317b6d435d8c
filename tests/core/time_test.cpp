#include "core/time.hpp"

#include <gtest/gtest.h>

namespace ucr::core {
namespace {

TEST(Time, FormatsInstantInUtcWithMilliseconds) {
  EXPECT_EQ(format_instant(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_instant(1'795'000'000'123'456), "2026-11-18T11:06:40.123Z");
}

TEST(Time, RoundTripsHttpDates) {
  const auto t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(format_http_date(*t), "Sun, 06 Nov 1994 08:49:37 GMT");
  EXPECT_FALSE(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").has_value());
  EXPECT_FALSE(parse_http_date("").has_value());
}

TEST(Time, ParsesFhirDatesAtEveryPrecision) {
  EXPECT_EQ(parse_fhir_datetime("1970"), 0);
  EXPECT_EQ(parse_fhir_datetime("1970-01-02"), 86'400'000'000);
  EXPECT_EQ(parse_fhir_datetime("1970-01-01T01:00:00+01:00"), 0);
  EXPECT_EQ(parse_fhir_datetime("1970-01-01T00:00:00.5Z"), 500'000);
  EXPECT_FALSE(parse_fhir_datetime("1970-13").has_value());
  EXPECT_FALSE(parse_fhir_datetime("1970-01-01T00:00:00").has_value());
  EXPECT_FALSE(parse_fhir_datetime("yesterday").has_value());
}

}  // namespace
}  // namespace ucr::core
