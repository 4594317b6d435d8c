// FHIR search through the Api (R4 search.html) over ~120 synthetic people (~6,000 resources) plus
// hand-made edge cases. The oracle computes every query's expected ids from the stored raw JSON with its own code (no
// src/search), and compares them with the server's answer collected over all pages.
#include "api_fixture.hpp"

#include "demo/demo.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <set>

namespace ucr::api::testing {
namespace {

constexpr std::size_t kPeople = 120;

using Resource = json::object;
using Db = std::map<std::string, std::map<std::string, Resource>>;  // type -> id -> current resource

// ---------------------------------------------------------------------------------------------------
// JSON walking (independent of src/search and src/fhirpath).

/// Every value at a dotted path, arrays flattened at each step.
void walk(const json::value& v, std::string_view path, std::vector<const json::value*>& out) {
  if (const auto* a = v.if_array()) {
    for (const auto& x : *a) walk(x, path, out);
    return;
  }
  if (path.empty()) {
    out.push_back(&v);
    return;
  }
  const auto* o = v.if_object();
  if (o == nullptr) return;
  const auto dot = path.find('.');
  const auto* next = o->if_contains(path.substr(0, dot));
  if (next == nullptr) return;
  walk(*next, dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1), out);
}

/// Values at a dotted path from the resource itself (pointers into `r`).
std::vector<const json::value*> at(const Resource& r, std::string_view path) {
  std::vector<const json::value*> out;
  const auto dot = path.find('.');
  const auto* first = r.if_contains(path.substr(0, dot));
  if (first != nullptr) walk(*first, dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1), out);
  return out;
}

std::vector<std::string> strings(const Resource& r, std::string_view path) {
  std::vector<std::string> out;
  for (const auto* x : at(r, path)) {
    if (x->is_string()) out.emplace_back(x->get_string());
  }
  return out;
}

std::string lower_fold(std::string_view s) {
  static const std::vector<std::pair<std::string, char>> kFolds = {
      {"é", 'e'}, {"É", 'e'}, {"è", 'e'}, {"ë", 'e'}, {"ü", 'u'}, {"Ü", 'u'}, {"ö", 'o'}, {"ó", 'o'}, {"ø", 'o'},
      {"ñ", 'n'}, {"ç", 'c'}, {"á", 'a'}, {"ł", 'l'}, {"Ł", 'l'}, {"ę", 'e'}, {"ą", 'a'}, {"ś", 's'}, {"ż", 'z'},
      {"Ż", 'z'}, {"ń", 'n'}, {"í", 'i'}, {"ź", 'z'}, {"ş", 's'}, {"Ş", 's'}, {"ı", 'i'}, {"á", 'a'}};
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    bool folded = false;
    for (const auto& [from, to] : kFolds) {
      if (s.substr(i, from.size()) == from) {
        out.push_back(to);
        i += from.size();
        folded = true;
        break;
      }
    }
    if (folded) continue;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(s[i]))));
    ++i;
  }
  return out;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

/// Default string search: some value starts with the search text, case- and accent-insensitively.
bool any_starts(const std::vector<std::string>& values, std::string_view q) {
  const std::string nq = lower_fold(q);
  return std::any_of(values.begin(), values.end(),
                     [&](const std::string& v) { return starts_with(lower_fold(v), nq); });
}

/// HumanName / Address parts as string search sees them.
std::vector<std::string> name_parts(const Resource& r, std::string_view path) {
  std::vector<std::string> out;
  for (const char* part : {"text", "family", "given", "prefix", "suffix"}) {
    for (auto& s : strings(r, std::string(path) + "." + part)) out.push_back(std::move(s));
  }
  return out;
}

std::vector<std::string> address_parts(const Resource& r, std::string_view path) {
  std::vector<std::string> out;
  for (const char* part : {"text", "line", "city", "district", "state", "postalCode", "country"}) {
    for (auto& s : strings(r, std::string(path) + "." + part)) out.push_back(std::move(s));
  }
  return out;
}

struct Coding {
  std::string system;
  std::string code;
  std::string display;
};

/// The codings of the CodeableConcept(s) or Coding(s) at path.
std::vector<Coding> codings(const Resource& r, std::string_view path) {
  std::vector<Coding> out;
  for (const auto* v : at(r, path)) {
    const auto* o = v->if_object();
    if (o == nullptr) continue;
    auto one = [&](const json::object& c) {
      Coding k;
      if (const auto* s = c.if_contains("system")) k.system = s->as_string();
      if (const auto* s = c.if_contains("code")) k.code = s->as_string();
      if (const auto* s = c.if_contains("display")) k.display = s->as_string();
      out.push_back(std::move(k));
    };
    if (const auto* cs = o->if_contains("coding")) {
      for (const auto& c : cs->as_array()) one(c.as_object());
    } else {
      one(*o);
    }
  }
  return out;
}

/// Token match against `system|code` forms: "code", "|code", "system|", "system|code".
bool token_match(const std::string& system, const std::string& code, std::string_view query) {
  const auto bar = query.find('|');
  if (bar == std::string_view::npos) return code == query;
  const std::string_view qs = query.substr(0, bar);
  const std::string_view qc = query.substr(bar + 1);
  if (qs != system) return false;
  return qc.empty() || qc == code;
}

bool has_coding(const Resource& r, std::string_view path, std::string_view query) {
  const auto cs = codings(r, path);
  return std::any_of(cs.begin(), cs.end(), [&](const Coding& c) { return token_match(c.system, c.code, query); });
}

bool has_code(const Resource& r, std::string_view path, std::string_view code) {
  const auto v = strings(r, path);
  return std::find(v.begin(), v.end(), code) != v.end();
}

bool has_identifier(const Resource& r, std::string_view path, std::string_view query) {
  for (const auto* v : at(r, path)) {
    const auto& o = v->as_object();
    const std::string system = o.contains("system") ? std::string(o.at("system").as_string()) : std::string();
    const std::string value = o.contains("value") ? std::string(o.at("value").as_string()) : std::string();
    if (token_match(system, value, query)) return true;
  }
  return false;
}

/// The references at path ("Patient/1", absolute URLs as written).
std::vector<std::string> refs(const Resource& r, std::string_view path) {
  return strings(r, std::string(path) + ".reference");
}

/// A reference ends with Type/id (relative or absolute).
bool ref_is(const std::string& ref, std::string_view type, std::string_view id) {
  const std::string tail = std::string(type) + "/" + std::string(id);
  return ref == tail ||
         (ref.size() > tail.size() && ref.compare(ref.size() - tail.size() - 1, std::string::npos, "/" + tail) == 0);
}

bool refers_to(const Resource& r, std::string_view path, std::string_view type, std::string_view id) {
  const auto rs = refs(r, path);
  return std::any_of(rs.begin(), rs.end(), [&](const std::string& x) { return ref_is(x, type, id); });
}

/// The local resources `path` refers to (relative Type/id references only).
std::vector<const Resource*> targets(const Db& db, const Resource& r, std::string_view path) {
  std::vector<const Resource*> out;
  for (const auto& ref : refs(r, path)) {
    const auto slash = ref.find('/');
    if (slash == std::string::npos || ref.find("://") != std::string::npos) continue;
    auto t = db.find(ref.substr(0, slash));
    if (t == db.end()) continue;
    auto it = t->second.find(ref.substr(slash + 1));
    if (it != t->second.end()) out.push_back(&it->second);
  }
  return out;
}

// --- dates: own civil-calendar arithmetic ---

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Range {
  std::int64_t low = 0;
  std::int64_t high = 0;
};
constexpr std::int64_t kDay = 86'400'000'000;

/// [first, last] microsecond a FHIR date/dateTime/instant covers at its precision.
Range range_of(std::string_view s) {
  const auto num = [&](std::size_t pos, std::size_t n) { return std::stoi(std::string(s.substr(pos, n))); };
  const int y = num(0, 4);
  if (s.size() == 4) return {days_from_civil(y, 1, 1) * kDay, days_from_civil(y + 1, 1, 1) * kDay - 1};
  const int m = num(5, 2);
  if (s.size() == 7) {
    const auto next = m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1);
    return {days_from_civil(y, m, 1) * kDay, next * kDay - 1};
  }
  const int d = num(8, 2);
  const std::int64_t day = days_from_civil(y, m, d) * kDay;
  if (s.size() == 10) return {day, day + kDay - 1};
  std::int64_t t = day + (num(11, 2) * 3600LL + num(14, 2) * 60LL + num(17, 2)) * 1'000'000;
  std::size_t pos = 19;
  std::int64_t unit = 1'000'000;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t digits = 0;
    std::int64_t frac = 0;
    while (pos + 1 + digits < s.size() && std::isdigit(static_cast<unsigned char>(s[pos + 1 + digits])) != 0) {
      if (digits < 6) frac = frac * 10 + (s[pos + 1 + digits] - '0');
      ++digits;
    }
    for (std::size_t i = digits; i < 6; ++i) frac *= 10;
    t += frac;
    unit = 1;
    for (std::size_t i = std::min<std::size_t>(digits, 6); i < 6; ++i) unit *= 10;
    pos += 1 + digits;
  }
  if (pos < s.size() && s[pos] != 'Z') {
    const int sign = s[pos] == '-' ? -1 : 1;
    t -= sign * (num(pos + 1, 2) * 3600LL + num(pos + 4, 2) * 60LL) * 1'000'000;
  }
  return {t, t + unit - 1};
}

/// The ranges of the date, dateTime, instant or Period values at path.
std::vector<Range> date_ranges(const Resource& r, std::string_view path) {
  std::vector<Range> out;
  for (const auto* v : at(r, path)) {
    if (v->is_string()) {
      out.push_back(range_of(v->get_string()));
    } else if (const auto* o = v->if_object()) {
      Range p{std::numeric_limits<std::int64_t>::min(), std::numeric_limits<std::int64_t>::max()};
      if (const auto* s = o->if_contains("start")) p.low = range_of(s->as_string()).low;
      if (const auto* e = o->if_contains("end")) p.high = range_of(e->as_string()).high;
      out.push_back(p);
    }
  }
  return out;
}

/// R4 search.html#prefix for ranges: target t against search value q.
bool date_matches(const Range& t, std::string_view query) {
  std::string_view prefix = "eq";
  if (query.size() > 2 && std::isalpha(static_cast<unsigned char>(query[0])) != 0) {
    prefix = query.substr(0, 2);
    query.remove_prefix(2);
  }
  const Range q = range_of(query);
  const bool contained = t.low >= q.low && t.high <= q.high;
  if (prefix == "eq") return contained;
  if (prefix == "ne") return !contained;
  if (prefix == "gt") return t.high > q.high;
  if (prefix == "lt") return t.low < q.low;
  if (prefix == "ge") return t.high > q.high || contained;
  if (prefix == "le") return t.low < q.low || contained;
  if (prefix == "sa") return t.low > q.high;
  if (prefix == "eb") return t.high < q.low;
  ADD_FAILURE() << "oracle: unknown prefix " << prefix;
  return false;
}

bool any_date(const Resource& r, std::string_view path, std::string_view query) {
  const auto rs = date_ranges(r, path);
  return std::any_of(rs.begin(), rs.end(), [&](const Range& t) { return date_matches(t, query); });
}

// --- numbers and quantities ---

/// Number search: eq/ne use the range the search value's written precision implies.
bool number_matches(double v, std::string_view query) {
  std::string_view prefix = "eq";
  if (query.size() > 2 && std::isalpha(static_cast<unsigned char>(query[0])) != 0) {
    prefix = query.substr(0, 2);
    query.remove_prefix(2);
  }
  const double n = std::stod(std::string(query));
  const auto dot = query.find('.');
  const int decimals = dot == std::string_view::npos ? 0 : static_cast<int>(query.size() - dot - 1);
  const double half = 0.5 * std::pow(10.0, -decimals);
  const bool in = v >= n - half && v < n + half;
  if (prefix == "eq") return in;
  if (prefix == "ne") return !in;
  if (prefix == "gt" || prefix == "sa") return v > n;
  if (prefix == "lt" || prefix == "eb") return v < n;
  if (prefix == "ge") return v >= n;
  if (prefix == "le") return v <= n;
  if (prefix == "ap") return std::fabs(v - n) <= std::fabs(n) * 0.1;
  ADD_FAILURE() << "oracle: unknown prefix " << prefix;
  return false;
}

