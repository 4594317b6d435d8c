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

namespace {

/// A JSON string literal (quotes and escapes; UTF-8 passes through).
void quote(std::string& out, std::string_view s) {
  out.push_back('"');
  std::size_t run = 0;  // start of the characters not yet copied
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c != '"' && c != '\\' && c >= 0x20) continue;
    out.append(s, run, i - run);
    if (c < 0x20) {
      out += fmt::format("\\u{:04x}", c);
    } else {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    }
    run = i + 1;
  }
  out.append(s, run, s.size() - run);
  out.push_back('"');
}

/// ,"key":"value"
void member(std::string& out, std::string_view key, std::string_view value) {
  out += ",\"";
  out += key;
  out += "\":";
  quote(out, value);
}

/// {"system":..,"code":..[,"display":..]}
void coding_of(std::string& out, std::string_view system, std::string_view code, std::string_view display = {}) {
  out += "{\"system\":";
  quote(out, system);
  member(out, "code", code);
  if (!display.empty()) member(out, "display", display);
  out.push_back('}');
}

}  // namespace

namespace {

/// The AuditEvent's members after resourceType, id and meta (`,"type":...`), written directly
/// rather than through a JSON tree.
std::string members_of(const Event& e) {
  std::string o;
  o.reserve(1024);
  o += ",\"type\":";
  coding_of(o, "http://terminology.hl7.org/CodeSystem/audit-event-type", e.type, type_display(e.type));
  if (!e.subtype.empty()) {
    o += ",\"subtype\":[";
    if (e.type == "rest") {
      coding_of(o, "http://hl7.org/fhir/restful-interaction", e.subtype);
    } else {
      coding_of(o, fmt::format("{}/CodeSystem/audit-subtype", kUcr), e.subtype);
    }
    o += "]";
  }
  member(o, "action", std::string_view(&e.action, 1));
  member(o, "recorded", core::format_instant(e.recorded));
  member(o, "outcome", std::to_string(e.outcome));
  if (!e.outcome_text.empty()) member(o, "outcomeDesc", e.outcome_text);
  if (!e.purpose.empty() || !e.reason.empty()) {
    o += ",\"purposeOfEvent\":[{";
    bool first = true;
    if (!e.purpose.empty()) {
      o += "\"coding\":[";
      coding_of(o, "http://terminology.hl7.org/CodeSystem/v3-ActReason", e.purpose);
      o += "]";
      first = false;
    }
    if (!e.reason.empty()) {
      if (!first) o += ",";
      o += "\"text\":";
      quote(o, e.reason);
    }
    o += "}]";
  }
  o += ",\"agent\":[{\"type\":{\"coding\":[";
  coding_of(o, "http://terminology.hl7.org/CodeSystem/extra-security-role-type", "humanuser");
  o += "]}";
  if (!e.role.empty()) {
    o += ",\"role\":[{\"coding\":[";
    coding_of(o, fmt::format("{}/CodeSystem/role", kUcr), e.role);
    o += "]}]";
  }
  o += ",\"who\":{";
  {
    bool first = true;
    const auto sep = [&] {
      if (!first) o += ",";
      first = false;
    };
    if (!e.fhir_user.empty()) {
      sep();
      o += "\"reference\":";
      quote(o, e.fhir_user);
    }
    if (!e.user.empty()) {
      sep();
      o += "\"identifier\":{\"system\":";
      quote(o, fmt::format("{}/Id/user", kUcr));
      member(o, "value", e.user);
      o += "}";
    }
    if (!e.user_display.empty() || first) {
      sep();
      o += "\"display\":";
      quote(o, e.user_display.empty() ? std::string_view("unknown") : std::string_view(e.user_display));
    }
  }
  o += "},\"requestor\":true";
  if (!e.address.empty()) {
    o += ",\"network\":{\"address\":";
    quote(o, e.address);
    o += ",\"type\":\"2\"}";
  }
  o += "}";
  if (!e.organisation.empty()) {
    o += ",{\"type\":{\"coding\":[";
    coding_of(o, "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "PROV");
    o += "]},\"who\":{\"reference\":";
    quote(o, e.organisation);
    o += "},\"requestor\":false}";
  }
  if (!e.client_id.empty()) {
    o += ",{\"type\":{\"coding\":[";
    coding_of(o, "http://dicom.nema.org/resources/ontology/DCM", "110150");
    o += "]},\"who\":{\"identifier\":{\"system\":";
    quote(o, fmt::format("{}/Id/client", kUcr));
    member(o, "value", e.client_id);
    o += "}},\"requestor\":false}";
  }
  o += "],\"source\":{\"observer\":{\"display\":\"ucr\"}}";
  const bool has_entity = !e.entity.empty() || !e.query.empty();
  if (!e.patient.empty() || has_entity) {
    o += ",\"entity\":[";
    if (!e.patient.empty()) {
      o += "{\"what\":{\"reference\":";
      quote(o, "Patient/" + e.patient);
      o += "},\"type\":";
      coding_of(o, "http://terminology.hl7.org/CodeSystem/audit-entity-type", "1");
      o += ",\"role\":";
      coding_of(o, "http://terminology.hl7.org/CodeSystem/object-role", "1");
      o += "}";
      if (has_entity) o += ",";
    }
    if (has_entity) {
      o += "{";
      if (!e.entity.empty()) {
        o += "\"what\":{\"reference\":";
        quote(o, e.entity);
        o += "},";
      }
      o += "\"type\":";
      coding_of(o, "http://terminology.hl7.org/CodeSystem/audit-entity-type", "2");
      if (!e.query.empty()) member(o, "query", base64(e.query));
      o += "}";
    }
    o += "]";
  }
  return o;
}

/// The stored form's format number (the first element of its array).
constexpr int kCompactFormat = 2;

}  // namespace

Prepared prepare(const Event& e) {
  // Every read of the record makes one of these: a compact array of the facts (about a sixth of
  // the AuditEvent's size), from which the AuditEvent is rendered when someone looks.
  Prepared p;
  p.recorded = e.recorded;
  p.patient = e.patient;
  std::string& o = p.fields;
  o.reserve(256);
  for (const std::string_view f :
       {std::string_view(e.type), std::string_view(e.subtype), std::string_view(&e.action, 1)}) {
    o.push_back(',');
    quote(o, f);
  }
  o.push_back(',');
  o += std::to_string(e.outcome);
  for (const std::string* f : {&e.outcome_text, &e.user, &e.user_display, &e.fhir_user, &e.role, &e.organisation,
                               &e.client_id, &e.address, &e.patient, &e.entity, &e.query, &e.purpose, &e.reason}) {
    o.push_back(',');
    quote(o, *f);
  }
  return p;
}

json::object to_resource(const Event& e) {
  return json::parse("{\"resourceType\":\"AuditEvent\"" + members_of(e) + "}").as_object();
}

core::Result<Event> decode(const store::AuditRecord& record) {
  const auto bad = [&] { return core::Error::internal(fmt::format("audit entry {} is unreadable", record.seq)); };
  boost::system::error_code ec;
  const json::value doc = json::parse(record.json, ec);
  if (ec || !doc.is_array()) return bad();
  const auto& a = doc.get_array();
  constexpr std::size_t kFields = 20;
  if (a.size() != kFields || !a[0].is_int64() || a[0].get_int64() != kCompactFormat || !a[1].is_int64() ||
      !a[2].is_int64() || !a[6].is_int64()) {
    return bad();
  }
  const auto text = [&](std::size_t i, std::string& out) {
    if (!a[i].is_string()) return false;
    out = std::string(a[i].get_string());
    return true;
  };
  Event e;
  e.recorded = a[2].get_int64();
  std::string action;
  if (!text(3, e.type) || !text(4, e.subtype) || !text(5, action) || action.size() != 1) return bad();
  e.action = action[0];
  e.outcome = static_cast<int>(a[6].get_int64());
  std::size_t i = 7;
  for (std::string* f : {&e.outcome_text, &e.user, &e.user_display, &e.fhir_user, &e.role, &e.organisation,
                         &e.client_id, &e.address, &e.patient, &e.entity, &e.query, &e.purpose, &e.reason}) {
    if (!text(i++, *f)) return bad();
  }
  return e;
}

core::Result<std::string> render(const store::AuditRecord& record) {
  if (record.json.starts_with('{')) return record.json;  // written whole by an earlier version
  auto e = decode(record);
  if (!e) return e.error();
  return fmt::format(R"({{"resourceType":"AuditEvent","id":"{}","meta":{{"versionId":"1","lastUpdated":"{}"}}{}}})",
                     record.seq, core::format_instant(e->recorded), members_of(*e));
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
  static constexpr std::string_view kHex = "0123456789abcdef";
  std::string hex;
  hex.reserve(std::size_t{2} * len);
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4U]);
    hex.push_back(kHex[md[i] & 0xfU]);
  }
  return hex;
}

