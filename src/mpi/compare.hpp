// mpi/compare: graded similarity of the values matching compares: Jaro-Winkler for strings, Soundex
// for surnames, and a graded comparison of birth dates. Pure functions; thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace ucr::mpi {

/// Jaro similarity in [0, 1] over bytes (compare folded names). Source: Jaro (1989), as described in
/// Winkler, "String comparator metrics and enhanced decision rules in the Fellegi-Sunter model" (1990).
[[nodiscard]] double jaro(std::string_view a, std::string_view b);

/// Jaro-Winkler similarity in [0, 1]: Jaro plus a bonus for a common prefix of up to 4 characters,
/// `prefix_scale` (<= 0.25) per character: jw = j + l * p * (1 - j).
[[nodiscard]] double jaro_winkler(std::string_view a, std::string_view b, double prefix_scale = 0.1);

/// American Soundex code of a name ("Robert" -> "R163", "Ashcraft" -> "A261"): first letter kept,
/// consonants coded 1-6, vowels separate equal codes, H and W do not; padded to four characters.
/// Non-letters are ignored; empty when there is no ASCII letter. Source: US National Archives,
/// "The Soundex Indexing System" (2007).
[[nodiscard]] std::string soundex(std::string_view name);

/// A calendar date or a partial one (FHIR date: YYYY, YYYY-MM or YYYY-MM-DD); absent parts are 0.
struct Date {
  int year = 0;
  int month = 0;
  int day = 0;
  friend bool operator==(const Date&, const Date&) = default;
};

/// Parses a FHIR date or the date part of a dateTime; nullopt when malformed or out of range.
[[nodiscard]] std::optional<Date> parse_date(std::string_view text);

/// "YYYY-MM-DD" (or the partial form) of a date.
[[nodiscard]] std::string format_date(const Date& d);

/// How two birth dates agree, best first.
enum class DateAgreement {
  kExact,
  kTransposed,     ///< day and month swapped (12/03 vs 03/12), same year
  kOneDigit,       ///< YYYYMMDD differ in exactly one digit (a keying error)
  kSameYearMonth,  ///< same year and month, day differs more (or one date has no day)
  kYearOffByOne,   ///< same day and month, years one apart
  kFar,            ///< anything else
  kMissing,        ///< either date absent or malformed
};

/// Compares two FHIR dates (see DateAgreement).
[[nodiscard]] DateAgreement compare_dates(std::string_view a, std::string_view b);
[[nodiscard]] DateAgreement compare_dates(const std::optional<Date>& a, const std::optional<Date>& b);

}  // namespace ucr::mpi
