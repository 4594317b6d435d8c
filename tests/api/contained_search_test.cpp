// Searches of contained resources (R4 search.html#contained: _contained, _containedType) through the
// Api, on SQLite and (api_search_tests_postgres) PostgreSQL: each mode, chains through `#id`
// references, paging, counts, sorting, includes, containers deleted or changed, and the errors.
#include "api_fixture.hpp"

#include <sqlite3.h>

#include <map>
#include <set>

namespace ucr::api::testing {
namespace {

constexpr const char* kSnomed = "http://snomed.info/sct";

/// A Medication (contained when `id` is local) coded `code`, with form `form` when given.
json::object medication(const std::string& id, const std::string& code, const std::string& form = {}) {
  json::object m{{"resourceType", "Medication"},
                 {"id", id},
                 {"code", json::object{{"coding", json::array{json::object{{"system", kSnomed}, {"code", code}}}}}}};
  if (!form.empty()) {
    m["form"] = json::object{{"coding", json::array{json::object{{"system", kSnomed}, {"code", form}}}}};
  }
  return m;
}

/// A MedicationRequest for `patient_id` holding `contained` and naming `medication` ("#med1" or
/// "Medication/x").
std::string medication_request(const std::string& id, const std::string& patient_id, json::array contained,
                               const std::string& medication) {
  json::object r{{"resourceType", "MedicationRequest"},
                 {"id", id},
                 {"status", "active"},
                 {"intent", "order"},
                 {"subject", json::object{{"reference", "Patient/" + patient_id}}},
                 {"medicationReference", json::object{{"reference", medication}}}};
  if (!contained.empty()) r["contained"] = std::move(contained);
  return json::serialize(r);
}

class ContainedSearchTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    ASSERT_EQ(put("Patient", "pat1", patient("pat1", "Ash")).status, 201);
  }

  /// Stores a MedicationRequest (created or updated).
  void request(const std::string& id, json::array contained, const std::string& medication = "#med1") {
    const auto r = put("MedicationRequest", id, medication_request(id, "pat1", std::move(contained), medication));
    ASSERT_TRUE(r.status == 200 || r.status == 201) << r.body;
  }

  Response get(const std::string& target, const HeaderList& headers = {}) { return call("GET", target, {}, headers); }

  /// The fullUrls of the matches of a search (one page), in order, without the base.
  std::vector<std::string> matches(const std::string& target) {
    const auto r = get(target);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    return match_urls(body_of(r));
  }

  static std::vector<std::string> match_urls(const json::object& bundle) {
    std::vector<std::string> out;
    const auto* entries = bundle.if_contains("entry");
    if (entries == nullptr) return out;
    for (const auto& e : entries->as_array()) {
      if (str(e, {"search", "mode"}) != "match") continue;
      std::string url = str(e, {"fullUrl"});
      if (url.rfind(kBase, 0) == 0) url = url.substr(std::string(kBase).size() + 1);
      out.push_back(url);
    }
    return out;
  }

  static std::set<std::string> as_set(const std::vector<std::string>& v) { return {v.begin(), v.end()}; }
};

TEST_F(ContainedSearchTest, OrdinarySearchesDoNotSeeContainedResources) {
  request("mr1", json::array{medication("med1", "111")});
  EXPECT_TRUE(matches("/fhir/Medication?code=111").empty());
  EXPECT_TRUE(matches("/fhir/Medication?code=111&_contained=false").empty());
  EXPECT_TRUE(matches("/fhir/Medication").empty());
  // The container is found by its own parameters as before.
  EXPECT_EQ(matches("/fhir/MedicationRequest?subject=Patient/pat1"),
            (std::vector<std::string>{"MedicationRequest/mr1"}));
}

TEST_F(ContainedSearchTest, ContainedTrueReturnsTheContainers) {
  request("mr1", json::array{medication("med1", "111")});
  request("mr2", json::array{medication("med1", "222")});
  ASSERT_EQ(put("Medication", "m1", json::serialize(medication("m1", "111"))).status, 201);
  const auto r = get("/fhir/Medication?code=" + std::string(kSnomed) + "|111&_contained=true&_total=accurate");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto b = body_of(r);
  EXPECT_EQ(match_urls(b), (std::vector<std::string>{"MedicationRequest/mr1"}));
  EXPECT_EQ(str(b, {"total"}), "1");
  // The entry is the container as stored, contained Medication and all.
  EXPECT_EQ(str(b, {"entry", "0", "resource", "resourceType"}), "MedicationRequest");
  EXPECT_EQ(str(b, {"entry", "0", "resource", "contained", "0", "id"}), "med1");
  // _containedType=container is the default, and says the same.
  EXPECT_EQ(matches("/fhir/Medication?code=111&_contained=true&_containedType=container"),
            (std::vector<std::string>{"MedicationRequest/mr1"}));
}