/// Quantity search "[prefix]number[|system|code]"; without a system the code matches code or unit.
bool quantity_matches(const Resource& r, std::string_view path, std::string_view query) {
  std::string_view number = query;
  std::optional<std::string> system;
  std::optional<std::string> code;
  if (const auto bar = query.find('|'); bar != std::string_view::npos) {
    number = query.substr(0, bar);
    const std::string_view rest = query.substr(bar + 1);
    const auto bar2 = rest.find('|');
    if (bar2 > 0) system = std::string(rest.substr(0, bar2));
    code = std::string(rest.substr(bar2 + 1));
  }
  for (const auto* v : at(r, path)) {
    const auto& o = v->as_object();
    const auto s = [&](const char* k) { return o.contains(k) ? std::string(o.at(k).as_string()) : std::string(); };
    if (system && s("system") != *system) continue;
    if (code && s("code") != *code && (system || s("unit") != *code)) continue;
    if (number_matches(o.at("value").to_number<double>(), number)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------
// The shared data set: loaded once for the suite (read-only tests).

constexpr const char* kHandMade[] = {
    R"({"resourceType":"Organization","id":"org-acme","name":"Acme Health Ltd","active":true,
        "identifier":[{"system":"https://fhir.nhs.uk/Id/ods-organization-code","value":"ACME1"}],
        "address":[{"city":"Dover"}],"partOf":{"reference":"Organization/practice-ek001"}})",
    R"({"resourceType":"Patient","id":"accent1",
        "meta":{"tag":[{"system":"http://ucr.test/tags","code":"vip"}],
                "security":[{"system":"http://terminology.hl7.org/CodeSystem/v3-Confidentiality","code":"R"}],
                "profile":["http://ucr.test/StructureDefinition/special-patient"],"source":"http://ucr.test/source#a"},
        "identifier":[{"value":"LOCAL-1"}],
        "name":[{"family":"Pérez-Müller","given":["Zoë","José"]}],"gender":"female","birthDate":"1985-07",
        "telecom":[{"system":"email","value":"zoe@example.org"},{"system":"phone","value":"01234 567890"}],
        "deceasedDateTime":"2020-05-06",
        "address":[{"line":["1 Rue de l'Église"],"city":"Calais","country":"France"}]})",
    R"({"resourceType":"Patient","id":"accent2",
        "meta":{"tag":[{"system":"http://ucr.test/tags","code":"vip"},{"system":"http://ucr.test/tags","code":"research"}]},
        "identifier":[{"system":"http://ucr.test/mrn","value":"LOCAL-1",
                       "type":{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v2-0203","code":"MR"}]}}],
        "name":[{"family":"Wałęsa","given":["Łucja"]}],"gender":"female","birthDate":"1990-03-15",
        "deceasedBoolean":false,"managingOrganization":{"reference":"Organization/org-acme"},
        "generalPractitioner":[{"reference":"Organization/org-acme"}]})",
    R"({"resourceType":"Patient","id":"accent3","active":false,
        "name":[{"family":"Smith","given":["Renée"]}],"gender":"other","birthDate":"1974"})",
    R"({"resourceType":"Patient","id":"anon","name":[{"text":"Anonymous Person"}]})",
    R"({"resourceType":"Encounter","id":"enc-period","status":"finished",
        "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
        "subject":{"reference":"Patient/accent1"},"period":{"start":"2021-03-04T10:00:00Z","end":"2021-03-05"}})",
    R"({"resourceType":"Encounter","id":"enc-open","status":"in-progress",
        "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"IMP"},
        "subject":{"reference":"Patient/accent2"},"period":{"start":"2022-06-01"}})",
    R"({"resourceType":"Encounter","id":"enc-end-only","status":"finished",
        "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"AMB"},
        "subject":{"reference":"Patient/accent1"},"period":{"end":"2019-12-31"}})",
    R"({"resourceType":"Encounter","id":"enc-instant","status":"finished",
        "class":{"system":"http://terminology.hl7.org/CodeSystem/v3-ActCode","code":"EMER"},
        "subject":{"reference":"Patient/accent3"},
        "period":{"start":"2023-01-01T08:00:00.000Z","end":"2023-01-01T08:30:00+00:00"}})",
    R"({"resourceType":"Observation","id":"obs-abs","status":"preliminary",
        "code":{"coding":[{"system":"http://loinc.org","code":"2345-7","display":"Glucose"}]},
        "subject":{"reference":"http://external.example/fhir/Patient/ext1"},
        "performer":[{"identifier":{"system":"http://ucr.test/practitioners","value":"doc-7"}}],
        "effectivePeriod":{"start":"2020-01","end":"2020-02-15"},
        "valueQuantity":{"value":5.25,"unit":"mg","system":"http://unitsofmeasure.org","code":"mg"}})",
    R"({"resourceType":"Observation","id":"obs-kg","status":"final",
        "code":{"coding":[{"system":"http://loinc.org","code":"29463-7","display":"Body weight"}],"text":"Weight"},
        "subject":{"reference":"Patient/accent1"},"performer":[{"reference":"Patient/accent2"}],
        "effectiveDateTime":"2024-05-06T10:11:12+02:00",
        "valueQuantity":{"value":72.5,"unit":"kg","system":"http://unitsofmeasure.org","code":"kg"}})",
    R"({"resourceType":"Observation","id":"obs-lbs","status":"final",
        "code":{"text":"Body mass, patient reported"},
        "subject":{"reference":"Patient/accent2"},
        "effectiveInstant":"2024-05-06T10:11:12.345Z",
        "valueQuantity":{"value":160,"unit":"lbs","system":"http://unitsofmeasure.org","code":"[lb_av]"}})",
    R"({"resourceType":"RiskAssessment","id":"ra1","status":"final","subject":{"reference":"Patient/accent1"},
        "prediction":[{"probabilityDecimal":0.8}]})",
    R"({"resourceType":"RiskAssessment","id":"ra2","status":"final","subject":{"reference":"Patient/accent2"},
        "prediction":[{"probabilityDecimal":0.25},{"probabilityDecimal":0.05}]})",
    R"({"resourceType":"ValueSet","id":"vs1","status":"active","url":"http://ucr.test/fhir/ValueSet/colours"})",
    R"({"resourceType":"ValueSet","id":"vs2","status":"active","url":"http://ucr.test/fhir/ValueSet/colours/primary"})",
    R"({"resourceType":"ValueSet","id":"vs3","status":"draft","url":"http://other.test/fhir/ValueSet/colours"})",
};

class SearchTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ucr-search-test-XXXXXX").string();
    const char* made = ::mkdtemp(tmpl.data());
    ASSERT_NE(made, nullptr);
    dir_ = new std::filesystem::path(made);
    auto s = open_test_store(*dir_);
    ASSERT_TRUE(s) << s.error().message();
    store_ = s->release();
    api_ = new Api(*store_, ApiOptions{});
    auto loaded = demo::load(*api_, kPeople, nullptr);
    ASSERT_TRUE(loaded) << loaded.error().message();
    for (const char* text : kHandMade) {
      const json::object r = json::parse(text).as_object();
      const std::string type(r.at("resourceType").as_string());
      const std::string id(r.at("id").as_string());
      auto resp = api_->handle(make_request("PUT", "/fhir/" + type + "/" + id, text));
      ASSERT_EQ(resp.status, 201) << resp.body;
    }
    // The oracle's copy: every current resource as stored (raw JSON from history, newest first).
    db_ = new Db;
    store::HistoryQuery q;
    q.count = 1000000;
    auto page = store_->history(q);
    ASSERT_TRUE(page);
    std::set<std::string> seen;
    for (const auto& e : page->entries) {
      if (!seen.insert(e.info.type + "/" + e.info.id).second || e.info.deleted) continue;
      (*db_)[e.info.type][e.info.id] = json::parse(e.json).as_object();
    }
  }

  static void TearDownTestSuite() {
    delete api_;
    delete store_;
    delete db_;
    std::error_code ec;
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_, ec);
    delete dir_;
  }

  static Response get(std::string_view target, const HeaderList& headers = {}) {
    return api_->handle(make_request("GET", target, {}, headers));
  }

  /// Every match of a search, following next links; fails on repeats or non-200 answers.
  static std::vector<std::string> all_ids(const std::string& target, int* pages = nullptr) {
    std::vector<std::string> ids;
    std::string url = target;
    int n = 0;
    while (!url.empty() && n < 1000) {
      ++n;
      const Response r = get(url);
      if (r.status != 200) {
        ADD_FAILURE() << url << " -> " << r.status << " " << r.body;
        break;
      }
      const json::object b = body_of(r);
      if (const auto* entries = b.if_contains("entry")) {
        for (const auto& e : entries->as_array()) {
          if (str(e, {"search", "mode"}) == "match") ids.push_back(str(e, {"resource", "id"}));
        }
      }
      url.clear();
      for (const auto& l : b.at("link").as_array()) {
        if (str(l, {"relation"}) == "next") url = str(l, {"url"});
      }
    }
    if (pages != nullptr) *pages = n;
    return ids;
  }

  static std::set<std::string> expected(const std::string& type, const std::function<bool(const Resource&)>& pred) {
    std::set<std::string> out;
    for (const auto& [id, r] : (*db_)[type]) {
      if (pred(r)) out.insert(id);
    }
    return out;
  }

  static const Db& db() { return *db_; }

  /// A demo patient's id (they are server-assigned) by its NHS number.
  static std::string demo_patient(std::size_t n) {
    for (const auto& [id, r] : db().at("Patient")) {
      if (has_identifier(r, "identifier", "https://fhir.nhs.uk/Id/nhs-number|" + demo::test_nhs_number(n))) return id;
    }
    ADD_FAILURE() << "no demo patient " << n;
    return {};
  }

  static inline std::filesystem::path* dir_ = nullptr;
  static inline store::Store* store_ = nullptr;
  static inline Api* api_ = nullptr;
  static inline Db* db_ = nullptr;
};

struct Case {
  std::string type;
  std::string query;  ///< already percent-encoded where needed
  std::function<bool(const Resource&)> pred;
  bool may_be_empty = false;
};

std::string enc(std::string_view s) {
  std::string out;
  for (const char ch : s) {
    if (std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
      out.push_back(ch);
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      out.push_back('%');
      out.push_back(kHex[static_cast<unsigned char>(ch) >> 4]);
      out.push_back(kHex[static_cast<unsigned char>(ch) & 0xF]);
    }
  }
  return out;
}

TEST_F(SearchTest, LoadedDataSet) {
  EXPECT_GE(db().at("Patient").size(), kPeople + 4);  // and source-system duplicates
  EXPECT_GT(db().at("Organization").size(), 9U);
  EXPECT_GE(db().at("Observation").size(), kPeople);
  EXPECT_GT(db().at("Condition").size(), 100U);
}

