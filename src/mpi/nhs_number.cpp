#include "mpi/nhs_number.hpp"

#include <fmt/format.h>

namespace ucr::mpi {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

/// Digits of `s` when it is ten digits or the 3-3-4 grouped form; otherwise the failing status.
NhsNumberStatus digits_of(std::string_view s, std::string& out) {
  out.clear();
  const bool grouped = s.size() == 12 && (s[3] == ' ' || s[3] == '-') && s[7] == s[3];
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (is_digit(c)) {
      out.push_back(c);
    } else if (!(grouped && (i == 3 || i == 7))) {
      return NhsNumberStatus::kNonDigit;
    }
  }
  return out.size() == 10 ? NhsNumberStatus::kValid : NhsNumberStatus::kWrongLength;
}

}  // namespace

std::string_view describe(NhsNumberStatus status) {
  switch (status) {
    case NhsNumberStatus::kValid:
      return "valid";
    case NhsNumberStatus::kEmpty:
      return "empty";
    case NhsNumberStatus::kWrongLength:
      return "wrong length: an NHS number has ten digits";
    case NhsNumberStatus::kNonDigit:
      return "non-digit character";
    case NhsNumberStatus::kCheckDigitMismatch:
      return "check digit mismatch";
    case NhsNumberStatus::kCheckDigitTen:
      return "check digit would be 10: no valid NHS number has these first nine digits";
  }
  return "unknown";
}

int nhs_check_digit(std::string_view nine) {
  int sum = 0;
  for (std::size_t i = 0; i < 9 && i < nine.size(); ++i) sum += (nine[i] - '0') * static_cast<int>(10 - i);
  const int check = 11 - (sum % 11);
  return check == 11 ? 0 : check;
}

NhsNumberStatus check_nhs_number(std::string_view text) {
  const auto s = trim(text);
  if (s.empty()) return NhsNumberStatus::kEmpty;
  std::string digits;
  if (const auto st = digits_of(s, digits); st != NhsNumberStatus::kValid) return st;
  const int check = nhs_check_digit(std::string_view(digits).substr(0, 9));
  if (check == 10) return NhsNumberStatus::kCheckDigitTen;
  return check == digits[9] - '0' ? NhsNumberStatus::kValid : NhsNumberStatus::kCheckDigitMismatch;
}

core::Result<std::string> canonicalise_nhs_number(std::string_view text) {
  const auto status = check_nhs_number(text);
  if (status != NhsNumberStatus::kValid) {
    return core::Error::invalid(fmt::format("Invalid NHS number '{}': {}", text, describe(status)),
                                "Patient.identifier.value");
  }
  std::string digits;
  (void)digits_of(trim(text), digits);
  return digits;
}

}  // namespace ucr::mpi
