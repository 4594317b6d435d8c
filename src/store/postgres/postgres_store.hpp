// store/postgres: the Store on PostgreSQL (15 or later) through libpq, for several stateless ucr
// nodes on one database. A pool of connections serves reads and writes; each write is one database
// transaction, serialised per resource by row locks and per search criteria by advisory locks, so
// that nodes never write the same version twice. Thread-safe.
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <memory>
#include <string>

namespace ucr::store {

struct PostgresOptions {
  /// libpq connection URL, e.g. postgresql://ucr@db.example:5432/ucr. The password comes from the
  /// URL, PGPASSWORD or ~/.pgpass; it never appears in a message or log line.
  std::string url;
  /// Schema holding ucr's tables (letters, digits and _); empty: the server's search path.
  std::string schema;
  std::size_t pool_size = 16;  ///< most connections open at once (reads and writes share them)
  /// Bring the schema up to date when opening (as `ucr admin migrate` does); when false, an older
  /// schema is refused instead.
  bool migrate = true;
};

/// The outcome of bringing a database's schema up to date.
struct MigrationReport {
  int from = 0;  ///< schema version found (0: an empty database)
  int to = 0;    ///< schema version now
};

/// The schema version this build of ucr reads and writes.
[[nodiscard]] int postgres_schema_version();

/// Applies the migrations the database lacks, each in its own transaction, under a lock that makes
/// concurrent migrators (several nodes starting at once) wait for each other. `up_to` (tests)
/// stops at that version. A database with a newer schema than this build is refused.
[[nodiscard]] core::Result<MigrationReport> migrate_postgres(const PostgresOptions& options, int up_to = 0);

/// Connects (failing fast when the database is unreachable), checks or migrates the schema, and
/// returns the store.
[[nodiscard]] core::Result<std::unique_ptr<Store>> open_postgres_store(const PostgresOptions& options);

/// True when `location` names a PostgreSQL database (postgresql:// or postgres:// URL).
[[nodiscard]] bool is_postgres_url(const std::string& location);

/// `url` with its password (if any) replaced by ***, for messages.
[[nodiscard]] std::string redact_postgres_url(const std::string& url);

}  // namespace ucr::store
