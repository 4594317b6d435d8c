#include "api/bulk_export.hpp"

#include "api/detail/ops.hpp"
#include "core/ids.hpp"
#include "fhir/definitions.hpp"
#include "fhir/outcome.hpp"
#include "search/index.hpp"
#include "search/query.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>
#include <unordered_map>
#include <unordered_set>

namespace ucr::api {
namespace {

namespace json = boost::json;

/// Versions read per store call: large enough to amortise the query, small enough for memory.
constexpr std::size_t kPage = 500;

std::vector<std::string> split_commas(std::string_view s) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const auto comma = s.find(',');
    out.emplace_back(s.substr(0, comma));
    s = comma == std::string_view::npos ? std::string_view() : s.substr(comma + 1);
  }
  return out;
}

/// Splits a `_typeFilter` value into its `Type?query` parts. A comma separates two filters only
/// where the next part starts a new `Type?`; other commas belong to a search value (OR).
core::Result<std::vector<std::pair<std::string, std::string>>> split_type_filters(std::string_view value) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string current;
  for (const auto& part : split_commas(value)) {
    const auto q = part.find('?');
    if (q != std::string::npos && fhir::is_resource_type(part.substr(0, q))) {
      if (!current.empty()) out.emplace_back(std::string(), std::move(current));
      current = part;
    } else if (current.empty()) {
      return core::Error::invalid(
          fmt::format(
              "_typeFilter '{}' is not of the form Type?search-parameters, e.g. Observation?category=laboratory",
              value),
          "_typeFilter");
    } else {
      current += ",";
      current += part;
    }
  }
  if (!current.empty()) out.emplace_back(std::string(), std::move(current));
  for (auto& [type, query] : out) {
    const auto q = query.find('?');
    type = query.substr(0, q);
    query = query.substr(q + 1);
  }
  return out;
}

/// The `_typeFilter` query as decoded search parameters.
core::Result<std::vector<std::pair<std::string, std::string>>> filter_params(const std::string& type,
                                                                             const std::string& query) {
  auto params = detail::decode_query(query);
  if (!params || params->empty()) {
    return core::Error::invalid(fmt::format("_typeFilter '{}?{}' has no valid search parameters", type, query),
                                "_typeFilter");
  }
  return std::move(*params);
}

core::Result<search::Plan> filter_plan(const std::string& type, const std::string& query,
                                       const search::Registry* registry, std::size_t count) {
  auto params = filter_params(type, query);
  if (!params) return params.error();
  search::ParseOptions opts;
  opts.default_count = count;
  opts.max_count = std::max<std::size_t>(count, 1);
  opts.registry = registry;
  std::vector<core::Issue> warnings;
  for (const auto& [name, value] : *params) {
    if (name.starts_with("_") && name != "_id" && name != "_lastUpdated" && name != "_tag" && name != "_profile" &&
        name != "_security" && name != "_source" && name != "_has" && !name.starts_with("_has:")) {
      return core::Error::invalid(
          fmt::format("_typeFilter '{}?{}': '{}' shapes results and cannot filter an export", type, query, name),
          "_typeFilter");
    }
  }
  auto plan = search::parse_search(type, *params, opts, warnings);
  if (!plan) {
    auto e = plan.error();
    for (auto& issue : e.issues) {
      issue.diagnostics = fmt::format("_typeFilter '{}?{}': {}", type, query, issue.diagnostics);
      issue.expression = "_typeFilter";
    }
    return e;
  }
  return plan;
}

std::string patient_of_reference(std::string_view ref) {
  const auto pos = ref.rfind("Patient/");
  if (pos == std::string_view::npos) return {};
  std::string_view rest = ref.substr(pos + 8);
  return std::string(rest.substr(0, rest.find('/')));
}

