#include "api/detail/capability.hpp"
#include "api/detail/registry_scope.hpp"

#include "core/time.hpp"
#include "fhir/definitions.hpp"
#include "search/registry.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

namespace ucr::api::detail {

namespace {

namespace json = boost::json;

/// Every searchable parameter of a type (special parameters are not offered).
json::array search_params(const std::string& type) {
  json::array out;
  out.push_back(json::object{{"name", "_id"}, {"type", "token"}});
  out.push_back(json::object{{"name", "_lastUpdated"}, {"type", "date"}});
  for (const search::SearchParam* sp : registry().for_type(type)) {
    if (sp->code == "_id" || sp->code == "_lastUpdated" || !sp->compiled) continue;
    if (sp->type == search::ParamType::kSpecial) continue;
    if (sp->type == search::ParamType::kComposite && !search::is_triple_composite(*sp) &&
        (sp->components.size() != 2 || (sp->components[0].type != search::ParamType::kToken &&
                                        sp->components[0].type != search::ParamType::kReference))) {
      continue;
    }
    out.push_back(json::object{{"name", sp->code}, {"type", std::string(search::param_type_name(sp->type))}});
  }
  // R4 search.html#contained: searches of one type may match contained resources.
  out.push_back(json::object{{"name", "_contained"},
                             {"definition", "http://hl7.org/fhir/SearchParameter/Resource-contained"},
                             {"type", "token"},
                             {"documentation", "false (default), true or both"}});
  out.push_back(json::object{{"name", "_containedType"},
                             {"definition", "http://hl7.org/fhir/SearchParameter/Resource-containedType"},
                             {"type", "token"},
                             {"documentation", "container (default) or contained: fullUrl [base]/Type/id#local"}});
  return out;
}

}  // namespace

std::string capability_statement(const std::string& base_url, const std::string& software_version,
                                 const std::string& oauth_base, bool bulk_export) {
  constexpr std::string_view kBulk = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/";
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
      for (const char* op : {"merge", "unmerge"}) {
        operations.push_back(json::object{
            {"name", op},
            {"definition", fmt::format("https://ucr.nhs.example/fhir/OperationDefinition/Patient-{}", op)}});
      }
    }
    if (type == "Task") {
      operations.push_back(
          json::object{{"name", "resolve-match"},
                       {"definition", "https://ucr.nhs.example/fhir/OperationDefinition/Task-resolve-match"}});
    }
    if (bulk_export && (type == "Patient" || type == "Group")) {
      operations.push_back(
          json::object{{"name", "export"},
                       {"definition", std::string(kBulk) + (type == "Patient" ? "patient-export" : "group-export")}});
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
  if (bulk_export) {
    rest["operation"] = json::array{json::object{{"name", "export"}, {"definition", std::string(kBulk) + "export"}}};
  }
  if (!oauth_base.empty()) {
    // SMART App Launch: the OAuth endpoints, also at [base]/.well-known/smart-configuration.
    rest["security"] = json::object{
        {"cors", true},
        {"service", json::array{json::object{
                        {"coding", json::array{json::object{
                                       {"system", "http://terminology.hl7.org/CodeSystem/restful-security-service"},
                                       {"code", "SMART-on-FHIR"}}}}}}},
        {"extension",
         json::array{json::object{
             {"url", "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"},
             {"extension",
              json::array{json::object{{"url", "authorize"}, {"valueUri", oauth_base + "/oauth/authorize"}},
                          json::object{{"url", "token"}, {"valueUri", oauth_base + "/oauth/token"}},
                          json::object{{"url", "revoke"}, {"valueUri", oauth_base + "/oauth/revoke"}}}}}}},
        {"description",
         "Every request needs an OAuth2 bearer token (SMART App Launch v2 scopes); see "
         "/fhir/.well-known/smart-configuration."}};
  }
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
  if (bulk_export) cs["instantiates"] = json::array{"http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data"};
  return json::serialize(cs);
}

}  // namespace ucr::api::detail
