// store/postgres/detail/connection: libpq connection, parameter and result wrappers private to the
// PostgreSQL backend. Every value travels as a typed parameter; SQL text never carries a value. A
// Connection is used by one thread at a time.
#pragma once

#include "core/error.hpp"
#include "search/query.hpp"

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ucr::store::pg_detail {

/// Parameters of one statement, in order ($1, $2, ...), each with its type.
class Params {
 public:
  void text(std::string_view v);
  void i64(std::int64_t v);
  void f64(double v);
  /// A NULL of type text.
  void null_text();
  /// A text[] array literal of the values.
  void text_array(const std::vector<std::string_view>& values);
  void i64_array(const std::vector<std::int64_t>& values);
  void f64_array(const std::vector<double>& values);

  [[nodiscard]] int size() const { return static_cast<int>(values_.size()); }
  [[nodiscard]] const std::vector<Oid>& types() const { return types_; }
  /// Pointers into the values, valid while this object lives and is not changed.
  [[nodiscard]] std::vector<const char*> pointers() const;

 private:
  std::vector<std::string> values_;
  std::vector<bool> nulls_;
  std::vector<Oid> types_;
};

/// The outcome of one statement; owns the PGresult.
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* r) : r_(r, &PQclear) {}
  [[nodiscard]] int size() const { return r_ ? PQntuples(r_.get()) : 0; }
  [[nodiscard]] bool null(int row, int col) const { return PQgetisnull(r_.get(), row, col) != 0; }
  [[nodiscard]] std::string text(int row, int col) const {
    return {PQgetvalue(r_.get(), row, col), static_cast<std::size_t>(PQgetlength(r_.get(), row, col))};
  }
  [[nodiscard]] std::int64_t i64(int row, int col) const;
  [[nodiscard]] double f64(int row, int col) const;
  /// A column as a sort value, typed by the column's type (null, text, bigint or double).
  [[nodiscard]] search::SortValue sort_value(int row, int col) const;

 private:
  std::shared_ptr<PGresult> r_;
};

/// What went wrong with the last statement, for the retry decisions of a write.
struct Failure {
  std::string sqlstate;    ///< five-character SQLSTATE, or empty (no server answer)
  std::string constraint;  ///< the violated constraint, when one was
};

/// True for failures that mean the database could not be reached or went away: the request may
/// be retried later (503), and the connection must not be reused.
[[nodiscard]] bool is_unavailable(const Failure& f);

class Connection {
 public:
  Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection();

  /// Connects with a libpq URL or key=value string. The password comes from the URL, PGPASSWORD or
  /// ~/.pgpass (libpq reads them); no message built here contains it. `schema` (an identifier
  /// checked by the caller) becomes the search path when not empty.
  [[nodiscard]] core::Result<void> open(const std::string& url, const std::string& schema);

  /// Runs a fixed statement, prepared once per connection (`sql` is a string literal: looked up by
  /// address).
  [[nodiscard]] core::Result<Rows> run(const char* sql, const Params& params, const char* what);
  /// Runs a statement whose text varies (search shapes), parsed each time.
  [[nodiscard]] core::Result<Rows> run_once(const std::string& sql, const Params& params, const char* what);
  /// Runs a statement whose text varies but repeats (one text per search shape): prepared once per
  /// connection and reused, so that a repeated search is not planned again; the cache is emptied
  /// when it holds kMaxShapes texts.
  [[nodiscard]] core::Result<Rows> run_shape(const std::string& sql, const Params& params, const char* what);
  /// Runs a statement without parameters (BEGIN, COMMIT, DDL).
  [[nodiscard]] core::Result<void> exec(const char* sql, const char* what);

  /// True once the connection failed in a way that makes it unusable.
  [[nodiscard]] bool broken() const { return conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK; }
  [[nodiscard]] const Failure& last_failure() const { return failure_; }
  void clear_failure() { failure_ = {}; }

 private:
  core::Result<Rows> check(PGresult* r, const char* what);

  PGconn* conn_ = nullptr;
  static constexpr std::size_t kMaxShapes = 256;
  std::unordered_map<const char*, std::string> prepared_;  // statement literal -> prepared name
  std::unordered_map<std::string, std::string> shapes_;    // statement text -> prepared name
  std::size_t next_name_ = 0;
  Failure failure_;
};

/// The URL with any password replaced by "***", for messages and logs.
[[nodiscard]] std::string redact(std::string_view url);

/// A 64-bit key for pg_advisory_xact_lock (FNV-1a of the parts, each ended by a NUL).
[[nodiscard]] std::int64_t lock_key(std::initializer_list<std::string_view> parts);

}  // namespace ucr::store::pg_detail
