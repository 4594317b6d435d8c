// Bulk Data export (HL7 FHIR Bulk Data Access IG v2, export.html): the asynchronous request
// pattern, the parameters, consistency at the transaction time, restarts, and who may export.
#include "api/bulk_export.hpp"
#include "api_fixture.hpp"
#include "audit/audit.hpp"
#include "auth/crypto.hpp"
#include "auth/provider.hpp"
#include "core/time.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace ucr::api::testing {
namespace {

const HeaderList kAsync{{"Prefer", "respond-async"}, {"Accept", "application/fhir+json"}};

/// The lines of an NDJSON body, each parsed.
std::vector<json::object> ndjson(const std::string& body) {
  std::vector<json::object> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    boost::system::error_code ec;
    auto v = json::parse(line, ec);
    EXPECT_FALSE(ec) << line;
    if (!ec && v.is_object()) out.push_back(std::move(v.get_object()));
  }
  return out;
}

class BulkExportTest : public ApiTest {
 protected:
  [[nodiscard]] ApiOptions api_options() const override {
    ApiOptions o = ApiTest::api_options();
    o.export_directory = (dir_ / "exports").string();
    return o;
  }

  std::string observation(const std::string& patient_id, const std::string& category) {
    return json::serialize(json::object{
        {"resourceType", "Observation"},
        {"status", "final"},
        {"category", json::array{json::object{
                         {"coding", json::array{json::object{
                                        {"system", "http://terminology.hl7.org/CodeSystem/observation-category"},
                                        {"code", category}}}}}}},
        {"code",
         json::object{{"coding", json::array{json::object{{"system", "http://loinc.org"}, {"code", "8867-4"}}}}}},
        {"subject", json::object{{"reference", "Patient/" + patient_id}}}});
  }

  /// Kicks off, waits for the job, and returns the manifest (fails the test otherwise).
  json::object export_and_wait(const std::string& target, const HeaderList& headers = kAsync) {
    auto kick = call("GET", target, {}, headers);
    EXPECT_EQ(kick.status, 202) << kick.body;
    const auto where = header(kick, "Content-Location");
    EXPECT_TRUE(where);
    if (!where) return {};
    status_url_ = *where;
    api_->wait_for_exports();
    auto done = call("GET", *where, {}, headers);
    EXPECT_EQ(done.status, 200) << done.body;
    return body_of(done);
  }

  /// Every resource of a manifest's files, by type.
  std::map<std::string, std::vector<json::object>> download(const json::object& manifest,
                                                            const HeaderList& headers = {}) {
    std::map<std::string, std::vector<json::object>> out;
    for (const auto& o : manifest.at("output").as_array()) {
      auto r = call("GET", str(o, {"url"}), {}, headers);
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.content_type, "application/fhir+ndjson");
      auto lines = ndjson(r.body);
      EXPECT_EQ(std::to_string(lines.size()), str(o, {"count"}));
      for (auto& l : lines) out[str(o, {"type"})].push_back(std::move(l));
    }
    return out;
  }

  std::string status_url_;
};

TEST_F(BulkExportTest, SystemExportFollowsTheAsyncPattern) {
  const std::string a = put("Patient", "pa", patient("pa", "Alpha")).status == 201 ? "pa" : "";
  const std::string b = create("Patient", patient({}, "Bravo"));
  create("Observation", observation(a, "vital-signs"));
  create("Organization", R"({"resourceType":"Organization","name":"Kent Surgery"})");
  const core::Micros before = core::now_micros();
  const auto manifest = export_and_wait("/fhir/$export?_type=Patient,Observation,Organization");
  EXPECT_EQ(str(manifest, {"request"}), std::string(kBase) + "/$export?_type=Patient,Observation,Organization");
  EXPECT_EQ(str(manifest, {"requiresAccessToken"}), "false");
  EXPECT_TRUE(manifest.at("error").as_array().empty());
  const auto tt = core::parse_fhir_datetime(str(manifest, {"transactionTime"}));
  ASSERT_TRUE(tt);
  EXPECT_GE(*tt / 1000, before / 1000);
  auto files = download(manifest);
  ASSERT_EQ(files["Patient"].size(), 2U);
  EXPECT_EQ(files["Observation"].size(), 1U);
  EXPECT_EQ(files["Organization"].size(), 1U);
  std::set<std::string> ids;
  for (const auto& p : files["Patient"]) ids.insert(str(p, {"id"}));
  EXPECT_EQ(ids, (std::set<std::string>{a, b}));
  // The files are the stored resources, byte for byte.
  auto read = call("GET", "/fhir/Patient/" + a);
  const auto& exported = files["Patient"][str(files["Patient"][0], {"id"}) == a ? 0 : 1];
  EXPECT_EQ(json::serialize(exported), json::serialize(body_of(read)));
}

