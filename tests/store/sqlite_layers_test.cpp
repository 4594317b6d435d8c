// The layers over SQLite: its page cache (store/sqlite/detail/page_cache.hpp), its bookkeeping
// alone and a store whose index B-trees rebalance under it; and the gathering of WAL writes
// (store/sqlite/detail/wal_buffer.hpp).
#include "store/sqlite/detail/page_cache.hpp"
#include "store/sqlite/detail/wal_buffer.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
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

/// A fresh directory, removed at the end of the test.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ucr-walbuf-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

core::Result<void> put_basics(Store& store, int from, int count, std::size_t padding) {
  return store.write([&](Transaction& t) -> core::Result<void> {
    for (int n = from; n < from + count; ++n) {
      NewVersion v;
      v.info.type = "Basic";
      v.info.id = "w" + std::to_string(n);
      v.info.version = 1;
      v.info.last_updated = 1000 + n;
      v.method = "POST";
      v.json = R"({"resourceType":"Basic","id":")" + v.info.id + R"(","text":")" + std::string(padding, 'p') + "\"}";
      v.index.tokens.push_back({"code", "urn:test", std::to_string(n * 7919), ""});
      if (auto p = t.put(v); !p) return p;
    }
    return core::ok();
  });
}

/// Rows a connection of its own (its own file handles, as another process would have) sees.
std::int64_t rows_seen_apart(const std::filesystem::path& dir) {
  sqlite3* db = nullptr;
  const std::string path = (dir / "ucr.db").string();
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return -1;
  }
  sqlite3_stmt* s = nullptr;
  std::int64_t n = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*), sum(length(json)) FROM resource_version WHERE type = 'Basic'", -1, &s,
                         nullptr) == SQLITE_OK &&
      sqlite3_step(s) == SQLITE_ROW) {
    n = sqlite3_column_int64(s, 0);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

/// Each commit's frames are gathered into fewer writes, yet are in the WAL file by the time the
/// write returns: another connection, reading the file itself, sees every commit at once.
TEST(WalBuffer, EveryCommitIsInTheFileWhenTheWriteReturnsInFewerWrites) {
  ScratchDir dir;
  SqliteOptions options;
  options.directory = dir.path;
  auto opened = open_sqlite_store(options);
  ASSERT_TRUE(opened) << opened.error().message();
  Store& store = **opened;
  const auto before = sqlite_detail::wal_buffer_stats();
  int written = 0;
  for (int c = 0; c < 40; ++c) {
    ASSERT_TRUE(put_basics(store, written, 25, 300));
    written += 25;
    ASSERT_EQ(rows_seen_apart(dir.path), written) << "after commit " << c;
  }
  const auto after = sqlite_detail::wal_buffer_stats();
  const auto writes = after.writes - before.writes;
  const auto flushes = after.flushes - before.flushes;
  EXPECT_GT(writes, 0U) << "the layer is not installed";
  EXPECT_LT(flushes * 4, writes) << "WAL writes were not gathered";
}

/// A commit larger than the layer holds at once (4 MiB), and larger than one write of the base VFS
/// (128 KiB), is written in parts and reads back whole.
TEST(WalBuffer, ACommitLargerThanTheBufferIsWrittenInPartsAndReadsBackWhole) {
  ScratchDir dir;
  SqliteOptions options;
  options.directory = dir.path;
  auto opened = open_sqlite_store(options);
  ASSERT_TRUE(opened) << opened.error().message();
  Store& store = **opened;
  ASSERT_TRUE(put_basics(store, 0, 3000, 2000));  // about 6 MiB of pages in one commit
  EXPECT_EQ(rows_seen_apart(dir.path), 3000);
  auto integrity = store.check_integrity();
  EXPECT_TRUE(integrity) << integrity.error().message();
  auto read = store.read("Basic", "w2999");
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_NE(read->json.find(std::string(2000, 'p')), std::string::npos);
}

}  // namespace
}  // namespace ucr::store
