#include "api/api.hpp"

#include "api/bulk_export.hpp"
#include "api/detail/access.hpp"
#include "api/detail/bundle.hpp"
#include "api/detail/capability.hpp"
#include "api/detail/export_jobs.hpp"
#include "api/detail/format.hpp"
#include "api/detail/identity.hpp"
#include "api/detail/oauth.hpp"
#include "api/detail/ops.hpp"
#include "api/detail/registry_scope.hpp"
#include "api/detail/respond.hpp"
#include "api/detail/search.hpp"
#include "audit/audit.hpp"
#include "auth/provider.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "fhir/definitions.hpp"
#include "fhir/outcome.hpp"
#include "search/registry.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <thread>

namespace ucr::api {
namespace {

namespace json = boost::json;
using detail::error_response;

std::vector<std::string_view> split_path(std::string_view path) {
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

bool is_json_media(std::string_view v) {
  return v.find("json") != std::string_view::npos || v.find("*/*") != std::string_view::npos;
}

/// R4 http.html#mime-type: JSON only; XML and anything else is refused with 406.
std::optional<core::Error> check_format(const Request& req) {
  if (auto f = req.param("_format")) {
    if (*f != "json" && !is_json_media(*f)) {
      return core::Error::make(406, "not-supported", fmt::format("_format '{}' is not supported; use json", *f));
    }
    return std::nullopt;
  }
  if (auto accept = req.headers.get("accept")) {
    if (!accept->empty() && !is_json_media(*accept) && accept->find("application/*") == std::string_view::npos) {
      return core::Error::make(406, "not-supported",
                               fmt::format("cannot produce '{}'; this server speaks application/fhir+json", *accept));
    }
  }
  return std::nullopt;
}

std::optional<core::Error> check_content_type(const Request& req, bool patch) {
  const auto ct = req.headers.get("content-type");
  if (patch) {
    if (!ct || ct->find("application/json-patch+json") == std::string_view::npos) {
      return core::Error::make(415, "not-supported",
                               "PATCH needs Content-Type application/json-patch+json (JSON Patch); FHIRPath Patch "
                               "is not supported yet");
    }
    return std::nullopt;
  }
  if (ct && !ct->empty() && ct->find("json") == std::string_view::npos) {
    return core::Error::make(415, "not-supported",
                             fmt::format("Content-Type '{}' is not supported; send application/fhir+json", *ct));
  }
  return std::nullopt;
}

core::Result<std::optional<std::int64_t>> if_match_of(const Request& req) {
  const auto h = req.headers.get("if-match");
  if (!h) return std::optional<std::int64_t>{};
  auto v = detail::parse_etag(*h);
  if (!v) {
    auto e = v.error();
    e.issues.front().diagnostics = "If-Match: " + e.issues.front().diagnostics;
    return e;
  }
  return std::optional<std::int64_t>{*v};
}

/// The query string without the result-shaping parameters, for conditional interactions.
std::string criteria_query(const Request& req) { return req.raw_query; }

/// Wraps an interaction's transaction work so that its result builds the response afterwards.
/// `op` must own what it uses (capture by value): it runs later, on the store's writer thread.
PendingWrite run_write(const Request& req, const char* interaction,
                       std::function<core::Result<detail::OpResult>(store::Transaction&)> op) {
  auto result = std::make_shared<detail::OpResult>();
  PendingWrite p;
  p.work = [op = std::move(op), result](store::Transaction& t) -> core::Result<void> {
    auto r = op(t);
    if (!r) return r.error();
    *result = std::move(*r);
    return core::ok();
  };
  p.finish = [result, &req, interaction](const core::Result<void>& w) {
    Response resp = w ? detail::resource_response(*result, req, true) : error_response(w.error(), req);
    resp.interaction = interaction;
    return resp;
  };
  return p;
}

std::string encode_param(std::string_view v) {
  return boost::urls::encode(boost::core::string_view(v.data(), v.size()), boost::urls::unreserved_chars);
}

class Handler {
 public:
  Handler(store::Store& store, const ApiOptions& options, const Request& req,
          const detail::Reviewer* reviewer = nullptr, detail::RecentArrivals* arrivals = nullptr)
      : store_(store), options_(options), req_(req), reviewer_(reviewer), arrivals_(arrivals) {}

  Started run() {
    if (auto e = check_format(req_)) return error_response(*e, req_);
    std::string_view path = req_.path;
    if (path.rfind("/fhir", 0) != 0) return error_response(core::Error::not_found("unknown path"), req_);
    path.remove_prefix(5);
    const auto seg = split_path(path);
    const std::string& m = req_.method;
    const bool get = m == "GET" || m == "HEAD";
    if (seg.empty()) {
      if (m == "POST") return tagged(detail::handle_bundle(store_, options_, req_, arrivals_), "transaction");
      if (get) return detail::search_system(store_, options_, req_);
      return method_not_allowed();
    }
    if (seg[0] == "metadata") {
      if (!get) return method_not_allowed();
      Response r;
      r.body = detail::format_body(
          detail::capability_statement(req_.base_url, options_.software_version,
                                       options_.auth != nullptr ? options_.auth->options().issuer : std::string(),
                                       !options_.export_directory.empty()),
          req_);
      r.interaction = "capabilities";
      return r;
    }
    if (seg[0] == "_history") {
      if (!get || seg.size() != 1) return method_not_allowed();
      return history("", "", "history-system");
    }
    const std::string type(seg[0]);
    if (!fhir::is_resource_type(type)) {
      return error_response(
          core::Error::make(404, "not-supported", fmt::format("'{}' is not an R4 resource type", type)), req_);
    }
    if (seg.size() == 1) {
      if (get) return search(type);
      if (m == "POST") return create(type);
      if (m == "PUT") return conditional_update(type);
      if (m == "DELETE") return conditional_delete(type);
      if (m == "PATCH") return conditional_patch(type);
      return method_not_allowed();
    }
    if (seg.size() == 2 && seg[1] == "_history") {
      if (!get) return method_not_allowed();
      return history(type, "", "history-type");
    }
    if (seg.size() == 2 && seg[1] == "_search") {
      if (m != "POST") return method_not_allowed();
      return search(type);
    }
    if (seg.size() == 2 && (seg[1] == "$merge" || seg[1] == "$unmerge") && type == "Patient") {
      if (m != "POST") return method_not_allowed();
      return detail::merge_patients(store_, options_, req_, seg[1] == "$unmerge");
    }
    if (seg.size() == 2 && seg[1] == "$match" && type == "Patient") {
      if (m != "POST") return method_not_allowed();
      return detail::match_patient(store_, options_, req_);
    }
    if (seg.size() == 2 && seg[1] == "$validate") {
      if (m != "POST") return method_not_allowed();
      return validate_op(type, "");
    }
    const std::string id(seg[1]);
    if (!core::is_valid_id(id)) {
      return error_response(core::Error::invalid(fmt::format("'{}' is not a valid FHIR id", id)), req_);
    }
    if (seg.size() == 2) {
      if (get) return read(type, id);
      if (m == "PUT") return update(type, id);
      if (m == "DELETE") return remove(type, id);
      if (m == "PATCH") return patch(type, id);
      return method_not_allowed();
    }
    if (seg.size() == 3 && seg[2] == "$validate") {
      if (m != "POST") return method_not_allowed();
      return validate_op(type, id);
    }
    if (seg.size() == 3 && type == "Task" && seg[2] == "$resolve-match") {
      if (m != "POST") return method_not_allowed();
      if (reviewer_ == nullptr) {
        return error_response(core::Error::make(400, "not-supported",
                                                "$resolve-match is not available inside a Bundle: POST it on its own"),
                              req_);
      }
      return detail::resolve_review(store_, req_, id, *reviewer_);
    }
    if (seg.size() == 3 && type == "Patient" && seg[2] == "$everything") {
      if (!get) return method_not_allowed();
      return detail::everything(store_, options_, req_, id);
    }
    if (seg.size() == 3 && type == "Patient" && fhir::is_resource_type(seg[2])) {
      // Patient compartment search (R4 compartmentdefinition.html): GET [base]/Patient/{id}/{type}?...
      if (!get) return method_not_allowed();
      const std::string member(seg[2]);
      const auto& types = search::Registry::r4().patient_compartment_params(member);
      // Resources contained in the patient's records are in the compartment with their containers,
      // whatever their type (R4 search.html#contained).
      const bool contained = std::any_of(req_.query.begin(), req_.query.end(),
                                         [](const auto& p) { return p.first == "_contained" && p.second != "false"; });
      if (types.empty() && member != "Patient" && !contained) {
        return error_response(
            core::Error::invalid(fmt::format("{} resources are not in the Patient compartment", member)), req_);
      }
      return tagged(detail::search_type(store_, options_, req_, member, id), "search-type");
    }
    if (seg[2] != "_history" || !get) return method_not_allowed();
    if (seg.size() == 3) return history(type, id, "history-instance");
    if (seg.size() == 4) return vread(type, id, seg[3]);
    return method_not_allowed();
  }

 private:
  static Response tagged(Response r, const char* interaction) {
    r.interaction = interaction;
    return r;
  }

  Response method_not_allowed() const {
    return error_response(
        core::Error::make(405, "not-supported", fmt::format("{} is not supported on {}", req_.method, req_.path)),
        req_);
  }

  Response read(const std::string& type, const std::string& id) {
    auto r = store_.read(type, id);
    if (!r) return tagged(error_response(r.error(), req_), "read");
    const auto& info = r->info;
    Response out;
    const auto unchanged = [&] {
      if (auto inm = req_.headers.get("if-none-match")) {
        auto v = detail::parse_etag(*inm);
        if (v && *v == info.version) return true;
      }
      if (auto ims = req_.headers.get("if-modified-since")) {
        auto t = core::parse_http_date(*ims);
        if (t && info.last_updated / 1'000'000 <= *t / 1'000'000) return true;
      }
      return false;
    };
    if (unchanged()) {
      out = not_modified(info);
    } else {
      detail::OpResult res{200, info, std::move(r->json)};
      out = tagged(detail::resource_response(res, req_, false), "read");
    }
    out.compartment = std::move(r->compartment);
    return out;
  }

  Response not_modified(const store::VersionInfo& info) const {
    Response r;
    r.status = 304;
    r.headers.emplace_back("ETag", detail::etag_of(info.version));
    r.headers.emplace_back("Last-Modified", core::format_http_date(info.last_updated));
    r.interaction = "read";
    return r;
  }

  Response vread(const std::string& type, const std::string& id, std::string_view vid) {
    std::int64_t version = 0;
    auto [ptr, ec] = std::from_chars(vid.data(), vid.data() + vid.size(), version);
    if (ec != std::errc() || ptr != vid.data() + vid.size() || version < 1) {
      return tagged(error_response(core::Error::invalid(fmt::format("'{}' is not a version number", vid)), req_),
                    "vread");
    }
    auto r = store_.vread(type, id, version);
    if (!r) return tagged(error_response(r.error(), req_), "vread");
    detail::OpResult res{200, r->info, std::move(r->json)};
    Response out = tagged(detail::resource_response(res, req_, false), "vread");
    out.compartment = std::move(r->compartment);
    return out;
  }

  Started create(const std::string& type) {
    if (auto e = check_content_type(req_, false)) return tagged(error_response(*e, req_), "create");
    auto body = detail::parse_resource(req_.body, type);
    if (!body) return tagged(error_response(body.error(), req_), "create");
    const std::string if_none_exist(req_.headers.get("if-none-exist").value_or(""));
    // Record linkage: an arriving Patient is matched against the stored ones first, and again as
    // it is written against the Patients created meanwhile (detail::RecentArrivals).
    std::optional<detail::LinkDecision> linkage;
    std::shared_ptr<detail::LinkEvidence> evidence;
    std::uint64_t seen = 0;
    if (type == "Patient" && options_.link_patients) {
      if (arrivals_ != nullptr) {
        seen = arrivals_->visible();  // before the snapshot decide_link reads
        evidence = std::make_shared<detail::LinkEvidence>();
      }
      auto d = detail::decide_link(store_, *body, evidence.get());
      if (!d) return tagged(error_response(d.error(), req_), "create");
      if (d->link_to || d->review) linkage = std::move(*d);
      if (evidence && evidence->keys.empty()) evidence.reset();  // a Patient that cannot be matched
    }
    // A client-sent id is ignored on create (R4 http.html#create); the server assigns one.
    auto unlinked = evidence ? std::make_shared<const boost::json::object>(*body) : nullptr;
    if (linkage && linkage->link_to) detail::add_seealso_link(*body, *linkage->link_to);
    const auto prepared = detail::prepare(boost::json::value(std::move(*body)));
    const std::string id = core::new_uuid();
    auto ticket = std::make_shared<std::uint64_t>(0);
    PendingWrite write = run_write(req_, "create",
                                   [type, prepared, if_none_exist, id, linkage, evidence, unlinked, seen, ticket,
                                    arrivals = arrivals_](store::Transaction& t) -> core::Result<detail::OpResult> {
                                     // The writer may run this again (when another write in its group fails): nothing
                                     // captured is changed, and an arrival noted by an earlier run is forgotten first.
                                     std::optional<detail::LinkDecision> decision = linkage;
                                     std::optional<detail::PreparedResource> relinked;
                                     if (evidence) {
                                       auto again = detail::recheck_link(t, *arrivals, seen, *evidence);
                                       if (!again) return again.error();
                                       if (*again) {
                                         const detail::LinkDecision& d = **again;
                                         decision.reset();
                                         if (d.link_to || d.review) decision = d;
                                         boost::json::object body = *unlinked;
                                         if (d.link_to) detail::add_seealso_link(body, *d.link_to);
                                         relinked = detail::prepare(body);
                                       }
                                     }
                                     auto created =
                                         detail::op_create(t, type, relinked ? *relinked : prepared, if_none_exist, id);
                                     if (!created) return created;
                                     // A possible duplicate goes on the review queue in the same transaction.
                                     if (created->status == 201 && decision && decision->review) {
                                       auto task = detail::op_create(t, "Task", detail::review_task(id, *decision), {});
                                       if (!task) return task.error();
                                     }
                                     // Last: nothing after this can fail the write but its commit.
                                     if (created->status == 201 && evidence) {
                                       if (*ticket != 0)
                                         arrivals->settle(*ticket, false);  // an earlier run's, rolled back
                                       *ticket = arrivals->add(id, evidence->keys, evidence->record);
                                     }
                                     return created;
                                   });
    if (evidence) {
      write.finish = [finish = std::move(write.finish), ticket, arrivals = arrivals_](const core::Result<void>& w) {
        if (*ticket != 0) arrivals->settle(*ticket, w.has_value());
        return finish(w);
      };
    }
    return write;
  }

  Started update(const std::string& type, const std::string& id) {
    if (auto e = check_content_type(req_, false)) return tagged(error_response(*e, req_), "update");
    auto if_match = if_match_of(req_);
    if (!if_match) return tagged(error_response(if_match.error(), req_), "update");
    auto body = detail::parse_resource(req_.body, type);
    if (!body) return tagged(error_response(body.error(), req_), "update");
    const auto prepared = detail::prepare(boost::json::value(std::move(*body)));
    return run_write(req_, "update", [type, id, prepared, if_match = *if_match](store::Transaction& t) {
      return detail::op_update(t, type, id, prepared, if_match);
    });
  }

  Started conditional_update(const std::string& type) {
    if (auto e = check_content_type(req_, false)) return tagged(error_response(*e, req_), "update");
    auto if_match = if_match_of(req_);
    if (!if_match) return tagged(error_response(if_match.error(), req_), "update");
    auto body = detail::parse_resource(req_.body, type);
    if (!body) return tagged(error_response(body.error(), req_), "update");
    const std::string query = criteria_query(req_);
    return run_write(req_, "update",
                     [type, query, body = std::move(*body),
                      if_match = *if_match](store::Transaction& t) -> core::Result<detail::OpResult> {
                       auto found = detail::resolve_one(t, type, query, "conditional update");
                       if (!found) return found.error();
                       json::object resource = body;
                       std::string id;
                       if (found->has_value()) {
                         id = **found;
                       } else if (const auto* bid = resource.if_contains("id"); bid != nullptr && bid->is_string()) {
                         id = std::string(bid->get_string());
                       } else {
                         id = core::new_uuid();
                       }
                       if (const auto* bid = resource.if_contains("id");
                           bid != nullptr && bid->is_string() && bid->get_string() != id) {
                         return core::Error::invalid("the resource id does not match the resource the criteria found",
                                                     "id");
                       }
                       resource["id"] = id;
                       return detail::op_update(t, type, id, resource, if_match);
                     });
  }

  Started remove(const std::string& type, const std::string& id) {
    auto if_match = if_match_of(req_);
    if (!if_match) return tagged(error_response(if_match.error(), req_), "delete");
    return run_write(req_, "delete", [type, id, if_match = *if_match](store::Transaction& t) {
      return detail::op_delete(t, type, id, if_match);
    });
  }

  Started conditional_delete(const std::string& type) {
    const std::string query = criteria_query(req_);
    return run_write(req_, "delete", [type, query](store::Transaction& t) -> core::Result<detail::OpResult> {
      auto found = detail::resolve_one(t, type, query, "conditional delete");
      if (!found) return found.error();
      if (!found->has_value()) return detail::OpResult{204, std::nullopt, {}};
      return detail::op_delete(t, type, **found, std::nullopt);
    });
  }

  Started patch(const std::string& type, const std::string& id) {
    if (auto e = check_content_type(req_, true)) return tagged(error_response(*e, req_), "patch");
    auto if_match = if_match_of(req_);
    if (!if_match) return tagged(error_response(if_match.error(), req_), "patch");
    auto doc = detail::parse_json(req_.body, "JSON Patch document");
    if (!doc) return tagged(error_response(doc.error(), req_), "patch");
    return run_write(req_, "patch", [type, id, doc = std::move(*doc), if_match = *if_match](store::Transaction& t) {
      return detail::op_patch(t, type, id, doc, if_match);
    });
  }

  Started conditional_patch(const std::string& type) {
    if (auto e = check_content_type(req_, true)) return tagged(error_response(*e, req_), "patch");
    auto doc = detail::parse_json(req_.body, "JSON Patch document");
    if (!doc) return tagged(error_response(doc.error(), req_), "patch");
    const std::string query = criteria_query(req_);
    return run_write(req_, "patch",
                     [type, query, doc = std::move(*doc)](store::Transaction& t) -> core::Result<detail::OpResult> {
                       auto found = detail::resolve_one(t, type, query, "conditional patch");
                       if (!found) return found.error();
                       if (!found->has_value())
                         return core::Error::not_found("no resource matches the conditional patch criteria");
                       return detail::op_patch(t, type, **found, doc, std::nullopt);
                     });
  }

  Response validate_op(const std::string& type, const std::string& id) {
    auto v = detail::parse_json(req_.body, "request body");
    if (!v) return tagged(error_response(v.error(), req_), "operation");
    json::value resource = std::move(*v);
    // The body may be the resource itself or Parameters with a `resource` parameter.
    if (auto* o = resource.if_object(); o != nullptr && type != "Parameters") {
      const auto* rt = o->if_contains("resourceType");
      if (rt != nullptr && rt->is_string() && rt->get_string() == "Parameters") {
        json::value inner;
        if (const auto* params = o->if_contains("parameter"); params != nullptr && params->is_array()) {
          for (const auto& p : params->get_array()) {
            const auto* po = p.if_object();
            if (po == nullptr) continue;
            const auto* name = po->if_contains("name");
            if (name != nullptr && name->is_string() && name->get_string() == "resource" && po->contains("resource")) {
              inner = po->at("resource");
            }
          }
        }
        if (inner.is_null()) {
          return tagged(
              error_response(core::Error::invalid("Parameters has no 'resource' parameter", "Parameters.parameter"),
                             req_),
              "operation");
        }
        resource = std::move(inner);
      }
    }
    std::vector<core::Issue> issues;
    const auto* o = resource.if_object();
    const auto* rt = o != nullptr ? o->if_contains("resourceType") : nullptr;
    if (rt != nullptr && rt->is_string() && rt->get_string() != type) {
      issues.push_back(
          core::Issue{"error", "invalid",
                      fmt::format("resourceType '{}' does not match '{}'", std::string_view(rt->get_string()), type),
                      "resourceType"});
    } else {
      if (auto r = detail::validate(resource); !r) issues = r.error().issues;
      if (!id.empty() && o != nullptr) {
        const auto* rid = o->if_contains("id");
        if (rid == nullptr || !rid->is_string() || rid->get_string() != id) {
          issues.push_back(core::Issue{"error", "invalid", "the resource id does not match the URL", "id"});
        }
      }
    }
    if (issues.empty()) issues.push_back(core::Issue{"information", "informational", "no issues found", {}});
    Response r;
    r.body = detail::format_body(json::serialize(fhir::operation_outcome(issues)), req_);
    r.interaction = "operation";
    return r;
  }

  core::Result<std::size_t> page_size() const {
    auto c = req_.param("_count");
    if (!c) return options_.default_page_size;
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(c->data(), c->data() + c->size(), n);
    if (ec != std::errc() || ptr != c->data() + c->size()) {
      return core::Error::invalid(fmt::format("_count '{}' is not a whole number", *c), "_count");
    }
    return std::min(n, options_.max_page_size);
  }

  Response history(const std::string& type, const std::string& id, const char* interaction) {
    store::HistoryQuery q;
    q.type = type;
    q.id = id;
    auto count = page_size();
    if (!count) return tagged(error_response(count.error(), req_), interaction);
    q.count = *count;
    for (const auto& [name, value] : req_.query) {
      if (name == "_since" || name == "_at") {
        auto t = core::parse_fhir_datetime(value);
        if (!t) {
          return tagged(
              error_response(core::Error::invalid(fmt::format("{} '{}' is not a FHIR instant", name, value), name),
                             req_),
              interaction);
        }
        (name == "_since" ? q.since : q.at) = *t;
      } else if (name == "_cursor") {
        std::int64_t c = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), c);
        if (ec != std::errc() || ptr != value.data() + value.size()) {
          return tagged(error_response(core::Error::invalid("_cursor is not valid", "_cursor"), req_), interaction);
        }
        q.before_seq = c;
      }
    }
    if (!id.empty()) {
      // An instance that never existed has no history.
      auto probe = store_.read(type, id);
      if (!probe && probe.error().status == 404) return tagged(error_response(probe.error(), req_), interaction);
    }
    auto page = store_.history(q);
    if (!page) return tagged(error_response(page.error(), req_), interaction);

    std::string self_path = req_.base_url;
    if (!type.empty()) self_path += "/" + type;
    if (!id.empty()) self_path += "/" + id;
    self_path += "/_history";
    std::string params;
    const auto add_param = [&](std::string_view name, std::string_view value) {
      params += params.empty() ? "?" : "&";
      params += name;
      params += "=";
      params += encode_param(value);
    };
    for (const auto& [name, value] : req_.query) {
      if (name == "_since" || name == "_at" || name == "_count" || name == "_pretty") add_param(name, value);
    }
    std::string body =
        R"({"resourceType":"Bundle","id":")" + core::new_uuid() + R"(","meta":{"lastUpdated":")" +
        core::format_instant(core::now_micros()) + R"("},"type":"history","link":[{"relation":"self","url":)" +
        detail::quoted(self_path + params +
                       [&] {
                         std::string c;
                         if (q.before_seq)
                           c = (params.empty() ? "?" : "&") + std::string("_cursor=") + std::to_string(*q.before_seq);
                         return c;
                       }()) +
        "}";
    if (page->next_cursor) {
      body += R"(,{"relation":"next","url":)" +
              detail::quoted(self_path + params + (params.empty() ? "?" : "&") +
                             "_cursor=" + std::to_string(*page->next_cursor)) +
              "}";
    }
    body += R"(],"entry":[)";
    bool first = true;
    for (const auto& e : page->entries) {
      if (!first) body += ",";
      first = false;
      const std::string rel = e.info.type + "/" + e.info.id;
      body += R"({"fullUrl":)" + detail::quoted(req_.base_url + "/" + rel);
      if (!e.info.deleted && !e.json.empty()) body += R"(,"resource":)" + e.json;
      const bool is_post = e.method == "POST";
      body +=
          R"(,"request":{"method":")" + e.method + R"(","url":)" + detail::quoted(is_post ? e.info.type : rel) + "}";
      const int status = e.info.deleted ? 204 : (is_post || e.info.version == 1 ? 201 : 200);
      body += R"(,"response":{"status":")" + detail::status_line(status) + R"(","etag":)" +
              detail::quoted(detail::etag_of(e.info.version)) + R"(,"lastModified":")" +
              core::format_instant(e.info.last_updated) + "\"}}";
    }
    body += "]}";
    Response r;
    r.body = detail::format_body(std::move(body), req_);
    r.interaction = interaction;
    return r;
  }

  Response search(const std::string& type) { return detail::search_type(store_, options_, req_, type, std::nullopt); }

  store::Store& store_;
  const ApiOptions& options_;
  const Request& req_;
  const detail::Reviewer* reviewer_;  ///< who is asking, for operations that record it (null in a Bundle)
  detail::RecentArrivals* arrivals_;  ///< Patients just created, matched again as a create is written (may be null)
};

}  // namespace

