// The Store contract, written once over a backend factory so every backend (SQLite and PostgreSQL)
// runs the same suite. Each test gets a fresh, empty store. The PostgreSQL cases need a server:
// ctest runs them as store_tests_postgres through tests/pg/with-postgres.sh, which starts one and
// sets UCR_TEST_POSTGRES to its URL.
#include "store/sqlite/sqlite_store.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace ucr::store {
namespace {

namespace fs = std::filesystem;

/// A fresh directory under the system temp dir, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "ucr-store-test-XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = made;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// ---------------------------------------------------------------------------------------------
// Backends. A backend is a type with `static core::Result<std::unique_ptr<Store>> open(dir)`;
// opening twice on the same dir must reach the same data (the reopen test relies on it).

struct SqliteBackend {
  static core::Result<std::unique_ptr<Store>> open(const fs::path& dir) {
    SqliteOptions options;
    options.directory = dir;
    return open_sqlite_store(options);
  }
};

/// The test server's URL (UCR_TEST_POSTGRES), or empty.
std::string postgres_url() {
  const char* url = std::getenv("UCR_TEST_POSTGRES");
  return url == nullptr ? std::string() : std::string(url);
}

/// A schema of its own per test directory: a fresh, empty database for each test, and the same
/// one again when the test reopens the store.
PostgresOptions postgres_options(const fs::path& dir) {
  PostgresOptions options;
  options.url = postgres_url();
  options.schema = dir.filename().string();
  for (auto& ch : options.schema) {
    if (ch == '-') ch = '_';
  }
  options.pool_size = 12;
  return options;
}

struct PostgresBackend {
  static core::Result<std::unique_ptr<Store>> open(const fs::path& dir) {
    if (postgres_url().empty()) {
      return core::Error::invalid(
          "UCR_TEST_POSTGRES is not set: run the PostgreSQL cases through tests/pg/with-postgres.sh (ctest does)");
    }
    return open_postgres_store(postgres_options(dir));
  }
};

template <class Backend>
class StoreContract : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen() {
    store_.reset();
    auto s = Backend::open(dir_.path());
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
  }

  Store& store() { return *store_; }

  /// Writes one version in its own write: version = current + 1, with the given tokens.
  core::Result<void> put(const std::string& type, const std::string& id, const std::string& json, core::Micros when = 0,
                         std::vector<search::TokenRow> tokens = {}, bool deleted = false) {
    return store_->write([&](Transaction& t) -> core::Result<void> {
      auto cur = t.current(type, id);
      if (!cur) return cur.error();
      NewVersion v;
      v.info.type = type;
      v.info.id = id;
      v.info.version = cur->has_value() ? (*cur)->info.version + 1 : 1;
      v.info.last_updated = when != 0 ? when : v.info.version * 1000;
      v.info.deleted = deleted;
      v.method = deleted ? "DELETE" : (v.info.version == 1 ? "POST" : "PUT");
      if (!deleted) v.json = json;
      v.index.tokens = std::move(tokens);
      return t.put(v);
    });
  }

  core::Result<void> remove(const std::string& type, const std::string& id, core::Micros when = 0) {
    return put(type, id, "", when, {}, true);
  }

  std::vector<StoredResource> all_history(HistoryQuery q) {
    q.count = 100000;
    auto page = store_->history(q);
    EXPECT_TRUE(page) << page.error().message();
    return page ? page->entries : std::vector<StoredResource>{};
  }

  std::size_t total_versions() { return all_history({}).size(); }

  std::vector<std::string> find(const std::string& type, std::vector<Criterion> criteria, std::size_t limit = 100) {
    auto ids = store_->find_ids(type, criteria, limit);
    EXPECT_TRUE(ids) << ids.error().message();
    return ids ? *ids : std::vector<std::string>{};
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

using Backends = ::testing::Types<SqliteBackend, PostgresBackend>;
/// Test names say the backend: StoreContract/Sqlite.*, StoreContract/Postgres.*
struct BackendName {
  template <class T>
  static std::string GetName(int /*index*/) {  // NOLINT(readability-identifier-naming): gtest's name
    return std::is_same_v<T, SqliteBackend> ? "Sqlite" : "Postgres";
  }
};
TYPED_TEST_SUITE(StoreContract, Backends, BackendName);

std::vector<std::int64_t> versions_of(const std::vector<StoredResource>& entries) {
  std::vector<std::int64_t> out;
  for (const auto& e : entries) out.push_back(e.info.version);
  return out;
}

// ---------------------------------------------------------------------------------------------
// put / read / vread / current

TYPED_TEST(StoreContract, ReadReturnsExactlyTheBytesAndFactsThatWerePut) {
  const std::string json = R"({"resourceType":"Patient","id":"p1","meta":{"versionId":"1"},"active":true})";
  ASSERT_TRUE(this->put("Patient", "p1", json, 1234567));
  auto r = this->store().read("Patient", "p1");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->json, json);
  EXPECT_EQ(r->info.type, "Patient");
  EXPECT_EQ(r->info.id, "p1");
  EXPECT_EQ(r->info.version, 1);
  EXPECT_EQ(r->info.last_updated, 1234567);
  EXPECT_FALSE(r->info.deleted);
  EXPECT_EQ(r->method, "POST");
}

TYPED_TEST(StoreContract, ReadReturnsTheNewestVersionAndVreadEveryOlderOne) {
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(this->put("Patient", "p1", "{\"v\":" + std::to_string(i) + "}"));
  auto r = this->store().read("Patient", "p1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->info.version, 3);
  EXPECT_EQ(r->json, R"({"v":3})");
  EXPECT_EQ(r->method, "PUT");
  for (int i = 1; i <= 3; ++i) {
    auto v = this->store().vread("Patient", "p1", i);
    ASSERT_TRUE(v) << v.error().message();
    EXPECT_EQ(v->info.version, i);
    EXPECT_EQ(v->json, "{\"v\":" + std::to_string(i) + "}");
  }
}

TYPED_TEST(StoreContract, ResourcesAreKeyedByTypeAndId) {
  ASSERT_TRUE(this->put("Patient", "same", R"({"t":"Patient"})"));
  ASSERT_TRUE(this->put("Observation", "same", R"({"t":"Observation"})"));
  auto p = this->store().read("Patient", "same");
  auto o = this->store().read("Observation", "same");
  ASSERT_TRUE(p);
  ASSERT_TRUE(o);
  EXPECT_EQ(p->json, R"({"t":"Patient"})");
  EXPECT_EQ(o->json, R"({"t":"Observation"})");
  EXPECT_EQ(p->info.version, 1);
  EXPECT_EQ(o->info.version, 1);
}

TYPED_TEST(StoreContract, ReadOfAResourceThatNeverExistedIs404) {
  auto r = this->store().read("Patient", "nobody");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 404);
  auto v = this->store().vread("Patient", "nobody", 1);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().status, 404);
}