core::Result<void> append(store::Transaction& t, const std::vector<Event>& events) {
  std::vector<Prepared> prepared;
  prepared.reserve(events.size());
  for (const auto& e : events) prepared.push_back(prepare(e));
  return append(t, prepared);
}

core::Result<void> append(store::Transaction& t, const std::vector<Prepared>& events) {
  if (events.empty()) return core::ok();
  auto stored = t.get_meta(kHeadKey);
  if (!stored) return stored.error();
  auto head = parse_head(*stored);
  if (!head) return head.error();
  for (const auto& e : events) {
    const std::int64_t seq = head->seq + 1;
    // The format, the entry's number and its time come first, so they are chained with it.
    store::AuditRecord rec;
    rec.seq = seq;
    rec.recorded = e.recorded;
    rec.patient = e.patient;
    rec.json.reserve(e.fields.size() + 40);
    rec.json += '[';
    rec.json += std::to_string(kCompactFormat);
    rec.json += ',';
    rec.json += std::to_string(seq);
    rec.json += ',';
    rec.json += std::to_string(e.recorded);
    rec.json += e.fields;
    rec.json += ']';
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
      const bool numbered =
          !ec && ((doc.is_object() && doc.get_object().if_contains("id") != nullptr &&
                   *doc.get_object().if_contains("id") == json::value(std::to_string(rec.seq))) ||
                  (doc.is_array() && doc.get_array().size() > 2 && doc.get_array()[1] == json::value(rec.seq) &&
                   doc.get_array()[2] == json::value(rec.recorded)));
      if (!numbered) {
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

void Recorder::record(const Event& event) {
  Prepared p = prepare(event);  // on the caller's thread, so the writer only chains and stores
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [this] { return queue_.size() < options_.max_queue || stopping_; });
  queue_.push_back(std::move(p));
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
    std::vector<Prepared> batch;
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
