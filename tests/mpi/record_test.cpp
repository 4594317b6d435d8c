// Tests of mpi/record: extraction of normalised demographics from FHIR Patient JSON.
#include "mpi/record.hpp"

#include "mpi/nhs_number.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace ucr::mpi {
namespace {

namespace json = boost::json;

json::object patient(std::string_view text) { return json::parse(text).as_object(); }

TEST(PatientRecord, ExtractsEveryMatchedElement) {
  const auto r = record_from_patient(patient(R"({
    "resourceType": "Patient", "id": "p1",
    "identifier": [
      {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "943 476 5919"},
      {"system": "https://trust.example/mrn", "value": "H123"}],
    "name": [
      {"use": "maiden", "family": "Brontë", "given": ["Anne"]},
      {"use": "official", "prefix": ["Mrs"], "family": "Smith-Jones", "given": ["Mary", "Anne"]}],
    "birthDate": "1970-03-12", "gender": "female",
    "address": [{"use": "old", "postalCode": "CT1 1AA"}, {"use": "home", "postalCode": "me14 5ab"}],
    "telecom": [{"system": "phone", "value": "+44 7700 900123"}, {"system": "email", "value": " Mary@Example.org "}]
  })"))
                     .value();
  EXPECT_EQ(r.id, "p1");
  EXPECT_EQ(r.nhs_number, "9434765919");
  ASSERT_EQ(r.identifiers.size(), 1U);
  EXPECT_EQ(r.identifiers[0], (LocalId{"https://trust.example/mrn", "H123"}));
  EXPECT_EQ(r.family_names, (std::vector<std::string>{"smith jones", "bronte"}));  // official first
  EXPECT_EQ(r.given_names, (std::vector<std::string>{"mary", "anne"}));
  EXPECT_EQ(r.middle_names, (std::vector<std::string>{"anne"}));
  EXPECT_EQ(r.birth_date, (Date{1970, 3, 12}));
  EXPECT_EQ(r.gender, "female");
  ASSERT_EQ(r.postcodes.size(), 1U);
  EXPECT_EQ(r.postcodes[0].full(), "ME14 5AB");
  ASSERT_EQ(r.previous_postcodes.size(), 1U);  // use "old" is a previous address
  EXPECT_EQ(r.previous_postcodes[0].full(), "CT1 1AA");
  EXPECT_EQ(r.phones, (std::vector<std::string>{"07700900123"}));
  EXPECT_EQ(r.emails, (std::vector<std::string>{"mary@example.org"}));
}

TEST(PatientRecord, AnAddressWhosePeriodHasEndedIsPrevious) {
  const auto r = record_from_patient(patient(R"({"resourceType": "Patient", "address": [
    {"use": "home", "postalCode": "DA1 1AA", "period": {"start": "2001-01-01", "end": "2019-06-30"}},
    {"use": "temp", "postalCode": "TN1 1AA"},
    {"use": "old", "postalCode": "TN1 1AA"}]})"))
                     .value();
  ASSERT_EQ(r.postcodes.size(), 1U);
  EXPECT_EQ(r.postcodes[0].full(), "TN1 1AA");
  ASSERT_EQ(r.previous_postcodes.size(), 1U);  // TN1 1AA is current, so kept once, as current
  EXPECT_EQ(r.previous_postcodes[0].full(), "DA1 1AA");
}

TEST(PatientRecord, ReadsTheRegisteredGpPractice) {
  const auto r = record_from_patient(patient(R"({"resourceType": "Patient", "generalPractitioner": [
    {"type": "Organization", "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "g82001"}},
    {"reference": "Organization/abc"},
    {"reference": "Practitioner/dr-who"},
    {"type": "Practitioner", "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "X1"}}]})"))
                     .value();
  EXPECT_EQ(r.gp_practices, (std::vector<std::string>{"ods:G82001", "Organization/abc"}));
}

TEST(PatientRecord, KeepsInvalidNhsNumbersApart) {
  const auto r = record_from_patient(patient(R"({"resourceType": "Patient",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765918"}]})"))
                     .value();
  EXPECT_TRUE(r.nhs_number.empty());
  EXPECT_EQ(r.invalid_nhs_numbers, (std::vector<std::string>{"9434765918"}));
}

TEST(PatientRecord, ReadsNameTextWhenPartsAreAbsent) {
  const auto r =
      record_from_patient(patient(R"({"resourceType": "Patient", "name": [{"text": "Dr John O'Neill"}]})")).value();
  EXPECT_EQ(r.family_names, (std::vector<std::string>{"oneill"}));
  EXPECT_EQ(r.given_names, (std::vector<std::string>{"john"}));
}

TEST(PatientRecord, UnknownGenderAndBadPostcodeAreAbsent) {
  const auto r = record_from_patient(patient(R"({"resourceType": "Patient", "gender": "unknown",
    "address": [{"postalCode": "not a postcode"}], "birthDate": "1970-02-30"})"))
                     .value();
  EXPECT_TRUE(r.gender.empty());
  EXPECT_TRUE(r.postcodes.empty());
  EXPECT_FALSE(r.birth_date);
}

TEST(PatientRecord, RejectsOtherResourceTypes) {
  const auto r = record_from_patient(patient(R"({"resourceType": "Observation"})"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 400);
}

}  // namespace
}  // namespace ucr::mpi
