// demo/detail/build: the directory the population refers to, and small FHIR JSON builders.
// Directory is immutable after construction and shared read-only by generating threads.
#pragma once

#include "demo/detail/random.hpp"
#include "demo/detail/tables.hpp"

#include <boost/json.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace ucr::demo::detail {

namespace json = boost::json;

struct Practice {
  std::string id;    ///< Organization id
  std::string code;  ///< fictional practice code
  std::string name;
  std::size_t locality;
  std::string town;
  std::vector<std::string> gps;     ///< Practitioner ids
  std::vector<std::string> nurses;  ///< Practitioner ids
};

struct CareHome {
  std::string id;  ///< Organization id
  std::string name;
  std::string town;
  std::string postcode;
};

struct Directory {
  std::vector<Practice> practices;
  std::array<std::vector<std::size_t>, kLocalities.size()> practices_by_locality;
  std::array<std::vector<std::string>, kLocalities.size()> pharmacies;  ///< Organization ids
  std::array<std::vector<CareHome>, kLocalities.size()> care_homes;
  /// Practitioner ids by "<organization id>/<role key>", e.g. "ekhuft/ed", "kcc/social-worker".
  std::map<std::string, std::vector<std::string>, std::less<>> staff;
  /// Age-and-sex risk multipliers per long-term condition, calibrated so that each condition's
  /// expected prevalence over the age structure equals its published figure.
  std::array<double, kLtcs.size()> ltc_scale{};
  std::vector<std::string> bundles;  ///< the directory's transaction Bundles, in load order

  [[nodiscard]] const std::vector<std::string>& staff_of(std::string_view key) const;
};

/// Builds the directory for a population of `people` under `seed`.
[[nodiscard]] Directory build_directory(std::uint64_t seed, std::size_t people);

/// The generator's record of person `n`: transaction entries (POST, urn:uuid full URLs).
[[nodiscard]] json::array person_entries(const Directory& directory, std::uint64_t seed, std::size_t n);

/// Age band (0..18) of the 5-year table, and the risk band (0..6) of kLtcs age_risk.
constexpr std::size_t risk_band(int age) {
  if (age < 5) return 0;
  if (age < 17) return 1;
  if (age < 40) return 2;
  if (age < 60) return 3;
  if (age < 75) return 4;
  if (age < 85) return 5;
  return 6;
}

/// Probability that a person of this age and sex has condition `c`.
inline double ltc_probability(const Directory& d, std::size_t c, int age, bool female) {
  const LtcDef& def = kLtcs[c];
  if (age < def.min_age) return 0;
  const double p = d.ltc_scale[c] * def.age_risk[risk_band(age)] * (female ? def.female_risk : def.male_risk);
  return p > 0.95 ? 0.95 : p;
}

// --- JSON builders ----------------------------------------------------------------------------

inline json::object coding(std::string_view system, std::string_view code, std::string_view display) {
  json::object c;
  c["system"] = system;
  c["code"] = code;
  if (!display.empty()) c["display"] = display;
  return c;
}

inline json::object codeable(std::string_view system, std::string_view code, std::string_view display) {
  json::object cc;
  cc["coding"] = json::array{coding(system, code, display)};
  cc["text"] = display;
  return cc;
}

inline json::object text_concept(std::string_view text) { return json::object{{"text", text}}; }

inline json::object link(std::string_view reference) { return json::object{{"reference", reference}}; }

inline json::object link(std::string_view type, std::string_view id) {
  std::string r(type);
  r += '/';
  r += id;
  return json::object{{"reference", r}};
}

inline json::object ref_display(std::string_view reference, std::string_view display) {
  return json::object{{"reference", reference}, {"display", display}};
}

/// A UCUM Quantity.
inline json::object quantity(double value, std::string_view unit, std::string_view code) {
  return json::object{{"value", value}, {"unit", unit}, {"system", kUcum}, {"code", code}};
}
inline json::object quantity(std::int64_t value, std::string_view unit, std::string_view code) {
  return json::object{{"value", value}, {"unit", unit}, {"system", kUcum}, {"code", code}};
}

inline json::object identifier(std::string_view system, std::string_view value) {
  return json::object{{"system", system}, {"value", value}};
}

/// A transaction entry that PUTs `resource` (which has resourceType and id).
inline json::object put_entry(json::object resource) {
  std::string url(resource.at("resourceType").as_string());
  url += '/';
  url += resource.at("id").as_string();
  json::object e;
  e["resource"] = std::move(resource);
  e["request"] = json::object{{"method", "PUT"}, {"url", url}};
  return e;
}

/// A transaction entry that POSTs `resource` under `full_url` (urn:uuid).
inline json::object post_entry(std::string_view full_url, json::object resource) {
  std::string type(resource.at("resourceType").as_string());
  json::object e;
  e["fullUrl"] = full_url;
  e["resource"] = std::move(resource);
  e["request"] = json::object{{"method", "POST"}, {"url", type}};
  return e;
}

inline std::string transaction(json::array entries) {
  json::object b;
  b["resourceType"] = "Bundle";
  b["type"] = "transaction";
  b["entry"] = std::move(entries);
  return json::serialize(b);
}

/// Rounds to `places` decimals (for values that should look measured, not computed).
inline double round_to(double v, int places) {
  double f = 1;
  for (int i = 0; i < places; ++i) f *= 10;
  return std::round(v * f) / f;
}

/// Inclusive clamp for doubles.
inline double clamp(double v, double lo, double hi) { return v < lo ? lo : (v > hi ? hi : v); }

}  // namespace ucr::demo::detail
