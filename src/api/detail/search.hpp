// api/detail/search: search-type, patient-compartment search and Patient/$everything responses
// (R4 search.html, compartmentdefinition.html, patient-operation-everything). Thread-safe.
#pragma once

#include "api/api.hpp"
#include "api/request.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>

namespace ucr::api::detail {

/// GET [base]/{type}?..., POST [base]/{type}/_search, GET [base]/Patient/{id}/{type}?...
[[nodiscard]] Response search_type(store::Store& store, const ApiOptions& options, const Request& request,
                                   const std::string& type, const std::optional<std::string>& patient);

/// GET [base]?_type=Patient,Observation&... (R4 search.html#all): the types' results one after the
/// other, paged together; every other parameter must apply to every listed type.
[[nodiscard]] Response search_system(store::Store& store, const ApiOptions& options, const Request& request);

/// GET [base]/Patient/{id}/$everything (with _since, _type, _count, _offset).
[[nodiscard]] Response everything(store::Store& store, const ApiOptions& options, const Request& request,
                                  const std::string& patient_id);

/// Applies _summary / _elements to one stored resource (R4 search.html#summary, #elements).
[[nodiscard]] std::string shape_resource(const std::string& json, const std::string& type, int summary,
                                         const std::vector<std::string>& elements);

}  // namespace ucr::api::detail
