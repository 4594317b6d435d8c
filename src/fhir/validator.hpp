// fhir/validator: structural validation of incoming resources against the embedded R4 definitions.
// Stateless pure functions over immutable definitions; safe to call concurrently from any thread.
#pragma once

#include "core/error.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <vector>

namespace ucr::fhir {

/// Validates a resource object whose `resourceType` names an R4 resource type: element names and
/// JSON types, cardinality, primitive formats, required-strength bindings (where expandable) and
/// Reference formats/targets. Nested resources (contained, Bundle.entry.resource,
/// Parameters.parameter.resource) are validated recursively. Invariants (FHIRPath constraints) are
/// not checked. Returns one error issue per problem, with a FHIRPath `expression` such as
/// `Patient.name[0].given[1]`; empty when the resource is valid.
[[nodiscard]] std::vector<core::Issue> validate_resource(const boost::json::object& resource);

/// As above, after checking that `resource` is a JSON object with a string `resourceType` naming a
/// known resource type.
[[nodiscard]] std::vector<core::Issue> validate_resource(const boost::json::value& resource);

}  // namespace ucr::fhir