/// The Patient ids a Group names as active members.
core::Result<std::unordered_set<std::string>> group_members(store::Store& store, const std::string& group_id) {
  auto g = store.read("Group", group_id);
  if (!g) {
    auto e = g.error();
    if (e.status == 404 || e.status == 410) {
      return core::Error::not_found(fmt::format("Group/{} is not known", group_id));
    }
    return e;
  }
  boost::system::error_code ec;
  const json::value doc = json::parse(g->json, ec);
  std::unordered_set<std::string> out;
  if (ec || !doc.is_object()) return out;
  const auto* members = doc.get_object().if_contains("member");
  if (members == nullptr || !members->is_array()) return out;
  for (const auto& m : members->get_array()) {
    const auto* mo = m.if_object();
    if (mo == nullptr) continue;
    if (const auto* inactive = mo->if_contains("inactive");
        inactive != nullptr && inactive->is_bool() && inactive->get_bool()) {
      continue;
    }
    const auto* entity = mo->if_contains("entity");
    const auto* ref =
        entity != nullptr && entity->is_object() ? entity->get_object().if_contains("reference") : nullptr;
    if (ref == nullptr || !ref->is_string()) continue;
    if (auto pid = patient_of_reference(ref->get_string()); !pid.empty()) out.insert(std::move(pid));
  }
  return out;
}

/// NDJSON output of one type, split into files of at most max_bytes (a line is never split).
class TypeWriter {
 public:
  TypeWriter(std::filesystem::path dir, std::string type, std::uint64_t max_bytes, std::string prefix = {})
      : dir_(std::move(dir)),
        type_(std::move(type)),
        prefix_(prefix.empty() ? type_ : std::move(prefix)),
        max_bytes_(max_bytes) {}

  core::Result<void> write(std::string_view line) {
    if (!out_.is_open() || files_.back().bytes >= max_bytes_) {
      if (auto r = open_next(); !r) return r;
    }
    out_.write(line.data(), static_cast<std::streamsize>(line.size()));
    out_.put('\n');
    if (!out_) return core::Error::internal(fmt::format("cannot write {}", (dir_ / files_.back().name).string()));
    files_.back().bytes += line.size() + 1;
    ++files_.back().count;
    return core::ok();
  }

  core::Result<std::vector<ExportFile>> finish() {
    if (out_.is_open()) {
      out_.close();
      if (!out_) return core::Error::internal(fmt::format("cannot write {}", (dir_ / files_.back().name).string()));
    }
    return std::move(files_);
  }

 private:
  core::Result<void> open_next() {
    if (out_.is_open()) out_.close();
    ExportFile f;
    f.type = type_;
    f.name = fmt::format("{}-{}.ndjson", prefix_, files_.size() + 1);
    out_.open(dir_ / f.name, std::ios::binary | std::ios::trunc);
    if (!out_) return core::Error::internal(fmt::format("cannot create {}", (dir_ / f.name).string()));
    files_.push_back(std::move(f));
    return core::ok();
  }

  std::filesystem::path dir_;
  std::string type_;
  std::string prefix_;
  std::uint64_t max_bytes_;
  std::ofstream out_;
  std::vector<ExportFile> files_;
};

constexpr std::string_view kErrorPrefix = "errors";
/// Files of the manifest's `deleted` array (Bulk Data IG v2): transaction Bundles of DELETEs.
constexpr std::string_view kDeletedPrefix = "deleted";
constexpr std::size_t kDeletesPerBundle = 500;
constexpr std::string_view kSubsettedSystem = "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";

/// The OperationOutcome line of one problem found while exporting.
std::string outcome_line(std::string severity, std::string code, std::string text, std::string expression = {}) {
  return json::serialize(fhir::operation_outcome(
      {core::Issue{std::move(severity), std::move(code), std::move(text), std::move(expression)}}));
}

/// Is `name` a root element of resource type `type` ("value" for "value[x]")?
bool is_root_element(std::string_view type, std::string_view name) {
  const auto* def = fhir::find_type(type);
  if (def == nullptr) return false;
  if (name == "id" || name == "meta" || name == "resourceType") return true;
  return std::any_of(def->elements.begin(), def->elements.end(),
                     [&](const fhir::ElementDefinition* e) { return e->name == name; });
}

