#include "api/detail/export_jobs.hpp"

#include "api/detail/access.hpp"
#include "api/detail/respond.hpp"
#include "auth/policy.hpp"
#include "core/ids.hpp"
#include "core/log.hpp"
#include "core/time.hpp"
#include "fhir/outcome.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

namespace ucr::api::detail {
namespace {

namespace json = boost::json;

constexpr std::string_view kMetaPrefix = "export:job:";
constexpr std::string_view kRetryAfterSeconds = "2";

std::string meta_key(const std::string& id) { return std::string(kMetaPrefix) + id; }

std::string level_name(ExportLevel l) {
  switch (l) {
    case ExportLevel::system:
      return "system";
    case ExportLevel::patient:
      return "patient";
    case ExportLevel::group:
      return "group";
  }
  return "system";
}

ExportLevel level_of(std::string_view s) {
  if (s == "patient") return ExportLevel::patient;
  if (s == "group") return ExportLevel::group;
  return ExportLevel::system;
}

std::string str_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::int64_t int_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->get_int64() : 0;
}

/// Does the role see every sensitive category the resource is labelled with?
bool labels_visible(auth::Role role, std::string_view text) {
  if (text.find("\"security\"") == std::string_view::npos) return true;
  boost::system::error_code ec;
  const json::value doc = json::parse(text, ec);
  if (ec || !doc.is_object()) return false;
  const auto* meta = doc.get_object().if_contains("meta");
  const auto* labels = meta != nullptr && meta->is_object() ? meta->get_object().if_contains("security") : nullptr;
  if (labels == nullptr || !labels->is_array()) return true;
  for (const auto& l : labels->get_array()) {
    const auto* lo = l.if_object();
    if (lo == nullptr) continue;
    const std::string system = str_of(*lo, "system");
    const std::string code = str_of(*lo, "code");
    if (auto s = auth::sensitivity_of(system, code); s && !auth::role_sees(role, *s)) return false;
  }
  return true;
}

/// An informational OperationOutcome (the body of 202 answers).
json::value information(std::string text) {
  return fhir::operation_outcome({core::Issue{"information", "informational", std::move(text), {}}});
}

Response outcome(int status, std::string code, std::string text, const Request& request) {
  return error_response(core::Error::make(status, std::move(code), std::move(text)), request);
}

}  // namespace

struct ExportJobs::Job {
  std::string id;
  ExportOwner owner;
  ExportSpec spec;
  std::string request_url;
  core::Micros transaction_time = 0;
  core::Micros created = 0;
  core::Micros finished = 0;
  std::string status = "queued";  ///< queued, running, done, failed
  std::vector<ExportFile> output;
  std::vector<ExportFile> errors;   ///< OperationOutcome files (the manifest's `error`)
  std::vector<ExportFile> deleted;  ///< with _since: Bundles of DELETEs (the manifest's `deleted`)
  std::string error;
  std::atomic<bool> cancel{false};
  std::atomic<std::size_t> resources{0};
  std::atomic<std::size_t> types_done{0};
  std::atomic<std::size_t> types_total{0};

  [[nodiscard]] std::string to_json() const {
    json::array types;
    for (const auto& t : spec.types) types.emplace_back(t);
    json::array filters;
    for (const auto& [t, q] : spec.type_filters) filters.emplace_back(json::array{json::string(t), json::string(q)});
    const auto files_of = [](const std::vector<ExportFile>& list) {
      json::array files;
      for (const auto& f : list) {
        files.emplace_back(json::object{{"type", f.type},
                                        {"name", f.name},
                                        {"count", static_cast<std::int64_t>(f.count)},
                                        {"bytes", static_cast<std::int64_t>(f.bytes)}});
      }
      return files;
    };
    const auto strings = [](const std::vector<std::string>& list) {
      json::array a;
      for (const auto& x : list) a.emplace_back(x);
      return a;
    };
    json::object o{{"id", id},
                   {"owner", owner.key},
                   {"role", owner.role},
                   {"organisation", owner.organisation},
                   {"fhirUser", owner.fhir_user},
                   {"status", status},
                   {"request", request_url},
                   {"transactionTime", transaction_time},
                   {"created", created},
                   {"finished", finished},
                   {"level", level_name(spec.level)},
                   {"group", spec.group_id},
                   {"types", std::move(types)},
                   {"typeFilter", std::move(filters)},
                   {"elements", strings(spec.elements)},
                   {"patients", strings(spec.patients)},
                   {"associated", static_cast<std::int64_t>(spec.associated)},
                   {"ignored", strings(spec.ignored)},
                   {"output", files_of(output)},
                   {"errors", files_of(errors)},
                   {"deleted", files_of(deleted)},
                   {"error", error}};
    if (spec.since) o["since"] = *spec.since;
    return json::serialize(o);
  }