namespace detail {

Response handle_entry(store::Store& store, const ApiOptions& options, const Request& request,
                      RecentArrivals* arrivals) {
  const search::Registry& reg = registry();
  Handler h(store, options, request, nullptr, arrivals);
  Started started = h.run();
  Response r;
  if (auto* pending = std::get_if<PendingWrite>(&started)) {
    r = pending->finish(store.write([&reg, &pending](store::Transaction& t) {
      const RegistryScope scope(reg);
      return pending->work(t);
    }));
  } else {
    r = std::move(std::get<Response>(started));
  }
  if (request.method == "HEAD") r.body.clear();
  return r;
}

}  // namespace detail

namespace {

/// True when a write request may create, change or delete a SearchParameter.
bool touches_search_parameters(const Request& request) {
  if (!Api::may_write(request)) return false;
  if (request.path.rfind("/fhir/SearchParameter", 0) == 0) return true;
  return Api::is_bundle(request) && request.body.find("SearchParameter") != std::string::npos;
}

}  // namespace

/// Reindexes the stored resources of new or changed SearchParameters, one parameter at a time, in
/// the background, so that a write of a SearchParameter never waits for a table scan. The
/// parameter is searchable at once; its results are complete when its reindex is done, which is
/// recorded in the store ("reindex:..."), so a reindex cut short by a stop is resumed at start.
class Api::Reindexer {
 public:
  Reindexer(store::Store& store, const search::Catalog& catalog) : store_(store), catalog_(catalog) {
    thread_ = std::thread([this] { loop(); });
  }
  Reindexer(const Reindexer&) = delete;
  Reindexer& operator=(const Reindexer&) = delete;
  ~Reindexer() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

