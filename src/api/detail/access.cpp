#include "api/detail/access.hpp"

#include "api/bulk_export.hpp"
#include "api/detail/identity.hpp"
#include "api/detail/ops.hpp"
#include "api/detail/registry_scope.hpp"
#include "api/detail/respond.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "fhir/definitions.hpp"
#include "fhir/deidentify.hpp"
#include "search/index.hpp"
#include "search/registry.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

namespace ucr::api::detail {
namespace {

namespace json = boost::json;
using auth::Permission;
using auth::Principal;

std::vector<std::string_view> segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start < path.size()) {
    const auto slash = path.find('/', start);
    const auto end = slash == std::string_view::npos ? path.size() : slash;
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

core::Error forbidden(std::string why) { return core::Error::make(403, "forbidden", std::move(why)); }

std::string_view permission_word(Permission p) {
  switch (p) {
    case Permission::create:
      return "create";
    case Permission::read:
      return "read";
    case Permission::update:
      return "change";
    case Permission::remove:
      return "delete";
    case Permission::search:
      return "search";
  }
  return "use";
}

/// Role policy and SMART scopes both allow `p` on `type`. `restricted_ok`: a grant that holds only
/// for resources matching a query (SMART v2 granular scopes) is accepted, and the caller applies it.
std::optional<core::Error> check_permission(const Principal& who, std::string_view type, Permission p,
                                            bool restricted_ok = false) {
  if (!auth::role_permits(who.role, type, p)) {
    return forbidden(fmt::format("the {} role may not {} {} resources ({})", auth::role_title(who.role),
                                 permission_word(p), type, auth::resource_class_name(auth::resource_class(type))));
  }
  if (!who.scopes.permits(type, p)) {
    return forbidden(fmt::format("the access token's scopes do not allow {} on {} (granted: {})", permission_word(p),
                                 type, who.scopes.to_string()));
  }
  // A grant that holds only for resources matching a query (SMART v2 granular scopes) is applied
  // to reads and searches; for anything else it is refused rather than widened.
  if (!restricted_ok && !who.scopes.restrictions(type, p).empty()) {
    return forbidden(
        fmt::format("the access token grants {} on {} only for resources matching a query, which this server "
                    "applies to reads and searches only; ask for the scope without '?...'",
                    permission_word(p), type));
  }
  return std::nullopt;
}

/// The restrictions of the caller's grant of `p` on `type`, each decoded into search parameters
/// (empty: unrestricted).
std::vector<std::vector<std::pair<std::string, std::string>>> restriction_params(const Principal& who,
                                                                                 std::string_view type, Permission p) {
  std::vector<std::vector<std::pair<std::string, std::string>>> out;
  for (const auto& q : who.scopes.restrictions(type, p)) {
    auto params = decode_query(q);
    out.push_back(params ? std::move(*params) : std::vector<std::pair<std::string, std::string>>{{"_id", ""}});
  }
  return out;
}

/// The restrictions as parameters to add to one search (AND): one restriction as it is; several
/// that each name the same single parameter as one parameter with their values joined (OR). Other
/// mixtures cannot be said in one R4 search: an error.
core::Result<std::vector<std::pair<std::string, std::string>>> restriction_search(const Principal& who,
                                                                                  std::string_view type) {
  auto all = restriction_params(who, type, Permission::search);
  if (all.empty()) return std::vector<std::pair<std::string, std::string>>{};
  if (all.size() == 1) return std::move(all.front());
  std::pair<std::string, std::string> joined;
  for (const auto& r : all) {
    if (r.size() != 1 || (!joined.first.empty() && r.front().first != joined.first)) {
      return forbidden(fmt::format(
          "the access token's granular scopes on {} cannot be combined into one search; search with a token "
          "that holds one of them",
          type));
    }
    joined.first = r.front().first;
    joined.second += (joined.second.empty() ? "" : ",") + r.front().second;
  }
  return std::vector<std::pair<std::string, std::string>>{std::move(joined)};
}

bool in_compartment_types(std::string_view type) {
  return type == "Patient" || !search::Registry::r4().patient_compartment_params(type).empty();
}

bool allowed_patient(const Principal& who, std::string_view id) {
  return std::find(who.patients.begin(), who.patients.end(), id) != who.patients.end();
}

/// May a patient-facing caller see resources of `type` in this patient's record? (A proxy's
/// consent may share only some types; the Patient resource itself is always shared with them.)
bool allowed_type(const Principal& who, const std::string& patient, std::string_view type) {
  const auto it = who.patient_types.find(patient);
  if (it == who.patient_types.end() || type == "Patient") return true;
  return std::find(it->second.begin(), it->second.end(), type) != it->second.end();
}

core::Error not_shared(std::string_view type) {
  return core::Error::make(
      403, "forbidden", fmt::format("the consent that shares this record with you does not include {} records", type));
}

/// "Patient/123" (or a full URL ending so) to "123".
std::string patient_id_of(std::string_view ref) {
  const auto pos = ref.rfind("Patient/");
  if (pos == std::string_view::npos) return std::string(ref.find('/') == std::string_view::npos ? ref : "");
  std::string_view rest = ref.substr(pos + 8);
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) rest = rest.substr(0, slash);
  return std::string(rest);
}

/// The compartments (Patient ids) a resource is in, by the search parameters in force.
std::vector<std::string> compartments_of(const json::value& doc, std::string_view type, std::string_view id) {
  std::vector<std::string> out;
  if (type == "Patient") {
    out.emplace_back(id);
    return out;
  }
  const auto rows = search::extract(doc, type, id, registry(), false);
  for (const auto& c : rows.compartments) out.push_back(patient_id_of(c));
  return out;
}

/// May a patient-facing caller see this resource?
bool patient_may_see(const Principal& who, const json::object& res) {
  const auto* rt = res.if_contains("resourceType");
  if (rt == nullptr || !rt->is_string()) return false;
  const std::string type(rt->get_string());
  if (!in_compartment_types(type)) return true;  // directory and definitions
  std::string id;
  if (const auto* v = res.if_contains("id"); v != nullptr && v->is_string()) id = std::string(v->get_string());
  const auto comps = compartments_of(res, type, id);
  return std::any_of(comps.begin(), comps.end(),
                     [&](const std::string& c) { return allowed_patient(who, c) && allowed_type(who, c, type); });
}

/// Does the caller's role see every sensitive category this resource is labelled with?
bool labels_allow(const Principal& who, const json::object& res) {
  const auto* meta = res.if_contains("meta");
  if (meta == nullptr || !meta->is_object()) return true;
  const auto* labels = meta->get_object().if_contains("security");
  if (labels == nullptr || !labels->is_array()) return true;
  for (const auto& l : labels->get_array()) {
    if (!l.is_object()) continue;
    const auto* sys = l.get_object().if_contains("system");
    const auto* code = l.get_object().if_contains("code");
    if (sys == nullptr || code == nullptr || !sys->is_string() || !code->is_string()) continue;
    if (auto s = auth::sensitivity_of(sys->get_string(), code->get_string()); s && !auth::role_sees(who.role, *s)) {
      return false;
    }
  }
  return true;
}

/// A data-quality officer's search of Tasks is narrowed to review Tasks, so paging and totals
/// count only those.
bool narrow_to_review_tasks(const Principal& who, std::string_view type, Request& r) {
  if (who.role != auth::Role::data_quality_officer || type != "Task") return false;
  r.query.emplace_back("code", fmt::format("{}|review-match", kIdentityOperationSystem));
  return true;
}

/// Adds `_security:not=` for every label the caller may not see, so hidden records are absent
/// from results and totals alike. True when it added any.
bool exclude_hidden_labels(const Principal& who, Request& r) {
  bool added = false;
  for (const auto& l : auth::sensitivity_labels()) {
    if (auth::role_sees(who.role, l.sensitivity)) continue;
    r.query.emplace_back("_security:not", fmt::format("{}|{}", l.system, l.code));
    added = true;
  }
  return added;
}

/// Which of the caller's patients a search is about: the `patient`/`subject` parameter when it
/// names one of them, else the only one they have.
core::Result<std::string> chosen_patient(const Principal& who, const Request& req, std::string_view type) {
  for (const auto& [name, value] : req.query) {
    if (name == "patient" || name == "subject" || name == "subject:Patient" || (type == "Patient" && name == "_id")) {
      const std::string id = patient_id_of(value);
      if (!allowed_patient(who, id)) {
        return forbidden("you can search only the records you have access to");
      }
      return id;
    }
  }
  if (who.patients.size() == 1) return who.patients.front();
  return forbidden("you have access to more than one person's record: say which with patient=<id>");
}

/// Types the caller may read in one patient's record (for $everything's _type), from the
/// compartment types.
std::string readable_compartment_types(const Principal& who, const std::string& patient,
                                       const std::vector<std::string>& asked) {
  std::string out;
  const auto consider = [&](const std::string& t) {
    if (auth::role_permits(who.role, t, Permission::read) && who.scopes.permits(t, Permission::read) &&
        allowed_type(who, patient, t)) {
      if (!out.empty()) out += ',';
      out += t;
    }
  };
  if (!asked.empty()) {
    for (const auto& t : asked) consider(t);
  } else {
    auto types = search::Registry::r4().patient_compartment_types();
    if (std::find(types.begin(), types.end(), "Patient") == types.end()) types.emplace_back("Patient");
    std::sort(types.begin(), types.end());
    for (const auto& t : types) consider(t);
  }
  return out;
}

/// Does a search ask for contained resources (_contained=true or both, R4 search.html#contained),
/// in its query or its POSTed form? Their matches are checked against their containers.
bool searches_contained(const Request& req) {
  const auto asks = [](const std::vector<std::pair<std::string, std::string>>& params) {
    return std::any_of(params.begin(), params.end(),
                       [](const auto& p) { return p.first == "_contained" && p.second != "false"; });
  };
  if (asks(req.query)) return true;
  if (req.method != "POST" || req.body.empty()) return false;
  auto form = decode_query(req.body);
  return form && asks(*form);
}

/// Does a search ask for a count only (_summary=count or _count=0)?
bool counts_only(const Request& req) {
  return std::any_of(req.query.begin(), req.query.end(), [](const auto& p) {
    return (p.first == "_summary" && p.second == "count") || (p.first == "_count" && p.second == "0");
  });
}

bool has_include(const Request& req) {
  return std::any_of(req.query.begin(), req.query.end(), [](const auto& p) {
    return p.first.rfind("_include", 0) == 0 || p.first.rfind("_revinclude", 0) == 0;
  });
}

/// The resource types and methods of a batch/transaction's entries.
core::Result<std::vector<std::pair<std::string, std::string>>> bundle_targets(const Request& req) {
  boost::system::error_code ec;
  const json::value doc = json::parse(req.body, ec);
  std::vector<std::pair<std::string, std::string>> out;
  if (ec || !doc.is_object()) return out;  // the Bundle handler reports the syntax error
  const auto* entries = doc.get_object().if_contains("entry");
  if (entries == nullptr || !entries->is_array()) return out;
  for (const auto& e : entries->get_array()) {
    if (!e.is_object()) continue;
    std::string method = "POST";
    std::string type;
    if (const auto* r = e.get_object().if_contains("request"); r != nullptr && r->is_object()) {
      if (const auto* m = r->get_object().if_contains("method"); m != nullptr && m->is_string()) {
        method = std::string(m->get_string());
      }
      if (const auto* u = r->get_object().if_contains("url"); u != nullptr && u->is_string()) {
        std::string_view url = u->get_string();
        url = url.substr(0, url.find_first_of("/?"));
        type = std::string(url);
      }
    }
    if (const auto* res = e.get_object().if_contains("resource"); res != nullptr && res->is_object()) {
      if (const auto* rt = res->get_object().if_contains("resourceType"); rt != nullptr && rt->is_string()) {
        type = std::string(rt->get_string());
      }
    }
    out.emplace_back(method, type);
  }
  return out;
}

/// Analysts may not search by what identifies a person (names, identifiers, contact details,
/// street addresses, exact birth dates, free text): otherwise a search could re-identify someone
/// even though every result is de-identified. Returns the reason when the query does.
std::optional<core::Error> identifying_query(const std::vector<std::pair<std::string, std::string>>& query) {
  static constexpr std::array<std::string_view, 16> kIdentifying{
      "name",    "family",       "given",        "phonetic", "identifier", "telecom", "phone",  "email",
      "address", "address-line", "address-city", "_text",    "_content",   "_filter", "_query", "link"};
  const auto refused = [](std::string_view what) {
    return forbidden(fmt::format("analysts see de-identified data only, so they cannot search by '{}'", what));
  };
  const auto identifying_name = [&](std::string_view name) {
    std::size_t start = 0;
    while (start <= name.size()) {
      const auto end = name.find_first_of(".:", start);
      const auto piece = name.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
      if (std::find(kIdentifying.begin(), kIdentifying.end(), piece) != kIdentifying.end()) return true;
      if (end == std::string_view::npos) break;
      start = end + 1;
    }
    return false;
  };
  for (const auto& [name, value] : query) {
    if (identifying_name(name)) return refused(name);
    const std::string_view base = std::string_view(name).substr(0, name.find(':'));
    if (base == "_sort") {
      std::string_view s = value;
      while (!s.empty()) {
        const auto comma = s.find(',');
        std::string_view key = s.substr(0, comma);
        if (key.starts_with('-')) key.remove_prefix(1);
        if (identifying_name(key) || key == "birthdate") return refused(fmt::format("_sort={}", key));
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
      }
    }
    if (base == "birthdate" || base == "death-date") {
      // Year precision only (a range of years is fine): an exact date narrows to a handful of people.
      std::string_view s = value;
      while (!s.empty()) {
        const auto comma = s.find(',');
        std::string_view v = s.substr(0, comma);
        if (v.size() > 2 && std::isalpha(static_cast<unsigned char>(v[0])) != 0) v.remove_prefix(2);
        if (v.size() > 4) {
          return forbidden(fmt::format(
              "analysts see de-identified data only, so they search {} by year only (e.g. {}=ge1950)", base, base));
        }
        s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
      }
    }
    if (base == "address-postalcode") {
      std::size_t chars = 0;
      for (const char c : value) chars += std::isalnum(static_cast<unsigned char>(c)) != 0 ? 1 : 0;
      if (chars > 4) {
        return forbidden(
            "analysts see de-identified data only, so they search by postcode district only (e.g. "
            "address-postalcode=ME7)");
      }
    }
  }
  return std::nullopt;
}

Permission permission_for_method(std::string_view method) {
  if (method == "POST") return Permission::create;
  if (method == "PUT" || method == "PATCH") return Permission::update;
  if (method == "DELETE") return Permission::remove;
  return Permission::read;
}

}  // namespace

