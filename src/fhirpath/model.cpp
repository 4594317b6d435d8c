#include "fhirpath/model.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <bit>
#include <charconv>
#include <cstring>
#include <utility>

namespace ucr::fhirpath {
namespace json = boost::json;
namespace {

constexpr std::string_view kPrimitives[] = {"boolean",  "integer",   "positiveInt", "unsignedInt",  "decimal",
                                            "string",   "markdown",  "code",        "id",           "uri",
                                            "url",      "canonical", "oid",         "uuid",         "date",
                                            "dateTime", "instant",   "time",        "base64Binary", "xhtml"};

constexpr std::string_view kSystemTypes[] = {"Boolean", "String",   "Integer", "Decimal",
                                             "Date",    "DateTime", "Time",    "Quantity"};

const fhir::TypeDefinition* element_definition() {
  static const fhir::TypeDefinition* def = fhir::find_type("Element");
  return def;
}

/// Builds the lookup key "_name" without allocating for ordinary names.
class UnderscoreKey {
 public:
  explicit UnderscoreKey(std::string_view name) {
    if (name.size() + 1 < sizeof buf_) {
      buf_[0] = '_';
      std::memcpy(buf_ + 1, name.data(), name.size());
      view_ = std::string_view(buf_, name.size() + 1);
    } else {
      long_ = "_" + std::string(name);
      view_ = long_;
    }
  }
  [[nodiscard]] std::string_view view() const { return view_; }

