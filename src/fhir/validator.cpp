#include "fhir/validator.hpp"

#include "fhir/definitions.hpp"

#include <boost/json/serialize.hpp>

#include <array>
#include <charconv>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace ucr::fhir {
namespace {

namespace json = boost::json;

constexpr int kMaxDepth = 128;
constexpr std::size_t kMaxShownValue = 80;
constexpr std::size_t kMaxIssues = 200;  // keeps the OperationOutcome bounded for hostile input

// ---------------------------------------------------------------------------------------------
// Primitive formats (R4 datatypes.html regexes, hand-written; no std::regex on the hot path).

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }
constexpr bool is_lower_hex(char c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

bool digits_at(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (!is_digit(s[i])) return false;
  }
  return true;
}

int number_at(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

constexpr bool is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int days_in_month(int y, int m) {
  constexpr std::array<int, 12> kDays{31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[static_cast<std::size_t>(m - 1)];
}

/// Parses YYYY[-MM[-DD]] at the start of `s`; returns the length consumed (0 on error) and the
/// precision (1 year, 2 month, 3 day).
std::size_t parse_date(std::string_view s, int& precision) {
  if (!digits_at(s, 0, 4)) return 0;
  int year = number_at(s, 0, 4);
  if (year == 0) return 0;
  precision = 1;
  if (s.size() == 4 || s[4] != '-') return 4;
  if (!digits_at(s, 5, 2)) return 0;
  int month = number_at(s, 5, 2);
  if (month < 1 || month > 12) return 0;
  precision = 2;
  if (s.size() == 7 || s[7] != '-') return 7;
  if (!digits_at(s, 8, 2)) return 0;
  int day = number_at(s, 8, 2);
  if (day < 1 || day > days_in_month(year, month)) return 0;
  precision = 3;
  return 10;
}

/// Parses hh:mm:ss(.f+)? at `pos`; returns the end position or npos.
std::size_t parse_time(std::string_view s, std::size_t pos) {
  if (!digits_at(s, pos, 2) || pos + 8 > s.size() || s[pos + 2] != ':' || !digits_at(s, pos + 3, 2) ||
      s[pos + 5] != ':' || !digits_at(s, pos + 6, 2)) {
    return std::string_view::npos;
  }
  if (number_at(s, pos, 2) > 23 || number_at(s, pos + 3, 2) > 59 || number_at(s, pos + 6, 2) > 60) {
    return std::string_view::npos;
  }
  pos += 8;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t start = ++pos;
    while (pos < s.size() && is_digit(s[pos])) ++pos;
    if (pos == start) return std::string_view::npos;
  }
  return pos;
}

/// Z | (+|-)hh:mm with hh 00-13, or 14:00, exactly filling the rest of `s`.
bool is_zone(std::string_view s, std::size_t pos) {
  if (pos >= s.size()) return false;
  if (s[pos] == 'Z') return pos + 1 == s.size();
  if ((s[pos] != '+' && s[pos] != '-') || pos + 6 != s.size() || !digits_at(s, pos + 1, 2) || s[pos + 3] != ':' ||
      !digits_at(s, pos + 4, 2)) {
    return false;
  }
  int hh = number_at(s, pos + 1, 2);
  int mm = number_at(s, pos + 4, 2);
  return (hh <= 13 && mm <= 59) || (hh == 14 && mm == 0);
}

bool is_date(std::string_view s) {
  int precision = 0;
  std::size_t n = parse_date(s, precision);
  return n != 0 && n == s.size();
}

bool is_date_time(std::string_view s, bool instant) {
  int precision = 0;
  std::size_t n = parse_date(s, precision);
  if (n == 0) return false;
  if (n == s.size()) return !instant;
  if (precision != 3 || s[n] != 'T') return false;
  std::size_t end = parse_time(s, n + 1);
  return end != std::string_view::npos && is_zone(s, end);
}

bool is_time(std::string_view s) { return parse_time(s, 0) == s.size(); }

bool is_id(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.')) return false;
  }
  return true;
}

