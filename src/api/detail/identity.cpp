#include "api/detail/identity.hpp"

#include "api/detail/format.hpp"
#include "api/detail/ops.hpp"
#include "api/detail/registry_scope.hpp"
#include "api/detail/respond.hpp"
#include "core/time.hpp"
#include "mpi/blocking.hpp"
#include "mpi/matcher.hpp"
#include "mpi/nhs_number.hpp"
#include "mpi/record.hpp"
#include "search/index.hpp"
#include "store/store.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace ucr::api::detail {
namespace {

namespace json = boost::json;

// The blocking keys (mpi::blocking_keys) that repeat a search parameter's value.
constexpr std::string_view kNhsKey = "nhs:";
constexpr std::string_view kIdentifierKey = "id:";
constexpr std::string_view kBirthDateKey = "dob:";

constexpr const char* kMatchGradeUrl = "http://hl7.org/fhir/StructureDefinition/match-grade";
constexpr const char* kExplanationUrl = "https://ucr.nhs.example/fhir/StructureDefinition/match-explanation";
constexpr std::size_t kDefaultCount = 10;
constexpr std::size_t kMaxCount = 100;
// Candidates read and scored at most: the best share the most selective keys and are scored first
// (at 2,000,000 persons, 100 or 2,000 gave the same answers to 500 queries).
constexpr std::size_t kMaxCandidates = 200;

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
  if (!x.result.corroboration.empty()) {
    parts.push_back(json::object{{"url", "corroboration"}, {"valueString", x.result.corroboration}});
  }
  parts.push_back(json::object{{"url", "weight"}, {"valueDecimal", x.result.weight}});
  return json::object{{"url", kExplanationUrl}, {"extension", std::move(parts)}};
}

struct MergeInput {
  std::string source;
  std::string target;
};

/// The Patient id of a `valueReference` parameter ("Patient/{id}").
core::Result<std::string> patient_ref(const json::object& p, const std::string& where) {
  const auto* v = p.if_contains("valueReference");
  const auto* ref = v != nullptr && v->is_object() ? v->get_object().if_contains("reference") : nullptr;
  if (ref == nullptr || !ref->is_string() || ref->get_string().size() <= 8 ||
      std::string_view(ref->get_string()).substr(0, 8) != "Patient/") {
    return bad("takes a valueReference to Patient/{id}", where);
  }
  return std::string(std::string_view(ref->get_string()).substr(8));
}

core::Result<MergeInput> read_merge_input(const Request& req) {
  auto doc = parse_json(req.body, "request body");
  if (!doc) return doc.error();
  const auto* o = doc->if_object();
  const auto* rt = o != nullptr ? o->if_contains("resourceType") : nullptr;
  if (rt == nullptr || !rt->is_string() || rt->get_string() != "Parameters") {
    return bad("this operation takes a Parameters resource", "resourceType");
  }
  MergeInput in;
  const auto* params = o->if_contains("parameter");
  if (params != nullptr && params->is_array()) {
    for (std::size_t i = 0; i < params->get_array().size(); ++i) {
      const auto* p = params->get_array()[i].if_object();
      if (p == nullptr) continue;
      const auto* name = p->if_contains("name");
      const std::string n = name != nullptr && name->is_string() ? std::string(name->get_string()) : "";
      const std::string where = fmt::format("Parameters.parameter[{}]", i);
      if (n == "source-patient" || n == "target-patient") {
        auto id = patient_ref(*p, where);
        if (!id) return id.error();
        (n == "source-patient" ? in.source : in.target) = std::move(*id);
      } else {
        return bad(fmt::format("this operation has no parameter '{}'", n), where + ".name");
      }
    }
  }
  if (in.source.empty() || in.target.empty()) return bad("source-patient and target-patient are both needed");
  if (in.source == in.target) return bad("a Patient cannot be merged with itself");
  return in;
}

/// True when `patient` has a link of `type` to Patient/`other`.
bool has_link(const json::object& patient, std::string_view type, const std::string& other) {
  const auto* links = patient.if_contains("link");
  if (links == nullptr || !links->is_array()) return false;
  return std::any_of(links->get_array().begin(), links->get_array().end(), [&](const json::value& l) {
    const auto* lo = l.if_object();
    if (lo == nullptr) return false;
    const auto* t = lo->if_contains("type");
    const auto* o = lo->if_contains("other");
    const auto* r = o != nullptr && o->is_object() ? o->get_object().if_contains("reference") : nullptr;
    return t != nullptr && t->is_string() && t->get_string() == type && r != nullptr && r->is_string() &&
           r->get_string() == "Patient/" + other;
  });
}

/// Any link of `type` at all (a merged-away record has one `replaced-by`).
bool has_link_type(const json::object& patient, std::string_view type) {
  const auto* links = patient.if_contains("link");
  if (links == nullptr || !links->is_array()) return false;
  return std::any_of(links->get_array().begin(), links->get_array().end(), [&](const json::value& l) {
    const auto* t = l.is_object() ? l.get_object().if_contains("type") : nullptr;
    return t != nullptr && t->is_string() && t->get_string() == type;
  });
}

