// Unit tests of search/index extract(): the index rows of R4 example resources, and the registry.
#include "search/index.hpp"
#include "search/registry.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <string>

namespace ucr::search {
namespace {

namespace json = boost::json;

json::value load(const std::string& name) {
  std::ifstream in(std::string(UCR_TEST_DATA_DIR) + "/fhir-examples/" + name);
  EXPECT_TRUE(in) << name;
  std::stringstream ss;
  ss << in.rdbuf();
  return json::parse(ss.str());
}

template <typename Row>
std::vector<Row> of(const std::vector<Row>& rows, std::string_view param) {
  std::vector<Row> out;
  std::copy_if(rows.begin(), rows.end(), std::back_inserter(out), [&](const Row& r) { return r.param == param; });
  return out;
}

std::vector<std::string> normalized(const IndexRows& rows, std::string_view param) {
  std::vector<std::string> out;
  for (const auto& r : of(rows.strings, param)) out.push_back(r.normalized);
  std::sort(out.begin(), out.end());
  return out;
}

bool has_token(const IndexRows& rows, std::string_view param, std::string_view system, std::string_view code) {
  const auto t = of(rows.tokens, param);
  return std::any_of(t.begin(), t.end(), [&](const TokenRow& r) { return r.system == system && r.code == code; });
}

core::Micros at(std::string_view s) { return *core::parse_fhir_datetime(s); }

TEST(Registry, R4ParametersCompile) {
  const Registry& r = Registry::r4();
  EXPECT_GT(r.size(), 1000U);
  // Every expression the registry holds compiles (the special parameters _content, _text, ... have none).
  for (const auto& f : r.compile_failures()) {
    EXPECT_NE(f.find("empty expression"), std::string::npos) << f;
  }
  const SearchParam* name = r.find("Patient", "name");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->type, ParamType::kString);
  const SearchParam* subject = r.find("Observation", "subject");
  ASSERT_NE(subject, nullptr);
  EXPECT_EQ(subject->type, ParamType::kReference);
  EXPECT_NE(std::find(subject->targets.begin(), subject->targets.end(), "Patient"), subject->targets.end());
  ASSERT_NE(r.find("Observation", "_tag"), nullptr);  // Resource-level parameters apply to every type
  EXPECT_EQ(r.find("Observation", "nonsense"), nullptr);
  const auto& cp = r.patient_compartment_params("Observation");
  EXPECT_NE(std::find(cp.begin(), cp.end(), "subject"), cp.end());
  EXPECT_TRUE(r.patient_compartment_params("Organization").empty());
}

TEST(Registry, UnionParametersAreReadFromTheirParts) {
  const auto& r = Registry::r4();
  const auto stored = [&](std::string_view type, std::string_view code) {
    const SearchParam* sp = r.find(type, code);
    EXPECT_NE(sp, nullptr) << code;
    auto v = sp == nullptr ? std::vector<std::string>{} : sp->stored_as;
    std::sort(v.begin(), v.end());
    return v;
  };
  EXPECT_EQ(stored("Observation", "combo-code"), (std::vector<std::string>{"code", "component-code"}));
  EXPECT_EQ(stored("Observation", "combo-value-quantity"),
            (std::vector<std::string>{"component-value-quantity", "value-quantity"}));
  EXPECT_EQ(stored("Observation", "combo-code-value-quantity"),
            (std::vector<std::string>{"code-value-quantity", "component-code-value-quantity"}));
  EXPECT_TRUE(stored("Observation", "code").empty());
  // A reference restricted to one target type is read from the other's rows of that type.
  EXPECT_EQ(stored("Observation", "patient"), (std::vector<std::string>{"subject"}));
  EXPECT_EQ(r.find("Observation", "patient")->stored_target, "Patient");
  EXPECT_EQ(stored("Encounter", "practitioner"), (std::vector<std::string>{"participant"}));
  EXPECT_EQ(r.find("Encounter", "practitioner")->stored_target, "Practitioner");
  EXPECT_TRUE(stored("Observation", "subject").empty());
  EXPECT_TRUE(stored("Observation", "performer").empty());  // unrestricted: its own rows
  EXPECT_TRUE(r.find("Observation", "combo-code")->stored_target.empty());
  // A HumanName or Address parameter beside parameters on its parts stores the other parts itself
  // and reads the covered ones from theirs (its own code first).
  EXPECT_EQ(r.find("Patient", "name")->stored_as, (std::vector<std::string>{"name", "family", "given"}));
  EXPECT_EQ(r.find("Patient", "name")->covered_parts, (std::vector<std::string>{"family", "given"}));
  EXPECT_TRUE(stores_own_rows(*r.find("Patient", "name")));
  EXPECT_EQ(stored("Patient", "address"), (std::vector<std::string>{"address", "address-city", "address-country",
                                                                    "address-postalcode", "address-state"}));
  EXPECT_EQ(stored("Location", "address"), (std::vector<std::string>{"address", "address-city", "address-country",
                                                                     "address-postalcode", "address-state"}));
  EXPECT_EQ(stored("Practitioner", "name"), (std::vector<std::string>{"family", "given", "name"}));
  EXPECT_TRUE(stored("RelatedPerson", "name").empty());  // R4 gives RelatedPerson no family or given
  // The same expression as another's: the first by code stores the rows, the others read them (and
  // what they read).
  EXPECT_EQ(stored("Patient", "phonetic"), (std::vector<std::string>{"family", "given", "name"}));
  EXPECT_FALSE(stores_own_rows(*r.find("Patient", "phonetic")));
  EXPECT_EQ(stored("Practitioner", "phonetic"), (std::vector<std::string>{"family", "given", "name"}));
  EXPECT_EQ(stored("RelatedPerson", "phonetic"), (std::vector<std::string>{"name"}));
  EXPECT_TRUE(stored("Patient", "family").empty());
  // R4 gives CodeSystem system and url one expression (CodeSystem.url), and CapabilityStatement version
  // and fhirversion another (CapabilityStatement.version).
  EXPECT_EQ(stored("CodeSystem", "url"), (std::vector<std::string>{"system"}));
  EXPECT_EQ(stored("CapabilityStatement", "version"), (std::vector<std::string>{"fhirversion"}));
  EXPECT_EQ(union_parts("(A.b as Quantity) | (A.c.where(x = 'a|b') | A.d)"),
            (std::vector<std::string>{"(A.b as Quantity)", "(A.c.where(x = 'a|b') | A.d)"}));
  EXPECT_EQ(union_parts(" Observation.code "), (std::vector<std::string>{"Observation.code"}));
}

TEST(Extract, PatientExample) {
  const auto doc = load("patient-example.json");
  const IndexRows rows = extract(doc, "Patient", "example");
  // string: HumanName parts (family, given) of every name.
  EXPECT_EQ(normalized(rows, "family"), (std::vector<std::string>{"chalmers", "windsor"}));
  const auto given = normalized(rows, "given");
  EXPECT_EQ(std::count(given.begin(), given.end(), "peter"), 2);
  EXPECT_NE(std::find(given.begin(), given.end(), "jim"), given.end());
  // name's own rows are the parts family and given do not store: none in this example.
  EXPECT_TRUE(normalized(rows, "name").empty());
  EXPECT_TRUE(normalized(rows, "phonetic").empty());  // read from name's, family's and given's rows
  // address's own rows: the lines (and district, text); the city is address-city's.
  const auto address = normalized(rows, "address");
  EXPECT_NE(std::find(address.begin(), address.end(), "534 erewhon st"), address.end());
  EXPECT_NE(std::find(address.begin(), address.end(), "rainbow"), address.end());
  EXPECT_EQ(std::find(address.begin(), address.end(), "pleasantville"), address.end());
  EXPECT_EQ(std::find(address.begin(), address.end(), "3999"), address.end());
  EXPECT_EQ(normalized(rows, "address-city"), (std::vector<std::string>{"pleasantville"}));
  EXPECT_EQ(normalized(rows, "address-state"), (std::vector<std::string>{"vic"}));
  EXPECT_EQ(normalized(rows, "address-postalcode"), (std::vector<std::string>{"3999"}));
  const auto family = of(rows.strings, "family");
  EXPECT_EQ(family.front().exact, "Chalmers");
  // token: Identifier system|value, code, boolean, ContactPoint.
  EXPECT_TRUE(has_token(rows, "identifier", "urn:oid:1.2.36.146.595.217.0.1", "12345"));
  EXPECT_TRUE(has_token(rows, "identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203", "MR|12345"));
  EXPECT_TRUE(has_token(rows, "gender", "", "male"));
  EXPECT_TRUE(has_token(rows, "active", "", "true"));
  EXPECT_TRUE(has_token(rows, "phone", "", "(03) 5555 6473"));
  EXPECT_EQ(of(rows.tokens, "phone").size(), 3U);
  EXPECT_TRUE(has_token(rows, "telecom", "", "(03) 3410 5613"));
  EXPECT_TRUE(has_token(rows, "address-use", "", "home"));
  EXPECT_TRUE(of(rows.tokens, "email").empty());
  // deceasedBoolean false: deceased is indexed as false.
  EXPECT_TRUE(has_token(rows, "deceased", "", "false"));
  EXPECT_FALSE(has_token(rows, "deceased", "", "true"));
  // reference
  const auto org = of(rows.references, "organization");
  ASSERT_EQ(org.size(), 1U);
  EXPECT_EQ(org[0].target_type, "Organization");
  EXPECT_EQ(org[0].target_id, "1");
  EXPECT_EQ(org[0].url, "");  // a plain Type/id keeps no text: searches match the type and id
  // date at day precision
  const auto birth = of(rows.dates, "birthdate");
  ASSERT_EQ(birth.size(), 1U);
  EXPECT_EQ(birth[0].low, at("1974-12-25"));
  EXPECT_EQ(birth[0].high, at("1974-12-26") - 1);
  EXPECT_TRUE(of(rows.dates, "death-date").empty());
  // A Patient is in its own compartment.
  EXPECT_EQ(rows.compartments, (std::vector<std::string>{"Patient/example"}));
}

TEST(Extract, AccentsInContactAreNotPatientNames) {
  // patient-example's contact is "Bénédicte du Marché": not a Patient.name, so not indexed under name.
  const IndexRows rows = extract(load("patient-example.json"), "Patient", "example");
  const auto name = normalized(rows, "name");
  EXPECT_EQ(std::find(name.begin(), name.end(), "benedicte"), name.end());
  json::value doc = json::parse(R"({"resourceType":"Patient","name":[{"family":"Marché","given":["Bénédicte"]}]})");
  const IndexRows mine = extract(doc, "Patient", "p");
  EXPECT_EQ(normalized(mine, "family"), (std::vector<std::string>{"marche"}));
  EXPECT_EQ(of(mine.strings, "family").front().exact, "Marché");
  EXPECT_EQ(normalized(mine, "given"), (std::vector<std::string>{"benedicte"}));
}

TEST(Extract, ConceptTextHasARowOnlyWhenNoCodingCarriesIt) {
  // text repeating a display (after normalisation) is already on the coding's row, for :text.
  json::value same = json::parse(
      R"({"resourceType":"Condition","subject":{"reference":"Patient/p"},"code":{"coding":[{"system":"http://snomed.info/sct",)"
      R"("code":"38341003","display":"Hypertensive disorder"}],"text":"HYPERTENSIVE disorder"}})");
  const auto one = of(extract(same, "Condition", "c1").tokens, "code");
  ASSERT_EQ(one.size(), 1U);
  EXPECT_EQ(one[0].code, "38341003");
  EXPECT_EQ(one[0].text, "hypertensive disorder");
  // Other words get their own row, so code:text=high finds it.
  json::value other = json::parse(
      R"({"resourceType":"Condition","subject":{"reference":"Patient/p"},"code":{"coding":[{"system":"http://snomed.info/sct",)"
      R"("code":"38341003","display":"Hypertensive disorder"}],"text":"High blood pressure"}})");
  const auto two = of(extract(other, "Condition", "c2").tokens, "code");
  ASSERT_EQ(two.size(), 2U);
  EXPECT_EQ(two[1].code, "");
  EXPECT_EQ(two[1].text, "high blood pressure");
  // Text alone (no coding) keeps its row.
  json::value alone =
      json::parse(R"({"resourceType":"Condition","subject":{"reference":"Patient/p"},"code":{"text":"Dizzy spells"}})");
  const auto three = of(extract(alone, "Condition", "c3").tokens, "code");
  ASSERT_EQ(three.size(), 1U);
  EXPECT_EQ(three[0].text, "dizzy spells");
}

TEST(Extract, ObservationExample) {
  const IndexRows rows = extract(load("observation-example.json"), "Observation", "example");
  EXPECT_TRUE(has_token(rows, "code", "http://loinc.org", "29463-7"));
  EXPECT_TRUE(has_token(rows, "code", "http://snomed.info/sct", "27113001"));
  EXPECT_EQ(of(rows.tokens, "code").size(), 4U);
  const auto code = of(rows.tokens, "code");
  EXPECT_EQ(code[0].text, "body weight");  // display, normalised, for :text
  EXPECT_TRUE(has_token(rows, "category", "http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs"));
  EXPECT_TRUE(has_token(rows, "status", "", "final"));
  const auto subject = of(rows.references, "subject");
  ASSERT_EQ(subject.size(), 1U);
  EXPECT_EQ(subject[0].target_type, "Patient");
  EXPECT_EQ(subject[0].target_id, "example");
  // patient = subject.where(resolve() is Patient): no rows of its own, searches read subject's.
  EXPECT_TRUE(of(rows.references, "patient").empty());
  EXPECT_EQ(rows.compartments, (std::vector<std::string>{"Patient/example"}));
  const auto encounter = of(rows.references, "encounter");
  ASSERT_EQ(encounter.size(), 1U);
  EXPECT_EQ(encounter[0].target_type, "Encounter");
  const auto date = of(rows.dates, "date");
  ASSERT_EQ(date.size(), 1U);
  EXPECT_EQ(date[0].low, at("2016-03-28"));
  EXPECT_EQ(date[0].high, at("2016-03-29") - 1);
  const auto q = of(rows.quantities, "value-quantity");
  ASSERT_EQ(q.size(), 1U);
  EXPECT_DOUBLE_EQ(q[0].value, 185);
  EXPECT_DOUBLE_EQ(q[0].low, 184.5);
  EXPECT_DOUBLE_EQ(q[0].high, 185.5);
  EXPECT_EQ(q[0].system, "http://unitsofmeasure.org");
  EXPECT_EQ(q[0].code, "[lb_av]");
  EXPECT_EQ(q[0].unit, "lbs");
  // combo-value-quantity is value-quantity | component-value-quantity: read from their rows.
  EXPECT_TRUE(of(rows.quantities, "combo-value-quantity").empty());
  EXPECT_TRUE(of(rows.tokens, "combo-code").empty());
  EXPECT_EQ(of(rows.quantities, "value-quantity").size(), 1U);
  EXPECT_EQ(rows.compartments, (std::vector<std::string>{"Patient/example"}));
}

TEST(Extract, ValueSetUris) {
  const IndexRows rows = extract(load("valueset-example-expansion.json"), "ValueSet", "example-expansion");
  const auto url = of(rows.uris, "url");
  ASSERT_EQ(url.size(), 1U);
  EXPECT_EQ(url[0].uri, "http://hl7.org/fhir/ValueSet/example-expansion");
  const auto profile = of(rows.uris, "_profile");
  ASSERT_EQ(profile.size(), 1U);
  EXPECT_EQ(profile[0].uri, "http://hl7.org/fhir/StructureDefinition/shareablevalueset");
  // ValueSet.code is `expansion.contains.code`: plain codes, without their system.
  EXPECT_TRUE(has_token(rows, "code", "", "14647-2"));
  EXPECT_TRUE(has_token(rows, "status", "", "draft"));
  const auto date = of(rows.dates, "date");
  ASSERT_EQ(date.size(), 1U);
  EXPECT_EQ(date[0].low, at("2015-06-22"));
  EXPECT_TRUE(rows.compartments.empty());
}

TEST(Extract, PeriodsAndOpenEnds) {
  json::value doc = json::parse(R"({"resourceType":"Encounter","status":"finished",
      "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
      "subject":{"reference":"Patient/p1"},
      "period":{"start":"2021-03-04T10:00:00Z","end":"2021-03-05"}})");
  const IndexRows rows = extract(doc, "Encounter", "e1");
  const auto date = of(rows.dates, "date");
  ASSERT_EQ(date.size(), 1U);
  EXPECT_EQ(date[0].low, at("2021-03-04T10:00:00Z"));
  EXPECT_EQ(date[0].high, at("2021-03-06") - 1);
  EXPECT_TRUE(has_token(rows, "class", "http://terminology.hl7.org/CodeSystem/v3-ActCode", "AMB"));
  EXPECT_EQ(rows.compartments, (std::vector<std::string>{"Patient/p1"}));

