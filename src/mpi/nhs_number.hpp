// mpi/nhs_number: validation and canonical form of NHS numbers (10 digits, Modulus 11 check digit).
// Pure functions over values; thread-safe.
#pragma once

#include "core/error.hpp"

#include <string>
#include <string_view>

namespace ucr::mpi {

/// The identifier system of the NHS number in UK Core (Patient.identifier.system).
inline constexpr std::string_view kNhsNumberSystem = "https://fhir.nhs.uk/Id/nhs-number";

/// Why a string is or is not an NHS number.
enum class NhsNumberStatus {
  kValid,
  kEmpty,               ///< nothing but whitespace
  kWrongLength,         ///< not exactly ten digits
  kNonDigit,            ///< a character other than a digit or a 3-3-4 group separator
  kCheckDigitMismatch,  ///< the tenth digit is not the Modulus 11 check digit of the first nine
  kCheckDigitTen,       ///< the first nine digits give check digit 10: no valid number starts so
};

/// Short English reason for a status, e.g. "check digit mismatch".
[[nodiscard]] std::string_view describe(NhsNumberStatus status);

/// The Modulus 11 check digit of nine digits (weights 10..2; 11 - sum mod 11; 11 -> 0), or 10 when none
/// exists. Precondition: `nine` holds exactly nine ASCII digits. Source: NHS Data Dictionary, "NHS Number".
[[nodiscard]] int nhs_check_digit(std::string_view nine);

/// Classifies `text`. Accepted forms: ten digits ("9434765919"), or digits grouped 3-3-4 by single
/// spaces or hyphens ("943 476 5919", "943-476-5919"); surrounding whitespace is ignored.
[[nodiscard]] NhsNumberStatus check_nhs_number(std::string_view text);

/// The canonical ten-digit form of `text`, or an `invalid` error naming the reason (see check_nhs_number).
[[nodiscard]] core::Result<std::string> canonicalise_nhs_number(std::string_view text);

/// True when canonicalise_nhs_number would succeed.
[[nodiscard]] inline bool is_valid_nhs_number(std::string_view text) {
  return check_nhs_number(text) == NhsNumberStatus::kValid;
}

}  // namespace ucr::mpi
