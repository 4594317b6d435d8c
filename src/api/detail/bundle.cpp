#include "api/detail/bundle.hpp"
#include "api/detail/identity.hpp"
#include "api/detail/registry_scope.hpp"
#include "fhir/json_text.hpp"
#include "mpi/blocking.hpp"
#include "mpi/matcher.hpp"
#include "mpi/record.hpp"

#include "api/detail/format.hpp"
#include "api/detail/ops.hpp"
#include "api/detail/respond.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "fhir/definitions.hpp"
#include "fhir/outcome.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <boost/url/parse_query.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <map>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

namespace ucr::api::detail {
namespace {

namespace json = boost::json;

/// The methods in the order a transaction processes them (R4 http.html#trules).
constexpr std::array<std::string_view, 5> kOrder = {"DELETE", "POST", "PUT", "PATCH", "GET"};

struct Entry {
  std::size_t index = 0;
  std::string method;
  std::string url;  ///< request.url relative to the base
  std::string type;
  std::string id;
  std::string query;
  std::string full_url;
  std::string if_match;
  std::string if_none_exist;
  std::string if_none_match;
  std::optional<json::object> resource;
  std::optional<PreparedResource> prepared;  ///< serialised before the transaction (fast path)
  json::value patch;
  std::optional<core::Error> error;  ///< a problem found before processing (batch reports it per entry)
  Response response;                 ///< batch and GET results
  OpResult result;                   ///< transaction write results
};

std::string entry_path(std::size_t i) { return fmt::format("Bundle.entry[{}]", i); }

core::Error at_entry(core::Error e, std::size_t i, std::string_view type) {
  const std::string prefix = entry_path(i);
  for (auto& issue : e.issues) {
    const std::string& ex = issue.expression;
    if (!type.empty() && ex.rfind(std::string(type), 0) == 0 &&
        (ex.size() == type.size() || ex[type.size()] == '.' || ex[type.size()] == '[')) {
      issue.expression = prefix + ".resource" + ex.substr(type.size());
    } else if (ex.empty()) {
      issue.expression = prefix;
    } else {
      issue.expression = prefix + "." + ex;
    }
    issue.diagnostics = fmt::format("entry {}: {}", i, issue.diagnostics);
  }
  return e;
}

std::optional<std::string> decode_base64(std::string_view in) {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (const char c : in) {
    if (c == '=' || c == '\n' || c == '\r') continue;
    const auto pos = kAlphabet.find(c);
    if (pos == std::string_view::npos) return std::nullopt;
    buffer = (buffer << 6U) | static_cast<unsigned>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  return out;
}

std::string str_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

/// Splits request.url into type, id and query; strips an absolute base.
core::Result<void> parse_url(Entry& e, const std::string& base_url) {
  std::string url = e.url;
  if (url.rfind(base_url + "/", 0) == 0) url = url.substr(base_url.size() + 1);
  if (!url.empty() && url.front() == '/') url.erase(0, 1);
  const auto q = url.find('?');
  std::string path = q == std::string::npos ? url : url.substr(0, q);
  if (q != std::string::npos) e.query = url.substr(q + 1);
  const auto slash = path.find('/');
  e.type = path.substr(0, slash);
  if (slash != std::string::npos) {
    const std::string rest = path.substr(slash + 1);
    e.id = rest.substr(0, rest.find('/'));
  }
  if (e.method == "GET") return core::ok();  // GETs are served by the read/search paths
  if (!fhir::is_resource_type(e.type)) {
    return core::Error::invalid(fmt::format("request.url '{}' does not name an R4 resource type", e.url),
                                "request.url");
  }
  if (!e.id.empty() && !core::is_valid_id(e.id)) {
    return core::Error::invalid(fmt::format("request.url '{}' has an invalid id", e.url), "request.url");
  }
  if ((e.method == "PUT" || e.method == "DELETE" || e.method == "PATCH") && e.id.empty() && e.query.empty()) {
    return core::Error::invalid(fmt::format("{} needs an id or search criteria in request.url", e.method),
                                "request.url");
  }
  if (path.find('/', slash == std::string::npos ? path.size() : slash + 1) != std::string::npos) {
    return core::Error::invalid(fmt::format("request.url '{}' is not a valid {} target", e.url, e.method),
                                "request.url");
  }
  return core::ok();
}

core::Result<void> parse_entry(Entry& e, const json::value& raw, const std::string& base_url) {
  const auto* o = raw.if_object();
  if (o == nullptr) return core::Error::make(400, "structure", "a Bundle entry must be an object");
  e.full_url = str_at(*o, "fullUrl");
  const auto* req = o->if_contains("request");
  if (req == nullptr || !req->is_object()) {
    return core::Error::invalid("batch and transaction entries need a request", "request");
  }
  const auto& r = req->get_object();
  e.method = str_at(r, "method");
  e.url = str_at(r, "url");
  e.if_match = str_at(r, "ifMatch");
  e.if_none_exist = str_at(r, "ifNoneExist");
  e.if_none_match = str_at(r, "ifNoneMatch");
  if (std::find(kOrder.begin(), kOrder.end(), e.method) == kOrder.end() && e.method != "HEAD") {
    return core::Error::invalid(fmt::format("request.method '{}' is not supported", e.method), "request.method");
  }
  if (e.url.empty()) return core::Error::invalid("request.url is missing", "request.url");
  if (auto p = parse_url(e, base_url); !p) return p;
  const auto* res = o->if_contains("resource");
  if (e.method == "POST" || e.method == "PUT") {
    if (res == nullptr || !res->is_object())
      return core::Error::invalid(fmt::format("{} needs a resource", e.method), "resource");
    const std::string rt = str_at(res->get_object(), "resourceType");
    if (rt != e.type) {
      return core::Error::invalid(fmt::format("resource type '{}' does not match request.url '{}'", rt, e.url),
                                  "resource.resourceType");
    }
    if (auto v = validate(*res); !v) return at_entry(v.error(), e.index, e.type);
    e.resource = res->get_object();
    if (auto c = canonicalise_identifiers(*e.resource); !c) return at_entry(c.error(), e.index, e.type);
    if (e.method == "PUT" && !e.id.empty()) {
      const auto* rid = e.resource->if_contains("id");
      if (rid == nullptr || !rid->is_string() || rid->get_string() != e.id) {
        return core::Error::invalid("the resource id does not match request.url", "resource.id");
      }
    }
  } else if (e.method == "PATCH") {
    if (res == nullptr || !res->is_object()) return core::Error::invalid("PATCH needs a Binary resource", "resource");
    const auto& bin = res->get_object();
    if (str_at(bin, "resourceType") != "Binary" || str_at(bin, "contentType").find("json-patch") == std::string::npos) {
      return core::Error::not_supported(
          "PATCH entries need a Binary with contentType application/json-patch+json (FHIRPath Patch is not supported "
          "yet)");
    }
    auto data = decode_base64(str_at(bin, "data"));
    if (!data) return core::Error::invalid("Binary.data is not base64", "resource.data");
    auto doc = parse_json(*data, "JSON Patch document");
    if (!doc) return doc.error();
    e.patch = std::move(*doc);
  }
  return core::ok();
}

std::optional<std::int64_t> entry_if_match(const Entry& e, core::Result<void>& status) {
  if (e.if_match.empty()) return std::nullopt;
  auto v = parse_etag(e.if_match);
  if (!v) {
    status = v.error();
    return std::nullopt;
  }
  return *v;
}

/// Appends a response entry built from an HTTP-style response (batch and GET entries).
void append_response(std::string& out, const Response& r) {
  out += R"({"response":{"status":")" + status_line(r.status) + "\"";
  for (const auto& [name, value] : r.headers) {
    if (name == "Location") out += R"(,"location":)" + quoted(value);
    if (name == "ETag") out += R"(,"etag":)" + quoted(value);
  }
  const bool is_outcome = r.body.find("\"resourceType\":\"OperationOutcome\"") != std::string::npos;
  if (!r.body.empty() && is_outcome && r.status >= 400) out += R"(,"outcome":)" + r.body;
  out += "}";
  if (!r.body.empty() && !(is_outcome && r.status >= 400)) out += R"(,"resource":)" + r.body;
  out += "}";
}

Request sub_request(const Request& outer, const Entry& e) {
  Request r;
  r.method = e.method;
  r.base_url = outer.base_url;
  const auto q = e.url.find('?');
  std::string path = q == std::string::npos ? e.url : e.url.substr(0, q);
  if (path.rfind(outer.base_url + "/", 0) == 0) path = path.substr(outer.base_url.size() + 1);
  if (!path.empty() && path.front() == '/') path.erase(0, 1);
  r.path = "/fhir/" + path;
  if (q != std::string::npos) {
    r.raw_query = e.url.substr(q + 1);
    if (auto parsed = decode_query(r.raw_query)) r.query = std::move(*parsed);
  }
  if (!e.if_match.empty()) r.headers.add("if-match", e.if_match);
  if (!e.if_none_exist.empty()) r.headers.add("if-none-exist", e.if_none_exist);
  if (!e.if_none_match.empty()) r.headers.add("if-none-match", e.if_none_match);
  if (auto prefer = outer.headers.get("prefer")) r.headers.add("prefer", std::string(*prefer));
  if (e.method == "PATCH") {
    r.headers.add("content-type", "application/json-patch+json");
    r.body = json::serialize(e.patch);
  } else if (e.resource) {
    r.headers.add("content-type", "application/fhir+json");
    r.body = fhir::json_text(*e.resource);
  }
  return r;
}

std::string bundle_head(const char* type) {
  return R"({"resourceType":"Bundle","id":")" + core::new_uuid() + R"(","meta":{"lastUpdated":")" +
         core::format_instant(core::now_micros()) + R"("},"type":")" + type + R"(","entry":[)";
}