  static std::shared_ptr<Job> from_json(std::string_view text) {
    boost::system::error_code ec;
    const json::value v = json::parse(text, ec);
    if (ec || !v.is_object()) return nullptr;
    const auto& o = v.get_object();
    auto j = std::make_shared<Job>();
    j->id = str_of(o, "id");
    if (!core::is_valid_id(j->id)) return nullptr;
    j->owner.key = str_of(o, "owner");
    j->owner.role = str_of(o, "role");
    j->owner.organisation = str_of(o, "organisation");
    j->owner.fhir_user = str_of(o, "fhirUser");
    j->status = str_of(o, "status");
    j->request_url = str_of(o, "request");
    j->transaction_time = int_of(o, "transactionTime");
    j->created = int_of(o, "created");
    j->finished = int_of(o, "finished");
    j->spec.level = level_of(str_of(o, "level"));
    j->spec.group_id = str_of(o, "group");
    if (const auto* s = o.if_contains("since"); s != nullptr && s->is_int64()) j->spec.since = s->get_int64();
    if (const auto* t = o.if_contains("types"); t != nullptr && t->is_array()) {
      for (const auto& x : t->get_array()) {
        if (x.is_string()) j->spec.types.emplace_back(x.get_string());
      }
    }
    if (const auto* t = o.if_contains("typeFilter"); t != nullptr && t->is_array()) {
      for (const auto& x : t->get_array()) {
        const auto* a = x.if_array();
        if (a == nullptr || a->size() != 2 || !(*a)[0].is_string() || !(*a)[1].is_string()) continue;
        j->spec.type_filters.emplace_back(std::string((*a)[0].get_string()), std::string((*a)[1].get_string()));
      }
    }
    const auto strings = [&o](std::string_view key) {
      std::vector<std::string> out;
      if (const auto* t = o.if_contains(key); t != nullptr && t->is_array()) {
        for (const auto& x : t->get_array()) {
          if (x.is_string()) out.emplace_back(x.get_string());
        }
      }
      return out;
    };
    j->spec.elements = strings("elements");
    j->spec.patients = strings("patients");
    j->spec.ignored = strings("ignored");
    const auto associated = int_of(o, "associated");
    j->spec.associated = associated == 1   ? AssociatedData::latest_provenance
                         : associated == 2 ? AssociatedData::relevant_provenance
                                           : AssociatedData::none;
    const auto files_of = [&o](std::string_view key) {
      std::vector<ExportFile> out;
      if (const auto* t = o.if_contains(key); t != nullptr && t->is_array()) {
        for (const auto& x : t->get_array()) {
          const auto* f = x.if_object();
          if (f == nullptr) continue;
          out.push_back(ExportFile{str_of(*f, "type"), str_of(*f, "name"),
                                   static_cast<std::size_t>(int_of(*f, "count")),
                                   static_cast<std::uint64_t>(int_of(*f, "bytes"))});
        }
      }
      return out;
    };
    j->output = files_of("output");
    j->errors = files_of("errors");
    j->deleted = files_of("deleted");
    j->error = str_of(o, "error");
    return j;
  }
};

ExportJobs::ExportJobs(store::Store& store, const search::Catalog& catalog, ExportJobsOptions options)
    : store_(store), catalog_(catalog), options_(std::move(options)) {
  resume();
  thread_ = std::thread([this] { loop(); });
}

ExportJobs::~ExportJobs() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, job] : jobs_) job->cancel = true;
  }
  cv_.notify_all();
  thread_.join();
}

