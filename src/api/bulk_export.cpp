#include "api/bulk_export.hpp"

#include "api/detail/ops.hpp"
#include "fhir/definitions.hpp"
#include "search/query.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <thread>
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
  TypeWriter(std::filesystem::path dir, std::string type, std::uint64_t max_bytes)
      : dir_(std::move(dir)), type_(std::move(type)), max_bytes_(max_bytes) {}

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
    f.name = fmt::format("{}-{}.ndjson", type_, files_.size() + 1);
    out_.open(dir_ / f.name, std::ios::binary | std::ios::trunc);
    if (!out_) return core::Error::internal(fmt::format("cannot create {}", (dir_ / f.name).string()));
    files_.push_back(std::move(f));
    return core::ok();
  }

  std::filesystem::path dir_;
  std::string type_;
  std::uint64_t max_bytes_;
  std::ofstream out_;
  std::vector<ExportFile> files_;
};

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

core::Result<ExportSpec> parse_export_request(const Request& request, ExportLevel level, std::string group_id,
                                              const search::Registry& registry) {
  ExportSpec spec;
  spec.level = level;
  spec.group_id = std::move(group_id);
  std::set<std::string> types;
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
    } else if (name == "_format" || name == "_pretty") {
      continue;
    } else {
      return core::Error::make(
          400, "not-supported",
          fmt::format("the export parameter '{}' is not supported; this server takes _type, _since, _typeFilter "
                      "and _outputFormat",
                      name),
          name);
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
  return spec;
}

core::Micros export_transaction_time() { return core::now_micros() / 1000 * 1000 + 999; }

core::Result<void> settle_writes(store::Store& store, core::Micros transaction_time) {
  while (core::now_micros() <= transaction_time) std::this_thread::sleep_for(std::chrono::microseconds(200));
  return store.write([](store::Transaction& /*t*/) { return core::ok(); });
}

core::Result<std::vector<ExportFile>> write_export(store::Store& store, const ExportSpec& spec, const ExportRun& run) {
  std::unordered_set<std::string> members;
  if (spec.level == ExportLevel::group) {
    auto m = group_members(store, spec.group_id);
    if (!m) return m.error();
    members = std::move(*m);
  }
  std::error_code ec;
  std::filesystem::create_directories(run.directory, ec);
  if (ec) {
    return core::Error::internal(
        fmt::format("cannot create the export directory {}: {}", run.directory.string(), ec.message()));
  }
  const std::vector<std::string> types = spec.types.empty() ? default_export_types(spec.level) : spec.types;
  ExportProgress progress;
  progress.types_total = types.size();
  std::vector<ExportFile> files;
  for (const auto& type : types) {
    progress.type = type;
    std::vector<std::string> filters;
    for (const auto& [t, q] : spec.type_filters) {
      if (t == type) filters.push_back(q);
    }
    TypeWriter writer(run.directory, type, run.max_file_bytes);
    store::HistoryQuery q;
    q.type = type;
    q.at = run.transaction_time;
    q.since = spec.since;
    q.count = kPage;
    for (;;) {
      if (run.cancel != nullptr && run.cancel->load()) {
        return core::Error::make(409, "processing", "the export was cancelled");
      }
      auto page = store.history(q);
      if (!page) return page.error();
      std::vector<const store::StoredResource*> chosen;
      chosen.reserve(page->entries.size());
      for (const auto& e : page->entries) {
        if (e.info.deleted || e.json.empty()) continue;
        if (spec.level != ExportLevel::system) {
          const std::string pid = type == "Patient" ? e.info.id : patient_of_reference(e.compartment);
          if (pid.empty()) continue;
          if (spec.level == ExportLevel::group && members.count(pid) == 0) continue;
        }
        chosen.push_back(&e);
      }
      if (!filters.empty() && !chosen.empty()) {
        // A resource is kept when it matches one of its type's filters (OR), asked of the index
        // for this page's ids at once.
        std::string ids;
        for (const auto* e : chosen) {
          if (!ids.empty()) ids += ',';
          ids += e->info.id;
        }
        std::unordered_set<std::string> matched;
        for (const auto& f : filters) {
          auto plan = filter_plan(type, f + "&_id=" + ids, run.registry, chosen.size());
          if (!plan) return plan.error();
          plan->count = chosen.size();
          auto found = store.search(*plan, false);
          if (!found) return found.error();
          matched.insert(found->ids.begin(), found->ids.end());
        }
        std::erase_if(chosen, [&](const store::StoredResource* e) { return matched.count(e->info.id) == 0; });
      }
      for (const auto* e : chosen) {
        if (run.visible && !run.visible(type, e->json)) continue;
        if (auto w = writer.write(e->json); !w) return w.error();
        ++progress.resources;
        progress.bytes += e->json.size() + 1;
      }
      if (run.progress) run.progress(progress);
      if (!page->next_cursor) break;
      q.before_seq = page->next_cursor;
    }
    auto done = writer.finish();
    if (!done) return done.error();
    for (auto& f : *done) files.push_back(std::move(f));
    ++progress.types_done;
    if (run.progress) run.progress(progress);
  }
  return files;
}

}  // namespace ucr::api
