#include "store/postgres/postgres_store.hpp"

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "store/postgres/detail/connection.hpp"
#include "store/postgres/detail/schema.hpp"
#include "store/sql/search_sql.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <random>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace ucr::store {
namespace {

using pg_detail::Connection;
using pg_detail::Params;
using pg_detail::Rows;

/// Retries of a write whose transaction lost a race with another node (deadlock, serialisation
/// failure, a version or bookkeeping key written concurrently) before the error is returned.
constexpr int kMaxRaceRetries = 8;

core::Error unavailable(const std::string& why) {
  return core::Error::make(503, "transient", fmt::format("the database is unavailable: {}; retry", why));
}

bool valid_schema_name(const std::string& s) {
  if (s.empty() || s.size() > 63) return false;
  return std::all_of(s.begin(), s.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
  });
}

/// Binds a search's `?` values as typed parameters.
Params params_of(const std::vector<sql::Bind>& binds) {
  Params p;
  for (const auto& b : binds) {
    switch (b.kind) {
      case sql::Bind::Kind::kText:
        p.text(b.text);
        break;
      case sql::Bind::Kind::kInteger:
        p.i64(b.integer);
        break;
      case sql::Bind::Kind::kReal:
        p.f64(b.real);
        break;
    }
  }
  return p;
}

StoredResource to_resource(const Rows& rows, int row, const std::string& type, const std::string& id, int first) {
  StoredResource r;
  r.info.type = type;
  r.info.id = id;
  r.info.version = rows.i64(row, first);
  r.info.last_updated = rows.i64(row, first + 1);
  r.info.deleted = rows.i64(row, first + 2) != 0;
  r.method = rows.text(row, first + 3);
  r.json = rows.text(row, first + 4);
  r.compartment = rows.text(row, first + 5);
  return r;
}

core::Result<std::optional<StoredResource>> read_current(Connection& c, const std::string& type,
                                                         const std::string& id) {
  Params p;
  p.text(type);
  p.text(id);
  auto rows = c.run(
      "SELECT c.version, c.last_updated, c.deleted, v.method, v.json, v.compartment FROM resource_current c "
      "JOIN resource_version v ON v.seq = c.seq WHERE c.type = $1 AND c.id = $2",
      p, "read");
  if (!rows) return rows.error();
  if (rows->size() == 0) return std::optional<StoredResource>{};
  return std::optional<StoredResource>{to_resource(*rows, 0, type, id, 0)};
}

/// Ids matching `plan`; with _sort, `keys` (when given) receives each row's sort values.
core::Result<std::vector<std::string>> search_on(Connection& c, const search::Plan& plan, std::size_t limit,
                                                 std::size_t offset,
                                                 std::vector<std::vector<search::SortValue>>* keys = nullptr,
                                                 std::vector<std::int64_t>* rids = nullptr) {
  // As on SQLite: a weak driving filter that matches most of a type is answered by walking the type
  // in id order (see store/sql/search_sql.hpp).
  constexpr std::size_t kProbeCap = 2000;
  bool scan_by_id = false;
  if (limit + offset <= 1001 && !plan.after_rid) {
    if (auto probe = sql::driver_probe_sql(plan, kProbeCap)) {
      auto rows = c.run_shape(sql::numbered_placeholders(probe->text), params_of(probe->binds), "search");
      if (!rows) return rows.error();
      scan_by_id = rows->size() > 0 && static_cast<std::size_t>(rows->i64(0, 0)) >= kProbeCap;
    }
  }
  const sql::Sql query = sql::search_sql(plan, false, limit, offset, scan_by_id, sql::Dialect::kPostgres);
  auto rows = c.run_shape(sql::numbered_placeholders(query.text), params_of(query.binds), "search");
  if (!rows) return rows.error();
  std::vector<std::string> ids;
  ids.reserve(static_cast<std::size_t>(rows->size()));
  for (int i = 0; i < rows->size(); ++i) {
    ids.push_back(rows->text(i, 0));
    if (rids != nullptr && query.rid_order) rids->push_back(rows->i64(i, 1));
    if (keys == nullptr) continue;
    auto& row = keys->emplace_back();
    for (int k = 1; k <= static_cast<int>(plan.sort.size()); ++k) row.push_back(rows->sort_value(i, k));
  }
  return ids;
}

/// A search with _contained (R4 search.html#contained): matches as type, id and local id, paged by offset.
core::Result<SearchPage> search_contained(Connection& c, const search::Plan& plan, bool want_total) {
  SearchPage page;
  if (plan.count > 0) {
    const sql::Sql query = sql::contained_search_sql(plan, false, plan.count + 1, plan.offset);
    auto rows = c.run_shape(sql::numbered_placeholders(query.text), params_of(query.binds), "search");
    if (!rows) return rows.error();
    for (int i = 0; i < rows->size(); ++i) {
      if (page.refs.size() == plan.count) {  // the row past the page: there are more
        page.more = true;
        break;
      }
      page.refs.push_back(MatchRef{rows->text(i, 0), rows->text(i, 1), rows->text(i, 2)});
      page.last_keys.clear();
      for (int k = 0; k < static_cast<int>(plan.sort.size()); ++k) page.last_keys.push_back(rows->sort_value(i, 3 + k));
    }
  }
  // Without a cursor, the last page tells the total for free.
  if (!want_total && (page.more || plan.count == 0 || plan.after_match || (plan.offset > 0 && page.refs.empty()))) {
    return page;
  }
  if (!want_total) {
    page.total = plan.offset + page.refs.size();
    return page;
  }
  const sql::Sql count = sql::contained_search_sql(plan, true, 0, 0);
  auto rows = c.run_shape(sql::numbered_placeholders(count.text), params_of(count.binds), "count");
  if (!rows) return rows.error();
  page.total = static_cast<std::size_t>(rows->i64(0, 0));
  return page;
}

/// A value that is part of a btree search key, cut to at most kKeyBytes at a UTF-8 character
/// boundary: PostgreSQL refuses an index entry over about 2.7 kB, and a value that long (a pasted
/// document in a name, a code, a URI) is not something anyone searches by. The full value stays in
/// the resource; only searches by more than its first kKeyBytes bytes can miss it.
constexpr std::size_t kKeyBytes = 1000;
std::string_view key_part(std::string_view s) {
  if (s.size() <= kKeyBytes) return s;
  std::size_t n = kKeyBytes;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0U) == 0x80U) --n;  // not inside a character
  return s.substr(0, n);
}

/// Index rows of one table waiting to be inserted, as column arrays: each row's type, rid and
/// compartment, then the table's own columns (text, then double, then bigint). A transaction's rows
/// of one table, however many resources they belong to, go in by one statement (unnest): a fixed
/// text, prepared once per connection.
struct Batch {
  Batch(const char* statement, std::size_t texts, std::size_t reals, std::size_t integers)
      : sql(statement), text(texts), real(reals), integer(integers) {}
  const char* sql;
  std::vector<std::string> type;
  std::vector<std::int64_t> rid;
  std::vector<std::string> compartment;
  std::vector<std::vector<std::string>> text;
  std::vector<std::vector<double>> real;
  std::vector<std::vector<std::int64_t>> integer;