 private:
  char buf_[96];
  std::string long_;
  std::string_view view_;
};

/// Sets a resource object's type from its resourceType (left untyped otherwise).
void set_resource(Value& v, const json::value& node) {
  v.node = &node;
  if (const json::object* o = node.if_object()) {
    if (const json::value* rt = o->if_contains("resourceType"); rt != nullptr && rt->is_string()) {
      std::string_view name = rt->get_string();
      if (const fhir::TypeDefinition* def = fhir::find_type(name); def != nullptr && def->is_resource) {
        v.type = def->name;
        v.definition = def;
      } else {
        v.type = name;
      }
    }
  }
}

/// Appends a Value built in place from its members (parenthesised aggregate initialisation: no zero-filling
/// of the whole Value first) where the compiler supports it.
template <class... Args>
Value& emplace_value(Collection& out, Args&&... args) {
#if defined(__cpp_aggregate_paren_init)
  return out.emplace_back(std::forward<Args>(args)...);
#else
  return out.emplace_back(Value{std::forward<Args>(args)...});
#endif
}

/// Appends the item `node` (and its `_x` companion `ext`) of element `el` with type `ti`, built in place
/// (parenthesised aggregate initialisation: no zero-filling of the whole Value first).
void push_typed(const json::value* node, const json::value* ext, const fhir::ElementDefinition* el, std::uint32_t ti,
                Collection& out) {
  if (el == nullptr) {
    if (node != nullptr && node->is_object() && node->get_object().contains("resourceType")) {
      set_resource(emplace_value(out, ValueKind::kNode), *node);
      return;
    }
    emplace_value(out, ValueKind::kNode, node, ext);
    return;
  }
  const fhir::ElementType& t = el->types[ti];
  if (el->children != nullptr) {
    emplace_value(out, ValueKind::kNode, node, ext, t.code, el->children);
  } else if (t.is_resource) {
    if (node != nullptr) {
      set_resource(emplace_value(out, ValueKind::kNode), *node);
      return;
    }
    emplace_value(out, ValueKind::kNode, nullptr, ext, t.code);
  } else {
    emplace_value(out, ValueKind::kNode, node, ext, t.code, t.definition);
  }
}

/// Objects up to this size are searched by one linear pass for both `key` and `_key`; larger ones (which
/// Boost.JSON indexes) by two lookups.
constexpr std::size_t kLinearObject = 16;

/// Property `key` of `obj` and, when `with_companion`, its `_key` companion.
std::pair<const json::value*, const json::value*> find_property(const json::object& obj, std::string_view key,
                                                                bool with_companion) {
  if (obj.size() > kLinearObject || key.empty()) {
    return {obj.if_contains(key), with_companion ? obj.if_contains(UnderscoreKey(key).view()) : nullptr};
  }
  const json::value* value = nullptr;
  const json::value* companion = nullptr;
  for (const auto& kv : obj) {
    const json::string_view k = kv.key();
    if (k.size() == key.size()) {
      if (k[0] == key[0] && std::memcmp(k.data(), key.data(), key.size()) == 0) {
        value = &kv.value();
        if (!with_companion || companion != nullptr) break;
      }
    } else if (with_companion && k.size() == key.size() + 1 && k[0] == '_' &&
               std::memcmp(k.data() + 1, key.data(), key.size()) == 0) {
      companion = &kv.value();
      if (value != nullptr) break;
    }
  }
  return {value, companion};
}

/// Makes room for `n` more items, growing geometrically (at least 8 items).
void reserve_more(Collection& out, std::size_t n) {
  const std::size_t needed = out.size() + n;
  if (needed > out.capacity()) out.reserve(std::max({needed, out.capacity() * 2, std::size_t{8}}));
}

/// True when values of `el`'s type `ti` may have a `_name` companion (primitives; anything untyped).
bool has_companion(const fhir::ElementDefinition* el, std::uint32_t ti) {
  return el == nullptr || el->types[ti].primitive != fhir::Primitive::kNone;
}

/// Appends the value(s) `v` of property `key` with its `_key` companion `ext` (for primitives).
void push_found(const json::value* v, const json::value* ext, const fhir::ElementDefinition* el, std::uint32_t ti,
                Collection& out) {
  if (v == nullptr && ext == nullptr) return;
  if ((v != nullptr && v->is_array()) || (v == nullptr && ext->is_array())) {
    const json::array* values = v != nullptr ? &v->get_array() : nullptr;
    const json::array* exts = ext != nullptr && ext->is_array() ? &ext->get_array() : nullptr;
    std::size_t n = std::max(values != nullptr ? values->size() : 0, exts != nullptr ? exts->size() : 0);
    reserve_more(out, n);
    for (std::size_t i = 0; i < n; ++i) {
      const json::value* item = values != nullptr && i < values->size() ? &(*values)[i] : nullptr;
      const json::value* e = exts != nullptr && i < exts->size() ? &(*exts)[i] : nullptr;
      if (item != nullptr && item->is_null()) item = nullptr;
      if (e != nullptr && !e->is_object()) e = nullptr;
      if (item == nullptr && e == nullptr) continue;
      push_typed(item, e, el, ti, out);
    }
    return;
  }
  if (v != nullptr && v->is_null()) v = nullptr;
  if (ext != nullptr && !ext->is_object()) ext = nullptr;
  if (v == nullptr && ext == nullptr) return;
  push_typed(v, ext, el, ti, out);
}

/// Appends the value(s) `v` of property `key` (with its `_key` companion) of `obj`; `companions` false
/// when `obj` has no `_x` keys at all.
void push_values(const json::object& obj, std::string_view key, const json::value* v, const fhir::ElementDefinition* el,
                 std::uint32_t ti, bool companions, Collection& out) {
  const json::value* ext = companions && has_companion(el, ti) ? obj.if_contains(UnderscoreKey(key).view()) : nullptr;
  push_found(v, ext, el, ti, out);
}

/// Appends the value(s) of property `key` (with its `_key` companion) of `obj`.
void push_property(const json::object& obj, std::string_view key, const fhir::ElementDefinition* el, std::uint32_t ti,
                   Collection& out) {
  auto [v, ext] = find_property(obj, key, has_companion(el, ti));
  push_found(v, ext, el, ti, out);
}

/// The choice element `name[x]` of `def`, if any.
const fhir::ElementDefinition* find_choice(const fhir::TypeDefinition& def, std::string_view name) {
  for (const fhir::ElementDefinition* el : def.elements) {
    if (el->is_choice && el->name == name) return el;
  }
  return nullptr;
}

/// Appends the values of choice element `el` present in `obj` (valueQuantity, _valueString, ...), in the
/// order of the element's types.
void push_choice(const json::object& obj, const fhir::ElementDefinition* el, Collection& out) {
  const std::size_t types = el->json_names.size();
  if (types > 64) {
    for (std::uint32_t i = 0; i < types; ++i) {
      const std::string& key = el->json_names[i];
      if (obj.contains(key) || obj.contains(UnderscoreKey(key).view())) push_property(obj, key, el, i, out);
    }
    return;
  }
  // One pass over the object's keys instead of two lookups per allowed type.
  std::uint64_t present = 0;
  const std::string_view name = el->name;
  for (const auto& kv : obj) {
    std::string_view key = kv.key();
    if (key.starts_with('_')) key.remove_prefix(1);
    if (key.size() <= name.size() || !key.starts_with(name)) continue;
    for (std::uint32_t i = 0; i < types; ++i) {
      if (el->json_names[i] == key) {
        present |= std::uint64_t{1} << i;
        break;
      }
    }
  }
  while (present != 0) {
    const auto i = static_cast<std::uint32_t>(std::countr_zero(present));
    present &= present - 1;
    push_property(obj, el->json_names[i], el, i, out);
  }
}

}  // namespace

Value resource_value(const json::value& node) {
  Value v;
  set_resource(v, node);
  return v;
}

Value resource_value(const json::value& node, const fhir::TypeDefinition* hint) {
  if (hint != nullptr) {
    if (const json::object* o = node.if_object()) {
      if (const json::value* rt = o->if_contains("resourceType");
          rt != nullptr && rt->is_string() && rt->get_string() == hint->name) {
        Value v;
        v.node = &node;
        v.type = hint->name;
        v.definition = hint;
        return v;
      }
    }
  }
  return resource_value(node);
}

MemberHint member_hint(const fhir::TypeDefinition* def, std::string_view name) {
  MemberHint hint;
  if (def == nullptr) return hint;
  hint.def = def;
  hint.child = def->find(name);
  if (hint.child == nullptr) hint.choice = find_choice(*def, name);
  return hint;
}

bool is_fhir_primitive(std::string_view type) {
  return std::find(std::begin(kPrimitives), std::end(kPrimitives), type) != std::end(kPrimitives);
}

void navigate(const Value& item, std::string_view name, Collection& out, const MemberHint* hint) {
  if (item.kind == ValueKind::kTypeInfo) {
    if (name == "namespace") out.push_back(Value::string(item.as_type_info().namespace_name));
    if (name == "name") out.push_back(Value::string(item.as_type_info().name));
    return;
  }
  if (!item.is_node()) return;
  if (item.node == nullptr || !item.node->is_object()) {
    // A primitive: its id and extensions live in the `_name` companion.
    if (item.extension != nullptr && item.extension->is_object()) {
      Value ext;
      ext.node = item.extension;
      ext.type = "Element";
      ext.definition = element_definition();
      navigate(ext, name, out, hint);
    }
    return;
  }
  const json::object& obj = item.node->get_object();
  if (const fhir::TypeDefinition* def = item.definition) {
    if (hint != nullptr && hint->def == def) {
      if (hint->child != nullptr) {
        push_property(obj, name, hint->child->element, hint->child->type_index, out);
      } else if (hint->choice != nullptr) {
        push_choice(obj, hint->choice, out);
      }
      return;
    }
    if (const fhir::ChildLookup* cl = def->find(name)) {
      push_property(obj, name, cl->element, cl->type_index, out);
      return;
    }
    if (const fhir::ElementDefinition* el = find_choice(*def, name)) push_choice(obj, el, out);
    return;
  }
  // Untyped JSON: plain property lookup, then a choice-like prefix match (valueQuantity for value).
  std::size_t before = out.size();
  push_property(obj, name, nullptr, 0, out);
  if (out.size() != before) return;
  for (const auto& [key, val] : obj) {
    if (key.size() > name.size() && key.starts_with(name) && key[name.size()] >= 'A' && key[name.size()] <= 'Z') {
      push_property(obj, key, nullptr, 0, out);
    }
  }
}

void all_children(const Value& item, Collection& out) {
  if (!item.is_node()) return;
  if (item.node == nullptr || !item.node->is_object()) {
    if (item.extension != nullptr && item.extension->is_object()) {
      Value ext;
      ext.node = item.extension;
      ext.type = "Element";
      ext.definition = element_definition();
      all_children(ext, out);
    }
    return;
  }
  const json::object& obj = item.node->get_object();
  // Most objects have no `_x` companions: then primitives need no lookup for one.
  const bool companions =
      std::any_of(obj.begin(), obj.end(), [](const json::key_value_pair& kv) { return kv.key().starts_with('_'); });
  for (const auto& [k, val] : obj) {
    std::string_view key = k;
    if (key == "resourceType") continue;
    // The value is `val` itself, except for a `_key` without `key` (a primitive with only extensions).
    const json::value* value = &val;
    if (key.starts_with('_')) {
      key.remove_prefix(1);
      if (obj.contains(key)) continue;  // handled with its value
      value = nullptr;
    }
    if (item.definition != nullptr) {
      if (const fhir::ChildLookup* cl = item.definition->find(key))
        push_values(obj, key, value, cl->element, cl->type_index, companions, out);
    } else {
      push_values(obj, key, value, nullptr, 0, companions, out);
    }
  }
}

std::optional<TypeSpec> resolve_type(std::string_view ns, std::string_view name) {
  auto is_system = [&] {
    return std::find(std::begin(kSystemTypes), std::end(kSystemTypes), name) != std::end(kSystemTypes);
  };
  auto is_fhir = [&] {
    if (is_fhir_primitive(name)) return true;
    if (name == "Resource" || name == "DomainResource" || name == "Element" || name == "BackboneElement") return true;
    if (name.find('.') != std::string_view::npos) return false;
    return fhir::find_type(name) != nullptr;
  };
  if (ns == "System") {
    if (!is_system()) return std::nullopt;
    return TypeSpec{"System", std::string(name), true};
  }
  if (ns == "FHIR") {
    if (!is_fhir()) return std::nullopt;
    return TypeSpec{"FHIR", std::string(name), true};
  }
  if (!ns.empty()) return std::nullopt;
  if (is_fhir()) return TypeSpec{"FHIR", std::string(name), false};
  if (is_system()) return TypeSpec{"System", std::string(name), false};
  return std::nullopt;
}

std::string_view fhir_base_type(std::string_view type) {
  static constexpr std::pair<std::string_view, std::string_view> kBases[] = {
      {"code", "string"},
      {"markdown", "string"},
      {"id", "string"},
      {"url", "uri"},
      {"canonical", "uri"},
      {"oid", "uri"},
      {"uuid", "uri"},
      {"positiveInt", "integer"},
      {"unsignedInt", "integer"},
      {"Age", "Quantity"},
      {"Count", "Quantity"},
      {"Distance", "Quantity"},
      {"Duration", "Quantity"},
      {"MoneyQuantity", "Quantity"},
      {"SimpleQuantity", "Quantity"},
      {"Timing", "BackboneElement"},
      {"Dosage", "BackboneElement"},
      {"ElementDefinition", "BackboneElement"},
      {"MarketingStatus", "BackboneElement"},
      {"Population", "BackboneElement"},
      {"ProdCharacteristic", "BackboneElement"},
      {"ProductShelfLife", "BackboneElement"},
      {"SubstanceAmount", "BackboneElement"},
      {"BackboneElement", "Element"},
      {"Element", ""},
      {"Resource", ""},
      {"DomainResource", "Resource"},
      {"Bundle", "Resource"},
      {"Binary", "Resource"},
      {"Parameters", "Resource"},
  };
  for (const auto& [t, base] : kBases) {
    if (t == type) return base;
  }
  if (fhir::is_resource_type(type)) return "DomainResource";
  return "Element";
}

bool is_of_type(const Value& item, const TypeSpec& spec) {
  if (item.kind == ValueKind::kTypeInfo) return false;
  if (!item.is_node()) {
    if (spec.ns != "System") return !spec.qualified && spec.name == "Quantity" && item.kind == ValueKind::kQuantity;
    switch (item.kind) {
      case ValueKind::kBoolean:
        return spec.name == "Boolean";
      case ValueKind::kInteger:
        return spec.name == "Integer";
      case ValueKind::kDecimal:
        return spec.name == "Decimal";
      case ValueKind::kString:
        return spec.name == "String";
      case ValueKind::kDate:
        return spec.name == "Date";
      case ValueKind::kDateTime:
        return spec.name == "DateTime";
      case ValueKind::kTime:
        return spec.name == "Time";
      case ValueKind::kQuantity:
        return spec.name == "Quantity";
      default:
        return false;
    }
  }
  if (spec.ns != "FHIR" || item.type.empty()) return false;
  for (std::string_view t = item.type; !t.empty(); t = fhir_base_type(t)) {
    if (t == spec.name) return true;
  }
  return false;
}

// ----------------------------------------------------------------------------------- System conversion
namespace {

std::optional<Decimal> json_decimal(const json::value& j) {
  if (j.is_int64()) return Decimal::from_int(j.get_int64());
  if (j.is_uint64()) return Decimal::parse(std::to_string(j.get_uint64()));
  if (j.is_double()) {
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, j.get_double());
    if (r.ec == std::errc()) {
      if (auto d = Decimal::parse(std::string_view(buf, static_cast<std::size_t>(r.ptr - buf)))) return d;
    }
    return Decimal::from_double(j.get_double());
  }
  if (j.is_string()) return Decimal::parse(j.get_string());
  return std::nullopt;
}

}  // namespace

