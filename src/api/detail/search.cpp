#include "api/detail/search.hpp"
#include "api/detail/registry_scope.hpp"
#include "fhir/json_text.hpp"

#include "api/detail/format.hpp"
#include "api/detail/ops.hpp"
#include "api/detail/respond.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "fhir/definitions.hpp"
#include "fhir/outcome.hpp"
#include "search/query.hpp"
#include "search/registry.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include <charconv>
#include <map>
#include <set>

namespace ucr::api::detail {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxIncluded = 1000;
constexpr int kMaxIterate = 3;

std::string encode(std::string_view v) {
  return boost::urls::encode(boost::core::string_view(v.data(), v.size()), boost::urls::unreserved_chars);
}

/// The request's parameters (query string, plus a form body for POST _search).
core::Result<std::vector<std::pair<std::string, std::string>>> parameters_of(const Request& req) {
  std::vector<std::pair<std::string, std::string>> params = req.query;
  if (req.method == "POST") {
    const auto ct = req.headers.get("content-type");
    if (!req.body.empty()) {
      if (!ct || ct->find("application/x-www-form-urlencoded") == std::string_view::npos) {
        return core::Error::make(415, "not-supported",
                                 "POST _search needs Content-Type application/x-www-form-urlencoded");
      }
      auto form = decode_query(req.body);
      if (!form) return core::Error::invalid("the form body is not a valid query string");
      for (auto& p : *form) params.push_back(std::move(p));
    }
  }
  return params;
}

/// The _after value as the client sent it (a cursor), for the self link.
std::string raw_after(const std::vector<std::pair<std::string, std::string>>& params) {
  for (const auto& [name, value] : params) {
    if (name == "_after") return value;
  }
  return {};
}

std::string link_url(const std::string& base, const std::vector<std::pair<std::string, std::string>>& params,
                     std::size_t offset, const std::string& after = {}) {
  std::string url = base;
  bool first = true;
  for (const auto& [name, value] : params) {
    if (name == "_offset" || name == "_after") continue;
    url += first ? "?" : "&";
    first = false;
    url += encode(name);
    url += "=";
    url += encode(value);
  }
  if (offset > 0) {
    url += first ? "?" : "&";
    first = false;
    url += "_offset=" + std::to_string(offset);
  }
  if (!after.empty()) {
    url += first ? "?" : "&";
    url += "_after=" + encode(after);
  }
  return url;
}

void append_entry(std::string& body, bool& first, const std::string& full_url, const std::string& resource,
                  const char* mode) {
  if (!first) body += ",";
  first = false;
  body += R"({"fullUrl":)" + quoted(full_url) + R"(,"resource":)" + resource + R"(,"search":{"mode":")" + mode + "\"}}";
}

int summary_code(search::Summary s) { return static_cast<int>(s); }

/// Closes a searchset Bundle: the warnings as an outcome entry (R4 search.html#errors), then the
/// response with `_pretty` applied.
Response finish_bundle(std::string body, bool first, const std::vector<core::Issue>& warnings, const Request& req,
                       const char* interaction) {
  if (!warnings.empty()) {
    append_entry(body, first, "urn:uuid:" + core::new_uuid(), json::serialize(fhir::operation_outcome(warnings)),
                 "outcome");
  }
  body += "]}";
  Response out;
  out.body = format_body(std::move(body), req);
  out.interaction = interaction;
  return out;
}

}  // namespace