namespace {

/// Ids of `type` matching search parameters (a few at most).
std::vector<std::string> matching(store::Store& store, const std::string& type,
                                  const std::vector<std::pair<std::string, std::string>>& params,
                                  std::size_t limit = 20) {
  search::ParseOptions opts;
  opts.default_count = limit;
  opts.max_count = limit;
  opts.registry = &registry();
  std::vector<core::Issue> warnings;
  auto plan = search::parse_search(type, params, opts, warnings);
  if (!plan) return {};
  plan->count = limit;
  auto page = store.search(*plan, false);
  if (!page) return {};
  return page->ids;
}

/// Does the current version of type/id match one of the caller's granular read restrictions (or
/// is the grant unrestricted)?
bool within_grant(store::Store& store, const Principal& who, const std::string& type, const std::string& id) {
  const auto all = restriction_params(who, type, Permission::read);
  if (all.empty()) return true;
  return std::any_of(all.begin(), all.end(), [&](const auto& r) {
    auto params = r;
    params.emplace_back("_id", id);
    return !matching(store, type, params, 1).empty();
  });
}

std::optional<json::object> read_object(store::Store& store, const std::string& type, const std::string& id) {
  auto r = store.read(type, id);
  if (!r) return std::nullopt;
  boost::system::error_code ec;
  auto doc = json::parse(r->json, ec);
  if (ec || !doc.is_object()) return std::nullopt;
  return std::move(doc.get_object());
}

std::string reference_of(const json::value& v) {
  if (!v.is_object()) return {};
  if (const auto* r = v.get_object().if_contains("reference"); r != nullptr && r->is_string()) {
    return std::string(r->get_string());
  }
  return {};
}

/// The Consent scope of consents about sharing the record (HL7 consentscope).
constexpr const char* kPrivacyScope = "http://terminology.hl7.org/CodeSystem/consentscope|patient-privacy";

std::string btg_key(const std::string& subject, const std::string& patient) {
  return fmt::format("btg:{}:{}", subject, patient);
}

/// Does a patient's Consent (already known to be active, scope patient-privacy) record dissent from
/// sharing with organisation `org`, person `me` or role `role`? A dissent with no actors spares only
/// the registered practice (`registered`).
bool dissents_from(const json::object& consent, const std::string& org, const std::string& me, auth::Role role,
                   bool registered) {
  const auto* prov = consent.if_contains("provision");
  if (prov == nullptr || !prov->is_object()) return false;
  const auto* type = prov->get_object().if_contains("type");
  if (type == nullptr || !type->is_string() || type->get_string() != "deny") return false;
  const auto* actors = prov->get_object().if_contains("actor");
  if (actors == nullptr || !actors->is_array() || actors->get_array().empty()) return !registered;
  bool dissent = false;
  for (const auto& a : actors->get_array()) {
    if (!a.is_object()) continue;
    const std::string ref = a.get_object().if_contains("reference") != nullptr
                                ? reference_of(*a.get_object().if_contains("reference"))
                                : std::string();
    if (!ref.empty() && (ref == org || ref == me)) dissent = true;
    if (const auto* r = a.get_object().if_contains("role"); r != nullptr && r->is_object()) {
      if (const auto* codings = r->get_object().if_contains("coding"); codings != nullptr && codings->is_array()) {
        for (const auto& c : codings->get_array()) {
          if (c.is_object() && c.get_object().if_contains("code") != nullptr &&
              *c.get_object().if_contains("code") == json::value(auth::role_code(role))) {
            dissent = true;
          }
        }
      }
    }
  }
  return dissent;
}

}  // namespace