  json::value open = json::parse(R"({"resourceType":"Encounter","status":"in-progress",
      "class":{"code":"AMB"},"period":{"start":"2021-03-04"}})");
  const auto od = of(extract(open, "Encounter", "e2").dates, "date");
  ASSERT_EQ(od.size(), 1U);
  EXPECT_EQ(od[0].low, at("2021-03-04"));
  EXPECT_EQ(od[0].high, std::numeric_limits<core::Micros>::max());
}

TEST(Extract, MetaAndReferenceForms) {
  json::value doc = json::parse(R"({"resourceType":"Observation","status":"final",
      "meta":{"tag":[{"system":"http://t","code":"a"}],"security":[{"system":"http://s","code":"R"}],
              "profile":["http://p/sd"],"source":"http://src#1"},
      "code":{"text":"Free text only"},
      "subject":{"reference":"http://other.example/fhir/Patient/ext1"},
      "performer":[{"identifier":{"system":"http://ids","value":"doc-7"}},{"reference":"#contained"}],
      "valueQuantity":{"value":5.25,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"},
      "effectivePeriod":{"start":"2020-01","end":"2020-02-15"}})");
  const IndexRows rows = extract(doc, "Observation", "o1");
  EXPECT_TRUE(has_token(rows, "_tag", "http://t", "a"));
  EXPECT_TRUE(has_token(rows, "_security", "http://s", "R"));
  ASSERT_EQ(of(rows.uris, "_profile").size(), 1U);
  ASSERT_EQ(of(rows.uris, "_source").size(), 1U);
  EXPECT_EQ(of(rows.uris, "_source")[0].uri, "http://src#1");
  const auto code = of(rows.tokens, "code");
  ASSERT_EQ(code.size(), 1U);
  EXPECT_EQ(code[0].code, "");
  EXPECT_EQ(code[0].text, "free text only");
  const auto subject = of(rows.references, "subject");
  ASSERT_EQ(subject.size(), 1U);
  EXPECT_EQ(subject[0].url, "http://other.example/fhir/Patient/ext1");
  EXPECT_EQ(subject[0].target_type, "Patient");
  EXPECT_EQ(subject[0].target_id, "ext1");
  EXPECT_TRUE(has_token(rows, "performer:identifier", "http://ids", "doc-7"));
  // A reference to a contained resource is kept as written, never as a Type/id (here the
  // resource it names is not in `contained`, so it has no type either).
  const auto performer = of(rows.references, "performer");
  ASSERT_EQ(performer.size(), 1U);
  EXPECT_EQ(performer[0].url, "#contained");
  EXPECT_EQ(performer[0].target_type, "");
  EXPECT_EQ(performer[0].target_id, "");
  const auto q = of(rows.quantities, "value-quantity");
  ASSERT_EQ(q.size(), 1U);
  EXPECT_DOUBLE_EQ(q[0].value, 5.25);
  EXPECT_NEAR(q[0].low, 5.245, 1e-12);
  EXPECT_NEAR(q[0].high, 5.255, 1e-12);
  const auto date = of(rows.dates, "date");
  ASSERT_EQ(date.size(), 1U);
  EXPECT_EQ(date[0].low, at("2020-01-01"));
  EXPECT_EQ(date[0].high, at("2020-02-16") - 1);
}

