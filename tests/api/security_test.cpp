// Access control and audit at the API: tokens (and attacks on them), the OAuth flows, role policy,
// SMART scopes, patient context, and the audit trail of what each caller did.
#include "api_fixture.hpp"
#include "audit/audit.hpp"
#include "auth/crypto.hpp"
#include "auth/provider.hpp"
#include "core/time.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <array>
#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace ucr::api::testing {
namespace {

constexpr const char* kIssuer = "http://localhost:8080";
constexpr const char* kAudience = "http://localhost:8080/fhir";

std::int64_t now_s() { return core::now_micros() / 1'000'000; }

std::string form_encode(std::string_view s) {
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string form(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += k + "=" + form_encode(v);
  }
  return out;
}

/// The value of a query parameter in a URL.
std::string query_value(const std::string& url, const std::string& name) {
  const auto pos = url.find(name + "=");
  if (pos == std::string::npos) return {};
  const auto start = pos + name.size() + 1;
  return percent_decode(url.substr(start, url.find('&', start) - start));
}

/// An audit entry as the AuditEvent it records.
std::string text_of(const store::AuditRecord& r) {
  auto t = audit::render(r);
  return t ? *t : std::string();
}

class SecurityTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    // Seed the record without authentication, as an import would.
    open_ = std::make_unique<Api>(*store_, ApiTest::api_options());
    org_ = seed("Organization", R"({"resourceType":"Organization","name":"Kent Surgery"})");
    // Patient A is registered at the GP's practice; B is not known to it.
    patient_a_ = seed("Patient",
                      json::serialize(json::object{
                          {"resourceType", "Patient"},
                          {"name", json::array{json::object{{"family", "Alpha"}}}},
                          {"generalPractitioner", json::array{json::object{{"reference", "Organization/" + org_}}}}}));
    patient_b_ = seed("Patient", patient({}, "Bravo"));
    obs_a_ = seed("Observation", observation(patient_a_, "8867-4"));
    obs_b_ = seed("Observation", observation(patient_b_, "8867-4"));

    auth::ProviderOptions po;
    po.issuer = kIssuer;
    po.audience = kAudience;
    ring_ = auth::KeyRing::ephemeral();
    provider_ = std::make_unique<auth::Provider>(*store_, ring_, po);
    ASSERT_TRUE(provider_->load());
    recorder_ = std::make_unique<audit::Recorder>(*store_);
    ApiOptions o = ApiTest::api_options();
    o.auth = provider_.get();
    o.audit = recorder_.get();
    api_ = std::make_unique<Api>(*store_, o);

    add_user("dr-who", auth::Role::gp, {});
    add_user("pat-a", auth::Role::patient, {patient_a_});
    add_user("analyst", auth::Role::analyst, {});
    add_user("admin", auth::Role::administrator, {});
  }

  void TearDown() override {
    api_.reset();
    recorder_.reset();
    provider_.reset();
    open_.reset();
    ApiTest::TearDown();
  }

  std::string seed(const std::string& type, const std::string& body) {
    auto r = open_->handle(make_request("POST", "/fhir/" + type, body));
    EXPECT_EQ(r.status, 201) << r.body;
    return str(body_of(r), {"id"});
  }

  static std::string observation(const std::string& patient_id, const std::string& code) {
    return json::serialize(json::object{
        {"resourceType", "Observation"},
        {"status", "final"},
        {"code", json::object{{"coding", json::array{json::object{{"system", "http://loinc.org"}, {"code", code}}}}}},
        {"subject", json::object{{"reference", "Patient/" + patient_id}}},
        {"valueQuantity", json::object{{"value", 72}, {"unit", "/min"}}}});
  }

  void add_user(const std::string& name, auth::Role role, std::vector<std::string> patients) {
    auth::UserSpec u;
    u.name = name;
    u.role = role;
    u.password = "correct horse battery";
    u.patients = std::move(patients);
    u.display = "Dr " + name;
    if (role == auth::Role::patient) u.fhir_user = "Patient/" + u.patients.front();
    if (auth::needs_relationship(role)) {
      u.organisation = "Organization/" + org_;
      u.fhir_user = "Practitioner/" + name;
    }
    ASSERT_TRUE(provider_->add_user(u));
  }

  std::string token(const std::string& user, const std::string& scope = {}) {
    auto t = provider_->mint_token(user, scope, 600, now_s());
    EXPECT_TRUE(t) << (t ? "" : t.error().message());
    return t ? *t : std::string();
  }

  Response as(const std::string& bearer, std::string method, std::string_view target, std::string body = {}) {
    HeaderList h{{"Authorization", "Bearer " + bearer}};
    return call(std::move(method), target, std::move(body), h);
  }

  std::set<std::string> ids_in(const Response& r) {
    std::set<std::string> out;
    const auto b = body_of(r);
    for (const auto& e : b.at("entry").as_array()) {
      out.insert(str(e, {"resource", "resourceType"}) + "/" + str(e, {"resource", "id"}));
    }
    return out;
  }

  std::string client_with(const std::string& id, bool confidential, const std::string& scopes,
                          std::vector<std::string> grants, auth::Role role = auth::Role::integration) {
    auth::ClientSpec c;
    c.id = id;
    c.confidential = confidential;
    c.scopes = scopes;
    c.grant_types = std::move(grants);
    c.role = role;
    c.redirect_uris = {"https://app.example/callback"};
    auto secret = provider_->add_client(c);
    EXPECT_TRUE(secret) << (secret ? "" : secret.error().message());
    return secret ? *secret : std::string();
  }

  Response post_form(const std::string& path, const std::vector<std::pair<std::string, std::string>>& fields,
                     const HeaderList& extra = {}) {
    HeaderList h{{"Content-Type", "application/x-www-form-urlencoded"}};
    for (const auto& x : extra) h.push_back(x);
    return call("POST", path, form(fields), h);
  }

  std::unique_ptr<Api> open_;
  std::shared_ptr<auth::KeyRing> ring_;
  std::unique_ptr<auth::Provider> provider_;
  std::unique_ptr<audit::Recorder> recorder_;
  std::string patient_a_, patient_b_, obs_a_, obs_b_, org_;
};

TEST_F(SecurityTest, EveryFhirRequestNeedsAToken) {
  auto r = call("GET", "/fhir/Patient/" + patient_a_);
  EXPECT_EQ(r.status, 401);
  ASSERT_TRUE(header(r, "WWW-Authenticate"));
  EXPECT_NE(header(r, "WWW-Authenticate")->find("Bearer"), std::string::npos);
  EXPECT_EQ(r.body.find("Alpha"), std::string::npos);
  // The CapabilityStatement and the discovery documents are public.
  EXPECT_EQ(call("GET", "/fhir/metadata").status, 200);
  auto smart = call("GET", "/fhir/.well-known/smart-configuration");
  EXPECT_EQ(smart.status, 200);
  EXPECT_EQ(str(body_of(smart), {"token_endpoint"}), std::string(kIssuer) + "/oauth/token");
  EXPECT_EQ(call("GET", "/.well-known/openid-configuration").status, 200);
  auto jwks = body_of(call("GET", "/oauth/jwks"));
  ASSERT_FALSE(jwks.at("keys").as_array().empty());
  EXPECT_EQ(jwks.at("keys").as_array()[0].as_object().if_contains("d"), nullptr);
}

TEST_F(SecurityTest, ForgedAndStaleTokensAreRefused) {
  const std::string good = token("dr-who");
  ASSERT_EQ(as(good, "GET", "/fhir/Patient/" + patient_a_).status, 200);
  const auto parts = [](const std::string& t) {
    const auto d1 = t.find('.');
    const auto d2 = t.find('.', d1 + 1);
    return std::array<std::string, 3>{t.substr(0, d1), t.substr(d1 + 1, d2 - d1 - 1), t.substr(d2 + 1)};
  };
  const auto p = parts(good);
  auto payload = json::parse(*auth::base64url_decode(p[1])).as_object();
  std::vector<std::pair<std::string, std::string>> attacks;
  attacks.emplace_back("garbage", "not-a-token");
  // Unsigned (alg none) with the same claims.
  attacks.emplace_back("alg none", auth::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + p[1] + ".");
  // Payload changed to another role, signature kept.
  auto elevated = payload;
  elevated["ucr_role"] = "administrator";
  attacks.emplace_back("tampered", p[0] + "." + auth::base64url_encode(json::serialize(elevated)) + "." + p[2]);
  // Expired, from the same provider.
  auto expired = provider_->mint_token("dr-who", {}, 60, now_s() - 3600);
  ASSERT_TRUE(expired);
  attacks.emplace_back("expired", *expired);
  // Not yet valid.
  auto future = provider_->mint_token("dr-who", {}, 60, now_s() + 3600);
  ASSERT_TRUE(future);
  attacks.emplace_back("not yet valid", *future);
  // Another server's key with this issuer (unknown kid).
  auth::ProviderOptions po;
  po.issuer = kIssuer;
  po.audience = kAudience;
  auth::Provider other(*store_, auth::KeyRing::ephemeral(), po);
  auto foreign = other.mint_token("dr-who", {}, 600, now_s());
  ASSERT_TRUE(foreign);
  attacks.emplace_back("unknown key", *foreign);
  // Right key, wrong audience; untrusted issuer.
  po.audience = "https://elsewhere.example/fhir";
  auth::Provider wrong_aud(*store_, ring_, po);
  attacks.emplace_back("wrong audience", *wrong_aud.mint_token("dr-who", {}, 600, now_s()));
  po.issuer = "https://evil.example";
  po.audience = kAudience;
  auth::Provider evil(*store_, ring_, po);
  attacks.emplace_back("untrusted issuer", *evil.mint_token("dr-who", {}, 600, now_s()));
  for (const auto& [name, t] : attacks) {
    auto r = as(t, "GET", "/fhir/Patient/" + patient_a_);
    EXPECT_EQ(r.status, 401) << name << ": " << r.body;
    EXPECT_EQ(r.body.find("Alpha"), std::string::npos) << name;
  }
  // A disabled account's tokens stop working at once.
  ASSERT_TRUE(provider_->set_disabled("dr-who", true));
  EXPECT_EQ(as(good, "GET", "/fhir/Patient/" + patient_a_).status, 401);
}