TEST_F(BulkExportTest, StatusWhileRunningSaysSoAndDoneGivesTheManifest) {
  for (int i = 0; i < 50; ++i) create("Patient", patient({}, "P" + std::to_string(i)));
  auto kick = call("GET", "/fhir/$export", {}, kAsync);
  ASSERT_EQ(kick.status, 202) << kick.body;
  const auto url = header(kick, "Content-Location");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->rfind(std::string(kBase) + "/$export-status/", 0), 0U);
  auto poll = call("GET", *url, {}, kAsync);
  // Whichever state the job is in, the answer is the one the IG gives for it.
  if (poll.status == 202) {
    EXPECT_TRUE(header(poll, "Retry-After"));
    EXPECT_TRUE(header(poll, "X-Progress"));
  } else {
    EXPECT_EQ(poll.status, 200) << poll.body;
  }
  api_->wait_for_exports();
  auto done = call("GET", *url, {}, kAsync);
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_TRUE(header(done, "Expires"));
  const auto m = body_of(done);
  ASSERT_EQ(m.at("output").as_array().size(), 1U);
  EXPECT_EQ(str(m, {"output", "0", "type"}), "Patient");
  EXPECT_EQ(str(m, {"output", "0", "count"}), "50");
}

TEST_F(BulkExportTest, KickOffWithoutPreferRespondAsyncIsRefused) {
  auto r = call("GET", "/fhir/$export");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"Prefer"});
  EXPECT_FALSE(std::filesystem::exists(dir_ / "exports") && !std::filesystem::is_empty(dir_ / "exports"));
}

TEST_F(BulkExportTest, BadParametersAreRefusedNamingThem) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"/fhir/$export?_type=Patient,Nonsense", "_type"},
      {"/fhir/$export?_type=", "_type"},
      {"/fhir/$export?_since=yesterday", "_since"},
      {"/fhir/$export?_since=2024-01-01", "_since"},
      {"/fhir/$export?_outputFormat=text/csv", "_outputFormat"},
      {"/fhir/$export?_typeFilter=status=final", "_typeFilter"},
      {"/fhir/$export?_typeFilter=Observation%3Fnonsense%3D1", "_typeFilter"},
      {"/fhir/$export?_type=Patient&_typeFilter=Observation%3Fstatus%3Dfinal", "_typeFilter"},
      {"/fhir/$export?includeAssociatedData=LatestProvenanceResources", "includeAssociatedData"},
      {"/fhir/Patient/$export?_type=Organization", "_type"},
  };
  for (const auto& [target, where] : cases) {
    auto r = call("GET", target, {}, kAsync);
    EXPECT_EQ(r.status, 400) << target << " " << r.body;
    EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{where}) << target;
  }
  // The audit trail is never exported; an export at another level than system, Patient or Group is unknown.
  EXPECT_EQ(call("GET", "/fhir/$export?_type=AuditEvent", {}, kAsync).status, 403);
  EXPECT_EQ(call("GET", "/fhir/Observation/$export", {}, kAsync).status, 404);
  EXPECT_EQ(call("GET", "/fhir/Group/nobody/$export", {}, kAsync).status, 404);
  EXPECT_EQ(call("POST", "/fhir/$export", "{}", kAsync).status, 405);
}

TEST_F(BulkExportTest, UnknownJobsAndFilesAre404) {
  EXPECT_EQ(call("GET", "/fhir/$export-status/no-such-job").status, 404);
  EXPECT_EQ(call("DELETE", "/fhir/$export-status/no-such-job").status, 404);
  EXPECT_EQ(call("GET", "/fhir/$export-file/no-such-job/Patient-1.ndjson").status, 404);
  create("Patient", patient({}, "Alpha"));
  const auto m = export_and_wait("/fhir/$export?_type=Patient");
  const std::string job = status_url_.substr(status_url_.rfind('/') + 1);
  EXPECT_EQ(call("GET", "/fhir/$export-file/" + job + "/Observation-1.ndjson").status, 404);
  EXPECT_EQ(call("GET", "/fhir/$export-file/" + job + "/..%2F..%2Fucr.db").status, 404);
}

