// Benchmarks of ucr::fhir::validate_resource on a typical Patient and a 50-entry transaction Bundle.
#include "fhir/definitions.hpp"
#include "fhir/validator.hpp"

#include <benchmark/benchmark.h>
#include <boost/json/parse.hpp>

#include <string>

namespace {

namespace json = boost::json;

constexpr const char* kPatient = R"({
  "resourceType": "Patient", "id": "example",
  "meta": {"versionId": "3", "lastUpdated": "2024-05-01T10:00:00.123+02:00",
           "profile": ["http://hl7.org/fhir/StructureDefinition/Patient"]},
  "text": {"status": "generated", "div": "<div xmlns=\"http://www.w3.org/1999/xhtml\">Peter Chalmers</div>"},
  "identifier": [{"use": "usual", "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                  "code": "MR"}]}, "system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345",
                  "period": {"start": "2001-05-06"}, "assigner": {"display": "Acme Healthcare"}}],
  "active": true,
  "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
           {"use": "usual", "given": ["Jim"]}],
  "telecom": [{"system": "phone", "value": "(03) 5555 6473", "use": "work", "rank": 1},
              {"system": "email", "value": "jim@example.org"}],
  "gender": "male", "birthDate": "1974-12-25",
  "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
  "deceasedBoolean": false,
  "address": [{"use": "home", "type": "both", "text": "534 Erewhon St PeasantVille, Rainbow, Vic  3999",
               "line": ["534 Erewhon St"], "city": "PleasantVille", "district": "Rainbow", "state": "Vic",
               "postalCode": "3999", "period": {"start": "1974-12-25"}}],
  "contact": [{"relationship": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0131", "code": "N"}]}],
               "name": {"family": "du Marché", "given": ["Bénédicte"]},
               "telecom": [{"system": "phone", "value": "+33 (237) 998327"}], "gender": "female"}],
  "managingOrganization": {"reference": "Organization/1"}
})";

std::string make_bundle(int entries) {
  std::string text = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
  for (int i = 0; i < entries; ++i) {
    if (i > 0) text += ",";
    if (i % 2 == 0) {
      text += R"({"fullUrl":"urn:uuid:c757873d-ec9a-4326-a141-556f4323952)" + std::to_string(i % 10) +
              R"(","resource":)" + std::string(kPatient) + R"(,"request":{"method":"POST","url":"Patient"}})";
    } else {
      text += R"({"resource":{"resourceType":"Observation","status":"final",
        "category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"vital-signs"}]}],
        "code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body Weight"}]},
        "subject":{"reference":"Patient/example"},"effectiveDateTime":"2016-03-28T10:00:00Z",
        "valueQuantity":{"value":67.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"},
        "interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"N"}]}]},
        "request":{"method":"POST","url":"Observation"}})";
    }
  }
  return text + "]}";
}

void BM_LoadDefinitionsCold(benchmark::State& state) {
  // Registered first so that it measures the one-time parse of the embedded definitions.
  for (auto _ : state) ucr::fhir::load_definitions();
}
BENCHMARK(BM_LoadDefinitionsCold)->Iterations(1);

void BM_ValidatePatient(benchmark::State& state) {
  ucr::fhir::load_definitions();
  json::value patient = json::parse(kPatient);
  for (auto _ : state) {
    auto issues = ucr::fhir::validate_resource(patient);
    benchmark::DoNotOptimize(issues);
    if (!issues.empty()) state.SkipWithError("patient has issues");
  }
}
BENCHMARK(BM_ValidatePatient);

void BM_ValidateBundle50(benchmark::State& state) {
  ucr::fhir::load_definitions();
  json::value bundle = json::parse(make_bundle(50));
  for (auto _ : state) {
    auto issues = ucr::fhir::validate_resource(bundle);
    benchmark::DoNotOptimize(issues);
    if (!issues.empty()) state.SkipWithError("bundle has issues");
  }
}
BENCHMARK(BM_ValidateBundle50);

}  // namespace

BENCHMARK_MAIN();