TEST_F(SecurityTest, RolePolicyAndScopesLimitWhatACallerMayDo) {
  auto r = as(token("analyst"), "GET", "/fhir/AuditEvent?patient=" + patient_a_);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("Analyst"), std::string::npos) << r.body;
  EXPECT_EQ(as(token("analyst"), "GET", "/fhir/Organization/" + org_).status, 200);
  // An administrator manages directories and identities, not clinical records.
  EXPECT_EQ(as(token("admin"), "GET", "/fhir/Observation/" + obs_a_).status, 403);
  // Scopes narrow a role: read-only Observation access cannot write.
  const std::string ro = token("dr-who", "user/Observation.rs");
  EXPECT_EQ(as(ro, "GET", "/fhir/Observation/" + obs_a_).status, 200);
  const std::size_t before = version_count();
  auto w = as(ro, "POST", "/fhir/Observation", observation(patient_a_, "8310-5"));
  EXPECT_EQ(w.status, 403) << w.body;
  EXPECT_NE(w.body.find("scopes"), std::string::npos) << w.body;
  EXPECT_EQ(as(ro, "GET", "/fhir/Patient/" + patient_a_).status, 403);
  EXPECT_EQ(version_count(), before) << "a refused write changes nothing";
  // A grant restricted by a query (SMART v2 granular scope) does not reach what it does not match.
  const std::string granular = token("dr-who", "user/Observation.rs?category=laboratory");
  auto g = as(granular, "GET", "/fhir/Observation/" + obs_a_);
  EXPECT_EQ(g.status, 403) << g.body;
  // The audit trail is never written by clients.
  EXPECT_EQ(as(token("dr-who"), "POST", "/fhir/AuditEvent", R"({"resourceType":"AuditEvent"})").status, 405);
}

// A data-quality officer works the review queue: the identity service's review Tasks and the
// demographics of the people in them, never the clinical record or other Tasks, and only they
// (and integration systems) decide whether two records are the same person.
TEST_F(SecurityTest, ADataQualityOfficerWorksTheReviewQueueAndNothingElse) {
  const auto patient_json = [](const std::string& given, const std::string& postcode) {
    return json::serialize(json::object{
        {"resourceType", "Patient"},
        {"name", json::array{json::object{{"family", "Smith"}, {"given", json::array{json::string(given)}}}}},
        {"gender", "male"},
        {"birthDate", "1970-03-12"},
        {"address", json::array{json::object{{"postalCode", postcode}}}},
        {"identifier", json::array{json::object{{"system", "https://fhir.nhs.uk/Id/nhs-number"},
                                                {"value", given == "William" ? "9000000009" : "9449306060"}}}}});
  };
  // Arriving through an import with record linkage on: the copy goes on the review queue.
  Api linking(*store_, ApiOptions{});
  const auto arrive = [&](const std::string& body) {
    auto r = linking.handle(make_request("POST", "/fhir/Patient", body));
    EXPECT_EQ(r.status, 201) << r.body;
    return str(body_of(r), {"id"});
  };
  const std::string keep = arrive(patient_json("William", "ME14 5AB"));
  json::object copy = json::parse(patient_json("Bill", "CT9 1AA")).as_object();
  copy.erase("identifier");
  const std::string maybe = arrive(json::serialize(copy));
  const std::string clinical_task =
      seed("Task", json::serialize(json::object{{"resourceType", "Task"},
                                                {"status", "requested"},
                                                {"intent", "order"},
                                                {"description", "Dressing change"},
                                                {"for", json::object{{"reference", "Patient/" + maybe}}}}));
  add_user("dq", auth::Role::data_quality_officer, {});
  const std::string dq = token("dq");

  auto queue = as(dq, "GET", "/fhir/Task?status=requested&_total=accurate");
  ASSERT_EQ(queue.status, 200) << queue.body;
  const auto listed = ids_in(queue);
  EXPECT_EQ(listed.size(), 1U) << queue.body;
  EXPECT_EQ(listed.count("Task/" + clinical_task), 0U) << "other Tasks are not the officer's";
  EXPECT_EQ(body_of(queue).at("total").as_int64(), 1) << "nor counted";
  ASSERT_FALSE(listed.empty());
  const std::string review = listed.begin()->substr(5);
  EXPECT_EQ(as(dq, "GET", "/fhir/Task/" + review).status, 200);
  EXPECT_EQ(as(dq, "GET", "/fhir/Task/" + clinical_task).status, 403);
  EXPECT_EQ(ids_in(as(dq, "GET", "/fhir/Patient/" + maybe + "/Task")).count("Task/" + clinical_task), 0U);
  auto in_bundle =
      as(dq, "POST", "/fhir",
         R"({"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Task"}}]})");
  EXPECT_EQ(in_bundle.status, 403) << in_bundle.body;
  // The demographics of both records, not the clinical record.
  EXPECT_EQ(as(dq, "GET", "/fhir/Patient/" + keep).status, 200);
  EXPECT_EQ(as(dq, "GET", "/fhir/Patient/" + patient_a_).status, 200);
  EXPECT_EQ(as(dq, "GET", "/fhir/Observation/" + obs_a_).status, 403);
  EXPECT_EQ(as(dq, "POST", "/fhir/Task", R"({"resourceType":"Task","status":"requested","intent":"order"})").status,
            403);

  // Only data-quality officers and integration systems decide.
  const std::string op = "/fhir/Task/" + review + "/$resolve-match";
  const std::string link = R"({"resourceType":"Parameters","parameter":[{"name":"decision","valueCode":"link"}]})";
  for (const char* user : {"dr-who", "analyst", "admin", "pat-a"}) {
    auto r = as(token(user), "POST", op, link);
    EXPECT_EQ(r.status, 403) << user << ": " << r.body;
  }
  EXPECT_EQ(body_of(as(dq, "GET", "/fhir/Task/" + review)).at("status"), "requested") << "refusals change nothing";
  auto decided = as(dq, "POST", op, link);
  ASSERT_EQ(decided.status, 200) << decided.body;
  const auto task = body_of(decided);
  EXPECT_EQ(task.at("status"), "completed");
  EXPECT_NE(json::serialize(task.at("note")).find("Dr dq"), std::string::npos) << "the officer is named";
  // The decision is in the audit trail under the officer's name.
  store::AuditQuery q;
  q.patient = maybe;
  auto events = store_->audit_events(q);
  ASSERT_TRUE(events);
  EXPECT_TRUE(std::any_of(events->begin(), events->end(), [&](const store::AuditRecord& e) {
    const std::string text = text_of(e);
    return text.find("dq") != std::string::npos && text.find("Task/" + review) != std::string::npos &&
           text.find(R"("code":"update")") != std::string::npos;
  }));
}