  void enqueue(search::CustomParam param, std::string marker) {
    std::lock_guard lock(mu_);
    if (std::any_of(queue_.begin(), queue_.end(), [&](const auto& j) { return j.second == marker; })) return;
    queue_.emplace_back(std::move(param), std::move(marker));
    cv_.notify_all();
  }

  void wait_idle() {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [this] { return (queue_.empty() && !busy_) || stopping_; });
  }

  [[nodiscard]] std::size_t done() const { return done_.load(); }
  [[nodiscard]] std::size_t pending() const {
    std::lock_guard lock(mu_);
    return queue_.size() + (busy_ ? 1 : 0);
  }

 private:
  void loop() {
    for (;;) {
      std::pair<search::CustomParam, std::string> job;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_) return;
        job = std::move(queue_.front());
        queue_.pop_front();
        busy_ = true;
      }
      if (auto r = run(job.first, job.second); !r) {
        core::log_warn(
            fmt::format("reindex for search parameter '{}' stopped: {}", job.first.code, r.error().message()));
      }
      {
        std::lock_guard lock(mu_);
        busy_ = false;
      }
      idle_cv_.notify_all();
    }
  }

  [[nodiscard]] bool stopping() const {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  core::Result<void> run(const search::CustomParam& param, const std::string& marker) {
    constexpr std::size_t kPage = 200;
    // The upgrade that indexes contained resources reads every type and reindexes only the
    // resources that have `contained`; its key is removed when it is done.
    const bool contained_only = marker == store::kContainedReindexKey;
    for (const auto& type : param.bases) {
      std::optional<std::string> after;
      for (;;) {
        if (stopping()) return core::ok();  // resumed at the next start (no marker yet)
        search::Plan plan;
        plan.type = type;
        plan.count = kPage;
        plan.after = after;
        auto page = store_.search(plan, false);
        if (!page) return page.error();
        if (page->ids.empty()) break;
        const auto registry = catalog_.current();
        struct Item {
          std::string id;
          std::int64_t version;
          search::IndexRows rows;
        };
        std::vector<Item> items;
        for (const auto& id : page->ids) {
          auto res = store_.read(type, id);
          if (!res) continue;  // deleted since the page was read
          if (contained_only && res->json.find("\"contained\"") == std::string::npos) continue;
          boost::system::error_code ec;
          const json::value doc = json::parse(res->json, ec);
          if (ec) continue;
          items.push_back(Item{id, res->info.version, search::extract(doc, type, id, *registry)});
        }
        auto w = store_.write([&items, &type](store::Transaction& t) -> core::Result<void> {
          for (const auto& item : items) {
            auto cur = t.current_info(type, item.id);
            if (!cur) return cur.error();
            // A newer version was indexed when it was written, with the parameter already in force.
            if (!cur->has_value() || (*cur)->deleted || (*cur)->version != item.version) continue;
            if (auto r = t.replace_index(type, item.id, item.rows); !r) return r;
          }
          return core::ok();
        });
        if (!w) return w.error();
        done_.fetch_add(items.size());
        after = page->ids.back();
        if (!page->more) break;
      }
    }
    if (contained_only) return store_.write([&marker](store::Transaction& t) { return t.delete_meta(marker); });
    return store_.write([&marker](store::Transaction& t) { return t.set_meta(marker, "done"); });
  }

  store::Store& store_;
  const search::Catalog& catalog_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  std::deque<std::pair<search::CustomParam, std::string>> queue_;
  bool busy_ = false;
  bool stopping_ = false;
  std::atomic<std::size_t> done_{0};
  std::thread thread_;
};