TYPED_TEST(StoreContract, ReadOfADeletedResourceIs410ButOlderVersionsStayReadable) {
  ASSERT_TRUE(this->put("Patient", "p1", R"({"v":1})"));
  ASSERT_TRUE(this->remove("Patient", "p1"));
  auto r = this->store().read("Patient", "p1");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().status, 410);
  auto deletion = this->store().vread("Patient", "p1", 2);
  ASSERT_FALSE(deletion);
  EXPECT_EQ(deletion.error().status, 410);
  auto old = this->store().vread("Patient", "p1", 1);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->json, R"({"v":1})");
}

TYPED_TEST(StoreContract, VreadOfAVersionBeyondTheNewestIs404) {
  ASSERT_TRUE(this->put("Patient", "p1", R"({})"));
  auto v = this->store().vread("Patient", "p1", 2);
  ASSERT_FALSE(v);
  EXPECT_EQ(v.error().status, 404);
}

TYPED_TEST(StoreContract, ARecreatedResourceIsReadableAgainWithTheNextVersion) {
  ASSERT_TRUE(this->put("Patient", "p1", R"({"v":1})"));
  ASSERT_TRUE(this->remove("Patient", "p1"));
  ASSERT_TRUE(this->put("Patient", "p1", R"({"v":3})"));
  auto r = this->store().read("Patient", "p1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->info.version, 3);
  EXPECT_EQ(r->json, R"({"v":3})");
}

TYPED_TEST(StoreContract, CurrentInsideAWriteSeesDeletionsAndEarlierPutsOfTheSameWork) {
  ASSERT_TRUE(this->put("Patient", "gone", R"({})"));
  ASSERT_TRUE(this->remove("Patient", "gone"));
  auto w = this->store().write([&](Transaction& t) -> core::Result<void> {
    auto never = t.current("Patient", "never");
    if (!never) return never.error();
    EXPECT_FALSE(never->has_value());
    auto gone = t.current("Patient", "gone");
    if (!gone) return gone.error();
    EXPECT_TRUE(gone->has_value() && (*gone)->info.deleted && (*gone)->info.version == 2);
    NewVersion v;
    v.info = VersionInfo{"Patient", "fresh", 1, 5000, false};
    v.method = "POST";
    v.json = R"({"fresh":true})";
    if (auto r = t.put(v); !r) return r;
    auto fresh = t.current("Patient", "fresh");
    if (!fresh) return fresh.error();
    EXPECT_TRUE(fresh->has_value());
    if (fresh->has_value()) {
      EXPECT_EQ((*fresh)->json, R"({"fresh":true})");
      EXPECT_EQ((*fresh)->info.version, 1);
    }
    return core::ok();
  });
  ASSERT_TRUE(w) << w.error().message();
}

TYPED_TEST(StoreContract, PuttingAVersionThatAlreadyExistsFailsAndChangesNothing) {
  ASSERT_TRUE(this->put("Patient", "p1", R"({"v":1})"));
  auto w = this->store().write([&](Transaction& t) -> core::Result<void> {
    NewVersion v;
    v.info = VersionInfo{"Patient", "p1", 1, 9999, false};
    v.method = "PUT";
    v.json = R"({"v":"clobbered"})";
    return t.put(v);
  });
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().status, 409);
  auto r = this->store().read("Patient", "p1");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->json, R"({"v":1})");
  EXPECT_EQ(this->total_versions(), 1u);
}

// ---------------------------------------------------------------------------------------------
// history