TEST_F(SearchTest, OracleQueryTable) {
  const Db& d = db();
  const std::string p5 = demo_patient(5);
  const std::string p7 = demo_patient(7);
  const std::string nhs5 = demo::test_nhs_number(5);
  // The newest lastUpdated in the data set, for _lastUpdated.
  std::string newest;
  for (const auto& [type, byid] : d) {
    for (const auto& [id, r] : byid) newest = std::max(newest, std::string(r.at("meta").at("lastUpdated").as_string()));
  }
  const auto patient_of = [&](const Resource& r, std::string_view path) { return targets(d, r, path); };
  const auto family_starts = [](std::string q) {
    return [q](const Resource& r) { return any_starts(strings(r, "name.family"), q); };
  };

  std::vector<Case> cases = {
      // --- string ---
      {"Patient", "family=smi", family_starts("smi")},
      {"Patient", "family=SMITH", family_starts("smith")},
      {"Patient", "family=perez", family_starts("perez")},
      {"Patient", "family=P%C3%89REZ", family_starts("pérez")},
      {"Patient", "family:exact=P%C3%A9rez-M%C3%BCller",
       [](const Resource& r) { return has_code(r, "name.family", "Pérez-Müller"); }},
      {"Patient", "family:exact=perez-muller", [](const Resource&) { return false; }, true},
      {"Patient", "family:contains=LL",
       [](const Resource& r) {
         const auto v = strings(r, "name.family");
         return std::any_of(v.begin(), v.end(), [](const auto& s) { return lower_fold(s).find("ll") != std::string::npos; });
       }},
      {"Patient", "given=zoe", [](const Resource& r) { return any_starts(strings(r, "name.given"), "zoe"); }},
      {"Patient", "name=walesa", [](const Resource& r) { return any_starts(name_parts(r, "name"), "walesa"); }},
      {"Patient", "name=lucja", [](const Resource& r) { return any_starts(name_parts(r, "name"), "lucja"); }},
      {"Patient", "name=anonymous", [](const Resource& r) { return any_starts(name_parts(r, "name"), "anonymous"); }},
      {"Patient", "name=ol", [](const Resource& r) { return any_starts(name_parts(r, "name"), "ol"); }},
      // phonetic has name's expression, and reads name's rows.
      {"Patient", "phonetic=walesa", [](const Resource& r) { return any_starts(name_parts(r, "name"), "walesa"); }},
      {"Patient", "phonetic=smi&gender=female",
       [](const Resource& r) { return any_starts(name_parts(r, "name"), "smi") && has_code(r, "gender", "female"); }},
      {"Patient", "address-city=tunbridge",
       [](const Resource& r) { return any_starts(strings(r, "address.city"), "tunbridge"); }},
      {"Patient", "address=kent", [](const Resource& r) { return any_starts(address_parts(r, "address"), "kent"); }},
      // name and address read the rows of family, given, address-city, -postalcode... for those parts.
      {"Patient", "address=me", [](const Resource& r) { return any_starts(address_parts(r, "address"), "me"); }},
      {"Patient", "address:missing=true", [](const Resource& r) { return address_parts(r, "address").empty(); }},
      {"Patient", "name:missing=false", [](const Resource& r) { return !name_parts(r, "name").empty(); }},
      {"Patient", "name:contains=mit",
       [](const Resource& r) {
         const auto parts = name_parts(r, "name");
         return std::any_of(parts.begin(), parts.end(),
                            [](const std::string& v) { return lower_fold(v).find("mit") != std::string::npos; });
       }},
      {"Patient", "name:exact=Smith",
       [](const Resource& r) {
         const auto parts = name_parts(r, "name");
         return std::find(parts.begin(), parts.end(), "Smith") != parts.end();
       }},
      {"Patient", "address=" + enc("1 rue de l'eglise"),
       [](const Resource& r) { return any_starts(address_parts(r, "address"), "1 rue de l'eglise"); }},
      {"Patient", "family:missing=true", [](const Resource& r) { return strings(r, "name.family").empty(); }},
      {"Patient", "family:missing=false", [](const Resource& r) { return !strings(r, "name.family").empty(); }},
      {"Patient", "family=jones,taylor",
       [](const Resource& r) { return any_starts(strings(r, "name.family"), "jones") || any_starts(strings(r, "name.family"), "taylor"); }},
      {"Patient", "family=smi&given=ol",
       [](const Resource& r) { return any_starts(strings(r, "name.family"), "smi") && any_starts(strings(r, "name.given"), "ol"); }},
      {"Patient", "name=smith&name=renee",
       [](const Resource& r) { return any_starts(name_parts(r, "name"), "smith") && any_starts(name_parts(r, "name"), "renee"); }},
      {"Organization", "name=canterbury", [](const Resource& r) { return any_starts(strings(r, "name"), "canterbury"); }},
      // --- token ---
      {"Patient", "gender=female", [](const Resource& r) { return has_code(r, "gender", "female"); }},
      {"Patient", "gender:not=female", [](const Resource& r) { return !has_code(r, "gender", "female"); }},
      {"Patient", "gender=male,other", [](const Resource& r) { return has_code(r, "gender", "male") || has_code(r, "gender", "other"); }},
      {"Patient", "gender:missing=true", [](const Resource& r) { return !r.contains("gender"); }},
      {"Patient", "identifier=" + enc("https://fhir.nhs.uk/Id/nhs-number|" + nhs5),
       [&](const Resource& r) { return has_identifier(r, "identifier", "https://fhir.nhs.uk/Id/nhs-number|" + nhs5); }},
      {"Patient", "identifier=" + nhs5, [&](const Resource& r) { return has_identifier(r, "identifier", nhs5); }},
      {"Patient", "identifier=LOCAL-1", [](const Resource& r) { return has_identifier(r, "identifier", "LOCAL-1"); }},
      {"Patient", "identifier=%7CLOCAL-1", [](const Resource& r) { return has_identifier(r, "identifier", "|LOCAL-1"); }},
      {"Patient", "identifier=" + enc("http://ucr.test/mrn|"),
       [](const Resource& r) { return has_identifier(r, "identifier", "http://ucr.test/mrn|"); }},
      {"Patient", "identifier:of-type=" + enc("http://terminology.hl7.org/CodeSystem/v2-0203|MR|LOCAL-1"),
       [](const Resource& r) {
         for (const auto* v : at(r, "identifier")) {
           const auto& o = v->as_object();
           if (!o.contains("type") || o.at("value") != "LOCAL-1") continue;
           for (const auto& c : o.at("type").at("coding").as_array()) {
             if (c.at("system") == "http://terminology.hl7.org/CodeSystem/v2-0203" && c.at("code") == "MR") return true;
           }
         }
         return false;
       }},
      {"Patient", "identifier:of-type=" + enc("http://terminology.hl7.org/CodeSystem/v2-0203|MR|" + nhs5),
       [](const Resource&) { return false; }, true},
      {"Patient", "active=false", [](const Resource& r) { return r.contains("active") && !r.at("active").as_bool(); }},
      {"Patient", "active=true", [](const Resource& r) { return r.contains("active") && r.at("active").as_bool(); }},
      {"Patient", "deceased=true", [](const Resource& r) {
         return r.contains("deceasedDateTime") || (r.contains("deceasedBoolean") && r.at("deceasedBoolean").as_bool());
       }},
      {"Patient", "email=zoe%40example.org", [](const Resource& r) { return has_code(r, "telecom.value", "zoe@example.org"); }},
      {"Condition", "code=" + enc("http://snomed.info/sct|44054006"),
       [](const Resource& r) { return has_coding(r, "code", "http://snomed.info/sct|44054006"); }},
      {"Condition", "code=38341003", [](const Resource& r) { return has_coding(r, "code", "38341003"); }},
      {"Condition", "code=" + enc("http://loinc.org|38341003"), [](const Resource&) { return false; }, true},
      {"Condition", "code:text=diabetes",
       [](const Resource& r) {
         const auto cs = codings(r, "code");
         return any_starts(strings(r, "code.text"), "diabetes") ||
                std::any_of(cs.begin(), cs.end(), [](const Coding& c) { return starts_with(lower_fold(c.display), "diabetes"); });
       }},
      {"Observation", "code:text=body",
       [](const Resource& r) {
         const auto cs = codings(r, "code");
         return any_starts(strings(r, "code.text"), "body") ||
                std::any_of(cs.begin(), cs.end(), [](const Coding& c) { return starts_with(lower_fold(c.display), "body"); });
       }},
      {"Condition", "code:not=" + enc("http://snomed.info/sct|44054006"),
       [](const Resource& r) { return !has_coding(r, "code", "http://snomed.info/sct|44054006"); }},
      {"Condition", "clinical-status=active", [](const Resource& r) { return has_coding(r, "clinicalStatus", "active"); }},
      {"AllergyIntolerance", "criticality=high", [](const Resource& r) { return has_code(r, "criticality", "high"); }},
      {"Observation", "category=" + enc("http://terminology.hl7.org/CodeSystem/observation-category|vital-signs"),
       [](const Resource& r) {
         return has_coding(r, "category", "http://terminology.hl7.org/CodeSystem/observation-category|vital-signs");
       }},
      {"Observation", "status=final,preliminary",
       [](const Resource& r) { return has_code(r, "status", "final") || has_code(r, "status", "preliminary"); }},
      {"Encounter", "class=AMB", [](const Resource& r) { return has_coding(r, "class", "AMB"); }},
      {"Patient", "_id=accent1,accent2,nope",
       [](const Resource& r) { return r.at("id") == "accent1" || r.at("id") == "accent2"; }},
      {"Patient", "_tag=" + enc("http://ucr.test/tags|vip"),
       [](const Resource& r) { return has_coding(r, "meta.tag", "http://ucr.test/tags|vip"); }},
      {"Patient", "_tag=research", [](const Resource& r) { return has_coding(r, "meta.tag", "research"); }},
      {"Patient", "_security=R", [](const Resource& r) { return has_coding(r, "meta.security", "R"); }},
      {"Patient", "_profile=" + enc("http://ucr.test/StructureDefinition/special-patient"),
       [](const Resource& r) { return has_code(r, "meta.profile", "http://ucr.test/StructureDefinition/special-patient"); }},
      {"Patient", "_source=" + enc("http://ucr.test/source#a"),
       [](const Resource& r) { return has_code(r, "meta.source", "http://ucr.test/source#a"); }},
      // --- reference ---
      {"Observation", "subject=Patient/" + p5, [&](const Resource& r) { return refers_to(r, "subject", "Patient", p5); }},
      {"Observation", "subject=" + p5, [&](const Resource& r) { return refers_to(r, "subject", "Patient", p5); }},
      {"Observation", "subject:Patient=" + p7, [&](const Resource& r) { return refers_to(r, "subject", "Patient", p7); }},
      {"Observation", "patient=Patient/" + p7 + ",Patient/accent1",
       [&](const Resource& r) { return refers_to(r, "subject", "Patient", p7) || refers_to(r, "subject", "Patient", "accent1"); }},
      {"Condition", "patient=" + p5, [&](const Resource& r) { return refers_to(r, "subject", "Patient", p5); }, true},
      {"Observation", "subject=" + enc("http://external.example/fhir/Patient/ext1"),
       [](const Resource& r) { return has_code(r, "subject.reference", "http://external.example/fhir/Patient/ext1"); }},
      {"Patient", "general-practitioner=Organization/practice-wk002",
       [](const Resource& r) { return refers_to(r, "generalPractitioner", "Organization", "practice-wk002"); }},
      {"Patient", "organization:missing=false", [](const Resource& r) { return r.contains("managingOrganization"); }},
      {"Observation", "performer:identifier=" + enc("http://ucr.test/practitioners|doc-7"),
       [](const Resource& r) { return has_identifier(r, "performer.identifier", "http://ucr.test/practitioners|doc-7"); }},
      {"Observation", "performer=Patient/accent2", [](const Resource& r) { return refers_to(r, "performer", "Patient", "accent2"); }},
      // chains
      {"Observation", "subject:Patient.family=okafor",
       [&](const Resource& r) {
         const auto ps = patient_of(r, "subject");
         return std::any_of(ps.begin(), ps.end(), [](const Resource* p) { return any_starts(strings(*p, "name.family"), "okafor"); });
       }},
      {"Condition", "subject:Patient.birthdate=lt1950&code=38341003",
       [&](const Resource& r) {
         const auto ps = patient_of(r, "subject");
         return has_coding(r, "code", "38341003") &&
                std::any_of(ps.begin(), ps.end(), [](const Resource* p) { return any_date(*p, "birthDate", "lt1950"); });
       }},
      {"Observation", "subject:Patient.general-practitioner:Organization.name=canterbury",
       [&](const Resource& r) {
         for (const Resource* p : patient_of(r, "subject")) {
           for (const Resource* o : patient_of(*p, "generalPractitioner")) {
             if (any_starts(strings(*o, "name"), "canterbury")) return true;
           }
         }
         return false;
       }},
      {"Observation", "subject:Patient.organization.partof.identifier=DEMO-GP-EK001",
       [&](const Resource& r) {
         for (const Resource* p : patient_of(r, "subject")) {
           for (const Resource* o : patient_of(*p, "managingOrganization")) {
             for (const Resource* parent : patient_of(*o, "partOf")) {
               if (has_identifier(*parent, "identifier", "DEMO-GP-EK001")) return true;
             }
           }
         }
         return false;
       }},
      // reverse chains
      {"Patient", "_has:Condition:subject:code=" + enc("http://snomed.info/sct|44054006"),
       [&](const Resource& p) {
         const std::string id(p.at("id").as_string());
         for (const auto& [cid, c] : d.at("Condition")) {
           if (refers_to(c, "subject", "Patient", id) && has_coding(c, "code", "http://snomed.info/sct|44054006")) return true;
         }
         return false;
       }},
      {"Patient", "_has:Observation:patient:value-quantity=gt150",
       [&](const Resource& p) {
         const std::string id(p.at("id").as_string());
         for (const auto& [oid, o] : d.at("Observation")) {
           if (refers_to(o, "subject", "Patient", id) && quantity_matches(o, "valueQuantity", "gt150")) return true;
         }
         return false;
       }},
      {"Organization", "_has:Patient:general-practitioner:gender=other",
       [&](const Resource& org) {
         const std::string id(org.at("id").as_string());
         for (const auto& [pid, p] : d.at("Patient")) {
           if (refers_to(p, "generalPractitioner", "Organization", id) && has_code(p, "gender", "other")) return true;
         }
         return false;
       },
       true},
      // --- date ---
      {"Patient", "birthdate=1985", [](const Resource& r) { return any_date(r, "birthDate", "1985"); }},
      {"Patient", "birthdate=1985-07", [](const Resource& r) { return any_date(r, "birthDate", "1985-07"); }},
      {"Patient", "birthdate=ge1990", [](const Resource& r) { return any_date(r, "birthDate", "ge1990"); }},
      {"Patient", "birthdate=gt2000-01-01", [](const Resource& r) { return any_date(r, "birthDate", "gt2000-01-01"); }},
      {"Patient", "birthdate=lt1950", [](const Resource& r) { return any_date(r, "birthDate", "lt1950"); }},
      {"Patient", "birthdate=le1950-06", [](const Resource& r) { return any_date(r, "birthDate", "le1950-06"); }},
      {"Patient", "birthdate=ne1985", [](const Resource& r) { return any_date(r, "birthDate", "ne1985"); }},
      {"Patient", "birthdate=sa2010", [](const Resource& r) { return any_date(r, "birthDate", "sa2010"); }},
      {"Patient", "birthdate=eb1940", [](const Resource& r) { return any_date(r, "birthDate", "eb1940"); }},
      {"Patient", "birthdate=ge1960&birthdate=lt1970",
       [](const Resource& r) { return any_date(r, "birthDate", "ge1960") && any_date(r, "birthDate", "lt1970"); }},
      {"Patient", "birthdate=1974-06", [](const Resource& r) { return any_date(r, "birthDate", "1974-06"); }, true},
      {"Patient", "birthdate=le1974-06", [](const Resource& r) { return any_date(r, "birthDate", "le1974-06"); }},
      {"Patient", "death-date=2020-05", [](const Resource& r) { return any_date(r, "deceasedDateTime", "2020-05"); }},
      {"Encounter", "date=2021-03", [](const Resource& r) { return any_date(r, "period", "2021-03"); }},
      {"Encounter", "date=2021-03-04", [](const Resource& r) { return any_date(r, "period", "2021-03-04"); }, true},
      {"Encounter", "date=ge2021-03-05", [](const Resource& r) { return any_date(r, "period", "ge2021-03-05"); }},
      {"Encounter", "date=le2021-03-04", [](const Resource& r) { return any_date(r, "period", "le2021-03-04"); }},
      {"Encounter", "date=ge2030", [](const Resource& r) { return any_date(r, "period", "ge2030"); }},
      {"Encounter", "date=lt2000", [](const Resource& r) { return any_date(r, "period", "lt2000"); }},
      {"Encounter", "date=sa2021-03-05", [](const Resource& r) { return any_date(r, "period", "sa2021-03-05"); }},
      {"Encounter", "date=eb2021-03-04T12:00:00Z", [](const Resource& r) { return any_date(r, "period", "eb2021-03-04T12:00:00Z"); }},
      {"Encounter", "date=2023-01-01T08:00:00Z,2023-01-01",
       [](const Resource& r) { return any_date(r, "period", "2023-01-01T08:00:00Z") || any_date(r, "period", "2023-01-01"); }},
      {"Observation", "date=2024-05-06", [](const Resource& r) { return any_date(r, "effectiveDateTime", "2024-05-06") || any_date(r, "effectiveInstant", "2024-05-06"); }},
      {"Observation", "date=2024-05-06T08:11:12Z",
       [](const Resource& r) { return any_date(r, "effectiveDateTime", "2024-05-06T08:11:12Z"); }},
      {"Observation", "date=2024-05-06T10:11:12" + enc("+00:00"),
       [](const Resource& r) { return any_date(r, "effectiveInstant", "2024-05-06T10:11:12+00:00"); }},
      {"Observation", "date=2020-02", [](const Resource& r) { return any_date(r, "effectivePeriod", "2020-02"); }, true},
      {"Observation", "date=ge2020-02-01&date=le2020-02-29",
       [](const Resource& r) {
         return (any_date(r, "effectivePeriod", "ge2020-02-01") && any_date(r, "effectivePeriod", "le2020-02-29")) ||
                (any_date(r, "effectiveDateTime", "ge2020-02-01") && any_date(r, "effectiveDateTime", "le2020-02-29"));
       }},
      {"Condition", "onset-date=lt2005", [](const Resource& r) { return any_date(r, "onsetDateTime", "lt2005"); }},
      {"Condition", "onset-date=2010-03", [](const Resource& r) { return any_date(r, "onsetDateTime", "2010-03"); }, true},
      {"Patient", "_lastUpdated=le" + enc(newest), [](const Resource&) { return true; }},
      {"Patient", "_lastUpdated=gt" + enc(newest), [](const Resource&) { return false; }, true},
      {"Patient", "_lastUpdated=lt2000", [](const Resource&) { return false; }, true},
      // --- number and quantity ---
      {"Observation", "value-quantity=120", [](const Resource& r) { return quantity_matches(r, "valueQuantity", "120"); }},
      {"Observation", "value-quantity=gt100" + enc("|http://unitsofmeasure.org|kg"),
       [](const Resource& r) { return quantity_matches(r, "valueQuantity", "gt100|http://unitsofmeasure.org|kg"); }},
      {"Observation", "value-quantity=le50" + enc("||kg"),
       [](const Resource& r) { return quantity_matches(r, "valueQuantity", "le50||kg"); }},
      {"Observation", "value-quantity=5.25" + enc("|http://unitsofmeasure.org|mg"),
       [](const Resource& r) { return quantity_matches(r, "valueQuantity", "5.25|http://unitsofmeasure.org|mg"); }},
      {"Observation", "value-quantity=5.2", [](const Resource& r) { return quantity_matches(r, "valueQuantity", "5.2"); }, true},
      {"Observation", "value-quantity=5.3", [](const Resource& r) { return quantity_matches(r, "valueQuantity", "5.3"); }},
      {"Observation", "value-quantity=ap70", [](const Resource& r) { return quantity_matches(r, "valueQuantity", "ap70"); }},
      {"Observation", "value-quantity=160" + enc("||lbs"),
       [](const Resource& r) { return quantity_matches(r, "valueQuantity", "160||lbs"); }},
      {"Observation", "value-quantity=ne120", [](const Resource& r) { return quantity_matches(r, "valueQuantity", "ne120"); }},
      {"Observation", "value-quantity=ge72.5" + enc("|http://unitsofmeasure.org|kg"),
       [](const Resource& r) { return quantity_matches(r, "valueQuantity", "ge72.5|http://unitsofmeasure.org|kg"); }},
      {"Observation", "value-quantity=lt106,gt164",
       [](const Resource& r) { return quantity_matches(r, "valueQuantity", "lt106") || quantity_matches(r, "valueQuantity", "gt164"); }},
      {"RiskAssessment", "probability=gt0.5",
       [](const Resource& r) {
         for (const auto* v : at(r, "prediction.probabilityDecimal")) {
           if (number_matches(v->to_number<double>(), "gt0.5")) return true;
         }
         return false;
       }},
      {"RiskAssessment", "probability=0.8",
       [](const Resource& r) {
         for (const auto* v : at(r, "prediction.probabilityDecimal")) {
           if (number_matches(v->to_number<double>(), "0.8")) return true;
         }
         return false;
       }},
      {"RiskAssessment", "probability=lt0.1",
       [](const Resource& r) {
         for (const auto* v : at(r, "prediction.probabilityDecimal")) {
           if (number_matches(v->to_number<double>(), "lt0.1")) return true;
         }
         return false;
       }},
      // --- uri ---
      {"ValueSet", "url=" + enc("http://ucr.test/fhir/ValueSet/colours"),
       [](const Resource& r) { return has_code(r, "url", "http://ucr.test/fhir/ValueSet/colours"); }},
      {"ValueSet", "url:below=" + enc("http://ucr.test/fhir"),
       [](const Resource& r) { return starts_with(std::string(r.at("url").as_string()), "http://ucr.test/fhir"); }},
      {"ValueSet", "url:below=" + enc("HTTP://UCR.TEST/fhir"), [](const Resource&) { return false; }, true},
      {"ValueSet", "url:above=" + enc("http://ucr.test/fhir/ValueSet/colours/primary/extra"),
       [](const Resource& r) {
         return starts_with("http://ucr.test/fhir/ValueSet/colours/primary/extra", std::string(r.at("url").as_string()));
       }},
      {"ValueSet", "url:above=" + enc("http://ucr.test/fhir/ValueSet/colours_x"),
       [](const Resource& r) { return starts_with("http://ucr.test/fhir/ValueSet/colours_x", std::string(r.at("url").as_string())); }},
  };

  std::size_t compared = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.type + "?" + c.query);
    const auto want = expected(c.type, c.pred);
    if (!c.may_be_empty) {
      EXPECT_FALSE(want.empty()) << "oracle expects nothing: the case tests too little";
    }
    const auto got_list = all_ids("/fhir/" + c.type + "?" + c.query + "&_count=37");
    const std::set<std::string> got(got_list.begin(), got_list.end());
    EXPECT_EQ(got.size(), got_list.size()) << "a match was returned twice";
    std::vector<std::string> missing;
    std::vector<std::string> extra;
    std::set_difference(want.begin(), want.end(), got.begin(), got.end(), std::back_inserter(missing));
    std::set_difference(got.begin(), got.end(), want.begin(), want.end(), std::back_inserter(extra));
    EXPECT_TRUE(missing.empty() && extra.empty())
        << "expected " << want.size() << ", got " << got.size() << "; missing e.g. "
        << (missing.empty() ? "-" : missing.front()) << ", extra e.g. " << (extra.empty() ? "-" : extra.front());
    ++compared;
  }
  EXPECT_GE(compared, 40U);
  std::cout << "[ oracle   ] " << compared << " queries compared\n";
}