void ExportJobs::resume() {
  std::string after;
  for (;;) {
    auto page = store_.list_meta(std::string(kMetaPrefix), after, 200);
    if (!page) {
      core::log_warn("export jobs could not be read: " + page.error().message());
      return;
    }
    for (const auto& [key, value] : *page) {
      auto job = Job::from_json(value);
      if (!job) continue;
      if (job->status == "queued" || job->status == "running") {
        // Cut short by a stop: start again from the beginning, at the same transaction time.
        remove_files(job->id);
        job->status = "queued";
        queue_.push_back(job);
      }
      jobs_[job->id] = std::move(job);
    }
    if (page->size() < 200) break;
    after = page->back().first;
  }
  // Directories of jobs that no longer exist (cancelled while the server was stopping).
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(options_.directory, ec)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_directory() && core::is_valid_id(name) && jobs_.count(name) == 0) remove_files(name);
  }
}

void ExportJobs::remove_files(const std::string& job_id) const {
  if (!core::is_valid_id(job_id)) return;
  std::error_code ec;
  std::filesystem::remove_all(options_.directory / job_id, ec);
}

std::shared_ptr<ExportJobs::Job> ExportJobs::find(const std::string& job_id) {
  std::lock_guard lock(mu_);
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : it->second;
}

core::Result<void> ExportJobs::persist(const Job& job, bool create) {
  const std::string key = meta_key(job.id);
  const std::string value = job.to_json();
  return store_.write([&key, &value, create](store::Transaction& t) -> core::Result<void> {
    if (!create) {
      // A job cancelled meanwhile stays gone.
      auto existing = t.get_meta(key);
      if (!existing) return existing.error();
      if (!existing->has_value()) return core::ok();
    }
    return t.set_meta(key, value);
  });
}

Started ExportJobs::start(const Request& request, ExportLevel level, const std::string& group_id,
                          const ExportOwner& owner) {
  const auto prefer = request.headers.get("prefer");
  if (!prefer || prefer->find("respond-async") == std::string_view::npos) {
    return error_response(core::Error::invalid("a bulk export runs asynchronously: send the header "
                                               "'Prefer: respond-async' (Bulk Data IG export.html#headers)",
                                               "Prefer"),
                          request);
  }
  const auto registry = catalog_.current();
  auto spec = parse_export_request(request, level, group_id, *registry, &store_);
  if (!spec) return error_response(spec.error(), request);
  if (level == ExportLevel::group) {
    if (auto g = store_.read("Group", group_id); !g) {
      return error_response(g.error().status == 404 || g.error().status == 410
                                ? core::Error::not_found(fmt::format("Group/{} is not known", group_id))
                                : g.error(),
                            request);
    }
  }
  auto job = std::make_shared<Job>();
  job->id = core::new_uuid();
  job->owner = owner;
  job->spec = std::move(*spec);
  job->request_url = request.base_url + request.path.substr(std::min<std::size_t>(5, request.path.size())) +
                     (request.raw_query.empty() ? "" : "?" + request.raw_query);
  job->created = core::now_micros();
  // The job waits (settle_writes) until every write stamped at or before this instant is committed,
  // so the export holds exactly the versions current at it.
  job->transaction_time = export_transaction_time();
  {
    std::lock_guard lock(mu_);
    const auto active = static_cast<std::size_t>(std::count_if(jobs_.begin(), jobs_.end(), [](const auto& kv) {
      return kv.second->status == "queued" || kv.second->status == "running";
    }));
    if (active >= options_.max_active) {
      Response r = outcome(429, "throttled",
                           fmt::format("{} exports are already running or queued on this server; try again later, "
                                       "or cancel one (DELETE its status URL)",
                                       active),
                           request);
      r.headers.emplace_back("Retry-After", "60");
      return r;
    }
    jobs_[job->id] = job;
  }
  PendingWrite p;
  p.work = [key = meta_key(job->id), value = job->to_json()](store::Transaction& t) { return t.set_meta(key, value); };
  // The request given may be a narrowed copy that ends with the caller's frame: keep what is needed.
  p.finish = [this, job, request = std::make_shared<const Request>(request)](const core::Result<void>& w) {
    if (!w) {
      std::lock_guard lock(mu_);
      jobs_.erase(job->id);
      return error_response(w.error(), *request);
    }
    {
      std::lock_guard lock(mu_);
      queue_.push_back(job);
    }
    cv_.notify_all();
    Response r;
    r.status = 202;
    r.interaction = "operation";
    r.headers.emplace_back("Content-Location", request->base_url + "/$export-status/" + job->id);
    r.body = json::serialize(
        information(fmt::format("export {} accepted; poll the Content-Location URL for its progress", job->id)));
    return r;
  };
  return p;
}

