// Tests of mpi/blocking: the keys a record is indexed and queried by.
#include "mpi/blocking.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>

namespace ucr::mpi {
namespace {

PatientRecord record(std::string_view text) {
  return record_from_patient(boost::json::parse(text).as_object()).value();
}

bool has(const std::vector<std::string>& keys, std::string_view k) {
  return std::find(keys.begin(), keys.end(), k) != keys.end();
}

bool share_a_key(const PatientRecord& a, const PatientRecord& b) {
  const auto ka = blocking_keys(a);
  const auto kb = blocking_keys(b);
  return std::any_of(ka.begin(), ka.end(), [&](const std::string& k) { return has(kb, k); });
}

TEST(BlockingKeys, CoverEveryKindOfKey) {
  const auto keys = blocking_keys(record(R"({"resourceType": "Patient",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9000000009"},
                   {"system": "urn:trust", "value": "H1"}],
    "name": [{"family": "Smith", "given": ["John"]}], "birthDate": "1970-03-12",
    "address": [{"postalCode": "ME14 5AB"}],
    "telecom": [{"system": "phone", "value": "07700 900123"}, {"system": "email", "value": "J@x.uk"}]})"));
  for (const char* k : {"nhs:9000000009", "dob:1970-03-12", "sx:S530|ME14", "gi:j|1970|ME14 5", "nm:S530|J500|1970",
                        "tel:07700900123", "email:j@x.uk", "id:urn:trust|H1"}) {
    EXPECT_TRUE(has(keys, k)) << k;
  }
  EXPECT_TRUE(std::is_sorted(keys.begin(), keys.end()));
}

TEST(BlockingKeys, TransposedBirthDatesStillMeet) {
  const auto a = record(R"({"resourceType": "Patient", "birthDate": "1970-03-12"})");
  const auto b = record(R"({"resourceType": "Patient", "birthDate": "1970-12-03"})");
  EXPECT_TRUE(share_a_key(a, b));
}

TEST(BlockingKeys, ADateAndItsTranspositionShareOneKey) {
  const auto a = blocking_keys(record(R"({"resourceType": "Patient", "birthDate": "1970-03-12"})"));
  const auto b = blocking_keys(record(R"({"resourceType": "Patient", "birthDate": "1970-12-03"})"));
  EXPECT_EQ(a, (std::vector<std::string>{"dob:1970-03-12"}));
  EXPECT_EQ(a, b);
  // Other dates of the year do not meet.
  EXPECT_EQ(blocking_keys(record(R"({"resourceType": "Patient", "birthDate": "1970-03-11"})")),
            (std::vector<std::string>{"dob:1970-03-11"}));
  EXPECT_EQ(blocking_keys(record(R"({"resourceType": "Patient", "birthDate": "1971-12-03"})")),
            (std::vector<std::string>{"dob:1971-03-12"}));
}

// Stores written before the ascending-order key held a date's key and, when the day could be a month, its
// transposition's. A new record's key meets such a stored record exactly when the dates are equal or
// transposed: checked for every pair of dates in a year.
TEST(BlockingKeys, DateKeysMeetTheKeysEarlierStoresHeld) {
  const auto date = [](int m, int d) { return fmt::format("1984-{:02}-{:02}", m, d); };
  const auto earlier_keys = [&](int m, int d) {
    std::vector<std::string> keys{"dob:" + date(m, d)};
    if (d <= 12 && d != m) keys.push_back("dob:" + date(d, m));
    return keys;
  };
  constexpr std::array<int, 12> kDays{31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int pairs = 0;
  for (int m1 = 1; m1 <= 12; ++m1) {
    for (int d1 = 1; d1 <= kDays.at(m1 - 1); ++d1) {
      const auto mine = blocking_keys(record(R"({"resourceType": "Patient", "birthDate": ")" + date(m1, d1) + "\"}"));
      ASSERT_EQ(mine.size(), 1U);
      for (int m2 = 1; m2 <= 12; ++m2) {
        for (int d2 = 1; d2 <= kDays.at(m2 - 1); ++d2) {
          const bool same_or_transposed = (m1 == m2 && d1 == d2) || (m1 == d2 && d1 == m2);
          EXPECT_EQ(has(earlier_keys(m2, d2), mine[0]), same_or_transposed) << date(m1, d1) << " " << date(m2, d2);
          pairs += same_or_transposed ? 1 : 0;
        }
      }
    }
  }
  // Each of the 366 dates meets itself; the 132 with a day of at most 12 other than the month meet their
  // transposition too.
  EXPECT_EQ(pairs, 366 + 132);
}

TEST(BlockingKeys, NoSwappedKeyWhenTheDayCannotBeAMonth) {
  const auto keys = blocking_keys(record(R"({"resourceType": "Patient", "birthDate": "1970-03-25"})"));
  EXPECT_EQ(keys, (std::vector<std::string>{"dob:1970-03-25"}));
}

TEST(BlockingKeys, DoubleBarrelledSurnameMeetsEitherPart) {
  const auto a = record(
      R"({"resourceType": "Patient", "name": [{"family": "Smith-Jones"}], "address": [{"postalCode": "ME14 5AB"}]})");
  const auto b =
      record(R"({"resourceType": "Patient", "name": [{"family": "Jones"}], "address": [{"postalCode": "ME14 9ZZ"}]})");
  EXPECT_TRUE(share_a_key(a, b));
}

TEST(BlockingKeys, NicknameMeetsFormalNameAfterAMove) {
  const auto a = record(R"({"resourceType": "Patient", "name": [{"family": "Smith", "given": ["Bill"]}],
    "birthDate": "1950-01-20", "address": [{"postalCode": "ME14 5AB"}]})");
  const auto b = record(R"({"resourceType": "Patient", "name": [{"family": "Smyth", "given": ["William"]}],
    "birthDate": "1950-01-21", "address": [{"postalCode": "CT1 2AB"}]})");
  EXPECT_TRUE(share_a_key(a, b));
}

TEST(BlockingKeys, PreviousAddressesAreKeysToo) {
  // Birth date wrong by a year and no phone: only the surname near the previous address meets.
  const auto moved = record(R"({"resourceType": "Patient", "name": [{"family": "Hartley", "given": ["Margaret"]}],
    "birthDate": "1948-05-14", "address": [{"use": "home", "postalCode": "CT9 1AA"},
    {"use": "old", "postalCode": "ME14 5AB", "period": {"end": "2021-06-30"}}]})");
  const auto keys = blocking_keys(moved);
  EXPECT_TRUE(has(keys, "sx:H634|ME14"));
  EXPECT_TRUE(has(keys, "gi:m|1948|ME14 5"));
  EXPECT_TRUE(has(keys, "sx:H634|CT9"));
  const auto stale = record(R"({"resourceType": "Patient", "name": [{"family": "Hartley", "given": ["Maggie"]}],
    "birthDate": "1949-05-14", "address": [{"postalCode": "ME14 6XY"}]})");
  EXPECT_TRUE(share_a_key(moved, stale));
}

TEST(BlockingKeys, EmptyRecordHasNoKeys) { EXPECT_TRUE(blocking_keys(PatientRecord{}).empty()); }

}  // namespace
}  // namespace ucr::mpi
