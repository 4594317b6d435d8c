#include "fhir/outcome.hpp"

#include <boost/json/array.hpp>

namespace ucr::fhir {

boost::json::object operation_outcome(const std::vector<core::Issue>& issues) {
  boost::json::array out;
  for (const auto& issue : issues) {
    boost::json::object o;
    o["severity"] = issue.severity;
    o["code"] = issue.code;
    if (!issue.diagnostics.empty()) o["diagnostics"] = issue.diagnostics;
    if (!issue.expression.empty()) o["expression"] = boost::json::array{boost::json::string(issue.expression)};
    out.push_back(std::move(o));
  }
  if (out.empty()) {
    out.push_back(boost::json::object{{"severity", "information"}, {"code", "informational"}, {"diagnostics", "ok"}});
  }
  return boost::json::object{{"resourceType", "OperationOutcome"}, {"issue", std::move(out)}};
}

boost::json::object information_outcome(const std::string& diagnostics) {
  return operation_outcome(std::vector<core::Issue>{core::Issue{"information", "informational", diagnostics, {}}});
}

}  // namespace ucr::fhir
