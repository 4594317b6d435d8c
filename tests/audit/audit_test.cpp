// The audit trail's hash chain: intact trails verify; a changed, removed or reordered entry, or a
// cut-off end, is found and reported with its place.
#include "audit/audit.hpp"
#include "fhir/validator.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ucr::audit {
namespace {

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ucr-audit-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
    open();
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void open(std::int64_t audit_index_batch = 32768) {
    store::SqliteOptions o;
    o.directory = dir_;
    o.audit_index_batch = audit_index_batch;
    auto s = store::open_sqlite_store(o);
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
  }

  static Event event(int i) {
    Event e;
    e.recorded = 1'700'000'000'000'000 + i;
    e.subtype = "read";
    e.user = "user" + std::to_string(i);
    e.role = "gp";
    e.patient = "p" + std::to_string(i % 3);
    e.entity = "Observation/o" + std::to_string(i);
    return e;
  }

  void write_events(int from, int to) {
    std::vector<Event> batch;
    for (int i = from; i < to; ++i) batch.push_back(event(i));
    ASSERT_TRUE(store_->write([&](store::Transaction& t) { return append(t, batch); }));
  }

  /// Runs SQL on the database file behind the store's back, as an attacker with file access would.
  void tamper(const std::string& sql) {
    store_.reset();
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir_ / "ucr.db").string().c_str(), &db), SQLITE_OK);
    char* err = nullptr;
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << (err ? err : "");
    sqlite3_free(err);
    sqlite3_close(db);
    open();
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
};

// The trail is indexed by patient in batches; a patient's entries come from the index and from the
// tail not yet indexed, newest first, each once, whichever side of the last batch they are on.
TEST_F(AuditTest, APatientsEntriesComeFromTheBatchedIndexAndTheTail) {
  store_.reset();
  open(7);
  for (int from = 0; from < 63; from += 9) write_events(from, from + 9);       // events 0..62
  ASSERT_TRUE(store_->write([](store::Transaction&) { return core::ok(); }));  // after the queued indexing
  auto indexed = store_->get_meta("audit:indexed");
  ASSERT_TRUE(indexed);
  ASSERT_TRUE(indexed->has_value()) << "a batch was indexed";
  EXPECT_GT(std::stoll(**indexed), 0);
  write_events(63, 66);  // a tail not yet indexed
  // Event i is entry i + 1 and concerns patient p(i % 3).
  std::vector<std::int64_t> want;
  for (std::int64_t seq = 66; seq >= 1; --seq) {
    if ((seq - 1) % 3 == 1) want.push_back(seq);
  }
  store::AuditQuery q;
  q.patient = "p1";
  q.count = 1000;
  auto rows = store_->audit_events(q);
  ASSERT_TRUE(rows);
  std::vector<std::int64_t> got;
  for (const auto& r : *rows) {
    got.push_back(r.seq);
    EXPECT_EQ(r.patient, "p1");
  }
  EXPECT_EQ(got, want) << "every entry once, newest first";
  // Paging across the boundary between the index and the tail.
  q.count = 4;
  std::vector<std::int64_t> paged;
  for (;;) {
    auto page = store_->audit_events(q);
    ASSERT_TRUE(page);
    for (const auto& r : *page) paged.push_back(r.seq);
    if (page->size() < q.count) break;
    q.before_seq = page->back().seq;
  }
  EXPECT_EQ(paged, want);
  // After a restart the backlog is indexed with the next batch, and the answer is the same.
  store_.reset();
  open(7);
  write_events(66, 76);  // events 66..75: p1 for 67, 70, 73
  ASSERT_TRUE(store_->write([](store::Transaction&) { return core::ok(); }));
  auto now_indexed = store_->get_meta("audit:indexed");
  ASSERT_TRUE(now_indexed && now_indexed->has_value());
  EXPECT_GE(std::stoll(**now_indexed), 66) << "the earlier run's tail is indexed now";
  q = store::AuditQuery{};
  q.patient = "p1";
  q.count = 1000;
  auto again = store_->audit_events(q);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->size(), want.size() + 3);
  auto r = verify(*store_);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->bad_seq) << r->problem;
}

