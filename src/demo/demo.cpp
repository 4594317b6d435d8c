#include "demo/demo.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <array>
#include <random>

namespace ucr::demo {
namespace {

namespace json = boost::json;

constexpr std::array<const char*, 16> kFamily = {"Smith",   "Jones",  "Taylor", "Brown",    "Williams", "Wilson",
                                                 "Johnson", "Davies", "Patel",  "Robinson", "Wright",   "Thompson",
                                                 "Evans",   "Walker", "Okafor", "Kowalski"};
constexpr std::array<const char*, 12> kGivenFemale = {"Olivia",   "Amelia", "Isla",  "Ava",   "Mia",   "Grace",
                                                      "Margaret", "Joan",   "Priya", "Zofia", "Chloe", "Ruby"};
constexpr std::array<const char*, 12> kGivenMale = {"Oliver", "George",  "Harry", "Noah",   "Jack",   "Leo",
                                                    "Arthur", "Kenneth", "Arjun", "Tomasz", "Samuel", "Alfie"};
struct Town {
  const char* name;
  const char* postcode_area;
};
constexpr std::array<Town, 10> kTowns = {{{"Maidstone", "ME14"},
                                          {"Canterbury", "CT1"},
                                          {"Ashford", "TN23"},
                                          {"Chatham", "ME4"},
                                          {"Gillingham", "ME7"},
                                          {"Margate", "CT9"},
                                          {"Folkestone", "CT20"},
                                          {"Dartford", "DA1"},
                                          {"Tunbridge Wells", "TN1"},
                                          {"Sittingbourne", "ME10"}}};
constexpr std::array<const char*, 6> kStreets = {"High Street", "Station Road", "London Road",
                                                 "Church Lane", "Mill Road",    "Victoria Avenue"};
struct Code {
  const char* code;
  const char* display;
};
constexpr std::array<Code, 6> kConditions = {{{"44054006", "Diabetes mellitus type 2"},
                                              {"38341003", "Hypertensive disorder"},
                                              {"195967001", "Asthma"},
                                              {"13645005", "Chronic obstructive lung disease"},
                                              {"35489007", "Depressive disorder"},
                                              {"49436004", "Atrial fibrillation"}}};
constexpr std::array<Code, 4> kAllergies = {{{"91936005", "Allergy to penicillin"},
                                             {"300916003", "Latex allergy"},
                                             {"91935009", "Allergy to peanuts"},
                                             {"294505008", "Allergy to aspirin"}}};
constexpr std::array<Code, 5> kMedicines = {{{"325072002", "Metformin 500mg tablets"},
                                             {"318858004", "Ramipril 5mg capsules"},
                                             {"320000009", "Salbutamol 100micrograms/dose inhaler"},
                                             {"321208004", "Sertraline 50mg tablets"},
                                             {"319734007", "Atorvastatin 20mg tablets"}}};
constexpr std::size_t kPractices = 8;

json::object coding(const char* system, const Code& c) {
  return json::object{
      {"coding", json::array{json::object{{"system", system}, {"code", c.code}, {"display", c.display}}}},
      {"text", c.display}};
}

json::object entry(const std::string& full_url, json::object resource) {
  const std::string type(resource.at("resourceType").as_string());
  return json::object{{"fullUrl", full_url},
                      {"resource", std::move(resource)},
                      {"request", json::object{{"method", "POST"}, {"url", type}}}};
}

std::string practice_code(std::size_t i) { return fmt::format("G8{:04}", 2000 + i); }

}  // namespace

std::string test_nhs_number(std::size_t n) {
  // 999 followed by six digits of n, then the Modulus 11 check digit (skipping numbers whose check is 10).
  for (std::size_t k = n * 11;; ++k) {
    const std::string base = fmt::format("999{:06}", k % 1000000);
    int sum = 0;
    for (std::size_t i = 0; i < 9; ++i) sum += (base[i] - '0') * static_cast<int>(10 - i);
    int check = 11 - (sum % 11);
    if (check == 11) check = 0;
    if (check == 10) continue;
    return base + static_cast<char>('0' + check);
  }
}

std::string person_bundle(std::size_t n) {
  std::mt19937 rng(static_cast<std::mt19937::result_type>(n * 2654435761U + 17));
  const auto pick = [&](std::size_t size) { return std::uniform_int_distribution<std::size_t>(0, size - 1)(rng); };
  const bool female = pick(2) == 0;
  const std::string given =
      female ? kGivenFemale.at(pick(kGivenFemale.size())) : kGivenMale.at(pick(kGivenMale.size()));
  const std::string family = kFamily.at(pick(kFamily.size()));
  const auto& town = kTowns.at(pick(kTowns.size()));
  const int year = 1930 + static_cast<int>(pick(93));
  const std::string birth = fmt::format("{:04}-{:02}-{:02}", year, 1 + pick(12), 1 + pick(28));
  const std::string pid = fmt::format("urn:uuid:00000000-0000-4000-8000-{:012}", n);
  const std::size_t practice = pick(kPractices);

  json::array entries;
  entries.push_back(entry(
      pid,
      json::object{
          {"resourceType", "Patient"},
          {"identifier",
           json::array{json::object{{"system", "https://fhir.nhs.uk/Id/nhs-number"}, {"value", test_nhs_number(n)}}}},
          {"active", true},
          {"name", json::array{json::object{{"use", "official"}, {"family", family}, {"given", json::array{given}}}}},
          {"gender", female ? "female" : "male"},
          {"birthDate", birth},
          {"address",
           json::array{json::object{
               {"use", "home"},
               {"line", json::array{fmt::format("{} {}", 1 + pick(120), kStreets.at(pick(kStreets.size())))}},
               {"city", town.name},
               {"district", "Kent"},
               {"postalCode", fmt::format("{} {}{}{}", town.postcode_area, pick(10), static_cast<char>('A' + pick(26)),
                                          static_cast<char>('A' + pick(26)))}}}},
          {"generalPractitioner",
           json::array{json::object{{"reference", "Organization/practice-" + practice_code(practice)}}}},
      }));
  const std::size_t conditions = pick(3);
  for (std::size_t i = 0; i < conditions; ++i) {
    entries.push_back(entry(
        fmt::format("urn:uuid:00000001-0000-4000-8000-{:06}{:06}", n, i),
        json::object{{"resourceType", "Condition"},
                     {"clinicalStatus",
                      coding("http://terminology.hl7.org/CodeSystem/condition-clinical", Code{"active", "Active"})},
                     {"code", coding("http://snomed.info/sct", kConditions.at(pick(kConditions.size())))},
                     {"subject", json::object{{"reference", pid}}},
                     {"onsetDateTime", fmt::format("{:04}-{:02}-01", 2000 + pick(25), 1 + pick(12))}}));
  }
  if (pick(4) == 0) {
    entries.push_back(entry(
        fmt::format("urn:uuid:00000002-0000-4000-8000-{:012}", n),
        json::object{{"resourceType", "AllergyIntolerance"},
                     {"clinicalStatus", coding("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                                               Code{"active", "Active"})},
                     {"code", coding("http://snomed.info/sct", kAllergies.at(pick(kAllergies.size())))},
                     {"criticality", "high"},
                     {"patient", json::object{{"reference", pid}}}}));
  }
  const std::size_t meds = pick(3);
  for (std::size_t i = 0; i < meds; ++i) {
    entries.push_back(entry(fmt::format("urn:uuid:00000003-0000-4000-8000-{:06}{:06}", n, i),
                            json::object{{"resourceType", "MedicationStatement"},
                                         {"status", "active"},
                                         {"medicationCodeableConcept",
                                          coding("https://dmd.nhs.uk", kMedicines.at(pick(kMedicines.size())))},
                                         {"subject", json::object{{"reference", pid}}}}));
  }
  const int systolic = 105 + static_cast<int>(pick(60));
  entries.push_back(entry(
      fmt::format("urn:uuid:00000004-0000-4000-8000-{:012}", n),
      json::object{
          {"resourceType", "Observation"},
          {"status", "final"},
          {"category", json::array{coding("http://terminology.hl7.org/CodeSystem/observation-category",
                                          Code{"vital-signs", "Vital Signs"})}},
          {"code", coding("http://loinc.org", Code{"8480-6", "Systolic blood pressure"})},
          {"subject", json::object{{"reference", pid}}},
          {"effectiveDateTime", fmt::format("2026-{:02}-{:02}T09:{:02}:00Z", 1 + pick(10), 1 + pick(28), pick(60))},
          {"valueQuantity",
           json::object{
               {"value", systolic}, {"unit", "mmHg"}, {"system", "http://unitsofmeasure.org"}, {"code", "mm[Hg]"}}}}));
  json::object bundle{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", std::move(entries)}};
  return json::serialize(bundle);
}

core::Result<void> load(api::Api& api, std::size_t people,
                        const std::function<void(std::size_t done, std::size_t total)>& progress) {
  json::array orgs;
  for (std::size_t i = 0; i < kPractices; ++i) {
    const std::string code = practice_code(i);
    orgs.push_back(json::object{
        {"resource",
         json::object{{"resourceType", "Organization"},
                      {"id", "practice-" + code},
                      {"identifier", json::array{json::object{
                                         {"system", "https://fhir.nhs.uk/Id/ods-organization-code"}, {"value", code}}}},
                      {"active", true},
                      {"name", fmt::format("{} Medical Practice", kTowns.at(i % kTowns.size()).name)}}},
        {"request", json::object{{"method", "PUT"}, {"url", "Organization/practice-" + code}}}});
  }
  const auto post = [&](std::string body) -> core::Result<void> {
    api::Request r;
    r.method = "POST";
    r.path = "/fhir";
    r.base_url = "http://localhost/fhir";
    r.headers.add("content-type", "application/fhir+json");
    r.headers.add("prefer", "return=minimal");
    r.body = std::move(body);
    const api::Response res = api.handle(r);
    if (res.status != 200)
      return core::Error::internal(fmt::format("demo transaction failed ({}): {}", res.status, res.body));
    return core::ok();
  };
  if (auto r = post(json::serialize(
          json::object{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", std::move(orgs)}}));
      !r) {
    return r;
  }
  for (std::size_t n = 0; n < people; ++n) {
    if (auto r = post(person_bundle(n)); !r) return r;
    if (progress) progress(n + 1, people);
  }
  return core::ok();
}

}  // namespace ucr::demo
