// Tests of mpi/matcher: field levels, Fellegi-Sunter scores, grades, safety rules, explanations, config.
#include "mpi/matcher.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cmath>

namespace ucr::mpi {
namespace {

namespace json = boost::json;

PatientRecord record(std::string_view text) {
  auto o = json::parse(text).as_object();
  o["resourceType"] = "Patient";
  return record_from_patient(o).value();
}

constexpr std::string_view kJohn = R"({
  "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
  "name": [{"family": "Smith", "given": ["John", "Paul"]}], "birthDate": "1970-03-12", "gender": "male",
  "address": [{"postalCode": "ME14 5AB"}], "telecom": [{"system": "phone", "value": "07700 900123"}]})";

int level(const ComparisonVector& v, Field f) { return v[static_cast<std::size_t>(f)]; }

TEST(Matcher, IdenticalRecordsAreCertain) {
  const Matcher m;
  const auto s = m.score(record(kJohn), record(kJohn));
  EXPECT_EQ(s.grade, Grade::kCertain);
  EXPECT_GT(s.score, 0.999);
  EXPECT_TRUE(s.cap.empty());
}

TEST(Matcher, UnrelatedRecordsAreCertainlyNot) {
  const Matcher m;
  const auto s = m.score(record(kJohn), record(R"({"name": [{"family": "Patel", "given": ["Asha"]}],
    "birthDate": "1988-11-30", "gender": "female", "address": [{"postalCode": "CT1 2AB"}]})"));
  EXPECT_EQ(s.grade, Grade::kCertainlyNot);
  EXPECT_LT(s.score, 0.01);
}

TEST(Matcher, CorruptedDuplicateWithoutNhsNumberIsStillCertain) {
  const Matcher m;
  const auto s = m.score(record(kJohn), record(R"({"name": [{"family": "Smyth", "given": ["Jon"]}],
    "birthDate": "1970-12-03", "gender": "male", "address": [{"postalCode": "me145ab"}],
    "telecom": [{"system": "phone", "value": "+44 7700 900123"}]})"));
  EXPECT_EQ(s.grade, Grade::kCertain) << s.score;
}

TEST(Matcher, FieldLevelsAreGraded) {
  const auto v = compare(record(kJohn), record(R"({"name": [{"family": "Smith-Jones", "given": ["Jack"]}],
    "birthDate": "1970-03-13", "gender": "male", "address": [{"postalCode": "ME14 5ZZ"}]})"));
  EXPECT_EQ(level(v, Field::kNhsNumber), kMissing);
  EXPECT_EQ(level(v, Field::kFamilyName), 1);  // close: shares a part
  EXPECT_EQ(level(v, Field::kGivenName), 1);   // variant: Jack ~ John
  EXPECT_EQ(level(v, Field::kBirthDate), 2);   // one digit
  EXPECT_EQ(level(v, Field::kGender), 0);
  EXPECT_EQ(level(v, Field::kPostcode), 2);  // same sector
  EXPECT_EQ(level(v, Field::kPhone), kMissing);
}

TEST(Matcher, OneKeyingSlipInAShortGivenNameIsClose) {
  const auto given = [](const char* a, const char* b) {
    const auto text = [](const char* g) {
      return std::string(R"({"name": [{"family": "Hale", "given": [")") + g + R"("]}], "birthDate": "1980-01-02"})";
    };
    return level(compare(record(text(a)), record(text(b))), Field::kGivenName);
  };
  EXPECT_EQ(given("Amy", "Ammy"), 2);  // a letter added
  EXPECT_EQ(given("Ian", "Ina"), 2);   // neighbours swapped
  EXPECT_EQ(given("Tom", "Tim"), 4);   // a letter changed: another name (twins are named so)
  EXPECT_EQ(given("Amy", "Ava"), 4);   // two changes: another name
}

TEST(Matcher, MaidenNameMatchesAfterMarriage) {
  const auto v = compare(record(R"({"name": [{"family": "Brown", "given": ["Kate"]}]})"),
                         record(R"({"name": [{"use": "official", "family": "Green", "given": ["Katherine"]},
                                             {"use": "maiden", "family": "Brown", "given": ["Katherine"]}]})"));
  EXPECT_EQ(level(v, Field::kFamilyName), 0);
  EXPECT_EQ(level(v, Field::kGivenName), 1);
}

