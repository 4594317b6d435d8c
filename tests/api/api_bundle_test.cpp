// batch and transaction Bundles posted to the FHIR base.
#include "api_fixture.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace ucr::api::testing {
namespace {

json::object entry(std::string method, std::string url, std::optional<std::string> resource = std::nullopt,
                   std::string full_url = {}) {
  json::object e;
  if (!full_url.empty()) e["fullUrl"] = full_url;
  if (resource) e["resource"] = json::parse(*resource);
  e["request"] = json::object{{"method", std::move(method)}, {"url", std::move(url)}};
  return e;
}

/// `e` with request.<key> set (ifMatch, ifNoneExist, ...).
json::object with(json::object e, std::string_view key, std::string value) {
  e["request"].as_object()[key] = std::move(value);
  return e;
}

std::string bundle(const char* type, std::initializer_list<json::object> entries) {
  json::array arr;
  for (const auto& e : entries) arr.push_back(e);
  return json::serialize(json::object{{"resourceType", "Bundle"}, {"type", type}, {"entry", std::move(arr)}});
}

std::string observation(const std::string& subject_ref) {
  return json::serialize(json::object{{"resourceType", "Observation"},
                                      {"status", "final"},
                                      {"code", json::object{{"text", "weight"}}},
                                      {"subject", json::object{{"reference", subject_ref}}}});
}

/// A copy of Bundle.entry (a copy, so it may bind to a temporary body).
json::array entries_of(const json::object& b) { return b.at("entry").as_array(); }

std::string status_code(const json::value& e) { return str(e, {"response", "status"}).substr(0, 3); }

/// "Patient/abc" from a transaction response location "Patient/abc/_history/1".
std::string ref_of_location(const std::string& location) {
  const auto h = location.find("/_history/");
  std::string ref = location.substr(0, h);
  const std::string base = std::string(kBase) + "/";
  if (ref.rfind(base, 0) == 0) ref = ref.substr(base.size());
  return ref;
}

// ---------------------------------------------------------------------------------------------
// transaction

TEST_F(ApiTest, TransactionCreatesResourcesAndRewritesUrnUuidReferences) {
  const std::string pat_urn = "urn:uuid:5f3f8a8e-1b0c-4b5e-9d57-2a6f0a1c0001";
  auto r = call("POST", "/fhir",
                bundle("transaction", {entry("POST", "Observation", observation(pat_urn)),
                                       entry("POST", "Patient", patient("", "Linked"), pat_urn)}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto resp = body_of(r);
  EXPECT_EQ(str(resp, {"resourceType"}), "Bundle");
  EXPECT_EQ(str(resp, {"type"}), "transaction-response");
  const auto& es = entries_of(resp);
  ASSERT_EQ(es.size(), 2u);
  for (const auto& e : es) {
    EXPECT_EQ(status_code(e), "201");
    EXPECT_EQ(str(e, {"response", "etag"}), "W/\"1\"");
    EXPECT_NE(str(e, {"response", "location"}).find("/_history/1"), std::string::npos);
    EXPECT_NE(str(e, {"response", "lastModified"}), "<missing>");
  }
  // Response entries are in request order.
  const std::string obs_ref = ref_of_location(str(es[0], {"response", "location"}));
  const std::string pat_ref = ref_of_location(str(es[1], {"response", "location"}));
  ASSERT_EQ(obs_ref.rfind("Observation/", 0), 0u) << obs_ref;
  ASSERT_EQ(pat_ref.rfind("Patient/", 0), 0u) << pat_ref;

  auto obs = call("GET", "/fhir/" + obs_ref);
  ASSERT_EQ(obs.status, 200) << obs.body;
  EXPECT_EQ(str(body_of(obs), {"subject", "reference"}), pat_ref);
  EXPECT_EQ(str(es[0], {"resource", "subject", "reference"}), pat_ref);
  EXPECT_EQ(call("GET", "/fhir/" + pat_ref).status, 200);
  EXPECT_EQ(version_count(), 2u);
}

// The store commits concurrent writes in groups and runs a group again when one of its writes
// fails; a transaction that resolves identities inside the store must come out the same.
TEST_F(ApiTest, ConcurrentConditionalTransactionsBesideFailingWritesKeepTheirReferences) {
  constexpr int kThreads = 6;
  constexpr int kEach = 40;
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string tag = std::to_string(t) + "-" + std::to_string(i);
        if (t % 2 == 1) {
          // A write that always fails inside the store (If-Match on a resource that does not exist).
          auto r = call("PUT", "/fhir/Patient/missing-" + tag, patient("missing-" + tag, "Nobody"),
                        HeaderList{{"if-match", "W/\"7\""}});
          if (r.status != 412) {
            ADD_FAILURE() << "put " << r.status << " " << r.body;
            wrong.fetch_add(1);
          }
          continue;
        }
        const std::string urn = "urn:uuid:5f3f8a8e-1b0c-4b5e-9d57-2a6f0a1c" + fmt::format("{:04}", t * 100 + i);
        auto r = call("POST", "/fhir",
                      bundle("transaction", {with(entry("POST", "Patient", patient("", "Group", "g" + tag), urn),
                                                  "ifNoneExist", "identifier=g" + tag),
                                             entry("POST", "Observation", observation(urn))}));
        if (r.status != 200) {
          ADD_FAILURE() << "transaction " << r.status << " " << r.body;
          wrong.fetch_add(1);
          continue;
        }
        const auto es = entries_of(body_of(r));
        const std::string pat = ref_of_location(str(es[0], {"response", "location"}));
        const std::string obs = ref_of_location(str(es[1], {"response", "location"}));
        auto o = call("GET", "/fhir/" + obs);
        if (o.status != 200 || str(body_of(o), {"subject", "reference"}) != pat) {
          ADD_FAILURE() << "observation " << o.status << " " << o.body << " expected subject " << pat;
          wrong.fetch_add(1);
        }
        if (call("GET", "/fhir/" + pat).status != 200) {
          ADD_FAILURE() << "patient " << pat << " is not readable";
          wrong.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST_F(ApiTest, TransactionResolvesConditionalReferences) {
  const std::string id = create("Patient", patient("", "Known", "ref-1"));
  auto r =
      call("POST", "/fhir",
           bundle("transaction",
                  {entry("POST", "Observation", observation("Patient?identifier=http://hospital.example/mrn|ref-1"))}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto loc = str(entries_of(body_of(r))[0], {"response", "location"});
  EXPECT_EQ(str(body_of(call("GET", "/fhir/" + ref_of_location(loc))), {"subject", "reference"}), "Patient/" + id);
}

TEST_F(ApiTest, TransactionWithAConditionalReferenceMatchingNothingFailsAndWritesNothing) {
  create("Patient", patient());
  const auto before = version_count();
  auto r = call("POST", "/fhir",
                bundle("transaction", {entry("POST", "Patient", patient("", "New")),
                                       entry("POST", "Observation", observation("Patient?identifier=nobody"))}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(str(body_of(r), {"resourceType"}), "OperationOutcome");
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"Bundle.entry[1]"});
  EXPECT_EQ(version_count(), before);
}

TEST_F(ApiTest, TransactionRollsBackEverythingWhenOneEntryFails) {
  const std::string id = create("Patient", patient("", "Original"));
  const auto before = version_count();
  auto r = call("POST", "/fhir",
                bundle("transaction", {entry("POST", "Patient", patient("", "Created")),
                                       entry("PUT", "Patient/" + id, patient(id, "Updated")),
                                       with(entry("PUT", "Patient/other", patient("other")), "ifMatch", "W/\"3\"")}));
  EXPECT_EQ(r.status, 412) << r.body;
  const auto oo = body_of(r);
  EXPECT_EQ(str(oo, {"resourceType"}), "OperationOutcome");
  EXPECT_EQ(expressions(oo), std::vector<std::string>{"Bundle.entry[2]"});
  EXPECT_EQ(version_count(), before);
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient/" + id)), {"name", "0", "family"}), "Original");
}

TEST_F(ApiTest, TransactionWithAnInvalidResourceFailsAtThatEntryAndWritesNothing) {
  auto r = call("POST", "/fhir",
                bundle("transaction", {entry("POST", "Patient", patient()),
                                       entry("POST", "Patient", R"({"resourceType":"Patient","birthDate":"soon"})")}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"Bundle.entry[1].resource.birthDate"});
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, TransactionWithAMismatchedEntryTypeFailsAndWritesNothing) {
  auto r = call(
      "POST", "/fhir",
      bundle("transaction", {entry("POST", "Patient", patient()), entry("POST", "Patient", observation("Patient/x"))}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"Bundle.entry[1].resource.resourceType"});
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, TransactionTouchingOneResourceTwiceIsRefused) {
  auto r =
      call("POST", "/fhir",
           bundle("transaction", {entry("PUT", "Patient/twice", patient("twice")), entry("DELETE", "Patient/twice")}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"Bundle.entry[1]"});
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, TransactionWhoseConditionalTargetsOverlapIsRefusedAndWritesNothing) {
  const std::string id = create("Patient", patient("", "Target", "overlap"));
  const auto before = version_count();
  auto r = call("POST", "/fhir",
                bundle("transaction", {entry("DELETE", "Patient?identifier=overlap"),
                                       entry("PUT", "Patient/" + id, patient(id, "Revived"))}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"Bundle.entry[1]"});
  EXPECT_EQ(version_count(), before);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id).status, 200);
}

TEST_F(ApiTest, TransactionEntryWithABadIfMatchIsRefusedAndWritesNothing) {
  const std::string id = create("Patient", patient());
  auto r = call("POST", "/fhir",
                bundle("transaction", {entry("POST", "Patient", patient()),
                                       with(entry("PUT", "Patient/" + id, patient(id, "X")), "ifMatch", "nonsense")}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"Bundle.entry[1]"});
  EXPECT_EQ(version_count(), 1u);
}

TEST_F(ApiTest, TransactionPutWhoseBodyIdDiffersFromTheUrlIsRefused) {
  auto r = call("POST", "/fhir", bundle("transaction", {entry("PUT", "Patient/a", patient("b"))}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"Bundle.entry[0].resource.id"});
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, TransactionWithAnUnknownTypeInAnEntryUrlIsRefused) {
  auto r =
      call("POST", "/fhir", bundle("transaction", {entry("POST", "Patient", patient()), entry("DELETE", "Griffin/1")}));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"Bundle.entry[1].request.url"});
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, TransactionProcessesGetsAfterWritesWhateverTheOrder) {
  const std::string id = create("Patient", patient("", "Before"));
  auto r =
      call("POST", "/fhir",
           bundle("transaction", {entry("GET", "Patient/" + id), entry("PUT", "Patient/" + id, patient(id, "After"))}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& es = entries_of(body_of(r));
  ASSERT_EQ(es.size(), 2u);
  EXPECT_EQ(status_code(es[0]), "200");
  EXPECT_EQ(str(es[0], {"resource", "name", "0", "family"}), "After");
  EXPECT_EQ(str(es[0], {"response", "etag"}), "W/\"2\"");
  EXPECT_EQ(status_code(es[1]), "200");
  EXPECT_EQ(str(es[1], {"response", "etag"}), "W/\"2\"");
}

TEST_F(ApiTest, TransactionProcessesDeletesBeforeConditionalCreates) {
  const std::string old = create("Patient", patient("", "Old", "swap"));
  auto post = with(entry("POST", "Patient", patient("", "New", "swap")), "ifNoneExist",
                   "identifier=http://hospital.example/mrn|swap");
  auto r = call("POST", "/fhir",
                bundle("transaction", {post, entry("DELETE", "Patient?identifier=http://hospital.example/mrn|swap")}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& es = entries_of(body_of(r));
  ASSERT_EQ(es.size(), 2u);
  // The DELETE ran first, so the conditional create found nothing and created a new Patient.
  EXPECT_EQ(status_code(es[0]), "201") << r.body;
  EXPECT_EQ(status_code(es[1]), "204") << r.body;
  EXPECT_EQ(call("GET", "/fhir/Patient/" + old).status, 410);
  const std::string created = ref_of_location(str(es[0], {"response", "location"}));
  EXPECT_NE(created, "Patient/" + old);
  auto now = call("GET", "/fhir/" + created);
  ASSERT_EQ(now.status, 200) << created;
  EXPECT_EQ(str(body_of(now), {"name", "0", "family"}), "New");
}

TEST_F(ApiTest, TransactionConditionalCreateWithAMatchReturnsTheExistingResource) {
  const std::string id = create("Patient", patient("", "Existing", "cc"));
  auto post =
      with(entry("POST", "Patient", patient("", "Ignored", "cc"), "urn:uuid:0e0b47a1-93a6-4a0f-8f52-6a4cd1b9f001"),
           "ifNoneExist", "identifier=cc");
  auto r =
      call("POST", "/fhir",
           bundle("transaction",
                  {post, entry("POST", "Observation", observation("urn:uuid:0e0b47a1-93a6-4a0f-8f52-6a4cd1b9f001"))}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& es = entries_of(body_of(r));
  EXPECT_EQ(status_code(es[0]), "200");
  EXPECT_EQ(str(es[0], {"resource", "id"}), id);
  EXPECT_EQ(str(es[1], {"resource", "subject", "reference"}), "Patient/" + id);
  EXPECT_EQ(version_count(), 2u);
}

TEST_F(ApiTest, TransactionSupportsConditionalUpdateDeleteAndPatchEntries) {
  const std::string upd = create("Patient", patient("", "U", "t-upd"));
  const std::string del = create("Patient", patient("", "D", "t-del"));
  const std::string pat = create("Patient", patient("", "P", "t-pat"));
  json::object patch_entry{
      {"resource", json::object{{"resourceType", "Binary"},
                                {"contentType", "application/json-patch+json"},
                                // [{"op":"add","path":"/active","value":true}]
                                {"data", "W3sib3AiOiJhZGQiLCJwYXRoIjoiL2FjdGl2ZSIsInZhbHVlIjp0cnVlfV0="}}},
      {"request", json::object{{"method", "PATCH"}, {"url", "Patient?identifier=t-pat"}}}};
  auto r = call("POST", "/fhir",
                bundle("transaction", {entry("PUT", "Patient?identifier=t-upd", patient("", "U2", "t-upd")),
                                       entry("DELETE", "Patient?identifier=t-del"), patch_entry}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& es = entries_of(body_of(r));
  EXPECT_EQ(status_code(es[0]), "200");
  EXPECT_EQ(status_code(es[1]), "204");
  EXPECT_EQ(status_code(es[2]), "200");
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient/" + upd)), {"name", "0", "family"}), "U2");
  EXPECT_EQ(call("GET", "/fhir/Patient/" + del).status, 410);
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient/" + pat)), {"active"}), "true");
}

TEST_F(ApiTest, TransactionUpdateAsCreateAndPreferMinimal) {
  auto r = call("POST", "/fhir", bundle("transaction", {entry("PUT", "Patient/tx-new", patient("tx-new"))}),
                {{"Prefer", "return=minimal"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& es = entries_of(body_of(r));
  EXPECT_EQ(status_code(es[0]), "201");
  EXPECT_EQ(str(es[0], {"resource"}), "<missing>");
  EXPECT_EQ(ref_of_location(str(es[0], {"response", "location"})), "Patient/tx-new");
}

TEST_F(ApiTest, TransactionWithMalformedJsonIs400) {
  auto r = call("POST", "/fhir", R"({"resourceType":"Bundle","type":"transaction","entry":[{)");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(str(body_of(r), {"resourceType"}), "OperationOutcome");
  EXPECT_EQ(version_count(), 0u);
}

TEST_F(ApiTest, AnEmptyTransactionSucceedsWithAnEmptyResponse) {
  auto r = call("POST", "/fhir", bundle("transaction", {}));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(entries_of(body_of(r)).empty());
}

// ---------------------------------------------------------------------------------------------
// batch

TEST_F(ApiTest, BatchReportsEachEntryIndependently) {
  const std::string id = create("Patient", patient("", "Before"));
  auto r = call("POST", "/fhir",
                bundle("batch", {entry("POST", "Patient", patient("", "Good")),
                                 entry("POST", "Patient", R"({"resourceType":"Patient","colour":"red"})"),
                                 entry("PUT", "Patient/" + id, patient(id, "After")),
                                 entry("GET", "Patient/does-not-exist"), entry("DELETE", "Patient/" + id)}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto b = body_of(r);
  EXPECT_EQ(str(b, {"type"}), "batch-response");
  const auto& es = entries_of(b);
  ASSERT_EQ(es.size(), 5u);
  EXPECT_EQ(status_code(es[0]), "201");
  EXPECT_EQ(str(es[0], {"response", "etag"}), "W/\"1\"");
  EXPECT_NE(str(es[0], {"response", "location"}), "<missing>");
  EXPECT_EQ(status_code(es[1]), "400");
  EXPECT_EQ(str(es[1], {"response", "outcome", "resourceType"}), "OperationOutcome");
  EXPECT_EQ(str(es[1], {"response", "outcome", "issue", "0", "expression", "0"}), "Bundle.entry[1].resource.colour");
  EXPECT_EQ(status_code(es[2]), "200");
  EXPECT_EQ(status_code(es[3]), "404");
  EXPECT_EQ(status_code(es[4]), "204");
  // The good entries were kept even though one failed.
  const std::string created = ref_of_location(str(es[0], {"response", "location"}));
  EXPECT_EQ(call("GET", "/fhir/" + created).status, 200);
  EXPECT_EQ(call("GET", "/fhir/Patient/" + id).status, 410);
  EXPECT_EQ(version_count(), 4u);  // create, batch POST, PUT, DELETE
}

TEST_F(ApiTest, BatchEntryWithoutARequestIsReportedNotFatal) {
  json::object no_request{{"resource", json::parse(patient())}};
  auto r = call("POST", "/fhir", bundle("batch", {no_request, entry("POST", "Patient", patient())}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto& es = entries_of(body_of(r));
  EXPECT_EQ(status_code(es[0]), "400");
  EXPECT_EQ(str(es[0], {"response", "outcome", "issue", "0", "expression", "0"}), "Bundle.entry[0].request");
  EXPECT_EQ(status_code(es[1]), "201");
  EXPECT_EQ(version_count(), 1u);
}

TEST_F(ApiTest, BatchGetEntriesCarryTheResource) {
  const std::string id = create("Patient", patient("", "Read me"));
  auto r = call("POST", "/fhir", bundle("batch", {entry("GET", "Patient/" + id)}));
  ASSERT_EQ(r.status, 200);
  const auto& es = entries_of(body_of(r));
  EXPECT_EQ(status_code(es[0]), "200");
  EXPECT_EQ(str(es[0], {"resource", "name", "0", "family"}), "Read me");
  EXPECT_EQ(str(es[0], {"response", "etag"}), "W/\"1\"");
}

}  // namespace
}  // namespace ucr::api::testing