/// The JSON properties an `_elements` subset of `type` keeps: the listed root elements that apply
/// to it, plus the mandatory ones (min >= 1), id and meta. Empty when no listed element applies
/// (the type is exported whole).
std::unordered_set<std::string> kept_properties(const std::string& type, const std::vector<std::string>& elements) {
  std::unordered_set<std::string> names;
  for (const auto& e : elements) {
    const auto dot = e.find('.');
    if (dot == std::string::npos) {
      if (is_root_element(type, e)) names.insert(e);
    } else if (e.compare(0, dot, type) == 0) {
      names.insert(e.substr(dot + 1));
    }
  }
  if (names.empty()) return {};
  const auto* def = fhir::find_type(type);
  if (def == nullptr) return {};
  std::unordered_set<std::string> keep{"resourceType", "id", "meta"};
  for (const auto* el : def->elements) {
    if (names.count(el->name) == 0 && el->min == 0) continue;
    for (const auto& j : el->json_names) {
      keep.insert(j);
      keep.insert("_" + j);  // a primitive's id and extensions
    }
  }
  return keep;
}

/// The resource with only `keep`'s properties, tagged SUBSETTED (R4 search.html#elements), or
/// empty when the stored JSON cannot be read.
std::string subset(std::string_view text, const std::unordered_set<std::string>& keep) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return {};
  json::object out;
  for (const auto& [k, v] : doc.get_object()) {
    if (keep.count(std::string(k)) != 0) out.emplace(k, v);
  }
  auto& meta = out["meta"];
  if (!meta.is_object()) meta = json::object{};
  auto& tags = meta.get_object()["tag"];
  if (!tags.is_array()) tags = json::array{};
  tags.get_array().emplace_back(json::object{{"system", kSubsettedSystem}, {"code", "SUBSETTED"}});
  return json::serialize(out);
}

/// The "Type/id" a reference points at, without a version or the server's base.
std::string local_reference(std::string_view ref) {
  if (const auto h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
  const auto slash = ref.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return {};
  const auto type_start = ref.rfind('/', slash - 1);
  const std::string_view type = ref.substr(type_start == std::string_view::npos ? 0 : type_start + 1,
                                           slash - (type_start == std::string_view::npos ? 0 : type_start + 1));
  if (!fhir::is_resource_type(type)) return {};
  return std::string(ref.substr(type_start == std::string_view::npos ? 0 : type_start + 1));
}

/// The local references of a Provenance's targets.
std::vector<std::string> provenance_targets(std::string_view text, core::Micros& recorded) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return out;
  const auto& o = doc.get_object();
  if (const auto* r = o.if_contains("recorded"); r != nullptr && r->is_string()) {
    recorded = core::parse_fhir_datetime(r->get_string()).value_or(0);
  }
  const auto* targets = o.if_contains("target");
  if (targets == nullptr || !targets->is_array()) return out;
  for (const auto& t : targets->get_array()) {
    const auto* to = t.if_object();
    const auto* ref = to != nullptr ? to->if_contains("reference") : nullptr;
    if (ref == nullptr || !ref->is_string()) continue;
    if (auto local = local_reference(ref->get_string()); !local.empty()) out.push_back(std::move(local));
  }
  return out;
}

/// Which of `earlier` (the versions current at the transaction time of resources changed since)
/// match one of `filters`. The search index holds current versions only, so the earlier versions
/// are put back as new versions inside a write that is then always rolled back, and the filters
/// are searched inside that write: the same matcher as every search, and nothing is changed.
core::Result<std::unordered_set<std::string>> match_earlier_versions(
    store::Store& store, const std::string& type, const std::vector<const store::StoredResource*>& earlier,
    const std::vector<std::string>& filters, const search::Registry& registry) {
  std::unordered_set<std::string> matched;
  bool evaluated = false;
  std::string ids;
  for (const auto* e : earlier) {
    if (!ids.empty()) ids += ',';
    ids += e->info.id;
  }
  auto w = store.write([&](store::Transaction& t) -> core::Result<void> {
    matched.clear();
    evaluated = false;
    for (const auto* e : earlier) {
      auto cur = t.current_info(type, e->info.id);
      if (!cur) return cur.error();
      boost::system::error_code ec;
      const json::value doc = json::parse(e->json, ec);
      if (ec) continue;
      store::NewVersion v;
      v.info = e->info;
      v.info.version = (*cur ? (*cur)->version : 0) + 1;
      v.method = "PUT";
      v.json = e->json;
      v.compartment = e->compartment;
      v.index = search::extract(doc, type, e->info.id, registry);
      if (auto p = t.put(v); !p) return p.error();
    }
    for (const auto& f : filters) {
      auto plan = filter_plan(type, f + "&_id=" + ids, &registry, earlier.size());
      if (!plan) return plan.error();
      plan->count = earlier.size();
      auto found = t.search_ids(*plan);
      if (!found) return found.error();
      matched.insert(found->begin(), found->end());
    }
    evaluated = true;
    // Any error rolls the write back; this one says why.
    return core::Error::make(409, "processing", "rolled back: an export only reads");
  });
  if (evaluated && !w) return matched;
  if (!w) return w.error();
  return core::Error::internal("the export's filter evaluation was not rolled back");
}

