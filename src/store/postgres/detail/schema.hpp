// store/postgres/detail/schema: the versioned migrations of ucr's PostgreSQL schema. Pure data.
#pragma once

#include <span>

namespace ucr::store::pg_detail {

struct Migration {
  int version;
  const char* what;  ///< one line for `ucr admin migrate`
  const char* sql;   ///< statements run in one transaction
};

/// Every migration in order; the last one's version is the schema version of this build.
[[nodiscard]] std::span<const Migration> migrations();

}  // namespace ucr::store::pg_detail
