// Patient identity at the API: NHS numbers (Modulus 11, canonical form) and Patient/$match.
#include "api_fixture.hpp"

#include "api/detail/identity.hpp"
#include "mpi/blocking.hpp"
#include "mpi/record.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ucr::api::testing {
namespace {

constexpr const char* kNhs = "https://fhir.nhs.uk/Id/nhs-number";

std::string person(const std::string& given, const std::string& family, const std::string& birth,
                   const std::string& postcode, const std::string& nhs = {}, const std::string& gender = "male") {
  json::object p{{"resourceType", "Patient"},
                 {"name", json::array{json::object{{"family", family}, {"given", json::array{json::string(given)}}}}},
                 {"gender", gender},
                 {"birthDate", birth},
                 {"address", json::array{json::object{{"postalCode", postcode}}}}};
  if (!nhs.empty()) p["identifier"] = json::array{json::object{{"system", kNhs}, {"value", nhs}}};
  return json::serialize(p);
}

std::string match_request(const std::string& patient, std::optional<bool> only_certain = std::nullopt) {
  json::array params{json::object{{"name", "resource"}, {"resource", json::parse(patient)}}};
  if (only_certain) params.push_back(json::object{{"name", "onlyCertainMatches"}, {"valueBoolean", *only_certain}});
  return json::serialize(json::object{{"resourceType", "Parameters"}, {"parameter", std::move(params)}});
}

class IdentityTest : public ApiTest {
 protected:
  [[nodiscard]] ApiOptions api_options() const override { return ApiOptions{}; }

  std::string create(const std::string& body) {
    auto r = call("POST", "/fhir/Patient", body);
    EXPECT_EQ(r.status, 201) << r.body;
    return str(body_of(r), {"id"});
  }

