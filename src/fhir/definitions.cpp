#include "fhir/definitions.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <utility>

// Emitted by definitions_data.S (.incbin of data/fhir-r4/definitions.json).
extern "C" const char ucr_fhir_definitions_json[];
extern "C" const std::uint64_t ucr_fhir_definitions_json_size;

namespace ucr::fhir {
namespace {

namespace json = boost::json;

constexpr std::array<std::pair<std::string_view, Primitive>, 20> kPrimitives{{
    {"boolean", Primitive::kBoolean},
    {"integer", Primitive::kInteger},
    {"positiveInt", Primitive::kPositiveInt},
    {"unsignedInt", Primitive::kUnsignedInt},
    {"decimal", Primitive::kDecimal},
    {"string", Primitive::kString},
    {"markdown", Primitive::kMarkdown},
    {"code", Primitive::kCode},
    {"id", Primitive::kId},
    {"uri", Primitive::kUri},
    {"url", Primitive::kUrl},
    {"canonical", Primitive::kCanonical},
    {"oid", Primitive::kOid},
    {"uuid", Primitive::kUuid},
    {"date", Primitive::kDate},
    {"dateTime", Primitive::kDateTime},
    {"instant", Primitive::kInstant},
    {"time", Primitive::kTime},
    {"base64Binary", Primitive::kBase64Binary},
    {"xhtml", Primitive::kXhtml},
}};

Primitive primitive_of(std::string_view code) {
  for (const auto& [name, p] : kPrimitives) {
    if (name == code) return p;
  }
  return Primitive::kNone;
}

[[noreturn]] void corrupt(std::string_view what) {
  std::fprintf(stderr, "ucr::fhir: embedded definitions.json is corrupt: %.*s\n", static_cast<int>(what.size()),
               what.data());
  std::abort();
}

std::string_view str(const json::value* v) {
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}

class Definitions {
 public:
  Definitions() {
    json::error_code ec;
    json::value doc = json::parse(
        json::string_view(ucr_fhir_definitions_json, static_cast<std::size_t>(ucr_fhir_definitions_json_size)), ec);
    if (ec || !doc.is_object()) corrupt("not a JSON object");
    const json::object& root = doc.get_object();
    version_ = std::string(str(root.if_contains("version")));
    load_value_sets(root);
    load_resources(root);
    load_types(root);
  }

  std::string version_;
  std::vector<std::string> resource_list_;
  StringSet resource_set_;
  std::unordered_map<std::string, TypeDefinition, StringHash, std::equal_to<>> types_;
  std::unordered_map<std::string, ElementDefinition*, StringHash, std::equal_to<>> elements_by_path_;
  std::unordered_map<std::string, ValueSetCodes, StringHash, std::equal_to<>> value_sets_;

 private:
  std::deque<ElementDefinition> elements_;
  std::unordered_map<std::string, std::string, StringHash, std::equal_to<>> json_alias_;  // SimpleQuantity->Quantity

  void load_value_sets(const json::object& root) {
    const json::value* vs = root.if_contains("valuesets");
    if (vs == nullptr || !vs->is_object()) corrupt("valuesets");
    for (const auto& [url, systems] : vs->get_object()) {
      ValueSetCodes& codes = value_sets_[std::string(url)];
      codes.url = std::string(url);
      if (!systems.is_object()) corrupt("valueset entry");
      for (const auto& [system, list] : systems.get_object()) {
        StringSet& set = codes.by_system[std::string(system)];
        if (!list.is_array()) corrupt("valueset codes");
        for (const json::value& code : list.get_array()) {
          set.emplace(str(&code));
          codes.all_codes.emplace(str(&code));
        }
      }
    }
  }

  void load_resources(const json::object& root) {
    const json::value* list = root.if_contains("resources");
    if (list == nullptr || !list->is_array()) corrupt("resources");
    for (const json::value& name : list->get_array()) {
      resource_list_.emplace_back(str(&name));
      resource_set_.emplace(str(&name));
    }
    std::sort(resource_list_.begin(), resource_list_.end());
  }

  static std::string_view parent_of(std::string_view path) {
    auto dot = path.rfind('.');
    return dot == std::string_view::npos ? std::string_view{} : path.substr(0, dot);
  }

  TypeDefinition& node(std::string_view name) {
    auto it = types_.find(name);
    if (it != types_.end()) return it->second;
    TypeDefinition& def = types_[std::string(name)];
    def.name = std::string(name);
    return def;
  }