/// The ids of `type` changed (updated or deleted) after `after`.
core::Result<std::unordered_set<std::string>> changed_since(store::Store& store, const std::string& type,
                                                            core::Micros after) {
  std::unordered_set<std::string> out;
  store::HistoryQuery q;
  q.type = type;
  q.since = after + 1;
  q.count = kPage;
  for (;;) {
    auto page = store.history(q);
    if (!page) return page.error();
    for (const auto& e : page->entries) out.insert(e.info.id);
    if (!page->next_cursor) break;
    q.before_seq = page->next_cursor;
  }
  return out;
}

}  // namespace

bool is_ndjson_format(std::string_view format) {
  return format == "application/fhir+ndjson" || format == "application/ndjson" || format == "ndjson";
}

std::vector<std::string> default_export_types(ExportLevel level) {
  std::vector<std::string> out;
  if (level == ExportLevel::system) {
    for (const auto& t : fhir::resource_types()) {
      if (t != "AuditEvent") out.push_back(t);
    }
    return out;
  }
  out = search::Registry::r4().patient_compartment_types();
  if (std::find(out.begin(), out.end(), "Patient") == out.end()) out.emplace_back("Patient");
  out.erase(std::remove(out.begin(), out.end(), "AuditEvent"), out.end());
  std::sort(out.begin(), out.end());
  return out;
}

core::Result<Request> export_request_from_parameters(const Request& post) {
  for (const auto& [name, value] : post.query) {
    if (name == "_format" || name == "_pretty") continue;
    return core::Error::invalid(
        fmt::format("a POST kick-off takes its parameters in the Parameters body, not in the URL ('{}')", name), name);
  }
  boost::system::error_code ec;
  const json::value doc = json::parse(post.body, ec);
  const auto* o = !ec ? doc.if_object() : nullptr;
  const auto* rt = o != nullptr ? o->if_contains("resourceType") : nullptr;
  if (rt == nullptr || !rt->is_string() || rt->get_string() != "Parameters") {
    return core::Error::invalid("the body of a POST kick-off must be a FHIR Parameters resource (JSON)");
  }
  Request out = post;
  out.body.clear();
  const auto* params = o->if_contains("parameter");
  if (params == nullptr) return out;
  if (!params->is_array()) return core::Error::invalid("Parameters.parameter must be an array", "Parameters.parameter");
  std::size_t i = 0;
  for (const auto& p : params->get_array()) {
    const std::string where = fmt::format("Parameters.parameter[{}]", i++);
    const auto* po = p.if_object();
    const auto* name = po != nullptr ? po->if_contains("name") : nullptr;
    if (name == nullptr || !name->is_string()) return core::Error::invalid("a parameter has no name", where);
    const std::string n(name->get_string());
    std::optional<std::string> value;
    for (const auto& [k, v] : *po) {
      if (!k.starts_with("value")) continue;
      if (v.is_string()) {
        value = std::string(v.get_string());
      } else if (k == "valueReference" && v.is_object()) {
        if (const auto* r = v.get_object().if_contains("reference"); r != nullptr && r->is_string()) {
          value = std::string(r->get_string());
        }
      }
    }
    if (n == "patient" && po->if_contains("valueReference") == nullptr) {
      return core::Error::invalid("patient takes a valueReference, e.g. {\"reference\": \"Patient/123\"}", n);
    }
    if (!value) {
      return core::Error::invalid(fmt::format("parameter '{}' has no value of a supported type (a string, code, "
                                              "instant or, for patient, a Reference)",
                                              n),
                                  n);
    }
    out.query.emplace_back(n, std::move(*value));
  }
  return out;
}