CareRelationships::Decision CareRelationships::decide(const Principal& who, const std::string& patient_id) {
  const std::int64_t now = core::now_micros() / 1'000'000;
  const std::string key = who.subject + '\n' + who.organisation + '\n' + who.fhir_user + '\n' + patient_id;
  {
    std::lock_guard lock(mu_);
    if (auto it = kept_.find(key); it != kept_.end() && it->second.second > now) return it->second.first;
  }
  Decision d = compute(who, patient_id);
  std::lock_guard lock(mu_);
  if (kept_.size() > 100000) kept_.clear();
  kept_[key] = {d, now + 60};
  return d;
}

void CareRelationships::forget(const std::string& subject, const std::string& patient_id) {
  std::lock_guard lock(mu_);
  for (auto it = kept_.begin(); it != kept_.end();) {
    if (it->first.starts_with(subject + '\n') && it->first.ends_with('\n' + patient_id)) {
      it = kept_.erase(it);
    } else {
      ++it;
    }
  }
}

namespace {

/// Whole years between a FHIR date (YYYY-MM-DD) and now; empty when the date is partial.
std::optional<int> age_in_years(std::string_view birth) {
  if (birth.size() < 10) return std::nullopt;
  int y = 0;
  int m = 0;
  int d = 0;
  if (std::from_chars(birth.data(), birth.data() + 4, y).ec != std::errc{} ||
      std::from_chars(birth.data() + 5, birth.data() + 7, m).ec != std::errc{} ||
      std::from_chars(birth.data() + 8, birth.data() + 10, d).ec != std::errc{}) {
    return std::nullopt;
  }
  const std::string today = core::format_instant(core::now_micros());  // YYYY-MM-DDThh:mm:ss...
  const int ty = std::stoi(today.substr(0, 4));
  const int tm = std::stoi(today.substr(5, 2));
  const int td = std::stoi(today.substr(8, 2));
  int age = ty - y;
  if (tm < m || (tm == m && td < d)) --age;
  return age;
}

bool is_parental(const json::object& related) {
  static constexpr std::array<std::string_view, 6> kParental{"PRN", "MTH", "FTH", "GUARD", "STPPRN", "PRNFOST"};
  const auto* rels = related.if_contains("relationship");
  if (rels == nullptr || !rels->is_array()) return false;
  for (const auto& r : rels->get_array()) {
    const auto* codings = r.is_object() ? r.get_object().if_contains("coding") : nullptr;
    if (codings == nullptr || !codings->is_array()) continue;
    for (const auto& c : codings->get_array()) {
      const auto* code = c.is_object() ? c.get_object().if_contains("code") : nullptr;
      if (code != nullptr && code->is_string() &&
          std::find(kParental.begin(), kParental.end(), std::string_view(code->get_string())) != kParental.end()) {
        return true;
      }
    }
  }
  return false;
}

}  // namespace

namespace {

/// The resource types a provision's `class` codings name (system resource-types, or no system).
std::vector<std::string> provision_classes(const json::object& prov) {
  std::vector<std::string> out;
  const auto* classes = prov.if_contains("class");
  if (classes == nullptr || !classes->is_array()) return out;
  for (const auto& c : classes->get_array()) {
    if (!c.is_object()) continue;
    const auto* sys = c.get_object().if_contains("system");
    const auto* code = c.get_object().if_contains("code");
    if (code == nullptr || !code->is_string()) continue;
    if (sys != nullptr && (!sys->is_string() || sys->get_string() != "http://hl7.org/fhir/resource-types")) continue;
    out.emplace_back(code->get_string());
  }
  return out;
}

/// Is `now` (an instant's text, same format as FHIR dateTimes) within the provision's period?
bool within_period(const json::object& prov, const std::string& now) {
  const auto* period = prov.if_contains("period");
  if (period == nullptr || !period->is_object()) return true;
  const auto* start = period->get_object().if_contains("start");
  const auto* end = period->get_object().if_contains("end");
  // Plain text comparison is right for the prefix the two share (dates and instants sort as text).
  if (start != nullptr && start->is_string()) {
    const std::string_view s = start->get_string();
    if (std::string_view(now).substr(0, s.size()) < s.substr(0, std::min(s.size(), now.size()))) return false;
  }
  if (end != nullptr && end->is_string()) {
    const std::string_view e = end->get_string();
    if (std::string_view(now).substr(0, e.size()) > e.substr(0, std::min(e.size(), now.size()))) return false;
  }
  return true;
}

}  // namespace

CareRelationships::ProxyGrant CareRelationships::proxy_patients(const std::string& related_person_id) {
  const std::int64_t now = core::now_micros() / 1'000'000;
  {
    std::lock_guard lock(mu_);
    if (auto it = proxies_.find(related_person_id); it != proxies_.end() && it->second.second > now) {
      return it->second.first;
    }
  }
  ProxyGrant out;
  if (auto related = read_object(store_, "RelatedPerson", related_person_id)) {
    const auto* active = related->if_contains("active");
    const bool is_active = active == nullptr || !active->is_bool() || active->get_bool();
    const auto* pat = related->if_contains("patient");
    const std::string pid = is_active && pat != nullptr ? patient_id_of(reference_of(*pat)) : std::string();
    if (!pid.empty()) {
      std::optional<int> age;
      if (auto patient = read_object(store_, "Patient", pid)) {
        if (const auto* b = patient->if_contains("birthDate"); b != nullptr && b->is_string()) {
          age = age_in_years(b->get_string());
        }
      }
      const std::string today = core::format_instant(core::now_micros());
      bool consented = false;
      bool unlimited = age && *age < 11 && is_parental(*related);
      std::vector<std::string> shared;  // the union of what limited consents share
      for (const auto& id :
           matching(store_, "Consent", {{"patient", pid}, {"status", "active"}, {"scope", kPrivacyScope}}, 50)) {
        auto consent = read_object(store_, "Consent", id);
        const auto* prov = consent ? consent->if_contains("provision") : nullptr;
        if (prov == nullptr || !prov->is_object()) continue;
        const auto& p = prov->get_object();
        const auto* type = p.if_contains("type");
        if (type == nullptr || !type->is_string() || type->get_string() != "permit") continue;
        if (!within_period(p, today)) continue;
        const auto* actors = p.if_contains("actor");
        if (actors == nullptr || !actors->is_array()) continue;
        const bool names_them = std::any_of(actors->get_array().begin(), actors->get_array().end(), [&](const auto& a) {
          const auto* ref = a.is_object() ? a.get_object().if_contains("reference") : nullptr;
          return ref != nullptr && reference_of(*ref) == "RelatedPerson/" + related_person_id;
        });
        if (!names_them) continue;
        consented = true;
        std::vector<std::string> types = provision_classes(p);
        std::vector<std::string> denied;
        if (const auto* nested = p.if_contains("provision"); nested != nullptr && nested->is_array()) {
          for (const auto& n : nested->get_array()) {
            if (!n.is_object()) continue;
            const auto* nt = n.get_object().if_contains("type");
            if (nt == nullptr || !nt->is_string() || nt->get_string() != "deny") continue;
            if (!within_period(n.get_object(), today)) continue;
            for (auto& t : provision_classes(n.get_object())) denied.push_back(std::move(t));
          }
        }
        if (types.empty() && denied.empty()) {
          unlimited = true;
          continue;
        }
        if (types.empty()) {
          // Everything in the record except what is denied.
          auto all = search::Registry::r4().patient_compartment_types();
          types.assign(all.begin(), all.end());
          types.emplace_back("Patient");
        }
        for (auto& t : types) {
          if (std::find(denied.begin(), denied.end(), t) == denied.end()) shared.push_back(std::move(t));
        }
      }
      if (consented || unlimited) {
        out.patients.push_back(pid);
        if (!unlimited) {
          std::sort(shared.begin(), shared.end());
          shared.erase(std::unique(shared.begin(), shared.end()), shared.end());
          out.types[pid] = std::move(shared);
        }
      }
    }
  }
  std::lock_guard lock(mu_);
  if (proxies_.size() > 100000) proxies_.clear();
  proxies_[related_person_id] = {out, now + 60};
  return out;
}