Response run_batch(store::Store& store, const ApiOptions& options, const Request& req, std::vector<Entry>& entries,
                   RecentArrivals* arrivals) {
  std::string body = bundle_head("batch-response");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    Response r;
    if (e.error) {
      r = error_response(*e.error, req);
    } else {
      r = handle_entry(store, options, sub_request(req, e), arrivals);
      if (wants_pretty(req)) r.body = format_body(std::move(r.body), Request{});
    }
    if (i > 0) body += ",";
    append_response(body, r);
  }
  body += "]}";
  Response out;
  out.body = format_body(std::move(body), req);
  return out;
}

/// Resolves `Type?criteria` references inside a transaction (R4 http.html#trules).
core::Result<void> resolve_conditional_refs(store::Transaction& t, json::value& v, std::size_t entry) {
  if (auto* o = v.if_object()) {
    for (auto& kv : *o) {
      if (kv.key() == "reference" && kv.value().is_string()) {
        const std::string ref(kv.value().get_string());
        const auto q = ref.find('?');
        // Absolute URLs are left alone; only the part before '?' decides (criteria may hold "://").
        if (q == std::string::npos || ref.substr(0, q).find("://") != std::string::npos) continue;
        const std::string type = ref.substr(0, q);
        if (!fhir::is_resource_type(type)) continue;
        auto found = resolve_one(t, type, ref.substr(q + 1), "conditional reference");
        if (!found) return at_entry(found.error(), entry, {});
        if (!found->has_value()) {
          return at_entry(core::Error::invalid(fmt::format("conditional reference '{}' matches no resource", ref)),
                          entry, {});
        }
        kv.value() = type + "/" + **found;
      } else if (auto r = resolve_conditional_refs(t, kv.value(), entry); !r) {
        return r;
      }
    }
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) {
      if (auto r = resolve_conditional_refs(t, e, entry); !r) return r;
    }
  }
  return core::ok();
}

