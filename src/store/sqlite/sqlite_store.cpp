#include "store/sqlite/sqlite_store.hpp"

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/threads.hpp"
#include "store/sql/search_sql.hpp"
#include "store/sqlite/detail/connection.hpp"
#include "store/sqlite/detail/page_cache.hpp"
#include "store/sqlite/detail/wal_buffer.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <variant>

namespace ucr::store {
namespace {

using sqlite_detail::Connection;
using sqlite_detail::db_error;
using sqlite_detail::Stmt;

constexpr int kSchemaVersion = 5;
/// Older schema versions this build brings up to date when opening (their changes only add tables,
/// or, for 5, index contained resources: resources stored before are reindexed in the background
/// when the bookkeeping key below is set).
constexpr int kOldestUpgradable = 3;

// Index rows are keyed by `rid`, an integer assigned once per resource (the seq of its first
// version): their owner indexes grow at one end, so a commit dirties few pages. Each index table is
// clustered on (type, param, value..., rid), which is the access path of searches.
constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS ucr_meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_event(seq INTEGER PRIMARY KEY, recorded INTEGER NOT NULL, patient TEXT,
  json BLOB NOT NULL, hash TEXT NOT NULL);
DROP INDEX IF EXISTS audit_event_patient;
CREATE TABLE IF NOT EXISTS audit_patient(patient TEXT NOT NULL, seq INTEGER NOT NULL,
  PRIMARY KEY(patient, seq)) WITHOUT ROWID;
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
  rid INTEGER NOT NULL,
  version INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL,
  last_updated INTEGER NOT NULL,
  compartment TEXT,
  PRIMARY KEY(type, id)) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS resource_current_rid ON resource_current(rid);
CREATE TABLE IF NOT EXISTS idx_string(type TEXT NOT NULL, param TEXT NOT NULL, normalized TEXT NOT NULL,
  exact TEXT NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY(type, param, normalized, exact, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_string_owner ON idx_string(rid);
CREATE TABLE IF NOT EXISTS idx_token(type TEXT NOT NULL, param TEXT NOT NULL, code TEXT NOT NULL,
  system TEXT NOT NULL, text TEXT NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY(type, param, code, system, text, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_token_owner ON idx_token(rid);
CREATE TABLE IF NOT EXISTS idx_reference(type TEXT NOT NULL, param TEXT NOT NULL, target_id TEXT NOT NULL,
  target_type TEXT NOT NULL, url TEXT NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY(type, param, target_id, target_type, url, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_reference_owner ON idx_reference(rid);
CREATE TABLE IF NOT EXISTS idx_date(type TEXT NOT NULL, param TEXT NOT NULL, low INTEGER NOT NULL,
  high INTEGER NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY(type, param, low, high, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_date_owner ON idx_date(rid);
CREATE TABLE IF NOT EXISTS idx_number(type TEXT NOT NULL, param TEXT NOT NULL, value REAL NOT NULL,
  low REAL NOT NULL, high REAL NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY(type, param, value, low, high, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_number_owner ON idx_number(rid);
CREATE TABLE IF NOT EXISTS idx_quantity(type TEXT NOT NULL, param TEXT NOT NULL, value REAL NOT NULL,
  low REAL NOT NULL, high REAL NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL, unit TEXT NOT NULL,
  rid INTEGER NOT NULL, PRIMARY KEY(type, param, value, low, high, system, code, unit, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_quantity_owner ON idx_quantity(rid);
CREATE TABLE IF NOT EXISTS idx_uri(type TEXT NOT NULL, param TEXT NOT NULL, uri TEXT NOT NULL,
  rid INTEGER NOT NULL, PRIMARY KEY(type, param, uri, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idx_uri_owner ON idx_uri(rid);
CREATE TABLE IF NOT EXISTS idx_composite(type TEXT NOT NULL, param TEXT NOT NULL, system1 TEXT NOT NULL,
  code1 TEXT NOT NULL, system TEXT NOT NULL, code TEXT NOT NULL, unit TEXT NOT NULL, normalized TEXT NOT NULL,
  exact TEXT NOT NULL, uri TEXT NOT NULL, target_type TEXT NOT NULL, target_id TEXT NOT NULL, url TEXT NOT NULL,
  value REAL NOT NULL, low INTEGER NOT NULL, high INTEGER NOT NULL, rid INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS idx_composite_value ON idx_composite(type, param, code1, system1);
CREATE INDEX IF NOT EXISTS idx_composite_owner ON idx_composite(rid);
CREATE TABLE IF NOT EXISTS compartment(patient TEXT NOT NULL, type TEXT NOT NULL, rid INTEGER NOT NULL,
  PRIMARY KEY(patient, type, rid)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS compartment_owner ON compartment(rid);
CREATE TABLE IF NOT EXISTS signing_key(generation INTEGER PRIMARY KEY, kid TEXT NOT NULL UNIQUE,
  created INTEGER NOT NULL, sealed TEXT NOT NULL);
)sql";

/// The INSERT statements of one index table for 1..kRowsPerInsert rows: `head` names the table and
/// columns (type and rid first), `columns` counts the others. Built once; the texts live as long as
/// the program, so connections cache their statements by address.
class MultiInsert {
 public:
  static constexpr std::size_t kRowsPerInsert = 16;
  MultiInsert(std::string_view head, int columns) : columns(columns) {
    std::string row = "(?";
    for (int i = 1; i < columns + 2; ++i) row += ",?";
    row += ")";
    std::string text = std::string(head) + " VALUES" + row;
    texts_[1] = text;
    for (std::size_t n = 2; n <= kRowsPerInsert; ++n) {
      text += "," + row;
      texts_.at(n) = text;
    }
    // "INSERT [OR IGNORE] INTO table(type, rid, c1, c2...)": the row's own columns, to read a
    // resource's stored rows and to delete one by its values.
    const auto open = head.find('(');
    const auto into = head.rfind(' ', open);
    const std::string table(head.substr(into + 1, open - into - 1));
    std::vector<std::string> names;
    std::string_view list = head.substr(open + 1, head.rfind(')') - open - 1);
    while (!list.empty()) {
      const auto comma = list.find(',');
      std::string_view name = list.substr(0, comma);
      while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
      names.emplace_back(name);
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    }
    select = "SELECT ";
    erase = "DELETE FROM " + table + " WHERE type = ?1 AND rid = ?2";
    for (std::size_t i = 2; i < names.size(); ++i) {
      select += (i > 2 ? ", " : "") + names[i];
      erase += " AND " + names[i] + " = ?" + std::to_string(i + 1);
    }
    select += " FROM " + table + " WHERE rid = ?1";
  }
  [[nodiscard]] const char* text(std::size_t rows) const { return texts_.at(rows).c_str(); }
  int columns;         // per row, besides type and rid
  std::string select;  // a resource's stored rows: its own columns, by rid (?1)
  std::string erase;   // one stored row: type, rid, then its own columns

 private:
  std::array<std::string, kRowsPerInsert + 1> texts_;
};

// Clears a resource's index rows, and those of the resources it contains (their rids are one range,
// search/index.hpp), before its new version's rows go in (literals: cached by address).
static_assert(search::kContainedSlots == 65536, "the statements below spell out the contained rid range");
constexpr std::array<const char*, 9> kClearIndex = {
    "DELETE FROM idx_composite WHERE rid = ?1 OR rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_string WHERE rid = ?1 OR rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_token WHERE rid = ?1 OR rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_reference WHERE rid = ?1 OR rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_date WHERE rid = ?1 OR rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_number WHERE rid = ?1 OR rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_quantity WHERE rid = ?1 OR rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_uri WHERE rid = ?1 OR rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM compartment WHERE rid = ?1"};
// The rows of the resources a resource contains, alone (its own rows are brought up to date row by row).
constexpr std::array<const char*, 8> kClearContainedIndex = {
    "DELETE FROM idx_composite WHERE rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_string WHERE rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_token WHERE rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_reference WHERE rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_date WHERE rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_number WHERE rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_quantity WHERE rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)",
    "DELETE FROM idx_uri WHERE rid BETWEEN -(?1 * 65536 + 65535) AND -(?1 * 65536 + 1)"};

StoredResource row_to_resource(const Stmt& s, const std::string& type, const std::string& id, int first) {
  StoredResource r;
  r.info.type = type;
  r.info.id = id;
  r.info.version = s.i64(first);
  r.info.last_updated = s.i64(first + 1);
  r.info.deleted = s.i64(first + 2) != 0;
  r.method = s.text(first + 3);
  r.json = s.text(first + 4);
  r.compartment = s.text(first + 5);
  return r;
}

core::Result<std::optional<StoredResource>> read_current(Connection& c, const std::string& type,
                                                         const std::string& id) {
  auto p = c.prepare(
      "SELECT c.version, c.last_updated, c.deleted, v.method, v.json, v.compartment FROM resource_current c "
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

void bind_all(Stmt& s, const std::vector<sql::Bind>& binds) {
  int i = 1;
  for (const auto& b : binds) {
    switch (b.kind) {
      case sql::Bind::Kind::kText:
        s.bind(i++, b.text);
        break;
      case sql::Bind::Kind::kInteger:
        s.bind(i++, b.integer);
        break;
      case sql::Bind::Kind::kReal:
        s.bind(i++, b.real);
        break;
    }
  }
}

/// Ids matching `plan`; with _sort, `keys` (when given) receives each row's sort values.
core::Result<std::vector<std::string>> search_on(Connection& c, const search::Plan& plan, std::size_t limit,
                                                 std::size_t offset,
                                                 std::vector<std::vector<search::SortValue>>* keys = nullptr,
                                                 std::vector<std::int64_t>* rids = nullptr) {
  // A weak driver (say gender=male, or a one-letter name prefix) can match most of a type; then
  // walking the type in id order and stopping at the page's end beats collecting and sorting
  // every match. A capped count of the driver's rows tells which plan to use.
  constexpr std::size_t kProbeCap = 2000;
  bool scan_by_id = false;
  if (limit + offset <= 1001 && !plan.after_rid) {
    if (auto probe = sql::driver_probe_sql(plan, kProbeCap)) {
      auto pp = c.prepare_once(probe->text);
      if (!pp) return pp.error();
      Stmt ps(c.db(), *pp);
      bind_all(ps, probe->binds);
      if (ps.step() != SQLITE_ROW) return db_error(c.db(), "search");
      scan_by_id = static_cast<std::size_t>(ps.i64(0)) >= kProbeCap;
    }
  }
  const sql::Sql sql = sql::search_sql(plan, false, limit, offset, scan_by_id);
  auto p = c.prepare_once(sql.text);
  if (!p) return p.error();
  Stmt s(c.db(), *p);
  bind_all(s, sql.binds);
  std::vector<std::string> ids;
  int rc = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    ids.push_back(s.text(0));
    if (rids != nullptr && sql.rid_order) rids->push_back(s.i64(1));
    if (keys == nullptr) continue;
    auto& row = keys->emplace_back();
    for (int i = 1; i <= static_cast<int>(plan.sort.size()); ++i) row.push_back(s.sort_value(i));
  }
  if (rc != SQLITE_DONE) return db_error(c.db(), "search");
  return ids;
}

/// A search with _contained (R4 search.html#contained): matches as type, id and local id, paged by offset.
core::Result<SearchPage> search_contained(Connection& c, const search::Plan& plan, bool want_total) {
  SearchPage page;
  if (plan.count > 0) {
    const sql::Sql sql = sql::contained_search_sql(plan, false, plan.count + 1, plan.offset);
    auto p = c.prepare_once(sql.text);
    if (!p) return p.error();
    Stmt s(c.db(), *p);
    bind_all(s, sql.binds);
    int rc = 0;
    std::vector<search::SortValue> keys;
    while ((rc = s.step()) == SQLITE_ROW) {
      if (page.refs.size() == plan.count) break;  // the row past the page: there are more
      page.refs.push_back(MatchRef{s.text(0), s.text(1), s.text(2)});
      keys.clear();
      for (int i = 0; i < static_cast<int>(plan.sort.size()); ++i) keys.push_back(s.sort_value(3 + i));
    }
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_error(c.db(), "search");
    page.more = rc == SQLITE_ROW;
    page.last_keys = std::move(keys);
  }
  // Without a cursor, the last page tells the total for free.
  if (!want_total && (page.more || plan.count == 0 || plan.after_match || (plan.offset > 0 && page.refs.empty()))) {
    return page;
  }
  if (!want_total) {
    page.total = plan.offset + page.refs.size();
    return page;
  }
  const sql::Sql sql = sql::contained_search_sql(plan, true, 0, 0);
  auto p = c.prepare_once(sql.text);
  if (!p) return p.error();
  Stmt s(c.db(), *p);
  bind_all(s, sql.binds);
  if (s.step() != SQLITE_ROW) return db_error(c.db(), "count");
  page.total = static_cast<std::size_t>(s.i64(0));
  return page;
}

core::Result<std::vector<std::string>> find_ids_on(Connection& c, const std::string& type,
                                                   const std::vector<Criterion>& criteria, std::size_t limit) {
  return search_on(c, sql::plan_of(type, criteria), limit, 0);
}

/// The audit trail's index by patient is written in large batches sorted by patient (one entry
/// per event, inserted at random places, would dirty a page per event); entries after the last
/// batch are found by a scan of that short tail. `audit:indexed` holds the last entry indexed.
constexpr const char* kAuditIndexedKey = "audit:indexed";

class SqliteTransaction final : public Transaction {
 public:
  explicit SqliteTransaction(Connection& c, std::int64_t* audit_appended = nullptr)
      : c_(c), audit_appended_(audit_appended) {}

  /// Indexes by patient every audit entry after the last one indexed, in patient order.
  core::Result<void> index_audit_by_patient() {
    auto last = c_.prepare(
        "SELECT COALESCE((SELECT CAST(value AS INTEGER) FROM ucr_meta WHERE key = ?1), 0), "
        "COALESCE((SELECT MAX(seq) FROM audit_event), 0)");
    if (!last) return last.error();
    std::int64_t from = 0;
    std::int64_t to = 0;
    {
      Stmt s(c_.db(), *last);
      s.bind(1, std::string(kAuditIndexedKey));
      if (s.step() != SQLITE_ROW) return db_error(c_.db(), "audit index");
      from = s.i64(0);
      to = s.i64(1);
    }
    if (to <= from) return core::ok();
    auto ins = c_.prepare(
        "INSERT OR IGNORE INTO audit_patient(patient, seq) SELECT patient, seq FROM audit_event "
        "WHERE seq > ?1 AND seq <= ?2 AND patient IS NOT NULL ORDER BY patient, seq");
    if (!ins) return ins.error();
    {
      Stmt s(c_.db(), *ins);
      s.bind(1, from);
      s.bind(2, to);
      if (s.step() != SQLITE_DONE) return db_error(c_.db(), "audit index");
    }
    return set_meta(kAuditIndexedKey, std::to_string(to));
  }

  core::Result<std::optional<StoredResource>> current(const std::string& type, const std::string& id) override {
    return read_current(c_, type, id);
  }

  core::Result<std::optional<VersionInfo>> current_info(const std::string& type, const std::string& id) override {
    auto p = c_.prepare("SELECT version, last_updated, deleted FROM resource_current WHERE type = ?1 AND id = ?2");
    if (!p) return p.error();
    Stmt s(c_.db(), *p);
    s.bind(1, type);
    s.bind(2, id);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<VersionInfo>{};
    if (rc != SQLITE_ROW) return db_error(c_.db(), "read");
    return std::optional<VersionInfo>{VersionInfo{type, id, s.i64(0), s.i64(1), s.i64(2) != 0}};
  }

  core::Result<std::vector<std::string>> find_ids(const std::string& type, const std::vector<Criterion>& criteria,
                                                  std::size_t limit) override {
    return find_ids_on(c_, type, criteria, limit);
  }

  core::Result<std::vector<std::string>> search_ids(const search::Plan& plan) override {
    return search_on(c_, plan, plan.count, plan.offset);
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
    // A first version has no current row yet (its version row would have clashed): a plain insert,
    // whose rid is its seq, costs less than the upsert that later versions need.
    const bool first = v.info.version == 1;
    auto cur = c_.prepare(
        first ? "INSERT INTO resource_current(type, id, rid, version, seq, deleted, last_updated, compartment) "
                "VALUES(?1, ?2, ?6, ?3, ?6, ?5, ?4, ?7)"
              : "INSERT INTO resource_current(type, id, rid, version, seq, deleted, last_updated, compartment) "
                "VALUES(?1, ?2, ?6, ?3, ?6, ?5, ?4, ?7) ON CONFLICT(type, id) DO UPDATE SET version = "
                "excluded.version, seq = excluded.seq, deleted = excluded.deleted, last_updated = "
                "excluded.last_updated, compartment = excluded.compartment RETURNING rid");
    if (!cur) return cur.error();
    std::int64_t rid = seq;
    {
      Stmt s(c_.db(), *cur);
      bind_common(s, v);
      s.bind(6, seq);
      if (v.compartment.empty()) {
        s.bind_null(7);
      } else {
        s.bind(7, v.compartment);
      }
      if (first) {
        if (s.step() != SQLITE_DONE) {
          if (sqlite3_extended_errcode(c_.db()) == SQLITE_CONSTRAINT_PRIMARYKEY) {
            return core::Error::conflict(
                fmt::format("{}/{} already has a current version; version 1 cannot follow it", v.info.type, v.info.id));
          }
          return db_error(c_.db(), "insert current");
        }
      } else {
        if (s.step() != SQLITE_ROW) return db_error(c_.db(), "update current");
        rid = s.i64(0);
        if (s.step() != SQLITE_DONE) return db_error(c_.db(), "update current");
      }
    }
    if (v.info.version > 1 && v.info.deleted) return clear_index(rid);
    if (v.info.deleted) return core::ok();
    if (v.info.version > 1) {
      // A later version usually changes few of its rows: only those that differ are written, so an
      // update dirties the pages of what changed, not of every row twice. Contained resources'
      // rows are replaced whole.
      if (auto r = clear_contained_index(rid); !r) return r;
      if (auto r = insert_index(v, rid, true); !r) return r;
    } else {
      if (auto r = insert_index(v, rid); !r) return r;
    }
    return v.index.contained.empty() ? core::ok() : insert_contained(v, rid);
  }

  core::Result<void> replace_index(const std::string& type, const std::string& id,
                                   const search::IndexRows& rows) override {
    auto p = c_.prepare("SELECT rid, deleted, compartment FROM resource_current WHERE type = ?1 AND id = ?2");
    if (!p) return p.error();
    NewVersion v;
    v.info.type = type;
    v.info.id = id;
    v.index = rows;
    std::int64_t rid = 0;
    {
      Stmt s(c_.db(), *p);
      s.bind(1, type);
      s.bind(2, id);
      const int rc = s.step();
      if (rc == SQLITE_DONE) return core::Error::not_found(fmt::format("{}/{} is not known", type, id));
      if (rc != SQLITE_ROW) return db_error(c_.db(), "reindex");
      if (s.i64(1) != 0) return core::Error::gone(fmt::format("{}/{} was deleted", type, id));
      rid = s.i64(0);
      v.compartment = s.text(2);
    }
    if (auto r = clear_index(rid); !r) return r;
    if (auto r = insert_index(v, rid); !r) return r;
    return v.index.contained.empty() ? core::ok() : insert_contained(v, rid);
  }

  core::Result<void> set_meta(const std::string& key, const std::string& value) override {
    auto p = c_.prepare("INSERT INTO ucr_meta(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO UPDATE SET value = ?2");
    if (!p) return p.error();
    Stmt s(c_.db(), *p);
    s.bind(1, key);
    s.bind(2, value);
    if (s.step() != SQLITE_DONE) return db_error(c_.db(), "meta");
    return core::ok();
  }

  core::Result<std::optional<std::string>> get_meta(const std::string& key) override {
    auto p = c_.prepare("SELECT value FROM ucr_meta WHERE key = ?1");
    if (!p) return p.error();
    Stmt s(c_.db(), *p);
    s.bind(1, key);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<std::string>{};
    if (rc != SQLITE_ROW) return db_error(c_.db(), "meta");
    return std::optional<std::string>{s.text(0)};
  }

  core::Result<void> append_audit(const AuditRecord& record) override {
    auto p = c_.prepare("INSERT INTO audit_event(seq, recorded, patient, json, hash) VALUES(?1, ?2, ?3, ?4, ?5)");
    if (!p) return p.error();
    Stmt s(c_.db(), *p);
    s.bind(1, record.seq);
    s.bind(2, static_cast<std::int64_t>(record.recorded));
    if (record.patient.empty()) {
      s.bind_null(3);
    } else {
      s.bind(3, record.patient);
    }
    s.bind_blob(4, record.json);
    s.bind(5, record.hash);
    if (s.step() != SQLITE_DONE) return db_error(c_.db(), "audit");
    if (audit_appended_ != nullptr) ++*audit_appended_;
    return core::ok();
  }

  /// Writes already run one at a time on the single writer.
  core::Result<void> lock_names(const std::string& /*scope*/, const std::vector<std::string>& /*names*/) override {
    return core::ok();
  }

  core::Result<void> delete_meta(const std::string& key) override {
    auto p = c_.prepare("DELETE FROM ucr_meta WHERE key = ?1");
    if (!p) return p.error();
    Stmt s(c_.db(), *p);
    s.bind(1, key);
    if (s.step() != SQLITE_DONE) return db_error(c_.db(), "meta");
    return core::ok();
  }

 private:
  core::Result<void> clear_contained_index(std::int64_t rid) {
    for (const char* clear : kClearContainedIndex) {
      auto del = c_.prepare(clear);
      if (!del) return del.error();
      Stmt s(c_.db(), *del);
      s.bind(1, rid);
      if (s.step() != SQLITE_DONE) return db_error(c_.db(), "clear index");
    }
    return core::ok();
  }

  core::Result<void> clear_index(std::int64_t rid) {
    for (const char* clear : kClearIndex) {
      auto del = c_.prepare(clear);
      if (!del) return del.error();
      Stmt s(c_.db(), *del);
      s.bind(1, rid);
      if (s.step() != SQLITE_DONE) return db_error(c_.db(), "clear index");
    }
    return core::ok();
  }

  /// Inserts rows of one index table, up to kRowsPerInsert rows per statement (one statement run per
  /// resource and table, not per row). `bind_row(s, at, row)` binds the row's own columns from
  /// parameter `at` on; the type and rid come first. Text is bound in place: rows outlive step().
  template <class Rows, class BindRow>
  core::Result<void> insert_rows(const NewVersion& v, std::int64_t rid, const MultiInsert& sql, const Rows& rows,
                                 BindRow bind_row, bool diff) {
    if (diff) return replace_rows(v, rid, sql, rows, bind_row);
    const int per_row = sql.columns + 2;
    for (std::size_t first = 0; first < rows.size(); first += MultiInsert::kRowsPerInsert) {
      const std::size_t count = std::min(MultiInsert::kRowsPerInsert, rows.size() - first);
      auto p = c_.prepare(sql.text(count));
      if (!p) return p.error();
      Stmt s(c_.db(), *p);
      for (std::size_t i = 0; i < count; ++i) {
        const int at = (static_cast<int>(i) * per_row) + 1;
        s.bind_static(at, v.info.type);
        s.bind(at + 1, rid);
        bind_row(s, at + 2, rows[first + i]);
      }
      if (s.step() != SQLITE_DONE) return db_error(c_.db(), "index");
    }
    return core::ok();
  }

  /// A row's values as one comparable key: from the row to store (through its bind function) or
  /// from a stored row (column by column), tagged by storage class so "1" never equals 1.
  struct RowKey {
    std::string key;
    void bind_static(int /*at*/, const std::string& v) { text(v.data(), v.size()); }
    void bind(int /*at*/, std::int64_t v) { raw('i', std::bit_cast<std::array<char, sizeof v>>(v)); }
    void bind(int /*at*/, double v) { raw('r', std::bit_cast<std::array<char, sizeof v>>(v)); }
    void text(const char* p, std::size_t n) {
      raw('s', std::bit_cast<std::array<char, sizeof(std::uint64_t)>>(static_cast<std::uint64_t>(n)));
      key.append(p, n);
    }
    template <std::size_t N>
    void raw(char tag, const std::array<char, N>& bytes) {
      key += tag;
      key.append(bytes.data(), bytes.size());
    }
  };

  /// Brings a resource's rows of one table from what is stored to `rows`: deletes the stored rows
  /// that are not among them and inserts the ones not stored. Stored rows are read from the owner
  /// index alone (it holds the clustered key's columns).
  template <class Rows, class BindRow>
  core::Result<void> replace_rows(const NewVersion& v, std::int64_t rid, const MultiInsert& sql, const Rows& rows,
                                  BindRow bind_row) {
    using Value = std::unique_ptr<sqlite3_value, decltype(&sqlite3_value_free)>;
    struct Stored {
      std::vector<Value> values;
      bool keep = false;
    };
    std::vector<Stored> stored;
    std::unordered_map<std::string, std::size_t> stored_at;  // key -> index in stored
    {
      auto p = c_.prepare(sql.select.c_str());
      if (!p) return p.error();
      Stmt s(c_.db(), *p);
      s.bind(1, rid);
      int rc = 0;
      while ((rc = s.step()) == SQLITE_ROW) {
        RowKey k;
        Stored row;
        for (int i = 0; i < sql.columns; ++i) {
          sqlite3_stmt* st = *p;
          switch (sqlite3_column_type(st, i)) {
            case SQLITE_INTEGER:
              k.bind(0, static_cast<std::int64_t>(sqlite3_column_int64(st, i)));
              break;
            case SQLITE_FLOAT:
              k.bind(0, sqlite3_column_double(st, i));
              break;
            default: {
              const auto* t = static_cast<const char*>(sqlite3_column_blob(st, i));
              k.text(t == nullptr ? "" : t, static_cast<std::size_t>(sqlite3_column_bytes(st, i)));
            }
          }
          row.values.emplace_back(sqlite3_value_dup(sqlite3_column_value(st, i)), &sqlite3_value_free);
          if (!row.values.back()) return core::Error::internal("out of memory reading index rows");
        }
        // A table without a unique key (idx_composite) can hold a row twice: one copy stands for
        // all, kept with them or deleted with them (a delete by values removes every copy).
        if (stored_at.emplace(std::move(k.key), stored.size()).second) stored.push_back(std::move(row));
      }
      if (rc != SQLITE_DONE) return db_error(c_.db(), "index");
    }
    std::vector<typename Rows::value_type> fresh;
    for (const auto& row : rows) {
      RowKey k;
      bind_row(k, 0, row);
      const auto it = stored_at.find(k.key);
      if (it == stored_at.end()) {
        fresh.push_back(row);
      } else {
        stored[it->second].keep = true;
      }
    }
    // Stored rows that are gone, deleted by their values: type and rid, then the row's columns.
    for (const auto& old : stored) {
      if (old.keep) continue;
      auto d = c_.prepare(sql.erase.c_str());
      if (!d) return d.error();
      Stmt del(c_.db(), *d);
      del.bind_static(1, v.info.type);
      del.bind(2, rid);
      for (int i = 0; i < sql.columns; ++i) {
        if (sqlite3_bind_value(*d, i + 3, old.values[static_cast<std::size_t>(i)].get()) != SQLITE_OK) {
          return db_error(c_.db(), "index");
        }
      }
      if (del.step() != SQLITE_DONE) return db_error(c_.db(), "index");
    }
    return insert_rows(v, rid, sql, fresh, bind_row, false);
  }

  core::Result<void> insert_index(const NewVersion& v, std::int64_t rid, bool diff = false) {
    static const MultiInsert kStrings("INSERT OR IGNORE INTO idx_string(type, rid, param, normalized, exact)", 3);
    static const MultiInsert kTokens("INSERT OR IGNORE INTO idx_token(type, rid, param, system, code, text)", 4);
    static const MultiInsert kReferences(
        "INSERT OR IGNORE INTO idx_reference(type, rid, param, target_type, target_id, url)", 4);
    static const MultiInsert kDates("INSERT OR IGNORE INTO idx_date(type, rid, param, low, high)", 3);
    static const MultiInsert kNumbers("INSERT OR IGNORE INTO idx_number(type, rid, param, value, low, high)", 4);
    static const MultiInsert kQuantities(
        "INSERT OR IGNORE INTO idx_quantity(type, rid, param, value, low, high, system, code, unit)", 7);
    static const MultiInsert kUris("INSERT OR IGNORE INTO idx_uri(type, rid, param, uri)", 2);
    static const MultiInsert kComposites(
        "INSERT INTO idx_composite(type, rid, param, system1, code1, system, code, unit, normalized, exact, uri, "
        "target_type, target_id, url, value, low, high)",
        15);
    static const MultiInsert kCompartments("INSERT OR IGNORE INTO compartment(type, rid, patient)", 1);
    const auto& x = v.index;
    core::Result<void> r = insert_rows(
        v, rid, kStrings, x.strings,
        [](auto& s, int at, const search::StringRow& row) {
          s.bind_static(at, row.param);
          s.bind_static(at + 1, row.normalized);
          s.bind_static(at + 2, row.exact);
        },
        diff);
    if (!r) return r;
    r = insert_rows(
        v, rid, kTokens, x.tokens,
        [](auto& s, int at, const search::TokenRow& row) {
          s.bind_static(at, row.param);
          s.bind_static(at + 1, row.system);
          s.bind_static(at + 2, row.code);
          s.bind_static(at + 3, row.text);
        },
        diff);
    if (!r) return r;
    r = insert_rows(
        v, rid, kReferences, x.references,
        [](auto& s, int at, const search::ReferenceRow& row) {
          s.bind_static(at, row.param);
          s.bind_static(at + 1, row.target_type);
          s.bind_static(at + 2, row.target_id);
          s.bind_static(at + 3, row.url);
        },
        diff);
    if (!r) return r;
    r = insert_rows(
        v, rid, kDates, x.dates,
        [](auto& s, int at, const search::DateRow& row) {
          s.bind_static(at, row.param);
          s.bind(at + 1, row.low);
          s.bind(at + 2, row.high);
        },
        diff);
    if (!r) return r;
    r = insert_rows(
        v, rid, kNumbers, x.numbers,
        [](auto& s, int at, const search::NumberRow& row) {
          s.bind_static(at, row.param);
          s.bind(at + 1, row.value);
          s.bind(at + 2, row.low);
          s.bind(at + 3, row.high);
        },
        diff);
    if (!r) return r;
    r = insert_rows(
        v, rid, kQuantities, x.quantities,
        [](auto& s, int at, const search::QuantityRow& row) {
          s.bind_static(at, row.param);
          s.bind(at + 1, row.value);
          s.bind(at + 2, row.low);
          s.bind(at + 3, row.high);
          s.bind_static(at + 4, row.system);
          s.bind_static(at + 5, row.code);
          s.bind_static(at + 6, row.unit);
        },
        diff);
    if (!r) return r;
    r = insert_rows(
        v, rid, kUris, x.uris,
        [](auto& s, int at, const search::UriRow& row) {
          s.bind_static(at, row.param);
          s.bind_static(at + 1, row.uri);
        },
        diff);
    if (!r) return r;
    r = insert_rows(
        v, rid, kComposites, x.composites,
        [](auto& s, int at, const search::CompositeRow& row) {
          s.bind_static(at, row.param);
          s.bind_static(at + 1, row.system1);
          s.bind_static(at + 2, row.code1);
          s.bind_static(at + 3, row.system);
          s.bind_static(at + 4, row.code);
          s.bind_static(at + 5, row.unit);
          s.bind_static(at + 6, row.normalized);
          s.bind_static(at + 7, row.exact);
          s.bind_static(at + 8, row.uri);
          s.bind_static(at + 9, row.target_type);
          s.bind_static(at + 10, row.target_id);
          s.bind_static(at + 11, row.url);
          s.bind(at + 12, row.value);
          s.bind(at + 13, static_cast<std::int64_t>(row.low));
          s.bind(at + 14, static_cast<std::int64_t>(row.high));
        },
        diff);
    if (!r) return r;
    std::vector<std::string> patients;
    for (const auto& c : x.compartments) {
      if (c.rfind("Patient/", 0) == 0) patients.push_back(c.substr(8));
    }
    if (!v.compartment.empty() && v.compartment.rfind("Patient/", 0) == 0 &&
        std::find(x.compartments.begin(), x.compartments.end(), v.compartment) == x.compartments.end()) {
      patients.push_back(v.compartment.substr(8));
    }
    return insert_rows(
        v, rid, kCompartments, patients,
        [](auto& s, int at, const std::string& patient) { s.bind_static(at, patient); }, diff);
  }

  /// The rows of the resources `v` contains, each under its contained rid and marked type.
  core::Result<void> insert_contained(const NewVersion& v, std::int64_t rid) {
    if (rid > search::kMaxContainerRid) {
      return core::Error::internal(
          fmt::format("{}/{}: its contained resources cannot be indexed", v.info.type, v.info.id));
    }
    for (std::size_t n = 0; n < v.index.contained.size(); ++n) {
      const auto& c = v.index.contained[n];
      NewVersion cv;
      cv.info.type = search::contained_type(c.type);
      cv.index = c.rows;
      if (auto r = insert_index(cv, search::contained_rid(rid, n)); !r) return r;
    }
    return core::ok();
  }

  static void bind_common(Stmt& s, const NewVersion& v) {
    s.bind(1, v.info.type);
    s.bind(2, v.info.id);
    s.bind(3, v.info.version);
    s.bind(4, v.info.last_updated);
    s.bind(5, static_cast<std::int64_t>(v.info.deleted ? 1 : 0));
  }

 public:
  /// The connection of the transaction, for statements the Transaction interface has no call for.
  [[nodiscard]] Connection& connection() { return c_; }

 private:
  Connection& c_;
  std::int64_t* audit_appended_;  // the store's count of entries not yet indexed (writer thread)
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
    {
      std::lock_guard lock(sync_mu_);
      sync_stopping_ = true;
    }
    sync_cv_.notify_all();
    if (syncer_.joinable()) syncer_.join();
    {
      std::lock_guard lock(checkpoint_mu_);
      checkpoint_stopping_ = true;
    }
    checkpoint_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    if (wal_fd_ >= 0) ::close(wal_fd_);
  }

  core::Result<void> open() {
    std::error_code ec;
    std::filesystem::create_directories(options_.directory, ec);
    if (ec) return core::Error::internal(fmt::format("cannot create data directory: {}", ec.message()));
    path_ = (options_.directory / "ucr.db").string();
    writer_checkpoint_pages_ =
        static_cast<int>(std::clamp<std::size_t>(options_.writer_checkpoint_pages, 1000, 1 << 24));
    writer_conn_ = std::make_unique<Connection>();
    if (auto r = writer_conn_->open(path_, false); !r) return r;
    // WAL, and every acknowledged commit on disk before we answer: SQLite flushes each commit
    // itself (synchronous=FULL), or the syncer thread flushes the WAL after the writer commits
    // (pipelined_sync; synchronous=NORMAL still flushes around checkpoints).
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=OFF",
                               "PRAGMA cache_size=-65536", "PRAGMA temp_store=MEMORY"}) {
      if (auto r = writer_conn_->exec(pragma); !r) return r;
    }
    if (options_.writer_cache_mib != 64) {
      const std::string pragma =
          fmt::format("PRAGMA cache_size=-{}", std::clamp<std::size_t>(options_.writer_cache_mib, 1, 1 << 20) * 1024);
      if (auto r = writer_conn_->exec(pragma.c_str()); !r) return r;
    }
    if (auto r = check_schema_version(); !r) return r;
    if (auto r = writer_conn_->exec(kSchema); !r) return r;
    {
      // Schema version 5 indexes contained resources: an older database's are indexed after opening.
      auto up = writer_conn_->prepare(
          "INSERT OR IGNORE INTO ucr_meta(key, value) SELECT ?1, 'pending' WHERE EXISTS (SELECT 1 FROM ucr_meta "
          "WHERE key = 'schema_version' AND CAST(value AS INTEGER) < 5)");
      if (!up) return up.error();
      Stmt s(writer_conn_->db(), *up);
      s.bind(1, std::string(kContainedReindexKey));  // store.hpp
      if (s.step() != SQLITE_DONE) return db_error(writer_conn_->db(), "schema");
    }
    // Schema version 4 added signing_key (created above when missing): an older database is now current.
    auto p = writer_conn_->prepare(
        "INSERT INTO ucr_meta(key, value) VALUES('schema_version', ?1) ON CONFLICT(key) DO UPDATE SET value = ?1");
    if (!p) return p.error();
    {
      Stmt s(writer_conn_->db(), *p);
      s.bind(1, std::to_string(kSchemaVersion));
      if (s.step() != SQLITE_DONE) return db_error(writer_conn_->db(), "schema");
    }
    if (options_.pipelined_sync) {
      // Our own descriptor of the WAL (it exists now: the schema was written through it), so the
      // syncer can flush it while the writer goes on. fdatasync flushes the file, whoever wrote it.
      wal_fd_ = ::open((path_ + "-wal").c_str(), O_RDONLY | O_CLOEXEC);  // NOLINT(cppcoreguidelines-pro-type-vararg)
      if (wal_fd_ >= 0) {
        if (auto r = writer_conn_->exec("PRAGMA synchronous=NORMAL"); !r) return r;
        syncer_ = std::thread([this] {
          core::name_thread("ucr-syncer");
          syncer_loop();
        });
        // Checkpoints (copying the WAL back into the database, with their own flushes) on a
        // connection and thread of their own too, rather than inside the writer's commits.
        checkpoint_conn_ = std::make_unique<Connection>();
        if (auto r = checkpoint_conn_->open(path_, false); !r) return r;
        if (auto r = checkpoint_conn_->exec("PRAGMA synchronous=NORMAL"); !r) return r;
        if (auto r = writer_conn_->exec("PRAGMA wal_autocheckpoint=0"); !r) return r;
        sqlite3_wal_hook(writer_conn_->db(), &SqliteStore::on_wal_commit, this);
        checkpointer_ = std::thread([this] {
          core::name_thread("ucr-checkpoint");
          checkpoint_loop();
        });
      }
    }
    {
      // Entries an earlier run appended but did not index are indexed with the next batch.
      auto p2 = writer_conn_->prepare(
          "SELECT COALESCE((SELECT MAX(seq) FROM audit_event), 0) - "
          "COALESCE((SELECT CAST(value AS INTEGER) FROM ucr_meta WHERE key = ?1), 0)");
      if (!p2) return p2.error();
      Stmt s(writer_conn_->db(), *p2);
      s.bind(1, std::string(kAuditIndexedKey));
      if (s.step() == SQLITE_ROW) audit_unindexed_ = s.i64(0);
    }
    writer_ = std::thread([this] {
      core::name_thread("ucr-writer");
      writer_loop();
    });
    return core::ok();
  }

  /// Refuses a database written with another schema version rather than misreading it.
  core::Result<void> check_schema_version() {
    auto exists = writer_conn_->prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ucr_meta'");
    if (!exists) return exists.error();
    {
      Stmt s(writer_conn_->db(), *exists);
      if (s.step() != SQLITE_ROW) return core::ok();  // a new database
    }
    auto p = writer_conn_->prepare("SELECT value FROM ucr_meta WHERE key = 'schema_version'");
    if (!p) return p.error();
    Stmt s(writer_conn_->db(), *p);
    if (s.step() != SQLITE_ROW) return core::ok();
    const std::string found = s.text(0);
    bool known = false;
    for (int v = kOldestUpgradable; v <= kSchemaVersion; ++v) known = known || found == std::to_string(v);
    if (!known) {
      return core::Error::invalid(fmt::format(
          "the database in {} has schema version {}, this ucr uses {}: export it with the older ucr and import it, or "
          "start from an empty directory",
          options_.directory.string(), found, kSchemaVersion));
    }
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
        "SELECT version, last_updated, deleted, method, json, compartment FROM resource_version "
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
        "SELECT v.seq, v.type, v.id, v.version, v.last_updated, v.deleted, v.method, v.json, v.compartment "
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

  core::Result<std::optional<std::string>> get_meta(const std::string& key) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    auto p = lease.conn->prepare("SELECT value FROM ucr_meta WHERE key = ?1");
    if (!p) return p.error();
    Stmt s(lease.conn->db(), *p);
    s.bind(1, key);
    const int rc = s.step();
    if (rc == SQLITE_DONE) return std::optional<std::string>{};
    if (rc != SQLITE_ROW) return db_error(lease.conn->db(), "meta");
    return std::optional<std::string>{s.text(0)};
  }

  core::Result<std::vector<AuditRecord>> audit_events(const AuditQuery& q) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    // ?1 patient (or NULL for all), ?2 before seq, ?3 since, ?4 limit.
    // A patient's entries: those indexed (audit_patient), then the tail not yet indexed, read in
    // one statement so both parts see the same snapshot.
    auto p = lease.conn->prepare(
        q.patient.empty()
            ? "SELECT seq, recorded, patient, json, hash FROM audit_event WHERE (?1 IS NULL) AND seq < ?2 AND "
              "recorded >= ?3 ORDER BY seq DESC LIMIT ?4"
            : "SELECT seq, recorded, patient, json, hash FROM audit_event WHERE seq IN (SELECT seq FROM "
              "audit_patient WHERE patient = ?1 AND seq < ?2 ORDER BY seq DESC) AND recorded >= ?3 "
              "UNION ALL SELECT seq, recorded, patient, json, hash FROM audit_event WHERE seq > "
              "COALESCE((SELECT CAST(value AS INTEGER) FROM ucr_meta WHERE key = 'audit:indexed'), 0) AND "
              "patient = ?1 AND seq < ?2 AND recorded >= ?3 ORDER BY seq DESC LIMIT ?4");
    if (!p) return p.error();
    Stmt s(lease.conn->db(), *p);
    if (q.patient.empty()) {
      s.bind_null(1);
    } else {
      s.bind(1, q.patient);
    }
    s.bind(2, q.before_seq.value_or(std::numeric_limits<std::int64_t>::max()));
    s.bind(3, static_cast<std::int64_t>(q.since.value_or(std::numeric_limits<std::int64_t>::min())));
    s.bind(4, static_cast<std::int64_t>(q.count));
    return read_audit(*lease.conn, s);
  }

  core::Result<std::vector<AuditRecord>> audit_scan(std::int64_t after_seq, std::size_t limit) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    auto p = lease.conn->prepare(
        "SELECT seq, recorded, patient, json, hash FROM audit_event WHERE seq > ?1 ORDER BY seq LIMIT ?2");
    if (!p) return p.error();
    Stmt s(lease.conn->db(), *p);
    s.bind(1, after_seq);
    s.bind(2, static_cast<std::int64_t>(limit));
    return read_audit(*lease.conn, s);
  }

  static core::Result<std::vector<AuditRecord>> read_audit(Connection& conn, Stmt& s) {
    std::vector<AuditRecord> out;
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
      AuditRecord r;
      r.seq = s.i64(0);
      r.recorded = s.i64(1);
      r.patient = s.text(2);
      r.json = s.text(3);
      r.hash = s.text(4);
      out.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return db_error(conn.db(), "audit");
    return out;
  }

  core::Result<std::vector<std::pair<std::string, std::string>>> list_meta(const std::string& prefix,
                                                                           const std::string& after,
                                                                           std::size_t limit) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    // Keys in [max(prefix, after), prefix + U+10FFFF): a range scan of the primary key.
    auto p = lease.conn->prepare(
        "SELECT key, value FROM ucr_meta WHERE key >= ?1 AND key > ?2 AND key < ?3 ORDER BY key LIMIT ?4");
    if (!p) return p.error();
    Stmt s(lease.conn->db(), *p);
    s.bind(1, prefix);
    s.bind(2, after);
    s.bind(3, prefix + "\xF4\x8F\xBF\xBF");
    s.bind(4, static_cast<std::int64_t>(limit));
    std::vector<std::pair<std::string, std::string>> out;
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) out.emplace_back(s.text(0), s.text(1));
    if (rc != SQLITE_DONE) return db_error(lease.conn->db(), "meta");
    return out;
  }

  core::Result<std::vector<std::string>> find_ids(const std::string& type, const std::vector<Criterion>& criteria,
                                                  std::size_t limit) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    return find_ids_on(*lease.conn, type, criteria, limit);
  }

  core::Result<SearchPage> search(const search::Plan& plan, bool want_total) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    if (plan.contained != search::Contained::kFalse) return search_contained(*lease.conn, plan, want_total);
    SearchPage page;
    if (plan.count > 0) {
      std::vector<std::vector<search::SortValue>> keys;
      std::vector<std::int64_t> rids;
      auto ids = search_on(*lease.conn, plan, plan.count + 1, plan.offset, plan.sort.empty() ? nullptr : &keys, &rids);
      if (!ids) return ids.error();
      page.more = ids->size() > plan.count;
      if (page.more) ids->pop_back();
      page.ids = std::move(*ids);
      if (!page.ids.empty() && !plan.sort.empty()) page.last_keys = std::move(keys[page.ids.size() - 1]);
      if (!page.ids.empty() && rids.size() >= page.ids.size()) page.last_rid = rids[page.ids.size() - 1];
    }
    if (want_total ||
        (!page.more && plan.count > 0 && !plan.after && !plan.after_rid && (plan.offset == 0 || !page.ids.empty()))) {
      if (!want_total && !page.more) {
        page.total = plan.offset + page.ids.size();
        return page;
      }
      const sql::Sql sql = sql::search_sql(plan, true, 0, 0);
      auto p = lease.conn->prepare_once(sql.text);
      if (!p) return p.error();
      Stmt s(lease.conn->db(), *p);
      bind_all(s, sql.binds);
      if (s.step() != SQLITE_ROW) return db_error(lease.conn->db(), "count");
      page.total = static_cast<std::size_t>(s.i64(0));
    }
    return page;
  }

  core::Result<std::vector<ReferenceTarget>> references_from(const std::string& type,
                                                             const std::vector<std::string>& ids,
                                                             const std::string& param) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    std::vector<ReferenceTarget> out;
    auto p = lease.conn->prepare(
        "SELECT r.target_type, r.target_id FROM resource_current c JOIN idx_reference r ON r.rid = c.rid "
        "WHERE c.type = ?1 AND c.id = ?2 AND (?3 = '' OR r.param = ?3) "
        "AND r.target_id != ''");
    if (!p) return p.error();
    for (const auto& id : ids) {
      Stmt s(lease.conn->db(), *p);
      s.bind(1, type);
      s.bind(2, id);
      s.bind(3, param);
      int rc = 0;
      while ((rc = s.step()) == SQLITE_ROW) out.push_back(ReferenceTarget{id, s.text(0), s.text(1)});
      if (rc != SQLITE_DONE) return db_error(lease.conn->db(), "references");
    }
    return out;
  }

  core::Result<std::vector<std::pair<std::string, std::string>>> compartment(const CompartmentQuery& q) override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    std::string sql =
        "SELECT DISTINCT c.type, c.id FROM compartment k JOIN resource_current c ON c.rid = k.rid AND "
        "c.deleted = 0 WHERE k.patient IN (?";
    std::vector<sql::Bind> binds{q.patient_id};
    for (const auto& other : q.also) {
      sql += ",?";
      binds.emplace_back(other);
    }
    sql += ")";
    if (!q.types.empty()) {
      sql += " AND k.type IN (";
      for (std::size_t i = 0; i < q.types.size(); ++i) {
        sql += i == 0 ? "?" : ",?";
        binds.emplace_back(q.types[i]);
      }
      sql += ")";
    }
    if (q.since) {
      sql += " AND c.last_updated >= ?";
      binds.emplace_back(*q.since);
    }
    sql += " ORDER BY c.type, c.id LIMIT ? OFFSET ?";
    binds.emplace_back(static_cast<std::int64_t>(q.count));
    binds.emplace_back(static_cast<std::int64_t>(q.offset));
    auto p = lease.conn->prepare_once(sql);
    if (!p) return p.error();
    Stmt s(lease.conn->db(), *p);
    bind_all(s, binds);
    std::vector<std::pair<std::string, std::string>> out;
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) out.emplace_back(s.text(0), s.text(1));
    if (rc != SQLITE_DONE) return db_error(lease.conn->db(), "compartment");
    return out;
  }

  core::Result<std::vector<std::vector<std::int64_t>>> key_rids(const std::string& type,
                                                                const std::vector<IndexKey>& keys,
                                                                std::size_t per_key) override {
    std::vector<std::vector<std::int64_t>> out(keys.size());
    if (keys.empty() || per_key == 0) return out;
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    // The clustered keys, (type, param, code, system, text, rid) and (type, param, low, high, rid),
    // answer these without the tables, in index order.
    auto tokens = lease.conn->prepare(
        "SELECT rid FROM idx_token WHERE type = ?1 AND param = ?2 AND code = ?3 AND system = ?4 LIMIT ?5");
    if (!tokens) return tokens.error();
    auto dates = lease.conn->prepare(
        "SELECT rid FROM idx_date WHERE type = ?1 AND param = ?2 AND low = ?3 AND high = ?4 LIMIT ?5");
    if (!dates) return dates.error();
    const ReadSnapshot snapshot(*lease.conn);
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const IndexKey& k = keys[i];
      const bool token = k.kind == IndexKey::Kind::kToken;
      Stmt s(lease.conn->db(), token ? *tokens : *dates);
      s.bind_static(1, type);
      s.bind_static(2, k.param);
      if (token) {
        s.bind_static(3, k.code);
        s.bind_static(4, k.system);
      } else {
        s.bind(3, k.low);
        s.bind(4, k.high);
      }
      s.bind(5, static_cast<std::int64_t>(per_key));
      int rc = 0;
      while ((rc = s.step()) == SQLITE_ROW) out[i].push_back(s.i64(0));
      if (rc != SQLITE_DONE) return db_error(lease.conn->db(), "index look-up");
    }
    return out;
  }

  core::Result<std::vector<StoredResource>> read_rids(const std::string& type,
                                                      const std::vector<std::int64_t>& rids) override {
    std::vector<StoredResource> out;
    if (rids.empty()) return out;
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    auto p = lease.conn->prepare(
        "SELECT c.id, c.version, c.last_updated, c.deleted, v.method, v.json, v.compartment FROM resource_current c "
        "JOIN resource_version v ON v.seq = c.seq WHERE c.rid = ?1 AND c.type = ?2 AND c.deleted = 0");
    if (!p) return p.error();
    out.reserve(rids.size());
    const ReadSnapshot snapshot(*lease.conn);
    for (const auto rid : rids) {
      Stmt s(lease.conn->db(), *p);
      s.bind(1, rid);
      s.bind_static(2, type);
      const int rc = s.step();
      if (rc == SQLITE_DONE) continue;
      if (rc != SQLITE_ROW) return db_error(lease.conn->db(), "read");
      out.push_back(row_to_resource(s, type, s.text(0), 1));
      out.back().rid = rid;
    }
    return out;
  }

  core::Result<std::vector<SigningKeyRecord>> signing_keys() override {
    auto c = acquire();
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    auto p = lease.conn->prepare("SELECT generation, kid, created, sealed FROM signing_key ORDER BY generation");
    if (!p) return p.error();
    Stmt s(lease.conn->db(), *p);
    std::vector<SigningKeyRecord> out;
    int rc = 0;
    while ((rc = s.step()) == SQLITE_ROW) out.push_back(SigningKeyRecord{s.i64(0), s.text(1), s.i64(2), s.text(3)});
    if (rc != SQLITE_DONE) return db_error(lease.conn->db(), "signing keys");
    return out;
  }

  core::Result<bool> add_signing_key(const SigningKeyRecord& key) override {
    bool added = false;
    auto r = write([&](Transaction& t) -> core::Result<void> {
      // This store's writes always run on a SqliteTransaction.
      Connection& c = static_cast<SqliteTransaction&>(t).connection();
      auto p = c.prepare(
          "INSERT INTO signing_key(generation, kid, created, sealed) VALUES(?1, ?2, ?3, ?4) "
          "ON CONFLICT(generation) DO NOTHING");
      if (!p) return p.error();
      Stmt s(c.db(), *p);
      s.bind(1, key.generation);
      s.bind(2, key.kid);
      s.bind(3, key.created);
      s.bind(4, key.sealed);
      if (s.step() != SQLITE_DONE) return db_error(c.db(), "signing keys");
      added = sqlite3_changes(c.db()) == 1;
      return core::ok();
    });
    if (!r) return r.error();
    return added;
  }

  core::Result<void> drop_signing_keys(std::int64_t below_generation) override {
    return write([below_generation](Transaction& t) -> core::Result<void> {
      Connection& c = static_cast<SqliteTransaction&>(t).connection();
      auto p = c.prepare("DELETE FROM signing_key WHERE generation < ?1");
      if (!p) return p.error();
      Stmt s(c.db(), *p);
      s.bind(1, below_generation);
      if (s.step() != SQLITE_DONE) return db_error(c.db(), "signing keys");
      return core::ok();
    });
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
    out += "# HELP ucr_store_sync_seconds Time to flush the WAL to disk (pipelined durability).\n";
    out += "# TYPE ucr_store_sync_seconds histogram\n";
    sync_latency_.render(out, "ucr_store_sync_seconds", "backend=\"sqlite\"");
    out += "# HELP ucr_store_syncs_total WAL flushes (each may make many commits durable).\n";
    out += "# TYPE ucr_store_syncs_total counter\n";
    out += fmt::format("ucr_store_syncs_total{{backend=\"sqlite\"}} {}\n", syncs_.load());
    out += "# HELP ucr_store_checkpoints_total WAL checkpoints run by the checkpointer thread.\n";
    out += "# TYPE ucr_store_checkpoints_total counter\n";
    out += fmt::format("ucr_store_checkpoints_total{{backend=\"sqlite\"}} {}\n", checkpoints_.load());
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

  /// One read transaction over several statements on a reader: one snapshot for all of them, and
  /// one start of a read (with its WAL lock, and its page cache emptied when anything was
  /// committed since the reader's last read) instead of one per statement.
  struct ReadSnapshot {
    explicit ReadSnapshot(Connection& c) : conn(c), open(static_cast<bool>(c.run("BEGIN"))) {}
    ReadSnapshot(const ReadSnapshot&) = delete;
    ReadSnapshot& operator=(const ReadSnapshot&) = delete;
    ~ReadSnapshot() {
      if (open && !conn.run("COMMIT")) (void)conn.exec("ROLLBACK");
    }
    Connection& conn;
    bool open;
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
    // 64 MiB of pages per reader: a page of results reads a few thousand scattered index entries
    // (candidates' rids to their ids, say), which a small cache re-reads from the file each time.
    // Readers in use at once are about one per I/O thread, so this costs about 64 MiB per core.
    if (auto r = c->exec("PRAGMA cache_size=-65536"); !r) return r.error();
    return c;
  }

  void release(std::unique_ptr<Connection> c) {
    std::lock_guard lock(pool_mu_);
    if (readers_.size() < 64) readers_.push_back(std::move(c));
  }

  /// The writes of the open transaction: run, not yet committed.
  struct Group {
    std::vector<Job> jobs;
    std::vector<core::Result<void>> results;
    bool open = false;         // BEGIN IMMEDIATE has run
    bool must_commit = false;  // a write failed and the group was run again write by write
    std::int64_t busy_micros = 0;
  };

  /// Takes writes from the queue and runs them in one open transaction, which it commits as soon
  /// as the syncer can flush it. While the syncer is flushing earlier groups, a commit could not be
  /// acknowledged before the next flush anyway, so the writer runs what arrives meanwhile in the
  /// same transaction: one commit per flush, and the pages that consecutive writes share (index
  /// pages of common values, the ends of the append-only indexes) are written to the WAL once.
  void writer_loop() {
    Group group;
    std::vector<Job> incoming;
    for (;;) {
      bool stopping = false;
      {
        std::unique_lock lock(mu_);
        if (group.jobs.empty()) {
          cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
          if (queue_.empty() && stopping_) return;
        } else {
          cv_.wait(lock, [this] { return stopping_ || !queue_.empty() || !sync_busy_.load(); });
        }
        while (!queue_.empty() && group.jobs.size() + incoming.size() < options_.max_group) {
          incoming.push_back(std::move(queue_.front()));
          queue_.pop_front();
        }
        stopping = stopping_;
      }
      if (!incoming.empty()) {
        run_jobs(group, incoming);
        incoming.clear();
      }
      if (group.jobs.empty()) continue;
      if (group.must_commit || group.jobs.size() >= options_.max_group || wal_fd_ < 0 || !sync_busy_.load() ||
          stopping) {
        commit_group(group);
        group = Group{};
      }
    }
  }

  /// Runs one job's work, turning an escaped exception into an error (a bug, reported not fatal).
  static core::Result<void> run_job(Job& job, SqliteTransaction& txn) {
    try {
      return job.work(txn);
    } catch (const std::exception& e) {
      return core::Error::internal(std::string("write failed: ") + e.what());
    }
  }

  /// Runs writes in the group's transaction. Optimistic first: no savepoints, which spare SQLite a
  /// copy of every page each job touches. If one fails, the whole group is rolled back and run
  /// again with a savepoint per job, so that only the failed jobs are undone, and then committed.
  /// Work functions depend only on their inputs and the database, and the database is back where
  /// it was, so running one again gives the same result.
  void run_jobs(Group& g, std::vector<Job>& incoming) {
    const auto start = core::now_micros();
    const std::size_t first = g.jobs.size();
    for (auto& job : incoming) g.jobs.push_back(std::move(job));
    g.results.resize(g.jobs.size());
    const auto fail_all = [&g](const core::Error& e) {
      for (auto& job : g.jobs) job.done(e);
      g = Group{};
    };
    if (!g.open) {
      auto begin = writer_conn_->run("BEGIN IMMEDIATE");
      if (!begin) return fail_all(begin.error());
      g.open = true;
    }
    SqliteTransaction txn(*writer_conn_, &audit_unindexed_);
    bool all_ok = true;
    for (std::size_t i = first; i < g.jobs.size() && all_ok; ++i) {
      g.results[i] = run_job(g.jobs[i], txn);
      all_ok = static_cast<bool>(g.results[i]);
    }
    if (!all_ok) {
      g.must_commit = true;
      if (g.jobs.size() > 1) {
        (void)writer_conn_->exec("ROLLBACK");
        g.open = false;
        auto begin = writer_conn_->run("BEGIN IMMEDIATE");
        if (!begin) return fail_all(begin.error());
        g.open = true;
        for (std::size_t i = 0; i < g.jobs.size(); ++i) {
          (void)writer_conn_->run("SAVEPOINT job");
          g.results[i] = run_job(g.jobs[i], txn);
          if (!g.results[i]) (void)writer_conn_->run("ROLLBACK TO job");
          (void)writer_conn_->run("RELEASE job");
        }
      }
    }
    g.busy_micros += core::now_micros() - start;
  }

  /// Commits the group (one fsync: the syncer's, or SQLite's own) and hands its writes to be
  /// acknowledged once on disk.
  void commit_group(Group& g) {
    const auto start = core::now_micros();
    bool any_ok = false;
    for (const auto& r : g.results) {
      if (r) {
        any_ok = true;
      } else {
        failed_jobs_.fetch_add(1);
      }
    }
    auto commit = any_ok ? writer_conn_->run("COMMIT") : writer_conn_->exec("ROLLBACK");
    if (!commit) {
      (void)writer_conn_->exec("ROLLBACK");
      for (auto& r : g.results) {
        if (r) r = commit.error();
      }
    }
    commits_.fetch_add(1);
    jobs_.fetch_add(g.jobs.size());
    commit_latency_.observe_micros(g.busy_micros + core::now_micros() - start);
    if (audit_unindexed_ >= std::max<std::int64_t>(1, options_.audit_index_batch) && !audit_index_queued_) {
      queue_audit_index();
    }
    if (wal_fd_ >= 0 && any_ok && commit) {
      // Acknowledged by the syncer once the WAL is on disk; the writer goes on meanwhile.
      {
        std::lock_guard lock(sync_mu_);
        to_sync_.push_back(Synced{std::move(g.jobs), std::move(g.results)});
        sync_busy_ = true;
      }
      sync_cv_.notify_one();
      return;
    }
    for (std::size_t i = 0; i < g.jobs.size(); ++i) g.jobs[i].done(std::move(g.results[i]));
  }

  /// Queues the indexing of the audit trail's tail by patient as a write of its own (writer thread).
  void queue_audit_index() {
    audit_index_queued_ = true;
    Job job;
    job.work = [this](Transaction& t) -> core::Result<void> {
      audit_unindexed_ = 0;  // the work runs on the writer thread
      return static_cast<SqliteTransaction&>(t).index_audit_by_patient();
    };
    job.done = [this](const core::Result<void>& r) {
      if (!r) core::log_warn("the audit trail could not be indexed by patient: " + r.error().message());
      audit_index_queued_ = false;
    };
    {
      std::lock_guard lock(mu_);
      queue_.push_back(std::move(job));
    }
    cv_.notify_one();
  }

  /// After each commit of the writer: asks for a checkpoint once the WAL holds enough pages. The
  /// checkpointer copies in the background while the writer goes on; but the writer can start the
  /// WAL over only if every frame was copied before its transaction began, which a writer that is
  /// never idle (a bulk load) does not allow. So past writer_checkpoint_pages the writer checkpoints
  /// itself, copying only what the checkpointer has not: the frames of about one commit in
  /// writer_checkpoint_pages / (pages per commit). A bulk load commits 6,000-11,000 pages at a time.
  static int on_wal_commit(void* self, sqlite3* db, const char* /*name*/, int pages) {
    constexpr int kCheckpointPages = 1000;  // SQLite's own automatic threshold
    constexpr int kCheckpointAgainPages = 4000;
    auto* store = static_cast<SqliteStore*>(self);
    if (pages >= store->writer_checkpoint_pages_) {
      (void)sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
      return SQLITE_OK;
    }
    // Once the WAL is past the threshold, a busy writer never lets it start over, so every commit
    // would ask again: each checkpoint flushes the database file, and those flushes slowed the
    // syncer's WAL flushes that acknowledge writes. Ask again only after another kCheckpointPages.
    if (pages < store->checkpoint_asked_at_) store->checkpoint_asked_at_ = 0;  // the WAL started over
    if (pages >= kCheckpointPages && pages >= store->checkpoint_asked_at_ + kCheckpointAgainPages) {
      store->checkpoint_asked_at_ = pages;
      {
        std::lock_guard lock(store->checkpoint_mu_);
        store->checkpoint_wanted_ = true;
      }
      store->checkpoint_cv_.notify_one();
    }
    return SQLITE_OK;
  }

  /// Copies committed WAL frames back into the database (PASSIVE: never blocks the writer or
  /// readers), so the writer can start the WAL over.
  void checkpoint_loop() {
    for (;;) {
      {
        std::unique_lock lock(checkpoint_mu_);
        checkpoint_cv_.wait(lock, [this] { return checkpoint_stopping_ || checkpoint_wanted_; });
        if (checkpoint_stopping_) return;
        checkpoint_wanted_ = false;
      }
      int log = 0;
      int done = 0;
      const int rc = sqlite3_wal_checkpoint_v2(checkpoint_conn_->db(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        core::log_warn(fmt::format("WAL checkpoint failed: {}", sqlite3_errmsg(checkpoint_conn_->db())));
      }
      checkpoints_.fetch_add(1);
    }
  }

  /// Flushes the WAL for every group committed so far, then acknowledges their writes.
  void syncer_loop() {
    std::deque<Synced> groups;
    for (;;) {
      {
        std::unique_lock lock(sync_mu_);
        sync_cv_.wait(lock, [this] { return sync_stopping_ || !to_sync_.empty(); });
        if (to_sync_.empty() && sync_stopping_) return;
        groups.swap(to_sync_);
      }
      const auto start = core::now_micros();
      const int rc = ::fdatasync(wal_fd_);
      sync_latency_.observe_micros(core::now_micros() - start);
      syncs_.fetch_add(1);
      for (auto& g : groups) {
        for (std::size_t i = 0; i < g.jobs.size(); ++i) {
          if (rc != 0 && g.results[i]) {
            g.results[i] = core::Error::make(503, "transient",
                                             "the write was committed but could not be flushed to disk: check the "
                                             "server's storage before retrying");
          }
          g.jobs[i].done(std::move(g.results[i]));
        }
      }
      groups.clear();
      bool idle = false;
      {
        std::lock_guard lock(sync_mu_);
        if (to_sync_.empty()) {
          sync_busy_ = false;
          idle = true;
        }
      }
      if (idle) {
        // The writer may be holding a group open until this flush is done.
        { std::lock_guard lock(mu_); }
        cv_.notify_one();
      }
    }
  }

  SqliteOptions options_;
  std::string path_;
  std::unique_ptr<Connection> writer_conn_;  // used only by the writer thread after open()

  std::thread writer_;

  struct Synced {
    std::vector<Job> jobs;
    std::vector<core::Result<void>> results;
  };
  int wal_fd_ = -1;                       // the WAL, for the syncer (pipelined_sync); -1: SQLite syncs each commit
  int writer_checkpoint_pages_ = 32'000;  // options_.writer_checkpoint_pages, for the commit hook
  std::unique_ptr<Connection> checkpoint_conn_;  // used only by the checkpointer thread
  std::thread checkpointer_;
  std::mutex checkpoint_mu_;
  std::condition_variable checkpoint_cv_;
  bool checkpoint_wanted_ = false;    // guarded by checkpoint_mu_
  int checkpoint_asked_at_ = 0;       // WAL pages when a checkpoint was last asked for (writer thread)
  bool checkpoint_stopping_ = false;  // guarded by checkpoint_mu_
  std::atomic<std::uint64_t> checkpoints_{0};
  std::int64_t audit_unindexed_ = 0;             // writer thread only
  std::atomic<bool> audit_index_queued_{false};  // set by the writer, cleared by the syncer
  std::thread syncer_;
  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<Synced> to_sync_;  // guarded by sync_mu_
  /// A flush is running or waiting: set by the writer when it hands a group over, cleared by the
  /// syncer when it has nothing left (both under sync_mu_; the writer reads it under mu_ too).
  std::atomic<bool> sync_busy_{false};
  bool sync_stopping_ = false;  // guarded by sync_mu_
  std::atomic<std::uint64_t> syncs_{0};
  core::Histogram sync_latency_;

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
  // SQLite's allocation statistics take a global mutex on every malloc; ucr does not use them. Its
  // page cache gets a layer that skips needless truncations (detail/page_cache.hpp), and its files a
  // layer that writes each commit's WAL frames at once (detail/wal_buffer.hpp). These must come
  // before SQLite's first use; if something in the process used it first, they are left out.
  static std::once_flag configured;
  std::call_once(configured, [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    sqlite_detail::install_page_cache();
    sqlite_detail::install_wal_buffer();
  });
  auto store = std::make_unique<SqliteStore>(options);
  if (auto r = store->open(); !r) return r.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace ucr::store
