#include "mpi/compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <vector>

namespace ucr::mpi {
namespace {

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int to_int(std::string_view s) {
  int v = 0;
  for (const char c : s) v = v * 10 + (c - '0');
  return v;
}

bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[static_cast<std::size_t>(m - 1)];
}

/// Soundex digit of an upper-case letter; '0' for vowels and Y, 'h' for H and W (which do not separate).
char soundex_code(char c) {
  switch (c) {
    case 'B':
    case 'F':
    case 'P':
    case 'V':
      return '1';
    case 'C':
    case 'G':
    case 'J':
    case 'K':
    case 'Q':
    case 'S':
    case 'X':
    case 'Z':
      return '2';
    case 'D':
    case 'T':
      return '3';
    case 'L':
      return '4';
    case 'M':
    case 'N':
      return '5';
    case 'R':
      return '6';
    case 'H':
    case 'W':
      return 'h';
    default:
      return '0';
  }
}

}  // namespace

double jaro(std::string_view a, std::string_view b) {
  if (a.empty() && b.empty()) return 1.0;
  if (a.empty() || b.empty()) return 0.0;
  if (a == b) return 1.0;
  const std::size_t window = std::max<std::size_t>(std::max(a.size(), b.size()) / 2, 1) - 1;
  std::vector<char> a_match(a.size(), 0);
  std::vector<char> b_match(b.size(), 0);
  std::size_t matches = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::size_t lo = i > window ? i - window : 0;
    const std::size_t hi = std::min(i + window + 1, b.size());
    for (std::size_t j = lo; j < hi; ++j) {
      if (b_match[j] == 0 && a[i] == b[j]) {
        a_match[i] = b_match[j] = 1;
        ++matches;
        break;
      }
    }
  }
  if (matches == 0) return 0.0;
  std::size_t half_transpositions = 0;
  std::size_t k = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a_match[i] == 0) continue;
    while (b_match[k] == 0) ++k;
    if (a[i] != b[k]) ++half_transpositions;
    ++k;
  }
  const double m = static_cast<double>(matches);
  const double t = static_cast<double>(half_transpositions) / 2.0;
  return (m / static_cast<double>(a.size()) + m / static_cast<double>(b.size()) + (m - t) / m) / 3.0;
}

double jaro_winkler(std::string_view a, std::string_view b, double prefix_scale) {
  const double j = jaro(a, b);
  std::size_t prefix = 0;
  while (prefix < 4 && prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
  return j + static_cast<double>(prefix) * std::min(prefix_scale, 0.25) * (1.0 - j);
}

std::string soundex(std::string_view name) {
  std::string out;
  char last = 0;
  for (const char raw : name) {
    const char c = raw >= 'a' && raw <= 'z' ? static_cast<char>(raw - 'a' + 'A') : raw;
    if (c < 'A' || c > 'Z') continue;
    const char code = soundex_code(c);
    if (out.empty()) {
      out.push_back(c);
      last = code;
      continue;
    }
    if (code == 'h') continue;  // H and W: the codes either side still merge
    if (code != '0' && code != last) out.push_back(code);
    last = code;
    if (out.size() == 4) break;
  }
  if (out.empty()) return out;
  out.resize(4, '0');
  return out;
}

std::optional<Date> parse_date(std::string_view text) {
  if (const auto t = text.find('T'); t != std::string_view::npos) text = text.substr(0, t);
  Date d;
  if (text.size() < 4 || !all_digits(text.substr(0, 4))) return std::nullopt;
  d.year = to_int(text.substr(0, 4));
  if (text.size() == 4) return d;
  if (text.size() < 7 || text[4] != '-' || !all_digits(text.substr(5, 2))) return std::nullopt;
  d.month = to_int(text.substr(5, 2));
  if (d.month < 1 || d.month > 12) return std::nullopt;
  if (text.size() == 7) return d;
  if (text.size() != 10 || text[7] != '-' || !all_digits(text.substr(8, 2))) return std::nullopt;
  d.day = to_int(text.substr(8, 2));
  if (d.day < 1 || d.day > days_in_month(d.year, d.month)) return std::nullopt;
  return d;
}

std::string format_date(const Date& d) {
  if (d.month == 0) return fmt::format("{:04}", d.year);
  if (d.day == 0) return fmt::format("{:04}-{:02}", d.year, d.month);
  return fmt::format("{:04}-{:02}-{:02}", d.year, d.month, d.day);
}

DateAgreement compare_dates(std::string_view a, std::string_view b) {
  return compare_dates(parse_date(a), parse_date(b));
}

DateAgreement compare_dates(const std::optional<Date>& a, const std::optional<Date>& b) {
  if (!a || !b) return DateAgreement::kMissing;
  if (*a == *b) return DateAgreement::kExact;
  const bool full = a->day != 0 && b->day != 0;
  if (!full) {
    // Partial dates agree as far as both go, or not at all.
    const bool same_year = a->year == b->year;
    const bool month_ok = a->month == 0 || b->month == 0 || a->month == b->month;
    if (same_year && month_ok) return DateAgreement::kSameYearMonth;
    return std::abs(a->year - b->year) == 1 && month_ok ? DateAgreement::kYearOffByOne : DateAgreement::kFar;
  }
  if (a->year == b->year && a->day == b->month && a->month == b->day) return DateAgreement::kTransposed;
  const auto da = fmt::format("{:04}{:02}{:02}", a->year, a->month, a->day);
  const auto db = fmt::format("{:04}{:02}{:02}", b->year, b->month, b->day);
  int differing = 0;
  for (std::size_t i = 0; i < da.size(); ++i) differing += da[i] != db[i] ? 1 : 0;
  if (differing == 1) return DateAgreement::kOneDigit;
  if (a->year == b->year && a->month == b->month) return DateAgreement::kSameYearMonth;
  if (std::abs(a->year - b->year) == 1 && a->month == b->month && a->day == b->day) {
    return DateAgreement::kYearOffByOne;
  }
  return DateAgreement::kFar;
}

}  // namespace ucr::mpi