void add_link(json::object& patient, const char* type, const std::string& other) {
  if (!patient.contains("link") || !patient["link"].is_array()) patient["link"] = json::array{};
  patient["link"].as_array().push_back(
      json::object{{"other", json::object{{"reference", "Patient/" + other}}}, {"type", type}});
}

void remove_link(json::object& patient, std::string_view type, const std::string& other) {
  auto* links = patient.if_contains("link");
  if (links == nullptr || !links->is_array()) return;
  json::array kept;
  for (auto& l : links->get_array()) {
    json::object one;
    one["link"] = json::array{l};
    if (!has_link(one, type, other)) kept.push_back(l);
  }
  if (kept.empty()) {
    patient.erase("link");
  } else {
    *links = std::move(kept);
  }
}

json::object provenance(const char* activity, const std::string& source, std::int64_t source_version,
                        const std::string& target, std::int64_t target_version) {
  return json::object{
      {"resourceType", "Provenance"},
      {"target",
       json::array{json::object{{"reference", fmt::format("Patient/{}/_history/{}", source, source_version)}},
                   json::object{{"reference", fmt::format("Patient/{}/_history/{}", target, target_version)}}}},
      {"recorded", core::format_instant(core::now_micros())},
      {"activity",
       json::object{{"coding", json::array{json::object{{"system", kIdentityOperationSystem}, {"code", activity}}}}}},
      {"agent", json::array{json::object{{"who", json::object{{"display", "ucr patient identity service"}}}}}}};
}
/// A stored Patient scored against the query record (explained only when answered).
struct Scored {
  std::string json;
  std::string id;
  mpi::PatientRecord record;
  mpi::MatchScore score;
};

/// The shipped match configuration (immutable; shared by every request).
const mpi::Matcher& matcher() {
  static const mpi::Matcher kMatcher;
  return kMatcher;
}

/// How many candidates score_candidates reads.
struct CandidateLimit {
  std::size_t most = 200;  ///< never more than this many
  /// Read in rounds: the strongest `rounds[0]` first, then up to `rounds[1]`, and so on up to `most`,
  /// stopping after a round that holds a certain match whose shared-key weight is at least
  /// kClearLead times that of the best candidate not read. Empty: read `most` at once.
  std::vector<std::size_t> rounds;
};

}  // namespace

std::vector<store::IndexKey> key_lookups(const std::string& key) {
  std::vector<store::IndexKey> out;
  const std::string_view k(key);
  if (k.starts_with(kNhsKey)) {
    out.push_back(store::IndexKey::token("identifier", std::string(mpi::kNhsNumberSystem), key.substr(kNhsKey.size())));
  } else if (k.starts_with(kIdentifierKey)) {
    const std::string_view rest = k.substr(kIdentifierKey.size());
    const auto bar = rest.find('|');
    if (bar != std::string_view::npos) {
      out.push_back(
          store::IndexKey::token("identifier", std::string(rest.substr(0, bar)), std::string(rest.substr(bar + 1))));
    }
  } else if (k.starts_with(kBirthDateKey)) {
    const std::string date = key.substr(kBirthDateKey.size());  // YYYY-MM-DD, month <= day
    const auto add = [&out](const std::string& d) {
      core::Micros low = 0;
      core::Micros high = 0;
      if (search::date_range(d, low, high)) out.push_back(store::IndexKey::date("birthdate", low, high));
    };
    add(date);
    if (date.size() == 10 && date.substr(5, 2) != date.substr(8, 2)) {
      add(date.substr(0, 5) + date.substr(8, 2) + "-" + date.substr(5, 2));  // not a date when the day is above 12
    }
  } else {
    out.push_back(store::IndexKey::token(kMatchKeyParam, "", key));
  }
  return out;
}

