#include "fhirpath/types.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace ucr::fhirpath {
namespace {

constexpr int kMaxDigits = 38;

Int128 pow10(int n) {
  Int128 r = 1;
  for (int i = 0; i < n; ++i) r *= 10;
  return r;
}

bool mul_overflow(Int128 a, Int128 b, Int128* out) { return __builtin_mul_overflow(a, b, out); }
bool add_overflow(Int128 a, Int128 b, Int128* out) { return __builtin_add_overflow(a, b, out); }

/// a / b rounded half away from zero.
Int128 div_round(Int128 a, Int128 b) {
  Int128 q = a / b;
  Int128 r = a % b;
  Int128 ar = r < 0 ? -r : r;
  Int128 ab = b < 0 ? -b : b;
  if (ar * 2 >= ab) q += ((a < 0) != (b < 0)) ? -1 : 1;
  return q;
}

/// Both operands brought to the larger scale; false on overflow.
bool align(const Decimal& a, const Decimal& b, Int128* ma, Int128* mb, int* scale) {
  *scale = std::max(a.scale(), b.scale());
  return !mul_overflow(a.mantissa(), pow10(*scale - a.scale()), ma) &&
         !mul_overflow(b.mantissa(), pow10(*scale - b.scale()), mb);
}

}  // namespace

// ---------------------------------------------------------------------------------------------- Decimal

std::optional<Decimal> Decimal::parse(std::string_view text) {
  std::size_t i = 0;
  bool negative = false;
  if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative = text[i++] == '-';
  Int128 m = 0;
  int digits = 0;
  int scale = 0;
  bool seen_digit = false;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    m = m * 10 + (text[i] - '0');
    if (m != 0) ++digits;
    seen_digit = true;
    if (digits > kMaxDigits) return std::nullopt;
  }
  if (!seen_digit) return std::nullopt;
  if (i < text.size() && text[i] == '.') {
    ++i;
    bool frac = false;
    for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      m = m * 10 + (text[i] - '0');
      ++digits;
      ++scale;
      frac = true;
      if (digits > kMaxDigits) return std::nullopt;
    }
    if (!frac) return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  return Decimal(negative ? -m : m, scale);
}

std::optional<Decimal> Decimal::from_double(double v, int max_scale) {
  if (!std::isfinite(v) || std::fabs(v) > 1e28) return std::nullopt;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", max_scale, v);
  auto d = parse(buf);
  if (!d) return std::nullopt;
  return d->trimmed(0);
}

bool Decimal::is_integral() const { return scale_ <= 0 || mantissa_ % pow10(scale_) == 0; }

std::string Decimal::to_string() const {
  Int128 m = mantissa_ < 0 ? -mantissa_ : mantissa_;
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(m % 10)));
    m /= 10;
  } while (m != 0);
  while (static_cast<int>(digits.size()) <= scale_) digits.push_back('0');
  std::reverse(digits.begin(), digits.end());
  if (scale_ > 0) digits.insert(digits.end() - scale_, '.');
  if (mantissa_ < 0) digits.insert(digits.begin(), '-');
  return digits;
}

double Decimal::to_double() const { return std::strtod(to_string().c_str(), nullptr); }

std::optional<std::int64_t> Decimal::to_int64() const {
  if (!is_integral()) return std::nullopt;
  Int128 v = mantissa_ / pow10(scale_);
  if (v > INT64_MAX || v < INT64_MIN) return std::nullopt;
  return static_cast<std::int64_t>(v);
}

std::optional<Decimal> Decimal::rescaled(int scale) const {
  if (scale >= scale_) {
    if (scale - scale_ > kMaxDigits) return std::nullopt;
    Int128 m;
    if (mul_overflow(mantissa_, pow10(scale - scale_), &m)) return std::nullopt;
    return Decimal(m, scale);
  }
  if (scale_ - scale > kMaxDigits) return Decimal(0, scale);
  return Decimal(div_round(mantissa_, pow10(scale_ - scale)), scale);
}

Decimal Decimal::trimmed(int min_scale) const {
  Decimal d = *this;
  while (d.scale_ > min_scale && d.mantissa_ % 10 == 0) {
    d.mantissa_ /= 10;
    --d.scale_;
  }
  return d;
}

