#include "api/bulk_import.hpp"

#include "api/bulk_export.hpp"
#include "core/ids.hpp"
#include "fhir/definitions.hpp"
#include "mpi/blocking.hpp"
#include "mpi/record.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include <zlib.h>

namespace ucr::api {
namespace {

namespace json = boost::json;

constexpr const char* kBase = "urn:ucr:import/fhir";
/// Retries of one NDJSON batch, each without the line the last attempt was refused for; beyond
/// this the batch's lines are sent one by one.
constexpr int kMaxBatchRetries = 8;
// One file's batches in flight at once: the oldest is written while the others are prepared and
// matched (more only queue for the one writer).
constexpr std::size_t kInFlight = 2;

/// Reads a gzip file (or, transparently, a plain one) through zlib as a stream. Seeking forward
/// decompresses up to the position (gzseek), which is how an interrupted import resumes.
class GzBuf final : public std::streambuf {
 public:
  explicit GzBuf(const std::filesystem::path& file) : gz_(gzopen(file.c_str(), "rb")) {
    if (gz_ != nullptr) gzbuffer(gz_, 1U << 17U);
  }
  GzBuf(const GzBuf&) = delete;
  GzBuf& operator=(const GzBuf&) = delete;
  ~GzBuf() override {
    if (gz_ != nullptr) gzclose(gz_);
  }
  [[nodiscard]] bool is_open() const { return gz_ != nullptr; }
  /// The zlib error, when reading failed.
  [[nodiscard]] std::string error() const {
    int code = Z_OK;
    const char* text = gz_ != nullptr ? gzerror(gz_, &code) : "cannot open";
    return code == Z_OK || code == Z_STREAM_END ? std::string() : std::string(text);
  }

 protected:
  int_type underflow() override {
    if (gz_ == nullptr) return traits_type::eof();
    const int n = gzread(gz_, buffer_.data(), static_cast<unsigned>(buffer_.size()));
    if (n <= 0) return traits_type::eof();
    setg(buffer_.data(), buffer_.data(), buffer_.data() + n);
    return traits_type::to_int_type(buffer_[0]);
  }
  pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode /*which*/) override {
    if (gz_ == nullptr || dir == std::ios_base::end) return pos_type(off_type(-1));
    if (dir == std::ios_base::cur) {
      if (off == 0) return pos_type(gztell(gz_) - (egptr() - gptr()));
      return pos_type(off_type(-1));
    }
    setg(buffer_.data(), buffer_.data(), buffer_.data());
    const auto at = gzseek(gz_, static_cast<z_off_t>(off), SEEK_SET);
    return at < 0 ? pos_type(off_type(-1)) : pos_type(at);
  }
  pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
    return seekoff(off_type(pos), std::ios_base::beg, which);
  }

 private:
  gzFile gz_;
  std::array<char, std::size_t{1} << 16U> buffer_{};
};

/// An input file: read as it is, or decompressed when its name ends in .gz.
class InputFile {
 public:
  explicit InputFile(const std::filesystem::path& file) {
    if (file.extension() == ".gz") {
      gz_ = std::make_unique<GzBuf>(file);
      stream_ = std::make_unique<std::istream>(gz_.get());
      if (!gz_->is_open()) stream_->setstate(std::ios::failbit);
    } else {
      stream_ = std::make_unique<std::ifstream>(file, std::ios::binary);
    }
  }
  [[nodiscard]] std::istream& stream() { return *stream_; }
  [[nodiscard]] bool ok() const { return static_cast<bool>(*stream_); }
  /// Why reading stopped early (a damaged gzip stream), or empty.
  [[nodiscard]] std::string error() const { return gz_ ? gz_->error() : std::string(); }

 private:
  std::unique_ptr<GzBuf> gz_;
  std::unique_ptr<std::istream> stream_;
};

/// The name without a trailing .gz: what decides how the content is read.
std::filesystem::path content_name(const std::filesystem::path& file) {
  return file.extension() == ".gz" ? file.stem() : file.filename();
}

std::string str_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

std::string meta_key(const std::filesystem::path& file) {
  std::uint64_t h = 1469598103934665603ULL;
  for (const unsigned char ch : file.string()) {
    h ^= ch;
    h *= 1099511628211ULL;
  }
  return fmt::format("import:{:016x}", h);
}

/// Is the resource tagged SUBSETTED (R4 v3-ObservationValue): only part of a resource, as a
/// Bulk Data export with _elements writes it?
bool is_subsetted(const json::object& o) {
  const auto* meta = o.if_contains("meta");
  const auto* tags = meta != nullptr && meta->is_object() ? meta->get_object().if_contains("tag") : nullptr;
  if (tags == nullptr || !tags->is_array()) return false;
  return std::any_of(tags->get_array().begin(), tags->get_array().end(), [](const json::value& t) {
    const auto* to = t.if_object();
    return to != nullptr && str_at(*to, "code") == "SUBSETTED" &&
           str_at(*to, "system") == "http://terminology.hl7.org/CodeSystem/v3-ObservationValue";
  });
}