  void key(const std::string& t, std::int64_t r, const std::string& c) {
    type.push_back(t);
    rid.push_back(r);
    compartment.push_back(c);
  }
  [[nodiscard]] std::size_t rows() const { return rid.size(); }
  void clear() {
    type.clear();
    rid.clear();
    compartment.clear();
    for (auto& c : text) c.clear();
    for (auto& c : real) c.clear();
    for (auto& c : integer) c.clear();
  }
  /// Forgets the rows of `r` (a resource written twice in one transaction).
  void drop(std::int64_t r) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < rid.size(); ++i) {
      if (rid[i] == r) continue;
      if (kept == i) {
        ++kept;
        continue;
      }
      const auto move_row = [&](auto& column) { column[kept] = std::move(column[i]); };
      move_row(type);
      move_row(rid);
      move_row(compartment);
      for (auto& c : text) move_row(c);
      for (auto& c : real) move_row(c);
      for (auto& c : integer) move_row(c);
      ++kept;
    }
    const auto cut = [kept](auto& column) { column.resize(kept); };
    cut(type);
    cut(rid);
    cut(compartment);
    for (auto& c : text) cut(c);
    for (auto& c : real) cut(c);
    for (auto& c : integer) cut(c);
  }
};

std::vector<std::string_view> views_of(const std::vector<std::string>& values) {
  return {values.begin(), values.end()};
}

/// The index tables in the order they are filled, with their statements ($1 type[], $2 rid[],
/// $3 compartment[], then one array per column). Duplicate rows are dropped (SELECT DISTINCT).
enum Table : std::size_t { kString, kToken, kReference, kDate, kNumber, kQuantity, kUri, kComposite, kCompartment };

std::vector<Batch> index_batches() {
  std::vector<Batch> b;
  b.emplace_back(
      "INSERT INTO idx_string(type, rid, compartment, param, normalized, exact) SELECT DISTINCT * FROM "
      "unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])",
      3, 0, 0);
  b.emplace_back(
      "INSERT INTO idx_token(type, rid, compartment, param, system, code, text) SELECT DISTINCT * FROM "
      "unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])",
      4, 0, 0);
  b.emplace_back(
      "INSERT INTO idx_reference(type, rid, compartment, param, target_type, target_id, url) SELECT DISTINCT * FROM "
      "unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])",
      4, 0, 0);
  b.emplace_back(
      "INSERT INTO idx_date(type, rid, compartment, param, low, high) SELECT DISTINCT * FROM "
      "unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])",
      1, 0, 2);
  b.emplace_back(
      "INSERT INTO idx_number(type, rid, compartment, param, value, low, high) SELECT DISTINCT * FROM "
      "unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::double precision[], $6::double precision[], "
      "$7::double precision[])",
      1, 3, 0);
  b.emplace_back(
      "INSERT INTO idx_quantity(type, rid, compartment, param, system, code, unit, value, low, high) SELECT DISTINCT "
      "* FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], "
      "$8::double precision[], $9::double precision[], $10::double precision[])",
      4, 3, 0);
  b.emplace_back(
      "INSERT INTO idx_uri(type, rid, compartment, param, uri) SELECT DISTINCT * FROM "
      "unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[])",
      2, 0, 0);
  b.emplace_back(
      "INSERT INTO idx_composite(type, rid, compartment, param, system1, code1, system, code, unit, normalized, "
      "exact, uri, target_type, target_id, url, value, low, high) SELECT * FROM unnest($1::text[], $2::bigint[], "
      "$3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], "
      "$11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::double precision[], $17::bigint[], "
      "$18::bigint[])",
      12, 1, 2);
  b.emplace_back(
      "INSERT INTO compartment(type, rid, compartment, patient) SELECT DISTINCT * FROM "
      "unnest($1::text[], $2::bigint[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING",
      1, 0, 0);
  return b;
}

/// Pending index rows beyond which they are inserted before the transaction ends (bounds memory and
/// the size of one statement).
constexpr std::size_t kMaxPendingRows = 20000;

class PgTransaction final : public Transaction {
 public:
  PgTransaction(Connection& c, std::string lock_scope) : c_(c), lock_scope_(std::move(lock_scope)) {}

  /// The first statement failure of this transaction (PostgreSQL refuses every statement after
  /// one): a write whose work ignored an error must still not commit.
  [[nodiscard]] const std::optional<core::Error>& failed() const { return failed_; }
  [[nodiscard]] const pg_detail::Failure& failure() const { return failure_; }

  core::Result<std::optional<VersionInfo>> current_info(const std::string& type, const std::string& id) override {
    // FOR UPDATE: a concurrent writer of the same resource (on any node) waits here until this
    // transaction ends, then reads the version it wrote.
    Params p;
    p.text(type);
    p.text(id);
    auto rows =
        note(c_.run("SELECT version, last_updated, deleted FROM resource_current WHERE type = $1 AND id = $2 "
                    "FOR UPDATE",
                    p, "read"));
    if (!rows) return rows.error();
    if (rows->size() == 0) return std::optional<VersionInfo>{};
    return std::optional<VersionInfo>{VersionInfo{type, id, rows->i64(0, 0), rows->i64(0, 1), rows->i64(0, 2) != 0}};
  }

  core::Result<std::optional<StoredResource>> current(const std::string& type, const std::string& id) override {
    // Lock first, then read the version row in a second statement: a statement that waited for
    // the lock still sees its older snapshot of other tables.
    Params p;
    p.text(type);
    p.text(id);
    auto locked = note(c_.run(
        "SELECT version, last_updated, deleted, seq FROM resource_current WHERE type = $1 AND id = $2 FOR UPDATE", p,
        "read"));
    if (!locked) return locked.error();
    if (locked->size() == 0) return std::optional<StoredResource>{};
    Params q;
    q.i64(locked->i64(0, 3));
    auto rows = note(c_.run("SELECT method, json, compartment FROM resource_version WHERE seq = $1", q, "read"));
    if (!rows) return rows.error();
    if (rows->size() == 0) return core::Error::internal(fmt::format("{}/{}: current version row is missing", type, id));
    StoredResource r;
    r.info = VersionInfo{type, id, locked->i64(0, 0), locked->i64(0, 1), locked->i64(0, 2) != 0};
    r.method = rows->text(0, 0);
    r.json = rows->text(0, 1);
    r.compartment = rows->text(0, 2);
    return std::optional<StoredResource>{std::move(r)};
  }

  core::Result<std::vector<std::string>> find_ids(const std::string& type, const std::vector<Criterion>& criteria,
                                                  std::size_t limit) override {
    // Two nodes checking the same criteria (conditional create) take turns: the second one's
    // search runs after the first has committed, so it sees the resource the first created.
    std::string key;
    for (const auto& crit : criteria) {
      key += crit.param;
      for (const auto& v : crit.values) key += "\x1f" + v;
      key += "\x1e";
    }
    if (auto r = lock(pg_detail::lock_key({lock_scope_, "criteria", type, key})); !r) return r.error();
    if (auto r = flush(); !r) return r.error();  // the search sees this transaction's writes
    auto ids = search_on(c_, sql::plan_of(type, criteria), limit, 0);
    return note(std::move(ids));
  }

  core::Result<std::vector<std::string>> search_ids(const search::Plan& plan) override {
    std::string key;
    for (const auto& c : plan.canonical) key += c + "\x1e";
    if (auto r = lock(pg_detail::lock_key({lock_scope_, "criteria", plan.type, key})); !r) return r.error();
    if (auto r = flush(); !r) return r.error();
    return note(search_on(c_, plan, plan.count, plan.offset));
  }