CareRelationships::Decision CareRelationships::compute(const Principal& who, const std::string& patient_id) {
  Decision d;
  const std::string& org = who.organisation;
  const std::string& me = who.fhir_user;
  // The care relationship, if any.
  std::string relationship;
  bool registered = false;
  if (auto patient = read_object(store_, "Patient", patient_id)) {
    if (const auto* gps = patient->if_contains("generalPractitioner"); gps != nullptr && gps->is_array()) {
      for (const auto& g : gps->get_array()) {
        const std::string ref = reference_of(g);
        if (!ref.empty() && (ref == org || ref == me)) registered = true;
      }
    }
  }
  if (registered) relationship = "registered practice";
  const auto any = [&](const std::string& type, std::vector<std::pair<std::string, std::string>> params,
                       const char* param, const std::string& value) {
    if (value.empty()) return false;
    params.emplace_back("patient", patient_id);
    params.emplace_back(param, value);
    return !matching(store_, type, params, 1).empty();
  };
  const std::vector<std::pair<std::string, std::string>> open_encounter{
      {"status", "in-progress,arrived,triaged,onleave"}};
  const std::vector<std::pair<std::string, std::string>> open_episode{{"status", "active,waitlist"}};
  const std::vector<std::pair<std::string, std::string>> active{{"status", "active"}};
  if (relationship.empty() && (any("Encounter", open_encounter, "service-provider", org) ||
                               any("Encounter", open_encounter, "participant", me))) {
    relationship = "open encounter";
  }
  if (relationship.empty() && (any("EpisodeOfCare", open_episode, "organization", org) ||
                               any("EpisodeOfCare", open_episode, "care-manager", me))) {
    relationship = "open episode of care";
  }
  if (relationship.empty() &&
      (any("ServiceRequest", active, "performer", org) || any("ServiceRequest", active, "performer", me))) {
    relationship = "referral to your service";
  }
  if (relationship.empty() &&
      (any("CareTeam", active, "participant", me) || any("CareTeam", active, "participant", org))) {
    relationship = "care team member";
  }
  // The patient's recorded wishes (R4 Consent, scope patient-privacy, provision type deny).
  bool dissent = false;
  // Only privacy consents (scope patient-privacy) say who may see the record; an advance care
  // directive (scope adr, e.g. a DNACPR decision) or a treatment consent says nothing about sharing.
  for (const auto& id :
       matching(store_, "Consent", {{"patient", patient_id}, {"status", "active"}, {"scope", kPrivacyScope}}, 50)) {
    auto consent = read_object(store_, "Consent", id);
    if (consent && dissents_from(*consent, org, me, who.role, registered)) dissent = true;
  }
  // Emergency access granted earlier and not yet expired.
  bool emergency = false;
  if (auto granted = store_.get_meta(btg_key(who.subject, patient_id)); granted && granted->has_value()) {
    std::int64_t until = 0;
    const auto& text = **granted;
    std::from_chars(text.data(), text.data() + text.size(), until);
    emergency = until > core::now_micros() / 1'000'000;
  }
  const std::string glass =
      fmt::format(" In an emergency you can open it by stating a reason: POST Patient/{}/$break-glass.", patient_id);
  if (dissent) {
    if (emergency) return Decision{true, true, "emergency access (overriding the patient's dissent)"};
    d.reason = "The patient has asked for their record not to be shared with you or your organisation." + glass;
    return d;
  }
  if (!relationship.empty()) return Decision{true, false, relationship};
  if (emergency) return Decision{true, true, "emergency access"};
  d.reason =
      "You have no care relationship with this patient (registered practice, open encounter or episode of care, "
      "referral to your service or care team)." +
      glass;
  return d;
}

std::unordered_set<std::string> patients_dissenting(store::Store& store, const std::string& organisation,
                                                    const std::string& fhir_user, auth::Role role, core::Micros at) {
  std::unordered_set<std::string> out;
  store::HistoryQuery q;
  q.type = "Consent";
  q.at = at;
  q.count = 500;
  for (;;) {
    auto page = store.history(q);
    if (!page) break;
    for (const auto& e : page->entries) {
      if (e.info.deleted || e.json.empty() || e.compartment.empty()) continue;
      boost::system::error_code ec;
      const json::value doc = json::parse(e.json, ec);
      const auto* c = !ec ? doc.if_object() : nullptr;
      if (c == nullptr) continue;
      const auto* status = c->if_contains("status");
      if (status == nullptr || !status->is_string() || status->get_string() != "active") continue;
      // Only privacy consents say who may see the record (as in CareRelationships::compute).
      bool privacy = false;
      if (const auto* scope = c->if_contains("scope"); scope != nullptr && scope->is_object()) {
        if (const auto* codings = scope->get_object().if_contains("coding");
            codings != nullptr && codings->is_array()) {
          for (const auto& cd : codings->get_array()) {
            const auto* co = cd.if_object();
            if (co != nullptr && co->if_contains("code") != nullptr &&
                *co->if_contains("code") == json::value("patient-privacy")) {
              privacy = true;
            }
          }
        }
      }
      if (!privacy) continue;
      const std::string pid = e.compartment.substr(e.compartment.rfind('/') + 1);
      bool registered = false;
      if (!organisation.empty() || !fhir_user.empty()) {
        if (auto patient = read_object(store, "Patient", pid)) {
          if (const auto* gps = patient->if_contains("generalPractitioner"); gps != nullptr && gps->is_array()) {
            for (const auto& g : gps->get_array()) {
              const std::string ref = reference_of(g);
              if (!ref.empty() && (ref == organisation || ref == fhir_user)) registered = true;
            }
          }
        }
      }
      if (dissents_from(*c, organisation, fhir_user, role, registered)) out.insert(pid);
    }
    if (!page->next_cursor) break;
    q.before_seq = page->next_cursor;
  }
  return out;
}

Route classify(const Request& req) {
  Route r;
  std::string_view path = req.path;
  if (path.rfind("/fhir", 0) != 0) return r;
  path.remove_prefix(5);
  const auto seg = segments(path);
  const std::string& m = req.method;
  const bool get = m == "GET" || m == "HEAD";
  if (seg.empty()) {
    r.kind = m == "POST" ? Route::Kind::transaction : Route::Kind::system_search;
    return r;
  }
  if (seg[0] == "metadata") {
    r.kind = Route::Kind::capabilities;
    return r;
  }
  if (seg[0] == "_history") {
    r.kind = Route::Kind::system_history;
    return r;
  }
  if (seg[0] == "$export") {
    r.kind = seg.size() == 1 ? Route::Kind::bulk_export : Route::Kind::other;
    return r;
  }
  if (seg[0] == "$export-status" || seg[0] == "$export-file") {
    const bool status = seg[0] == "$export-status";
    if (seg.size() == (status ? 2U : 3U)) {
      r.kind = status ? Route::Kind::bulk_status : Route::Kind::bulk_file;
      r.id = std::string(seg[1]);
      if (!status) r.member = std::string(seg[2]);
    }
    return r;
  }
  r.type = std::string(seg[0]);
  if (seg.size() == 1) {
    r.kind = get ? Route::Kind::type_search : m == "POST" ? Route::Kind::create : Route::Kind::conditional;
    return r;
  }
  if (seg.size() == 2) {
    if (seg[1] == "_history") {
      r.kind = Route::Kind::type_history;
    } else if (seg[1] == "_search") {
      r.kind = Route::Kind::type_search;
    } else if (seg[1] == "$merge" || seg[1] == "$unmerge") {
      r.kind = Route::Kind::merge;
    } else if (seg[1] == "$match") {
      r.kind = Route::Kind::match;
    } else if (seg[1] == "$validate") {
      r.kind = Route::Kind::validate;
    } else if (seg[1] == "$export") {
      r.kind = Route::Kind::bulk_export;
    } else {
      r.id = std::string(seg[1]);
      r.kind = get             ? Route::Kind::read
               : m == "PUT"    ? Route::Kind::update
               : m == "DELETE" ? Route::Kind::remove
               : m == "PATCH"  ? Route::Kind::patch
                               : Route::Kind::other;
    }
    return r;
  }
  r.id = std::string(seg[1]);
  if (seg.size() == 3 && seg[2] == "$validate") {
    r.kind = Route::Kind::validate;
  } else if (seg.size() == 3 && seg[2] == "$everything") {
    r.kind = Route::Kind::everything;
  } else if (seg.size() == 3 && seg[2] == "$export") {
    r.kind = Route::Kind::bulk_export;
  } else if (seg.size() == 3 && seg[2] == "$break-glass") {
    r.kind = Route::Kind::break_glass;
  } else if (seg.size() == 3 && seg[2] == "$resolve-match") {
    r.kind = Route::Kind::resolve;
  } else if (seg.size() == 3 && seg[2] != "_history") {
    r.kind = Route::Kind::compartment_search;
    r.member = std::string(seg[2]);
  } else if (seg.size() == 3) {
    r.kind = Route::Kind::instance_history;
  } else if (seg.size() == 4 && seg[2] == "_history") {
    r.kind = Route::Kind::vread;
  }
  return r;
}

AuditContext audit_context(const auth::Principal* p, const Request& req) {
  AuditContext c;
  c.address = req.peer;
  if (p == nullptr) {
    c.user = "anonymous";
    c.role = "none";
    return c;
  }
  c.user = p->subject;
  c.display = p->display;
  c.fhir_user = p->fhir_user;
  c.role = std::string(auth::role_code(p->role));
  c.organisation = p->organisation;
  c.client_id = p->client_id;
  return c;
}