bool is_code(std::string_view s) {
  if (s.empty() || is_space(s.front()) || is_space(s.back())) return false;
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (is_space(s[i]) && is_space(s[i - 1])) return false;
  }
  return true;
}

bool has_no_space(std::string_view s) {
  for (char c : s) {
    if (is_space(c)) return false;
  }
  return true;
}

bool is_oid(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:oid:";
  if (!s.starts_with(kPrefix)) return false;
  s.remove_prefix(kPrefix.size());
  if (s.size() < 3 || s[0] < '0' || s[0] > '2') return false;
  std::size_t i = 1;
  int arcs = 0;
  while (i < s.size()) {
    if (s[i] != '.' || i + 1 >= s.size() || !is_digit(s[i + 1])) return false;
    ++i;
    std::size_t start = i;
    while (i < s.size() && is_digit(s[i])) ++i;
    if (s[start] == '0' && i - start > 1) return false;
    ++arcs;
  }
  return arcs > 0;
}

bool is_uuid(std::string_view s) {
  constexpr std::string_view kPrefix = "urn:uuid:";
  if (!s.starts_with(kPrefix)) return false;
  s.remove_prefix(kPrefix.size());
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !is_lower_hex(s[i])) return false;
  }
  return true;
}

bool is_base64(std::string_view s) {
  std::size_t count = 0;
  std::size_t padding = 0;
  for (char c : s) {
    if (is_space(c)) continue;
    if (c == '=') {
      ++padding;
    } else if (padding > 0 ||  // data after padding
               !(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '+' || c == '/')) {
      return false;
    }
    ++count;
  }
  return count > 0 && count % 4 == 0 && padding <= 2;
}

bool is_xhtml_div(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size() && is_space(s[i])) ++i;
  s.remove_prefix(i);
  return s.starts_with("<div") && s.size() > 4 && (s[4] == '>' || is_space(s[4]) || s[4] == '/');
}

bool string_format_ok(Primitive p, std::string_view s) {
  switch (p) {
    case Primitive::kCode:
      return is_code(s);
    case Primitive::kId:
      return is_id(s);
    case Primitive::kUri:
    case Primitive::kUrl:
    case Primitive::kCanonical:
      return has_no_space(s);
    case Primitive::kOid:
      return is_oid(s);
    case Primitive::kUuid:
      return is_uuid(s);
    case Primitive::kDate:
      return is_date(s);
    case Primitive::kDateTime:
      return is_date_time(s, false);
    case Primitive::kInstant:
      return is_date_time(s, true);
    case Primitive::kTime:
      return is_time(s);
    case Primitive::kBase64Binary:
      return is_base64(s);
    case Primitive::kXhtml:
      return is_xhtml_div(s);
    default:
      return true;  // string, markdown: any non-empty text
  }
}

std::string shown(std::string_view s) {
  if (s.size() <= kMaxShownValue) return std::string(s);
  return std::string(s.substr(0, kMaxShownValue)) + "...";
}

std::string_view json_kind(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      return "null";
    case json::kind::bool_:
      return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return "number";
    case json::kind::string:
      return "string";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "value";
}

std::string_view string_of(const json::object& obj, std::string_view key) {
  const json::value* v = obj.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}

// ---------------------------------------------------------------------------------------------

/// Restores the path buffer to its previous length on scope exit.
class PathScope {
 public:
  explicit PathScope(std::string& path) : path_(path), length_(path.size()) {}
  ~PathScope() { path_.resize(length_); }
  PathScope(const PathScope&) = delete;
  PathScope& operator=(const PathScope&) = delete;

 private:
  std::string& path_;
  std::size_t length_;
};

void append_index(std::string& path, std::size_t i) {
  std::array<char, 24> buf{};
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), i);
  (void)ec;
  path.push_back('[');
  path.append(buf.data(), end);
  path.push_back(']');
}

class Validator {
 public:
  Validator() : element_type_(find_type("Element")) {}

  std::vector<core::Issue> take() {
    if (omitted_ > 0) {
      issues_.push_back(
          core::Issue{"error", "too-costly", std::to_string(omitted_) + " further issues were not reported", ""});
    }
    return std::move(issues_);
  }