core::Result<ExportSpec> parse_export_request(const Request& request, ExportLevel level, std::string group_id,
                                              const search::Registry& registry, store::Store* store) {
  ExportSpec spec;
  spec.level = level;
  spec.group_id = std::move(group_id);
  const auto prefer = request.headers.get("prefer");
  const bool lenient = prefer && prefer->find("handling=lenient") != std::string_view::npos;
  std::set<std::string> types;
  std::set<std::string> patients;
  for (const auto& [name, value] : request.query) {
    if (name == "_type") {
      for (const auto& t : split_commas(value)) {
        if (!fhir::is_resource_type(t)) {
          return core::Error::invalid(fmt::format("_type '{}' is not an R4 resource type", t), "_type");
        }
        if (t == "AuditEvent") {
          return core::Error::make(
              403, "forbidden", "the audit trail is not exported; search it with GET AuditEvent?patient=...", "_type");
        }
        if (types.insert(t).second) spec.types.push_back(t);
      }
      if (value.empty()) return core::Error::invalid("_type is empty", "_type");
    } else if (name == "_since") {
      auto t = core::parse_fhir_datetime(value);
      if (!t || value.size() < 20) {
        return core::Error::invalid(fmt::format("_since '{}' is not a FHIR instant (e.g. 2024-01-01T00:00:00Z)", value),
                                    "_since");
      }
      spec.since = *t;
    } else if (name == "_outputFormat") {
      if (!is_ndjson_format(value)) {
        return core::Error::invalid(
            fmt::format("_outputFormat '{}' is not supported; use application/fhir+ndjson", value), "_outputFormat");
      }
    } else if (name == "_typeFilter") {
      auto filters = split_type_filters(value);
      if (!filters) return filters.error();
      for (auto& f : *filters) spec.type_filters.push_back(std::move(f));
    } else if (name == "_elements") {
      for (const auto& e : split_commas(value)) {
        const auto dot = e.find('.');
        const std::string type = dot == std::string::npos ? std::string() : e.substr(0, dot);
        const std::string element = dot == std::string::npos ? e : e.substr(dot + 1);
        bool known = false;
        if (!type.empty()) {
          known =
              fhir::is_resource_type(type) && element.find('.') == std::string::npos && is_root_element(type, element);
        } else {
          known = std::any_of(fhir::resource_types().begin(), fhir::resource_types().end(),
                              [&](const std::string& t) { return is_root_element(t, element); });
        }
        if (!known) {
          const std::string why = fmt::format(
              "_elements '{}' is not a root element of a resource (Type.element or element, e.g. Patient.name)", e);
          if (!lenient) return core::Error::invalid(why, "_elements");
          spec.ignored.push_back(why);
          continue;
        }
        spec.elements.push_back(e);
      }
    } else if (name == "patient") {
      if (request.method != "POST") {
        return core::Error::invalid(
            "patient is accepted in a POST kick-off only, as a Parameters valueReference (Bulk Data IG "
            "export.html#query-parameters)",
            "patient");
      }
      if (level == ExportLevel::system) {
        return core::Error::invalid("patient applies to Patient- and Group-level exports, not to [base]/$export",
                                    "patient");
      }
      const std::string id = value.starts_with("Patient/") ? value.substr(8) : std::string();
      if (!core::is_valid_id(id)) {
        return core::Error::invalid(fmt::format("patient '{}' is not a reference of the form Patient/<id>", value),
                                    "patient");
      }
      if (patients.insert(id).second) spec.patients.push_back(id);
    } else if (name == "includeAssociatedData") {
      for (const auto& v : split_commas(value)) {
        if (v == "RelevantProvenanceResources") {
          spec.associated = AssociatedData::relevant_provenance;  // the least restrictive value wins
        } else if (v == "LatestProvenanceResources") {
          if (spec.associated == AssociatedData::none) spec.associated = AssociatedData::latest_provenance;
        } else {
          const std::string why = fmt::format(
              "includeAssociatedData '{}' is not supported; this server offers LatestProvenanceResources and "
              "RelevantProvenanceResources",
              v);
          if (!lenient) return core::Error::make(400, "not-supported", why, "includeAssociatedData");
          spec.ignored.push_back(why);
        }
      }
    } else if (name == "_format" || name == "_pretty") {
      continue;
    } else {
      const std::string why = fmt::format(
          "the export parameter '{}' is not supported; this server takes _type, _since, _typeFilter, "
          "_outputFormat, _elements, includeAssociatedData and (POST) patient",
          name);
      if (!lenient) return core::Error::make(400, "not-supported", why, name);
      spec.ignored.push_back(why);
    }
  }
  for (const auto& [type, query] : spec.type_filters) {
    if (!spec.types.empty() && types.count(type) == 0) {
      return core::Error::invalid(fmt::format("_typeFilter names {}, which is not in _type", type), "_typeFilter");
    }
    if (auto plan = filter_plan(type, query, &registry, 1); !plan) return plan.error();
  }
  if (level != ExportLevel::system) {
    const auto allowed = default_export_types(level);
    for (const auto& t : spec.types) {
      if (std::find(allowed.begin(), allowed.end(), t) == allowed.end()) {
        return core::Error::invalid(
            fmt::format("_type {}: {} resources are not in the Patient compartment, so a patient-level export has none",
                        t, t),
            "_type");
      }
    }
  }
  if (store != nullptr && !spec.patients.empty()) {
    std::unordered_set<std::string> members;
    if (level == ExportLevel::group) {
      auto m = group_members(*store, spec.group_id);
      if (!m) return m.error();
      members = std::move(*m);
    }
    for (const auto& id : spec.patients) {
      if (auto p = store->read("Patient", id); !p) {
        return core::Error::invalid(fmt::format("patient Patient/{} is not known to this server", id), "patient");
      }
      if (level == ExportLevel::group && members.count(id) == 0) {
        return core::Error::invalid(fmt::format("patient Patient/{} is not a member of Group/{}", id, spec.group_id),
                                    "patient");
      }
    }
  }
  return spec;
}

