// store: the Store contract every backend (embedded SQLite, PostgreSQL) implements.
// Implementations are safe to call from many threads at once; writes are serialised and atomic.
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"
#include "search/index.hpp"
#include "search/query.hpp"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ucr::store {

/// A bookkeeping key (Store::get_meta) set when a database written before contained resources were
/// indexed is opened: their rows are missing until the API layer has reindexed the resources that
/// have `contained`, which then removes the key.
inline constexpr const char* kContainedReindexKey = "reindex:contained";

/// The version facts of one stored resource version.
struct VersionInfo {
  std::string type;
  std::string id;
  std::int64_t version = 0;
  core::Micros last_updated = 0;
  bool deleted = false;
};

/// One stored version: facts plus the exact JSON bytes that were stored (empty for a delete).
/// One exact value of one search parameter's index rows (Store::key_rids): a token row's code and
/// system (empty for none), or a date row's bounds.
struct IndexKey {
  enum class Kind { kToken, kDate };
  Kind kind = Kind::kToken;
  std::string param;
  std::string system;     ///< kToken
  std::string code;       ///< kToken
  std::int64_t low = 0;   ///< kDate: the row's lower bound, microseconds since the epoch
  std::int64_t high = 0;  ///< kDate: its upper bound
  static IndexKey token(std::string param, std::string system, std::string code) {
    return IndexKey{Kind::kToken, std::move(param), std::move(system), std::move(code), 0, 0};
  }
  static IndexKey date(std::string param, std::int64_t low, std::int64_t high) {
    return IndexKey{Kind::kDate, std::move(param), {}, {}, low, high};
  }
};

struct StoredResource {
  VersionInfo info;
  std::string method;  ///< POST, PUT, PATCH or DELETE: how this version came to be
  std::string json;
  std::string compartment;  ///< "Patient/{id}" when the version is in a patient's compartment, else empty
  std::int64_t rid = 0;     ///< the row handle, set by read_rids only
};

/// A new version to store. The caller has set meta.versionId and meta.lastUpdated in `json`.
struct NewVersion {
  VersionInfo info;
  std::string method;
  std::string json;         ///< empty when info.deleted
  std::string compartment;  ///< "Patient/{id}" for data in a patient's compartment, else empty
  search::IndexRows index;  ///< search index rows (and every compartment the version is in)
};

/// A simple criterion for lookups by id or token: param matches any of the values (OR).
/// Supported params: `_id` (value = id) and token params (value = [system|]code, `system|`).
struct Criterion {
  std::string param;
  std::vector<std::string> values;
};

/// One match of a search with _contained (R4 search.html#contained): a resource type/id, or, when
/// `contained` is set, the contained resource with that local id (without '#') inside it.
struct MatchRef {
  std::string type;
  std::string id;
  std::string contained;
};

/// One page of search matches (ids of plan.type, in plan order).
struct SearchPage {
  std::vector<std::string> ids;
  /// With _contained (plan.contained other than kFalse) the matches are here, in plan order, and
  /// `ids` is empty: containers, contained resources and resources of plan.type, by the plan's mode.
  std::vector<MatchRef> refs;
  std::optional<std::size_t> total;          ///< set when asked for (or when cheap: the last page)
  bool more = false;                         ///< more matches follow this page
  std::vector<search::SortValue> last_keys;  ///< with _sort: the last row's sort values (for the next cursor)
  /// Unsorted pages in rid order (a driven search): the last row's rid, the next page's cursor.
  std::optional<std::int64_t> last_rid;
};

/// A reference found in index rows (for _include).
struct ReferenceTarget {
  std::string source_id;
  std::string type;
  std::string id;
};

/// Resources in a patient's compartment ($everything).
struct CompartmentQuery {
  std::string patient_id;
  /// More patients whose compartments are read with it (the person's other records: linked or
  /// merged Patients); each resource comes once.
  std::vector<std::string> also;
  std::vector<std::string> types;     ///< empty: every type
  std::optional<core::Micros> since;  ///< only resources updated at or after
  std::size_t count = 50;
  std::size_t offset = 0;
};

/// History of one instance (type+id), one type (type only) or the whole system (neither).
struct HistoryQuery {
  std::string type;
  std::string id;
  std::optional<core::Micros> since;       ///< only versions updated at or after this instant
  std::optional<core::Micros> at;          ///< only the version current at this instant, per resource
  std::optional<std::int64_t> before_seq;  ///< keyset paging cursor: entries strictly older than this
  std::size_t count = 50;
};

/// A page of history, newest first.
struct HistoryPage {
  std::vector<StoredResource> entries;
  std::optional<std::int64_t> next_cursor;  ///< set when more entries follow
};