  void validate_root(const json::object& resource) {
    const json::value* rt = resource.if_contains("resourceType");
    if (rt == nullptr) {
      add("required", "Resource has no resourceType");
      return;
    }
    if (!rt->is_string()) {
      add("structure", "resourceType must be a JSON string");
      return;
    }
    std::string_view name = rt->get_string();
    const TypeDefinition* def = is_resource_type(name) ? find_type(name) : nullptr;
    if (def == nullptr) {
      add("invalid", "Unknown resource type '" + shown(name) + "'");
      return;
    }
    path_.assign(name);
    validate_object(resource, *def, true, 0);
  }

 private:
  std::vector<core::Issue> issues_;
  std::string path_;
  const TypeDefinition* element_type_;
  std::size_t omitted_ = 0;

  void add(std::string_view code, std::string diagnostics) {
    if (issues_.size() >= kMaxIssues) {
      ++omitted_;
      return;
    }
    issues_.push_back(core::Issue{"error", std::string(code), std::move(diagnostics), path_});
  }

  void validate_object(const json::object& obj, const TypeDefinition& def, bool resource_root, int depth) {
    if (depth > kMaxDepth) {
      add("structure", "Content is nested too deeply");
      return;
    }
    if (obj.empty()) {
      add("structure", "Empty objects are not allowed");
      return;
    }
    // Choice elements seen so far in this object (there are never more than a handful).
    std::array<ChildLookup, 16> choices{};
    std::size_t choice_count = 0;

    for (const auto& member : obj) {
      std::string_view key = member.key();
      if (resource_root && key == "resourceType") continue;
      bool extension_sibling = key.size() > 1 && key.front() == '_';
      std::string_view name = extension_sibling ? key.substr(1) : key;
      const ChildLookup* child = def.find(name);
      if (child != nullptr && extension_sibling &&
          child->element->types[child->type_index].primitive == Primitive::kNone) {
        child = nullptr;
      }
      PathScope scope(path_);
      path_.push_back('.');
      if (child == nullptr) {
        path_.append(key);
        add("structure", "Unknown element '" + shown(key) + "'");
        continue;
      }
      path_.append(name);
      const ElementDefinition& el = *child->element;
      if (el.is_choice) {
        bool conflict = false;
        for (std::size_t i = 0; i < choice_count; ++i) {
          if (choices[i].element == &el && choices[i].type_index != child->type_index) {
            add("structure", "Only one type of " + el.name + "[x] may be present (found " +
                                 el.json_names[choices[i].type_index] + " and " + std::string(name) + ")");
            conflict = true;
            break;
          }
        }
        if (conflict) continue;
        if (choice_count < choices.size()) choices[choice_count++] = *child;
      }
      if (el.max == 0) {
        add("structure", "Element '" + std::string(name) + "' is not allowed here (max cardinality 0)");
        continue;
      }
      if (extension_sibling) {
        validate_primitive_extension(obj, name, member.value(), el, depth);
      } else {
        validate_value(obj, name, member.value(), el, child->type_index, depth);
      }
    }

    for (const ElementDefinition* el : def.required) {
      if (!is_present(obj, *el)) {
        PathScope scope(path_);
        path_.push_back('.');
        path_.append(el->name);
        add("required", "Missing required element '" + el->name + (el->is_choice ? "[x]'" : "'") +
                            " (min cardinality " + std::to_string(el->min) + ")");
      }
    }
  }

  static bool is_present(const json::object& obj, const ElementDefinition& el) {
    for (std::size_t i = 0; i < el.json_names.size(); ++i) {
      if (obj.contains(el.json_names[i])) return true;
      if (el.types[i].primitive != Primitive::kNone && obj.contains("_" + el.json_names[i])) return true;
    }
    return false;
  }

  /// True when `_name[index]` exists and is not null (an extension-only primitive array entry).
  static bool extension_at(const json::object& parent, std::string_view name, std::size_t index) {
    std::string key;
    key.reserve(name.size() + 1);
    key.push_back('_');
    key.append(name);
    const json::value* ext = parent.if_contains(key);
    return ext != nullptr && ext->is_array() && index < ext->get_array().size() && !ext->get_array()[index].is_null();
  }