/// The reason an OperationOutcome gives, with its locations.
std::string reason_of(const Response& r) {
  boost::system::error_code ec;
  const json::value v = json::parse(r.body, ec);
  std::string out;
  const auto* issues = !ec && v.is_object() ? v.get_object().if_contains("issue") : nullptr;
  if (issues != nullptr && issues->is_array()) {
    for (const auto& i : issues->get_array()) {
      const auto* io = i.if_object();
      if (io == nullptr) continue;
      const std::string sev = str_at(*io, "severity");
      if (sev != "error" && sev != "fatal") continue;
      if (!out.empty()) out += "; ";
      out += str_at(*io, "diagnostics");
      if (const auto* ex = io->if_contains("expression");
          ex != nullptr && ex->is_array() && !ex->get_array().empty() && ex->get_array()[0].is_string()) {
        out += fmt::format(" (at {})", std::string_view(ex->get_array()[0].get_string()));
      }
    }
  }
  if (out.empty()) out = fmt::format("HTTP {}", r.status);
  return out;
}

/// Synthea's files of organisations and practitioners, which the patients' Bundles refer to: they
/// are imported first, on their own.
bool is_shared_directory_file(const std::filesystem::path& p) {
  const std::string name = p.filename().string();
  return name.starts_with("hospitalInformation") || name.starts_with("practitionerInformation");
}

/// A transaction Bundle whose entries are all DELETEs of Type/id (what an export's `deleted` files hold).
bool only_deletes(const json::object& bundle) {
  const auto* entries = bundle.if_contains("entry");
  if (entries == nullptr || !entries->is_array() || entries->get_array().empty()) return false;
  return std::all_of(entries->get_array().begin(), entries->get_array().end(), [](const json::value& e) {
    const auto* eo = e.if_object();
    const auto* req = eo != nullptr ? eo->if_contains("request") : nullptr;
    if (req == nullptr || !req->is_object() || eo->contains("resource")) return false;
    return str_at(req->get_object(), "method") == "DELETE" && !str_at(req->get_object(), "url").empty();
  });
}

/// The entry of a transaction an error names (Bundle.entry[n]...), when it names one.
std::optional<std::size_t> failed_entry(const Response& r) {
  const auto pos = r.body.find("Bundle.entry[");
  if (pos == std::string::npos) return std::nullopt;
  std::size_t n = 0;
  const char* begin = r.body.data() + pos + 13;
  auto [ptr, ec] = std::from_chars(begin, r.body.data() + r.body.size(), n);
  if (ec != std::errc() || ptr == begin || *ptr != ']') return std::nullopt;
  return n;
}

/// Counts created (201) and updated (200) entries of a transaction-response.
void count_results(const Response& r, ImportSummary& summary) {
  boost::system::error_code ec;
  const json::value v = json::parse(r.body, ec);
  const auto* entries = !ec && v.is_object() ? v.get_object().if_contains("entry") : nullptr;
  if (entries == nullptr || !entries->is_array()) return;
  for (const auto& e : entries->get_array()) {
    const auto* resp = e.is_object() ? e.get_object().if_contains("response") : nullptr;
    if (resp == nullptr || !resp->is_object()) continue;
    const std::string status = str_at(resp->get_object(), "status");
    if (status.starts_with("201")) {
      ++summary.created;
    } else if (status.starts_with("200")) {
      ++summary.updated;
    } else if (status.starts_with("204")) {
      ++summary.deleted;
    }
  }
}

Request transaction_request(std::string body) {
  Request r;
  r.method = "POST";
  r.path = "/fhir";
  r.base_url = kBase;
  r.headers.add("content-type", "application/fhir+json");
  r.headers.add("prefer", "return=minimal");
  r.body = std::move(body);
  return r;
}

/// A transaction entry that stores `resource` as it is: PUT to its id (so that importing again
/// changes nothing new), or POST when it has none.
json::object entry_for(json::object resource, const std::string& full_url) {
  const std::string type = str_at(resource, "resourceType");
  const std::string id = str_at(resource, "id");
  json::object entry;
  if (!full_url.empty()) entry["fullUrl"] = full_url;
  entry["request"] = id.empty() ? json::object{{"method", "POST"}, {"url", type}}
                                : json::object{{"method", "PUT"}, {"url", type + "/" + id}};
  entry["resource"] = std::move(resource);
  return entry;
}

}  // namespace

/// Forwards to the real store, adding the importer's bookkeeping of the next write to that write's
/// own transaction, so data and "done up to here" commit together.
class Importer::MarkingStore final : public store::Store {
 public:
  explicit MarkingStore(store::Store& inner) : inner_(inner) {}

  /// The bookkeeping the next write from the calling thread adds (key empty: none). Files are
  /// imported by several threads at once, each marking its own writes.
  void mark_next(std::string key, std::string value) {
    const std::lock_guard lock(mu_);
    if (key.empty()) {
      marks_.erase(std::this_thread::get_id());
    } else {
      marks_[std::this_thread::get_id()] = {std::move(key), std::move(value)};
    }
  }

