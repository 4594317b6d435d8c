// mpi/record: PatientRecord, the normalised demographics of one FHIR Patient that matching and
// blocking work on. Extraction is a pure function; records are values, safe to share read-only.
#pragma once

#include "core/error.hpp"
#include "mpi/compare.hpp"
#include "mpi/normalise.hpp"

#include <boost/json/object.hpp>

#include <optional>
#include <string>
#include <vector>

namespace ucr::mpi {

/// Identifier system of ODS organisation codes (a GP practice is an Organization with one, e.g. "G82001").
inline constexpr std::string_view kOdsOrganisationSystem = "https://fhir.nhs.uk/Id/ods-organization-code";

/// A business identifier other than the NHS number (hospital number, social-care id), by system.
struct LocalId {
  std::string system;
  std::string value;
  friend bool operator==(const LocalId&, const LocalId&) = default;
};

/// Normalised demographics. Names are folded (see normalise_name); every list is in the order of the
/// source, best first (official, then usual, then others), without duplicates.
struct PatientRecord {
  std::string id;                                ///< Patient.id, for the caller; not compared
  std::string nhs_number;                        ///< canonical valid NHS number, empty when none
  std::vector<std::string> invalid_nhs_numbers;  ///< NHS-number identifiers that failed the check
  std::vector<std::string> family_names;         ///< whole folded family names, incl. maiden and old ("smith jones")
  std::vector<std::string> given_names;          ///< first given name of each HumanName ("william")
  std::vector<std::string> middle_names;         ///< further given names
  std::optional<Date> birth_date;
  std::string gender;               ///< male | female | other; empty when unknown or absent
  std::vector<Postcode> postcodes;  ///< valid UK postcodes of current addresses, home first
  /// Valid UK postcodes of previous addresses (use "old", or a period that has ended), not in `postcodes`:
  /// a copy in another system may still hold the address the person moved from.
  std::vector<Postcode> previous_postcodes;
  /// Registered GP practices (Patient.generalPractitioner that is an Organization): "ods:G82001" from an
  /// ODS organisation code identifier, else the literal reference ("Organization/abc").
  std::vector<std::string> gp_practices;
  std::vector<std::string> phones;   ///< normalise_phone forms
  std::vector<std::string> emails;   ///< normalise_email forms
  std::vector<LocalId> identifiers;  ///< all other identifiers with both system and value
};

/// Extracts a PatientRecord from a FHIR R4 Patient (name[], birthDate, gender, address[].postalCode with
/// use and period, telecom[], identifier[], generalPractitioner[]). Names with use "anonymous" are ignored; a HumanName
/// without family/given is read from its text (last token family). Errors: `invalid` when the object is not a Patient.
[[nodiscard]] core::Result<PatientRecord> record_from_patient(const boost::json::object& patient);

}  // namespace ucr::mpi