namespace {

/// Every stored Patient sharing a blocking key with `query`, scored; certainly-not candidates are
/// left out, the best first. A key's block is read up to `per_key` records: a larger block (a common
/// surname's sound in one postcode district) says little on its own. The candidates read and scored
/// are those whose shared keys are the most selective, by the sum over shared keys of
/// 1 / (records in the key's block), so a shared phone outranks a shared birth date.
core::Result<std::vector<Scored>> score_candidates(store::Store& store, const mpi::PatientRecord& query,
                                                   const std::vector<std::string>& keys, const CandidateLimit& limit) {
  // At 2,000,000 persons a birth date's block holds about 65, a surname's sound in one district several
  // hundred: reading 50 of each keeps a $match to a few thousand index rows (p99 30 -> 18 ms there),
  // and a true match shares smaller blocks too (name code + birth year, phone, NHS number).
  constexpr std::size_t kPerKey = 50;
  // A candidate with less than half the shared-key evidence of a certain match is not another
  // certain one in practice: a second certain match (the same person recorded twice) shares the
  // same selective keys (NHS number, phone, name with birth date) and ranks beside the first.
  constexpr double kClearLead = 2.0;
  // Every key's block in one reading of the index alone; only the chosen candidates are read.
  std::vector<store::IndexKey> lookups;
  std::vector<std::size_t> key_of;  // lookups[i] reads part of the block of keys[key_of[i]]
  for (std::size_t k = 0; k < keys.size(); ++k) {
    for (auto& l : key_lookups(keys[k])) {
      lookups.push_back(std::move(l));
      key_of.push_back(k);
    }
  }
  auto found = store.key_rids("Patient", lookups, kPerKey);
  if (!found) return found.error();
  std::vector<std::vector<std::int64_t>> blocks(keys.size());
  for (std::size_t i = 0; i < found->size(); ++i) {
    auto& block = blocks[key_of[i]];
    for (const auto rid : (*found)[i]) {
      if (block.size() < kPerKey && std::find(block.begin(), block.end(), rid) == block.end()) block.push_back(rid);
    }
  }
  std::unordered_map<std::int64_t, double> shared;
  for (const auto& block : blocks) {
    const double weight = 1.0 / static_cast<double>(std::max<std::size_t>(1, block.size()));
    for (const auto rid : block) shared[rid] += weight;
  }
  std::vector<std::pair<std::int64_t, double>> candidates(shared.begin(), shared.end());
  // Equal weights fall back to the order records were first stored, so answers do not depend on
  // the hash map's order.
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  if (candidates.size() > limit.most) candidates.resize(limit.most);

  std::vector<Scored> scored;
  double certain_evidence = 0;  // the largest shared-key weight of a certain match read so far
  const auto read = [&](std::size_t from, std::size_t to) -> core::Result<void> {
    std::vector<std::int64_t> rids;
    rids.reserve(to - from);
    for (std::size_t i = from; i < to; ++i) rids.push_back(candidates[i].first);
    auto stored = store.read_rids("Patient", rids);  // deleted ones are left out
    if (!stored) return stored.error();
    for (auto& res : *stored) {
      boost::system::error_code ec;
      const json::value doc = json::parse(res.json, ec);
      if (ec || !doc.is_object()) continue;
      auto record = mpi::record_from_patient(doc.get_object());
      if (!record) continue;
      const mpi::MatchScore score = matcher().score(query, *record);
      if (score.grade == mpi::Grade::kCertainlyNot) continue;
      if (score.grade == mpi::Grade::kCertain) certain_evidence = std::max(certain_evidence, shared[res.rid]);
      scored.push_back(Scored{std::move(res.json), res.info.id, std::move(*record), score});
    }
    return core::ok();
  };
  std::size_t done = 0;
  bool settled = false;
  for (const std::size_t round : limit.rounds) {
    const std::size_t to = std::min(round, candidates.size());
    if (to <= done) continue;
    if (auto r = read(done, to); !r) return r.error();
    done = to;
    settled = done < candidates.size() && certain_evidence >= kClearLead * candidates[done].second;
    if (settled) break;
  }
  if (!settled && done < candidates.size()) {
    if (auto r = read(done, candidates.size()); !r) return r.error();
  }
  // Capped scores tie (just under the next grade): the weight of evidence orders them.
  std::stable_sort(scored.begin(), scored.end(), [](const Scored& a, const Scored& b) {
    return a.score.score != b.score.score ? a.score.score > b.score.score : a.score.weight > b.score.weight;
  });
  return scored;
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
    // Keys read from the Patient's identifier and birthdate rows need none of their own.
    const std::string_view k(key);
    if (k.starts_with(kNhsKey) || k.starts_with(kIdentifierKey) || k.starts_with(kBirthDateKey)) continue;
    rows.tokens.push_back(search::TokenRow{kMatchKeyParam, "", std::move(key), ""});
  }
}

std::string explanation_text(const mpi::Explanation& why) {
  std::string out;
  for (const auto& f : why.fields) {
    out += fmt::format("{}: {} ('{}' / '{}', {:+.2f})\n", mpi::field_name(f.field), f.level, f.a, f.b, f.weight);
  }
  if (!why.result.cap.empty()) out += fmt::format("rule: {}\n", why.result.cap);
  if (!why.result.corroboration.empty()) out += fmt::format("corroboration: {}\n", why.result.corroboration);
  return out;
}

namespace {

/// The decision from scored candidates: one certain match is linked; otherwise the best goes to
/// review. Sorts `candidates` best first.
LinkDecision decide_from(const mpi::PatientRecord& record, std::vector<LinkCandidate>& candidates) {
  LinkDecision d;
  if (candidates.empty()) return d;
  // Capped scores tie (just under the next grade): the weight of evidence orders them.
  std::stable_sort(candidates.begin(), candidates.end(), [](const LinkCandidate& a, const LinkCandidate& b) {
    return a.score.score != b.score.score ? a.score.score > b.score.score : a.score.weight > b.score.weight;
  });
  const auto certain = std::count_if(candidates.begin(), candidates.end(),
                                     [](const LinkCandidate& c) { return c.score.grade == mpi::Grade::kCertain; });
  const LinkCandidate& best = candidates.front();
  const mpi::Explanation why = matcher().explain(record, best.record);
  d.score = why.result.score;
  d.grade = std::string(mpi::grade_code(why.result.grade));
  d.explanation = explanation_text(why);
  if (certain == 1) {
    d.link_to = best.id;
  } else {
    d.review = best.id;
    if (certain > 1) d.explanation += fmt::format("{} records are certain matches: the index needs review\n", certain);
  }
  return d;
}

/// The stored candidates of `record` (keys `keys`), scored.
core::Result<std::vector<LinkCandidate>> stored_candidates(store::Store& store, const mpi::PatientRecord& record,
                                                           const std::vector<std::string>& keys) {
  // Linkage reads the strongest 8 candidates, then 32, then the rest, and stops after a round that
  // holds a clear certain match: most arriving records have one (an NHS number or a phone shared with
  // one person outweighs the rest), and each candidate read costs a record's look-up and parse.
  const CandidateLimit link_candidates{200, {8, 32}};
  auto scored = score_candidates(store, record, keys, link_candidates);
  if (!scored) return scored.error();
  std::vector<LinkCandidate> out;
  out.reserve(scored->size());
  for (auto& s : *scored) out.push_back(LinkCandidate{std::move(s.id), std::move(s.record), s.score});
  return out;
}

}  // namespace

