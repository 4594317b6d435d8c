// fhirpath/types: the System value types of FHIRPath (Decimal, Date/DateTime/Time, Quantity) with
// parsing, formatting, comparison and arithmetic. Plain values: safe to copy and share between threads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ucr::fhirpath {

__extension__ typedef __int128 Int128;  // NOLINT(modernize-use-using): __extension__ silences -Wpedantic

/// A decimal number as a scaled integer (mantissa * 10^-scale). The scale is the number of digits
/// after the decimal point and is kept (1.0 has scale 1, 1.00 scale 2) since FHIRPath precision matters.
class Decimal {
 public:
  static constexpr int kMaxScale = 28;      ///< scales beyond this are rounded away
  static constexpr int kDivisionScale = 8;  ///< minimum digits kept by a division

  Decimal() = default;
  Decimal(Int128 mantissa, int scale) : mantissa_(mantissa), scale_(scale) {}
  /// An integer as a decimal of scale 0.
  static Decimal from_int(std::int64_t v) { return Decimal(v, 0); }
  /// Parses `[+-]digits[.digits]`; nullopt when malformed or too large.
  static std::optional<Decimal> parse(std::string_view text);
  /// Converts a double, keeping at most `max_scale` digits after the point (trailing zeros removed).
  static std::optional<Decimal> from_double(double v, int max_scale = 8);

  [[nodiscard]] Int128 mantissa() const { return mantissa_; }
  [[nodiscard]] int scale() const { return scale_; }
  [[nodiscard]] bool is_zero() const { return mantissa_ == 0; }
  [[nodiscard]] bool is_negative() const { return mantissa_ < 0; }
  /// True when the value has no fractional part.
  [[nodiscard]] bool is_integral() const;
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] double to_double() const;
  /// The value as an integer when integral and in range.
  [[nodiscard]] std::optional<std::int64_t> to_int64() const;

  /// The same value at another scale (rounding half away from zero when reducing); nullopt on overflow.
  [[nodiscard]] std::optional<Decimal> rescaled(int scale) const;
  /// Removes trailing zero digits while the scale stays >= `min_scale`.
  [[nodiscard]] Decimal trimmed(int min_scale = 0) const;
  [[nodiscard]] Decimal negated() const { return Decimal(-mantissa_, scale_); }
  [[nodiscard]] Decimal abs() const { return mantissa_ < 0 ? negated() : *this; }
  /// Rounding to `digits` after the point toward -inf / +inf / zero / half away from zero.
  [[nodiscard]] Decimal floor(int digits = 0) const;
  [[nodiscard]] Decimal ceiling(int digits = 0) const;
  [[nodiscard]] Decimal truncate(int digits = 0) const;
  [[nodiscard]] Decimal round(int digits = 0) const;

  static std::optional<Decimal> add(const Decimal& a, const Decimal& b);
  static std::optional<Decimal> subtract(const Decimal& a, const Decimal& b);
  static std::optional<Decimal> multiply(const Decimal& a, const Decimal& b);
  /// Division keeping max(kDivisionScale, scales) digits, then trailing zeros trimmed to the operands'
  /// scale; nullopt when dividing by zero or on overflow.
  static std::optional<Decimal> divide(const Decimal& a, const Decimal& b);
  /// Remainder of truncated division (sign of the dividend); nullopt when b is zero.
  static std::optional<Decimal> modulo(const Decimal& a, const Decimal& b);
  /// -1, 0 or 1 comparing the numeric values (1.0 == 1).
  static int compare(const Decimal& a, const Decimal& b);

 private:
  Int128 mantissa_ = 0;
  int scale_ = 0;
};

/// What a temporal value is.
enum class TemporalKind : std::uint8_t { kDate, kDateTime, kTime };

/// The finest component a temporal value specifies.
enum class Precision : std::uint8_t { kYear, kMonth, kDay, kHour, kMinute, kSecond, kMillisecond };

/// A FHIRPath Date, DateTime or Time with its precision and optional timezone offset.
struct Temporal {
  TemporalKind kind = TemporalKind::kDateTime;
  Precision precision = Precision::kYear;
  int year = 0, month = 1, day = 1, hour = 0, minute = 0, second = 0, millisecond = 0;
  bool has_timezone = false;
  int tz_minutes = 0;  ///< offset east of UTC in minutes when has_timezone

  /// "YYYY[-MM[-DD]]".
  static std::optional<Temporal> parse_date(std::string_view text);
  /// "YYYY[-MM[-DD[Thh[:mm[:ss[.fff]]]][Z|+hh:mm]]]" (a trailing "T" alone is accepted, as in @2015T).
  static std::optional<Temporal> parse_date_time(std::string_view text);
  /// "hh[:mm[:ss[.fff]]]" without a timezone.
  static std::optional<Temporal> parse_time(std::string_view text);
  /// The ISO text without the '@' / 'T' literal prefixes ("2014-01-01T08:05:00.000+08:00", "10:30").
  [[nodiscard]] std::string to_string() const;
  /// The FHIRPath precision digit count (4 year ... 17 millisecond; Time: 2 ... 9).
  [[nodiscard]] int precision_digits() const;
};

/// -1/0/1 ordering, nullopt when the values differ only below the common precision (the result is
/// then unknown), or when kinds are incompatible (Time against a Date) — see `temporal_comparable`.
std::optional<int> compare_temporal(const Temporal& a, const Temporal& b);
/// True when a and b can be compared at all (Date/DateTime with each other, Time with Time).
bool temporal_comparable(const Temporal& a, const Temporal& b);

/// A FHIRPath Quantity: a decimal with a UCUM unit or a calendar duration keyword ("week").
struct Quantity {
  Decimal value;
  std::string unit = "1";  ///< UCUM code, or a calendar keyword (year, months, day, ...)

  /// "4 'mg'" or "1 week".
  [[nodiscard]] std::string to_string() const;
};

/// True for the calendar duration keywords (year(s) ... millisecond(s)).
bool is_calendar_keyword(std::string_view unit);

/// A unit reduced to base units: value_in_base = value * factor; `dims` are exponents of
/// m, g, s, mol, K, A, cd; calendar year/month keywords get their own dimension.
struct UnitInfo {
  Decimal factor;
  std::array<std::int8_t, 8> dims{};
};
/// The base-unit form of a UCUM expression or calendar keyword; nullopt when not understood.
std::optional<UnitInfo> unit_info(std::string_view unit);

/// -1/0/1 comparing two quantities after unit conversion; nullopt when the units are not comparable.
std::optional<int> compare_quantity(const Quantity& a, const Quantity& b);
/// Equivalence: values converted to base units, compared at the least precision of the two.
std::optional<bool> equivalent_quantity(const Quantity& a, const Quantity& b);
/// True when both units are understood and have the same dimensions.
bool quantities_comparable(const Quantity& a, const Quantity& b);
/// a * b and a / b with combined units ("cm.m", "g/m"); nullopt on overflow or division by zero.
std::optional<Quantity> multiply_quantity(const Quantity& a, const Quantity& b);
std::optional<Quantity> divide_quantity(const Quantity& a, const Quantity& b);
/// b converted to a's unit (for a + b, a - b); nullopt when not convertible.
std::optional<Quantity> convert_quantity(const Quantity& q, std::string_view unit);

/// Adds (sign 1) or subtracts (sign -1) a time-valued quantity; nullopt when the unit is not a
/// valid duration for the value (e.g. 'mo' or 'a' UCUM units, or a non-time unit).
std::optional<Temporal> add_duration(const Temporal& t, const Quantity& q, int sign);

}  // namespace ucr::fhirpath