  core::Result<void> put(const NewVersion& v) override {
    Params p;
    p.text(v.info.type);
    p.text(v.info.id);
    p.i64(v.info.version);
    p.i64(v.info.last_updated);
    p.i64(v.info.deleted ? 1 : 0);
    p.text(v.method);
    if (v.compartment.empty()) {
      p.null_text();
    } else {
      p.text(v.compartment);
    }
    if (v.info.deleted) {
      p.null_text();
    } else {
      p.text(v.json);
    }
    auto ins =
        note(c_.run("INSERT INTO resource_version(type, id, version, last_updated, deleted, method, compartment, json) "
                    "VALUES($1, $2, $3, $4, $5, $6, $7, $8) RETURNING seq",
                    p, "insert version"));
    if (!ins) {
      if (c_.last_failure().sqlstate == "23505") {
        return core::Error::conflict(
            fmt::format("{}/{} version {} was written concurrently", v.info.type, v.info.id, v.info.version));
      }
      return ins.error();
    }
    const std::int64_t seq = ins->i64(0, 0);
    Params q;
    q.text(v.info.type);
    q.text(v.info.id);
    q.i64(v.info.version);
    q.i64(v.info.last_updated);
    q.i64(v.info.deleted ? 1 : 0);
    q.i64(seq);
    if (v.compartment.empty()) {
      q.null_text();
    } else {
      q.text(v.compartment);
    }
    auto cur = note(
        c_.run("INSERT INTO resource_current(type, id, rid, version, seq, deleted, last_updated, compartment) "
               "VALUES($1, $2, $6, $3, $6, $5, $4, $7) ON CONFLICT(type, id) DO UPDATE SET version = excluded.version, "
               "seq = excluded.seq, deleted = excluded.deleted, last_updated = excluded.last_updated, "
               "compartment = excluded.compartment RETURNING rid",
               q, "update current"));
    if (!cur) return cur.error();
    const std::int64_t rid = cur->i64(0, 0);
    if (v.info.version > 1) {
      if (auto r = clear_index(rid); !r) return r;
    }
    if (v.info.deleted) return core::ok();
    if (auto r = insert_index(v.info.type, v.compartment, v.index, rid); !r) return r;
    return v.index.contained.empty() ? core::ok() : insert_contained(v.info.type, v.compartment, v.index, rid);
  }

  /// Queues the rows of the resources a resource contains, each under its contained rid and marked
  /// type, with the container's compartment (so one person's data stays together).
  core::Result<void> insert_contained(const std::string& type, const std::string& compartment,
                                      const search::IndexRows& x, std::int64_t rid) {
    if (rid > search::kMaxContainerRid) {
      return core::Error::internal(fmt::format("a {}'s contained resources cannot be indexed", type));
    }
    for (std::size_t n = 0; n < x.contained.size(); ++n) {
      const auto& c = x.contained[n];
      if (auto r =
              insert_index(search::contained_type(c.type), compartment, c.rows, search::contained_rid(rid, n), true);
          !r) {
        return r;
      }
    }
    return core::ok();
  }

  core::Result<void> replace_index(const std::string& type, const std::string& id,
                                   const search::IndexRows& rows) override {
    Params p;
    p.text(type);
    p.text(id);
    auto found = note(c_.run(
        "SELECT rid, deleted, compartment FROM resource_current WHERE type = $1 AND id = $2 FOR UPDATE", p, "reindex"));
    if (!found) return found.error();
    if (found->size() == 0) return core::Error::not_found(fmt::format("{}/{} is not known", type, id));
    if (found->i64(0, 1) != 0) return core::Error::gone(fmt::format("{}/{} was deleted", type, id));
    const std::int64_t rid = found->i64(0, 0);
    const std::string compartment = found->text(0, 2);
    if (auto r = clear_index(rid); !r) return r;
    if (auto r = insert_index(type, compartment, rows, rid); !r) return r;
    return rows.contained.empty() ? core::ok() : insert_contained(type, compartment, rows, rid);
  }

  core::Result<void> set_meta(const std::string& key, const std::string& value) override {
    Params p;
    p.text(key);
    p.text(value);
    auto r = note(
        c_.run("INSERT INTO ucr_meta(key, value) VALUES($1, $2) ON CONFLICT(key) DO UPDATE SET value = $2", p, "meta"));
    if (!r) return r.error();
    return core::ok();
  }

  core::Result<std::optional<std::string>> get_meta(const std::string& key) override {
    // A value read inside a write is about to be changed from what was read (the audit chain head,
    // reindex progress): writers of one key take turns, whether or not the key exists yet.
    if (auto r = lock(pg_detail::lock_key({lock_scope_, "meta", key})); !r) return r.error();
    Params p;
    p.text(key);
    auto rows = note(c_.run("SELECT value FROM ucr_meta WHERE key = $1", p, "meta"));
    if (!rows) return rows.error();
    if (rows->size() == 0) return std::optional<std::string>{};
    return std::optional<std::string>{rows->text(0, 0)};
  }

  core::Result<void> lock_names(const std::string& scope, const std::vector<std::string>& names) override {
    std::vector<std::int64_t> keys;
    keys.reserve(names.size());
    for (const auto& n : names) keys.push_back(pg_detail::lock_key({lock_scope_, "name", scope, n}));
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    if (keys.empty()) return core::ok();
    // One round trip, taking the locks in key order.
    Params p;
    p.i64_array(keys);
    auto r = note(c_.run("SELECT count(pg_advisory_xact_lock(k)) FROM (SELECT unnest($1::bigint[]) AS k ORDER BY 1) s",
                         p, "lock"));
    if (!r) return r.error();
    return core::ok();
  }

  core::Result<void> delete_meta(const std::string& key) override {
    Params p;
    p.text(key);
    auto r = note(c_.run("DELETE FROM ucr_meta WHERE key = $1", p, "meta"));
    if (!r) return r.error();
    return core::ok();
  }

  core::Result<void> append_audit(const AuditRecord& record) override {
    Params p;
    p.i64(record.seq);
    p.i64(record.recorded);
    if (record.patient.empty()) {
      p.null_text();
    } else {
      p.text(record.patient);
    }
    p.text(record.json);
    p.text(record.hash);
    auto r = note(
        c_.run("INSERT INTO audit_event(seq, recorded, patient, json, hash) VALUES($1, $2, $3, $4, $5)", p, "audit"));
    if (!r) return r.error();
    return core::ok();
  }

 private:
  /// Records the first failure of the transaction; passes the result on.
  template <class T>
  core::Result<T> note(core::Result<T> r) {
    if (!r && !failed_) {
      failed_ = r.error();
      failure_ = c_.last_failure();
    }
    return r;
  }

  core::Result<void> lock(std::int64_t key) {
    Params p;
    p.i64(key);
    auto r = note(c_.run("SELECT pg_advisory_xact_lock($1)", p, "lock"));
    if (!r) return r.error();
    return core::ok();
  }

  core::Result<void> clear_index(std::int64_t rid) {
    if (pending_rids_.erase(rid) != 0) {
      for (auto& b : batches_) b.drop(rid);
    }
    // The rows of the resources it contains (one range of contained rids, search/index.hpp).
    const std::int64_t first = search::contained_rid(rid, search::kContainedSlots - 2);
    const std::int64_t last = search::contained_rid(rid, 0);
    std::vector<std::int64_t> contained;
    for (const std::int64_t pending : pending_rids_) {
      if (pending >= first && pending <= last) contained.push_back(pending);
    }
    for (const std::int64_t crid : contained) {
      pending_rids_.erase(crid);
      for (auto& b : batches_) b.drop(crid);
    }
    Params p;
    p.i64(rid);
    p.i64(first);
    p.i64(last);
    auto r = note(c_.run(
        "WITH a AS (DELETE FROM idx_string WHERE rid = $1 OR rid BETWEEN $2 AND $3), b AS (DELETE FROM idx_token "
        "WHERE rid = $1 OR rid BETWEEN $2 AND $3), c AS (DELETE FROM idx_reference WHERE rid = $1 OR rid BETWEEN $2 "
        "AND $3), d AS (DELETE FROM idx_date WHERE rid = $1 OR rid BETWEEN $2 AND $3), e AS (DELETE FROM idx_number "
        "WHERE rid = $1 OR rid BETWEEN $2 AND $3), f AS (DELETE FROM idx_quantity WHERE rid = $1 OR rid BETWEEN $2 "
        "AND $3), g AS (DELETE FROM idx_uri WHERE rid = $1 OR rid BETWEEN $2 AND $3), h AS (DELETE FROM "
        "idx_composite WHERE rid = $1 OR rid BETWEEN $2 AND $3), i AS (DELETE FROM compartment WHERE rid = $1) "
        "SELECT 1",
        p, "clear index"));
    if (!r) return r.error();
    return core::ok();
  }

