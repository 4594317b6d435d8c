// The FHIR R4 REST interactions, driven through Api::handle over a real SQLite store.
#include "api/detail/ops.hpp"
#include "api_fixture.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <thread>

namespace ucr::api::testing {
namespace {

// ---------------------------------------------------------------------------------------------
// create

TEST_F(ApiTest, CreateAnswers201WithLocationETagLastModifiedAndTheStoredResource) {
  auto r = call("POST", "/fhir/Patient", patient("", "Smith"));
  ASSERT_EQ(r.status, 201) << r.body;
  const auto body = body_of(r);
  const std::string id = str(body, {"id"});
  EXPECT_TRUE(core::is_valid_id(id)) << id;
  EXPECT_EQ(str(body, {"resourceType"}), "Patient");
  EXPECT_EQ(str(body, {"meta", "versionId"}), "1");
  EXPECT_TRUE(core::parse_fhir_datetime(str(body, {"meta", "lastUpdated"}))) << str(body, {"meta", "lastUpdated"});
  EXPECT_EQ(str(body, {"name", "0", "family"}), "Smith");
  EXPECT_EQ(header(r, "Location"), std::string(kBase) + "/Patient/" + id + "/_history/1");
  EXPECT_EQ(header(r, "ETag"), "W/\"1\"");
  ASSERT_TRUE(header(r, "Last-Modified"));
  EXPECT_TRUE(core::parse_http_date(*header(r, "Last-Modified"))) << *header(r, "Last-Modified");
  EXPECT_NE(r.content_type.find("application/fhir+json"), std::string::npos);
}

TEST_F(ApiTest, CreateIgnoresAClientSuppliedIdAndAssignsANewOne) {
  auto r = call("POST", "/fhir/Patient", patient("client-chosen"));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = str(body_of(r), {"id"});
  EXPECT_NE(id, "client-chosen");
  EXPECT_EQ(call("GET", "/fhir/Patient/client-chosen").status, 404);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id).status, 200);
}

TEST_F(ApiTest, TwoCreatesGetDistinctIds) {
  EXPECT_NE(create("Patient", patient()), create("Patient", patient()));
  EXPECT_EQ(version_count(), 2u);
}

TEST_F(ApiTest, IfNoneExistReturnsTheMatchingResourceWithoutWriting) {
  const std::string id = create("Patient", patient("", "Doe", "mrn-1"));
  const auto before = version_count();
  auto r = call("POST", "/fhir/Patient", patient("", "Other", "mrn-1"),
                {{"If-None-Exist", "identifier=http://hospital.example/mrn|mrn-1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(body_of(r), {"id"}), id);
  EXPECT_EQ(str(body_of(r), {"name", "0", "family"}), "Doe");
  EXPECT_EQ(version_count(), before);
}

TEST_F(ApiTest, IfNoneExistWithoutAMatchCreates) {
  create("Patient", patient("", "Doe", "mrn-1"));
  auto r = call("POST", "/fhir/Patient", patient("", "Roe", "mrn-2"), {{"If-None-Exist", "identifier=mrn-2"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(version_count(), 2u);
}

TEST_F(ApiTest, IfNoneExistMatchingSeveralResourcesIs412AndWritesNothing) {
  create("Patient", patient("", "A", "dup"));
  create("Patient", patient("", "B", "dup"));
  auto r = call("POST", "/fhir/Patient", patient("", "C", "dup"), {{"If-None-Exist", "identifier=dup"}});
  EXPECT_EQ(r.status, 412) << r.body;
  EXPECT_EQ(str(body_of(r), {"resourceType"}), "OperationOutcome");
  EXPECT_EQ(version_count(), 2u);
}

TEST_F(ApiTest, IfNoneExistByIdFindsTheResource) {
  const std::string id = create("Patient", patient());
  auto r = call("POST", "/fhir/Patient", patient(), {{"If-None-Exist", "_id=" + id}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(version_count(), 1u);
}

// ---------------------------------------------------------------------------------------------
// read and vread

TEST_F(ApiTest, ReadReturnsTheCurrentVersionWithETagAndLastModified) {
  const std::string id = create("Patient", patient("", "Smith"));
  auto r = call("GET", "/fhir/Patient/" + id);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto body = body_of(r);
  EXPECT_EQ(str(body, {"id"}), id);
  EXPECT_EQ(str(body, {"name", "0", "family"}), "Smith");
  EXPECT_EQ(header(r, "ETag"), "W/\"1\"");
  ASSERT_TRUE(header(r, "Last-Modified"));
  EXPECT_FALSE(header(r, "Location")) << "reads carry no Location";
  // Last-Modified agrees with meta.lastUpdated to the second.
  const auto lm = core::parse_http_date(*header(r, "Last-Modified"));
  const auto lu = core::parse_fhir_datetime(str(body, {"meta", "lastUpdated"}));
  ASSERT_TRUE(lm && lu);
  EXPECT_EQ(*lm / 1'000'000, *lu / 1'000'000);
}

TEST_F(ApiTest, HeadAnswersLikeGetWithoutABody) {
  const std::string id = create("Patient", patient());
  auto r = call("HEAD", "/fhir/Patient/" + id);
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(header(r, "ETag"), "W/\"1\"");
}

TEST_F(ApiTest, ReadOfAnUnknownIdIs404WithAnOperationOutcome) {
  auto r = call("GET", "/fhir/Patient/does-not-exist");
  EXPECT_EQ(r.status, 404);
  const auto body = body_of(r);
  EXPECT_EQ(str(body, {"resourceType"}), "OperationOutcome");
  EXPECT_EQ(str(body, {"issue", "0", "code"}), "not-found");
}

TEST_F(ApiTest, ReadOfAnInvalidIdIs400) {
  auto r = call("GET", "/fhir/Patient/not$valid");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(str(body_of(r), {"resourceType"}), "OperationOutcome");
}

TEST_F(ApiTest, UnknownResourceTypeIs404) {
  auto r = call("GET", "/fhir/Patientx/1");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(str(body_of(r), {"resourceType"}), "OperationOutcome");
  EXPECT_EQ(call("POST", "/fhir/Unicorn", R"({"resourceType":"Unicorn"})").status, 404);
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, IfNoneMatchWithTheCurrentETagIs304) {
  const std::string id = create("Patient", patient());
  auto same = call("GET", "/fhir/Patient/" + id, {}, {{"If-None-Match", "W/\"1\""}});
  EXPECT_EQ(same.status, 304);
  EXPECT_TRUE(same.body.empty());
  EXPECT_EQ(header(same, "ETag"), "W/\"1\"");
  ASSERT_EQ(put("Patient", id, patient(id, "Changed")).status, 200);
  auto changed = call("GET", "/fhir/Patient/" + id, {}, {{"If-None-Match", "W/\"1\""}});
  EXPECT_EQ(changed.status, 200);
  EXPECT_EQ(str(body_of(changed), {"name", "0", "family"}), "Changed");
}

TEST_F(ApiTest, IfModifiedSinceAtOrAfterLastModifiedIs304AndEarlierIs200) {
  const std::string id = create("Patient", patient());
  auto first = call("GET", "/fhir/Patient/" + id);
  const auto lm = header(first, "Last-Modified");
  ASSERT_TRUE(lm);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id, {}, {{"If-Modified-Since", *lm}}).status, 304);
  auto old = call("GET", "/fhir/Patient/" + id, {}, {{"If-Modified-Since", "Sat, 01 Jan 2000 00:00:00 GMT"}});
  EXPECT_EQ(old.status, 200);
  EXPECT_EQ(str(body_of(old), {"id"}), id);
}

TEST_F(ApiTest, VreadReturnsEachVersionAsItWas) {
  const std::string id = create("Patient", patient("", "One"));
  ASSERT_EQ(put("Patient", id, patient(id, "Two")).status, 200);
  auto v1 = call("GET", "/fhir/Patient/" + id + "/_history/1");
  ASSERT_EQ(v1.status, 200) << v1.body;
  EXPECT_EQ(str(body_of(v1), {"name", "0", "family"}), "One");
  EXPECT_EQ(str(body_of(v1), {"meta", "versionId"}), "1");
  EXPECT_EQ(header(v1, "ETag"), "W/\"1\"");
  auto v2 = call("GET", "/fhir/Patient/" + id + "/_history/2");
  ASSERT_EQ(v2.status, 200);
  EXPECT_EQ(str(body_of(v2), {"name", "0", "family"}), "Two");
  EXPECT_EQ(header(v2, "ETag"), "W/\"2\"");
}

TEST_F(ApiTest, VreadOfAMissingVersionIs404AndOfANonNumberIs400) {
  const std::string id = create("Patient", patient());
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id + "/_history/2").status, 404);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id + "/_history/abc").status, 400);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id + "/_history/0").status, 400);
  EXPECT_EQ(call("GET", "/fhir/Patient/nobody/_history/1").status, 404);
}

