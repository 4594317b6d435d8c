// api/detail/identity: patient identity at the API: NHS numbers checked and stored in canonical
// form, match keys indexed for every Patient, and Patient/$match (R4 patient-operation-match).
// Pure functions over the Store; thread-safe.
#pragma once

#include "api/api.hpp"
#include "search/index.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace ucr::api::detail {

/// The search-index parameter under which a Patient's blocking keys are stored. Internal: not a
/// search parameter clients can use (it starts with '_' and is not registered).
inline constexpr const char* kMatchKeyParam = "_match-key";

/// Checks every NHS number (Patient.identifier with the UK Core system) with the Modulus 11 rule and
/// rewrites spaced or hyphenated forms to the 10 digits. Errors point at the identifier.
[[nodiscard]] core::Result<void> canonicalise_identifiers(boost::json::object& resource);

/// Adds a Patient's blocking keys to its index rows, so that $match finds candidates without a scan.
void add_match_keys(const boost::json::value& patient, search::IndexRows& rows);

/// POST [base]/Patient/$merge (`unmerge` false) or $unmerge with Parameters `source-patient` and
/// `target-patient` (References). A merge marks the source `replaced-by` the target (and inactive)
/// and the target as `replaces` the source, with a Provenance, in one transaction; an unmerge
/// removes both links, restores the source's `active` and records its own Provenance.
[[nodiscard]] Response merge_patients(store::Store& store, const ApiOptions& options, const Request& request,
                                      bool unmerge);

/// POST [base]/Patient/$match with Parameters (resource, onlyCertainMatches, count) or a bare Patient.
[[nodiscard]] Response match_patient(store::Store& store, const ApiOptions& options, const Request& request);

}  // namespace ucr::api::detail
