#include "search/query.hpp"

#include "core/ids.hpp"
#include "fhir/definitions.hpp"
#include "search/index.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <charconv>
#include <cmath>

namespace ucr::search {
namespace {

core::Error bad_param(const std::string& name, const std::string& why) {
  return core::Error::invalid(fmt::format("search parameter '{}': {}", name, why), name);
}

/// An error inside a chain, reported against the whole parameter the client sent.
core::Error in_chain(core::Error e, const std::string& name) {
  for (auto& issue : e.issues) issue.expression = name;
  return e;
}

std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out.push_back(s[i]);
  }
  return out;
}

/// Position of the first '|' not escaped with a backslash.
std::size_t find_bar(std::string_view s) {
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\') {
      ++i;
    } else if (s[i] == '|') {
      return i;
    }
  }
  return std::string_view::npos;
}

Prefix take_prefix(std::string_view& v) {
  static constexpr std::array<std::pair<std::string_view, Prefix>, 9> kPrefixes = {{{"eq", Prefix::kEq},
                                                                                    {"ne", Prefix::kNe},
                                                                                    {"gt", Prefix::kGt},
                                                                                    {"lt", Prefix::kLt},
                                                                                    {"ge", Prefix::kGe},
                                                                                    {"le", Prefix::kLe},
                                                                                    {"sa", Prefix::kSa},
                                                                                    {"eb", Prefix::kEb},
                                                                                    {"ap", Prefix::kAp}}};
  if (v.size() > 2 && (std::isdigit(static_cast<unsigned char>(v[2])) != 0 || v[2] == '-')) {
    for (const auto& [text, p] : kPrefixes) {
      if (v.substr(0, 2) == text) {
        v.remove_prefix(2);
        return p;
      }
    }
  }
  return Prefix::kEq;
}

bool parse_number(std::string_view text, double& value, double& low, double& high) {
  if (text.empty()) return false;
  std::string s(text);
  char* end = nullptr;
  value = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || !std::isfinite(value)) return false;
  // Precision implied by the digits written (R4 search.html#number): 100 covers [99.5, 100.5).
  const auto e = s.find_first_of("eE");
  const std::string mantissa = s.substr(0, e);
  const auto dot = mantissa.find('.');
  int decimals = dot == std::string::npos ? 0 : static_cast<int>(mantissa.size() - dot - 1);
  int exponent = 0;
  if (e != std::string::npos) exponent = std::atoi(s.c_str() + e + 1);
  const double half = 0.5 * std::pow(10.0, exponent - decimals);
  low = value - half;
  high = value + half;
  return true;
}

