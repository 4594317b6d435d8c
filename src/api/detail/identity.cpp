#include "api/detail/identity.hpp"

#include "api/detail/format.hpp"
#include "api/detail/ops.hpp"
#include "api/detail/respond.hpp"
#include "mpi/blocking.hpp"
#include "mpi/matcher.hpp"
#include "mpi/nhs_number.hpp"
#include "mpi/record.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace ucr::api::detail {
namespace {

namespace json = boost::json;

constexpr const char* kMatchGradeUrl = "http://hl7.org/fhir/StructureDefinition/match-grade";
constexpr const char* kExplanationUrl = "https://ucr.nhs.example/fhir/StructureDefinition/match-explanation";
constexpr std::size_t kDefaultCount = 10;
constexpr std::size_t kMaxCount = 100;
// Candidates scored at most: blocks on common keys (a birth date) are large; the best candidates
// share several keys and are scored first.
constexpr std::size_t kMaxCandidates = 2000;

core::Error bad(const std::string& why, const std::string& where = {}) { return core::Error::invalid(why, where); }

struct MatchInput {
  json::object patient;
  bool only_certain = false;
  std::size_t count = kDefaultCount;
};

core::Result<MatchInput> read_input(const Request& req) {
  auto doc = parse_json(req.body, "request body");
  if (!doc) return doc.error();
  if (!doc->is_object()) return bad("$match takes a Parameters resource (or a Patient)");
  const auto& o = doc->get_object();
  const auto* rt = o.if_contains("resourceType");
  MatchInput in;
  if (rt != nullptr && rt->is_string() && rt->get_string() == "Patient") {
    in.patient = o;
    return in;
  }
  if (rt == nullptr || !rt->is_string() || rt->get_string() != "Parameters") {
    return bad("$match takes a Parameters resource (or a Patient)", "resourceType");
  }
  const auto* params = o.if_contains("parameter");
  bool have_patient = false;
  if (params != nullptr && params->is_array()) {
    for (std::size_t i = 0; i < params->get_array().size(); ++i) {
      const auto* p = params->get_array()[i].if_object();
      if (p == nullptr) continue;
      const auto* name = p->if_contains("name");
      const std::string n = name != nullptr && name->is_string() ? std::string(name->get_string()) : "";
      const std::string where = fmt::format("Parameters.parameter[{}]", i);
      if (n == "resource") {
        const auto* r = p->if_contains("resource");
        const auto* rrt = r != nullptr && r->is_object() ? r->get_object().if_contains("resourceType") : nullptr;
        if (rrt == nullptr || !rrt->is_string() || rrt->get_string() != "Patient") {
          return bad("the resource parameter must hold a Patient", where + ".resource");
        }
        in.patient = r->get_object();
        have_patient = true;
      } else if (n == "onlyCertainMatches") {
        const auto* v = p->if_contains("valueBoolean");
        if (v == nullptr || !v->is_bool()) return bad("onlyCertainMatches takes valueBoolean", where);
        in.only_certain = v->get_bool();
      } else if (n == "count") {
        const auto* v = p->if_contains("valueInteger");
        if (v == nullptr || !v->is_int64() || v->get_int64() < 1) {
          return bad("count takes a positive valueInteger", where);
        }
        in.count = std::min<std::size_t>(static_cast<std::size_t>(v->get_int64()), kMaxCount);
      } else {
        return bad(fmt::format("$match has no parameter '{}'", n), where + ".name");
      }
    }
  }
  if (!have_patient) return bad("$match needs a resource parameter with the Patient to match");
  return in;
}

json::object coded_extension(const char* url, std::string_view code) {
  return json::object{{"url", url}, {"valueCode", code}};
}

/// The explanation as an extension a UI can render: one part per field (level, both values, weight).
json::object explanation_extension(const mpi::Explanation& x) {
  json::array parts;
  for (const auto& f : x.fields) {
    parts.push_back(
        json::object{{"url", std::string(mpi::field_name(f.field))},
                     {"valueString", fmt::format("{} ({:+.2f}): '{}' / '{}'", f.level, f.weight, f.a, f.b)}});
  }
  if (!x.result.cap.empty()) parts.push_back(json::object{{"url", "cap"}, {"valueString", x.result.cap}});
  parts.push_back(json::object{{"url", "weight"}, {"valueDecimal", x.result.weight}});
  return json::object{{"url", kExplanationUrl}, {"extension", std::move(parts)}};
}

}  // namespace