core::Result<LinkDecision> decide_link(store::Store& store, const json::object& patient, LinkEvidence* evidence) {
  auto record = mpi::record_from_patient(patient);
  if (!record) return LinkDecision{};
  auto keys = mpi::blocking_keys(*record);
  if (keys.empty()) return LinkDecision{};
  auto candidates = stored_candidates(store, *record, keys);
  if (!candidates) return candidates.error();
  LinkDecision d = decide_from(*record, *candidates);
  if (evidence != nullptr) {
    evidence->record = std::move(*record);
    evidence->keys = std::move(keys);
    evidence->candidates = std::move(*candidates);
  }
  return d;
}

std::uint64_t RecentArrivals::visible() const {
  std::lock_guard lock(mu_);
  return unsettled_.empty() ? last_ : *unsettled_.begin() - 1;
}

std::uint64_t RecentArrivals::add(std::string id, std::vector<std::string> keys, mpi::PatientRecord record) {
  std::lock_guard lock(mu_);
  const std::uint64_t ticket = ++last_;
  unsettled_.insert(ticket);
  for (const auto& k : keys) {
    auto& tickets = by_key_[k];
    if (tickets.empty() || tickets.back() != ticket) tickets.push_back(ticket);
  }
  kept_.push_back(Arrival{ticket, std::move(id), std::move(keys), std::move(record)});
  while (kept_.size() > kKeep) {
    // A write never settled (its request was abandoned) must not hold visible() back for ever.
    forgotten_through_ = kept_.front().ticket;
    unsettled_.erase(forgotten_through_);
    forget_keys(kept_.front());
    kept_.pop_front();
  }
  return ticket;
}

void RecentArrivals::forget_keys(const Arrival& a) {
  for (const auto& k : a.keys) {
    const auto it = by_key_.find(k);
    if (it == by_key_.end()) continue;
    auto& tickets = it->second;
    const auto at = std::lower_bound(tickets.begin(), tickets.end(), a.ticket);
    if (at != tickets.end() && *at == a.ticket) tickets.erase(at);
    if (tickets.empty()) by_key_.erase(it);
  }
}

void RecentArrivals::settle(std::uint64_t ticket, bool written) {
  std::lock_guard lock(mu_);
  unsettled_.erase(ticket);
  if (written) return;
  const auto it = std::lower_bound(kept_.begin(), kept_.end(), ticket,
                                   [](const Arrival& a, std::uint64_t t) { return a.ticket < t; });
  if (it != kept_.end() && it->ticket == ticket) {
    forget_keys(*it);
    kept_.erase(it);
  }
}

std::vector<RecentArrivals::Arrival> RecentArrivals::after(std::uint64_t seen, const std::vector<std::string>& keys,
                                                           bool& complete) const {
  std::lock_guard lock(mu_);
  complete = seen >= forgotten_through_;
  std::vector<std::uint64_t> tickets;
  for (const auto& k : keys) {
    const auto found = by_key_.find(k);
    if (found == by_key_.end()) continue;
    const auto& mine = found->second;
    tickets.insert(tickets.end(), std::upper_bound(mine.begin(), mine.end(), seen), mine.end());
  }
  std::sort(tickets.begin(), tickets.end());
  tickets.erase(std::unique(tickets.begin(), tickets.end()), tickets.end());
  std::vector<Arrival> out;
  out.reserve(tickets.size());
  for (const auto t : tickets) {
    const auto it =
        std::lower_bound(kept_.begin(), kept_.end(), t, [](const Arrival& a, std::uint64_t v) { return a.ticket < v; });
    if (it != kept_.end() && it->ticket == t) out.push_back(*it);
  }
  return out;
}

