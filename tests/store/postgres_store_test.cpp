// What only the PostgreSQL backend has: schema migrations, several nodes (store instances) on one
// database, a database that goes away and comes back, and passwords kept out of messages. Needs a
// server: run through tests/pg/with-postgres.sh (ctest's store_tests_postgres does).
#include "store/postgres/postgres_store.hpp"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ucr::store {
namespace {

std::string server_url() {
  const char* url = std::getenv("UCR_TEST_POSTGRES");
  return url == nullptr ? std::string() : std::string(url);
}

/// A fresh schema name per test.
std::string fresh_schema() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return "pgt_" + std::to_string(rd()) + "_" + std::to_string(counter.fetch_add(1));
}

/// Runs one statement on its own connection (the tests' side door into the database).
std::string admin_query(const std::string& sql) {
  PGconn* c = PQconnectdb(server_url().c_str());
  std::string out;
  if (PQstatus(c) == CONNECTION_OK) {
    PGresult* r = PQexec(c, sql.c_str());
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) out = PQgetvalue(r, 0, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK && PQresultStatus(r) != PGRES_COMMAND_OK) {
      ADD_FAILURE() << sql << ": " << PQerrorMessage(c);
    }
    PQclear(r);
  } else {
    ADD_FAILURE() << "cannot connect: " << PQerrorMessage(c);
  }
  PQfinish(c);
  return out;
}

class PostgresStore : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(server_url().empty())
        << "UCR_TEST_POSTGRES is not set: run these tests through tests/pg/with-postgres.sh (ctest does)";
    options_.url = server_url();
    options_.schema = fresh_schema();
    options_.pool_size = 8;
  }

  std::unique_ptr<Store> open() {
    auto s = open_postgres_store(options_);
    EXPECT_TRUE(s) << s.error().message();
    return s ? std::move(*s) : nullptr;
  }

  /// Creates Patient/{id} in its own write.
  static core::Result<void> create(Store& store, const std::string& id, const std::string& identifier = {}) {
    return store.write([&](Transaction& t) -> core::Result<void> {
      NewVersion v;
      v.info = VersionInfo{"Patient", id, 1, core::now_micros(), false};
      v.method = "POST";
      v.json = R"({"resourceType":"Patient","id":")" + id + "\"}";
      if (!identifier.empty()) v.index.tokens = {{"identifier", "urn:test", identifier, ""}};
      return t.put(v);
    });
  }

  PostgresOptions options_;
};

TEST_F(PostgresStore, AnEmptyDatabaseIsMigratedToTheLatestSchemaWhenOpened) {
  auto report = migrate_postgres(options_);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->from, 0);
  EXPECT_EQ(report->to, postgres_schema_version());
  auto again = migrate_postgres(options_);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->from, postgres_schema_version()) << "migrating twice changes nothing";
  EXPECT_EQ(again->to, postgres_schema_version());
  EXPECT_NE(open(), nullptr);
}

TEST_F(PostgresStore, AnOlderSchemaIsUpgradedKeepingItsData) {
  auto v1 = migrate_postgres(options_, 1);
  ASSERT_TRUE(v1) << v1.error().message();
  EXPECT_EQ(v1->to, 1);
  // Without migration an older schema is refused, saying what to do.
  options_.migrate = false;
  auto refused = open_postgres_store(options_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("ucr admin migrate"), std::string::npos) << refused.error().message();
  // A database at version 1 with data in it, then a newer binary opens it.
  auto report = migrate_postgres(options_);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->from, 1);
  EXPECT_EQ(report->to, postgres_schema_version());
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(create(*store, "kept"));
  EXPECT_TRUE(store->read("Patient", "kept"));
}

TEST_F(PostgresStore, AnUpgradeMarksStoredResourcesForTheContainedReindex) {
  // Migration 4: resources stored before contained resources were indexed are reindexed by the
  // server (store.hpp kContainedReindexKey); an empty database has nothing to reindex.
  ASSERT_TRUE(migrate_postgres(options_, 3));
  admin_query("INSERT INTO \"" + options_.schema +
              "\".resource_current(type, id, rid, version, seq, deleted, last_updated) "
              "VALUES('MedicationRequest', 'old', 1, 1, 1, 0, 0)");
  auto report = migrate_postgres(options_);
  ASSERT_TRUE(report) << report.error().message();
  EXPECT_EQ(report->from, 3);
  auto store = open();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->get_meta(kContainedReindexKey)->value_or(""), "pending");

  options_.schema = fresh_schema();
  auto empty = open();
  ASSERT_NE(empty, nullptr);
  EXPECT_FALSE(empty->get_meta(kContainedReindexKey)->has_value());
}