namespace {

/// Bulk Data export: for integration systems (with system/ scopes), analysts and administrators,
/// never for patients or for professionals (who see records one patient at a time). Each type
/// exported must be readable by the role and the scopes; without `_type`, the export is narrowed
/// to the types the caller may read.
core::Result<Gate> admit_export(const Principal& who, const Route& route, const Request& req) {
  if (auth::is_patient_facing(who.role)) {
    return forbidden(
        "patients and proxies cannot export the region's records; your own record is at "
        "Patient/<id>/$everything");
  }
  if (who.role != auth::Role::integration && who.role != auth::Role::analyst && who.role != auth::Role::administrator) {
    return forbidden(fmt::format("bulk export is for integration systems, analysts and administrators, not the {} role",
                                 auth::role_title(who.role)));
  }
  const bool system_client = who.role == auth::Role::integration;
  if (system_client && !who.scopes.has_context(auth::ScopeContext::system)) {
    return forbidden("an integration system exports with system-level scopes (e.g. system/*.rs); granted: " +
                     who.scopes.to_string());
  }
  const auto context = system_client ? std::optional<auth::ScopeContext>(auth::ScopeContext::system) : std::nullopt;
  // Files are written as stored, never de-identified: an analyst exports only what identifies no
  // one (the directory and definitions), whatever else the role may see through the API.
  const auto shareable = [&](std::string_view type) {
    if (who.role != auth::Role::analyst) return true;
    const auto c = auth::resource_class(type);
    return c == auth::ResourceClass::directory || c == auth::ResourceClass::definitional;
  };
  const auto may_read = [&](std::string_view type) {
    return shareable(type) && auth::role_permits(who.role, type, Permission::read) &&
           who.scopes.permits(type, Permission::read, context) &&
           who.scopes.restrictions(type, Permission::read, context).empty();
  };
  const ExportLevel level = route.type == "Group"     ? ExportLevel::group
                            : route.type == "Patient" ? ExportLevel::patient
                                                      : ExportLevel::system;
  bool asked = false;
  for (const auto& [n, v] : req.query) {
    if (n == "includeAssociatedData" && !may_read("Provenance")) {
      return forbidden(
          "includeAssociatedData exports Provenance resources, which your role or scopes do not allow "
          "reading");
    }
    if (n != "_type") continue;
    asked = true;
    std::string_view s = v;
    while (!s.empty()) {
      const auto comma = s.find(',');
      const std::string t(s.substr(0, comma));
      s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
      if (!fhir::is_resource_type(t)) continue;  // the export reports it with its parameter
      if (!may_read(t)) {
        if (!shareable(t)) {
          return forbidden(
              fmt::format("analysts export directory and definitional resources only; {} resources "
                          "identify people and exports are not de-identified",
                          t));
        }
        if (auto e = check_permission(who, t, Permission::read)) return *e;
        return forbidden(fmt::format("the access token's system scopes do not allow reading {}", t));
      }
    }
  }
  Gate gate;
  if (!asked) {
    std::string types;
    for (const auto& t : default_export_types(level)) {
      if (!may_read(t)) continue;
      if (!types.empty()) types += ',';
      types += t;
    }
    if (types.empty()) return forbidden("none of the resource types this export covers is open to your role");
    Request narrowed = req;
    narrowed.query.emplace_back("_type", types);
    gate.narrowed = std::move(narrowed);
  }
  return gate;
}

}  // namespace

core::Result<Gate> admit(const Principal& who, const Route& route, const Request& req, store::Store& store,
                         CareRelationships& care) {
  Gate gate;
  const bool patient_facing = auth::is_patient_facing(who.role);
  const bool professional = auth::needs_relationship(who.role);
  // A professional opens a patient's record only with a care relationship or emergency access.
  const auto need_care = [&](const std::string& pid) -> core::Result<void> {
    if (!professional || pid.empty()) return core::ok();
    const auto d = care.decide(who, pid);
    if (!d.allowed) return forbidden(d.reason);
    gate.emergency = gate.emergency || d.emergency;
    return core::ok();
  };
  const auto need_care_for = [&](const std::string& body, const std::string& type,
                                 const std::string& id) -> core::Result<void> {
    if (!professional || !in_compartment_types(type)) return core::ok();
    boost::system::error_code ec;
    const json::value doc = json::parse(body, ec);
    if (ec || !doc.is_object()) return core::ok();  // the handler reports the syntax error
    for (const auto& pid : compartments_of(doc, type, id)) {
      if (auto r = need_care(pid); !r) return r;
    }
    return core::ok();
  };
  using K = Route::Kind;
  if (who.role == auth::Role::analyst) {
    if (route.kind == K::match || route.kind == K::merge || route.kind == K::resolve) {
      return forbidden("matching and linking people's records is identity work, not open to analysts");
    }
    auto params = req.query;
    if (req.method == "POST" && !req.body.empty() && req.path.ends_with("/_search")) {
      if (auto form = decode_query(req.body)) params.insert(params.end(), form->begin(), form->end());
    }
    if (auto e = identifying_query(params)) return *e;
    gate.deidentify = true;
  }
  const auto need = [&](std::string_view type, Permission p, bool restricted_ok = false) -> core::Result<void> {
    if (auto e = check_permission(who, type, p, restricted_ok)) return *e;
    return core::ok();
  };
  switch (route.kind) {
    case K::capabilities:
    case K::validate:
    case K::break_glass:
    case K::other:
      return gate;
    case K::system_search: {
      if (patient_facing) return forbidden("search your record one type at a time, e.g. Observation?code=...");
      std::vector<std::string> types;
      for (const auto& [n, v] : req.query) {
        if (n == "_type") {
          std::string_view s = v;
          while (!s.empty()) {
            const auto comma = s.find(',');
            types.emplace_back(s.substr(0, comma));
            s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
          }
        }
      }
      if (types.empty() && who.role != auth::Role::integration) {
        return forbidden("a search across every type is for integration systems only: name the types with _type");
      }
      if (professional &&
          std::any_of(types.begin(), types.end(), [](const std::string& t) { return in_compartment_types(t); })) {
        return forbidden("search one patient's record at a time, e.g. Observation?patient=<id>");
      }
      for (const auto& t : types) {
        if (auto r = need(t, Permission::search); !r) return r.error();
      }
      gate.filter_entries = true;
      return gate;
    }
    case K::system_history:
      if (who.role != auth::Role::integration || !who.scopes.permits("*", Permission::read)) {
        return forbidden("the history of the whole server is for integration systems with system/*.rs only");
      }
      return gate;
    case K::transaction: {
      if (patient_facing) return forbidden("patients and proxies cannot submit batch or transaction Bundles");
      auto targets = bundle_targets(req);
      if (!targets) return targets.error();
      if (professional) {
        boost::system::error_code ec;
        const json::value doc = json::parse(req.body, ec);
        const auto* entries = !ec && doc.is_object() ? doc.get_object().if_contains("entry") : nullptr;
        if (entries != nullptr && entries->is_array()) {
          for (const auto& e : entries->get_array()) {
            const auto* res = e.is_object() ? e.get_object().if_contains("resource") : nullptr;
            if (res == nullptr || !res->is_object()) continue;
            const auto* rt = res->get_object().if_contains("resourceType");
            if (rt == nullptr || !rt->is_string()) continue;
            const std::string type(rt->get_string());
            if (!in_compartment_types(type)) continue;
            for (const auto& pid : compartments_of(*res, type, {})) {
              if (pid.starts_with("urn:")) continue;  // a Patient created in the same Bundle
              if (auto r = need_care(pid); !r) return r.error();
            }
          }
        }
      }
      for (const auto& [method, type] : *targets) {
        if (type.empty()) continue;
        if (type == "AuditEvent") return forbidden("the audit trail is written by the server only");
        if (type == "Task" && who.role == auth::Role::data_quality_officer) {
          return forbidden("search review Tasks directly (GET Task?...), not inside a Bundle");
        }
        if (auto r = need(type, permission_for_method(method)); !r) return r.error();
      }
      gate.filter_entries = true;
      return gate;
    }
    case K::type_search: {
      if (auto r = need(route.type, Permission::search, true); !r) return r.error();
      auto granted = restriction_search(who, route.type);
      if (!granted) return granted.error();
      const bool contained = searches_contained(req);
      // Contained resources are in their containers' compartments: a patient's search for them is
      // run inside the patient's record, whatever the type.
      if (patient_facing && (in_compartment_types(route.type) || contained)) {
        Request narrowed = req;
        if (req.method == "POST" && !req.body.empty()) {
          // A POSTed search carries its parameters in the body; the narrowed GET keeps them.
          auto form = decode_query(req.body);
          if (!form) return core::Error::invalid("the form body is not a valid query string");
          for (auto& p : *form) narrowed.query.push_back(std::move(p));
          narrowed.body.clear();
        }
        narrowed.method = "GET";
        auto pid = chosen_patient(who, narrowed, route.type);
        if (!pid) return pid.error();
        if (!allowed_type(who, *pid, route.type)) return not_shared(route.type);
        for (auto& p : *granted) narrowed.query.push_back(std::move(p));
        narrowed.path = fmt::format("/fhir/Patient/{}/{}", *pid, route.type);
        exclude_hidden_labels(who, narrowed);
        gate.narrowed = std::move(narrowed);
        gate.patient = *pid;
        gate.filter_entries = true;
        return gate;
      }
      for (const auto& [n, v] : req.query) {
        if (n == "patient" || n == "subject" || n == "subject:Patient") gate.patient = patient_id_of(v);
      }
      if (professional && route.type != "Patient" && in_compartment_types(route.type)) {
        if (gate.patient.empty()) {
          return forbidden(
              fmt::format("search one patient's record at a time: add patient=<id> to the {} search", route.type));
        }
        if (auto r = need_care(gate.patient); !r) return r.error();
      }
      if (professional && contained && counts_only(req)) {
        // The matches are checked one by one against their containers, which a count cannot be.
        return forbidden(fmt::format(
            "a count of contained {0} resources would include records you may not open: count within one patient's "
            "record (Patient/<id>/{0}?...&_contained=true&_summary=count)",
            route.type));
      }
      Request narrowed = req;
      const bool hidden = exclude_hidden_labels(who, narrowed);
      if (narrow_to_review_tasks(who, route.type, narrowed) || hidden || !granted->empty()) {
        for (auto& p : *granted) narrowed.query.push_back(std::move(p));
        gate.narrowed = std::move(narrowed);
      }
      gate.filter_entries = patient_facing || has_include(req) || contained;
      return gate;
    }
    case K::type_history:
      if (patient_facing || professional) {
        return forbidden("the history of a whole resource type is for integration systems and administrators only");
      }
      if (auto r = need(route.type, Permission::search); !r) return r.error();
      gate.filter_entries = true;
      return gate;
    case K::create: {
      if (route.type == "AuditEvent") return forbidden("the audit trail is written by the server only");
      if (auto r = need(route.type, Permission::create); !r) return r.error();
      if (patient_facing && in_compartment_types(route.type)) {
        boost::system::error_code ec;
        const json::value doc = json::parse(req.body, ec);
        if (!ec && doc.is_object() && !patient_may_see(who, doc.get_object())) {
          return forbidden("patients and proxies can add to the records they have access to only");
        }
      }
      if (route.type != "Patient") {
        if (auto r = need_care_for(req.body, route.type, {}); !r) return r.error();
      }
      return gate;
    }
    case K::conditional:
      if (patient_facing || professional) {
        return forbidden("conditional changes are for integration systems; change a resource by its id");
      }
      if (route.type == "AuditEvent") return forbidden("the audit trail is append-only");
      if (auto r = need(route.type, permission_for_method(req.method)); !r) return r.error();
      return gate;
    case K::merge:
    case K::resolve:
      if (who.role != auth::Role::data_quality_officer && who.role != auth::Role::integration) {
        return forbidden(route.kind == K::merge
                             ? "merging and unmerging records is for data-quality officers"
                             : "deciding whether two records are the same person is for data-quality officers");
      }
      if (auto r = need("Patient", Permission::update); !r) return r.error();
      if (route.kind == K::resolve) {
        if (route.type != "Task") return core::Error::not_found("$resolve-match is an operation on a review Task");
        if (auto r = need("Task", Permission::read); !r) return r.error();
      }
      return gate;
    case K::match:
      if (patient_facing) return forbidden("matching across people's records is not available to patients");
      if (auto r = need("Patient", Permission::search); !r) return r.error();
      return gate;
    case K::read:
    case K::vread:
    case K::instance_history:
      // A granular grant is checked against the current version: a read only.
      if (auto r = need(route.type, Permission::read, route.kind == K::read); !r) return r.error();
      if (route.kind == K::read && !within_grant(store, who, route.type, route.id)) {
        return forbidden(fmt::format("this {} is outside what the access token's granular scope allows ({})",
                                     route.type, who.scopes.to_string()));
      }
      gate.check_compartment = patient_facing || (professional && route.type != "Patient");
      gate.filter_entries = route.kind == K::instance_history;
      if (route.type == "Patient") gate.patient = route.id;
      return gate;
    case K::update:
    case K::patch:
    case K::remove: {
      if (route.type == "AuditEvent") return forbidden("the audit trail is append-only");
      const Permission p = route.kind == K::remove ? Permission::remove : Permission::update;
      if (auto r = need(route.type, p); !r) return r.error();
      if (professional && in_compartment_types(route.type)) {
        if (route.type == "Patient") {
          if (auto r = need_care(route.id); !r) return r.error();
        } else if (auto cur = store.read(route.type, route.id); cur && !cur->compartment.empty()) {
          if (auto r = need_care(patient_id_of(cur->compartment)); !r) return r.error();
        }
        if (route.kind == K::update) {
          if (auto r = need_care_for(req.body, route.type, route.id); !r) return r.error();
        }
      }
      if (patient_facing && in_compartment_types(route.type)) {
        auto cur = store.read(route.type, route.id);
        if (cur && !cur->compartment.empty() && !allowed_patient(who, patient_id_of(cur->compartment))) {
          return forbidden("patients and proxies can change the records they have access to only");
        }
        if (cur && cur->compartment.empty() && route.type != "Patient") {
          return forbidden("patients and proxies can change the records they have access to only");
        }
        if (route.type == "Patient" && !allowed_patient(who, route.id)) {
          return forbidden("patients and proxies can change the records they have access to only");
        }
        if (route.kind == K::update) {
          boost::system::error_code ec;
          const json::value doc = json::parse(req.body, ec);
          if (!ec && doc.is_object() && !patient_may_see(who, doc.get_object())) {
            return forbidden("patients and proxies can change the records they have access to only");
          }
        }
      }
      return gate;
    }
    case K::bulk_export:
      return admit_export(who, route, req);
    case K::bulk_status:
    case K::bulk_file:
      return gate;  // only the caller who started the export may use these (checked with the job)
    case K::everything: {
      if (auto r = need("Patient", Permission::read); !r) return r.error();
      if (patient_facing && !allowed_patient(who, route.id)) {
        return forbidden("you can see only the records you have access to");
      }
      if (auto r = need_care(route.id); !r) return r.error();
      std::vector<std::string> asked;
      Request narrowed = req;
      narrowed.query.clear();
      for (const auto& [n, v] : req.query) {
        if (n == "_type") {
          std::string_view s = v;
          while (!s.empty()) {
            const auto comma = s.find(',');
            asked.emplace_back(s.substr(0, comma));
            s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
          }
        } else {
          narrowed.query.emplace_back(n, v);
        }
      }
      const std::string types = readable_compartment_types(who, route.id, asked);
      if (types.empty()) return forbidden("none of the record's resource types is open to your role");
      narrowed.query.emplace_back("_type", types);
      gate.narrowed = std::move(narrowed);
      gate.patient = route.id;
      gate.filter_entries = true;
      return gate;
    }
    case K::compartment_search: {
      if (auto r = need(route.member, Permission::search, true); !r) return r.error();
      auto granted = restriction_search(who, route.member);
      if (!granted) return granted.error();
      if (patient_facing && (route.type != "Patient" || !allowed_patient(who, route.id))) {
        return forbidden("you can search only the records you have access to");
      }
      if (patient_facing && !allowed_type(who, route.id, route.member)) return not_shared(route.member);
      if (auto r = need_care(route.id); !r) return r.error();
      gate.patient = route.id;
      Request narrowed = req;
      const bool hidden = exclude_hidden_labels(who, narrowed);
      if (narrow_to_review_tasks(who, route.member, narrowed) || hidden || !granted->empty()) {
        for (auto& p : *granted) narrowed.query.push_back(std::move(p));
        gate.narrowed = std::move(narrowed);
      }
      gate.filter_entries = patient_facing || has_include(req) || searches_contained(req);
      return gate;
    }
  }
  return gate;
}