/// Fills the value part of `c` from the text of one OR alternative.
core::Result<void> parse_value(Condition& c, const std::string& name, std::string_view raw) {
  if (c.modifier == "missing") {
    if (raw != "true" && raw != "false") return bad_param(name, ":missing takes true or false");
    c.missing = raw == "true";
    return core::ok();
  }
  switch (c.type) {
    case ParamType::kString: {
      c.text = unescape(raw);
      if (c.modifier != "exact") c.text = normalize_string(c.text);
      if (!c.modifier.empty() && c.modifier != "exact" && c.modifier != "contains") {
        return bad_param(name, fmt::format("modifier ':{}' does not apply to a string parameter", c.modifier));
      }
      return core::ok();
    }
    case ParamType::kToken: {
      if (c.modifier == "text") {
        c.text = normalize_string(unescape(raw));
        return core::ok();
      }
      if (c.modifier == "below" || c.modifier == "above") {
        return bad_param(name, fmt::format("':{}' needs code-system hierarchies (SNOMED CT subsumption), which this "
                                           "server has not loaded; search with :in and a ValueSet instead",
                                           c.modifier));
      }
      if (!c.modifier.empty() && c.modifier != "not" && c.modifier != "of-type") {
        return bad_param(name, fmt::format("modifier ':{}' is not supported on a token parameter", c.modifier));
      }
      if (c.modifier == "of-type") {  // Identifier type system|type code|value, all three required
        const auto bar = find_bar(raw);
        const auto bar2 = bar == std::string_view::npos ? bar : find_bar(raw.substr(bar + 1));
        if (bar2 == std::string_view::npos || bar2 == 0 || bar + 1 + bar2 + 1 >= raw.size()) {
          return bad_param(name, ":of-type takes type-system|type-code|value");
        }
        c.system = unescape(raw.substr(0, bar));
        c.code = unescape(raw.substr(bar + 1, bar2)) + "|" + unescape(raw.substr(bar + 1 + bar2 + 1));
        return core::ok();
      }
      const auto bar = find_bar(raw);
      if (bar == std::string_view::npos) {
        c.code = unescape(raw);
      } else {
        c.system = unescape(raw.substr(0, bar));
        if (bar + 1 < raw.size()) c.code = unescape(raw.substr(bar + 1));
      }
      return core::ok();
    }
    case ParamType::kReference: {
      if (!c.modifier.empty() && c.modifier != "identifier" && !fhir::is_resource_type(c.modifier)) {
        return bad_param(name, fmt::format("modifier ':{}' does not apply to a reference parameter", c.modifier));
      }
      const std::string v = unescape(raw);
      if (c.modifier == "identifier") {
        const auto bar = find_bar(raw);
        if (bar == std::string_view::npos) {
          c.code = v;
        } else {
          c.system = unescape(raw.substr(0, bar));
          c.code = unescape(raw.substr(bar + 1));
        }
        return core::ok();
      }
      std::string_view path = v;
      if (const auto h = path.find("/_history/"); h != std::string_view::npos) path = path.substr(0, h);
      const auto slash = path.rfind('/');
      if (slash == std::string_view::npos) {
        c.target_id = std::string(path);
        if (!c.modifier.empty() && fhir::is_resource_type(c.modifier)) c.target_type = c.modifier;
      } else {
        const auto prev = path.rfind('/', slash - 1);
        const std::string_view type = path.substr(prev == std::string_view::npos ? 0 : prev + 1,
                                                  slash - (prev == std::string_view::npos ? 0 : prev + 1));
        if (!fhir::is_resource_type(type)) {
          c.text = v;  // an absolute URL that is not Type/id: compare as written
        } else {
          c.target_type = type;
          c.target_id = std::string(path.substr(slash + 1));
        }
      }
      if (c.target_id.empty() && c.text.empty()) return bad_param(name, "a reference needs an id or Type/id");
      return core::ok();
    }
    case ParamType::kDate: {
      c.prefix = take_prefix(raw);
      if (!date_range(raw, c.low, c.high)) {
        return bad_param(name, fmt::format("'{}' is not a FHIR date, dateTime or instant", raw));
      }
      return core::ok();
    }
    case ParamType::kNumber: {
      c.prefix = take_prefix(raw);
      if (!parse_number(raw, c.number, c.number_low, c.number_high)) {
        return bad_param(name, fmt::format("'{}' is not a number", raw));
      }
      return core::ok();
    }
    case ParamType::kQuantity: {
      c.prefix = take_prefix(raw);
      const auto bar = find_bar(raw);
      const std::string_view number = raw.substr(0, bar);
      if (!parse_number(number, c.number, c.number_low, c.number_high)) {
        return bad_param(name, fmt::format("'{}' is not a number", number));
      }
      if (bar != std::string_view::npos) {
        const std::string_view rest = raw.substr(bar + 1);
        const auto bar2 = find_bar(rest);
        if (bar2 == std::string_view::npos) return bad_param(name, "a quantity is number|system|code");
        if (bar2 > 0) c.system = unescape(rest.substr(0, bar2));
        if (bar2 + 1 < rest.size()) c.code = unescape(rest.substr(bar2 + 1));
      }
      return core::ok();
    }
    case ParamType::kUri: {
      if (!c.modifier.empty() && c.modifier != "below" && c.modifier != "above") {
        return bad_param(name, fmt::format("modifier ':{}' does not apply to a uri parameter", c.modifier));
      }
      c.text = unescape(raw);
      return core::ok();
    }
    default:
      return bad_param(name, "this parameter type cannot be searched yet");
  }
}