namespace {

/// The bookkeeping key that says a parameter's current definition has been reindexed (FNV-1a of
/// what changes the index rows: code, type, bases and expression).
std::string reindex_marker(const search::CustomParam& p) {
  std::uint64_t h = 1469598103934665603ULL;
  const auto mix = [&h](std::string_view s) {
    for (unsigned char ch : s) {
      h ^= ch;
      h *= 1099511628211ULL;
    }
    h ^= 0xff;
    h *= 1099511628211ULL;
  };
  mix(p.code);
  mix(search::param_type_name(p.type));
  for (const auto& b : p.bases) mix(b);
  mix(p.expression);
  return fmt::format("reindex:SearchParameter/{}:{:016x}", p.id, h);
}

}  // namespace

Api::Api(store::Store& store, ApiOptions options)
    : store_(store),
      options_(std::move(options)),
      reindexer_(std::make_unique<Reindexer>(store_, catalog_)),
      care_(std::make_unique<detail::CareRelationships>(store_)),
      arrivals_(std::make_unique<detail::RecentArrivals>(store_)) {
  if (auto r = reload_search_parameters(); !r) {
    core::log_warn("the server's SearchParameter resources could not be loaded: " + r.error().message());
  }
  if (!options_.export_directory.empty()) {
    exports_ = std::make_unique<detail::ExportJobs>(
        store_, catalog_,
        detail::ExportJobsOptions{.directory = options_.export_directory,
                                  .max_active = options_.max_export_jobs,
                                  .retention_seconds = options_.export_retention_seconds,
                                  .requires_token = options_.auth != nullptr});
  }
}