// ---------------------------------------------------------------------------------------------------
// Behaviour

std::vector<std::string> match_ids(const json::object& bundle) {
  std::vector<std::string> out;
  if (const auto* e = bundle.if_contains("entry")) {
    for (const auto& x : e->as_array()) {
      if (str(x, {"search", "mode"}) == "match") out.push_back(str(x, {"resource", "id"}));
    }
  }
  return out;
}

std::map<std::string, std::string> links(const json::object& bundle) {
  std::map<std::string, std::string> out;
  for (const auto& l : bundle.at("link").as_array()) out[str(l, {"relation"})] = str(l, {"url"});
  return out;
}

TEST_F(SearchTest, SortOrders) {
  const auto ids = all_ids("/fhir/Patient?_sort=birthdate,_id&_count=50");
  ASSERT_EQ(ids.size(), db().at("Patient").size());
  const auto low = [&](const std::string& id) {
    const auto rs = date_ranges(db().at("Patient").at(id), "birthDate");
    return rs.empty() ? std::numeric_limits<std::int64_t>::max() : rs.front().low;
  };
  for (std::size_t i = 1; i < ids.size(); ++i) {
    EXPECT_TRUE(low(ids[i - 1]) < low(ids[i]) || (low(ids[i - 1]) == low(ids[i]) && ids[i - 1] < ids[i]))
        << ids[i - 1] << " before " << ids[i];
  }
  EXPECT_EQ(ids.back(), "anon");  // no birthDate: last
  // Several keys, descending first.
  const auto fam = all_ids("/fhir/Patient?family=s,t,w&_sort=-family,given&_count=20");
  ASSERT_FALSE(fam.empty());
  const auto key = [&](const std::string& id) {
    const auto& r = db().at("Patient").at(id);
    // Ascending on a repeating element sorts by its lowest value (several given names).
    std::string given;
    for (const auto& g : strings(r, "name.given"))
      given = given.empty() ? lower_fold(g) : std::min(given, lower_fold(g));
    return std::make_pair(lower_fold(strings(r, "name.family").front()), given);
  };
  for (std::size_t i = 1; i < fam.size(); ++i) {
    const auto a = key(fam[i - 1]);
    const auto b = key(fam[i]);
    EXPECT_TRUE(a.first > b.first || (a.first == b.first && a.second <= b.second)) << fam[i - 1] << " / " << fam[i];
  }
  // A HumanName parameter stored in parts (family, given and name's own rows) sorts by the lowest part.
  const auto by_name = all_ids("/fhir/Patient?family=s,t&_sort=name,_id&_count=20");
  ASSERT_FALSE(by_name.empty());
  const auto lowest = [&](const std::string& id) {
    std::string low;
    for (const auto& p : name_parts(db().at("Patient").at(id), "name"))
      low = low.empty() ? lower_fold(p) : std::min(low, lower_fold(p));
    return low;
  };
  for (std::size_t i = 1; i < by_name.size(); ++i) {
    EXPECT_LE(lowest(by_name[i - 1]), lowest(by_name[i])) << by_name[i - 1] << " / " << by_name[i];
  }
  // Quantity, descending.
  const auto obs = all_ids("/fhir/Observation?code=29463-7&_sort=-value-quantity&_count=100");
  for (std::size_t i = 1; i < obs.size(); ++i) {
    const auto v = [&](const std::string& id) {
      return db().at("Observation").at(id).at("valueQuantity").at("value").to_number<double>();
    };
    EXPECT_GE(v(obs[i - 1]), v(obs[i]));
  }
  EXPECT_EQ(get("/fhir/Patient?_sort=nonsense").status, 400);
}

