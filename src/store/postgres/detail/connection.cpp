#include "store/postgres/detail/connection.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstdlib>

namespace ucr::store::pg_detail {
namespace {

// Built-in type OIDs (fixed by PostgreSQL's catalog; the server headers are not needed for them).
constexpr Oid kText = 25;
constexpr Oid kInt8 = 20;
constexpr Oid kFloat8 = 701;
constexpr Oid kTextArray = 1009;
constexpr Oid kInt8Array = 1016;
constexpr Oid kFloat8Array = 1022;

/// A double as text that reads back to the same value (shortest round trip).
std::string double_text(double v) { return fmt::format("{}", v); }

}  // namespace

void Params::text(std::string_view v) {
  values_.emplace_back(v);
  nulls_.push_back(false);
  types_.push_back(kText);
}

void Params::i64(std::int64_t v) {
  values_.push_back(std::to_string(v));
  nulls_.push_back(false);
  types_.push_back(kInt8);
}

void Params::f64(double v) {
  values_.push_back(double_text(v));
  nulls_.push_back(false);
  types_.push_back(kFloat8);
}

void Params::null_text() {
  values_.emplace_back();
  nulls_.push_back(true);
  types_.push_back(kText);
}

void Params::text_array(const std::vector<std::string_view>& values) {
  // Array literal: every element quoted, with backslash and double quote escaped.
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.push_back('"');
    for (const char ch : values[i]) {
      if (ch == '"' || ch == '\\') out.push_back('\\');
      out.push_back(ch);
    }
    out.push_back('"');
  }
  out.push_back('}');
  values_.push_back(std::move(out));
  nulls_.push_back(false);
  types_.push_back(kTextArray);
}

void Params::i64_array(const std::vector<std::int64_t>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += std::to_string(values[i]);
  }
  out.push_back('}');
  values_.push_back(std::move(out));
  nulls_.push_back(false);
  types_.push_back(kInt8Array);
}

void Params::f64_array(const std::vector<double>& values) {
  std::string out = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.push_back(',');
    out += double_text(values[i]);
  }
  out.push_back('}');
  values_.push_back(std::move(out));
  nulls_.push_back(false);
  types_.push_back(kFloat8Array);
}

std::vector<const char*> Params::pointers() const {
  std::vector<const char*> out;
  out.reserve(values_.size());
  for (std::size_t i = 0; i < values_.size(); ++i) out.push_back(nulls_[i] ? nullptr : values_[i].c_str());
  return out;
}

std::int64_t Rows::i64(int row, int col) const {
  const char* p = PQgetvalue(r_.get(), row, col);
  std::int64_t v = 0;
  std::from_chars(p, p + PQgetlength(r_.get(), row, col), v);
  return v;
}

double Rows::f64(int row, int col) const { return std::strtod(PQgetvalue(r_.get(), row, col), nullptr); }

search::SortValue Rows::sort_value(int row, int col) const {
  if (null(row, col)) return std::monostate{};
  switch (PQftype(r_.get(), col)) {
    case kInt8:
    case 23:  // int4
    case 21:  // int2
      return i64(row, col);
    case kFloat8:
    case 700:   // float4
    case 1700:  // numeric
      return f64(row, col);
    default:
      return text(row, col);
  }
}

bool is_unavailable(const Failure& f) {
  // No answer at all, class 08 (connection exception), 57P01-57P03 (the server shutting down or
  // starting), 53300 (too many connections).
  return f.sqlstate.empty() || f.sqlstate.rfind("08", 0) == 0 || f.sqlstate == "57P01" || f.sqlstate == "57P02" ||
         f.sqlstate == "57P03" || f.sqlstate == "53300";
}

Connection::~Connection() {
  if (conn_ != nullptr) PQfinish(conn_);
}

core::Result<void> Connection::open(const std::string& url, const std::string& schema) {
  // Defaults come before dbname, so that the same settings in the URL win over them.
  const std::array<const char*, 4> keys{"connect_timeout", "application_name", "dbname", nullptr};
  const std::array<const char*, 4> values{"10", "ucr", url.c_str(), nullptr};
  conn_ = PQconnectdbParams(keys.data(), values.data(), 1);
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    std::string why = conn_ != nullptr ? PQerrorMessage(conn_) : "out of memory";
    // libpq's message spans lines ("...\n\tIs the server running..."): one line for logs.
    for (auto& ch : why) {
      if (ch == '\n' || ch == '\t') ch = ' ';
    }
    while (!why.empty() && why.back() == ' ') why.pop_back();
    failure_ = Failure{};
    return core::Error::make(503, "transient", fmt::format("the database {} is unavailable: {}", redact(url), why));
  }
  // Server notices ("already exists, skipping") are not errors; libpq would print them on stderr.
  PQsetNoticeProcessor(
      conn_, [](void* /*arg*/, const char* /*message*/) {}, nullptr);
  // Fixed session settings: UTC, and (for tests and tenants) a schema of our own.
  if (auto r = exec("SET TIME ZONE 'UTC'", "session setup"); !r) return r;
  if (!schema.empty()) {
    const std::string set = fmt::format("SET search_path TO \"{}\"", schema);
    PGresult* res = PQexec(conn_, set.c_str());
    auto rows = check(res, "session setup");
    if (!rows) return rows.error();
  }
  return core::ok();
}