Decimal Decimal::floor(int digits) const {
  if (digits >= scale_) return *this;
  Int128 p = pow10(scale_ - digits);
  Int128 q = mantissa_ / p;
  if (mantissa_ % p < 0) --q;
  return Decimal(q, digits);
}

Decimal Decimal::ceiling(int digits) const {
  if (digits >= scale_) return *this;
  Int128 p = pow10(scale_ - digits);
  Int128 q = mantissa_ / p;
  if (mantissa_ % p > 0) ++q;
  return Decimal(q, digits);
}

Decimal Decimal::truncate(int digits) const {
  if (digits >= scale_) return *this;
  return Decimal(mantissa_ / pow10(scale_ - digits), digits);
}

Decimal Decimal::round(int digits) const {
  if (digits >= scale_) return *this;
  return *rescaled(digits);
}

std::optional<Decimal> Decimal::add(const Decimal& a, const Decimal& b) {
  Int128 ma, mb, r;
  int s;
  if (!align(a, b, &ma, &mb, &s) || add_overflow(ma, mb, &r)) return std::nullopt;
  return Decimal(r, s);
}

std::optional<Decimal> Decimal::subtract(const Decimal& a, const Decimal& b) { return add(a, b.negated()); }

std::optional<Decimal> Decimal::multiply(const Decimal& a, const Decimal& b) {
  Decimal x = a.trimmed(0), y = b.trimmed(0);
  Int128 r;
  if (mul_overflow(x.mantissa_, y.mantissa_, &r)) return std::nullopt;
  Decimal d(r, x.scale_ + y.scale_);
  // Keep the scale a plain multiplication gives (1.2 * 1.8 = 2.16), but never below the operands'.
  int want = std::max({a.scale_ + b.scale_, a.scale_, b.scale_});
  if (want > kMaxScale) want = kMaxScale;
  if (d.scale_ > kMaxScale) d = *d.rescaled(kMaxScale);
  if (auto w = d.rescaled(want)) return *w;
  return d;
}

std::optional<Decimal> Decimal::divide(const Decimal& a, const Decimal& b) {
  if (b.mantissa_ == 0) return std::nullopt;
  int s = std::max({kDivisionScale, a.scale_, b.scale_});
  for (; s >= a.scale_; --s) {
    int e = s - a.scale_ + b.scale_;
    if (e > kMaxDigits) continue;
    Int128 n;
    if (mul_overflow(a.mantissa_, pow10(e), &n)) continue;
    return Decimal(div_round(n, b.mantissa_), s).trimmed(std::max(a.scale_, b.scale_));
  }
  return std::nullopt;
}

std::optional<Decimal> Decimal::modulo(const Decimal& a, const Decimal& b) {
  if (b.mantissa_ == 0) return std::nullopt;
  Int128 ma, mb;
  int s;
  if (!align(a, b, &ma, &mb, &s)) return std::nullopt;
  return Decimal(ma % mb, s);
}

int Decimal::compare(const Decimal& a, const Decimal& b) {
  Int128 ma, mb;
  int s;
  if (!align(a, b, &ma, &mb, &s)) {
    double x = a.to_double(), y = b.to_double();
    return x < y ? -1 : (x > y ? 1 : 0);
  }
  return ma < mb ? -1 : (ma > mb ? 1 : 0);
}

// --------------------------------------------------------------------------------------------- Temporal
namespace {

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, int* y, int* m, int* d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *y = static_cast<int>(static_cast<std::int64_t>(yoe) + era * 400 + (*m <= 2));
}