Response ExportJobs::status(const Request& request, const std::string& job_id, const ExportOwner& owner) {
  auto job = find(job_id);
  if (!job) return outcome(404, "not-found", fmt::format("there is no export job {}", job_id), request);
  if (job->owner.key != owner.key) {
    return outcome(403, "forbidden", "this export was started by another caller", request);
  }
  std::unique_lock lock(mu_);
  if (job->status == "queued" || job->status == "running") {
    Response r;
    r.status = 202;
    r.interaction = "operation";
    r.headers.emplace_back("Retry-After", std::string(kRetryAfterSeconds));
    r.headers.emplace_back("X-Progress",
                           job->status == "queued"
                               ? std::string("queued")
                               : fmt::format("{} resources written; {} of {} types done", job->resources.load(),
                                             job->types_done.load(), job->types_total.load()));
    r.body.clear();
    return r;
  }
  if (job->status == "failed") {
    return outcome(500, "exception", fmt::format("the export failed: {}", job->error), request);
  }
  json::array output;
  for (const auto& f : job->output) {
    output.emplace_back(json::object{{"type", f.type},
                                     {"url", request.base_url + "/$export-file/" + job->id + "/" + f.name},
                                     {"count", static_cast<std::int64_t>(f.count)}});
  }
  json::array errors;
  for (const auto& f : job->errors) {
    errors.emplace_back(json::object{{"type", f.type},
                                     {"url", request.base_url + "/$export-file/" + job->id + "/" + f.name},
                                     {"count", static_cast<std::int64_t>(f.count)}});
  }
  json::object manifest{{"transactionTime", core::format_instant(job->transaction_time)},
                        {"request", job->request_url},
                        {"requiresAccessToken", options_.requires_token},
                        {"output", std::move(output)},
                        {"error", std::move(errors)}};
  if (job->spec.since) {
    json::array deleted;
    for (const auto& f : job->deleted) {
      deleted.emplace_back(json::object{{"type", f.type},
                                        {"url", request.base_url + "/$export-file/" + job->id + "/" + f.name},
                                        {"count", static_cast<std::int64_t>(f.count)}});
    }
    manifest["deleted"] = std::move(deleted);
  }
  lock.unlock();
  Response r;
  r.status = 200;
  r.interaction = "operation";
  r.content_type = "application/json; charset=utf-8";
  r.headers.emplace_back("Expires", core::format_http_date(job->finished + options_.retention_seconds * 1'000'000));
  r.body = format_body(json::serialize(manifest), request);
  return r;
}

Started ExportJobs::cancel(const Request& request, const std::string& job_id, const ExportOwner& owner) {
  auto job = find(job_id);
  if (!job) return outcome(404, "not-found", fmt::format("there is no export job {}", job_id), request);
  if (job->owner.key != owner.key) {
    return outcome(403, "forbidden", "this export was started by another caller", request);
  }
  bool running = false;
  {
    std::lock_guard lock(mu_);
    job->cancel = true;
    running = job->status == "running";
    std::erase(queue_, job);
    jobs_.erase(job_id);
  }
  idle_cv_.notify_all();
  if (!running) remove_files(job_id);  // a running job removes its own files when it stops
  PendingWrite p;
  p.work = [key = meta_key(job_id)](store::Transaction& t) { return t.delete_meta(key); };
  p.finish = [job_id, &request](const core::Result<void>& w) {
    if (!w) return error_response(w.error(), request);
    Response r;
    r.status = 202;
    r.interaction = "operation";
    r.body = json::serialize(information(fmt::format("export {} cancelled and its files removed", job_id)));
    return r;
  };
  return p;
}