// SMART v2 granular scopes: a grant that holds only for resources matching a query narrows reads
// and searches (and what $everything and includes return); other uses are refused, never widened.
TEST_F(SecurityTest, GranularScopesNarrowReadsAndSearches) {
  const std::string temperature = seed("Observation", observation(patient_a_, "8310-5"));
  const std::string pulse_only = token("dr-who", "user/Observation.rs?code=http://loinc.org|8867-4 user/Patient.rs");
  EXPECT_EQ(as(pulse_only, "GET", "/fhir/Observation/" + obs_a_).status, 200);
  auto outside = as(pulse_only, "GET", "/fhir/Observation/" + temperature);
  EXPECT_EQ(outside.status, 403) << outside.body;
  EXPECT_NE(outside.body.find("granular"), std::string::npos) << outside.body;
  auto found = as(pulse_only, "GET", "/fhir/Observation?patient=" + patient_a_ + "&_total=accurate");
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(ids_in(found), std::set<std::string>{"Observation/" + obs_a_});
  EXPECT_EQ(str(body_of(found), {"total"}), "1") << "the total keeps to the grant too";
  auto in_record = as(pulse_only, "GET", "/fhir/Patient/" + patient_a_ + "/Observation");
  ASSERT_EQ(in_record.status, 200) << in_record.body;
  EXPECT_EQ(ids_in(in_record), std::set<std::string>{"Observation/" + obs_a_});
  auto all = as(pulse_only, "GET", "/fhir/Patient/" + patient_a_ + "/$everything");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(ids_in(all).count("Observation/" + obs_a_), 1U);
  EXPECT_EQ(ids_in(all).count("Observation/" + temperature), 0U);
  auto included = as(pulse_only, "GET", "/fhir/Patient?_id=" + patient_a_ + "&_revinclude=Observation:subject");
  ASSERT_EQ(included.status, 200) << included.body;
  EXPECT_EQ(ids_in(included).count("Observation/" + temperature), 0U);
  EXPECT_EQ(ids_in(included).count("Observation/" + obs_a_), 1U);
  EXPECT_EQ(as(pulse_only, "GET", "/fhir/Observation/" + obs_a_ + "/_history/1").status, 403)
      << "an older version cannot be checked against the grant";
  // Two grants on the same parameter: either code.
  const std::string two = token("dr-who",
                                "user/Observation.rs?code=http://loinc.org|8867-4 "
                                "user/Observation.rs?code=http://loinc.org|8310-5");
  auto both = as(two, "GET", "/fhir/Observation?patient=" + patient_a_);
  ASSERT_EQ(both.status, 200) << both.body;
  EXPECT_EQ(ids_in(both), (std::set<std::string>{"Observation/" + obs_a_, "Observation/" + temperature}));
  // A write under a granular grant is refused.
  const std::size_t before = version_count();
  auto w = as(token("dr-who", "user/Observation.cruds?code=http://loinc.org|8867-4"), "POST", "/fhir/Observation",
              observation(patient_a_, "8867-4"));
  EXPECT_EQ(w.status, 403) << w.body;
  EXPECT_EQ(version_count(), before);
}

TEST_F(SecurityTest, APatientSeesOnlyTheirOwnRecord) {
  const std::string t = token("pat-a");
  EXPECT_EQ(as(t, "GET", "/fhir/Patient/" + patient_a_).status, 200);
  EXPECT_EQ(as(t, "GET", "/fhir/Patient/" + patient_b_).status, 403);
  EXPECT_EQ(as(t, "GET", "/fhir/Observation/" + obs_a_).status, 200);
  EXPECT_EQ(as(t, "GET", "/fhir/Observation/" + obs_b_).status, 403);
  // Searches run inside their compartment: other people's data is absent, and so is its count.
  auto s = as(t, "GET", "/fhir/Observation?code=8867-4&_total=accurate");
  ASSERT_EQ(s.status, 200) << s.body;
  EXPECT_EQ(ids_in(s), std::set<std::string>{"Observation/" + obs_a_});
  EXPECT_EQ(str(body_of(s), {"total"}), "1");
  EXPECT_EQ(as(t, "GET", "/fhir/Observation?patient=" + patient_b_).status, 403);
  // Includes cannot reach another person's record.
  auto inc = as(t, "GET", "/fhir/Patient?_revinclude=Observation:subject");
  ASSERT_EQ(inc.status, 200) << inc.body;
  EXPECT_EQ(ids_in(inc), (std::set<std::string>{"Patient/" + patient_a_, "Observation/" + obs_a_}));
  auto all = as(t, "GET", "/fhir/Patient/" + patient_a_ + "/$everything");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(ids_in(all).count("Observation/" + obs_b_), 0U);
  EXPECT_EQ(ids_in(all).count("Observation/" + obs_a_), 1U);
  EXPECT_EQ(as(t, "GET", "/fhir/Patient/" + patient_b_ + "/$everything").status, 403);
  EXPECT_EQ(as(t, "GET", "/fhir/Patient/" + patient_b_ + "/Observation").status, 403);
  EXPECT_EQ(as(t, "GET", "/fhir/Observation/_history").status, 403);
  // Patients cannot write clinical observations into anyone's record.
  EXPECT_EQ(as(t, "POST", "/fhir/Observation", observation(patient_b_, "8867-4")).status, 403);
}

TEST_F(SecurityTest, EveryAccessIsAuditedAndPatientsSeeWhoLooked) {
  const std::string gp = token("dr-who");
  ASSERT_EQ(as(gp, "GET", "/fhir/Observation/" + obs_a_).status, 200);
  auto created = as(gp, "POST", "/fhir/Observation", observation(patient_a_, "8310-5"));
  ASSERT_EQ(created.status, 201) << created.body;
  // The write is audited in its own transaction: no flush needed to see it.
  store::AuditQuery q;
  q.patient = patient_a_;
  auto written = store_->audit_events(q);
  ASSERT_TRUE(written);
  ASSERT_FALSE(written->empty());
  // (The read may have been flushed by the recorder's timer too, before or after the write.)
  EXPECT_TRUE(std::any_of(written->begin(), written->end(), [&](const store::AuditRecord& e) {
    return text_of(e).find(R"("code":"create")") != std::string::npos;
  })) << written->front().json;
  recorder_->flush();
  auto events = store_->audit_events(q);
  ASSERT_TRUE(events);
  bool read_seen = false;
  for (const auto& e : *events) {
    if (text_of(e).find(R"("code":"read")") != std::string::npos &&
        text_of(e).find("Observation/" + obs_a_) != std::string::npos &&
        text_of(e).find("dr-who") != std::string::npos) {
      read_seen = true;
    }
  }
  EXPECT_TRUE(read_seen);
  // The patient lists who accessed their record: role and organisation, no staff names.
  auto mine = as(token("pat-a"), "GET", "/fhir/AuditEvent?patient=" + patient_a_);
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_GE(body_of(mine).at("entry").as_array().size(), 2U);
  EXPECT_NE(mine.body.find(R"("code":"gp")"), std::string::npos) << mine.body;
  EXPECT_EQ(mine.body.find("dr-who"), std::string::npos) << mine.body;
  EXPECT_EQ(mine.body.find("Dr dr-who"), std::string::npos) << mine.body;
  EXPECT_EQ(as(token("pat-a"), "GET", "/fhir/AuditEvent?patient=" + patient_b_).status, 403);
  EXPECT_EQ(as(gp, "GET", "/fhir/AuditEvent?patient=" + patient_a_).status, 403);
  // Refused requests are audited too, and the chain verifies.
  ASSERT_EQ(call("GET", "/fhir/Patient/" + patient_a_).status, 401);
  recorder_->flush();
  auto report = audit::verify(*store_);
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->bad_seq) << report->problem;
  EXPECT_GE(report->entries, 4);
}

TEST_F(SecurityTest, AuthorizationCodeFlowWithPkceAndRefreshRotation) {
  client_with("web", false, "openid fhirUser offline_access patient/*.rs user/*.rs",
              {"authorization_code", "refresh_token"});
  const std::string verifier = "a-very-long-random-code-verifier-of-at-least-43-chars-xyz";
  const std::string challenge = auth::base64url_encode(auth::sha256_raw(verifier));
  const std::vector<std::pair<std::string, std::string>> authz{{"response_type", "code"},
                                                               {"client_id", "web"},
                                                               {"redirect_uri", "https://app.example/callback"},
                                                               {"scope", "openid user/*.rs offline_access"},
                                                               {"state", "xyz"},
                                                               {"code_challenge", challenge},
                                                               {"code_challenge_method", "S256"}};
  std::string q;
  for (const auto& [k, v] : authz) q += (q.empty() ? "?" : "&") + k + "=" + form_encode(v);
  auto page = call("GET", "/oauth/authorize" + q);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_NE(page.body.find("<form"), std::string::npos);
  // Without PKCE the request goes back to the client with an error.
  auto no_pkce = call(
      "GET",
      "/oauth/"
      "authorize?response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fapp.example%2Fcallback&scope=user%2F*.rs");
  ASSERT_EQ(no_pkce.status, 302);
  EXPECT_NE(header(no_pkce, "Location")->find("error=invalid_request"), std::string::npos);
  // An unregistered redirect URI is never redirected to.
  auto evil =
      call("GET", "/oauth/authorize?response_type=code&client_id=web&redirect_uri=https%3A%2F%2Fevil.example%2F");
  EXPECT_EQ(evil.status, 400);

  auto fields = authz;
  fields.emplace_back("username", "dr-who");
  fields.emplace_back("password", "correct horse battery");
  auto login = post_form("/oauth/authorize", fields);
  ASSERT_EQ(login.status, 302) << login.body;
  const std::string location = *header(login, "Location");
  EXPECT_EQ(location.rfind("https://app.example/callback?", 0), 0U) << location;
  EXPECT_EQ(query_value(location, "state"), "xyz");
  const std::string code = query_value(location, "code");
  ASSERT_FALSE(code.empty());

  auto bad = post_form(
      "/oauth/token",
      {{"grant_type", "authorization_code"}, {"code", code}, {"client_id", "web"}, {"code_verifier", verifier + "x"}});
  EXPECT_EQ(bad.status, 400) << bad.body;
  // The failed attempt used the code up: PKCE failures cannot be retried against it.
  auto replay = post_form(
      "/oauth/token",
      {{"grant_type", "authorization_code"}, {"code", code}, {"client_id", "web"}, {"code_verifier", verifier}});
  EXPECT_EQ(replay.status, 400) << replay.body;

  // A second, correct run.
  auto login2 = post_form("/oauth/authorize", fields);
  const std::string code2 = query_value(*header(login2, "Location"), "code");
  auto tok = post_form("/oauth/token", {{"grant_type", "authorization_code"},
                                        {"code", code2},
                                        {"client_id", "web"},
                                        {"code_verifier", verifier},
                                        {"redirect_uri", "https://app.example/callback"}});
  ASSERT_EQ(tok.status, 200) << tok.body;
  const auto tb = body_of(tok);
  EXPECT_EQ(str(tb, {"token_type"}), "Bearer");
  EXPECT_EQ(str(tb, {"scope"}).find("patient/"), std::string::npos) << "only what was asked and allowed";
  const std::string access = str(tb, {"access_token"});
  EXPECT_EQ(as(access, "GET", "/fhir/Observation/" + obs_a_).status, 200);
  EXPECT_EQ(as(access, "POST", "/fhir/Observation", observation(patient_a_, "1")).status, 403) << "rs only";

  const std::string refresh = str(tb, {"refresh_token"});
  ASSERT_NE(refresh, "<missing>");
  auto renewed =
      post_form("/oauth/token", {{"grant_type", "refresh_token"}, {"refresh_token", refresh}, {"client_id", "web"}});
  ASSERT_EQ(renewed.status, 200) << renewed.body;
  auto reused =
      post_form("/oauth/token", {{"grant_type", "refresh_token"}, {"refresh_token", refresh}, {"client_id", "web"}});
  EXPECT_EQ(reused.status, 400) << "refresh tokens are rotated";
}

