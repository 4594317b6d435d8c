// api/detail/ops: the write interactions, run inside a store transaction, shared by single
// requests and Bundle entries. Pure functions over a Transaction; thread-safe.
#pragma once

#include "core/error.hpp"
#include "search/index.hpp"
#include "search/query.hpp"
#include "store/store.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ucr::api::detail {

/// What a write or read produced, enough to build a response or a Bundle response entry.
struct OpResult {
  int status = 200;
  std::optional<store::VersionInfo> info;  ///< the resulting (or found) version
  std::string json;                        ///< the stored JSON bytes, when there is a resource
};

/// A resource serialised outside the write transaction, ready to be stamped with its version.
struct PreparedResource {
  std::optional<std::string> id;  ///< the id the body carries, if any
  std::string meta_extra;         ///< `,"k":v` members of meta other than versionId/lastUpdated
  std::string body_rest;          ///< `,"k":v` members other than resourceType, id and meta
  search::IndexRows index;        ///< search index rows and patient compartments
};

/// Serialises and indexes a valid resource (CPU work kept off the single writer thread).
[[nodiscard]] PreparedResource prepare(boost::json::value resource);
[[nodiscard]] PreparedResource prepare(const boost::json::object& resource);

/// Parses a request body into a JSON object, with a structural OperationOutcome on failure.
[[nodiscard]] core::Result<boost::json::value> parse_json(std::string_view body, std::string_view what);

/// Parses and checks a resource body: JSON, object, resourceType known and (when given) equal to
/// `type`, and valid against the R4 definitions.
[[nodiscard]] core::Result<boost::json::object> parse_resource(std::string_view body, std::string_view type);

/// Checks a parsed resource against the R4 definitions; `where` prefixes issue locations.
[[nodiscard]] core::Result<void> validate(const boost::json::value& resource);

/// Percent-decodes a query string into name/value pairs ('+' stays a plus sign). Empty on a
/// malformed query.
[[nodiscard]] std::optional<std::vector<std::pair<std::string, std::string>>> decode_query(std::string_view query);

/// Parses search criteria for conditional interactions (R4 http.html#cond-update) into a plan
/// that finds at most two matches (enough to tell one from several).
[[nodiscard]] core::Result<search::Plan> parse_criteria(const std::string& type, std::string_view query);

/// Parses an `If-Match` value `W/"n"` (or `"n"`) into a version.
[[nodiscard]] core::Result<std::int64_t> parse_etag(std::string_view etag);

/// Resolves conditional criteria to at most one id: empty when none match, 412 when several.
[[nodiscard]] core::Result<std::optional<std::string>> resolve_one(store::Transaction& t, const std::string& type,
                                                                   std::string_view query, std::string_view what);

/// R4 http.html#create (with If-None-Exist when `if_none_exist` is non-empty).
[[nodiscard]] core::Result<OpResult> op_create(store::Transaction& t, const std::string& type,
                                               const PreparedResource& resource, std::string_view if_none_exist,
                                               const std::string& assigned_id = {});
[[nodiscard]] core::Result<OpResult> op_create(store::Transaction& t, const std::string& type,
                                               const boost::json::object& resource, std::string_view if_none_exist,
                                               const std::string& assigned_id = {});

/// R4 http.html#update (update-as-create when absent); `if_match` is checked against the current version.
[[nodiscard]] core::Result<OpResult> op_update(store::Transaction& t, const std::string& type, const std::string& id,
                                               const PreparedResource& resource, std::optional<std::int64_t> if_match,
                                               const char* method = "PUT");
[[nodiscard]] core::Result<OpResult> op_update(store::Transaction& t, const std::string& type, const std::string& id,
                                               const boost::json::object& resource,
                                               std::optional<std::int64_t> if_match, const char* method = "PUT");

/// R4 http.html#delete; deleting an absent or deleted resource succeeds without a new version.
[[nodiscard]] core::Result<OpResult> op_delete(store::Transaction& t, const std::string& type, const std::string& id,
                                               std::optional<std::int64_t> if_match);

/// R4 http.html#patch with a JSON Patch document.
[[nodiscard]] core::Result<OpResult> op_patch(store::Transaction& t, const std::string& type, const std::string& id,
                                              const boost::json::value& patch, std::optional<std::int64_t> if_match);

/// Rewrites every `reference` string found in `mapping` (e.g. urn:uuid:... -> Patient/123).
void rewrite_references(boost::json::value& v, const std::unordered_map<std::string, std::string>& mapping);

}  // namespace ucr::api::detail
