// api/detail/access: authorisation of FHIR requests and the audit of what they did.
//
// Before a request runs, admit() checks the caller's role policy and SMART scopes against what the
// request touches, and narrows it to what the caller may see (a patient sees only their own
// compartment: searches are run inside it, $everything is limited to the types the role may read).
// After it ran, enforce() removes anything the caller may not see from the response (included
// resources of other patients or of types the role cannot read) and refuses a read of a record the
// caller may not open. Writes are audited in their own transaction (AuditedStore), reads through
// the audit Recorder. Thread-safe: everything is per request.
#pragma once

#include "api/request.hpp"
#include "audit/audit.hpp"
#include "auth/policy.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ucr::api::detail {

/// What a request touches, from its method and path.
struct Route {
  enum class Kind {
    capabilities,
    system_search,
    system_history,
    transaction,
    type_search,
    type_history,
    create,
    conditional,  ///< conditional update, delete or patch on a type
    merge,
    match,
    resolve,  ///< Task/{id}/$resolve-match: a data-quality officer's decision on a possible duplicate
    validate,
    read,
    update,
    remove,
    patch,
    everything,
    compartment_search,
    instance_history,
    vread,
    break_glass,
    bulk_export,  ///< Bulk Data kick-off: [base]/$export, Patient/$export, Group/{id}/$export
    bulk_status,  ///< [base]/$export-status/{job}: poll (GET) or cancel (DELETE)
    bulk_file,    ///< [base]/$export-file/{job}/{file}: one NDJSON output file (member: the file)
    other,
  };
  Kind kind = Kind::other;
  std::string type;
  std::string id;
  std::string member;  ///< the type searched in a patient's compartment
};

[[nodiscard]] Route classify(const Request& request);

/// The caller as audit records them.
struct AuditContext {
  std::string user;
  std::string display;
  std::string fhir_user;
  std::string role;
  std::string organisation;
  std::string client_id;
  std::string address;
  std::string purpose;
  std::string reason;
};

[[nodiscard]] AuditContext audit_context(const auth::Principal* principal, const Request& request);

/// Whether a professional may open one patient's record: a care relationship (registered
/// practice, an open encounter or episode of care, an active referral to them, membership of the
/// patient's care team) or emergency access, and no dissent recorded by the patient. Decisions are
/// kept for a minute per user and patient. Thread-safe.
class CareRelationships {
 public:
  struct Decision {
    bool allowed = false;
    bool emergency = false;  ///< allowed by break-glass only
    std::string reason;      ///< why not, or what the relationship is
  };
  explicit CareRelationships(store::Store& store) : store_(store) {}
  [[nodiscard]] Decision decide(const auth::Principal& who, const std::string& patient_id);
  /// Drops the kept decision (after emergency access is granted).
  void forget(const std::string& subject, const std::string& patient_id);

  /// What a proxy may see: the Patients, and for some of them only certain resource types.
  struct ProxyGrant {
    std::vector<std::string> patients;
    std::map<std::string, std::vector<std::string>> types;  ///< patient id -> the only types shared
  };
  /// The records a proxy (a RelatedPerson: parent or carer) may see: the RelatedPerson must be
  /// active; a parent or guardian of a child under 11 needs nothing more; a child of 11 to 15, or
  /// anyone 16 or over, must have given consent (an active Consent with provision type permit
  /// naming the RelatedPerson as actor, within its period). A consent that lists resource types
  /// (`provision.class`) shares only those; nested `deny` provisions with classes take types away.
  /// A carer who is not a parent always needs consent.
  [[nodiscard]] ProxyGrant proxy_patients(const std::string& related_person_id);

  /// The store decisions are read from.
  [[nodiscard]] store::Store& store() { return store_; }

  /// How long emergency access lasts.
  static constexpr std::int64_t kEmergencySeconds = std::int64_t{4} * 3600;

 private:
  [[nodiscard]] Decision compute(const auth::Principal& who, const std::string& patient_id);
  store::Store& store_;
  std::mutex mu_;
  std::unordered_map<std::string, std::pair<Decision, std::int64_t>> kept_;
  std::unordered_map<std::string, std::pair<ProxyGrant, std::int64_t>> proxies_;
};

/// The Patients who have recorded dissent (an active privacy Consent with provision type deny, as
/// at `at`) from sharing their record with organisation `organisation`, person `fhir_user` or role
/// `role`, by the rules CareRelationships applies to professionals: for bulk export, whose
/// recipients are the systems and organisations a patient may dissent from.
[[nodiscard]] std::unordered_set<std::string> patients_dissenting(store::Store& store, const std::string& organisation,
                                                                  const std::string& fhir_user, auth::Role role,
                                                                  core::Micros at);

/// The outcome of admit().
struct Gate {
  std::optional<Request> narrowed;  ///< run this request instead of the one given
  std::string patient;              ///< the Patient the request concerns, when known (for audit)
  bool filter_entries = false;      ///< the response Bundle's entries must be checked one by one
  bool check_compartment = false;   ///< the resource read must be in the caller's patients
  bool emergency = false;           ///< access rests on break-glass (audited as emergency treatment)
  bool deidentify = false;          ///< the caller sees de-identified data only (analysts)
};

