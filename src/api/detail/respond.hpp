// api/detail/respond: building FHIR HTTP responses (errors, resources, Bundles). Pure; thread-safe.
#pragma once

#include "api/detail/ops.hpp"
#include "api/request.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

#include <string>

namespace ucr::api::detail {

/// The error as an OperationOutcome response with its HTTP status.
[[nodiscard]] Response error_response(const core::Error& error, const Request& request);

/// `W/"n"`.
[[nodiscard]] std::string etag_of(std::int64_t version);

/// "201 Created" and friends, for Bundle response entries.
[[nodiscard]] std::string status_line(int status);

/// True when the request asks for `_pretty=true`.
[[nodiscard]] bool wants_pretty(const Request& request);

/// Re-indents a JSON body when the request asks for it; otherwise returns the bytes as they are.
[[nodiscard]] std::string format_body(std::string body, const Request& request);

/// The response to a read or write that yields a resource version, honouring Prefer.
[[nodiscard]] Response resource_response(const OpResult& result, const Request& request, bool is_write);

}  // namespace ucr::api::detail