// ---------------------------------------------------------------------------------------------
// update

TEST_F(ApiTest, UpdateStoresANewVersionAndAnswers200WithTheNewVersion) {
  const std::string id = create("Patient", patient("", "Old"));
  auto r = put("Patient", id, patient(id, "New"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(header(r, "ETag"), "W/\"2\"");
  EXPECT_EQ(header(r, "Location"), std::string(kBase) + "/Patient/" + id + "/_history/2");
  EXPECT_EQ(str(body_of(r), {"meta", "versionId"}), "2");
  auto read = call("GET", "/fhir/Patient/" + id);
  EXPECT_EQ(str(body_of(read), {"name", "0", "family"}), "New");
  EXPECT_EQ(header(read, "ETag"), "W/\"2\"");
}

TEST_F(ApiTest, UpdateOfAnUnknownIdCreatesItWithTheClientId) {
  auto r = put("Patient", "client-id-1", patient("client-id-1", "New"));
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(header(r, "ETag"), "W/\"1\"");
  EXPECT_EQ(header(r, "Location"), std::string(kBase) + "/Patient/client-id-1/_history/1");
  EXPECT_EQ(call("GET", "/fhir/Patient/client-id-1").status, 200);
}

TEST_F(ApiTest, ServerManagedMetaFromTheClientIsReplacedButOtherMetaKept) {
  auto r = put("Patient", "m1",
               R"({"resourceType":"Patient","id":"m1","meta":{"versionId":"77","lastUpdated":"2001-01-01T00:00:00Z",
                   "tag":[{"system":"http://t","code":"x"}]}})");
  ASSERT_EQ(r.status, 201) << r.body;
  const auto body = body_of(r);
  EXPECT_EQ(str(body, {"meta", "versionId"}), "1");
  EXPECT_NE(str(body, {"meta", "lastUpdated"}), "2001-01-01T00:00:00Z");
  EXPECT_EQ(str(body, {"meta", "tag", "0", "code"}), "x");
}