core::Result<Rows> Connection::check(PGresult* r, const char* what) {
  const auto status = r == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(r);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    failure_ = {};
    return Rows(r);
  }
  Failure f;
  std::string message;
  if (r != nullptr) {
    if (const char* s = PQresultErrorField(r, PG_DIAG_SQLSTATE)) f.sqlstate = s;
    if (const char* c = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME)) f.constraint = c;
    if (const char* m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY)) message = m;
    PQclear(r);
  }
  if (message.empty() && conn_ != nullptr) message = PQerrorMessage(conn_);
  while (!message.empty() && (message.back() == '\n' || message.back() == ' ')) message.pop_back();
  failure_ = f;
  if (broken() || is_unavailable(f)) {
    if (failure_.sqlstate.empty()) failure_.sqlstate = "08000";
    return core::Error::make(503, "transient",
                             fmt::format("the database is unavailable during {} ({}); retry", what, message));
  }
  // Driver detail stays in the message for operators; callers see a storage failure.
  return core::Error::internal(fmt::format("storage error during {}: {} [{}]", what, message, f.sqlstate));
}

core::Result<Rows> Connection::run(const char* sql, const Params& params, const char* what) {
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = fmt::format("s{}", ++next_name_);
    PGresult* prep = PQprepare(conn_, name.c_str(), sql, params.size(), params.types().data());
    auto checked = check(prep, what);
    if (!checked) return checked.error();
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  const auto values = params.pointers();
  return check(PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0), what);
}

core::Result<Rows> Connection::run_shape(const std::string& sql, const Params& params, const char* what) {
  // The parameter types are part of the shape (a cursor's sort value may be text or a number).
  std::string key = sql;
  key.push_back('\0');
  for (const Oid t : params.types()) key += std::to_string(t) + ",";
  auto it = shapes_.find(key);
  if (it == shapes_.end()) {
    if (shapes_.size() >= kMaxShapes) {
      for (const auto& [text, name] : shapes_) {
        const std::string deallocate = "DEALLOCATE " + name;
        PQclear(PQexec(conn_, deallocate.c_str()));
      }
      shapes_.clear();
    }
    std::string name = fmt::format("q{}", ++next_name_);
    PGresult* prep = PQprepare(conn_, name.c_str(), sql.c_str(), params.size(), params.types().data());
    auto checked = check(prep, what);
    if (!checked) return checked.error();
    it = shapes_.emplace(std::move(key), std::move(name)).first;
  }
  const auto values = params.pointers();
  return check(PQexecPrepared(conn_, it->second.c_str(), params.size(), values.data(), nullptr, nullptr, 0), what);
}

core::Result<Rows> Connection::run_once(const std::string& sql, const Params& params, const char* what) {
  const auto values = params.pointers();
  return check(
      PQexecParams(conn_, sql.c_str(), params.size(), params.types().data(), values.data(), nullptr, nullptr, 0), what);
}

core::Result<void> Connection::exec(const char* sql, const char* what) {
  auto r = check(PQexec(conn_, sql), what);
  if (!r) return r.error();
  return core::ok();
}

std::string redact(std::string_view url) {
  // postgresql://user:password@host/db -> postgresql://user:***@host/db; key=value strings hide
  // password=... the same way.
  std::string out(url);
  const auto scheme = out.find("://");
  if (scheme != std::string::npos) {
    const auto start = scheme + 3;
    const auto at = out.find('@', start);
    const auto slash = out.find('/', start);
    if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
      const auto colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  for (const std::string_view key : {"password=", "PASSWORD="}) {
    std::size_t pos = 0;
    while ((pos = out.find(key, pos)) != std::string::npos) {
      const auto begin = pos + key.size();
      auto end = out.find_first_of(" &", begin);
      if (end == std::string::npos) end = out.size();
      out.replace(begin, end - begin, "***");
      pos = begin + 3;
    }
  }
  return out;
}

std::int64_t lock_key(std::initializer_list<std::string_view> parts) {
  std::uint64_t h = 14695981039346656037ULL;
  for (const auto part : parts) {
    for (const char ch : part) {
      h ^= static_cast<unsigned char>(ch);
      h *= 1099511628211ULL;
    }
    h *= 1099511628211ULL;  // the part's end, so ("ab", "c") and ("a", "bc") differ
  }
  return static_cast<std::int64_t>(h);
}

}  // namespace ucr::store::pg_detail
