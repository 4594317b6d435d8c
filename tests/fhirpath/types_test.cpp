#include "fhirpath/types.hpp"

#include <gtest/gtest.h>

namespace ucr::fhirpath {
namespace {

Decimal dec(std::string_view s) { return *Decimal::parse(s); }

TEST(FhirPathDecimal, ParsesAndPrintsKeepingScale) {
  EXPECT_EQ(dec("1.0").to_string(), "1.0");
  EXPECT_EQ(dec("-0.50").to_string(), "-0.50");
  EXPECT_EQ(dec("1234567890987654321.0").to_string(), "1234567890987654321.0");
  EXPECT_EQ(dec("0.00000001").scale(), 8);
  EXPECT_FALSE(Decimal::parse("1."));
  EXPECT_FALSE(Decimal::parse(".5"));
  EXPECT_FALSE(Decimal::parse("1e5"));
  EXPECT_FALSE(Decimal::parse("123456789012345678901234567890123456789012"));
}

TEST(FhirPathDecimal, ArithmeticIsExact) {
  EXPECT_EQ(Decimal::add(dec("1.2"), dec("1.8"))->to_string(), "3.0");
  EXPECT_EQ(Decimal::subtract(dec("1.8"), dec("1.2"))->to_string(), "0.6");
  EXPECT_EQ(Decimal::multiply(dec("1.2"), dec("1.8"))->to_string(), "2.16");
  EXPECT_EQ(Decimal::divide(dec("1"), dec("2"))->to_string(), "0.5");
  EXPECT_EQ(Decimal::divide(dec("4.0"), dec("2.0"))->to_string(), "2.0");
  EXPECT_EQ(Decimal::divide(dec("1.2"), dec("1.8"))->to_string(), "0.66666667");
  EXPECT_FALSE(Decimal::divide(dec("1"), dec("0")));
  EXPECT_EQ(Decimal::modulo(dec("2.2"), dec("1.8"))->to_string(), "0.4");
  EXPECT_EQ(Decimal::compare(dec("1.10"), dec("1.1")), 0);
  EXPECT_EQ(Decimal::compare(dec("-1"), dec("0.5")), -1);
}

TEST(FhirPathDecimal, Rounding) {
  EXPECT_EQ(dec("3.14159").round(3).to_string(), "3.142");
  EXPECT_EQ(dec("-2.5").round(0).to_string(), "-3");
  EXPECT_EQ(dec("-2.1").floor().to_string(), "-3");
  EXPECT_EQ(dec("-1.1").ceiling().to_string(), "-1");
  EXPECT_EQ(dec("-1.56").truncate().to_string(), "-1");
  EXPECT_EQ(dec("1.500").trimmed(1).to_string(), "1.5");
  EXPECT_EQ(Decimal::from_double(0.1)->to_string(), "0.1");
}

TEST(FhirPathTemporal, ParsesEachPrecision) {
  auto d = Temporal::parse_date("2015-02");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->precision, Precision::kMonth);
  EXPECT_FALSE(Temporal::parse_date("2015-02-30"));
  auto dt = Temporal::parse_date_time("2015-02-04T14:34:28.1+10:00");
  ASSERT_TRUE(dt);
  EXPECT_EQ(dt->millisecond, 100);
  EXPECT_EQ(dt->tz_minutes, 600);
  EXPECT_EQ(dt->to_string(), "2015-02-04T14:34:28.100+10:00");
  EXPECT_EQ(Temporal::parse_date_time("2015T")->to_string(), "2015");
  EXPECT_EQ(Temporal::parse_time("14:34")->precision_digits(), 4);
  EXPECT_FALSE(Temporal::parse_time("14:34Z"));
  EXPECT_FALSE(Temporal::parse_date_time("2015-02-04T25:00"));
}

TEST(FhirPathTemporal, ComparesWithPrecisionAndTimezones) {
  auto dt = [](std::string_view s) { return *Temporal::parse_date_time(s); };
  EXPECT_EQ(compare_temporal(dt("2017-11-05T01:30:00.0-04:00"), dt("2017-11-05T00:30:00.0-05:00")), 0);
  EXPECT_EQ(compare_temporal(dt("2017-11-05T01:30:00.0-04:00"), dt("2017-11-05T01:15:00.0-05:00")), -1);
  EXPECT_EQ(compare_temporal(dt("2012-04-15T15:30:31"), dt("2012-04-15T15:30:31.0")), 0);
  EXPECT_EQ(compare_temporal(dt("2018-03-01T10:30"), dt("2018-03-01T10:30:00")), std::nullopt);
  EXPECT_EQ(compare_temporal(dt("2018-03"), dt("2019-03-01T10:30:00")), -1);  // decided above the common precision
  EXPECT_EQ(compare_temporal(dt("2012-04-15T15:00:00Z"), dt("2012-04-15T10:00:00")), std::nullopt);
  EXPECT_FALSE(temporal_comparable(*Temporal::parse_time("10:00"), dt("2012")));
}

TEST(FhirPathTemporal, CalendarArithmetic) {
  auto d = *Temporal::parse_date("2012-01-31");
  EXPECT_EQ((add_duration(d, Quantity{Decimal::from_int(1), "month"}, 1)->to_string()), "2012-02-29");
  EXPECT_EQ((add_duration(d, Quantity{Decimal::from_int(1), "year"}, -1)->to_string()), "2011-01-31");
  EXPECT_EQ((add_duration(d, Quantity{*Decimal::parse("7.7"), "days"}, 1)->to_string()), "2012-02-07");
  EXPECT_FALSE((add_duration(d, Quantity{Decimal::from_int(1), "mo"}, 1)));
  EXPECT_FALSE((add_duration(d, Quantity{Decimal::from_int(1), "cm"}, 1)));
  auto dt = *Temporal::parse_date_time("1973-12-31T23:59:59.999+10:00");
  EXPECT_EQ((add_duration(dt, Quantity{Decimal::from_int(1), "ms"}, 1)->to_string()), "1974-01-01T00:00:00.000+10:00");
  auto t = *Temporal::parse_time("23:30");
  EXPECT_EQ((add_duration(t, Quantity{Decimal::from_int(1), "hour"}, 1)->to_string()), "00:30");
}

TEST(FhirPathQuantity, ConvertsUcumUnits) {
  Quantity g{dec("4.0000"), "g"}, mg{dec("4000.0"), "mg"};
  EXPECT_EQ(compare_quantity(g, mg), 0);
  EXPECT_EQ((compare_quantity(Quantity{dec("6"), "days"}, Quantity{dec("1"), "week"})), -1);
  EXPECT_EQ((compare_quantity(Quantity{dec("1"), "month"}, Quantity{dec("1"), "mo"})), std::nullopt);
  EXPECT_EQ((compare_quantity(Quantity{dec("1"), "[in_i]"}, Quantity{dec("2.54"), "cm"})), 0);
  EXPECT_EQ((compare_quantity(Quantity{dec("1"), "mm[Hg]"}, Quantity{dec("133.322387415"), "Pa"})), 0);
  EXPECT_TRUE((quantities_comparable(Quantity{dec("1"), "cm"}, Quantity{dec("1"), "[in_i]"})));
  EXPECT_FALSE((quantities_comparable(Quantity{dec("1"), "cm"}, Quantity{dec("1"), "s"})));
  EXPECT_FALSE(unit_info("[s]"));
  auto area = multiply_quantity(Quantity{dec("2.0"), "cm"}, Quantity{dec("2.0"), "m"});
  ASSERT_TRUE(area);
  EXPECT_EQ((compare_quantity(*area, Quantity{dec("0.040"), "m2"})), 0);
  auto ratio = divide_quantity(Quantity{dec("1.0"), "m"}, Quantity{dec("1.0"), "m"});
  EXPECT_EQ(ratio->unit, "1");
  EXPECT_EQ((convert_quantity(Quantity{dec("1.5"), "g"}, "mg")->to_string()), "1500.0 'mg'");
  EXPECT_EQ((Quantity{dec("1"), "week"}.to_string()), "1 week");
  EXPECT_EQ((equivalent_quantity(Quantity{dec("4"), "g"}, Quantity{dec("4040"), "mg"})), true);
}

}  // namespace
}  // namespace ucr::fhirpath