namespace {
void enforce_access(const Principal& who, Gate& gate, const Route& route, const Request& req, Response& response,
                    CareRelationships& care) {
  if (response.status >= 300 && response.status != 304) return;
  const bool patient_facing = auth::is_patient_facing(who.role);
  const bool professional = auth::needs_relationship(who.role);
  if (gate.check_compartment && route.kind != Route::Kind::instance_history && in_compartment_types(route.type)) {
    if (patient_facing) {
      const bool ok = route.type == "Patient"
                          ? allowed_patient(who, route.id)
                          : !response.compartment.empty() && allowed_patient(who, patient_id_of(response.compartment));
      if (!ok) {
        response = error_response(forbidden("this record is not one you have access to"), req);
        return;
      }
      if (route.type != "Patient" && !allowed_type(who, patient_id_of(response.compartment), route.type)) {
        response = error_response(not_shared(route.type), req);
        return;
      }
    } else if (professional && !response.compartment.empty()) {
      const std::string pid = patient_id_of(response.compartment);
      const auto d = care.decide(who, pid);
      if (!d.allowed) {
        response = error_response(forbidden(d.reason), req);
        return;
      }
      gate.emergency = gate.emergency || d.emergency;
      gate.patient = pid;
    }
  }
  if (response.status == 200 && route.kind != Route::Kind::instance_history &&
      (route.kind == Route::Kind::read || route.kind == Route::Kind::vread) &&
      response.body.find("\"security\"") != std::string::npos) {
    boost::system::error_code pec;
    const json::value one = json::parse(response.body, pec);
    if (!pec && one.is_object() && !labels_allow(who, one.get_object())) {
      response = error_response(forbidden("this entry is restricted and your role cannot see it"), req);
      return;
    }
  }
  if (response.status == 200 && route.type == "Task" && who.role == auth::Role::data_quality_officer &&
      (route.kind == Route::Kind::read || route.kind == Route::Kind::vread)) {
    boost::system::error_code pec;
    const json::value one = json::parse(response.body, pec);
    if (pec || !one.is_object() || !is_review_match(one.get_object())) {
      response = error_response(
          forbidden("a data-quality officer sees the review Tasks of the identity service only, not this Task"), req);
      return;
    }
  }
  if (!gate.filter_entries || response.status != 200) return;
  boost::system::error_code ec;
  json::value doc = json::parse(response.body, ec);
  if (ec || !doc.is_object()) return;
  auto* entries = doc.get_object().if_contains("entry");
  if (entries == nullptr || !entries->is_array()) return;
  json::array kept;
  bool removed = false;
  bool removed_match = false;
  for (auto& e : entries->get_array()) {
    const json::object* res = nullptr;
    json::value container;  // the resource a contained match is in: it is seen only if that is
    bool keep = true;
    if (e.is_object()) {
      if (const auto* r = e.get_object().if_contains("resource"); r != nullptr && r->is_object())
        res = &r->get_object();
      const auto* full = e.get_object().if_contains("fullUrl");
      const std::string_view url = full != nullptr && full->is_string() ? std::string_view(full->get_string()) : "";
      if (const auto hash = url.find('#'); res != nullptr && hash != std::string_view::npos) {
        // [base]/Type/id#local (R4 search.html#contained)
        const auto id_at = url.rfind('/', hash);
        const auto type_at =
            id_at == std::string_view::npos || id_at == 0 ? std::string_view::npos : url.rfind('/', id_at - 1);
        res = nullptr;
        if (type_at != std::string_view::npos) {
          auto stored = care.store().read(std::string(url.substr(type_at + 1, id_at - type_at - 1)),
                                          std::string(url.substr(id_at + 1, hash - id_at - 1)));
          boost::system::error_code cec;
          if (stored) container = json::parse(stored->json, cec);
          if (stored && !cec && container.is_object()) res = &container.get_object();
        }
        keep = res != nullptr;
      }
    }
    if (res != nullptr) {
      std::string type;
      if (const auto* rt = res->if_contains("resourceType"); rt != nullptr && rt->is_string()) {
        type = std::string(rt->get_string());
      }
      if (type != "OperationOutcome" && type != "Bundle") {
        keep = auth::role_permits(who.role, type, Permission::read) && who.scopes.permits(type, Permission::read);
        if (keep && !who.scopes.restrictions(type, Permission::read).empty()) {
          const auto* v = res->if_contains("id");
          keep = v != nullptr && v->is_string() && within_grant(care.store(), who, type, std::string(v->get_string()));
        }
        if (keep) keep = labels_allow(who, *res);
        if (keep && type == "Task" && who.role == auth::Role::data_quality_officer) keep = is_review_match(*res);
        if (keep && patient_facing) keep = patient_may_see(who, *res);
        if (keep && professional && type != "Patient" && in_compartment_types(type)) {
          std::string id;
          if (const auto* v = res->if_contains("id"); v != nullptr && v->is_string()) id = std::string(v->get_string());
          const auto comps = compartments_of(*res, type, id);
          keep = std::any_of(comps.begin(), comps.end(),
                             [&](const std::string& pid) { return care.decide(who, pid).allowed; });
        }
      }
    }
    if (keep) {
      kept.push_back(std::move(e));
    } else {
      removed = true;
      const auto* search = e.is_object() ? e.get_object().if_contains("search") : nullptr;
      const auto* mode = search != nullptr && search->is_object() ? search->get_object().if_contains("mode") : nullptr;
      removed_match = removed_match || (mode != nullptr && mode->is_string() && mode->get_string() == "match");
    }
  }
  if (!removed) return;
  doc.get_object()["entry"] = std::move(kept);
  // A total that counted contained matches the caller may not see would tell of them.
  if (removed_match && searches_contained(req)) doc.get_object().erase("total");
  response.body = format_body(json::serialize(doc), req);
}
}  // namespace