  /// Queues the index rows of resource `rid` for flush().
  /// `contained`: the rows of a contained resource, which is in no compartment of its own.
  core::Result<void> insert_index(const std::string& type, const std::string& compartment, const search::IndexRows& x,
                                  std::int64_t rid, bool contained = false) {
    pending_rids_.insert(rid);
    for (const auto& r : x.strings) {
      auto& b = batches_[kString];
      b.key(type, rid, compartment);
      b.text[0].emplace_back(r.param);
      b.text[1].emplace_back(key_part(r.normalized));
      b.text[2].emplace_back(r.exact);
    }
    for (const auto& r : x.tokens) {
      auto& b = batches_[kToken];
      b.key(type, rid, compartment);
      b.text[0].emplace_back(r.param);
      b.text[1].emplace_back(key_part(r.system));
      b.text[2].emplace_back(key_part(r.code));
      b.text[3].emplace_back(r.text);
    }
    for (const auto& r : x.references) {
      auto& b = batches_[kReference];
      b.key(type, rid, compartment);
      b.text[0].emplace_back(r.param);
      b.text[1].emplace_back(key_part(r.target_type));
      b.text[2].emplace_back(key_part(r.target_id));
      b.text[3].emplace_back(r.url);
    }
    for (const auto& r : x.dates) {
      auto& b = batches_[kDate];
      b.key(type, rid, compartment);
      b.text[0].emplace_back(r.param);
      b.integer[0].push_back(r.low);
      b.integer[1].push_back(r.high);
    }
    for (const auto& r : x.numbers) {
      auto& b = batches_[kNumber];
      b.key(type, rid, compartment);
      b.text[0].emplace_back(r.param);
      b.real[0].push_back(r.value);
      b.real[1].push_back(r.low);
      b.real[2].push_back(r.high);
    }
    for (const auto& r : x.quantities) {
      auto& b = batches_[kQuantity];
      b.key(type, rid, compartment);
      b.text[0].emplace_back(r.param);
      b.text[1].emplace_back(r.system);
      b.text[2].emplace_back(r.code);
      b.text[3].emplace_back(r.unit);
      b.real[0].push_back(r.value);
      b.real[1].push_back(r.low);
      b.real[2].push_back(r.high);
    }
    for (const auto& r : x.uris) {
      auto& b = batches_[kUri];
      b.key(type, rid, compartment);
      b.text[0].emplace_back(r.param);
      b.text[1].emplace_back(key_part(r.uri));
    }
    for (const auto& r : x.composites) {
      auto& b = batches_[kComposite];
      b.key(type, rid, compartment);
      std::size_t i = 0;
      for (const std::string* s : {&r.param, &r.system1, &r.code1, &r.system, &r.code, &r.unit, &r.normalized, &r.exact,
                                   &r.uri, &r.target_type, &r.target_id, &r.url}) {
        // system1 and code1 are the composite index's key.
        b.text[i].emplace_back(i == 1 || i == 2 ? key_part(*s) : std::string_view(*s));
        ++i;
      }
      b.real[0].push_back(r.value);
      b.integer[0].push_back(r.low);
      b.integer[1].push_back(r.high);
    }
    const auto add_patient = [&](std::string_view patient) {
      auto& b = batches_[kCompartment];
      b.key(type, rid, compartment);
      b.text[0].emplace_back(key_part(patient));
    };
    for (const auto& c : x.compartments) {
      if (c.rfind("Patient/", 0) == 0) add_patient(std::string_view(c).substr(8));
    }
    if (!contained && compartment.rfind("Patient/", 0) == 0 &&
        std::find(x.compartments.begin(), x.compartments.end(), compartment) == x.compartments.end()) {
      add_patient(std::string_view(compartment).substr(8));
    }
    std::size_t pending = 0;
    for (const auto& b : batches_) pending += b.rows();
    if (pending >= kMaxPendingRows) return flush();
    return core::ok();
  }

 public:
  /// Inserts the queued index rows: one statement per index table for the whole transaction. Runs
  /// before anything reads the index in this transaction and before it commits.
  core::Result<void> flush() {
    for (auto& b : batches_) {
      if (b.rows() == 0) continue;
      Params p;
      p.text_array(views_of(b.type));
      p.i64_array(b.rid);
      p.text_array(views_of(b.compartment));
      for (const auto& c : b.text) p.text_array(views_of(c));
      for (const auto& c : b.real) p.f64_array(c);
      for (const auto& c : b.integer) p.i64_array(c);
      auto r = note(c_.run(b.sql, p, "index"));
      b.clear();
      if (!r) return r.error();
    }
    pending_rids_.clear();
    return core::ok();
  }

 private:
  Connection& c_;
  std::string lock_scope_;
  std::optional<core::Error> failed_;
  pg_detail::Failure failure_;
  std::vector<Batch> batches_ = index_batches();   // indexed by Table
  std::unordered_set<std::int64_t> pending_rids_;  // resources with rows in batches_
};

/// True when a failed transaction lost a race that running it again can win: a deadlock, a
/// serialisation failure, or a unique key another transaction wrote first.
bool lost_race(const pg_detail::Failure& f) {
  return f.sqlstate == "40001" || f.sqlstate == "40P01" || f.sqlstate == "23505";
}