bool has_conditional_reference(const json::value& v);

/// True when a `reference` anywhere in `o` is a conditional reference (`Type?criteria`).
bool has_conditional_reference(const json::object& o) {
  for (const auto& kv : o) {
    if (kv.key() == "reference" && kv.value().is_string()) {
      const std::string_view ref = kv.value().get_string();
      const auto q = ref.find('?');
      if (q != std::string_view::npos && fhir::is_resource_type(ref.substr(0, q))) return true;
    } else if (has_conditional_reference(kv.value())) {
      return true;
    }
  }
  return false;
}

bool has_conditional_reference(const json::value& v) {
  if (const auto* o = v.if_object()) return has_conditional_reference(*o);
  if (const auto* a = v.if_array()) {
    return std::any_of(a->begin(), a->end(), [](const json::value& e) { return has_conditional_reference(e); });
  }
  return false;
}

/// Without conditional parts every identity is known before the transaction: assign ids,
/// rewrite references and serialise here, off the single writer thread. Returns the POST ids.
std::map<std::size_t, std::string> prepare_unconditional(std::vector<Entry>& entries) {
  std::map<std::size_t, std::string> assigned;
  const bool unconditional = std::all_of(entries.begin(), entries.end(), [](const Entry& e) {
    return e.if_none_exist.empty() && (e.method == "GET" || e.method == "POST" || !e.id.empty()) &&
           (!e.resource || !has_conditional_reference(*e.resource));
  });
  if (!unconditional) return assigned;
  std::unordered_map<std::string, std::string> mapping;
  for (const auto& e : entries) {
    if (e.method == "POST") {
      std::string id = core::new_uuid();
      if (!e.full_url.empty()) mapping.emplace(e.full_url, e.type + "/" + id);
      assigned.emplace(e.index, std::move(id));
    } else if (e.method == "PUT" && !e.full_url.empty()) {
      mapping.emplace(e.full_url, e.type + "/" + e.id);
    }
  }
  for (auto& e : entries) {
    if (!e.resource) continue;
    json::value v(std::move(*e.resource));
    rewrite_references(v, mapping);
    e.prepared = prepare(std::move(v));
    e.resource.reset();
  }
  return assigned;
}

