#include "api/detail/ops.hpp"

#include "api/detail/identity.hpp"
#include "api/detail/registry_scope.hpp"

#include "api/json_patch.hpp"
#include "core/ids.hpp"
#include "core/time.hpp"
#include "fhir/definitions.hpp"
#include "fhir/json_text.hpp"
#include "fhir/validator.hpp"
#include "search/index.hpp"
#include "search/query.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <charconv>

namespace ucr::api::detail {
namespace {

namespace json = boost::json;

constexpr std::size_t kMaxConditionalMatches = 2;

core::Result<OpResult> commit(store::Transaction& t, const std::string& type, const std::string& id,
                              const PreparedResource& prepared, std::int64_t version, const char* method, int status) {
  const core::Micros now = core::now_micros();
  store::NewVersion v;
  v.info = store::VersionInfo{type, id, version, now, false};
  v.method = method;
  // Splice the parts serialised outside the transaction around the new version facts. Types and
  // ids are [A-Za-z0-9.-] (checked), so they need no escaping.
  const std::string stamp = core::format_instant(now);
  v.json.reserve(prepared.body_rest.size() + prepared.meta_extra.size() + type.size() + id.size() + 96);
  v.json += R"({"resourceType":")";
  v.json += type;
  v.json += R"(","id":")";
  v.json += id;
  v.json += R"(","meta":{"versionId":")";
  v.json += std::to_string(version);
  v.json += R"(","lastUpdated":")";
  v.json += stamp;
  v.json += '"';
  v.json += prepared.meta_extra;
  v.json += '}';
  v.json += prepared.body_rest;
  v.json += '}';
  v.index = prepared.index;
  if (type == "Patient") {
    v.compartment = "Patient/" + id;
  } else if (!prepared.index.compartments.empty()) {
    v.compartment = prepared.index.compartments.front();
  }
  if (auto r = t.put(v); !r) return r.error();
  OpResult out;
  out.status = status;
  out.info = v.info;
  out.json = std::move(v.json);
  return out;
}

core::Result<void> check_if_match(const std::optional<std::int64_t>& if_match,
                                  const std::optional<store::VersionInfo>& current, const std::string& type,
                                  const std::string& id) {
  if (!if_match) return core::ok();
  if (!current || current->deleted || current->version != *if_match) {
    return core::Error::precondition(
        fmt::format("If-Match W/\"{}\" does not match the current version of {}/{} ({})", *if_match, type, id,
                    current && !current->deleted ? std::to_string(current->version) : "none"));
  }
  return core::ok();
}

core::Result<void> check_if_match(const std::optional<std::int64_t>& if_match,
                                  const std::optional<store::StoredResource>& current, const std::string& type,
                                  const std::string& id) {
  return check_if_match(if_match, current ? std::optional<store::VersionInfo>(current->info) : std::nullopt, type, id);
}

}  // namespace

PreparedResource prepare(const json::object& resource) { return prepare(json::value(resource)); }

PreparedResource prepare(json::value doc) {
  const json::object& resource = doc.as_object();
  PreparedResource p;
  const auto append_member = [](std::string& out, std::string_view key, const json::value& value) {
    out += ',';
    out += json::serialize(json::string_view(key.data(), key.size()));
    out += ':';
    fhir::write_json(value, out);
  };
  if (const auto* m = resource.if_contains("meta"); m != nullptr && m->is_object()) {
    for (const auto& kv : m->get_object()) {
      if (kv.key() != "versionId" && kv.key() != "lastUpdated") append_member(p.meta_extra, kv.key(), kv.value());
    }
  }
  for (const auto& kv : resource) {
    if (kv.key() == "resourceType" || kv.key() == "id" || kv.key() == "meta") continue;
    append_member(p.body_rest, kv.key(), kv.value());
  }
  if (const auto* id = resource.if_contains("id"); id != nullptr && id->is_string()) p.id = id->get_string();
  const auto* rt = resource.if_contains("resourceType");
  const std::string_view type = rt != nullptr && rt->is_string() ? std::string_view(rt->get_string()) : "";
  p.index = search::extract(doc, type, type == "Patient" && p.id ? *p.id : std::string_view(), registry());
  if (type == "Patient") add_match_keys(doc, p.index);
  return p;
}

core::Result<json::value> parse_json(std::string_view body, std::string_view what) {
  if (body.empty()) return core::Error::make(400, "structure", fmt::format("the {} is empty", what));
  json::parse_options opts;
  opts.max_depth = 64;
  boost::system::error_code ec;
  json::stream_parser parser(json::storage_ptr(), opts);
  std::size_t consumed = parser.write(body.data(), body.size(), ec);
  if (!ec) parser.finish(ec);
  if (ec) {
    // Locate the problem for the sender: line and column of the byte where parsing stopped.
    std::size_t line = 1;
    std::size_t column = 1;
    consumed = std::min(consumed, body.size());
    for (std::size_t i = 0; i < consumed; ++i) {
      if (body[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    const bool utf8 = ec == json::error::syntax && consumed < body.size() &&
                      (static_cast<unsigned char>(body[consumed]) & 0x80U) != 0;
    const std::string why = utf8                            ? "invalid UTF-8"
                            : ec == json::error::too_deep   ? "nested more than 64 levels deep"
                            : ec == json::error::incomplete ? "it ends too soon (truncated)"
                            : ec == json::error::extra_data ? "there is more after the end of the JSON value"
                                                            : ec.message();
    return core::Error::make(
        400, "structure",
        fmt::format("the {} is not valid JSON: {} at line {}, column {} (byte {})", what, why, line, column, consumed));
  }
  return parser.release();
}

/// A SearchParameter (not retired) must define a parameter this server can index, without taking
/// a code its bases already have: it takes effect as soon as it is stored.
core::Result<void> check_search_parameter(const json::value& resource) {
  const auto* obj = resource.if_object();
  if (obj == nullptr) return core::ok();
  const auto* rt = obj->if_contains("resourceType");
  if (rt == nullptr || !rt->is_string() || rt->get_string() != "SearchParameter") return core::ok();
  const auto* status = obj->if_contains("status");
  if (status != nullptr && status->is_string() && status->get_string() == "retired") return core::ok();
  auto param = search::Registry::custom_param(*obj);
  if (!param) return param.error();
  std::vector<search::CustomParam> params;
  for (const auto& other : registry().custom()) {
    if (other.id != param->id || param->id.empty()) params.push_back(other);
  }
  params.push_back(std::move(*param));
  if (auto r = search::Registry::r4().with_custom(params); !r) {
    auto e = r.error();
    for (auto& issue : e.issues) {
      if (issue.expression.empty()) issue.expression = "SearchParameter.code";
    }
    return e;
  }
  return core::ok();
}

core::Result<void> validate(const json::value& resource) {
  auto issues = fhir::validate_resource(resource);
  bool has_error = false;
  for (const auto& i : issues) {
    if (i.severity == "error" || i.severity == "fatal") has_error = true;
  }
  if (has_error) {
    core::Error e;
    e.status = 400;
    e.issues = std::move(issues);
    return e;
  }
  return check_search_parameter(resource);
}

core::Result<json::object> parse_resource(std::string_view body, std::string_view type) {
  auto v = parse_json(body, "request body");
  if (!v) return v.error();
  auto* obj = v->if_object();
  if (obj == nullptr) return core::Error::make(400, "structure", "a resource must be a JSON object");
  const auto* rt = obj->if_contains("resourceType");
  if (rt == nullptr || !rt->is_string()) {
    return core::Error::make(400, "structure", "the resource has no resourceType", "resourceType");
  }
  if (!type.empty() && rt->get_string() != type) {
    return core::Error::invalid(fmt::format("resourceType '{}' does not match the type in the URL '{}'",
                                            std::string_view(rt->get_string()), type),
                                "resourceType");
  }
  if (!fhir::is_resource_type(rt->get_string())) {
    return core::Error::invalid(fmt::format("'{}' is not an R4 resource type", std::string_view(rt->get_string())),
                                "resourceType");
  }
  if (auto r = validate(*v); !r) return r.error();
  if (auto r = canonicalise_identifiers(*obj); !r) return r.error();
  return std::move(*obj);
}

std::optional<std::vector<std::pair<std::string, std::string>>> decode_query(std::string_view query) {
  // Lenient on purpose: clients send FHIR token values unencoded (`identifier=http://x|1`), and
  // '|' is not a valid RFC 3986 query character, so a strict URL parser would refuse them.
  const auto decode = [](std::string_view s) -> std::optional<std::string> {
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] != '%') {
        out.push_back(s[i]);
        continue;
      }
      unsigned v = 0;
      if (i + 2 >= s.size()) return std::nullopt;
      auto [ptr, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
      if (ec != std::errc() || ptr != s.data() + i + 3) return std::nullopt;
      out.push_back(static_cast<char>(v));
      i += 2;
    }
    return out;
  };
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t start = 0;
  while (start <= query.size() && !query.empty()) {
    const auto amp = query.find('&', start);
    const std::string_view pair =
        query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    if (!pair.empty()) {
      const auto eq = pair.find('=');
      auto key = decode(pair.substr(0, eq));
      auto value = decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
      if (!key || !value) return std::nullopt;
      out.emplace_back(std::move(*key), std::move(*value));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return out;
}

core::Result<search::Plan> parse_criteria(const std::string& type, std::string_view query) {
  auto parsed = decode_query(query);
  if (!parsed) return core::Error::invalid("the search criteria are not a valid query string");
  std::vector<core::Issue> warnings;
  search::ParseOptions options;
  options.registry = &registry();
  auto plan = search::parse_search(type, *parsed, options, warnings);
  if (!plan) return plan.error();
  if (plan->contained != search::Contained::kFalse) {
    // The criteria choose a resource to create, change or delete: never one inside another.
    return core::Error::invalid("conditional interactions match resources themselves, not contained ones",
                                "_contained");
  }
  if (plan->filters.empty() && !plan->compartment) {
    return core::Error::invalid("conditional interactions need at least one search criterion");
  }
  plan->sort.clear();
  plan->offset = 0;
  plan->count = kMaxConditionalMatches;
  return plan;
}

core::Result<std::int64_t> parse_etag(std::string_view etag) {
  std::string_view s = etag;
  if (s.rfind("W/", 0) == 0) s.remove_prefix(2);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  std::int64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size() || v < 1) {
    return core::Error::invalid(fmt::format("'{}' is not a version ETag like W/\"3\"", etag));
  }
  return v;
}

core::Result<std::optional<std::string>> resolve_one(store::Transaction& t, const std::string& type,
                                                     std::string_view query, std::string_view what) {
  auto plan = parse_criteria(type, query);
  if (!plan) return plan.error();
  auto ids = t.search_ids(*plan);
  if (!ids) return ids.error();
  if (ids->size() > 1) {
    return core::Error::precondition(fmt::format("{}: the criteria '{}' match more than one {}", what, query, type));
  }
  if (ids->empty()) return std::optional<std::string>{};
  return std::optional<std::string>{ids->front()};
}

core::Result<OpResult> op_create(store::Transaction& t, const std::string& type, const json::object& resource,
                                 std::string_view if_none_exist, const std::string& assigned_id) {
  return op_create(t, type, prepare(resource), if_none_exist, assigned_id);
}

core::Result<OpResult> op_create(store::Transaction& t, const std::string& type, const PreparedResource& resource,
                                 std::string_view if_none_exist, const std::string& assigned_id) {
  if (!if_none_exist.empty()) {
    auto existing = resolve_one(t, type, if_none_exist, "If-None-Exist");
    if (!existing) return existing.error();
    if (existing->has_value()) {
      auto cur = t.current(type, **existing);
      if (!cur) return cur.error();
      OpResult out;
      out.status = 200;
      if (cur->has_value()) {
        out.info = (*cur)->info;
        out.json = std::move((*cur)->json);
      }
      return out;
    }
  }
  const std::string id = assigned_id.empty() ? core::new_uuid() : assigned_id;
  return commit(t, type, id, resource, 1, "POST", 201);
}

core::Result<OpResult> op_update(store::Transaction& t, const std::string& type, const std::string& id,
                                 const json::object& resource, std::optional<std::int64_t> if_match,
                                 const char* method) {
  return op_update(t, type, id, prepare(resource), if_match, method);
}

core::Result<OpResult> op_update(store::Transaction& t, const std::string& type, const std::string& id,
                                 const PreparedResource& resource, std::optional<std::int64_t> if_match,
                                 const char* method) {
  if (!resource.id) return core::Error::invalid("an update must carry the resource id", "id");
  if (*resource.id != id) {
    return core::Error::invalid(fmt::format("the resource id does not match the id in the URL '{}'", id), "id");
  }
  if (!core::is_valid_id(id)) return core::Error::invalid(fmt::format("'{}' is not a valid FHIR id", id), "id");
  auto cur = t.current_info(type, id);
  if (!cur) return cur.error();
  if (auto r = check_if_match(if_match, *cur, type, id); !r) return r.error();
  const bool existed = cur->has_value() && !(*cur)->deleted;
  const std::int64_t version = cur->has_value() ? (*cur)->version + 1 : 1;
  return commit(t, type, id, resource, version, method, existed ? 200 : 201);
}

core::Result<OpResult> op_delete(store::Transaction& t, const std::string& type, const std::string& id,
                                 std::optional<std::int64_t> if_match) {
  auto cur = t.current_info(type, id);
  if (!cur) return cur.error();
  if (auto r = check_if_match(if_match, *cur, type, id); !r) return r.error();
  OpResult out;
  out.status = 204;
  if (!cur->has_value() || (*cur)->deleted) return out;
  store::NewVersion v;
  v.info = store::VersionInfo{type, id, (*cur)->version + 1, core::now_micros(), true};
  v.method = "DELETE";
  if (auto r = t.put(v); !r) return r.error();
  out.info = v.info;
  return out;
}

core::Result<OpResult> op_patch(store::Transaction& t, const std::string& type, const std::string& id,
                                const json::value& patch, std::optional<std::int64_t> if_match) {
  auto cur = t.current(type, id);
  if (!cur) return cur.error();
  if (!cur->has_value()) return core::Error::not_found(fmt::format("{}/{} is not known", type, id));
  if ((*cur)->info.deleted) return core::Error::gone(fmt::format("{}/{} was deleted", type, id));
  if (auto r = check_if_match(if_match, *cur, type, id); !r) return r.error();
  auto doc = parse_json((*cur)->json, "stored resource");
  if (!doc) return doc.error();
  if (auto r = apply_json_patch(*doc, patch); !r) return r.error();
  auto* obj = doc->if_object();
  if (obj == nullptr) return core::Error::unprocessable("the patched document is not a resource");
  const auto* rt = obj->if_contains("resourceType");
  const auto* pid = obj->if_contains("id");
  if (rt == nullptr || !rt->is_string() || rt->get_string() != type) {
    return core::Error::unprocessable("a patch may not change the resourceType", "resourceType");
  }
  if (pid == nullptr || !pid->is_string() || pid->get_string() != id) {
    return core::Error::unprocessable("a patch may not change the id", "id");
  }
  if (auto r = validate(*doc); !r) {
    core::Error e = r.error();
    e.status = 422;
    return e;
  }
  if (auto r = canonicalise_identifiers(*obj); !r) {
    core::Error e = r.error();
    e.status = 422;
    return e;
  }
  return commit(t, type, id, prepare(*obj), (*cur)->info.version + 1, "PATCH", 200);
}

void rewrite_references(json::value& v, const std::unordered_map<std::string, std::string>& mapping) {
  if (auto* o = v.if_object()) {
    for (auto& kv : *o) {
      if (kv.key() == "reference" && kv.value().is_string()) {
        if (auto it = mapping.find(std::string(kv.value().get_string())); it != mapping.end()) kv.value() = it->second;
      } else {
        rewrite_references(kv.value(), mapping);
      }
    }
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) rewrite_references(e, mapping);
  }
}

}  // namespace ucr::api::detail