TEST_F(SecurityTest, LoginLockoutGivesNoHintWhichAccountsExist) {
  client_with("web", false, "user/*.rs", {"authorization_code"});
  const std::string challenge = auth::base64url_encode(auth::sha256_raw(std::string(50, 'v')));
  const auto attempt = [&](const std::string& user, const std::string& password) {
    return post_form("/oauth/authorize", {{"response_type", "code"},
                                          {"client_id", "web"},
                                          {"redirect_uri", "https://app.example/callback"},
                                          {"scope", "user/*.rs"},
                                          {"code_challenge", challenge},
                                          {"code_challenge_method", "S256"},
                                          {"username", user},
                                          {"password", password}});
  };
  const auto message = [](const Response& r) {
    const auto start = r.body.find("<p>", r.body.find("There is a problem"));
    return r.body.substr(start, r.body.find("</p>", start) - start);
  };
  auto unknown = attempt("nobody", "whatever-password");
  auto wrong = attempt("dr-who", "wrong-password");
  ASSERT_EQ(unknown.status, 401);
  ASSERT_EQ(wrong.status, 401);
  EXPECT_EQ(message(unknown), message(wrong));
  for (int i = 0; i < 5; ++i) (void)attempt("dr-who", "wrong-password");
  auto locked = attempt("dr-who", "correct horse battery");
  EXPECT_EQ(locked.status, 401) << "locked out even with the right password";
  EXPECT_EQ(message(locked), message(unknown));
  auto info = provider_->user("dr-who");
  ASSERT_TRUE(info);
  EXPECT_GT(info->locked_until, now_s());
}

TEST_F(SecurityTest, ClientCredentialsForSystemsAndRevocation) {
  const std::string secret =
      client_with("pas-feed", true, "system/Patient.cruds system/Observation.cruds", {"client_credentials"});
  auto wrong = post_form("/oauth/token",
                         {{"grant_type", "client_credentials"}, {"client_id", "pas-feed"}, {"client_secret", "nope"}});
  EXPECT_EQ(wrong.status, 401);
  const std::string basic = "Basic " + [&] {
    // Standard base64 of "id:secret" for HTTP Basic.
    std::string b = auth::base64url_encode("pas-feed:" + secret);
    for (auto& c : b) {
      if (c == '-') c = '+';
      if (c == '_') c = '/';
    }
    while (b.size() % 4 != 0) b += '=';
    return b;
  }();
  auto tok = post_form("/oauth/token", {{"grant_type", "client_credentials"}, {"scope", "system/Patient.rs"}},
                       {{"Authorization", basic}});
  ASSERT_EQ(tok.status, 200) << tok.body;
  const std::string access = str(body_of(tok), {"access_token"});
  EXPECT_EQ(as(access, "GET", "/fhir/Patient/" + patient_b_).status, 200);
  EXPECT_EQ(as(access, "GET", "/fhir/Observation/" + obs_b_).status, 403) << "asked for Patient only";
  auto revoked = post_form("/oauth/revoke", {{"token", access}}, {{"Authorization", basic}});
  EXPECT_EQ(revoked.status, 200) << revoked.body;
  EXPECT_EQ(as(access, "GET", "/fhir/Patient/" + patient_b_).status, 401);
}

// Two ucr nodes on one database: an account disabled through one is refused by the other within
// the refresh interval (0 here: on the next request), and enabled again likewise.
TEST_F(SecurityTest, AnotherNodeLearnsOfDisabledAccounts) {
  auth::ProviderOptions po;
  po.issuer = kIssuer;
  po.audience = kAudience;
  po.shared_state_refresh_seconds = 0;
  auth::Provider node2(*store_, ring_, po);
  ASSERT_TRUE(node2.load());
  ApiOptions o = ApiTest::api_options();
  o.auth = &node2;
  Api api2(*store_, o);
  const std::string t = token("dr-who");
  const auto get = [&] {
    return api2.handle(make_request("GET", "/fhir/Patient/" + patient_a_, {}, {{"Authorization", "Bearer " + t}}));
  };
  EXPECT_EQ(get().status, 200);
  ASSERT_TRUE(provider_->set_disabled("dr-who", true));  // on the first node
  auto refused = get();
  EXPECT_EQ(refused.status, 401);
  EXPECT_NE(refused.body.find("disabled"), std::string::npos) << refused.body;
  ASSERT_TRUE(provider_->set_disabled("dr-who", false));
  EXPECT_EQ(get().status, 200);
}

TEST_F(SecurityTest, AProfessionalNeedsACareRelationship) {
  // Patient C has an open encounter at the GP's organisation: a relationship, though not registered.
  const std::string patient_c = seed("Patient", patient({}, "Charlie"));
  const std::string obs_c = seed("Observation", observation(patient_c, "8867-4"));
  // An advance care directive (a DNACPR decision: Consent scope adr, provision deny) is not a wish
  // about sharing: it must not close the record.
  seed("Consent",
       json::serialize(json::object{
           {"resourceType", "Consent"},
           {"status", "active"},
           {"scope", json::object{{"coding", json::array{json::object{
                                                 {"system", "http://terminology.hl7.org/CodeSystem/consentscope"},
                                                 {"code", "adr"}}}}}},
           {"category", json::array{json::object{{"coding", json::array{json::object{{"system", "http://loinc.org"},
                                                                                     {"code", "59284-0"}}}}}}},
           {"patient", json::object{{"reference", "Patient/" + patient_c}}},
           {"provision", json::object{{"type", "deny"}}}}));
  seed("Encounter",
       json::serialize(json::object{
           {"resourceType", "Encounter"},
           {"status", "in-progress"},
           {"class", json::object{{"system", "http://terminology.hl7.org/CodeSystem/v3-ActCode"}, {"code", "EMER"}}},
           {"subject", json::object{{"reference", "Patient/" + patient_c}}},
           {"serviceProvider", json::object{{"reference", "Organization/" + org_}}}}));
  const std::string gp = token("dr-who");
  EXPECT_EQ(as(gp, "GET", "/fhir/Observation/" + obs_a_).status, 200) << "registered practice";
  EXPECT_EQ(as(gp, "GET", "/fhir/Observation/" + obs_c).status, 200)
      << "open encounter (a DNACPR decision, Consent scope adr, is not dissent from sharing)";
  auto refused = as(gp, "GET", "/fhir/Observation/" + obs_b_);
  EXPECT_EQ(refused.status, 403);
  EXPECT_NE(refused.body.find("care relationship"), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("$break-glass"), std::string::npos) << refused.body;
  EXPECT_EQ(refused.body.find("Bravo"), std::string::npos);
  EXPECT_EQ(as(gp, "GET", "/fhir/Observation?patient=" + patient_b_).status, 403);
  EXPECT_EQ(as(gp, "GET", "/fhir/Patient/" + patient_b_ + "/$everything").status, 403);
  auto unscoped = as(gp, "GET", "/fhir/Observation?code=8867-4");
  EXPECT_EQ(unscoped.status, 403) << "one patient's record at a time";
  // Finding a patient (demographics) needs no relationship; their record does.
  auto found = as(gp, "GET", "/fhir/Patient?_revinclude=Observation:subject");
  ASSERT_EQ(found.status, 200) << found.body;
  const auto seen = ids_in(found);
  EXPECT_EQ(seen.count("Patient/" + patient_b_), 1U);
  EXPECT_EQ(seen.count("Observation/" + obs_b_), 0U) << "included data follows the relationship";
  EXPECT_EQ(seen.count("Observation/" + obs_a_), 1U);
  // Writing into a record needs the relationship too.
  EXPECT_EQ(as(gp, "POST", "/fhir/Observation", observation(patient_b_, "8310-5")).status, 403);
  EXPECT_EQ(as(gp, "POST", "/fhir/Observation", observation(patient_a_, "8310-5")).status, 201);
}