TEST_F(BulkExportTest, DeleteCancelsAndRemovesTheFiles) {
  create("Patient", patient({}, "Alpha"));
  const auto m = export_and_wait("/fhir/$export?_type=Patient");
  const std::string job = status_url_.substr(status_url_.rfind('/') + 1);
  ASSERT_TRUE(std::filesystem::exists(dir_ / "exports" / job / "Patient-1.ndjson"));
  auto del = call("DELETE", status_url_);
  EXPECT_EQ(del.status, 202) << del.body;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "exports" / job));
  EXPECT_EQ(call("GET", status_url_).status, 404);
  EXPECT_EQ(call("GET", str(m, {"output", "0", "url"})).status, 404);
  EXPECT_EQ(call("DELETE", status_url_).status, 404);
  // A job cancelled while queued or running leaves nothing behind either.
  auto kick = call("GET", "/fhir/$export", {}, kAsync);
  ASSERT_EQ(kick.status, 202);
  const auto url = *header(kick, "Content-Location");
  EXPECT_EQ(call("DELETE", url).status, 202);
  api_->wait_for_exports();
  EXPECT_EQ(call("GET", url).status, 404);
  const std::string job2 = url.substr(url.rfind('/') + 1);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "exports" / job2));
}

TEST_F(BulkExportTest, ExportHoldsTheVersionsCurrentAtTheTransactionTime) {
  ASSERT_EQ(put("Patient", "p1", patient("p1", "Before")).status, 201);
  ASSERT_EQ(put("Patient", "p2", patient("p2", "Deleted-later")).status, 201);
  const core::Micros t = core::now_micros();
  while (core::now_micros() == t) {
  }
  ASSERT_EQ(put("Patient", "p1", patient("p1", "After")).status, 200);
  ASSERT_EQ(call("DELETE", "/fhir/Patient/p2").status, 204);
  ASSERT_EQ(put("Patient", "p3", patient("p3", "Created-later")).status, 201);
  ExportSpec spec;
  spec.types = {"Patient"};
  ExportRun run;
  run.transaction_time = t;
  run.directory = dir_ / "snapshot";
  auto files = write_export(*store_, spec, run);
  ASSERT_TRUE(files) << files.error().message();
  ASSERT_EQ(files->size(), 1U);
  std::ifstream in(dir_ / "snapshot" / (*files)[0].name);
  std::stringstream ss;
  ss << in.rdbuf();
  std::map<std::string, std::string> family;
  for (const auto& p : ndjson(ss.str())) family[str(p, {"id"})] = str(p, {"name", "0", "family"});
  EXPECT_EQ(family, (std::map<std::string, std::string>{{"p1", "Before"}, {"p2", "Deleted-later"}}));
}

TEST_F(BulkExportTest, SinceTypeAndTypeFilterNarrowTheExport) {
  const std::string a = create("Patient", patient({}, "Alpha"));
  create("Observation", observation(a, "vital-signs"));
  // _since is an instant in milliseconds: start the later writes in a later millisecond.
  core::Micros t = core::now_micros();
  while (core::now_micros() / 1000 <= t / 1000) {
  }
  t = core::now_micros();
  const std::string lab = create("Observation", observation(a, "laboratory"));
  const std::string vital = create("Observation", observation(a, "vital-signs"));
  auto since = download(export_and_wait("/fhir/$export?_type=Observation&_since=" + core::format_instant(t)));
  EXPECT_EQ(since["Observation"].size(), 2U);
  EXPECT_EQ(since.count("Patient"), 0U);
  auto filtered = download(export_and_wait(
      "/fhir/$export?_type=Observation,Patient&_typeFilter=Observation%3Fcategory%3Dlaboratory,Observation%3Fcategory%"
      "3Dexam"));
  ASSERT_EQ(filtered["Observation"].size(), 1U);
  EXPECT_EQ(str(filtered["Observation"][0], {"id"}), lab);
  EXPECT_EQ(filtered["Patient"].size(), 1U);
  (void)vital;
}