int days_in_month(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

std::int64_t to_epoch_ms(const Temporal& t) {
  std::int64_t days = days_from_civil(t.year, static_cast<unsigned>(t.month), static_cast<unsigned>(t.day));
  return ((days * 24 + t.hour) * 60 + t.minute) * 60000LL + t.second * 1000LL + t.millisecond;
}

void from_epoch_ms(std::int64_t ms, Temporal* t) {
  std::int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
  std::int64_t rest = ms - days * 86400000;
  civil_from_days(days, &t->year, &t->month, &t->day);
  t->hour = static_cast<int>(rest / 3600000);
  t->minute = static_cast<int>(rest / 60000 % 60);
  t->second = static_cast<int>(rest / 1000 % 60);
  t->millisecond = static_cast<int>(rest % 1000);
}

/// Reads exactly `n` digits at `*i`.
bool digits(std::string_view s, std::size_t* i, int n, int* out) {
  if (*i + static_cast<std::size_t>(n) > s.size()) return false;
  int v = 0;
  for (int k = 0; k < n; ++k) {
    char c = s[*i + static_cast<std::size_t>(k)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *i += static_cast<std::size_t>(n);
  *out = v;
  return true;
}

/// hh[:mm[:ss[.f+]]] into t (precision set); false when malformed.
bool parse_clock(std::string_view s, std::size_t* i, Temporal* t) {
  if (!digits(s, i, 2, &t->hour) || t->hour > 23) return false;
  t->precision = Precision::kHour;
  if (*i < s.size() && s[*i] == ':') {
    ++*i;
    if (!digits(s, i, 2, &t->minute) || t->minute > 59) return false;
    t->precision = Precision::kMinute;
    if (*i < s.size() && s[*i] == ':') {
      ++*i;
      if (!digits(s, i, 2, &t->second) || t->second > 59) return false;
      t->precision = Precision::kSecond;
      if (*i < s.size() && s[*i] == '.') {
        ++*i;
        int ms = 0, n = 0;
        while (*i < s.size() && s[*i] >= '0' && s[*i] <= '9') {
          if (n < 3) ms = ms * 10 + (s[*i] - '0');
          ++n;
          ++*i;
        }
        if (n == 0) return false;
        for (int k = n; k < 3; ++k) ms *= 10;
        t->millisecond = ms;
        t->precision = Precision::kMillisecond;
      }
    }
  }
  return true;
}

bool parse_date_part(std::string_view s, std::size_t* i, Temporal* t) {
  if (!digits(s, i, 4, &t->year)) return false;
  t->precision = Precision::kYear;
  if (*i < s.size() && s[*i] == '-') {
    ++*i;
    if (!digits(s, i, 2, &t->month) || t->month < 1 || t->month > 12) return false;
    t->precision = Precision::kMonth;
    if (*i < s.size() && s[*i] == '-') {
      ++*i;
      if (!digits(s, i, 2, &t->day) || t->day < 1 || t->day > days_in_month(t->year, t->month)) return false;
      t->precision = Precision::kDay;
    }
  }
  return true;
}

std::string two(int v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d", v);
  return buf;
}

std::string clock_text(const Temporal& t) {
  std::string out = two(t.hour);
  if (t.precision >= Precision::kMinute) out += ":" + two(t.minute);
  if (t.precision >= Precision::kSecond) out += ":" + two(t.second);
  if (t.precision >= Precision::kMillisecond) {
    char buf[8];
    std::snprintf(buf, sizeof buf, ".%03d", t.millisecond);
    out += buf;
  }
  return out;
}

/// Comparable components: y, m, d, h, min, second*1000+ms; and the index of the finest one.
void components(const Temporal& t, std::vector<std::int64_t>* out, int* finest) {
  int p = static_cast<int>(t.precision);
  if (p == static_cast<int>(Precision::kMillisecond)) p = static_cast<int>(Precision::kSecond);
  if (t.kind == TemporalKind::kTime) {
    *out = {t.hour, t.minute, t.second * 1000LL + t.millisecond};
    *finest = p - static_cast<int>(Precision::kHour);
  } else {
    *out = {t.year, t.month, t.day, t.hour, t.minute, t.second * 1000LL + t.millisecond};
    *finest = p;
  }
}

}  // namespace

std::optional<Temporal> Temporal::parse_date(std::string_view text) {
  Temporal t;
  t.kind = TemporalKind::kDate;
  std::size_t i = 0;
  if (!parse_date_part(text, &i, &t) || i != text.size()) return std::nullopt;
  return t;
}

std::optional<Temporal> Temporal::parse_date_time(std::string_view text) {
  Temporal t;
  t.kind = TemporalKind::kDateTime;
  std::size_t i = 0;
  if (!parse_date_part(text, &i, &t)) return std::nullopt;
  if (i < text.size() && text[i] == 'T') {
    ++i;
    if (i < text.size() && t.precision == Precision::kDay) {
      if (!parse_clock(text, &i, &t)) return std::nullopt;
      if (i < text.size() && text[i] == 'Z') {
        ++i;
        t.has_timezone = true;
      } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
        int sign = text[i] == '-' ? -1 : 1;
        ++i;
        int h = 0, m = 0;
        if (!digits(text, &i, 2, &h) || i >= text.size() || text[i] != ':') return std::nullopt;
        ++i;
        if (!digits(text, &i, 2, &m) || h > 14 || m > 59) return std::nullopt;
        t.has_timezone = true;
        t.tz_minutes = sign * (h * 60 + m);
      }
    }
  }
  if (i != text.size()) return std::nullopt;
  return t;
}

std::optional<Temporal> Temporal::parse_time(std::string_view text) {
  Temporal t;
  t.kind = TemporalKind::kTime;
  std::size_t i = 0;
  if (!parse_clock(text, &i, &t) || i != text.size()) return std::nullopt;
  return t;
}

std::string Temporal::to_string() const {
  if (kind == TemporalKind::kTime) return clock_text(*this);
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d", year);
  std::string out = buf;
  if (precision >= Precision::kMonth) out += "-" + two(month);
  if (precision >= Precision::kDay) out += "-" + two(day);
  if (kind == TemporalKind::kDateTime && precision >= Precision::kHour) {
    out += "T" + clock_text(*this);
    if (has_timezone) {
      if (tz_minutes == 0) {
        out += "Z";
      } else {
        int a = tz_minutes < 0 ? -tz_minutes : tz_minutes;
        out += (tz_minutes < 0 ? "-" : "+") + two(a / 60) + ":" + two(a % 60);
      }
    }
  }
  return out;
}

int Temporal::precision_digits() const {
  static constexpr int kDateDigits[] = {4, 6, 8, 10, 12, 14, 17};
  if (kind == TemporalKind::kTime) {
    static constexpr int kTimeDigits[] = {0, 0, 0, 2, 4, 6, 9};
    return kTimeDigits[static_cast<int>(precision)];
  }
  return kDateDigits[static_cast<int>(precision)];
}

bool temporal_comparable(const Temporal& a, const Temporal& b) {
  return (a.kind == TemporalKind::kTime) == (b.kind == TemporalKind::kTime);
}

std::optional<int> compare_temporal(const Temporal& a0, const Temporal& b0) {
  if (!temporal_comparable(a0, b0)) return std::nullopt;
  Temporal a = a0, b = b0;
  // With a time of day, a value without timezone is not comparable with one that has a timezone.
  if (a.kind != TemporalKind::kTime && a.precision >= Precision::kHour && b.precision >= Precision::kHour &&
      a.has_timezone != b.has_timezone) {
    return std::nullopt;
  }
  if (a.kind != TemporalKind::kTime && a.has_timezone && b.has_timezone && a.precision >= Precision::kHour &&
      b.precision >= Precision::kHour) {
    from_epoch_ms(to_epoch_ms(a) - a.tz_minutes * 60000LL, &a);
    from_epoch_ms(to_epoch_ms(b) - b.tz_minutes * 60000LL, &b);
  }
  std::vector<std::int64_t> ca, cb;
  int pa = 0, pb = 0;
  components(a, &ca, &pa);
  components(b, &cb, &pb);
  for (int i = 0; i <= std::min(pa, pb); ++i) {
    auto k = static_cast<std::size_t>(i);
    if (ca[k] != cb[k]) return ca[k] < cb[k] ? -1 : 1;
  }
  if (pa != pb) return std::nullopt;
  return 0;
}

std::optional<Temporal> add_duration(const Temporal& t0, const Quantity& q, int sign) {
  struct UnitStep {
    std::string_view name;
    int field;  // 0 years, 1 months, 2 days, 3 milliseconds
    std::int64_t mult;
  };
  static constexpr UnitStep kSteps[] = {
      {"year", 0, 1},         {"years", 0, 1},       {"month", 1, 1},      {"months", 1, 1},     {"week", 2, 7},
      {"weeks", 2, 7},        {"wk", 2, 7},          {"day", 2, 1},        {"days", 2, 1},       {"d", 2, 1},
      {"hour", 3, 3600000},   {"hours", 3, 3600000}, {"h", 3, 3600000},    {"minute", 3, 60000}, {"minutes", 3, 60000},
      {"min", 3, 60000},      {"second", 3, 1000},   {"seconds", 3, 1000}, {"s", 3, 1000},       {"millisecond", 3, 1},
      {"milliseconds", 3, 1}, {"ms", 3, 1},
  };
  const UnitStep* step = nullptr;
  for (const auto& s : kSteps) {
    if (s.name == q.unit) step = &s;
  }
  if (step == nullptr) return std::nullopt;
  auto whole = q.value.truncate(0).to_int64();
  if (!whole) return std::nullopt;
  std::int64_t n = *whole * sign * step->mult;
  Temporal t = t0;
  if (t.kind == TemporalKind::kTime) {
    if (step->field != 3) return std::nullopt;
    std::int64_t day = 86400000;
    std::int64_t ms = ((t.hour * 60LL + t.minute) * 60 + t.second) * 1000 + t.millisecond;
    ms = ((ms + n) % day + day) % day;
    t.hour = static_cast<int>(ms / 3600000);
    t.minute = static_cast<int>(ms / 60000 % 60);
    t.second = static_cast<int>(ms / 1000 % 60);
    t.millisecond = static_cast<int>(ms % 1000);
    return t;
  }
  int field = step->field;
  // Durations finer than the value's precision are expressed in its finest unit (truncated).
  if (field == 3 && t.precision <= Precision::kDay) {
    n /= 86400000;
    field = 2;
  }
  if (field == 2 && t.precision == Precision::kMonth) {
    n /= 30;
    field = 1;
  }
  if (field == 2 && t.precision == Precision::kYear) {
    n /= 365;
    field = 0;
  }
  if (field == 1 && t.precision == Precision::kYear) {
    n /= 12;
    field = 0;
  }
  if (field == 0 || field == 1) {
    std::int64_t months = t.year * 12LL + (t.month - 1) + (field == 0 ? n * 12 : n);
    t.year = static_cast<int>(months >= 0 ? months / 12 : (months - 11) / 12);
    t.month = static_cast<int>(months - t.year * 12LL) + 1;
    t.day = std::min(t.day, days_in_month(t.year, t.month));
  } else {
    std::int64_t ms = to_epoch_ms(t) + (field == 2 ? n * 86400000 : n);
    from_epoch_ms(ms, &t);
  }
  if (t.year < 1 || t.year > 9999) return std::nullopt;
  return t;
}

// --------------------------------------------------------------------------------------------- Quantity
namespace {

struct UnitAtom {
  std::string_view code;
  std::string_view factor;
  std::array<std::int8_t, 8> dims;
  bool metric;
};

// dims: m, g, s, mol, K, A, cd, calendar-month
constexpr UnitAtom kAtoms[] = {
    {"m", "1", {1, 0, 0, 0, 0, 0, 0, 0}, true},
    {"g", "1", {0, 1, 0, 0, 0, 0, 0, 0}, true},
    {"s", "1", {0, 0, 1, 0, 0, 0, 0, 0}, true},
    {"mol", "1", {0, 0, 0, 1, 0, 0, 0, 0}, true},
    {"K", "1", {0, 0, 0, 0, 1, 0, 0, 0}, true},
    {"A", "1", {0, 0, 0, 0, 0, 1, 0, 0}, true},
    {"cd", "1", {0, 0, 0, 0, 0, 0, 1, 0}, true},
    {"min", "60", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"h", "3600", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"d", "86400", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"wk", "604800", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"mo", "2629800", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"a", "31557600", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"l", "0.001", {3, 0, 0, 0, 0, 0, 0, 0}, true},
    {"L", "0.001", {3, 0, 0, 0, 0, 0, 0, 0}, true},
    {"t", "1000000", {0, 1, 0, 0, 0, 0, 0, 0}, true},
    {"Hz", "1", {0, 0, -1, 0, 0, 0, 0, 0}, true},
    {"N", "1000", {1, 1, -2, 0, 0, 0, 0, 0}, true},
    {"Pa", "1000", {-1, 1, -2, 0, 0, 0, 0, 0}, true},
    {"J", "1000", {2, 1, -2, 0, 0, 0, 0, 0}, true},
    {"W", "1000", {2, 1, -3, 0, 0, 0, 0, 0}, true},
    {"eq", "1", {0, 0, 0, 1, 0, 0, 0, 0}, true},
    {"kat", "1", {0, 0, -1, 1, 0, 0, 0, 0}, true},
    {"m[Hg]", "133322387.415", {-1, 1, -2, 0, 0, 0, 0, 0}, true},
    {"%", "0.01", {0, 0, 0, 0, 0, 0, 0, 0}, false},
    {"[in_i]", "0.0254", {1, 0, 0, 0, 0, 0, 0, 0}, false},
    {"[ft_i]", "0.3048", {1, 0, 0, 0, 0, 0, 0, 0}, false},
    {"[yd_i]", "0.9144", {1, 0, 0, 0, 0, 0, 0, 0}, false},
    {"[mi_i]", "1609.344", {1, 0, 0, 0, 0, 0, 0, 0}, false},
    {"[lb_av]", "453.59237", {0, 1, 0, 0, 0, 0, 0, 0}, false},
    {"[oz_av]", "28.349523125", {0, 1, 0, 0, 0, 0, 0, 0}, false},
    {"[gr]", "0.06479891", {0, 1, 0, 0, 0, 0, 0, 0}, false},
    {"[ppm]", "0.000001", {0, 0, 0, 0, 0, 0, 0, 0}, false},
    // calendar keywords: year/month only compare with each other; the rest equal their UCUM units
    {"year", "12", {0, 0, 0, 0, 0, 0, 0, 1}, false},
    {"years", "12", {0, 0, 0, 0, 0, 0, 0, 1}, false},
    {"month", "1", {0, 0, 0, 0, 0, 0, 0, 1}, false},
    {"months", "1", {0, 0, 0, 0, 0, 0, 0, 1}, false},
    {"week", "604800", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"weeks", "604800", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"day", "86400", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"days", "86400", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"hour", "3600", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"hours", "3600", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"minute", "60", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"minutes", "60", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"second", "1", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"seconds", "1", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"millisecond", "0.001", {0, 0, 1, 0, 0, 0, 0, 0}, false},
    {"milliseconds", "0.001", {0, 0, 1, 0, 0, 0, 0, 0}, false},
};

struct Prefix {
  std::string_view code;
  int exponent;
};
constexpr Prefix kPrefixes[] = {{"da", 1}, {"Y", 24}, {"Z", 21}, {"E", 18},  {"P", 15},  {"T", 12},
                                {"G", 9},  {"M", 6},  {"k", 3},  {"h", 2},   {"d", -1},  {"c", -2},
                                {"m", -3}, {"u", -6}, {"n", -9}, {"p", -12}, {"f", -15}, {"a", -18}};

const UnitAtom* find_atom(std::string_view code) {
  for (const auto& a : kAtoms) {
    if (a.code == code) return &a;
  }
  return nullptr;
}

Decimal power_of_ten(int e) { return e >= 0 ? Decimal(pow10(e), 0) : Decimal(1, -e); }

std::optional<UnitInfo> atom_info(std::string_view code) {
  if (const UnitAtom* a = find_atom(code)) return UnitInfo{*Decimal::parse(a->factor), a->dims};
  for (const auto& p : kPrefixes) {
    if (code.size() > p.code.size() && code.starts_with(p.code)) {
      const UnitAtom* a = find_atom(code.substr(p.code.size()));
      if (a != nullptr && a->metric) {
        auto f = Decimal::multiply(*Decimal::parse(a->factor), power_of_ten(p.exponent));
        if (!f) return std::nullopt;
        return UnitInfo{*f, a->dims};
      }
    }
  }
  return std::nullopt;
}

std::optional<UnitInfo> combine(const UnitInfo& a, const UnitInfo& b, int sign) {
  UnitInfo r;
  auto f = sign > 0 ? Decimal::multiply(a.factor, b.factor) : Decimal::divide(a.factor, b.factor);
  if (!f) return std::nullopt;
  r.factor = *f;
  for (std::size_t i = 0; i < r.dims.size(); ++i) r.dims[i] = static_cast<std::int8_t>(a.dims[i] + sign * b.dims[i]);
  return r;
}

class UnitParser {
 public:
  explicit UnitParser(std::string_view s) : s_(s) {}

  std::optional<UnitInfo> parse() {
    auto r = expr();
    if (!r || i_ != s_.size()) return std::nullopt;
    return r;
  }

 private:
  std::optional<UnitInfo> expr() {
    UnitInfo acc{Decimal(1, 0), {}};
    int sign = 1;
    if (i_ < s_.size() && s_[i_] == '/') {
      sign = -1;
      ++i_;
    }
    while (true) {
      auto t = term();
      if (!t) return std::nullopt;
      auto c = combine(acc, *t, sign);
      if (!c) return std::nullopt;
      acc = *c;
      if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == '/')) {
        sign = s_[i_] == '.' ? 1 : -1;
        ++i_;
        continue;
      }
      return acc;
    }
  }

  std::optional<UnitInfo> term() {
    if (i_ >= s_.size()) return std::nullopt;
    std::optional<UnitInfo> base;
    if (s_[i_] == '(') {
      ++i_;
      base = expr();
      if (!base || i_ >= s_.size() || s_[i_] != ')') return std::nullopt;
      ++i_;
    } else if (s_[i_] == '{') {
      skip_annotation();
      return UnitInfo{Decimal(1, 0), {}};
    } else if (s_[i_] >= '0' && s_[i_] <= '9') {
      std::int64_t n = 0;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9' && n < 1000000000) n = n * 10 + (s_[i_++] - '0');
      if (i_ < s_.size() && (s_[i_] == '*' || s_[i_] == '^') && n == 10) {
        ++i_;
        auto e = exponent();
        if (!e) return std::nullopt;
        return UnitInfo{power_of_ten(*e), {}};
      }
      return UnitInfo{Decimal::from_int(n), {}};
    } else {
      std::size_t start = i_;
      while (i_ < s_.size()) {
        char c = s_[i_];
        if (c == '[') {
          while (i_ < s_.size() && s_[i_] != ']') ++i_;
          if (i_ < s_.size()) ++i_;
          continue;
        }
        if (c == '.' || c == '/' || c == '(' || c == ')' || c == '{' || c == '+' || c == '-' || (c >= '0' && c <= '9'))
          break;
        ++i_;
      }
      if (i_ == start) return std::nullopt;
      base = atom_info(s_.substr(start, i_ - start));
      if (!base) return std::nullopt;
    }
    if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-' || (s_[i_] >= '0' && s_[i_] <= '9'))) {
      auto e = exponent();
      if (!e) return std::nullopt;
      UnitInfo r{Decimal(1, 0), {}};
      for (int k = 0; k < std::abs(*e); ++k) {
        auto c = combine(r, *base, *e > 0 ? 1 : -1);
        if (!c) return std::nullopt;
        r = *c;
      }
      base = r;
    }
    if (i_ < s_.size() && s_[i_] == '{') skip_annotation();
    return base;
  }

  std::optional<int> exponent() {
    int sign = 1;
    if (i_ < s_.size() && (s_[i_] == '+' || s_[i_] == '-')) sign = s_[i_++] == '-' ? -1 : 1;
    int n = 0;
    std::size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9' && n < 100) n = n * 10 + (s_[i_++] - '0');
    if (i_ == start) return std::nullopt;
    return sign * n;
  }

  void skip_annotation() {
    while (i_ < s_.size() && s_[i_] != '}') ++i_;
    if (i_ < s_.size()) ++i_;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

std::optional<Decimal> in_base(const Quantity& q, const UnitInfo& info) {
  return Decimal::multiply(q.value, info.factor);
}

/// The UCUM code of a calendar keyword usable in unit algebra (nullopt for year/month).
std::optional<std::string> algebra_unit(const std::string& unit) {
  static constexpr std::pair<std::string_view, std::string_view> kMap[] = {
      {"week", "wk"},  {"weeks", "wk"},  {"day", "d"},          {"days", "d"},
      {"hour", "h"},   {"hours", "h"},   {"minute", "min"},     {"minutes", "min"},
      {"second", "s"}, {"seconds", "s"}, {"millisecond", "ms"}, {"milliseconds", "ms"}};
  if (unit == "year" || unit == "years" || unit == "month" || unit == "months") return std::nullopt;
  for (const auto& [k, v] : kMap) {
    if (k == unit) return std::string(v);
  }
  return unit;
}

bool is_compound(std::string_view unit) { return unit.find_first_of("./") != std::string_view::npos; }

}  // namespace

