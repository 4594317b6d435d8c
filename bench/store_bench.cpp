// Benchmarks of a Store: read by id from a preloaded database, and creates either grouped into one
// Store::write (N puts per transaction) or submitted concurrently one per write. The embedded SQLite
// store commits concurrent writes in groups (one fsync per group); with UCR_BENCH_POSTGRES set to a
// PostgreSQL URL the same benchmarks run on the PostgreSQL store (one transaction per write).
#include "core/ids.hpp"
#include "core/time.hpp"
#include "store/postgres/postgres_store.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace ucr;

constexpr std::size_t kPreloaded = 20000;

store::NewVersion patient_version(const std::string& id) {
  store::NewVersion v;
  v.info.type = "Patient";
  v.info.id = id;
  v.info.version = 1;
  v.info.last_updated = core::now_micros();
  v.method = "POST";
  v.json = fmt::format(
      R"({{"resourceType":"Patient","id":"{}","meta":{{"versionId":"1","lastUpdated":"{}"}},)"
      R"("identifier":[{{"system":"urn:bench","value":"{}"}}],"name":[{{"family":"Bench","given":["Store"]}}],)"
      R"("gender":"female","birthDate":"1980-01-01"}})",
      id, core::format_instant(v.info.last_updated), id);
  v.compartment = "Patient/" + id;
  v.index.compartments.push_back(v.compartment);
  v.index.tokens.push_back(search::TokenRow{"identifier", "urn:bench", id, ""});
  v.index.tokens.push_back(search::TokenRow{"gender", "http://hl7.org/fhir/administrative-gender", "female", ""});
  v.index.strings.push_back(search::StringRow{"family", "bench", "Bench"});
  v.index.dates.push_back(search::DateRow{"birthdate", 315532800000000, 315619199999999});
  return v;
}

/// One store per process, preloaded with kPreloaded Patients, in a temporary directory removed at exit.
class Fixture {
 public:
  static Fixture& get() {
    static Fixture f;
    return f;
  }
  store::Store& store() { return *store_; }
  const std::vector<std::string>& ids() const { return ids_; }
  Fixture(const Fixture&) = delete;
  Fixture& operator=(const Fixture&) = delete;
  ~Fixture() {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

 private:
  Fixture() {
    dir_ = fs::temp_directory_path() / fmt::format("ucr-store-bench-{}", std::random_device{}());
    const char* pg = std::getenv("UCR_BENCH_POSTGRES");
    auto opened = pg != nullptr && *pg != '\0'
                      ? store::open_postgres_store(store::PostgresOptions{
                            .url = pg, .schema = fmt::format("bench_{}", std::random_device{}()), .pool_size = 16})
                      : store::open_sqlite_store(store::SqliteOptions{dir_});
    if (!opened) throw std::runtime_error(opened.error().message());
    store_ = std::move(*opened);
    for (std::size_t i = 0; i < kPreloaded; ++i) ids_.push_back(core::new_uuid());
    for (std::size_t from = 0; from < ids_.size(); from += 1000) {
      auto r = store_->write([&](store::Transaction& t) -> core::Result<void> {
        for (std::size_t i = from; i < std::min(from + 1000, ids_.size()); ++i) {
          if (auto p = t.put(patient_version(ids_[i])); !p) return p.error();
        }
        return core::ok();
      });
      if (!r) throw std::runtime_error(r.error().message());
    }
  }
  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  std::vector<std::string> ids_;
};

void BM_StoreReadById(benchmark::State& state) {
  auto& f = Fixture::get();
  std::mt19937_64 rng(state.thread_index() + 1);
  std::uniform_int_distribution<std::size_t> pick(0, f.ids().size() - 1);
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto r = f.store().read("Patient", f.ids()[pick(rng)]);
    if (!r) state.SkipWithError(r.error().message().c_str());
    bytes += r->json.size();
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_StoreReadById)->Threads(1)->Threads(2)->Threads(4)->UseRealTime();

void BM_StoreReadMissing(benchmark::State& state) {
  auto& f = Fixture::get();
  for (auto _ : state) {
    auto r = f.store().read("Patient", "no-such-patient");
    benchmark::DoNotOptimize(r);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreReadMissing);

/// N creates in one Store::write (one transaction, one commit). Items are resources.
void BM_StoreCreateGrouped(benchmark::State& state) {
  auto& f = Fixture::get();
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<store::NewVersion> versions;
    for (std::size_t i = 0; i < n; ++i) versions.push_back(patient_version(core::new_uuid()));
    state.ResumeTiming();
    auto r = f.store().write([&](store::Transaction& t) -> core::Result<void> {
      for (const auto& v : versions) {
        if (auto p = t.put(v); !p) return p.error();
      }
      return core::ok();
    });
    if (!r) state.SkipWithError(r.error().message().c_str());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(n));
}
BENCHMARK(BM_StoreCreateGrouped)->Arg(1)->Arg(20)->Arg(500)->UseRealTime()->Unit(benchmark::kMicrosecond);

/// One create per Store::write from many threads at once: the store commits them in groups.
void BM_StoreCreateConcurrent(benchmark::State& state) {
  auto& f = Fixture::get();
  for (auto _ : state) {
    const auto v = patient_version(core::new_uuid());
    auto r = f.store().write([&](store::Transaction& t) { return t.put(v); });
    if (!r) state.SkipWithError(r.error().message().c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StoreCreateConcurrent)->Threads(1)->Threads(8)->Threads(32)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