  core::Result<store::StoredResource> read(const std::string& type, const std::string& id) override {
    return inner_.read(type, id);
  }
  core::Result<store::StoredResource> vread(const std::string& type, const std::string& id,
                                            std::int64_t version) override {
    return inner_.vread(type, id, version);
  }
  core::Result<store::HistoryPage> history(const store::HistoryQuery& q) override { return inner_.history(q); }
  core::Result<std::vector<store::StoredResource>> read_many(const std::string& type,
                                                             const std::vector<std::string>& ids) override {
    return inner_.read_many(type, ids);
  }
  core::Result<std::vector<std::vector<std::int64_t>>> key_rids(const std::string& type,
                                                                const std::vector<store::IndexKey>& keys,
                                                                std::size_t per_key) override {
    return inner_.key_rids(type, keys, per_key);
  }
  core::Result<std::vector<store::StoredResource>> read_rids(const std::string& type,
                                                             const std::vector<std::int64_t>& rids) override {
    return inner_.read_rids(type, rids);
  }
  core::Result<store::SearchPage> search(const search::Plan& plan, bool want_total) override {
    return inner_.search(plan, want_total);
  }
  core::Result<std::vector<store::ReferenceTarget>> references_from(const std::string& type,
                                                                    const std::vector<std::string>& ids,
                                                                    const std::string& param) override {
    return inner_.references_from(type, ids, param);
  }
  core::Result<std::vector<std::pair<std::string, std::string>>> compartment(
      const store::CompartmentQuery& q) override {
    return inner_.compartment(q);
  }
  core::Result<std::optional<std::string>> get_meta(const std::string& key) override { return inner_.get_meta(key); }
  core::Result<std::vector<std::pair<std::string, std::string>>> list_meta(const std::string& prefix,
                                                                           const std::string& after,
                                                                           std::size_t limit) override {
    return inner_.list_meta(prefix, after, limit);
  }
  core::Result<std::vector<store::AuditRecord>> audit_events(const store::AuditQuery& q) override {
    return inner_.audit_events(q);
  }
  core::Result<std::vector<store::AuditRecord>> audit_scan(std::int64_t after_seq, std::size_t limit) override {
    return inner_.audit_scan(after_seq, limit);
  }
  core::Result<std::vector<std::string>> find_ids(const std::string& type,
                                                  const std::vector<store::Criterion>& criteria,
                                                  std::size_t limit) override {
    return inner_.find_ids(type, criteria, limit);
  }
  core::Result<void> write(const WriteWork& work) override { return inner_.write(marked(work)); }
  void write_async(WriteWork work, WriteDone done) override {
    inner_.write_async(marked(std::move(work)), std::move(done));
  }
  core::Result<void> check_integrity() override { return inner_.check_integrity(); }
  [[nodiscard]] store::StoreStats stats() const override { return inner_.stats(); }
  void render_metrics(std::string& out) const override { inner_.render_metrics(out); }

 private:
  WriteWork marked(WriteWork work) const {
    std::pair<std::string, std::string> mark;
    {
      const std::lock_guard lock(mu_);
      const auto it = marks_.find(std::this_thread::get_id());
      if (it == marks_.end()) return work;
      mark = it->second;
    }
    return [work = std::move(work), mark = std::move(mark)](store::Transaction& t) -> core::Result<void> {
      if (auto r = work(t); !r) return r;
      return t.set_meta(mark.first, mark.second);
    };
  }

  store::Store& inner_;
  mutable std::mutex mu_;
  std::map<std::thread::id, std::pair<std::string, std::string>> marks_;  // guarded by mu_
};

/// How far one file has been imported (kept in the store's bookkeeping).
struct Importer::FileState {
  std::string key;
  std::string path;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  std::uint64_t offset = 0;  ///< NDJSON: bytes committed (whole lines)
  std::size_t line = 0;      ///< NDJSON: lines committed
  bool done = false;

  [[nodiscard]] std::string to_json() const {
    return json::serialize(json::object{{"path", path},
                                        {"size", static_cast<std::int64_t>(size)},
                                        {"mtime", mtime},
                                        {"offset", static_cast<std::int64_t>(offset)},
                                        {"line", static_cast<std::int64_t>(line)},
                                        {"done", done}});
  }
};

Importer::Importer(store::Store& store, ApiOptions api_options, ImportOptions options)
    : store_(store), marking_(std::make_unique<MarkingStore>(store)), options_(std::move(options)) {
  api_options.auth = nullptr;
  api_options.export_directory.clear();
  api_options.max_bundle_entries = std::max<std::size_t>(api_options.max_bundle_entries, 1'000'000);
  api_options.before_write = [this] { return before_write(); };
  api_ = std::make_unique<Api>(*marking_, std::move(api_options));
}

Importer::~Importer() = default;

