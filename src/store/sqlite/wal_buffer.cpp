#include "store/sqlite/detail/wal_buffer.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <new>
#include <vector>

namespace ucr::store::sqlite_detail {
namespace {

// The default VFS ("unix"), which does the work; ours is registered over it.
sqlite3_vfs* g_base = nullptr;
sqlite3_vfs g_vfs{};
std::atomic<std::uint64_t> g_flushes{0};
std::atomic<std::uint64_t> g_writes{0};

constexpr std::size_t kFrameHeader = 24;         // sqlite.org/fileformat2.html#walformat
constexpr std::size_t kMaxBuffered = 4U << 20U;  // a commit larger than this is written in parts
constexpr std::size_t kMaxWrite = 64U << 10U;

/// Our file: the base VFS's file follows it in the same allocation. Only a WAL file buffers.
struct File {
  sqlite3_file base;  // must be first: SQLite sees this
  sqlite3_file* real;
  bool wal;
  bool commit_frame;  // the last write was the header of a commit frame: its page ends the commit
  sqlite3_int64 offset;
  std::vector<char>* buffer;
};

File* file(sqlite3_file* f) { return reinterpret_cast<File*>(f); }  // NOLINT(*-reinterpret-cast)

int flush(File* f) {
  if (f->buffer == nullptr || f->buffer->empty()) return SQLITE_OK;
  // The base VFS takes at most 128 KiB - 1 in one write (it masks the length), so in parts.
  const std::size_t size = f->buffer->size();
  int rc = SQLITE_OK;
  for (std::size_t done = 0; done < size && rc == SQLITE_OK; done += kMaxWrite) {
    const std::size_t n = std::min(kMaxWrite, size - done);
    rc = f->real->pMethods->xWrite(f->real, f->buffer->data() + done, static_cast<int>(n),
                                   f->offset + static_cast<sqlite3_int64>(done));
  }
  g_flushes.fetch_add(1, std::memory_order_relaxed);
  f->buffer->clear();
  return rc;
}

int x_close(sqlite3_file* p) {
  File* f = file(p);
  const int frc = flush(f);
  const int rc = f->real->pMethods != nullptr ? f->real->pMethods->xClose(f->real) : SQLITE_OK;
  delete f->buffer;
  f->buffer = nullptr;
  return frc != SQLITE_OK ? frc : rc;
}

int x_read(sqlite3_file* p, void* out, int amount, sqlite3_int64 offset) {
  File* f = file(p);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xRead(f->real, out, amount, offset);
}

int x_write(sqlite3_file* p, const void* data, int amount, sqlite3_int64 offset) {
  File* f = file(p);
  if (!f->wal) return f->real->pMethods->xWrite(f->real, data, amount, offset);
  g_writes.fetch_add(1, std::memory_order_relaxed);
  auto& buf = *f->buffer;
  if (!buf.empty() && offset != f->offset + static_cast<sqlite3_int64>(buf.size())) {
    if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  }
  if (buf.empty()) f->offset = offset;
  const auto* bytes = static_cast<const char*>(data);
  buf.insert(buf.end(), bytes, bytes + amount);
  // A frame header (page number, then the database size after a commit: non-zero only in a commit
  // frame). The page after a commit frame's header ends the commit: write everything now, before
  // SQLite makes the commit visible to readers.
  if (static_cast<std::size_t>(amount) == kFrameHeader) {
    const auto* h = static_cast<const unsigned char*>(data);
    f->commit_frame = (h[4] | h[5] | h[6] | h[7]) != 0;
    return SQLITE_OK;
  }
  if (f->commit_frame || buf.size() >= kMaxBuffered) {
    f->commit_frame = false;
    return flush(f);
  }
  return SQLITE_OK;
}

int x_truncate(sqlite3_file* p, sqlite3_int64 size) {
  File* f = file(p);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xTruncate(f->real, size);
}
int x_sync(sqlite3_file* p, int flags) {
  File* f = file(p);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xSync(f->real, flags);
}
int x_file_size(sqlite3_file* p, sqlite3_int64* size) {
  File* f = file(p);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileSize(f->real, size);
}
int x_lock(sqlite3_file* p, int lock) { return file(p)->real->pMethods->xLock(file(p)->real, lock); }
int x_unlock(sqlite3_file* p, int lock) { return file(p)->real->pMethods->xUnlock(file(p)->real, lock); }
int x_check_reserved(sqlite3_file* p, int* out) {
  return file(p)->real->pMethods->xCheckReservedLock(file(p)->real, out);
}
int x_file_control(sqlite3_file* p, int op, void* arg) {
  File* f = file(p);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFileControl(f->real, op, arg);
}
int x_sector_size(sqlite3_file* p) { return file(p)->real->pMethods->xSectorSize(file(p)->real); }
int x_device_characteristics(sqlite3_file* p) { return file(p)->real->pMethods->xDeviceCharacteristics(file(p)->real); }
int x_shm_map(sqlite3_file* p, int region, int size, int extend, void volatile** out) {
  return file(p)->real->pMethods->xShmMap(file(p)->real, region, size, extend, out);
}
int x_shm_lock(sqlite3_file* p, int offset, int n, int flags) {
  return file(p)->real->pMethods->xShmLock(file(p)->real, offset, n, flags);
}
void x_shm_barrier(sqlite3_file* p) { file(p)->real->pMethods->xShmBarrier(file(p)->real); }
int x_shm_unmap(sqlite3_file* p, int del) { return file(p)->real->pMethods->xShmUnmap(file(p)->real, del); }
int x_fetch(sqlite3_file* p, sqlite3_int64 offset, int amount, void** out) {
  File* f = file(p);
  if (const int rc = flush(f); rc != SQLITE_OK) return rc;
  return f->real->pMethods->xFetch(f->real, offset, amount, out);
}
int x_unfetch(sqlite3_file* p, sqlite3_int64 offset, void* page) {
  return file(p)->real->pMethods->xUnfetch(file(p)->real, offset, page);
}

constexpr sqlite3_io_methods kMethods = {
    3,
    x_close,
    x_read,
    x_write,
    x_truncate,
    x_sync,
    x_file_size,
    x_lock,
    x_unlock,
    x_check_reserved,
    x_file_control,
    x_sector_size,
    x_device_characteristics,
    x_shm_map,
    x_shm_lock,
    x_shm_barrier,
    x_shm_unmap,
    x_fetch,
    x_unfetch,
};

int x_open(sqlite3_vfs* /*vfs*/, const char* name, sqlite3_file* p, int flags, int* out_flags) {
  File* f = file(p);
  f->real = reinterpret_cast<sqlite3_file*>(f + 1);  // NOLINT(*-reinterpret-cast,*-pointer-arithmetic)
  f->wal = (flags & SQLITE_OPEN_WAL) != 0 && (flags & SQLITE_OPEN_READONLY) == 0;
  f->commit_frame = false;
  f->offset = 0;
  f->buffer = nullptr;
  const int rc = g_base->xOpen(g_base, name, f->real, flags, out_flags);
  if (rc != SQLITE_OK) {
    f->base.pMethods = nullptr;
    return rc;
  }
  if (f->real->pMethods == nullptr) {
    f->base.pMethods = nullptr;
    return rc;
  }
  if (f->wal) f->buffer = new (std::nothrow) std::vector<char>();
  if (f->wal && f->buffer == nullptr) {
    f->real->pMethods->xClose(f->real);
    f->base.pMethods = nullptr;
    return SQLITE_NOMEM;
  }
  f->base.pMethods = &kMethods;
  return rc;
}

// Everything else is the base VFS's.
int x_delete(sqlite3_vfs* /*vfs*/, const char* name, int sync_dir) { return g_base->xDelete(g_base, name, sync_dir); }
int x_access(sqlite3_vfs* /*vfs*/, const char* name, int flags, int* out) {
  return g_base->xAccess(g_base, name, flags, out);
}
int x_full_pathname(sqlite3_vfs* /*vfs*/, const char* name, int n, char* out) {
  return g_base->xFullPathname(g_base, name, n, out);
}
void* x_dl_open(sqlite3_vfs* /*vfs*/, const char* name) { return g_base->xDlOpen(g_base, name); }
void x_dl_error(sqlite3_vfs* /*vfs*/, int n, char* out) { g_base->xDlError(g_base, n, out); }
void (*x_dl_sym(sqlite3_vfs* /*vfs*/, void* handle, const char* symbol))() {
  return g_base->xDlSym(g_base, handle, symbol);
}
void x_dl_close(sqlite3_vfs* /*vfs*/, void* handle) { g_base->xDlClose(g_base, handle); }
int x_randomness(sqlite3_vfs* /*vfs*/, int n, char* out) { return g_base->xRandomness(g_base, n, out); }
int x_sleep(sqlite3_vfs* /*vfs*/, int micros) { return g_base->xSleep(g_base, micros); }
int x_current_time(sqlite3_vfs* /*vfs*/, double* out) { return g_base->xCurrentTime(g_base, out); }
int x_get_last_error(sqlite3_vfs* /*vfs*/, int n, char* out) { return g_base->xGetLastError(g_base, n, out); }
int x_current_time_int64(sqlite3_vfs* /*vfs*/, sqlite3_int64* out) { return g_base->xCurrentTimeInt64(g_base, out); }

}  // namespace

bool install_wal_buffer() {
  g_base = sqlite3_vfs_find(nullptr);
  if (g_base == nullptr || g_base->iVersion < 2) return false;
  g_vfs.iVersion = 2;
  g_vfs.szOsFile = static_cast<int>(sizeof(File)) + g_base->szOsFile;
  g_vfs.mxPathname = g_base->mxPathname;
  g_vfs.zName = "ucr-wal-buffer";
  g_vfs.xOpen = x_open;
  g_vfs.xDelete = x_delete;
  g_vfs.xAccess = x_access;
  g_vfs.xFullPathname = x_full_pathname;
  g_vfs.xDlOpen = x_dl_open;
  g_vfs.xDlError = x_dl_error;
  g_vfs.xDlSym = x_dl_sym;
  g_vfs.xDlClose = x_dl_close;
  g_vfs.xRandomness = x_randomness;
  g_vfs.xSleep = x_sleep;
  g_vfs.xCurrentTime = x_current_time;
  g_vfs.xGetLastError = x_get_last_error;
  g_vfs.xCurrentTimeInt64 = x_current_time_int64;
  return sqlite3_vfs_register(&g_vfs, 1) == SQLITE_OK;
}

WalBufferStats wal_buffer_stats() {
  return {g_writes.load(std::memory_order_relaxed), g_flushes.load(std::memory_order_relaxed)};
}

}  // namespace ucr::store::sqlite_detail
