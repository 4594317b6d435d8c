// demo/detail/random: the generator's own deterministic random numbers and calendar arithmetic.
// The standard distributions are implementation-defined (libstdc++ and libc++ differ), so the
// population would change with the toolchain; these do not. Values, not thread-safe per object.
#pragma once

#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace ucr::demo::detail {

/// SplitMix64's finaliser: a good 64-bit mixing function (Steele, Lea and Flood, OOPSLA 2014).
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27U)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31U);
}

/// A seed for one purpose (`stream`) of one subject (`index`) under the population seed.
constexpr std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream, std::uint64_t index) {
  return mix64(mix64(seed + 0x9e3779b97f4a7c15ULL) ^ mix64(stream * 0x632be59bd9b4e019ULL + index));
}

/// SplitMix64 as a generator: 64-bit state, passes BigCrush, cheap to seed per person.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return mix64(state_);
  }
  /// Uniform in [0, 1).
  double uniform() { return static_cast<double>(next() >> 11U) * 0x1.0p-53; }
  /// Uniform in [0, n); n > 0.
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(uniform() * static_cast<double>(n)); }
  bool chance(double p) { return uniform() < p; }
  /// Normal deviate (Box-Muller, one of the pair).
  double normal(double mean, double sd) {
    const double u1 = 1.0 - uniform();
    const double u2 = uniform();
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  /// Poisson deviate for small means (Knuth's product method).
  int poisson(double mean) {
    const double limit = std::exp(-mean);
    double p = uniform();
    int k = 0;
    while (p > limit && k < 1000) {
      p *= uniform();
      ++k;
    }
    return k;
  }
  /// Index chosen with probability proportional to its weight.
  std::size_t weighted(std::span<const double> weights) {
    double total = 0;
    for (const double w : weights) total += w;
    double x = uniform() * total;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return weights.size() - 1;
  }
  template <class T, std::size_t N>
  const T& pick(const std::array<T, N>& items) {
    return items[below(N)];
  }

 private:
  std::uint64_t state_;
};

/// Days since 1970-01-01 for a proleptic Gregorian date (the civil-from-days algorithm in reverse).
constexpr std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<std::int64_t>(y - era * 400);
  const std::int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const std::int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

struct Civil {
  int year;
  int month;
  int day;
};

constexpr Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const std::int64_t doe = z - era * 146097;
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const std::int64_t mp = (5 * doy + 2) / 153;
  const auto d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const auto m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  const auto y = static_cast<int>(yoe + era * 400 + (m <= 2 ? 1 : 0));
  return Civil{y, m, d};
}

/// FHIR date: YYYY-MM-DD.
std::string format_date(std::int64_t day);
/// FHIR dateTime in UTC to the minute: YYYY-MM-DDThh:mm:00Z (`minute` within the day).
std::string format_date_time(std::int64_t day, int minute);

}  // namespace ucr::demo::detail
