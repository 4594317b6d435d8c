// search/index: the typed index rows extracted from a resource for its search parameters, and the
// extraction itself (generic: every parameter's FHIRPath expression, no per-type code). Thread-safe.
#pragma once

#include "core/time.hpp"
#include "search/registry.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ucr::search {

struct StringRow {
  std::string param;
  std::string normalized;  ///< lower case, accents removed: for the default and :contains
  std::string exact;       ///< as written: for :exact
};

struct TokenRow {
  std::string param;
  std::string system;  ///< empty when the value has no system
  std::string code;
  std::string text;  ///< display / CodeableConcept.text / Identifier.type.text (normalised), for :text
};

struct ReferenceRow {
  std::string param;
  std::string target_type;  ///< for relative and absolute Type/id references
  std::string target_id;
  std::string url;  ///< the reference as written (absolute URLs, canonicals); empty for a plain Type/id
};

struct DateRow {
  std::string param;
  core::Micros low = 0;   ///< first instant the value covers
  core::Micros high = 0;  ///< last instant the value covers
};

struct NumberRow {
  std::string param;
  double value = 0;
  double low = 0;  ///< the range implied by the value's precision
  double high = 0;
};

struct QuantityRow {
  std::string param;
  double value = 0;
  double low = 0;
  double high = 0;
  std::string system;
  std::string code;
  std::string unit;
};

struct UriRow {
  std::string param;
  std::string uri;
};

/// A composite parameter's value (R4 search.html#composite): a token first component and a typed
/// second component, from the same element. The second component's columns are named like the
/// single-type rows so that one matcher serves both.
struct CompositeRow {
  std::string param;
  std::string system1;  ///< first component (token)
  std::string code1;
  std::string system;       ///< second component: token or quantity system
  std::string code;         ///< token code, quantity code
  std::string unit;         ///< quantity unit
  std::string normalized;   ///< string (normalised), also :text of a token
  std::string exact;        ///< string as written
  std::string uri;          ///< uri
  std::string target_type;  ///< reference
  std::string target_id;
  std::string url;
  double value = 0;      ///< number / quantity
  std::int64_t low = 0;  ///< date range
  std::int64_t high = 0;
};

struct ContainedRows;

/// Every index row of one resource version, plus the patients whose compartment it is in.
struct IndexRows {
  std::vector<StringRow> strings;
  std::vector<TokenRow> tokens;
  std::vector<ReferenceRow> references;
  std::vector<DateRow> dates;
  std::vector<NumberRow> numbers;
  std::vector<QuantityRow> quantities;
  std::vector<UriRow> uris;
  std::vector<CompositeRow> composites;
  std::vector<std::string> compartments;  ///< "Patient/{id}"
  /// The rows of each resource in `contained` (R4 search.html#contained), kept apart from the
  /// container's own so that ordinary searches never see them.
  std::vector<ContainedRows> contained;
};

/// The index rows of one contained resource: its type, its local id (without '#') and its rows.
/// Its rows hold a token `_id` with the local id, so that every contained resource has one.
struct ContainedRows {
  std::string type;
  std::string id;
  IndexRows rows;
};

/// Where contained resources' rows are kept (R4 search.html#contained). They go in the same index
/// tables as resources' rows, under a key of their own (a contained rid) so that the rows of one
/// contained resource can be told from another's, and with the type marked (kContainedMark + type)
/// so that an ordinary search, which reads rows by (type, param, value), never meets them.
/// Contained rid of the n-th contained resource (0-based) of the resource with rid `rid`:
/// -(rid * kContainedSlots + n + 1); a container's contained rids are one range, so they are
/// cleared with its own rows, and the container's rid is -crid / kContainedSlots.
inline constexpr std::int64_t kContainedSlots = 65536;
/// The largest rid whose contained resources can be keyed (far beyond any store's sequence).
inline constexpr std::int64_t kMaxContainerRid = (std::int64_t{1} << 47) - 1;
inline constexpr char kContainedMark = '#';

[[nodiscard]] constexpr std::int64_t contained_rid(std::int64_t rid, std::size_t n) {
  return -(rid * kContainedSlots + static_cast<std::int64_t>(n) + 1);
}

/// The `type` column of a contained resource's index rows.
[[nodiscard]] inline std::string contained_type(std::string_view type) {
  std::string out(1, kContainedMark);
  out += type;
  return out;
}

/// Lower-cases and removes accents (Latin letters), as string search compares (R4 search.html#string).
[[nodiscard]] std::string normalize_string(std::string_view s);

/// The [low, high] instants a FHIR date/dateTime/instant covers at its precision. False when unparseable.
[[nodiscard]] bool date_range(std::string_view text, core::Micros& low, core::Micros& high);

/// Extracts the index rows of `resource` (of `type`, with logical id `id`) for every search
/// parameter `registry` knows for its type, and (unless `with_contained` is false: when only the
/// compartments are wanted) those of each resource in its `contained` list, by the parameters of
/// that resource's type, with `#id` references resolved inside the container. At most
/// kContainedSlots - 1 contained resources are indexed.
[[nodiscard]] IndexRows extract(const boost::json::value& resource, std::string_view type, std::string_view id,
                                const Registry& registry = Registry::r4(), bool with_contained = true);

}  // namespace ucr::search
