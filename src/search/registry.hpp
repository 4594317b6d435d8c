// search/registry: the R4 search parameters (compiled in) with their FHIRPath expressions compiled
// per resource type, and the patient compartment definition. Immutable once built; thread-safe.
#pragma once

#include "core/error.hpp"
#include "fhirpath/fhirpath.hpp"

#include <boost/json/object.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ucr::search {

enum class ParamType { kNumber, kDate, kString, kToken, kReference, kComposite, kQuantity, kUri, kSpecial };

/// R4 search-parameter type code ("token") to ParamType; kSpecial when unknown.
[[nodiscard]] ParamType param_type_of(std::string_view code);
[[nodiscard]] std::string_view param_type_name(ParamType t);

/// One component of a composite parameter (R4 searchparameter.html#composite).
struct Component {
  std::string code;
  ParamType type = ParamType::kToken;
  std::shared_ptr<const fhirpath::Expression> expression;
  std::string text;  ///< the expression as written
};

/// One search parameter as it applies to one resource type.
struct SearchParam {
  std::string code;
  ParamType type = ParamType::kToken;
  std::string expression;                                ///< FHIRPath for this resource type only
  std::shared_ptr<const fhirpath::Expression> compiled;  ///< null when the expression does not compile
  std::vector<std::string> targets;                      ///< reference target types
  std::vector<Component> components;
  /// Empty: the parameter's own index rows are stored under its code. Otherwise the parameter is
  /// the union of these parameters of the same type (its expression is `A | B` where A and B are
  /// theirs, e.g. Observation combo-code = code | component-code), or has the same expression as
  /// the one named (Patient phonetic and name, both `Patient.name`): nothing is stored under its
  /// code, and searches and sorts read the rows of these instead.
  std::vector<std::string> stored_as;
  /// A string parameter on a HumanName or Address (Patient name = `Patient.name`) beside parameters on
  /// its parts (family = `Patient.name.family`, given) stores rows under its own code only for the
  /// parts no such parameter covers (text, prefix, suffix): these are the parts left out, and
  /// stored_as lists its own code first, then theirs, so searches and sorts read all of them.
  std::vector<std::string> covered_parts;
  /// A reference parameter that is another one restricted to a target type (R4 Observation
  /// `patient` = `Observation.subject.where(resolve() is Patient)`, `subject` = `Observation.subject`)
  /// stores no reference rows of its own: stored_as names the other and this is the type, so
  /// searches read `subject` rows whose target is a Patient. Its `:identifier` rows are its own.
  std::string stored_target;
};

/// Whether index rows are stored under the parameter's own code (all of its values, or with
/// covered_parts those of the other parts).
[[nodiscard]] inline bool stores_own_rows(const SearchParam& sp) {
  return sp.stored_as.empty() || sp.stored_as.front() == sp.code;
}

/// A composite of a token and two numbers (R4's MolecularSequence coordinates), indexed as triples.
[[nodiscard]] bool is_triple_composite(const SearchParam& sp);

/// The parts of a FHIRPath expression's top-level union (`a | b | c`), trimmed; one part when the
/// expression is not a union. Parentheses, brackets and quoted strings are respected.
[[nodiscard]] std::vector<std::string> union_parts(std::string_view expression);

/// A search parameter defined on the server by a SearchParameter resource (R4 searchparameter.html).
struct CustomParam {
  std::string id;  ///< the SearchParameter resource's id
  std::string url;
  std::string code;
  ParamType type = ParamType::kToken;
  std::vector<std::string> bases;
  std::string expression;
  std::vector<std::string> targets;
};

class Registry {
 public:
  /// The R4 registry built from the compiled-in definitions (built once, on first use).
  static const Registry& r4();

  /// Reads a SearchParameter resource as a custom parameter: code, base, type and a FHIRPath
  /// expression that compiles. Errors name the element at fault. Retired parameters are refused
  /// here too; callers skip them.
  [[nodiscard]] static core::Result<CustomParam> custom_param(const boost::json::object& search_parameter);

  /// This registry plus `custom`. A custom parameter may not take the code of an R4 parameter of
  /// one of its bases, nor the code another custom parameter already has on the same base.
  [[nodiscard]] core::Result<std::shared_ptr<const Registry>> with_custom(const std::vector<CustomParam>& custom) const;
  /// The custom parameters in this registry.
  [[nodiscard]] const std::vector<CustomParam>& custom() const { return custom_; }

  /// The parameter `code` of resource type `type`, or null.
  [[nodiscard]] const SearchParam* find(std::string_view type, std::string_view code) const;
  /// Every parameter of a resource type (those on Resource and DomainResource included).
  [[nodiscard]] const std::vector<const SearchParam*>& for_type(std::string_view type) const;
  /// Parameters of `type` that place a resource in a Patient's compartment (R4 compartmentdefinition-patient).
  [[nodiscard]] const std::vector<std::string>& patient_compartment_params(std::string_view type) const;
  /// Resource types that can be in a Patient's compartment.
  [[nodiscard]] std::vector<std::string> patient_compartment_types() const;
  /// Number of (type, parameter) pairs, and how many expressions failed to compile (reported by tests).
  [[nodiscard]] std::size_t size() const { return params_.size(); }
  [[nodiscard]] const std::vector<std::string>& compile_failures() const { return failures_; }

 private:
  Registry() = default;
  std::map<std::string, std::shared_ptr<const SearchParam>, std::less<>> params_;  // key "Type\x1fcode"
  std::map<std::string, std::vector<const SearchParam*>, std::less<>> by_type_;
  std::map<std::string, std::vector<std::string>, std::less<>> compartment_;
  std::vector<std::string> failures_;
  std::vector<CustomParam> custom_;
};

/// The registry in force on a server: R4 plus its SearchParameter resources. Readers take a
/// snapshot for the length of a request; a change swaps in a new registry. Thread-safe.
class Catalog {
 public:
  Catalog();
  [[nodiscard]] std::shared_ptr<const Registry> current() const;
  void set(std::shared_ptr<const Registry> registry);

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Registry> current_;
};

}  // namespace ucr::search
