// demo: a deterministic synthetic (fictional) Kent & Medway population — the region's
// organisations, sites, wards and staff, and people with longitudinal health and care records —
// generated from (seed, people) and loaded through the FHIR API. See docs/demo.md.
// A Population is immutable after construction and safe to use from many threads at once.
#pragma once

#include "api/api.hpp"
#include "core/error.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ucr::demo {

inline constexpr std::uint64_t kDefaultSeed = 1;

/// Every Patient the generator writes (the person's own record and any source-system duplicate)
/// carries meta.tag {system: kPersonTagSystem, code: "<person index>"}: the ground truth for
/// record matching. Duplicates also carry {system: kDuplicateTagSystem, code: <kind>}.
inline constexpr std::string_view kPersonTagSystem = "https://ucr.example.org/fhir/CodeSystem/demo-person";
inline constexpr std::string_view kDuplicateTagSystem = "https://ucr.example.org/fhir/CodeSystem/demo-duplicate";

/// How many people can have distinct NHS numbers in the 999 test range (see test_nhs_number).
inline constexpr std::size_t kNhsNumberCapacity = 900000;

/// Person n's NHS number: a valid (Modulus 11) number in the 999 range, which is reserved for
/// testing and never issued to people; distinct for every n below kNhsNumberCapacity, empty beyond.
[[nodiscard]] std::string test_nhs_number(std::size_t n);

/// True when `s` is ten digits with a correct Modulus 11 check digit.
[[nodiscard]] bool valid_nhs_number(std::string_view s);

struct Options {
  std::size_t people = 100;
  std::uint64_t seed = kDefaultSeed;
};

namespace detail {
struct Directory;
}

/// The population for (seed, people): the same options always give the same text.
class Population {
 public:
  explicit Population(Options options);
  ~Population();
  Population(const Population&) = delete;
  Population& operator=(const Population&) = delete;
  Population(Population&&) noexcept;
  Population& operator=(Population&&) noexcept;

  [[nodiscard]] const Options& options() const { return options_; }

  /// The transaction Bundles (JSON text, in load order) of the directory: Organizations (CCGs,
  /// trusts, councils, hospices, out-of-hours, GP practices, pharmacies, care homes), Locations
  /// (sites and wards with bed counts), Practitioners and PractitionerRoles, all PUT with fixed ids.
  [[nodiscard]] std::vector<std::string> directory_bundles() const;

  /// The transaction Bundle (JSON text) of person `n`'s records: Patient, any source-system
  /// duplicate Patients, and the clinical record, linked by urn:uuid and to the directory by id.
  [[nodiscard]] std::string person_bundle(std::size_t n) const;

  /// One transaction Bundle holding people first .. first+count-1 (as person_bundle, joined);
  /// sets `*resources` (when given) to the number of resources in it.
  [[nodiscard]] std::string people_bundle(std::size_t first, std::size_t count, std::size_t* resources = nullptr) const;

  /// The Organization id of GP practice `i` (0 <= i < practice_count()), e.g. "practice-ek001".
  [[nodiscard]] std::string practice_id(std::size_t i) const;
  [[nodiscard]] std::size_t practice_count() const;

 private:
  Options options_;
  std::unique_ptr<const detail::Directory> directory_;
};

/// Progress of a load, reported after each committed Bundle.
struct Progress {
  std::size_t people_done = 0;
  std::size_t people_total = 0;
  std::size_t resources_done = 0;
  double seconds = 0;
  double resources_per_second = 0;
};

struct LoadOptions {
  std::size_t people_per_bundle = 100;  ///< people per transaction (all-or-nothing per Bundle)
  std::size_t threads = 2;              ///< concurrent Api::handle callers (the store groups commits)
};

/// Generates and loads the population through `api` (transactions, so all validation and indexing
/// apply). `progress` (may be empty) is called from the loading threads, one call at a time.
[[nodiscard]] core::Result<Progress> load(api::Api& api, const Options& options, const LoadOptions& load_options,
                                          const std::function<void(const Progress&)>& progress);

/// As above with the default seed and load options; `progress` gets (people done, people total).
[[nodiscard]] core::Result<void> load(api::Api& api, std::size_t people,
                                      const std::function<void(std::size_t done, std::size_t total)>& progress);

}  // namespace ucr::demo