TEST_F(PostgresStore, AResourceWrittenTwiceInOneTransactionKeepsOnlyItsLastContainedRows) {
  // Index rows wait in batches until the transaction flushes them: the first version's contained
  // rows must not outlive the second version, which contains nothing.
  auto store = open();
  ASSERT_NE(store, nullptr);
  const auto version = [](std::int64_t n, bool with_contained) {
    NewVersion v;
    v.info = VersionInfo{"MedicationRequest", "twice", n, core::now_micros(), false};
    v.method = "PUT";
    v.json = R"({"resourceType":"MedicationRequest","id":"twice"})";
    if (with_contained) {
      search::ContainedRows med{"Medication", "med1", {}};
      med.rows.tokens = {{"code", "http://snomed.info/sct", "111", ""}, {"_id", "", "med1", ""}};
      v.index.contained.push_back(std::move(med));
    }
    return v;
  };
  ASSERT_TRUE(store->write([&](Transaction& t) -> core::Result<void> {
    if (auto r = t.put(version(1, true)); !r) return r;
    return t.put(version(2, false));
  }));
  search::Plan plan;
  plan.type = "Medication";
  plan.contained = search::Contained::kTrue;
  auto page = store->search(plan, true);
  ASSERT_TRUE(page) << page.error().message();
  EXPECT_TRUE(page->refs.empty());
  EXPECT_EQ(page->total.value_or(99), 0U);
  // Written with its contained rows, it is found.
  ASSERT_TRUE(store->write([&](Transaction& t) { return t.put(version(3, true)); }));
  page = store->search(plan, true);
  ASSERT_TRUE(page) << page.error().message();
  ASSERT_EQ(page->refs.size(), 1U);
  EXPECT_EQ(page->refs[0].type, "MedicationRequest");
  EXPECT_EQ(page->refs[0].id, "twice");
}

TEST_F(PostgresStore, ADatabaseWithANewerSchemaIsRefusedWithAClearError) {
  ASSERT_TRUE(migrate_postgres(options_));
  admin_query("INSERT INTO \"" + options_.schema + "\".schema_version(version, applied, what) VALUES(" +
              std::to_string(postgres_schema_version() + 1) + ", 0, 'from the future')");
  auto refused = open_postgres_store(options_);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("newer than this ucr"), std::string::npos) << refused.error().message();
}

TEST_F(PostgresStore, AnUnreachableDatabaseIsAServiceUnavailableError) {
  options_.url = "postgresql://ucr@127.0.0.1:1/nothing?connect_timeout=2";
  auto s = open_postgres_store(options_);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().status, 503);
  EXPECT_EQ(s.error().issues.front().code, "transient");
}

TEST_F(PostgresStore, PasswordsNeverAppearInMessages) {
  EXPECT_EQ(redact_postgres_url("postgresql://ucr:s3cret@db.example:5432/ucr"),
            "postgresql://ucr:***@db.example:5432/ucr");
  EXPECT_EQ(redact_postgres_url("postgresql://ucr@db.example/ucr?password=s3cret&sslmode=require"),
            "postgresql://ucr@db.example/ucr?password=***&sslmode=require");
  options_.url = "postgresql://ucr:s3cret@127.0.0.1:1/nothing?connect_timeout=2";
  auto s = open_postgres_store(options_);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().message().find("s3cret"), std::string::npos) << s.error().message();
}

TEST_F(PostgresStore, NotAPostgresUrlIsRefusedClearly) {
  options_.url = "mysql://somewhere/db";
  auto s = open_postgres_store(options_);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().status, 400);
  options_.url = server_url();
  options_.schema = "bad schema; DROP";
  auto t = open_postgres_store(options_);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("schema name"), std::string::npos);
}