void enforce(const Principal& who, Gate& gate, const Route& route, const Request& req, Response& response,
             CareRelationships& care) {
  enforce_access(who, gate, route, req, response, care);
  if (!gate.deidentify || response.status != 200 || response.body.empty()) return;
  boost::system::error_code ec;
  json::value doc = json::parse(response.body, ec);
  if (ec || !doc.is_object()) return;
  fhir::deidentify(doc.get_object());
  response.body = format_body(json::serialize(doc), req);
}

audit::Event read_event(const AuditContext& who, const Route& route, const Request& req, const Response& response,
                        const std::string& patient) {
  audit::Event e;
  e.recorded = core::now_micros();
  e.type = "rest";
  e.subtype = response.interaction;
  using K = Route::Kind;
  switch (route.kind) {
    case K::everything:
    case K::match:
    case K::validate:
    case K::merge:
    case K::resolve:
      e.action = 'E';
      e.subtype = "operation";
      break;
    case K::bulk_export:
      e.action = 'E';
      e.subtype = "export";
      break;
    case K::bulk_status:
      e.subtype = req.method == "DELETE" ? "export-cancel" : "export-status";
      e.action = req.method == "DELETE" ? 'D' : 'R';
      break;
    case K::bulk_file:
      e.action = 'R';
      e.subtype = "export-file";
      break;
    default:
      e.action = 'R';
  }
  e.outcome = response.status < 400 ? 0 : response.status < 500 ? 4 : 8;
  if (response.status >= 400) e.outcome_text = fmt::format("HTTP {}", response.status);
  e.user = who.user;
  e.user_display = who.display;
  e.fhir_user = who.fhir_user;
  e.role = who.role;
  e.organisation = who.organisation;
  e.client_id = who.client_id;
  e.address = who.address;
  e.patient = patient;
  if (e.patient.empty() && !response.compartment.empty()) e.patient = patient_id_of(response.compartment);
  switch (route.kind) {
    case K::read:
    case K::instance_history:
    case K::everything:
      e.entity = route.type + "/" + route.id;
      break;
    case K::vread: {
      const auto pos = req.path.find(route.type + "/" + route.id);
      e.entity = pos == std::string::npos ? route.type + "/" + route.id : req.path.substr(pos);
      break;
    }
    case K::compartment_search:
      e.entity = route.member;
      e.query = req.raw_query;
      break;
    default:
      e.entity = route.type;
      e.query = req.raw_query;
  }
  return e;
}

namespace {

/// Forwards to a transaction and notes each version stored, for the audit.
class RecordingTransaction final : public store::Transaction {
 public:
  explicit RecordingTransaction(store::Transaction& inner) : inner_(inner) {}

  core::Result<std::optional<store::VersionInfo>> current_info(const std::string& type,
                                                               const std::string& id) override {
    return inner_.current_info(type, id);
  }
  core::Result<std::optional<store::StoredResource>> current(const std::string& type, const std::string& id) override {
    return inner_.current(type, id);
  }
  core::Result<std::vector<std::string>> find_ids(const std::string& type,
                                                  const std::vector<store::Criterion>& criteria,
                                                  std::size_t limit) override {
    return inner_.find_ids(type, criteria, limit);
  }
  core::Result<std::vector<std::string>> search_ids(const search::Plan& plan) override {
    return inner_.search_ids(plan);
  }
  core::Result<void> put(const store::NewVersion& v) override {
    auto r = inner_.put(v);
    if (r) written_.push_back({v.info, v.method, v.compartment});
    return r;
  }
  core::Result<void> replace_index(const std::string& type, const std::string& id,
                                   const search::IndexRows& rows) override {
    return inner_.replace_index(type, id, rows);
  }
  core::Result<void> set_meta(const std::string& key, const std::string& value) override {
    return inner_.set_meta(key, value);
  }
  core::Result<std::optional<std::string>> get_meta(const std::string& key) override { return inner_.get_meta(key); }
  core::Result<void> delete_meta(const std::string& key) override { return inner_.delete_meta(key); }
  core::Result<void> append_audit(const store::AuditRecord& record) override { return inner_.append_audit(record); }
  core::Result<void> lock_names(const std::string& scope, const std::vector<std::string>& names) override {
    return inner_.lock_names(scope, names);
  }

  struct Written {
    store::VersionInfo info;
    std::string method;
    std::string compartment;
  };
  [[nodiscard]] const std::vector<Written>& written() const { return written_; }

 private:
  store::Transaction& inner_;
  std::vector<Written> written_;
};

}  // namespace

store::Store::WriteWork audited_work(store::Store::WriteWork work, std::shared_ptr<const AuditContext> who,
                                     std::string subtype_hint) {
  return [work = std::move(work), who = std::move(who), hint = std::move(subtype_hint)](store::Transaction& t) {
    RecordingTransaction rt(t);
    auto r = work(rt);
    if (!r) return r;
    if (rt.written().empty()) return r;
    std::vector<audit::Event> events;
    events.reserve(rt.written().size());
    const core::Micros now = core::now_micros();
    for (const auto& w : rt.written()) {
      audit::Event e;
      e.recorded = now;
      e.type = "rest";
      if (w.info.deleted) {
        e.action = 'D';
        e.subtype = "delete";
      } else if (w.info.version == 1) {
        e.action = 'C';
        e.subtype = "create";
      } else {
        e.action = 'U';
        e.subtype = w.method == "PATCH" ? "patch" : "update";
      }
      if (!hint.empty()) e.subtype = hint;
      e.user = who->user;
      e.user_display = who->display;
      e.fhir_user = who->fhir_user;
      e.role = who->role;
      e.organisation = who->organisation;
      e.client_id = who->client_id;
      e.address = who->address;
      e.purpose = who->purpose;
      e.reason = who->reason;
      e.entity = fmt::format("{}/{}/_history/{}", w.info.type, w.info.id, w.info.version);
      if (w.compartment.rfind("Patient/", 0) == 0) e.patient = w.compartment.substr(8);
      events.push_back(std::move(e));
    }
    return audit::append(t, events);
  };
}

