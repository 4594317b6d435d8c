// Tests of mpi/nhs_number: the Modulus 11 rule and the accepted written forms, against the shared cases.
#include "mpi/nhs_number.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <fstream>
#include <sstream>
#include <string>

namespace ucr::mpi {
namespace {

TEST(NhsNumber, AcceptsPublishedTestNumber) {
  EXPECT_EQ(check_nhs_number("9000000009"), NhsNumberStatus::kValid);
  EXPECT_EQ(canonicalise_nhs_number("9000000009").value(), "9000000009");
}

TEST(NhsNumber, AcceptsSpacedForm) { EXPECT_EQ(canonicalise_nhs_number("943 476 5919").value(), "9434765919"); }

TEST(NhsNumber, AcceptsHyphenatedFormAndSurroundingWhitespace) {
  EXPECT_EQ(canonicalise_nhs_number(" 943-476-5919\n").value(), "9434765919");
}

TEST(NhsNumber, RejectsSeparatorsOutsideThreeThreeFourGroups) {
  EXPECT_EQ(check_nhs_number("9434 765 919"), NhsNumberStatus::kNonDigit);
  EXPECT_EQ(check_nhs_number("943 476-5919"), NhsNumberStatus::kNonDigit);
}

TEST(NhsNumber, ReportsEachReason) {
  EXPECT_EQ(check_nhs_number(""), NhsNumberStatus::kEmpty);
  EXPECT_EQ(check_nhs_number("94347659"), NhsNumberStatus::kWrongLength);
  EXPECT_EQ(check_nhs_number("94347659199"), NhsNumberStatus::kWrongLength);
  EXPECT_EQ(check_nhs_number("94347A5919"), NhsNumberStatus::kNonDigit);
  EXPECT_EQ(check_nhs_number("9434765918"), NhsNumberStatus::kCheckDigitMismatch);
}

TEST(NhsNumber, CheckDigitTenMeansNoValidNumber) {
  // 123456789: 1*10+2*9+3*8+4*7+5*6+6*5+7*4+8*3+9*2 = 230; 230 mod 11 = 10; 11 - 10 = 1. Search for a 10.
  std::string nine = "000000000";
  for (int n = 0; n < 1000; ++n) {
    nine[6] = static_cast<char>('0' + n / 100);
    nine[7] = static_cast<char>('0' + n / 10 % 10);
    nine[8] = static_cast<char>('0' + n % 10);
    if (nhs_check_digit(nine) == 10) break;
  }
  ASSERT_EQ(nhs_check_digit(nine), 10);
  for (char d = '0'; d <= '9'; ++d) EXPECT_EQ(check_nhs_number(nine + d), NhsNumberStatus::kCheckDigitTen);
}

TEST(NhsNumber, CheckDigitElevenBecomesZero) {
  // 000000000 sums to 0: 11 - 0 = 11 -> 0.
  EXPECT_EQ(nhs_check_digit("000000000"), 0);
  EXPECT_TRUE(is_valid_nhs_number("0000000000"));
}

TEST(NhsNumber, ErrorNamesTheReasonAndTheElement) {
  const auto r = canonicalise_nhs_number("9434765918");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("check digit mismatch"), std::string::npos);
  EXPECT_EQ(r.error().issues.front().expression, "Patient.identifier.value");
}

TEST(NhsNumber, PassesEverySharedCase) {
  std::ifstream in(std::string(UCR_TEST_DATA_DIR) + "/mpi/nhs-number-cases.json");
  ASSERT_TRUE(in) << "missing tests/data/mpi/nhs-number-cases.json";
  std::stringstream text;
  text << in.rdbuf();
  const auto cases = boost::json::parse(text.str()).as_array();
  ASSERT_GT(cases.size(), 40U);
  for (const auto& c : cases) {
    const std::string value(c.at("value").as_string());
    const bool valid = c.at("valid").as_bool();
    const std::string reason(c.at("reason").as_string());
    const auto status = check_nhs_number(value);
    EXPECT_EQ(status == NhsNumberStatus::kValid, valid) << value << " (" << reason << ")";
    if (valid) {
      std::string digits;
      for (const char ch : value) {
        if (ch >= '0' && ch <= '9') digits.push_back(ch);
      }
      EXPECT_EQ(canonicalise_nhs_number(value).value(), digits);
    } else if (reason == "too short" || reason == "too long") {
      EXPECT_EQ(status, NhsNumberStatus::kWrongLength) << value;
    } else if (reason == "non-digit") {
      EXPECT_EQ(status, NhsNumberStatus::kNonDigit) << value;
    } else if (reason == "empty") {
      EXPECT_EQ(status, NhsNumberStatus::kEmpty) << value;
    } else if (reason == "check digit mismatch") {
      EXPECT_TRUE(status == NhsNumberStatus::kCheckDigitMismatch || status == NhsNumberStatus::kCheckDigitTen) << value;
    }
  }
}

}  // namespace
}  // namespace ucr::mpi