std::string shape_resource(const std::string& json_text, const std::string& type, int summary,
                           const std::vector<std::string>& elements) {
  const auto mode = static_cast<search::Summary>(summary);
  if (elements.empty() && (mode == search::Summary::kNone || mode == search::Summary::kFalse)) return json_text;
  boost::system::error_code ec;
  json::value v = json::parse(json_text, ec);
  if (ec || !v.is_object()) return json_text;
  json::object& o = v.as_object();
  const fhir::TypeDefinition* def = fhir::find_type(type);
  const auto keep = [&](std::string_view key) -> bool {
    if (key == "resourceType" || key == "id" || key == "meta") return true;
    std::string_view base = key;
    if (!base.empty() && base.front() == '_') base.remove_prefix(1);
    if (!elements.empty()) return std::find(elements.begin(), elements.end(), base) != elements.end();
    if (mode == search::Summary::kData) return base != "text";
    const fhir::ChildLookup* child = def != nullptr ? def->find(base) : nullptr;
    if (mode == search::Summary::kText) return base == "text" || (child != nullptr && child->element->min > 0);
    return child != nullptr && (child->element->summary || child->element->min > 0);  // kTrue
  };
  json::object out;
  for (auto& kv : o) {
    if (keep(kv.key())) out[kv.key()] = std::move(kv.value());
  }
  // R4 search.html#summary: mark the resource as a subset.
  json::object meta = out.contains("meta") && out["meta"].is_object() ? out["meta"].as_object() : json::object{};
  json::array tags = meta.contains("tag") && meta["tag"].is_array() ? meta["tag"].as_array() : json::array{};
  tags.push_back(json::object{{"system", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"},
                              {"code", "SUBSETTED"},
                              {"display", "Resource encoded in summary mode"}});
  meta["tag"] = std::move(tags);
  out["meta"] = std::move(meta);
  return fhir::json_text(out);
}

namespace {

constexpr std::size_t kMaxValueSetCodes = 1000;

/// Escapes a token part for a search value (R4 search.html#escaping).
std::string escape_token(std::string_view v) {
  std::string out;
  for (char ch : v) {
    if (ch == ',' || ch == '|' || ch == '$' || ch == '\\') out += '\\';
    out += ch;
  }
  return out;
}

/// The codes (escaped system|code) of a ValueSet stored on this server, named by canonical URL or
/// ValueSet/id: its expansion when it has one, else the concepts its compose lists. Filters,
/// whole code systems and other value sets need the terminology module and are refused.
core::Result<std::vector<std::string>> value_set_codes(store::Store& store, const std::string& name,
                                                       const std::string& ref) {
  std::string id;
  if (ref.rfind("ValueSet/", 0) == 0) {
    id = ref.substr(9);
  } else {
    search::Plan plan;
    plan.type = "ValueSet";
    plan.count = 2;
    search::Filter f;
    search::Condition c;
    c.type = search::ParamType::kUri;
    c.param = "url";
    c.text = ref.substr(0, ref.find('|'));
    f.any_of.push_back(std::move(c));
    plan.filters.push_back(std::move(f));
    auto page = store.search(plan, false);
    if (!page) return page.error();
    if (page->ids.empty()) return core::Error::invalid(fmt::format("no ValueSet '{}' is stored here", ref), name);
    if (page->ids.size() > 1) {
      return core::Error::invalid(fmt::format("more than one ValueSet has the url '{}'", ref), name);
    }
    id = page->ids.front();
  }
  auto vs = store.read("ValueSet", id);
  if (!vs)
    return core::Error::invalid(fmt::format("ValueSet '{}' is not available: {}", ref, vs.error().message()), name);
  boost::system::error_code ec;
  const json::value doc = json::parse(vs->json, ec);
  if (ec || !doc.is_object()) return core::Error::invalid("the ValueSet cannot be read", name);
  std::vector<std::string> codes;
  const auto add = [&](std::string_view system, std::string_view code) {
    codes.push_back(escape_token(system) + "|" + escape_token(code));
  };
  const auto str_of = [](const json::object& o, std::string_view k) -> std::string_view {
    const auto* v = o.if_contains(k);
    return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
  };
  const json::object& o = doc.get_object();
  if (const auto* exp = o.if_contains("expansion"); exp != nullptr && exp->is_object()) {
    std::vector<const json::value*> stack{exp};
    while (!stack.empty()) {
      const auto* node = stack.back();
      stack.pop_back();
      const auto* contains = node->is_object() ? node->get_object().if_contains("contains") : nullptr;
      if (contains == nullptr || !contains->is_array()) continue;
      for (const auto& c : contains->get_array()) {
        if (!c.is_object()) continue;
        if (!str_of(c.get_object(), "code").empty())
          add(str_of(c.get_object(), "system"), str_of(c.get_object(), "code"));
        stack.push_back(&c);
      }
    }
  } else if (const auto* compose = o.if_contains("compose"); compose != nullptr && compose->is_object()) {
    const auto& co = compose->get_object();
    if (co.contains("exclude")) {
      return core::Error::make(400, "not-supported", "ValueSets with compose.exclude need the terminology module",
                               name);
    }
    if (const auto* inc = co.if_contains("include"); inc != nullptr && inc->is_array()) {
      for (const auto& i : inc->get_array()) {
        if (!i.is_object()) continue;
        const auto& io = i.get_object();
        const auto* concepts = io.if_contains("concept");
        if (io.contains("filter") || io.contains("valueSet") || concepts == nullptr || !concepts->is_array()) {
          return core::Error::make(400, "not-supported",
                                   fmt::format("ValueSet '{}' includes by filter, by other value sets or whole code "
                                               "systems, which needs the terminology module",
                                               ref),
                                   name);
        }
        for (const auto& c : concepts->get_array()) {
          if (c.is_object() && !str_of(c.get_object(), "code").empty())
            add(str_of(io, "system"), str_of(c.get_object(), "code"));
        }
      }
    }
  }
  if (codes.size() > kMaxValueSetCodes) {
    return core::Error::make(400, "too-costly",
                             fmt::format("ValueSet '{}' has more than {} codes", ref, kMaxValueSetCodes), name);
  }
  return codes;
}

/// Rewrites `param:in=ValueSet` into `param=code1,code2,...` and `param:not-in=ValueSet` into one
/// `param:not=code` per code (R4 search.html#token), reading the value sets from the store.
core::Result<std::vector<std::pair<std::string, std::string>>> expand_value_sets(
    store::Store& store, const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [name, value] : params) {
    const bool in = name.size() > 3 && name.compare(name.size() - 3, 3, ":in") == 0;
    const bool not_in = name.size() > 7 && name.compare(name.size() - 7, 7, ":not-in") == 0;
    if (!in && !not_in) {
      out.emplace_back(name, value);
      continue;
    }
    const std::string base = name.substr(0, name.size() - (in ? 3 : 7));
    std::vector<std::string> codes;
    for (const auto& ref : search::split_values(value)) {
      auto c = value_set_codes(store, name, ref);
      if (!c) return c.error();
      codes.insert(codes.end(), c->begin(), c->end());
    }
    if (in) {
      // An empty value set matches nothing: a code no resource can carry says so.
      std::string joined = codes.empty() ? "urn:ucr:empty-value-set|" : "";
      for (std::size_t i = 0; i < codes.size(); ++i) joined += (i > 0 ? "," : "") + codes[i];
      out.emplace_back(base, std::move(joined));
    } else {
      for (auto& c : codes) out.emplace_back(base + ":not", std::move(c));
    }
  }
  return out;
}

/// The contained resource with local id `local` in `container`, or null.
const json::value* find_contained(const json::value& container, std::string_view local) {
  const auto* o = container.if_object();
  const auto* list = o != nullptr ? o->if_contains("contained") : nullptr;
  if (list == nullptr || !list->is_array()) return nullptr;
  for (const auto& c : list->get_array()) {
    const auto* co = c.if_object();
    const auto* id = co != nullptr ? co->if_contains("id") : nullptr;
    if (id != nullptr && id->is_string() && id->get_string() == local) return &c;
  }
  return nullptr;
}

/// The matches of a search with _contained (R4 search.html#contained): resources and containers as
/// they are stored; a contained resource (_containedType=contained) as itself, with the fullUrl
/// [base]/Type/id#local of its place in its container. Containers deleted or changed since the
/// search (the contained resource gone) are left out. Containers and resources join `matched`
/// (for _include); contained resources, which no reference outside their container can name, do not.
core::Result<void> append_contained_matches(store::Store& store, const search::Plan& plan,
                                            const std::vector<store::MatchRef>& refs, const Request& req,
                                            std::string& body, bool& first, std::set<std::string>& seen,
                                            std::vector<std::pair<std::string, std::string>>& matched) {
  // Each type's resources in one reading.
  std::map<std::string, std::vector<std::string>> wanted;
  for (const auto& m : refs) {
    auto& ids = wanted[m.type];
    if (std::find(ids.begin(), ids.end(), m.id) == ids.end()) ids.push_back(m.id);
  }
  std::map<std::pair<std::string, std::string>, std::string> stored;
  for (const auto& [t, ids] : wanted) {
    auto found = store.read_many(t, ids);
    if (!found) return found.error();
    for (auto& r : *found) stored.emplace(std::make_pair(t, r.info.id), std::move(r.json));
  }
  for (const auto& m : refs) {
    auto it = stored.find(std::make_pair(m.type, m.id));
    if (it == stored.end()) continue;
    const std::string url = req.base_url + "/" + m.type + "/" + m.id;
    if (m.contained.empty()) {
      if (!seen.insert(m.type + "/" + m.id).second) continue;
      matched.emplace_back(m.type, m.id);
      append_entry(body, first, url, shape_resource(it->second, m.type, summary_code(plan.summary), plan.elements),
                   "match");
      continue;
    }
    boost::system::error_code ec;
    const json::value container = json::parse(it->second, ec);
    if (ec) continue;
    const json::value* contained = find_contained(container, m.contained);
    if (contained == nullptr) continue;
    const auto* rt = contained->get_object().if_contains("resourceType");
    const std::string ctype = rt != nullptr && rt->is_string() ? std::string(rt->get_string()) : plan.type;
    seen.insert(m.type + "/" + m.id + "#" + m.contained);
    append_entry(body, first, url + "#" + m.contained,
                 shape_resource(fhir::json_text(*contained), ctype, summary_code(plan.summary), plan.elements),
                 "match");
  }
  return core::ok();
}

}  // namespace

