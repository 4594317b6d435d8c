#include "api/detail/capability.hpp"
#include "api/detail/registry_scope.hpp"

#include "core/time.hpp"
#include "fhir/definitions.hpp"
#include "search/registry.hpp"

#include <boost/json.hpp>

namespace ucr::api::detail {

namespace {

namespace json = boost::json;

/// Every searchable parameter of a type (special parameters and composites of other shapes are not offered yet).
json::array search_params(const std::string& type) {
  json::array out;
  out.push_back(json::object{{"name", "_id"}, {"type", "token"}});
  out.push_back(json::object{{"name", "_lastUpdated"}, {"type", "date"}});
  for (const search::SearchParam* sp : registry().for_type(type)) {
    if (sp->code == "_id" || sp->code == "_lastUpdated" || !sp->compiled) continue;
    if (sp->type == search::ParamType::kSpecial) continue;
    if (sp->type == search::ParamType::kComposite &&
        (sp->components.size() != 2 || (sp->components[0].type != search::ParamType::kToken &&
                                        sp->components[0].type != search::ParamType::kReference))) {
      continue;
    }
    out.push_back(json::object{{"name", sp->code}, {"type", std::string(search::param_type_name(sp->type))}});
  }
  return out;
}

}  // namespace

std::string capability_statement(const std::string& base_url, const std::string& software_version) {
  json::array resources;
  for (const auto& type : fhir::resource_types()) {
    json::array interactions;
    for (const char* code :
         {"read", "vread", "update", "patch", "delete", "history-instance", "history-type", "create", "search-type"}) {
      interactions.push_back(json::object{{"code", code}});
    }
    json::array operations{json::object{{"name", "validate"},
                                        {"definition", "http://hl7.org/fhir/OperationDefinition/Resource-validate"}}};
    if (type == "Patient") {
      operations.push_back(json::object{{"name", "everything"},
                                        {"definition", "http://hl7.org/fhir/OperationDefinition/Patient-everything"}});
      operations.push_back(
          json::object{{"name", "match"}, {"definition", "http://hl7.org/fhir/OperationDefinition/Patient-match"}});
    }
    resources.push_back(json::object{
        {"type", type},
        {"interaction", std::move(interactions)},
        {"versioning", "versioned-update"},
        {"readHistory", true},
        {"updateCreate", true},
        {"conditionalCreate", true},
        {"conditionalRead", "not-supported"},
        {"conditionalUpdate", true},
        {"conditionalDelete", "single"},
        {"searchParam", search_params(type)},
        {"searchInclude", json::array{"*"}},
        {"searchRevInclude", json::array{"*"}},
        {"operation", std::move(operations)},
    });
  }
  json::object rest{
      {"mode", "server"},
      {"resource", std::move(resources)},
      {"interaction", json::array{json::object{{"code", "transaction"}}, json::object{{"code", "batch"}},
                                  json::object{{"code", "history-system"}}, json::object{{"code", "search-system"}}}},
  };
  json::object cs{
      {"resourceType", "CapabilityStatement"},
      {"status", "active"},
      {"date", core::format_instant(core::now_micros())},
      {"publisher", "ucr"},
      {"kind", "instance"},
      {"software", json::object{{"name", "ucr - Universal Care Record"}, {"version", software_version}}},
      {"implementation", json::object{{"description", "ucr FHIR R4 server"}, {"url", base_url}}},
      {"fhirVersion", "4.0.1"},
      {"format", json::array{"json", "application/fhir+json"}},
      {"patchFormat", json::array{"application/json-patch+json"}},
      {"rest", json::array{std::move(rest)}},
  };
  return json::serialize(cs);
}

}  // namespace ucr::api::detail