core::Result<std::vector<std::filesystem::path>> Importer::list_files(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return core::Error::not_found(fmt::format("{}: no such file or directory", path.string()));
  }
  std::vector<std::filesystem::path> out;
  if (!std::filesystem::is_directory(status)) {
    out.push_back(std::filesystem::absolute(path));
    return out;
  }
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec); !ec && it != end(it); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    if (it->path().filename() == "manifest.json") continue;  // a Bulk Data export's manifest, not data
    // An export's OperationOutcome files (its manifest's `error`) report problems; they are not data.
    if (is_export_error_file(it->path().filename().string()) &&
        std::filesystem::exists(it->path().parent_path() / "manifest.json")) {
      continue;
    }
    const auto ext = content_name(it->path()).extension().string();
    if (ext == ".json" || ext == ".ndjson") out.push_back(std::filesystem::absolute(it->path()));
  }
  if (ec) return core::Error::invalid(fmt::format("{}: {}", path.string(), ec.message()));
  const auto shared = [](const std::filesystem::path& p) { return is_shared_directory_file(p) ? 0 : 1; };
  std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
    const int sa = shared(a);
    const int sb = shared(b);
    return sa != sb ? sa < sb : a < b;
  });
  return out;
}

void Importer::publish(Tally& tally, std::uint64_t file_bytes_done, const ImportSummary& file_summary) {
  const std::lock_guard lock(progress_mu_);
  const std::size_t resources = file_summary.created + file_summary.updated;
  progress_.resources += resources - tally.resources;
  progress_.rejected += file_summary.rejected - tally.rejected;
  progress_.bytes_done += file_bytes_done - tally.bytes;
  tally = Tally{file_bytes_done, resources, file_summary.rejected};
  report();
}

void Importer::report() {
  // A gzip file's offsets count decompressed bytes, its size compressed ones.
  progress_.bytes_done = std::min(progress_.bytes_done, progress_.bytes_total);
  if (options_.progress) options_.progress(progress_);
}

core::Result<void> Importer::record(const FileState& state) {
  return store_.write([&state](store::Transaction& t) { return t.set_meta(state.key, state.to_json()); });
}

core::Result<void> Importer::import_file(const std::filesystem::path& file, ImportSummary& summary) {
  FileState state;
  state.key = meta_key(file);
  state.path = file.string();
  std::error_code ec;
  state.size = std::filesystem::file_size(file, ec);
  const auto file_done = [&](std::uint64_t bytes_counted) {
    const std::lock_guard lock(progress_mu_);
    progress_.bytes_done += state.size - std::min(state.size, bytes_counted);
    ++progress_.files_done;
    report();
  };
  if (ec) {
    summary.rejections.push_back({file.string(), "cannot read the file: " + ec.message()});
    file_done(state.size);
    return core::ok();
  }
  state.mtime = std::filesystem::last_write_time(file, ec).time_since_epoch().count();
  auto kept = store_.get_meta(state.key);
  if (!kept) return kept.error();
  if (kept->has_value()) {
    boost::system::error_code pec;
    const json::value v = json::parse(**kept, pec);
    const auto* o = !pec ? v.if_object() : nullptr;
    const auto* size = o != nullptr ? o->if_contains("size") : nullptr;
    const auto* mtime = o != nullptr ? o->if_contains("mtime") : nullptr;
    // A file changed since is read again from the start (ids make that safe for NDJSON).
    if (size != nullptr && mtime != nullptr && size->is_int64() && mtime->is_int64() &&
        static_cast<std::uint64_t>(size->get_int64()) == state.size && mtime->get_int64() == state.mtime) {
      const auto* done = o->if_contains("done");
      state.done = done != nullptr && done->is_bool() && done->get_bool();
      if (const auto* off = o->if_contains("offset"); off != nullptr && off->is_int64()) {
        state.offset = static_cast<std::uint64_t>(off->get_int64());
      }
      if (const auto* line = o->if_contains("line"); line != nullptr && line->is_int64()) {
        state.line = static_cast<std::size_t>(line->get_int64());
      }
    }
  }
  if (state.done) {
    ++summary.files_skipped;
    file_done(0);
    return core::ok();
  }
  ++summary.files;
  {
    const std::lock_guard lock(progress_mu_);
    progress_.file = file.string();
  }
  Tally tally;
  publish(tally, state.offset, summary);
  auto r = content_name(file).extension() == ".ndjson" ? import_ndjson(file, state, summary, tally)
                                                       : import_bundle(file, state, summary, tally);
  marking_->mark_next({}, {});
  if (!r) return r.error();
  publish(tally, tally.bytes, summary);
  file_done(tally.bytes);
  return core::ok();
}

