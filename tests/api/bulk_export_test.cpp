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

const HeaderList k_async{{"Prefer", "respond-async"}, {"Accept", "application/fhir+json"}};

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

  std::string observation(const std::string& patient_id, const std::string& category, const std::string& id = {}) {
    json::object o{
        {"resourceType", "Observation"},
        {"status", "final"},
        {"category", json::array{json::object{
                         {"coding", json::array{json::object{
                                        {"system", "http://terminology.hl7.org/CodeSystem/observation-category"},
                                        {"code", category}}}}}}},
        {"code",
         json::object{{"coding", json::array{json::object{{"system", "http://loinc.org"}, {"code", "8867-4"}}}}}},
        {"subject", json::object{{"reference", "Patient/" + patient_id}}}};
    if (!id.empty()) o["id"] = id;
    return json::serialize(o);
  }

  /// Kicks off, waits for the job, and returns the manifest (fails the test otherwise).
  json::object export_and_wait(const std::string& target, const HeaderList& headers = k_async) {
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

  /// The OperationOutcomes of a manifest's error files.
  std::vector<json::object> download_errors(const json::object& manifest, const HeaderList& headers = {}) {
    std::vector<json::object> out;
    for (const auto& o : manifest.at("error").as_array()) {
      EXPECT_EQ(str(o, {"type"}), "OperationOutcome");
      auto r = call("GET", str(o, {"url"}), {}, headers);
      EXPECT_EQ(r.status, 200) << r.body;
      for (auto& l : ndjson(r.body)) out.push_back(std::move(l));
    }
    return out;
  }

  /// POSTs a kick-off with a Parameters body, waits, and returns the manifest.
  json::object post_and_wait(const std::string& target, const json::array& parameters,
                             const HeaderList& headers = k_async) {
    auto kick = call("POST", target,
                     json::serialize(json::object{{"resourceType", "Parameters"}, {"parameter", parameters}}), headers);
    EXPECT_EQ(kick.status, 202) << kick.body;
    const auto where = header(kick, "Content-Location");
    if (!where) return {};
    status_url_ = *where;
    api_->wait_for_exports();
    auto done = call("GET", *where, {}, headers);
    EXPECT_EQ(done.status, 200) << done.body;
    return body_of(done);
  }

  static json::object param(const std::string& name, const std::string& value) {
    if (name == "patient") return json::object{{"name", name}, {"valueReference", json::object{{"reference", value}}}};
    return json::object{{"name", name}, {"valueString", value}};
  }

  /// The resources of one NDJSON file written by write_export.
  std::vector<json::object> read_file(const std::filesystem::path& file) {
    std::ifstream in(file);
    std::stringstream ss;
    ss << in.rdbuf();
    return ndjson(ss.str());
  }

  std::string provenance(const std::string& target, const std::string& recorded, const std::string& org) {
    return json::serialize(json::object{
        {"resourceType", "Provenance"},
        {"target", json::array{json::object{{"reference", target}}}},
        {"recorded", recorded},
        {"agent", json::array{json::object{{"who", json::object{{"reference", "Organization/" + org}}}}}}});
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
  auto kick = call("GET", "/fhir/$export", {}, k_async);
  ASSERT_EQ(kick.status, 202) << kick.body;
  const auto url = header(kick, "Content-Location");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->rfind(std::string(kBase) + "/$export-status/", 0), 0U);
  auto poll = call("GET", *url, {}, k_async);
  // Whichever state the job is in, the answer is the one the IG gives for it.
  if (poll.status == 202) {
    EXPECT_TRUE(header(poll, "Retry-After"));
    EXPECT_TRUE(header(poll, "X-Progress"));
  } else {
    EXPECT_EQ(poll.status, 200) << poll.body;
  }
  api_->wait_for_exports();
  auto done = call("GET", *url, {}, k_async);
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
      {"/fhir/$export?includeAssociatedData=_myPreset", "includeAssociatedData"},
      {"/fhir/$export?_elements=Patient.nonsense", "_elements"},
      {"/fhir/$export?_elements=nonsense", "_elements"},
      {"/fhir/Patient/$export?patient=Patient%2Fx", "patient"},
      {"/fhir/$export?_count=10", "_count"},
      {"/fhir/Patient/$export?_type=Organization", "_type"},
  };
  for (const auto& [target, where] : cases) {
    auto r = call("GET", target, {}, k_async);
    EXPECT_EQ(r.status, 400) << target << " " << r.body;
    EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{where}) << target;
  }
  // The audit trail is never exported; an export at another level than system, Patient or Group is unknown.
  EXPECT_EQ(call("GET", "/fhir/$export?_type=AuditEvent", {}, k_async).status, 403);
  EXPECT_EQ(call("GET", "/fhir/Observation/$export", {}, k_async).status, 404);
  EXPECT_EQ(call("GET", "/fhir/Group/nobody/$export", {}, k_async).status, 404);
  EXPECT_EQ(call("PUT", "/fhir/$export", "{}", k_async).status, 405);
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
  auto kick = call("GET", "/fhir/$export", {}, k_async);
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
  ASSERT_EQ(files->output.size(), 1U);
  EXPECT_TRUE(files->errors.empty());
  std::ifstream in(dir_ / "snapshot" / files->output[0].name);
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