TEST_F(ApiTest, UpdateWithAMatchingIfMatchSucceeds) {
  const std::string id = create("Patient", patient());
  auto r = put("Patient", id, patient(id, "X"), {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(header(r, "ETag"), "W/\"2\"");
}

TEST_F(ApiTest, UpdateWithAStaleIfMatchIs412AndWritesNothing) {
  const std::string id = create("Patient", patient("", "Keep"));
  ASSERT_EQ(put("Patient", id, patient(id, "Second")).status, 200);
  const auto before = version_count();
  auto r = put("Patient", id, patient(id, "Lost update"), {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(r.status, 412) << r.body;
  EXPECT_EQ(str(body_of(r), {"resourceType"}), "OperationOutcome");
  EXPECT_EQ(version_count(), before);
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient/" + id)), {"name", "0", "family"}), "Second");
}

TEST_F(ApiTest, UpdateWithIfMatchOnAnAbsentResourceIs412) {
  auto r = put("Patient", "absent", patient("absent"), {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, UpdateWithAMalformedIfMatchIs400AndWritesNothing) {
  const std::string id = create("Patient", patient());
  for (const char* bad : {"banana", "W/\"\"", "W/\"x1\"", "W/\"0\"", "W/\"-3\""}) {
    SCOPED_TRACE(bad);
    auto r = put("Patient", id, patient(id, "X"), {{"If-Match", bad}});
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(str(body_of(r), {"resourceType"}), "OperationOutcome");
  }
  EXPECT_EQ(version_count(), 1u);
}

TEST_F(ApiTest, UpdateWhoseBodyIdDiffersFromTheUrlIs400AtIdAndWritesNothing) {
  const std::string id = create("Patient", patient());
  auto r = put("Patient", id, patient("someone-else"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"id"});
  EXPECT_EQ(version_count(), 1u);
  EXPECT_EQ(call("GET", "/fhir/Patient/someone-else").status, 404);
}

TEST_F(ApiTest, UpdateWithoutABodyIdIs400) {
  auto r = put("Patient", "p1", patient());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"id"});
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, UpdateAfterDeleteRecreatesWithTheNextVersion) {
  const std::string id = create("Patient", patient());
  ASSERT_EQ(call("DELETE", "/fhir/Patient/" + id).status, 204);
  auto r = put("Patient", id, patient(id, "Back"));
  EXPECT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(header(r, "ETag"), "W/\"3\"");
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id).status, 200);
}

TEST_F(ApiTest, ConditionalUpdateWithoutAMatchCreates) {
  auto r = call("PUT", "/fhir/Patient?identifier=http://hospital.example/mrn|c1", patient("", "New", "c1"));
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = str(body_of(r), {"id"});
  EXPECT_TRUE(core::is_valid_id(id));
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id).status, 200);
}

TEST_F(ApiTest, ConditionalUpdateWithOneMatchUpdatesThatResource) {
  const std::string id = create("Patient", patient("", "Old", "c1"));
  create("Patient", patient("", "Bystander", "c2"));
  auto r = call("PUT", "/fhir/Patient?identifier=http://hospital.example/mrn|c1", patient("", "New", "c1"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(body_of(r), {"id"}), id);
  EXPECT_EQ(header(r, "ETag"), "W/\"2\"");
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient/" + id)), {"name", "0", "family"}), "New");
  EXPECT_EQ(version_count(), 3u);
}

TEST_F(ApiTest, ConditionalUpdateByIdWithAConflictingBodyIdIs400) {
  const std::string id = create("Patient", patient());
  auto r = call("PUT", "/fhir/Patient?_id=" + id, patient("other"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(version_count(), 1u);
}

TEST_F(ApiTest, ConditionalUpdateMatchingSeveralIs412AndWritesNothing) {
  create("Patient", patient("", "A", "same"));
  create("Patient", patient("", "B", "same"));
  auto r = call("PUT", "/fhir/Patient?identifier=same", patient("", "C", "same"));
  EXPECT_EQ(r.status, 412) << r.body;
  EXPECT_EQ(version_count(), 2u);
}

TEST_F(ApiTest, ConditionalUpdateWithAnUnknownParameterIs400) {
  auto r = call("PUT", "/fhir/Patient?nickname=Doe", patient());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, ConditionalUpdateOnAnyParameterFindsTheOneMatch) {
  const std::string id = create("Patient", patient("", "Doe", "x1"));
  auto r = call("PUT", "/fhir/Patient?family=Doe", patient("", "Doe", "x1"));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(body_of(r), {"id"}), id);
  EXPECT_EQ(version_count(), 2u);
}

// ---------------------------------------------------------------------------------------------
// delete

TEST_F(ApiTest, DeleteMakesReadsGoneAndKeepsTheHistory) {
  const std::string id = create("Patient", patient());
  auto d = call("DELETE", "/fhir/Patient/" + id);
  EXPECT_EQ(d.status, 204) << d.body;
  EXPECT_EQ(header(d, "ETag"), "W/\"2\"");
  auto r = call("GET", "/fhir/Patient/" + id);
  EXPECT_EQ(r.status, 410);
  EXPECT_EQ(str(body_of(r), {"resourceType"}), "OperationOutcome");
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id + "/_history/1").status, 200);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id + "/_history/2").status, 410);
  auto h = body_of(call("GET", "/fhir/Patient/" + id + "/_history"));
  ASSERT_EQ(h.at("entry").as_array().size(), 2u);
  EXPECT_EQ(str(h, {"entry", "0", "request", "method"}), "DELETE");
  EXPECT_EQ(str(h, {"entry", "0", "resource"}), "<missing>");
}

TEST_F(ApiTest, DeletingAgainOrDeletingTheUnknownWritesNoVersion) {
  const std::string id = create("Patient", patient());
  ASSERT_EQ(call("DELETE", "/fhir/Patient/" + id).status, 204);
  const auto before = version_count();
  EXPECT_EQ(call("DELETE", "/fhir/Patient/" + id).status, 204);
  EXPECT_EQ(call("DELETE", "/fhir/Patient/never-was").status, 204);
  EXPECT_EQ(version_count(), before);
}

TEST_F(ApiTest, DeleteWithAStaleIfMatchIs412AndKeepsTheResource) {
  const std::string id = create("Patient", patient());
  ASSERT_EQ(put("Patient", id, patient(id)).status, 200);
  auto d = call("DELETE", "/fhir/Patient/" + id, {}, {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(d.status, 412);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id).status, 200);
  EXPECT_EQ(call("DELETE", "/fhir/Patient/" + id, {}, {{"If-Match", "W/\"2\""}}).status, 204);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id).status, 410);
}

