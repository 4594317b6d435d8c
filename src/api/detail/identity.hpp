// api/detail/identity: patient identity at the API: NHS numbers checked and stored in canonical
// form, match keys indexed for every Patient, and Patient/$match (R4 patient-operation-match).
// Pure functions over the Store; thread-safe.
#pragma once

#include "api/api.hpp"
#include "mpi/matcher.hpp"
#include "search/index.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace ucr::api::detail {

/// The search-index parameter under which a Patient's blocking keys are stored. Internal: not a
/// search parameter clients can use (it starts with '_' and is not registered).
inline constexpr const char* kMatchKeyParam = "_match-key";
/// The code system of the identity service's operations and review Tasks.
inline constexpr const char* kIdentityOperationSystem = "https://ucr.nhs.example/fhir/CodeSystem/identity-operation";
/// A review Task of a possible duplicate (Task.code `review-match` in kIdentityOperationSystem).
[[nodiscard]] bool is_review_match(const boost::json::object& task);

/// Checks every NHS number (Patient.identifier with the UK Core system) with the Modulus 11 rule and
/// rewrites spaced or hyphenated forms to the 10 digits. Errors point at the identifier.
[[nodiscard]] core::Result<void> canonicalise_identifiers(boost::json::object& resource);

/// Adds a Patient's blocking keys to its index rows, so that $match finds candidates without a scan.
void add_match_keys(const boost::json::value& patient, search::IndexRows& rows);

/// POST [base]/Patient/$merge (`unmerge` false) or $unmerge with Parameters `source-patient` and
/// `target-patient` (References). A merge marks the source `replaced-by` the target (and inactive)
/// and the target as `replaces` the source, with a Provenance, in one transaction; an unmerge
/// removes both links, restores the source's `active` and records its own Provenance.
[[nodiscard]] Response merge_patients(store::Store& store, const ApiOptions& options, const Request& request,
                                      bool unmerge);

/// What linkage decided for an arriving Patient (issue: records from many systems, one person).
struct LinkDecision {
  std::optional<std::string> link_to;  ///< the one certain match: linked with `seealso`
  std::optional<std::string> review;   ///< else the best probable or possible match, for a person to review
  double score = 0;
  std::string grade;
  std::string explanation;  ///< one line per field, for the review Task
};

/// A candidate record scored against an arriving Patient.
struct LinkCandidate {
  std::string id;
  mpi::PatientRecord record;
  mpi::MatchScore score;
};

/// What a decision rested on: the arriving Patient's record and blocking keys, and the candidates
/// read (certainly-not ones left out), so that it can be taken again with more candidates.
struct LinkEvidence {
  mpi::PatientRecord record;
  std::vector<std::string> keys;
  std::vector<LinkCandidate> candidates;
};

/// Where a blocking key's block is in the index (Store::key_rids). A key that repeats a search
/// parameter's value is read from that parameter's rows, which every Patient has anyway: an NHS
/// number or another identifier from `identifier` (system and value), a birth date from `birthdate`
/// (the day and its day/month transposition). Every other key has a row of its own (kMatchKeyParam).
[[nodiscard]] std::vector<store::IndexKey> key_lookups(const std::string& key);

/// Matches an arriving Patient against the stored ones (blocking keys, at most a few hundred
/// candidates). Only a single certain match is linked; several certain matches, or probable and
/// possible ones, go to review; two different people are never linked automatically. `evidence`,
/// when given, receives what the decision rested on (empty keys: the Patient cannot be matched).
[[nodiscard]] core::Result<LinkDecision> decide_link(store::Store& store, const boost::json::object& patient,
                                                     LinkEvidence* evidence = nullptr);

