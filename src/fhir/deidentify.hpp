// fhir/deidentify: a de-identified copy of a FHIR R4 resource for analysts.
//
// Direct identifiers are removed and quasi-identifiers generalised, so that a resource can be
// studied without naming the person it is about: names, contact details, street addresses,
// identifiers (NHS number, hospital numbers), photographs and free text are removed; birth and
// death dates are cut to the year; postcodes are cut to their outward code (district). Resource
// ids stay (server-assigned, they carry nothing about the person), so records of one person can
// still be joined. The result carries the HL7 v3 `PSEUDED` security label. Pure function.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <string>
#include <string_view>

namespace ucr::fhir {

/// De-identifies `resource` in place (any resource type; contained resources and Bundle entries
/// too).
void deidentify(boost::json::object& resource);

/// The outward code (district) of a UK postcode: "ME7 4JL" -> "ME7", "ct11 0ab" -> "CT11".
/// Text that is not a postcode gives an empty string.
[[nodiscard]] std::string outward_code(std::string_view postcode);

}  // namespace ucr::fhir
