// Benchmarks of patient matching (ucr::mpi) on the synthetic population of mpi/population:
//   bm_score_pair     compare + grade one candidate pair
//   bm_blocking_keys  the blocking keys of one record
//   bm_batch_linkage  M incoming records (corrupted copies from other systems) linked against an in-memory
//                     index of the persons generated from `people` (people plus look-alikes, about 1.14 x):
//                     blocking key -> record indices (std::unordered_map), candidates scored, the best
//                     certain one linked. Args: people, M, threads. One iteration; generating the population
//                     and building the index are not timed. Reports records/s, candidates per record, the
//                     index's memory estimate, and the share auto-linked and wrongly auto-linked.
// Run: build/bench/ucr_bench_mpi                                            (everything, about 2 minutes)
//      build/bench/ucr_bench_mpi --benchmark_filter='batch_linkage/people:100000/'
//      build/bench/ucr_bench_mpi --benchmark_filter='batch_linkage/people:1000000/'   (about 1.3 GiB)
#include "mpi/blocking.hpp"
#include "mpi/evaluation.hpp"
#include "mpi/matcher.hpp"
#include "mpi/population.hpp"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace {

using namespace ucr;

mpi::Population population(std::size_t people, double copies_per_person) {
  mpi::PopulationOptions options;
  options.people = people;
  options.copies_per_person = copies_per_person;
  return mpi::generate_population(options).value();
}

void bm_score_pair(benchmark::State& state) {
  const auto pop = population(2000, 0.6);
  const auto candidates = mpi::candidate_pairs(pop.records);
  const mpi::Matcher matcher;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto& [a, b] = candidates.pairs[i];
    benchmark::DoNotOptimize(matcher.score(pop.records[a], pop.records[b]));
    i = (i + 1) % candidates.pairs.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_score_pair);