/// One entry of the audit trail: an AuditEvent's JSON, kept apart from the resources so that
/// recording reads stays cheap. `seq` is the entry's place in the hash chain (1, 2, ...).
struct AuditRecord {
  std::int64_t seq = 0;
  core::Micros recorded = 0;
  std::string patient;  ///< the Patient id the event concerns, or empty
  std::string json;     ///< the AuditEvent, exactly as chained
  std::string hash;     ///< hex SHA-256 chaining this entry to the one before
};

/// Audit entries, newest first.
struct AuditQuery {
  std::string patient;                     ///< empty: every entry
  std::optional<std::int64_t> before_seq;  ///< paging cursor: entries strictly older
  std::optional<core::Micros> since;       ///< only entries recorded at or after
  std::size_t count = 50;
};

/// The view of the database inside one atomic write. Only valid during Store::write.
class Transaction {
 public:
  virtual ~Transaction() = default;
  /// The current version (possibly a deletion), or empty when the resource never existed.
  /// The current version's facts without its JSON (cheaper when only the version matters).
  [[nodiscard]] virtual core::Result<std::optional<VersionInfo>> current_info(const std::string& type,
                                                                              const std::string& id) = 0;
  [[nodiscard]] virtual core::Result<std::optional<StoredResource>> current(const std::string& type,
                                                                            const std::string& id) = 0;
  /// Ids of current, non-deleted resources of `type` matching every criterion (AND).
  [[nodiscard]] virtual core::Result<std::vector<std::string>> find_ids(const std::string& type,
                                                                        const std::vector<Criterion>& criteria,
                                                                        std::size_t limit) = 0;
  /// Ids matching a search plan (plan.count limits them), seeing this transaction's writes.
  [[nodiscard]] virtual core::Result<std::vector<std::string>> search_ids(const search::Plan& plan) = 0;
  /// Stores a new version; info.version must be the current version + 1 (or 1 when new).
  [[nodiscard]] virtual core::Result<void> put(const NewVersion& version) = 0;
  /// Replaces the search-index rows of the current version of type/id (a reindex after the
  /// parameters changed); the resource and its history are untouched. Not found when the resource
  /// does not exist or is deleted.
  [[nodiscard]] virtual core::Result<void> replace_index(const std::string& type, const std::string& id,
                                                         const search::IndexRows& rows) = 0;
  /// Sets a server bookkeeping value (as "reindex done") in the same transaction.
  [[nodiscard]] virtual core::Result<void> set_meta(const std::string& key, const std::string& value) = 0;
  /// A bookkeeping value as this transaction sees it, or empty.
  [[nodiscard]] virtual core::Result<std::optional<std::string>> get_meta(const std::string& key) = 0;
  /// Removes a bookkeeping value (nothing happens when there is none).
  [[nodiscard]] virtual core::Result<void> delete_meta(const std::string& key) = 0;
  /// Appends an entry to the audit trail (the caller keeps the chain: seq follows the last one).
  [[nodiscard]] virtual core::Result<void> append_audit(const AuditRecord& record) = 0;
  /// Holds a lock on each of `names` until this transaction ends, so that transactions naming one
  /// of the same names run one after another (the later one then sees what the earlier wrote).
  /// Names are taken in one order, so two transactions never wait for each other. A backend whose
  /// writes already run one at a time (SQLite's single writer) does nothing.
  [[nodiscard]] virtual core::Result<void> lock_names(const std::string& scope,
                                                      const std::vector<std::string>& names) = 0;
};

/// One key of the token-signing key ring that every node on one database shares (auth/jwt.hpp).
struct SigningKeyRecord {
  std::int64_t generation = 0;  ///< 1, 2, ...: each rotation makes the next; the newest signs
  std::string kid;
  std::int64_t created = 0;  ///< unix seconds
  std::string sealed;        ///< the private key as the key ring encrypted it (opaque text)
};