/// A review Task to write for a Patient arriving in the Bundle: the candidate is a stored Patient
/// or another Patient entry of the same Bundle (known by its id only inside the transaction).
struct ReviewPlan {
  std::size_t entry = 0;                       ///< the arriving Patient's entry
  std::optional<std::size_t> candidate_entry;  ///< candidate in this Bundle
  LinkDecision decision;                       ///< decision.review: a stored candidate's id
};

/// What a transaction's Patients were matched on before the write, so that they are matched again
/// as they are written against the Patients created meanwhile (single creates, other Bundles),
/// which the first matching could not see, and are then noted as arrivals themselves (hazard H30).
struct BundleArrivals {
  RecentArrivals* recent = nullptr;    ///< null: no second matching
  std::uint64_t seen = 0;              ///< arrivals the first matching's snapshots saw
  std::vector<LinkEvidence> evidence;  ///< by entry position; empty keys: not matched
  std::vector<bool> decided;           ///< by entry position: linked or planned for review already
  std::vector<std::uint64_t> tickets;  ///< arrivals noted by the run of the work being written
};

/// Step 5 of a transaction's work, after its creates: each created Patient that the first
/// matching left alone is matched again against the arrivals since, and a match (even a certain
/// one: the Bundle's resources are already written as planned) goes on the review queue; then
/// every created Patient is noted as an arrival. The Bundle's own Patients were matched with one
/// another before the write, so they are noted only after all are matched again.
core::Result<void> recheck_bundle_arrivals(store::Transaction& t, const std::vector<Entry>& entries,
                                           BundleArrivals& a) {
  if (a.recent == nullptr || a.evidence.size() != entries.size()) return core::ok();
  // A run before this one (rolled back with its group) noted arrivals that were never written.
  for (const auto ticket : a.tickets) a.recent->settle(ticket, false);
  a.tickets.clear();
  const auto created = [&](std::size_t i) {
    const Entry& e = entries[i];
    return e.method == "POST" && e.type == "Patient" && e.result.status == 201 && e.result.info &&
           !a.evidence[i].keys.empty();
  };
  // Every key at once, in one order (PostgreSQL): two Bundles sharing keys never wait for each other.
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (created(i)) keys.insert(keys.end(), a.evidence[i].keys.begin(), a.evidence[i].keys.end());
  }
  if (keys.empty()) return core::ok();
  if (auto locked = t.lock_names("match-key", keys); !locked) return locked.error();
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!created(i) || a.decided[i]) continue;
    auto again = recheck_link(t, *a.recent, a.seen, a.evidence[i]);
    if (!again) return again.error();
    if (!*again) continue;
    LinkDecision d = **again;
    if (d.link_to) d.review = d.link_to;
    if (!d.review) continue;
    const std::string& id = entries[i].result.info->id;
    if (auto task = op_create(t, "Task", review_task(id, d), {}); !task) return task.error();
  }
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (!created(i)) continue;
    a.tickets.push_back(a.recent->add(entries[i].result.info->id, a.evidence[i].keys, a.evidence[i].record));
  }
  return core::ok();
}

