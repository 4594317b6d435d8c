// Tests of mpi/compare: Jaro-Winkler, Soundex and graded birth-date comparison.
#include "mpi/compare.hpp"

#include <gtest/gtest.h>

namespace ucr::mpi {
namespace {

TEST(JaroWinkler, MatchesPublishedExamples) {
  // Winkler (1990) examples: MARTHA/MARHTA, DWAYNE/DUANE, DIXON/DICKSONX.
  EXPECT_NEAR(jaro("martha", "marhta"), 0.9444, 1e-4);
  EXPECT_NEAR(jaro_winkler("martha", "marhta"), 0.9611, 1e-4);
  EXPECT_NEAR(jaro_winkler("dwayne", "duane"), 0.84, 1e-4);
  EXPECT_NEAR(jaro_winkler("dixon", "dicksonx"), 0.8133, 1e-4);
}

TEST(JaroWinkler, IdenticalIsOneAndDisjointIsZero) {
  EXPECT_DOUBLE_EQ(jaro_winkler("smith", "smith"), 1.0);
  EXPECT_DOUBLE_EQ(jaro_winkler("abc", "xyz"), 0.0);
  EXPECT_DOUBLE_EQ(jaro_winkler("", "smith"), 0.0);
}

TEST(JaroWinkler, IsSymmetric) { EXPECT_DOUBLE_EQ(jaro_winkler("jones", "johnson"), jaro_winkler("johnson", "jones")); }

TEST(Soundex, MatchesTheNationalArchivesExamples) {
  EXPECT_EQ(soundex("Robert"), "R163");
  EXPECT_EQ(soundex("Rupert"), "R163");
  EXPECT_EQ(soundex("Ashcraft"), "A261");  // H does not separate S and C
  EXPECT_EQ(soundex("Tymczak"), "T522");
  EXPECT_EQ(soundex("Pfister"), "P236");  // P and F share a code
  EXPECT_EQ(soundex("Lee"), "L000");
  EXPECT_EQ(soundex("Gutierrez"), "G362");
}

TEST(Soundex, SpellingVariantsShareACode) {
  EXPECT_EQ(soundex("Smith"), soundex("Smyth"));
  EXPECT_EQ(soundex("smith"), "S530");
  EXPECT_EQ(soundex(""), "");
}

TEST(Dates, ParsesFullAndPartialDates) {
  EXPECT_EQ(parse_date("1970-03-12"), (Date{1970, 3, 12}));
  EXPECT_EQ(parse_date("1970-03"), (Date{1970, 3, 0}));
  EXPECT_EQ(parse_date("1970"), (Date{1970, 0, 0}));
  EXPECT_EQ(parse_date("1970-03-12T10:00:00Z"), (Date{1970, 3, 12}));
  EXPECT_FALSE(parse_date("1970-02-30"));
  EXPECT_FALSE(parse_date("12/03/1970"));
  EXPECT_EQ(format_date(Date{1970, 3, 12}), "1970-03-12");
}

TEST(Dates, GradesEveryKindOfDisagreement) {
  EXPECT_EQ(compare_dates("1970-03-12", "1970-03-12"), DateAgreement::kExact);
  EXPECT_EQ(compare_dates("1970-03-12", "1970-12-03"), DateAgreement::kTransposed);
  EXPECT_EQ(compare_dates("1970-03-12", "1970-03-13"), DateAgreement::kOneDigit);
  EXPECT_EQ(compare_dates("1970-03-12", "1976-03-12"), DateAgreement::kOneDigit);
  EXPECT_EQ(compare_dates("1970-03-12", "1970-03-28"), DateAgreement::kSameYearMonth);
  EXPECT_EQ(compare_dates("1979-03-12", "1980-03-12"), DateAgreement::kYearOffByOne);
  EXPECT_EQ(compare_dates("1970-03-12", "1985-07-01"), DateAgreement::kFar);
  EXPECT_EQ(compare_dates("1970-03-12", ""), DateAgreement::kMissing);
}

TEST(Dates, PartialDatesAgreeAsFarAsTheyGo) {
  EXPECT_EQ(compare_dates("1970-03", "1970-03-12"), DateAgreement::kSameYearMonth);
  EXPECT_EQ(compare_dates("1970", "1970-03-12"), DateAgreement::kSameYearMonth);
  EXPECT_EQ(compare_dates("1970", "1971-03-12"), DateAgreement::kYearOffByOne);
  EXPECT_EQ(compare_dates("1970-04", "1970-03-12"), DateAgreement::kFar);
}

}  // namespace
}  // namespace ucr::mpi