TYPED_TEST(StoreContract, HistoryIsNewestFirstAtInstanceTypeAndSystemLevel) {
  ASSERT_TRUE(this->put("Patient", "a", R"({"a":1})", 100));
  ASSERT_TRUE(this->put("Observation", "o", R"({"o":1})", 200));
  ASSERT_TRUE(this->put("Patient", "b", R"({"b":1})", 300));
  ASSERT_TRUE(this->put("Patient", "a", R"({"a":2})", 400));
  ASSERT_TRUE(this->remove("Patient", "a", 500));

  const auto instance = this->all_history({.type = "Patient", .id = "a"});
  ASSERT_EQ(instance.size(), 3u);
  EXPECT_EQ(versions_of(instance), (std::vector<std::int64_t>{3, 2, 1}));
  EXPECT_TRUE(instance[0].info.deleted);
  EXPECT_EQ(instance[0].method, "DELETE");
  EXPECT_TRUE(instance[0].json.empty());
  EXPECT_EQ(instance[1].json, R"({"a":2})");

  const auto type = this->all_history({.type = "Patient"});
  std::vector<std::string> order;
  for (const auto& e : type) order.push_back(e.info.id + "/" + std::to_string(e.info.version));
  EXPECT_EQ(order, (std::vector<std::string>{"a/3", "a/2", "b/1", "a/1"}));

  const auto system = this->all_history({});
  order.clear();
  for (const auto& e : system) order.push_back(e.info.type + "/" + e.info.id);
  EXPECT_EQ(order, (std::vector<std::string>{"Patient/a", "Patient/a", "Patient/b", "Observation/o", "Patient/a"}));
}

TYPED_TEST(StoreContract, HistoryOfAnUnknownInstanceIsEmpty) {
  ASSERT_TRUE(this->put("Patient", "a", R"({})"));
  EXPECT_TRUE(this->all_history({.type = "Patient", .id = "zzz"}).empty());
  EXPECT_TRUE(this->all_history({.type = "Encounter"}).empty());
}

TYPED_TEST(StoreContract, HistorySinceKeepsOnlyVersionsUpdatedAtOrAfterTheInstant) {
  ASSERT_TRUE(this->put("Patient", "a", R"({})", 1000));
  ASSERT_TRUE(this->put("Patient", "a", R"({})", 2000));
  ASSERT_TRUE(this->put("Patient", "b", R"({})", 3000));
  ASSERT_TRUE(this->put("Patient", "a", R"({})", 4000));

  auto since = this->all_history({.since = 2000});
  ASSERT_EQ(since.size(), 3u);
  for (const auto& e : since) EXPECT_GE(e.info.last_updated, 2000);
  EXPECT_EQ(this->all_history({.since = 4001}).size(), 0u);
  EXPECT_EQ(this->all_history({.type = "Patient", .id = "a", .since = 1500}).size(), 2u);
}

TYPED_TEST(StoreContract, HistoryAtGivesTheVersionOfEachResourceCurrentAtTheInstant) {
  ASSERT_TRUE(this->put("Patient", "a", R"({"a":1})", 1000));
  ASSERT_TRUE(this->put("Patient", "b", R"({"b":1})", 1500));
  ASSERT_TRUE(this->put("Patient", "a", R"({"a":2})", 2000));
  ASSERT_TRUE(this->put("Patient", "a", R"({"a":3})", 3000));
  ASSERT_TRUE(this->remove("Patient", "b", 3500));

  auto at = this->all_history({.type = "Patient", .at = 2500});
  std::map<std::string, std::int64_t> seen;
  for (const auto& e : at)
    EXPECT_TRUE(seen.emplace(e.info.id, e.info.version).second) << "two versions of " << e.info.id;
  EXPECT_EQ(seen, (std::map<std::string, std::int64_t>{{"a", 2}, {"b", 1}}));

  auto before_all = this->all_history({.at = 999});
  EXPECT_TRUE(before_all.empty());

  auto later = this->all_history({.type = "Patient", .at = 4000});
  seen.clear();
  for (const auto& e : later) seen.emplace(e.info.id, e.info.version);
  EXPECT_EQ(seen, (std::map<std::string, std::int64_t>{{"a", 3}, {"b", 2}}));
}

TYPED_TEST(StoreContract, HistoryPagesWithTheNextCursorCoverEveryVersionOnceInOrder) {
  constexpr int kVersions = 23;
  for (int i = 0; i < kVersions; ++i) {
    ASSERT_TRUE(this->put(i % 2 == 0 ? "Patient" : "Observation", "r" + std::to_string(i % 5), "{}", 1000 + i));
  }
  const auto everything = this->all_history({});
  ASSERT_EQ(everything.size(), static_cast<std::size_t>(kVersions));

  std::vector<std::string> paged;
  HistoryQuery q;
  q.count = 5;
  int pages = 0;
  for (;;) {
    auto page = this->store().history(q);
    ASSERT_TRUE(page) << page.error().message();
    ++pages;
    ASSERT_LE(page->entries.size(), 5u);
    for (const auto& e : page->entries) {
      paged.push_back(e.info.type + "/" + e.info.id + "/" + std::to_string(e.info.version));
    }
    if (!page->next_cursor) break;
    EXPECT_EQ(page->entries.size(), 5u) << "only the last page may be short";
    q.before_seq = page->next_cursor;
    ASSERT_LT(pages, 100) << "paging does not terminate";
  }
  EXPECT_EQ(pages, 5);
  std::vector<std::string> expected;
  for (const auto& e : everything)
    expected.push_back(e.info.type + "/" + e.info.id + "/" + std::to_string(e.info.version));
  EXPECT_EQ(paged, expected);
}

TYPED_TEST(StoreContract, HistoryWithAnExactPageHasNoNextCursor) {
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(this->put("Patient", "p" + std::to_string(i), "{}"));
  auto page = this->store().history({.count = 4});
  ASSERT_TRUE(page);
  EXPECT_EQ(page->entries.size(), 4u);
  EXPECT_FALSE(page->next_cursor.has_value());
  auto none = this->store().history({.count = 0});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->entries.empty());
  EXPECT_FALSE(none->next_cursor.has_value()) << "a cursor from an empty page could not advance";
  auto smaller = this->store().history({.count = 3});
  ASSERT_TRUE(smaller);
  EXPECT_EQ(smaller->entries.size(), 3u);
  EXPECT_TRUE(smaller->next_cursor.has_value());
}