  struct Match {
    std::string id;
    double score;
    std::string grade;
  };
  std::vector<Match> match(const std::string& body) {
    auto r = call("POST", "/fhir/Patient/$match", body);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<Match> out;
    const auto b = body_of(r);
    EXPECT_EQ(str(b, {"type"}), "searchset");
    for (const auto& e : b.at("entry").as_array()) {
      const auto& s = e.at("search").as_object();
      std::string grade;
      std::string explained;
      for (const auto& x : s.at("extension").as_array()) {
        if (x.at("url") == "http://hl7.org/fhir/StructureDefinition/match-grade") {
          grade = std::string(x.at("valueCode").as_string());
        } else {
          explained = json::serialize(x);
        }
      }
      EXPECT_NE(explained.find("birth_date"), std::string::npos) << "every score is explained: " << explained;
      out.push_back(Match{str(e, {"resource", "id"}), s.at("score").to_number<double>(), grade});
    }
    return out;
  }
};

TEST_F(IdentityTest, NhsNumbersAreStoredInCanonicalForm) {
  for (const char* written : {"9449306060", "944 930 6060", "944-930-6060"}) {
    const std::string id = create(person("Ann", "Lee", "1980-01-02", "ME14 5AB", written));
    const auto stored = body_of(call("GET", "/fhir/Patient/" + id));
    EXPECT_EQ(str(stored.at("identifier").as_array()[0], {"value"}), "9449306060") << written;
  }
  auto found = body_of(call("GET", std::string("/fhir/Patient?identifier=") + kNhs + "|9449306060"));
  EXPECT_EQ(found.at("entry").as_array().size(), 3U);
}

TEST_F(IdentityTest, EveryBlockingKeyIsReadFromIndexRowsThePatientsHoldingItHave) {
  // One person with every kind of key: an NHS number and a local identifier (read from identifier
  // rows), a birth date whose day and month could be swapped (birthdate rows), a postcode, names and
  // a phone (rows of their own).
  json::object p = json::parse(person("Amara", "Okafor", "1970-03-12", "ME14 1AA", "9449306060")).as_object();
  p["identifier"].as_array().push_back(json::object{{"system", "urn:ucr:test:mrn"}, {"value", "MRN-77"}});
  p["telecom"] = json::array{json::object{{"system", "phone"}, {"value", "01622 000111"}}};
  const std::string a = create(json::serialize(p));
  const std::string swapped = create(person("Amara", "Okafor", "1970-12-03", "CT1 1AA"));
  const std::string other = create(person("Zed", "Young", "1981-07-21", "TN1 1AA"));
  auto record = mpi::record_from_patient(p);
  ASSERT_TRUE(record);
  const auto keys = mpi::blocking_keys(*record);
  for (const std::string_view kind : {"nhs:", "id:", "dob:", "sx:", "gi:", "nm:", "tel:"}) {
    EXPECT_TRUE(std::any_of(keys.begin(), keys.end(), [&](const std::string& k) { return k.starts_with(kind); }))
        << kind;
  }
  for (const auto& key : keys) {
    const auto lookups = detail::key_lookups(key);
    ASSERT_FALSE(lookups.empty()) << key;
    auto found = store_->key_rids("Patient", lookups, 50);
    ASSERT_TRUE(found) << found.error().message();
    std::vector<std::int64_t> rids;
    for (const auto& block : *found) rids.insert(rids.end(), block.begin(), block.end());
    auto stored = store_->read_rids("Patient", rids);
    ASSERT_TRUE(stored) << stored.error().message();
    std::set<std::string> ids;
    for (const auto& r : *stored) ids.insert(r.info.id);
    EXPECT_TRUE(ids.contains(a)) << key;
    EXPECT_FALSE(ids.contains(other)) << key;
    // The birth date's block holds the swapped date too.
    if (key.starts_with("dob:")) {
      EXPECT_TRUE(ids.contains(swapped)) << key;
    }
  }
  // Identifiers and birth dates are read from their search rows and keep no rows of their own.
  const auto nhs = detail::key_lookups("nhs:9449306060");
  ASSERT_EQ(nhs.size(), 1u);
  EXPECT_EQ(nhs[0].param, "identifier");
  EXPECT_EQ(nhs[0].system, kNhs);
  const auto mrn = detail::key_lookups("id:urn:ucr:test:mrn|MRN|77");
  ASSERT_EQ(mrn.size(), 1u);
  EXPECT_EQ(mrn[0].system, "urn:ucr:test:mrn");
  EXPECT_EQ(mrn[0].code, "MRN|77");
  EXPECT_EQ(detail::key_lookups("dob:1970-03-12").size(), 2u);
  EXPECT_EQ(detail::key_lookups("dob:1970-03-13").size(), 1u);  // 13 is no month
  EXPECT_EQ(detail::key_lookups("dob:1970-03-03").size(), 1u);
  EXPECT_EQ(detail::key_lookups("dob:1970-03-12")[0].kind, store::IndexKey::Kind::kDate);
  EXPECT_EQ(detail::key_lookups("sx:O210|ME14")[0].param, detail::kMatchKeyParam);
  search::IndexRows rows;
  detail::add_match_keys(json::value(p), rows);
  for (const auto& t : rows.tokens) {
    EXPECT_FALSE(t.code.starts_with("nhs:") || t.code.starts_with("id:") || t.code.starts_with("dob:")) << t.code;
  }
  EXPECT_FALSE(rows.tokens.empty());
}

TEST_F(IdentityTest, AnInvalidNhsNumberIsRefusedWithItsLocationAndNothingIsStored) {
  auto r = call("POST", "/fhir/Patient", person("Ann", "Lee", "1980-01-02", "ME14 5AB", "4477127821"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("Patient.identifier[0].value"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("check digit"), std::string::npos) << r.body;
  EXPECT_EQ(call("POST", "/fhir/Patient", person("Ann", "Lee", "1980-01-02", "ME14", "12345")).status, 400);
  // In a transaction the whole Bundle is refused.
  const std::string bundle = json::serialize(json::object{
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry",
       json::array{json::object{{"resource", json::parse(person("A", "B", "1990-01-01", "CT1 1AA"))},
                                {"request", json::object{{"method", "POST"}, {"url", "Patient"}}}},
                   json::object{{"resource", json::parse(person("C", "D", "1990-01-01", "CT1 1AA", "4477127821"))},
                                {"request", json::object{{"method", "POST"}, {"url", "Patient"}}}}}}});
  auto t = call("POST", "/fhir", bundle);
  EXPECT_EQ(t.status, 400) << t.body;
  EXPECT_NE(t.body.find("Bundle.entry[1]"), std::string::npos) << t.body;
  auto all = body_of(call("GET", "/fhir/Patient"));
  EXPECT_EQ(all.if_contains("entry") == nullptr ? 0U : all.at("entry").as_array().size(), 0U);
  // A local identifier of another system is not an NHS number and is kept as written.
  json::object local = json::parse(person("E", "F", "1990-01-01", "CT1 1AA")).as_object();
  local["identifier"] = json::array{json::object{{"system", "https://trust.example/mrn"}, {"value", "K-001 2"}}};
  EXPECT_EQ(call("POST", "/fhir/Patient", json::serialize(local)).status, 201);
}

TEST_F(IdentityTest, MatchFindsThePersonDespiteANicknameAndRanksByScore) {
  const std::string william = create(person("William", "Smith", "1970-03-12", "ME14 5AB", "9000000009"));
  const std::string twin = create(person("Thomas", "Smith", "1970-03-12", "ME14 5AB"));
  create(person("Priya", "Patel", "1985-07-30", "CT1 2QQ", "", "female"));
  const auto found = match(match_request(person("Bill", "Smith", "1970-03-12", "ME14 5AB")));
  ASSERT_FALSE(found.empty());
  EXPECT_EQ(found[0].id, william);
  EXPECT_NE(found[0].grade, "certainly-not");
  for (std::size_t i = 1; i < found.size(); ++i) EXPECT_LE(found[i].score, found[i - 1].score);
  for (const auto& m : found) {
    if (m.id == twin) {
      EXPECT_NE(m.grade, "certain") << "a twin is never a certain match";
    }
  }
}

TEST_F(IdentityTest, AnAgreeingNhsNumberIsACertainMatchAndADifferentOneIsNone) {
  const std::string william = create(person("William", "Smith", "1970-03-12", "ME14 5AB", "9000000009"));
  auto certain = match(match_request(person("Will", "Smyth", "1970-03-12", "ME14 5AB", "900 000 0009"), true));
  ASSERT_EQ(certain.size(), 1U);
  EXPECT_EQ(certain[0].id, william);
  EXPECT_EQ(certain[0].grade, "certain");
  const auto other = match(match_request(person("William", "Smith", "1971-05-01", "CT1 2QQ", "9449306060")));
  for (const auto& m : other) EXPECT_NE(m.grade, "certain");
}

TEST_F(IdentityTest, MatchRefusesInputItCannotUse) {
  EXPECT_EQ(call("POST", "/fhir/Patient/$match", R"({"resourceType":"Parameters"})").status, 400);
  EXPECT_EQ(call("POST", "/fhir/Patient/$match", R"({"resourceType":"Observation"})").status, 400);
  EXPECT_EQ(call("POST", "/fhir/Patient/$match", "{").status, 400);
  EXPECT_EQ(call("POST", "/fhir/Patient/$match", R"({"resourceType":"Patient"})").status, 400);
  EXPECT_EQ(call("GET", "/fhir/Patient/$match").status, 405);
  auto r = call("POST", "/fhir/Patient/$match",
                R"({"resourceType":"Parameters","parameter":[{"name":"count","valueInteger":0}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("Parameters.parameter[0]"), std::string::npos) << r.body;
}

std::string merge_request(const std::string& source, const std::string& target) {
  return json::serialize(json::object{
      {"resourceType", "Parameters"},
      {"parameter", json::array{json::object{{"name", "source-patient"},
                                             {"valueReference", json::object{{"reference", "Patient/" + source}}}},
                                json::object{{"name", "target-patient"},
                                             {"valueReference", json::object{{"reference", "Patient/" + target}}}}}}});
}

bool links_to(const json::object& patient, const std::string& type, const std::string& other) {
  const auto* links = patient.if_contains("link");
  if (links == nullptr) return false;
  for (const auto& l : links->as_array()) {
    if (l.at("type") == type.c_str() && l.at("other").at("reference") == ("Patient/" + other).c_str()) return true;
  }
  return false;
}

TEST_F(IdentityTest, MergeMarksBothRecordsAndUnmergeRestoresThem) {
  const std::string keep = create(person("William", "Smith", "1970-03-12", "ME14 5AB", "9000000009"));
  const std::string dup = create(person("Bill", "Smith", "1970-03-12", "ME14 5AB"));
  auto m = call("POST", "/fhir/Patient/$merge", merge_request(dup, keep));
  ASSERT_EQ(m.status, 200) << m.body;
  const auto source = body_of(call("GET", "/fhir/Patient/" + dup));
  const auto target = body_of(call("GET", "/fhir/Patient/" + keep));
  EXPECT_TRUE(links_to(source, "replaced-by", keep)) << json::serialize(source);
  EXPECT_EQ(source.at("active"), false) << "a merged-away record says so when read";
  EXPECT_TRUE(links_to(target, "replaces", dup));
  EXPECT_EQ(body_of(call("GET", "/fhir/Patient?link=Patient/" + keep)).at("entry").as_array().size(), 1U)
      << "the merged-away record is found from the survivor";
  auto prov = body_of(call("GET", "/fhir/Provenance"));
  ASSERT_EQ(prov.at("entry").as_array().size(), 1U);
  EXPECT_NE(json::serialize(prov).find("\"code\":\"merge\""), std::string::npos);

  EXPECT_EQ(call("POST", "/fhir/Patient/$merge", merge_request(dup, keep)).status, 409) << "already merged";
  const std::string third = create(person("Ann", "Lee", "1980-01-02", "CT1 2QQ"));
  EXPECT_EQ(call("POST", "/fhir/Patient/$merge", merge_request(third, dup)).status, 409)
      << "never into a merged-away record";

  auto u = call("POST", "/fhir/Patient/$unmerge", merge_request(dup, keep));
  ASSERT_EQ(u.status, 200) << u.body;
  const auto restored = body_of(call("GET", "/fhir/Patient/" + dup));
  EXPECT_FALSE(links_to(restored, "replaced-by", keep));
  EXPECT_EQ(restored.if_contains("active") == nullptr || restored.at("active") == true, true);
  EXPECT_FALSE(links_to(body_of(call("GET", "/fhir/Patient/" + keep)), "replaces", dup));
  EXPECT_EQ(body_of(call("GET", "/fhir/Provenance")).at("entry").as_array().size(), 2U) << "both are recorded";
  EXPECT_EQ(call("POST", "/fhir/Patient/$unmerge", merge_request(dup, keep)).status, 409) << "nothing to undo";
}

TEST_F(IdentityTest, MergeRefusesBadInputAndChangesNothing) {
  const std::string a = create(person("Ann", "Lee", "1980-01-02", "CT1 2QQ"));
  EXPECT_EQ(call("POST", "/fhir/Patient/$merge", merge_request(a, a)).status, 400);
  EXPECT_EQ(call("POST", "/fhir/Patient/$merge", merge_request(a, "nobody")).status, 404);
  EXPECT_EQ(call("POST", "/fhir/Patient/$merge", R"({"resourceType":"Parameters"})").status, 400);
  EXPECT_EQ(call("GET", "/fhir/Patient/$merge").status, 405);
  EXPECT_EQ(str(body_of(call("GET", "/fhir/Patient/" + a)), {"meta", "versionId"}), "1");
}

std::string decision(const std::string& code, const std::string& survivor = {}, const std::string& note = {}) {
  json::array params{json::object{{"name", "decision"}, {"valueCode", code}}};
  if (!survivor.empty()) {
    params.push_back(
        json::object{{"name", "survivor"}, {"valueReference", json::object{{"reference", "Patient/" + survivor}}}});
  }
  if (!note.empty()) params.push_back(json::object{{"name", "note"}, {"valueString", note}});
  return json::serialize(json::object{{"resourceType", "Parameters"}, {"parameter", std::move(params)}});
}

TEST_F(IdentityTest, AReviewDecisionLinksMergesOrKeepsApartAndCanBeChanged) {
  const std::string keep = create(person("William", "Smith", "1970-03-12", "ME14 5AB", "9000000009"));
  const std::string maybe = create(person("Bill", "Smith", "1970-03-12", "CT9 1AA"));
  const auto tasks = body_of(call("GET", "/fhir/Task?focus=Patient/" + maybe));
  ASSERT_EQ(tasks.at("entry").as_array().size(), 1U) << json::serialize(tasks);
  const std::string task = str(tasks.at("entry").as_array()[0], {"resource", "id"});
  const std::string op = "/fhir/Task/" + task + "/$resolve-match";
  const auto patient = [&](const std::string& id) { return body_of(call("GET", "/fhir/Patient/" + id)); };
  const auto provenances = [&] {
    const auto b = body_of(call("GET", "/fhir/Provenance?_summary=count"));
    return b.at("total").as_int64();
  };

  // The same person, from two sources: linked, the Task completed with the decision and a note.
  auto r = call("POST", op, decision("link", {}, "Same mobile number on both records"));
  ASSERT_EQ(r.status, 200) << r.body;
  auto t = body_of(r);
  EXPECT_EQ(t.at("status"), "completed");
  EXPECT_EQ(t.at("output").as_array()[0].at("valueCode"), "link");
  EXPECT_NE(json::serialize(t.at("note")).find("Same mobile number on both records"), std::string::npos);
  EXPECT_TRUE(links_to(patient(maybe), "seealso", keep));
  EXPECT_EQ(provenances(), 1);
  const std::string version = str(t, {"meta", "versionId"});

  // The same decision again (a retry) changes nothing.
  r = call("POST", op, decision("link"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(body_of(r), {"meta", "versionId"}), version);
  EXPECT_EQ(provenances(), 1);

  // Changed to different people: the link is undone.
  r = call("POST", op, decision("distinct"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(links_to(patient(maybe), "seealso", keep));
  EXPECT_EQ(body_of(r).at("output").as_array()[0].at("valueCode"), "distinct");
  EXPECT_NE(json::serialize(body_of(r).at("note")).find("Decision changed"), std::string::npos);
  EXPECT_EQ(provenances(), 2) << "the unlink is recorded";

  // Changed to a merge, keeping the newer record: the older one is replaced and inactive.
  r = call("POST", op, decision("merge", maybe));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(links_to(patient(keep), "replaced-by", maybe));
  EXPECT_EQ(patient(keep).at("active"), false);
  EXPECT_TRUE(links_to(patient(maybe), "replaces", keep));
  EXPECT_EQ(provenances(), 3);

  // And back to a link: unmerged first, `active` restored, then linked.
  r = call("POST", op, decision("link"));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto kept = patient(keep);
  EXPECT_FALSE(links_to(kept, "replaced-by", maybe));
  EXPECT_NE(kept.at("active"), false);
  EXPECT_FALSE(links_to(patient(maybe), "replaces", keep));
  EXPECT_TRUE(links_to(patient(maybe), "seealso", keep));
  EXPECT_EQ(provenances(), 5) << "unmerge and link";
}

TEST_F(IdentityTest, AReviewDecisionRefusesBadInputAndChangesNothing) {
  const std::string keep = create(person("William", "Smith", "1970-03-12", "ME14 5AB", "9000000009"));
  const std::string maybe = create(person("Bill", "Smith", "1970-03-12", "CT9 1AA"));
  const auto tasks = body_of(call("GET", "/fhir/Task?focus=Patient/" + maybe));
  ASSERT_EQ(tasks.at("entry").as_array().size(), 1U);
  const std::string task = str(tasks.at("entry").as_array()[0], {"resource", "id"});
  const std::string op = "/fhir/Task/" + task + "/$resolve-match";
  const auto bad = [&](const std::string& body, int status, const std::string& says) {
    auto r = call("POST", op, body);
    EXPECT_EQ(r.status, status) << body << " -> " << r.body;
    EXPECT_NE(r.body.find(says), std::string::npos) << r.body;
  };
  bad(R"({"resourceType":"Parameters"})", 400, "give the decision");
  bad(decision("maybe"), 400, "Parameters.parameter[0].valueCode");
  bad(R"({"resourceType":"Parameters","parameter":[{"name":"why","valueString":"x"}]})", 400,
      "Parameters.parameter[0].name");
  bad(decision("link", keep), 400, "survivor is given only with the decision merge");
  const std::string stranger = create(person("Priya", "Patel", "1985-07-30", "CT1 2QQ", "", "female"));
  bad(decision("merge", stranger), 400, "one of the two records reviewed");
  bad(decision("link", {}, std::string(2001, 'x')), 400, "at most 2000 characters");
  bad("{", 400, "");
  EXPECT_EQ(call("GET", op).status, 405);
  EXPECT_EQ(call("POST", "/fhir/Task/nothing-here/$resolve-match", decision("link")).status, 404);
  auto plain = call("POST", "/fhir/Task", R"({"resourceType":"Task","status":"requested","intent":"order"})");
  ASSERT_EQ(plain.status, 201);
  EXPECT_EQ(call("POST", "/fhir/Task/" + str(body_of(plain), {"id"}) + "/$resolve-match", decision("link")).status,
            422);
  // Nothing was changed by any of these.
  const auto t = body_of(call("GET", "/fhir/Task/" + task));
  EXPECT_EQ(t.at("status"), "requested");
  EXPECT_EQ(body_of(call("GET", "/fhir/Patient/" + maybe)).if_contains("link"), nullptr);
  EXPECT_EQ(body_of(call("GET", "/fhir/Provenance?_summary=count")).at("total").as_int64(), 0);
  // A record merged away elsewhere cannot be linked: review the record that replaced it.
  ASSERT_EQ(call("POST", "/fhir/Patient/$merge", merge_request(keep, stranger)).status, 200);
  bad(decision("link"), 409, "merged into another record");
}

TEST_F(IdentityTest, AnArrivingRecordIsLinkedToItsOneCertainMatchOrQueuedForReview) {
  const std::string keep = create(person("William", "Smith", "1970-03-12", "ME14 5AB", "9000000009"));
  // The hospital's copy: same name, birth date, sex and postcode, a local number, no NHS number.
  json::object copy = json::parse(person("William", "Smith", "1970-03-12", "ME14 5AB")).as_object();
  copy["identifier"] = json::array{json::object{{"system", "https://mtw.example/mrn"}, {"value", "K123"}}};
  const std::string linked = create(json::serialize(copy));
  const auto stored = body_of(call("GET", "/fhir/Patient/" + linked));
  EXPECT_TRUE(links_to(stored, "seealso", keep)) << json::serialize(stored);
  EXPECT_EQ(body_of(call("GET", "/fhir/Task")).at("entry").as_array().size(), 0U) << "nothing to review";

  // A nickname at another address: probably the same person, for a person to decide.
  const std::string maybe = create(person("Bill", "Smith", "1970-03-12", "CT9 1AA"));
  const auto maybe_stored = body_of(call("GET", "/fhir/Patient/" + maybe));
  EXPECT_EQ(maybe_stored.if_contains("link"), nullptr) << "never linked without certainty";
  const auto tasks = body_of(call("GET", "/fhir/Task?focus=Patient/" + maybe));
  ASSERT_EQ(tasks.at("entry").as_array().size(), 1U) << json::serialize(tasks);
  const auto& task = tasks.at("entry").as_array()[0].at("resource");
  EXPECT_EQ(task.at("status"), "requested");
  EXPECT_NE(json::serialize(task).find("birth_date"), std::string::npos) << "the reason is explained";

  // Someone else entirely: neither linked nor queued.
  const std::string other = create(person("Priya", "Patel", "1985-07-30", "CT1 2QQ", "", "female"));
  EXPECT_EQ(body_of(call("GET", "/fhir/Patient/" + other)).if_contains("link"), nullptr);
  EXPECT_EQ(body_of(call("GET", "/fhir/Task")).at("entry").as_array().size(), 1U);
}

/// Copies of one person arriving at the same moment are each matched against a snapshot taken
/// before the others were written; they are matched again as they are written, so every copy but
/// the first is linked or queued for review, as when they arrive one after another.
TEST_F(IdentityTest, CopiesOfOnePersonArrivingAtOnceAreLinkedOrReviewedAsIfOneAfterAnother) {
  constexpr int kCopies = 12;
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    const std::string nhs = std::array<const char*, kRounds>{"9434765919", "9000000009", "9449306060"}[round];
    const std::string body = person("Amelia", fmt::format("Hartley{}", round), "1961-05-0" + std::to_string(round + 1),
                                    "ME15 6AB", nhs, "female");
    // Stale updates sent at the same moment fail in the writer, which then runs the other writes of
    // their group again: a create's second run must decide as its first would have.
    const std::string other = create(person("Oliver", fmt::format("Quinn{}", round), "1950-01-01", "CT1 1AA"));
    json::object stale =
        json::parse(person("Oliver", fmt::format("Quinn{}", round), "1950-01-01", "CT1 1AA")).as_object();
    stale["id"] = other;
    const std::string stale_body = json::serialize(stale);
    constexpr int kStale = 6;
    std::vector<std::string> ids(kCopies);
    std::atomic<int> ready{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    threads.reserve(kCopies + kStale);
    for (int i = 0; i < kCopies + kStale; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < kCopies + kStale) std::this_thread::yield();
        if (i >= kCopies) {
          auto r = call("PUT", "/fhir/Patient/" + other, stale_body, {{"If-Match", "W/\"99\""}});
          if (r.status == 412 || r.status == 409) refused.fetch_add(1);
          return;
        }
        auto r = call("POST", "/fhir/Patient", body);
        if (r.status == 201) ids[i] = str(body_of(r), {"id"});
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(refused.load(), kStale);
    int unconnected = 0;
    for (const auto& id : ids) {
      ASSERT_FALSE(id.empty());
      const auto stored = body_of(call("GET", "/fhir/Patient/" + id));
      const bool linked = stored.if_contains("link") != nullptr;
      const auto tasks = body_of(call("GET", "/fhir/Task?focus=Patient/" + id));
      const bool reviewed = !tasks.at("entry").as_array().empty();
      if (!linked && !reviewed) ++unconnected;
    }
    EXPECT_EQ(unconnected, 1) << "round " << round << ": only the first copy stands alone";
  }
}

/// Copies of one person arriving at the same moment, some as single creates and some in
/// transaction Bundles (two systems, one sending an admission, the other a batch): each Bundle's
/// Patient is matched again as it is written against the copies created meanwhile, and noted for
/// the copies written after it, so every copy but the first is linked or queued for review.
TEST_F(IdentityTest, CopiesArrivingAtOnceInBundlesAndAloneAreLinkedOrReviewed) {
  constexpr int kCopies = 12;
  constexpr int kRounds = 3;
  for (int round = 0; round < kRounds; ++round) {
    const std::string nhs = std::array<const char*, kRounds>{"9434765919", "9000000009", "9449306060"}[round];
    const std::string body = person("Grace", fmt::format("Okafor{}", round), "1972-08-1" + std::to_string(round + 1),
                                    "CT20 1QE", nhs, "female");
    std::vector<std::string> ids(kCopies);
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;
    threads.reserve(kCopies);
    for (int i = 0; i < kCopies; ++i) {
      threads.emplace_back([&, i] {
        ready.fetch_add(1);
        while (ready.load() < kCopies) std::this_thread::yield();
        if (i % 2 == 0) {
          auto r = call("POST", "/fhir/Patient", body);
          if (r.status == 201) ids[i] = str(body_of(r), {"id"});
          return;
        }
        json::object bundle{
            {"resourceType", "Bundle"},
            {"type", "transaction"},
            {"entry", json::array{json::object{
                          {"fullUrl", fmt::format("urn:uuid:0000000{}-0000-4000-8000-00000000000{}", round, i % 10)},
                          {"resource", json::parse(body)},
                          {"request", json::object{{"method", "POST"}, {"url", "Patient"}}}}}}};
        auto r = call("POST", "/fhir", json::serialize(bundle));
        if (r.status != 200) return;
        const std::string location(body_of(r).at("entry").at(0).at("response").at("location").as_string());
        ids[i] = location.substr(std::string("Patient/").size(), location.find("/_history") - 8);
      });
    }
    for (auto& t : threads) t.join();
    int unconnected = 0;
    for (const auto& id : ids) {
      ASSERT_FALSE(id.empty());
      const auto stored = body_of(call("GET", "/fhir/Patient/" + id));
      const bool linked = stored.if_contains("link") != nullptr;
      const auto tasks = body_of(call("GET", "/fhir/Task?focus=Patient/" + id));
      const bool reviewed = !tasks.at("entry").as_array().empty();
      if (!linked && !reviewed) ++unconnected;
    }
    EXPECT_EQ(unconnected, 1) << "round " << round << ": only the first copy stands alone";
  }
}

TEST_F(IdentityTest, RecentArrivalsTellWhatASnapshotSeesAndWhatCameAfter) {
  detail::RecentArrivals arrivals(*store_);
  const mpi::PatientRecord record;
  EXPECT_EQ(arrivals.visible(), 0U);
  const auto a = arrivals.add("a", {"k1", "k2"}, record);
  const auto b = arrivals.add("b", {"k3"}, record);
  const auto c = arrivals.add("c", {"k1"}, record);
  EXPECT_EQ(arrivals.visible(), 0U) << "nothing settled yet";
  arrivals.settle(a, true);
  EXPECT_EQ(arrivals.visible(), a);
  arrivals.settle(c, true);
  EXPECT_EQ(arrivals.visible(), a) << "b is still being written";
  arrivals.settle(b, false);
  EXPECT_EQ(arrivals.visible(), c);
  bool complete = false;
  auto after = arrivals.after(0, {"k1", "k3"}, complete);
  EXPECT_TRUE(complete);
  ASSERT_EQ(after.size(), 2U) << "b failed: forgotten";
  EXPECT_EQ(after[0].id, "a");
  EXPECT_EQ(after[1].id, "c");
  after = arrivals.after(a, {"k1"}, complete);
  ASSERT_EQ(after.size(), 1U);
  EXPECT_EQ(after[0].id, "c");
  EXPECT_TRUE(arrivals.after(c, {"k1"}, complete).empty());

  // Past kKeep the oldest are forgotten: a snapshot older than them is told so, and a write that
  // never settled does not hold visible() back.
  const auto stuck = arrivals.add("stuck", {"k9"}, record);
  for (std::size_t i = 0; i < detail::RecentArrivals::kKeep; ++i) {
    arrivals.settle(arrivals.add("p" + std::to_string(i), {"k9"}, record), true);
  }
  EXPECT_GT(arrivals.visible(), stuck);
  EXPECT_EQ(arrivals.after(0, {"k9"}, complete).size(), detail::RecentArrivals::kKeep)
      << "the forgotten ones (stuck among them) are not returned";
  EXPECT_FALSE(complete);
  (void)arrivals.after(arrivals.visible() - 1, {"k9"}, complete);
  EXPECT_TRUE(complete);
  EXPECT_TRUE(arrivals.after(0, {"k1", "k2", "k3"}, complete).empty()) << "a, b and c were forgotten";

  // An arrival sharing several of the keys asked about comes once; the others' order is kept.
  const auto before = arrivals.visible();
  const auto d = arrivals.add("d", {"x1", "x2", "x3"}, record);
  const auto e = arrivals.add("e", {"x3"}, record);
  arrivals.settle(e, false);
  const auto f = arrivals.add("f", {"x2"}, record);
  (void)d;
  (void)f;
  after = arrivals.after(before, {"x3", "x2", "x1"}, complete);
  ASSERT_EQ(after.size(), 2U) << "e failed: forgotten";
  EXPECT_EQ(after[0].id, "d");
  EXPECT_EQ(after[1].id, "f");
  EXPECT_EQ(arrivals.after(before, {"x3"}, complete).size(), 1U);
}

TEST_F(IdentityTest, ACopyMadeBeforeAMoveIsLinkedByThePreviousAddress) {
  // The person's record keeps the address they moved from; a hospital's out-of-date copy still holds it.
  json::object moved =
      json::parse(person("Margaret", "Hartley", "1948-05-14", "CT9 1AA", "9000000009", "female")).as_object();
  moved["address"].as_array().push_back(
      json::object{{"use", "old"}, {"postalCode", "ME14 5AB"}, {"period", json::object{{"end", "2021-06-30"}}}});
  moved["generalPractitioner"] = json::array{json::object{
      {"identifier", json::object{{"system", "https://fhir.nhs.uk/Id/ods-organization-code"}, {"value", "G82001"}}}}};
  const std::string keep = create(json::serialize(moved));
  const std::string stale = person("Margaret", "Hartley", "1948-05-14", "me14 5ab", "", "female");

  auto r = call("POST", "/fhir/Patient/$match", match_request(stale));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto answer = body_of(r);
  ASSERT_FALSE(answer.at("entry").as_array().empty()) << r.body;
  const auto& entry = answer.at("entry").as_array().at(0);
  EXPECT_EQ(str(entry, {"resource", "id"}), keep);
  const auto explained = json::serialize(entry.at("search"));
  EXPECT_NE(explained.find(R"("valueCode":"certain")"), std::string::npos) << explained;
  EXPECT_NE(explained.find(R"({"url":"corroboration","valueString":"previous address"})"), std::string::npos)
      << explained;
  EXPECT_NE(explained.find("ME14 5AB (previous)"), std::string::npos) << explained;

  // Only the GP practice besides name and birth date: queued for review, not linked.
  json::object same_practice =
      json::parse(person("Margaret", "Hartley", "1948-05-14", "TN1 1AA", "", "female")).as_object();
  same_practice["generalPractitioner"] = moved["generalPractitioner"];
  const std::string maybe = create(json::serialize(same_practice));
  EXPECT_EQ(body_of(call("GET", "/fhir/Patient/" + maybe)).if_contains("link"), nullptr);
  const auto tasks = body_of(call("GET", "/fhir/Task?focus=Patient/" + maybe));
  ASSERT_EQ(tasks.at("entry").as_array().size(), 1U) << json::serialize(tasks);
  EXPECT_NE(json::serialize(tasks).find("only the GP practice corroborates"), std::string::npos);

  // The out-of-date copy arriving is linked (the GP-only record is merely probable).
  const std::string linked = create(stale);
  EXPECT_TRUE(links_to(body_of(call("GET", "/fhir/Patient/" + linked)), "seealso", keep));
}

TEST_F(IdentityTest, TwinsAreNeverLinkedAutomatically) {
  const std::string first = create(person("Thomas", "Smith", "2001-06-01", "ME14 5AB"));
  const std::string twin = create(person("James", "Smith", "2001-06-01", "ME14 5AB"));
  EXPECT_EQ(body_of(call("GET", "/fhir/Patient/" + twin)).if_contains("link"), nullptr);
  EXPECT_EQ(body_of(call("GET", "/fhir/Patient/" + first)).if_contains("link"), nullptr);
}

TEST_F(IdentityTest, EverythingForAPersonGathersTheirLinkedAndMergedRecords) {
  const std::string gp = create(person("William", "Smith", "1970-03-12", "ME14 5AB", "9000000009"));
  json::object copy = json::parse(person("William", "Smith", "1970-03-12", "ME14 5AB")).as_object();
  copy["identifier"] = json::array{json::object{{"system", "https://mtw.example/mrn"}, {"value", "K123"}}};
  const std::string hospital = create(json::serialize(copy));  // linked on arrival (seealso)
  const std::string old_record = create(person("Ann", "Jones", "1955-01-01", "CT1 2QQ", "", "female"));
  const std::string other = create(person("Priya", "Patel", "1985-07-30", "CT1 2QQ", "", "female"));
  const auto observe = [&](const std::string& patient) {
    auto r = call(
        "POST", "/fhir/Observation",
        R"({"resourceType":"Observation","status":"final","code":{"text":"pulse"},"subject":{"reference":"Patient/)" +
            patient + R"("}})");
    EXPECT_EQ(r.status, 201) << r.body;
    return str(body_of(r), {"id"});
  };
  const std::string at_gp = observe(gp);
  const std::string at_hospital = observe(hospital);
  observe(other);
  const auto ids = [&](const std::string& patient) {
    std::set<std::string> out;
    const auto b = body_of(call("GET", "/fhir/Patient/" + patient + "/$everything"));
    for (const auto& e : b.at("entry").as_array()) {
      out.insert(str(e, {"resource", "resourceType"}) + "/" + str(e, {"resource", "id"}));
    }
    return out;
  };
  const std::set<std::string> person{"Patient/" + gp, "Patient/" + hospital, "Observation/" + at_gp,
                                     "Observation/" + at_hospital};
  EXPECT_EQ(ids(gp), person) << "from the record others link to";
  EXPECT_EQ(ids(hospital), person) << "from the linked record";
  // A merge joins the views too, and an unmerge separates them again.
  ASSERT_EQ(call("POST", "/fhir/Patient/$merge", merge_request(old_record, gp)).status, 200);
  EXPECT_EQ(ids(gp).count("Patient/" + old_record), 1U);
  ASSERT_EQ(call("POST", "/fhir/Patient/$unmerge", merge_request(old_record, gp)).status, 200);
  std::set<std::string> after = ids(gp);
  std::erase_if(after, [](const std::string& ref) { return ref.rfind("Provenance/", 0) == 0; });
  EXPECT_EQ(after, person) << "apart from the Provenance of the merge and unmerge, which stay on the record";
  EXPECT_EQ(ids(other).count("Patient/" + gp), 0U) << "someone else's record is never included";
}

TEST_F(IdentityTest, PatientsArrivingInATransactionAreLinkedToo) {
  const std::string stored = create(person("Priya", "Patel", "1985-07-30", "CT1 2QQ", "9449306060", "female"));
  json::object hospital = json::parse(person("William", "Smith", "1970-03-12", "ME14 5AB")).as_object();
  hospital["identifier"] = json::array{json::object{{"system", "https://mtw.example/mrn"}, {"value", "K9"}}};
  json::object council = json::parse(person("Priya", "Patel", "1985-07-30", "CT1 2QQ", "", "female")).as_object();
  council["identifier"] = json::array{json::object{{"system", "https://kent.example/mosaic"}, {"value", "M1"}}};
  const std::string gp_urn = "urn:uuid:5f3f8a8e-1b0c-4b5e-9d57-2a6f0a1c9001";
  const std::string bundle = json::serialize(json::object{
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry", json::array{json::object{{"fullUrl", gp_urn},
                                         {"resource", json::parse(person("William", "Smith", "1970-03-12", "ME14 5AB",
                                                                         "9000000009"))},
                                         {"request", json::object{{"method", "POST"}, {"url", "Patient"}}}},
                            json::object{{"fullUrl", "urn:uuid:5f3f8a8e-1b0c-4b5e-9d57-2a6f0a1c9002"},
                                         {"resource", hospital},
                                         {"request", json::object{{"method", "POST"}, {"url", "Patient"}}}},
                            json::object{{"fullUrl", "urn:uuid:5f3f8a8e-1b0c-4b5e-9d57-2a6f0a1c9003"},
                                         {"resource", council},
                                         {"request", json::object{{"method", "POST"}, {"url", "Patient"}}}},
                            json::object{{"fullUrl", "urn:uuid:5f3f8a8e-1b0c-4b5e-9d57-2a6f0a1c9004"},
                                         {"resource", json::parse(person("Bill", "Smith", "1970-03-12", "CT9 1AA"))},
                                         {"request", json::object{{"method", "POST"}, {"url", "Patient"}}}}}}});
  auto r = call("POST", "/fhir", bundle);
  ASSERT_EQ(r.status, 200) << r.body;
  const auto es = body_of(r).at("entry").as_array();
  ASSERT_EQ(es.size(), 4U) << "the response has one entry per request entry";
  const auto id_of = [&](std::size_t i) {
    const std::string loc = str(es[i], {"response", "location"});
    const auto start = loc.find("Patient/") + 8;
    return loc.substr(start, loc.find('/', start) - start);
  };
  const std::string gp = id_of(0);
  EXPECT_TRUE(links_to(body_of(call("GET", "/fhir/Patient/" + id_of(1))), "seealso", gp))
      << "linked to the record earlier in the same Bundle";
  EXPECT_TRUE(links_to(body_of(call("GET", "/fhir/Patient/" + id_of(2))), "seealso", stored))
      << "linked to the stored record";
  const auto tasks = body_of(call("GET", "/fhir/Task?focus=Patient/" + id_of(3)));
  ASSERT_EQ(tasks.at("entry").as_array().size(), 1U) << "the nickname at another address is queued for review";
  // Against the record earlier in the Bundle, explained field by field as a stored candidate is.
  const auto& task = tasks.at("entry").as_array()[0].at("resource");
  const std::string described = str(task, {"description"});
  EXPECT_NE(described.find("a Patient in the same Bundle"), std::string::npos) << described;
  EXPECT_NE(described.find("given_name: variant ('bill' / 'william'"), std::string::npos) << described;
  EXPECT_NE(described.find("postcode: "), std::string::npos) << described;
  EXPECT_NE(json::serialize(task.at("input")).find("Patient/" + gp), std::string::npos) << json::serialize(task);
}