  void validate_value(const json::object& parent, std::string_view name, const json::value& v,
                      const ElementDefinition& el, std::size_t type_index, int depth) {
    bool primitive = el.types[type_index].primitive != Primitive::kNone;
    if (el.is_array()) {
      if (!v.is_array()) {
        add("structure", "Element '" + std::string(name) + "' must be a JSON array (max cardinality " +
                             (el.max == ElementDefinition::kUnbounded ? std::string("*") : std::to_string(el.max)) +
                             "), found " + std::string(json_kind(v)));
        return;
      }
      const json::array& arr = v.get_array();
      if (arr.empty()) {
        add("structure", "Empty arrays are not allowed");
        return;
      }
      if (arr.size() < el.min) {
        add("required",
            "Too few values: " + std::to_string(arr.size()) + " (min cardinality " + std::to_string(el.min) + ")");
      }
      if (arr.size() > el.max) {
        add("structure",
            "Too many values: " + std::to_string(arr.size()) + " (max cardinality " + std::to_string(el.max) + ")");
      }
      for (std::size_t i = 0; i < arr.size(); ++i) {
        PathScope scope(path_);
        append_index(path_, i);
        if (arr[i].is_null()) {
          if (!(primitive && extension_at(parent, name, i))) {
            add("structure", "null is only allowed in a primitive array whose _" + std::string(name) +
                                 " sibling has an extension at the same index");
          }
          continue;
        }
        validate_single(arr[i], el, type_index, depth);
      }
      return;
    }
    if (v.is_array()) {
      add("structure", "Element '" + std::string(name) + "' must not be an array (max cardinality 1)");
      return;
    }
    if (v.is_null()) {
      add("structure", "null is not allowed");
      return;
    }
    validate_single(v, el, type_index, depth);
  }

  void validate_primitive_extension(const json::object& parent, std::string_view name, const json::value& v,
                                    const ElementDefinition& el, int depth) {
    if (element_type_ == nullptr) return;
    if (el.is_array()) {
      if (!v.is_array()) {
        add("structure", "_" + std::string(name) + " must be a JSON array aligned with " + std::string(name));
        return;
      }
      const json::array& ext = v.get_array();
      const json::value* base = parent.if_contains(name);
      if (base != nullptr && base->is_array() && base->get_array().size() != ext.size()) {
        add("structure", "_" + std::string(name) + " must have as many entries as " + std::string(name));
      }
      if (ext.empty()) {
        add("structure", "Empty arrays are not allowed");
        return;
      }
      for (std::size_t i = 0; i < ext.size(); ++i) {
        if (ext[i].is_null()) continue;
        PathScope scope(path_);
        append_index(path_, i);
        if (!ext[i].is_object()) {
          add("structure",
              "Primitive extension content must be a JSON object, found " + std::string(json_kind(ext[i])));
          continue;
        }
        validate_object(ext[i].get_object(), *element_type_, false, depth + 1);
      }
      return;
    }
    if (!v.is_object()) {
      add("structure", "_" + std::string(name) + " must be a JSON object, found " + std::string(json_kind(v)));
      return;
    }
    validate_object(v.get_object(), *element_type_, false, depth + 1);
  }

  void validate_single(const json::value& v, const ElementDefinition& el, std::size_t type_index, int depth) {
    const ElementType& type = el.types[type_index];
    if (type.primitive != Primitive::kNone) {
      if (validate_primitive(v, type.primitive) && el.binding != nullptr && type.primitive == Primitive::kCode) {
        std::string_view code = v.get_string();
        if (!el.binding->contains_code(code)) {
          add("value", "Code '" + shown(code) + "' is not in the required value set " + el.binding->url);
        }
      }
      return;
    }
    if (!v.is_object()) {
      add("structure", "Element of type " + type.code + " must be a JSON object, found " + std::string(json_kind(v)));
      return;
    }
    const json::object& obj = v.get_object();
    if (type.is_resource) {
      validate_nested_resource(obj, type, depth + 1);
      return;
    }
    const TypeDefinition* children = el.children_of(type_index);
    if (children == nullptr) return;
    validate_object(obj, *children, false, depth + 1);
    if (type.code == "Reference") {
      check_reference(obj, type);
    } else if (el.binding != nullptr) {
      if (type.code == "Coding") {
        check_coding(obj, *el.binding);
      } else if (type.code == "CodeableConcept") {
        const json::value* codings = obj.if_contains("coding");
        if (codings != nullptr && codings->is_array()) {
          const json::array& arr = codings->get_array();
          for (std::size_t i = 0; i < arr.size(); ++i) {
            if (!arr[i].is_object()) continue;
            PathScope scope(path_);
            path_.append(".coding");
            append_index(path_, i);
            check_coding(arr[i].get_object(), *el.binding);
          }
        }
      }
    }
  }

