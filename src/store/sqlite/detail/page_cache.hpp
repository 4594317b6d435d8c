// store/sqlite/detail/page_cache: a thin layer over SQLite's own page cache that skips the
// truncations with nothing to remove.
//
// At the end of every write transaction SQLite asks its page cache to drop the pages past the end
// of the database. Its cache answers cheaply only while it holds no page past the end; but when a
// B-tree rebalance sorts its new pages, SQLite swaps their numbers through a page number far past the
// end (the one at 1 GiB), the cache remembers that number as its highest, and the next truncation
// walks the whole hash table, about 19% of the writer's time under a stream of Patient creates. This
// layer keeps its own record of which page numbers can still be in the cache, so a page renumbered
// and renumbered back is forgotten, and passes a truncation on only when it may remove something.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace ucr::store::sqlite_detail {

/// The bookkeeping of one cache, apart from SQLite so it can be tested alone. Conservative: it may
/// say a truncation is needed when it is not, never the reverse.
class TruncationFilter {
 public:
  /// A page was looked up with permission to create it under `key`.
  void fetched(unsigned key) {
    if (key > fetched_max_) fetched_max_ = key;
  }
  /// The page at `page` is now cached under `key`.
  void renumbered(const void* page, unsigned key);
  /// The page at `page` was dropped from the cache.
  void discarded(const void* page);
  /// Whether a truncation to `limit` (dropping every key >= limit) may remove a page. Call
  /// truncated() afterwards with the same limit, whether or not the truncation was passed on.
  [[nodiscard]] bool needed(unsigned limit) const;
  void truncated(unsigned limit, bool passed_on);

 private:
  static constexpr std::size_t kMaxRenumbered = 256;
  void fold_renumbered();
  unsigned fetched_max_ = 0;  // every key created by a fetch, and folded renumberings, are <= this
  std::vector<std::pair<const void*, unsigned>> renumbered_;  // pages renumbered since the last truncation
};

/// Installs the layer for every SQLite connection in the process. Must run before SQLite is first
/// used; later, it does nothing and returns false.
bool install_page_cache();

/// Truncations passed on to SQLite's cache, and skipped, since the process started.
struct PageCacheStats {
  std::uint64_t passed_on = 0;
  std::uint64_t skipped = 0;
};
PageCacheStats page_cache_stats();

}  // namespace ucr::store::sqlite_detail