core::Result<std::optional<LinkDecision>> recheck_link(store::Transaction& t, const RecentArrivals& arrivals,
                                                       std::uint64_t seen, const LinkEvidence& evidence) {
  if (evidence.keys.empty()) return std::optional<LinkDecision>{};
  // Arrivals sharing a key are written one after another (PostgreSQL writes concurrently): once
  // this holds the keys, every earlier one sharing a key has committed or failed.
  if (auto locked = t.lock_names("match-key", evidence.keys); !locked) return locked.error();
  bool complete = true;
  auto recent = arrivals.after(seen, evidence.keys, complete);
  if (complete && recent.empty()) return std::optional<LinkDecision>{};
  std::vector<LinkCandidate> candidates;
  if (complete) {
    candidates = evidence.candidates;
  } else {
    // Arrivals between the snapshot and the oldest kept are committed: a fresh read sees them.
    auto again = stored_candidates(arrivals.store(), evidence.record, evidence.keys);
    if (!again) return again.error();
    candidates = std::move(*again);
  }
  bool added = !complete;
  for (auto& a : recent) {
    const bool known =
        std::any_of(candidates.begin(), candidates.end(), [&a](const LinkCandidate& c) { return c.id == a.id; });
    if (known) continue;
    // Written before this one in the writer's order, unless its write failed.
    auto current = t.current("Patient", a.id);
    if (!current) return current.error();
    if (!current->has_value() || (*current)->info.deleted) continue;
    const mpi::MatchScore score = matcher().score(evidence.record, a.record);
    if (score.grade == mpi::Grade::kCertainlyNot) continue;
    candidates.push_back(LinkCandidate{std::move(a.id), std::move(a.record), score});
    added = true;
  }
  if (!added) return std::optional<LinkDecision>{};
  return std::optional<LinkDecision>{decide_from(evidence.record, candidates)};
}

void add_seealso_link(json::object& patient, const std::string& other) { add_link(patient, "seealso", other); }

json::object review_task(const std::string& patient_id, const LinkDecision& d) {
  const std::string patient = "Patient/" + patient_id;
  return json::object{
      {"resourceType", "Task"},
      {"status", "requested"},
      {"intent", "order"},
      {"priority", "routine"},
      {"code", json::object{{"coding", json::array{json::object{{"system", kIdentityOperationSystem},
                                                                {"code", "review-match"},
                                                                {"display", "Review a possible duplicate record"}}}}}},
      {"description", fmt::format("Patient/{} may be the same person as Patient/{} (score {:.4f}, {}).\n{}", patient_id,
                                  d.review.value_or(""), d.score, d.grade, d.explanation)},
      {"focus", json::object{{"reference", patient}}},
      {"for", json::object{{"reference", patient}}},
      {"authoredOn", core::format_instant(core::now_micros())},
      {"input",
       json::array{json::object{{"type", json::object{{"text", "candidate"}}},
                                {"valueReference", json::object{{"reference", "Patient/" + d.review.value_or("")}}}},
                   json::object{{"type", json::object{{"text", "score"}}}, {"valueDecimal", d.score}},
                   json::object{{"type", json::object{{"text", "grade"}}}, {"valueCode", d.grade}}}}};
}

Response merge_patients(store::Store& store, const ApiOptions& /*options*/, const Request& req, bool unmerge) {
  auto in = read_merge_input(req);
  if (!in) return error_response(in.error(), req);
  // An unmerge restores the source's `active` as it was before the merge: from the newest version
  // of its history that does not yet carry the replaced-by link.
  std::optional<bool> was_active;
  if (unmerge) {
    store::HistoryQuery q;
    q.type = "Patient";
    q.id = in->source;
    q.count = 1000;
    auto history = store.history(q);
    if (!history) return error_response(history.error(), req);
    for (const auto& v : history->entries) {
      boost::system::error_code ec;
      const json::value doc = json::parse(v.json, ec);
      if (ec || !doc.is_object() || has_link(doc.get_object(), "replaced-by", in->target)) continue;
      const auto* a = doc.get_object().if_contains("active");
      was_active = a == nullptr || !a->is_bool() || a->get_bool();
      break;
    }
  }
  const search::Registry& reg = registry();
  OpResult result;
  auto w = store.write([&](store::Transaction& t) -> core::Result<void> {
    const RegistryScope scope(reg);
    auto src = t.current("Patient", in->source);
    if (!src) return src.error();
    auto tgt = t.current("Patient", in->target);
    if (!tgt) return tgt.error();
    if (!src->has_value() || (*src)->info.deleted) {
      return core::Error::not_found(fmt::format("Patient/{} is not known or was deleted", in->source));
    }
    if (!tgt->has_value() || (*tgt)->info.deleted) {
      return core::Error::not_found(fmt::format("Patient/{} is not known or was deleted", in->target));
    }
    json::object source = json::parse((*src)->json).as_object();
    json::object target = json::parse((*tgt)->json).as_object();
    if (!unmerge) {
      if (has_link_type(source, "replaced-by")) {
        return core::Error::make(409, "conflict", fmt::format("Patient/{} has already been merged away", in->source));
      }
      if (has_link_type(target, "replaced-by")) {
        return core::Error::make(
            409, "conflict",
            fmt::format("Patient/{} has itself been merged away: merge into the record that replaced it", in->target));
      }
      add_link(source, "replaced-by", in->target);
      source["active"] = false;
      add_link(target, "replaces", in->source);
    } else {
      if (!has_link(source, "replaced-by", in->target) || !has_link(target, "replaces", in->source)) {
        return core::Error::make(409, "conflict",
                                 fmt::format("Patient/{} is not merged into Patient/{}", in->source, in->target));
      }
      remove_link(source, "replaced-by", in->target);
      source["active"] = was_active.value_or(true);
      remove_link(target, "replaces", in->source);
    }
    auto s = op_update(t, "Patient", in->source, source, std::nullopt);
    if (!s) return s.error();
    auto g = op_update(t, "Patient", in->target, target, std::nullopt);
    if (!g) return g.error();
    auto p = op_create(
        t, "Provenance",
        provenance(unmerge ? "unmerge" : "merge", in->source, s->info->version, in->target, g->info->version), {});
    if (!p) return p.error();
    result = std::move(*g);
    return core::ok();
  });
  if (!w) return error_response(w.error(), req);
  result.status = 200;
  Response r = resource_response(result, req, true);
  r.interaction = "operation";
  return r;
}

