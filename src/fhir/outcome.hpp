// fhir/outcome: OperationOutcome resources built from errors and issues. Pure functions; thread-safe.
#pragma once

#include "core/error.hpp"

#include <boost/json/object.hpp>

#include <string>
#include <vector>

namespace ucr::fhir {

/// R4 operationoutcome.html: one issue per problem, with `expression` where the problem has a location.
[[nodiscard]] boost::json::object operation_outcome(const std::vector<core::Issue>& issues);

/// The OperationOutcome for an error value.
[[nodiscard]] inline boost::json::object operation_outcome(const core::Error& error) {
  return operation_outcome(error.issues);
}

/// An informational OperationOutcome (e.g. for Prefer: return=OperationOutcome).
[[nodiscard]] boost::json::object information_outcome(const std::string& diagnostics);

}  // namespace ucr::fhir