Response search_type(store::Store& store, const ApiOptions& options, const Request& req, const std::string& type,
                     const std::optional<std::string>& patient) {
  auto params = parameters_of(req);
  if (!params) return error_response(params.error(), req);
  auto criteria = expand_value_sets(store, *params);
  if (!criteria) return error_response(criteria.error(), req);
  const auto prefer = req.headers.get("prefer");
  search::ParseOptions popts;
  popts.default_count = options.default_page_size;
  popts.max_count = options.max_page_size;
  popts.registry = &registry();
  popts.lenient = prefer && prefer->find("handling=lenient") != std::string_view::npos;
  std::vector<core::Issue> warnings;
  auto plan = search::parse_search(type, *criteria, popts, warnings);
  if (!plan) return error_response(plan.error(), req);
  if (patient) plan->compartment = *patient;
  const bool count_only = plan->summary == search::Summary::kCount;
  // _count=0 asks for the count only, as _summary=count does.
  const bool want_total = plan->total == search::TotalMode::kAccurate || count_only || plan->count == 0;
  if (count_only) plan->count = 0;
  auto page = store.search(*plan, want_total);
  if (!page) return error_response(page.error(), req);

  const std::string self_base = req.base_url + (patient ? "/Patient/" + *patient + "/" + type : "/" + type);
  std::string body = R"({"resourceType":"Bundle","id":")" + core::new_uuid() + R"(","meta":{"lastUpdated":")" +
                     core::format_instant(core::now_micros()) + R"("},"type":"searchset")";
  if (page->total && plan->total != search::TotalMode::kNone) body += R"(,"total":)" + std::to_string(*page->total);
  body += R"(,"link":[{"relation":"self","url":)" +
          quoted(link_url(self_base, *params, plan->offset, raw_after(*params))) + "}";
  // Pages follow a cursor (the last row's position in the sort order, then its id), which stays
  // exact while resources are created, changed or deleted between pages (with _contained, the
  // position is the match's type, id and local id). An explicit _offset (from a client) pages by
  // offset.
  const bool keyset = plan->offset == 0;
  if (plan->count > 0 && keyset) {
    if (plan->after || plan->after_match) {
      body += R"(,{"relation":"first","url":)" + quoted(link_url(self_base, *params, 0)) + "}";
    }
    if (page->more && !page->ids.empty()) {
      const std::string cursor = !plan->sort.empty() ? search::encode_cursor(page->last_keys, page->ids.back())
                                 : page->last_rid    ? "~" + std::to_string(*page->last_rid)
                                                     : page->ids.back();
      body += R"(,{"relation":"next","url":)" + quoted(link_url(self_base, *params, 0, cursor)) + "}";
    } else if (page->more && !page->refs.empty()) {
      const auto& last = page->refs.back();
      const std::string cursor = search::encode_contained_cursor(page->last_keys, last.type, last.id, last.contained);
      body += R"(,{"relation":"next","url":)" + quoted(link_url(self_base, *params, 0, cursor)) + "}";
    }
  } else if (plan->count > 0) {
    if (plan->offset > 0) {
      body += R"(,{"relation":"first","url":)" + quoted(link_url(self_base, *params, 0)) + "}";
      body += R"(,{"relation":"previous","url":)" +
              quoted(link_url(self_base, *params, plan->offset > plan->count ? plan->offset - plan->count : 0)) + "}";
    }
    if (page->more) {
      body += R"(,{"relation":"next","url":)" + quoted(link_url(self_base, *params, plan->offset + plan->count)) + "}";
    }
  }
  body += R"(],"entry":[)";
  bool first = true;
  std::set<std::string> seen;
  std::vector<std::pair<std::string, std::string>> matched;  // (type, id) for includes
  if (plan->contained != search::Contained::kFalse) {
    if (auto r = append_contained_matches(store, *plan, page->refs, req, body, first, seen, matched); !r) {
      return error_response(r.error(), req);
    }
  } else {
    // The page's resources in one reading (one round trip on PostgreSQL); those deleted between the
    // search and the read are left out.
    auto found = store.read_many(type, page->ids);
    if (!found) return error_response(found.error(), req);
    for (const auto& r : *found) {
      const std::string& id = r.info.id;
      seen.insert(type + "/" + id);
      matched.emplace_back(type, id);
      append_entry(body, first, req.base_url + "/" + type + "/" + id,
                   shape_resource(r.json, type, summary_code(plan->summary), plan->elements), "match");
    }
  }
  // _include and _revinclude (R4 search.html#include): the first round starts from the matches; with
  // :iterate, each later round (a few levels) starts from the resources the round before added.
  std::size_t included = 0;
  std::vector<std::pair<std::string, std::string>> frontier = matched;
  for (int level = 0; level < kMaxIterate && !frontier.empty(); ++level) {
    std::vector<std::pair<std::string, std::string>> next;
    const auto add = [&](const std::string& t, const std::string& id) {
      if (included >= kMaxIncluded || !seen.insert(t + "/" + id).second) return;
      auto r = store.read(t, id);
      if (!r) return;
      ++included;
      next.emplace_back(t, id);
      append_entry(body, first, req.base_url + "/" + t + "/" + id, r->json, "include");
    };
    for (const auto& inc : plan->includes) {
      if (level > 0 && !inc.iterate) continue;
      std::map<std::string, std::vector<std::string>> by_type;
      for (const auto& [t, id] : frontier) {
        if (inc.source_type.empty() || inc.source_type == t) by_type[t].push_back(id);
      }
      for (const auto& [t, ids] : by_type) {
        // A restricted parameter (Observation patient) is read from the rows of the one it
        // restricts (subject), keeping the references to its target type.
        const search::SearchParam* sp = inc.param == "*" ? nullptr : registry().find(t, inc.param);
        const bool restricted = sp != nullptr && !sp->stored_target.empty();
        auto refs = store.references_from(t, ids,
                                          inc.param == "*" ? std::string()
                                          : restricted     ? sp->stored_as.front()
                                                           : inc.param);
        if (!refs) return error_response(refs.error(), req);
        for (const auto& ref : *refs) {
          if (restricted && ref.type != sp->stored_target) continue;
          if (inc.target_type.empty() || ref.type == inc.target_type) add(ref.type, ref.id);
        }
      }
    }
    // _revinclude: resources of source_type whose `param` refers to one in the frontier.
    for (const auto& inc : plan->revincludes) {
      if ((level > 0 && !inc.iterate) || inc.source_type.empty()) continue;
      search::Plan rev;
      rev.type = inc.source_type;
      rev.count = kMaxIncluded;
      search::Filter f;
      const search::SearchParam* sp = registry().find(inc.source_type, inc.param);
      const bool restricted = sp != nullptr && !sp->stored_target.empty();
      for (const auto& [t, id] : frontier) {
        if (!inc.target_type.empty() && inc.target_type != t) continue;
        if (restricted && sp->stored_target != t) continue;  // it refers to that type only
        search::Condition c;
        c.type = search::ParamType::kReference;
        c.param = restricted ? sp->stored_as.front() : inc.param;
        c.target_type = t;
        c.target_id = id;
        f.any_of.push_back(std::move(c));
      }
      if (f.any_of.empty()) continue;
      rev.filters.push_back(std::move(f));
      auto found = store.search(rev, false);
      if (!found) return error_response(found.error(), req);
      for (const auto& id : found->ids) add(inc.source_type, id);
    }
    frontier = std::move(next);
  }
  return finish_bundle(std::move(body), first, warnings, req, "search-type");
}

