#include "search/registry.hpp"

#include "fhir/definitions.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>

// Emitted by parameters_data.S (.incbin of data/fhir-r4/search-parameters.json).
extern "C" const char ucr_search_parameters_json[];
extern "C" const std::uint64_t ucr_search_parameters_json_size;

namespace ucr::search {
namespace {

namespace json = boost::json;

std::string key_of(std::string_view type, std::string_view code) {
  std::string k(type);
  k.push_back('\x1f');
  k.append(code);
  return k;
}

/// Marks the parameters of one resource type that read other parameters' rows (see
/// SearchParam::stored_as): those with the same expression as another (the first by code stores the
/// rows), and unions, whose expression's parts are exactly the union of the parts of parameters A,
/// B, ... of the same type, each a strict subset. Composites also need the same components.
/// References are left alone (includes and chains read their own rows).
void link_unions(std::vector<std::shared_ptr<SearchParam>>& params) {
  std::vector<std::vector<std::string>> parts;
  parts.reserve(params.size());
  for (const auto& sp : params) {
    auto p = union_parts(sp->expression);
    std::sort(p.begin(), p.end());
    p.erase(std::unique(p.begin(), p.end()), p.end());
    parts.push_back(std::move(p));
  }
  const auto same_components = [](const SearchParam& a, const SearchParam& b) {
    if (a.components.size() != b.components.size()) return false;
    for (std::size_t i = 0; i < a.components.size(); ++i) {
      if (a.components[i].type != b.components[i].type || a.components[i].text != b.components[i].text) return false;
    }
    return true;
  };
  const auto linkable = [](const SearchParam& p) {
    return p.compiled && p.type != ParamType::kReference && p.type != ParamType::kSpecial && p.code.front() != '_';
  };
  // Parameters with the same expression, type and components (R4 Patient name and phonetic, both
  // `Patient.name`) would store the same rows twice: the one with the first code stores them, and
  // the others read its rows.
  for (std::size_t i = 0; i < params.size(); ++i) {
    SearchParam& p = *params[i];
    if (!linkable(p)) continue;
    const SearchParam* first = &p;
    for (std::size_t j = 0; j < params.size(); ++j) {
      const SearchParam& q = *params[j];
      if (j != i && linkable(q) && q.type == p.type && parts[j] == parts[i] && same_components(p, q) &&
          q.code < first->code) {
        first = &q;
      }
    }
    if (first != &p) p.stored_as = {first->code};
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    SearchParam& p = *params[i];
    if (parts[i].size() < 2 || !linkable(p) || !p.stored_as.empty()) continue;
    std::vector<std::string> covered;
    std::vector<std::string> codes;
    for (std::size_t j = 0; j < params.size(); ++j) {
      const SearchParam& q = *params[j];
      // (A parameter reading another's identical rows is covered by that one.)
      if (j == i || q.type != p.type || !q.compiled || !q.stored_as.empty() || parts[j].size() >= parts[i].size() ||
          !same_components(p, q) ||
          !std::includes(parts[i].begin(), parts[i].end(), parts[j].begin(), parts[j].end())) {
        continue;
      }
      codes.push_back(q.code);
      covered.insert(covered.end(), parts[j].begin(), parts[j].end());
    }
    std::sort(covered.begin(), covered.end());
    covered.erase(std::unique(covered.begin(), covered.end()), covered.end());
    if (covered == parts[i]) p.stored_as = std::move(codes);
  }
  // A string parameter on a HumanName or Address beside string parameters on its parts
  // (Patient name = Patient.name, family = Patient.name.family, given = Patient.name.given; address
  // and address-city, -state, -postalcode, -country): the parts' values are stored once, under the
  // part's parameter, and the whole's own rows hold the rest. Two index rows fewer for a typical
  // Patient name, up to four for an address.
  static constexpr std::array<std::string_view, 11> kTextParts{
      "text", "family", "given", "prefix", "suffix", "line", "city", "district", "state", "postalCode", "country"};
  for (std::size_t i = 0; i < params.size(); ++i) {
    SearchParam& p = *params[i];
    if (p.type != ParamType::kString || !linkable(p) || !p.stored_as.empty() || parts[i].size() != 1) continue;
    std::vector<std::string> codes;
    std::vector<std::string> covered;
    for (std::size_t j = 0; j < params.size(); ++j) {
      const SearchParam& q = *params[j];
      if (j == i || q.type != ParamType::kString || !linkable(q) || !q.stored_as.empty() || parts[j].size() != 1) {
        continue;
      }
      const std::string& whole = parts[i].front();
      const std::string& part = parts[j].front();
      if (part.size() <= whole.size() + 1 || !part.starts_with(whole) || part[whole.size()] != '.') continue;
      const std::string_view field = std::string_view(part).substr(whole.size() + 1);
      if (std::find(kTextParts.begin(), kTextParts.end(), field) == kTextParts.end()) continue;
      if (std::find(covered.begin(), covered.end(), field) != covered.end()) continue;  // one stores it
      codes.push_back(q.code);
      covered.emplace_back(field);
    }
    if (codes.empty()) continue;
    p.stored_as = {p.code};
    p.stored_as.insert(p.stored_as.end(), codes.begin(), codes.end());
    p.covered_parts = std::move(covered);
  }
  // A parameter reading the rows of one with the same expression (phonetic, name) reads what that
  // one reads when it is stored in parts.
  for (auto& sp : params) {
    if (sp->stored_as.size() != 1 || !sp->stored_target.empty()) continue;
    const auto it =
        std::find_if(params.begin(), params.end(), [&](const auto& o) { return o->code == sp->stored_as.front(); });
    if (it != params.end() && !(*it)->covered_parts.empty()) sp->stored_as = (*it)->stored_as;
  }
  // A reference parameter that is exactly another one of the same type restricted to one target
  // type: `X.where(resolve() is T)` beside `X` (Observation patient and subject).
  constexpr std::string_view kWhere = ".where(resolve() is ";
  for (auto& sp : params) {
    SearchParam& p = *sp;
    if (p.type != ParamType::kReference || !p.compiled || !p.stored_as.empty() || p.expression.back() != ')') continue;
    const auto at = p.expression.rfind(kWhere);
    if (at == std::string::npos || at == 0) continue;
    const std::string base = p.expression.substr(0, at);
    const std::string target = p.expression.substr(at + kWhere.size(), p.expression.size() - at - kWhere.size() - 1);
    if (!fhir::is_resource_type(target) || union_parts(base).size() != 1) continue;
    const auto q = std::find_if(params.begin(), params.end(), [&](const auto& o) {
      return o.get() != sp.get() && o->type == ParamType::kReference && o->compiled && o->expression == base;
    });
    if (q == params.end()) continue;
    p.stored_as = {(*q)->code};
    p.stored_target = target;
  }
  // A constituent must itself be stored: drop links through another union (not in R4, but custom
  // definitions are not linked at all, so this only guards the rule).
  for (auto& sp : params) {
    for (const auto& code : sp->stored_as) {
      const auto it = std::find_if(params.begin(), params.end(), [&](const auto& o) { return o->code == code; });
      if (it != params.end() && !stores_own_rows(**it)) {
        sp->stored_as.clear();
        sp->stored_target.clear();
        sp->covered_parts.clear();
        break;
      }
    }
  }
}

std::string str(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

}  // namespace

ParamType param_type_of(std::string_view code) {
  if (code == "number") return ParamType::kNumber;
  if (code == "date") return ParamType::kDate;
  if (code == "string") return ParamType::kString;
  if (code == "token") return ParamType::kToken;
  if (code == "reference") return ParamType::kReference;
  if (code == "composite") return ParamType::kComposite;
  if (code == "quantity") return ParamType::kQuantity;
  if (code == "uri") return ParamType::kUri;
  return ParamType::kSpecial;
}

std::string_view param_type_name(ParamType t) {
  switch (t) {
    case ParamType::kNumber:
      return "number";
    case ParamType::kDate:
      return "date";
    case ParamType::kString:
      return "string";
    case ParamType::kToken:
      return "token";
    case ParamType::kReference:
      return "reference";
    case ParamType::kComposite:
      return "composite";
    case ParamType::kQuantity:
      return "quantity";
    case ParamType::kUri:
      return "uri";
    case ParamType::kSpecial:
      return "special";
  }
  return "special";
}

const Registry& Registry::r4() {
  static const Registry kRegistry = [] {
    Registry r;
    // Built per resource type first, so unions can be linked before the parameters become const.
    std::map<std::string, std::vector<std::shared_ptr<SearchParam>>, std::less<>> staged_params;
    const std::string_view text(ucr_search_parameters_json, ucr_search_parameters_json_size);
    const json::value doc = json::parse(json::string_view(text.data(), text.size()));
    const auto& root = doc.as_object();
    const std::vector<std::string>& all_types = fhir::resource_types();
    for (const auto& pv : root.at("parameters").as_array()) {
      const auto& p = pv.as_object();
      const std::string code = str(p, "code");
      const ParamType type = param_type_of(str(p, "type"));
      std::vector<std::string> targets;
      if (const auto* t = p.if_contains("target")) {
        for (const auto& x : t->as_array()) targets.emplace_back(x.as_string());
      }
      std::vector<Component> components;
      if (const auto* c = p.if_contains("component")) {
        for (const auto& x : c->as_array()) {
          const auto& co = x.as_object();
          Component comp;
          comp.code = str(co, "code");
          comp.type = param_type_of(str(co, "type"));
          comp.text = str(co, "expression");
          auto compiled = fhirpath::compile(comp.text);
          if (compiled) comp.expression = *compiled;
          components.push_back(std::move(comp));
        }
      }
      for (const auto& [base, expr_v] : p.at("expression").as_object()) {
        const std::string expr(expr_v.as_string());
        std::vector<std::string> bases;
        if (base == "Resource" || base == "DomainResource") {
          bases = all_types;
        } else {
          bases.emplace_back(base);
        }
        auto compiled = fhirpath::compile(expr);
        if (!compiled)
          r.failures_.push_back(fmt::format("{}.{}: {}", std::string_view(base), code, compiled.error().message()));
        for (const auto& b : bases) {
          // A specific definition wins over the generic Resource one (e.g. _id stays generic).
          auto& staged = staged_params[b];
          if (std::any_of(staged.begin(), staged.end(), [&](const auto& o) { return o->code == code; })) continue;
          auto sp = std::make_shared<SearchParam>();
          sp->code = code;
          sp->type = type;
          sp->expression = expr;
          if (compiled) sp->compiled = *compiled;
          sp->targets = targets;
          sp->components = components;
          staged.push_back(std::move(sp));
        }
      }
    }
    for (auto& [type, params] : staged_params) link_unions(params);
    for (auto& [type, params] : staged_params) {
      for (auto& sp : params) {
        auto k = key_of(type, sp->code);
        r.by_type_[type].push_back(sp.get());
        r.params_.emplace(std::move(k), std::move(sp));
      }
    }
    for (const auto& [type, params] : root.at("patientCompartment").as_object()) {
      auto& v = r.compartment_[std::string(type)];
      for (const auto& x : params.as_array()) v.emplace_back(x.as_string());
    }
    return r;
  }();
  return kRegistry;
}

bool is_triple_composite(const SearchParam& sp) {
  return sp.type == ParamType::kComposite && sp.components.size() == 3 && sp.components[0].type == ParamType::kToken &&
         sp.components[1].type == ParamType::kNumber && sp.components[2].type == ParamType::kNumber;
}

std::vector<std::string> union_parts(std::string_view expression) {
  std::vector<std::string> out;
  int depth = 0;
  bool quoted = false;
  std::size_t start = 0;
  const auto push = [&](std::size_t end) {
    std::string_view part = expression.substr(start, end - start);
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.front())) != 0) part.remove_prefix(1);
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back())) != 0) part.remove_suffix(1);
    out.emplace_back(part);
  };
  for (std::size_t i = 0; i < expression.size(); ++i) {
    const char c = expression[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '\'') {
        quoted = false;
      }
    } else if (c == '\'') {
      quoted = true;
    } else if (c == '(' || c == '[' || c == '{') {
      ++depth;
    } else if (c == ')' || c == ']' || c == '}') {
      --depth;
    } else if (c == '|' && depth == 0) {
      push(i);
      start = i + 1;
    }
  }
  push(expression.size());
  return out;
}

