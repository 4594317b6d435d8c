#include "store/sqlite/sqlite_store.hpp"

#include "core/metrics.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <variant>

namespace ucr::store {
namespace {

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ucr_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS resource_version(
  seq INTEGER PRIMARY KEY,
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  method TEXT NOT NULL,
  compartment TEXT,
  json BLOB);
CREATE UNIQUE INDEX IF NOT EXISTS resource_version_key ON resource_version(type, id, version);
CREATE INDEX IF NOT EXISTS resource_version_type ON resource_version(type, seq);
CREATE TABLE IF NOT EXISTS resource_current(
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  compartment TEXT,
  PRIMARY KEY(type, id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS resource_current_compartment ON resource_current(compartment) WHERE compartment IS NOT NULL;
CREATE TABLE IF NOT EXISTS token_index(
  type TEXT NOT NULL,
  id TEXT NOT NULL,
  param TEXT NOT NULL,
  system TEXT NOT NULL,
  code TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS token_index_value ON token_index(type, param, code, system);
CREATE INDEX IF NOT EXISTS token_index_owner ON token_index(type, id);
)sql";

core::Error db_error(sqlite3* db, const char* what) {
  // Driver detail stays in the message for operators; callers see a storage failure.
  return core::Error::internal(fmt::format("storage error during {}: {}", what, db ? sqlite3_errmsg(db) : "?"));
}

/// A prepared statement, reset on destruction so it can be reused from the cache.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    if (s_ != nullptr) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  // Text is copied (it is short); blobs must outlive step() and are bound in place.
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind_blob(int i, const std::string& v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind_null(int i) { sqlite3_bind_null(s_, i); }
  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(s_); }
  [[nodiscard]] std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  [[nodiscard]] std::string text(int c) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, c));
    const int n = sqlite3_column_bytes(s_, c);
    return p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(n));
  }
  [[nodiscard]] sqlite3* db() const { return db_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

/// One connection with its statement cache. Used by one thread at a time.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    for (auto* stmt : uncached_) sqlite3_finalize(stmt);
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  core::Result<void> open(const std::string& path, bool read_only) {
    const int flags =
        (read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) return db_error(db_, "open");
    sqlite3_busy_timeout(db_, 10000);
    return core::ok();
  }

  core::Result<void> exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "";
      sqlite3_free(err);
      return core::Error::internal(fmt::format("storage error: {}", msg));
    }
    return core::ok();
  }

  /// Runs one fixed statement through the statement cache (no re-parsing on hot paths).
  core::Result<void> run(const std::string& sql) {
    auto p = prepare(sql);
    if (!p) return p.error();
    Stmt s(db_, *p);
    const int rc = s.step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_error(db_, "statement");
    return core::ok();
  }

  /// A cached prepared statement for fixed SQL text.
  core::Result<sqlite3_stmt*> prepare(const std::string& sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
        SQLITE_OK) {
      return db_error(db_, "prepare");
    }
    cache_.emplace(sql, s);
    return s;
  }

  /// A prepared statement for one-off SQL (dynamic search shapes); finalised with the connection
  /// once the uncached list grows, so memory stays bounded.
  core::Result<sqlite3_stmt*> prepare_once(const std::string& sql) {
    if (cache_.size() < 512) return prepare(sql);
    for (auto* s : uncached_) sqlite3_finalize(s);
    uncached_.clear();
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK) {
      return db_error(db_, "prepare");
    }
    uncached_.push_back(s);
    return s;
  }

  [[nodiscard]] sqlite3* db() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> cache_;
  std::vector<sqlite3_stmt*> uncached_;
};

StoredResource row_to_resource(const Stmt& s, const std::string& type, const std::string& id, int first) {
  StoredResource r;
  r.info.type = type;
  r.info.id = id;
  r.info.version = s.i64(first);
  r.info.last_updated = s.i64(first + 1);
  r.info.deleted = s.i64(first + 2) != 0;
  r.method = s.text(first + 3);
  r.json = s.text(first + 4);
  return r;
}

