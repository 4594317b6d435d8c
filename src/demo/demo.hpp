// demo: a small synthetic (fictional) Kent & Medway population loaded through the FHIR API.
// Deterministic for a given size. Thread-compatible: call from one thread.
#pragma once

#include "api/api.hpp"
#include "core/error.hpp"

#include <cstddef>
#include <functional>
#include <string>

namespace ucr::demo {

/// NHS numbers in the 999 range, which is reserved for testing and never issued to people.
[[nodiscard]] std::string test_nhs_number(std::size_t n);

/// Builds the transaction Bundle (JSON text) for person `n`: Patient, encounters, conditions,
/// allergies, medications and observations, all referring to each other by urn:uuid.
[[nodiscard]] std::string person_bundle(std::size_t n);

/// Loads GP practices and `people` people via transactions; reports progress after each person.
[[nodiscard]] core::Result<void> load(api::Api& api, std::size_t people,
                                      const std::function<void(std::size_t done, std::size_t total)>& progress);

}  // namespace ucr::demo