// ---------------------------------------------------------------------------------------------
// find_ids

TYPED_TEST(StoreContract, FindIdsMatchesIdAndEveryTokenForm) {
  ASSERT_TRUE(this->put("Patient", "a", "{}", 0, {{"identifier", "http://mrn", "1"}}));
  ASSERT_TRUE(
      this->put("Patient", "b", "{}", 0, {{"identifier", "http://mrn", "2"}, {"identifier", "http://ssn", "9"}}));
  ASSERT_TRUE(this->put("Patient", "c", "{}", 0, {{"identifier", "", "1"}}));
  ASSERT_TRUE(this->put("Observation", "a", "{}", 0, {{"identifier", "http://mrn", "1"}}));

  using V = std::vector<std::string>;
  EXPECT_EQ(this->find("Patient", {{"_id", {"b"}}}), V{"b"});
  EXPECT_EQ(this->find("Patient", {{"_id", {"a", "c", "zzz"}}}), (V{"a", "c"}));
  EXPECT_EQ(this->find("Patient", {{"identifier", {"1"}}}), (V{"a", "c"})) << "code alone: any system";
  EXPECT_EQ(this->find("Patient", {{"identifier", {"http://mrn|1"}}}), V{"a"}) << "system|code";
  EXPECT_EQ(this->find("Patient", {{"identifier", {"|1"}}}), V{"c"}) << "|code: no system";
  EXPECT_EQ(this->find("Patient", {{"identifier", {"http://mrn|"}}}), (V{"a", "b"})) << "system|: any code";
  EXPECT_EQ(this->find("Patient", {{"identifier", {"http://ssn|9", "http://mrn|1"}}}), (V{"a", "b"})) << "values OR";
  EXPECT_EQ(this->find("Patient", {{"identifier", {"http://mrn|"}}, {"_id", {"b", "c"}}}), V{"b"}) << "criteria AND";
  EXPECT_EQ(this->find("Patient", {{"identifier", {"http://mrn|3"}}}), V{});
  EXPECT_EQ(this->find("Patient", {{"identifier", {"http://mrn|1"}}}, 1).size(), 1u);
  EXPECT_EQ(this->find("Patient", {}, 2).size(), 2u) << "limit";
  EXPECT_EQ(this->find("Observation", {{"identifier", {"http://mrn|1"}}}), V{"a"}) << "per type";
}

TYPED_TEST(StoreContract, FindIdsIgnoresDeletedResourcesAndTokensOfOlderVersions) {
  ASSERT_TRUE(this->put("Patient", "a", "{}", 0, {{"identifier", "s", "old"}}));
  ASSERT_TRUE(this->put("Patient", "a", "{}", 0, {{"identifier", "s", "new"}}));
  ASSERT_TRUE(this->put("Patient", "b", "{}", 0, {{"identifier", "s", "new"}}));
  ASSERT_TRUE(this->remove("Patient", "b"));

  using V = std::vector<std::string>;
  EXPECT_EQ(this->find("Patient", {{"identifier", {"s|old"}}}), V{});
  EXPECT_EQ(this->find("Patient", {{"identifier", {"s|new"}}}), V{"a"});
  EXPECT_EQ(this->find("Patient", {{"_id", {"b"}}}), V{});
  EXPECT_EQ(this->find("Patient", {}), V{"a"});

  // A re-created resource is found again by its new tokens only.
  ASSERT_TRUE(this->put("Patient", "b", "{}", 0, {{"identifier", "s", "again"}}));
  EXPECT_EQ(this->find("Patient", {{"identifier", {"s|again"}}}), V{"b"});
  EXPECT_EQ(this->find("Patient", {{"identifier", {"s|new"}}}), V{"a"});
}

TYPED_TEST(StoreContract, FindIdsInsideAWriteSeesThatWritesOwnPuts) {
  auto w = this->store().write([&](Transaction& t) -> core::Result<void> {
    NewVersion v;
    v.info = VersionInfo{"Patient", "x", 1, 1, false};
    v.method = "POST";
    v.json = "{}";
    v.index.tokens = {{"identifier", "sys", "42"}};
    if (auto r = t.put(v); !r) return r;
    auto ids = t.find_ids("Patient", {{"identifier", {"sys|42"}}}, 10);
    if (!ids) return ids.error();
    EXPECT_EQ(*ids, std::vector<std::string>{"x"});
    return core::ok();
  });
  ASSERT_TRUE(w) << w.error().message();
}

// ---------------------------------------------------------------------------------------------
// atomic writes