/// Record linkage for the Patients a transaction creates, as for single creates: each is matched
/// against the stored Patients and the Patients before it in the Bundle; a single certain match is
/// linked (`seealso`, by fullUrl inside the Bundle), a probable or possible one planned for review.
/// The store's linkage decision for each Patient the Bundle creates (empty for other entries).
/// Each is independent of the others, so a Bundle of many Patients (an import's batch) is matched
/// on several threads: matching is reads and scoring, and a thread per core halves a batch's time.
std::vector<std::optional<core::Result<LinkDecision>>> store_decisions(store::Store& store,
                                                                       const std::vector<Entry>& entries,
                                                                       std::vector<LinkEvidence>& evidence) {
  std::vector<std::optional<core::Result<LinkDecision>>> out(entries.size());
  std::vector<std::size_t> todo;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    if (e.method == "POST" && e.type == "Patient" && e.resource) todo.push_back(i);
  }
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t n = next++; n < todo.size(); n = next++) {
      const std::size_t i = todo[n];
      try {
        out[i] = decide_link(store, *entries[i].resource, &evidence[i]);
      } catch (const std::exception& ex) {
        out[i] = core::Result<LinkDecision>(core::Error::internal(std::string("record linkage failed: ") + ex.what()));
      }
    }
  };
  // A few Patients are matched on the request's own thread; more share the cores (at most four).
  constexpr std::size_t kParallelFrom = 16;
  const std::size_t threads =
      todo.size() < kParallelFrom ? 1 : std::clamp<std::size_t>(std::thread::hardware_concurrency(), 1, 4);
  {
    std::vector<std::jthread> helpers;
    helpers.reserve(threads - 1);
    for (std::size_t t = 1; t < threads; ++t) helpers.emplace_back(work);
    work();
  }
  return out;
}

core::Result<std::vector<ReviewPlan>> link_bundle_patients(store::Store& store, std::vector<Entry>& entries,
                                                           const ApiOptions& options, bool& waited,
                                                           BundleArrivals& arrivals) {
  std::vector<ReviewPlan> reviews;
  arrivals.evidence.assign(entries.size(), LinkEvidence{});
  arrivals.decided.assign(entries.size(), false);
  auto decisions = store_decisions(store, entries, arrivals.evidence);
  if (options.before_write && std::any_of(decisions.begin(), decisions.end(), [](const auto& d) { return d; })) {
    // Matched while the transaction before this one was being written: wait for it, then match
    // again the Patients that share a blocking key with its Patients (they may be candidates now).
    auto written = options.before_write();
    if (!written) return written.error();
    waited = true;
    if (!written->empty()) {
      const std::set<std::string> keys(written->begin(), written->end());
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (!decisions[i]) continue;
        auto record = mpi::record_from_patient(*entries[i].resource);
        if (!record) continue;
        const auto mine = mpi::blocking_keys(*record);
        if (std::any_of(mine.begin(), mine.end(), [&](const std::string& k) { return keys.count(k) != 0; })) {
          arrivals.evidence[i] = LinkEvidence{};
          decisions[i] = decide_link(store, *entries[i].resource, &arrivals.evidence[i]);
        }
      }
    }
  }
  std::map<std::size_t, mpi::PatientRecord> earlier;             // entry position -> record
  std::map<std::string, std::vector<std::size_t>> earlier_keys;  // blocking key -> entry positions
  const mpi::Matcher matcher;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    if (e.method != "POST" || e.type != "Patient" || !e.resource) continue;
    auto record = mpi::record_from_patient(*e.resource);
    if (!record) continue;
    if (!decisions[i]) continue;
    auto& d = *decisions[i];
    if (!d) return d.error();
    // The best match among the Bundle's earlier Patients that share a blocking key with it.
    std::optional<std::size_t> in_bundle;
    mpi::MatchScore best_in_bundle;
    int certain_in_bundle = 0;
    std::set<std::size_t> candidates;
    const std::vector<std::string> keys = mpi::blocking_keys(*record);
    for (const auto& key : keys) {
      // The most recent few of a large block (a common birth date) are enough inside one Bundle.
      constexpr std::ptrdiff_t kPerKey = 50;
      if (auto it = earlier_keys.find(key); it != earlier_keys.end()) {
        const auto& list = it->second;
        const auto from = std::ssize(list) > kPerKey ? list.end() - kPerKey : list.begin();
        candidates.insert(from, list.end());
      }
    }
    for (const std::size_t pos : candidates) {
      const mpi::MatchScore score = matcher.score(*record, earlier.at(pos));
      if (score.grade == mpi::Grade::kCertainlyNot) continue;
      if (score.grade == mpi::Grade::kCertain) ++certain_in_bundle;
      if (!in_bundle || score.score > best_in_bundle.score) {
        in_bundle = pos;
        best_in_bundle = score;
      }
    }
    for (const auto& key : keys) earlier_keys[key].push_back(i);
    earlier.emplace(i, std::move(*record));
    const bool store_certain = d->link_to.has_value();
    arrivals.decided[i] = store_certain || d->review.has_value() || in_bundle.has_value();
    const bool bundle_certain =
        certain_in_bundle == 1 && best_in_bundle.grade == mpi::Grade::kCertain && !entries[*in_bundle].full_url.empty();
    if (store_certain && certain_in_bundle == 0) {
      add_seealso_link(*e.resource, *d->link_to);
    } else if (bundle_certain && !store_certain && !d->review) {
      // A reference by fullUrl, rewritten to the new id with the Bundle's other references.
      boost::json::object& resource = *e.resource;
      if (!resource.contains("link") || !resource["link"].is_array()) resource["link"] = boost::json::array{};
      resource["link"].as_array().push_back(boost::json::object{
          {"other", boost::json::object{{"reference", entries[*in_bundle].full_url}}}, {"type", "seealso"}});
    } else if (d->review || d->link_to) {
      ReviewPlan plan{i, std::nullopt, std::move(*d)};
      if (plan.decision.link_to) plan.decision.review = plan.decision.link_to;  // certain both here and in the store
      reviews.push_back(std::move(plan));
    } else if (in_bundle) {
      LinkDecision bundle_decision;
      bundle_decision.score = best_in_bundle.score;
      bundle_decision.grade = std::string(mpi::grade_code(best_in_bundle.grade));
      bundle_decision.explanation =
          "a Patient in the same Bundle\n" + explanation_text(matcher.explain(earlier.at(i), earlier.at(*in_bundle)));
      reviews.push_back(ReviewPlan{i, in_bundle, std::move(bundle_decision)});
    }
  }
  return reviews;
}