core::Result<ImportSummary> Importer::run(const std::vector<std::filesystem::path>& files) {
  ImportSummary summary;
  progress_ = ImportProgress{};
  progress_.files_total = files.size();
  for (const auto& f : files) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(f, ec);
    if (!ec) progress_.bytes_total += size;
  }
  const auto merge = [&summary](ImportSummary&& part) {
    summary.files += part.files;
    summary.files_skipped += part.files_skipped;
    summary.created += part.created;
    summary.updated += part.updated;
    summary.deleted += part.deleted;
    summary.rejected += part.rejected;
    for (auto& x : part.rejections) summary.rejections.push_back(std::move(x));
  };
  // Shared directory files first, one at a time: the patients' Bundles refer to them.
  std::vector<std::filesystem::path> rest;
  for (const auto& file : files) {
    if (!is_shared_directory_file(file)) {
      rest.push_back(file);
      continue;
    }
    ImportSummary part;
    auto r = import_file(file, part);
    merge(std::move(part));
    if (!r) return r.error();
  }
  // The rest on several threads, a file each: while one thread's transaction is committed, the
  // others parse, validate and index theirs, and concurrent transactions commit in one group.
  std::mutex mu;
  std::size_t next = 0;                // guarded by mu
  std::optional<core::Error> failure;  // guarded by mu
  std::vector<ImportSummary> parts(rest.size());
  const auto work = [&] {
    for (;;) {
      std::size_t i = 0;
      {
        const std::lock_guard lock(mu);
        if (failure || next >= rest.size()) return;
        i = next++;
      }
      if (auto r = import_file(rest[i], parts[i]); !r) {
        const std::lock_guard lock(mu);
        if (!failure) failure = r.error();
        return;
      }
    }
  };
  const std::size_t threads = std::clamp<std::size_t>(options_.threads, 1, 16);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < std::min(threads, rest.size()); ++t) pool.emplace_back(work);
  work();
  for (auto& t : pool) t.join();
  // In file order, so the summary reads the same however the files were shared out.
  for (auto& part : parts) merge(std::move(part));
  if (failure) return *failure;
  return summary;
}

core::Result<void> Importer::import_bundle(const std::filesystem::path& file, FileState& state, ImportSummary& summary,
                                           Tally& tally) {
  const std::string name = file.string();
  InputFile input(file);
  if (!input.ok()) {
    summary.rejections.push_back({name, "cannot read the file"});
    return core::ok();
  }
  std::stringstream ss;
  ss << input.stream().rdbuf();
  state.done = true;
  if (const auto damaged = input.error(); !damaged.empty()) {
    summary.rejections.push_back({name, "not a readable gzip file: " + damaged});
    summary.rejected += 1;
    return record(state);
  }
  const auto reject = [&](std::string reason, std::size_t resources) -> core::Result<void> {
    summary.rejections.push_back({name, std::move(reason)});
    summary.rejected += resources;
    return record(state);
  };
  boost::system::error_code ec;
  json::value doc = json::parse(ss.str(), ec);
  if (ec) return reject(fmt::format("not valid JSON: {}", ec.message()), 1);
  if (!doc.is_object()) return reject("not a JSON object (a FHIR Bundle or resource)", 1);
  auto& o = doc.get_object();
  const std::string rt = str_at(o, "resourceType");
  json::object tx;
  std::size_t entries = 1;
  if (rt == "Bundle") {
    const std::string type = str_at(o, "type");
    const auto* raw = o.if_contains("entry");
    if (raw != nullptr && !raw->is_array()) return reject("Bundle.entry is not an array (at Bundle.entry)", 1);
    entries = raw != nullptr ? raw->get_array().size() : 0;
    if (type == "transaction" || type == "batch") {
      // A batch is imported all or nothing too.
      o["type"] = "transaction";
      tx = std::move(o);
    } else if (!type.empty()) {
      // collection, searchset, document, ...: each resource as it is.
      json::array out;
      if (raw != nullptr) {
        for (std::size_t i = 0; i < raw->get_array().size(); ++i) {
          const auto& e = raw->get_array()[i];
          const auto* eo = e.if_object();
          const auto* res = eo != nullptr ? eo->if_contains("resource") : nullptr;
          if (res == nullptr || !res->is_object()) {
            return reject(fmt::format("entry {} has no resource (at Bundle.entry[{}].resource)", i, i), entries);
          }
          out.emplace_back(entry_for(res->get_object(), str_at(*eo, "fullUrl")));
        }
      }
      tx = json::object{{"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", std::move(out)}};
    } else {
      return reject("Bundle.type is missing (at Bundle.type)", entries);
    }
  } else if (fhir::is_resource_type(rt)) {
    tx = json::object{
        {"resourceType", "Bundle"}, {"type", "transaction"}, {"entry", json::array{entry_for(std::move(o), {})}}};
  } else {
    return reject(rt.empty() ? "no resourceType (at resourceType)"
                             : fmt::format("'{}' is not an R4 resource type (at resourceType)", rt),
                  1);
  }
  if (const auto* list = tx.if_contains("entry"); list != nullptr && list->is_array()) {
    for (std::size_t i = 0; i < list->get_array().size(); ++i) {
      const auto* eo = list->get_array()[i].if_object();
      const auto* res = eo != nullptr ? eo->if_contains("resource") : nullptr;
      if (res != nullptr && res->is_object() && str_at(res->get_object(), "resourceType") == "AuditEvent") {
        return reject(fmt::format("the audit trail is written by the server only; AuditEvents are not imported (at "
                                  "Bundle.entry[{}].resource)",
                                  i),
                      entries);
      }
    }
  }
  marking_->mark_next(state.key, state.to_json());
  const Response r = api_->handle(transaction_request(json::serialize(tx)));
  marking_->mark_next({}, {});
  if (r.status >= 300) return reject(reason_of(r), entries);
  count_results(r, summary);
  publish(tally, tally.bytes, summary);
  return core::ok();
}

