#include "mpi/matcher.hpp"

#include "mpi/compare.hpp"
#include "mpi/normalise.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

// Emitted by mpi_data.S (.incbin of data/mpi/match-config.json).
extern "C" const char ucr_mpi_match_config_json[];
extern "C" const std::uint64_t ucr_mpi_match_config_json_size;

namespace ucr::mpi {
namespace {

namespace json = boost::json;

constexpr std::array<std::string_view, kFieldCount> kFieldNames = {
    "nhs_number", "family_name", "given_name", "birth_date", "gender",
    "postcode",   "phone",       "email",      "local_id",   "gp_practice"};

constexpr std::array<std::string_view, 2> kBinary = {"exact", "disagree"};
constexpr std::array<std::string_view, 4> kFamily = {"exact", "close", "phonetic", "disagree"};
constexpr std::array<std::string_view, 5> kGiven = {"exact", "variant", "close", "partial", "disagree"};
constexpr std::array<std::string_view, 5> kBirth = {"exact", "transposed", "one_digit", "partial", "disagree"};
constexpr std::array<std::string_view, 5> kPostcodeLevels = {"exact", "previous", "sector", "district", "disagree"};

constexpr std::size_t idx(Field f) { return static_cast<std::size_t>(f); }

/// The best level found for a field and the positions of the values that gave it.
struct Best {
  int level = kMissing;
  std::size_t i = 0;
  std::size_t j = 0;
  void offer(int l, std::size_t ai, std::size_t bj) {
    if (level == kMissing || l < level) {
      level = l;
      i = ai;
      j = bj;
    }
  }
};

std::vector<std::string_view> sorted_tokens(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const auto j = std::min(s.find(' ', i), s.size());
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j + 1;
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string without_spaces(std::string_view s) {
  std::string out;
  for (const char c : s) {
    if (c != ' ') out.push_back(c);
  }
  return out;
}

int family_level(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  const auto ta = sorted_tokens(a);
  const auto tb = sorted_tokens(b);
  if (ta == tb || without_spaces(a) == without_spaces(b)) return 0;
  const bool overlap = std::any_of(ta.begin(), ta.end(), [&](std::string_view t) {
    return t.size() > 1 && std::binary_search(tb.begin(), tb.end(), t);
  });
  const double jw = jaro_winkler(a, b);
  if (overlap || jw >= 0.88) return 1;
  if (jw >= 0.85 || soundex(a) == soundex(b)) return 2;
  return 3;
}

/// One keying slip apart: a letter added or dropped, or two neighbours swapped. (Not a letter
/// changed: in short names that makes another name too often, as Tom and Tim, twins' names.)
bool one_keying_slip(std::string_view a, std::string_view b) {
  if (a.size() > b.size()) std::swap(a, b);
  if (b.size() - a.size() > 1) return false;
  std::size_t i = 0;
  while (i < a.size() && a[i] == b[i]) ++i;
  if (a.size() == b.size()) {
    return i + 1 < a.size() && a[i] == b[i + 1] && a[i + 1] == b[i] && a.substr(i + 2) == b.substr(i + 2);
  }
  return a.substr(i) == b.substr(i + 1);
}

int given_level(std::string_view a, std::string_view b) {
  if (a == b) return 0;
  if (are_name_variants(a, b)) return 1;
  // Short names fall below the Jaro-Winkler threshold after a single slip ("amy" / "ammy").
  if (jaro_winkler(a, b) >= 0.88 || (std::min(a.size(), b.size()) >= 3 && one_keying_slip(a, b))) return 2;
  if ((a.size() == 1 || b.size() == 1) && a.front() == b.front()) return 3;
  return 4;
}

Best compare_given(const PatientRecord& a, const PatientRecord& b) {
  Best best;
  for (std::size_t i = 0; i < a.given_names.size(); ++i) {
    for (std::size_t j = 0; j < b.given_names.size(); ++j)
      best.offer(given_level(a.given_names[i], b.given_names[j]), i, j);
  }
  if (best.level > 2) {
    // Known by a middle name in one system ("Mary Jane Smith" vs "Jane Smith"): partial, since a
    // sibling may be named after the other's middle name.
    const auto contains = [](const std::vector<std::string>& v, const std::string& x) {
      return std::find(v.begin(), v.end(), x) != v.end();
    };
    for (std::size_t i = 0; i < a.given_names.size(); ++i) {
      if (contains(b.middle_names, a.given_names[i])) best.offer(3, i, 0);
    }
    for (std::size_t j = 0; j < b.given_names.size(); ++j) {
      if (contains(a.middle_names, b.given_names[j])) best.offer(3, 0, j);
    }
  }
  return best;
}

Best compare_family(const PatientRecord& a, const PatientRecord& b) {
  Best best;
  for (std::size_t i = 0; i < a.family_names.size() && best.level != 0; ++i) {
    for (std::size_t j = 0; j < b.family_names.size(); ++j)
      best.offer(family_level(a.family_names[i], b.family_names[j]), i, j);
  }
  return best;
}

int birth_level(const PatientRecord& a, const PatientRecord& b) {
  switch (compare_dates(a.birth_date, b.birth_date)) {
    case DateAgreement::kExact:
      return 0;
    case DateAgreement::kTransposed:
      return 1;
    case DateAgreement::kOneDigit:
      return 2;
    case DateAgreement::kSameYearMonth:
    case DateAgreement::kYearOffByOne:
      return 3;
    case DateAgreement::kFar:
      return 4;
    case DateAgreement::kMissing:
      break;
  }
  return kMissing;
}

/// Postcodes as explained: current ones first, then previous ones (positions index this order).
Best compare_postcodes(const PatientRecord& a, const PatientRecord& b) {
  Best best;
  for (std::size_t i = 0; i < a.postcodes.size(); ++i) {
    for (std::size_t j = 0; j < b.postcodes.size(); ++j) {
      const auto& pa = a.postcodes[i];
      const auto& pb = b.postcodes[j];
      if (pa == pb) {
        best.offer(0, i, j);
      } else if (pa.outward == pb.outward && pa.inward.substr(0, 1) == pb.inward.substr(0, 1)) {
        best.offer(2, i, j);
      } else if (pa.district() == pb.district()) {
        best.offer(3, i, j);
      } else {
        best.offer(4, i, j);
      }
    }
  }
  if (best.level == 0) return best;
  // An address history: a copy that is out of date holds the address the person moved from, which the
  // up-to-date record keeps as a previous address (and two records may both keep it). Exact only: near a
  // previous address says little.
  const auto na = a.postcodes.size();
  const auto nb = b.postcodes.size();
  for (std::size_t i = 0; i < na + a.previous_postcodes.size(); ++i) {
    const auto& pa = i < na ? a.postcodes[i] : a.previous_postcodes[i - na];
    for (std::size_t j = i < na ? nb : 0; j < nb + b.previous_postcodes.size(); ++j) {
      if (pa == (j < nb ? b.postcodes[j] : b.previous_postcodes[j - nb])) best.offer(1, i, j);
    }
  }
  return best;
}

Best compare_sets(const std::vector<std::string>& a, const std::vector<std::string>& b) {
  Best best;
  for (std::size_t i = 0; i < a.size(); ++i) {
    for (std::size_t j = 0; j < b.size(); ++j) best.offer(a[i] == b[j] ? 0 : 1, i, j);
  }
  return best;
}

Best compare_local_ids(const PatientRecord& a, const PatientRecord& b) {
  Best best;
  for (std::size_t i = 0; i < a.identifiers.size(); ++i) {
    for (std::size_t j = 0; j < b.identifiers.size(); ++j) {
      if (a.identifiers[i].system == b.identifiers[j].system) {
        best.offer(a.identifiers[i].value == b.identifiers[j].value ? 0 : 1, i, j);
      }
    }
  }
  return best;
}

Best compare_field(Field f, const PatientRecord& a, const PatientRecord& b) {
  Best best;
  switch (f) {
    case Field::kNhsNumber:
      if (!a.nhs_number.empty() && !b.nhs_number.empty()) best.offer(a.nhs_number == b.nhs_number ? 0 : 1, 0, 0);
      break;
    case Field::kFamilyName:
      return compare_family(a, b);
    case Field::kGivenName:
      return compare_given(a, b);
    case Field::kBirthDate:
      best.level = birth_level(a, b);
      break;
    case Field::kGender:
      if (!a.gender.empty() && !b.gender.empty()) best.offer(a.gender == b.gender ? 0 : 1, 0, 0);
      break;
    case Field::kPostcode:
      return compare_postcodes(a, b);
    case Field::kPhone:
      return compare_sets(a.phones, b.phones);
    case Field::kEmail:
      return compare_sets(a.emails, b.emails);
    case Field::kLocalId:
      return compare_local_ids(a, b);
    case Field::kGpPractice:
      return compare_sets(a.gp_practices, b.gp_practices);
  }
  return best;
}

/// The value of a field in a record at position `at`, as shown in explanations.
std::string value_of(Field f, const PatientRecord& r, std::size_t at) {
  const auto pick = [at](const auto& v) {
    using T = typename std::decay_t<decltype(v)>::value_type;
    return v.empty() ? T{} : v[at < v.size() ? at : 0];
  };
  switch (f) {
    case Field::kNhsNumber:
      return r.nhs_number;
    case Field::kFamilyName:
      return pick(r.family_names);
    case Field::kGivenName:
      return pick(r.given_names);
    case Field::kBirthDate:
      return r.birth_date ? format_date(*r.birth_date) : std::string();
    case Field::kGender:
      return r.gender;
    case Field::kPostcode: {
      if (at < r.postcodes.size()) return r.postcodes[at].full();
      if (at - r.postcodes.size() < r.previous_postcodes.size()) {
        return r.previous_postcodes[at - r.postcodes.size()].full() + " (previous)";
      }
      return r.postcodes.empty() ? std::string() : r.postcodes.front().full();
    }
    case Field::kPhone:
      return pick(r.phones);
    case Field::kEmail:
      return pick(r.emails);
    case Field::kLocalId: {
      if (r.identifiers.empty()) return {};
      const auto& id = pick(r.identifiers);
      return id.system + '|' + id.value;
    }
    case Field::kGpPractice:
      return pick(r.gp_practices);
  }
  return {};
}

double log2_odds(double p) { return std::log2(p) - std::log2(1.0 - p); }

core::Result<double> probability(const json::value& v, std::string_view what) {
  if (!v.is_number()) return core::Error::invalid(fmt::format("match config: {} must be a number", what));
  const double p = v.to_number<double>();
  if (!(p > 0.0 && p <= 1.0)) return core::Error::invalid(fmt::format("match config: {} must be in (0, 1]", what));
  return p;
}

/// Overwrites the settings of `c` that `value` holds (see MatchConfig::from_json).
core::Result<void> overlay(MatchConfig& c, const json::value& value) {
  if (!value.is_object()) return core::Error::invalid("match config: expected a JSON object");
  const auto& o = value.get_object();
  if (const auto* p = o.if_contains("prior")) {
    auto r = probability(*p, "prior");
    if (!r) return r.error();
    c.prior = std::min(*r, 0.999999);
  }
  if (const auto* t = o.if_contains("thresholds")) {
    if (!t->is_object()) return core::Error::invalid("match config: thresholds must be an object");
    for (auto [name, target] :
         {std::pair{"certain", &c.certain}, {"probable", &c.probable}, {"possible", &c.possible}}) {
      if (const auto* v = t->get_object().if_contains(name)) {
        auto r = probability(*v, fmt::format("thresholds.{}", name));
        if (!r) return r.error();
        *target = *r;
      }
    }
  }
  if (!(c.certain >= c.probable && c.probable >= c.possible)) {
    return core::Error::invalid("match config: thresholds must satisfy certain >= probable >= possible");
  }
  if (const auto* r = o.if_contains("rules"); r != nullptr && r->is_object()) {
    if (const auto* v = r->get_object().if_contains("nhs_disagreement_vetoes"); v != nullptr && v->is_bool()) {
      c.nhs_disagreement_vetoes = v->get_bool();
    }
    if (const auto* v = r->get_object().if_contains("certain_needs_corroboration"); v != nullptr && v->is_bool()) {
      c.certain_needs_corroboration = v->get_bool();
    }
    if (const auto* v = r->get_object().if_contains("gp_practice_corroborates"); v != nullptr && v->is_bool()) {
      c.gp_practice_corroborates = v->get_bool();
    }
  }
  if (const auto* fv = o.if_contains("fields")) {
    if (!fv->is_object()) return core::Error::invalid("match config: fields must be an object");
    for (const auto& [fname, levels_value] : fv->get_object()) {
      const auto* fit = std::find(kFieldNames.begin(), kFieldNames.end(), std::string_view(fname));
      if (fit == kFieldNames.end())
        return core::Error::invalid(fmt::format("match config: unknown field '{}'", std::string_view(fname)));
      const auto f = static_cast<std::size_t>(fit - kFieldNames.begin());
      if (!levels_value.is_object())
        return core::Error::invalid(fmt::format("match config: {} must be an object", std::string_view(fname)));
      const auto names = level_names(static_cast<Field>(f));
      for (const auto& [lname, lw] : levels_value.get_object()) {
        const auto lit = std::find(names.begin(), names.end(), std::string_view(lname));
        if (lit == names.end()) {
          return core::Error::invalid(
              fmt::format("match config: unknown level '{}' of {}", std::string_view(lname), std::string_view(fname)));
        }
        if (!lw.is_object() || lw.get_object().if_contains("m") == nullptr ||
            lw.get_object().if_contains("u") == nullptr) {
          return core::Error::invalid(
              fmt::format("match config: {}.{} needs m and u", std::string_view(fname), std::string_view(lname)));
        }
        auto m = probability(lw.get_object().at("m"),
                             fmt::format("{}.{}.m", std::string_view(fname), std::string_view(lname)));
        if (!m) return m.error();
        auto u = probability(lw.get_object().at("u"),
                             fmt::format("{}.{}.u", std::string_view(fname), std::string_view(lname)));
        if (!u) return u.error();
        c.levels[f][static_cast<std::size_t>(lit - names.begin())] = LevelWeight{*m, *u};
      }
    }
  }
  return core::ok();
}

MatchConfig parse_defaults() {
  MatchConfig c;
  for (std::size_t f = 0; f < kFieldCount; ++f)
    c.levels[f].assign(level_names(static_cast<Field>(f)).size(), LevelWeight{});
  const std::string_view text(ucr_mpi_match_config_json, ucr_mpi_match_config_json_size);
  // The shipped file is part of the build: a broken one is a bug, so fail loudly (at first use).
  overlay(c, json::parse(text)).value();
  return c;
}

}  // namespace

std::string_view field_name(Field field) { return kFieldNames[idx(field)]; }

std::span<const std::string_view> level_names(Field field) {
  switch (field) {
    case Field::kFamilyName:
      return kFamily;
    case Field::kGivenName:
      return kGiven;
    case Field::kBirthDate:
      return kBirth;
    case Field::kPostcode:
      return kPostcodeLevels;
    default:
      return kBinary;
  }
}

std::string_view grade_code(Grade grade) {
  switch (grade) {
    case Grade::kCertain:
      return "certain";
    case Grade::kProbable:
      return "probable";
    case Grade::kPossible:
      return "possible";
    case Grade::kCertainlyNot:
      return "certainly-not";
  }
  return "certainly-not";
}

ComparisonVector compare(const PatientRecord& a, const PatientRecord& b) {
  ComparisonVector v{};
  for (std::size_t f = 0; f < kFieldCount; ++f) v[f] = compare_field(static_cast<Field>(f), a, b).level;
  return v;
}

const MatchConfig& MatchConfig::defaults() {
  static const MatchConfig kDefaults = parse_defaults();
  return kDefaults;
}

double MatchConfig::weight(Field field, int level) const {
  const auto& lv = levels[idx(field)];
  if (level < 0 || static_cast<std::size_t>(level) >= lv.size()) return 0.0;
  const auto& w = lv[static_cast<std::size_t>(level)];
  return std::log2(w.m) - std::log2(w.u);
}

json::value MatchConfig::to_json() const {
  json::object fields;
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    json::object lv;
    const auto names = level_names(static_cast<Field>(f));
    for (std::size_t l = 0; l < names.size() && l < levels[f].size(); ++l) {
      lv[names[l]] = json::object{{"m", levels[f][l].m}, {"u", levels[f][l].u}};
    }
    fields[kFieldNames[f]] = std::move(lv);
  }
  return json::object{
      {"prior", prior},
      {"thresholds", json::object{{"certain", certain}, {"probable", probable}, {"possible", possible}}},
      {"rules", json::object{{"nhs_disagreement_vetoes", nhs_disagreement_vetoes},
                             {"certain_needs_corroboration", certain_needs_corroboration},
                             {"gp_practice_corroborates", gp_practice_corroborates}}},
      {"fields", std::move(fields)},
  };
}

core::Result<MatchConfig> MatchConfig::from_json(const json::value& value) {
  MatchConfig c = defaults();
  if (auto r = overlay(c, value); !r) return r.error();
  return c;
}

MatchScore Matcher::score(const ComparisonVector& v) const {
  MatchScore s;
  for (std::size_t f = 0; f < kFieldCount; ++f) s.weight += config_.weight(static_cast<Field>(f), v[f]);
  const double lo = log2_odds(config_.prior) + s.weight;
  s.score = 1.0 / (1.0 + std::exp2(-lo));
  s.grade = s.score >= config_.certain    ? Grade::kCertain
            : s.score >= config_.probable ? Grade::kProbable
            : s.score >= config_.possible ? Grade::kPossible
                                          : Grade::kCertainlyNot;

  const auto at = [&](Field f) { return v[idx(f)]; };
  const auto cap = [&](Grade g, std::string_view why) {
    if (s.grade >= g) return;
    s.grade = g;
    s.cap = why;
    const double ceiling = g == Grade::kProbable   ? config_.certain
                           : g == Grade::kPossible ? config_.probable
                                                   : config_.possible;
    s.score = std::min(s.score, std::max(0.0, ceiling - 0.001));
  };

  if (config_.nhs_disagreement_vetoes && at(Field::kNhsNumber) == 1) {
    bool rest_exact = at(Field::kFamilyName) == 0 && at(Field::kGivenName) == 0 && at(Field::kBirthDate) == 0;
    for (std::size_t f = 1; f < kFieldCount; ++f) rest_exact = rest_exact && v[f] <= 0;
    if (rest_exact) {
      cap(Grade::kPossible, "different NHS numbers (everything else agrees exactly: review)");
    } else {
      cap(Grade::kCertainlyNot, "different NHS numbers");
    }
  }
  if (config_.certain_needs_corroboration && at(Field::kNhsNumber) != 0) {
    const int given = at(Field::kGivenName);
    const int birth = at(Field::kBirthDate);
    const int postcode = at(Field::kPostcode);
    // A full postcode, not a sector: namesakes born the same day in one sector of ~3,000 homes exist.
    // Not a middle name: middle names come from a small pool, and namesakes share them too often.
    // A previous address held by one record and current (or previous) in the other tells a person who
    // moved from a namesake born the same day elsewhere: an address has a household, twins and a parent
    // and child share its history, and the given-name and birth-date rules below catch them.
    // The registered GP practice has thousands of patients: with the rule on, it corroborates only the
    // same family name (exact or close), the exact birth date and no conflicting phone number.
    const int family = at(Field::kFamilyName);
    const bool same_practice =
        at(Field::kGpPractice) == 0 && (family == 0 || family == 1) && birth == 0 && at(Field::kPhone) != 1;
    s.corroboration = postcode == 0                                       ? "postcode"
                      : at(Field::kPhone) == 0                            ? "phone"
                      : at(Field::kEmail) == 0                            ? "email"
                      : at(Field::kLocalId) == 0                          ? "local id"
                      : postcode == 1                                     ? "previous address"
                      : same_practice && config_.gp_practice_corroborates ? "gp practice"
                                                                          : std::string_view();
    const bool corroborated = !s.corroboration.empty();
    if (given == 4) {
      cap(Grade::kPossible, "no NHS number match and given names disagree");
    } else if (birth == 4) {
      cap(Grade::kPossible, "no NHS number match and birth dates disagree");
    } else if (at(Field::kGender) == 1) {
      cap(Grade::kProbable, "no NHS number match and genders disagree");
    } else if (given < 0 || given > 2) {
      cap(Grade::kProbable, "no NHS number match and given names only partly agree");
    } else if (birth < 0 || birth > 2) {
      cap(Grade::kProbable, "no NHS number match and birth dates only partly agree");
    } else if (!corroborated && same_practice) {
      cap(Grade::kProbable, "no NHS number match and only the GP practice corroborates");
    } else if (!corroborated) {
      cap(Grade::kProbable,
          "no NHS number match and no address (current or previous), phone, e-mail or local id agrees");
    }
  }
  return s;
}

Explanation Matcher::explain(const PatientRecord& a, const PatientRecord& b) const {
  Explanation e;
  ComparisonVector v{};
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    const auto field = static_cast<Field>(f);
    const Best best = compare_field(field, a, b);
    v[f] = best.level;
    FieldExplanation fe;
    fe.field = field;
    fe.level =
        best.level == kMissing ? std::string_view("missing") : level_names(field)[static_cast<std::size_t>(best.level)];
    fe.a = value_of(field, a, best.i);
    fe.b = value_of(field, b, best.j);
    fe.weight = config_.weight(field, best.level);
    e.fields.push_back(std::move(fe));
  }
  e.result = score(v);
  return e;
}

json::value Explanation::to_json() const {
  json::array fs;
  for (const auto& f : fields) {
    fs.push_back(json::object{{"field", field_name(f.field)},
                              {"level", f.level},
                              {"a", f.a},
                              {"b", f.b},
                              {"weight", std::round(f.weight * 1000.0) / 1000.0}});
  }
  json::object o{{"score", result.score},
                 {"weight", std::round(result.weight * 1000.0) / 1000.0},
                 {"grade", grade_code(result.grade)}};
  if (!result.cap.empty()) o["cap"] = result.cap;
  if (!result.corroboration.empty()) o["corroboration"] = result.corroboration;
  o["fields"] = std::move(fs);
  return o;
}

}  // namespace ucr::mpi