TEST_F(AuditTest, AnIntactTrailVerifies) {
  write_events(0, 10);
  write_events(10, 25);
  auto r = verify(*store_);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->bad_seq) << r->problem;
  EXPECT_EQ(r->entries, 25);
  EXPECT_EQ(r->head.size(), 64U);
  store::AuditQuery q;
  q.patient = "p1";
  auto mine = store_->audit_events(q);
  ASSERT_TRUE(mine);
  EXPECT_EQ(mine->size(), 8U);
  EXPECT_GT(mine->front().seq, mine->back().seq) << "newest first";
}

TEST_F(AuditTest, AnEntryIsValidFhir) {
  write_events(0, 1);
  auto rows = store_->audit_scan(0, 10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1U);
  EXPECT_TRUE(rows->front().json.starts_with("[2,1,")) << "stored compactly: " << rows->front().json;
  auto text = render(rows->front());
  ASSERT_TRUE(text) << text.error().message();
  auto doc = boost::json::parse(*text).as_object();
  EXPECT_EQ(doc.at("resourceType"), "AuditEvent");
  EXPECT_EQ(doc.at("id"), "1");
  EXPECT_EQ(doc.at("action"), "R");
  EXPECT_EQ(doc.at("outcome"), "0");
  EXPECT_EQ(doc.at("entity").as_array()[0].at("what").at("reference"), "Patient/p0");
}

TEST_F(AuditTest, EveryShapeOfEventIsValidR4) {
  Event full = event(1);
  full.type = "110113";
  full.subtype = "break-glass";
  full.action = 'E';
  full.outcome = 4;
  full.outcome_text = "refused \"now\"";
  full.purpose = "ETREAT";
  full.reason = "line one\nline \"two\" \\ back\tslash, caf\u00e9";
  full.user_display = "Dr \"Quote\"";
  full.fhir_user = "Practitioner/p1";
  full.organisation = "Organization/o1";
  full.client_id = "web";
  full.address = "127.0.0.1";
  full.query = "name=smi&birthdate=ge1950";
  Event bare;
  bare.recorded = 1;
  bare.subtype = "search-type";
  for (const Event& e : {full, bare, event(2)}) {
    const auto doc = to_resource(e);
    const auto issues = fhir::validate_resource(doc);
    for (const auto& i : issues) {
      EXPECT_NE(i.severity, "error") << i.diagnostics << " in " << boost::json::serialize(doc);
    }
  }
  const auto doc = to_resource(full);
  EXPECT_EQ(doc.at("purposeOfEvent").as_array()[0].at("text").as_string(), full.reason);
  EXPECT_EQ(doc.at("agent").as_array()[0].at("who").at("display").as_string(), full.user_display);
}

