// audit: the tamper-evident audit trail. Every access to the record becomes a FHIR R4 AuditEvent
// (who, role, organisation, patient, resource, action, outcome, reason, client, time) appended to a
// hash chain: entry n carries SHA-256(hash of entry n-1 + "\n" + its JSON), so changing or removing
// any entry breaks every link after it, and verify() says where.
//
// Writes are audited inside the transaction that makes them (append()); reads, searches and logins
// are queued on a Recorder that appends them in batches through the store's group commit, so that
// auditing does not halve read throughput. Thread-safe.
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"
#include "store/store.hpp"

#include <boost/json.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace ucr::audit {

/// The facts of one audited action.
struct Event {
  core::Micros recorded = 0;
  /// http://terminology.hl7.org/CodeSystem/audit-event-type: "rest" for FHIR interactions,
  /// "110114" (DICOM User Authentication) for logins, "110113" (Security Alert) for break-glass.
  std::string type = "rest";
  /// http://hl7.org/fhir/restful-interaction code (read, search-type, create, ...) or, for other
  /// types, a short code of this server (login, login-failed, token, revoke, break-glass, ...).
  std::string subtype;
  char action = 'R';  ///< C, R, U, D or E (execute)
  int outcome = 0;    ///< 0 success, 4 minor failure (refused), 8 serious failure
  std::string outcome_text;
  std::string user;          ///< login name or client id of who acted
  std::string user_display;  ///< their name as shown to staff (never shown to patients)
  std::string fhir_user;     ///< "Practitioner/..", "Patient/.." when known
  std::string role;          ///< ucr role code
  std::string organisation;  ///< "Organization/.." when known
  std::string client_id;     ///< the OAuth client the request came through
  std::string address;       ///< network address of the client, when known
  std::string patient;       ///< Patient id the action concerns, or empty
  std::string entity;        ///< "Type/id" (or "Type/id/_history/v") acted on, or empty
  std::string query;         ///< a search's query string (names no values in logs; kept in the trail)
  std::string purpose;       ///< v3 ActReason code, e.g. TREAT or ETREAT (emergency)
  std::string reason;        ///< free text reason (break-glass)
};

/// The FHIR R4 AuditEvent for an event (without id; append() gives it its chain number).
[[nodiscard]] boost::json::object to_resource(const Event& event);

/// The hash before the first entry.
inline constexpr std::string_view kGenesis = "0000000000000000000000000000000000000000000000000000000000000000";

/// The chain link of one entry: hex SHA-256 of the previous hash, a newline and the entry's JSON.
[[nodiscard]] std::string link(std::string_view previous_hash, std::string_view json);

/// An event serialised ahead of its place in the chain (CPU work kept off the writer thread).
///
/// The trail stores each entry in a compact form, a JSON array of the event's facts:
/// `[2, seq, recorded (µs since the epoch), type, subtype, action, outcome, outcomeText, user,
/// userDisplay, fhirUser, role, organisation, client, address, patient, entity, query, purpose,
/// reason]`; the hash chains that text. render() turns it into the FHIR AuditEvent.
struct Prepared {
  core::Micros recorded = 0;
  std::string patient;
  std::string fields;  ///< the array's elements from `type` on, each preceded by a comma
};
[[nodiscard]] Prepared prepare(const Event& event);

/// The event an entry of the trail records (its compact form read back).
[[nodiscard]] core::Result<Event> decode(const store::AuditRecord& record);

/// The FHIR R4 AuditEvent of an entry of the trail (id = its number in the chain). Entries an
/// earlier version stored whole are returned as they are.
[[nodiscard]] core::Result<std::string> render(const store::AuditRecord& record);

/// Appends events to the chain inside a write transaction (reads and moves the chain head kept in
/// the store's bookkeeping, so it is safe when the work runs more than once).
[[nodiscard]] core::Result<void> append(store::Transaction& t, const std::vector<Event>& events);
[[nodiscard]] core::Result<void> append(store::Transaction& t, const std::vector<Prepared>& events);

/// What verify() found.
struct VerifyReport {
  std::int64_t entries = 0;
  std::string head;                     ///< the last entry's hash (publish it to anchor the trail)
  std::optional<std::int64_t> bad_seq;  ///< the first entry that does not verify
  std::string problem;                  ///< why, when bad_seq is set
};

/// Walks the whole chain: every entry numbered in order with none missing, every hash recomputed,
/// and the stored head equal to the last entry. `progress` (may be empty) gets the count so far.
[[nodiscard]] core::Result<VerifyReport> verify(store::Store& store,
                                                const std::function<void(std::int64_t)>& progress = {});

struct RecorderOptions {
  std::size_t max_batch = 4096;   ///< events per transaction
  std::size_t max_queue = 65536;  ///< record() waits when this many are queued (never drops one)
  std::chrono::milliseconds linger{5};
};

/// Queues events not tied to a write and appends them in batches on a background thread.
class Recorder {
 public:
  Recorder(store::Store& store, RecorderOptions options = {});
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;
  /// Flushes what is queued, then stops.
  ~Recorder();

  /// Queues an event. Returns at once unless the queue is full.
  void record(const Event& event);
  /// Blocks until every event queued before the call is durable.
  void flush();

  [[nodiscard]] std::uint64_t recorded() const;
  [[nodiscard]] std::uint64_t batches() const;
  [[nodiscard]] std::uint64_t failures() const;

 private:
  void loop();

  store::Store& store_;
  RecorderOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable done_cv_;
  std::deque<Prepared> queue_;
  std::uint64_t enqueued_ = 0;  // events ever queued
  std::uint64_t written_ = 0;   // events ever written (or given up on)
  std::uint64_t batches_ = 0;
  std::uint64_t failures_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ucr::audit
