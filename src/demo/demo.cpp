// The public face of the generator: NHS numbers, Population, and the multi-threaded loader.
#include "demo/demo.hpp"

#include "core/threads.hpp"
#include "demo/detail/build.hpp"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

namespace ucr::demo {
namespace {

namespace json = boost::json;

/// The Modulus 11 check digit of nine digits, or 10 when the number cannot be valid.
int check_digit(std::string_view nine) {
  int sum = 0;
  for (std::size_t i = 0; i < 9; ++i) sum += (nine[i] - '0') * static_cast<int>(10 - i);
  const int check = 11 - (sum % 11);
  return check == 11 ? 0 : check;
}

}  // namespace

std::string test_nhs_number(std::size_t n) {
  // 999 + five block digits + one digit d: of the ten d in a block at least nine give a valid
  // number (only one can give check digit 10), so n -> (block n/9, the (n%9)-th valid d) is
  // one-to-one. Blocks are scattered by a multiplier coprime to 100000 so numbers do not run on.
  if (n >= kNhsNumberCapacity) return {};
  const std::size_t block = (n / 9 * 7919 + 31337) % 100000;
  std::size_t want = n % 9;
  for (int d = 0; d < 10; ++d) {
    const std::string nine = fmt::format("999{:05}{}", block, d);
    const int check = check_digit(nine);
    if (check == 10) continue;
    if (want-- == 0) return nine + static_cast<char>('0' + check);
  }
  return {};  // unreachable: every block has nine valid numbers
}

bool valid_nhs_number(std::string_view s) {
  if (s.size() != 10) return false;
  for (const char c : s) {
    if (c < '0' || c > '9') return false;
  }
  const int check = check_digit(s.substr(0, 9));
  return check != 10 && check == s[9] - '0';
}

Population::Population(Options options)
    : options_(options),
      directory_(std::make_unique<const detail::Directory>(detail::build_directory(options.seed, options.people))) {}
Population::~Population() = default;
Population::Population(Population&&) noexcept = default;
Population& Population::operator=(Population&&) noexcept = default;

std::vector<std::string> Population::directory_bundles() const { return directory_->bundles; }

std::string Population::person_bundle(std::size_t n) const {
  return detail::transaction(detail::person_entries(*directory_, options_.seed, n));
}

std::string Population::people_bundle(std::size_t first, std::size_t count, std::size_t* resources) const {
  json::array entries;
  for (std::size_t n = first; n < first + count; ++n) {
    json::array one = detail::person_entries(*directory_, options_.seed, n);
    for (auto& e : one) entries.push_back(std::move(e));
  }
  if (resources != nullptr) *resources = entries.size();
  return detail::transaction(std::move(entries));
}

std::string Population::practice_id(std::size_t i) const { return directory_->practices.at(i).id; }

std::size_t Population::practice_count() const { return directory_->practices.size(); }

namespace {

api::Request transaction_request(std::string body) {
  api::Request r;
  r.method = "POST";
  r.path = "/fhir";
  r.base_url = "http://localhost/fhir";
  r.headers.add("content-type", "application/fhir+json");
  r.headers.add("prefer", "return=minimal");
  r.body = std::move(body);
  return r;
}

/// Posts one transaction Bundle.
core::Result<void> post(api::Api& api, std::string body) {
  const api::Response res = api.handle(transaction_request(std::move(body)));
  if (res.status != 200) {
    return core::Error::internal(fmt::format("demo transaction failed ({}): {}", res.status, res.body.substr(0, 2000)));
  }
  return core::ok();
}

std::size_t entry_count(const std::string& bundle) {
  return json::parse(bundle).as_object().at("entry").as_array().size();
}

}  // namespace

core::Result<Progress> load(api::Api& api, const Options& options, const LoadOptions& load_options,
                            const std::function<void(const Progress&)>& progress) {
  const auto started = std::chrono::steady_clock::now();
  const Population population(options);
  Progress state;
  state.people_total = options.people;
  std::mutex mutex;  // guards state, first_error and progress calls
  std::optional<core::Error> first_error;
  const auto report = [&](std::size_t people, std::size_t resources) {
    const std::lock_guard lock(mutex);
    state.people_done += people;
    state.resources_done += resources;
    state.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    state.resources_per_second = state.seconds > 0 ? static_cast<double>(state.resources_done) / state.seconds : 0;
    if (progress) progress(state);
  };

  for (auto& bundle : population.directory_bundles()) {
    const std::size_t entries = entry_count(bundle);
    if (auto r = post(api, std::move(bundle)); !r) return r.error();
    report(0, entries);
  }

  const std::size_t per = std::max<std::size_t>(1, load_options.people_per_bundle);
  const std::size_t batches = (options.people + per - 1) / per;
  std::atomic<std::size_t> next{0};
  std::atomic<bool> failed{false};
  const auto work = [&] {
    for (std::size_t b = next++; b < batches && !failed; b = next++) {
      const std::size_t first = b * per;
      const std::size_t count = std::min(per, options.people - first);
      std::size_t resources = 0;
      auto r = post(api, population.people_bundle(first, count, &resources));
      if (!r) {
        failed = true;
        const std::lock_guard lock(mutex);
        if (!first_error) first_error = r.error();
        return;
      }
      report(count, resources);
    }
  };
  const std::size_t threads = std::clamp<std::size_t>(load_options.threads, 1, 16);
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (std::size_t t = 1; t < threads; ++t) {
    pool.emplace_back([&work] {
      core::name_thread("ucr-demo");
      work();
    });
  }
  work();
  for (auto& t : pool) t.join();
  if (first_error) return *first_error;
  return state;
}

core::Result<void> load(api::Api& api, std::size_t people,
                        const std::function<void(std::size_t done, std::size_t total)>& progress) {
  auto r = load(api, Options{.people = people, .seed = kDefaultSeed}, LoadOptions{}, [&](const Progress& p) {
    if (progress) progress(p.people_done, p.people_total);
  });
  if (!r) return r.error();
  return core::ok();
}

}  // namespace ucr::demo
