#include "api/copy.hpp"

#include "api/detail/identity.hpp"
#include "search/index.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace ucr::api {
namespace {

namespace json = boost::json;

constexpr std::size_t kPage = 2000;  // history entries read at a time
constexpr std::size_t kBatch = 500;  // versions written per target transaction
constexpr std::size_t kMetaPage = 1000;

/// The embedded store's own bookkeeping, not data to move.
bool backend_key(const std::string& key) { return key == "schema_version"; }

/// What is needed to find and place one version, without its JSON (read again when written).
struct VersionKey {
  std::int64_t seq = 0;
  store::VersionInfo info;
  std::string method;
  std::string compartment;
};

/// Every version of `s`, oldest first.
core::Result<std::vector<VersionKey>> all_versions(store::Store& s) {
  std::vector<VersionKey> out;
  store::HistoryQuery q;
  q.count = kPage;
  for (;;) {
    auto page = s.history(q);
    if (!page) return page.error();
    for (auto& e : page->entries) {
      out.push_back(VersionKey{0, std::move(e.info), std::move(e.method), std::move(e.compartment)});
    }
    if (!page->next_cursor) break;
    q.before_seq = page->next_cursor;
  }
  std::reverse(out.begin(), out.end());
  return out;
}

/// The number of versions, of current resources, of audit entries and of bookkeeping values.
core::Result<CopyCounts> count(store::Store& s, const std::vector<VersionKey>* known) {
  CopyCounts c;
  std::vector<VersionKey> loaded;
  if (known == nullptr) {
    auto all = all_versions(s);
    if (!all) return all.error();
    loaded = std::move(*all);
    known = &loaded;
  }
  c.versions = known->size();
  std::map<std::pair<std::string, std::string>, bool> live;
  for (const auto& v : *known) live[{v.info.type, v.info.id}] = !v.info.deleted;
  c.resources =
      static_cast<std::size_t>(std::count_if(live.begin(), live.end(), [](const auto& kv) { return kv.second; }));
  std::int64_t after = 0;
  for (;;) {
    auto page = s.audit_scan(after, kMetaPage);
    if (!page) return page.error();
    if (page->empty()) break;
    c.audit_entries += page->size();
    after = page->back().seq;
  }
  std::string after_key;
  for (;;) {
    auto page = s.list_meta("", after_key, kMetaPage);
    if (!page) return page.error();
    if (page->empty()) break;
    for (const auto& [k, v] : *page) {
      if (!backend_key(k)) ++c.meta_entries;
    }
    after_key = page->back().first;
  }
  return c;
}

}  // namespace

core::Result<CopyReport> copy_store(store::Store& from, store::Store& to, const search::Registry& registry,
                                    const CopyProgress& progress) {
  const auto report_progress = [&progress](std::string_view stage, std::size_t done, std::size_t total) {
    if (progress) progress(stage, done, total);
  };
  // The target must be empty: a copy never merges two records.
  auto target_before = count(to, nullptr);
  if (!target_before) return target_before.error();
  if (target_before->versions > 0 || target_before->audit_entries > 0 || target_before->meta_entries > 0) {
    return core::Error::invalid(fmt::format(
        "the target already holds {} versions, {} audit entries and {} bookkeeping values: copy into an empty "
        "database",
        target_before->versions, target_before->audit_entries, target_before->meta_entries));
  }
  auto versions = all_versions(from);
  if (!versions) return versions.error();
  CopyReport report;
  auto source = count(from, &*versions);
  if (!source) return source.error();
  report.source = *source;

  // The newest version of each resource gets its search index; older ones need none (each put of
  // a later version replaces the index).
  std::map<std::pair<std::string, std::string>, std::int64_t> newest;
  for (const auto& v : *versions) newest[{v.info.type, v.info.id}] = v.info.version;

  for (std::size_t from_i = 0; from_i < versions->size(); from_i += kBatch) {
    const std::size_t end = std::min(from_i + kBatch, versions->size());
    std::vector<store::NewVersion> batch;
    batch.reserve(end - from_i);
    for (std::size_t i = from_i; i < end; ++i) {
      const auto& key = (*versions)[i];
      store::NewVersion v;
      v.info = key.info;
      v.method = key.method;
      v.compartment = key.compartment;
      if (!key.info.deleted) {
        auto stored = from.vread(key.info.type, key.info.id, key.info.version);
        if (!stored) {
          return core::Error::internal(fmt::format("reading {}/{} version {}: {}", key.info.type, key.info.id,
                                                   key.info.version, stored.error().message()));
        }
        v.json = std::move(stored->json);
        if (newest[{key.info.type, key.info.id}] == key.info.version) {
          boost::system::error_code ec;
          const json::value doc = json::parse(v.json, ec);
          if (ec) {
            return core::Error::internal(fmt::format("{}/{} version {} is not JSON: {}", key.info.type, key.info.id,
                                                     key.info.version, ec.message()));
          }
          v.index = search::extract(doc, key.info.type, key.info.id, registry);
          if (key.info.type == "Patient") detail::add_match_keys(doc, v.index);
        }
      }
      batch.push_back(std::move(v));
    }
    auto w = to.write([&batch](store::Transaction& t) -> core::Result<void> {
      for (const auto& v : batch) {
        if (auto r = t.put(v); !r) return r;
      }
      return core::ok();
    });
    if (!w) return w.error();
    report_progress("versions", end, versions->size());
  }

  // The audit trail, entry by entry in chain order, so that its hashes still verify.
  std::int64_t after = 0;
  std::size_t audit_done = 0;
  for (;;) {
    auto page = from.audit_scan(after, kMetaPage);
    if (!page) return page.error();
    if (page->empty()) break;
    auto w = to.write([&page](store::Transaction& t) -> core::Result<void> {
      for (const auto& rec : *page) {
        if (auto r = t.append_audit(rec); !r) return r;
      }
      return core::ok();
    });
    if (!w) return w.error();
    audit_done += page->size();
    after = page->back().seq;
    report_progress("audit", audit_done, report.source.audit_entries);
  }

  // Bookkeeping: accounts, clients, the audit chain head, reindex markers.
  std::string after_key;
  std::size_t meta_done = 0;
  for (;;) {
    auto page = from.list_meta("", after_key, kMetaPage);
    if (!page) return page.error();
    if (page->empty()) break;
    auto w = to.write([&page](store::Transaction& t) -> core::Result<void> {
      for (const auto& [k, v] : *page) {
        if (backend_key(k)) continue;
        if (auto r = t.set_meta(k, v); !r) return r;
      }
      return core::ok();
    });
    if (!w) return w.error();
    for (const auto& kv : *page) {
      if (!backend_key(kv.first)) ++meta_done;
    }
    after_key = page->back().first;
    report_progress("bookkeeping", meta_done, report.source.meta_entries);
  }

  auto target = count(to, nullptr);
  if (!target) return target.error();
  report.target = *target;
  return report;
}

}  // namespace ucr::api