TEST_F(BulkExportTest, PatientAndGroupLevelsExportCompartments) {
  const std::string a = create("Patient", patient({}, "Alpha"));
  const std::string b = create("Patient", patient({}, "Bravo"));
  create("Observation", observation(a, "vital-signs"));
  create("Observation", observation(b, "vital-signs"));
  create("Organization", R"({"resourceType":"Organization","name":"Kent Surgery"})");
  auto all = download(export_and_wait("/fhir/Patient/$export"));
  EXPECT_EQ(all["Patient"].size(), 2U);
  EXPECT_EQ(all["Observation"].size(), 2U);
  EXPECT_EQ(all.count("Organization"), 0U);
  const std::string group = create(
      "Group", json::serialize(json::object{
                   {"resourceType", "Group"},
                   {"type", "person"},
                   {"actual", true},
                   {"member", json::array{json::object{{"entity", json::object{{"reference", "Patient/" + a}}}}}}}));
  auto members = download(export_and_wait("/fhir/Group/" + group + "/$export?_outputFormat=application/fhir%2Bndjson"));
  ASSERT_EQ(members["Patient"].size(), 1U);
  EXPECT_EQ(str(members["Patient"][0], {"id"}), a);
  ASSERT_EQ(members["Observation"].size(), 1U);
  EXPECT_EQ(str(members["Observation"][0], {"subject", "reference"}), "Patient/" + a);
}

TEST_F(BulkExportTest, AFinishedExportSurvivesARestartAndAnInterruptedOneRunsAgain) {
  create("Patient", patient({}, "Alpha"));
  const auto m = export_and_wait("/fhir/$export?_type=Patient");
  const std::string job = status_url_.substr(status_url_.rfind('/') + 1);
  api_.reset();
  api_ = std::make_unique<Api>(*store_, api_options());
  auto again = call("GET", status_url_);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(body_of(again), m);
  EXPECT_EQ(ndjson(call("GET", str(m, {"output", "0", "url"})).body).size(), 1U);
  // As if the server had stopped while the job ran: its record says running, its files are partial.
  auto kept = store_->get_meta("export:job:" + job);
  ASSERT_TRUE(kept && kept->has_value());
  std::string state = **kept;
  state.replace(state.find(R"("status":"done")"), 15, R"("status":"running")");
  ASSERT_TRUE(store_->write([&](store::Transaction& t) { return t.set_meta("export:job:" + job, state); }));
  api_.reset();
  std::ofstream(dir_ / "exports" / job / "Patient-1.ndjson", std::ios::trunc) << "{partial";
  api_ = std::make_unique<Api>(*store_, api_options());
  api_->wait_for_exports();
  auto rerun = call("GET", status_url_);
  ASSERT_EQ(rerun.status, 200) << rerun.body;
  const auto m2 = body_of(rerun);
  EXPECT_EQ(str(m2, {"transactionTime"}), str(m, {"transactionTime"}));
  EXPECT_EQ(ndjson(call("GET", str(m2, {"output", "0", "url"})).body).size(), 1U);
}

TEST_F(BulkExportTest, FinishedExportsAreRemovedAfterTheRetentionTime) {
  api_.reset();
  ApiOptions o = api_options();
  o.export_retention_seconds = 0;
  api_ = std::make_unique<Api>(*store_, o);
  create("Patient", patient({}, "Alpha"));
  auto kick = call("GET", "/fhir/$export?_type=Patient", {}, kAsync);
  ASSERT_EQ(kick.status, 202);
  const std::string url = *header(kick, "Content-Location");
  const std::string job = url.substr(url.rfind('/') + 1);
  api_->wait_for_exports();
  EXPECT_EQ(call("GET", url).status, 404);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "exports" / job));
  EXPECT_FALSE(store_->get_meta("export:job:" + job)->has_value());
}

TEST_F(BulkExportTest, KickOffsBeyondTheLimitAreThrottled) {
  api_.reset();
  ApiOptions o = api_options();
  o.max_export_jobs = 0;  // no slot free, as when the allowed number of jobs are queued or running
  api_ = std::make_unique<Api>(*store_, o);
  auto r = call("GET", "/fhir/$export", {}, kAsync);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(header(r, "Retry-After"), "60");
  EXPECT_EQ(str(body_of(r), {"issue", "0", "code"}), "throttled");
}

