#include "fhirpath/fhirpath.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <thread>

namespace ucr::fhirpath {
namespace {

namespace json = boost::json;

const json::value kObservation = json::parse(R"({
  "resourceType": "Observation", "id": "o1", "status": "final",
  "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}, {"system": "http://snomed.info/sct", "code": "27113001"}]},
  "subject": {"reference": "Patient/p1"},
  "effectiveDateTime": "2020-05-01T10:00:00Z",
  "valueQuantity": {"value": 185.50, "unit": "lbs", "system": "http://unitsofmeasure.org", "code": "[lb_av]"},
  "component": [{"code": {"text": "a"}, "valueString": "x"}, {"code": {"text": "b"}, "valueBoolean": true}]
})");

const json::value kBundle = json::parse(R"({
  "resourceType": "Bundle", "type": "collection",
  "entry": [
    {"fullUrl": "http://example.org/fhir/Patient/p1",
     "resource": {"resourceType": "Patient", "id": "p1", "birthDate": "1980-02-03",
                  "name": [{"given": ["Ann", null, "Bo"], "_given": [null, {"extension": [{"url": "u", "valueString": "x"}]}]}],
                  "contained": [{"resourceType": "Organization", "id": "org", "name": "Acme"}],
                  "managingOrganization": {"reference": "#org"}}},
    {"fullUrl": "urn:uuid:1234", "resource": {"resourceType": "Observation", "id": "o2", "status": "final",
     "code": {"text": "t"}, "subject": {"reference": "Patient/p1"}}}
  ]})");

Collection eval(std::string_view expr, const json::value& input, const Context& ctx = {}) {
  auto r = evaluate(expr, input, ctx);
  EXPECT_TRUE(r) << expr << ": " << (r ? "" : r.error().message());
  return r ? *r : Collection{};
}

std::string text(std::string_view expr, const json::value& input, const Context& ctx = {}) {
  return json::serialize(to_json(eval(expr, input, ctx)));
}

std::vector<std::string> strings(const Collection& c) {
  std::vector<std::string> out;
  for (const Value& v : c) out.push_back(to_string(v).value_or("<complex>"));
  return out;
}

TEST(FhirPathEvaluator, ChoiceElementsAreReachedByTheirBaseName) {
  EXPECT_EQ(strings(eval("Observation.value.unit", kObservation)), std::vector<std::string>{"lbs"});
  EXPECT_EQ(text("Observation.value.is(Quantity)", kObservation), R"([{"type":"Boolean","value":true}])");
  EXPECT_EQ(strings(eval("Observation.component.value", kObservation)), (std::vector<std::string>{"x", "true"}));
  EXPECT_EQ(strings(eval("Observation.component.value.ofType(boolean)", kObservation)),
            std::vector<std::string>{"true"});
  EXPECT_EQ(strings(eval("(Observation.value as Quantity) | (Observation.value as SampledData)", kObservation)),
            std::vector<std::string>{"185.5 '[lb_av]'"});
  EXPECT_EQ(strings(eval("Observation.effective > @2020-01-01", kObservation)), std::vector<std::string>{"true"});
}

TEST(FhirPathEvaluator, FhirPrimitivesConvertToSystemTypes) {
  EXPECT_EQ(strings(eval("Observation.value > 80 'kg'", kObservation)), std::vector<std::string>{"true"});
  EXPECT_EQ(strings(eval("Observation.value.value = 185.5", kObservation)), std::vector<std::string>{"true"});
  EXPECT_EQ(strings(eval("Observation.status.type().name", kObservation)), std::vector<std::string>{"code"});
  EXPECT_EQ(strings(eval("Observation.status.is(string)", kObservation)), std::vector<std::string>{"true"});
  EXPECT_EQ(strings(eval("Observation.status.is(System.String)", kObservation)), std::vector<std::string>{"false"});
}

TEST(FhirPathEvaluator, PrimitiveExtensionsMergeWithValues) {
  const json::value& patient = kBundle.at("entry").at(0).at("resource");
  EXPECT_EQ(strings(eval("Patient.name.given", patient)), (std::vector<std::string>{"Ann", "<complex>", "Bo"}));
  EXPECT_EQ(strings(eval("Patient.name.given.select($this.hasValue())", patient)),
            (std::vector<std::string>{"true", "false", "true"}));
  EXPECT_EQ(strings(eval("Patient.name.given.extension('u').value", patient)), std::vector<std::string>{"x"});
  EXPECT_EQ(strings(eval("Patient.name.given[1].extension.url", patient)), std::vector<std::string>{"u"});
}

TEST(FhirPathEvaluator, ResolveFindsBundleEntriesContainedAndCallback) {
  Context ctx;
  ctx.root_resource = &kBundle;
  EXPECT_EQ(strings(eval("Bundle.entry.resource.ofType(Observation).subject.resolve().id", kBundle, ctx)),
            std::vector<std::string>{"p1"});
  EXPECT_EQ(strings(eval("Bundle.entry.resource.ofType(Patient).birthDate", kBundle)),
            std::vector<std::string>{"1980-02-03"});
  const json::value& patient = kBundle.at("entry").at(0).at("resource");
  EXPECT_EQ(strings(eval("Patient.managingOrganization.resolve().name", patient)), std::vector<std::string>{"Acme"});
  EXPECT_EQ(strings(eval("Patient.managingOrganization.resolve() is Organization", patient)),
            std::vector<std::string>{"true"});

  json::value practitioner = json::parse(R"({"resourceType":"Practitioner","id":"dr"})");
  Context with_resolver;
  std::string asked;
  with_resolver.resolver = [&](std::string_view ref) -> const json::value* {
    asked = ref;
    return ref == "Patient/p1" ? &practitioner : nullptr;
  };
  EXPECT_EQ(strings(eval("Observation.subject.resolve().id", kObservation, with_resolver)),
            std::vector<std::string>{"dr"});
  EXPECT_EQ(asked, "Patient/p1");
  EXPECT_TRUE(eval("Observation.subject.resolve()", kObservation).empty());
}