TEST_F(ContainedSearchTest, ContainedTypeContainedReturnsTheContainedResourcesThemselves) {
  request("mr1", json::array{medication("med1", "111"), medication("med2", "111", "tablet")});
  const auto r = get("/fhir/Medication?code=111&_contained=true&_containedType=contained");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto b = body_of(r);
  EXPECT_EQ(match_urls(b), (std::vector<std::string>{"MedicationRequest/mr1#med1", "MedicationRequest/mr1#med2"}));
  EXPECT_EQ(str(b, {"entry", "0", "fullUrl"}), std::string(kBase) + "/MedicationRequest/mr1#med1");
  EXPECT_EQ(str(b, {"entry", "0", "resource", "resourceType"}), "Medication");
  EXPECT_EQ(str(b, {"entry", "0", "resource", "id"}), "med1");
  EXPECT_EQ(str(b, {"entry", "1", "resource", "form", "coding", "0", "code"}), "tablet");
  // A container with two matching contained resources is one container match.
  EXPECT_EQ(matches("/fhir/Medication?code=111&_contained=true"), (std::vector<std::string>{"MedicationRequest/mr1"}));
  // _id is the contained resource's local id.
  EXPECT_EQ(matches("/fhir/Medication?_id=med2&_contained=true&_containedType=contained"),
            (std::vector<std::string>{"MedicationRequest/mr1#med2"}));
}

TEST_F(ContainedSearchTest, EveryFilterMatchesTheSameContainedResource) {
  // med1 has the code, med2 the form: no single contained Medication has both.
  request("mr1", json::array{medication("med1", "111", "capsule"), medication("med2", "222", "tablet")});
  EXPECT_TRUE(matches("/fhir/Medication?code=111&form=tablet&_contained=true").empty());
  EXPECT_EQ(matches("/fhir/Medication?code=111&form=capsule&_contained=true&_containedType=contained"),
            (std::vector<std::string>{"MedicationRequest/mr1#med1"}));
  EXPECT_EQ(matches("/fhir/Medication?code=111,222&_contained=true&_containedType=contained"),
            (std::vector<std::string>{"MedicationRequest/mr1#med1", "MedicationRequest/mr1#med2"}));
}

TEST_F(ContainedSearchTest, BothReturnsResourcesAndContainedMatchesTogether) {
  request("mr1", json::array{medication("med1", "111")});
  ASSERT_EQ(put("Medication", "m1", json::serialize(medication("m1", "111"))).status, 201);
  ASSERT_EQ(put("Medication", "m2", json::serialize(medication("m2", "999"))).status, 201);
  EXPECT_EQ(as_set(matches("/fhir/Medication?code=111&_contained=both")),
            (std::set<std::string>{"Medication/m1", "MedicationRequest/mr1"}));
  EXPECT_EQ(as_set(matches("/fhir/Medication?code=111&_contained=both&_containedType=contained")),
            (std::set<std::string>{"Medication/m1", "MedicationRequest/mr1#med1"}));
  const auto counted = body_of(get("/fhir/Medication?code=111&_contained=both&_summary=count"));
  EXPECT_EQ(str(counted, {"total"}), "2");
  EXPECT_EQ(counted.if_contains("entry") == nullptr || counted.at("entry").as_array().empty(), true);
}