TEST_F(SecurityTest, BreakTheGlassIsTimeLimitedAuditedAndReviewed) {
  const std::string gp = token("dr-who");
  ASSERT_EQ(as(gp, "GET", "/fhir/Observation/" + obs_b_).status, 403);
  const auto params = [](const std::string& reason) {
    return json::serialize(
        json::object{{"resourceType", "Parameters"},
                     {"parameter", json::array{json::object{{"name", "reason"}, {"valueString", reason}}}}});
  };
  EXPECT_EQ(as(gp, "POST", "/fhir/Patient/" + patient_b_ + "/$break-glass", params("urgent")).status, 400)
      << "a reason of substance is required";
  EXPECT_EQ(as(token("analyst"), "POST", "/fhir/Patient/" + patient_b_ + "/$break-glass",
               params("unconscious in ED, no history available"))
                .status,
            403);
  auto granted = as(gp, "POST", "/fhir/Patient/" + patient_b_ + "/$break-glass",
                    params("unconscious in ED, no history available"));
  ASSERT_EQ(granted.status, 200) << granted.body;
  EXPECT_NE(granted.body.find("expires"), std::string::npos);
  EXPECT_EQ(as(gp, "GET", "/fhir/Observation/" + obs_b_).status, 200);
  recorder_->flush();
  store::AuditQuery q;
  q.patient = patient_b_;
  auto events = store_->audit_events(q);
  ASSERT_TRUE(events);
  int glass = 0;
  int emergency_reads = 0;
  for (const auto& e : *events) {
    if (text_of(e).find("break-glass") != std::string::npos &&
        text_of(e).find("unconscious in ED") != std::string::npos) {
      ++glass;
    }
    if (text_of(e).find(R"("code":"read")") != std::string::npos && text_of(e).find("ETREAT") != std::string::npos) {
      ++emergency_reads;
    }
  }
  EXPECT_EQ(glass, 1);
  EXPECT_GE(emergency_reads, 1);
  // The information-governance officer has a review Task.
  auto tasks = open_->handle(make_request("GET", "/fhir/Task?patient=" + patient_b_));
  ASSERT_EQ(tasks.status, 200);
  EXPECT_NE(tasks.body.find("review-emergency-access"), std::string::npos) << tasks.body;
}

TEST_F(SecurityTest, APatientsDissentIsHonoured) {
  const std::string gp = token("dr-who");
  // Dissent from sharing with the GP's organisation: even a relationship does not open the record.
  seed("Consent",
       json::serialize(json::object{
           {"resourceType", "Consent"},
           {"status", "active"},
           {"scope", json::object{{"coding", json::array{json::object{
                                                 {"system", "http://terminology.hl7.org/CodeSystem/consentscope"},
                                                 {"code", "patient-privacy"}}}}}},
           {"category", json::array{json::object{{"coding", json::array{json::object{{"system", "http://loinc.org"},
                                                                                     {"code", "59284-0"}}}}}}},
           {"patient", json::object{{"reference", "Patient/" + patient_a_}}},
           {"provision",
            json::object{{"type", "deny"},
                         {"actor", json::array{json::object{
                                       {"role", json::object{{"coding", json::array{json::object{{"code", "gp"}}}}}},
                                       {"reference", json::object{{"reference", "Organization/" + org_}}}}}}}}}));
  auto r = as(gp, "GET", "/fhir/Observation/" + obs_a_);
  EXPECT_EQ(r.status, 403);
  EXPECT_NE(r.body.find("not to be shared"), std::string::npos) << r.body;
}

/// A patient's dissent from one named organisation (as the patient app records it: R4 requires
/// provision.actor.role, here v3 IRCP "information recipient", and the reference names the organisation).
static std::string dissent_from_organisation(const std::string& patient_id, const std::string& org_id) {
  const auto coded = [](std::string_view system, std::string_view code) {
    return json::object{{"coding", json::array{json::object{{"system", system}, {"code", code}}}}};
  };
  json::object actor;
  actor["role"] = coded("http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "IRCP");
  actor["reference"] = json::object{{"reference", "Organization/" + org_id}, {"display", "Named"}};
  json::object consent;
  consent["resourceType"] = "Consent";
  consent["status"] = "active";
  consent["scope"] = coded("http://terminology.hl7.org/CodeSystem/consentscope", "patient-privacy");
  consent["category"] = json::array{coded("http://loinc.org", "59284-0")};
  consent["patient"] = json::object{{"reference", "Patient/" + patient_id}};
  consent["provision"] = json::object{{"type", "deny"}, {"actor", json::array{std::move(actor)}}};
  return json::serialize(consent);
}

TEST_F(SecurityTest, DissentFromANamedOrganisationStopsItsStaff) {
  seed("Consent", dissent_from_organisation(patient_a_, org_));
  auto r = as(token("dr-who"), "GET", "/fhir/Observation/" + obs_a_);
  EXPECT_EQ(r.status, 403) << "the GP works for the organisation the patient named";
  EXPECT_NE(r.body.find("not to be shared"), std::string::npos) << r.body;
}

TEST_F(SecurityTest, DissentFromAnotherNamedOrganisationLeavesTheRecordOpen) {
  const std::string other = seed("Organization", R"({"resourceType":"Organization","name":"Other Pharmacy"})");
  seed("Consent", dissent_from_organisation(patient_a_, other));
  EXPECT_EQ(as(token("dr-who"), "GET", "/fhir/Observation/" + obs_a_).status, 200)
      << "only the named organisation is refused";
}

TEST_F(SecurityTest, TokensFromATrustedExternalIdentityProvider) {
  // An external provider (as NHS login would be) with its own keys, trusted by issuer and JWKS.
  auto idp = auth::KeyRing::ephemeral();
  ASSERT_TRUE(
      provider_->trust_issuer("https://login.example", json::serialize(idp->jwks()), kAudience, auth::Role::patient));
  const auto claims = [&](const std::string& aud) {
    return json::object{{"iss", "https://login.example"},
                        {"aud", aud},
                        {"sub", "nhs-login-123"},
                        {"iat", now_s()},
                        {"nbf", now_s()},
                        {"exp", now_s() + 300},
                        {"scope", "patient/*.rs"},
                        {"patient", patient_a_}};
  };
  const std::string t = idp->sign(claims(kAudience));
  EXPECT_EQ(as(t, "GET", "/fhir/Observation/" + obs_a_).status, 200);
  EXPECT_EQ(as(t, "GET", "/fhir/Observation/" + obs_b_).status, 403) << "the patient claim scopes it";
  EXPECT_EQ(as(idp->sign(claims("https://other.example/fhir")), "GET", "/fhir/Observation/" + obs_a_).status, 401);
  // The same claims signed by a key the issuer never published.
  EXPECT_EQ(as(auth::KeyRing::ephemeral()->sign(claims(kAudience)), "GET", "/fhir/Observation/" + obs_a_).status, 401);
}

TEST_F(SecurityTest, AnExternalProvidersRotatedKeysArePickedUpFromItsJwksFile) {
  auth::ProviderOptions po;
  po.issuer = kIssuer;
  po.audience = kAudience;
  po.jwks_recheck_seconds = 0;  // read the file on every token (the default is a minute)
  po.jwks_retry_seconds = 0;
  auto provider = std::make_unique<auth::Provider>(*store_, ring_, po);
  ASSERT_TRUE(provider->load());
  ApiOptions o = ApiTest::api_options();
  o.auth = provider.get();
  Api api(*store_, o);
  const auto path = dir_ / "idp-jwks.json";
  const auto publish = [&](const auth::KeyRing& ring) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << json::serialize(ring.jwks());
  };
  auto first = auth::KeyRing::ephemeral();
  auto second = auth::KeyRing::ephemeral();
  publish(*first);
  ASSERT_TRUE(provider->trust_issuer_file("https://login.example", path.string(), kAudience, auth::Role::patient));
  const auto claims = json::object{{"iss", "https://login.example"},
                                   {"aud", kAudience},
                                   {"sub", "nhs-login-9"},
                                   {"iat", now_s()},
                                   {"nbf", now_s()},
                                   {"exp", now_s() + 300},
                                   {"scope", "patient/*.rs"},
                                   {"patient", patient_a_}};
  const auto get = [&](const std::string& t) {
    return api.handle(make_request("GET", "/fhir/Observation/" + obs_a_, {}, {{"Authorization", "Bearer " + t}}))
        .status;
  };
  EXPECT_EQ(get(first->sign(claims)), 200);
  EXPECT_EQ(get(second->sign(claims)), 401) << "not yet published";
  publish(*second);  // the provider rotates its keys
  EXPECT_EQ(get(second->sign(claims)), 200) << "the new key is read from the file";
  EXPECT_EQ(get(first->sign(claims)), 401) << "the old key is gone from the file";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << "{not json";
  EXPECT_EQ(get(second->sign(claims)), 200) << "a broken file keeps the keys last read";
}