TEST_F(ApiTest, ConditionalDeleteRemovesTheSingleMatch) {
  const std::string id = create("Patient", patient("", "X", "del-1"));
  const std::string other = create("Patient", patient("", "Y", "del-2"));
  auto d = call("DELETE", "/fhir/Patient?identifier=del-1");
  EXPECT_EQ(d.status, 204) << d.body;
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id).status, 410);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + other).status, 200);
}

TEST_F(ApiTest, ConditionalDeleteWithoutAMatchSucceedsWithoutWriting) {
  create("Patient", patient("", "X", "a"));
  EXPECT_EQ(call("DELETE", "/fhir/Patient?identifier=zzz").status, 204);
  EXPECT_EQ(version_count(), 1u);
}

TEST_F(ApiTest, ConditionalDeleteMatchingSeveralIs412AndDeletesNothing) {
  const std::string a = create("Patient", patient("", "A", "many"));
  const std::string b = create("Patient", patient("", "B", "many"));
  EXPECT_EQ(call("DELETE", "/fhir/Patient?identifier=many").status, 412);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + a).status, 200);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + b).status, 200);
  EXPECT_EQ(version_count(), 2u);
}

TEST_F(ApiTest, ConditionalDeleteWithoutCriteriaIsRefused) {
  create("Patient", patient());
  EXPECT_EQ(call("DELETE", "/fhir/Patient").status, 400);
  EXPECT_EQ(version_count(), 1u);
}

// ---------------------------------------------------------------------------------------------
// patch

TEST_F(ApiTest, JsonPatchChangesTheResourceAndStoresANewVersion) {
  const std::string id = create("Patient", patient("", "Before"));
  auto r =
      call("PATCH", "/fhir/Patient/" + id,
           R"([{"op":"replace","path":"/name/0/family","value":"After"},{"op":"add","path":"/active","value":true}])");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(header(r, "ETag"), "W/\"2\"");
  const auto body = body_of(call("GET", "/fhir/Patient/" + id));
  EXPECT_EQ(str(body, {"name", "0", "family"}), "After");
  EXPECT_EQ(str(body, {"active"}), "true");
  EXPECT_EQ(str(body, {"meta", "versionId"}), "2");
}

TEST_F(ApiTest, PatchNeedsTheJsonPatchContentType) {
  const std::string id = create("Patient", patient());
  auto r = call("PATCH", "/fhir/Patient/" + id, R"([{"op":"add","path":"/active","value":true}])",
                {{"Content-Type", "application/fhir+json"}});
  EXPECT_EQ(r.status, 415);
  EXPECT_EQ(version_count(), 1u);
}

TEST_F(ApiTest, PatchWithAFailingTestIs422AndWritesNothing) {
  const std::string id = create("Patient", patient("", "Before"));
  auto r = call(
      "PATCH", "/fhir/Patient/" + id,
      R"([{"op":"replace","path":"/name/0/family","value":"After"},{"op":"test","path":"/gender","value":"male"}])");
  EXPECT_EQ(r.status, 422) << r.body;
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"Patch[1]"});
  EXPECT_EQ(version_count(), 1u);
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient/" + id)), {"name", "0", "family"}), "Before");
}

TEST_F(ApiTest, PatchThatChangesTheIdOrMakesAnInvalidResourceIs422) {
  const std::string id = create("Patient", patient());
  EXPECT_EQ(call("PATCH", "/fhir/Patient/" + id, R"([{"op":"replace","path":"/id","value":"other"}])").status, 422);
  EXPECT_EQ(call("PATCH", "/fhir/Patient/" + id, R"([{"op":"replace","path":"/resourceType","value":"Group"}])").status,
            422);
  auto invalid = call("PATCH", "/fhir/Patient/" + id, R"([{"op":"add","path":"/birthDate","value":"yesterday"}])");
  EXPECT_EQ(invalid.status, 422) << invalid.body;
  EXPECT_EQ(expressions(body_of(invalid)), std::vector<std::string>{"Patient.birthDate"});
  EXPECT_EQ(version_count(), 1u);
}

TEST_F(ApiTest, MalformedPatchDocumentsAre400) {
  const std::string id = create("Patient", patient());
  EXPECT_EQ(call("PATCH", "/fhir/Patient/" + id, R"([{"op":"add","path":"/active"}])").status, 400);
  EXPECT_EQ(call("PATCH", "/fhir/Patient/" + id, R"([{"op":"add",)").status, 400);
  EXPECT_EQ(call("PATCH", "/fhir/Patient/" + id, R"({"op":"add"})").status, 400);
  EXPECT_EQ(version_count(), 1u);
}

TEST_F(ApiTest, PatchOfUnknownIs404AndOfDeletedIs410) {
  EXPECT_EQ(call("PATCH", "/fhir/Patient/nobody", R"([])").status, 404);
  const std::string id = create("Patient", patient());
  ASSERT_EQ(call("DELETE", "/fhir/Patient/" + id).status, 204);
  EXPECT_EQ(call("PATCH", "/fhir/Patient/" + id, R"([])").status, 410);
  EXPECT_EQ(version_count(), 2u);
}

TEST_F(ApiTest, PatchWithAStaleIfMatchIs412) {
  const std::string id = create("Patient", patient());
  ASSERT_EQ(put("Patient", id, patient(id)).status, 200);
  auto r = call("PATCH", "/fhir/Patient/" + id, R"([{"op":"add","path":"/active","value":true}])",
                {{"If-Match", "W/\"1\""}});
  EXPECT_EQ(r.status, 412);
  EXPECT_EQ(version_count(), 2u);
}