namespace {

/// Removes staff personal details from an AuditEvent shown to a patient: the role and the
/// organisation stay, the person's name and identifiers go.
void redact_for_patient(json::object& ev) {
  auto* agents = ev.if_contains("agent");
  if (agents == nullptr || !agents->is_array()) return;
  for (auto& a : agents->get_array()) {
    if (!a.is_object()) continue;
    auto* who = a.get_object().if_contains("who");
    if (who == nullptr || !who->is_object()) continue;
    auto& w = who->get_object();
    const auto* ref = w.if_contains("reference");
    const bool organisation = ref != nullptr && ref->is_string() && ref->get_string().starts_with("Organization/");
    if (organisation) continue;
    w.erase("identifier");
    w.erase("display");
    if (ref != nullptr && ref->is_string() && !ref->get_string().starts_with("Patient/")) w.erase("reference");
  }
  ev.erase("source");
  if (auto* agents2 = ev.if_contains("agent"); agents2 != nullptr && agents2->is_array()) {
    for (auto& a : agents2->get_array()) {
      if (a.is_object()) a.get_object().erase("network");
    }
  }
}

}  // namespace

Response audit_search(store::Store& store, const auth::Principal* who, const Request& req) {
  const bool patient_facing = who != nullptr && auth::is_patient_facing(who->role);
  if (who != nullptr && !auth::role_permits(who->role, "AuditEvent", Permission::search)) {
    return error_response(
        forbidden(fmt::format("the {} role may not read the audit trail", auth::role_title(who->role))), req);
  }
  if (who != nullptr && !who->scopes.permits("AuditEvent", Permission::search)) {
    return error_response(forbidden("the access token's scopes do not allow reading AuditEvent"), req);
  }
  store::AuditQuery q;
  q.count = 50;
  for (const auto& [name, value] : req.query) {
    if (name == "patient" || name == "entity" || name == "agent:Patient") {
      q.patient = patient_id_of(value);
    } else if (name == "_count") {
      std::size_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size() || n > 1000) {
        return error_response(core::Error::invalid("_count must be a whole number up to 1000", "_count"), req);
      }
      q.count = n;
    } else if (name == "_before") {
      std::int64_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || p != value.data() + value.size()) {
        return error_response(core::Error::invalid("_before must be an entry number", "_before"), req);
      }
      q.before_seq = n;
    } else if (name == "date") {
      std::string_view v = value;
      if (v.starts_with("ge")) v.remove_prefix(2);
      auto t = core::parse_fhir_datetime(v);
      if (!t) return error_response(core::Error::invalid("date must be ge<instant>", "date"), req);
      q.since = *t;
    } else if (name != "_format" && name != "_pretty" && name != "_sort") {
      return error_response(
          core::Error::invalid(
              fmt::format("the audit trail is searched by patient, date, _count and _before, not '{}'", name), name),
          req);
    }
  }
  if (patient_facing) {
    if (q.patient.empty() && who->patients.size() == 1) q.patient = who->patients.front();
    if (q.patient.empty() || !allowed_patient(*who, q.patient) || !allowed_type(*who, q.patient, "AuditEvent")) {
      return error_response(forbidden("you can see who accessed only the records you have access to"), req);
    }
  }
  const std::size_t page = q.count;
  q.count = page + 1;
  auto rows = store.audit_events(q);
  if (!rows) return error_response(rows.error(), req);
  const bool more = rows->size() > page;
  if (more) rows->pop_back();
  json::object bundle{{"resourceType", "Bundle"},
                      {"id", core::new_uuid()},
                      {"meta", json::object{{"lastUpdated", core::format_instant(core::now_micros())}}},
                      {"type", "searchset"}};
  json::array links;
  std::string self = req.base_url + "/AuditEvent";
  if (!req.raw_query.empty()) self += "?" + req.raw_query;
  links.push_back(json::object{{"relation", "self"}, {"url", self}});
  if (more && !rows->empty()) {
    std::string next = req.base_url + "/AuditEvent?";
    if (!q.patient.empty()) next += "patient=" + q.patient + "&";
    next += fmt::format("_count={}&_before={}", page, rows->back().seq);
    links.push_back(json::object{{"relation", "next"}, {"url", next}});
  }
  bundle["link"] = std::move(links);
  json::array entries;
  for (const auto& row : *rows) {
    auto text = audit::render(row);
    if (!text) continue;
    boost::system::error_code ec;
    json::value ev = json::parse(*text, ec);
    if (ec || !ev.is_object()) continue;
    if (patient_facing) redact_for_patient(ev.get_object());
    entries.push_back(json::object{{"fullUrl", fmt::format("{}/AuditEvent/{}", req.base_url, row.seq)},
                                   {"resource", std::move(ev)},
                                   {"search", json::object{{"mode", "match"}}}});
  }
  bundle["entry"] = std::move(entries);
  Response r;
  r.body = format_body(json::serialize(bundle), req);
  r.interaction = "search-type";
  if (!q.patient.empty()) r.compartment = "Patient/" + q.patient;
  return r;
}

}  // namespace ucr::api::detail

namespace ucr::api::detail {

Response break_glass(store::Store& store, const auth::Principal* who, const Request& req, const std::string& patient_id,
                     CareRelationships& care, const std::shared_ptr<const AuditContext>& audit_who) {
  if (req.method != "POST") {
    return error_response(core::Error::make(405, "not-supported", "$break-glass is POSTed with a reason"), req);
  }
  if (who == nullptr || !auth::needs_relationship(who->role)) {
    return error_response(forbidden("emergency access is for health and care professionals who treat patients"), req);
  }
  auto body = parse_json(req.body, "Parameters");
  if (!body) return error_response(body.error(), req);
  std::string reason;
  if (const auto* params = body->is_object() ? body->get_object().if_contains("parameter") : nullptr;
      params != nullptr && params->is_array()) {
    for (const auto& p : params->get_array()) {
      if (!p.is_object()) continue;
      const auto* name = p.get_object().if_contains("name");
      const auto* value = p.get_object().if_contains("valueString");
      if (name != nullptr && *name == "reason" && value != nullptr && value->is_string()) {
        reason = std::string(value->get_string());
      }
    }
  }
  if (reason.size() < 10 || reason.size() > 1000) {
    return error_response(core::Error::invalid("state the reason for emergency access (10 to 1000 characters) in the "
                                               "'reason' parameter (valueString)",
                                               "Parameters.parameter.where(name='reason')"),
                          req);
  }
  if (auto p = store.read("Patient", patient_id); !p) return error_response(p.error(), req);
  const std::int64_t now = core::now_micros() / 1'000'000;
  const std::int64_t until = now + CareRelationships::kEmergencySeconds;
  // A review Task for the information-governance officer, in the same transaction as the grant.
  json::object task{
      {"resourceType", "Task"},
      {"status", "requested"},
      {"intent", "order"},
      {"priority", "urgent"},
      {"code", json::object{{"coding", json::array{json::object{{"system", kIdentityOperationSystem},
                                                                {"code", "review-emergency-access"},
                                                                {"display", "Review emergency access to a record"}}}}}},
      {"description",
       fmt::format("{} ({}) used emergency access: {}", who->display.empty() ? who->subject : who->display,
                   auth::role_title(who->role), reason)},
      {"for", json::object{{"reference", "Patient/" + patient_id}}},
      {"authoredOn", core::format_instant(core::now_micros())},
      {"restriction", json::object{{"period", json::object{{"end", core::format_instant(until * 1'000'000)}}}}}};
  if (!who->fhir_user.empty()) task["requester"] = json::object{{"reference", who->fhir_user}};
  const PreparedResource prepared = prepare(task);
  AuditContext ctx = audit_who ? *audit_who : audit_context(who, req);
  ctx.purpose = "ETREAT";
  ctx.reason = reason;
  const std::string key = fmt::format("btg:{}:{}", who->subject, patient_id);
  store::Store::WriteWork work = [prepared, key, until, ctx, patient_id](store::Transaction& t) -> core::Result<void> {
    if (auto r = t.set_meta(key, std::to_string(until)); !r) return r;
    auto created = op_create(t, "Task", prepared, {});
    if (!created) return created.error();
    audit::Event e;
    e.recorded = core::now_micros();
    e.type = "110113";
    e.subtype = "break-glass";
    e.action = 'E';
    e.user = ctx.user;
    e.user_display = ctx.display;
    e.fhir_user = ctx.fhir_user;
    e.role = ctx.role;
    e.organisation = ctx.organisation;
    e.client_id = ctx.client_id;
    e.address = ctx.address;
    e.patient = patient_id;
    e.entity = "Patient/" + patient_id;
    e.purpose = "ETREAT";
    e.reason = ctx.reason;
    return audit::append(t, {e});
  };
  auto w = store.write(audit_who ? audited_work(std::move(work), std::make_shared<const AuditContext>(ctx), {}) : work);
  if (!w) return error_response(w.error(), req);
  care.forget(who->subject, patient_id);
  json::object out{
      {"resourceType", "Parameters"},
      {"parameter",
       json::array{
           json::object{{"name", "expires"}, {"valueInstant", core::format_instant(until * 1'000'000)}},
           json::object{{"name", "patient"}, {"valueReference", json::object{{"reference", "Patient/" + patient_id}}}},
           json::object{{"name", "audited"}, {"valueBoolean", true}}}}};
  Response r;
  r.body = format_body(json::serialize(out), req);
  r.interaction = "operation";
  return r;
}

}  // namespace ucr::api::detail
