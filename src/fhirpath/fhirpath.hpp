// fhirpath: a FHIRPath (N1 + FHIR R4 additions) engine evaluating directly over Boost.JSON resources.
// Compiled expressions are immutable and shareable across threads; compile() uses a thread-safe cache.
// evaluate() only reads the input; results point into it, so the input must outlive them.
#pragma once

#include "core/error.hpp"
#include "fhir/definitions.hpp"
#include "fhirpath/types.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ucr::fhirpath {

/// What an item of a collection is.
enum class ValueKind : std::uint8_t {
  kNode,      ///< a node of the input JSON (with its FHIR type when known)
  kBoolean,   ///< System.Boolean
  kInteger,   ///< System.Integer
  kDecimal,   ///< System.Decimal
  kString,    ///< System.String
  kDate,      ///< System.Date
  kDateTime,  ///< System.DateTime
  kTime,      ///< System.Time
  kQuantity,  ///< System.Quantity
  kTypeInfo,  ///< result of type(): a SimpleTypeInfo / ClassInfo with namespace and name
};

/// The result of type(): `namespace` ("System" / "FHIR") and `name`.
struct TypeInfo {
  std::string namespace_name;
  std::string name;
};

/// One item of a FHIRPath collection: a JSON node of the input (plus its FHIR type) or a computed
/// System value. Nodes are pointers into the input document.
struct Value {
  ValueKind kind = ValueKind::kNode;
  const boost::json::value* node = nullptr;       ///< kNode: the JSON value (null for a primitive with only `_x`)
  const boost::json::value* extension = nullptr;  ///< kNode: the primitive's `_name` companion object, if any
  std::string_view type;                          ///< kNode: FHIR type name ("HumanName", "date"); empty when unknown
  const fhir::TypeDefinition* definition = nullptr;  ///< kNode: children of a complex node (null for primitives)
  std::variant<std::monostate, bool, std::int64_t, Decimal, std::string, Temporal, Quantity, TypeInfo> data =
      std::monostate{};  // (an initializer, so that building a Value does not zero-fill it first)

  static Value boolean(bool b) { return Value{ValueKind::kBoolean, nullptr, nullptr, {}, nullptr, b}; }
  static Value integer(std::int64_t i) { return Value{ValueKind::kInteger, nullptr, nullptr, {}, nullptr, i}; }
  static Value decimal(Decimal d) { return Value{ValueKind::kDecimal, nullptr, nullptr, {}, nullptr, d}; }
  static Value string(std::string s) { return Value{ValueKind::kString, nullptr, nullptr, {}, nullptr, std::move(s)}; }
  static Value temporal(const Temporal& t);
  static Value quantity(Quantity q) { return Value{ValueKind::kQuantity, nullptr, nullptr, {}, nullptr, std::move(q)}; }
  static Value type_info(std::string ns, std::string name) {
    return Value{ValueKind::kTypeInfo, nullptr, nullptr, {}, nullptr, TypeInfo{std::move(ns), std::move(name)}};
  }
  /// A node of a JSON document with its FHIR type ("Patient", "HumanName", "string"; empty = untyped).
  /// For a resource object the type defaults to its resourceType.
  static Value of_node(const boost::json::value& node, std::string_view fhir_type = {});

  [[nodiscard]] bool is_node() const { return kind == ValueKind::kNode; }
  [[nodiscard]] bool as_bool() const { return std::get<bool>(data); }
  [[nodiscard]] std::int64_t as_integer() const { return std::get<std::int64_t>(data); }
  [[nodiscard]] const Decimal& as_decimal() const { return std::get<Decimal>(data); }
  [[nodiscard]] const std::string& as_string() const { return std::get<std::string>(data); }
  [[nodiscard]] const Temporal& as_temporal() const { return std::get<Temporal>(data); }
  [[nodiscard]] const Quantity& as_quantity() const { return std::get<Quantity>(data); }
  [[nodiscard]] const TypeInfo& as_type_info() const { return std::get<TypeInfo>(data); }
};

/// A FHIRPath collection (ordered, may hold duplicates).
using Collection = std::vector<Value>;

/// Evaluation environment. Every member is optional.
struct Context {
  /// %resource: the resource containing the input (defaults to the input when it is a resource).
  const boost::json::value* resource = nullptr;
  /// %rootResource: the top resource, e.g. a Bundle around %resource (defaults to %resource); also where
  /// resolve() looks for Bundle entries and contained resources.
  const boost::json::value* root_resource = nullptr;
  /// User variables (%name); they shadow the built-in constants.
  std::map<std::string, Collection, std::less<>> variables;
  /// resolve() for references not found in the Bundle/contained resources; null when unknown.
  std::function<const boost::json::value*(std::string_view reference)> resolver;
  /// memberOf(): true/false, or nullopt when unknown (the result is then empty). Without a callback the
  /// required-binding value sets compiled into ucr::fhir are used.
  std::function<std::optional<bool>(const Value& code, std::string_view value_set)> member_of;
  /// trace(): receives the name and the traced collection.
  std::function<void(std::string_view name, const Collection& items)> trace;
  /// Fixed "now" for now()/today()/timeOfDay() (tests); the system clock in UTC otherwise.
  std::optional<Temporal> now;
};

/// A compiled FHIRPath expression (AST). Immutable; shareable across threads.
class Expression;

/// Parses `text`; errors carry the position ("1:7: ..."). Results are cached by text (thread-safe).
core::Result<std::shared_ptr<const Expression>> compile(std::string_view text);
/// Parses `text` without the cache.
core::Result<std::shared_ptr<const Expression>> compile_uncached(std::string_view text);
/// Number of expressions in the compile cache (for tests and metrics).
std::size_t compile_cache_size();

/// The source text of a compiled expression.
[[nodiscard]] const std::string& expression_text(const Expression& expr);

/// Evaluates on a JSON input (typed from its resourceType when it is a resource).
core::Result<Collection> evaluate(const Expression& expr, const boost::json::value& input, const Context& ctx = {});
/// Evaluates on an arbitrary input collection (e.g. a typed element made with Value::of_node).
core::Result<Collection> evaluate(const Expression& expr, const Collection& input, const Context& ctx = {});
/// compile() + evaluate() in one call.
core::Result<Collection> evaluate(std::string_view expr, const boost::json::value& input, const Context& ctx = {});

/// The System value of an item: FHIR primitives become Boolean/Integer/Decimal/String/Date/DateTime/Time,
/// a FHIR Quantity becomes a System Quantity; other nodes (and System values) are returned unchanged.
[[nodiscard]] Value to_system(const Value& v);
/// The text of a single item as toString() gives it; nullopt for complex nodes.
[[nodiscard]] std::optional<std::string> to_string(const Value& v);
/// The FHIRPath type name of an item ("FHIR.HumanName", "System.Integer").
[[nodiscard]] std::string type_name(const Value& v);
/// The collection as JSON for output: [{"type":"string","value":...}, ...].
[[nodiscard]] boost::json::value to_json(const Collection& items);

}  // namespace ucr::fhirpath