Value to_system(const Value& v) {
  if (!v.is_node() || v.node == nullptr) return v;
  const json::value& j = *v.node;
  std::string_view t = v.type;
  if (j.is_object()) {
    bool quantity = false;
    for (std::string_view b = t; !b.empty(); b = fhir_base_type(b)) {
      if (b == "Quantity") quantity = true;
    }
    if (!quantity) return v;
    const json::object& o = j.get_object();
    const json::value* value = o.if_contains("value");
    if (value == nullptr) return v;
    auto d = json_decimal(*value);
    if (!d) return v;
    Quantity q{*d, "1"};
    const json::value* code = o.if_contains("code");
    const json::value* unit = o.if_contains("unit");
    const json::value* system = o.if_contains("system");
    bool ucum = system != nullptr && system->is_string() && system->get_string() == "http://unitsofmeasure.org";
    // A UCUM (or system-less) code wins; otherwise the human unit; otherwise any code.
    const bool code_first = code != nullptr && code->is_string() && (ucum || system == nullptr);
    const bool use_unit = !code_first && unit != nullptr && unit->is_string();
    if (use_unit) {
      q.unit = unit->get_string();
    } else if (code != nullptr && code->is_string()) {
      q.unit = code->get_string();
    }
    return Value::quantity(std::move(q));
  }
  if (t.empty()) {
    if (j.is_bool()) return Value::boolean(j.get_bool());
    if (j.is_int64()) return Value::integer(j.get_int64());
    if (j.is_string()) return Value::string(std::string(j.get_string()));
    if (j.is_number()) {
      if (auto d = json_decimal(j)) return Value::decimal(*d);
    }
    return v;
  }
  if (t == "boolean") return j.is_bool() ? Value::boolean(j.get_bool()) : v;
  if (t == "integer" || t == "positiveInt" || t == "unsignedInt" || t == "integer64") {
    if (j.is_int64()) return Value::integer(j.get_int64());
    if (auto d = json_decimal(j); d && d->to_int64()) return Value::integer(*d->to_int64());
    return v;
  }
  if (t == "decimal") {
    if (auto d = json_decimal(j)) return Value::decimal(*d);
    return v;
  }
  if (!j.is_string()) return v;
  std::string_view s = j.get_string();
  if (t == "date") {
    if (auto d = Temporal::parse_date(s)) return Value::temporal(*d);
    if (auto d = Temporal::parse_date_time(s)) return Value::temporal(*d);
  } else if (t == "dateTime" || t == "instant") {
    if (auto d = Temporal::parse_date_time(s)) return Value::temporal(*d);
  } else if (t == "time") {
    if (auto d = Temporal::parse_time(s)) return Value::temporal(*d);
  }
  return Value::string(std::string(s));
}

}  // namespace ucr::fhirpath