TYPED_TEST(StoreContract, AWriteWhoseWorkFailsKeepsNothingItDid) {
  ASSERT_TRUE(this->put("Patient", "existing", R"({"v":1})"));
  const auto before = this->total_versions();
  auto w = this->store().write([&](Transaction& t) -> core::Result<void> {
    NewVersion a;
    a.info = VersionInfo{"Patient", "new", 1, 1, false};
    a.method = "POST";
    a.json = "{}";
    a.index.tokens = {{"identifier", "sys", "rolled-back"}};
    if (auto r = t.put(a); !r) return r;
    NewVersion b;
    b.info = VersionInfo{"Patient", "existing", 2, 2, false};
    b.method = "PUT";
    b.json = R"({"v":2})";
    if (auto r = t.put(b); !r) return r;
    return core::Error::precondition("the caller changed its mind");
  });
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().status, 412) << "the work's own error is returned";
  EXPECT_EQ(this->total_versions(), before);
  EXPECT_EQ(this->store().read("Patient", "new").error().status, 404);
  auto existing = this->store().read("Patient", "existing");
  ASSERT_TRUE(existing);
  EXPECT_EQ(existing->info.version, 1);
  EXPECT_EQ(existing->json, R"({"v":1})");
  EXPECT_TRUE(this->find("Patient", {{"identifier", {"sys|rolled-back"}}}).empty());

  // The store keeps working afterwards, and the rolled-back version number is free again.
  ASSERT_TRUE(this->put("Patient", "existing", R"({"v":"2 again"})"));
  auto again = this->store().read("Patient", "existing");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->info.version, 2);
}

TYPED_TEST(StoreContract, AWriteWhoseWorkThrowsKeepsNothingAndReportsAnError) {
  auto w = this->store().write([&](Transaction& t) -> core::Result<void> {
    NewVersion a;
    a.info = VersionInfo{"Patient", "thrown", 1, 1, false};
    a.method = "POST";
    a.json = "{}";
    if (auto r = t.put(a); !r) return r;
    throw std::runtime_error("boom");
  });
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().status, 500);
  EXPECT_EQ(this->store().read("Patient", "thrown").error().status, 404);
  EXPECT_EQ(this->total_versions(), 0u);
}

TYPED_TEST(StoreContract, ManyConcurrentWritersAreAllAcknowledgedWithGaplessVersions) {
  constexpr int kThreads = 8;
  constexpr int kWrites = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        // Every write bumps a shared counter and creates one resource of its own.
        auto w = this->store().write([&](Transaction& txn) -> core::Result<void> {
          auto cur = txn.current("Basic", "counter");
          if (!cur) return cur.error();
          NewVersion c;
          c.info = VersionInfo{"Basic", "counter", cur->has_value() ? (*cur)->info.version + 1 : 1, 1, false};
          c.method = "PUT";
          c.json = "{}";
          if (auto r = txn.put(c); !r) return r;
          NewVersion own;
          own.info = VersionInfo{"Patient", "t" + std::to_string(t) + "-" + std::to_string(i), 1, 1, false};
          own.method = "POST";
          own.json = "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}";
          own.index.tokens = {{"identifier", "thread", std::to_string(t)}};
          return txn.put(own);
        });
        if (!w) failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);

  auto counter = this->store().read("Basic", "counter");
  ASSERT_TRUE(counter);
  EXPECT_EQ(counter->info.version, kThreads * kWrites);
  const auto counter_history = this->all_history({.type = "Basic", .id = "counter"});
  ASSERT_EQ(counter_history.size(), static_cast<std::size_t>(kThreads * kWrites));
  for (std::size_t i = 0; i < counter_history.size(); ++i) {
    EXPECT_EQ(counter_history[i].info.version, static_cast<std::int64_t>(counter_history.size() - i));
  }
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(this->find("Patient", {{"identifier", {"thread|" + std::to_string(t)}}}, 1000).size(),
              static_cast<std::size_t>(kWrites));
    for (int i = 0; i < kWrites; i += 37) {
      auto r = this->store().read("Patient", "t" + std::to_string(t) + "-" + std::to_string(i));
      ASSERT_TRUE(r);
      EXPECT_EQ(r->json, "{\"t\":" + std::to_string(t) + ",\"i\":" + std::to_string(i) + "}");
    }
  }
  EXPECT_EQ(this->total_versions(), static_cast<std::size_t>(2 * kThreads * kWrites));
  EXPECT_TRUE(this->store().check_integrity());
}

TYPED_TEST(StoreContract, AFailingConcurrentWriteDoesNotUndoItsNeighbours) {
  constexpr int kThreads = 8;
  constexpr int kWrites = 50;
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWrites; ++i) {
        const bool fail = (t + i) % 3 == 0;
        const std::string id = "w" + std::to_string(t) + "-" + std::to_string(i);
        auto w = this->store().write([&](Transaction& txn) -> core::Result<void> {
          NewVersion v;
          v.info = VersionInfo{"Patient", id, 1, 1, false};
          v.method = "POST";
          v.json = "{}";
          if (auto r = txn.put(v); !r) return r;
          if (fail) return core::Error::invalid("refused");
          return core::ok();
        });
        if (static_cast<bool>(w) == fail) wrong.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kWrites; ++i) {
      const bool fail = (t + i) % 3 == 0;
      auto r = this->store().read("Patient", "w" + std::to_string(t) + "-" + std::to_string(i));
      EXPECT_EQ(static_cast<bool>(r), !fail) << t << "/" << i;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// durability and integrity

TYPED_TEST(StoreContract, DataSurvivesClosingAndReopeningTheStore) {
  ASSERT_TRUE(this->put("Patient", "p1", R"({"v":1})", 0, {{"identifier", "s", "1"}}));
  ASSERT_TRUE(this->put("Patient", "p1", R"({"v":2})", 0, {{"identifier", "s", "1"}}));
  ASSERT_TRUE(this->put("Patient", "p2", R"({})"));
  ASSERT_TRUE(this->remove("Patient", "p2"));
  this->reopen();
  auto r = this->store().read("Patient", "p1");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->info.version, 2);
  EXPECT_EQ(r->json, R"({"v":2})");
  EXPECT_EQ(this->store().read("Patient", "p2").error().status, 410);
  EXPECT_EQ(this->total_versions(), 4u);
  EXPECT_EQ(this->find("Patient", {{"identifier", {"s|1"}}}), std::vector<std::string>{"p1"});
  // And it is writable after the reopen.
  ASSERT_TRUE(this->put("Patient", "p1", R"({"v":3})"));
  EXPECT_EQ(this->store().read("Patient", "p1")->info.version, 3);
}