bool is_export_error_file(std::string_view name) {
  return name.starts_with(std::string(kErrorPrefix) + "-") && name.ends_with(".ndjson");
}

core::Micros export_transaction_time() { return core::now_micros() / 1000 * 1000 + 999; }

core::Result<void> settle_writes(store::Store& store, core::Micros transaction_time) {
  while (core::now_micros() <= transaction_time) std::this_thread::sleep_for(std::chrono::microseconds(200));
  return store.write([](store::Transaction& /*t*/) { return core::ok(); });
}

core::Result<ExportResult> write_export(store::Store& store, const ExportSpec& spec, const ExportRun& run) {
  std::unordered_set<std::string> members;
  if (spec.level == ExportLevel::group) {
    auto m = group_members(store, spec.group_id);
    if (!m) return m.error();
    members = std::move(*m);
  }
  const std::unordered_set<std::string> only(spec.patients.begin(), spec.patients.end());
  std::error_code ec;
  std::filesystem::create_directories(run.directory, ec);
  if (ec) {
    return core::Error::internal(
        fmt::format("cannot create the export directory {}: {}", run.directory.string(), ec.message()));
  }
  const search::Registry& registry = run.registry != nullptr ? *run.registry : search::Registry::r4();
  std::vector<std::string> types = spec.types.empty() ? default_export_types(spec.level) : spec.types;
  const bool associated = spec.associated != AssociatedData::none;
  // With includeAssociatedData, Provenance comes only as the exported resources' provenance.
  if (associated) std::erase(types, "Provenance");
  ExportProgress progress;
  progress.types_total = types.size() + (associated ? 1 : 0);
  ExportResult result;
  TypeWriter errors(run.directory, "OperationOutcome", run.max_file_bytes, std::string(kErrorPrefix));
  for (const auto& why : spec.ignored) {
    if (auto w = errors.write(outcome_line("warning", "not-supported", why + " (ignored: Prefer: handling=lenient)"));
        !w) {
      return w.error();
    }
  }
  // With _since, resources deleted since then (and still deleted at the transaction time) are
  // listed as DELETE entries of transaction Bundles, so a copy kept up to date by incremental
  // exports drops them too (export.html, the manifest's `deleted`).
  TypeWriter deleted(run.directory, "Bundle", run.max_file_bytes, std::string(kDeletedPrefix));
  std::vector<std::string> deletes;  // "Type/id", waiting for a Bundle
  const auto flush_deletes = [&]() -> core::Result<void> {
    if (deletes.empty()) return core::ok();
    json::array entries;
    for (const auto& key : deletes) {
      entries.emplace_back(json::object{{"request", json::object{{"method", "DELETE"}, {"url", key}}}});
    }
    deletes.clear();
    return deleted.write(json::serialize(
        json::object{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", std::move(entries)}}));
  };
  std::unordered_set<std::string> exported;  // "Type/id" of everything written, for includeAssociatedData
  // May this version be exported: in scope for the level and the patients asked for, not withheld
  // for the patient's dissent.
  const auto in_scope = [&](const std::string& type, const store::StoredResource& e) {
    const std::string pid = type == "Patient" ? e.info.id : patient_of_reference(e.compartment);
    if (spec.level != ExportLevel::system) {
      if (pid.empty()) return false;
      if (spec.level == ExportLevel::group && members.count(pid) == 0) return false;
      if (!only.empty() && only.count(pid) == 0) return false;
    }
    if (!pid.empty() && run.withheld_patients.count(pid) != 0) {
      ++result.withheld;
      return false;
    }
    return true;
  };
  const auto emit = [&](TypeWriter& writer, const std::string& type, const store::StoredResource& e,
                        const std::unordered_set<std::string>& keep) -> core::Result<void> {
    if (run.visible && !run.visible(type, e.json)) return core::ok();
    std::string subsetted;
    if (!keep.empty()) {
      subsetted = subset(e.json, keep);
      if (subsetted.empty()) {
        return errors.write(outcome_line("error", "exception",
                                         fmt::format("{}/{} version {} could not be read as JSON and was not exported",
                                                     type, e.info.id, e.info.version),
                                         type));
      }
    }
    const std::string_view line = keep.empty() ? std::string_view(e.json) : std::string_view(subsetted);
    if (auto w = writer.write(line); !w) return w;
    if (associated) exported.insert(type + "/" + e.info.id);
    ++progress.resources;
    progress.bytes += line.size() + 1;
    return core::ok();
  };
  const auto cancelled = [&run] { return run.cancel != nullptr && run.cancel->load(); };
  for (const auto& type : types) {
    progress.type = type;
    std::vector<std::string> filters;
    for (const auto& [t, q] : spec.type_filters) {
      if (t == type) filters.push_back(q);
    }
    std::unordered_set<std::string> changed;
    if (!filters.empty()) {
      auto c = changed_since(store, type, run.transaction_time);
      if (!c) return c.error();
      changed = std::move(*c);
    }
    const auto keep = kept_properties(type, spec.elements);
    TypeWriter writer(run.directory, type, run.max_file_bytes);
    store::HistoryQuery q;
    q.type = type;
    q.at = run.transaction_time;
    q.since = spec.since;
    q.count = kPage;
    for (;;) {
      if (cancelled()) return core::Error::make(409, "processing", "the export was cancelled");
      auto page = store.history(q);
      if (!page) return page.error();
      std::vector<const store::StoredResource*> chosen;
      chosen.reserve(page->entries.size());
      for (const auto& e : page->entries) {
        if (e.info.deleted && spec.since && e.info.version > 1) {
          // Listed only if the caller could have had the resource: in scope and visible as it
          // last stood (a deleted version carries no content of its own).
          auto before = store.vread(type, e.info.id, e.info.version - 1);
          if (before && !before->info.deleted && in_scope(type, *before) &&
              (!run.visible || run.visible(type, before->json))) {
            deletes.push_back(type + "/" + e.info.id);
            if (deletes.size() >= kDeletesPerBundle) {
              if (auto w = flush_deletes(); !w) return w.error();
            }
          }
          continue;
        }
        if (e.info.deleted || e.json.empty()) continue;
        if (in_scope(type, e)) chosen.push_back(&e);
      }
      if (!filters.empty() && !chosen.empty()) {
        // A resource is kept when it matches one of its type's filters (OR). Unchanged since the
        // transaction time, the index answers for this page's ids at once; changed since, its
        // version at the transaction time is matched instead (match_earlier_versions).
        std::string ids;
        std::vector<const store::StoredResource*> earlier;
        for (const auto* e : chosen) {
          if (changed.count(e->info.id) != 0) {
            earlier.push_back(e);
            continue;
          }
          if (!ids.empty()) ids += ',';
          ids += e->info.id;
        }
        std::unordered_set<std::string> matched;
        if (!ids.empty()) {
          for (const auto& f : filters) {
            auto plan = filter_plan(type, f + "&_id=" + ids, &registry, chosen.size());
            if (!plan) return plan.error();
            plan->count = chosen.size();
            auto found = store.search(*plan, false);
            if (!found) return found.error();
            matched.insert(found->ids.begin(), found->ids.end());
          }
        }
        if (!earlier.empty()) {
          auto m = match_earlier_versions(store, type, earlier, filters, registry);
          if (!m) {
            // The filter could not be honoured for these resources: they are left out, and said so.
            for (const auto* e : earlier) {
              if (auto w = errors.write(outcome_line(
                      "error", "processing",
                      fmt::format("_typeFilter could not be evaluated on {}/{} as it stood at the transaction time "
                                  "({}); it was not exported",
                                  type, e->info.id, m.error().message()),
                      "_typeFilter"));
                  !w) {
                return w.error();
              }
            }
          } else {
            matched.insert(m->begin(), m->end());
          }
        }
        std::erase_if(chosen, [&](const store::StoredResource* e) { return matched.count(e->info.id) == 0; });
      }
      for (const auto* e : chosen) {
        if (auto w = emit(writer, type, *e, keep); !w) return w.error();
      }
      if (run.progress) run.progress(progress);
      if (!page->next_cursor) break;
      q.before_seq = page->next_cursor;
    }
    auto done = writer.finish();
    if (!done) return done.error();
    for (auto& f : *done) result.output.push_back(std::move(f));
    ++progress.types_done;
    if (run.progress) run.progress(progress);
  }
  if (associated) {
    // includeAssociatedData: the Provenance resources (as at the transaction time) whose targets
    // were exported; for LatestProvenanceResources only the most recent (`recorded`, then last
    // update) per target.
    progress.type = "Provenance";
    const bool latest = spec.associated == AssociatedData::latest_provenance;
    std::unordered_map<std::string, std::pair<std::pair<core::Micros, core::Micros>, std::string>> newest;
    std::unordered_set<std::string> wanted;
    for (int pass = latest ? 0 : 1; pass < 2; ++pass) {
      TypeWriter writer(run.directory, "Provenance", run.max_file_bytes);
      const auto keep = kept_properties("Provenance", spec.elements);
      store::HistoryQuery q;
      q.type = "Provenance";
      q.at = run.transaction_time;
      q.count = kPage;
      for (;;) {
        if (cancelled()) return core::Error::make(409, "processing", "the export was cancelled");
        auto page = store.history(q);
        if (!page) return page.error();
        for (const auto& e : page->entries) {
          if (e.info.deleted || e.json.empty()) continue;
          core::Micros recorded = 0;
          const auto targets = provenance_targets(e.json, recorded);
          const bool relevant =
              std::any_of(targets.begin(), targets.end(), [&](const std::string& t) { return exported.count(t) != 0; });
          if (!relevant) continue;
          if (pass == 0) {
            for (const auto& t : targets) {
              if (exported.count(t) == 0) continue;
              auto& best = newest[t];
              const std::pair<core::Micros, core::Micros> key{recorded, e.info.last_updated};
              if (best.second.empty() || key > best.first) best = {key, e.info.id};
            }
            continue;
          }
          if (latest && wanted.count(e.info.id) == 0) continue;
          // In scope through its targets (exported above), whatever its own compartment; a
          // patient's dissent still holds.
          if (const auto pid = patient_of_reference(e.compartment);
              !pid.empty() && run.withheld_patients.count(pid) != 0) {
            ++result.withheld;
            continue;
          }
          if (auto w = emit(writer, "Provenance", e, keep); !w) return w.error();
        }
        if (!page->next_cursor) break;
        q.before_seq = page->next_cursor;
      }
      if (pass == 0) {
        for (const auto& [t, best] : newest) wanted.insert(best.second);
        continue;
      }
      auto done = writer.finish();
      if (!done) return done.error();
      for (auto& f : *done) result.output.push_back(std::move(f));
    }
    ++progress.types_done;
    if (run.progress) run.progress(progress);
  }
  if (auto w = flush_deletes(); !w) return w.error();
  auto gone = deleted.finish();
  if (!gone) return gone.error();
  result.deleted = std::move(*gone);
  auto errs = errors.finish();
  if (!errs) return errs.error();
  result.errors = std::move(*errs);
  return result;
}

}  // namespace ucr::api
