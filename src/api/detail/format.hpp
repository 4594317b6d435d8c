// api/detail/format: JSON output helpers (pretty printing, escaping). Pure; thread-safe.
#pragma once

#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace ucr::api::detail {

/// Indented JSON (two spaces), for `_pretty=true`.
[[nodiscard]] std::string pretty_json(const boost::json::value& v);

/// A JSON string literal (with quotes) for `s`.
[[nodiscard]] std::string quoted(std::string_view s);

}  // namespace ucr::api::detail