TEST_F(SecurityTest, SensitiveRecordsAreShownOnlyToRolesThatNeedThem) {
  const auto labelled = [&](const std::string& code) {
    auto o = json::parse(observation(patient_a_, "72166-2")).as_object();
    o["meta"] = json::object{
        {"security",
         json::array{json::object{{"system", "https://ucr.nhs.example/fhir/CodeSystem/sensitivity"}, {"code", code}}}}};
    return seed("Observation", json::serialize(o));
  };
  const std::string mental = labelled("mental-health");
  const std::string safeguarding = labelled("safeguarding");
  add_user("pharm", auth::Role::community_pharmacist, {});
  add_user("sw", auth::Role::childrens_social_worker, {});
  struct Case {
    std::string user;
    bool sees_mental;
    bool sees_safeguarding;
  };
  for (const auto& c : std::vector<Case>{
           {"dr-who", true, true}, {"pharm", false, false}, {"pat-a", true, false}, {"sw", false, true}}) {
    const std::string t = token(c.user);
    EXPECT_EQ(as(t, "GET", "/fhir/Observation/" + mental).status, c.sees_mental ? 200 : 403) << c.user;
    EXPECT_EQ(as(t, "GET", "/fhir/Observation/" + safeguarding).status, c.sees_safeguarding ? 200 : 403) << c.user;
    auto found = as(t, "GET", "/fhir/Observation?patient=" + patient_a_ + "&_total=accurate");
    ASSERT_EQ(found.status, 200) << c.user << ": " << found.body;
    const auto ids = ids_in(found);
    EXPECT_EQ(ids.count("Observation/" + mental), c.sees_mental ? 1U : 0U) << c.user;
    EXPECT_EQ(ids.count("Observation/" + safeguarding), c.sees_safeguarding ? 1U : 0U) << c.user;
    EXPECT_EQ(str(body_of(found), {"total"}), std::to_string(ids.size())) << c.user << ": totals leak nothing";
    auto all = as(t, "GET", "/fhir/Patient/" + patient_a_ + "/$everything");
    if (all.status == 200) {
      EXPECT_EQ(ids_in(all).count("Observation/" + mental), c.sees_mental ? 1U : 0U) << c.user;
      EXPECT_EQ(ids_in(all).count("Observation/" + safeguarding), c.sees_safeguarding ? 1U : 0U) << c.user;
    }
  }
}

TEST_F(SecurityTest, ProxyAccessFollowsTheRelationshipAndTheChildsConsent) {
  const int year = std::stoi(core::format_instant(core::now_micros()).substr(0, 4));
  const auto person = [&](const std::string& family, int age) {
    return seed("Patient", json::serialize(json::object{{"resourceType", "Patient"},
                                                        {"name", json::array{json::object{{"family", family}}}},
                                                        {"birthDate", fmt::format("{}-01-01", year - age - 1)}}));
  };
  const auto related = [&](const std::string& pid, const std::string& code) {
    return seed(
        "RelatedPerson",
        json::serialize(json::object{
            {"resourceType", "RelatedPerson"},
            {"patient", json::object{{"reference", "Patient/" + pid}}},
            {"relationship",
             json::array{json::object{
                 {"coding", json::array{json::object{{"system", "http://terminology.hl7.org/CodeSystem/v3-RoleCode"},
                                                     {"code", code}}}}}}}}));
  };
  const auto proxy = [&](const std::string& name, const std::string& rp) {
    auth::UserSpec u;
    u.name = name;
    u.role = auth::Role::proxy;
    u.password = "correct horse battery";
    u.fhir_user = "RelatedPerson/" + rp;
    EXPECT_TRUE(provider_->add_user(u));
    return token(name);
  };
  const std::string child = person("Small", 6);
  const std::string teen = person("Teen", 14);
  const std::string consenting = person("Agreed", 14);
  const std::string mum = proxy("mum", related(child, "MTH"));
  const std::string dad = proxy("dad", related(teen, "FTH"));
  const std::string rp = related(consenting, "FTH");
  seed("Consent",
       json::serialize(json::object{
           {"resourceType", "Consent"},
           {"status", "active"},
           {"scope", json::object{{"coding", json::array{json::object{
                                                 {"system", "http://terminology.hl7.org/CodeSystem/consentscope"},
                                                 {"code", "patient-privacy"}}}}}},
           {"category", json::array{json::object{{"coding", json::array{json::object{{"system", "http://loinc.org"},
                                                                                     {"code", "59284-0"}}}}}}},
           {"patient", json::object{{"reference", "Patient/" + consenting}}},
           {"provision",
            json::object{{"type", "permit"},
                         {"actor", json::array{json::object{
                                       {"role", json::object{{"coding", json::array{json::object{{"code", "proxy"}}}}}},
                                       {"reference", json::object{{"reference", "RelatedPerson/" + rp}}}}}}}}}));
  const std::string agreed = proxy("dad2", rp);
  EXPECT_EQ(as(mum, "GET", "/fhir/Patient/" + child).status, 200) << "a parent of a child under 11";
  EXPECT_EQ(as(mum, "GET", "/fhir/Patient/" + teen).status, 403);
  auto refused = as(dad, "GET", "/fhir/Patient/" + teen);
  EXPECT_EQ(refused.status, 403) << "a child of 14 has not consented";
  EXPECT_NE(refused.body.find("consented"), std::string::npos) << refused.body;
  EXPECT_EQ(as(agreed, "GET", "/fhir/Patient/" + consenting).status, 200) << "the child consented";

  // A consent that shares only some of the record: immunisations and appointments, for a period.
  const auto consent = [&](const std::string& pid, const std::string& rp_id, const std::string& start,
                           const std::string& end, const json::array& classes) {
    json::object prov{{"type", "permit"},
                      {"period", json::object{{"start", start}, {"end", end}}},
                      {"actor", json::array{json::object{
                                    {"role", json::object{{"coding", json::array{json::object{{"code", "proxy"}}}}}},
                                    {"reference", json::object{{"reference", "RelatedPerson/" + rp_id}}}}}}};
    if (!classes.empty()) prov["class"] = classes;
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
             {"provision", prov}}));
  };
  const auto type_class = [](const char* t) {
    return json::object{{"system", "http://hl7.org/fhir/resource-types"}, {"code", t}};
  };
  const std::string limited_child = person("Limited", 13);
  const std::string limited_rp = related(limited_child, "MTH");
  consent(limited_child, limited_rp, "2020-01-01", "2999-12-31",
          json::array{type_class("Immunization"), type_class("Appointment")});
  const std::string limited = proxy("mum2", limited_rp);
  const std::string jab = seed(
      "Immunization", json::serialize(json::object{{"resourceType", "Immunization"},
                                                   {"status", "completed"},
                                                   {"vaccineCode", json::object{{"text", "MMR"}}},
                                                   {"patient", json::object{{"reference", "Patient/" + limited_child}}},
                                                   {"occurrenceDateTime", "2020-06-01"}}));
  const std::string problem = seed(
      "Condition", json::serialize(json::object{{"resourceType", "Condition"},
                                                {"code", json::object{{"text", "Sexual health consultation"}}},
                                                {"subject", json::object{{"reference", "Patient/" + limited_child}}}}));
  EXPECT_EQ(as(limited, "GET", "/fhir/Patient/" + limited_child).status, 200) << "the banner is always shared";
  EXPECT_EQ(as(limited, "GET", "/fhir/Immunization/" + jab).status, 200);
  auto hidden = as(limited, "GET", "/fhir/Condition/" + problem);
  EXPECT_EQ(hidden.status, 403) << "the consent does not share problems";
  EXPECT_NE(hidden.body.find("does not include Condition"), std::string::npos) << hidden.body;
  EXPECT_EQ(as(limited, "GET", "/fhir/Condition?patient=" + limited_child).status, 403);
  EXPECT_EQ(as(limited, "GET", "/fhir/Patient/" + limited_child + "/Condition").status, 403);
  auto jabs = as(limited, "GET", "/fhir/Immunization?patient=" + limited_child);
  ASSERT_EQ(jabs.status, 200) << jabs.body;
  EXPECT_EQ(ids_in(jabs).count("Immunization/" + jab), 1U);
  auto all = as(limited, "GET", "/fhir/Patient/" + limited_child + "/$everything");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(ids_in(all).count("Immunization/" + jab), 1U);
  EXPECT_EQ(ids_in(all).count("Condition/" + problem), 0U) << "$everything keeps to what is shared";
  EXPECT_EQ(ids_in(all).count("Patient/" + limited_child), 1U);
  auto write = as(limited, "POST", "/fhir/Condition",
                  json::serialize(json::object{{"resourceType", "Condition"},
                                               {"code", json::object{{"text", "x"}}},
                                               {"subject", json::object{{"reference", "Patient/" + limited_child}}}}));
  EXPECT_EQ(write.status, 403) << "nor can they add what is not shared";

  // A consent whose period has ended shares nothing.
  const std::string lapsed_child = person("Lapsed", 12);
  const std::string lapsed_rp = related(lapsed_child, "FTH");
  consent(lapsed_child, lapsed_rp, "2019-01-01", "2020-01-01", json::array{});
  const std::string lapsed = proxy("dad3", lapsed_rp);
  EXPECT_EQ(as(lapsed, "GET", "/fhir/Patient/" + lapsed_child).status, 403) << "the consent has ended";
}