TEST(Extract, DeceasedAndComputedValues) {
  json::value dead = json::parse(R"({"resourceType":"Patient","deceasedDateTime":"2020-05-06"})");
  const IndexRows rows = extract(dead, "Patient", "d");
  EXPECT_TRUE(has_token(rows, "deceased", "", "true"));
  const auto dd = of(rows.dates, "death-date");
  ASSERT_EQ(dd.size(), 1U);
  EXPECT_EQ(dd[0].low, at("2020-05-06"));
  json::value alive = json::parse(R"({"resourceType":"Patient","active":false})");
  const IndexRows a = extract(alive, "Patient", "a");
  EXPECT_TRUE(has_token(a, "active", "", "false"));
  EXPECT_TRUE(has_token(a, "deceased", "", "false"));
}

TEST(Extract, CompartmentsFromEveryCompartmentParam) {
  json::value doc = json::parse(R"({"resourceType":"Observation","status":"final","code":{"text":"x"},
      "subject":{"reference":"Patient/a"},"performer":[{"reference":"Patient/b"},{"reference":"Practitioner/c"}]})");
  const IndexRows rows = extract(doc, "Observation", "o");
  EXPECT_EQ(rows.compartments, (std::vector<std::string>{"Patient/a", "Patient/b"}));
  json::value org = json::parse(R"({"resourceType":"Organization","name":"x","partOf":{"reference":"Patient/a"}})");
  EXPECT_TRUE(extract(org, "Organization", "o").compartments.empty());
}

