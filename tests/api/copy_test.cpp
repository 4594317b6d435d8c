// `ucr admin copy`: an embedded store copied into another store (PostgreSQL when UCR_TEST_POSTGRES
// is set, as in api_tests_postgres; else a second embedded store) reads, searches and verifies the same.
#include "api/copy.hpp"
#include "api_fixture.hpp"
#include "audit/audit.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ucr::api::testing {
namespace {

class StoreCopy : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    std::string tmpl = (std::filesystem::temp_directory_path() / "ucr-copy-source-XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    ASSERT_NE(made, nullptr);
    source_dir_ = made;
    auto s = store::open_sqlite_store(store::SqliteOptions{source_dir_});
    ASSERT_TRUE(s) << s.error().message();
    source_ = std::move(*s);
    ApiOptions o;
    o.link_patients = false;
    source_api_ = std::make_unique<Api>(*source_, o);
  }

  void TearDown() override {
    source_api_.reset();
    source_.reset();
    std::error_code ec;
    std::filesystem::remove_all(source_dir_, ec);
    ApiTest::TearDown();
  }

  Response on_source(std::string method, std::string_view target, std::string body = {}) {
    return source_api_->handle(make_request(std::move(method), target, std::move(body)));
  }

  std::filesystem::path source_dir_;
  std::unique_ptr<store::Store> source_;
  std::unique_ptr<Api> source_api_;
};

TEST_F(StoreCopy, EveryVersionIndexBookkeepingValueAndAuditEntryArrivesAndVerifies) {
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    auto r = on_source("POST", "/fhir/Patient", patient({}, "Family" + std::to_string(i), "mrn-" + std::to_string(i)));
    ASSERT_EQ(r.status, 201) << r.body;
    ids.push_back(str(body_of(r), {"id"}));
  }
  ASSERT_EQ(on_source("PUT", "/fhir/Patient/" + ids[0], patient(ids[0], "Renamed", "mrn-0")).status, 200);
  ASSERT_EQ(on_source("DELETE", "/fhir/Patient/" + ids[1]).status, 204);
  auto obs =
      on_source("POST", "/fhir/Observation",
                R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org",)"
                R"("code":"8480-6"}]},"subject":{"reference":"Patient/)" +
                    ids[2] + R"("},"valueQuantity":{"value":150,"unit":"mmHg"}})");
  ASSERT_EQ(obs.status, 201) << obs.body;
  {
    audit::Recorder recorder(*source_);
    for (int i = 0; i < 5; ++i) {
      audit::Event e;
      e.recorded = core::now_micros();
      e.type = "rest";
      e.subtype = "read";
      e.action = 'R';
      e.user = "copy-test";
      recorder.record(e);
    }
    recorder.flush();
  }
  ASSERT_TRUE(source_->write([](store::Transaction& t) { return t.set_meta("test:marker", "kept"); }));

  auto report = copy_store(*source_, *store_, *source_api_->search_parameters(), {});
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_TRUE(report->verified());
  EXPECT_EQ(report->target.versions, 33u);
  EXPECT_EQ(report->target.resources, 30u);
  EXPECT_EQ(report->target.audit_entries, 5u);

  // The same bytes, versions and deletions; the search index of current versions works.
  auto renamed = store_->read("Patient", ids[0]);
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->info.version, 2);
  EXPECT_EQ(renamed->json, source_->read("Patient", ids[0])->json);
  EXPECT_EQ(store_->read("Patient", ids[1]).error().status, 410);
  auto r = call("GET", "/fhir/Patient?family=renamed");
  EXPECT_EQ(str(body_of(r), {"total"}), "1") << r.body;
  r = call("GET", "/fhir/Patient?identifier=http://hospital.example/mrn|mrn-7");
  EXPECT_EQ(str(body_of(r), {"entry", "0", "resource", "id"}), ids[7]) << r.body;
  r = call("GET", "/fhir/Observation?subject=Patient/" + ids[2] + "&value-quantity=gt140");
  EXPECT_EQ(str(body_of(r), {"total"}), "1") << r.body;
  r = call("GET", "/fhir/Patient/" + ids[2] + "/$everything");
  EXPECT_EQ(r.status, 200);
  EXPECT_NE(r.body.find("Observation"), std::string::npos);
  EXPECT_EQ(*store_->get_meta("test:marker"), std::optional<std::string>("kept"));
  auto verified = audit::verify(*store_, {});
  ASSERT_TRUE(verified) << verified.error().message();
  EXPECT_FALSE(verified->bad_seq) << verified->problem;
  EXPECT_EQ(verified->entries, 5);
}

TEST_F(StoreCopy, ATargetThatHoldsDataIsRefused) {
  ASSERT_EQ(on_source("POST", "/fhir/Patient", patient()).status, 201);
  ASSERT_EQ(call("POST", "/fhir/Patient", patient()).status, 201);
  auto report = copy_store(*source_, *store_, *source_api_->search_parameters(), {});
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().status, 400);
  EXPECT_NE(report.error().message().find("empty"), std::string::npos);
}

}  // namespace
}  // namespace ucr::api::testing