// Hostile input in every search parameter and path segment: answered with a 4xx (or an empty
// result), never a 5xx, never a change, never another patient's data.
TEST_F(SecurityTest, InjectionAndTraversalAttemptsChangeNothing) {
  const std::vector<std::string> payloads{"' OR 1=1 --",
                                          "\"; DROP TABLE resource_version; --",
                                          "Robert'); DELETE FROM ucr_meta;--",
                                          "../../etc/passwd",
                                          "..%2F..%2Fetc%2Fpasswd",
                                          "<script>alert(1)</script>",
                                          std::string("nul\0byte", 8),
                                          "%",
                                          "\\",
                                          "Patient/../AuditEvent",
                                          std::string(5000, 'a'),
                                          "gt1900-01-01' --",
                                          "*",
                                          "$everything",
                                          "_history"};
  const std::vector<std::string> params{"name",
                                        "family",
                                        "identifier",
                                        "_id",
                                        "_sort",
                                        "_count",
                                        "birthdate",
                                        "_include",
                                        "gender",
                                        "_has:Observation:subject:code",
                                        "general-practitioner"};
  add_user("int", auth::Role::integration, {});
  const std::string integration = token("int");
  const std::string pat = token("pat-a");
  const std::size_t before = version_count();
  int answered = 0;
  for (const auto& p : payloads) {
    const std::string enc = form_encode(p);
    for (const auto& param : params) {
      for (const auto* t : {&integration, &pat}) {
        auto r = as(*t, "GET", "/fhir/Patient?" + param + "=" + enc);
        EXPECT_LT(r.status, 500) << param << "=" << p << ": " << r.body;
        if (t == &pat) {
          EXPECT_EQ(r.body.find("Bravo"), std::string::npos) << param << "=" << p;
        }
        ++answered;
      }
    }
    auto named = as(integration, "GET", "/fhir/Patient?" + enc + "=1");
    EXPECT_LT(named.status, 500) << p << ": " << named.body;
    for (const std::string& path :
         {"/fhir/" + enc, "/fhir/Patient/" + enc, "/fhir/Patient/" + patient_a_ + "/" + enc,
          "/fhir/Patient/" + enc + "/_history/" + enc, "/fhir/Patient/" + enc + "/$everything"}) {
      for (const char* method : {"GET", "DELETE"}) {
        auto r = as(integration, method, path);
        EXPECT_LT(r.status, 500) << method << " " << path << ": " << r.body;
        auto q = as(pat, method, path);
        EXPECT_LT(q.status, 500) << method << " " << path << ": " << q.body;
        EXPECT_EQ(q.body.find("Bravo"), std::string::npos) << path;
        answered += 2;
      }
    }
  }
  EXPECT_GT(answered, 300);
  EXPECT_EQ(version_count(), before) << "hostile input changed the record";
  EXPECT_TRUE(store_->check_integrity());
  EXPECT_EQ(as(integration, "GET", "/fhir/Patient/" + patient_b_).status, 200) << "the record is still there";
}

// Every role against a resource of each class: read, search and $everything give exactly what the
// documented policy (docs/security.md) allows, and nothing of a refused class appears anywhere.
TEST_F(SecurityTest, AnalystsSeeDeIdentifiedDataOnly) {
  const std::string person = seed(
      "Patient",
      R"({"resourceType":"Patient","identifier":[{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}],
          "name":[{"family":"Quill","given":["Petra"]}],"telecom":[{"system":"phone","value":"01634 000000"}],
          "gender":"female","birthDate":"1961-04-17",
          "address":[{"line":["1 High Street"],"city":"Gillingham","postalCode":"ME7 1AA","country":"GB"}],
          "generalPractitioner":[{"reference":"Organization/)" +
          org_ + R"("}]})");
  const std::string obs = seed(
      "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8867-4"}]},
          "subject":{"reference":"Patient/)" +
          person + R"(","display":"Petra Quill"},"note":[{"text":"Petra said her neighbour Jo helps"}],
          "valueQuantity":{"value":80,"unit":"/min"}})");
  const std::string t = token("analyst");
  auto read = as(t, "GET", "/fhir/Patient/" + person);
  ASSERT_EQ(read.status, 200) << read.body;
  for (const char* gone : {"Quill", "Petra", "9434765919", "01634", "High Street", "Gillingham", "1961-04-17"}) {
    EXPECT_EQ(read.body.find(gone), std::string::npos) << gone << " in " << read.body;
  }
  const auto p = body_of(read);
  EXPECT_EQ(str(p, {"birthDate"}), "1961");
  EXPECT_EQ(str(p, {"gender"}), "female");
  EXPECT_NE(read.body.find("\"postalCode\":\"ME7\""), std::string::npos) << read.body;
  EXPECT_NE(read.body.find("PSEUDED"), std::string::npos) << read.body;
  EXPECT_NE(read.body.find("Organization/" + org_), std::string::npos) << "the practice stays";

  auto found = as(t, "GET", "/fhir/Observation?code=8867-4&_include=Observation:subject&_total=accurate");
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(ids_in(found).count("Observation/" + obs), 1U);
  EXPECT_EQ(ids_in(found).count("Patient/" + person), 1U) << "records of one person can still be joined";
  for (const char* gone : {"Quill", "Petra", "neighbour", "9434765919"}) {
    EXPECT_EQ(found.body.find(gone), std::string::npos) << gone << " in " << found.body;
  }
  auto count = as(t, "GET", "/fhir/Observation?code=8867-4&_summary=count");
  ASSERT_EQ(count.status, 200) << count.body;
  EXPECT_EQ(str(body_of(count), {"total"}), "3") << "aggregates";
  auto all = as(t, "GET", "/fhir/Patient/" + person + "/$everything");
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.body.find("Quill"), std::string::npos);
  // Searches that would re-identify someone are refused, and say why.
  for (const std::string q :
       {"/fhir/Patient?name=Quill", "/fhir/Patient?family=Quill", "/fhir/Patient?identifier=9434765919",
        "/fhir/Patient?birthdate=1961-04-17", "/fhir/Patient?address-postalcode=ME71AA",
        "/fhir/Observation?subject.name=Quill", "/fhir/Patient?_sort=family", "/fhir/Patient?phone=01634000000",
        "/fhir/Observation?patient.identifier=9434765919", "/fhir/Patient?_content=Quill"}) {
    auto refused = as(t, "GET", q);
    EXPECT_EQ(refused.status, 403) << q << ": " << refused.body;
    EXPECT_NE(refused.body.find("de-identified"), std::string::npos) << q << ": " << refused.body;
  }
  EXPECT_EQ(call("POST", "/fhir/Patient/_search", "name=Quill",
                 HeaderList{{"Authorization", "Bearer " + t}, {"Content-Type", "application/x-www-form-urlencoded"}})
                .status,
            403);
  auto by_year = as(t, "GET", "/fhir/Patient?birthdate=ge1960&birthdate=le1962&address-postalcode=ME7");
  ASSERT_EQ(by_year.status, 200) << by_year.body;
  EXPECT_EQ(ids_in(by_year).count("Patient/" + person), 1U);
  EXPECT_EQ(
      as(t, "POST", "/fhir/Patient/$match",
         R"({"resourceType":"Parameters","parameter":[{"name":"resource","resource":{"resourceType":"Patient","name":[{"family":"Quill"}]}}]})")
          .status,
      403);
  // Read only.
  EXPECT_EQ(as(t, "POST", "/fhir/Observation", observation(person, "8867-4")).status, 403);
}

