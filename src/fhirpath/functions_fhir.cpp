// Type functions (is, as, ofType, type) and the FHIR additions: extension(), hasValue(), getValue(),
// resolve(), memberOf(), conformsTo(), htmlChecks().
#include "fhirpath/evaluator.hpp"
#include "fhirpath/functions.hpp"
#include "fhirpath/model.hpp"

#include <boost/json.hpp>

namespace ucr::fhirpath {
namespace json = boost::json;
namespace {

using R = core::Result<Collection>;

R fn_is(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(v, singleton(ev, call, in));
  if (v == nullptr) return Collection{};
  return Collection{Value::boolean(is_of_type(*v, call.type))};
}

R fn_as(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(v, singleton(ev, call, in));
  if (v == nullptr || !is_of_type(*v, call.type)) return Collection{};
  return Collection{*v};
}

R fn_of_type(Evaluator&, const Node& call, const Collection& in, const Scope&) {
  Collection out;
  for (const Value& v : in) {
    if (is_of_type(v, call.type)) out.push_back(v);
  }
  return out;
}

R fn_type(Evaluator&, const Node&, const Collection& in, const Scope&) {
  Collection out;
  for (const Value& v : in) {
    std::string full = type_name(v);
    auto dot = full.find('.');
    out.push_back(Value::type_info(full.substr(0, dot), full.substr(dot + 1)));
  }
  return out;
}

R fn_extension(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(uc, ev.arg(call, 0, scope));
  UCR_FP_TRY(u, singleton(ev, *call.args[0], uc));
  if (u == nullptr) return Collection{};
  auto url = string_value(to_system(*u));
  if (!url) return ev.error(*call.args[0], "extension() needs a url string");
  Collection exts, out;
  for (const Value& v : in) navigate(v, "extension", exts);
  for (const Value& e : exts) {
    if (e.node == nullptr || !e.node->is_object()) continue;
    const json::value* eu = e.node->get_object().if_contains("url");
    if (eu != nullptr && eu->is_string() && eu->get_string() == *url) out.push_back(e);
  }
  return out;
}

bool has_value(const Value& v) {
  if (!v.is_node()) return true;
  return v.node != nullptr && !v.node->is_object() && !v.node->is_array() && !v.node->is_null();
}

R fn_has_value(Evaluator&, const Node&, const Collection& in, const Scope&) {
  return Collection{Value::boolean(in.size() == 1 && has_value(in.front()))};
}

R fn_get_value(Evaluator&, const Node&, const Collection& in, const Scope&) {
  if (in.size() != 1 || !has_value(in.front())) return Collection{};
  return Collection{to_system(in.front())};
}

const json::value* find_contained(const json::value* resource, std::string_view id) {
  if (resource == nullptr || !resource->is_object()) return nullptr;
  const json::value* contained = resource->get_object().if_contains("contained");
  if (contained == nullptr || !contained->is_array()) return nullptr;
  for (const json::value& c : contained->get_array()) {
    const json::value* cid = c.is_object() ? c.get_object().if_contains("id") : nullptr;
    if (cid != nullptr && cid->is_string() && cid->get_string() == id) return &c;
  }
  return nullptr;
}

/// "Type/id" at the end of a reference (ignoring a trailing _history part).
std::pair<std::string_view, std::string_view> type_and_id(std::string_view ref) {
  if (auto h = ref.find("/_history/"); h != std::string_view::npos) ref = ref.substr(0, h);
  auto slash = ref.rfind('/');
  if (slash == std::string_view::npos || slash == 0) return {};
  std::string_view id = ref.substr(slash + 1);
  std::string_view rest = ref.substr(0, slash);
  auto prev = rest.rfind('/');
  std::string_view type = prev == std::string_view::npos ? rest : rest.substr(prev + 1);
  if (!fhir::is_resource_type(type)) return {};
  return {type, id};
}

const json::value* find_in_bundle(const json::value* bundle, std::string_view ref) {
  if (bundle == nullptr || !bundle->is_object()) return nullptr;
  const json::object& b = bundle->get_object();
  const json::value* rt = b.if_contains("resourceType");
  const json::value* entries = b.if_contains("entry");
  if (rt == nullptr || !rt->is_string() || rt->get_string() != "Bundle" || entries == nullptr || !entries->is_array()) {
    return nullptr;
  }
  auto [type, id] = type_and_id(ref);
  for (const json::value& e : entries->get_array()) {
    if (!e.is_object()) continue;
    const json::value* res = e.get_object().if_contains("resource");
    if (res == nullptr || !res->is_object()) continue;
    const json::value* full = e.get_object().if_contains("fullUrl");
    if (full != nullptr && full->is_string() && full->get_string() == ref) return res;
    if (!type.empty()) {
      const json::value* rtype = res->get_object().if_contains("resourceType");
      const json::value* rid = res->get_object().if_contains("id");
      if (rtype != nullptr && rid != nullptr && rtype->is_string() && rid->is_string() && rtype->get_string() == type &&
          rid->get_string() == id) {
        return res;
      }
    }
  }
  return nullptr;
}

R fn_resolve(Evaluator& ev, const Node&, const Collection& in, const Scope&) {
  Collection out;
  for (const Value& v : in) {
    std::string_view ref;
    if (v.is_node() && v.node != nullptr) {
      if (v.node->is_object()) {
        const json::value* r = v.node->get_object().if_contains("reference");
        if (r != nullptr && r->is_string()) ref = r->get_string();
      } else if (v.node->is_string()) {
        ref = v.node->get_string();
      }
    } else if (v.kind == ValueKind::kString) {
      ref = v.as_string();
    }
    if (ref.empty()) continue;
    const json::value* target = nullptr;
    if (ref.starts_with('#')) {
      target = find_contained(ev.context().resource, ref.substr(1));
      if (target == nullptr) target = find_contained(ev.root_resource(), ref.substr(1));
    } else {
      target = find_in_bundle(ev.root_resource(), ref);
    }
    if (target == nullptr && ev.context().resolver) target = ev.context().resolver(ref);
    if (target != nullptr) out.push_back(resource_value(*target));
  }
  return out;
}

std::optional<bool> builtin_member_of(const Value& v, std::string_view url) {
  if (auto bar = url.find('|'); bar != std::string_view::npos) url = url.substr(0, bar);
  const fhir::ValueSetCodes* vs = fhir::find_value_set(url);
  if (vs == nullptr) return std::nullopt;
  auto coding_in = [&](const json::object& c) {
    const json::value* code = c.if_contains("code");
    const json::value* system = c.if_contains("system");
    if (code == nullptr || !code->is_string()) return false;
    if (system != nullptr && system->is_string()) return vs->contains(system->get_string(), code->get_string());
    return vs->contains_code(code->get_string());
  };
  if (auto s = string_value(to_system(v))) return vs->contains_code(*s);
  if (!v.is_node() || v.node == nullptr || !v.node->is_object()) return std::nullopt;
  const json::object& o = v.node->get_object();
  if (const json::value* codings = o.if_contains("coding"); codings != nullptr && codings->is_array()) {
    for (const json::value& c : codings->get_array()) {
      if (c.is_object() && coding_in(c.get_object())) return true;
    }
    return false;
  }
  return coding_in(o);
}

R fn_member_of(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(uc, ev.arg(call, 0, scope));
  UCR_FP_TRY(u, singleton(ev, *call.args[0], uc));
  UCR_FP_TRY(item, singleton(ev, call, in));
  if (u == nullptr || item == nullptr) return Collection{};
  auto url = string_value(to_system(*u));
  if (!url) return ev.error(*call.args[0], "memberOf() needs a value set url");
  std::optional<bool> r = ev.context().member_of ? ev.context().member_of(*item, *url) : builtin_member_of(*item, *url);
  if (!r) return Collection{};
  return Collection{Value::boolean(*r)};
}

R fn_conforms_to(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(uc, ev.arg(call, 0, scope));
  UCR_FP_TRY(u, singleton(ev, *call.args[0], uc));
  UCR_FP_TRY(item, singleton(ev, call, in));
  if (u == nullptr || item == nullptr) return Collection{};
  auto url = string_value(to_system(*u));
  constexpr std::string_view kBase = "http://hl7.org/fhir/StructureDefinition/";
  if (url && url->starts_with(kBase)) {
    if (auto spec = resolve_type("FHIR", std::string_view(*url).substr(kBase.size()))) {
      return Collection{Value::boolean(is_of_type(*item, *spec))};
    }
  }
  return ev.error(call, "conformsTo() supports only the core R4 StructureDefinitions, not '" + url.value_or("") + "'");
}

R fn_html_checks(Evaluator&, const Node&, const Collection&, const Scope&) { return Collection{Value::boolean(true)}; }

R fn_unsupported(Evaluator& ev, const Node& call, const Collection&, const Scope&) {
  return ev.error(call, "function '" + call.name + "' is not supported");
}

constexpr FunctionDef kFunctions[] = {
    {"is", fn_is, 1, 1, true},
    {"as", fn_as, 1, 1, true},
    {"ofType", fn_of_type, 1, 1, true},
    {"type", fn_type, 0, 0},
    {"extension", fn_extension, 1, 1},
    {"hasValue", fn_has_value, 0, 0},
    {"getValue", fn_get_value, 0, 0},
    {"resolve", fn_resolve, 0, 0},
    {"memberOf", fn_member_of, 1, 1},
    {"conformsTo", fn_conforms_to, 1, 1},
    {"htmlChecks", fn_html_checks, 0, 0},
    {"htmlChecks2", fn_html_checks, 0, 0},
    {"subsumes", fn_unsupported, 1, 1},
    {"subsumedBy", fn_unsupported, 1, 1},
    {"elementDefinition", fn_unsupported, 0, 0},
    {"slice", fn_unsupported, 2, 2},
    {"checkModifiers", fn_unsupported, 1, 1},
};

}  // namespace

std::span<const FunctionDef> fhir_functions() { return kFunctions; }

}  // namespace ucr::fhirpath