TYPED_TEST(StoreContract, IntegrityCheckPassesOnAFreshAndAUsedStore) {
  EXPECT_TRUE(this->store().check_integrity());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(this->put("Patient", "p" + std::to_string(i % 4), "{}"));
  auto r = this->store().check_integrity();
  EXPECT_TRUE(r) << (r ? "" : r.error().message());
}

TYPED_TEST(StoreContract, StatsCountWritesAndRollbacks) {
  ASSERT_TRUE(this->put("Patient", "a", "{}"));
  ASSERT_FALSE(this->store().write([](Transaction&) -> core::Result<void> { return core::Error::invalid("no"); }));
  const auto s = this->store().stats();
  EXPECT_EQ(s.jobs, 2u);
  EXPECT_EQ(s.failed_jobs, 1u);
  EXPECT_GE(s.commits, 1u);
  std::string metrics;
  this->store().render_metrics(metrics);
  EXPECT_NE(metrics.find("ucr_store_write_jobs_total"), std::string::npos);
}

TYPED_TEST(StoreContract, ReadManyReturnsCurrentVersionsInTheOrderAskedLeavingOutDeletedAndUnknown) {
  ASSERT_TRUE(this->put("Patient", "a", R"({"v":1})"));
  ASSERT_TRUE(this->put("Patient", "a", R"({"v":2})"));
  ASSERT_TRUE(this->put("Patient", "b", R"({"b":1})"));
  ASSERT_TRUE(this->put("Patient", "c", R"({"c":1})"));
  ASSERT_TRUE(this->remove("Patient", "c"));
  ASSERT_TRUE(this->put("Observation", "a", R"({"o":1})"));
  auto got = this->store().read_many("Patient", {"b", "nobody", "c", "a"});
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got->size(), 2u);
  EXPECT_EQ((*got)[0].info.id, "b");
  EXPECT_EQ((*got)[0].json, R"({"b":1})");
  EXPECT_EQ((*got)[1].info.id, "a");
  EXPECT_EQ((*got)[1].info.version, 2);
  EXPECT_EQ((*got)[1].json, R"({"v":2})");
  auto none = this->store().read_many("Patient", {});
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TYPED_TEST(StoreContract, KeyRidsReadsEveryKeysBlockCappedAndReadRidsReturnsTheCurrentVersions) {
  // Five Patients share key "k1"; two also carry "k2"; one was updated, one deleted, and an
  // Observation carries "k1" under the same parameter name. p3 also has "k1" under a system.
  for (int i = 1; i <= 5; ++i) {
    std::vector<search::TokenRow> rows{{"_key", "", "k1", ""}};
    if (i <= 2) rows.push_back({"_key", "", "k2", ""});
    if (i == 3) rows.push_back({"_key", "urn:s", "k1", ""});
    ASSERT_TRUE(this->put("Patient", "p" + std::to_string(i), R"({"n":)" + std::to_string(i) + "}", 0, rows));
  }
  ASSERT_TRUE(this->put("Patient", "p1", R"({"n":1,"v":2})", 0, {{"_key", "", "k1", ""}, {"_key", "", "k2", ""}}));
  ASSERT_TRUE(this->remove("Patient", "p5"));
  ASSERT_TRUE(this->put("Observation", "o1", "{}", 0, {{"_key", "", "k1", ""}}));
  // Date rows: p6 and p7 on one day, p8 on the next; the Observation on the first too.
  const auto dated = [this](const std::string& type, const std::string& id, std::int64_t low, std::int64_t high) {
    return this->store().write([&](Transaction& t) -> core::Result<void> {
      NewVersion v;
      v.info.type = type;
      v.info.id = id;
      v.info.version = 1;
      v.info.last_updated = 1000;
      v.method = "POST";
      v.json = "{}";
      v.index.dates.push_back(search::DateRow{"_day", low, high});
      return t.put(v);
    });
  };
  constexpr std::int64_t kDay = 86'400'000'000;
  ASSERT_TRUE(dated("Patient", "p6", 0, kDay - 1));
  ASSERT_TRUE(dated("Patient", "p7", 0, kDay - 1));
  ASSERT_TRUE(dated("Patient", "p8", kDay, (2 * kDay) - 1));
  ASSERT_TRUE(dated("Patient", "p9", 0, (2 * kDay) - 1));  // covers both days: not exactly either
  ASSERT_TRUE(dated("Observation", "o2", 0, kDay - 1));

  auto blocks = this->store().key_rids(
      "Patient",
      {IndexKey::token("_key", "", "k2"), IndexKey::token("_key", "", "none"), IndexKey::token("_key", "", "k1"),
       IndexKey::token("_key", "urn:s", "k1"), IndexKey::date("_day", 0, kDay - 1),
       IndexKey::date("_day", kDay, (2 * kDay) - 1), IndexKey::date("_day", 5, kDay - 1)},
      10);
  ASSERT_TRUE(blocks) << blocks.error().message();
  ASSERT_EQ(blocks->size(), 7u);
  EXPECT_EQ((*blocks)[0].size(), 2u);
  EXPECT_TRUE((*blocks)[1].empty());
  EXPECT_EQ((*blocks)[2].size(), 4u);  // p5 was deleted; the Observation is another type; only system ""
  EXPECT_EQ((*blocks)[3].size(), 1u);  // p3's row under its system
  EXPECT_EQ((*blocks)[4].size(), 2u);  // p6 and p7: the exact bounds only
  EXPECT_EQ((*blocks)[5].size(), 1u);
  EXPECT_TRUE((*blocks)[6].empty());
  auto capped = this->store().key_rids("Patient", {IndexKey::token("_key", "", "k1")}, 3);
  ASSERT_TRUE(capped);
  EXPECT_EQ((*capped)[0].size(), 3u);
  auto only_dates = this->store().key_rids("Patient", {IndexKey::date("_day", 0, kDay - 1)}, 10);
  ASSERT_TRUE(only_dates) << only_dates.error().message();
  EXPECT_EQ((*only_dates)[0], (*blocks)[4]);

  // Read back in the order asked: p1's current version; an unknown handle is left out.
  std::vector<std::int64_t> rids = (*blocks)[2];
  std::reverse(rids.begin(), rids.end());
  rids.push_back(987654321);
  auto got = this->store().read_rids("Patient", rids);
  ASSERT_TRUE(got) << got.error().message();
  ASSERT_EQ(got->size(), 4u);
  std::vector<std::string> ids;
  for (const auto& r : *got) ids.push_back(r.info.id);
  EXPECT_EQ(ids, (std::vector<std::string>{"p4", "p3", "p2", "p1"}));
  EXPECT_EQ(got->back().info.version, 2);
  EXPECT_EQ(got->back().json, R"({"n":1,"v":2})");
  for (std::size_t i = 0; i < got->size(); ++i) EXPECT_EQ((*got)[i].rid, rids[i]) << "each carries its handle";
  // A handle read as another type is not that type's resource.
  auto other = this->store().read_rids("Observation", (*blocks)[0]);
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty());
  auto none = this->store().key_rids("Patient", {}, 10);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TYPED_TEST(StoreContract, AResourceWrittenTwiceInOneWriteKeepsOnlyItsLastIndexRows) {
  auto r = this->store().write([](Transaction& t) -> core::Result<void> {
    for (int i = 1; i <= 200; ++i) {
      NewVersion v;
      v.info = VersionInfo{"Patient", "many" + std::to_string(i), 1, 1000, false};
      v.method = "POST";
      v.json = "{}";
      v.index.tokens.push_back(search::TokenRow{"identifier", "s", "m" + std::to_string(i), ""});
      if (auto put = t.put(v); !put) return put;
    }
    for (std::int64_t version = 1; version <= 2; ++version) {
      NewVersion v;
      v.info = VersionInfo{"Patient", "twice", version, 1000 * version, false};
      v.method = version == 1 ? "POST" : "PUT";
      v.json = "{}";
      v.index.tokens.push_back(search::TokenRow{"identifier", "s", "v" + std::to_string(version), ""});
      if (auto put = t.put(v); !put) return put;
    }
    // A search inside the write sees the rows this write added.
    auto seen = t.find_ids("Patient", {{"identifier", {"s|m7"}}}, 10);
    if (!seen) return seen.error();
    if (*seen != std::vector<std::string>{"many7"}) return core::Error::internal("the write does not see its rows");
    return core::ok();
  });
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_TRUE(this->find("Patient", {{"identifier", {"s|v1"}}}).empty());
  EXPECT_EQ(this->find("Patient", {{"identifier", {"s|v2"}}}), std::vector<std::string>{"twice"});
  EXPECT_EQ(this->find("Patient", {{"identifier", {"s|m200"}}}), std::vector<std::string>{"many200"});
  EXPECT_EQ(this->find("Patient", {{"identifier", {"s|m1", "s|m2", "s|m3"}}}).size(), 3u);
}