TEST_F(SecurityTest, RoleMatrixMatchesTheDocumentedPolicy) {
  struct Item {
    std::string type;
    std::string id;
  };
  const std::vector<Item> items{
      {"Observation", obs_a_},
      {"Task",
       seed("Task", json::serialize(json::object{{"resourceType", "Task"},
                                                 {"status", "requested"},
                                                 {"intent", "order"},
                                                 {"for", json::object{{"reference", "Patient/" + patient_a_}}}}))},
      {"Patient", patient_a_},
      {"Organization", org_},
      {"Consent",
       seed(
           "Consent",
           json::serialize(json::object{
               {"resourceType", "Consent"},
               {"status", "active"},
               {"scope", json::object{{"coding", json::array{json::object{
                                                     {"system", "http://terminology.hl7.org/CodeSystem/consentscope"},
                                                     {"code", "patient-privacy"}}}}}},
               {"category", json::array{json::object{{"coding", json::array{json::object{{"system", "http://loinc.org"},
                                                                                         {"code", "59284-0"}}}}}}},
               {"patient", json::object{{"reference", "Patient/" + patient_a_}}},
               {"provision", json::object{{"type", "permit"}}}}))},
      {"MedicationRequest",
       seed("MedicationRequest",
            json::serialize(json::object{{"resourceType", "MedicationRequest"},
                                         {"status", "active"},
                                         {"intent", "order"},
                                         {"medicationCodeableConcept", json::object{{"text", "Ramipril 5mg capsules"}}},
                                         {"subject", json::object{{"reference", "Patient/" + patient_a_}}}}))},
  };
  // Expected reads, one letter per item above: Observation, Task, Patient, Organization, Consent,
  // MedicationRequest (Y allowed, n refused).
  const std::vector<std::pair<auth::Role, std::string>> expected{
      {auth::Role::gp, "YYYYYY"},
      {auth::Role::hospital_clinician, "YYYYYY"},
      {auth::Role::community_nurse, "YYYYYY"},
      {auth::Role::mental_health_clinician, "YYYYYY"},
      {auth::Role::paramedic, "YYYYYY"},
      {auth::Role::out_of_hours_clinician, "YYYYYY"},
      {auth::Role::community_pharmacist, "YYYYYY"},
      {auth::Role::optometrist, "YnYYYY"},
      {auth::Role::care_home_staff, "YnYYYY"},
      {auth::Role::adult_social_worker, "YYYYYn"},
      {auth::Role::childrens_social_worker, "YYYYYn"},
      {auth::Role::patient, "YYYYYY"},
      {auth::Role::proxy, "YYYYYY"},
      {auth::Role::analyst, "YYYYYY"},  // de-identified: see AnalystsSeeDeIdentifiedDataOnly
      // h: hidden, the read refused and the search answered without it (review Tasks only).
      {auth::Role::data_quality_officer, "nhYYnn"},
      {auth::Role::administrator, "nYYYnn"},
      {auth::Role::integration, "YYYYYY"},
  };
  ASSERT_EQ(expected.size(), auth::all_roles().size());
  for (const auto& [role, allowed] : expected) {
    const std::string name = "m-" + std::string(auth::role_code(role));
    add_user(name, role,
             auth::is_patient_facing(role) ? std::vector<std::string>{patient_a_} : std::vector<std::string>{});
    const std::string t = token(name);
    for (std::size_t i = 0; i < items.size(); ++i) {
      const auto& [type, id] = items[i];
      const bool yes = allowed[i] == 'Y';
      const bool hidden = allowed[i] == 'h';
      auto read = as(t, "GET", "/fhir/" + type + "/" + id);
      EXPECT_EQ(read.status, yes ? 200 : 403) << name << " read " << type << ": " << read.body;
      const std::string query = type == "Organization" ? "/fhir/Organization?_id=" + id
                                : type == "Patient"    ? "/fhir/Patient?_id=" + id
                                                       : "/fhir/" + type + "?patient=" + patient_a_;
      auto found = as(t, "GET", query + "&_total=accurate");
      if (yes || hidden) {
        EXPECT_EQ(found.status, 200) << name << " search " << type << ": " << found.body;
        EXPECT_EQ(ids_in(found).count(type + "/" + id), yes ? 1U : 0U) << name << " search " << type;
      } else {
        EXPECT_EQ(found.status, 403) << name << " search " << type << ": " << found.body;
        EXPECT_EQ(found.body.find(id), std::string::npos) << name << " search " << type;
      }
    }
    // $everything: exactly the readable classes, nothing else.
    auto all = as(t, "GET", "/fhir/Patient/" + patient_a_ + "/$everything");
    if (allowed[2] == 'n') {
      EXPECT_EQ(all.status, 403) << name;
      continue;
    }
    ASSERT_EQ(all.status, 200) << name << ": " << all.body;
    const auto seen = ids_in(all);
    for (std::size_t i = 0; i < items.size(); ++i) {
      if (items[i].type == "Organization") continue;  // $everything includes the practice only when referenced
      EXPECT_EQ(seen.count(items[i].type + "/" + items[i].id), allowed[i] == 'Y' ? 1U : 0U)
          << name << " $everything " << items[i].type;
    }
  }
}

TEST_F(SecurityTest, ContainedMatchesAreSeenOnlyByThoseWhoMaySeeTheirContainers) {
  // R4 search.html#contained: a contained resource is part of its container, so it is visible only
  // where the container is. A and B each have a prescription holding the same contained Medication.
  const auto prescription = [](const std::string& patient_id) {
    return json::serialize(json::object{
        {"resourceType", "MedicationRequest"},
        {"status", "active"},
        {"intent", "order"},
        {"subject", json::object{{"reference", "Patient/" + patient_id}}},
        {"medicationReference", json::object{{"reference", "#med"}}},
        {"contained",
         json::array{json::object{
             {"resourceType", "Medication"},
             {"id", "med"},
             {"code", json::object{{"coding", json::array{json::object{{"system", "http://snomed.info/sct"},
                                                                       {"code", "322236009"}}}}}}}}}});
  };
  const std::string mr_a = seed("MedicationRequest", prescription(patient_a_));
  const std::string mr_b = seed("MedicationRequest", prescription(patient_b_));
  const std::string query = "/fhir/Medication?code=322236009&_contained=true";
  // Unrestricted, the search finds both.
  const auto all = open_->handle(make_request("GET", query + "&_total=accurate"));
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(ids_in(all), (std::set<std::string>{"MedicationRequest/" + mr_a, "MedicationRequest/" + mr_b}));
  EXPECT_EQ(str(body_of(all), {"total"}), "2");
  // An administrator may search Medications but not read prescriptions: neither the containers nor
  // what they contain are shown.
  const auto admin = as(token("admin"), "GET", query + "&_containedType=contained&_total=accurate");
  ASSERT_EQ(admin.status, 200) << admin.body;
  EXPECT_TRUE(ids_in(admin).empty()) << admin.body;
  EXPECT_EQ(body_of(admin).if_contains("total"), nullptr) << admin.body;
  // The patient: only what their own record holds, counted within it.
  const std::string pat = token("pat-a");
  const auto own = as(pat, "GET", query);
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(ids_in(own), (std::set<std::string>{"MedicationRequest/" + mr_a}));
  const auto own_contained = as(pat, "GET", query + "&_containedType=contained");
  ASSERT_EQ(own_contained.status, 200) << own_contained.body;
  const auto own_body = body_of(own_contained);
  ASSERT_EQ(own_body.at("entry").as_array().size(), 1U) << own_contained.body;
  EXPECT_EQ(str(own_body, {"entry", "0", "fullUrl"}), std::string(kBase) + "/MedicationRequest/" + mr_a + "#med");
  EXPECT_EQ(str(body_of(as(pat, "GET", query + "&_summary=count")), {"total"}), "1");
  // The GP has a relationship with A only: B's prescription and its Medication are not shown, and
  // no total tells of them; a count across records is refused.
  const std::string gp = token("dr-who");
  const auto mine = as(gp, "GET", query + "&_total=accurate");
  ASSERT_EQ(mine.status, 200) << mine.body;
  EXPECT_EQ(ids_in(mine), (std::set<std::string>{"MedicationRequest/" + mr_a}));
  EXPECT_EQ(body_of(mine).if_contains("total"), nullptr) << mine.body;
  const auto contained = as(gp, "GET", query + "&_containedType=contained");
  ASSERT_EQ(contained.status, 200) << contained.body;
  EXPECT_EQ(contained.body.find(mr_b), std::string::npos) << contained.body;
  EXPECT_NE(contained.body.find(mr_a + "#med"), std::string::npos) << contained.body;
  EXPECT_EQ(as(gp, "GET", query + "&_summary=count").status, 403);
  EXPECT_EQ(as(gp, "GET", "/fhir/Patient/" + patient_b_ + "/Medication?code=322236009&_contained=true").status, 403);
  EXPECT_EQ(
      str(body_of(as(gp, "GET",
                     "/fhir/Patient/" + patient_a_ + "/Medication?code=322236009&_contained=true&_summary=count")),
          {"total"}),
      "1");
}

}  // namespace
}  // namespace ucr::api::testing