  /// Checks JSON type and lexical format; returns true when the value is well-formed.
  bool validate_primitive(const json::value& v, Primitive p) {
    switch (p) {
      case Primitive::kBoolean:
        if (!v.is_bool()) {
          add("structure", "Expected a JSON boolean for boolean, found " + std::string(json_kind(v)));
          return false;
        }
        return true;
      case Primitive::kInteger:
      case Primitive::kPositiveInt:
      case Primitive::kUnsignedInt: {
        if (!v.is_number()) {
          add("structure",
              "Expected a JSON number for " + std::string(primitive_name(p)) + ", found " + std::string(json_kind(v)));
          return false;
        }
        if (v.is_double()) {
          add("value", "Expected a whole number for " + std::string(primitive_name(p)));
          return false;
        }
        std::int64_t lo = p == Primitive::kInteger ? INT32_MIN : (p == Primitive::kPositiveInt ? 1 : 0);
        bool ok = v.is_int64() && v.get_int64() >= lo && v.get_int64() <= INT32_MAX;
        if (!ok) {
          add("value", "Value out of range for " + std::string(primitive_name(p)) + " (" + json::serialize(v) + ")");
        }
        return ok;
      }
      case Primitive::kDecimal:
        if (!v.is_number()) {
          add("structure", "Expected a JSON number for decimal, found " + std::string(json_kind(v)));
          return false;
        }
        return true;
      default:
        break;
    }
    if (!v.is_string()) {
      add("structure",
          "Expected a JSON string for " + std::string(primitive_name(p)) + ", found " + std::string(json_kind(v)));
      return false;
    }
    std::string_view s = v.get_string();
    if (s.empty()) {
      add("value", "Empty strings are not allowed");
      return false;
    }
    if (!string_format_ok(p, s)) {
      add("value", "Invalid " + std::string(primitive_name(p)) + " '" + shown(s) + "'");
      return false;
    }
    return true;
  }

  void validate_nested_resource(const json::object& obj, const ElementType& type, int depth) {
    const json::value* rt = obj.if_contains("resourceType");
    if (rt == nullptr) {
      add("required", "Nested resource has no resourceType");
      return;
    }
    if (!rt->is_string()) {
      add("structure", "resourceType must be a JSON string");
      return;
    }
    std::string_view name = rt->get_string();
    const TypeDefinition* def = is_resource_type(name) ? find_type(name) : nullptr;
    if (def == nullptr) {
      add("invalid", "Unknown resource type '" + shown(name) + "'");
      return;
    }
    if (type.code != "Resource" && type.code != "DomainResource" && type.code != name) {
      add("invalid", "Resource of type " + std::string(name) + " is not allowed here (expected " + type.code + ")");
      return;
    }
    validate_object(obj, *def, true, depth);
  }

  void check_target(std::string_view reference, std::string_view target, const ElementType& type) {
    if (type.target_types.empty()) return;
    for (const std::string& allowed : type.target_types) {
      if (allowed == target) return;
    }
    std::string list;
    for (const std::string& allowed : type.target_types) {
      if (!list.empty()) list += ", ";
      list += allowed;
    }
    add("value", "Reference '" + shown(reference) + "' points to a " + std::string(target) +
                     ", which is not allowed here (allowed: " + list + ")");
  }