struct Job {
  Store::WriteWork work;
  Store::WriteDone done;
};

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(PostgresOptions options) : options_(std::move(options)) {
    if (options_.pool_size == 0) options_.pool_size = 1;
  }
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  ~PostgresStore() override {
    {
      std::lock_guard lock(queue_mu_);
      stopping_ = true;
    }
    queue_cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  core::Result<void> open() {
    // Fail fast (and clearly) when the database cannot be reached, before serving anything.
    auto c = acquire(true);
    if (!c) return c.error();
    Lease lease(*this, std::move(*c));
    Params none;
    auto rows = lease.conn->run("SELECT max(version) FROM schema_version", none, "schema check");
    int found = 0;
    if (rows && rows->size() > 0 && !rows->null(0, 0)) found = static_cast<int>(rows->i64(0, 0));
    if (!rows && pg_detail::is_unavailable(lease.conn->last_failure())) return rows.error();
    if (found != postgres_schema_version()) {
      return core::Error::invalid(
          found > postgres_schema_version()
              ? fmt::format("the database {} has schema version {}, newer than this ucr ({}): run a newer ucr",
                            redact_postgres_url(options_.url), found, postgres_schema_version())
              : fmt::format("the database {} has schema version {}, this ucr needs {}: run 'ucr admin migrate'",
                            redact_postgres_url(options_.url), found, postgres_schema_version()));
    }
    // Asynchronous writes (from the HTTP workers) run on threads of their own, one per connection.
    const std::size_t threads = std::max<std::size_t>(1, options_.pool_size / 2);
    for (std::size_t i = 0; i < threads; ++i) workers_.emplace_back([this] { worker_loop(); });
    return core::ok();
  }

  core::Result<StoredResource> read(const std::string& type, const std::string& id) override {
    return with_connection([&](Connection& c) -> core::Result<StoredResource> {
      auto r = read_current(c, type, id);
      if (!r) return r.error();
      if (!r->has_value()) return core::Error::not_found(fmt::format("{}/{} is not known", type, id));
      if ((*r)->info.deleted) return core::Error::gone(fmt::format("{}/{} was deleted", type, id));
      return std::move(**r);
    });
  }

  core::Result<StoredResource> vread(const std::string& type, const std::string& id, std::int64_t version) override {
    return with_connection([&](Connection& c) -> core::Result<StoredResource> {
      Params p;
      p.text(type);
      p.text(id);
      p.i64(version);
      auto rows = c.run(
          "SELECT version, last_updated, deleted, method, json, compartment FROM resource_version "
          "WHERE type = $1 AND id = $2 AND version = $3",
          p, "vread");
      if (!rows) return rows.error();
      if (rows->size() == 0) return core::Error::not_found(fmt::format("{}/{} has no version {}", type, id, version));
      StoredResource r = to_resource(*rows, 0, type, id, 0);
      if (r.info.deleted) return core::Error::gone(fmt::format("{}/{} version {} is a deletion", type, id, version));
      return r;
    });
  }

  core::Result<HistoryPage> history(const HistoryQuery& q) override {
    return with_connection([&](Connection& c) -> core::Result<HistoryPage> {
      std::string text =
          "SELECT v.seq, v.type, v.id, v.version, v.last_updated, v.deleted, v.method, v.json, v.compartment "
          "FROM resource_version v WHERE TRUE";
      Params p;
      if (!q.type.empty()) {
        text += " AND v.type = ?";
        p.text(q.type);
      }
      if (!q.id.empty()) {
        text += " AND v.id = ?";
        p.text(q.id);
      }
      if (q.since) {
        text += " AND v.last_updated >= ?";
        p.i64(*q.since);
      }
      if (q.at) {
        text +=
            " AND v.last_updated <= ? AND NOT EXISTS (SELECT 1 FROM resource_version w WHERE w.type = v.type AND "
            "w.id = v.id AND w.version > v.version AND w.last_updated <= ?)";
        p.i64(*q.at);
        p.i64(*q.at);
      }
      if (q.before_seq) {
        text += " AND v.seq < ?";
        p.i64(*q.before_seq);
      }
      text += " ORDER BY v.seq DESC LIMIT ?";
      p.i64(static_cast<std::int64_t>(q.count + 1));
      auto rows = c.run_shape(sql::numbered_placeholders(text), p, "history");
      if (!rows) return rows.error();
      HistoryPage page;
      std::int64_t last_seq = 0;
      for (int i = 0; i < rows->size(); ++i) {
        if (page.entries.size() == q.count) {
          // An empty page (count 0) has no position to continue from, so it offers no next page.
          if (!page.entries.empty()) page.next_cursor = last_seq;
          break;
        }
        last_seq = rows->i64(i, 0);
        page.entries.push_back(to_resource(*rows, i, rows->text(i, 1), rows->text(i, 2), 3));
      }
      return page;
    });
  }

  core::Result<SearchPage> search(const search::Plan& plan, bool want_total) override {
    return with_connection([&](Connection& c) -> core::Result<SearchPage> {
      if (plan.contained != search::Contained::kFalse) return search_contained(c, plan, want_total);
      SearchPage page;
      if (plan.count > 0) {
        std::vector<std::vector<search::SortValue>> keys;
        std::vector<std::int64_t> rids;
        auto ids = search_on(c, plan, plan.count + 1, plan.offset, plan.sort.empty() ? nullptr : &keys, &rids);
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
        const sql::Sql count = sql::search_sql(plan, true, 0, 0, false, sql::Dialect::kPostgres);
        auto rows = c.run_shape(sql::numbered_placeholders(count.text), params_of(count.binds), "count");
        if (!rows) return rows.error();
        page.total = static_cast<std::size_t>(rows->i64(0, 0));
      }
      return page;
    });
  }

  core::Result<std::vector<ReferenceTarget>> references_from(const std::string& type,
                                                             const std::vector<std::string>& ids,
                                                             const std::string& param) override {
    return with_connection([&](Connection& c) -> core::Result<std::vector<ReferenceTarget>> {
      std::vector<ReferenceTarget> out;
      for (const auto& id : ids) {
        Params p;
        p.text(type);
        p.text(id);
        p.text(param);
        auto rows = c.run(
            "SELECT DISTINCT r.target_type, r.target_id FROM resource_current c JOIN idx_reference r ON r.rid = c.rid "
            "WHERE c.type = $1 AND c.id = $2 AND ($3 = '' OR r.param = $3) AND r.target_id != '' "
            "ORDER BY r.target_type, r.target_id",
            p, "references");
        if (!rows) return rows.error();
        for (int i = 0; i < rows->size(); ++i) out.push_back(ReferenceTarget{id, rows->text(i, 0), rows->text(i, 1)});
      }
      return out;
    });
  }

  core::Result<std::vector<std::pair<std::string, std::string>>> compartment(const CompartmentQuery& q) override {
    return with_connection([&](Connection& c) -> core::Result<std::vector<std::pair<std::string, std::string>>> {
      std::vector<std::string_view> patients{q.patient_id};
      for (const auto& other : q.also) patients.emplace_back(other);
      std::vector<std::string_view> types(q.types.begin(), q.types.end());
      Params p;
      p.text_array(patients);
      p.text_array(types);
      p.i64(static_cast<std::int64_t>(types.size()));
      p.i64(q.since.value_or(std::numeric_limits<std::int64_t>::min()));
      p.i64(static_cast<std::int64_t>(q.count));
      p.i64(static_cast<std::int64_t>(q.offset));
      auto rows = c.run(
          "SELECT DISTINCT c.type, c.id FROM compartment k JOIN resource_current c ON c.rid = k.rid AND "
          "c.deleted = 0 WHERE k.patient = ANY($1) AND ($3 = 0 OR k.type = ANY($2)) AND c.last_updated >= $4 "
          "ORDER BY c.type, c.id LIMIT $5 OFFSET $6",
          p, "compartment");
      if (!rows) return rows.error();
      std::vector<std::pair<std::string, std::string>> out;
      out.reserve(static_cast<std::size_t>(rows->size()));
      for (int i = 0; i < rows->size(); ++i) out.emplace_back(rows->text(i, 0), rows->text(i, 1));
      return out;
    });
  }

  core::Result<std::optional<std::string>> get_meta(const std::string& key) override {
    return with_connection([&](Connection& c) -> core::Result<std::optional<std::string>> {
      Params p;
      p.text(key);
      auto rows = c.run("SELECT value FROM ucr_meta WHERE key = $1", p, "meta");
      if (!rows) return rows.error();
      if (rows->size() == 0) return std::optional<std::string>{};
      return std::optional<std::string>{rows->text(0, 0)};
    });
  }

  core::Result<std::vector<std::pair<std::string, std::string>>> list_meta(const std::string& prefix,
                                                                           const std::string& after,
                                                                           std::size_t limit) override {
    return with_connection([&](Connection& c) -> core::Result<std::vector<std::pair<std::string, std::string>>> {
      // Keys in [max(prefix, after), prefix + U+10FFFF): a range scan of the primary key.
      Params p;
      p.text(prefix);
      p.text(after);
      p.text(prefix + "\xF4\x8F\xBF\xBF");
      p.i64(static_cast<std::int64_t>(limit));
      auto rows = c.run(
          "SELECT key, value FROM ucr_meta WHERE key >= $1 AND key > $2 AND key < $3 ORDER BY key LIMIT $4", p, "meta");
      if (!rows) return rows.error();
      std::vector<std::pair<std::string, std::string>> out;
      out.reserve(static_cast<std::size_t>(rows->size()));
      for (int i = 0; i < rows->size(); ++i) out.emplace_back(rows->text(i, 0), rows->text(i, 1));
      return out;
    });
  }

  core::Result<std::vector<AuditRecord>> audit_events(const AuditQuery& q) override {
    return with_connection([&](Connection& c) -> core::Result<std::vector<AuditRecord>> {
      Params p;
      p.text(q.patient);
      p.i64(q.before_seq.value_or(std::numeric_limits<std::int64_t>::max()));
      p.i64(q.since.value_or(std::numeric_limits<std::int64_t>::min()));
      p.i64(static_cast<std::int64_t>(q.count));
      auto rows = q.patient.empty()
                      ? c.run(
                            "SELECT seq, recorded, patient, json, hash FROM audit_event WHERE $1 = '' AND seq < $2 "
                            "AND recorded >= $3 ORDER BY seq DESC LIMIT $4",
                            p, "audit")
                      : c.run(
                            "SELECT seq, recorded, patient, json, hash FROM audit_event WHERE patient = $1 AND "
                            "seq < $2 AND recorded >= $3 ORDER BY seq DESC LIMIT $4",
                            p, "audit");
      if (!rows) return rows.error();
      return audit_rows(*rows);
    });
  }

  core::Result<std::vector<AuditRecord>> audit_scan(std::int64_t after_seq, std::size_t limit) override {
    return with_connection([&](Connection& c) -> core::Result<std::vector<AuditRecord>> {
      Params p;
      p.i64(after_seq);
      p.i64(static_cast<std::int64_t>(limit));
      auto rows =
          c.run("SELECT seq, recorded, patient, json, hash FROM audit_event WHERE seq > $1 ORDER BY seq LIMIT $2", p,
                "audit");
      if (!rows) return rows.error();
      return audit_rows(*rows);
    });
  }

  core::Result<std::vector<std::string>> find_ids(const std::string& type, const std::vector<Criterion>& criteria,
                                                  std::size_t limit) override {
    return with_connection([&](Connection& c) { return search_on(c, sql::plan_of(type, criteria), limit, 0); });
  }

  core::Result<std::vector<StoredResource>> read_many(const std::string& type,
                                                      const std::vector<std::string>& ids) override {
    if (ids.empty()) return std::vector<StoredResource>{};
    return with_connection([&](Connection& c) -> core::Result<std::vector<StoredResource>> {
      std::vector<std::string_view> views(ids.begin(), ids.end());
      Params p;
      p.text(type);
      p.text_array(views);
      // One round trip for a page of matches rather than one per match.
      auto rows = c.run(
          "SELECT c.id, c.version, c.last_updated, c.deleted, v.method, v.json, v.compartment FROM resource_current c "
          "JOIN resource_version v ON v.seq = c.seq WHERE c.type = $1 AND c.id = ANY($2::text[]) AND c.deleted = 0",
          p, "read");
      if (!rows) return rows.error();
      std::unordered_map<std::string, int> row_of;
      for (int i = 0; i < rows->size(); ++i) row_of.emplace(rows->text(i, 0), i);
      std::vector<StoredResource> out;
      out.reserve(row_of.size());
      for (const auto& id : ids) {
        const auto it = row_of.find(id);
        if (it != row_of.end()) out.push_back(to_resource(*rows, it->second, type, id, 1));
      }
      return out;
    });
  }

  core::Result<std::vector<std::vector<std::int64_t>>> key_rids(const std::string& type,
                                                                const std::vector<IndexKey>& keys,
                                                                std::size_t per_key) override {
    std::vector<std::vector<std::int64_t>> out(keys.size());
    if (keys.empty() || per_key == 0) return out;
    // Token keys and date keys in arrays of their own, each remembering its place in `keys`.
    std::vector<std::string_view> token_params;
    std::vector<std::string_view> systems;
    std::vector<std::string_view> codes;
    std::vector<std::int64_t> token_at;
    std::vector<std::string_view> date_params;
    std::vector<std::int64_t> lows;
    std::vector<std::int64_t> highs;
    std::vector<std::int64_t> date_at;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      const IndexKey& k = keys[i];
      if (k.kind == IndexKey::Kind::kToken) {
        token_params.emplace_back(k.param);
        systems.emplace_back(k.system);
        codes.emplace_back(k.code);
        token_at.push_back(static_cast<std::int64_t>(i));
      } else {
        date_params.emplace_back(k.param);
        lows.push_back(k.low);
        highs.push_back(k.high);
        date_at.push_back(static_cast<std::int64_t>(i));
      }
    }
    return with_connection([&](Connection& c) -> core::Result<std::vector<std::vector<std::int64_t>>> {
      Params p;
      p.text(type);
      p.i64(static_cast<std::int64_t>(per_key));
      p.text_array(token_params);
      p.text_array(systems);
      p.text_array(codes);
      p.i64_array(token_at);
      p.text_array(date_params);
      p.i64_array(lows);
      p.i64_array(highs);
      p.i64_array(date_at);
      // One round trip for every key: each is its own capped index range scan.
      auto rows = c.run(
          "SELECT k.at, t.rid FROM unnest($3::text[], $4::text[], $5::text[], $6::int8[]) AS k(param, system, code, "
          "at) "
          "CROSS JOIN LATERAL (SELECT rid FROM idx_token WHERE type = $1 AND param = k.param AND code = k.code "
          "AND system = k.system ORDER BY rid LIMIT $2) t "
          "UNION ALL "
          "SELECT k.at, t.rid FROM unnest($7::text[], $8::int8[], $9::int8[], $10::int8[]) AS k(param, low, high, at) "
          "CROSS JOIN LATERAL (SELECT rid FROM idx_date WHERE type = $1 AND param = k.param AND low = k.low "
          "AND high = k.high ORDER BY rid LIMIT $2) t",
          p, "index look-up");
      if (!rows) return rows.error();
      for (int i = 0; i < rows->size(); ++i) {
        const std::int64_t at = rows->i64(i, 0);
        if (at >= 0 && static_cast<std::size_t>(at) < out.size())
          out[static_cast<std::size_t>(at)].push_back(rows->i64(i, 1));
      }
      return out;
    });
  }

  core::Result<std::vector<StoredResource>> read_rids(const std::string& type,
                                                      const std::vector<std::int64_t>& rids) override {
    if (rids.empty()) return std::vector<StoredResource>{};
    return with_connection([&](Connection& c) -> core::Result<std::vector<StoredResource>> {
      Params p;
      p.i64_array(rids);
      // By rid alone (unique), the type checked here: given `c.type = $1` as well, the planner may
      // intersect the rid look-ups with a scan of every current resource of the type in the primary
      // key (it did while a table's statistics still described it nearly empty, as after a first
      // load), which made each look-up cost time in proportion to the number of stored resources.
      auto rows = c.run(
          "SELECT c.rid, c.id, c.version, c.last_updated, c.deleted, v.method, v.json, v.compartment, c.type FROM "
          "resource_current c JOIN resource_version v ON v.seq = c.seq WHERE c.rid = ANY($1::bigint[]) "
          "AND c.deleted = 0",
          p, "read");
      if (!rows) return rows.error();
      std::unordered_map<std::int64_t, int> row_of;
      for (int i = 0; i < rows->size(); ++i) {
        if (rows->text(i, 8) == type) row_of.emplace(rows->i64(i, 0), i);
      }
      std::vector<StoredResource> out;
      out.reserve(row_of.size());
      for (const auto rid : rids) {
        const auto it = row_of.find(rid);
        if (it == row_of.end()) continue;
        out.push_back(to_resource(*rows, it->second, type, rows->text(it->second, 1), 2));
        out.back().rid = rid;
      }
      return out;
    });
  }

  core::Result<std::vector<SigningKeyRecord>> signing_keys() override {
    return with_connection([&](Connection& c) -> core::Result<std::vector<SigningKeyRecord>> {
      Params none;
      auto rows =
          c.run("SELECT generation, kid, created, sealed FROM signing_key ORDER BY generation", none, "signing keys");
      if (!rows) return rows.error();
      std::vector<SigningKeyRecord> out;
      out.reserve(static_cast<std::size_t>(rows->size()));
      for (int i = 0; i < rows->size(); ++i) {
        out.push_back(SigningKeyRecord{rows->i64(i, 0), rows->text(i, 1), rows->i64(i, 2), rows->text(i, 3)});
      }
      return out;
    });
  }

  core::Result<bool> add_signing_key(const SigningKeyRecord& key) override {
    return with_connection([&](Connection& c) -> core::Result<bool> {
      Params p;
      p.i64(key.generation);
      p.text(key.kid);
      p.i64(key.created);
      p.text(key.sealed);
      // Two nodes rotating at once both try the next generation: one row goes in, the other node
      // reads it back and adopts it.
      auto rows = c.run(
          "INSERT INTO signing_key(generation, kid, created, sealed) VALUES($1, $2, $3, $4) "
          "ON CONFLICT(generation) DO NOTHING RETURNING generation",
          p, "signing keys");
      if (!rows) return rows.error();
      return rows->size() == 1;
    });
  }

  core::Result<void> drop_signing_keys(std::int64_t below_generation) override {
    return with_connection([&](Connection& c) -> core::Result<void> {
      Params p;
      p.i64(below_generation);
      auto r = c.run("DELETE FROM signing_key WHERE generation < $1", p, "signing keys");
      if (!r) return r.error();
      return core::ok();
    });
  }

  core::Result<void> write(const WriteWork& work) override {
    jobs_.fetch_add(1);
    auto r = run_write(work);
    if (!r) failed_jobs_.fetch_add(1);
    return r;
  }

  void write_async(WriteWork work, WriteDone done) override {
    {
      std::lock_guard lock(queue_mu_);
      if (!stopping_) {
        queue_.push_back(Job{std::move(work), std::move(done)});
        queue_cv_.notify_one();
        return;
      }
    }
    done(core::Error::make(503, "transient", "the store is shutting down"));
  }

  core::Result<void> check_integrity() override {
    return with_connection([&](Connection& c) -> core::Result<void> {
      Params none;
      // Every current row points at a stored version of the same resource.
      auto rows = c.run(
          "SELECT count(*) FROM resource_current c LEFT JOIN resource_version v ON v.seq = c.seq AND v.type = c.type "
          "AND v.id = c.id AND v.version = c.version WHERE v.seq IS NULL",
          none, "integrity check");
      if (!rows) return rows.error();
      if (rows->i64(0, 0) != 0) {
        return core::Error::internal(
            fmt::format("integrity check failed: {} current rows without their version", rows->i64(0, 0)));
      }
      return core::ok();
    });
  }

  StoreStats stats() const override { return StoreStats{commits_.load(), jobs_.load(), failed_jobs_.load()}; }

  void render_metrics(std::string& out) const override {
    out += "# HELP ucr_store_commit_seconds Time to commit one group of writes.\n";
    out += "# TYPE ucr_store_commit_seconds histogram\n";
    commit_latency_.render(out, "ucr_store_commit_seconds", "backend=\"postgresql\"");
    out += "# HELP ucr_store_write_jobs_total Writes submitted to the store.\n";
    out += "# TYPE ucr_store_write_jobs_total counter\n";
    out += fmt::format("ucr_store_write_jobs_total{{backend=\"postgresql\"}} {}\n", jobs_.load());
    out += "# HELP ucr_store_write_failures_total Writes rolled back.\n";
    out += "# TYPE ucr_store_write_failures_total counter\n";
    out += fmt::format("ucr_store_write_failures_total{{backend=\"postgresql\"}} {}\n", failed_jobs_.load());
    out += "# HELP ucr_store_commits_total Database commits (each may hold many writes).\n";
    out += "# TYPE ucr_store_commits_total counter\n";
    out += fmt::format("ucr_store_commits_total{{backend=\"postgresql\"}} {}\n", commits_.load());
    out += "# HELP ucr_store_write_retries_total Writes run again after losing a race with another writer.\n";
    out += "# TYPE ucr_store_write_retries_total counter\n";
    out += fmt::format("ucr_store_write_retries_total{{backend=\"postgresql\"}} {}\n", retries_.load());
    out += "# HELP ucr_store_connections Open database connections.\n";
    out += "# TYPE ucr_store_connections gauge\n";
    std::size_t open = 0;
    {
      std::lock_guard lock(pool_mu_);
      open = open_;
    }
    out += fmt::format("ucr_store_connections{{backend=\"postgresql\"}} {}\n", open);
  }

 private:
  struct Lease {
    Lease(PostgresStore& s, std::unique_ptr<Connection> c) : store(s), conn(std::move(c)) {}
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { store.release(std::move(conn)); }
    PostgresStore& store;
    std::unique_ptr<Connection> conn;
  };

  /// A pooled connection, or a new one while fewer than pool_size are open; waits for one to come
  /// back otherwise. 503 when the database cannot be reached or no connection frees up in time.
  core::Result<std::unique_ptr<Connection>> acquire(bool detailed = false) {
    {
      std::unique_lock lock(pool_mu_);
      const bool got = pool_cv_.wait_for(lock, std::chrono::seconds(30),
                                         [this] { return !idle_.empty() || open_ < options_.pool_size; });
      if (!got) return unavailable(fmt::format("all {} database connections are busy", options_.pool_size));
      if (!idle_.empty()) {
        auto c = std::move(idle_.back());
        idle_.pop_back();
        return c;
      }
      ++open_;
    }
    auto c = std::make_unique<Connection>();
    if (auto r = c->open(options_.url, options_.schema); !r) {
      {
        std::lock_guard lock(pool_mu_);
        --open_;
      }
      pool_cv_.notify_one();
      if (detailed) return r.error();
      // While serving, clients learn only that the database is unavailable; where it is and why
      // goes to the operators' log (at most every 5 s during an outage).
      const auto now = core::now_micros();
      auto last = last_warning_.load();
      if (now - last > 5'000'000 && last_warning_.compare_exchange_strong(last, now)) {
        core::log_warn(r.error().message());
      }
      return unavailable("cannot connect to the database");
    }
    return c;
  }

  void release(std::unique_ptr<Connection> c) {
    {
      std::lock_guard lock(pool_mu_);
      const auto& failure = c->last_failure();
      if (c->broken() || (!failure.sqlstate.empty() && pg_detail::is_unavailable(failure))) {
        // The server went away (a restart, a failover): the idle connections are most likely dead
        // too, so they are closed and the next callers connect afresh.
        open_ -= 1 + idle_.size();
        idle_.clear();
        c.reset();
      } else {
        idle_.push_back(std::move(c));
      }
    }
    pool_cv_.notify_all();
  }

  /// Runs a read on a pooled connection; when that connection turns out to be dead (the database
  /// restarted since it was last used), once more on a fresh one.
  template <class F>
  auto with_connection(F f) -> decltype(f(std::declval<Connection&>())) {
    for (int attempt = 0;; ++attempt) {
      auto c = acquire();
      if (!c) return c.error();
      Lease lease(*this, std::move(*c));
      auto r = f(*lease.conn);
      if (r || attempt > 0 || !lease.conn->broken()) return r;
    }
  }

  static core::Result<void> run_work(const WriteWork& work, Transaction& txn) {
    try {
      return work(txn);
    } catch (const std::exception& e) {
      return core::Error::internal(std::string("write failed: ") + e.what());
    }
  }

  core::Result<void> run_write(const WriteWork& work) {
    std::minstd_rand jitter(static_cast<std::uint32_t>(std::hash<std::thread::id>{}(std::this_thread::get_id())));
    for (int attempt = 0;; ++attempt) {
      auto c = acquire();
      if (!c) return c.error();
      Lease lease(*this, std::move(*c));
      Connection& conn = *lease.conn;
      const auto start = core::now_micros();
      if (auto b = conn.exec("BEGIN", "begin"); !b) {
        if (attempt == 0 && conn.broken()) continue;  // a dead pooled connection: nothing was sent
        return b.error();
      }
      PgTransaction txn(conn, options_.schema);
      core::Result<void> result = run_work(work, txn);
      if (result && !txn.failed()) result = txn.flush();
      if (result && !txn.failed()) {
        auto commit = conn.exec("COMMIT", "commit");
        if (commit) {
          commits_.fetch_add(1);
          commit_latency_.observe_micros(core::now_micros() - start);
          return core::ok();
        }
        if (lost_race(conn.last_failure()) && attempt < kMaxRaceRetries) {
          retries_.fetch_add(1);
          continue;
        }
        if (conn.broken()) {
          return unavailable(
              "the connection was lost while committing, so the write may or may not have been "
              "kept; read the resource before writing it again");
        }
        return commit.error();
      }
      (void)conn.exec("ROLLBACK", "rollback");
      if (txn.failed()) {
        const auto& failure = txn.failure();
        if (lost_race(failure) && attempt < kMaxRaceRetries) {
          retries_.fetch_add(1);
          // A short random pause so that the writers that collided do not collide again.
          std::this_thread::sleep_for(std::chrono::microseconds(200 + jitter() % (1000U << std::min(attempt, 5))));
          continue;
        }
        if (pg_detail::is_unavailable(failure)) {
          // Nothing was committed; a dead pooled connection is retried once on a fresh one.
          if (attempt == 0) continue;
          return *txn.failed();
        }
        if (result) return *txn.failed();
      }
      return result;
    }
  }

  void worker_loop() {
    for (;;) {
      Job job;
      {
        std::unique_lock lock(queue_mu_);
        queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      job.done(write(job.work));
    }
  }

  static std::vector<AuditRecord> audit_rows(const Rows& rows) {
    std::vector<AuditRecord> out;
    for (int i = 0; i < rows.size(); ++i) {
      AuditRecord r;
      r.seq = rows.i64(i, 0);
      r.recorded = rows.i64(i, 1);
      r.patient = rows.text(i, 2);
      r.json = rows.text(i, 3);
      r.hash = rows.text(i, 4);
      out.push_back(std::move(r));
    }
    return out;
  }

  PostgresOptions options_;

  mutable std::mutex pool_mu_;
  std::condition_variable pool_cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by pool_mu_
  std::size_t open_ = 0;                           // guarded by pool_mu_: idle and leased connections

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<Job> queue_;  // guarded by queue_mu_
  bool stopping_ = false;  // guarded by queue_mu_
  std::vector<std::thread> workers_;

  std::atomic<std::uint64_t> commits_{0};
  std::atomic<std::uint64_t> jobs_{0};
  std::atomic<std::uint64_t> failed_jobs_{0};
  std::atomic<std::uint64_t> retries_{0};
  std::atomic<std::int64_t> last_warning_{0};
  core::Histogram commit_latency_;
};

