// Benchmarks of ucr::fhirpath: ~10 expressions typical of R4 search parameters, each evaluated on an example
// resource (precompiled, as the server would); items/s is evaluations per second. Plus compile costs.
#include "fhirpath/fhirpath.hpp"

#include <benchmark/benchmark.h>
#include <boost/json/parse.hpp>

#include <string>

namespace {

namespace json = boost::json;
namespace fp = ucr::fhirpath;

const json::value kPatient = json::parse(R"({
  "resourceType": "Patient", "id": "example", "active": true,
  "identifier": [{"use": "usual", "system": "urn:oid:1.2.36.146.595.217.0.1", "value": "12345"}],
  "name": [{"use": "official", "family": "Chalmers", "given": ["Peter", "James"]},
           {"use": "usual", "given": ["Jim"]},
           {"use": "maiden", "family": "Windsor", "given": ["Peter", "James"], "period": {"end": "2002"}}],
  "telecom": [{"use": "home"}, {"system": "phone", "value": "(03) 5555 6473", "use": "work", "rank": 1},
              {"system": "phone", "value": "(03) 3410 5613", "use": "mobile", "rank": 2},
              {"system": "email", "value": "jim@example.org"}],
  "gender": "male", "birthDate": "1974-12-25",
  "_birthDate": {"extension": [{"url": "http://hl7.org/fhir/StructureDefinition/patient-birthTime",
                                "valueDateTime": "1974-12-25T14:35:45-05:00"}]},
  "address": [{"use": "home", "line": ["534 Erewhon St"], "city": "PleasantVille", "postalCode": "3999"}],
  "managingOrganization": {"reference": "Organization/1"}
})");

const json::value kObservation = json::parse(R"({
  "resourceType": "Observation", "id": "example", "status": "final",
  "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs"}]}],
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7", "display": "Body Weight"},
                      {"system": "http://snomed.info/sct", "code": "27113001"}]},
  "subject": {"reference": "Patient/example"}, "effectiveDateTime": "2016-03-28",
  "valueQuantity": {"value": 185, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "[lb_av]"}
})");

json::value make_bundle(int entries) {
  json::array list;
  for (int i = 0; i < entries; ++i) {
    json::value entry = json::object{{"fullUrl", "urn:uuid:" + std::to_string(i)}};
    json::value res = (i % 2 == 0) ? kPatient : kObservation;
    res.as_object()["id"] = std::to_string(i);
    entry.as_object()["resource"] = std::move(res);
    list.push_back(std::move(entry));
  }
  return json::object{{"resourceType", "Bundle"}, {"type", "collection"}, {"entry", std::move(list)}};
}

const json::value kBundle = make_bundle(20);

struct Case {
  const char* expression;
  const json::value* input;
};

const Case kCases[] = {
    {"Patient.name.given", &kPatient},
    {"Patient.name.family | Patient.name.given", &kPatient},
    {"Patient.telecom.where(system='phone')", &kPatient},
    {"Patient.birthDate", &kPatient},
    {"Patient.identifier.where(system = 'urn:oid:1.2.36.146.595.217.0.1').value", &kPatient},
    {"Patient.active.not() or Patient.birthDate < @2000-01-01", &kPatient},
    {"Observation.value.as(Quantity)", &kObservation},
    {"(Observation.value as Quantity) | (Observation.value as SampledData)", &kObservation},
    {"Observation.code.coding.where(system='http://loinc.org').code", &kObservation},
    {"Observation.subject.where(resolve() is Patient)", &kObservation},
    {"Observation.value > 80 'kg'", &kObservation},
    {"Bundle.entry.resource.ofType(Patient).birthDate", &kBundle},
};

void BM_Evaluate(benchmark::State& state) {
  const Case& c = kCases[state.range(0)];
  fp::Context ctx;
  ctx.resolver = [](std::string_view ref) -> const json::value* {
    return ref == "Patient/example" ? &kPatient : nullptr;
  };
  auto expr = fp::compile(c.expression);
  if (!expr) {
    state.SkipWithError(expr.error().message().c_str());
    return;
  }
  state.SetLabel(c.expression);
  for (auto _ : state) {
    auto r = fp::evaluate(**expr, *c.input, ctx);
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Evaluate)->DenseRange(0, static_cast<int>(std::size(kCases)) - 1);

void BM_CompileCached(benchmark::State& state) {
  for (auto _ : state) {
    auto r = fp::compile("Observation.code.coding.where(system='http://loinc.org').code");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CompileCached);

void BM_CompileUncached(benchmark::State& state) {
  for (auto _ : state) {
    auto r = fp::compile_uncached("Observation.code.coding.where(system='http://loinc.org').code");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_CompileUncached);

}  // namespace

BENCHMARK_MAIN();
