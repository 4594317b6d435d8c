// The layer over SQLite's page cache (store/sqlite/detail/page_cache.hpp): its bookkeeping alone,
// and a store whose index B-trees rebalance under it.
#include "store/sqlite/detail/page_cache.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

namespace ucr::store {
namespace {

using sqlite_detail::TruncationFilter;

// Stand-ins for two pages' addresses.
const std::array<char, 2> kPages{};
const char* const kPageA = &kPages[0];
const char* const kPageB = &kPages[1];

TEST(PageCacheFilter, ATruncationIsNeededOnlyWhenAPageAtOrPastTheLimitMayBeCached) {
  TruncationFilter f;
  f.fetched(10);
  f.fetched(7);
  EXPECT_FALSE(f.needed(11));
  EXPECT_TRUE(f.needed(10));
  EXPECT_TRUE(f.needed(1));
  f.truncated(11, false);
  // A page past the end is fetched (the database grew), then the database ends before it again.
  f.fetched(12);
  EXPECT_TRUE(f.needed(12));
  f.truncated(12, true);
  EXPECT_FALSE(f.needed(12));
  EXPECT_TRUE(f.needed(11));  // page 10 is still cached
  f.truncated(0, true);       // everything dropped
  EXPECT_FALSE(f.needed(1));
}

TEST(PageCacheFilter, APageRenumberedThroughATemporaryNumberAndBackIsNotRememberedThere) {
  // How a B-tree rebalance swaps the numbers of pages A (5) and B (9): A -> temporary, B -> 5, A -> 9.
  constexpr unsigned kTemporary = 262145;
  TruncationFilter f;
  f.fetched(5);
  f.fetched(9);
  f.renumbered(kPageA, kTemporary);
  EXPECT_TRUE(f.needed(20));  // while A is there, it is there
  f.renumbered(kPageB, 5);
  f.renumbered(kPageA, 9);
  EXPECT_FALSE(f.needed(20));
  EXPECT_TRUE(f.needed(9));
  f.truncated(20, false);
  EXPECT_FALSE(f.needed(10));
  EXPECT_TRUE(f.needed(9));
}

TEST(PageCacheFilter, APageDroppedUnderATemporaryNumberIsForgotten) {
  TruncationFilter f;
  f.fetched(3);
  f.renumbered(kPageA, 100000);
  f.discarded(kPageA);
  EXPECT_FALSE(f.needed(4));
}

TEST(PageCacheFilter, ManyRenumberingsInOneTransactionStayConservative) {
  TruncationFilter f;
  std::vector<int> pages(1000);
  for (std::size_t i = 0; i < pages.size(); ++i) f.renumbered(&pages[i], static_cast<unsigned>(i + 1));
  f.renumbered(&pages[0], 5000);  // folded away early: the filter may now over-estimate, never under
  EXPECT_TRUE(f.needed(1000));
  EXPECT_TRUE(f.needed(5000));
  f.truncated(5000, true);
  EXPECT_FALSE(f.needed(5000));
}

/// A store whose index B-trees split and rebalance (many rows at scattered places, over many
/// commits) keeps every row, passes SQLite's integrity check, and skipped the needless truncations.
TEST(PageCacheLayer, AStoreUnderRebalancingWritesSkipsNeedlessTruncationsAndStaysIntact) {
  namespace fs = std::filesystem;
  std::string tmpl = (fs::temp_directory_path() / "ucr-pcache-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const fs::path dir = tmpl;
  {
    SqliteOptions options;
    options.directory = dir;
    auto opened = open_sqlite_store(options);
    ASSERT_TRUE(opened) << opened.error().message();
    Store& store = **opened;
    const auto before = sqlite_detail::page_cache_stats();
    constexpr int kCommits = 60;
    constexpr int kPerCommit = 50;
    for (int c = 0; c < kCommits; ++c) {
      auto r = store.write([&](Transaction& t) -> core::Result<void> {
        for (int i = 0; i < kPerCommit; ++i) {
          const int n = (c * kPerCommit) + i;
          NewVersion v;
          v.info.type = "Basic";
          v.info.id = "b" + std::to_string(n);
          v.info.version = 1;
          v.info.last_updated = 1000 + n;
          v.method = "POST";
          v.json = R"({"resourceType":"Basic","id":")" + v.info.id + "\"}";
          // Scattered codes: each commit inserts all over the index, so pages split and rebalance.
          for (int k = 0; k < 8; ++k) {
            const unsigned h = (static_cast<unsigned>(n) * 2654435761U) ^ (static_cast<unsigned>(k) * 40503U);
            v.index.tokens.push_back({"code", "urn:test", std::to_string(h) + std::string(40, 'x'), ""});
          }
          if (auto p = t.put(v); !p) return p;
        }
        return core::ok();
      });
      ASSERT_TRUE(r) << r.error().message();
    }
    const auto after = sqlite_detail::page_cache_stats();
    EXPECT_GT(after.skipped, before.skipped) << "the layer is not installed, or skipped nothing";
    auto integrity = store.check_integrity();
    EXPECT_TRUE(integrity) << integrity.error().message();
    for (int n = 0; n < kCommits * kPerCommit; n += 97) {
      auto read = store.read("Basic", "b" + std::to_string(n));
      ASSERT_TRUE(read) << n;
    }
    auto found = store.find_ids("Basic", {}, 100000);
    ASSERT_TRUE(found) << found.error().message();
    EXPECT_EQ(found->size(), static_cast<std::size_t>(kCommits * kPerCommit));
  }
  std::error_code ec;
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace ucr::store