TEST(FhirPathEvaluator, VariablesAndEnvironment) {
  Context ctx;
  ctx.variables["limit"] = Collection{Value::integer(100)};
  EXPECT_EQ(strings(eval("Observation.value.value > %limit", kObservation, ctx)), std::vector<std::string>{"true"});
  EXPECT_EQ(strings(eval("%ucum", kObservation)), std::vector<std::string>{"http://unitsofmeasure.org"});
  EXPECT_EQ(strings(eval("%loinc & '|' & %sct", kObservation)),
            std::vector<std::string>{"http://loinc.org|http://snomed.info/sct"});
  EXPECT_EQ(strings(eval("%`vs-administrative-gender`", kObservation)),
            std::vector<std::string>{"http://hl7.org/fhir/ValueSet/administrative-gender"});
  EXPECT_EQ(strings(eval("%resource.id", kObservation)), std::vector<std::string>{"o1"});
  EXPECT_EQ(strings(eval("%context.id", kObservation)), std::vector<std::string>{"o1"});
  EXPECT_EQ(strings(eval("Observation.code.coding.where(system = %loinc).code", kObservation)),
            std::vector<std::string>{"29463-7"});
  auto missing = evaluate("%nope", kObservation);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "fhirpath 1:1: undefined variable '%nope'");
}

TEST(FhirPathEvaluator, EvaluationErrorsCarryThePosition) {
  auto r = evaluate("Observation.code.coding.code.substring(1)", kObservation);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "fhirpath 1:30: 'substring' needs a single string, got 2 items");
  auto cmp = evaluate("Observation.value.value\n  < 'test'", kObservation);
  ASSERT_FALSE(cmp);
  EXPECT_EQ(cmp.error().message(), "fhirpath 2:3: cannot compare Decimal with String");
}

TEST(FhirPathEvaluator, MemberOfUsesTheCallbackOrBuiltInValueSets) {
  EXPECT_EQ(
      strings(eval("Observation.status.memberOf('http://hl7.org/fhir/ValueSet/observation-status')", kObservation)),
      std::vector<std::string>{"true"});
  Context ctx;
  ctx.member_of = [](const Value& v, std::string_view vs) -> std::optional<bool> {
    if (vs != "http://example.org/vs") return std::nullopt;
    return to_string(v) == std::optional<std::string>("final");
  };
  EXPECT_EQ(strings(eval("Observation.status.memberOf('http://example.org/vs')", kObservation, ctx)),
            std::vector<std::string>{"true"});
  EXPECT_TRUE(eval("Observation.status.memberOf('http://example.org/other')", kObservation, ctx).empty());
}

TEST(FhirPathEvaluator, TypedNonResourceInput) {
  json::value name = json::parse(R"({"family": "Doe", "given": ["J"]})");
  auto expr = compile("family & ', ' & given.first()");
  ASSERT_TRUE(expr);
  auto r = evaluate(**expr, Collection{Value::of_node(name, "HumanName")});
  ASSERT_TRUE(r);
  EXPECT_EQ(strings(*r), std::vector<std::string>{"Doe, J"});
  auto t = evaluate("type().name", name);
  ASSERT_TRUE(t);
}

TEST(FhirPathEvaluator, UntypedJsonStillNavigates) {
  json::value doc = json::parse(R"({"a": {"b": [1, 2.5, "x", true]}, "valueString": "v"})");
  EXPECT_EQ(strings(eval("a.b", doc)), (std::vector<std::string>{"1", "2.5", "x", "true"}));
  EXPECT_EQ(strings(eval("value", doc)), std::vector<std::string>{"v"});
}

TEST(FhirPathEvaluator, ConcurrentEvaluationOfOneExpression) {
  auto expr = compile("Observation.code.coding.where(system = 'http://loinc.org').code");
  ASSERT_TRUE(expr);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 500; ++i) {
        auto r = evaluate(**expr, kObservation);
        if (!r || r->size() != 1 || to_string(r->front()) != std::optional<std::string>("29463-7")) ++bad;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, 0);
}

TEST(FhirPathEvaluator, TraceReportsToTheCallback) {
  Context ctx;
  std::vector<std::string> seen;
  ctx.trace = [&](std::string_view name, const Collection& items) {
    seen.push_back(std::string(name) + ":" + std::to_string(items.size()));
  };
  EXPECT_EQ(eval("Observation.code.coding.trace('c', code).count()", kObservation, ctx).size(), 1u);
  EXPECT_EQ(seen, std::vector<std::string>{"c:2"});
}

TEST(FhirPathEvaluator, ToJsonDescribesTypes) {
  EXPECT_EQ(text("Observation.status | 1 | 1.50 | @2020 | 4 'mg' | Observation.subject", kObservation),
            R"([{"type":"code","value":"final"},{"type":"Integer","value":1},{"type":"Decimal","value":1.5E0},)"
            R"({"type":"Date","value":"2020"},{"type":"Quantity","value":{"value":4E0,"unit":"mg"}},)"
            R"({"type":"Reference","value":{"reference":"Patient/p1"}}])");
}

}  // namespace
}  // namespace ucr::fhirpath