Api::~Api() = default;

core::Result<void> Api::reload_search_parameters() {
  std::lock_guard lock(reload_mu_);
  std::vector<search::CustomParam> params;
  std::optional<std::string> after;
  for (;;) {
    search::Plan plan;
    plan.type = "SearchParameter";
    plan.count = 500;
    plan.after = after;
    auto page = store_.search(plan, false);
    if (!page) return page.error();
    for (const auto& id : page->ids) {
      auto res = store_.read("SearchParameter", id);
      if (!res) continue;
      boost::system::error_code ec;
      const json::value doc = json::parse(res->json, ec);
      if (ec || !doc.is_object()) continue;
      auto p = search::Registry::custom_param(doc.get_object());
      if (!p) continue;  // retired, or defines nothing this server can index
      params.push_back(std::move(*p));
    }
    if (page->ids.empty() || !page->more) break;
    after = page->ids.back();
  }
  // A parameter that clashes with one already taken is left out (its write was checked, so this
  // happens only when two were written at the same moment); the rest still take effect.
  std::vector<search::CustomParam> accepted;
  for (auto& p : params) {
    accepted.push_back(p);
    if (auto r = search::Registry::r4().with_custom(accepted); !r) {
      core::log_warn(fmt::format("SearchParameter/{} is not in force: {}", p.id, r.error().message()));
      accepted.pop_back();
    }
  }
  auto registry = search::Registry::r4().with_custom(accepted);
  if (!registry) return registry.error();
  catalog_.set(*registry);
  for (const auto& p : accepted) {
    std::string marker = reindex_marker(p);
    auto done = store_.get_meta(marker);
    if (!done) return done.error();
    if (!done->has_value()) reindexer_->enqueue(p, std::move(marker));
  }
  // A database from before contained resources were indexed (R4 search.html#contained): index them.
  auto contained = store_.get_meta(store::kContainedReindexKey);
  if (!contained) return contained.error();
  if (contained->has_value()) {
    search::CustomParam every;
    every.code = "_contained";
    every.bases = fhir::resource_types();
    reindexer_->enqueue(std::move(every), store::kContainedReindexKey);
  }
  return core::ok();
}