core::Result<std::optional<StoredResource>> read_current(Connection& c, const std::string& type,
                                                         const std::string& id) {
  auto p = c.prepare(
      "SELECT c.version, c.last_updated, c.deleted, v.method, v.json FROM resource_current c "
      "JOIN resource_version v ON v.seq = c.seq WHERE c.type = ?1 AND c.id = ?2");
  if (!p) return p.error();
  Stmt s(c.db(), *p);
  s.bind(1, type);
  s.bind(2, id);
  const int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<StoredResource>{};
  if (rc != SQLITE_ROW) return db_error(c.db(), "read");
  return std::optional<StoredResource>{row_to_resource(s, type, id, 0)};
}

/// Splits a token search value into (system, code, has_system).
struct TokenValue {
  std::optional<std::string> system;  // empty optional: any system; "" : no system
  std::optional<std::string> code;    // empty optional: any code
};

TokenValue parse_token(const std::string& v) {
  TokenValue t;
  const auto bar = v.find('|');
  if (bar == std::string::npos) {
    t.code = v;
  } else {
    t.system = v.substr(0, bar);
    if (bar + 1 < v.size()) t.code = v.substr(bar + 1);
  }
  return t;
}

core::Result<std::vector<std::string>> find_ids_on(Connection& c, const std::string& type,
                                                   const std::vector<Criterion>& criteria, std::size_t limit) {
  std::string sql = "SELECT c.id FROM resource_current c WHERE c.type = ? AND c.deleted = 0";
  std::vector<std::string> binds{type};
  for (const auto& crit : criteria) {
    if (crit.values.empty()) continue;
    if (crit.param == "_id") {
      sql += " AND c.id IN (";
      for (std::size_t i = 0; i < crit.values.size(); ++i) {
        sql += i == 0 ? "?" : ",?";
        binds.push_back(crit.values[i]);
      }
      sql += ")";
      continue;
    }
    sql += " AND EXISTS (SELECT 1 FROM token_index t WHERE t.type = c.type AND t.id = c.id AND t.param = ? AND (";
    binds.push_back(crit.param);
    for (std::size_t i = 0; i < crit.values.size(); ++i) {
      const TokenValue tv = parse_token(crit.values[i]);
      if (i > 0) sql += " OR ";
      sql += "(1";
      if (tv.system) {
        sql += " AND t.system = ?";
        binds.push_back(*tv.system);
      }
      if (tv.code) {
        sql += " AND t.code = ?";
        binds.push_back(*tv.code);
      }
      sql += ")";
    }
    sql += "))";
  }
  sql += " ORDER BY c.id LIMIT ?";
  auto p = c.prepare_once(sql);
  if (!p) return p.error();
  Stmt s(c.db(), *p);
  int i = 1;
  for (const auto& b : binds) s.bind(i++, b);
  s.bind(i, static_cast<std::int64_t>(limit));
  std::vector<std::string> ids;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) ids.push_back(s.text(0));
  if (rc != SQLITE_DONE) return db_error(c.db(), "search");
  return ids;
}

class SqliteTransaction final : public Transaction {
 public:
  explicit SqliteTransaction(Connection& c) : c_(c) {}

  core::Result<std::optional<StoredResource>> current(const std::string& type, const std::string& id) override {
    return read_current(c_, type, id);
  }

  core::Result<std::vector<std::string>> find_ids(const std::string& type, const std::vector<Criterion>& criteria,
                                                  std::size_t limit) override {
    return find_ids_on(c_, type, criteria, limit);
  }