namespace {

constexpr std::size_t kMaxNote = 2000;

/// What a data-quality officer decided about a possible duplicate.
struct ReviewInput {
  std::string decision;  ///< link | merge | distinct
  std::string survivor;  ///< merge: the Patient kept (empty: the candidate, the record there first)
  std::string note;
};

core::Result<ReviewInput> read_review_input(const Request& req) {
  auto doc = parse_json(req.body, "request body");
  if (!doc) return doc.error();
  const auto* o = doc->if_object();
  const auto* rt = o != nullptr ? o->if_contains("resourceType") : nullptr;
  if (rt == nullptr || !rt->is_string() || rt->get_string() != "Parameters") {
    return bad("$resolve-match takes a Parameters resource", "resourceType");
  }
  ReviewInput in;
  const auto* params = o->if_contains("parameter");
  if (params != nullptr && params->is_array()) {
    for (std::size_t i = 0; i < params->get_array().size(); ++i) {
      const auto* p = params->get_array()[i].if_object();
      if (p == nullptr) continue;
      const auto* name = p->if_contains("name");
      const std::string n = name != nullptr && name->is_string() ? std::string(name->get_string()) : "";
      const std::string where = fmt::format("Parameters.parameter[{}]", i);
      if (n == "decision") {
        const auto* v = p->if_contains("valueCode");
        if (v == nullptr || !v->is_string() ||
            (v->get_string() != "link" && v->get_string() != "merge" && v->get_string() != "distinct")) {
          return bad(
              "decision takes valueCode link (the same person: link the records), merge (the same person: "
              "one record replaces the other) or distinct (different people)",
              where + ".valueCode");
        }
        in.decision = std::string(v->get_string());
      } else if (n == "survivor") {
        auto id = patient_ref(*p, where);
        if (!id) return id.error();
        in.survivor = std::move(*id);
      } else if (n == "note") {
        const auto* v = p->if_contains("valueString");
        if (v == nullptr || !v->is_string() || v->get_string().size() > kMaxNote) {
          return bad(fmt::format("note takes a valueString of at most {} characters", kMaxNote), where);
        }
        in.note = std::string(v->get_string());
      } else {
        return bad(fmt::format("$resolve-match has no parameter '{}'", n), where + ".name");
      }
    }
  }
  if (in.decision.empty()) return bad("give the decision: link, merge or distinct");
  if (!in.survivor.empty() && in.decision != "merge") return bad("survivor is given only with the decision merge");
  return in;
}

/// The reference an element holds ("Patient/{id}" -> id), or empty.
std::string patient_id_in(const json::value* v) {
  const auto* ref = v != nullptr && v->is_object() ? v->get_object().if_contains("reference") : nullptr;
  if (ref == nullptr || !ref->is_string() || !ref->get_string().starts_with("Patient/")) return {};
  return std::string(std::string_view(ref->get_string()).substr(8));
}

/// Task.input or Task.output named by `type.text`.
const json::object* task_part(const json::object& task, const char* list, std::string_view name) {
  const auto* parts = task.if_contains(list);
  if (parts == nullptr || !parts->is_array()) return nullptr;
  for (const auto& p : parts->get_array()) {
    const auto* o = p.if_object();
    const auto* type = o != nullptr ? o->if_contains("type") : nullptr;
    const auto* text = type != nullptr && type->is_object() ? type->get_object().if_contains("text") : nullptr;
    if (text != nullptr && text->is_string() && text->get_string() == name) return o;
  }
  return nullptr;
}

std::string_view decision_text(std::string_view decision) {
  if (decision == "link") return "The same person: the records are linked";
  if (decision == "merge") return "The same person: one record replaces the other";
  return "Different people: the records stay apart";
}

/// A Patient as read in the transaction, changed in memory and written once at the end.
struct PatientEdit {
  std::string id;
  json::object doc;
  std::int64_t version = 0;
  bool changed = false;
};

core::Result<PatientEdit> read_patient(store::Transaction& t, const std::string& id) {
  auto cur = t.current("Patient", id);
  if (!cur) return cur.error();
  if (!cur->has_value() || (*cur)->info.deleted) {
    return core::Error::make(409, "conflict",
                             fmt::format("Patient/{} is not known or was deleted: this review cannot be decided "
                                         "until the record is restored",
                                         id));
  }
  return PatientEdit{id, json::parse((*cur)->json).as_object(), (*cur)->info.version, false};
}

}  // namespace

