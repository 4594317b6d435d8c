#include "fhir/deidentify.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

namespace json = boost::json;
using ucr::fhir::deidentify;
using ucr::fhir::outward_code;

TEST(OutwardCode, KeepsTheDistrictOfAUkPostcode) {
  EXPECT_EQ(outward_code("ME7 4JL"), "ME7");
  EXPECT_EQ(outward_code("ct11 0ab"), "CT11");
  EXPECT_EQ(outward_code("TN2-3AB"), "TN2");
  EXPECT_EQ(outward_code("EC1A 1BB"), "EC1A");
  EXPECT_EQ(outward_code("N1 9GU"), "N1");
  EXPECT_EQ(outward_code("not a postcode"), "");
  EXPECT_EQ(outward_code("12345"), "");
  EXPECT_EQ(outward_code(""), "");
}

TEST(Deidentify, RemovesDirectIdentifiersAndGeneralisesTheRest) {
  auto doc =
      json::parse(R"({"resourceType":"Patient","id":"p1","text":{"status":"generated","div":"<div>Ann Lee</div>"},
    "identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],
    "name":[{"family":"Lee","given":["Ann"]}],"telecom":[{"system":"email","value":"ann@example.org"}],
    "gender":"female","birthDate":"1950-02-03","deceasedDateTime":"2020-05-06T10:00:00Z",
    "address":[{"use":"home","line":["2 Mill Lane"],"city":"Deal","postalCode":"CT14 6AB","country":"GB"}],
    "contact":[{"name":{"family":"Lee"}}],"photo":[{"contentType":"image/png","data":"AAAA"}],
    "extension":[{"url":"http://example.org/birthPlace","valueAddress":{"city":"Dover"}}],
    "contained":[{"resourceType":"RelatedPerson","id":"r","name":[{"family":"Lee"}],"patient":{"reference":"#"}}],
    "generalPractitioner":[{"reference":"Organization/o1","display":"Deal Surgery"}],
    "meta":{"versionId":"2"}})");
  deidentify(doc.as_object());
  const std::string out = json::serialize(doc);
  for (const char* gone :
       {"Lee", "Ann", "9434765919", "ann@example.org", "Mill Lane", "Deal", "Dover", "AAAA", "1950-02-03", "<div>"}) {
    EXPECT_EQ(out.find(gone), std::string::npos) << gone << " in " << out;
  }
  const auto& p = doc.as_object();
  EXPECT_EQ(p.at("birthDate"), "1950");
  EXPECT_EQ(p.at("deceasedDateTime"), "2020");
  EXPECT_EQ(p.at("gender"), "female");
  EXPECT_EQ(p.at("address").as_array().at(0).as_object().at("postalCode"), "CT14");
  EXPECT_EQ(p.at("generalPractitioner").as_array().at(0).as_object().at("reference"), "Organization/o1");
  EXPECT_EQ(p.at("meta").as_object().at("versionId"), "2");
  EXPECT_EQ(p.at("meta").as_object().at("security").as_array().at(0).as_object().at("code"), "PSEUDED");
}

TEST(Deidentify, KeepsCodedClinicalDataAndDropsFreeText) {
  auto doc = json::parse(R"({"resourceType":"Bundle","type":"searchset","entry":[{"resource":
    {"resourceType":"Condition","code":{"text":"Asthma","coding":[{"system":"http://snomed.info/sct","code":"195967001"}]},
     "subject":{"reference":"Patient/p1","display":"Ann Lee"},"note":[{"text":"lives with her son Tom"}],
     "onsetDateTime":"2001-03-04"}},
    {"resource":{"resourceType":"Organization","identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"G82001"}],"name":"Deal Surgery"}}]})");
  deidentify(doc.as_object());
  const std::string out = json::serialize(doc);
  EXPECT_EQ(out.find("Ann Lee"), std::string::npos) << out;
  EXPECT_EQ(out.find("Tom"), std::string::npos) << out;
  EXPECT_NE(out.find("195967001"), std::string::npos) << "codes stay";
  EXPECT_NE(out.find("Asthma"), std::string::npos) << "a concept's text is not about the person";
  EXPECT_NE(out.find("2001-03-04"), std::string::npos) << "clinical dates stay";
  EXPECT_NE(out.find("G82001"), std::string::npos) << "the directory is left as it is";
  EXPECT_NE(out.find("Deal Surgery"), std::string::npos);
}
