// search/query: FHIR search parameters parsed into a storage-neutral plan (R4 search.html), which a
// Store backend turns into its own query language. Pure functions; thread-safe.
#pragma once

#include "core/error.hpp"
#include "core/time.hpp"
#include "search/registry.hpp"

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace ucr::search {

/// R4 search.html#prefix
enum class Prefix { kEq, kNe, kGt, kLt, kGe, kLe, kSa, kEb, kAp };

struct Filter;

/// One alternative of an OR list: a test on one search parameter of the resource being searched.
struct Condition {
  ParamType type = ParamType::kToken;
  std::string param;  ///< parameter code ("name", "subject"); "_id" and "_lastUpdated" are special
  /// The codes whose index rows hold this parameter's values when it is a union of others
  /// (SearchParam::stored_as); empty: the rows are under `param`.
  std::vector<std::string> stored_as;
  /// With stored_as: the parameter is that one restricted to this target type
  /// (SearchParam::stored_target), so its rows are those whose target is of this type.
  std::string stored_target;
  std::string modifier;  ///< "", exact, contains, missing, not, text, identifier, below, above, or a type
  Prefix prefix = Prefix::kEq;
  std::string text;                   ///< string / uri value (normalised for plain string search)
  std::optional<std::string> system;  ///< token and quantity system (empty string: "no system")
  std::optional<std::string> code;    ///< token code, quantity code or unit
  std::string target_type;            ///< reference: Type of Type/id (or from the :Type modifier)
  std::string target_id;              ///< reference: id
  core::Micros low = 0;               ///< date: range of the search value
  core::Micros high = 0;
  double number = 0;  ///< number / quantity value, with the range its precision implies
  double number_low = 0;
  double number_high = 0;
  bool missing = false;  ///< for :missing
  /// Chained search (subject:Patient.name=x) or reverse chaining (_has): the condition holds when a
  /// resource of `chain_type` linked through `param` satisfies `chain`.
  std::shared_ptr<Filter> chain;
  std::string chain_type;
  bool reverse = false;  ///< _has: chain_type's `param` refers to the resource being searched
  /// Composite parameters: the value of each component (the first is a token), matched together.
  std::vector<Condition> components;
};

/// An OR group: at least one condition holds. A Plan's filters are ANDed.
struct Filter {
  std::vector<Condition> any_of;
};

struct SortKey {
  std::string param;
  std::vector<std::string> stored_as;  ///< as Condition::stored_as
  std::string stored_target;           ///< as Condition::stored_target
  ParamType type = ParamType::kString;
  bool descending = false;
};

/// _include / _revinclude: `source_type:param[:target_type]`.
struct Include {
  std::string source_type;  ///< empty for `*`
  std::string param;        ///< empty for `*`
  std::string target_type;
  bool iterate = false;
};

enum class TotalMode { kDefault, kNone, kEstimate, kAccurate };

/// R4 search.html#contained: _contained. kFalse: resources only (the default); kTrue: contained
/// resources only; kBoth: both.
enum class Contained { kFalse, kTrue, kBoth };
/// R4 search.html#contained: _containedType. kContainer: a contained match returns its container
/// (the default); kContained: the contained resource itself.
enum class ContainedResult { kContainer, kContained };
enum class Summary { kNone, kTrue, kText, kData, kCount, kFalse };

/// A sort key's value in a paging cursor: absent, text, integer or decimal.
using SortValue = std::variant<std::monostate, std::string, std::int64_t, double>;

/// A whole search: which resources match, in which order, which page, and what to return.
struct Plan {
  std::string type;                        ///< resource type searched
  std::vector<Filter> filters;             ///< ANDed
  std::optional<std::string> compartment;  ///< "Patient/{id}": only resources in this compartment
  std::vector<SortKey> sort;
  std::size_t count = 50;
  std::size_t offset = 0;
  /// Keyset paging for the default order (by id): only resources whose id sorts after this one.
  /// Unlike an offset it stays exact while resources are created or deleted between pages.
  std::optional<std::string> after;
  /// Keyset paging in rid order (the order of a driven search's first page, see
  /// store/sql/search_sql.cpp): only matches with a larger rid. From a `_after=~RID` cursor.
  std::optional<std::int64_t> after_rid;
  /// With _sort, the cursor also holds the sort values of the row `after` names: the next page
  /// starts after that position in the sort order, exact while resources change between pages.
  std::vector<SortValue> after_keys;
  /// With _contained, paging continues after this match (type, id and local id, as a
  /// store::MatchRef), placed by after_keys in the sort order.
  std::optional<std::array<std::string, 3>> after_match;
  TotalMode total = TotalMode::kDefault;
  std::vector<Include> includes;
  std::vector<Include> revincludes;
  Summary summary = Summary::kNone;
  Contained contained = Contained::kFalse;
  ContainedResult contained_result = ContainedResult::kContainer;
  std::vector<std::string> elements;
  std::vector<std::string> canonical;  ///< the parameters as understood, for self/next links
};

struct ParseOptions {
  std::size_t default_count = 50;
  std::size_t max_count = 1000;
  bool lenient = false;                ///< Prefer: handling=lenient: unknown parameters are ignored with a warning
  const Registry* registry = nullptr;  ///< the parameters known (R4 and custom); null: R4 only
};

/// Parses decoded query parameters for a search on `type`. Unknown or malformed parameters give a
/// 400 naming the parameter (or a warning in `warnings` when lenient).
[[nodiscard]] core::Result<Plan> parse_search(std::string_view type,
                                              const std::vector<std::pair<std::string, std::string>>& params,
                                              const ParseOptions& options, std::vector<core::Issue>& warnings);

/// The `_after` value that continues a sorted search after a row with these sort values and id.
[[nodiscard]] std::string encode_cursor(const std::vector<SortValue>& keys, const std::string& id);

/// The `_after` value that continues a search with _contained after the match type/id[#local]
/// with these sort values.
[[nodiscard]] std::string encode_contained_cursor(const std::vector<SortValue>& keys, const std::string& type,
                                                  const std::string& id, const std::string& local);

/// Splits a parameter value on unescaped commas and unescapes \, \| \$ \\ (R4 search.html#escaping).
[[nodiscard]] std::vector<std::string> split_values(std::string_view value);

}  // namespace ucr::search