TEST_F(SearchTest, PagingLinksReachEveryMatchOnce) {
  const auto want = expected("Observation", [](const Resource& r) { return has_code(r, "status", "final"); });
  int pages = 0;
  const auto got = all_ids("/fhir/Observation?status=final&_count=13&_sort=_id", &pages);
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want);
  EXPECT_EQ(pages, static_cast<int>((want.size() + 12) / 13));
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));

  const auto first = body_of(get("/fhir/Observation?status=final&_count=13&_sort=_id"));
  auto l = links(first);
  EXPECT_EQ(l.count("previous"), 0U);
  ASSERT_EQ(l.count("next"), 1U);
  EXPECT_NE(l["self"].find("status=final"), std::string::npos);
  EXPECT_NE(l["self"].find("_count=13"), std::string::npos);
  // Sorted pages follow a cursor too (forward only): the second page links back to the first.
  EXPECT_NE(l["next"].find("_after="), std::string::npos) << l["next"];
  const auto second = body_of(get(l["next"]));
  auto l2 = links(second);
  ASSERT_EQ(l2.count("first"), 1U);
  EXPECT_EQ(match_ids(body_of(get(l2["first"]))), match_ids(first));
  EXPECT_NE(l2["self"], l["self"]);
  EXPECT_EQ(match_ids(body_of(get(l2["self"]))), match_ids(second)) << "the self link repeats the page";
  // The last page has no next link.
  const auto last =
      body_of(get("/fhir/Observation?status=final&_count=13&_sort=_id&_offset=" + std::to_string((pages - 1) * 13)));
  EXPECT_EQ(links(last).count("next"), 0U);
  EXPECT_EQ(links(last).count("previous"), 1U);
}

TEST_F(SearchTest, TotalModes) {
  const auto want = expected("Patient", [](const Resource& r) { return has_code(r, "gender", "female"); });
  const auto acc = body_of(get("/fhir/Patient?gender=female&_total=accurate&_count=5"));
  EXPECT_EQ(str(acc, {"total"}), std::to_string(want.size()));
  EXPECT_EQ(match_ids(acc).size(), 5U);
  const auto none = body_of(get("/fhir/Patient?gender=female&_total=none&_count=5"));
  EXPECT_FALSE(none.contains("total"));
  const auto est = get("/fhir/Patient?gender=female&_total=estimate&_count=5");
  EXPECT_EQ(est.status, 200);
  const auto count = body_of(get("/fhir/Patient?gender=female&_summary=count"));
  EXPECT_EQ(str(count, {"total"}), std::to_string(want.size()));
  EXPECT_TRUE(match_ids(count).empty());
  const auto zero = body_of(get("/fhir/Patient?gender=female&_count=0"));
  EXPECT_TRUE(match_ids(zero).empty());
  EXPECT_EQ(str(zero, {"total"}), std::to_string(want.size()));
  EXPECT_EQ(get("/fhir/Patient?_total=lots").status, 400);
}

TEST_F(SearchTest, SummaryAndElements) {
  const auto b = body_of(get("/fhir/Patient?_id=accent1&_elements=name,gender"));
  ASSERT_EQ(match_ids(b).size(), 1U);
  const auto& r = b.at("entry").as_array()[0].at("resource").as_object();
  EXPECT_TRUE(r.contains("name"));
  EXPECT_TRUE(r.contains("gender"));
  EXPECT_TRUE(r.contains("id"));
  EXPECT_FALSE(r.contains("birthDate"));
  EXPECT_FALSE(r.contains("telecom"));
  EXPECT_NE(json::serialize(r.at("meta")).find("SUBSETTED"), std::string::npos);
  const auto s = body_of(get("/fhir/Patient?_id=accent1&_summary=true"));
  const auto& sr = s.at("entry").as_array()[0].at("resource").as_object();
  EXPECT_TRUE(sr.contains("name"));
  EXPECT_TRUE(sr.contains("birthDate"));
  EXPECT_FALSE(sr.contains("text"));
  const auto data = body_of(get("/fhir/Patient?_id=accent1&_summary=data"));
  EXPECT_TRUE(data.at("entry").as_array()[0].at("resource").as_object().contains("telecom"));
  EXPECT_EQ(get("/fhir/Patient?_summary=maybe").status, 400);
}

TEST_F(SearchTest, IncludeAndRevinclude) {
  // _include: the subject of each matching Observation.
  const std::string p5 = demo_patient(5);
  const auto b = body_of(get("/fhir/Observation?subject=Patient/" + p5 + "&_include=Observation:subject"));
  std::multiset<std::string> modes;
  std::set<std::string> included;
  for (const auto& e : b.at("entry").as_array()) {
    modes.insert(str(e, {"search", "mode"}));
    if (str(e, {"search", "mode"}) == "include")
      included.insert(str(e, {"resource", "resourceType"}) + "/" + str(e, {"resource", "id"}));
  }
  EXPECT_EQ(included, (std::set<std::string>{"Patient/" + p5}));
  // _revinclude: Conditions and Observations referring to the matched patient.
  const auto rb =
      body_of(get("/fhir/Patient?_id=" + p5 + "&_revinclude=Observation:subject&_revinclude=Condition:subject"));
  std::set<std::string> rev;
  for (const auto& e : rb.at("entry").as_array()) {
    if (str(e, {"search", "mode"}) == "include")
      rev.insert(str(e, {"resource", "resourceType"}) + "/" + str(e, {"resource", "id"}));
  }
  std::set<std::string> want;
  for (const char* type : {"Observation", "Condition"}) {
    for (const auto& [id, r] : db().at(type)) {
      if (refers_to(r, "subject", "Patient", p5)) want.insert(std::string(type) + "/" + id);
    }
  }
  EXPECT_EQ(rev, want);
  // _include:iterate: Observation -> Patient -> Organization (general practitioner).
  const auto ib =
      body_of(get("/fhir/Observation?_id=obs-lbs&_include=Observation:subject"
                  "&_include:iterate=Patient:general-practitioner"));
  std::set<std::string> it;
  for (const auto& e : ib.at("entry").as_array()) {
    if (str(e, {"search", "mode"}) == "include")
      it.insert(str(e, {"resource", "resourceType"}) + "/" + str(e, {"resource", "id"}));
  }
  EXPECT_EQ(it, (std::set<std::string>{"Patient/accent2", "Organization/org-acme"}));
  // Without :iterate the second hop is not followed.
  const auto nb =
      body_of(get("/fhir/Observation?_id=obs-lbs&_include=Observation:subject"
                  "&_include=Patient:general-practitioner"));
  std::set<std::string> ni;
  for (const auto& e : nb.at("entry").as_array()) {
    if (str(e, {"search", "mode"}) == "include")
      ni.insert(str(e, {"resource", "resourceType"}) + "/" + str(e, {"resource", "id"}));
  }
  EXPECT_EQ(ni, (std::set<std::string>{"Patient/accent2"}));
  // _revinclude:iterate from included resources: Observation -> subject Patient <- Encounter.
  const auto rib =
      body_of(get("/fhir/Observation?_id=obs-kg&_include=Observation:subject"
                  "&_revinclude:iterate=Encounter:subject"));
  std::set<std::string> ri;
  for (const auto& e : rib.at("entry").as_array()) {
    if (str(e, {"search", "mode"}) == "include")
      ri.insert(str(e, {"resource", "resourceType"}) + "/" + str(e, {"resource", "id"}));
  }
  EXPECT_EQ(ri, (std::set<std::string>{"Patient/accent1", "Encounter/enc-period", "Encounter/enc-end-only"}));
  // _include=*: every reference.
  const auto star = body_of(get("/fhir/Patient?_id=accent2&_include=*"));
  std::set<std::string> si;
  for (const auto& e : star.at("entry").as_array()) {
    if (str(e, {"search", "mode"}) == "include") si.insert(str(e, {"resource", "id"}));
  }
  EXPECT_EQ(si, (std::set<std::string>{"org-acme"}));
  EXPECT_EQ(get("/fhir/Observation?_include=Observation:status").status, 400);
}

TEST_F(SearchTest, PostSearchWithFormBody) {
  const auto want = expected("Patient", [](const Resource& r) {
    return any_starts(strings(r, "name.family"), "smith") && has_code(r, "gender", "male");
  });
  const auto r = api_->handle(make_request("POST", "/fhir/Patient/_search?_count=500", "family=smith&gender=male",
                                           {{"content-type", "application/x-www-form-urlencoded"}}));
  ASSERT_EQ(r.status, 200) << r.body;
  const auto ids = match_ids(body_of(r));
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), want);
  const auto bad = api_->handle(
      make_request("POST", "/fhir/Patient/_search", "family=smith", {{"content-type", "application/fhir+json"}}));
  EXPECT_EQ(bad.status, 415);
  const auto err = api_->handle(make_request("POST", "/fhir/Patient/_search", "bogus=1",
                                             {{"content-type", "application/x-www-form-urlencoded"}}));
  EXPECT_EQ(err.status, 400);
}

TEST_F(SearchTest, BadParametersAre400NamingTheParameter) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"/fhir/Patient?nonsense=1", "nonsense"},
      {"/fhir/Patient?birthdate=yesterday", "birthdate"},
      {"/fhir/Encounter?date=2023-01-01T08", "date"},
      {"/fhir/Patient?birthdate=2021-02-30", "birthdate"},
      {"/fhir/Observation?value-quantity=abc", "value-quantity"},
      {"/fhir/Patient?family:below=x", "family:below"},
      {"/fhir/Patient?_count=many", "_count"},
      {"/fhir/Observation?subject:Patient.nope=1", "subject:Patient.nope"},
      {"/fhir/Patient?_has:Observation:patient:nope=1", "_has:Observation:patient:nope"},
      {"/fhir/Patient?gender:missing=perhaps", "gender:missing"},
      {"/fhir/Observation?subject:exact=Patient/1", "subject:exact"},
  };
  for (const auto& [url, param] : bad) {
    const auto r = get(url);
    EXPECT_EQ(r.status, 400) << url << " " << r.body;
    const auto outcome = body_of(r);
    EXPECT_EQ(str(outcome, {"resourceType"}), "OperationOutcome");
    const auto ex = expressions(outcome);
    EXPECT_NE(std::find(ex.begin(), ex.end(), param), ex.end()) << url << " " << r.body;
  }
}

