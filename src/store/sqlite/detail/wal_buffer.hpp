// store/sqlite/detail/wal_buffer: a thin VFS over SQLite's default one that gathers the writes of
// a commit to the write-ahead log into one.
//
// SQLite writes each WAL frame as two writes (its 24-byte header, then the page), so a commit of
// 80 pages is 160 system calls, each marking its file blocks dirty on its own. This VFS keeps a
// WAL's consecutive writes in memory and writes them at once when the commit's last frame (the one
// whose header holds the database size; sqlite.org/fileformat2.html#walformat) is complete: before
// SQLite makes the commit visible to readers and before the writer returns, so what readers and the
// syncer see is unchanged. Any other use of the file (read, sync, size, truncate, file control)
// writes what is held first. Other files pass straight through.
#pragma once

#include <cstdint>

namespace ucr::store::sqlite_detail {

/// Registers the VFS as the default. Run before SQLite opens a database; false if it could not.
bool install_wal_buffer();

/// WAL writes SQLite made, and the writes they became, since the process started.
struct WalBufferStats {
  std::uint64_t writes = 0;
  std::uint64_t flushes = 0;
};
WalBufferStats wal_buffer_stats();

}  // namespace ucr::store::sqlite_detail
