// api/detail/export_jobs: the asynchronous request pattern of Bulk Data export (HL7 Bulk Data
// Access IG v2, export.html): kick-off (202 + Content-Location), status polling (202 with
// Retry-After and X-Progress, then 200 with the manifest), file download and cancellation
// (DELETE). Jobs run one at a time on a background thread and write under DIR/<job-id>/; their
// state is kept in the store's bookkeeping ("export:job:<id>"), so a finished job stays
// downloadable after a restart and a job cut short is started again from the beginning with the
// same transaction time. Finished jobs are removed after the retention time. Thread-safe.
#pragma once

#include "api/api.hpp"
#include "api/bulk_export.hpp"
#include "api/request.hpp"
#include "search/registry.hpp"
#include "store/store.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

namespace ucr::api::detail {

struct ExportJobsOptions {
  std::filesystem::path directory;
  std::size_t max_active = 2;  ///< queued or running jobs at once; more kick-offs get 429
  std::int64_t retention_seconds = std::int64_t{24} * 3600;
  bool requires_token = false;  ///< the manifest's requiresAccessToken
};

/// Who started a job: only the same caller may poll, download or cancel it.
struct ExportOwner {
  std::string key;   ///< subject and client; empty when authentication is off
  std::string role;  ///< role code, for the security labels the export may include; empty: all
  /// The caller's organisation and FHIR user ("Organization/..", "Practitioner/.."): patients who
  /// dissent from sharing with them are left out. Empty: no caller (authentication off).
  std::string organisation;
  std::string fhir_user;
};

class ExportJobs {
 public:
  ExportJobs(store::Store& store, const search::Catalog& catalog, ExportJobsOptions options);
  ExportJobs(const ExportJobs&) = delete;
  ExportJobs& operator=(const ExportJobs&) = delete;
  /// Stops the running job (it is restarted at the next start) and joins the thread.
  ~ExportJobs();

  /// Kick-off: checks and records the job. The returned write stores the job's state; its finish
  /// queues the job and answers 202 with Content-Location.
  [[nodiscard]] Started start(const Request& request, ExportLevel level, const std::string& group_id,
                              const ExportOwner& owner);
  /// GET on the status URL.
  [[nodiscard]] Response status(const Request& request, const std::string& job_id, const ExportOwner& owner);
  /// DELETE on the status URL: stops the job and removes its files; the returned write removes its
  /// record, then answers 202.
  [[nodiscard]] Started cancel(const Request& request, const std::string& job_id, const ExportOwner& owner);
  /// GET of one output file.
  [[nodiscard]] Response file(const Request& request, const std::string& job_id, const std::string& name,
                              const ExportOwner& owner);

  /// Blocks until no job is queued or running (tests, tools).
  void wait_idle();
  /// Removes finished jobs older than the retention time (also done by the background thread).
  void clean_up();

 private:
  struct Job;
  void loop();
  void run(const std::shared_ptr<Job>& job);
  core::Result<void> persist(const Job& job, bool create);
  std::shared_ptr<Job> find(const std::string& job_id);
  void remove_files(const std::string& job_id) const;
  void resume();

  store::Store& store_;
  const search::Catalog& catalog_;
  ExportJobsOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::map<std::string, std::shared_ptr<Job>> jobs_;
  std::deque<std::shared_ptr<Job>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace ucr::api::detail