core::Result<void> check_options(const PostgresOptions& options) {
  if (!is_postgres_url(options.url) && options.url.find('=') == std::string::npos) {
    return core::Error::invalid(fmt::format("'{}' is not a PostgreSQL URL (postgresql://USER@HOST:PORT/DATABASE)",
                                            redact_postgres_url(options.url)));
  }
  if (!options.schema.empty() && !valid_schema_name(options.schema)) {
    return core::Error::invalid(
        fmt::format("schema name '{}' must be 1-63 letters, digits or underscores", options.schema));
  }
  return core::ok();
}

}  // namespace

int postgres_schema_version() { return pg_detail::migrations().back().version; }

bool is_postgres_url(const std::string& location) {
  return location.rfind("postgresql://", 0) == 0 || location.rfind("postgres://", 0) == 0;
}

std::string redact_postgres_url(const std::string& url) { return pg_detail::redact(url); }

core::Result<MigrationReport> migrate_postgres(const PostgresOptions& options, int up_to) {
  if (auto r = check_options(options); !r) return r.error();
  Connection c;
  // The schema itself may not exist yet: connect without it, create it, then use it.
  if (auto r = c.open(options.url, {}); !r) return r.error();
  if (!options.schema.empty()) {
    const std::string create = fmt::format("CREATE SCHEMA IF NOT EXISTS \"{}\"", options.schema);
    const std::string use = fmt::format("SET search_path TO \"{}\"", options.schema);
    Params none;
    if (auto r = c.run_once(create, none, "migrate"); !r) return r.error();
    if (auto r = c.run_once(use, none, "migrate"); !r) return r.error();
  }
  // A session lock: nodes starting together migrate one after the other.
  Params key;
  key.i64(pg_detail::lock_key({options.schema, "migrate"}));
  if (auto r = c.run("SELECT pg_advisory_lock($1)", key, "migrate"); !r) return r.error();
  const auto unlock = [&c, &key] { (void)c.run("SELECT pg_advisory_unlock($1)", key, "migrate"); };
  Params none;
  if (auto r = c.exec("CREATE TABLE IF NOT EXISTS schema_version(version INTEGER PRIMARY KEY, applied BIGINT NOT NULL, "
                      "what TEXT NOT NULL)",
                      "migrate");
      !r) {
    unlock();
    return r.error();
  }
  auto rows = c.run("SELECT coalesce(max(version), 0) FROM schema_version", none, "migrate");
  if (!rows) {
    unlock();
    return rows.error();
  }
  MigrationReport report;
  report.from = static_cast<int>(rows->i64(0, 0));
  report.to = report.from;
  const int latest = postgres_schema_version();
  if (report.from > latest) {
    unlock();
    return core::Error::invalid(
        fmt::format("the database {} has schema version {}, newer than this ucr ({}): it was upgraded by a newer "
                    "ucr; run that version (ucr never downgrades a schema)",
                    redact_postgres_url(options.url), report.from, latest));
  }
  const int target = up_to > 0 ? std::min(up_to, latest) : latest;
  for (const auto& m : pg_detail::migrations()) {
    if (m.version <= report.from || m.version > target) continue;
    Params v;
    v.i64(m.version);
    v.i64(core::now_micros());
    v.text(m.what);
    core::Result<void> step = c.exec("BEGIN", "migrate");
    if (step) step = c.exec(m.sql, "migrate");
    if (step) {
      auto ins = c.run("INSERT INTO schema_version(version, applied, what) VALUES($1::int, $2, $3)", v, "migrate");
      if (!ins) step = ins.error();
    }
    if (step) step = c.exec("COMMIT", "migrate");
    if (!step) {
      (void)c.exec("ROLLBACK", "migrate");
      unlock();
      return core::Error::make(
          step.error().status, step.error().issues.front().code,
          fmt::format("migration to schema version {} failed: {}", m.version, step.error().message()));
    }
    core::log_info(fmt::format("database schema migrated to version {} ({})", m.version, m.what));
    report.to = m.version;
  }
  unlock();
  return report;
}

core::Result<std::unique_ptr<Store>> open_postgres_store(const PostgresOptions& options) {
  if (auto r = check_options(options); !r) return r.error();
  if (options.migrate) {
    if (auto m = migrate_postgres(options); !m) return m.error();
  }
  auto store = std::make_unique<PostgresStore>(options);
  if (auto r = store->open(); !r) return r.error();
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace ucr::store