TEST_F(SearchTest, LenientHandlingWarns) {
  const auto r = get("/fhir/Patient?nonsense=1&family=okafor&_count=500", {{"prefer", "handling=lenient"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const auto b = body_of(r);
  const auto want =
      expected("Patient", [](const Resource& x) { return any_starts(strings(x, "name.family"), "okafor"); });
  const auto ids = match_ids(b);
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), want);
  bool warned = false;
  for (const auto& e : b.at("entry").as_array()) {
    if (str(e, {"search", "mode"}) != "outcome") continue;
    EXPECT_EQ(str(e, {"resource", "resourceType"}), "OperationOutcome");
    EXPECT_EQ(str(e, {"resource", "issue", "0", "severity"}), "warning");
    EXPECT_EQ(str(e, {"resource", "issue", "0", "expression", "0"}), "nonsense");
    warned = true;
  }
  EXPECT_TRUE(warned);
  EXPECT_EQ(get("/fhir/Patient?nonsense=1", {{"prefer", "handling=strict"}}).status, 400);
}

TEST_F(SearchTest, CompartmentSearch) {
  const std::string p5 = demo_patient(5);
  const auto ids = all_ids("/fhir/Patient/" + p5 + "/Observation?_count=2");
  const auto want = expected("Observation", [&](const Resource& r) {
    return refers_to(r, "subject", "Patient", p5) || refers_to(r, "performer", "Patient", p5);
  });
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()), want);
  // performer puts obs-kg in accent2's compartment too; filters still apply inside the compartment.
  const auto a2 = all_ids("/fhir/Patient/accent2/Observation");
  EXPECT_EQ(std::set<std::string>(a2.begin(), a2.end()), (std::set<std::string>{"obs-kg", "obs-lbs"}));
  const auto a2f = all_ids("/fhir/Patient/accent2/Observation?value-quantity=gt100");
  EXPECT_EQ(a2f, (std::vector<std::string>{"obs-lbs"}));
  const auto enc1 = all_ids("/fhir/Patient/accent1/Encounter?date=lt2020");
  EXPECT_EQ(enc1, (std::vector<std::string>{"enc-end-only"}));
  EXPECT_EQ(get("/fhir/Patient/accent1/Organization").status, 400);
}

TEST_F(SearchTest, EverythingWithTypeSinceAndPaging) {
  const std::string p5 = demo_patient(5);
  std::set<std::string> want{"Patient/" + p5};
  // The demo record's types reach the patient through subject or patient (R4 compartmentdefinition-patient).
  for (const auto& [type, byid] : db()) {
    if (type == "Patient") continue;
    for (const auto& [id, r] : byid) {
      if (refers_to(r, "subject", "Patient", p5) || refers_to(r, "patient", "Patient", p5))
        want.insert(type + "/" + id);
    }
  }
  // Paging with _count=2 reaches everything in the compartment exactly once; each page also
  // includes what its entries refer to outside the compartment (here the GP practice).
  std::vector<std::string> got;
  std::set<std::string> included;
  std::string url = "/fhir/Patient/" + p5 + "/$everything?_count=2";
  int pages = 0;
  while (!url.empty() && pages < 100) {
    ++pages;
    const auto r = get(url);
    ASSERT_EQ(r.status, 200) << r.body;
    const auto b = body_of(r);
    std::size_t matches = 0;
    for (const auto& e : b.at("entry").as_array()) {
      const std::string key = str(e, {"resource", "resourceType"}) + "/" + str(e, {"resource", "id"});
      if (str(e, {"search", "mode"}) == "match") {
        got.push_back(key);
        ++matches;
      } else {
        EXPECT_EQ(str(e, {"search", "mode"}), "include");
        EXPECT_EQ(want.count(key), 0U) << key << " is in the compartment, so it is a match, not an include";
        included.insert(key);
      }
    }
    EXPECT_LE(matches, 2U);
    url = links(b).count("next") != 0 ? links(b)["next"] : std::string();
  }
  EXPECT_EQ(got.size(), want.size());
  EXPECT_EQ(std::set<std::string>(got.begin(), got.end()), want);
  const auto& patient = db().at("Patient").at(p5);
  const std::string gp(patient.at("generalPractitioner").at(0).at("reference").as_string());
  EXPECT_EQ(included.count(gp), 1U) << gp;
  // _type
  const auto typed = body_of(get("/fhir/Patient/" + p5 + "/$everything?_type=Observation,Patient&_count=100"));
  for (const auto& e : typed.at("entry").as_array()) {
    const auto t = str(e, {"resource", "resourceType"});
    EXPECT_TRUE(t == "Observation" || t == "Patient") << t;
  }
  // _since: nothing was updated after the newest lastUpdated.
  std::string newest;
  for (const auto& [type, byid] : db()) {
    for (const auto& [id, r] : byid) newest = std::max(newest, std::string(r.at("meta").at("lastUpdated").as_string()));
  }
  const auto later = body_of(get("/fhir/Patient/" + p5 + "/$everything?_since=2999-01-01T00:00:00Z"));
  EXPECT_TRUE(later.at("entry").as_array().empty());
  const auto since = body_of(get("/fhir/Patient/accent1/$everything?_since=" + enc(newest) + "&_count=100"));
  for (const auto& e : since.at("entry").as_array()) {
    if (str(e, {"search", "mode"}) == "match") {
      EXPECT_GE(str(e, {"resource", "meta", "lastUpdated"}), newest);
    }
  }
  EXPECT_EQ(get("/fhir/Patient/" + p5 + "/$everything?_type=Nope").status, 400);
  EXPECT_EQ(get("/fhir/Patient/" + p5 + "/$everything?_since=soon").status, 400);
  EXPECT_EQ(get("/fhir/Patient/no-such-patient/$everything").status, 404);
}

// Conditional interactions with arbitrary search criteria use a fresh store (they write).
class ConditionalSearchTest : public ApiTest {};

TEST_F(ConditionalSearchTest, IfNoneExistWithSeveralParameters) {
  const std::string body =
      R"({"resourceType":"Patient","name":[{"family":"Kowalski","given":["Zofia"]}],"birthDate":"1950-02-03"})";
  const auto first = call("POST", "/fhir/Patient", body, {{"if-none-exist", "family=Kowalski&birthdate=1950-02-03"}});
  ASSERT_EQ(first.status, 201) << first.body;
  const std::string id = str(body_of(first), {"id"});
  const auto again = call("POST", "/fhir/Patient", body, {{"if-none-exist", "family=kowalski&birthdate=1950-02-03"}});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(str(body_of(again), {"id"}), id);
  // Different birthdate: no match, so a new one is created.
  const auto other = call("POST", "/fhir/Patient", body, {{"if-none-exist", "family=Kowalski&birthdate=1951"}});
  EXPECT_EQ(other.status, 201);
  // Now two Kowalskis: an ambiguous criterion fails with 412.
  EXPECT_EQ(call("POST", "/fhir/Patient", body, {{"if-none-exist", "family=Kowalski"}}).status, 412);
  // Bad criteria: 400 naming the parameter.
  const auto bad = call("POST", "/fhir/Patient", body, {{"if-none-exist", "bogus=1"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(expressions(body_of(bad)), (std::vector<std::string>{"bogus"}));
}

TEST_F(ConditionalSearchTest, ConditionalUpdateWithChainAndDates) {
  const auto org = put("Organization", "o1", R"({"resourceType":"Organization","id":"o1","name":"Zed Clinic"})");
  ASSERT_EQ(org.status, 201);
  const auto p = put("Patient", "p1",
                     R"({"resourceType":"Patient","id":"p1","name":[{"family":"Nowak"}],"birthDate":"1960-05-05",
                         "managingOrganization":{"reference":"Organization/o1"}})");
  ASSERT_EQ(p.status, 201);
  const std::string updated =
      R"({"resourceType":"Patient","id":"p1","name":[{"family":"Nowak"}],"birthDate":"1960-05-05","active":true,
          "managingOrganization":{"reference":"Organization/o1"}})";
  const auto r = call("PUT", "/fhir/Patient?organization.name=zed&birthdate=ge1960&birthdate=lt1961", updated);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(str(body_of(r), {"meta", "versionId"}), "2");
  // No match and no id in the body: created.
  const auto c =
      call("PUT", "/fhir/Patient?family=Nobody", R"({"resourceType":"Patient","name":[{"family":"Nobody"}]})");
  EXPECT_EQ(c.status, 201) << c.body;
}

class CompositeSearchTest : public ApiTest {
 protected:
  std::string observation(const std::string& code, double systolic, double diastolic) {
    return create(
        "Observation",
        R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":")" +
            code + R"("}]},"valueQuantity":{"value":)" + std::to_string(systolic) +
            R"(,"system":"http://unitsofmeasure.org","code":"mm[Hg]"},"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":)" +
            std::to_string(diastolic) + R"(,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]})");
  }

  std::set<std::string> found(const std::string& query) {
    const auto r = call("GET", "/fhir/Observation?" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    std::set<std::string> ids;
    const auto doc = body_of(r);
    if (const auto* entries = doc.if_contains("entry")) {
      for (const auto& e : entries->as_array()) ids.insert(std::string(e.at("resource").at("id").as_string()));
    }
    return ids;
  }
};

TEST_F(CompositeSearchTest, CodeValueQuantityMatchesCodeAndValueOfTheSameElement) {
  const auto high = observation("8480-6", 160, 95);
  const auto normal = observation("8480-6", 120, 80);
  const auto other_code = observation("8310-5", 160, 70);
  EXPECT_EQ(found("code-value-quantity=http://loinc.org|8480-6$gt150"), (std::set<std::string>{high}));
  EXPECT_EQ(found("code-value-quantity=8480-6$le150"), (std::set<std::string>{normal}));
  EXPECT_EQ(found("code-value-quantity=http://loinc.org|8480-6$gt150,http://loinc.org|8310-5$gt150"),
            (std::set<std::string>{high, other_code}));
  // The component's code and value come from the same component element.
  EXPECT_EQ(found("component-code-value-quantity=http://loinc.org|8462-4$ge90"), (std::set<std::string>{high}));
  EXPECT_EQ(found("component-code-value-quantity=http://loinc.org|8480-6$ge90"), (std::set<std::string>{}));
  EXPECT_EQ(call("GET", "/fhir/Observation?code-value-quantity=8480-6").status, 400);
}

TEST_F(CompositeSearchTest, AnUpdateReplacesOnlyTheIndexRowsThatChanged) {
  // Later versions write only the rows that differ from the stored ones: what changed is found by
  // its new values only, what did not is still found, and an identical update changes nothing.
  const auto id = observation("8480-6", 160, 95);
  const auto other = observation("8480-6", 120, 80);
  const auto put = [&](const std::string& code, double systolic, double diastolic, const std::string& status,
                       int expected = 200) {
    const std::string body =
        R"({"resourceType":"Observation","id":")" + id + R"(","status":")" + status +
        R"(","code":{"coding":[{"system":"http://loinc.org","code":")" + code + R"("}]},"valueQuantity":{"value":)" +
        std::to_string(systolic) +
        R"(,"system":"http://unitsofmeasure.org","code":"mm[Hg]"},"component":[{"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":)" +
        std::to_string(diastolic) + R"(,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}}]})";
    const auto r = call("PUT", "/fhir/Observation/" + id, body);
    EXPECT_EQ(r.status, expected) << r.body;
  };
  // The diastolic value and the status change; the code and systolic value do not.
  put("8480-6", 160, 70, "amended");
  EXPECT_EQ(found("code-value-quantity=8480-6$gt150"), (std::set<std::string>{id}));
  EXPECT_EQ(found("component-code-value-quantity=8462-4$ge90"), (std::set<std::string>{}));
  EXPECT_EQ(found("component-code-value-quantity=8462-4$lt75"), (std::set<std::string>{id}));
  EXPECT_EQ(found("status=final"), (std::set<std::string>{other}));
  EXPECT_EQ(found("status=amended"), (std::set<std::string>{id}));
  EXPECT_EQ(found("code=8480-6"), (std::set<std::string>{id, other}));
  // The same content again: every row kept, nothing found twice or lost.
  put("8480-6", 160, 70, "amended");
  EXPECT_EQ(found("code=8480-6&status=amended&value-quantity=160"), (std::set<std::string>{id}));
  EXPECT_EQ(found("component-code-value-quantity=8462-4$lt75"), (std::set<std::string>{id}));
  const auto page = body_of(call("GET", "/fhir/Observation?code=8480-6&_total=accurate"));
  EXPECT_EQ(page.at("total").to_number<int>(), 2);
  // Every row changes; then deleted and written again: only the last version's rows remain.
  put("8310-5", 37, 36, "final");
  EXPECT_EQ(found("code=8480-6"), (std::set<std::string>{other}));
  EXPECT_EQ(found("code-value-quantity=8310-5$gt36.5"), (std::set<std::string>{id}));
  EXPECT_EQ(call("DELETE", "/fhir/Observation/" + id).status, 204);
  EXPECT_EQ(found("code=8310-5"), (std::set<std::string>{}));
  put("8480-6", 130, 85, "final", 201);  // written again after its deletion
  EXPECT_EQ(found("code=8310-5"), (std::set<std::string>{}));
  EXPECT_EQ(found("code-value-quantity=8480-6$lt140"), (std::set<std::string>{id, other}));
  EXPECT_EQ(found("status=final&code=8480-6"), (std::set<std::string>{id, other}));
}