  core::Result<void> put(const NewVersion& v) override {
    auto ins = c_.prepare(
        "INSERT INTO resource_version(type, id, version, last_updated, deleted, method, compartment, json) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
    if (!ins) return ins.error();
    std::int64_t seq = 0;
    {
      Stmt s(c_.db(), *ins);
      bind_common(s, v);
      s.bind(6, v.method);
      if (v.compartment.empty()) {
        s.bind_null(7);
      } else {
        s.bind(7, v.compartment);
      }
      if (v.info.deleted) {
        s.bind_null(8);
      } else {
        s.bind_blob(8, v.json);
      }
      if (s.step() != SQLITE_DONE) {
        if (sqlite3_extended_errcode(c_.db()) == SQLITE_CONSTRAINT_UNIQUE) {
          return core::Error::conflict(
              fmt::format("{}/{} version {} was written concurrently", v.info.type, v.info.id, v.info.version));
        }
        return db_error(c_.db(), "insert version");
      }
      seq = sqlite3_last_insert_rowid(c_.db());
    }
    auto cur = c_.prepare(
        "INSERT INTO resource_current(type, id, version, seq, deleted, last_updated, compartment) "
        "VALUES(?1, ?2, ?3, ?6, ?5, ?4, ?7) ON CONFLICT(type, id) DO UPDATE SET version = excluded.version, "
        "seq = excluded.seq, deleted = excluded.deleted, last_updated = excluded.last_updated, "
        "compartment = excluded.compartment");
    if (!cur) return cur.error();
    {
      Stmt s(c_.db(), *cur);
      bind_common(s, v);
      s.bind(6, seq);
      if (v.compartment.empty()) {
        s.bind_null(7);
      } else {
        s.bind(7, v.compartment);
      }
      if (s.step() != SQLITE_DONE) return db_error(c_.db(), "update current");
    }
    if (v.info.version > 1) {
      auto del = c_.prepare("DELETE FROM token_index WHERE type = ?1 AND id = ?2");
      if (!del) return del.error();
      Stmt s(c_.db(), *del);
      s.bind(1, v.info.type);
      s.bind(2, v.info.id);
      if (s.step() != SQLITE_DONE) return db_error(c_.db(), "clear index");
    }
    if (!v.info.deleted) {
      auto tok = c_.prepare("INSERT INTO token_index(type, id, param, system, code) VALUES(?1, ?2, ?3, ?4, ?5)");
      if (!tok) return tok.error();
      for (const auto& t : v.tokens) {
        Stmt s(c_.db(), *tok);
        s.bind(1, v.info.type);
        s.bind(2, v.info.id);
        s.bind(3, t.param);
        s.bind(4, t.system);
        s.bind(5, t.code);
        if (s.step() != SQLITE_DONE) return db_error(c_.db(), "index");
      }
    }
    return core::ok();
  }

 private:
  static void bind_common(Stmt& s, const NewVersion& v) {
    s.bind(1, v.info.type);
    s.bind(2, v.info.id);
    s.bind(3, v.info.version);
    s.bind(4, v.info.last_updated);
    s.bind(5, static_cast<std::int64_t>(v.info.deleted ? 1 : 0));
  }

  Connection& c_;
};

struct Job {
  Store::WriteWork work;
  Store::WriteDone done;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(SqliteOptions options) : options_(std::move(options)) {}
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  ~SqliteStore() override {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (writer_.joinable()) writer_.join();
  }