/// The transaction's work in the store (R4 http.html#trules): deletes, then identities, then
/// creates, updates and patches. Fills each entry's result.
core::Result<void> run_transaction_work(store::Transaction& t, std::vector<Entry>& entries,
                                        const std::map<std::size_t, std::string>& preassigned,
                                        const std::vector<ReviewPlan>& reviews, BundleArrivals& arrivals) {
  const auto run = [&](Entry& e, core::Result<OpResult> r) -> core::Result<void> {
    if (!r) return at_entry(r.error(), e.index, e.type);
    e.result = std::move(*r);
    return core::ok();
  };
  const auto if_match_of = [&](const Entry& e) -> core::Result<std::optional<std::int64_t>> {
    core::Result<void> status = core::ok();
    const auto if_match = entry_if_match(e, status);
    if (!status) return at_entry(status.error(), e.index, {});
    return if_match;
  };
  // 1. DELETEs, first of all (R4 http.html#trules), so later steps see their effect.
  std::set<std::string> touched;
  for (auto& e : entries) {
    if (e.method != "DELETE") continue;
    if (e.id.empty()) {
      auto found = resolve_one(t, e.type, e.query, "conditional DELETE");
      if (!found) return at_entry(found.error(), e.index, {});
      if (found->has_value()) e.id = **found;
    }
    auto if_match = if_match_of(e);
    if (!if_match) return if_match.error();
    if (e.id.empty()) {
      e.result = OpResult{204, std::nullopt, {}};
      continue;
    }
    touched.insert(e.type + "/" + e.id);
    if (auto r = run(e, op_delete(t, e.type, e.id, *if_match)); !r) return r;
  }
  // 2. Identities of the remaining writes: conditional creates and conditional targets are
  // resolved after the deletes; no resource may be touched by two entries.
  std::unordered_map<std::string, std::string> mapping;
  std::map<std::size_t, std::string> assigned = preassigned;  // POST entry -> id
  std::map<std::size_t, bool> existing;                       // POST entry matched If-None-Exist
  for (auto& e : entries) {
    if (e.method == "POST") {
      if (assigned.count(e.index) != 0) continue;
      std::string id;
      if (!e.if_none_exist.empty()) {
        auto found = resolve_one(t, e.type, e.if_none_exist, "If-None-Exist");
        if (!found) return at_entry(found.error(), e.index, {});
        if (found->has_value()) {
          id = **found;
          existing[e.index] = true;
        }
      }
      if (id.empty()) id = core::new_uuid();
      assigned[e.index] = id;
      if (!e.full_url.empty()) mapping.emplace(e.full_url, e.type + "/" + id);
      continue;
    }
    if (e.method != "PUT" && e.method != "PATCH") continue;
    if (e.id.empty()) {
      auto found = resolve_one(t, e.type, e.query, fmt::format("conditional {}", e.method));
      if (!found) return at_entry(found.error(), e.index, {});
      if (found->has_value()) {
        e.id = **found;
      } else if (e.method == "PUT") {
        const auto* rid = e.resource->if_contains("id");
        e.id = rid != nullptr && rid->is_string() ? std::string(rid->get_string()) : core::new_uuid();
      } else {
        return at_entry(core::Error::not_found("no resource matches the conditional patch criteria"), e.index, {});
      }
      if (e.method == "PUT") (*e.resource)["id"] = e.id;
    }
    if (!touched.insert(e.type + "/" + e.id).second) {
      return at_entry(core::Error::invalid(fmt::format("{}/{} is the target of more than one entry", e.type, e.id)),
                      e.index, {});
    }
    if (e.method == "PUT" && !e.full_url.empty()) mapping.emplace(e.full_url, e.type + "/" + e.id);
  }
  for (auto& e : entries) {
    if (!e.resource || e.prepared) continue;
    json::value v(std::move(*e.resource));
    rewrite_references(v, mapping);
    if (auto r = resolve_conditional_refs(t, v, e.index); !r) return r;
    e.resource = std::move(v.get_object());
  }
  // 3. POSTs, then PUTs and PATCHes. GETs run after the commit.
  for (const auto method : kOrder) {
    if (method == "DELETE" || method == "GET") continue;
    for (auto& e : entries) {
      if (e.method != method) continue;
      auto if_match = if_match_of(e);
      if (!if_match) return if_match.error();
      if (method == "POST") {
        if (existing[e.index]) {
          auto cur = t.current(e.type, assigned[e.index]);
          if (!cur) return cur.error();
          OpResult found;
          if (cur->has_value()) {
            found.info = (*cur)->info;
            found.json = (*cur)->json;
          }
          e.result = std::move(found);
          continue;
        }
        auto created = e.prepared ? op_create(t, e.type, *e.prepared, {}, assigned[e.index])
                                  : op_create(t, e.type, *e.resource, {}, assigned[e.index]);
        if (auto r = run(e, std::move(created)); !r) return r;
      } else if (method == "PUT") {
        auto updated = e.prepared ? op_update(t, e.type, e.id, *e.prepared, *if_match)
                                  : op_update(t, e.type, e.id, *e.resource, *if_match);
        if (auto r = run(e, std::move(updated)); !r) return r;
      } else {
        if (auto r = run(e, op_patch(t, e.type, e.id, e.patch, *if_match)); !r) return r;
      }
    }
  }
  // 4. Review Tasks for the Patients that may be someone already known.
  for (const auto& plan : reviews) {
    const Entry& e = entries[plan.entry];
    if (e.result.status != 201 || !e.result.info) continue;
    LinkDecision d = plan.decision;
    if (plan.candidate_entry) {
      const Entry& other = entries[*plan.candidate_entry];
      if (!other.result.info) continue;
      d.review = other.result.info->id;
    }
    if (auto task = op_create(t, "Task", review_task(e.result.info->id, d), {}); !task) return task.error();
  }
  // 5. Matched again as written, against the Patients created meanwhile (hazard H30).
  return recheck_bundle_arrivals(t, entries, arrivals);
}

