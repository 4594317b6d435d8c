// api/bulk_export: FHIR Bulk Data export (HL7 Bulk Data Access IG v2) as NDJSON files, one or more
// per resource type, holding every resource as it stood at the export's transaction time.
// Used by the asynchronous $export operation and by `ucr export`. Pure functions over a Store;
// thread-safe (each call works on its own files).
#pragma once

#include "api/request.hpp"
#include "core/error.hpp"
#include "core/time.hpp"
#include "search/registry.hpp"
#include "store/store.hpp"

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace ucr::api {

/// What is exported: the whole system, every patient's compartment, or a Group's members'.
enum class ExportLevel { system, patient, group };

/// `includeAssociatedData`: which Provenance resources come with the exported resources.
enum class AssociatedData { none, latest_provenance, relevant_provenance };

/// A checked export request (bulk-data export.html#query-parameters).
struct ExportSpec {
  ExportLevel level = ExportLevel::system;
  std::string group_id;            ///< ExportLevel::group: the Group whose members are exported
  std::vector<std::string> types;  ///< empty: every type the level covers (never AuditEvent)
  std::optional<core::Micros> since;
  /// `_typeFilter`: per type, search queries of which a resource must match one (OR).
  std::vector<std::pair<std::string, std::string>> type_filters;
  /// `_elements`: "Type.element" (that type only) or "element" (every type it applies to).
  std::vector<std::string> elements;
  /// `patient` (POST only, Patient and Group level): only these Patients' compartments.
  std::vector<std::string> patients;
  AssociatedData associated = AssociatedData::none;
  /// Parameters or values ignored under `Prefer: handling=lenient`, each reported in the
  /// manifest's error files (export.html#response---complete-status).
  std::vector<std::string> ignored;
};

/// The NDJSON media types the IG names for `_outputFormat`.
[[nodiscard]] bool is_ndjson_format(std::string_view format);

/// A POST kick-off's Parameters body as the equivalent query (bulk-data export.html#bulk-data-kick-off-request:
/// "MAY support POST requests that supply parameters using the FHIR Parameters Resource"): each
/// parameter becomes a query parameter of the same name (`patient` from its valueReference).
/// The result keeps method POST, which is what allows `patient`. Errors are 400 naming the
/// parameter at fault.
[[nodiscard]] core::Result<Request> export_request_from_parameters(const Request& post);

/// Reads `_type`, `_since`, `_typeFilter`, `_outputFormat`, `_elements`, `includeAssociatedData`
/// and (POST only) `patient` from a kick-off request. Anything else that would change the result
/// is refused so that a client never receives less than it asked for unknowingly, unless the
/// request says `Prefer: handling=lenient`: then an unsupported parameter or value is ignored and
/// reported in the manifest's error files. Errors are 400 naming the parameter. Patients named by
/// `patient` must exist (and, for a Group, be members): `store` checks that.
[[nodiscard]] core::Result<ExportSpec> parse_export_request(const Request& request, ExportLevel level,
                                                            std::string group_id, const search::Registry& registry,
                                                            store::Store* store = nullptr);

/// The types an export of `level` writes when `_type` is not given.
[[nodiscard]] std::vector<std::string> default_export_types(ExportLevel level);

/// One NDJSON file written.
struct ExportFile {
  std::string type;
  std::string name;  ///< file name inside the export directory, e.g. "Patient-1.ndjson"
  std::size_t count = 0;
  std::uint64_t bytes = 0;
};

struct ExportProgress {
  std::size_t resources = 0;
  std::uint64_t bytes = 0;
  std::string type;  ///< the type being written
  std::size_t types_done = 0;
  std::size_t types_total = 0;
};

/// How to run one export.
struct ExportRun {
  core::Micros transaction_time = 0;  ///< only versions current at this instant are written
  std::filesystem::path directory;    ///< created if missing; files are replaced
  /// May the caller see this resource (security labels)? Null: everything is visible.
  std::function<bool(std::string_view type, std::string_view json)> visible;
  std::function<void(const ExportProgress&)> progress;  ///< called every page; may be empty
  const std::atomic<bool>* cancel = nullptr;            ///< stops the run (an error) when set
  std::uint64_t max_file_bytes = std::uint64_t{64} << 20U;
  const search::Registry* registry = nullptr;  ///< for _typeFilter; null: R4 only
  /// Patients whose compartments are left out (their recorded dissent from sharing with the
  /// caller). Their Patient resources and everything in their compartments are not written.
  std::unordered_set<std::string> withheld_patients;
};

/// What an export wrote: the data files (the manifest's `output`) and the OperationOutcome files
/// (its `error`): resources that could not be written, filters that could not be honoured for
/// some resource, parameters ignored under `Prefer: handling=lenient`.
struct ExportResult {
  std::vector<ExportFile> output;
  /// With _since: the manifest's `deleted` files, transaction Bundles of DELETE entries for the
  /// resources deleted since then that the caller could have had ("deleted-1.ndjson", ...).
  std::vector<ExportFile> deleted;
  std::vector<ExportFile> errors;
  std::size_t withheld = 0;  ///< resources left out for the patients' dissent
};

/// The transaction time of an export started now: the last microsecond of the current
/// millisecond, so that the manifest's `transactionTime` (in milliseconds) covers exactly the
/// versions exported, and a client's next `_since` starts right after them.
[[nodiscard]] core::Micros export_transaction_time();

/// Waits until every write stamped at or before `transaction_time` is committed: the clock must
/// have passed it, then one empty write goes through the store's single writer after them.
[[nodiscard]] core::Result<void> settle_writes(store::Store& store, core::Micros transaction_time);

/// Writes the export. A Group that does not exist is a 404; cancellation a 499-style error
/// (status 409, code "processing"). Types with nothing to export get no file. `_typeFilter` is
/// evaluated on the versions current at the transaction time: a resource changed since is matched
/// on its earlier version (see the .cpp for how).
[[nodiscard]] core::Result<ExportResult> write_export(store::Store& store, const ExportSpec& spec,
                                                      const ExportRun& run);

/// Is this a file name write_export gives to an error (OperationOutcome) file?
[[nodiscard]] bool is_export_error_file(std::string_view name);

}  // namespace ucr::api
