#include "store/sqlite/detail/page_cache.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <new>

namespace ucr::store::sqlite_detail {

void TruncationFilter::renumbered(const void* page, unsigned key) {
  for (auto& [p, k] : renumbered_) {
    if (p == page) {
      k = key;
      return;
    }
  }
  // A long transaction renumbers many pages: past a bound, keep only their highest key (which may
  // then include a temporary number, so the next truncation is passed on: safe, merely slower).
  if (renumbered_.size() >= kMaxRenumbered) fold_renumbered();
  renumbered_.emplace_back(page, key);
}

void TruncationFilter::discarded(const void* page) {
  std::erase_if(renumbered_, [page](const auto& e) { return e.first == page; });
}

bool TruncationFilter::needed(unsigned limit) const {
  if (fetched_max_ >= limit) return true;
  return std::any_of(renumbered_.begin(), renumbered_.end(), [limit](const auto& e) { return e.second >= limit; });
}

void TruncationFilter::truncated(unsigned limit, bool passed_on) {
  if (passed_on) {
    // Every key >= limit is gone.
    if (limit == 0) {
      fetched_max_ = 0;
      renumbered_.clear();
      return;
    }
    fetched_max_ = std::min(fetched_max_, limit - 1);
    std::erase_if(renumbered_, [limit](const auto& e) { return e.second >= limit; });
  }
  // The pages still renumbered are below the limit: remember only the highest of them.
  fold_renumbered();
}

void TruncationFilter::fold_renumbered() {
  for (const auto& e : renumbered_) fetched_max_ = std::max(fetched_max_, e.second);
  renumbered_.clear();
}

namespace {

// SQLite's own page cache, which does the work; captured before ours is installed.
sqlite3_pcache_methods2 g_inner{};
std::atomic<std::uint64_t> g_passed_on{0};
std::atomic<std::uint64_t> g_skipped{0};

/// One cache: SQLite's, and our bookkeeping of it. A cache belongs to one connection, which is used
/// by one thread at a time, so the bookkeeping needs no lock.
struct Cache {
  sqlite3_pcache* inner = nullptr;
  TruncationFilter filter;
};

Cache* cache(sqlite3_pcache* p) { return reinterpret_cast<Cache*>(p); }  // NOLINT(*-reinterpret-cast)

int x_init(void* arg) { return g_inner.xInit(arg); }
void x_shutdown(void* arg) { g_inner.xShutdown(arg); }

sqlite3_pcache* x_create(int page_size, int extra, int purgeable) {
  auto* c = new (std::nothrow) Cache();
  if (c == nullptr) return nullptr;
  c->inner = g_inner.xCreate(page_size, extra, purgeable);
  if (c->inner == nullptr) {
    delete c;
    return nullptr;
  }
  return reinterpret_cast<sqlite3_pcache*>(c);  // NOLINT(*-reinterpret-cast)
}

void x_cachesize(sqlite3_pcache* p, int pages) { g_inner.xCachesize(cache(p)->inner, pages); }
int x_pagecount(sqlite3_pcache* p) { return g_inner.xPagecount(cache(p)->inner); }

sqlite3_pcache_page* x_fetch(sqlite3_pcache* p, unsigned key, int create) {
  Cache* c = cache(p);
  if (create != 0) c->filter.fetched(key);
  return g_inner.xFetch(c->inner, key, create);
}

void x_unpin(sqlite3_pcache* p, sqlite3_pcache_page* page, int discard) {
  Cache* c = cache(p);
  if (discard != 0) c->filter.discarded(page);
  g_inner.xUnpin(c->inner, page, discard);
}

void x_rekey(sqlite3_pcache* p, sqlite3_pcache_page* page, unsigned old_key, unsigned new_key) {
  Cache* c = cache(p);
  c->filter.renumbered(page, new_key);
  g_inner.xRekey(c->inner, page, old_key, new_key);
}

void x_truncate(sqlite3_pcache* p, unsigned limit) {
  Cache* c = cache(p);
  const bool pass_on = c->filter.needed(limit);
  if (pass_on) {
    g_inner.xTruncate(c->inner, limit);
    g_passed_on.fetch_add(1, std::memory_order_relaxed);
  } else {
    g_skipped.fetch_add(1, std::memory_order_relaxed);
  }
  c->filter.truncated(limit, pass_on);
}

void x_destroy(sqlite3_pcache* p) {
  Cache* c = cache(p);
  g_inner.xDestroy(c->inner);
  delete c;
}

void x_shrink(sqlite3_pcache* p) { g_inner.xShrink(cache(p)->inner); }

}  // namespace

bool install_page_cache() {
  sqlite3_pcache_methods2 inner{};
  if (sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &inner) != SQLITE_OK || inner.xFetch == nullptr) return false;
  g_inner = inner;
  sqlite3_pcache_methods2 ours{};
  ours.iVersion = 1;
  ours.pArg = inner.pArg;
  ours.xInit = x_init;
  ours.xShutdown = x_shutdown;
  ours.xCreate = x_create;
  ours.xCachesize = x_cachesize;
  ours.xPagecount = x_pagecount;
  ours.xFetch = x_fetch;
  ours.xUnpin = x_unpin;
  ours.xRekey = x_rekey;
  ours.xTruncate = x_truncate;
  ours.xDestroy = x_destroy;
  ours.xShrink = x_shrink;
  return sqlite3_config(SQLITE_CONFIG_PCACHE2, &ours) == SQLITE_OK;
}

PageCacheStats page_cache_stats() {
  return {g_passed_on.load(std::memory_order_relaxed), g_skipped.load(std::memory_order_relaxed)};
}

}  // namespace ucr::store::sqlite_detail