TEST_F(AuditTest, TheCompactFormKeepsEveryFact) {
  Event full = event(1);
  full.type = "110113";
  full.subtype = "break-glass";
  full.action = 'E';
  full.outcome = 4;
  full.outcome_text = "refused \"now\"";
  full.purpose = "ETREAT";
  full.reason = "line one\nline \"two\" \\ back\tslash, caf\u00e9 \x01";
  full.user_display = "Dr \"Quote\"";
  full.fhir_user = "Practitioner/p1";
  full.organisation = "Organization/o1";
  full.client_id = "web";
  full.address = "127.0.0.1";
  full.query = "name=smi&birthdate=ge1950";
  full.entity = "Observation/o9/_history/2";
  ASSERT_TRUE(store_->write([&](store::Transaction& t) { return append(t, std::vector<Event>{full}); }));
  auto rows = store_->audit_scan(0, 10);
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 1U);
  auto back = decode(rows->front());
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->recorded, full.recorded);
  EXPECT_EQ(back->type, full.type);
  EXPECT_EQ(back->subtype, full.subtype);
  EXPECT_EQ(back->action, full.action);
  EXPECT_EQ(back->outcome, full.outcome);
  EXPECT_EQ(back->outcome_text, full.outcome_text);
  EXPECT_EQ(back->user, full.user);
  EXPECT_EQ(back->user_display, full.user_display);
  EXPECT_EQ(back->fhir_user, full.fhir_user);
  EXPECT_EQ(back->role, full.role);
  EXPECT_EQ(back->organisation, full.organisation);
  EXPECT_EQ(back->client_id, full.client_id);
  EXPECT_EQ(back->address, full.address);
  EXPECT_EQ(back->patient, full.patient);
  EXPECT_EQ(back->entity, full.entity);
  EXPECT_EQ(back->query, full.query);
  EXPECT_EQ(back->purpose, full.purpose);
  EXPECT_EQ(back->reason, full.reason);
  auto text = render(rows->front());
  ASSERT_TRUE(text);
  auto expected = to_resource(full);
  auto rendered = boost::json::parse(*text).as_object();
  EXPECT_EQ(rendered.at("id"), "1");
  rendered.erase("id");
  rendered.erase("meta");
  EXPECT_TRUE(rendered == expected) << boost::json::serialize(rendered) << "\n" << boost::json::serialize(expected);
  // An entry an earlier version stored whole reads as it was.
  store::AuditRecord old;
  old.seq = 7;
  old.json = R"({"resourceType":"AuditEvent","id":"7"})";
  EXPECT_EQ(*render(old), old.json);
  old.json = "[2,7]";
  EXPECT_FALSE(decode(old)) << "a damaged entry is reported, not guessed at";
}

TEST_F(AuditTest, AChangedEntryIsFound) {
  write_events(0, 10);
  tamper("UPDATE audit_event SET json = replace(json, 'user3', 'someone') WHERE seq = 4");
  auto r = verify(*store_);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->bad_seq);
  EXPECT_EQ(*r->bad_seq, 4);
  EXPECT_NE(r->problem.find("changed"), std::string::npos) << r->problem;
}

TEST_F(AuditTest, ARecomputedHashStillBreaksTheNextLink) {
  write_events(0, 10);
  // The attacker edits entry 4 and recomputes its own hash, but cannot fix every later entry's.
  store_.reset();
  open();
  auto rows = store_->audit_scan(2, 2);
  ASSERT_TRUE(rows);
  const std::string prev = rows->at(0).hash;
  std::string json = rows->at(1).json;
  json.replace(json.find("user3"), 5, "other");
  const std::string forged = link(prev, json);
  tamper("UPDATE audit_event SET json = '" + json + "', hash = '" + forged + "' WHERE seq = 4");
  auto r = verify(*store_);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->bad_seq);
  EXPECT_EQ(*r->bad_seq, 5);
}

TEST_F(AuditTest, RemovedEntriesAreFound) {
  write_events(0, 10);
  tamper("DELETE FROM audit_event WHERE seq IN (6, 7)");
  auto r = verify(*store_);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->bad_seq);
  EXPECT_EQ(*r->bad_seq, 6);
  EXPECT_NE(r->problem.find("missing"), std::string::npos) << r->problem;
}

TEST_F(AuditTest, ACutOffEndIsFound) {
  write_events(0, 10);
  tamper("DELETE FROM audit_event WHERE seq >= 9");
  auto r = verify(*store_);
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->bad_seq);
  EXPECT_NE(r->problem.find("removed from the end"), std::string::npos) << r->problem;
}

TEST_F(AuditTest, TheRecorderWritesEverythingQueued) {
  {
    Recorder rec(*store_, RecorderOptions{.max_batch = 7});
    for (int i = 0; i < 100; ++i) rec.record(event(i));
    rec.flush();
    EXPECT_EQ(rec.recorded(), 100U);
    EXPECT_GE(rec.batches(), 100U / 7);
    for (int i = 100; i < 150; ++i) rec.record(event(i));
  }  // the destructor writes what is still queued
  auto r = verify(*store_);
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->bad_seq) << r->problem;
  EXPECT_EQ(r->entries, 150);
}

}  // namespace
}  // namespace ucr::audit