TEST(Matcher, DifferentNhsNumbersAreCertainlyNotDespiteStrongDemographics) {
  const Matcher m;
  auto other = json::parse(kJohn).as_object();
  other["identifier"].as_array()[0].as_object()["value"] = "9000000009";
  other["address"].as_array()[0].as_object()["postalCode"] = "ME14 6AB";  // one thing differs a little
  const auto s = m.score(record(kJohn), record(json::serialize(other)));
  EXPECT_EQ(s.grade, Grade::kCertainlyNot);
  EXPECT_LT(s.score, m.config().possible);
  EXPECT_FALSE(s.cap.empty());
}

TEST(Matcher, DifferentNhsNumbersWithEverythingElseExactGoToReview) {
  const Matcher m;
  auto other = json::parse(kJohn).as_object();
  other["identifier"].as_array()[0].as_object()["value"] = "9000000009";
  const auto s = m.score(record(kJohn), record(json::serialize(other)));
  EXPECT_EQ(s.grade, Grade::kPossible);
}

TEST(Matcher, TwinsAreNeverLinkedAutomatically) {
  const Matcher m;
  const auto s = m.score(record(R"({"name": [{"family": "Smith", "given": ["John"]}], "birthDate": "2001-06-01",
      "gender": "male", "address": [{"postalCode": "ME14 5AB"}], "telecom": [{"system": "phone", "value": "01622 000111"}]})"),
                         record(R"({"name": [{"family": "Smith", "given": ["James"]}], "birthDate": "2001-06-01",
      "gender": "male", "address": [{"postalCode": "ME14 5AB"}], "telecom": [{"system": "phone", "value": "01622 000111"}]})"));
  EXPECT_NE(s.grade, Grade::kCertain);
}

TEST(Matcher, NameAndBirthDateAloneAreNotCertain) {
  const Matcher m;
  const auto s = m.score(
      record(R"({"name": [{"family": "Smith", "given": ["John"]}], "birthDate": "1970-03-12", "gender": "male"})"),
      record(R"({"name": [{"family": "Smith", "given": ["John"]}], "birthDate": "1970-03-12", "gender": "male"})"));
  EXPECT_EQ(s.grade, Grade::kProbable);
  EXPECT_FALSE(s.cap.empty());
}

TEST(Matcher, ParentAndChildOfTheSameNameAtOneAddressAreNotCertain) {
  const Matcher m;
  const auto s = m.score(record(R"({"name": [{"family": "Smith", "given": ["Mary"]}], "birthDate": "1950-03-12",
      "gender": "female", "address": [{"postalCode": "ME14 5AB"}]})"),
                         record(R"({"name": [{"family": "Smith", "given": ["Mary"]}], "birthDate": "1979-08-30",
      "gender": "female", "address": [{"postalCode": "ME14 5AB"}]})"));
  EXPECT_NE(s.grade, Grade::kCertain);
}

// A copy last updated before the person moved: no NHS number, phone or e-mail; the name and birth date
// agree, and its postcode is the one the person's up-to-date record keeps as a previous address.
constexpr std::string_view kMoved = R"({
  "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
  "name": [{"family": "Smith", "given": ["John"]}], "birthDate": "1970-03-12", "gender": "male",
  "address": [{"use": "home", "postalCode": "CT1 2AB"},
              {"use": "old", "postalCode": "ME14 5AB", "period": {"end": "2019-06-30"}}],
  "generalPractitioner": [{"type": "Organization",
    "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "G82001"}}]})";
constexpr std::string_view kStaleCopy = R"({"name": [{"family": "Smith", "given": ["John"]}],
  "birthDate": "1970-03-12", "gender": "male", "address": [{"postalCode": "ME14 5AB"}]})";