// Two nodes are two stores on one database: their writers race on the same resources.
TEST_F(PostgresStore, TwoNodesWritingOneResourceNeverDuplicateOrSkipAVersion) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  constexpr int kThreads = 4;
  constexpr int kWrites = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 2 * kThreads; ++t) {
    Store& node = t % 2 == 0 ? *a : *b;
    threads.emplace_back([&node, &failures] {
      for (int i = 0; i < kWrites; ++i) {
        auto w = node.write([](Transaction& txn) -> core::Result<void> {
          auto cur = txn.current_info("Basic", "shared");
          if (!cur) return cur.error();
          NewVersion v;
          v.info =
              VersionInfo{"Basic", "shared", cur->has_value() ? (*cur)->version + 1 : 1, core::now_micros(), false};
          v.method = "PUT";
          v.json = "{}";
          return txn.put(v);
        });
        if (!w) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto r = a->read("Basic", "shared");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->info.version, 2 * kThreads * kWrites);
  HistoryQuery q;
  q.type = "Basic";
  q.id = "shared";
  q.count = 100000;
  auto h = b->history(q);
  ASSERT_TRUE(h);
  std::set<std::int64_t> versions;
  for (const auto& e : h->entries) versions.insert(e.info.version);
  EXPECT_EQ(versions.size(), h->entries.size()) << "no version written twice";
  EXPECT_EQ(h->entries.size(), static_cast<std::size_t>(2 * kThreads * kWrites));
}

TEST_F(PostgresStore, ConcurrentConditionalCreatesOnTwoNodesMakeOneResource) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  constexpr int kRounds = 20;
  for (int round = 0; round < kRounds; ++round) {
    const std::string identifier = "mrn-" + std::to_string(round);
    std::atomic<int> created{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 6; ++t) {
      Store& node = t % 2 == 0 ? *a : *b;
      threads.emplace_back([&node, &created, &identifier, t, round] {
        const std::string id = "r" + std::to_string(round) + "-t" + std::to_string(t);
        auto w = node.write([&](Transaction& txn) -> core::Result<void> {
          // If-None-Exist: identifier=urn:test|mrn-N
          auto found = txn.find_ids("Patient", {{"identifier", {"urn:test|" + identifier}}}, 2);
          if (!found) return found.error();
          if (!found->empty()) return core::ok();
          NewVersion v;
          v.info = VersionInfo{"Patient", id, 1, core::now_micros(), false};
          v.method = "POST";
          v.json = "{}";
          v.index.tokens = {{"identifier", "urn:test", identifier, ""}};
          if (auto r = txn.put(v); !r) return r;
          created.fetch_add(1);
          return core::ok();
        });
        EXPECT_TRUE(w) << w.error().message();
      });
    }
    for (auto& th : threads) th.join();
    auto ids = a->find_ids("Patient", {{"identifier", {"urn:test|" + identifier}}}, 10);
    ASSERT_TRUE(ids);
    EXPECT_EQ(ids->size(), 1u) << "round " << round;
  }
}

TEST_F(PostgresStore, AfterTheServerDropsEveryConnectionTheStoreReconnectsByItself) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(create(*store, "before"));
  ASSERT_TRUE(store->read("Patient", "before"));
  // What a database restart does to the pool: every session of this database ends.
  admin_query(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> "
      "pg_backend_pid()");
  auto r = store->read("Patient", "before");
  EXPECT_TRUE(r) << r.error().message();
  auto w = create(*store, "after");
  EXPECT_TRUE(w) << w.error().message();
  EXPECT_TRUE(store->read("Patient", "after"));
}

TEST_F(PostgresStore, IndexValuesLongerThanAnIndexEntryAreStoredAndTheResourceStaysSearchable) {
  auto store = open();
  ASSERT_NE(store, nullptr);
  std::string long_text;
  for (int i = 0; i < 900; ++i) long_text += "\xC3\xA9" + std::to_string(i * 7919 % 1000);  // multi-byte, varied
  auto w = store->write([&](Transaction& t) -> core::Result<void> {
    NewVersion v;
    v.info = VersionInfo{"Patient", "long", 1, core::now_micros(), false};
    v.method = "POST";
    v.json = "{}";
    v.index.strings = {{"family", long_text, long_text}};
    v.index.tokens = {{"identifier", long_text, long_text, long_text}, {"identifier", "urn:test", "short", ""}};
    v.index.uris = {{"url", "http://example.org/" + long_text}};
    v.index.references = {{"general-practitioner", "Practitioner", long_text, long_text}};
    return t.put(v);
  });
  ASSERT_TRUE(w) << w.error().message();
  auto ids = store->find_ids("Patient", {{"identifier", {"urn:test|short"}}}, 10);
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, std::vector<std::string>{"long"});
}

TEST_F(PostgresStore, TheDataOfOneNodeIsTheDataOfTheOther) {
  auto a = open();
  auto b = open();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(create(*a, "p1", "one"));
  auto r = b->read("Patient", "p1");
  ASSERT_TRUE(r) << r.error().message();
  auto ids = b->find_ids("Patient", {{"identifier", {"urn:test|one"}}}, 10);
  ASSERT_TRUE(ids);
  EXPECT_EQ(*ids, std::vector<std::string>{"p1"});
}

}  // namespace
}  // namespace ucr::store