  core::Result<void> open() {
    std::error_code ec;
    std::filesystem::create_directories(options_.directory, ec);
    if (ec) return core::Error::internal(fmt::format("cannot create data directory: {}", ec.message()));
    path_ = (options_.directory / "ucr.db").string();
    writer_conn_ = std::make_unique<Connection>();
    if (auto r = writer_conn_->open(path_, false); !r) return r;
    // WAL with synchronous=FULL: every acknowledged commit is on disk before we answer.
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=OFF",
                               "PRAGMA cache_size=-16384", "PRAGMA temp_store=MEMORY"}) {
      if (auto r = writer_conn_->exec(pragma); !r) return r;
    }
    if (auto r = writer_conn_->exec(kSchema); !r) return r;
    auto p = writer_conn_->prepare("INSERT OR IGNORE INTO ucr_meta(key, value) VALUES('schema_version', ?1)");
    if (!p) return p.error();
    {
      Stmt s(writer_conn_->db(), *p);
      s.bind(1, std::to_string(kSchemaVersion));
      if (s.step() != SQLITE_DONE) return db_error(writer_conn_->db(), "schema");
    }
    writer_ = std::thread([this] { writer_loop(); });
    return core::ok();
  }

  core::Result<StoredResource> read(const std::string& type, const std::string& id) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    auto r = read_current(*lease.conn, type, id);
    if (!r) return r.error();
    if (!r->has_value()) return core::Error::not_found(fmt::format("{}/{} is not known", type, id));
    if ((*r)->info.deleted) {
      auto e = core::Error::gone(fmt::format("{}/{} was deleted", type, id));
      return e;
    }
    return std::move(**r);
  }

  core::Result<StoredResource> vread(const std::string& type, const std::string& id, std::int64_t version) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    auto p = lease.conn->prepare(
        "SELECT version, last_updated, deleted, method, json FROM resource_version "
        "WHERE type = ?1 AND id = ?2 AND version = ?3");
    if (!p) return p.error();
    Stmt s(lease.conn->db(), *p);
    s.bind(1, type);
    s.bind(2, id);
    s.bind(3, version);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return core::Error::not_found(fmt::format("{}/{} has no version {}", type, id, version));
    if (rc != SQLITE_ROW) return db_error(lease.conn->db(), "vread");
    StoredResource r = row_to_resource(s, type, id, 0);
    if (r.info.deleted) return core::Error::gone(fmt::format("{}/{} version {} is a deletion", type, id, version));
    return r;
  }

  core::Result<HistoryPage> history(const HistoryQuery& q) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    std::string sql =
        "SELECT v.seq, v.type, v.id, v.version, v.last_updated, v.deleted, v.method, v.json "
        "FROM resource_version v WHERE 1";
    std::vector<std::variant<std::string, std::int64_t>> binds;
    if (!q.type.empty()) {
      sql += " AND v.type = ?";
      binds.emplace_back(q.type);
    }
    if (!q.id.empty()) {
      sql += " AND v.id = ?";
      binds.emplace_back(q.id);
    }
    if (q.since) {
      sql += " AND v.last_updated >= ?";
      binds.emplace_back(*q.since);
    }
    if (q.at) {
      sql +=
          " AND v.last_updated <= ? AND NOT EXISTS (SELECT 1 FROM resource_version w WHERE w.type = v.type AND "
          "w.id = v.id AND w.version > v.version AND w.last_updated <= ?)";
      binds.emplace_back(*q.at);
      binds.emplace_back(*q.at);
    }
    if (q.before_seq) {
      sql += " AND v.seq < ?";
      binds.emplace_back(*q.before_seq);
    }
    sql += " ORDER BY v.seq DESC LIMIT ?";
    binds.emplace_back(static_cast<std::int64_t>(q.count + 1));
    auto p = lease.conn->prepare(sql);
    if (!p) return p.error();
    Stmt s(lease.conn->db(), *p);
    int i = 1;
    for (const auto& b : binds) {
      if (const auto* str = std::get_if<std::string>(&b)) {
        s.bind(i++, *str);
      } else {
        s.bind(i++, std::get<std::int64_t>(b));
      }
    }
    HistoryPage page;
    int rc = 0;
    std::int64_t last_seq = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
      if (page.entries.size() == q.count) {
        // An empty page (count 0) has no position to continue from, so it offers no next page.
        if (!page.entries.empty()) page.next_cursor = last_seq;
        break;
      }
      last_seq = s.i64(0);
      page.entries.push_back(row_to_resource(s, s.text(1), s.text(2), 3));
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return db_error(lease.conn->db(), "history");
    return page;
  }

  core::Result<std::vector<std::string>> find_ids(const std::string& type, const std::vector<Criterion>& criteria,
                                                  std::size_t limit) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    return find_ids_on(*lease.conn, type, criteria, limit);
  }

  core::Result<void> write(const WriteWork& work) override {
    std::promise<core::Result<void>> promise;
    auto fut = promise.get_future();
    write_async(work, [&promise](core::Result<void> r) { promise.set_value(std::move(r)); });
    return fut.get();
  }

  void write_async(WriteWork work, WriteDone done) override {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queue_.push_back(Job{std::move(work), std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    done(core::Error::make(503, "transient", "the store is shutting down"));
  }

  core::Result<void> check_integrity() override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    auto p = lease.conn->prepare("PRAGMA integrity_check");
    if (!p) return p.error();
    Stmt s(lease.conn->db(), *p);
    if (s.step() != SQLITE_ROW) return db_error(lease.conn->db(), "integrity check");
    const std::string result = s.text(0);
    if (result != "ok") return core::Error::internal("integrity check failed: " + result);
    return core::ok();
  }

  StoreStats stats() const override { return StoreStats{commits_.load(), jobs_.load(), failed_jobs_.load()}; }

  void render_metrics(std::string& out) const override {
    out += "# HELP ucr_store_commit_seconds Time to commit one group of writes.\n";
    out += "# TYPE ucr_store_commit_seconds histogram\n";
    commit_latency_.render(out, "ucr_store_commit_seconds", "backend=\"sqlite\"");
    out += "# HELP ucr_store_write_jobs_total Writes submitted to the store.\n";
    out += "# TYPE ucr_store_write_jobs_total counter\n";
    out += fmt::format("ucr_store_write_jobs_total{{backend=\"sqlite\"}} {}\n", jobs_.load());
    out += "# HELP ucr_store_write_failures_total Writes rolled back.\n";
    out += "# TYPE ucr_store_write_failures_total counter\n";
    out += fmt::format("ucr_store_write_failures_total{{backend=\"sqlite\"}} {}\n", failed_jobs_.load());
    out += "# HELP ucr_store_commits_total Database commits (each may hold many writes).\n";
    out += "# TYPE ucr_store_commits_total counter\n";
    out += fmt::format("ucr_store_commits_total{{backend=\"sqlite\"}} {}\n", commits_.load());
  }

 private:
  struct Lease {
    Lease(SqliteStore& s, std::unique_ptr<Connection> c) : store(s), conn(std::move(c)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { store.release(std::move(conn)); }
    SqliteStore& store;
    std::unique_ptr<Connection> conn;
  };

  core::Result<std::unique_ptr<Connection>> acquire() {
    {
      std::lock_guard lock(pool_mu_);
      if (!readers_.empty()) {
        auto c = std::move(readers_.back());
        readers_.pop_back();
        return c;
      }
    }
    auto c = std::make_unique<Connection>();
    if (auto r = c->open(path_, true); !r) return r.error();
    if (auto r = c->exec("PRAGMA cache_size=-8192"); !r) return r.error();
    return c;
  }

  void release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(pool_mu_);
    if (readers_.size() < 64) readers_.push_back(std::move(c));
  }

  void writer_loop() {
    std::vector<Job> batch;
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty() && stopping_) return;
        while (!queue_.empty() && batch.size() < options_.max_group) {
          batch.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
      }
      run_batch(batch);
      batch.clear();
    }
  }

  void run_batch(std::vector<Job>& batch) {
    const auto start = core::now_micros();
    std::vector<core::Result<void>> results(batch.size());
    auto begin = writer_conn_->run("BEGIN IMMEDIATE");
    if (!begin) {
      for (auto& job : batch) job.done(begin.error());
      return;
    }
    SqliteTransaction txn(*writer_conn_);
    bool any_ok = false;
    for (std::size_t i = 0; i < batch.size(); ++i) {
      (void)writer_conn_->run("SAVEPOINT job");
      core::Result<void> r = core::ok();
      try {
        r = batch[i].work(txn);
      } catch (const std::exception& e) {
        r = core::Error::internal(std::string("write failed: ") + e.what());
      }
      if (r) {
        any_ok = true;
        (void)writer_conn_->run("RELEASE job");
      } else {
        (void)writer_conn_->run("ROLLBACK TO job");
        (void)writer_conn_->run("RELEASE job");
        failed_jobs_.fetch_add(1);
      }
      results[i] = std::move(r);
    }
    auto commit = any_ok ? writer_conn_->run("COMMIT") : writer_conn_->exec("ROLLBACK");
    if (!commit) {
      (void)writer_conn_->exec("ROLLBACK");
      for (auto& r : results) {
        if (r) r = commit.error();
      }
    }
    commits_.fetch_add(1);
    jobs_.fetch_add(batch.size());
    commit_latency_.observe_micros(core::now_micros() - start);
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i].done(std::move(results[i]));
  }

  SqliteOptions options_;
  std::string path_;
  std::unique_ptr<Connection> writer_conn_;  // used only by the writer thread after open()
  std::thread writer_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> queue_;  // guarded by mu_
  bool stopping_ = false;  // guarded by mu_

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Connection>> readers_;  // guarded by pool_mu_

  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> jobs_{0};
  std::atomic<std::uint64_t> failed_jobs_{0};
  core::Histogram commit_latency_;
};

}  // namespace

core::Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options) {
  auto store = std::make_unique<SqliteStore>(options);
  if (auto r = store->open(); !r) return r.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace ucr::store