const SearchParam* Registry::find(std::string_view type, std::string_view code) const {
  auto it = params_.find(key_of(type, code));
  return it == params_.end() ? nullptr : it->second.get();
}

const std::vector<const SearchParam*>& Registry::for_type(std::string_view type) const {
  static const std::vector<const SearchParam*> kNone;
  auto it = by_type_.find(type);
  return it == by_type_.end() ? kNone : it->second;
}

const std::vector<std::string>& Registry::patient_compartment_params(std::string_view type) const {
  static const std::vector<std::string> kNone;
  auto it = compartment_.find(type);
  return it == compartment_.end() ? kNone : it->second;
}

std::vector<std::string> Registry::patient_compartment_types() const {
  std::vector<std::string> out;
  out.reserve(compartment_.size());
  for (const auto& [type, params] : compartment_) out.push_back(type);
  return out;
}

core::Result<CustomParam> Registry::custom_param(const json::object& sp) {
  const auto invalid = [](std::string why, const std::string& path) {
    return core::Error::invalid(std::move(why), "SearchParameter." + path);
  };
  CustomParam c;
  c.id = str(sp, "id");
  c.url = str(sp, "url");
  if (str(sp, "status") == "retired") return invalid("a retired SearchParameter defines no parameter", "status");
  c.code = str(sp, "code");
  if (c.code.empty()) return invalid("a SearchParameter needs a code (the parameter name)", "code");
  if (c.code.front() == '_') return invalid("codes starting with '_' are reserved for the specification", "code");
  for (char ch : c.code) {
    if (std::isalnum(static_cast<unsigned char>(ch)) == 0 && ch != '-' && ch != '_' && ch != '.') {
      return invalid(fmt::format("'{}' is not a usable parameter name (letters, digits, '-', '_', '.')", c.code),
                     "code");
    }
  }
  const auto* base = sp.if_contains("base");
  if (base == nullptr || !base->is_array() || base->get_array().empty()) {
    return invalid("a SearchParameter needs at least one base resource type", "base");
  }
  for (std::size_t i = 0; i < base->get_array().size(); ++i) {
    const auto& b = base->get_array()[i];
    if (!b.is_string() || !fhir::is_resource_type(b.get_string())) {
      return invalid("base must name R4 resource types", fmt::format("base[{}]", i));
    }
    c.bases.emplace_back(b.get_string());
  }
  const std::string type = str(sp, "type");
  c.type = param_type_of(type);
  if (c.type == ParamType::kComposite || c.type == ParamType::kSpecial) {
    return invalid(fmt::format("custom parameters of type '{}' are not supported (number, date, string, token, "
                               "reference, quantity and uri are)",
                               type),
                   "type");
  }
  c.expression = str(sp, "expression");
  if (c.expression.empty()) return invalid("a SearchParameter needs a FHIRPath expression", "expression");
  if (auto compiled = fhirpath::compile(c.expression); !compiled) {
    return invalid(fmt::format("the expression does not compile: {}", compiled.error().message()), "expression");
  }
  if (const auto* t = sp.if_contains("target"); t != nullptr && t->is_array()) {
    for (const auto& x : t->get_array()) {
      if (x.is_string()) c.targets.emplace_back(x.get_string());
    }
  }
  return c;
}

