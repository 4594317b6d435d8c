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
  /// committed before it). While a flush runs, the writer runs what arrives in its open transaction
  /// and commits it once the flush is done: one commit per flush. A write is acknowledged only
  /// once flushed, as with synchronous=FULL, but other readers may see it up to one flush (a few
  /// ms) before that. False: SQLite flushes each commit itself (synchronous=FULL) and the writer
  /// waits for it.
  bool pipelined_sync = true;
  /// The audit trail is indexed by patient in batches of this many entries (sorted by patient, so
  /// index pages are shared); `AuditEvent?patient=` scans the entries after the last batch.
  std::int64_t audit_index_batch = 32768;
  /// The writer's page cache. A bulk load into a large database inserts into index pages all over
  /// each index; a cache that holds them saves reading them again (`ucr import --cache-mib`).
  /// Costs memory, and SQLite walks the whole cache after a transaction that moves B-tree pages,
  /// which small HTTP writes feel: keep the default for serving.
  std::size_t writer_cache_mib = 64;
  /// WAL pages past which the writer copies them into the database itself, on its own thread
  /// (below, a background thread does, without holding the writer up). A bulk load whose commits
  /// are 10,000 pages or more gains from a larger figure (`ucr import`: 524,288, a WAL of up to
  /// 2 GiB), at the cost of that much disk and of readers looking pages up in a longer WAL.
  std::size_t writer_checkpoint_pages = 32'000;
};

/// Opens (creating if needed) the database under options.directory.
[[nodiscard]] core::Result<std::unique_ptr<Store>> open_sqlite_store(const SqliteOptions& options);

}  // namespace ucr::store