TEST(Matcher, APreviousAddressIsItsOwnLevel) {
  const auto v = compare(record(kMoved), record(kStaleCopy));
  EXPECT_EQ(level(v, Field::kPostcode), 1);
  EXPECT_EQ(level_names(Field::kPostcode)[1], "previous");
  EXPECT_EQ(level(compare(record(kStaleCopy), record(kMoved)), Field::kPostcode), 1);  // either way round
  // The current address agreeing is still exact.
  EXPECT_EQ(level(compare(record(kMoved), record(R"({"address": [{"postalCode": "CT1 2AB"}]})")), Field::kPostcode), 0);
  // Both keep it as a previous address.
  EXPECT_EQ(level(compare(record(kMoved), record(R"({"address": [{"postalCode": "DA1 1AA"},
    {"use": "old", "postalCode": "ME14 5AB"}]})")),
                  Field::kPostcode),
            1);
  // Near a previous address is not evidence: the current ones are compared by sector and district.
  EXPECT_EQ(level(compare(record(kMoved), record(R"({"address": [{"postalCode": "ME14 5AD"}]})")), Field::kPostcode),
            4);
}

TEST(Matcher, APreviousAddressCorroboratesAMovedPerson) {
  const Matcher m;
  const auto without_history = m.score(record(R"({
    "name": [{"family": "Smith", "given": ["John"]}], "birthDate": "1970-03-12", "gender": "male",
    "address": [{"use": "home", "postalCode": "CT1 2AB"}]})"),
                                       record(kStaleCopy));
  EXPECT_EQ(without_history.grade, Grade::kProbable);  // name and birth date alone
  const auto e = m.explain(record(kMoved), record(kStaleCopy));
  EXPECT_EQ(e.result.grade, Grade::kCertain);
  EXPECT_EQ(e.result.corroboration, "previous address");
  const auto& postcode = e.fields[static_cast<std::size_t>(Field::kPostcode)];
  EXPECT_EQ(postcode.level, "previous");
  EXPECT_EQ(postcode.a, "ME14 5AB (previous)");
  EXPECT_EQ(postcode.b, "ME14 5AB");
  EXPECT_EQ(e.to_json().at("corroboration").as_string(), "previous address");
}