  void load_types(const json::object& root) {
    const json::value* types = root.if_contains("types");
    if (types == nullptr || !types->is_object()) corrupt("types");
    // Pass 1: one node per type and per element path that has children; elements created.
    std::vector<std::pair<ElementDefinition*, const json::object*>> pending;
    for (const auto& [type_name, type] : types->get_object()) {
      if (!type.is_object()) corrupt("type entry");
      const json::object& t = type.get_object();
      TypeDefinition& def = node(type_name);
      def.is_resource = str(t.if_contains("kind")) == "resource";
      if (auto alias = str(t.if_contains("json")); !alias.empty()) {
        json_alias_[std::string(type_name)] = std::string(alias);
      }
      const json::value* elements = t.if_contains("elements");
      if (elements == nullptr || !elements->is_array()) corrupt("elements");
      for (const json::value& e : elements->get_array()) {
        if (!e.is_object()) corrupt("element");
        const json::object& eo = e.get_object();
        ElementDefinition& el = elements_.emplace_back();
        el.path = std::string(str(eo.if_contains("p")));
        if (const json::value* n = eo.if_contains("n"); n != nullptr && n->is_int64()) {
          el.min = static_cast<std::uint32_t>(n->get_int64());
        }
        el.summary = eo.contains("s");
        if (const json::value* x = eo.if_contains("x"); x != nullptr) {
          std::string_view max = str(x);
          el.max = max == "*" ? ElementDefinition::kUnbounded
                              : static_cast<std::uint32_t>(std::atoi(std::string(max).c_str()));
        }
        std::string_view last = el.path;
        last = last.substr(last.rfind('.') + 1);
        if (last.size() > 3 && last.ends_with("[x]")) {
          el.is_choice = true;
          last.remove_suffix(3);
        }
        el.name = std::string(last);
        node(parent_of(el.path));
        elements_by_path_[el.path] = &el;
        pending.emplace_back(&el, &eo);
      }
    }
    // Pass 2: resolve types, children, bindings and JSON names.
    for (auto& [el, eo] : pending) {
      if (auto it = types_.find(el->path); it != types_.end()) el->children = &it->second;
      if (const json::value* c = eo->if_contains("c")) {
        auto it = types_.find(str(c));
        if (it == types_.end()) corrupt("contentReference");
        el->children = &it->second;
        el->types.push_back(ElementType{.code = "BackboneElement", .json_suffix = "BackboneElement"});
      }
      if (const json::value* t = eo->if_contains("t"); t != nullptr && t->is_array()) {
        for (const json::value& tv : t->get_array()) el->types.push_back(resolve_type(str(&tv)));
      }
      if (el->types.empty()) corrupt(el->path);
      if (const json::value* b = eo->if_contains("b")) {
        auto it = value_sets_.find(str(b));
        if (it != value_sets_.end()) el->binding = &it->second;
      }
      TypeDefinition& parent = node(parent_of(el->path));
      parent.elements.push_back(el);
      if (el->min > 0) parent.required.push_back(el);
      if (el->is_choice) {
        for (std::size_t i = 0; i < el->types.size(); ++i) {
          el->json_names.push_back(el->name + el->types[i].json_suffix);
          parent.by_json_name[el->json_names.back()] = ChildLookup{el, static_cast<std::uint32_t>(i)};
        }
      } else {
        el->json_names.push_back(el->name);
        parent.by_json_name[el->name] = ChildLookup{el, 0};
      }
    }
  }

  ElementType resolve_type(std::string_view spec) {
    ElementType type;
    std::string_view code = spec;
    if (auto paren = spec.find('('); paren != std::string_view::npos && spec.ends_with(')')) {
      code = spec.substr(0, paren);
      std::string_view targets = spec.substr(paren + 1, spec.size() - paren - 2);
      bool any = false;
      while (!targets.empty()) {
        auto bar = targets.find('|');
        std::string_view target = targets.substr(0, bar);
        if (target == "Resource" || target == "DomainResource") any = true;
        type.target_types.emplace_back(target);
        targets = bar == std::string_view::npos ? std::string_view{} : targets.substr(bar + 1);
      }
      if (any) type.target_types.clear();
    }
    type.code = std::string(code);
    type.primitive = primitive_of(code);
    if (type.primitive == Primitive::kNone) {
      if (code == "Resource" || code == "DomainResource" || resource_set_.contains(code)) {
        type.is_resource = true;
      } else if (auto it = types_.find(code); it != types_.end()) {
        type.definition = &it->second;
      }
    }
    std::string_view json_name = code;
    if (auto it = json_alias_.find(code); it != json_alias_.end()) json_name = it->second;
    type.json_suffix = std::string(json_name);
    if (!type.json_suffix.empty() && type.json_suffix[0] >= 'a' && type.json_suffix[0] <= 'z') {
      type.json_suffix[0] = static_cast<char>(type.json_suffix[0] - 'a' + 'A');
    }
    return type;
  }
};

const Definitions& defs() {
  static const Definitions kInstance;
  return kInstance;
}

}  // namespace

std::string_view primitive_name(Primitive p) {
  for (const auto& [name, prim] : kPrimitives) {
    if (prim == p) return name;
  }
  return {};
}

bool ValueSetCodes::contains(std::string_view system, std::string_view code) const {
  auto it = by_system.find(system);
  return it != by_system.end() && it->second.find(code) != it->second.end();
}

std::string_view fhir_version() { return defs().version_; }

bool is_resource_type(std::string_view name) { return defs().resource_set_.contains(name); }

const std::vector<std::string>& resource_types() { return defs().resource_list_; }

const TypeDefinition* find_type(std::string_view name) {
  const auto& types = defs().types_;
  auto it = types.find(name);
  return it == types.end() ? nullptr : &it->second;
}

const ElementDefinition* find_element(std::string_view path) {
  const auto& elements = defs().elements_by_path_;
  auto it = elements.find(path);
  return it == elements.end() ? nullptr : it->second;
}

const ValueSetCodes* find_value_set(std::string_view url) {
  if (auto bar = url.find('|'); bar != std::string_view::npos) url = url.substr(0, bar);
  const auto& sets = defs().value_sets_;
  auto it = sets.find(url);
  return it == sets.end() ? nullptr : &it->second;
}

void load_definitions() { (void)defs(); }

}  // namespace ucr::fhir
