#include "audit/audit.hpp"

#include "core/log.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <array>
#include <charconv>
#include <memory>

namespace ucr::audit {
namespace {

namespace json = boost::json;

constexpr const char* kHeadKey = "audit:head";
constexpr const char* kUcr = "https://ucr.nhs.example/fhir";

json::object coding(std::string_view system, std::string_view code, std::string_view display = {}) {
  json::object c{{"system", system}, {"code", code}};
  if (!display.empty()) c["display"] = display;
  return c;
}

std::string_view type_display(std::string_view type) {
  if (type == "rest") return "RESTful Operation";
  if (type == "110114") return "User Authentication";
  if (type == "110113") return "Security Alert";
  if (type == "110106") return "Export";
  return {};
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

/// The chain head as stored: "<seq> <hash>".
struct Head {
  std::int64_t seq = 0;
  std::string hash{kGenesis};
};

core::Result<Head> parse_head(const std::optional<std::string>& text) {
  Head h;
  if (!text) return h;
  const auto space = text->find(' ');
  if (space == std::string::npos) return core::Error::internal("the audit chain head is unreadable");
  const auto* first = text->data();
  if (std::from_chars(first, first + space, h.seq).ec != std::errc{}) {
    return core::Error::internal("the audit chain head is unreadable");
  }
  h.hash = text->substr(space + 1);
  return h;
}

}  // namespace

json::object to_resource(const Event& e) {
  json::object r;
  r["resourceType"] = "AuditEvent";
  r["type"] = coding("http://terminology.hl7.org/CodeSystem/audit-event-type", e.type, type_display(e.type));
  if (!e.subtype.empty()) {
    const bool rest = e.type == "rest";
    json::array sub;
    sub.push_back(
        coding(rest ? "http://hl7.org/fhir/restful-interaction" : fmt::format("{}/CodeSystem/audit-subtype", kUcr),
               e.subtype));
    r["subtype"] = std::move(sub);
  }
  r["action"] = std::string(1, e.action);
  r["recorded"] = core::format_instant(e.recorded);
  r["outcome"] = std::to_string(e.outcome);
  if (!e.outcome_text.empty()) r["outcomeDesc"] = e.outcome_text;
  if (!e.purpose.empty() || !e.reason.empty()) {
    json::object pou;
    if (!e.purpose.empty()) {
      pou["coding"] = json::array{coding("http://terminology.hl7.org/CodeSystem/v3-ActReason", e.purpose)};
    }
    if (!e.reason.empty()) pou["text"] = e.reason;
    r["purposeOfEvent"] = json::array{std::move(pou)};
  }
  json::array agents;
  {
    json::object who;
    if (!e.fhir_user.empty()) who["reference"] = e.fhir_user;
    if (!e.user.empty())
      who["identifier"] = json::object{{"system", fmt::format("{}/Id/user", kUcr)}, {"value", e.user}};
    if (!e.user_display.empty()) who["display"] = e.user_display;
    json::object a;
    a["type"] =
        json::object{{"coding", json::array{coding("http://terminology.hl7.org/CodeSystem/extra-security-role-type",
                                                   "humanuser", "human user")}}};
    if (!e.role.empty()) {
      a["role"] =
          json::array{json::object{{"coding", json::array{coding(fmt::format("{}/CodeSystem/role", kUcr), e.role)}}}};
    }
    a["who"] = std::move(who);
    a["requestor"] = true;
    if (!e.address.empty()) a["network"] = json::object{{"address", e.address}, {"type", "2"}};
    agents.push_back(std::move(a));
  }
  if (!e.organisation.empty()) {
    json::object a;
    a["type"] = json::object{{"coding", json::array{coding("http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV",
                                                           "healthcare provider")}}};
    a["who"] = json::object{{"reference", e.organisation}};
    a["requestor"] = false;
    agents.push_back(std::move(a));
  }
  if (!e.client_id.empty()) {
    json::object a;
    a["type"] = json::object{
        {"coding", json::array{coding("http://dicom.nema.org/resources/ontology/DCM", "110150", "Application")}}};
    a["who"] = json::object{
        {"identifier", json::object{{"system", fmt::format("{}/Id/client", kUcr)}, {"value", e.client_id}}}};
    a["requestor"] = false;
    agents.push_back(std::move(a));
  }
  r["agent"] = std::move(agents);
  r["source"] = json::object{{"observer", json::object{{"display", "ucr"}}},
                             {"type", json::array{coding("http://terminology.hl7.org/CodeSystem/security-source-type",
                                                         "4", "Application Server")}}};
  json::array entities;
  if (!e.patient.empty()) {
    entities.push_back(
        json::object{{"what", json::object{{"reference", "Patient/" + e.patient}}},
                     {"type", coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person")},
                     {"role", coding("http://terminology.hl7.org/CodeSystem/object-role", "1", "Patient")}});
  }
  if (!e.entity.empty() || !e.query.empty()) {
    json::object ent;
    if (!e.entity.empty()) ent["what"] = json::object{{"reference", e.entity}};
    ent["type"] = coding("http://terminology.hl7.org/CodeSystem/audit-entity-type", "2", "System Object");
    if (!e.query.empty()) ent["query"] = base64(e.query);
    entities.push_back(std::move(ent));
  }
  if (!entities.empty()) r["entity"] = std::move(entities);
  return r;
}

std::string link(std::string_view previous_hash, std::string_view json_text) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int len = 0;
  const char newline = '\n';
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), previous_hash.data(), previous_hash.size()) != 1 ||
      EVP_DigestUpdate(ctx.get(), &newline, 1) != 1 ||
      EVP_DigestUpdate(ctx.get(), json_text.data(), json_text.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md.data(), &len) != 1) {
    return {};  // cannot happen with the default provider; an empty link never verifies
  }
  std::string hex;
  hex.reserve(std::size_t{2} * len);
  for (unsigned int i = 0; i < len; ++i) hex += fmt::format("{:02x}", md[i]);
  return hex;
}