TEST_F(ContainedSearchTest, PagesReachEveryMatchOnceAndCountsAgree) {
  std::set<std::string> want;
  for (int i = 0; i < 7; ++i) {
    const std::string id = "mr" + std::to_string(i);
    request(id, json::array{medication("med1", "111")});
    want.insert("MedicationRequest/" + id + "#med1");
  }
  request("other", json::array{medication("med1", "222")});
  std::string next = "/fhir/Medication?code=111&_contained=true&_containedType=contained&_count=3&_total=accurate";
  std::multiset<std::string> seen;
  int pages = 0;
  while (!next.empty() && pages < 10) {
    const auto r = get(next);
    ASSERT_EQ(r.status, 200) << next << " " << r.body;
    const auto b = body_of(r);
    EXPECT_EQ(str(b, {"total"}), "7");
    const auto urls = match_urls(b);
    EXPECT_LE(urls.size(), 3U);
    seen.insert(urls.begin(), urls.end());
    next.clear();
    for (const auto& l : b.at("link").as_array()) {
      if (str(l, {"relation"}) == "next") next = str(l, {"url"});
    }
    ++pages;
  }
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), want);
  EXPECT_EQ(seen.size(), want.size());  // none twice
  EXPECT_EQ(str(body_of(get("/fhir/Medication?code=111&_contained=true&_summary=count")), {"total"}), "7");
  EXPECT_EQ(str(body_of(get("/fhir/Medication?code=111&_contained=true&_count=0")), {"total"}), "7");
}

TEST_F(ContainedSearchTest, CursorPagesStayExactWhileContainersChange) {
  for (const char* id : {"b", "d", "f", "h"}) request(id, json::array{medication("med1", "111")});
  const auto first = get("/fhir/Medication?code=111&_contained=true&_containedType=contained&_count=2");
  ASSERT_EQ(first.status, 200) << first.body;
  const auto b1 = body_of(first);
  EXPECT_EQ(match_urls(b1), (std::vector<std::string>{"MedicationRequest/b#med1", "MedicationRequest/d#med1"}));
  std::string next;
  for (const auto& l : b1.at("link").as_array()) {
    if (str(l, {"relation"}) == "next") next = str(l, {"url"});
  }
  ASSERT_NE(next.find("_after="), std::string::npos) << next;
  // Between pages: a match already seen is deleted and one that sorts before the cursor is added.
  const auto gone = call("DELETE", "/fhir/MedicationRequest/b");
  ASSERT_TRUE(gone.status == 200 || gone.status == 204) << gone.body;
  request("a", json::array{medication("med1", "111")});
  EXPECT_EQ(matches(next), (std::vector<std::string>{"MedicationRequest/f#med1", "MedicationRequest/h#med1"}));
  // Sorted (descending codes), the cursor carries the sort value too.
  request("x", json::array{medication("med1", "222")});
  const auto sorted = body_of(get("/fhir/Medication?_contained=true&_sort=-code&_count=2"));
  EXPECT_EQ(match_urls(sorted), (std::vector<std::string>{"MedicationRequest/x", "MedicationRequest/a"}));
  std::string more;
  for (const auto& l : sorted.at("link").as_array()) {
    if (str(l, {"relation"}) == "next") more = str(l, {"url"});
  }
  ASSERT_FALSE(more.empty());
  EXPECT_EQ(matches(more), (std::vector<std::string>{"MedicationRequest/d", "MedicationRequest/f"}));
}

TEST_F(ContainedSearchTest, SortOrdersContainedMatchesByTheirOwnValues) {
  request("a", json::array{medication("med1", "300")});
  request("b", json::array{medication("med1", "100")});
  request("c", json::array{medication("med1", "200")});
  EXPECT_EQ(matches("/fhir/Medication?_contained=true&_sort=code"),
            (std::vector<std::string>{"MedicationRequest/b", "MedicationRequest/c", "MedicationRequest/a"}));
  EXPECT_EQ(matches("/fhir/Medication?_contained=true&_containedType=contained&_sort=-code&_count=2"),
            (std::vector<std::string>{"MedicationRequest/a#med1", "MedicationRequest/c#med1"}));
}

TEST_F(ContainedSearchTest, ADeletedContainerHidesWhatItContained) {
  request("mr1", json::array{medication("med1", "111")});
  ASSERT_EQ(matches("/fhir/Medication?code=111&_contained=true").size(), 1U);
  const auto deleted = call("DELETE", "/fhir/MedicationRequest/mr1");
  ASSERT_TRUE(deleted.status == 200 || deleted.status == 204) << deleted.body;
  EXPECT_TRUE(matches("/fhir/Medication?code=111&_contained=true").empty());
  EXPECT_TRUE(matches("/fhir/Medication?code=111&_contained=true&_containedType=contained").empty());
  EXPECT_EQ(str(body_of(get("/fhir/Medication?code=111&_contained=true&_summary=count")), {"total"}), "0");
  EXPECT_TRUE(matches("/fhir/MedicationRequest?medication.code=111").empty());
}