Response search_system(store::Store& store, const ApiOptions& options, const Request& req) {
  auto params = parameters_of(req);
  if (!params) return error_response(params.error(), req);
  std::vector<std::string> types;
  std::vector<std::pair<std::string, std::string>> rest;
  for (const auto& [name, value] : *params) {
    if (name != "_type") {
      rest.emplace_back(name, value);
      continue;
    }
    for (const auto& t : search::split_values(value)) {
      if (!fhir::is_resource_type(t)) {
        return error_response(core::Error::invalid(fmt::format("_type '{}' is not a resource type", t), "_type"), req);
      }
      if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
    }
  }
  if (types.empty()) {
    return error_response(
        core::Error::invalid("a search across all types needs _type (e.g. _type=Patient,Observation)", "_type"), req);
  }
  search::ParseOptions popts;
  popts.default_count = options.default_page_size;
  popts.max_count = options.max_page_size;
  popts.registry = &registry();
  std::vector<core::Issue> warnings;
  std::vector<search::Plan> plans;
  for (const auto& t : types) {
    auto plan = search::parse_search(t, rest, popts, warnings);
    if (!plan) return error_response(plan.error(), req);
    if (!plan->includes.empty() || !plan->revincludes.empty()) {
      return error_response(core::Error::not_supported("_include and _revinclude are not supported across types yet"),
                            req);
    }
    if (plan->contained != search::Contained::kFalse) {
      return error_response(
          core::Error::make(
              400, "not-supported",
              "_contained is supported in a search of one type (e.g. Medication?code=...&_contained=true)",
              "_contained"),
          req);
    }
    plans.push_back(std::move(*plan));
  }
  // One page over the types' results laid end to end: skip whole types until the offset falls
  // inside one, then fill the page from it and the types after it.
  const search::Summary summary = plans.front().summary;
  const std::size_t count = summary == search::Summary::kCount ? 0 : plans.front().count;
  const std::size_t start = plans.front().offset;
  std::size_t skip = start;
  std::size_t total = 0;
  std::vector<std::pair<std::string, std::string>> page_ids;
  for (auto& plan : plans) {
    const std::size_t want = count > page_ids.size() ? count - page_ids.size() : 0;
    plan.offset = skip;
    plan.count = want;
    auto page = store.search(plan, true);
    if (!page) return error_response(page.error(), req);
    const std::size_t type_total = page->total.value_or(0);
    total += type_total;
    skip = skip >= type_total ? skip - type_total : 0;
    for (auto& id : page->ids) page_ids.emplace_back(plan.type, std::move(id));
  }
  const std::string self_base = req.base_url;
  std::string body = R"({"resourceType":"Bundle","id":")" + core::new_uuid() + R"(","meta":{"lastUpdated":")" +
                     core::format_instant(core::now_micros()) + R"("},"type":"searchset")";
  if (plans.front().total != search::TotalMode::kNone) body += R"(,"total":)" + std::to_string(total);
  body += R"(,"link":[{"relation":"self","url":)" + quoted(link_url(self_base, *params, start)) + "}";
  if (count > 0 && summary != search::Summary::kCount) {
    if (start > 0) {
      body += R"(,{"relation":"previous","url":)" +
              quoted(link_url(self_base, *params, start > count ? start - count : 0)) + "}";
    }
    if (start + count < total) {
      body += R"(,{"relation":"next","url":)" + quoted(link_url(self_base, *params, start + count)) + "}";
    }
  }
  body += R"(],"entry":[)";
  bool first = true;
  if (summary != search::Summary::kCount) {
    for (const auto& [type, id] : page_ids) {
      auto r = store.read(type, id);
      if (!r) continue;
      append_entry(body, first, req.base_url + "/" + type + "/" + id,
                   shape_resource(r->json, type, summary_code(summary), plans.front().elements), "match");
    }
  }
  return finish_bundle(std::move(body), first, warnings, req, "search-system");
}