/// Patients being written, or written moments ago, by creates. An arriving Patient is matched on an
/// I/O thread against a snapshot of the store, which cannot see another arrival written at the same
/// moment (in the same group commit, or committed while it was matched): two copies of one person
/// sent at once would each stand alone. So each create notes, before its snapshot, how far the
/// arrivals it will see go (visible()), and as it is written, in the writer, is matched again
/// against the arrivals after that which share a blocking key (after()). Thread-safe.
class RecentArrivals {
 public:
  /// `store` (not an audited view of it) is read again when arrivals were no longer kept.
  explicit RecentArrivals(store::Store& store) : store_(store) {}
  [[nodiscard]] store::Store& store() const { return store_; }
  struct Arrival {
    std::uint64_t ticket = 0;
    std::string id;
    std::vector<std::string> keys;
    mpi::PatientRecord record;
  };
  /// Every arrival up to this ticket was written or failed before now: a snapshot taken after this
  /// call sees each one written.
  [[nodiscard]] std::uint64_t visible() const;
  /// In the writer, as a Patient is written: notes it and returns its ticket.
  std::uint64_t add(std::string id, std::vector<std::string> keys, mpi::PatientRecord record);
  /// Once its write has committed (`written`) or failed (forgotten).
  void settle(std::uint64_t ticket, bool written);
  /// The arrivals after `seen` that share one of `keys`, in the order they were written. `complete`
  /// is false when some after `seen` are no longer kept (the oldest go past kKeep).
  [[nodiscard]] std::vector<Arrival> after(std::uint64_t seen, const std::vector<std::string>& keys,
                                           bool& complete) const;
  static constexpr std::size_t kKeep = 8192;

 private:
  store::Store& store_;
  mutable std::mutex mu_;
  std::uint64_t last_ = 0;               // the newest ticket given
  std::uint64_t forgotten_through_ = 0;  // arrivals up to this ticket are no longer kept
  std::set<std::uint64_t> unsettled_;    // tickets written or being written, not yet settled
  std::deque<Arrival> kept_;             // by ticket
  // The kept tickets carrying each key, ascending: after() looks up its keys rather than reading
  // every arrival since (a 500-Patient import batch is matched again against the batch before it).
  std::unordered_map<std::string, std::vector<std::uint64_t>> by_key_;
  void forget_keys(const Arrival& a);
};

/// Takes `evidence`'s decision again in the writer, adding the arrivals after `seen` that share a
/// key and exist in `t` (a failed write's are not). Returns the decision when any was added, else
/// nothing (the first decision stands). When some arrivals were no longer kept, the stored
/// candidates are read again first (arrivals.store()).
[[nodiscard]] core::Result<std::optional<LinkDecision>> recheck_link(store::Transaction& t,
                                                                     const RecentArrivals& arrivals, std::uint64_t seen,
                                                                     const LinkEvidence& evidence);

/// A match's explanation for a review Task, a line per field ("family_name: exact ('smith' /
/// 'smith', +4.10)"), then the rule that capped the grade and what corroborated it, when any.
[[nodiscard]] std::string explanation_text(const mpi::Explanation& why);
/// Adds `link: {other: Patient/{other}, type: seealso}` to a Patient.
void add_seealso_link(boost::json::object& patient, const std::string& other);

/// The review Task for a possible duplicate: a data-quality officer decides (merge, link or not).
[[nodiscard]] boost::json::object review_task(const std::string& patient_id, const LinkDecision& decision);

/// Who decides a review: the officer's Practitioner ("Practitioner/{id}", may be empty) and name.
struct Reviewer {
  std::string reference;
  std::string display;
};
/// POST [base]/Task/{id}/$resolve-match with Parameters `decision` (valueCode `link`: the same
/// person, the records are linked with `seealso`; `merge`: the same person, the `survivor` (default:
/// the candidate, the record there first) replaces the other; `distinct`: different people), and
/// an optional `note`. In one transaction the Patients change, a Provenance records each change and
/// the Task is completed with the decision as its output. Deciding a completed review again
/// undoes the earlier decision first (unlink, unmerge); the same decision again changes nothing.
[[nodiscard]] Response resolve_review(store::Store& store, const Request& request, const std::string& task_id,
                                      const Reviewer& who);
/// POST [base]/Patient/$match with Parameters (resource, onlyCertainMatches, count) or a bare Patient.
[[nodiscard]] Response match_patient(store::Store& store, const ApiOptions& options, const Request& request);

}  // namespace ucr::api::detail
