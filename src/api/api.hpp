// api: FHIR R4 REST interactions as Request -> Response, with no knowledge of sockets.
// An Api is safe to call from many threads at once: resources live in the Store; the search
// parameters in force (R4 plus SearchParameter resources) are swapped atomically, and a background
// thread reindexes stored resources when a SearchParameter is created or changed.
#pragma once

#include "api/request.hpp"
#include "search/registry.hpp"
#include "store/store.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <variant>

namespace ucr::auth {
class Provider;
struct Principal;
}  // namespace ucr::auth
namespace ucr::audit {
class Recorder;
}

namespace ucr::api {
namespace detail {
class CareRelationships;
class ExportJobs;
class RecentArrivals;
struct Route;
struct AuditContext;
}  // namespace detail

struct ApiOptions {
  std::size_t default_page_size = 50;
  std::size_t max_page_size = 1000;
  std::size_t max_bundle_entries = 10000;
  std::string software_version = "0.1.0";
  /// Match each Patient created by POST against the stored ones: link the single certain match
  /// (`seealso`) and put probable or possible ones on the review queue (a Task).
  bool link_patients = true;
  /// Every request needs a valid access token from this provider, and is authorised against the
  /// caller's role, scopes and patient context. Null: no authentication (development and tests
  /// only; `ucr serve --auth off`). The provider also answers /oauth/ and /.well-known/ paths.
  auth::Provider* auth = nullptr;
  /// Audit trail: writes are audited in their own transaction, reads and searches through this
  /// recorder. Null: no audit trail.
  audit::Recorder* audit = nullptr;
  /// Bulk Data export ($export): where job files are written (DATA/exports). Empty: $export is
  /// not offered.
  std::string export_directory;
  /// For an importer that sends one file's transactions in a pipeline (ucr import): a transaction
  /// calls it once its Patients are matched (without Patients to match: once it is prepared), just
  /// before it is written. It returns when the transaction sent before it has been written, with the
  /// blocking keys of that one's Patients; this transaction's Patients that share one are matched
  /// again, so every decision is the one sending the transactions one after another would give.
  /// An error (the earlier transaction failed) fails this one. Empty: transactions do not wait.
  std::function<core::Result<std::vector<std::string>>()> before_write;
  /// Exports queued or running at once; more kick-offs are answered 429 with Retry-After.
  std::size_t max_export_jobs = 2;
  /// How long a finished export's files stay downloadable.
  std::int64_t export_retention_seconds = std::int64_t{24} * 3600;
};

/// A checked and prepared write: run `work` in a store transaction (Store::write or write_async),
/// then pass its outcome to `finish` for the response. The Request it came from must outlive it.
struct PendingWrite {
  store::Store::WriteWork work;
  std::function<Response(const core::Result<void>&)> finish;
};

/// What begin() produced: a finished response, or a write still to be run.
using Started = std::variant<Response, PendingWrite>;

class Api {
 public:
  /// Loads the SearchParameter resources already in `store` and resumes any reindex a previous
  /// run did not finish.
  Api(store::Store& store, ApiOptions options);
  Api(const Api&) = delete;
  Api& operator=(const Api&) = delete;
  ~Api();

  /// Handles one request under the FHIR base (path starting /fhir), or an OAuth path
  /// (is_auth_path). Never throws for bad input.
  [[nodiscard]] Response handle(const Request& request);

  /// Does all the work of a request up to its store write, so callers can run the write without
  /// blocking a thread (Store::write_async). Reads complete here. Bundles are completed here too,
  /// blocking on their writes: callers should run them where blocking is acceptable (is_bundle).
  [[nodiscard]] Started begin(const Request& request);

  /// True for the OAuth and discovery paths the Api answers besides /fhir.
  [[nodiscard]] static bool is_auth_path(std::string_view path);

  /// True for batch/transaction Bundles (POST to the base), which begin() completes synchronously.
  [[nodiscard]] static bool is_bundle(const Request& request);

  /// True when handling `request` may write (so callers can move it off latency-sensitive threads).
  [[nodiscard]] static bool may_write(const Request& request);

  /// Re-reads the SearchParameter resources from the store into the parameters in force, and
  /// queues a reindex of the stored resources of each new or changed parameter's base types.
  /// Called after every write that touches a SearchParameter.
  [[nodiscard]] core::Result<void> reload_search_parameters();

  /// Blocks until no reindex is queued or running (for tests, tools and orderly shutdown).
  void wait_for_reindex();

  /// The search parameters in force now (R4 plus the stored SearchParameter resources).
  [[nodiscard]] std::shared_ptr<const search::Registry> search_parameters() const { return catalog_.current(); }
  /// Blocks until no bulk export is queued or running (for tests and tools).
  void wait_for_exports();

  /// Resources reindexed since start, and reindex jobs still queued or running (for /metrics).
  [[nodiscard]] std::size_t reindexed_resources() const;
  [[nodiscard]] std::size_t pending_reindex_jobs() const;

 private:
  class Reindexer;
  /// Bulk Data export: kick-off, status, cancel and file download, audited.
  Started bulk_data(const detail::Route& route, const Request& request, const Request& effective,
                    const auth::Principal* principal, const std::shared_ptr<const detail::AuditContext>& who);
  store::Store& store_;
  ApiOptions options_;
  search::Catalog catalog_;
  std::mutex reload_mu_;
  std::unique_ptr<Reindexer> reindexer_;
  std::unique_ptr<detail::CareRelationships> care_;
  std::unique_ptr<detail::ExportJobs> exports_;
  std::unique_ptr<detail::RecentArrivals> arrivals_;  ///< Patients just created, for record linkage
};

}  // namespace ucr::api