TEST(Matcher, TheRegisteredGpPracticeIsWeighedAndCorroboratesOnlyWhenConfigured) {
  const auto copy = record(R"({"name": [{"family": "Smith", "given": ["John"]}], "birthDate": "1970-03-12",
    "gender": "male", "address": [{"postalCode": "TN1 1AA"}],
    "generalPractitioner": [{"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "g82001"}}]})");
  EXPECT_EQ(level(compare(record(kMoved), copy), Field::kGpPractice), 0);

  // By default the practice adds weight but does not make a certain match of name and birth date.
  const Matcher m;
  const auto d = m.explain(record(kMoved), copy);
  EXPECT_EQ(d.result.grade, Grade::kProbable);
  EXPECT_EQ(d.result.cap, "no NHS number match and only the GP practice corroborates");
  const auto& gp = d.fields[static_cast<std::size_t>(Field::kGpPractice)];
  EXPECT_EQ(gp.level, "exact");
  EXPECT_EQ(gp.a, "ods:G82001");
  EXPECT_EQ(gp.b, "ods:G82001");
  EXPECT_GT(gp.weight, 0);

  auto c = MatchConfig::from_json(json::parse(R"({"rules": {"gp_practice_corroborates": true}})")).value();
  EXPECT_TRUE(c.gp_practice_corroborates);
  const Matcher with_gp(c);
  const auto e = with_gp.explain(record(kMoved), copy);
  EXPECT_EQ(e.result.grade, Grade::kCertain);
  EXPECT_EQ(e.result.corroboration, "gp practice");
  EXPECT_EQ(e.to_json().at("corroboration").as_string(), "gp practice");

  // Not with another family name (a married name, or an unrelated person), a birth-date typo, or a phone
  // that conflicts.
  auto married = json::parse(R"({"name": [{"family": "Jones", "given": ["John"]}], "birthDate": "1970-03-12",
    "gender": "male", "generalPractitioner": [{"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code",
    "value": "G82001"}}]})")
                     .as_object();
  EXPECT_EQ(with_gp.score(record(kMoved), record(json::serialize(married))).grade, Grade::kProbable);
  auto typo = married;
  typo["name"].as_array()[0].as_object()["family"] = "Smith";
  typo["birthDate"] = "1970-03-13";
  EXPECT_EQ(with_gp.score(record(kMoved), record(json::serialize(typo))).grade, Grade::kProbable);
  auto phones = json::parse(kMoved).as_object();
  phones["telecom"] = json::array{json::object{{"system", "phone"}, {"value", "07700 900123"}}};
  auto other_phone = typo;
  other_phone["birthDate"] = "1970-03-12";
  other_phone["telecom"] = json::array{json::object{{"system", "phone"}, {"value", "07700 900999"}}};
  EXPECT_EQ(with_gp.score(record(json::serialize(phones)), record(json::serialize(other_phone))).grade,
            Grade::kProbable);
  other_phone.erase("telecom");
  EXPECT_EQ(with_gp.score(record(json::serialize(phones)), record(json::serialize(other_phone))).grade,
            Grade::kCertain);

  // Another practice disagrees, and is evidence against.
  const auto other = record(R"({"generalPractitioner": [{"reference": "Organization/p2"}]})");
  EXPECT_EQ(level(compare(record(kMoved), other), Field::kGpPractice), 1);
  EXPECT_LT(m.config().weight(Field::kGpPractice, 1), 0);
}

TEST(Matcher, TwinsSharingAddressHistoryAndGpPracticeAreStillNotLinked) {
  // Twins moved together and are registered at one practice: everything agrees but the given name.
  const Matcher m;
  const auto twin = [](std::string_view given) {
    return record(fmt::format(R"({{"name": [{{"family": "Smith", "given": ["{}"]}}], "birthDate": "2001-06-01",
      "gender": "male", "address": [{{"postalCode": "ME14 5AB"}}, {{"use": "old", "postalCode": "CT1 2AB"}}],
      "generalPractitioner": [{{"identifier": {{"system": "https://fhir.nhs.uk/Id/ods-organization-code",
      "value": "G82001"}}}}]}})",
                              given));
  };
  EXPECT_NE(m.score(twin("John"), twin("James")).grade, Grade::kCertain);
  auto c = MatchConfig::defaults();
  c.gp_practice_corroborates = true;
  EXPECT_NE(Matcher(c).score(twin("John"), twin("James")).grade, Grade::kCertain);
  // A parent and child of one name at one practice: the birth dates disagree.
  const auto parent = record(R"({"name": [{"family": "Smith", "given": ["Mary"]}], "birthDate": "1950-03-12",
    "gender": "female", "address": [{"use": "old", "postalCode": "ME14 5AB"}],
    "generalPractitioner": [{"reference": "Organization/p1"}]})");
  const auto child = record(R"({"name": [{"family": "Smith", "given": ["Mary"]}], "birthDate": "1979-08-30",
    "gender": "female", "address": [{"postalCode": "ME14 5AB"}], "generalPractitioner": [{"reference": "Organization/p1"}]})");
  EXPECT_NE(m.score(parent, child).grade, Grade::kCertain);
  EXPECT_NE(Matcher(c).score(parent, child).grade, Grade::kCertain);
}