core::Result<void> append(store::Transaction& t, const std::vector<Event>& events) {
  if (events.empty()) return core::ok();
  auto stored = t.get_meta(kHeadKey);
  if (!stored) return stored.error();
  auto head = parse_head(*stored);
  if (!head) return head.error();
  for (const auto& e : events) {
    json::object r = to_resource(e);
    const std::int64_t seq = head->seq + 1;
    // The id and meta come first so that every entry reads the same way.
    json::object doc;
    doc["resourceType"] = "AuditEvent";
    doc["id"] = std::to_string(seq);
    doc["meta"] = json::object{{"versionId", "1"}, {"lastUpdated", core::format_instant(e.recorded)}};
    for (auto& kv : r) {
      if (kv.key() != "resourceType") doc[kv.key()] = std::move(kv.value());
    }
    store::AuditRecord rec;
    rec.seq = seq;
    rec.recorded = e.recorded;
    rec.patient = e.patient;
    rec.json = json::serialize(doc);
    rec.hash = link(head->hash, rec.json);
    if (auto w = t.append_audit(rec); !w) return w;
    head->seq = seq;
    head->hash = rec.hash;
  }
  return t.set_meta(kHeadKey, fmt::format("{} {}", head->seq, head->hash));
}

core::Result<VerifyReport> verify(store::Store& store, const std::function<void(std::int64_t)>& progress) {
  VerifyReport report;
  std::string previous{kGenesis};
  std::int64_t expected = 1;
  constexpr std::size_t kPage = 5000;
  for (;;) {
    auto page = store.audit_scan(expected - 1, kPage);
    if (!page) return page.error();
    for (const auto& rec : *page) {
      if (rec.seq != expected) {
        report.bad_seq = expected;
        report.problem = rec.seq > expected ? fmt::format("entries {} to {} are missing", expected, rec.seq - 1)
                                            : fmt::format("entry {} is out of order", rec.seq);
        return report;
      }
      if (link(previous, rec.json) != rec.hash) {
        report.bad_seq = rec.seq;
        report.problem = fmt::format("entry {} does not match its hash: it was changed after it was written", rec.seq);
        return report;
      }
      boost::system::error_code ec;
      const json::value doc = json::parse(rec.json, ec);
      if (ec || !doc.is_object() || doc.get_object().if_contains("id") == nullptr ||
          *doc.get_object().if_contains("id") != json::value(std::to_string(rec.seq))) {
        report.bad_seq = rec.seq;
        report.problem = fmt::format("entry {} carries another entry's number", rec.seq);
        return report;
      }
      previous = rec.hash;
      ++expected;
      ++report.entries;
    }
    if (progress) progress(report.entries);
    if (page->size() < kPage) break;
  }
  report.head = previous;
  auto stored = store.get_meta(kHeadKey);
  if (!stored) return stored.error();
  auto head = parse_head(*stored);
  if (!head) return head.error();
  if (head->seq != report.entries || head->hash != previous) {
    report.bad_seq = report.entries + 1;
    report.problem =
        head->seq > report.entries
            ? fmt::format("the trail ends at entry {} but {} were written: entries were removed from the end",
                          report.entries, head->seq)
            : fmt::format("the chain head (entry {}) does not match the last entry ({})", head->seq, report.entries);
  }
  return report;
}

Recorder::Recorder(store::Store& store, RecorderOptions options) : store_(store), options_(options) {
  thread_ = std::thread([this] { loop(); });
}

Recorder::~Recorder() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void Recorder::record(Event event) {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [this] { return queue_.size() < options_.max_queue || stopping_; });
  queue_.push_back(std::move(event));
  ++enqueued_;
  if (queue_.size() == 1) cv_.notify_one();
}

void Recorder::flush() {
  std::unique_lock lock(mu_);
  const std::uint64_t target = enqueued_;
  cv_.notify_one();
  done_cv_.wait(lock, [this, target] { return written_ >= target; });
}

std::uint64_t Recorder::recorded() const {
  std::lock_guard lock(mu_);
  return written_;
}

std::uint64_t Recorder::batches() const {
  std::lock_guard lock(mu_);
  return batches_;
}

std::uint64_t Recorder::failures() const {
  std::lock_guard lock(mu_);
  return failures_;
}

void Recorder::loop() {
  for (;;) {
    std::vector<Event> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      // Linger briefly so that a busy server writes few, large batches.
      if (queue_.size() < options_.max_batch && !stopping_) {
        cv_.wait_for(lock, options_.linger, [this] { return stopping_ || queue_.size() >= options_.max_batch; });
      }
      const std::size_t n = std::min(queue_.size(), options_.max_batch);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    auto w = store_.write([&batch](store::Transaction& t) { return append(t, batch); });
    if (!w) {
      // The store refuses writes only when it is failing; keep the events and try again shortly.
      core::log_error(fmt::format("audit trail: {} events not yet written: {}", batch.size(), w.error().message()));
      std::unique_lock lock(mu_);
      ++failures_;
      for (auto it = batch.rbegin(); it != batch.rend(); ++it) queue_.push_front(std::move(*it));
      if (stopping_ && failures_ > 10) {
        written_ += queue_.size();  // give up at shutdown rather than hang forever
        queue_.clear();
        done_cv_.notify_all();
        return;
      }
      cv_.wait_for(lock, std::chrono::milliseconds(200));
      continue;
    }
    std::lock_guard lock(mu_);
    written_ += batch.size();
    ++batches_;
    done_cv_.notify_all();
  }
}

}  // namespace ucr::audit