void bm_blocking_keys(benchmark::State& state) {
  const auto pop = population(2000, 0.6);
  std::size_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(mpi::blocking_keys(pop.records[i]));
    i = (i + 1) % pop.records.size();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(bm_blocking_keys);

std::size_t string_heap(const std::string& s) {
  return s.capacity() > 15 ? s.capacity() + 1 : 0;  // libstdc++ keeps up to 15 characters inline
}

/// Bytes of a record including what its strings and vectors hold on the heap.
std::size_t record_bytes(const mpi::PatientRecord& r) {
  std::size_t n = sizeof(r) + string_heap(r.id) + string_heap(r.nhs_number) + string_heap(r.gender);
  const auto strings = [&n](const std::vector<std::string>& v) {
    n += v.capacity() * sizeof(std::string);
    for (const auto& s : v) n += string_heap(s);
  };
  strings(r.invalid_nhs_numbers);
  strings(r.family_names);
  strings(r.given_names);
  strings(r.middle_names);
  strings(r.phones);
  strings(r.emails);
  strings(r.gp_practices);
  n += r.postcodes.capacity() * sizeof(mpi::Postcode);
  n += r.previous_postcodes.capacity() * sizeof(mpi::Postcode);
  n += r.identifiers.capacity() * sizeof(mpi::LocalId);
  return n;
}

using Index = std::unordered_map<std::string, std::vector<std::uint32_t>>;

/// Bytes of the index: bucket array, one node per key (key, vector, next pointer, cached hash), key
/// characters beyond the inline buffer, and the vectors' record indices.
std::size_t index_bytes(const Index& index) {
  constexpr std::size_t kNode = sizeof(Index::value_type) + sizeof(void*) + sizeof(std::size_t);
  std::size_t n = index.bucket_count() * sizeof(void*) + index.size() * kNode;
  for (const auto& [key, ids] : index) n += string_heap(key) + ids.capacity() * sizeof(std::uint32_t);
  return n;
}

/// Args: persons in the index (P), incoming records (M), threads.
void bm_batch_linkage(benchmark::State& state) {
  const auto people = static_cast<std::size_t>(state.range(0));
  const auto incoming_wanted = static_cast<double>(state.range(1));
  const auto threads = static_cast<std::size_t>(state.range(2));
  // Look-alikes make the persons about 1.13 x people; copies_per_person is set for about M copies.
  const auto pop = population(people, incoming_wanted / (static_cast<double>(people) * 1.13));
  std::vector<std::uint32_t> index_records;
  std::vector<std::uint32_t> incoming;
  for (std::uint32_t i = 0; i < pop.records.size(); ++i)
    (pop.labels[i].original ? index_records : incoming).push_back(i);

  const auto build_start = std::chrono::steady_clock::now();
  Index index;
  for (const auto i : index_records) {
    for (auto& key : mpi::blocking_keys(pop.records[i])) index[std::move(key)].push_back(i);
  }
  const double build_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();
  std::size_t records_memory = 0;
  for (const auto i : index_records) records_memory += record_bytes(pop.records[i]);

  const mpi::Matcher matcher;
  std::atomic<std::size_t> candidates{0};
  std::atomic<std::size_t> linked_right{0};
  std::atomic<std::size_t> linked_wrong{0};
  const auto link = [&](std::size_t begin, std::size_t end) {
    std::vector<std::uint32_t> found;
    std::size_t scored = 0;
    std::size_t right = 0;
    std::size_t wrong = 0;
    for (std::size_t k = begin; k < end; ++k) {
      const auto& record = pop.records[incoming[k]];
      found.clear();
      for (const auto& key : mpi::blocking_keys(record)) {
        if (const auto it = index.find(key); it != index.end())
          found.insert(found.end(), it->second.begin(), it->second.end());
      }
      std::sort(found.begin(), found.end());
      found.erase(std::unique(found.begin(), found.end()), found.end());
      scored += found.size();
      // Link to the best-scoring candidate graded certain, if any.
      double best = -1;
      std::uint32_t best_id = 0;
      for (const auto id : found) {
        const auto s = matcher.score(record, pop.records[id]);
        if (s.grade == mpi::Grade::kCertain && s.score > best) {
          best = s.score;
          best_id = id;
        }
      }
      if (best >= 0) ++(pop.same_person(incoming[k], best_id) ? right : wrong);
    }
    candidates += scored;
    linked_right += right;
    linked_wrong += wrong;
  };

  for (auto _ : state) {
    candidates = 0;
    linked_right = 0;
    linked_wrong = 0;
    std::vector<std::thread> workers;
    const auto per = (incoming.size() + threads - 1) / threads;
    for (std::size_t t = 0; t < threads; ++t) {
      const auto begin = std::min(incoming.size(), t * per);
      const auto end = std::min(incoming.size(), begin + per);
      workers.emplace_back(link, begin, end);
    }
    for (auto& w : workers) w.join();
  }
  const auto m = static_cast<double>(incoming.size());
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * incoming.size()));
  state.counters["persons"] = static_cast<double>(index_records.size());
  state.counters["incoming"] = m;
  state.counters["records/s"] =
      benchmark::Counter(m * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["cand/record"] = static_cast<double>(candidates.load()) / m;
  state.counters["index_keys"] = static_cast<double>(index.size());
  state.counters["index_MiB"] = static_cast<double>(index_bytes(index)) / (1024.0 * 1024.0);
  state.counters["records_MiB"] = static_cast<double>(records_memory) / (1024.0 * 1024.0);
  state.counters["index_build_s"] = build_seconds;
  state.counters["auto_linked"] = static_cast<double>(linked_right.load() + linked_wrong.load()) / m;
  state.counters["auto_wrong"] = static_cast<double>(linked_wrong.load());
}
BENCHMARK(bm_batch_linkage)
    ->Args({100000, 100000, 2})
    ->Args({1000000, 100000, 2})
    ->Args({1760000, 100000, 2})  // about 2,000,000 persons
    ->ArgNames({"people", "incoming", "threads"})
    ->Iterations(1)
    ->UseRealTime()
    ->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
