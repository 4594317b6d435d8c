// api/bulk_import: loads FHIR Bundles (transaction, batch, collection; Synthea output) and NDJSON
// files (one resource per line) through the FHIR API, as transaction Bundles, so that imported
// data is validated, indexed and identity-checked exactly as data written over HTTP.
// Each Bundle is all or nothing; NDJSON is written in batches from which rejected lines are left
// out (each reported with file:line and the reason). What is done is recorded in the store's
// bookkeeping ("import:<path hash>") in the same transaction as the data, so an interrupted
// import resumes where it stopped. Files are imported by several threads at once (Synthea's shared
// directory files first, alone); an Importer is used from one thread at a time.
#pragma once

#include "api/api.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace ucr::api {

struct ImportProgress {
  std::string file;  ///< the file being read
  std::size_t files_done = 0;
  std::size_t files_total = 0;
  std::size_t resources = 0;  ///< created + updated so far
  std::size_t rejected = 0;
  std::uint64_t bytes_done = 0;  ///< of all files, including skipped ones
  std::uint64_t bytes_total = 0;
};

struct ImportOptions {
  std::size_t batch = 500;  ///< NDJSON lines per transaction
  std::size_t threads = 2;  ///< files imported at once (1-16)
  std::function<void(const ImportProgress&)> progress;
};

/// One piece of input that was not imported.
struct ImportRejection {
  std::string where;   ///< "file:line" (NDJSON) or "file" (a Bundle)
  std::string reason;  ///< what was wrong, with the element at fault when known
};

struct ImportSummary {
  std::size_t files = 0;          ///< files read (fully or from where a previous run stopped)
  std::size_t files_skipped = 0;  ///< files a previous run had finished
  std::size_t created = 0;
  std::size_t updated = 0;
  std::size_t deleted = 0;   ///< resources deleted by the DELETE Bundles of an export's `deleted` files
  std::size_t rejected = 0;  ///< resources (NDJSON lines, or Bundle entries) not imported
  std::vector<ImportRejection> rejections;
};

class Importer {
 public:
  /// Writes go through an Api of its own over `store`, with `options` (record linkage, audit);
  /// authentication is not applied (the caller is the operator at the console).
  Importer(store::Store& store, ApiOptions api_options, ImportOptions options);
  Importer(const Importer&) = delete;
  Importer& operator=(const Importer&) = delete;
  ~Importer();

  /// The files to import from `path`: the file itself, or a directory's .json and .ndjson files
  /// and their gzip-compressed forms (.json.gz, .ndjson.gz; recursively), but not the error
  /// (OperationOutcome) files of a Bulk Data export beside its manifest.json, shared directory files first (Synthea's
  /// hospitalInformation* and practitionerInformation*, which the patients' Bundles refer to), then by name.
  [[nodiscard]] static core::Result<std::vector<std::filesystem::path>> list_files(const std::filesystem::path& path);

  /// Imports the files. Errors are only for failures of the store or of reading files (the run
  /// stops; what was committed stays and is resumed next time); bad input is in the summary.
  [[nodiscard]] core::Result<ImportSummary> run(const std::vector<std::filesystem::path>& files);

 private:
  class MarkingStore;
  struct FileState;
  struct Chain;
  /// ApiOptions::before_write for the transactions the importer sends.
  core::Result<std::vector<std::string>> before_write();
  /// What of one file has been added to progress_ so far.
  struct Tally {
    std::uint64_t bytes = 0;
    std::size_t resources = 0;
    std::size_t rejected = 0;
  };
  core::Result<void> import_file(const std::filesystem::path& file, ImportSummary& summary);
  core::Result<void> import_bundle(const std::filesystem::path& file, FileState& state, ImportSummary& summary,
                                   Tally& tally);
  core::Result<void> import_ndjson(const std::filesystem::path& file, FileState& state, ImportSummary& summary,
                                   Tally& tally);
  core::Result<void> record(const FileState& state);
  /// Adds one file's progress since the last call to the whole run's, and reports it.
  void publish(Tally& tally, std::uint64_t file_bytes_done, const ImportSummary& file_summary);
  void report();  ///< with progress_mu_ held

  store::Store& store_;
  std::unique_ptr<MarkingStore> marking_;
  std::unique_ptr<Api> api_;
  ImportOptions options_;
  std::mutex chain_mu_;
  /// The file and batch each sending thread is writing, guarded by chain_mu_.
  std::map<std::thread::id, std::pair<std::shared_ptr<Chain>, std::size_t>> senders_;
  std::mutex progress_mu_;
  ImportProgress progress_;  // guarded by progress_mu_ while files are imported
};

}  // namespace ucr::api
