// Tests of auth/totp against RFC 6238 Appendix B (SHA-1 rows) and the drift window of §5.2.
#include "auth/totp.hpp"

#include "auth/crypto.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ucr::auth {
namespace {

// RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
constexpr std::string_view kRfcSecret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

TEST(Totp, RfcSecretIsTheBase32OfTheAsciiSeed) { EXPECT_EQ(base32_encode("12345678901234567890"), kRfcSecret); }

TEST(Totp, MatchesTheRfc6238Sha1VectorsTruncatedToSixDigits) {
  // The RFC lists 8-digit values; a 6-digit generator yields the value mod 10^6, i.e. its last six digits,
  // leading zeros kept (07081804 -> 081804, 89005924 -> 005924).
  const std::pair<std::int64_t, std::string_view> rows[] = {
      {59, "287082"},           // 94287082
      {1111111109, "081804"},   // 07081804
      {1111111111, "050471"},   // 14050471
      {1234567890, "005924"},   // 89005924
      {2000000000, "279037"},   // 69279037
      {20000000000, "353130"},  // 65353130
  };
  for (const auto& [t, code] : rows) EXPECT_EQ(totp_code(kRfcSecret, t), std::string(code)) << t;
}

TEST(Totp, CodeIsConstantWithinAStepAndChangesAtItsBoundary) {
  EXPECT_EQ(totp_code(kRfcSecret, 30), totp_code(kRfcSecret, 59));
  EXPECT_NE(totp_code(kRfcSecret, 29), totp_code(kRfcSecret, 30));
  EXPECT_NE(totp_code(kRfcSecret, 59), totp_code(kRfcSecret, 60));
}

TEST(Totp, VerifyAcceptsTheCurrentStepAndTheWindowAroundIt) {
  const std::int64_t t = 1111111111;  // step 37037037
  const std::string code = "050471";
  EXPECT_TRUE(totp_verify(kRfcSecret, code, t));
  EXPECT_TRUE(totp_verify(kRfcSecret, code, t + 30));  // next step, window 1
  EXPECT_TRUE(totp_verify(kRfcSecret, code, t - 30));  // previous step
  EXPECT_FALSE(totp_verify(kRfcSecret, code, t + 30, 0));
  EXPECT_FALSE(totp_verify(kRfcSecret, code, t + 60));
  EXPECT_TRUE(totp_verify(kRfcSecret, code, t + 60, 2));
  EXPECT_FALSE(totp_verify(kRfcSecret, code, t + 60, -5));  // negative window counts as 0
  // The window is capped: ten steps at most, whatever is asked.
  EXPECT_TRUE(totp_verify(kRfcSecret, code, t + 300, 1000));
  EXPECT_FALSE(totp_verify(kRfcSecret, code, t + 330, 1000));
}

TEST(Totp, MatchingStepNamesTheStepSoACodeCanBeUsedOnce) {
  const std::int64_t t = 1111111111;
  EXPECT_EQ(totp_matching_step(kRfcSecret, "050471", t), t / 30);
  EXPECT_EQ(totp_matching_step(kRfcSecret, "050471", t + 30), t / 30);
  EXPECT_EQ(totp_matching_step(kRfcSecret, "081804", t), t / 30 - 1);  // 1111111109 is in the step before
  EXPECT_FALSE(totp_matching_step(kRfcSecret, "123456", t));
}

TEST(Totp, RefusesWrongAndMalformedCodes) {
  const std::int64_t t = 59;
  EXPECT_TRUE(totp_verify(kRfcSecret, "287082", t));
  EXPECT_FALSE(totp_verify(kRfcSecret, "287083", t));
  EXPECT_FALSE(totp_verify(kRfcSecret, "94287082", t));  // the 8-digit form
  EXPECT_FALSE(totp_verify(kRfcSecret, "28708", t));
  EXPECT_FALSE(totp_verify(kRfcSecret, " 287082", t));
  EXPECT_FALSE(totp_verify(kRfcSecret, "28708a", t));
  EXPECT_FALSE(totp_verify(kRfcSecret, "", t));
}

TEST(Totp, MalformedSecretGivesNoCode) {
  EXPECT_FALSE(totp_code("", 59));
  EXPECT_FALSE(totp_code("12345678901234567890", 59));  // digits 0, 1, 8, 9 are not base32
  EXPECT_FALSE(totp_code("GEZDGNBV!", 59));
  EXPECT_FALSE(totp_code("GEZ", 59));  // impossible length
  EXPECT_FALSE(totp_verify("", "287082", 59));
  EXPECT_FALSE(totp_verify("GEZDGNBV!", "287082", 59));
}

TEST(Totp, SecretMayBeLowerCaseOrGrouped) {
  EXPECT_EQ(totp_code("gezdgnbvgy3tqojqgezdgnbvgy3tqojq", 59), std::string("287082"));
  EXPECT_EQ(totp_code("GEZD GNBV GY3T QOJQ GEZD GNBV GY3T QOJQ", 59), std::string("287082"));
}

TEST(Totp, TimeBeforeTheEpochHasNoCode) {
  EXPECT_FALSE(totp_code(kRfcSecret, -1));
  EXPECT_FALSE(totp_verify(kRfcSecret, "287082", -1));
}

TEST(Totp, NewSecretIsTwentyRandomBytesInBase32) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const auto s = totp_new_secret();
    EXPECT_EQ(s.size(), 32U);
    ASSERT_TRUE(base32_decode(s));
    EXPECT_EQ(base32_decode(s)->size(), 20U);
    EXPECT_TRUE(totp_code(s, 1700000000));
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100U);
}

TEST(Totp, UriCarriesIssuerAccountAndParametersPercentEncoded) {
  EXPECT_EQ(totp_uri(kRfcSecret, "alice@example.org", "UCR Hospital"),
            "otpauth://totp/UCR%20Hospital:alice%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
            "&issuer=UCR%20Hospital&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(totp_uri("gezd gnbv", "bob", ""), "otpauth://totp/bob?secret=GEZDGNBV&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(totp_uri(kRfcSecret, "a:b&c", "X?").find("a:b&c"), std::string::npos);
}

}  // namespace
}  // namespace ucr::auth