TEST(Extract, ContainedResourcesAreIndexedApartByTheirOwnTypesParameters) {
  // R4 search.html#contained
  const json::value mr = json::parse(R"({"resourceType":"MedicationRequest","id":"mr1","status":"active",
    "subject":{"reference":"Patient/p1"},"medicationReference":{"reference":"#med1"},
    "contained":[{"resourceType":"Medication","id":"med1",
                  "code":{"coding":[{"system":"http://snomed.info/sct","code":"111"}]},
                  "manufacturer":{"reference":"#org1"}},
                 {"resourceType":"Organization","id":"org1","name":"Maker Ltd"},
                 {"resourceType":"Patient","id":"p2","name":[{"family":"Inside"}]},
                 {"resourceType":"NotAType","id":"x"},
                 {"resourceType":"Medication"}]})");
  const IndexRows rows = extract(mr, "MedicationRequest", "mr1");
  // The container's reference to a contained resource: the contained type, no id, as written.
  const auto refs = of(rows.references, "medication");
  ASSERT_EQ(refs.size(), 1U);
  EXPECT_EQ(refs[0].target_type, "Medication");
  EXPECT_EQ(refs[0].target_id, "");
  EXPECT_EQ(refs[0].url, "#med1");
  // The container's own rows hold nothing of the contained resources; its compartment is its own.
  EXPECT_FALSE(has_token(rows, "code", "http://snomed.info/sct", "111"));
  EXPECT_EQ(rows.compartments, (std::vector<std::string>{"Patient/p1"}));
  // Each addressable contained resource of a known type, with its local id as a token `_id`.
  ASSERT_EQ(rows.contained.size(), 3U);
  EXPECT_EQ(rows.contained[0].type, "Medication");
  EXPECT_EQ(rows.contained[0].id, "med1");
  EXPECT_TRUE(has_token(rows.contained[0].rows, "code", "http://snomed.info/sct", "111"));
  EXPECT_TRUE(has_token(rows.contained[0].rows, "_id", "", "med1"));
  const auto maker = of(rows.contained[0].rows.references, "manufacturer");
  ASSERT_EQ(maker.size(), 1U);
  EXPECT_EQ(maker[0].target_type, "Organization");
  EXPECT_EQ(maker[0].url, "#org1");
  EXPECT_EQ(rows.contained[1].type, "Organization");
  EXPECT_EQ(normalized(rows.contained[1].rows, "name"), (std::vector<std::string>{"maker ltd"}));
  EXPECT_EQ(rows.contained[2].type, "Patient");
  EXPECT_TRUE(rows.contained[2].rows.compartments.empty());
  // Only what compartments need: no contained rows.
  EXPECT_TRUE(extract(mr, "MedicationRequest", "mr1", Registry::r4(), false).contained.empty());
}

}  // namespace
}  // namespace ucr::search
