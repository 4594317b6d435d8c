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
#include <utility>
#include <vector>

namespace ucr::api {

/// What is exported: the whole system, every patient's compartment, or a Group's members'.
enum class ExportLevel { system, patient, group };

/// A checked export request (bulk-data export.html#query-parameters).
struct ExportSpec {
  ExportLevel level = ExportLevel::system;
  std::string group_id;            ///< ExportLevel::group: the Group whose members are exported
  std::vector<std::string> types;  ///< empty: every type the level covers (never AuditEvent)
  std::optional<core::Micros> since;
  /// `_typeFilter`: per type, search queries of which a resource must match one (OR).
  std::vector<std::pair<std::string, std::string>> type_filters;
};

/// The NDJSON media types the IG names for `_outputFormat`.
[[nodiscard]] bool is_ndjson_format(std::string_view format);

/// Reads `_type`, `_since`, `_typeFilter` and `_outputFormat` from a kick-off request; anything
/// else that would change the result (`patient`, `includeAssociatedData`, `_elements`, ...) is
/// refused so that a client never receives less than it asked for unknowingly. Errors are 400
/// naming the parameter.
[[nodiscard]] core::Result<ExportSpec> parse_export_request(const Request& request, ExportLevel level,
                                                            std::string group_id, const search::Registry& registry);

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
};

/// The transaction time of an export started now: the last microsecond of the current
/// millisecond, so that the manifest's `transactionTime` (in milliseconds) covers exactly the
/// versions exported, and a client's next `_since` starts right after them.
[[nodiscard]] core::Micros export_transaction_time();

/// Waits until every write stamped at or before `transaction_time` is committed: the clock must
/// have passed it, then one empty write goes through the store's single writer after them.
[[nodiscard]] core::Result<void> settle_writes(store::Store& store, core::Micros transaction_time);

/// Writes the export. A Group that does not exist is a 404; cancellation a 499-style error
/// (status 409, code "processing"). Types with nothing to export get no file.
[[nodiscard]] core::Result<std::vector<ExportFile>> write_export(store::Store& store, const ExportSpec& spec,
                                                                 const ExportRun& run);

}  // namespace ucr::api