TEST_F(ContainedSearchTest, AnUpdatedContainerIsSearchedAsItIsNow) {
  request("mr1", json::array{medication("med1", "111"), medication("med2", "555")});
  request("mr1", json::array{medication("med1", "222")});  // med1 recoded, med2 gone
  EXPECT_TRUE(matches("/fhir/Medication?code=111&_contained=true").empty());
  EXPECT_TRUE(matches("/fhir/Medication?code=555&_contained=true").empty());
  EXPECT_EQ(matches("/fhir/Medication?code=222&_contained=true&_containedType=contained"),
            (std::vector<std::string>{"MedicationRequest/mr1#med1"}));
  EXPECT_EQ(matches("/fhir/MedicationRequest?medication.code=222"),
            (std::vector<std::string>{"MedicationRequest/mr1"}));
  EXPECT_TRUE(matches("/fhir/MedicationRequest?medication.code=111").empty());
  // No contained resources any more: nothing of them is left to find.
  request("mr1", json::array{}, "Medication/elsewhere");
  EXPECT_TRUE(matches("/fhir/Medication?_contained=true").empty());
}

TEST_F(ContainedSearchTest, ChainsFollowReferencesToContainedResources) {
  request("mr1", json::array{medication("med1", "111")});
  ASSERT_EQ(put("Medication", "m2", json::serialize(medication("m2", "111"))).status, 201);
  request("mr2", json::array{}, "Medication/m2");
  request("mr3", json::array{medication("med1", "999")});
  // Also a contained Medication that nothing refers to: a chain does not reach it.
  request("mr4", json::array{medication("med1", "999"), medication("loose", "111")});
  EXPECT_EQ(as_set(matches("/fhir/MedicationRequest?medication.code=111")),
            (std::set<std::string>{"MedicationRequest/mr1", "MedicationRequest/mr2"}));
  EXPECT_EQ(as_set(matches("/fhir/MedicationRequest?medication.code=" + std::string(kSnomed) + "|111&status=active")),
            (std::set<std::string>{"MedicationRequest/mr1", "MedicationRequest/mr2"}));
  EXPECT_EQ(as_set(matches("/fhir/MedicationRequest?medication:Medication.code=999")),
            (std::set<std::string>{"MedicationRequest/mr3", "MedicationRequest/mr4"}));
  EXPECT_TRUE(matches("/fhir/MedicationRequest?medication.code=404").empty());
  // The chain checked on the candidates of another filter (the subject drives the search).
  EXPECT_EQ(as_set(matches("/fhir/MedicationRequest?subject=Patient/pat1&medication.code=111")),
            (std::set<std::string>{"MedicationRequest/mr1", "MedicationRequest/mr2"}));
  EXPECT_EQ(as_set(matches("/fhir/MedicationRequest?subject=Patient/pat1&medication.code=999&_id=mr4")),
            (std::set<std::string>{"MedicationRequest/mr4"}));
  // The reference to a contained resource counts as present.
  EXPECT_TRUE(matches("/fhir/MedicationRequest?medication:missing=true").empty());
}

TEST_F(ContainedSearchTest, IncludesStartFromTheContainers) {
  request("mr1", json::array{medication("med1", "111")});
  const auto b = body_of(get("/fhir/Medication?code=111&_contained=true&_include=MedicationRequest:subject"));
  std::set<std::string> included;
  for (const auto& e : b.at("entry").as_array()) {
    if (str(e, {"search", "mode"}) == "include") included.insert(str(e, {"resource", "id"}));
  }
  EXPECT_EQ(included, (std::set<std::string>{"pat1"}));
}

TEST_F(ContainedSearchTest, CompartmentSearchesFindWhatThePatientsContainersHold) {
  request("mr1", json::array{medication("med1", "111")});
  ASSERT_EQ(put("Patient", "pat2", patient("pat2", "Birch")).status, 201);
  ASSERT_EQ(put("MedicationRequest", "mr2",
                medication_request("mr2", "pat2", json::array{medication("med1", "111")}, "#med1"))
                .status,
            201);
  EXPECT_EQ(matches("/fhir/Patient/pat2/Medication?code=111&_contained=true"),
            (std::vector<std::string>{"MedicationRequest/mr2"}));
  EXPECT_EQ(matches("/fhir/Patient/pat1/Medication?code=111&_contained=true&_containedType=contained"),
            (std::vector<std::string>{"MedicationRequest/mr1#med1"}));
}