void Api::wait_for_reindex() { reindexer_->wait_idle(); }
void Api::wait_for_exports() {
  if (exports_) exports_->wait_idle();
}
std::size_t Api::reindexed_resources() const { return reindexer_->done(); }
std::size_t Api::pending_reindex_jobs() const { return reindexer_->pending(); }

namespace {

Response method_not_allowed_response(const Request& request) {
  return error_response(
      core::Error::make(405, "not-supported", fmt::format("{} is not supported on {}", request.method, request.path)),
      request);
}

Response unauthorised(const core::Error& e, const Request& request) {
  Response r = error_response(e, request);
  r.headers.emplace_back(
      "WWW-Authenticate",
      fmt::format("Bearer realm=\"ucr\", error=\"invalid_token\", error_description=\"{}\"", e.message()));
  r.interaction = "auth";
  return r;
}

/// An audit event for a request refused before it ran (no token, bad token, not allowed).
audit::Event refused_event(const detail::AuditContext& who, const detail::Route& route, const Request& request,
                           const Response& response) {
  audit::Event e = detail::read_event(who, route, request, response, {});
  if (response.status == 401) {
    e.type = "110114";
    e.subtype = "token-refused";
    e.action = 'E';
  }
  return e;
}

}  // namespace

Started Api::begin(const Request& request) {
  if (is_auth_path(request.path)) {
    if (options_.auth == nullptr) {
      return error_response(core::Error::not_found("sign-in is off on this server (ucr serve --auth off)"), request);
    }
    return detail::handle_oauth(*options_.auth, request);
  }
  const detail::Route route = detail::classify(request);
  // Who is asking. The CapabilityStatement is public (SMART discovery needs it before sign-in).
  std::optional<auth::Principal> principal;
  std::shared_ptr<const detail::AuditContext> who;
  if (options_.auth != nullptr && route.kind != detail::Route::Kind::capabilities) {
    const auto header = request.headers.get("authorization");
    auto p = header ? options_.auth->authenticate(*header, core::now_micros() / 1'000'000)
                    : core::Result<auth::Principal>(core::Error::make(
                          401, "login", "this server needs an access token: Authorization: Bearer <token>"));
    if (!p) {
      Response r = unauthorised(p.error(), request);
      if (options_.audit != nullptr) {
        options_.audit->record(refused_event(detail::audit_context(nullptr, request), route, request, r));
      }
      return r;
    }
    principal = std::move(*p);
    // A proxy who is a RelatedPerson sees the records their relationship and consent allow now.
    if (principal->role == auth::Role::proxy && principal->fhir_user.starts_with("RelatedPerson/")) {
      auto grant = care_->proxy_patients(principal->fhir_user.substr(14));
      principal->patients = std::move(grant.patients);
      principal->patient_types = std::move(grant.types);
      if (principal->patients.empty()) {
        Response r = error_response(
            core::Error::make(403, "forbidden",
                              "no record is shared with you yet: the person must be under 11 with you as their parent "
                              "or guardian, or must have consented to your access"),
            request);
        r.interaction = "auth";
        if (options_.audit != nullptr) {
          options_.audit->record(refused_event(detail::audit_context(&*principal, request), route, request, r));
        }
        return r;
      }
    }
  }
  const bool auditing = options_.audit != nullptr && route.kind != detail::Route::Kind::capabilities;
  if (auditing) {
    who =
        std::make_shared<const detail::AuditContext>(detail::audit_context(principal ? &*principal : nullptr, request));
  }
  // The audit trail has its own store and rules: it is read here and never written by clients.
  if (route.type == "AuditEvent" && route.kind != detail::Route::Kind::validate) {
    Response r;
    if (route.kind == detail::Route::Kind::type_search) {
      r = detail::audit_search(store_, principal ? &*principal : nullptr, request);
    } else {
      r = error_response(core::Error::make(405, "not-supported",
                                           "the audit trail is append-only and written by the server; search it with "
                                           "GET AuditEvent?patient=..."),
                         request);
    }
    if (auditing) options_.audit->record(detail::read_event(*who, route, request, r, {}));
    return r;
  }
  if (route.kind == detail::Route::Kind::break_glass && route.type == "Patient") {
    return detail::break_glass(store_, principal ? &*principal : nullptr, request, route.id, *care_,
                               auditing ? who : nullptr);
  }
  // A POST kick-off's Parameters body is read as the equivalent query, which admit() and the
  // export then check as they do a GET's.
  std::shared_ptr<const Request> kick_off;
  if (route.kind == detail::Route::Kind::bulk_export && request.method == "POST") {
    auto translated = export_request_from_parameters(request);
    if (!translated) {
      Response r = error_response(translated.error(), request);
      if (auditing) options_.audit->record(detail::read_event(*who, route, request, r, {}));
      return r;
    }
    kick_off = std::make_shared<const Request>(std::move(*translated));
  }
  detail::Gate gate;
  if (principal) {
    auto g = detail::admit(*principal, route, kick_off ? *kick_off : request, store_, *care_);
    if (!g) {
      Response r = error_response(g.error(), request);
      r.interaction = "auth";
      if (auditing) options_.audit->record(refused_event(*who, route, request, r));
      return r;
    }
    gate = std::move(*g);
    if (gate.emergency && auditing) {
      // Access that rests on break-glass is recorded as emergency treatment.
      auto emergency = std::make_shared<detail::AuditContext>(*who);
      emergency->purpose = "ETREAT";
      emergency->reason = "emergency access";
      who = std::move(emergency);
    }
  }
  if (route.kind == detail::Route::Kind::bulk_export || route.kind == detail::Route::Kind::bulk_status ||
      route.kind == detail::Route::Kind::bulk_file) {
    const Request& asked = kick_off ? *kick_off : request;
    return bulk_data(route, asked, gate.narrowed ? *gate.narrowed : asked, principal ? &*principal : nullptr,
                     auditing ? who : nullptr);
  }
  // A narrowed request is only ever a read, which completes inside this call.
  const Request& effective = gate.narrowed ? *gate.narrowed : request;
  const auto registry = catalog_.current();
  const detail::RegistryScope scope(*registry);
  std::optional<detail::AuditedStore> audited;
  if (auditing) audited.emplace(store_, who);
  detail::Reviewer reviewer;
  if (principal) {
    reviewer.reference = principal->fhir_user;
    reviewer.display = principal->display.empty() ? principal->subject : principal->display;
  }
  Handler h(audited ? static_cast<store::Store&>(*audited) : store_, options_, effective, &reviewer, arrivals_.get());
  Started started = h.run();
  if (auto* pending = std::get_if<PendingWrite>(&started)) {
    // The write runs on the store's thread with the registry this request started with; a write
    // that touches a SearchParameter brings the parameters in force up to date once it is durable.
    // Each version it stores is audited in the same transaction.
    auto work = auditing ? detail::audited_work(std::move(pending->work), who, {}) : std::move(pending->work);
    pending->work = [work = std::move(work), registry](store::Transaction& t) {
      const detail::RegistryScope inner(*registry);
      return work(t);
    };
    if (touches_search_parameters(request)) {
      pending->finish = [this, finish = std::move(pending->finish)](const core::Result<void>& w) {
        if (w) {
          if (auto r = reload_search_parameters(); !r) {
            core::log_warn("search parameters not reloaded: " + r.error().message());
          }
        }
        return finish(w);
      };
    }
    if (auditing) {
      // A refused write leaves no version behind, so it is recorded here.
      pending->finish = [this, who, route, &request, finish = std::move(pending->finish)](const core::Result<void>& w) {
        Response r = finish(w);
        if (r.status >= 400) options_.audit->record(detail::read_event(*who, route, request, r, {}));
        return r;
      };
    }
    return started;
  }
  auto& response = std::get<Response>(started);
  if (is_bundle(request) && touches_search_parameters(request)) {
    if (auto r = reload_search_parameters(); !r)
      core::log_warn("search parameters not reloaded: " + r.error().message());
  }
  if (principal) detail::enforce(*principal, gate, route, effective, response, *care_);
  // Writes that completed here (Bundles, merges) were audited in their transactions; the rest
  // (reads, searches, operations and refusals) are recorded now.
  if (auditing && (!may_write(request) || response.status >= 400 || route.kind == detail::Route::Kind::match ||
                   route.kind == detail::Route::Kind::validate ||
                   (route.kind == detail::Route::Kind::type_search && request.method == "POST"))) {
    audit::Event e = detail::read_event(*who, route, effective, response, gate.patient);
    if (gate.emergency) {
      e.purpose = "ETREAT";
      e.reason = "emergency access";
    }
    options_.audit->record(e);
  }
  response.compartment.clear();
  return started;
}