bool is_calendar_keyword(std::string_view unit) {
  static constexpr std::string_view kKeywords[] = {
      "year", "years", "month",  "months",  "week",   "weeks",   "day",         "days",
      "hour", "hours", "minute", "minutes", "second", "seconds", "millisecond", "milliseconds"};
  return std::find(std::begin(kKeywords), std::end(kKeywords), unit) != std::end(kKeywords);
}

std::string Quantity::to_string() const {
  if (is_calendar_keyword(unit)) return value.to_string() + " " + unit;
  return value.to_string() + " '" + unit + "'";
}

std::optional<UnitInfo> unit_info(std::string_view unit) {
  if (unit.empty() || unit == "1") return UnitInfo{Decimal(1, 0), {}};
  if (is_calendar_keyword(unit)) return atom_info(unit);
  return UnitParser(unit).parse();
}

std::optional<int> compare_quantity(const Quantity& a, const Quantity& b) {
  if (a.unit == b.unit) return Decimal::compare(a.value, b.value);
  auto ia = unit_info(a.unit), ib = unit_info(b.unit);
  if (!ia || !ib || ia->dims != ib->dims) return std::nullopt;
  auto va = in_base(a, *ia), vb = in_base(b, *ib);
  if (!va || !vb) return std::nullopt;
  return Decimal::compare(*va, *vb);
}