/// Parses `name` (with modifiers and chains) and `value` into an OR group on resource type `type`.
core::Result<Filter> parse_filter(const Registry& registry, std::string_view type, const std::string& name,
                                  std::string_view value, int depth) {
  if (depth > 4) return bad_param(name, "chains are limited to 4 levels");
  Filter f;
  // _list=42: members of List/42 (R4 search.html#list), the reverse chain _has:List:item:_id=42.
  // Functional lists ($current-problems, ...) are not kept by this server.
  if (name == "_list") {
    for (const auto& id : split_values(value)) {
      if (!id.empty() && id.front() == '$')
        return bad_param(name, fmt::format("functional list '{}' is not supported", id));
      if (!core::is_valid_id(id)) return bad_param(name, fmt::format("'{}' is not a List id", id));
    }
    auto chained = parse_filter(registry, "List", "_id", value, depth + 1);
    if (!chained) return in_chain(chained.error(), name);
    Condition c;
    c.type = ParamType::kReference;
    c.param = "item";
    c.reverse = true;
    c.chain_type = "List";
    c.chain = std::make_shared<Filter>(std::move(*chained));
    f.any_of.push_back(std::move(c));
    return f;
  }
  // _has:Observation:patient:code=x (reverse chaining)
  if (name.rfind("_has:", 0) == 0) {
    const std::string rest = name.substr(5);
    const auto c1 = rest.find(':');
    const auto c2 = c1 == std::string::npos ? std::string::npos : rest.find(':', c1 + 1);
    if (c2 == std::string::npos) return bad_param(name, "_has needs _has:Type:reference:parameter");
    const std::string src_type = rest.substr(0, c1);
    const std::string ref = rest.substr(c1 + 1, c2 - c1 - 1);
    const std::string inner = rest.substr(c2 + 1);
    if (!fhir::is_resource_type(src_type)) return bad_param(name, fmt::format("'{}' is not a resource type", src_type));
    const SearchParam* sp = registry.find(src_type, ref);
    if (sp == nullptr || sp->type != ParamType::kReference) {
      return bad_param(name, fmt::format("'{}' is not a reference parameter of {}", ref, src_type));
    }
    auto chained = parse_filter(registry, src_type, inner, value, depth + 1);
    if (!chained) return in_chain(chained.error(), name);
    Condition c;
    c.type = ParamType::kReference;
    // A restricted parameter (Observation patient) refers to its one target type only: to this
    // type through the other parameter's rows, to any other through none.
    c.param = !sp->stored_target.empty() && sp->stored_target == type ? sp->stored_as.front() : ref;
    c.reverse = true;
    c.chain_type = src_type;
    c.chain = std::make_shared<Filter>(std::move(*chained));
    f.any_of.push_back(std::move(c));
    return f;
  }
  // subject:Patient.name=x or subject.name=x (chaining)
  if (const auto dot = name.find('.'); dot != std::string::npos) {
    std::string head = name.substr(0, dot);
    std::string modifier;
    if (const auto colon = head.find(':'); colon != std::string::npos) {
      modifier = head.substr(colon + 1);
      head = head.substr(0, colon);
    }
    const SearchParam* sp = registry.find(type, head);
    if (sp == nullptr || sp->type != ParamType::kReference) {
      return bad_param(name, fmt::format("'{}' is not a reference parameter of {}", head, type));
    }
    std::string target = modifier;
    if (target.empty() && !sp->stored_target.empty()) target = sp->stored_target;  // patient.name
    if (target.empty()) {
      if (sp->targets.size() != 1) return bad_param(name, "the chain needs a type, e.g. subject:Patient.name");
      target = sp->targets.front();
    }
    if (!fhir::is_resource_type(target)) return bad_param(name, fmt::format("'{}' is not a resource type", target));
    if (!sp->stored_target.empty() && target != sp->stored_target) {
      return bad_param(name, fmt::format("'{}' refers to {} only", head, sp->stored_target));
    }
    auto chained = parse_filter(registry, target, name.substr(dot + 1), value, depth + 1);
    if (!chained) return in_chain(chained.error(), name);
    Condition c;
    c.type = ParamType::kReference;
    // A restricted parameter's references are the other parameter's rows of its target type.
    c.param = sp->stored_target.empty() ? head : sp->stored_as.front();
    c.chain_type = target;
    c.chain = std::make_shared<Filter>(std::move(*chained));
    f.any_of.push_back(std::move(c));
    return f;
  }
  std::string code = name;
  std::string modifier;
  if (const auto colon = code.find(':'); colon != std::string::npos) {
    modifier = code.substr(colon + 1);
    code = code.substr(0, colon);
  }
  ParamType ptype = ParamType::kToken;
  if (code == "_id") {
    ptype = ParamType::kToken;
  } else if (code == "_lastUpdated") {
    ptype = ParamType::kDate;
  } else {
    const SearchParam* sp = registry.find(type, code);
    if (sp == nullptr) return bad_param(name, fmt::format("{} has no search parameter '{}'", type, code));
    ptype = sp->type;
    if (ptype == ParamType::kSpecial) {
      return bad_param(name, fmt::format("{} parameters are not supported yet", param_type_name(ptype)));
    }
    if (ptype == ParamType::kComposite) {
      const bool triple = is_triple_composite(*sp);
      if (!triple && (sp->components.size() != 2 || (sp->components[0].type != ParamType::kToken &&
                                                     sp->components[0].type != ParamType::kReference))) {
        return bad_param(name, "this composite parameter is not supported yet");
      }
      if (!modifier.empty()) return bad_param(name, "composite parameters take no modifier");
      Filter f;
      for (const auto& raw : split_values(value)) {
        // token$value (R4 search.html#composite); '$' inside a component is escaped as \$.
        std::size_t dollar = std::string::npos;
        std::size_t second_dollar = std::string::npos;
        for (std::size_t i = 0; i < raw.size(); ++i) {
          if (raw[i] == '\\') {
            ++i;
          } else if (raw[i] == '$') {
            if (dollar == std::string::npos) {
              dollar = i;
              if (!triple) break;
            } else {
              second_dollar = i;
              break;
            }
          }
        }
        if (dollar == std::string::npos) return bad_param(name, "a composite value is first$second");
        if (triple && second_dollar == std::string::npos) {
          return bad_param(name, "this composite value has three parts: code$number$number (e.g. 1$100$200)");
        }
        Condition c;
        c.type = ParamType::kComposite;
        c.param = code;
        c.stored_as = sp->stored_as;
        Condition first;
        first.type = ParamType::kToken;
        first.param = code;
        if (sp->components[0].type == ParamType::kReference) {
          // A reference first component is indexed as the token (system: type, code: id).
          Condition ref;
          ref.type = ParamType::kReference;
          ref.param = code;
          if (auto r = parse_value(ref, name, std::string_view(raw).substr(0, dollar)); !r) return r.error();
          if (!ref.target_type.empty()) first.system = ref.target_type;
          first.code = ref.target_id;
        } else if (auto r = parse_value(first, name, std::string_view(raw).substr(0, dollar)); !r) {
          return r.error();
        }
        Condition second;
        second.type = sp->components[1].type;
        second.param = code;
        const std::size_t second_end = triple ? second_dollar - dollar - 1 : std::string::npos;
        if (auto r = parse_value(second, name, std::string_view(raw).substr(dollar + 1, second_end)); !r) {
          return r.error();
        }
        c.components.push_back(std::move(first));
        c.components.push_back(std::move(second));
        if (triple) {
          Condition third;
          third.type = ParamType::kNumber;
          third.param = code;
          if (auto r = parse_value(third, name, std::string_view(raw).substr(second_dollar + 1)); !r) return r.error();
          c.components.push_back(std::move(third));
        }
        f.any_of.push_back(std::move(c));
      }
      return f;
    }
  }
  if (modifier == "missing" && (code == "_id" || code == "_lastUpdated")) {
    return bad_param(name, ":missing does not apply here");
  }
  const SearchParam* defined = registry.find(type, code);
  for (const auto& raw : split_values(value)) {
    Condition c;
    c.type = ptype;
    c.param = code;
    if (defined != nullptr) {
      c.stored_as = defined->stored_as;
      c.stored_target = defined->stored_target;
    }
    c.modifier = modifier;
    if (auto r = parse_value(c, name, raw); !r) return r.error();
    f.any_of.push_back(std::move(c));
    if (modifier == "missing") break;
  }
  if (f.any_of.empty()) return bad_param(name, "has no value");
  return f;
}