Started Api::bulk_data(const detail::Route& route, const Request& request, const Request& effective,
                       const auth::Principal* principal, const std::shared_ptr<const detail::AuditContext>& who) {
  using K = detail::Route::Kind;
  // The request may be a kick-off read from a POST body that ends with the caller's frame.
  const auto audited = [this, who, route, held = std::make_shared<const Request>(request)](Response r) {
    if (who) options_.audit->record(detail::read_event(*who, route, *held, r, {}));
    return r;
  };
  if (!exports_) {
    return audited(error_response(
        core::Error::make(404, "not-supported", "bulk export is not offered by this server (no export directory)"),
        request));
  }
  detail::ExportOwner owner;
  if (principal != nullptr) {
    owner.key = principal->subject + "\n" + principal->client_id;
    owner.role = std::string(auth::role_code(principal->role));
    owner.organisation = principal->organisation;
    owner.fhir_user = principal->fhir_user;
  }
  const auto audited_started = [&audited](Started started) -> Started {
    if (auto* pending = std::get_if<PendingWrite>(&started)) {
      pending->finish = [audited, finish = std::move(pending->finish)](const core::Result<void>& w) {
        return audited(finish(w));
      };
      return started;
    }
    return audited(std::get<Response>(std::move(started)));
  };
  const std::string& m = request.method;
  if (route.kind == K::bulk_status) {
    if (m == "DELETE") return audited_started(exports_->cancel(request, route.id, owner));
    if (m != "GET" && m != "HEAD") return audited(method_not_allowed_response(request));
    return audited(exports_->status(request, route.id, owner));
  }
  if (route.kind == K::bulk_file) {
    if (m != "GET" && m != "HEAD") return audited(method_not_allowed_response(request));
    return audited(exports_->file(request, route.id, route.member, owner));
  }
  if (m != "GET" && m != "HEAD" && m != "POST") return audited(method_not_allowed_response(request));
  ExportLevel level = ExportLevel::system;
  if (route.type == "Patient" && route.id.empty()) {
    level = ExportLevel::patient;
  } else if (route.type == "Group" && !route.id.empty()) {
    level = ExportLevel::group;
  } else if (!route.type.empty()) {
    return audited(
        error_response(core::Error::make(404, "not-supported",
                                         "$export is offered at the system level ([base]/$export), for all patients "
                                         "(Patient/$export) and for a Group (Group/{id}/$export)"),
                       request));
  }
  return audited_started(exports_->start(effective, level, route.id, owner));
}

bool Api::is_auth_path(std::string_view path) { return detail::is_oauth_path(path); }

Response Api::handle(const Request& request) {
  Started started = begin(request);
  Response r;
  if (auto* pending = std::get_if<PendingWrite>(&started)) {
    r = pending->finish(store_.write(pending->work));
  } else {
    r = std::move(std::get<Response>(started));
  }
  if (request.method == "HEAD") r.body.clear();
  return r;
}

bool Api::may_write(const Request& request) {
  // A Bulk Data kick-off records its job, so it is a write too.
  return (request.method != "GET" && request.method != "HEAD") || request.path.ends_with("/$export");
}

bool Api::is_bundle(const Request& request) {
  return request.method == "POST" && (request.path == "/fhir" || request.path == "/fhir/");
}

}  // namespace ucr::api