Response run_transaction(store::Store& store, const ApiOptions& options, const Request& req,
                         std::vector<Entry>& entries, RecentArrivals* recent) {
  for (const auto& e : entries) {
    if (e.error) return error_response(*e.error, req);
  }
  // Two entries may not touch the same resource.
  std::set<std::string> seen;
  for (const auto& e : entries) {
    if (e.method == "GET" || e.id.empty()) continue;
    if (!seen.insert(e.type + "/" + e.id).second) {
      return error_response(
          at_entry(core::Error::invalid(fmt::format("{}/{} appears in more than one entry", e.type, e.id)), e.index,
                   {}),
          req);
    }
  }
  std::vector<ReviewPlan> reviews;
  bool waited = false;
  BundleArrivals arrivals;
  if (options.link_patients) {
    if (recent != nullptr) {
      arrivals.recent = recent;
      arrivals.seen = recent->visible();  // before the snapshots the matching reads
    }
    auto planned = link_bundle_patients(store, entries, options, waited, arrivals);
    if (!planned) return error_response(planned.error(), req);
    reviews = std::move(*planned);
  }
  const std::map<std::size_t, std::string> preassigned = prepare_unconditional(entries);
  if (options.before_write && !waited) {
    if (auto written = options.before_write(); !written) return error_response(written.error(), req);
  }
  // The store may run this work more than once, each time from the same database state. Entries
  // whose identities were all settled up front come out of any run the same, so they are worked
  // on in place; otherwise every run works on a fresh copy of the untouched entries and the copy
  // from the run that committed is kept.
  const bool settled = std::all_of(entries.begin(), entries.end(), [](const Entry& e) {
    return !e.resource && e.if_none_exist.empty() && (e.method == "GET" || e.method == "POST" || !e.id.empty());
  });
  std::vector<Entry> committed;
  const search::Registry& reg = registry();
  auto w = store.write([&entries, &committed, &preassigned, &reviews, &arrivals, settled,
                        &reg](store::Transaction& t) -> core::Result<void> {
    const RegistryScope scope(reg);
    if (settled) return run_transaction_work(t, entries, preassigned, reviews, arrivals);
    std::vector<Entry> work = entries;
    if (auto r = run_transaction_work(t, work, preassigned, reviews, arrivals); !r) return r;
    committed = std::move(work);
    return core::ok();
  });
  if (arrivals.recent != nullptr) {
    for (const auto ticket : arrivals.tickets) arrivals.recent->settle(ticket, w.has_value());
  }
  if (w && !settled) entries = std::move(committed);
  if (!w) return error_response(w.error(), req);

  const auto prefer = req.headers.get("prefer");
  const bool minimal = prefer && prefer->find("return=minimal") != std::string_view::npos;
  std::string body = bundle_head("transaction-response");
  for (std::size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    if (i > 0) body += ",";
    if (e.method == "GET" || e.method == "HEAD") {
      Response r = handle_entry(store, options, sub_request(req, e));
      append_response(body, r);
      continue;
    }
    const OpResult& res = e.result;
    body += R"({"response":{"status":")" + status_line(res.status) + "\"";
    if (res.info) {
      if (!res.info->deleted) {
        body += R"(,"location":)" +
                quoted(fmt::format("{}/{}/_history/{}", res.info->type, res.info->id, res.info->version));
      }
      body += R"(,"etag":)" + quoted(etag_of(res.info->version)) + R"(,"lastModified":")" +
              core::format_instant(res.info->last_updated) + "\"";
    }
    body += "}";
    if (!minimal && !res.json.empty()) body += R"(,"resource":)" + res.json;
    body += "}";
  }
  body += "]}";
  Response out;
  out.body = format_body(std::move(body), req);
  return out;
}

}  // namespace