/// Counters a backend reports for /metrics.
struct StoreStats {
  std::uint64_t commits = 0;
  std::uint64_t jobs = 0;
  std::uint64_t failed_jobs = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  /// The current version of a resource; 404 when never existed, 410 when deleted (the error
  /// carries no resource). R4 http.html#read
  [[nodiscard]] virtual core::Result<StoredResource> read(const std::string& type, const std::string& id) = 0;
  /// One version (a deleted version yields 410). R4 http.html#vread
  [[nodiscard]] virtual core::Result<StoredResource> vread(const std::string& type, const std::string& id,
                                                           std::int64_t version) = 0;
  /// R4 http.html#history
  [[nodiscard]] virtual core::Result<HistoryPage> history(const HistoryQuery& query) = 0;
  /// R4 search.html: one page of matches for a plan (filters, compartment, sort, count, offset).
  [[nodiscard]] virtual core::Result<SearchPage> search(const search::Plan& plan, bool want_total) = 0;
  /// References held in reference parameter `param` (empty: all) of the given resources of `type`.
  [[nodiscard]] virtual core::Result<std::vector<ReferenceTarget>> references_from(const std::string& type,
                                                                                   const std::vector<std::string>& ids,
                                                                                   const std::string& param) = 0;
  /// Resources (type, id) in a patient's compartment, ordered by type and id.
  [[nodiscard]] virtual core::Result<std::vector<std::pair<std::string, std::string>>> compartment(
      const CompartmentQuery& query) = 0;
  /// A server bookkeeping value set by Transaction::set_meta, or empty.
  [[nodiscard]] virtual core::Result<std::optional<std::string>> get_meta(const std::string& key) = 0;
  /// Bookkeeping entries whose key starts with `prefix`, in key order, after the key `after`
  /// (exclusive; empty: from the first), at most `limit`.
  [[nodiscard]] virtual core::Result<std::vector<std::pair<std::string, std::string>>> list_meta(
      const std::string& prefix, const std::string& after, std::size_t limit) = 0;
  /// Audit entries matching a query, newest first.
  [[nodiscard]] virtual core::Result<std::vector<AuditRecord>> audit_events(const AuditQuery& query) = 0;
  /// Audit entries in chain order with seq > after_seq, at most `limit` (for verification).
  [[nodiscard]] virtual core::Result<std::vector<AuditRecord>> audit_scan(std::int64_t after_seq,
                                                                          std::size_t limit) = 0;
  /// Read-only search for ids; see Criterion.
  [[nodiscard]] virtual core::Result<std::vector<std::string>> find_ids(const std::string& type,
                                                                        const std::vector<Criterion>& criteria,
                                                                        std::size_t limit) = 0;

  using WriteWork = std::function<core::Result<void>(Transaction&)>;
  using WriteDone = std::function<void(core::Result<void>)>;

  /// Runs `work` inside one database transaction, serialised with every other write. When `work`
  /// returns an error, nothing it did is kept. Returns once the outcome is durable.
  /// `work` may run more than once (a group commit that another write failed is rolled back and
  /// run again), so it must depend only on its inputs and the transaction, never on what an
  /// earlier run of itself left behind.
  [[nodiscard]] virtual core::Result<void> write(const WriteWork& work) = 0;

  /// As write(), but returns at once. `done` receives the outcome once it is durable; it runs on a
  /// store thread, so it must be quick and must not call the store (post the rest elsewhere).
  virtual void write_async(WriteWork work, WriteDone done) = 0;

  /// The current versions of `ids` of `type` in one reading, in the order of `ids`; ids never stored
  /// or deleted are left out. Backends with a round trip per statement answer with one.
  [[nodiscard]] virtual core::Result<std::vector<StoredResource>> read_many(const std::string& type,
                                                                            const std::vector<std::string>& ids) {
    std::vector<StoredResource> out;
    for (const auto& id : ids) {
      auto r = read(type, id);
      if (r) {
        out.push_back(std::move(*r));
      } else if (r.error().status != 404 && r.error().status != 410) {
        return r.error();
      }
    }
    return out;
  }

  /// Row handles (rids) of current resources of `type` with each of `keys`' index rows, read from
  /// the index alone: for each key in turn, at most `per_key` handles. One
  /// reading; for look-ups of many keys at once (record linkage's blocking keys), where a search per
  /// key would cost a plan and an id look-up per row. Handles are stable for a resource's life and
  /// are read back with read_rids.
  [[nodiscard]] virtual core::Result<std::vector<std::vector<std::int64_t>>> key_rids(const std::string& type,
                                                                                      const std::vector<IndexKey>& keys,
                                                                                      std::size_t per_key) = 0;

  /// The current versions of the resources of `type` with the given row handles (key_rids), in
  /// the order given; handles of other types or of deleted resources are left out. One reading.
  [[nodiscard]] virtual core::Result<std::vector<StoredResource>> read_rids(const std::string& type,
                                                                            const std::vector<std::int64_t>& rids) = 0;

  /// The shared signing keys, oldest generation first. Backends without the table say so.
  [[nodiscard]] virtual core::Result<std::vector<SigningKeyRecord>> signing_keys() {
    return core::Error::not_supported("this store keeps no signing keys");
  }
  /// Adds `key` unless its generation is taken already (another node rotated first, and its key is
  /// the one to adopt): true when added. Atomic across nodes.
  [[nodiscard]] virtual core::Result<bool> add_signing_key(const SigningKeyRecord& /*key*/) {
    return core::Error::not_supported("this store keeps no signing keys");
  }
  /// Deletes the signing keys of generations below `generation` (retired keys).
  [[nodiscard]] virtual core::Result<void> drop_signing_keys(std::int64_t /*below_generation*/) {
    return core::Error::not_supported("this store keeps no signing keys");
  }

  /// Checks the database's own integrity (e.g. SQLite PRAGMA integrity_check).
  [[nodiscard]] virtual core::Result<void> check_integrity() = 0;

  [[nodiscard]] virtual StoreStats stats() const = 0;

  /// Histogram of write transaction commit latency, for /metrics.
  virtual void render_metrics(std::string& out) const = 0;
};

}  // namespace ucr::store