TEST_F(CompositeSearchTest, AnUpdateKeepsRowsThatAVersionHoldsTwice) {
  // Two identical components make two identical composite rows; an update that keeps them keeps both.
  const std::string component =
      R"({"code":{"coding":[{"system":"http://loinc.org","code":"8462-4"}]},"valueQuantity":{"value":88,"system":"http://unitsofmeasure.org","code":"mm[Hg]"}})";
  const std::string body =
      R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"8480-6"}]},"component":[)" +
      component + "," + component + "]}";
  const auto id = create("Observation", body);
  EXPECT_EQ(found("component-code-value-quantity=8462-4$eq88"), (std::set<std::string>{id}));
  for (int i = 0; i < 2; ++i) {
    const auto r = call("PUT", "/fhir/Observation/" + id,
                        R"({"resourceType":"Observation","id":")" + id + "\"," + body.substr(30));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(found("component-code-value-quantity=8462-4$eq88"), (std::set<std::string>{id})) << "update " << i;
  }
}

TEST_F(CompositeSearchTest, ComboParametersSearchTheObservationAndItsComponents) {
  // combo-* parameters are unions (code | component.code, ...): their rows are not stored twice,
  // searches read the rows of code and component-code instead. Every form must still answer.
  const auto high = observation("8480-6", 160, 95);
  const auto normal = observation("8480-6", 120, 80);
  const auto other_code = observation("8310-5", 160, 70);
  const auto no_code =
      create("Observation", R"({"resourceType":"Observation","status":"final","code":{"text":"note"}})");
  const std::set<std::string> coded{high, normal, other_code};
  EXPECT_EQ(found("combo-code=8462-4"), coded);  // every one has the component
  EXPECT_EQ(found("combo-code=http://loinc.org|8480-6"), (std::set<std::string>{high, normal}));
  EXPECT_EQ(found("combo-code=8310-5,nope"), (std::set<std::string>{other_code}));
  EXPECT_EQ(found("combo-code:missing=true"), (std::set<std::string>{}));  // the text counts
  EXPECT_EQ(found("combo-value-quantity:missing=true"), (std::set<std::string>{no_code}));
  EXPECT_EQ(found("combo-value-quantity:missing=false"), coded);
  EXPECT_EQ(found("combo-code:not=8480-6"), (std::set<std::string>{other_code, no_code}));
  EXPECT_EQ(found("combo-code:text=note"), (std::set<std::string>{no_code}));
  EXPECT_EQ(found("combo-value-quantity=ge150"), (std::set<std::string>{high, other_code}));
  EXPECT_EQ(found("combo-value-quantity=95"), (std::set<std::string>{high}));
  EXPECT_EQ(found("combo-code-value-quantity=8462-4$ge90"), (std::set<std::string>{high}));
  EXPECT_EQ(found("combo-code-value-quantity=8310-5$gt150"), (std::set<std::string>{other_code}));
  EXPECT_EQ(found("combo-code-value-quantity=8462-4$gt150"), (std::set<std::string>{}));
  // As a second filter, not the driver, and as a sort key (lowest value of either first).
  EXPECT_EQ(found("status=final&combo-value-quantity=lt75"), (std::set<std::string>{other_code}));
  const auto sorted = body_of(call("GET", "/fhir/Observation?combo-code=8462-4&_sort=combo-value-quantity"));
  std::vector<std::string> order;
  for (const auto& e : sorted.at("entry").as_array()) order.emplace_back(e.at("resource").at("id").as_string());
  EXPECT_EQ(order, (std::vector<std::string>{other_code, normal, high}));
}

TEST_F(CompositeSearchTest, SequenceCoordinatesAreThreePartComposites) {
  // chromosome-variant-coordinate: chromosome, variant start and variant end of the same variant.
  const auto sequence = [&](const std::string& chromosome, int window_start, int window_end,
                            const std::vector<std::pair<int, int>>& variants) {
    std::string v;
    for (const auto& [start, end] : variants) {
      if (!v.empty()) v += ",";
      v += R"({"start":)" + std::to_string(start) + R"(,"end":)" + std::to_string(end) + "}";
    }
    return create(
        "MolecularSequence",
        R"({"resourceType":"MolecularSequence","type":"dna","coordinateSystem":0,"referenceSeq":{"chromosome":)"
        R"({"coding":[{"system":"http://terminology.hl7.org/CodeSystem/chromosome-human","code":")" +
            chromosome +
            R"("}]},"referenceSeqId":{"coding":[{"system":"http://www.ncbi.nlm.nih.gov/nuccore",)"
            R"("code":"NC_000001.11"}]},"windowStart":)" +
            std::to_string(window_start) + R"(,"windowEnd":)" + std::to_string(window_end) + R"(},"variant":[)" + v +
            "]}");
  };
  const auto a = sequence("1", 22125500, 22125510, {{22125503, 22125504}, {22125507, 22125509}});
  const auto b = sequence("2", 100, 900, {{150, 170}});
  const auto found_seq = [&](const std::string& query) {
    const auto r = call("GET", "/fhir/MolecularSequence?" + query);
    EXPECT_EQ(r.status, 200) << r.body;
    std::set<std::string> ids;
    const auto doc = body_of(r);
    if (const auto* entries = doc.if_contains("entry")) {
      for (const auto& e : entries->as_array()) ids.insert(std::string(e.at("resource").at("id").as_string()));
    }
    return ids;
  };
  EXPECT_EQ(found_seq("chromosome-variant-coordinate=1$ge22125500$le22125505"), (std::set<std::string>{a}));
  EXPECT_EQ(found_seq("chromosome-variant-coordinate=1$ge22125505$le22125505"), (std::set<std::string>{}));
  EXPECT_EQ(found_seq("chromosome-variant-coordinate=1$22125507$22125509"), (std::set<std::string>{a}));
  // start of one variant and end of another do not make a match.
  EXPECT_EQ(found_seq("chromosome-variant-coordinate=1$22125503$22125509"), (std::set<std::string>{}));
  EXPECT_EQ(found_seq("chromosome-variant-coordinate=2$gt100$lt200,1$lt0$lt0"), (std::set<std::string>{b}));
  EXPECT_EQ(
      found_seq("chromosome-window-coordinate=http://terminology.hl7.org/CodeSystem/chromosome-human|2$le100$ge900"),
      (std::set<std::string>{b}));
  EXPECT_EQ(found_seq("referenceseqid-window-coordinate=NC_000001.11$22125500$22125510"), (std::set<std::string>{a}));
  const auto two_parts = call("GET", "/fhir/MolecularSequence?chromosome-variant-coordinate=1$100");
  EXPECT_EQ(two_parts.status, 400);
  EXPECT_NE(two_parts.body.find("three parts"), std::string::npos) << two_parts.body;
}

