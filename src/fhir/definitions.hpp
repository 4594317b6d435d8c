// fhir/definitions: the FHIR R4 resource and datatype definitions compiled into the library
// (data/fhir-r4/definitions.json), parsed once on first use. Immutable after the thread-safe lazy
// load: every function here may be called from any thread, and returned pointers live forever.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace ucr::fhir {

/// Transparent string hash so maps keyed by std::string can be searched with a string_view.
struct StringHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

/// An unordered string set searchable by string_view.
using StringSet = std::unordered_set<std::string, StringHash, std::equal_to<>>;

/// The FHIR primitive datatypes (kNone for complex types and resources).
enum class Primitive : std::uint8_t {
  kNone,
  kBoolean,
  kInteger,
  kPositiveInt,
  kUnsignedInt,
  kDecimal,
  kString,
  kMarkdown,
  kCode,
  kId,
  kUri,
  kUrl,
  kCanonical,
  kOid,
  kUuid,
  kDate,
  kDateTime,
  kInstant,
  kTime,
  kBase64Binary,
  kXhtml,
};

/// The FHIR name of a primitive ("dateTime"); empty for kNone.
[[nodiscard]] std::string_view primitive_name(Primitive p);

/// The codes of one expanded required value set, grouped by code system.
struct ValueSetCodes {
  std::string url;                                                                    ///< canonical URL
  std::unordered_map<std::string, StringSet, StringHash, std::equal_to<>> by_system;  ///< system -> codes
  StringSet all_codes;                                                                ///< union over all systems

  /// True when `system` is one of the value set's code systems.
  [[nodiscard]] bool has_system(std::string_view system) const { return by_system.find(system) != by_system.end(); }
  /// True when `code` of `system` is in the value set.
  [[nodiscard]] bool contains(std::string_view system, std::string_view code) const;
  /// True when `code` (from any system) is in the value set.
  [[nodiscard]] bool contains_code(std::string_view code) const { return all_codes.find(code) != all_codes.end(); }
};

struct TypeDefinition;

/// One allowed type of an element.
struct ElementType {
  std::string code;         ///< FHIR type name: "string", "HumanName", "Reference", "Resource", "BackboneElement"
  std::string json_suffix;  ///< suffix of a choice element's JSON name: "String", "Quantity"
  Primitive primitive = Primitive::kNone;      ///< set for primitive types
  const TypeDefinition* definition = nullptr;  ///< children of a complex type (null for primitives/resources)
  bool is_resource = false;                    ///< the value is a nested resource (type Resource or a resource name)
  std::vector<std::string> target_types;       ///< Reference target resource types; empty means any
};

/// One element of a resource or datatype ("Patient.name", "Observation.value[x]").
struct ElementDefinition {
  static constexpr std::uint32_t kUnbounded = std::numeric_limits<std::uint32_t>::max();

  std::string path;                          ///< definition path, e.g. "Patient.contact.name"
  std::string name;                          ///< last path segment without "[x]", e.g. "name", "value"
  std::uint32_t min = 0;                     ///< minimum cardinality
  std::uint32_t max = 1;                     ///< maximum cardinality (kUnbounded for "*")
  bool is_choice = false;                    ///< a choice element "value[x]"
  bool summary = false;                      ///< isSummary: part of the _summary=true view
  std::vector<ElementType> types;            ///< allowed types (one entry for content references)
  const ValueSetCodes* binding = nullptr;    ///< expanded required binding, if any
  const TypeDefinition* children = nullptr;  ///< inline children (backbone / contentReference), else null
  std::vector<std::string> json_names;       ///< JSON property names: {"name"} or {"valueString", ...}

  /// True when the element is represented as a JSON array.
  [[nodiscard]] bool is_array() const { return max > 1; }
  /// The children to validate an object value of type `types[type_index]` against (null for primitives).
  [[nodiscard]] const TypeDefinition* children_of(std::size_t type_index) const {
    return children != nullptr ? children : types[type_index].definition;
  }
};

/// What a JSON property name of an object resolves to.
struct ChildLookup {
  const ElementDefinition* element = nullptr;
  std::uint32_t type_index = 0;  ///< index into element->types (the chosen type of a choice element)
};

/// The children of a resource, a complex datatype or a backbone element ("Patient.contact").
struct TypeDefinition {
  std::string name;                                ///< "Patient", "HumanName", "Patient.contact"
  bool is_resource = false;                        ///< a resource type (root of a resource)
  std::vector<const ElementDefinition*> elements;  ///< in definition order
  std::vector<const ElementDefinition*> required;  ///< elements with min >= 1
  std::unordered_map<std::string, ChildLookup, StringHash, std::equal_to<>> by_json_name;

  /// The element a JSON property name (without a leading '_') denotes; null when unknown.
  [[nodiscard]] const ChildLookup* find(std::string_view json_name) const {
    auto it = by_json_name.find(json_name);
    return it == by_json_name.end() ? nullptr : &it->second;
  }
};

/// The FHIR version of the embedded definitions ("4.0.1").
[[nodiscard]] std::string_view fhir_version();

/// True when `name` is a concrete R4 resource type ("Patient"; not "Resource"/"DomainResource").
[[nodiscard]] bool is_resource_type(std::string_view name);

/// Every concrete R4 resource type, sorted (146 names: the R4 resource-types code system without
/// the abstract Resource and DomainResource).
[[nodiscard]] const std::vector<std::string>& resource_types();

/// A resource, complex datatype or backbone element path ("Patient", "Quantity", "Patient.contact").
[[nodiscard]] const TypeDefinition* find_type(std::string_view name);

/// An element by definition path ("Patient.name", "Observation.value[x]"); null when unknown.
[[nodiscard]] const ElementDefinition* find_element(std::string_view path);

/// An expanded required value set by canonical URL (without version); null when not expanded.
[[nodiscard]] const ValueSetCodes* find_value_set(std::string_view url);

/// Forces the one-time parse (e.g. at server start, so the first request does not pay for it).
void load_definitions();

}  // namespace ucr::fhir