TYPED_TEST(StoreContract, EachSigningKeyGenerationIsTakenOnceAndRetiredKeysAreDropped) {
  auto empty = this->store().signing_keys();
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_TRUE(empty->empty());
  auto first = this->store().add_signing_key(SigningKeyRecord{1, "100-a", 100, "sealed-a"});
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_TRUE(*first);
  // Another node rotating at the same moment: its key for generation 1 is not added.
  auto lost = this->store().add_signing_key(SigningKeyRecord{1, "100-b", 100, "sealed-b"});
  ASSERT_TRUE(lost) << lost.error().message();
  EXPECT_FALSE(*lost);
  ASSERT_TRUE(this->store().add_signing_key(SigningKeyRecord{2, "200-c", 200, "sealed-c"}));
  ASSERT_TRUE(this->store().add_signing_key(SigningKeyRecord{3, "300-d", 300, "sealed-d"}));
  auto keys = this->store().signing_keys();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 3u);
  EXPECT_EQ((*keys)[0].kid, "100-a");
  EXPECT_EQ((*keys)[0].sealed, "sealed-a");
  EXPECT_EQ((*keys)[0].created, 100);
  EXPECT_EQ((*keys)[2].generation, 3);
  ASSERT_TRUE(this->store().drop_signing_keys(3));
  this->reopen();
  keys = this->store().signing_keys();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].kid, "300-d");
}