TEST(Matcher, ExplanationShowsEachFieldValuesAndWeights) {
  const Matcher m;
  const auto e = m.explain(record(kJohn), record(R"({"name": [{"family": "Smyth", "given": ["Jack"]}],
    "birthDate": "1970-03-12", "address": [{"postalCode": "ME14 5AB"}]})"));
  ASSERT_EQ(e.fields.size(), kFieldCount);
  const auto& family = e.fields[static_cast<std::size_t>(Field::kFamilyName)];
  EXPECT_EQ(family.level, "close");  // Jaro-Winkler 0.89
  EXPECT_EQ(family.a, "smith");
  EXPECT_EQ(family.b, "smyth");
  EXPECT_GT(family.weight, 0);
  EXPECT_EQ(e.fields[static_cast<std::size_t>(Field::kGender)].level, "missing");
  EXPECT_EQ(e.fields[static_cast<std::size_t>(Field::kPostcode)].a, "ME14 5AB");
  double sum = 0;
  for (const auto& f : e.fields) sum += f.weight;
  EXPECT_NEAR(sum, e.result.weight, 1e-9);
  const auto j = e.to_json().as_object();
  EXPECT_EQ(j.at("grade").as_string(), grade_code(e.result.grade));
  EXPECT_EQ(j.at("fields").as_array().size(), kFieldCount);
  EXPECT_EQ(j.at("fields").as_array()[1].at("field").as_string(), "family_name");
}

TEST(Matcher, ScoreIsThePosteriorOfTheWeightAndPrior) {
  const Matcher m;
  const auto s = m.score(record(kJohn), record(kJohn));
  const double p = m.config().prior;
  const double expected = 1.0 / (1.0 + (1.0 - p) / p * std::exp2(-s.weight));
  EXPECT_NEAR(s.score, expected, 1e-12);
}

TEST(MatchConfig, DefaultsDefineEveryLevel) {
  const auto& c = MatchConfig::defaults();
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    const auto field = static_cast<Field>(f);
    ASSERT_EQ(c.levels[f].size(), level_names(field).size()) << field_name(field);
    EXPECT_GT(c.weight(field, 0), 0) << field_name(field) << " agreement is evidence for a match";
    EXPECT_LT(c.weight(field, static_cast<int>(level_names(field).size()) - 1), 0) << field_name(field);
  }
  EXPECT_GT(c.certain, c.probable);
  EXPECT_GT(c.probable, c.possible);
}

TEST(MatchConfig, RoundTripsThroughJson) {
  auto c = MatchConfig::defaults();
  c.prior = 0.02;
  c.levels[static_cast<std::size_t>(Field::kEmail)][0] = {0.5, 0.001};
  c.certain_needs_corroboration = false;
  const auto back = MatchConfig::from_json(json::parse(json::serialize(c.to_json()))).value();
  EXPECT_DOUBLE_EQ(back.prior, 0.02);
  EXPECT_DOUBLE_EQ(back.levels[static_cast<std::size_t>(Field::kEmail)][0].u, 0.001);
  EXPECT_FALSE(back.certain_needs_corroboration);
  EXPECT_EQ(back.to_json(), c.to_json());
}

TEST(MatchConfig, PartialJsonKeepsTheDefaults) {
  const auto c = MatchConfig::from_json(json::parse(R"({"thresholds": {"certain": 0.9999}})")).value();
  EXPECT_DOUBLE_EQ(c.certain, 0.9999);
  EXPECT_EQ(c.to_json().at("fields"), MatchConfig::defaults().to_json().at("fields"));
}

TEST(MatchConfig, RejectsUnknownNamesAndBadValues) {
  EXPECT_FALSE(MatchConfig::from_json(json::parse(R"({"fields": {"shoe_size": {}}})")));
  EXPECT_FALSE(MatchConfig::from_json(json::parse(R"({"fields": {"gender": {"maybe": {"m": 0.5, "u": 0.5}}}})")));
  EXPECT_FALSE(MatchConfig::from_json(json::parse(R"({"fields": {"gender": {"exact": {"m": 0, "u": 0.5}}}})")));
  EXPECT_FALSE(MatchConfig::from_json(json::parse(R"({"thresholds": {"certain": 0.5, "probable": 0.9}})")));
  EXPECT_FALSE(MatchConfig::from_json(json::parse("[]")));
}

}  // namespace
}  // namespace ucr::mpi
