#include "fhir/json_text.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace ucr::fhir {
namespace {

TEST(JsonText, DecimalsAreWrittenInPlainNotation) {
  EXPECT_EQ(decimal_text(72.4), "72.4");
  EXPECT_EQ(decimal_text(0.001), "0.001");
  EXPECT_EQ(decimal_text(-36.6), "-36.6");
  EXPECT_EQ(decimal_text(1234567.5), "1234567.5");
  EXPECT_EQ(decimal_text(0), "0");
  EXPECT_EQ(decimal_text(1e300).find('e') != std::string::npos, true) << "huge values keep an exponent";
}

TEST(JsonText, ResourcesReadBackToTheSameValues) {
  const auto v = boost::json::parse(
      R"({"a":[1,2.5,-0.125,true,null,"x\"y\u00e9"],"b":{"c":1e-3,"d":7.24E1},"e":18446744073709551615})");
  const std::string text = json_text(v);
  EXPECT_EQ(text, R"({"a":[1,2.5,-0.125,true,null,"x\"yé"],"b":{"c":0.001,"d":72.4},"e":18446744073709551615})");
  EXPECT_EQ(boost::json::parse(text), v);
}

}  // namespace
}  // namespace ucr::fhir