// While the syncer is flushing (here: held inside an acknowledgement, which it makes after the flush), the
// writer runs what arrives in one open transaction and commits it once the syncer is free.
class HeldSyncer {
 public:
  explicit HeldSyncer(Store& store) {
    NewVersion v;
    v.info = VersionInfo{"Patient", "held", 1, 1, false};
    v.method = "POST";
    v.json = "{}";
    store.write_async([v](Transaction& t) { return t.put(v); },
                      [this](const core::Result<void>&) {
                        entered_.set_value();
                        release_.get_future().wait();
                      });
    entered_.get_future().wait();
  }
  HeldSyncer(const HeldSyncer&) = delete;
  HeldSyncer& operator=(const HeldSyncer&) = delete;
  ~HeldSyncer() {
    if (!released_) release();
  }
  void release() {
    released_ = true;
    release_.set_value();
  }

 private:
  std::promise<void> entered_;
  std::promise<void> release_;
  bool released_ = false;
};

/// Submits a create of `id` and returns once its work has run (not once it is acknowledged).
std::shared_future<core::Result<void>> create_and_wait_until_run(Store& store, const std::string& id, bool fail) {
  auto ran = std::make_shared<std::promise<void>>();
  auto ran_once = std::make_shared<std::once_flag>();
  auto acknowledged = std::make_shared<std::promise<core::Result<void>>>();
  std::shared_future<core::Result<void>> result = acknowledged->get_future().share();
  store.write_async(
      [=](Transaction& t) -> core::Result<void> {
        NewVersion v;
        v.info = VersionInfo{"Patient", id, 1, 1, false};
        v.method = "POST";
        v.json = "{}";
        auto r = t.put(v);
        std::call_once(*ran_once, [&] { ran->set_value(); });
        if (!r) return r;
        if (fail) return core::Error::invalid("refused");
        return core::ok();
      },
      [acknowledged](const core::Result<void>& r) { acknowledged->set_value(r); });
  ran->get_future().wait();
  return result;
}

TEST(SqliteStore, WritesArrivingDuringAFlushAreCommittedTogetherOnceItEnds) {
  TempDir dir;
  auto s = SqliteBackend::open(dir.path());
  ASSERT_TRUE(s) << s.error().message();
  Store& store = **s;
  HeldSyncer held(store);
  const auto before = store.stats().commits;
  std::vector<std::shared_future<core::Result<void>>> writes;
  for (int i = 0; i < 5; ++i) writes.push_back(create_and_wait_until_run(store, "c" + std::to_string(i), false));
  // Five writes have run, each taken from the queue alone; none is committed or acknowledged yet.
  EXPECT_EQ(store.stats().commits, before);
  for (auto& w : writes) EXPECT_EQ(w.wait_for(std::chrono::milliseconds(20)), std::future_status::timeout);
  EXPECT_EQ(store.read("Patient", "c0").error().status, 404);
  held.release();
  for (auto& w : writes) EXPECT_TRUE(w.get());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(store.read("Patient", "c" + std::to_string(i))) << i;
  EXPECT_EQ(store.stats().commits, before + 1);
  EXPECT_TRUE(store.check_integrity());
}

TEST(SqliteStore, AWriteFailingInAnOpenGroupUndoesOnlyItself) {
  TempDir dir;
  auto s = SqliteBackend::open(dir.path());
  ASSERT_TRUE(s) << s.error().message();
  Store& store = **s;
  HeldSyncer held(store);
  const auto before = store.stats();
  auto a = create_and_wait_until_run(store, "a", false);
  auto b = create_and_wait_until_run(store, "b", true);
  auto c = create_and_wait_until_run(store, "c", false);
  // The failure rolled the group back and ran it again write by write, then committed it at once.
  EXPECT_EQ(store.stats().commits, before.commits + 1);
  held.release();
  EXPECT_TRUE(a.get());
  EXPECT_FALSE(b.get());
  EXPECT_TRUE(c.get());
  EXPECT_TRUE(store.read("Patient", "a"));
  EXPECT_EQ(store.read("Patient", "b").error().status, 404);
  EXPECT_TRUE(store.read("Patient", "c"));
  EXPECT_EQ(store.stats().failed_jobs, before.failed_jobs + 1);
  EXPECT_TRUE(store.check_integrity());
}

TEST(SqliteStore, ADatabaseOfSchemaVersion3IsUpgradedWithTheSigningKeyTable) {
  TempDir dir;
  {
    auto s = SqliteBackend::open(dir.path());
    ASSERT_TRUE(s) << s.error().message();
    ASSERT_TRUE((*s)->write([](Transaction& t) { return t.set_meta("kept", "yes"); }));
  }
  {
    // What an older ucr left: schema version 3, no signing_key table.
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir.path() / "ucr.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "DROP TABLE signing_key; UPDATE ucr_meta SET value = '3' WHERE key = 'schema_version'",
                           nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = SqliteBackend::open(dir.path());
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ((*s)->get_meta("kept")->value_or(""), "yes");
  EXPECT_EQ((*s)->get_meta("schema_version")->value_or(""), "5");
  auto added = (*s)->add_signing_key(SigningKeyRecord{1, "1-a", 1, "x"});
  ASSERT_TRUE(added) << added.error().message();
  EXPECT_TRUE(*added);
}

TEST(SqliteStore, ADatabaseOfAnUnknownSchemaVersionIsRefused) {
  TempDir dir;
  { ASSERT_TRUE(SqliteBackend::open(dir.path())); }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir.path() / "ucr.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(
        sqlite3_exec(db, "UPDATE ucr_meta SET value = '99' WHERE key = 'schema_version'", nullptr, nullptr, nullptr),
        SQLITE_OK);
    sqlite3_close(db);
  }
  auto s = SqliteBackend::open(dir.path());
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("schema version 99"), std::string::npos) << s.error().message();
}

}  // namespace
}  // namespace ucr::store
