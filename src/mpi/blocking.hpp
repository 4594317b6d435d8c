// mpi/blocking: the blocking keys of a PatientRecord. Records sharing a key are candidate pairs; the
// store indexes the keys so a match query reads only the records that share one. Pure; thread-safe.
#pragma once

#include "mpi/record.hpp"

#include <string>
#include <vector>

namespace ucr::mpi {

/// Distinct blocking keys of a record, cheapest-to-most-selective order not implied:
///   "nhs:9000000009"                 valid NHS number
///   "dob:1970-03-12"                 birth date with its day and month numbers in ascending order
///                                    (1970-12-03 gives it too), so transposed dates still meet
///   "sx:S530|ME14"                   Soundex of each family name (and of each part of a double-barrelled
///                                    one) + postcode district (of current and previous addresses)
///   "gi:j|1970|ME14 5"               given-name initial + birth year + postcode sector (current and previous)
///   "nm:S530|J500|1970"              Soundex of family name + Soundex of given name (and of the formal
///                                    names a nickname stands for) + birth year: survives a move
///   "tel:07700900123", "email:a@b.uk", "id:system|value"
[[nodiscard]] std::vector<std::string> blocking_keys(const PatientRecord& record);

}  // namespace ucr::mpi