TEST_F(BulkExportTest, TheCapabilityStatementOffersExportOnlyWhenItIsOn) {
  const auto on = call("GET", "/fhir/metadata").body;
  EXPECT_NE(on.find("bulkdata/OperationDefinition/export"), std::string::npos);
  EXPECT_NE(on.find("bulkdata/OperationDefinition/group-export"), std::string::npos);
  api_.reset();
  api_ = std::make_unique<Api>(*store_, ApiTest::api_options());
  EXPECT_EQ(call("GET", "/fhir/metadata").body.find("bulkdata"), std::string::npos);
  EXPECT_EQ(call("GET", "/fhir/$export", {}, kAsync).status, 404);
}

// Who may export (docs/security.md#bulk-export).
class BulkExportSecurityTest : public BulkExportTest {
 protected:
  void SetUp() override {
    BulkExportTest::SetUp();
    open_ = std::make_unique<Api>(*store_, ApiTest::api_options());
    org_ = str(body_of(open_->handle(make_request("POST", "/fhir/Organization",
                                                  R"({"resourceType":"Organization","name":"Kent Surgery"})"))),
               {"id"});
    patient_ = str(body_of(open_->handle(make_request("POST", "/fhir/Patient", patient({}, "Alpha")))), {"id"});
    auth::ProviderOptions po;
    po.issuer = "http://localhost:8080";
    po.audience = kBase;
    provider_ = std::make_unique<auth::Provider>(*store_, auth::KeyRing::ephemeral(), po);
    ASSERT_TRUE(provider_->load());
    recorder_ = std::make_unique<audit::Recorder>(*store_);
    ApiOptions o = api_options();
    o.auth = provider_.get();
    o.audit = recorder_.get();
    api_ = std::make_unique<Api>(*store_, o);
    add_user("system", auth::Role::integration, {});
    add_user("system-2", auth::Role::integration, {});
    add_user("analyst", auth::Role::analyst, {});
    add_user("admin", auth::Role::administrator, {});
    add_user("dr", auth::Role::gp, {});
    add_user("pat", auth::Role::patient, {patient_});
  }

  void TearDown() override {
    api_.reset();
    recorder_.reset();
    provider_.reset();
    open_.reset();
    BulkExportTest::TearDown();
  }

  void add_user(const std::string& name, auth::Role role, std::vector<std::string> patients) {
    auth::UserSpec u;
    u.name = name;
    u.role = role;
    u.password = "correct horse battery";
    u.patients = std::move(patients);
    if (role == auth::Role::patient) u.fhir_user = "Patient/" + u.patients.front();
    if (auth::needs_relationship(role)) {
      u.organisation = "Organization/" + org_;
      u.fhir_user = "Practitioner/" + name;
    }
    ASSERT_TRUE(provider_->add_user(u));
  }

  HeaderList as(const std::string& user, const std::string& scope = {}) {
    auto t = provider_->mint_token(user, scope, 600, core::now_micros() / 1'000'000);
    EXPECT_TRUE(t);
    HeaderList h = kAsync;
    h.emplace_back("Authorization", "Bearer " + (t ? *t : std::string()));
    return h;
  }

  std::unique_ptr<Api> open_;
  std::unique_ptr<auth::Provider> provider_;
  std::unique_ptr<audit::Recorder> recorder_;
  std::string org_, patient_;
};