/// One file's transactions in flight: each waits, just before it is written, for the one sent
/// before it (ApiOptions::before_write), so they commit in file order while the next one is
/// parsed, validated and matched.
struct Importer::Chain {
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::size_t, std::vector<std::string>> keys;  ///< a batch's Patients' blocking keys, guarded by mu
  std::set<std::size_t> settled;                         ///< batches written or given up, guarded by mu
  std::set<std::size_t> failed;                          ///< batches the store failed, guarded by mu
  std::string key;                                       ///< the file's bookkeeping key
  std::map<std::size_t, std::uint64_t> ends;             ///< where each batch ends in the file, guarded by mu
};

namespace {
/// The offset a file's bookkeeping says is committed (0: none yet).
std::uint64_t committed_offset(store::Store& store, const std::string& key) {
  auto kept = store.get_meta(key);
  if (!kept || !kept->has_value()) return 0;
  boost::system::error_code ec;
  const json::value v = json::parse(**kept, ec);
  const auto* o = ec ? nullptr : v.if_object();
  const auto* off = o != nullptr ? o->if_contains("offset") : nullptr;
  return off != nullptr && off->is_int64() ? static_cast<std::uint64_t>(off->get_int64()) : 0;
}
}  // namespace

core::Result<std::vector<std::string>> Importer::before_write() {
  std::shared_ptr<Chain> chain;
  std::size_t seq = 0;
  {
    const std::lock_guard lock(chain_mu_);
    const auto it = senders_.find(std::this_thread::get_id());
    if (it == senders_.end()) return std::vector<std::string>{};
    chain = it->second.first;
    seq = it->second.second;
  }
  if (seq == 0) return std::vector<std::string>{};
  // The batch before is committed once its bookkeeping (written in its own transaction) can be
  // read: this one may be written then, while that one is still being flushed to disk (the WAL
  // keeps their order), rather than only once it is acknowledged.
  std::unique_lock lock(chain->mu);
  const std::uint64_t end = chain->ends[seq - 1];
  for (;;) {
    if (chain->settled.count(seq - 1) != 0) break;
    lock.unlock();
    const bool visible = committed_offset(store_, chain->key) >= end;
    lock.lock();
    if (visible) break;
    constexpr auto kPoll = std::chrono::microseconds(500);
    chain->cv.wait_for(lock, kPoll, [&] { return chain->settled.count(seq - 1) != 0; });
  }
  if (chain->failed.count(seq - 1) != 0) {
    return core::Error::internal("the transaction before this one in the file was not written");
  }
  // Every batch that may have been in flight while this one was matched: the ones before it, up
  // to kInFlight - 1 back (each commits after the one before it).
  std::vector<std::string> keys;
  for (std::size_t back = 1; back < kInFlight && back <= seq; ++back) {
    if (const auto it = chain->keys.find(seq - back); it != chain->keys.end()) {
      keys.insert(keys.end(), it->second.begin(), it->second.end());
    }
  }
  return keys;
}