TEST_F(IdentityTest, ABundleOfManyPatientsIsMatchedOnSeveralThreadsWithTheSameDecisions) {
  // Enough Patients in one transaction (an import's batch) to be matched on several threads: each
  // hospital copy is linked to its own stored record, and the strangers to nobody.
  const std::vector<std::string> given{"Amelia", "Oliver", "Isla",   "George", "Ava",   "Harry", "Mia",
                                       "Noah",   "Freya",  "Arthur", "Lily",   "Oscar", "Grace", "Leo",
                                       "Ivy",    "Jack",   "Rosie",  "Henry",  "Evie",  "Theo"};
  const std::vector<std::string> family{"Ashdown", "Brookes", "Caldwell", "Dunmore", "Easton",  "Fairlie", "Gosling",
                                        "Hartley", "Ingram",  "Jessop",   "Kettle",  "Lomax",   "Marwood", "Norbury",
                                        "Oakes",   "Pelling", "Quarrie",  "Rudd",    "Stanway", "Tolley"};
  std::vector<std::string> stored;
  json::array entries;
  for (std::size_t i = 0; i < given.size(); ++i) {
    const std::string birth = fmt::format("19{:02}-{:02}-{:02}", 40 + i, 1 + i % 12, 1 + i);
    const std::string postcode = fmt::format("ME{} {}AB", 1 + i, 1 + i % 9);
    const std::string gender = i % 2 == 0 ? "female" : "male";
    stored.push_back(create(person(given[i], family[i], birth, postcode, "", gender)));
    json::object copy = json::parse(person(given[i], family[i], birth, postcode, "", gender)).as_object();
    copy["identifier"] =
        json::array{json::object{{"system", "https://mtw.example/mrn"}, {"value", fmt::format("K{}", i)}}};
    entries.push_back(
        json::object{{"resource", copy}, {"request", json::object{{"method", "POST"}, {"url", "Patient"}}}});
  }
  const std::vector<std::array<std::string, 2>> strangers{
      {"Yusuf", "Quayle"}, {"Zara", "Vickery"}, {"Ciaran", "Wetherall"}, {"Wren", "Yardley"}};
  for (std::size_t i = 0; i < strangers.size(); ++i) {
    entries.push_back(json::object{
        {"resource", json::parse(person(strangers[i][0], strangers[i][1], fmt::format("2001-0{}-1{}", 1 + i, i),
                                        fmt::format("TN{} {}QQ", 20 + i, i)))},
        {"request", json::object{{"method", "POST"}, {"url", "Patient"}}}});
  }
  auto r = call("POST", "/fhir",
                json::serialize(json::object{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", entries}}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto es = body_of(r).at("entry").as_array();
  ASSERT_EQ(es.size(), given.size() + strangers.size());
  for (std::size_t i = 0; i < es.size(); ++i) {
    const std::string loc = str(es[i], {"response", "location"});
    const auto start = loc.find("Patient/") + 8;
    const auto created = body_of(call("GET", "/fhir/Patient/" + loc.substr(start, loc.find('/', start) - start)));
    if (i < given.size()) {
      EXPECT_TRUE(links_to(created, "seealso", stored[i])) << i << ": " << json::serialize(created);
      EXPECT_EQ(created.at("link").as_array().size(), 1U) << "linked to its own record only";
    } else {
      EXPECT_EQ(created.if_contains("link"), nullptr) << json::serialize(created);
    }
  }
  EXPECT_EQ(body_of(call("GET", "/fhir/Task")).at("entry").as_array().size(), 0U)
      << json::serialize(body_of(call("GET", "/fhir/Task")));
}

}  // namespace
}  // namespace ucr::api::testing