core::Result<std::shared_ptr<const Registry>> Registry::with_custom(const std::vector<CustomParam>& custom) const {
  auto r = std::shared_ptr<Registry>(new Registry(*this));
  for (const auto& c : custom) {
    auto compiled = fhirpath::compile(c.expression);
    if (!compiled) return core::Error::invalid(compiled.error().message(), "expression");
    for (const auto& b : c.bases) {
      auto k = key_of(b, c.code);
      if (r->params_.count(k) != 0) {
        const bool ours = std::any_of(r->custom_.begin(), r->custom_.end(), [&](const CustomParam& o) {
          return o.code == c.code && std::find(o.bases.begin(), o.bases.end(), b) != o.bases.end();
        });
        return core::Error::make(422, "duplicate",
                                 fmt::format("{} already has a search parameter '{}'{}", b, c.code,
                                             ours ? " (defined by another SearchParameter on this server)" : " (R4)"));
      }
      auto sp = std::make_shared<SearchParam>();
      sp->code = c.code;
      sp->type = c.type;
      sp->expression = c.expression;
      sp->compiled = *compiled;
      sp->targets = c.targets;
      r->by_type_[b].push_back(sp.get());
      r->params_.emplace(std::move(k), std::move(sp));
    }
    r->custom_.push_back(c);
  }
  return std::shared_ptr<const Registry>(std::move(r));
}

Catalog::Catalog() : current_(std::shared_ptr<const Registry>(std::shared_ptr<const Registry>(), &Registry::r4())) {}

std::shared_ptr<const Registry> Catalog::current() const {
  std::lock_guard lock(mu_);
  return current_;
}

void Catalog::set(std::shared_ptr<const Registry> registry) {
  std::lock_guard lock(mu_);
  current_ = std::move(registry);
}

}  // namespace ucr::search
