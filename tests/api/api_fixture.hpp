// Test support for driving ucr::api::Api in-process over a real store: SQLite in a temp dir, or,
// when UCR_TEST_POSTGRES names a server (tests/pg/with-postgres.sh sets it), a fresh schema of
// that PostgreSQL database, so that the same tests run on both backends.
#pragma once

#include "api/api.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace ucr::api::testing {

namespace json = boost::json;

inline constexpr const char* kBase = "http://localhost:8080/fhir";

/// Percent-decodes one query component ('+' stays a plus sign, as the server does).
inline std::string percent_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out.push_back(static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// The store of one test: PostgreSQL (a schema named after `dir`) when UCR_TEST_POSTGRES is set,
/// else SQLite in `dir`.
inline core::Result<std::unique_ptr<store::Store>> open_test_store(const std::filesystem::path& dir) {
  const char* url = std::getenv("UCR_TEST_POSTGRES");
  if (url != nullptr && *url != '\0') {
    store::PostgresOptions options;
    options.url = url;
    options.schema = dir.filename().string();
    for (auto& ch : options.schema) {
      if (ch == '-') ch = '_';
    }
    options.pool_size = 8;
    return store::open_postgres_store(options);
  }
  store::SqliteOptions options;
  options.directory = dir;
  return store::open_sqlite_store(options);
}

/// A Request for `target` ("/fhir/Patient?x=1" or an absolute URL under kBase).
inline Request make_request(std::string method, std::string_view target, std::string body = {},
                            const HeaderList& headers = {}) {
  Request r;
  r.method = std::move(method);
  r.base_url = kBase;
  std::string_view t = target;
  const std::string_view origin = "http://localhost:8080";
  if (t.rfind(origin, 0) == 0) t.remove_prefix(origin.size());
  const auto q = t.find('?');
  r.path = percent_decode(t.substr(0, q));
  if (q != std::string_view::npos) {
    r.raw_query = std::string(t.substr(q + 1));
    std::string_view rest = r.raw_query;
    while (!rest.empty()) {
      const auto amp = rest.find('&');
      const std::string_view pair = rest.substr(0, amp);
      const auto eq = pair.find('=');
      r.query.emplace_back(percent_decode(pair.substr(0, eq)),
                           eq == std::string_view::npos ? std::string() : percent_decode(pair.substr(eq + 1)));
      if (amp == std::string_view::npos) break;
      rest.remove_prefix(amp + 1);
    }
  }
  for (const auto& [n, v] : headers) r.headers.add(n, v);
  if (!body.empty() && !r.headers.get("content-type")) {
    r.headers.add("content-type", r.method == "PATCH" ? "application/json-patch+json" : "application/fhir+json");
  }
  r.body = std::move(body);
  return r;
}

/// The first value of a response header (names compared case-insensitively).
inline std::optional<std::string> header(const Response& r, std::string_view name) {
  for (const auto& [n, v] : r.headers) {
    if (n.size() == name.size() && std::equal(n.begin(), n.end(), name.begin(),
                                              [](char a, char b) { return std::tolower(a) == std::tolower(b); })) {
      return v;
    }
  }
  return std::nullopt;
}

/// The body parsed as a JSON object (fails the test when it is not one).
inline json::object body_of(const Response& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  EXPECT_FALSE(ec) << "body is not JSON: " << r.body;
  if (ec || !v.is_object()) {
    ADD_FAILURE() << "body is not a JSON object: " << r.body;
    return {};
  }
  return std::move(v.get_object());
}

inline std::string str(const json::value& v, std::initializer_list<std::string_view> path) {
  const json::value* cur = &v;
  for (const auto key : path) {
    if (const auto* o = cur->if_object()) {
      const auto* next = o->if_contains(key);
      if (next == nullptr) return "<missing>";
      cur = next;
    } else if (const auto* a = cur->if_array()) {
      const auto i = static_cast<std::size_t>(std::stoul(std::string(key)));
      if (i >= a->size()) return "<missing>";
      cur = &(*a)[i];
    } else {
      return "<missing>";
    }
  }
  return cur->is_string() ? std::string(cur->get_string()) : json::serialize(*cur);
}

/// All issue.expression[0] values of an OperationOutcome body.
inline std::vector<std::string> expressions(const json::object& outcome) {
  std::vector<std::string> out;
  const auto* issues = outcome.if_contains("issue");
  if (issues == nullptr || !issues->is_array()) return out;
  for (const auto& i : issues->get_array()) {
    const auto* ex = i.as_object().if_contains("expression");
    if (ex != nullptr && ex->is_array() && !ex->get_array().empty()) out.emplace_back(ex->get_array()[0].as_string());
  }
  return out;
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ucr-api-test-XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    ASSERT_NE(made, nullptr);
    dir_ = made;
    auto s = open_test_store(dir_);
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
    api_ = std::make_unique<Api>(*store_, api_options());
  }

  /// The FHIR-semantics tests run without record linkage (it adds links and review Tasks as
  /// Patients arrive); the identity tests turn it on.
  [[nodiscard]] virtual ApiOptions api_options() const {
    ApiOptions o;
    o.link_patients = false;
    return o;
  }

  void TearDown() override {
    api_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  Response call(std::string method, std::string_view target, std::string body = {}, const HeaderList& headers = {}) {
    return api_->handle(make_request(std::move(method), target, std::move(body), headers));
  }

  /// Creates a resource and returns its server-assigned id (fails the test on error).
  std::string create(const std::string& type, const std::string& body) {
    auto r = call("POST", "/fhir/" + type, body);
    EXPECT_EQ(r.status, 201) << r.body;
    return str(body_of(r), {"id"});
  }

  /// Creates or updates type/id with `body` (which must carry the id).
  Response put(const std::string& type, const std::string& id, const std::string& body,
               const HeaderList& headers = {}) {
    return call("PUT", "/fhir/" + type + "/" + id, body, headers);
  }

  /// Every version the store holds (all types), to show a request wrote nothing.
  std::size_t version_count() {
    store::HistoryQuery q;
    q.count = 1000000;
    auto page = store_->history(q);
    EXPECT_TRUE(page);
    return page ? page->entries.size() : 0;
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<Api> api_;
};

inline std::string patient(const std::string& id = {}, const std::string& family = "Doe",
                           const std::string& identifier_value = {}) {
  json::object p{{"resourceType", "Patient"}};
  if (!id.empty()) p["id"] = id;
  p["name"] = json::array{json::object{{"family", family}}};
  if (!identifier_value.empty()) {
    p["identifier"] = json::array{json::object{{"system", "http://hospital.example/mrn"}, {"value", identifier_value}}};
  }
  return json::serialize(p);
}

}  // namespace ucr::api::testing