core::Result<void> canonicalise_identifiers(json::object& resource) {
  auto* ids = resource.if_contains("identifier");
  if (ids == nullptr || !ids->is_array()) return core::ok();
  auto& arr = ids->get_array();
  for (std::size_t i = 0; i < arr.size(); ++i) {
    auto* id = arr[i].if_object();
    if (id == nullptr) continue;
    const auto* system = id->if_contains("system");
    if (system == nullptr || !system->is_string() || system->get_string() != mpi::kNhsNumberSystem) continue;
    auto* value = id->if_contains("value");
    const std::string type(resource.at("resourceType").as_string());
    if (value == nullptr || !value->is_string()) {
      return bad("an NHS number identifier needs a value", fmt::format("{}.identifier[{}].value", type, i));
    }
    auto canonical = mpi::canonicalise_nhs_number(value->get_string());
    if (!canonical) {
      return bad(fmt::format("'{}' is not a valid NHS number: {}", std::string_view(value->get_string()),
                             canonical.error().message()),
                 fmt::format("{}.identifier[{}].value", type, i));
    }
    *value = *canonical;
  }
  return core::ok();
}

void add_match_keys(const json::value& patient, search::IndexRows& rows) {
  const auto* o = patient.if_object();
  if (o == nullptr) return;
  auto record = mpi::record_from_patient(*o);
  if (!record) return;
  for (auto& key : mpi::blocking_keys(*record)) {
    rows.tokens.push_back(search::TokenRow{kMatchKeyParam, "", std::move(key), ""});
  }
}

Response match_patient(store::Store& store, const ApiOptions& /*options*/, const Request& req) {
  auto in = read_input(req);
  if (!in) return error_response(in.error(), req);
  auto query = mpi::record_from_patient(in->patient);
  if (!query) return error_response(query.error(), req);
  const std::vector<std::string> keys = mpi::blocking_keys(*query);
  if (keys.empty()) {
    return error_response(bad("the Patient has nothing to match on (give at least a name with a birth date, an "
                              "NHS number, a phone number or an e-mail address)"),
                          req);
  }
  // Candidates: every Patient sharing a blocking key, those sharing the most keys first.
  std::map<std::string, int> shared;
  for (const auto& key : keys) {
    search::Plan plan;
    plan.type = "Patient";
    plan.count = kMaxCandidates;
    search::Filter f;
    search::Condition c;
    c.type = search::ParamType::kToken;
    c.param = kMatchKeyParam;
    c.code = key;
    f.any_of.push_back(std::move(c));
    plan.filters.push_back(std::move(f));
    auto page = store.search(plan, false);
    if (!page) return error_response(page.error(), req);
    for (const auto& id : page->ids) ++shared[id];
  }
  std::vector<std::pair<std::string, int>> candidates(shared.begin(), shared.end());
  std::stable_sort(candidates.begin(), candidates.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (candidates.size() > kMaxCandidates) candidates.resize(kMaxCandidates);

  const mpi::Matcher matcher;
  struct Scored {
    std::string json;
    std::string id;
    mpi::Explanation explanation;
  };
  std::vector<Scored> scored;
  for (const auto& [id, n] : candidates) {
    auto res = store.read("Patient", id);
    if (!res) continue;  // deleted since
    boost::system::error_code ec;
    const json::value doc = json::parse(res->json, ec);
    if (ec || !doc.is_object()) continue;
    auto record = mpi::record_from_patient(doc.get_object());
    if (!record) continue;
    mpi::Explanation x = matcher.explain(*query, *record);
    if (x.result.grade == mpi::Grade::kCertainlyNot) continue;
    if (in->only_certain && x.result.grade != mpi::Grade::kCertain) continue;
    scored.push_back(Scored{std::move(res->json), id, std::move(x)});
  }
  std::stable_sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    return a.explanation.result.score > b.explanation.result.score;
  });
  // onlyCertainMatches asks for a single answer (R4 patient-operation-match): several certain
  // matches mean the index itself needs review, so none is offered as certain.
  if (in->only_certain && scored.size() > 1) scored.clear();
  if (scored.size() > in->count) scored.resize(in->count);

  std::string body =
      R"({"resourceType":"Bundle","type":"searchset","total":)" + std::to_string(scored.size()) + R"(,"entry":[)";
  for (std::size_t i = 0; i < scored.size(); ++i) {
    const auto& s = scored[i];
    json::object search{
        {"mode", "match"},
        {"score", std::round(s.explanation.result.score * 10000.0) / 10000.0},
        {"extension", json::array{coded_extension(kMatchGradeUrl, mpi::grade_code(s.explanation.result.grade)),
                                  explanation_extension(s.explanation)}}};
    if (i > 0) body += ',';
    body += R"({"fullUrl":)" + json::serialize(json::string(req.base_url + "/Patient/" + s.id)) + R"(,"resource":)" +
            s.json + R"(,"search":)" + json::serialize(search) + "}";
  }
  body += "]}";
  Response r;
  r.body = format_body(std::move(body), req);
  r.interaction = "operation";
  return r;
}

}  // namespace ucr::api::detail