std::optional<bool> equivalent_quantity(const Quantity& a, const Quantity& b) {
  auto ia = unit_info(a.unit), ib = unit_info(b.unit);
  if (!ia || !ib) return a.unit == b.unit && Decimal::compare(a.value, b.value) == 0;
  if (ia->dims != ib->dims) return false;
  auto va = in_base(a, *ia), vb = in_base(b, *ib);
  if (!va || !vb) return std::nullopt;
  int s = std::min(va->scale(), vb->scale());
  return Decimal::compare(va->round(s), vb->round(s)) == 0;
}

bool quantities_comparable(const Quantity& a, const Quantity& b) {
  auto ia = unit_info(a.unit), ib = unit_info(b.unit);
  return ia && ib && ia->dims == ib->dims;
}

std::optional<Quantity> multiply_quantity(const Quantity& a, const Quantity& b) {
  auto ua = algebra_unit(a.unit), ub = algebra_unit(b.unit);
  if (!ua || !ub) return std::nullopt;
  auto v = Decimal::multiply(a.value, b.value);
  if (!v) return std::nullopt;
  std::string unit;
  if (*ua == "1") {
    unit = *ub;
  } else if (*ub == "1") {
    unit = *ua;
  } else {
    unit = *ua + "." + (is_compound(*ub) ? "(" + *ub + ")" : *ub);
  }
  return Quantity{*v, unit};
}

std::optional<Quantity> divide_quantity(const Quantity& a, const Quantity& b) {
  auto ua = algebra_unit(a.unit), ub = algebra_unit(b.unit);
  if (!ua || !ub) return std::nullopt;
  auto v = Decimal::divide(a.value, b.value);
  if (!v) return std::nullopt;
  std::string unit;
  if (*ua == *ub) {
    unit = "1";
  } else if (*ub == "1") {
    unit = *ua;
  } else {
    unit = (*ua == "1" ? std::string() : *ua) + "/" + (is_compound(*ub) ? "(" + *ub + ")" : *ub);
  }
  return Quantity{*v, unit};
}

std::optional<Quantity> convert_quantity(const Quantity& q, std::string_view unit) {
  if (q.unit == unit) return q;
  auto iq = unit_info(q.unit), iu = unit_info(unit);
  if (!iq || !iu || iq->dims != iu->dims) return std::nullopt;
  auto base = in_base(q, *iq);
  if (!base) return std::nullopt;
  auto v = Decimal::divide(*base, iu->factor);
  if (!v) return std::nullopt;
  return Quantity{v->trimmed(q.value.scale()), std::string(unit)};
}

}  // namespace ucr::fhirpath