TEST_F(ApiTest, ConditionalPatchPatchesTheSingleMatch) {
  const std::string id = create("Patient", patient("", "X", "cp"));
  auto r = call("PATCH", "/fhir/Patient?identifier=cp", R"([{"op":"add","path":"/active","value":false}])");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient/" + id)), {"active"}), "false");
  EXPECT_EQ(call("PATCH", "/fhir/Patient?identifier=none", R"([])").status, 404);
}

// ---------------------------------------------------------------------------------------------
// history

/// The versionIds of a history Bundle's entries, as "id/version" (version from the etag).
std::vector<std::string> history_keys(const json::object& bundle) {
  std::vector<std::string> out;
  for (const auto& e : bundle.at("entry").as_array()) {
    const std::string url = str(e, {"fullUrl"});
    out.push_back(url.substr(url.rfind('/') + 1) + "@" + str(e, {"response", "etag"}));
  }
  return out;
}

std::optional<std::string> link(const json::object& bundle, std::string_view relation) {
  for (const auto& l : bundle.at("link").as_array()) {
    if (l.at("relation").as_string() == relation) return std::string(l.at("url").as_string());
  }
  return std::nullopt;
}

TEST_F(ApiTest, InstanceHistoryListsEveryVersionNewestFirst) {
  const std::string id = create("Patient", patient("", "v1"));
  ASSERT_EQ(put("Patient", id, patient(id, "v2")).status, 200);
  ASSERT_EQ(call("PATCH", "/fhir/Patient/" + id, R"([{"op":"add","path":"/active","value":true}])").status, 200);
  create("Patient", patient("", "other"));
  auto r = call("GET", "/fhir/Patient/" + id + "/_history");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto h = body_of(r);
  EXPECT_EQ(str(h, {"resourceType"}), "Bundle");
  EXPECT_EQ(str(h, {"type"}), "history");
  const auto& entries = h.at("entry").as_array();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(str(entries[0], {"resource", "meta", "versionId"}), "3");
  EXPECT_EQ(str(entries[0], {"request", "method"}), "PATCH");
  EXPECT_EQ(str(entries[1], {"resource", "name", "0", "family"}), "v2");
  EXPECT_EQ(str(entries[1], {"request", "method"}), "PUT");
  EXPECT_EQ(str(entries[1], {"response", "etag"}), "W/\"2\"");
  EXPECT_EQ(str(entries[2], {"request", "method"}), "POST");
  EXPECT_EQ(str(entries[2], {"request", "url"}), "Patient");
  EXPECT_EQ(str(entries[2], {"response", "status"}).substr(0, 3), "201");
  EXPECT_EQ(str(entries[2], {"fullUrl"}), std::string(kBase) + "/Patient/" + id);
}

TEST_F(ApiTest, TypeHistoryHoldsOnlyThatTypeAndSystemHistoryHoldsAll) {
  const std::string p = create("Patient", patient());
  const std::string o = create("Observation", R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})");
  ASSERT_EQ(call("DELETE", "/fhir/Patient/" + p).status, 204);
  const auto type = body_of(call("GET", "/fhir/Patient/_history"));
  EXPECT_EQ(history_keys(type), (std::vector<std::string>{p + "@W/\"2\"", p + "@W/\"1\""}));
  const auto system = body_of(call("GET", "/fhir/_history"));
  EXPECT_EQ(history_keys(system), (std::vector<std::string>{p + "@W/\"2\"", o + "@W/\"1\"", p + "@W/\"1\""}));
}

TEST_F(ApiTest, HistoryPagesThroughNextLinksWithoutGapsOrDuplicates) {
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) ids.push_back(create("Patient", patient()));
  for (int i = 0; i < 4; ++i) ASSERT_EQ(put("Patient", ids[0], patient(ids[0], "v" + std::to_string(i))).status, 200);
  const auto all = history_keys(body_of(call("GET", "/fhir/_history")));
  ASSERT_EQ(all.size(), 11u);

  std::vector<std::string> paged;
  std::string next = "/fhir/_history?_count=3";
  int pages = 0;
  while (!next.empty()) {
    auto r = call("GET", next);
    ASSERT_EQ(r.status, 200) << next << " " << r.body;
    const auto page = body_of(r);
    const auto keys = history_keys(page);
    ASSERT_LE(keys.size(), 3u);
    paged.insert(paged.end(), keys.begin(), keys.end());
    const auto n = link(page, "next");
    next = n.value_or("");
    if (n) {
      EXPECT_NE(n->find("_count=3"), std::string::npos) << "next keeps the page size: " << *n;
    }
    ASSERT_LT(++pages, 20);
  }
  EXPECT_EQ(pages, 4);
  EXPECT_EQ(paged, all);
}

TEST_F(ApiTest, HistorySinceInTheFutureIsEmptyAndSinceAVersionIncludesIt) {
  const std::string id = create("Patient", patient());
  ASSERT_EQ(put("Patient", id, patient(id, "2")).status, 200);
  const auto v2 = body_of(call("GET", "/fhir/Patient/" + id));
  const std::string since = str(v2, {"meta", "lastUpdated"});
  auto r = call("GET", "/fhir/Patient/" + id + "/_history?_since=" + since);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto h = body_of(r);
  const auto& entries = h.at("entry").as_array();
  ASSERT_GE(entries.size(), 1u);
  EXPECT_EQ(str(entries[0], {"response", "etag"}), "W/\"2\"");
  for (const auto& e : entries) {
    EXPECT_GE(*core::parse_fhir_datetime(str(e, {"response", "lastModified"})), *core::parse_fhir_datetime(since));
  }
  auto future = body_of(call("GET", "/fhir/_history?_since=2999-01-01T00:00:00Z"));
  EXPECT_TRUE(future.at("entry").as_array().empty());
  auto past = body_of(call("GET", "/fhir/_history?_since=2000-01-01"));
  EXPECT_EQ(past.at("entry").as_array().size(), 2u);
}