TEST_F(CompositeSearchTest, SystemSearchPagesAcrossTheListedTypes) {
  std::set<std::string> want;
  for (int i = 0; i < 3; ++i) {
    want.insert("Patient/" + create("Patient", R"({"resourceType":"Patient","active":true})"));
  }
  for (int i = 0; i < 2; ++i) {
    want.insert("Organization/" + create("Organization", R"({"resourceType":"Organization","active":true})"));
  }
  create("Observation", R"({"resourceType":"Observation","status":"final","code":{"text":"x"}})");
  std::set<std::string> got;
  std::string url = "/fhir?_type=Patient,Organization&_count=2";
  for (int pages = 0; !url.empty() && pages < 10; ++pages) {
    const auto r = call("GET", url);
    ASSERT_EQ(r.status, 200) << r.body;
    const auto b = body_of(r);
    EXPECT_EQ(str(b, {"total"}), "5");
    for (const auto& e : b.at("entry").as_array()) {
      EXPECT_TRUE(got.insert(str(e, {"resource", "resourceType"}) + "/" + str(e, {"resource", "id"})).second);
    }
    url.clear();
    for (const auto& l : b.at("link").as_array()) {
      if (l.at("relation").as_string() == "next")
        url = "/fhir" + std::string(l.at("url").as_string()).substr(std::string(kBase).size());
    }
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(call("GET", "/fhir?_type=Patient,Organization&active=false").status, 200);
  EXPECT_EQ(call("GET", "/fhir?_type=Patient,Organization&gender=male").status, 400);
  EXPECT_EQ(call("GET", "/fhir?active=true").status, 400);
  EXPECT_EQ(call("GET", "/fhir?_type=Nope").status, 400);
}

TEST_F(CompositeSearchTest, CursorPagingStaysExactWhileRecordsChange) {
  std::set<std::string> all;
  for (int i = 0; i < 6; ++i) all.insert(create("Patient", R"({"resourceType":"Patient","active":true})"));
  const auto page1 = body_of(call("GET", "/fhir/Patient?active=true&_count=3"));
  std::vector<std::string> first_ids;
  for (const auto& e : page1.at("entry").as_array()) first_ids.push_back(str(e, {"resource", "id"}));
  ASSERT_EQ(first_ids.size(), 3U);
  std::string next;
  for (const auto& l : page1.at("link").as_array()) {
    if (l.at("relation").as_string() == "next") next = std::string(l.at("url").as_string());
  }
  ASSERT_FALSE(next.empty());
  EXPECT_NE(next.find("_after="), std::string::npos);
  // Between the pages someone deletes a record already seen: an offset would now skip one.
  ASSERT_EQ(call("DELETE", "/fhir/Patient/" + first_ids[0]).status, 204);
  const auto page2 = body_of(call("GET", "/fhir" + next.substr(std::string(kBase).size())));
  std::set<std::string> seen(first_ids.begin(), first_ids.end());
  for (const auto& e : page2.at("entry").as_array()) {
    EXPECT_TRUE(seen.insert(str(e, {"resource", "id"})).second) << "returned twice";
  }
  EXPECT_EQ(seen, all) << "every record present on both pages' snapshot was returned once";
  EXPECT_EQ(call("GET", "/fhir/Patient?_after=not%20an%20id").status, 400);
}

TEST_F(CompositeSearchTest, DrivenPagesFollowCreationOrderWithARidCursor) {
  // An unsorted search driven by an index (here a code) pages in the order the resources were
  // made, with a `~rid` cursor: only the page's rows are looked up, however many match.
  std::vector<std::string> made;
  for (int i = 0; i < 11; ++i) made.push_back(observation("8867-4", 60 + i, 0));
  const auto page = [&](const std::string& url, std::vector<std::string>& ids) {
    const auto r = call("GET", url);
    EXPECT_EQ(r.status, 200) << r.body;
    const auto b = body_of(r);
    if (const auto* entries = b.if_contains("entry")) {
      for (const auto& e : entries->as_array()) ids.push_back(str(e, {"resource", "id"}));
    }
    for (const auto& l : b.at("link").as_array()) {
      if (l.at("relation").as_string() == "next")
        return "/fhir" + std::string(l.at("url").as_string()).substr(std::string(kBase).size());
    }
    return std::string();
  };
  std::vector<std::string> got;
  std::string next = page("/fhir/Observation?code=http://loinc.org|8867-4&_count=4", got);
  ASSERT_NE(next.find("_after=~"), std::string::npos) << next;
  // Between pages one already seen is deleted and one is added: nothing is repeated or skipped,
  // and the new one comes at the end.
  ASSERT_EQ(call("DELETE", "/fhir/Observation/" + made[0]).status, 204);
  made.push_back(observation("8867-4", 99, 0));
  int pages = 1;
  while (!next.empty() && pages < 10) {
    next = page(next, got);
    ++pages;
  }
  EXPECT_EQ(got, made) << "every match once, in the order made";
  EXPECT_EQ(pages, 3);
  // A cursor that is not one: 400 naming _after.
  for (const std::string bad : {"~", "~x", "~12x", "~-4"}) {
    const auto r = call("GET", "/fhir/Observation?code=http://loinc.org|8867-4&_after=" + bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_NE(r.body.find("_after"), std::string::npos) << r.body;
  }
}

TEST_F(CompositeSearchTest, PatientIsSubjectRestrictedToPatientsInEveryKindOfSearch) {
  // Observation patient = subject.where(resolve() is Patient): stored once, as subject rows; every
  // search form must still tell a Patient subject from a Group subject.
  const std::string pat = create("Patient", R"({"resourceType":"Patient","name":[{"family":"Restrictedson"}]})");
  const std::string grp = create("Group", R"({"resourceType":"Group","type":"person","actual":true,"name":"Ward 3"})");
  const auto obs = [&](const std::string& subject) {
    return create("Observation", R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":)"
                                 R"("http://loinc.org","code":"8867-4"}]},"subject":{"reference":")" +
                                     subject + R"("}})");
  };
  const std::string of_patient = obs("Patient/" + pat);
  const std::string of_group = obs("Group/" + grp);
  const std::string by_identifier =
      create("Observation",
             R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org",)"
             R"("code":"8867-4"}]},"subject":{"reference":"Patient/)" +
                 pat + R"(","identifier":{"system":"https://fhir.nhs.uk/Id/nhs-number","value":"9434765919"}}})");
  const std::string none = create(
      "Observation",
      R"({"resourceType":"Observation","status":"final","code":{"coding":[{"system":"http://loinc.org","code":"1-1"}]}})");
  using Ids = std::set<std::string>;
  const auto ids = [&](const std::string& q, const std::string& type = "Observation") {
    const auto r = call("GET", "/fhir/" + type + "?" + q);
    EXPECT_EQ(r.status, 200) << q << ": " << r.body;
    Ids out;
    const auto b = body_of(r);
    if (const auto* e = b.if_contains("entry")) {
      for (const auto& x : e->as_array()) {
        out.insert(str(x, {"resource", "resourceType"}) + "/" + str(x, {"resource", "id"}));
      }
    }
    return out;
  };
  const auto o = [](const std::string& id) { return "Observation/" + id; };
  EXPECT_EQ(ids("patient=" + pat), (Ids{o(of_patient), o(by_identifier)}));
  EXPECT_EQ(ids("patient=Patient/" + pat), (Ids{o(of_patient), o(by_identifier)}));
  EXPECT_EQ(ids("patient=" + grp), Ids{}) << "a Group subject is not a patient";
  EXPECT_EQ(ids("subject=" + grp), (Ids{o(of_group)}));
  EXPECT_EQ(ids("patient:missing=true"), (Ids{o(of_group), o(none)}));
  EXPECT_EQ(ids("patient:missing=false"), (Ids{o(of_patient), o(by_identifier)}));
  EXPECT_EQ(ids("patient.name=Restrictedson"), (Ids{o(of_patient), o(by_identifier)}));
  EXPECT_EQ(call("GET", "/fhir/Observation?patient:Group.name=Ward").status, 400);
  EXPECT_EQ(ids("patient:identifier=https://fhir.nhs.uk/Id/nhs-number|9434765919"), (Ids{o(by_identifier)}));
  EXPECT_EQ(ids("_has:Observation:patient:code=8867-4", "Patient"), (Ids{"Patient/" + pat}));
  EXPECT_EQ(ids("_has:Observation:patient:code=8867-4", "Group"), Ids{}) << "patient never refers to a Group";
  EXPECT_EQ(ids("_has:Observation:subject:code=8867-4", "Group"), (Ids{"Group/" + grp}));
  EXPECT_EQ(ids("code=8867-4&_include=Observation:patient"),
            (Ids{o(of_patient), o(of_group), o(by_identifier), "Patient/" + pat}));
  EXPECT_EQ(ids("code=8867-4&_include=Observation:subject"),
            (Ids{o(of_patient), o(of_group), o(by_identifier), "Patient/" + pat, "Group/" + grp}));
  EXPECT_EQ(ids("_id=" + pat + "&_revinclude=Observation:patient", "Patient"),
            (Ids{"Patient/" + pat, o(of_patient), o(by_identifier)}));
  EXPECT_EQ(ids("_id=" + grp + "&_revinclude=Observation:patient", "Group"), (Ids{"Group/" + grp}));
  // The patient's compartment holds their Observations, not the Group's.
  EXPECT_EQ(ids("", "Patient/" + pat + "/Observation"), (Ids{o(of_patient), o(by_identifier)}));
}

TEST_F(CompositeSearchTest, ListSearchFindsTheMembersOfAList) {
  const auto a = observation("8480-6", 120, 80);
  const auto b = observation("8480-6", 130, 85);
  observation("8480-6", 140, 90);
  const std::string list = create(
      "List",
      R"({"resourceType":"List","status":"current","mode":"working","entry":[{"item":{"reference":"Observation/)" + a +
          R"("}},{"item":{"reference":"Observation/)" + b + R"("}}]})");
  EXPECT_EQ(found("_list=" + list), (std::set<std::string>{a, b}));
  EXPECT_EQ(found("_list=" + list + "&code-value-quantity=8480-6$gt125"), (std::set<std::string>{b}));
  EXPECT_EQ(found("_list=no-such-list"), (std::set<std::string>{}));
  EXPECT_EQ(call("GET", "/fhir/Observation?_list=$current-problems").status, 400);
}

TEST_F(CompositeSearchTest, ACompositeWithAReferenceFirstMatchesTargetAndCodeTogether) {
  const std::string old_doc = create("DocumentReference", R"({"resourceType":"DocumentReference","status":"current",)"
                                                          R"("content":[{"attachment":{"title":"v1"}}]})");
  const std::string other = create("DocumentReference", R"({"resourceType":"DocumentReference","status":"current",)"
                                                        R"("content":[{"attachment":{"title":"x"}}]})");
  const std::string replacing =
      create("DocumentReference", R"({"resourceType":"DocumentReference","status":"current","relatesTo":[)"
                                  R"({"code":"replaces","target":{"reference":"DocumentReference/)" +
                                      old_doc + R"("}},{"code":"appends","target":{"reference":"DocumentReference/)" +
                                      other + R"("}}],"content":[{"attachment":{"title":"v2"}}]})");
  const auto docs = [&](const std::string& q) {
    const auto r = call("GET", "/fhir/DocumentReference?" + q);
    EXPECT_EQ(r.status, 200) << r.body;
    std::set<std::string> ids;
    const auto d = body_of(r);
    if (const auto* entries = d.if_contains("entry")) {
      for (const auto& e : entries->as_array()) ids.insert(std::string(e.at("resource").at("id").as_string()));
    }
    return ids;
  };
  EXPECT_EQ(docs("relationship=DocumentReference/" + old_doc + "$replaces"), (std::set<std::string>{replacing}));
  EXPECT_EQ(docs("relationship=" + old_doc + "$replaces"), (std::set<std::string>{replacing}));
  EXPECT_TRUE(docs("relationship=DocumentReference/" + old_doc + "$appends").empty()) << "pairs stay together";
  EXPECT_EQ(docs("relationship=DocumentReference/" + other + "$appends"), (std::set<std::string>{replacing}));
}

TEST_F(CompositeSearchTest, SortedCursorPagingStaysExactWhileRecordsChange) {
  // Ties on the sort key, absent values (sorted last) and a descending key.
  std::set<std::string> all;
  for (int i = 0; i < 9; ++i) {
    const std::string birth = i < 3 ? "" : (i < 6 ? R"(,"birthDate":"1970-01-01")" : R"(,"birthDate":"1990-05-05")");
    all.insert(create("Patient", R"({"resourceType":"Patient","active":true)" + birth + "}"));
  }
  std::vector<std::string> seen;
  std::string next = "/fhir/Patient?active=true&_sort=-birthdate&_count=2";
  bool deleted = false;
  std::string removed;
  while (!next.empty()) {
    const auto page = body_of(call("GET", next));
    std::vector<std::string> ids;
    if (const auto* es = page.if_contains("entry")) {
      for (const auto& e : es->as_array()) ids.push_back(str(e, {"resource", "id"}));
    }
    seen.insert(seen.end(), ids.begin(), ids.end());
    if (!deleted && !ids.empty()) {
      // A record already seen is deleted between pages: an offset would now skip one.
      removed = ids.front();
      EXPECT_EQ(call("DELETE", "/fhir/Patient/" + removed).status, 204);
      deleted = true;
    }
    next.clear();
    for (const auto& l : page.at("link").as_array()) {
      if (l.at("relation").as_string() == "next")
        next = std::string(l.at("url").as_string()).substr(std::string(kBase).size());
    }
    if (!next.empty()) next = "/fhir" + next;
  }
  EXPECT_EQ(seen.size(), all.size()) << "every record returned once";
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()), all);
  EXPECT_EQ(call("GET", "/fhir/Patient?_sort=birthdate&_after=%5B1%5D").status, 400);
  EXPECT_EQ(call("GET", "/fhir/Patient?_sort=birthdate&_after=not-json").status, 400);
}

TEST_F(CompositeSearchTest, TokenInAndNotInUseAValueSetStoredHere) {
  const auto systolic = observation("8480-6", 150, 90);
  const auto diastolic_only = observation("8462-4", 80, 80);
  const auto temperature = observation("8310-5", 37, 37);
  create("ValueSet",
         R"({"resourceType":"ValueSet","status":"active","url":"https://ucr.example/fhir/ValueSet/bp",)"
         R"("compose":{"include":[{"system":"http://loinc.org","concept":[{"code":"8480-6"},{"code":"8462-4"}]}]}})");
  const std::string expanded = create(
      "ValueSet",
      R"({"resourceType":"ValueSet","status":"active","url":"https://ucr.example/fhir/ValueSet/temp",)"
      R"("expansion":{"timestamp":"2026-01-01T00:00:00Z","contains":[{"system":"http://loinc.org","code":"8310-5"}]}})");
  create("ValueSet", R"({"resourceType":"ValueSet","status":"active","url":"https://ucr.example/fhir/ValueSet/sct",)"
                     R"("compose":{"include":[{"system":"http://snomed.info/sct","filter":[{"property":"concept",)"
                     R"("op":"is-a","value":"38341003"}]}]}})");
  EXPECT_EQ(found("code:in=https://ucr.example/fhir/ValueSet/bp"), (std::set<std::string>{systolic, diastolic_only}));
  EXPECT_EQ(found("code:in=ValueSet/" + expanded), (std::set<std::string>{temperature}));
  EXPECT_EQ(found("code:not-in=https://ucr.example/fhir/ValueSet/bp"), (std::set<std::string>{temperature}));
  EXPECT_EQ(found("code:in=https://ucr.example/fhir/ValueSet/bp,https://ucr.example/fhir/ValueSet/temp").size(), 3U);
  EXPECT_EQ(call("GET", "/fhir/Observation?code:in=https://ucr.example/fhir/ValueSet/none").status, 400);
  const auto sct = call("GET", "/fhir/Observation?code:in=https://ucr.example/fhir/ValueSet/sct");
  EXPECT_EQ(sct.status, 400);
  EXPECT_NE(sct.body.find("terminology"), std::string::npos) << sct.body;
  EXPECT_EQ(call("GET", "/fhir/Observation?code:below=http://snomed.info/sct|38341003").status, 400);
}

}  // namespace
}  // namespace ucr::api::testing
