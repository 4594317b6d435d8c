// store/sqlite/detail/connection: SQLite connection and prepared-statement wrappers private to the
// SQLite backend. A Connection is used by one thread at a time.
#pragma once

#include "core/error.hpp"
#include "search/query.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace ucr::store::sqlite_detail {

inline core::Error db_error(sqlite3* db, const char* what) {
  // Driver detail stays in the message for operators; callers see a storage failure.
  return core::Error::internal(fmt::format("storage error during {}: {}", what, db ? sqlite3_errmsg(db) : "?"));
}

/// A prepared statement, reset on destruction so it can be reused from the cache.
class Stmt {
 public:
  Stmt(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() {
    if (s_ != nullptr) {
      sqlite3_reset(s_);
      sqlite3_clear_bindings(s_);
    }
  }
  // Text is copied (it is short); blobs must outlive step() and are bound in place.
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  /// Text bound in place (not copied): `v` must outlive step().
  void bind_static(int i, const std::string& v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bind_blob(int i, const std::string& v) {
    sqlite3_bind_blob(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(s_, i, v); }
  void bind(int i, double v) { sqlite3_bind_double(s_, i, v); }
  void bind_null(int i) { sqlite3_bind_null(s_, i); }
  /// SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(s_); }
  [[nodiscard]] std::int64_t i64(int c) const { return sqlite3_column_int64(s_, c); }
  [[nodiscard]] std::string text(int c) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(s_, c));
    const int n = sqlite3_column_bytes(s_, c);
    return p == nullptr ? std::string() : std::string(p, static_cast<std::size_t>(n));
  }
  /// A column as a sort value (null, text, integer or real).
  [[nodiscard]] search::SortValue sort_value(int c) const {
    switch (sqlite3_column_type(s_, c)) {
      case SQLITE_INTEGER:
        return sqlite3_column_int64(s_, c);
      case SQLITE_FLOAT:
        return sqlite3_column_double(s_, c);
      case SQLITE_NULL:
        return std::monostate{};
      default:
        return text(c);
    }
  }
  [[nodiscard]] sqlite3* db() const { return db_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_;
};

/// One connection with its statement cache. Used by one thread at a time.
class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    for (auto* stmt : uncached_) sqlite3_finalize(stmt);
    if (db_ != nullptr) sqlite3_close_v2(db_);
  }

  core::Result<void> open(const std::string& path, bool read_only) {
    const int flags =
        (read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) return db_error(db_, "open");
    sqlite3_busy_timeout(db_, 10000);
    return core::ok();
  }

  core::Result<void> exec(const char* sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
      std::string msg = err != nullptr ? err : "";
      sqlite3_free(err);
      return core::Error::internal(fmt::format("storage error: {}", msg));
    }
    return core::ok();
  }

  /// Runs one fixed statement through the statement cache (no re-parsing on hot paths).
  core::Result<void> run(const char* sql) {
    auto p = prepare(sql);
    if (!p) return p.error();
    Stmt s(db_, *p);
    const int rc = s.step();
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return db_error(db_, "statement");
    return core::ok();
  }

  /// A cached prepared statement for SQL text that is a string literal: looked up by address, so
  /// the hot write path neither allocates nor compares text.
  core::Result<sqlite3_stmt*> prepare(const char* literal) {
    if (auto it = literals_.find(literal); it != literals_.end()) return it->second;
    auto s = prepare(std::string(literal));
    if (s) literals_.emplace(literal, *s);
    return s;
  }

  /// A cached prepared statement for fixed SQL text.
  core::Result<sqlite3_stmt*> prepare(const std::string& sql) {
    if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &s, nullptr) !=
        SQLITE_OK) {
      return db_error(db_, "prepare");
    }
    cache_.emplace(sql, s);
    return s;
  }

  /// A prepared statement for one-off SQL (dynamic search shapes); finalised with the connection
  /// once the uncached list grows, so memory stays bounded.
  core::Result<sqlite3_stmt*> prepare_once(const std::string& sql) {
    if (cache_.size() < 512) return prepare(sql);
    for (auto* s : uncached_) sqlite3_finalize(s);
    uncached_.clear();
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), static_cast<int>(sql.size()), &s, nullptr) != SQLITE_OK) {
      return db_error(db_, "prepare");
    }
    uncached_.push_back(s);
    return s;
  }

  [[nodiscard]] sqlite3* db() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*> cache_;
  std::unordered_map<const char*, sqlite3_stmt*> literals_;  // aliases of cache_ entries
  std::vector<sqlite3_stmt*> uncached_;
};

}  // namespace ucr::store::sqlite_detail
