// search/index: the typed index rows extracted from a resource for its search parameters, and the
// extraction itself (generic: every parameter's FHIRPath expression, no per-type code). Thread-safe.
#pragma once

#include "core/time.hpp"
#include "search/registry.hpp"

#include <boost/json/value.hpp>

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
};

/// Lower-cases and removes accents (Latin letters), as string search compares (R4 search.html#string).
[[nodiscard]] std::string normalize_string(std::string_view s);

/// The [low, high] instants a FHIR date/dateTime/instant covers at its precision. False when unparseable.
[[nodiscard]] bool date_range(std::string_view text, core::Micros& low, core::Micros& high);

/// Extracts the index rows of `resource` (of `type`, with logical id `id`) for every search
/// parameter `registry` knows for its type.
[[nodiscard]] IndexRows extract(const boost::json::value& resource, std::string_view type, std::string_view id,
                                const Registry& registry = Registry::r4());

}  // namespace ucr::search