TEST_F(ApiTest, HistoryAtGivesOneVersionPerResource) {
  const std::string a = create("Patient", patient());
  const std::string b = create("Patient", patient());
  ASSERT_EQ(put("Patient", a, patient(a, "2")).status, 200);
  ASSERT_EQ(put("Patient", a, patient(a, "3")).status, 200);
  auto now = body_of(call("GET", "/fhir/Patient/_history?_at=2999-01-01T00:00:00Z"));
  std::multiset<std::string> keys;
  for (const auto& k : history_keys(now)) keys.insert(k);
  EXPECT_EQ(keys, (std::multiset<std::string>{a + "@W/\"3\"", b + "@W/\"1\""}));
  auto before = body_of(call("GET", "/fhir/Patient/_history?_at=2000-01-01T00:00:00Z"));
  EXPECT_TRUE(before.at("entry").as_array().empty());
}

TEST_F(ApiTest, HistoryWithCountZeroHasNoEntriesAndNoNextLink) {
  create("Patient", patient());
  const auto h = body_of(call("GET", "/fhir/_history?_count=0"));
  EXPECT_TRUE(h.at("entry").as_array().empty());
  EXPECT_FALSE(link(h, "next")) << json::serialize(h);
}

TEST_F(ApiTest, HistoryRejectsBadParameters) {
  const std::string id = create("Patient", patient());
  auto since = call("GET", "/fhir/_history?_since=last-tuesday");
  EXPECT_EQ(since.status, 400);
  EXPECT_EQ(expressions(body_of(since)), std::vector<std::string>{"_since"});
  EXPECT_EQ(call("GET", "/fhir/_history?_count=many").status, 400);
  EXPECT_EQ(call("GET", "/fhir/_history?_cursor=x").status, 400);
  EXPECT_EQ(call("GET", "/fhir/Patient/nobody/_history").status, 404);
}