core::Result<Include> parse_include(const Registry& registry, const std::string& name, std::string_view value,
                                    bool iterate) {
  Include inc;
  inc.iterate = iterate;
  if (value == "*") return inc;
  const std::string v(value);
  const auto c1 = v.find(':');
  if (c1 == std::string::npos) return bad_param(name, "takes Type:parameter[:TargetType] or *");
  inc.source_type = v.substr(0, c1);
  const auto c2 = v.find(':', c1 + 1);
  inc.param = v.substr(c1 + 1, c2 == std::string::npos ? std::string::npos : c2 - c1 - 1);
  if (c2 != std::string::npos) inc.target_type = v.substr(c2 + 1);
  if (!fhir::is_resource_type(inc.source_type)) {
    return bad_param(name, fmt::format("'{}' is not a resource type", inc.source_type));
  }
  const SearchParam* sp = registry.find(inc.source_type, inc.param);
  if (inc.param != "*" && (sp == nullptr || sp->type != ParamType::kReference)) {
    return bad_param(name, fmt::format("'{}' is not a reference parameter of {}", inc.param, inc.source_type));
  }
  if (!inc.target_type.empty() && !fhir::is_resource_type(inc.target_type)) {
    return bad_param(name, fmt::format("'{}' is not a resource type", inc.target_type));
  }
  return inc;
}

}  // namespace