/// Decides whether `principal` may make `request` at all, and how it must be narrowed.
/// Errors are 403 with a reason the user can act on.
[[nodiscard]] core::Result<Gate> admit(const auth::Principal& principal, const Route& route, const Request& request,
                                       store::Store& store, CareRelationships& care);

/// Removes from `response` what the caller may not see (see the header comment).
void enforce(const auth::Principal& principal, Gate& gate, const Route& route, const Request& request,
             Response& response, CareRelationships& care);

/// POST [base]/Patient/{id}/$break-glass (Parameters: reason): emergency access to a record for
/// kEmergencySeconds, audited with the reason, with a review Task for the information-governance
/// officer written in the same transaction.
[[nodiscard]] Response break_glass(store::Store& store, const auth::Principal* principal, const Request& request,
                                   const std::string& patient_id, CareRelationships& care,
                                   const std::shared_ptr<const AuditContext>& who);

/// An audit event for a finished read-side request (read, search, history, operation).
[[nodiscard]] audit::Event read_event(const AuditContext& who, const Route& route, const Request& request,
                                      const Response& response, const std::string& patient);

/// Wraps write work so that each version it stores is audited in the same transaction.
[[nodiscard]] store::Store::WriteWork audited_work(store::Store::WriteWork work,
                                                   std::shared_ptr<const AuditContext> who, std::string subtype_hint);

/// A Store that audits every write made through it (for requests that write synchronously, as
/// Bundles and merges do). Reads pass straight through.
class AuditedStore final : public store::Store {
 public:
  AuditedStore(store::Store& inner, std::shared_ptr<const AuditContext> who) : inner_(inner), who_(std::move(who)) {}

  core::Result<store::StoredResource> read(const std::string& type, const std::string& id) override {
    return inner_.read(type, id);
  }
  core::Result<store::StoredResource> vread(const std::string& type, const std::string& id,
                                            std::int64_t version) override {
    return inner_.vread(type, id, version);
  }
  core::Result<std::vector<store::StoredResource>> read_many(const std::string& type,
                                                             const std::vector<std::string>& ids) override {
    return inner_.read_many(type, ids);
  }
  core::Result<store::HistoryPage> history(const store::HistoryQuery& q) override { return inner_.history(q); }
  core::Result<std::vector<std::vector<std::int64_t>>> key_rids(const std::string& type,
                                                                const std::vector<store::IndexKey>& keys,
                                                                std::size_t per_key) override {
    return inner_.key_rids(type, keys, per_key);
  }
  core::Result<std::vector<store::StoredResource>> read_rids(const std::string& type,
                                                             const std::vector<std::int64_t>& rids) override {
    return inner_.read_rids(type, rids);
  }
  core::Result<store::SearchPage> search(const search::Plan& plan, bool want_total) override {
    return inner_.search(plan, want_total);
  }
  core::Result<std::vector<store::ReferenceTarget>> references_from(const std::string& type,
                                                                    const std::vector<std::string>& ids,
                                                                    const std::string& param) override {
    return inner_.references_from(type, ids, param);
  }
  core::Result<std::vector<std::pair<std::string, std::string>>> compartment(
      const store::CompartmentQuery& q) override {
    return inner_.compartment(q);
  }
  core::Result<std::optional<std::string>> get_meta(const std::string& key) override { return inner_.get_meta(key); }
  core::Result<std::vector<std::pair<std::string, std::string>>> list_meta(const std::string& prefix,
                                                                           const std::string& after,
                                                                           std::size_t limit) override {
    return inner_.list_meta(prefix, after, limit);
  }
  core::Result<std::vector<store::AuditRecord>> audit_events(const store::AuditQuery& q) override {
    return inner_.audit_events(q);
  }
  core::Result<std::vector<store::AuditRecord>> audit_scan(std::int64_t after_seq, std::size_t limit) override {
    return inner_.audit_scan(after_seq, limit);
  }
  core::Result<std::vector<std::string>> find_ids(const std::string& type,
                                                  const std::vector<store::Criterion>& criteria,
                                                  std::size_t limit) override {
    return inner_.find_ids(type, criteria, limit);
  }
  core::Result<void> write(const WriteWork& work) override { return inner_.write(audited_work(work, who_, {})); }
  void write_async(WriteWork work, WriteDone done) override {
    inner_.write_async(audited_work(std::move(work), who_, {}), std::move(done));
  }
  core::Result<void> check_integrity() override { return inner_.check_integrity(); }
  [[nodiscard]] store::StoreStats stats() const override { return inner_.stats(); }
  void render_metrics(std::string& out) const override { inner_.render_metrics(out); }

 private:
  store::Store& inner_;
  std::shared_ptr<const AuditContext> who_;
};

/// GET [base]/AuditEvent?patient=...: the audit trail, newest first (patients see their own,
/// without staff names; administrators see all).
[[nodiscard]] Response audit_search(store::Store& store, const auth::Principal* principal, const Request& request);

}  // namespace ucr::api::detail
