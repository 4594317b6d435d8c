#include "api/detail/respond.hpp"

#include "api/detail/format.hpp"
#include "fhir/outcome.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

namespace ucr::api::detail {

std::string etag_of(std::int64_t version) { return fmt::format("W/\"{}\"", version); }

std::string status_line(int status) {
  switch (status) {
    case 200:
      return "200 OK";
    case 201:
      return "201 Created";
    case 204:
      return "204 No Content";
    case 304:
      return "304 Not Modified";
    case 400:
      return "400 Bad Request";
    case 404:
      return "404 Not Found";
    case 409:
      return "409 Conflict";
    case 410:
      return "410 Gone";
    case 412:
      return "412 Precondition Failed";
    case 422:
      return "422 Unprocessable Entity";
    default:
      return std::to_string(status);
  }
}

bool wants_pretty(const Request& request) {
  const auto p = request.param("_pretty");
  return p.has_value() && *p == "true";
}

std::string format_body(std::string body, const Request& request) {
  if (!wants_pretty(request) || body.empty()) return body;
  boost::system::error_code ec;
  auto v = boost::json::parse(body, ec);
  if (ec) return body;
  return pretty_json(v);
}

Response error_response(const core::Error& error, const Request& request) {
  Response r;
  r.status = error.status;
  r.body = format_body(boost::json::serialize(fhir::operation_outcome(error)), request);
  return r;
}

Response resource_response(const OpResult& result, const Request& request, bool is_write) {
  Response r;
  r.status = result.status;
  if (result.info) {
    const auto& info = *result.info;
    r.headers.emplace_back("ETag", etag_of(info.version));
    r.headers.emplace_back("Last-Modified", core::format_http_date(info.last_updated));
    if (is_write && !info.deleted) {
      r.headers.emplace_back("Location",
                             fmt::format("{}/{}/{}/_history/{}", request.base_url, info.type, info.id, info.version));
    }
  }
  if (result.status == 204 || result.json.empty()) {
    if (result.status != 204 && result.status != 304) {
      r.body = format_body(boost::json::serialize(fhir::information_outcome("done")), request);
    }
    return r;
  }
  if (is_write) {
    const auto prefer = request.headers.get("prefer");
    if (prefer && prefer->find("return=minimal") != std::string_view::npos) return r;
    if (prefer && prefer->find("return=OperationOutcome") != std::string_view::npos) {
      r.body =
          format_body(boost::json::serialize(fhir::information_outcome(fmt::format(
                          "{}/{} stored as version {}", result.info->type, result.info->id, result.info->version))),
                      request);
      return r;
    }
  }
  r.body = format_body(result.json, request);
  return r;
}

}  // namespace ucr::api::detail