std::vector<std::string> split_values(std::string_view value) {
  std::vector<std::string> out;
  std::string cur;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value[i] == '\\' && i + 1 < value.size()) {
      if (value[i + 1] == ',') {
        cur.push_back(',');  // an escaped comma is part of the value
      } else {
        cur.push_back('\\');
        cur.push_back(value[i + 1]);
      }
      ++i;
    } else if (value[i] == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(value[i]);
    }
  }
  out.push_back(std::move(cur));
  return out;
}

namespace {

/// Reads `_after`: an id in the default order; with _sort, the JSON array a next link carries
/// (the last row's sort values, then its id).
core::Result<void> read_cursor(const std::string& value, Plan& plan) {
  const auto bad_cursor = [&] {
    return bad_param("_after", "is not a paging cursor of this search (use the next link as given)");
  };
  const bool contained = plan.contained != Contained::kFalse;
  if (plan.sort.empty() && !contained) {
    if (!value.empty() && value.front() == '~') {
      // A position in rid order (`~` is not a character of ids).
      std::int64_t rid = 0;
      const auto [end, ec] = std::from_chars(value.data() + 1, value.data() + value.size(), rid);
      if (ec != std::errc() || end != value.data() + value.size() || value.size() == 1 || rid < 0) return bad_cursor();
      plan.after_rid = rid;
      return core::ok();
    }
    if (!core::is_valid_id(value)) return bad_param("_after", fmt::format("'{}' is not a resource id", value));
    plan.after = value;
    return core::ok();
  }
  boost::system::error_code ec;
  const boost::json::value doc = boost::json::parse(value, ec);
  // The last row's sort values, then its id; with _contained its type, id and local id.
  const std::size_t tail = contained ? 3 : 1;
  if (ec || !doc.is_array() || doc.get_array().size() != plan.sort.size() + tail) return bad_cursor();
  const auto& arr = doc.get_array();
  for (std::size_t i = arr.size() - tail; i < arr.size(); ++i) {
    if (!arr[i].is_string()) return bad_cursor();
    const std::string_view part = arr[i].get_string();
    const bool local = contained && i + 1 == arr.size();
    if (!(local && part.empty()) && !core::is_valid_id(part)) return bad_cursor();
  }
  std::vector<SortValue> keys;
  for (std::size_t i = 0; i + tail < arr.size(); ++i) {
    const auto& v = arr[i];
    if (v.is_null()) {
      keys.emplace_back(std::monostate{});
    } else if (v.is_string()) {
      keys.emplace_back(std::string(v.get_string()));
    } else if (v.is_int64()) {
      keys.emplace_back(v.get_int64());
    } else if (v.is_double()) {
      keys.emplace_back(v.get_double());
    } else {
      return bad_cursor();
    }
  }
  plan.after_keys = std::move(keys);
  if (contained) {
    plan.after_match =
        std::array<std::string, 3>{std::string(arr[arr.size() - 3].get_string()),
                                   std::string(arr[arr.size() - 2].get_string()), std::string(arr.back().get_string())};
    return core::ok();
  }
  plan.after = std::string(arr.back().get_string());
  return core::ok();
}

}  // namespace

