// api/request: the transport-neutral request and response the FHIR API works on. Plain values.
#pragma once

#include <algorithm>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ucr::api {

/// Case-insensitive header list (names stored lower-case).
class Headers {
 public:
  void add(std::string name, std::string value) {
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    items_.emplace_back(std::move(name), std::move(value));
  }
  /// The first value of a header, by lower-case name.
  [[nodiscard]] std::optional<std::string_view> get(std::string_view lower_name) const {
    for (const auto& [n, v] : items_) {
      if (n == lower_name) return std::string_view(v);
    }
    return std::nullopt;
  }
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

/// One HTTP request as the API sees it.
struct Request {
  std::string method;                                      ///< upper-case: GET, POST, PUT, PATCH, DELETE, HEAD
  std::string path;                                        ///< percent-decoded path, e.g. /fhir/Patient/123
  std::string raw_query;                                   ///< the query string as sent, without '?'
  std::vector<std::pair<std::string, std::string>> query;  ///< decoded parameters in order
  Headers headers;
  std::string body;
  std::string base_url;  ///< absolute base of the FHIR endpoint, e.g. http://127.0.0.1:8080/fhir
  std::string peer;      ///< the client's network address, when known (for the audit trail)

  /// The first value of a query parameter.
  [[nodiscard]] std::optional<std::string_view> param(std::string_view name) const {
    for (const auto& [n, v] : query) {
      if (n == name) return std::string_view(v);
    }
    return std::nullopt;
  }
};

/// One HTTP response.
struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string content_type = "application/fhir+json; charset=utf-8";
  std::string interaction = "other";  ///< metrics label: read, vread, create, update, ...
  std::string compartment;            ///< "Patient/{id}" a read resource belongs to (not sent; access and audit)
};

}  // namespace ucr::api
