// store/sql/search_sql: a search Plan turned into SQL over the index tables that both backends
// (SQLite and PostgreSQL) share, with every value bound as a `?` parameter (never spliced into the
// text; PostgreSQL numbers them with `numbered_placeholders`). Pure; thread-safe.
#pragma once

#include "search/query.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ucr::store::sql {

/// One bound value (a plain struct: GCC 12 warns spuriously about std::variant<std::string, ...>).
struct Bind {
  enum class Kind { kText, kInteger, kReal };
  Bind(std::string v) : kind(Kind::kText), text(std::move(v)) {}  // NOLINT(google-explicit-constructor)
  Bind(const char* v) : kind(Kind::kText), text(v) {}             // NOLINT(google-explicit-constructor)
  Bind(std::int64_t v) : kind(Kind::kInteger), integer(v) {}      // NOLINT(google-explicit-constructor)
  Bind(double v) : kind(Kind::kReal), real(v) {}                  // NOLINT(google-explicit-constructor)
  Kind kind;
  std::string text;
  std::int64_t integer = 0;
  double real = 0;
};

struct Sql {
  std::string text;
  std::vector<Bind> binds;
  /// The page comes out in rid order and each row's second column is its rid: the next page's
  /// cursor is the last rid (Plan::after_rid), not the last id.
  bool rid_order = false;
};

/// SELECT c0.id ... for one page (limit/offset) of the plan, or SELECT COUNT(*) when count_only.
/// `scan_by_id`: walk the type's resources in id order and test every filter on each, stopping at
/// the page's end, instead of collecting the driving filter's matches and sorting them (better
/// when the driver matches a large share of the type).
/// The SQL engines the text is written for, where they differ.
enum class Dialect { kSqlite, kPostgres };

[[nodiscard]] Sql search_sql(const search::Plan& plan, bool count_only, std::size_t limit, std::size_t offset,
                             bool scan_by_id = false, Dialect dialect = Dialect::kSqlite);

/// A search with _contained (plan.contained other than kFalse, R4 search.html#contained): SELECT
/// type, id, local id (empty for a resource itself) [, sort values] of one page (limit/offset) in
/// the plan's order (its sort keys, then type, id and local id), or SELECT COUNT(*) when
/// count_only. Contained resources are matched on their own index rows (search/index.hpp), and only
/// inside containers that exist; the plan's compartment applies to the containers.
[[nodiscard]] Sql contained_search_sql(const search::Plan& plan, bool count_only, std::size_t limit,
                                       std::size_t offset);

/// For an unsorted plan whose best driving filter is a weak one (a string prefix, a code with few
/// values, a date range) and whose other filters are codes with few values: SELECT COUNT(*) of at
/// most `cap` of the driver's rows, to tell whether scan_by_id is the better plan. Empty otherwise.
[[nodiscard]] std::optional<Sql> driver_probe_sql(const search::Plan& plan, std::size_t cap);

/// The simple id/token criteria of Store::find_ids as a search plan.
[[nodiscard]] search::Plan plan_of(const std::string& type, const std::vector<Criterion>& criteria);

/// `?` placeholders renumbered `$1`, `$2`, ... (PostgreSQL's form). The generated SQL holds no
/// quoted text with a question mark in it, so every `?` is a placeholder.
[[nodiscard]] std::string numbered_placeholders(const std::string& text);

}  // namespace ucr::store::sql