  /// Parses "Type/id" or "Type/id/_history/vid" (whole string); returns Type or empty.
  static std::string_view literal_type(std::string_view s) {
    auto slash = s.find('/');
    if (slash == std::string_view::npos) return {};
    std::string_view type = s.substr(0, slash);
    std::string_view rest = s.substr(slash + 1);
    auto next = rest.find('/');
    std::string_view id = rest.substr(0, next);
    if (!is_resource_type(type) || !is_id(id)) return {};
    if (next == std::string_view::npos) return type;
    rest = rest.substr(next);
    constexpr std::string_view kHistory = "/_history/";
    if (!rest.starts_with(kHistory) || !is_id(rest.substr(kHistory.size()))) return {};
    return type;
  }

  /// The last `n` '/'-separated segments of `s` (empty when there are fewer).
  static std::string_view last_segments(std::string_view s, int n) {
    std::size_t end = s.size();
    for (int i = 0; i < n; ++i) {
      if (end == 0) return {};
      auto slash = s.rfind('/', end - 1);
      if (slash == std::string_view::npos) return {};
      end = slash;
    }
    return s.substr(end + 1);
  }

  void check_reference(const json::object& obj, const ElementType& type) {
    std::string_view ref = string_of(obj, "reference");
    if (ref.empty()) return;  // already reported as an empty string
    PathScope scope(path_);
    path_.append(".reference");
    if (!has_no_space(ref)) {
      add("value", "Invalid reference '" + shown(ref) + "': references contain no whitespace");
      return;
    }
    if (ref.front() == '#') {
      if (ref.size() > 1 && !is_id(ref.substr(1))) add("value", "Invalid local reference '" + shown(ref) + "'");
      return;
    }
    // Absolute URI: a scheme before any '/', '?' or '#'.
    auto colon = ref.find(':');
    auto delimiter = ref.find_first_of("/?#");
    if (colon != std::string_view::npos && colon > 0 && (delimiter == std::string_view::npos || colon < delimiter)) {
      if (ref.starts_with("urn:")) return;  // urn:uuid:, urn:oid: (Bundle-local identities)
      // http(s)://base/Type/id[/_history/v]: check the type when the tail is a literal reference.
      for (int segments : {2, 4}) {
        std::string_view tail = last_segments(ref, segments);
        if (std::string_view type_name = literal_type(tail); !type_name.empty()) {
          check_target(ref, type_name, type);
          return;
        }
      }
      return;
    }
    // Relative: Type/id, Type/id/_history/vid, or a conditional reference Type?query (transactions).
    if (auto q = ref.find('?'); q != std::string_view::npos && q < ref.find('/')) {
      std::string_view type_name = ref.substr(0, q);
      if (!is_resource_type(type_name) || q + 1 == ref.size()) {
        add("value", "Invalid conditional reference '" + shown(ref) + "'");
        return;
      }
      check_target(ref, type_name, type);
      return;
    }
    std::string_view type_name = literal_type(ref);
    if (type_name.empty()) {
      add("value", "Invalid reference '" + shown(ref) +
                       "': expected Type/id, Type/id/_history/vid, an absolute URL, urn:uuid:, urn:oid: or #id");
      return;
    }
    check_target(ref, type_name, type);
  }

  void check_coding(const json::object& coding, const ValueSetCodes& vs) {
    std::string_view system = string_of(coding, "system");
    std::string_view code = string_of(coding, "code");
    if (system.empty() || code.empty() || !vs.has_system(system)) return;
    if (!vs.contains(system, code)) {
      PathScope scope(path_);
      path_.append(".code");
      add("value",
          "Code '" + shown(code) + "' from " + std::string(system) + " is not in the required value set " + vs.url);
    }
  }
};

}  // namespace

std::vector<core::Issue> validate_resource(const json::object& resource) {
  Validator validator;
  validator.validate_root(resource);
  return validator.take();
}

std::vector<core::Issue> validate_resource(const json::value& resource) {
  if (!resource.is_object()) {
    return {core::Issue{"error", "structure", "A resource must be a JSON object", ""}};
  }
  return validate_resource(resource.get_object());
}

}  // namespace ucr::fhir