TEST_F(ApiTest, HistoryOfADeletedInstanceIsStillAvailable) {
  const std::string id = create("Patient", patient());
  ASSERT_EQ(call("DELETE", "/fhir/Patient/" + id).status, 204);
  auto r = call("GET", "/fhir/Patient/" + id + "/_history");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(body_of(r).at("entry").as_array().size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Prefer

TEST_F(ApiTest, PreferReturnMinimalSendsHeadersWithoutABody) {
  auto r = call("POST", "/fhir/Patient", patient(), {{"Prefer", "return=minimal"}});
  EXPECT_EQ(r.status, 201);
  EXPECT_TRUE(r.body.empty()) << r.body;
  ASSERT_TRUE(header(r, "Location"));
  EXPECT_EQ(header(r, "ETag"), "W/\"1\"");
  // The Location really names the stored version.
  auto loc = *header(r, "Location");
  EXPECT_EQ(call("GET", loc).status, 200) << loc;
}

TEST_F(ApiTest, PreferReturnOperationOutcomeSendsAnOutcome) {
  const std::string id = create("Patient", patient());
  auto r = put("Patient", id, patient(id), {{"Prefer", "return=OperationOutcome"}});
  EXPECT_EQ(r.status, 200);
  const auto body = body_of(r);
  EXPECT_EQ(str(body, {"resourceType"}), "OperationOutcome");
  EXPECT_EQ(str(body, {"issue", "0", "severity"}), "information");
  EXPECT_EQ(header(r, "ETag"), "W/\"2\"");
}

TEST_F(ApiTest, PreferReturnRepresentationSendsTheResource) {
  auto r = call("POST", "/fhir/Patient", patient(), {{"Prefer", "return=representation"}});
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(str(body_of(r), {"resourceType"}), "Patient");
}

TEST_F(ApiTest, PreferDoesNotAffectReads) {
  const std::string id = create("Patient", patient());
  auto r = call("GET", "/fhir/Patient/" + id, {}, {{"Prefer", "return=minimal"}});
  EXPECT_EQ(str(body_of(r), {"id"}), id);
}

// ---------------------------------------------------------------------------------------------
// Bad input: a specific 4xx OperationOutcome, and nothing written

struct BadInput {
  const char* name;
  const char* method;
  const char* target;
  std::string body;
  HeaderList headers;
  int status;
  std::vector<std::string> expressions;  ///< expected issue expressions, when the problem has a location
};

class ApiBadInput : public ApiTest, public ::testing::WithParamInterface<BadInput> {};

TEST_P(ApiBadInput, IsRefusedWithAnOutcomeAndWritesNothing) {
  const auto& c = GetParam();
  ASSERT_EQ(put("Patient", "existing", patient("existing")).status, 201);
  const auto before = version_count();
  auto r = call(c.method, c.target, c.body, c.headers);
  EXPECT_EQ(r.status, c.status) << r.body;
  const auto outcome = body_of(r);
  EXPECT_EQ(str(outcome, {"resourceType"}), "OperationOutcome") << r.body;
  EXPECT_EQ(str(outcome, {"issue", "0", "severity"}), "error") << r.body;
  if (!c.expressions.empty()) {
    EXPECT_EQ(expressions(outcome), c.expressions) << r.body;
  }
  EXPECT_EQ(version_count(), before);
  auto still = call("GET", "/fhir/Patient/existing");
  EXPECT_EQ(header(still, "ETag"), "W/\"1\"");
}

INSTANTIATE_TEST_SUITE_P(
    Requests, ApiBadInput,
    ::testing::Values(
        BadInput{"MalformedJson", "POST", "/fhir/Patient", R"({"resourceType":"Patient",,})", {}, 400, {}},
        BadInput{
            "TruncatedJson", "PUT", "/fhir/Patient/existing", R"({"resourceType":"Patient","id":"exi)", {}, 400, {}},
        BadInput{"EmptyBody", "POST", "/fhir/Patient", "", {{"Content-Type", "application/fhir+json"}}, 400, {}},
        BadInput{"InvalidUtf8",
                 "PUT",
                 "/fhir/Patient/existing",
                 "{\"resourceType\":\"Patient\",\"id\":\"existing\",\"name\":[{\"family\":\"\xC3\x28\"}]}",
                 {},
                 400,
                 {}},
        BadInput{"NotAnObject", "POST", "/fhir/Patient", R"(["resourceType","Patient"])", {}, 400, {}},
        BadInput{"NoResourceType", "POST", "/fhir/Patient", R"({"id":"x"})", {}, 400, {"resourceType"}},
        BadInput{"WrongResourceType",
                 "POST",
                 "/fhir/Patient",
                 R"({"resourceType":"Observation"})",
                 {},
                 400,
                 {"resourceType"}},
        BadInput{"WrongResourceTypeOnUpdate",
                 "PUT",
                 "/fhir/Patient/existing",
                 R"({"resourceType":"Practitioner","id":"existing"})",
                 {},
                 400,
                 {"resourceType"}},
        BadInput{"UnknownTypeInUrl", "POST", "/fhir/Dragon", R"({"resourceType":"Dragon"})", {}, 404, {}},
        BadInput{"UnknownTypeInUrlOnUpdate",
                 "PUT",
                 "/fhir/Dragon/existing",
                 R"({"resourceType":"Dragon","id":"existing"})",
                 {},
                 404,
                 {}},
        BadInput{"BodyIdDiffersFromUrl", "PUT", "/fhir/Patient/existing", patient("not-existing"), {}, 400, {"id"}},
        BadInput{"InvalidIdInUrl", "PUT", "/fhir/Patient/bad_id!", patient("bad_id!"), {}, 400, {}},
        BadInput{"BadIfMatch", "PUT", "/fhir/Patient/existing", patient("existing"), {{"If-Match", "v1"}}, 400, {}},
        BadInput{"BadIfMatchOnDelete", "DELETE", "/fhir/Patient/existing", "", {{"If-Match", "W/\"one\""}}, 400, {}},
        BadInput{"StaleIfMatchOnDelete", "DELETE", "/fhir/Patient/existing", "", {{"If-Match", "W/\"7\""}}, 412, {}},
        BadInput{"UnknownElement",
                 "POST",
                 "/fhir/Patient",
                 R"({"resourceType":"Patient","colour":"blue"})",
                 {},
                 400,
                 {"Patient.colour"}},
        BadInput{"WrongPrimitive",
                 "PUT",
                 "/fhir/Patient/existing",
                 R"({"resourceType":"Patient","id":"existing","active":"yes"})",
                 {},
                 400,
                 {"Patient.active"}},
        BadInput{
            "XmlContentType", "POST", "/fhir/Patient", patient(), {{"Content-Type", "application/fhir+xml"}}, 415, {}},
        BadInput{"XmlAccept", "POST", "/fhir/Patient", patient(), {{"Accept", "application/fhir+xml"}}, 406, {}},
        BadInput{"UnsupportedMethod", "POST", "/fhir/Patient/existing", patient("existing"), {}, 405, {}},
        BadInput{"NotABundleAtTheBase", "POST", "/fhir", patient(), {}, 400, {"resourceType"}},
        BadInput{"CollectionBundleAtTheBase",
                 "POST",
                 "/fhir",
                 R"({"resourceType":"Bundle","type":"collection","entry":[]})",
                 {},
                 400,
                 {"Bundle.type"}}),
    [](const ::testing::TestParamInfo<BadInput>& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------------------------
// capabilities and $validate

TEST_F(ApiTest, MetadataIsACapabilityStatementForR4Json) {
  auto r = call("GET", "/fhir/metadata");
  ASSERT_EQ(r.status, 200);
  const auto cs = body_of(r);
  EXPECT_EQ(str(cs, {"resourceType"}), "CapabilityStatement");
  EXPECT_EQ(str(cs, {"fhirVersion"}), "4.0.1");
  EXPECT_EQ(str(cs, {"kind"}), "instance");
  EXPECT_EQ(str(cs, {"rest", "0", "mode"}), "server");
  bool patient_found = false;
  for (const auto& res : cs.at("rest").as_array()[0].at("resource").as_array()) {
    if (res.at("type").as_string() != "Patient") continue;
    patient_found = true;
    std::set<std::string> interactions;
    for (const auto& i : res.at("interaction").as_array()) interactions.insert(std::string(i.at("code").as_string()));
    for (const char* needed :
         {"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create"}) {
      EXPECT_TRUE(interactions.count(needed)) << needed;
    }
  }
  EXPECT_TRUE(patient_found);
  // The CapabilityStatement is itself a valid resource.
  EXPECT_TRUE(detail::validate(json::value(cs))) << r.body;
  EXPECT_EQ(call("POST", "/fhir/metadata", "{}").status, 405);
}

TEST_F(ApiTest, ValidateReportsNoIssuesForAValidResourceAndWritesNothing) {
  auto r = call("POST", "/fhir/Patient/$validate", patient());
  ASSERT_EQ(r.status, 200) << r.body;
  const auto oo = body_of(r);
  EXPECT_EQ(str(oo, {"resourceType"}), "OperationOutcome");
  EXPECT_EQ(str(oo, {"issue", "0", "severity"}), "information");
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, ValidateReportsEachProblemWithItsLocation) {
  auto r = call("POST", "/fhir/Patient/$validate", R"({"resourceType":"Patient","gender":"sometimes","foo":1})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto ex = expressions(body_of(r));
  std::sort(ex.begin(), ex.end());
  EXPECT_EQ(ex, (std::vector<std::string>{"Patient.foo", "Patient.gender"}));
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, ValidateAcceptsParametersAndChecksTheType) {
  auto wrapped = call(
      "POST", "/fhir/Patient/$validate",
      R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","active":"no"}}]})");
  ASSERT_EQ(wrapped.status, 200) << wrapped.body;
  EXPECT_EQ(expressions(body_of(wrapped)), std::vector<std::string>{"Patient.active"});
  auto wrong = call("POST", "/fhir/Patient/$validate", R"({"resourceType":"Observation"})");
  EXPECT_EQ(expressions(body_of(wrong)), std::vector<std::string>{"resourceType"});
  auto id = call("POST", "/fhir/Patient/p1/$validate", patient("p2"));
  EXPECT_EQ(expressions(body_of(id)), std::vector<std::string>{"id"});
  EXPECT_EQ(call("POST", "/fhir/Patient/$validate", "{oops").status, 400);
}

// ---------------------------------------------------------------------------------------------
// search (the subset conditional interactions rely on)

TEST_F(ApiTest, SearchByIdentifierAndIdFindsCurrentResources) {
  const std::string a = create("Patient", patient("", "A", "s1"));
  const std::string b = create("Patient", patient("", "B", "s2"));
  ASSERT_EQ(call("DELETE", "/fhir/Patient/" + b).status, 204);
  auto r = body_of(call("GET", "/fhir/Patient?identifier=http://hospital.example/mrn|s1,s2"));
  EXPECT_EQ(str(r, {"type"}), "searchset");
  EXPECT_EQ(str(r, {"total"}), "1");
  EXPECT_EQ(str(r, {"entry", "0", "resource", "id"}), a);
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient?_id=" + a)), {"total"}), "1");
  EXPECT_EQ(call("GET", "/fhir/Patient?nickname=A").status, 400);
}

// ---------------------------------------------------------------------------------------------
// concurrency through the API

TEST_F(ApiTest, ConcurrentUpdatesWithIfMatchNeverLoseAnUpdate) {
  const std::string id = create("Patient", patient());
  constexpr int kThreads = 6;
  constexpr int kAttempts = 30;
  std::atomic<int> successes{0};
  std::atomic<int> unexpected{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAttempts; ++i) {
        auto cur = call("GET", "/fhir/Patient/" + id);
        const auto etag = header(cur, "ETag").value_or("");
        auto r = put("Patient", id, patient(id, "x"), {{"If-Match", etag}});
        if (r.status == 200) {
          successes.fetch_add(1);
        } else if (r.status != 412) {
          unexpected.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(unexpected.load(), 0);
  EXPECT_GE(successes.load(), 1);
  auto final = call("GET", "/fhir/Patient/" + id);
  EXPECT_EQ(header(final, "ETag"), "W/\"" + std::to_string(1 + successes.load()) + "\"");
}

}  // namespace
}  // namespace ucr::api::testing

namespace ucr::api::testing {
namespace {

TEST_F(ApiTest, DecimalsAreStoredAndReturnedInPlainNotation) {
  auto r = call("POST", "/fhir/Observation",
                R"({"resourceType":"Observation","status":"final","code":{"text":"weight"},)"
                R"("valueQuantity":{"value":72.4,"unit":"kg"},"referenceRange":[{"low":{"value":0.001}}]})");
  ASSERT_EQ(r.status, 201) << r.body;
  const auto read = call("GET", "/fhir/Observation/" + str(body_of(r), {"id"}));
  EXPECT_NE(read.body.find(R"("value":72.4)"), std::string::npos) << read.body;
  EXPECT_NE(read.body.find(R"("value":0.001)"), std::string::npos) << read.body;
  EXPECT_EQ(read.body.find("E1"), std::string::npos) << read.body;
}

}  // namespace
}  // namespace ucr::api::testing

namespace ucr::api::testing {
namespace {

// A weak filter matching most of a type (here a one-word family prefix shared by 2,100 Patients)
// is answered by walking the type in id order; the pages must be exactly those of the plain plan.
TEST_F(ApiTest, WeakFiltersPageExactlyWhenTheTypeIsWalkedInIdOrder) {
  json::array entries;
  std::set<std::string> males;
  for (int i = 0; i < 2100; ++i) {
    entries.push_back(json::object{
        {"fullUrl", fmt::format("urn:uuid:00000000-0000-4000-8000-{:012d}", i)},
        {"resource", json::object{{"resourceType", "Patient"},
                                  {"name", json::array{json::object{{"family", fmt::format("Fam{}", i % 7)}}}},
                                  {"gender", i % 2 == 0 ? "male" : "female"}}},
        {"request", json::object{{"method", "POST"}, {"url", "Patient"}}}});
  }
  auto r = call("POST", "/fhir",
                json::serialize(json::object{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", entries}}));
  ASSERT_EQ(r.status, 200);
  const auto b = body_of(r);
  for (std::size_t i = 0; i < 2100; i += 2) {
    const std::string loc(b.at("entry").as_array()[i].at("response").at("location").as_string());
    males.insert(loc.substr(8, loc.find('/', 8) - 8));
  }
  std::vector<std::string> seen;
  std::string next = "/fhir/Patient?family=Fam&gender=male&_count=100";
  for (int pages = 0; !next.empty() && pages < 50; ++pages) {
    auto page = body_of(call("GET", next));
    for (const auto& e : page.at("entry").as_array()) seen.emplace_back(e.at("resource").at("id").as_string());
    auto n = link(page, "next");
    next = n ? *n : std::string();
  }
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end())) << "id order";
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), males);
  EXPECT_EQ(seen.size(), males.size()) << "each once";
  auto total = body_of(call("GET", "/fhir/Patient?family=Fam&gender=male&_summary=count"));
  EXPECT_EQ(str(total, {"total"}), "1050");
}

}  // namespace
}  // namespace ucr::api::testing
