// Public entry points: the compile cache, evaluate(), and conversions of results.
#include "fhirpath/fhirpath.hpp"

#include "fhirpath/ast.hpp"
#include "fhirpath/evaluator.hpp"
#include "fhirpath/model.hpp"

#include <boost/json.hpp>

#include <mutex>
#include <shared_mutex>
#include <unordered_map>

namespace ucr::fhirpath {
namespace json = boost::json;
namespace {

constexpr std::size_t kMaxCacheEntries = 4096;

struct Cache {
  std::shared_mutex mutex;
  std::unordered_map<std::string, std::shared_ptr<const Expression>, fhir::StringHash, std::equal_to<>> entries;
};

Cache& cache() {
  static Cache instance;
  return instance;
}

}  // namespace

Value Value::temporal(const Temporal& t) {
  ValueKind k = t.kind == TemporalKind::kDate       ? ValueKind::kDate
                : t.kind == TemporalKind::kDateTime ? ValueKind::kDateTime
                                                    : ValueKind::kTime;
  return Value{k, nullptr, nullptr, {}, nullptr, t};
}

Value Value::of_node(const json::value& node, std::string_view fhir_type) {
  if (fhir_type.empty()) return resource_value(node);
  Value v;
  v.node = &node;
  if (const fhir::TypeDefinition* def = fhir::find_type(fhir_type)) {
    v.type = def->name;
    v.definition = def;
  } else {
    v.type = fhir_type;
  }
  return v;
}

core::Result<std::shared_ptr<const Expression>> compile_uncached(std::string_view text) {
  auto root = parse(text);
  if (!root) return root.error();
  const fhir::TypeDefinition* root_hint = annotate(**root);
  return std::shared_ptr<const Expression>(
      std::make_shared<Expression>(std::string(text), std::move(*root), root_hint));
}

core::Result<std::shared_ptr<const Expression>> compile(std::string_view text) {
  Cache& c = cache();
  {
    std::shared_lock lock(c.mutex);
    if (auto it = c.entries.find(text); it != c.entries.end()) return it->second;
  }
  auto compiled = compile_uncached(text);
  if (!compiled) return compiled;
  std::unique_lock lock(c.mutex);
  if (c.entries.size() >= kMaxCacheEntries) c.entries.clear();
  auto [it, inserted] = c.entries.emplace(std::string(text), *compiled);
  return it->second;
}

std::size_t compile_cache_size() {
  std::shared_lock lock(cache().mutex);
  return cache().entries.size();
}

const std::string& expression_text(const Expression& expr) { return expr.text(); }

namespace {

core::Result<Collection> evaluate_items(const Expression& expr, std::span<const Value> input, const Context& ctx) {
  Evaluator ev(expr, ctx, input);
  Scope scope{input, -1, nullptr};
  return ev.eval(expr.root(), scope);
}

}  // namespace

core::Result<Collection> evaluate(const Expression& expr, const Collection& input, const Context& ctx) {
  return evaluate_items(expr, input, ctx);
}

core::Result<Collection> evaluate(const Expression& expr, const json::value& input, const Context& ctx) {
  const Value in = resource_value(input, expr.root_hint());
  return evaluate_items(expr, std::span<const Value>(&in, 1), ctx);
}

core::Result<Collection> evaluate(std::string_view expr, const json::value& input, const Context& ctx) {
  auto compiled = compile(expr);
  if (!compiled) return compiled.error();
  return evaluate(**compiled, input, ctx);
}

std::string type_name(const Value& v0) {
  if (v0.is_node() && !v0.type.empty()) return "FHIR." + std::string(v0.type);
  Value v = to_system(v0);
  switch (v.kind) {
    case ValueKind::kBoolean:
      return "System.Boolean";
    case ValueKind::kInteger:
      return "System.Integer";
    case ValueKind::kDecimal:
      return "System.Decimal";
    case ValueKind::kString:
      return "System.String";
    case ValueKind::kDate:
      return "System.Date";
    case ValueKind::kDateTime:
      return "System.DateTime";
    case ValueKind::kTime:
      return "System.Time";
    case ValueKind::kQuantity:
      return "System.Quantity";
    case ValueKind::kTypeInfo:
      return "System.TypeInfo";
    case ValueKind::kNode:
      break;
  }
  return "FHIR.Element";
}

json::value to_json(const Collection& items) {
  json::array out;
  for (const Value& v : items) {
    json::object o;
    std::string full = type_name(v);
    o["type"] = full.substr(full.find('.') + 1);
    switch (v.kind) {
      case ValueKind::kNode:
        o["value"] = v.node != nullptr ? *v.node : json::value(nullptr);
        if (v.extension != nullptr) o["extension"] = *v.extension;
        break;
      case ValueKind::kBoolean:
        o["value"] = v.as_bool();
        break;
      case ValueKind::kInteger:
        o["value"] = v.as_integer();
        break;
      case ValueKind::kDecimal:
        o["value"] = v.as_decimal().to_double();
        break;
      case ValueKind::kQuantity:
        o["value"] = json::object{{"value", v.as_quantity().value.to_double()}, {"unit", v.as_quantity().unit}};
        break;
      case ValueKind::kTypeInfo:
        o["value"] = json::object{{"namespace", v.as_type_info().namespace_name}, {"name", v.as_type_info().name}};
        break;
      default:
        o["value"] = to_string(v).value_or("");
        break;
    }
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace ucr::fhirpath
