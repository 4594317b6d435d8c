// fhirpath/model: how FHIRPath sees FHIR JSON (internal): member navigation with R4 types (choice
// elements, primitive extensions `_x`, contained resources), the type hierarchy used by is/as/ofType,
// and FHIR primitive -> System conversion. Stateless over the immutable R4 definitions; thread-safe.
#pragma once

#include "fhirpath/ast.hpp"

#include <optional>
#include <string_view>

namespace ucr::fhirpath {

/// Appends the children called `name` of every item (FHIRPath member navigation). `hint`, when given, is
/// the precomputed lookup of `name` for items of definition hint->def.
void navigate(const Value& item, std::string_view name, Collection& out, const MemberHint* hint = nullptr);
/// The hint for navigating `name` on items of definition `def` (null def: an empty hint).
MemberHint member_hint(const fhir::TypeDefinition* def, std::string_view name);
/// Appends every child of `item` (children()).
void all_children(const Value& item, Collection& out);
/// A resource object typed from its resourceType (untyped node otherwise).
Value resource_value(const boost::json::value& node);
/// The same, without a lookup when the resourceType is `hint`'s name (a resource definition or null).
Value resource_value(const boost::json::value& node, const fhir::TypeDefinition* hint);

/// A type specifier from its written namespace (may be empty) and name; nullopt when unknown.
std::optional<TypeSpec> resolve_type(std::string_view ns, std::string_view name);
/// True when `item` is of type `spec` or a subtype.
bool is_of_type(const Value& item, const TypeSpec& spec);
/// The base type of a FHIR type name ("code" -> "string", "Age" -> "Quantity", "Patient" ->
/// "DomainResource"); empty at the root.
std::string_view fhir_base_type(std::string_view type);

/// True when a FHIR type name is a primitive ("string", "date", ...).
bool is_fhir_primitive(std::string_view type);

}  // namespace ucr::fhirpath
