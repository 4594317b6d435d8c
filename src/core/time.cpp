#include "core/time.hpp"

#include <array>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

namespace ucr::core {
namespace {

constexpr Micros kMicrosPerSecond = 1'000'000;
constexpr std::array<const char*, 7> kDays = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<const char*, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since the epoch for a civil date (proleptic Gregorian), after H. Hinnant's published algorithm.
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

Micros seconds_of(std::int64_t days, int hh, int mm, int ss) {
  return days * 86400 + static_cast<Micros>(hh) * 3600 + static_cast<Micros>(mm) * 60 + ss;
}

bool read_digits(std::string_view s, std::size_t pos, std::size_t n, int& out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const char c = s[pos + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  out = v;
  return true;
}

std::tm to_tm(Micros t) {
  const std::time_t secs = static_cast<std::time_t>(t / kMicrosPerSecond - (t % kMicrosPerSecond < 0 ? 1 : 0));
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return tm;
}

}  // namespace

Micros now_micros() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

std::string format_instant(Micros t) {
  const std::tm tm = to_tm(t);
  const auto millis = static_cast<int>(((t % kMicrosPerSecond) + kMicrosPerSecond) % kMicrosPerSecond / 1000);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

std::string format_http_date(Micros t) {
  const std::tm tm = to_tm(t);
  return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT", kDays.at(static_cast<std::size_t>(tm.tm_wday)),
                     tm.tm_mday, kMonths.at(static_cast<std::size_t>(tm.tm_mon)), tm.tm_year + 1900, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::optional<Micros> parse_http_date(std::string_view s) {
  // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
  if (s.size() != 29 || s.substr(25) != " GMT") return std::nullopt;
  int day = 0;
  int year = 0;
  int hh = 0;
  int mm = 0;
  int ss = 0;
  if (!read_digits(s, 5, 2, day) || !read_digits(s, 12, 4, year) || !read_digits(s, 17, 2, hh) ||
      !read_digits(s, 20, 2, mm) || !read_digits(s, 23, 2, ss)) {
    return std::nullopt;
  }
  const std::string_view mon = s.substr(8, 3);
  unsigned month = 0;
  for (unsigned i = 0; i < kMonths.size(); ++i) {
    if (mon == kMonths.at(i)) month = i + 1;
  }
  if (month == 0 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60) return std::nullopt;
  const std::int64_t days = days_from_civil(year, month, static_cast<unsigned>(day));
  return seconds_of(days, hh, mm, ss) * kMicrosPerSecond;
}

std::optional<Micros> parse_fhir_datetime(std::string_view s) {
  int year = 0;
  int month = 1;
  int day = 1;
  int hh = 0;
  int mm = 0;
  int ss = 0;
  Micros frac = 0;
  if (!read_digits(s, 0, 4, year)) return std::nullopt;
  std::size_t pos = 4;
  if (pos < s.size()) {
    if (s[pos] != '-' || !read_digits(s, pos + 1, 2, month) || month < 1 || month > 12) return std::nullopt;
    pos += 3;
  }
  if (pos < s.size()) {
    if (s[pos] != '-' || !read_digits(s, pos + 1, 2, day) || day < 1 || day > 31) return std::nullopt;
    pos += 3;
  }
  Micros offset = 0;
  if (pos < s.size()) {
    if (s[pos] != 'T' || !read_digits(s, pos + 1, 2, hh) || s.size() < pos + 9 || s[pos + 3] != ':' ||
        !read_digits(s, pos + 4, 2, mm) || s[pos + 6] != ':' || !read_digits(s, pos + 7, 2, ss)) {
      return std::nullopt;
    }
    if (hh > 23 || mm > 59 || ss > 60) return std::nullopt;
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      ++pos;
      Micros scale = 100000;
      const std::size_t start = pos;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        frac += (s[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
      if (pos == start) return std::nullopt;
    }
    if (pos >= s.size()) return std::nullopt;  // a time needs a zone
    if (s[pos] == 'Z') {
      ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
      int oh = 0;
      int om = 0;
      if (!read_digits(s, pos + 1, 2, oh) || s.size() < pos + 6 || s[pos + 3] != ':' ||
          !read_digits(s, pos + 4, 2, om) || oh > 14 || om > 59) {
        return std::nullopt;
      }
      offset =
          (static_cast<Micros>(oh) * 3600 + static_cast<Micros>(om) * 60) * kMicrosPerSecond * (s[pos] == '+' ? 1 : -1);
      pos += 6;
    } else {
      return std::nullopt;
    }
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return seconds_of(days, hh, mm, ss) * kMicrosPerSecond + frac - offset;
}

}  // namespace ucr::core
