// SearchParameter resources posted to the server become search parameters (R4 searchparameter.html),
// with the resources already stored reindexed in the background.
#include "api_fixture.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace ucr::api::testing {
namespace {

constexpr const char* kEthnicityUrl = "https://ucr.example/fhir/StructureDefinition/ethnic-category";

std::string search_parameter(const std::string& code, const std::string& expression, const std::string& type = "token",
                             const std::string& base = "Patient", const std::string& status = "active") {
  return json::serialize(json::object{{"resourceType", "SearchParameter"},
                                      {"url", "https://ucr.example/fhir/SearchParameter/" + code},
                                      {"name", code},
                                      {"status", status},
                                      {"description", "A test parameter"},
                                      {"code", code},
                                      {"base", json::array{json::string(base)}},
                                      {"type", type},
                                      {"expression", expression}});
}

std::string patient_with_ethnicity(const std::string& family, const std::string& code) {
  return json::serialize(json::object{
      {"resourceType", "Patient"},
      {"name", json::array{json::object{{"family", family}}}},
      {"extension",
       json::array{json::object{
           {"url", kEthnicityUrl},
           {"valueCodeableConcept",
            json::object{{"coding", json::array{json::object{
                                        {"system", "https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategory"},
                                        {"code", code}}}}}}}}}});
}

class CustomSearchParameterTest : public ApiTest {
 protected:
  std::string create(const std::string& type, const std::string& body) {
    auto r = call("POST", "/fhir/" + type, body);
    EXPECT_EQ(r.status, 201) << r.body;
    return str(body_of(r), {"id"});
  }

  std::set<std::string> ids(const std::string& query) {
    auto r = call("GET", "/fhir/" + query);
    EXPECT_EQ(r.status, 200) << query << ": " << r.body;
    std::set<std::string> out;
    const auto b = body_of(r);
    if (const auto* entries = b.if_contains("entry")) {
      for (const auto& e : entries->as_array()) out.insert(str(e, {"resource", "id"}));
    }
    return out;
  }
};

const std::string kEthnicityExpression = std::string("Patient.extension.where(url = '") + kEthnicityUrl + "').value";

TEST_F(CustomSearchParameterTest, ResourcesStoredBeforeAndAfterTheParameterAreFound) {
  const std::string before = create("Patient", patient_with_ethnicity("Before", "A"));
  const std::string other = create("Patient", patient_with_ethnicity("Other", "M"));
  EXPECT_EQ(call("GET", "/fhir/Patient?ethnicity=A").status, 400) << "unknown until defined";

  create("SearchParameter", search_parameter("ethnicity", kEthnicityExpression));
  const std::string after = create("Patient", patient_with_ethnicity("After", "A"));
  api_->wait_for_reindex();

  EXPECT_EQ(ids("Patient?ethnicity=A"), (std::set<std::string>{before, after}));
  EXPECT_EQ(ids("Patient?ethnicity=https://fhir.hl7.org.uk/CodeSystem/UKCore-EthnicCategory|M"),
            (std::set<std::string>{other}));
  EXPECT_EQ(ids("Patient?ethnicity:not=A"), (std::set<std::string>{other}));
  EXPECT_EQ(ids("Patient?ethnicity=A&family=aft"), (std::set<std::string>{after}));
  // Sortable and chainable like any other parameter.
  const std::string obs = create("Observation", R"({"resourceType":"Observation","status":"final",)"
                                                R"("code":{"text":"x"},"subject":{"reference":"Patient/)" +
                                                    before + R"("}})");
  EXPECT_EQ(ids("Observation?subject:Patient.ethnicity=A"), (std::set<std::string>{obs}));
  EXPECT_EQ(call("GET", "/fhir/Patient?_sort=ethnicity").status, 200);
}

TEST_F(CustomSearchParameterTest, UpdatesAfterwardsAreIndexedWithTheParameter) {
  create("SearchParameter", search_parameter("ethnicity", kEthnicityExpression));
  const std::string id = create("Patient", patient_with_ethnicity("Changing", "A"));
  json::object p = json::parse(patient_with_ethnicity("Changing", "B")).as_object();
  p["id"] = id;
  ASSERT_EQ(call("PUT", "/fhir/Patient/" + id, json::serialize(p)).status, 200);
  api_->wait_for_reindex();
  EXPECT_TRUE(ids("Patient?ethnicity=A").empty());
  EXPECT_EQ(ids("Patient?ethnicity=B"), (std::set<std::string>{id}));
}