bool is_review_match(const json::object& task) {
  const auto* code = task.if_contains("code");
  const auto* codings = code != nullptr && code->is_object() ? code->get_object().if_contains("coding") : nullptr;
  if (codings == nullptr || !codings->is_array()) return false;
  return std::any_of(codings->get_array().begin(), codings->get_array().end(), [](const json::value& c) {
    const auto* o = c.if_object();
    const auto* sys = o != nullptr ? o->if_contains("system") : nullptr;
    const auto* v = o != nullptr ? o->if_contains("code") : nullptr;
    return sys != nullptr && sys->is_string() && sys->get_string() == kIdentityOperationSystem && v != nullptr &&
           v->is_string() && v->get_string() == "review-match";
  });
}

Response resolve_review(store::Store& store, const Request& req, const std::string& task_id, const Reviewer& who) {
  auto in = read_review_input(req);
  if (!in) return error_response(in.error(), req);
  const search::Registry& reg = registry();
  OpResult result;
  auto w = store.write([&](store::Transaction& t) -> core::Result<void> {
    const RegistryScope scope(reg);
    auto cur = t.current("Task", task_id);
    if (!cur) return cur.error();
    if (!cur->has_value() || (*cur)->info.deleted) {
      return core::Error::not_found(fmt::format("Task/{} is not known or was deleted", task_id));
    }
    json::object task = json::parse((*cur)->json).as_object();
    if (!is_review_match(task)) {
      return core::Error::make(
          422, "business-rule",
          fmt::format("Task/{} is not a review of a possible duplicate (code review-match)", task_id));
    }
    const std::string focus = patient_id_in(task.if_contains("focus"));
    const auto* candidate_part = task_part(task, "input", "candidate");
    const std::string candidate =
        candidate_part != nullptr ? patient_id_in(candidate_part->if_contains("valueReference")) : std::string();
    if (focus.empty() || candidate.empty() || focus == candidate) {
      return core::Error::make(422, "business-rule",
                               fmt::format("Task/{} does not name the two records to compare (focus and the "
                                           "candidate input)",
                                           task_id));
    }
    const auto* status = task.if_contains("status");
    const std::string_view state = status != nullptr && status->is_string() ? status->get_string().c_str() : "";
    std::string previous;
    if (state == "completed") {
      if (const auto* d = task_part(task, "output", "decision"); d != nullptr) {
        if (const auto* v = d->if_contains("valueCode"); v != nullptr && v->is_string()) previous = v->get_string();
      }
    } else if (state == "cancelled" || state == "rejected" || state == "failed" || state == "entered-in-error") {
      return core::Error::make(409, "conflict",
                               fmt::format("Task/{} is {}: there is nothing to decide", task_id, state));
    }
    std::string previous_survivor;
    if (const auto* s = task_part(task, "output", "survivor"); s != nullptr) {
      previous_survivor = patient_id_in(s->if_contains("valueReference"));
    }
    const std::string survivor = in->decision != "merge" ? std::string()
                                 : in->survivor.empty()  ? candidate
                                                         : in->survivor;
    if (!survivor.empty() && survivor != focus && survivor != candidate) {
      return bad(fmt::format("the survivor must be one of the two records reviewed, Patient/{} or Patient/{}", focus,
                             candidate),
                 "Parameters.parameter.valueReference");
    }
    if (previous == in->decision && (in->decision != "merge" || previous_survivor == survivor)) {
      // The same decision again (a retry): nothing to do.
      result = OpResult{200, (*cur)->info, (*cur)->json};
      return core::ok();
    }
    auto a = read_patient(t, focus);
    if (!a) return a.error();
    auto b = read_patient(t, candidate);
    if (!b) return b.error();
    PatientEdit* by_id[2] = {&*a, &*b};
    const auto edit = [&](const std::string& id) -> PatientEdit& { return by_id[0]->id == id ? *by_id[0] : *by_id[1]; };
    std::vector<const char*> activities;

    // A changed decision first undoes what the earlier one did.
    if (previous == "link") {
      for (auto* p : by_id) {
        const std::string& other = p == by_id[0] ? candidate : focus;
        if (has_link(p->doc, "seealso", other)) {
          remove_link(p->doc, "seealso", other);
          p->changed = true;
        }
      }
      activities.push_back("unlink");
    } else if (previous == "merge" && !previous_survivor.empty()) {
      PatientEdit& kept = edit(previous_survivor);
      PatientEdit& gone = edit(previous_survivor == focus ? candidate : focus);
      if (has_link(gone.doc, "replaced-by", kept.id)) {
        remove_link(gone.doc, "replaced-by", kept.id);
        remove_link(kept.doc, "replaces", gone.id);
        bool was_active = true;
        if (const auto* x = task_part(task, "output", "merged-record-was-active"); x != nullptr) {
          if (const auto* v = x->if_contains("valueBoolean"); v != nullptr && v->is_bool()) was_active = v->get_bool();
        }
        gone.doc["active"] = was_active;
        gone.changed = kept.changed = true;
        activities.push_back("unmerge");
      }
    }

    json::array output{json::object{{"type", json::object{{"text", "decision"}}}, {"valueCode", in->decision}}};
    if (in->decision == "link" || in->decision == "merge") {
      for (auto* p : by_id) {
        if (has_link_type(p->doc, "replaced-by")) {
          return core::Error::make(409, "conflict",
                                   fmt::format("Patient/{} has been merged into another record: review that record "
                                               "instead",
                                               p->id));
        }
      }
    }
    if (in->decision == "link") {
      if (!has_link(a->doc, "seealso", candidate) && !has_link(b->doc, "seealso", focus)) {
        add_seealso_link(a->doc, candidate);
        a->changed = true;
      }
      activities.push_back("link");
    } else if (in->decision == "merge") {
      PatientEdit& kept = edit(survivor);
      PatientEdit& gone = edit(survivor == focus ? candidate : focus);
      // A merge supersedes a link between the two.
      remove_link(gone.doc, "seealso", kept.id);
      remove_link(kept.doc, "seealso", gone.id);
      const auto* act = gone.doc.if_contains("active");
      const bool was_active = act == nullptr || !act->is_bool() || act->get_bool();
      add_link(gone.doc, "replaced-by", kept.id);
      gone.doc["active"] = false;
      add_link(kept.doc, "replaces", gone.id);
      gone.changed = kept.changed = true;
      output.push_back(json::object{{"type", json::object{{"text", "survivor"}}},
                                    {"valueReference", json::object{{"reference", "Patient/" + kept.id}}}});
      output.push_back(
          json::object{{"type", json::object{{"text", "merged-record-was-active"}}}, {"valueBoolean", was_active}});
      activities.push_back("merge");
    }

    bool any_changed = false;
    for (auto* p : by_id) {
      if (!p->changed) continue;
      auto u = op_update(t, "Patient", p->id, p->doc, std::nullopt);
      if (!u) return u.error();
      p->version = u->info->version;
      any_changed = true;
    }
    for (const char* activity : activities) {
      if (!any_changed) break;
      json::object prov = provenance(activity, focus, a->version, candidate, b->version);
      if (!who.reference.empty() || !who.display.empty()) {
        json::object agent;
        if (!who.reference.empty()) agent["reference"] = who.reference;
        if (!who.display.empty()) agent["display"] = who.display;
        prov["agent"] = json::array{json::object{{"who", std::move(agent)}}};
      }
      auto pv = op_create(t, "Provenance", prov, {});
      if (!pv) return pv.error();
    }

    const std::string now = core::format_instant(core::now_micros());
    task["status"] = "completed";
    task["businessStatus"] = json::object{{"text", decision_text(in->decision)}};
    task["output"] = std::move(output);
    task["lastModified"] = now;
    json::object period;
    if (const auto* p = task.if_contains("executionPeriod"); p != nullptr && p->is_object()) period = p->get_object();
    period["end"] = now;
    task["executionPeriod"] = std::move(period);
    if (!who.reference.empty()) {
      json::object owner{{"reference", who.reference}};
      if (!who.display.empty()) owner["display"] = who.display;
      task["owner"] = std::move(owner);
    }
    std::string text = previous.empty() ? std::string(decision_text(in->decision))
                                        : fmt::format("Decision changed from '{}' to '{}'.", decision_text(previous),
                                                      decision_text(in->decision));
    if (!in->note.empty()) text += "\n" + in->note;
    json::object note{{"time", now}, {"text", text}};
    if (!who.display.empty()) note["authorString"] = who.display;
    if (!task.contains("note") || !task["note"].is_array()) task["note"] = json::array{};
    task["note"].as_array().push_back(std::move(note));
    auto updated = op_update(t, "Task", task_id, task, std::nullopt);
    if (!updated) return updated.error();
    result = std::move(*updated);
    return core::ok();
  });
  if (!w) return error_response(w.error(), req);
  result.status = 200;
  Response r = resource_response(result, req, true);
  r.interaction = "operation";
  return r;
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
  auto candidates = score_candidates(store, *query, keys, CandidateLimit{kMaxCandidates, {}});
  if (!candidates) return error_response(candidates.error(), req);
  std::vector<Scored> scored;
  for (auto& c : *candidates) {
    if (in->only_certain && c.score.grade != mpi::Grade::kCertain) continue;
    scored.push_back(std::move(c));
  }
  // onlyCertainMatches asks for a single answer (R4 patient-operation-match): several certain
  // matches mean the index itself needs review, so none is offered as certain.
  if (in->only_certain && scored.size() > 1) scored.clear();
  if (scored.size() > in->count) scored.resize(in->count);

  std::string body =
      R"({"resourceType":"Bundle","type":"searchset","total":)" + std::to_string(scored.size()) + R"(,"entry":[)";
  for (std::size_t i = 0; i < scored.size(); ++i) {
    const auto& s = scored[i];
    const mpi::Explanation why = matcher().explain(*query, s.record);
    json::object search{{"mode", "match"},
                        {"score", std::round(why.result.score * 10000.0) / 10000.0},
                        {"extension", json::array{coded_extension(kMatchGradeUrl, mpi::grade_code(why.result.grade)),
                                                  explanation_extension(why)}}};
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