TEST_F(BulkExportSecurityTest, IntegrationSystemsExportWithSystemScopes) {
  const auto h = as("system", "system/*.rs");
  const auto m = export_and_wait("/fhir/$export", h);
  EXPECT_EQ(str(m, {"requiresAccessToken"}), "true");
  auto files = download(m, h);
  EXPECT_EQ(files["Patient"].size(), 1U);
  EXPECT_EQ(files["Organization"].size(), 1U);
  // The same caller's token is needed for the status and the files.
  EXPECT_EQ(call("GET", status_url_).status, 401);
  const auto other = as("system-2", "system/*.rs");
  EXPECT_EQ(call("GET", status_url_, {}, other).status, 403);
  EXPECT_EQ(call("GET", str(m, {"output", "0", "url"}), {}, other).status, 403);
  EXPECT_EQ(call("DELETE", status_url_, {}, other).status, 403);
  EXPECT_EQ(call("GET", status_url_, {}, h).status, 200);
  // The export is in the audit trail.
  recorder_->flush();
  store::AuditQuery q;
  q.count = 100;
  auto events = store_->audit_events(q);
  ASSERT_TRUE(events);
  const auto has = [&](std::string_view subtype) {
    return std::any_of(events->begin(), events->end(), [&](const store::AuditRecord& e) {
      // The subtype as a JSON string (the stored form may be the AuditEvent or a compact record of it).
      return e.json.find("\"" + std::string(subtype) + "\"") != std::string::npos &&
             e.json.find("system") != std::string::npos;
    });
  };
  EXPECT_TRUE(has("export"));
  EXPECT_TRUE(has("export-file"));
}

TEST_F(BulkExportSecurityTest, WithoutSystemScopesOrAsAClinicianOrPatientExportIsRefused) {
  EXPECT_EQ(call("GET", "/fhir/$export", {}, kAsync).status, 401);
  EXPECT_EQ(call("GET", "/fhir/$export", {}, as("system", "user/*.cruds")).status, 403);
  EXPECT_EQ(call("GET", "/fhir/$export?_type=Patient", {}, as("system", "system/Organization.rs")).status, 403);
  auto gp = call("GET", "/fhir/$export", {}, as("dr"));
  EXPECT_EQ(gp.status, 403);
  EXPECT_NE(gp.body.find("integration systems, analysts and administrators"), std::string::npos);
  auto pat = call("GET", "/fhir/Patient/$export", {}, as("pat"));
  EXPECT_EQ(pat.status, 403);
  EXPECT_NE(pat.body.find("$everything"), std::string::npos);
  EXPECT_EQ(call("GET", "/fhir/Group/x/$export", {}, as("pat")).status, 403);
  EXPECT_FALSE(std::filesystem::exists(dir_ / "exports") && !std::filesystem::is_empty(dir_ / "exports"));
}

TEST_F(BulkExportSecurityTest, AnalystsExportOnlyWhatTheirRoleMayRead) {
  // An analyst exports directory and definitional resources, never people's records (export files
  // are not de-identified).
  for (const char* type : {"Patient", "Observation", "Condition", "Encounter"}) {
    auto r = call("GET", std::string("/fhir/$export?_type=") + type, {}, as("analyst"));
    EXPECT_EQ(r.status, 403) << type;
  }
  const auto h = as("analyst");
  auto files = download(export_and_wait("/fhir/$export", h), h);
  EXPECT_EQ(files.count("Patient"), 0U);
  EXPECT_EQ(files["Organization"].size(), 1U);
  // An administrator may export demographics.
  const auto admin = as("admin");
  auto demographics = download(export_and_wait("/fhir/$export?_type=Patient", admin), admin);
  EXPECT_EQ(demographics["Patient"].size(), 1U);
}

TEST_F(BulkExportSecurityTest, SensitiveRecordsAreLeftOutForRolesThatMayNotSeeThem) {
  // A safeguarding-labelled Flag: an integration system sees it; an administrator cannot read Flags at all,
  // and an analyst's export leaves labelled definitional resources out.
  const std::string labelled = json::serialize(json::object{
      {"resourceType", "Organization"},
      {"name", "Refuge"},
      {"meta", json::object{{"security",
                             json::array{json::object{{"system", "https://ucr.nhs.example/fhir/CodeSystem/sensitivity"},
                                                      {"code", "safeguarding"}}}}}}});
  ASSERT_EQ(open_->handle(make_request("POST", "/fhir/Organization", labelled)).status, 201);
  const auto analyst = as("analyst");
  auto files = download(export_and_wait("/fhir/$export?_type=Organization", analyst), analyst);
  EXPECT_EQ(files["Organization"].size(), 1U);
  const auto system = as("system", "system/*.rs");
  auto all = download(export_and_wait("/fhir/$export?_type=Organization", system), system);
  EXPECT_EQ(all["Organization"].size(), 2U);
}

}  // namespace
}  // namespace ucr::api::testing
