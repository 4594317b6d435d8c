// api/json_patch: RFC 6902 JSON Patch applied to a Boost.JSON document. Pure; thread-safe.
#pragma once

#include "core/error.hpp"

#include <boost/json/value.hpp>

namespace ucr::api {

/// Applies `patch` (an array of operations) to `doc` in place. On error `doc` may be partly
/// changed; callers apply to a copy. Malformed patches give 400, failed tests and missing
/// paths 422, each naming the operation index.
[[nodiscard]] core::Result<void> apply_json_patch(boost::json::value& doc, const boost::json::value& patch);

}  // namespace ucr::api