TEST_F(CustomSearchParameterTest, ChangingTheExpressionReindexesAndRemovingTheParameterRetiresIt) {
  const std::string patient = create("Patient", R"({"resourceType":"Patient","gender":"female",)"
                                                R"("name":[{"family":"Shaw"}]})");
  const std::string sp = create("SearchParameter", search_parameter("sex", "Patient.gender"));
  api_->wait_for_reindex();
  EXPECT_EQ(ids("Patient?sex=female"), (std::set<std::string>{patient}));

  json::object changed = json::parse(search_parameter("sex", "Patient.name.family", "string")).as_object();
  changed["id"] = sp;
  ASSERT_EQ(call("PUT", "/fhir/SearchParameter/" + sp, json::serialize(changed)).status, 200);
  api_->wait_for_reindex();
  EXPECT_EQ(ids("Patient?sex=sha"), (std::set<std::string>{patient}));
  EXPECT_TRUE(ids("Patient?sex=fem").empty()) << "rows from the old expression are gone";

  ASSERT_EQ(call("DELETE", "/fhir/SearchParameter/" + sp).status, 204);
  EXPECT_EQ(call("GET", "/fhir/Patient?sex=sha").status, 400);
}

TEST_F(CustomSearchParameterTest, ARetiredParameterIsNotInForce) {
  create("SearchParameter", search_parameter("sex", "Patient.gender", "token", "Patient", "retired"));
  EXPECT_EQ(call("GET", "/fhir/Patient?sex=female").status, 400);
}

TEST_F(CustomSearchParameterTest, BadDefinitionsAreRefusedWithTheElementAtFault) {
  const auto refused = [&](const std::string& body, int status, const std::string& expression) {
    auto r = call("POST", "/fhir/SearchParameter", body);
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_NE(r.body.find(expression), std::string::npos) << r.body;
  };
  refused(search_parameter("broken", "Patient.name.where("), 400, "SearchParameter.expression");
  refused(search_parameter("_mine", "Patient.gender"), 400, "SearchParameter.code");
  refused(search_parameter("family", "Patient.name.family", "string"), 422, "SearchParameter.code");
  refused(search_parameter("combo", "Patient.gender", "composite"), 400, "SearchParameter.type");
  create("SearchParameter", search_parameter("sex", "Patient.gender"));
  refused(search_parameter("sex", "Patient.gender"), 422, "SearchParameter.code");
  EXPECT_EQ(ids("SearchParameter").size(), 1U) << "nothing refused was stored";
}

TEST_F(CustomSearchParameterTest, TheParameterSurvivesARestartAndIsInTheCapabilityStatement) {
  const std::string patient = create("Patient", patient_with_ethnicity("Kept", "A"));
  create("SearchParameter", search_parameter("ethnicity", kEthnicityExpression));
  api_->wait_for_reindex();
  api_ = std::make_unique<Api>(*store_, ApiOptions{});
  EXPECT_EQ(ids("Patient?ethnicity=A"), (std::set<std::string>{patient}));
  const auto cap = call("GET", "/fhir/metadata");
  EXPECT_NE(cap.body.find(R"("name":"ethnicity")"), std::string::npos);
}

TEST_F(CustomSearchParameterTest, ATransactionCanDefineAParameter) {
  const std::string patient = create("Patient", patient_with_ethnicity("Bundled", "A"));
  const std::string bundle = json::serialize(json::object{
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry", json::array{json::object{{"resource", json::parse(search_parameter("ethnicity", kEthnicityExpression))},
                                         {"request", json::object{{"method", "POST"}, {"url", "SearchParameter"}}}}}}});
  ASSERT_EQ(call("POST", "/fhir", bundle).status, 200);
  api_->wait_for_reindex();
  EXPECT_EQ(ids("Patient?ethnicity=A"), (std::set<std::string>{patient}));
}

}  // namespace
}  // namespace ucr::api::testing
