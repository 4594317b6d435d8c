// core/time: instants as FHIR text and as microseconds since the Unix epoch. Thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ucr::core {

/// Microseconds since 1970-01-01T00:00:00Z.
using Micros = std::int64_t;

/// The current time.
[[nodiscard]] Micros now_micros();

/// Formats as a FHIR instant in UTC with millisecond precision: 2026-11-25T17:20:00.123Z.
[[nodiscard]] std::string format_instant(Micros t);

/// Formats as an RFC 7231 HTTP date: Wed, 25 Nov 2026 17:20:00 GMT.
[[nodiscard]] std::string format_http_date(Micros t);

/// Parses an RFC 7231 HTTP date (IMF-fixdate). Empty on failure.
[[nodiscard]] std::optional<Micros> parse_http_date(std::string_view s);

/// Parses a FHIR date, dateTime or instant (YYYY, YYYY-MM, YYYY-MM-DD, or with time and zone)
/// to the earliest instant it covers. Empty on failure.
[[nodiscard]] std::optional<Micros> parse_fhir_datetime(std::string_view s);

}  // namespace ucr::core