TEST_F(ContainedSearchTest, InvalidValuesAre400NamingTheParameterOrWarningsWhenLenient) {
  request("mr1", json::array{medication("med1", "111")});
  for (const auto& [url, param] : std::vector<std::pair<std::string, std::string>>{
           {"/fhir/Medication?_contained=yes", "_contained"},
           {"/fhir/Medication?_contained=true&_containedType=inner", "_containedType"},
           {"/fhir/Medication?_contained=true&_after=mr1", "_after"},
           {"/fhir/?_type=Medication,Observation&_contained=true", "_contained"},
       }) {
    const auto r = get(url);
    EXPECT_EQ(r.status, 400) << url << " " << r.body;
    const auto ex = expressions(body_of(r));
    EXPECT_NE(std::find(ex.begin(), ex.end(), param), ex.end()) << url << " " << r.body;
  }
  // Lenient: the bad value is ignored (the default applies) with a warning naming it.
  const auto r =
      get("/fhir/Medication?code=111&_contained=true&_containedType=inner", {{"prefer", "handling=lenient"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto b = body_of(r);
  EXPECT_EQ(match_urls(b), (std::vector<std::string>{"MedicationRequest/mr1"}));
  bool warned = false;
  for (const auto& e : b.at("entry").as_array()) {
    if (str(e, {"search", "mode"}) != "outcome") continue;
    EXPECT_EQ(str(e, {"resource", "issue", "0", "severity"}), "warning");
    EXPECT_EQ(str(e, {"resource", "issue", "0", "expression", "0"}), "_containedType");
    warned = true;
  }
  EXPECT_TRUE(warned);
}

TEST_F(ContainedSearchTest, ConditionalInteractionsRefuseContainedCriteria) {
  request("mr1", json::array{medication("med1", "111")});
  const auto r = call("POST", "/fhir/Medication", json::serialize(medication("m9", "111")),
                      {{"if-none-exist", "code=111&_contained=true"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(expressions(body_of(r)), (std::vector<std::string>{"_contained"}));
  EXPECT_TRUE(matches("/fhir/Medication").empty()) << "nothing was created";
}

TEST_F(ContainedSearchTest, TheCapabilityStatementOffersContainedSearch) {
  const auto cs = body_of(get("/fhir/metadata"));
  bool contained = false;
  bool contained_type = false;
  for (const auto& res : cs.at("rest").at(0).at("resource").as_array()) {
    if (str(res, {"type"}) != "Medication") continue;
    for (const auto& p : res.at("searchParam").as_array()) {
      contained = contained || str(p, {"name"}) == "_contained";
      contained_type = contained_type || str(p, {"name"}) == "_containedType";
    }
  }
  EXPECT_TRUE(contained);
  EXPECT_TRUE(contained_type);
}

TEST_F(ContainedSearchTest, ADatabaseFromBeforeContainedIndexingIsReindexedWhenOpened) {
  if (const char* pg = std::getenv("UCR_TEST_POSTGRES"); pg != nullptr && *pg != '\0') {
    GTEST_SKIP() << "SQLite schema upgrade; PostgreSQL's is migration 4";
  }
  request("mr1", json::array{medication("med1", "111")});
  api_.reset();
  store_.reset();
  {
    // What an older ucr left: schema version 4, no rows for contained resources.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "ucr.db").c_str(), &db), SQLITE_OK);
    std::string sql = "UPDATE ucr_meta SET value = '4' WHERE key = 'schema_version';";
    for (const char* t : {"idx_string", "idx_token", "idx_reference", "idx_date", "idx_number", "idx_quantity",
                          "idx_uri", "idx_composite"}) {
      sql += std::string("DELETE FROM ") + t + " WHERE rid < 0;";
    }
    ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = open_test_store(dir_);
  ASSERT_TRUE(s) << s.error().message();
  store_ = std::move(*s);
  api_ = std::make_unique<Api>(*store_, api_options());
  api_->wait_for_reindex();
  EXPECT_EQ(matches("/fhir/Medication?code=111&_contained=true"), (std::vector<std::string>{"MedicationRequest/mr1"}));
  EXPECT_FALSE(store_->get_meta(store::kContainedReindexKey)->has_value());
  EXPECT_EQ(store_->get_meta("schema_version")->value_or(""), "5");
}

}  // namespace
}  // namespace ucr::api::testing
