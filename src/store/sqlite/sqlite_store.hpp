// store/sqlite: the embedded Store on SQLite in WAL mode. One writer thread commits concurrent
// writes in groups (one fsync per group); reads use a pool of read-only connections. Thread-safe.
#pragma once

#include "store/store.hpp"

#include <filesystem>
#include <memory>

namespace ucr::store {

struct SqliteOptions {
  std::filesystem::path directory;  ///< created if missing; holds ucr.db and its WAL
  std::size_t max_group = 256;      ///< most writes committed together
  /// Make commits durable on a thread of their own: the writer commits a group and goes on to the
  /// next while the previous one is flushed to disk (one fdatasync of the WAL covers every group
  /// committed before it). A write is acknowledged only once flushed, as with synchronous=FULL, but
  /// other readers may see it up to one flush (a few ms) before that. False: SQLite flushes each
  /// commit itself (synchronous=FULL) and the writer waits for it.
  bool pipelined_sync = true;
  /// The audit trail is indexed by patient in batches of this many entries (sorted by patient, so
  /// index pages are shared); `AuditEvent?patient=` scans the entries after the last batch.
  std::int64_t audit_index_batch = 32768;
};

/// Opens (creating if needed) the database under options.directory.
[[nodiscard]] core::Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options);

}  // namespace ucr::store