namespace {

boost::json::array cursor_keys(const std::vector<SortValue>& keys) {
  boost::json::array arr;
  for (const auto& k : keys) {
    if (const auto* s = std::get_if<std::string>(&k)) {
      arr.emplace_back(*s);
    } else if (const auto* i = std::get_if<std::int64_t>(&k)) {
      arr.emplace_back(*i);
    } else if (const auto* d = std::get_if<double>(&k)) {
      arr.emplace_back(*d);
    } else {
      arr.emplace_back(nullptr);
    }
  }
  return arr;
}

}  // namespace

std::string encode_contained_cursor(const std::vector<SortValue>& keys, const std::string& type, const std::string& id,
                                    const std::string& local) {
  boost::json::array arr = cursor_keys(keys);
  arr.emplace_back(type);
  arr.emplace_back(id);
  arr.emplace_back(local);
  return boost::json::serialize(arr);
}

std::string encode_cursor(const std::vector<SortValue>& keys, const std::string& id) {
  boost::json::array arr = cursor_keys(keys);
  arr.emplace_back(id);
  return boost::json::serialize(arr);
}

core::Result<Plan> parse_search(std::string_view type, const std::vector<std::pair<std::string, std::string>>& params,
                                const ParseOptions& options, std::vector<core::Issue>& warnings) {
  const Registry& registry = options.registry != nullptr ? *options.registry : Registry::r4();
  std::optional<std::string> raw_after;
  Plan plan;
  plan.type = type;
  plan.count = options.default_count;
  const auto fail = [&](const core::Error& e) -> core::Result<void> {
    if (!options.lenient) return e;
    for (auto issue : e.issues) {
      issue.severity = "warning";
      issue.diagnostics += " (ignored)";
      warnings.push_back(std::move(issue));
    }
    return core::ok();
  };
  for (const auto& [name, value] : params) {
    if (name == "_format" || name == "_pretty") continue;
    if (name == "_count" || name == "_offset") {
      std::size_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size()) {
        if (auto r = fail(bad_param(name, fmt::format("'{}' is not a whole number", value))); !r) return r.error();
        continue;
      }
      if (name == "_count") {
        plan.count = std::min(n, options.max_count);
      } else {
        plan.offset = n;
      }
    } else if (name == "_after") {
      raw_after = value;  // read once _sort is known
    } else if (name == "_sort") {
      for (const auto& key : split_values(value)) {
        SortKey k;
        std::string_view p = key;
        if (!p.empty() && p.front() == '-') {
          k.descending = true;
          p.remove_prefix(1);
        }
        k.param = std::string(p);
        if (k.param == "_id") {
          k.type = ParamType::kToken;
        } else if (k.param == "_lastUpdated") {
          k.type = ParamType::kDate;
        } else if (const SearchParam* sp = registry.find(type, k.param)) {
          k.type = sp->type;
          k.stored_as = sp->stored_as;
          k.stored_target = sp->stored_target;
          if (k.type == ParamType::kComposite || k.type == ParamType::kSpecial) {
            if (auto r = fail(bad_param(name, fmt::format("cannot sort by '{}'", k.param))); !r) return r.error();
            continue;
          }
        } else {
          if (auto r = fail(bad_param(name, fmt::format("{} has no search parameter '{}'", type, k.param))); !r) {
            return r.error();
          }
          continue;
        }
        plan.sort.push_back(std::move(k));
      }
    } else if (name == "_total") {
      if (value == "none") {
        plan.total = TotalMode::kNone;
      } else if (value == "estimate") {
        plan.total = TotalMode::kEstimate;
      } else if (value == "accurate") {
        plan.total = TotalMode::kAccurate;
      } else if (auto r = fail(bad_param(name, "takes none, estimate or accurate")); !r) {
        return r.error();
      }
    } else if (name == "_summary") {
      if (value == "true") {
        plan.summary = Summary::kTrue;
      } else if (value == "text") {
        plan.summary = Summary::kText;
      } else if (value == "data") {
        plan.summary = Summary::kData;
      } else if (value == "count") {
        plan.summary = Summary::kCount;
      } else if (value == "false") {
        plan.summary = Summary::kFalse;
      } else if (auto r = fail(bad_param(name, "takes true, text, data, count or false")); !r) {
        return r.error();
      }
    } else if (name == "_elements") {
      for (auto& e : split_values(value)) {
        if (!e.empty()) plan.elements.push_back(std::move(e));
      }
    } else if (name == "_include" || name == "_include:iterate" || name == "_revinclude" ||
               name == "_revinclude:iterate") {
      auto inc = parse_include(registry, name, value, name.find(":iterate") != std::string::npos);
      if (!inc) {
        if (auto r = fail(inc.error()); !r) return r.error();
        continue;
      }
      (name.rfind("_include", 0) == 0 ? plan.includes : plan.revincludes).push_back(std::move(*inc));
    } else if (name == "_contained") {
      if (value == "false") {
        plan.contained = Contained::kFalse;
      } else if (value == "true") {
        plan.contained = Contained::kTrue;
      } else if (value == "both") {
        plan.contained = Contained::kBoth;
      } else if (auto r = fail(bad_param(name, fmt::format("'{}' is not one of false, true or both", value))); !r) {
        return r.error();
      }
    } else if (name == "_containedType") {
      if (value == "container") {
        plan.contained_result = ContainedResult::kContainer;
      } else if (value == "contained") {
        plan.contained_result = ContainedResult::kContained;
      } else if (auto r = fail(bad_param(name, fmt::format("'{}' is not one of container or contained", value))); !r) {
        return r.error();
      }
    } else {
      auto f = parse_filter(registry, type, name, value, 0);
      if (!f) {
        if (auto r = fail(f.error()); !r) return r.error();
        continue;
      }
      plan.filters.push_back(std::move(*f));
    }
    plan.canonical.push_back(name);
  }
  if (raw_after) {
    if (auto r = read_cursor(*raw_after, plan); !r) {
      if (auto f = fail(r.error()); !f) return f.error();
    }
  }
  return plan;
}

}  // namespace ucr::search