Response ExportJobs::file(const Request& request, const std::string& job_id, const std::string& name,
                          const ExportOwner& owner) {
  auto job = find(job_id);
  if (!job) return outcome(404, "not-found", fmt::format("there is no export job {}", job_id), request);
  if (job->owner.key != owner.key) {
    return outcome(403, "forbidden", "this export was started by another caller", request);
  }
  bool listed = false;
  {
    std::lock_guard lock(mu_);
    const auto named = [&](const ExportFile& f) { return f.name == name; };
    listed = job->status == "done" && (std::any_of(job->output.begin(), job->output.end(), named) ||
                                       std::any_of(job->errors.begin(), job->errors.end(), named) ||
                                       std::any_of(job->deleted.begin(), job->deleted.end(), named));
  }
  if (!listed) {
    return outcome(404, "not-found", fmt::format("export {} has no file '{}'", job_id, name), request);
  }
  std::ifstream in(options_.directory / job_id / name, std::ios::binary);
  if (!in) {
    return outcome(404, "not-found", fmt::format("the file '{}' of export {} is no longer available", name, job_id),
                   request);
  }
  std::ostringstream ss;
  ss << in.rdbuf();
  Response r;
  r.status = 200;
  r.interaction = "operation";
  r.content_type = "application/fhir+ndjson";
  r.body = std::move(ss).str();
  return r;
}

void ExportJobs::wait_idle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return (queue_.empty() && !busy_) || stopping_; });
}

void ExportJobs::clean_up() {
  const core::Micros now = core::now_micros();
  std::vector<std::string> expired;
  {
    std::lock_guard lock(mu_);
    for (auto it = jobs_.begin(); it != jobs_.end();) {
      const auto& j = *it->second;
      if ((j.status == "done" || j.status == "failed") && j.finished + options_.retention_seconds * 1'000'000 < now) {
        expired.push_back(it->first);
        it = jobs_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& id : expired) {
    remove_files(id);
    if (auto w = store_.write([key = meta_key(id)](store::Transaction& t) { return t.delete_meta(key); }); !w) {
      core::log_warn(fmt::format("export {} expired but its record was not removed: {}", id, w.error().message()));
    }
  }
}

void ExportJobs::loop() {
  for (;;) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(60), [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      if (!queue_.empty()) {
        job = queue_.front();
        queue_.pop_front();
        job->status = "running";
        busy_ = true;
      }
    }
    if (job) run(job);
    clean_up();
    {
      std::lock_guard lock(mu_);
      busy_ = false;
    }
    idle_cv_.notify_all();
  }
}

void ExportJobs::run(const std::shared_ptr<Job>& job) {
  ExportRun run;
  run.transaction_time = job->transaction_time;
  run.directory = options_.directory / job->id;
  run.cancel = &job->cancel;
  const auto registry = catalog_.current();
  run.registry = registry.get();
  if (!job->owner.role.empty()) {
    if (const auto role = auth::parse_role(job->owner.role)) {
      run.visible = [r = *role](std::string_view /*type*/, std::string_view text) { return labels_visible(r, text); };
      // Patients who dissent from sharing with this caller's organisation, person or role are left
      // out, as they are from the caller's reads and searches.
      run.withheld_patients =
          patients_dissenting(store_, job->owner.organisation, job->owner.fhir_user, *role, core::now_micros());
    }
  }
  run.progress = [&job](const ExportProgress& p) {
    job->resources = p.resources;
    job->types_done = p.types_done;
    job->types_total = p.types_total;
  };
  auto settled = settle_writes(store_, job->transaction_time);
  auto result = settled ? write_export(store_, job->spec, run) : core::Result<ExportResult>(settled.error());
  bool cancelled = false;
  {
    std::lock_guard lock(mu_);
    cancelled = job->cancel.load();
    if (!cancelled) {
      job->finished = core::now_micros();
      if (result) {
        job->status = "done";
        job->output = std::move(result->output);
        job->errors = std::move(result->errors);
        job->deleted = std::move(result->deleted);
      } else {
        job->status = "failed";
        job->error = result.error().message();
      }
    }
  }
  if (cancelled) {
    // Cancelled by a client (files removed here), or stopped by shutdown (restarted at the next start).
    bool stopping = false;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
    }
    if (!stopping) remove_files(job->id);
    return;
  }
  if (!result) core::log_warn(fmt::format("export {} failed: {}", job->id, job->error));
  if (result && result->withheld > 0) {
    core::log_info(fmt::format("export {}: {} resources withheld for patients' dissent", job->id, result->withheld));
  }
  if (auto w = persist(*job, false); !w) {
    core::log_warn(fmt::format("export {} finished but its state was not stored: {}", job->id, w.error().message()));
  }
}

}  // namespace ucr::api::detail