/// Patients linked to `patient_id` (both directions, breadth first, at most kMaxLinked).
core::Result<std::vector<std::string>> linked_patients(store::Store& store, const std::string& patient_id) {
  constexpr std::size_t kMaxLinked = 20;
  std::vector<std::string> out;
  std::set<std::string> seen{patient_id};
  std::vector<std::string> frontier{patient_id};
  while (!frontier.empty() && out.size() < kMaxLinked) {
    std::vector<std::string> next;
    for (const auto& id : frontier) {
      // Links this record holds.
      if (auto r = store.read("Patient", id)) {
        boost::system::error_code ec;
        const json::value doc = json::parse(r->json, ec);
        const auto* links = !ec && doc.is_object() ? doc.get_object().if_contains("link") : nullptr;
        if (links != nullptr && links->is_array()) {
          for (const auto& l : links->get_array()) {
            const auto* o = l.is_object() ? l.get_object().if_contains("other") : nullptr;
            const auto* ref = o != nullptr && o->is_object() ? o->get_object().if_contains("reference") : nullptr;
            if (ref == nullptr || !ref->is_string()) continue;
            const std::string_view rv = ref->get_string();
            if (rv.substr(0, 8) == "Patient/" && seen.insert(std::string(rv.substr(8))).second) {
              next.emplace_back(rv.substr(8));
            }
          }
        }
      }
      // Records that link to this one.
      search::Plan plan;
      plan.type = "Patient";
      plan.count = kMaxLinked;
      search::Filter f;
      search::Condition c;
      c.type = search::ParamType::kReference;
      c.param = "link";
      c.target_type = "Patient";
      c.target_id = id;
      f.any_of.push_back(std::move(c));
      plan.filters.push_back(std::move(f));
      auto page = store.search(plan, false);
      if (!page) return page.error();
      for (const auto& other : page->ids) {
        if (seen.insert(other).second) next.push_back(other);
      }
    }
    for (const auto& id : next) {
      if (out.size() < kMaxLinked) out.push_back(id);
    }
    frontier = std::move(next);
  }
  return out;
}