TEST_F(BulkExportTest, WithSinceTheManifestListsTheResourcesDeletedSinceAsDeleteBundles) {
  const std::string a = create("Patient", patient({}, "Alpha"));
  const std::string b = create("Patient", patient({}, "Bravo"));
  const std::string gone = create("Observation", observation(a, "vital-signs"));
  const std::string back = create("Observation", observation(a, "vital-signs"));
  const std::string other = create("Observation", observation(b, "vital-signs"));
  const std::string before = create("Observation", observation(a, "laboratory"));
  ASSERT_EQ(call("DELETE", "/fhir/Observation/" + before).status, 204);  // deleted before _since: not listed
  core::Micros t = core::now_micros();
  while (core::now_micros() / 1000 <= t / 1000) {
  }
  t = core::now_micros();
  ASSERT_EQ(call("DELETE", "/fhir/Observation/" + gone).status, 204);
  ASSERT_EQ(call("DELETE", "/fhir/Observation/" + back).status, 204);
  ASSERT_EQ(call("PUT", "/fhir/Observation/" + back, observation(a, "exam", back)).status, 201);  // made again
  ASSERT_EQ(call("DELETE", "/fhir/Observation/" + other).status, 204);
  const std::string since = "_since=" + core::format_instant(t);
  const auto deleted_of = [&](const json::object& manifest) {
    std::vector<std::string> out;
    for (const auto& f : manifest.at("deleted").as_array()) {
      EXPECT_EQ(str(f, {"type"}), "Bundle");
      auto r = call("GET", str(f, {"url"}), {}, {});
      EXPECT_EQ(r.status, 200) << r.body;
      for (const auto& bundle : ndjson(r.body)) {
        EXPECT_EQ(str(bundle, {"type"}), "transaction");
        for (const auto& e : bundle.at("entry").as_array()) {
          EXPECT_EQ(str(e, {"request", "method"}), "DELETE");
          out.push_back(str(e, {"request", "url"}));
        }
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  };
  auto manifest = export_and_wait("/fhir/$export?_type=Observation&" + since);
  std::vector<std::string> expected{"Observation/" + gone, "Observation/" + other};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(deleted_of(manifest), expected);
  auto out = download(manifest);
  ASSERT_EQ(out["Observation"].size(), 1U);  // the one made again
  EXPECT_EQ(str(out["Observation"][0], {"id"}), back);
  // A patient-level export lists only deletions from the patients it covers.
  const std::string group = create(
      "Group", json::serialize(json::object{
                   {"resourceType", "Group"},
                   {"type", "person"},
                   {"actual", true},
                   {"member", json::array{json::object{{"entity", json::object{{"reference", "Patient/" + a}}}}}}}));
  EXPECT_EQ(deleted_of(export_and_wait("/fhir/Group/" + group + "/$export?_type=Observation&" + since)),
            std::vector<std::string>{"Observation/" + gone});
  // Without _since there is no `deleted` (nothing was exported before to take back).
  EXPECT_FALSE(export_and_wait("/fhir/$export?_type=Observation").contains("deleted"));
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
  auto kick = call("GET", "/fhir/$export?_type=Patient", {}, k_async);
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
  auto r = call("GET", "/fhir/$export", {}, k_async);
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(header(r, "Retry-After"), "60");
  EXPECT_EQ(str(body_of(r), {"issue", "0", "code"}), "throttled");
}

TEST_F(BulkExportTest, TheCapabilityStatementOffersExportOnlyWhenItIsOn) {
  const auto on = call("GET", "/fhir/metadata").body;
  EXPECT_NE(on.find("bulkdata/OperationDefinition/export"), std::string::npos);
  EXPECT_NE(on.find("bulkdata/OperationDefinition/group-export"), std::string::npos);
  api_.reset();
  ApiOptions off = api_options();
  off.export_directory.clear();
  api_ = std::make_unique<Api>(*store_, off);
  EXPECT_EQ(call("GET", "/fhir/metadata").body.find("bulkdata"), std::string::npos);
  EXPECT_EQ(call("GET", "/fhir/$export", {}, k_async).status, 404);
}

// EVIDENCE-OF: export.html#bulk-data-kick-off-request "MAY support POST requests that supply
// parameters using the FHIR Parameters Resource".
TEST_F(BulkExportTest, PostKickOffTakesTheParametersOfAGetInAParametersBody) {
  const std::string a = create("Patient", patient({}, "Alpha"));
  create("Observation", observation(a, "vital-signs"));
  const auto m = post_and_wait(
      "/fhir/$export", json::array{param("_type", "Patient"), param("_outputFormat", "application/fhir+ndjson")});
  // A POST's request URL carries no parameters (export.html#response---complete-status).
  EXPECT_EQ(str(m, {"request"}), std::string(kBase) + "/$export");
  auto files = download(m);
  EXPECT_EQ(files["Patient"].size(), 1U);
  EXPECT_EQ(files.count("Observation"), 0U);
  // Repeated parameters count as one comma-separated list.
  auto both =
      download(post_and_wait("/fhir/$export", json::array{param("_type", "Patient"), param("_type", "Observation")}));
  EXPECT_EQ(both["Observation"].size(), 1U);
  // The same checks as a GET, naming the parameter; Prefer: respond-async is required.
  const auto body = [](const json::array& ps) {
    return json::serialize(json::object{{"resourceType", "Parameters"}, {"parameter", ps}});
  };
  const std::vector<std::pair<std::string, std::string>> bad{
      {body(json::array{param("_since", "yesterday")}), "_since"},
      {body(json::array{param("_type", "Nonsense")}), "_type"},
      {body(json::array{param("_elements", "Patient.nonsense")}), "_elements"},
      {body(json::array{param("includeAssociatedData", "_myPreset")}), "includeAssociatedData"},
      {body(json::array{param("frobnicate", "yes")}), "frobnicate"},
      {body(json::array{json::object{{"name", "_type"}, {"valueInteger", 3}}}), "_type"},
      {body(json::array{param("patient", "Patient/" + a)}), "patient"},  // not at the system level
  };
  for (const auto& [b, where] : bad) {
    auto r = call("POST", "/fhir/$export", b, k_async);
    EXPECT_EQ(r.status, 400) << b << " " << r.body;
    EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{where}) << b;
  }
  EXPECT_EQ(call("POST", "/fhir/$export", R"({"resourceType":"Patient"})", k_async).status, 400);
  EXPECT_EQ(call("POST", "/fhir/$export", "not json", k_async).status, 400);
  auto in_url = call("POST", "/fhir/$export?_type=Patient", body(json::array{}), k_async);
  EXPECT_EQ(in_url.status, 400);
  EXPECT_EQ(expressions(body_of(in_url)), std::vector<std::string>{"_type"});
  auto sync = call("POST", "/fhir/$export", body(json::array{param("_type", "Patient")}));
  EXPECT_EQ(sync.status, 400);
  EXPECT_EQ(expressions(body_of(sync)), std::vector<std::string>{"Prefer"});
}

// EVIDENCE-OF: export.html#query-parameters patient "When provided, the server SHALL NOT return
// resources in the patient compartments belonging to patients outside of this list."
TEST_F(BulkExportTest, PatientParameterLimitsPatientAndGroupExportsToThosePatients) {
  const std::string a = create("Patient", patient({}, "Alpha"));
  const std::string b = create("Patient", patient({}, "Bravo"));
  const std::string c = create("Patient", patient({}, "Charlie"));
  for (const auto& p : {a, b, c}) create("Observation", observation(p, "vital-signs"));
  auto two = download(post_and_wait("/fhir/Patient/$export",
                                    json::array{param("patient", "Patient/" + a), param("patient", "Patient/" + c)}));
  std::set<std::string> ids;
  for (const auto& p : two["Patient"]) ids.insert(str(p, {"id"}));
  EXPECT_EQ(ids, (std::set<std::string>{a, c}));
  std::set<std::string> subjects;
  for (const auto& o : two["Observation"]) subjects.insert(str(o, {"subject", "reference"}));
  EXPECT_EQ(subjects, (std::set<std::string>{"Patient/" + a, "Patient/" + c}));
  const std::string group = create(
      "Group", json::serialize(json::object{
                   {"resourceType", "Group"},
                   {"type", "person"},
                   {"actual", true},
                   {"member", json::array{json::object{{"entity", json::object{{"reference", "Patient/" + a}}}},
                                          json::object{{"entity", json::object{{"reference", "Patient/" + b}}}}}}}));
  auto one =
      download(post_and_wait("/fhir/Group/" + group + "/$export", json::array{param("patient", "Patient/" + b)}));
  ASSERT_EQ(one["Patient"].size(), 1U);
  EXPECT_EQ(str(one["Patient"][0], {"id"}), b);
  EXPECT_EQ(one["Observation"].size(), 1U);
  // A patient who is not on the server, or not in the Group, is an error naming the parameter.
  const auto refused = [&](const std::string& target, const std::string& ref) {
    auto r = call("POST", target,
                  json::serialize(
                      json::object{{"resourceType", "Parameters"}, {"parameter", json::array{param("patient", ref)}}}),
                  k_async);
    EXPECT_EQ(r.status, 400) << target << " " << ref << " " << r.body;
    EXPECT_EQ(expressions(body_of(r)), std::vector<std::string>{"patient"});
  };
  refused("/fhir/Patient/$export", "Patient/nobody");
  refused("/fhir/Patient/$export", "Observation/" + a);
  refused("/fhir/Group/" + group + "/$export", "Patient/" + c);
}

// EVIDENCE-OF: export.html#query-parameters _elements "the server SHOULD omit unlisted,
// non-mandatory elements ... SHOULD mark the resources with the tag SUBSETTED".
TEST_F(BulkExportTest, ElementsKeepTheListedAndMandatoryElementsAndTagTheResourceSubsetted) {
  const std::string a = create("Patient", patient({}, "Alpha"));
  create("Observation", observation(a, "laboratory"));
  create("Organization", R"({"resourceType":"Organization","name":"Kent Surgery","active":true})");
  auto files =
      download(export_and_wait("/fhir/$export?_type=Patient,Observation,Organization&_elements=Patient.name,subject"));
  ASSERT_EQ(files["Patient"].size(), 1U);
  const auto& p = files["Patient"][0];
  EXPECT_TRUE(p.contains("name"));
  EXPECT_EQ(str(p, {"id"}), a);
  EXPECT_FALSE(p.contains("gender"));
  EXPECT_FALSE(p.contains("birthDate"));
  const auto tagged = [](const json::object& r) {
    const auto* tags = r.at("meta").as_object().if_contains("tag");
    return tags != nullptr && std::any_of(tags->as_array().begin(), tags->as_array().end(), [](const json::value& t) {
             return str(t, {"code"}) == "SUBSETTED" &&
                    str(t, {"system"}) == "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
           });
  };
  EXPECT_TRUE(tagged(p));
  EXPECT_TRUE(p.at("meta").as_object().contains("versionId"));
  // "subject" applies to Observation; its mandatory status and code stay, the rest goes.
  ASSERT_EQ(files["Observation"].size(), 1U);
  const auto& o = files["Observation"][0];
  EXPECT_EQ(str(o, {"subject", "reference"}), "Patient/" + a);
  EXPECT_EQ(str(o, {"status"}), "final");
  EXPECT_TRUE(o.contains("code"));
  EXPECT_FALSE(o.contains("category"));
  EXPECT_TRUE(tagged(o));
  // No listed element applies to Organization: it is exported whole and not tagged.
  ASSERT_EQ(files["Organization"].size(), 1U);
  EXPECT_EQ(str(files["Organization"][0], {"name"}), "Kent Surgery");
  EXPECT_FALSE(files["Organization"][0].at("meta").as_object().contains("tag"));
}

// EVIDENCE-OF: export.html#query-parameters "When a Prefer: handling=lenient header is included in
// the request, the server MAY process the request instead of returning an error", and the manifest
// "SHOULD include a FHIR OperationOutcome resource for each of these parameters".
TEST_F(BulkExportTest, UnsupportedParametersAreErrorsUnlessTheClientIsLenientThenReported) {
  create("Patient", patient({}, "Alpha"));
  EXPECT_EQ(call("GET", "/fhir/$export?_type=Patient&includeAssociatedData=_myPreset", {}, k_async).status, 400);
  HeaderList lenient{{"Prefer", "respond-async, handling=lenient"}};
  const auto m =
      export_and_wait("/fhir/$export?_type=Patient&includeAssociatedData=_myPreset&_elements=nonsense", lenient);
  EXPECT_EQ(download(m)["Patient"].size(), 1U);
  const auto errors = download_errors(m);
  ASSERT_EQ(errors.size(), 2U);
  std::string text;
  for (const auto& e : errors) {
    EXPECT_EQ(str(e, {"resourceType"}), "OperationOutcome");
    EXPECT_EQ(str(e, {"issue", "0", "severity"}), "warning");
    text += str(e, {"issue", "0", "diagnostics"});
  }
  EXPECT_NE(text.find("_myPreset"), std::string::npos) << text;
  EXPECT_NE(text.find("nonsense"), std::string::npos) << text;
}

// EVIDENCE-OF: CodeSystem-include-associated-data LatestProvenanceResources "the most recent
// Provenance resources associated with each of the non-provenance resources being returned".
TEST_F(BulkExportTest, IncludeAssociatedDataAddsTheProvenanceOfTheExportedResources) {
  const std::string org = create("Organization", R"({"resourceType":"Organization","name":"Kent Lab"})");
  const std::string a = create("Patient", patient({}, "Alpha"));
  const std::string obs = create("Observation", observation(a, "laboratory"));
  const std::string older = create("Provenance", provenance("Observation/" + obs, "2024-01-01T00:00:00Z", org));
  const std::string newer =
      create("Provenance", provenance("Observation/" + obs + "/_history/1", "2024-06-01T00:00:00Z", org));
  create("Provenance", provenance("Organization/" + org, "2024-07-01T00:00:00Z", org));  // not exported
  auto latest =
      download(export_and_wait("/fhir/$export?_type=Observation&includeAssociatedData=LatestProvenanceResources"));
  EXPECT_EQ(latest["Observation"].size(), 1U);
  ASSERT_EQ(latest["Provenance"].size(), 1U);
  EXPECT_EQ(str(latest["Provenance"][0], {"id"}), newer);
  // With both values the least restrictive applies.
  auto relevant = download(export_and_wait(
      "/fhir/$export?_type=Observation&includeAssociatedData=LatestProvenanceResources,RelevantProvenanceResources"));
  std::set<std::string> ids;
  for (const auto& p : relevant["Provenance"]) ids.insert(str(p, {"id"}));
  EXPECT_EQ(ids, (std::set<std::string>{older, newer}));
}

// EVIDENCE-OF: export.html#response---complete-status transactionTime "The response SHOULD NOT
// include any resources modified after this instant": _typeFilter sees the versions at that instant.
TEST_F(BulkExportTest, TypeFilterIsEvaluatedOnTheVersionsCurrentAtTheTransactionTime) {
  const std::string a = create("Patient", patient({}, "Alpha"));
  ASSERT_EQ(put("Observation", "lab-then-vital", observation(a, "laboratory", "lab-then-vital")).status, 201);
  ASSERT_EQ(put("Observation", "vital-then-lab", observation(a, "vital-signs", "vital-then-lab")).status, 201);
  ASSERT_EQ(put("Observation", "lab-deleted", observation(a, "laboratory", "lab-deleted")).status, 201);
  ASSERT_EQ(put("Observation", "lab-unchanged", observation(a, "laboratory", "lab-unchanged")).status, 201);
  const core::Micros t = core::now_micros();
  while (core::now_micros() == t) {
  }
  ASSERT_EQ(put("Observation", "lab-then-vital", observation(a, "vital-signs", "lab-then-vital")).status, 200);
  ASSERT_EQ(put("Observation", "vital-then-lab", observation(a, "laboratory", "vital-then-lab")).status, 200);
  ASSERT_EQ(call("DELETE", "/fhir/Observation/lab-deleted").status, 204);
  ASSERT_EQ(put("Observation", "lab-later", observation(a, "laboratory", "lab-later")).status, 201);
  ExportSpec spec;
  spec.types = {"Observation"};
  spec.type_filters = {{"Observation", "category=laboratory"}};
  ExportRun run;
  run.transaction_time = t;
  run.directory = dir_ / "filtered";
  auto files = write_export(*store_, spec, run);
  ASSERT_TRUE(files) << files.error().message();
  ASSERT_EQ(files->output.size(), 1U);
  EXPECT_TRUE(files->errors.empty());
  std::map<std::string, std::string> category;
  for (const auto& o : read_file(run.directory / files->output[0].name)) {
    category[str(o, {"id"})] = str(o, {"category", "0", "coding", "0", "code"});
  }
  EXPECT_EQ(category,
            (std::map<std::string, std::string>{
                {"lab-then-vital", "laboratory"}, {"lab-deleted", "laboratory"}, {"lab-unchanged", "laboratory"}}));
  // Matching the earlier versions changed nothing: the current versions and the index are as they were.
  EXPECT_EQ(call("GET", "/fhir/Observation/lab-deleted").status, 410);
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Observation/lab-then-vital")), {"meta", "versionId"}), "2");
  std::set<std::string> now;
  const auto current = body_of(call("GET", "/fhir/Observation?category=laboratory"));
  for (const auto& e : current.at("entry").as_array()) {
    now.insert(str(e, {"resource", "id"}));
  }
  EXPECT_EQ(now, (std::set<std::string>{"vital-then-lab", "lab-unchanged", "lab-later"}));
}

// EVIDENCE-OF: export.html#response---complete-status error "Even if some of the requested
// resources cannot successfully be exported, the overall export operation MAY still succeed".
TEST_F(BulkExportTest, AResourceThatCannotBeWrittenIsReportedInTheManifestsErrorFiles) {
  const std::string a = create("Patient", patient({}, "Alpha"));
  // A stored version whose bytes are not JSON (as after damage on disk), written below the API.
  ASSERT_TRUE(store_->write([](store::Transaction& t) {
    store::NewVersion v;
    v.info.type = "Patient";
    v.info.id = "damaged";
    v.info.version = 1;
    v.info.last_updated = core::now_micros();
    v.method = "PUT";
    v.json = R"({"resourceType":"Patient","id":"damaged",)";
    return t.put(v);
  }));
  const auto m = export_and_wait("/fhir/$export?_type=Patient&_elements=name");
  auto files = download(m);
  ASSERT_EQ(files["Patient"].size(), 1U);
  EXPECT_EQ(str(files["Patient"][0], {"id"}), a);
  const auto errors = download_errors(m);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_EQ(str(errors[0], {"issue", "0", "severity"}), "error");
  EXPECT_NE(str(errors[0], {"issue", "0", "diagnostics"}).find("Patient/damaged"), std::string::npos);
  EXPECT_EQ(str(m, {"error", "0", "count"}), "1");
}

// Who may export (docs/security.md#bulk-export).
class BulkExportSecurityTest : public BulkExportTest {
 protected:
  void SetUp() override {
    BulkExportTest::SetUp();
    ApiOptions open = api_options();
    open.export_directory.clear();
    open_ = std::make_unique<Api>(*store_, open);
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

  void add_user(const std::string& name, auth::Role role, std::vector<std::string> patients,
                std::string organisation = {}) {
    auth::UserSpec u;
    u.name = name;
    u.role = role;
    u.organisation = std::move(organisation);
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
    HeaderList h = k_async;
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
  EXPECT_EQ(call("GET", "/fhir/$export", {}, k_async).status, 401);
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

TEST_F(BulkExportSecurityTest, PatientsWhoDissentAreLeftOutOfExportsToThoseTheyDissentFrom) {
  // Dissent from sharing with one organisation (the GP federation's integration system works for it),
  // with every integration system (a role), and with another organisation.
  add_user("federation", auth::Role::integration, {}, "Organization/" + org_);
  const auto seed = [&](const std::string& type, const std::string& body) {
    auto r = open_->handle(make_request("POST", "/fhir/" + type, body));
    EXPECT_EQ(r.status, 201) << r.body;
    return str(body_of(r), {"id"});
  };
  const std::string other_org = seed("Organization", R"({"resourceType":"Organization","name":"Elsewhere"})");
  const auto dissent = [&](const std::string& pid, const std::string& role, const std::string& ref) {
    seed("Consent",
         json::serialize(json::object{
             {"resourceType", "Consent"},
             {"status", "active"},
             {"scope", json::object{{"coding", json::array{json::object{
                                                   {"system", "http://terminology.hl7.org/CodeSystem/consentscope"},
                                                   {"code", "patient-privacy"}}}}}},
             {"category", json::array{json::object{{"coding", json::array{json::object{{"system", "http://loinc.org"},
                                                                                       {"code", "59284-0"}}}}}}},
             {"patient", json::object{{"reference", "Patient/" + pid}}},
             {"provision",
              json::object{{"type", "deny"},
                           {"actor", json::array{json::object{
                                         {"role", json::object{{"coding", json::array{json::object{{"code", role}}}}}},
                                         {"reference", json::object{{"reference", ref}}}}}}}}}));
  };
  const std::string from_org = seed("Patient", patient({}, "NotWithTheFederation"));
  const std::string from_role = seed("Patient", patient({}, "NotWithIntegrations"));
  const std::string from_other = seed("Patient", patient({}, "NotWithElsewhere"));
  dissent(from_org, "IRCP", "Organization/" + org_);
  dissent(from_role, "integration", "Organization/" + other_org);
  dissent(from_other, "IRCP", "Organization/" + other_org);
  for (const auto& p : {patient_, from_org, from_role, from_other}) seed("Observation", observation(p, "laboratory"));
  const auto exported = [&](const std::string& user) {
    const auto h = as(user, "system/*.rs");
    auto files = download(export_and_wait("/fhir/Patient/$export?_type=Patient,Observation,Consent", h), h);
    std::set<std::string> patients;
    for (const auto& p : files["Patient"]) patients.insert(str(p, {"id"}));
    std::set<std::string> subjects;
    for (const auto& o : files["Observation"]) subjects.insert(str(o, {"subject", "reference"}).substr(8));
    for (const auto& c : files["Consent"]) subjects.insert(str(c, {"patient", "reference"}).substr(8));
    EXPECT_TRUE(std::includes(patients.begin(), patients.end(), subjects.begin(), subjects.end())) << user;
    return patients;
  };
  EXPECT_EQ(exported("federation"), (std::set<std::string>{patient_, from_other}));
  EXPECT_EQ(exported("system"), (std::set<std::string>{patient_, from_org, from_other}));
}

TEST_F(BulkExportSecurityTest, SensitiveLabelsAreAppliedAsInSearches) {
  // A mental-health-labelled Observation: an administrator's export of demographics and the same
  // role's search agree; an integration system sees it in both.
  const std::string labelled = json::serialize(json::object{
      {"resourceType", "Organization"},
      {"name", "Crisis Team"},
      {"meta", json::object{{"security",
                             json::array{json::object{{"system", "https://ucr.nhs.example/fhir/CodeSystem/sensitivity"},
                                                      {"code", "mental-health"}}}}}}});
  ASSERT_EQ(open_->handle(make_request("POST", "/fhir/Organization", labelled)).status, 201);
  for (const std::string user : {"admin", "analyst", "system"}) {
    const auto h = as(user, user == "system" ? "system/*.rs" : "");
    auto files = download(export_and_wait("/fhir/$export?_type=Organization", h), h);
    HeaderList plain;
    for (const auto& kv : h) {
      if (kv.first == "Authorization") plain.push_back(kv);
    }
    auto search = call("GET", "/fhir/Organization?_count=100", {}, plain);
    ASSERT_EQ(search.status, 200) << user << " " << search.body;
    std::set<std::string> searched;
    const auto bundle = body_of(search);
    const auto* entries = bundle.if_contains("entry");
    if (entries != nullptr) {
      for (const auto& e : entries->as_array()) searched.insert(str(e, {"resource", "name"}));
    }
    std::set<std::string> exported;
    for (const auto& o : files["Organization"]) exported.insert(str(o, {"name"}));
    EXPECT_EQ(exported, searched) << user;
  }
}

}  // namespace
}  // namespace ucr::api::testing