Response handle_bundle(store::Store& store, const ApiOptions& options, const Request& req, RecentArrivals* arrivals) {
  auto doc = parse_json(req.body, "request body");
  if (!doc) return error_response(doc.error(), req);
  const auto* o = doc->if_object();
  if (o == nullptr || str_at(*o, "resourceType") != "Bundle") {
    return error_response(core::Error::invalid("POST to the base needs a Bundle", "resourceType"), req);
  }
  const std::string type = str_at(*o, "type");
  if (type != "batch" && type != "transaction") {
    return error_response(
        core::Error::invalid(fmt::format("Bundle.type '{}' is not batch or transaction", type), "Bundle.type"), req);
  }
  std::vector<Entry> entries;
  if (const auto* raw = o->if_contains("entry")) {
    const auto* arr = raw->if_array();
    if (arr == nullptr)
      return error_response(core::Error::make(400, "structure", "Bundle.entry must be an array", "Bundle.entry"), req);
    if (arr->size() > options.max_bundle_entries) {
      return error_response(
          core::Error::make(413, "too-costly",
                            fmt::format("a Bundle may hold at most {} entries", options.max_bundle_entries)),
          req);
    }
    entries.resize(arr->size());
    for (std::size_t i = 0; i < arr->size(); ++i) {
      entries[i].index = i;
      if (auto r = parse_entry(entries[i], (*arr)[i], req.base_url); !r) {
        const bool located = !r.error().issues.empty() && r.error().issues.front().expression.rfind("Bundle.", 0) == 0;
        entries[i].error = located ? r.error() : at_entry(r.error(), i, {});
      }
    }
  }
  return type == "batch" ? run_batch(store, options, req, entries, arrivals)
                         : run_transaction(store, options, req, entries, arrivals);
}

}  // namespace ucr::api::detail