/// The largest $everything page (_count); searches stop at ApiOptions::max_page_size.
constexpr std::size_t kMaxEverythingPage = 5000;

Response everything(store::Store& store, const ApiOptions& options, const Request& req, const std::string& patient_id) {
  auto patient = store.read("Patient", patient_id);
  if (!patient) return error_response(patient.error(), req);
  store::CompartmentQuery q;
  q.patient_id = patient_id;
  q.count = options.default_page_size;
  for (const auto& [name, value] : req.query) {
    if (name == "_count" || name == "_offset") {
      std::size_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size()) {
        return error_response(core::Error::invalid(fmt::format("{} '{}' is not a whole number", name, value), name),
                              req);
      }
      if (name == "_count") {
        // A whole record is commonly fetched in one page, so $everything allows larger pages.
        q.count = std::min(n, std::max<std::size_t>(options.max_page_size, kMaxEverythingPage));
      } else {
        q.offset = n;
      }
    } else if (name == "_since") {
      auto t = core::parse_fhir_datetime(value);
      if (!t)
        return error_response(core::Error::invalid(fmt::format("_since '{}' is not an instant", value), name), req);
      q.since = *t;
    } else if (name == "_type") {
      for (const auto& t : search::split_values(value)) {
        if (!fhir::is_resource_type(t)) {
          return error_response(core::Error::invalid(fmt::format("_type '{}' is not a resource type", t), name), req);
        }
        q.types.push_back(t);
      }
    } else if (name != "_format" && name != "_pretty") {
      return error_response(core::Error::invalid(fmt::format("$everything does not take '{}'", name), name), req);
    }
  }
  // The person-level view: records of the same person from other sources (Patient.link seealso,
  // refer, replaces, replaced-by, in either direction, a few steps out) are read with it.
  auto linked = linked_patients(store, patient_id);
  if (!linked) return error_response(linked.error(), req);
  q.also = std::move(*linked);
  const std::size_t page_size = q.count;
  q.count = page_size + 1;
  auto members = store.compartment(q);
  if (!members) return error_response(members.error(), req);
  const bool more = members->size() > page_size;
  if (more) members->pop_back();
  const std::string self_base = req.base_url + "/Patient/" + patient_id + "/$everything";
  std::string body = R"({"resourceType":"Bundle","id":")" + core::new_uuid() + R"(","meta":{"lastUpdated":")" +
                     core::format_instant(core::now_micros()) + R"("},"type":"searchset")";
  body += R"(,"link":[{"relation":"self","url":)" + quoted(link_url(self_base, req.query, q.offset)) + "}";
  if (more) {
    body += R"(,{"relation":"next","url":)" + quoted(link_url(self_base, req.query, q.offset + page_size)) + "}";
  }
  body += R"(],"entry":[)";
  bool first = true;
  std::set<std::string> seen;
  std::map<std::string, std::vector<std::string>> by_type;
  for (const auto& [type, id] : *members) {
    auto r = store.read(type, id);
    if (!r) continue;
    seen.insert(type + "/" + id);
    by_type[type].push_back(id);
    append_entry(body, first, req.base_url + "/" + type + "/" + id, r->json, "match");
  }
  // The resources this page refers to that cannot be in a compartment (the GP practice,
  // practitioners, medications, locations), so the page can be read on its own
  // (R4 patient-operation-everything).
  std::size_t included = 0;
  for (const auto& [type, ids] : by_type) {
    auto refs = store.references_from(type, ids, std::string());
    if (!refs) return error_response(refs.error(), req);
    for (const auto& ref : *refs) {
      // Types that can be in a patient's compartment are matches on some page, not includes.
      if (!search::Registry::r4().patient_compartment_params(ref.type).empty() || ref.type == "Patient") continue;
      if (included >= kMaxIncluded || !seen.insert(ref.type + "/" + ref.id).second) continue;
      if (!q.types.empty() && std::find(q.types.begin(), q.types.end(), ref.type) == q.types.end()) continue;
      auto r = store.read(ref.type, ref.id);
      if (!r) continue;
      ++included;
      append_entry(body, first, req.base_url + "/" + ref.type + "/" + ref.id, r->json, "include");
    }
  }
  body += "]}";
  Response out;
  out.body = format_body(std::move(body), req);
  out.interaction = "operation";
  return out;
}

}  // namespace ucr::api::detail
