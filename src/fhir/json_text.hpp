// fhir/json_text: compact JSON text for resources, with decimals in plain notation (72.4 rather
// than Boost.JSON's 7.24E1), as FHIR clients and people reading a record expect. Thread-safe.
#pragma once

#include <boost/json/value.hpp>

#include <string>

namespace ucr::fhir {

/// The shortest text that reads back as `d`, in plain notation (exponent form only beyond
/// 1e21 or below 1e-7, where plain notation would be unreadable).
[[nodiscard]] std::string decimal_text(double d);

/// Appends `v` to `out` as compact JSON (strings escaped as Boost.JSON does, numbers in plain notation).
void write_json(const boost::json::value& v, std::string& out);

/// `v` as compact JSON text.
[[nodiscard]] std::string json_text(const boost::json::value& v);

}  // namespace ucr::fhir