core::Result<void> Importer::import_ndjson(const std::filesystem::path& file, FileState& state, ImportSummary& summary,
                                           Tally& tally) {
  const std::string name = file.string();
  InputFile input(file);
  std::istream& in = input.stream();
  if (!input.ok()) {
    summary.rejections.push_back({name, "cannot read the file"});
    return core::ok();
  }
  in.seekg(static_cast<std::streamoff>(state.offset));
  struct Line {
    std::size_t number = 0;
    std::string entry;  ///< the transaction entry as JSON text, holding the line's own text
  };
  /// One transaction's worth of lines, and what became of them.
  struct Batch {
    std::size_t seq = 0;
    std::vector<Line> lines;
    std::vector<std::string> patient_keys;  ///< blocking keys of its Patients (linkage of the next batch)
    FileState done;                         ///< the file's state once it is written
    ImportSummary part;                     ///< its counts and rejections
    std::vector<std::size_t> rejected_lines;
    std::optional<core::Error> failure;  ///< the store failed
  };
  auto chain = std::make_shared<Chain>();
  chain->key = state.key;
  // The bookkeeping starts from where this run starts (a changed file is read from the start
  // again), so that reading it tells how far this run has committed.
  if (committed_offset(store_, state.key) != state.offset) {
    if (auto w = record(state); !w) return w;
  }
  std::deque<std::pair<std::unique_ptr<Batch>, std::thread>> in_flight;
  std::optional<core::Error> failure;
  // Rejections found while reading, kept with their line numbers until the batch they fall in is
  // merged, so the summary lists every rejection in file order.
  std::vector<std::pair<std::size_t, ImportRejection>> read_rejections;
  const auto reject_line = [&](std::size_t number, std::string reason) {
    read_rejections.emplace_back(number, ImportRejection{fmt::format("{}:{}", name, number), std::move(reason)});
  };
  const auto merge_rejections_to = [&](std::size_t line, std::vector<std::pair<std::size_t, ImportRejection>> more) {
    std::vector<std::pair<std::size_t, ImportRejection>> upto;
    std::vector<std::pair<std::size_t, ImportRejection>> later;
    for (auto& r : read_rejections) (r.first <= line ? upto : later).push_back(std::move(r));
    read_rejections = std::move(later);
    for (auto& r : more) upto.push_back(std::move(r));
    std::stable_sort(upto.begin(), upto.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (auto& r : upto) {
      summary.rejections.push_back(std::move(r.second));
      ++summary.rejected;
    }
  };
  // Waits for the oldest batch in flight and adds what became of it.
  const auto settle_oldest = [&] {
    auto [batch, thread] = std::move(in_flight.front());
    in_flight.pop_front();
    thread.join();
    if (batch->failure) {
      if (!failure) failure = batch->failure;
      return;
    }
    summary.created += batch->part.created;
    summary.updated += batch->part.updated;
    summary.deleted += batch->part.deleted;
    std::vector<std::pair<std::size_t, ImportRejection>> sent_rejections;
    for (std::size_t i = 0; i < batch->rejected_lines.size(); ++i) {
      sent_rejections.emplace_back(batch->rejected_lines[i], std::move(batch->part.rejections[i]));
    }
    merge_rejections_to(batch->done.line, std::move(sent_rejections));
    state = batch->done;
    publish(tally, state.offset, summary);
  };
  // Sends one transaction of `lines` from the calling thread; returns its response.
  const auto send = [&](Batch& b, const std::vector<Line>& lines, bool mark) {
    std::string body = R"({"resourceType":"Bundle","type":"transaction","entry":[)";
    for (std::size_t i = 0; i < lines.size(); ++i) {
      if (i > 0) body += ',';
      body += lines[i].entry;
    }
    body += "]}";
    if (mark) marking_->mark_next(b.done.key, b.done.to_json());
    Response r = api_->handle(transaction_request(std::move(body)));
    marking_->mark_next({}, {});
    return r;
  };
  // Writes one batch (on its own thread): whole, or without the lines the store refuses.
  const auto write_batch = [&](Batch& b) -> core::Result<void> {
    const auto reject = [&](std::size_t number, std::string reason) {
      b.part.rejections.push_back({fmt::format("{}:{}", name, number), std::move(reason)});
      b.rejected_lines.push_back(number);
    };
    std::vector<Line> lines = std::move(b.lines);
    for (int attempt = 0; !lines.empty() && attempt <= kMaxBatchRetries; ++attempt) {
      const Response r = send(b, lines, true);
      if (r.status < 300) {
        count_results(r, b.part);
        return core::ok();
      }
      if (r.status >= 500) return core::Error::internal(fmt::format("{}: the store failed: {}", name, reason_of(r)));
      const auto bad = failed_entry(r);
      if (!bad || *bad >= lines.size()) break;
      reject(lines[*bad].number, reason_of(r));
      lines.erase(lines.begin() + static_cast<std::ptrdiff_t>(*bad));
    }
    // Many refusals (or one not tied to an entry): each line on its own.
    for (std::size_t i = 0; i < lines.size(); ++i) {
      const bool last = i + 1 == lines.size();
      const Response r = send(b, {lines[i]}, last);
      if (r.status < 300) {
        count_results(r, b.part);
      } else if (r.status >= 500) {
        return core::Error::internal(fmt::format("{}: the store failed: {}", name, reason_of(r)));
      } else {
        reject(lines[i].number, reason_of(r));
        if (last) {
          if (auto w = record(b.done); !w) return w;
        }
      }
    }
    if (lines.empty()) return record(b.done);
    return core::ok();
  };
  std::uint64_t offset = state.offset;
  std::size_t line_no = state.line;
  std::size_t next_seq = 0;
  auto batch = std::make_unique<Batch>();
  std::set<std::string> keys;  // Type/id of the lines in `batch`
  // Sends `batch`, done up to (to_offset, to_line), on a thread of its own; at most kInFlight are
  // in flight, so some are matched while another is written.
  const auto flush = [&](std::uint64_t to_offset, std::size_t to_line) {
    while (in_flight.size() >= kInFlight && !failure) settle_oldest();
    if (failure) return;
    batch->seq = next_seq++;
    batch->done = state;
    batch->done.offset = to_offset;
    batch->done.line = to_line;
    {
      const std::lock_guard lock(chain->mu);
      chain->keys[batch->seq] = batch->patient_keys;
      chain->ends[batch->seq] = to_offset;
      // A batch's keys are read by the kInFlight - 1 batches after it; those before this one's
      // kInFlight predecessors have all passed that point.
      if (batch->seq >= 2 * kInFlight) {
        chain->ends.erase(batch->seq - 2 * kInFlight);
        chain->keys.erase(batch->seq - 2 * kInFlight);
      }
    }
    Batch* b = batch.get();
    std::thread t([this, b, chain, &write_batch] {
      {
        const std::lock_guard lock(chain_mu_);
        senders_[std::this_thread::get_id()] = {chain, b->seq};
      }
      auto r = write_batch(*b);
      if (!r) b->failure = r.error();
      {
        const std::lock_guard lock(chain_mu_);
        senders_.erase(std::this_thread::get_id());
      }
      {
        const std::lock_guard lock(chain->mu);
        chain->settled.insert(b->seq);
        if (!r) chain->failed.insert(b->seq);
      }
      chain->cv.notify_all();
    });
    in_flight.emplace_back(std::move(batch), std::move(t));
    batch = std::make_unique<Batch>();
    keys.clear();
  };
  const auto drain = [&] {
    while (!in_flight.empty()) settle_oldest();
  };
  std::string text;
  while (!failure && std::getline(in, text)) {
    const std::uint64_t line_start = offset;
    const std::size_t previous_line = line_no;
    const bool had_newline = !in.eof();
    ++line_no;
    offset += text.size() + (had_newline ? 1 : 0);
    if (!text.empty() && text.back() == '\r') text.pop_back();
    if (text.find_first_not_of(" \t") == std::string::npos) continue;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec);
    if (ec) {
      reject_line(line_no, fmt::format("not valid JSON: {}", ec.message()));
      continue;
    }
    if (!v.is_object()) {
      reject_line(line_no, "not a JSON object (one FHIR resource per line)");
      continue;
    }
    auto& o = v.get_object();
    const std::string rt = str_at(o, "resourceType");
    if (!fhir::is_resource_type(rt)) {
      reject_line(line_no, rt.empty() ? "no resourceType (at resourceType)"
                                      : fmt::format("'{}' is not an R4 resource type (at resourceType)", rt));
      continue;
    }
    if (rt == "AuditEvent") {
      reject_line(line_no, "the audit trail is written by the server only; AuditEvents are not imported");
      continue;
    }
    if (is_subsetted(o)) {
      reject_line(line_no,
                  "the resource is tagged SUBSETTED (an export with _elements): importing it would replace a whole "
                  "record with part of it (at meta.tag)");
      continue;
    }
    if (rt == "Bundle" && str_at(o, "type") == "transaction" && only_deletes(o)) {
      // A line of an export's `deleted` file: the resources it names are deleted here too, after
      // the lines before it and before the lines after it.
      if (!batch->lines.empty()) flush(line_start, previous_line);
      drain();
      if (failure) break;
      FileState done = state;
      done.offset = offset;
      done.line = line_no;
      marking_->mark_next(done.key, done.to_json());
      const Response r = api_->handle(transaction_request(text));
      marking_->mark_next({}, {});
      if (r.status >= 500) return core::Error::internal(fmt::format("{}: the store failed: {}", name, reason_of(r)));
      if (r.status < 300) {
        count_results(r, summary);
      } else {
        reject_line(line_no, reason_of(r));
        if (auto w = record(done); !w) return w;
      }
      merge_rejections_to(line_no, {});
      state = done;
      publish(tally, state.offset, summary);
      continue;
    }
    if (rt == "Bundle" && str_at(o, "type") != "collection" && str_at(o, "type") != "document") {
      reject_line(line_no, "a Bundle inside NDJSON is stored as a resource only when it is a collection or document");
      continue;
    }
    const std::string id = str_at(o, "id");
    if (o.contains("id") && (id.empty() || !core::is_valid_id(id))) {
      reject_line(line_no, "id is not a valid FHIR id (at id)");
      continue;
    }
    std::string key = id.empty() ? std::string() : rt + "/" + id;
    // The same resource twice in one transaction is not allowed: the earlier lines go first.
    if (!key.empty() && keys.count(key) != 0) flush(line_start, previous_line);
    if (!key.empty()) keys.insert(key);
    if (rt == "Patient") {
      if (auto record = mpi::record_from_patient(o)) {
        for (auto& k : mpi::blocking_keys(*record)) batch->patient_keys.push_back(std::move(k));
      }
    }
    // The line's text goes into the Bundle as it is (it parsed as one JSON object above).
    std::string entry = id.empty() ? R"({"request":{"method":"POST","url":")" + rt + R"("},"resource":)"
                                   : R"({"request":{"method":"PUT","url":")" + rt + "/" + id + R"("},"resource":)";
    entry += text;
    entry += '}';
    batch->lines.push_back(Line{line_no, std::move(entry)});
    if (batch->lines.size() >= options_.batch) flush(offset, line_no);
  }
  if (!failure && !batch->lines.empty()) flush(offset, line_no);
  drain();
  if (failure) return *failure;
  merge_rejections_to(line_no, {});
  if (const auto damaged = input.error(); !damaged.empty()) {
    // A truncated or corrupt gzip stream: what was read before the damage is kept.
    summary.rejections.push_back({fmt::format("{}:{}", name, line_no + 1), "not a readable gzip file: " + damaged});
    ++summary.rejected;
  }
  state.done = true;
  state.offset = offset;
  state.line = line_no;
  return record(state);
}

}  // namespace ucr::api
