#include "fhir/json_text.hpp"
#include "search/index.hpp"

#include "fhir/definitions.hpp"
#include "search/registry.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <map>
#include <set>

namespace ucr::search {
namespace {

namespace json = boost::json;

std::string_view str_of(const json::object& o, std::string_view k) {
  const auto* v = o.if_contains(k);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

/// The decimal precision range of a JSON number as written: 1.5 covers [1.45, 1.55).
void number_range(const json::value& v, double& value, double& low, double& high) {
  value = v.to_number<double>();
  if (v.is_int64() || v.is_uint64()) {
    low = value - 0.5;
    high = value + 0.5;
    return;
  }
  // Boost.JSON keeps no source text for doubles; take the shortest representation's precision.
  const std::string text = fhir::json_text(v);
  const auto dot = text.find('.');
  const auto exp = text.find_first_of("eE");
  int decimals = 0;
  if (dot != std::string::npos) {
    decimals = static_cast<int>((exp == std::string::npos ? text.size() : exp) - dot - 1);
  }
  const double half = 0.5 * std::pow(10.0, -decimals);
  low = value - half;
  high = value + half;
}

/// The resource type of the contained resource `id` (without '#') of `container`, or empty.
std::string_view contained_type_of(const json::value* container, std::string_view id) {
  const auto* o = container != nullptr ? container->if_object() : nullptr;
  const auto* list = o != nullptr ? o->if_contains("contained") : nullptr;
  if (list == nullptr || !list->is_array()) return {};
  for (const auto& c : list->get_array()) {
    const auto* co = c.if_object();
    if (co != nullptr && str_of(*co, "id") == id) return str_of(*co, "resourceType");
  }
  return {};
}

class Extractor {
 public:
  /// `container`: the resource whose `contained` list `#id` references point into.
  /// `skip`: the HumanName or Address parts whose values other parameters store
  /// (SearchParam::covered_parts).
  Extractor(IndexRows& rows, const std::string& param, const json::value* container = nullptr,
            const std::vector<std::string>* skip = nullptr)
      : rows_(rows), param_(param), container_(container), skip_(skip) {}

  void string_value(std::string_view s) {
    if (s.empty()) return;
    rows_.strings.push_back(StringRow{param_, normalize_string(s), std::string(s)});
  }

  void as_string(const fhirpath::Value& v) {
    if (v.node == nullptr) return;
    const json::value& n = *v.node;
    if (n.is_string()) {
      string_value(n.get_string());
      return;
    }
    const auto* o = n.if_object();
    if (o == nullptr) return;
    // HumanName and Address: every textual part (R4 search.html#string).
    const auto skipped = [this](std::string_view k) {
      return skip_ != nullptr && std::find(skip_->begin(), skip_->end(), k) != skip_->end();
    };
    for (const char* k : {"text", "family", "city", "district", "state", "postalCode", "country"}) {
      if (!skipped(k)) string_value(str_of(*o, k));
    }
    for (const char* k : {"given", "prefix", "suffix", "line"}) {
      if (skipped(k)) continue;
      if (const auto* a = o->if_contains(k); a != nullptr && a->is_array()) {
        for (const auto& x : a->get_array()) {
          if (x.is_string()) string_value(x.get_string());
        }
      }
    }
  }

  void token(std::string_view system, std::string_view code, std::string_view text) {
    if (code.empty() && text.empty()) return;
    rows_.tokens.push_back(TokenRow{param_, std::string(system), std::string(code), normalize_string(text)});
  }

  void as_token(const fhirpath::Value& v) {
    if (v.kind == fhirpath::ValueKind::kBoolean) {  // computed, e.g. Patient.deceased.exists() and ...
      token({}, std::get<bool>(v.data) ? "true" : "false", {});
      return;
    }
    if (v.kind == fhirpath::ValueKind::kString) {
      token({}, std::get<std::string>(v.data), {});
      return;
    }
    if (v.node == nullptr) return;
    const json::value& n = *v.node;
    if (n.is_bool()) {
      token({}, n.get_bool() ? "true" : "false", {});
      return;
    }
    if (n.is_string()) {
      token({}, n.get_string(), {});
      return;
    }
    if (n.is_number()) {
      token({}, fhir::json_text(n), {});
      return;
    }
    const auto* o = n.if_object();
    if (o == nullptr) return;
    const auto* codings = o->if_contains("coding");
    if ((codings != nullptr && codings->is_array()) || v.type == "CodeableConcept") {
      // CodeableConcept (possibly text only)
      const std::string_view text = str_of(*o, "text");
      const std::size_t first = rows_.tokens.size();
      if (codings != nullptr && codings->is_array()) {
        for (const auto& c : codings->get_array()) {
          if (const auto* co = c.if_object()) {
            token(str_of(*co, "system"), str_of(*co, "code"), str_of(*co, "display"));
          }
        }
      }
      if (!text.empty()) {
        // The text gets a row of its own for :text, unless a coding's row already carries the same
        // words (the usual case: text repeats the display), which saves one index row in three.
        const std::string normalized = normalize_string(text);
        const bool carried = std::any_of(rows_.tokens.begin() + static_cast<std::ptrdiff_t>(first), rows_.tokens.end(),
                                         [&](const TokenRow& row) { return row.text == normalized; });
        if (!carried) rows_.tokens.push_back(TokenRow{param_, {}, {}, normalized});
      }
      return;
    }
    if (o->contains("value") && (v.type == "Identifier" || o->contains("system") || o->contains("type"))) {
      // Identifier or ContactPoint: system|value
      std::string_view type_text;
      if (const auto* t = o->if_contains("type"); t != nullptr && t->is_object())
        type_text = str_of(t->get_object(), "text");
      const auto* value = o->if_contains("value");
      if (value != nullptr && value->is_string()) {
        token(v.type == "ContactPoint" ? std::string_view() : str_of(*o, "system"), value->get_string(), type_text);
        // For :of-type, kept as a token under "<param>:of-type": type system, "type code|value".
        const auto* t = o->if_contains("type");
        const auto* type_codings = t != nullptr && t->is_object() ? t->get_object().if_contains("coding") : nullptr;
        if (type_codings != nullptr && type_codings->is_array() && v.type != "ContactPoint") {
          for (const auto& c : type_codings->get_array()) {
            const auto* co = c.if_object();
            if (co == nullptr || str_of(*co, "code").empty()) continue;
            rows_.tokens.push_back(TokenRow{param_ + ":of-type",
                                            std::string(str_of(*co, "system")),
                                            fmt::format("{}|{}", str_of(*co, "code"), value->get_string()),
                                            {}});
          }
        }
      }
      return;
    }
    // Coding
    token(str_of(*o, "system"), str_of(*o, "code"), str_of(*o, "display"));
  }

  void reference_text(std::string_view ref) {
    if (ref.empty()) return;
    if (ref.front() == '#') {
      // A reference to a contained resource: kept as written, with the contained resource's type
      // (for chained searches into it) and no id, so that it is never read as Type/id.
      if (ref.size() == 1) return;  // the container itself
      rows_.references.push_back(
          ReferenceRow{param_, std::string(contained_type_of(container_, ref.substr(1))), {}, std::string(ref)});
      return;
    }
    ReferenceRow row{param_, {}, {}, std::string(ref)};
    // Type/id, Type/id/_history/n, or an absolute URL ending in one.
    std::string_view path = ref;
    if (const auto h = path.find("/_history/"); h != std::string_view::npos) path = path.substr(0, h);
    const auto slash = path.rfind('/');
    if (slash != std::string_view::npos && slash > 0) {
      const auto prev = path.rfind('/', slash - 1);
      const std::string_view type = path.substr(prev == std::string_view::npos ? 0 : prev + 1,
                                                slash - (prev == std::string_view::npos ? 0 : prev + 1));
      const std::string_view id = path.substr(slash + 1);
      if (fhir::is_resource_type(type) && !id.empty()) {
        row.target_type = type;
        row.target_id = id;
        // A plain relative reference is its type and id; searches match those, never the text.
        if (prev == std::string_view::npos && path.size() == ref.size()) row.url.clear();
      }
    }
    rows_.references.push_back(std::move(row));
  }

  void as_reference(const fhirpath::Value& v) {
    if (v.node == nullptr) return;
    const json::value& n = *v.node;
    if (n.is_string()) {  // canonical / uri
      reference_text(n.get_string());
      return;
    }
    const auto* o = n.if_object();
    if (o == nullptr) return;
    reference_text(str_of(*o, "reference"));
    if (const auto* ident = o->if_contains("identifier"); ident != nullptr && ident->is_object()) {
      // For :identifier, kept as a token under "<param>:identifier".
      const auto& io = ident->get_object();
      const auto value = str_of(io, "value");
      if (!value.empty()) {
        rows_.tokens.push_back(
            TokenRow{param_ + ":identifier", std::string(str_of(io, "system")), std::string(value), {}});
      }
    }
  }

  void date_text(std::string_view s, core::Micros& low, core::Micros& high, bool& ok) { ok = date_range(s, low, high); }

  void as_date(const fhirpath::Value& v) {
    if (v.node == nullptr) return;
    const json::value& n = *v.node;
    core::Micros low = 0;
    core::Micros high = 0;
    bool ok = false;
    if (n.is_string()) {
      date_text(n.get_string(), low, high, ok);
      if (ok) rows_.dates.push_back(DateRow{param_, low, high});
      return;
    }
    const auto* o = n.if_object();
    if (o == nullptr) return;
    if (o->contains("start") || o->contains("end")) {  // Period: open ends extend without limit
      core::Micros lo = std::numeric_limits<core::Micros>::min();
      core::Micros hi = std::numeric_limits<core::Micros>::max();
      core::Micros a = 0;
      core::Micros b = 0;
      if (const auto s = str_of(*o, "start"); !s.empty()) {
        date_text(s, a, b, ok);
        if (ok) lo = a;
      }
      if (const auto e = str_of(*o, "end"); !e.empty()) {
        date_text(e, a, b, ok);
        if (ok) hi = b;
      }
      rows_.dates.push_back(DateRow{param_, lo, hi});
      return;
    }
    if (const auto* events = o->if_contains("event"); events != nullptr && events->is_array()) {  // Timing
      core::Micros lo = std::numeric_limits<core::Micros>::max();
      core::Micros hi = std::numeric_limits<core::Micros>::min();
      for (const auto& ev : events->get_array()) {
        if (!ev.is_string()) continue;
        core::Micros a = 0;
        core::Micros b = 0;
        date_text(ev.get_string(), a, b, ok);
        if (!ok) continue;
        lo = std::min(lo, a);
        hi = std::max(hi, b);
      }
      if (lo <= hi) rows_.dates.push_back(DateRow{param_, lo, hi});
    }
  }

  void as_number(const fhirpath::Value& v) {
    if (v.node == nullptr || !v.node->is_number()) return;
    NumberRow row{param_, 0, 0, 0};
    number_range(*v.node, row.value, row.low, row.high);
    rows_.numbers.push_back(row);
  }

  void as_quantity(const fhirpath::Value& v) {
    if (v.node == nullptr) return;
    const auto* o = v.node->if_object();
    if (o == nullptr) return;
    const auto* value = o->if_contains("value");
    if (value == nullptr || !value->is_number()) return;
    QuantityRow row;
    row.param = param_;
    number_range(*value, row.value, row.low, row.high);
    row.system = str_of(*o, "system");
    row.code = str_of(*o, "code");
    row.unit = str_of(*o, "unit");
    if (const auto currency = str_of(*o, "currency"); !currency.empty()) {  // Money
      row.system = "urn:iso:std:iso:4217";
      row.code = currency;
    }
    rows_.quantities.push_back(std::move(row));
  }

  /// One value of a parameter of type `t`.
  void add(ParamType t, const fhirpath::Value& v) {
    switch (t) {
      case ParamType::kString:
        as_string(v);
        break;
      case ParamType::kToken:
        as_token(v);
        break;
      case ParamType::kReference:
        as_reference(v);
        break;
      case ParamType::kDate:
        as_date(v);
        break;
      case ParamType::kNumber:
        as_number(v);
        break;
      case ParamType::kQuantity:
        as_quantity(v);
        break;
      case ParamType::kUri:
        as_uri(v);
        break;
      default:
        break;
    }
  }

  void as_uri(const fhirpath::Value& v) {
    if (v.node == nullptr || !v.node->is_string()) return;
    rows_.uris.push_back(UriRow{param_, std::string(v.node->get_string())});
  }

 private:
  IndexRows& rows_;
  const std::string& param_;
  const json::value* container_;
  const std::vector<std::string>* skip_;
};

/// Rows of one typed component, extracted into a scratch IndexRows.
IndexRows component_rows(const Component& comp, const fhirpath::Value& item, const fhirpath::Context& ctx) {
  IndexRows rows;
  if (!comp.expression) return rows;
  auto values = fhirpath::evaluate(*comp.expression, fhirpath::Collection{item}, ctx);
  if (!values) return rows;
  const std::string param;
  Extractor x(rows, param, ctx.root_resource != nullptr ? ctx.root_resource : ctx.resource);
  for (const auto& v : *values) {
    x.add(comp.type, v);
  }
  return rows;
}

/// Composite parameters whose three components are a token and two numbers (R4's sequence
/// coordinates: chromosome, start, end): every triple taken from the same element. The second
/// number is an integer (a coordinate) and is kept in the row's low and high columns.
void extract_triple(const SearchParam& sp, const json::value& doc, const fhirpath::Context& ctx, IndexRows& rows) {
  auto items = fhirpath::evaluate(*sp.compiled, doc, ctx);
  if (!items) return;
  for (const auto& item : *items) {
    const IndexRows first = component_rows(sp.components[0], item, ctx);
    const IndexRows second = component_rows(sp.components[1], item, ctx);
    const IndexRows third = component_rows(sp.components[2], item, ctx);
    for (const auto& t : first.tokens) {
      if (t.code.empty()) continue;
      for (const auto& x : second.numbers) {
        for (const auto& y : third.numbers) {
          if (y.value != std::floor(y.value) || std::fabs(y.value) > 9.0e15) continue;  // not an integer
          CompositeRow r;
          r.param = sp.code;
          r.system1 = t.system;
          r.code1 = t.code;
          r.value = x.value;
          r.low = static_cast<std::int64_t>(y.value);
          r.high = r.low;
          rows.composites.push_back(std::move(r));
        }
      }
    }
  }
}

/// Composite parameters with a token first component and one more component: every pair of the
/// two components' values taken from the same element.
void extract_composite(const SearchParam& sp, const json::value& doc, const fhirpath::Context& ctx, IndexRows& rows) {
  if (is_triple_composite(sp)) {
    extract_triple(sp, doc, ctx, rows);
    return;
  }
  if (sp.components.size() != 2 ||
      (sp.components[0].type != ParamType::kToken && sp.components[0].type != ParamType::kReference)) {
    return;
  }
  auto items = fhirpath::evaluate(*sp.compiled, doc, ctx);
  if (!items) return;
  for (const auto& item : *items) {
    IndexRows first = component_rows(sp.components[0], item, ctx);
    const IndexRows second = component_rows(sp.components[1], item, ctx);
    // A reference first component (DocumentReference relationship) is kept as the token Type|id.
    for (const auto& ref : first.references) {
      first.tokens.push_back(TokenRow{{}, ref.target_type, ref.target_id.empty() ? ref.url : ref.target_id, {}});
    }
    for (const auto& t : first.tokens) {
      if (t.code.empty()) continue;
      const auto base = [&] {
        CompositeRow r;
        r.param = sp.code;
        r.system1 = t.system;
        r.code1 = t.code;
        return r;
      };
      for (const auto& x : second.tokens) {
        CompositeRow r = base();
        r.system = x.system;
        r.code = x.code;
        r.normalized = x.text;
        rows.composites.push_back(std::move(r));
      }
      for (const auto& x : second.quantities) {
        CompositeRow r = base();
        r.value = x.value;
        r.system = x.system;
        r.code = x.code;
        r.unit = x.unit;
        rows.composites.push_back(std::move(r));
      }
      for (const auto& x : second.numbers) {
        CompositeRow r = base();
        r.value = x.value;
        rows.composites.push_back(std::move(r));
      }
      for (const auto& x : second.dates) {
        CompositeRow r = base();
        r.low = x.low;
        r.high = x.high;
        rows.composites.push_back(std::move(r));
      }
      for (const auto& x : second.strings) {
        CompositeRow r = base();
        r.normalized = x.normalized;
        r.exact = x.exact;
        rows.composites.push_back(std::move(r));
      }
      for (const auto& x : second.references) {
        CompositeRow r = base();
        r.target_type = x.target_type;
        r.target_id = x.target_id;
        r.url = x.url;
        rows.composites.push_back(std::move(r));
      }
      for (const auto& x : second.uris) {
        CompositeRow r = base();
        r.uri = x.uri;
        rows.composites.push_back(std::move(r));
      }
    }
  }
}

}  // namespace

std::string normalize_string(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      out.push_back(static_cast<char>(std::tolower(c)));
      continue;
    }
    // Two-byte Latin-1 Supplement letters (U+00C0..U+00FF) fold to their base letter.
    if ((c == 0xC3) && i + 1 < s.size()) {
      static constexpr std::string_view kFold = "aaaaaaaceeeeiiiidnooooo*ouuuuypsaaaaaaaceeeeiiiidnooooo/ouuuuypy";
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0xBF) {
        const char f = kFold[d - 0x80];
        if (f != '*' && f != '/') {
          out.push_back(f);
          ++i;
          continue;
        }
      }
    }
    // Latin Extended-A (U+0100..U+017F, lead bytes C4 and C5): Polish, Czech, Hungarian, Baltic letters.
    if ((c == 0xC4 || c == 0xC5) && i + 1 < s.size()) {
      static constexpr std::string_view kFoldA =
          "aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiii**jjkkklllllll"
          "lllnnnnnnnnnoooooo**rrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
      const auto d = static_cast<unsigned char>(s[i + 1]);
      if (d >= 0x80 && d <= 0xBF) {
        const char f = kFoldA[((c & 0x1F) << 6 | (d & 0x3F)) - 0x100];
        if (f != '*') {
          out.push_back(f);
          ++i;
          continue;
        }
      }
    }
    out.push_back(static_cast<char>(c));
  }
  return out;
}

bool date_range(std::string_view text, core::Micros& low, core::Micros& high) {
  const auto lo = core::parse_fhir_datetime(text);
  if (!lo) return false;
  low = *lo;
  if (text.size() >= 10) {  // the day must exist in its month (2021-02-30 is not a date)
    const int y = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
    const int m = (text[5] - '0') * 10 + (text[6] - '0');
    const int d = (text[8] - '0') * 10 + (text[9] - '0');
    const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    static constexpr std::array<int, 12> kDays = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12 || d > kDays.at(m - 1) + (m == 2 && leap ? 1 : 0)) return false;
  }
  const auto year = [&](int add) {
    int y = 0;
    for (std::size_t i = 0; i < 4; ++i) y = y * 10 + (text[i] - '0');
    return y + add;
  };
  std::optional<core::Micros> next;
  if (text.size() == 4) {
    next = core::parse_fhir_datetime(fmt::format("{:04}", year(1)));
  } else if (text.size() == 7) {
    int m = (text[5] - '0') * 10 + (text[6] - '0');
    next = m == 12 ? core::parse_fhir_datetime(fmt::format("{:04}-01", year(1)))
                   : core::parse_fhir_datetime(fmt::format("{:04}-{:02}", year(0), m + 1));
  } else if (text.size() == 10) {
    next = low + 86'400'000'000;
  } else {
    // A time: to the second, or to the written fraction of a second.
    const auto dot = text.find('.');
    core::Micros unit = 1'000'000;
    if (dot != std::string_view::npos) {
      std::size_t digits = 0;
      while (dot + 1 + digits < text.size() && std::isdigit(static_cast<unsigned char>(text[dot + 1 + digits])) != 0) {
        ++digits;
      }
      for (std::size_t i = 0; i < digits && unit > 1; ++i) unit /= 10;
    }
    next = low + unit;
  }
  if (!next) return false;
  high = *next - 1;
  return true;
}

namespace {

/// The rows of one resource (`doc`, of `type`) into `rows`. `container`: the resource whose
/// contained list `#id` references point into (itself, or the container of a contained resource).
/// The patient compartments are collected only when `compartments` is given.
void extract_into(const json::value& doc, std::string_view type, const json::value& container, const Registry& registry,
                  IndexRows& rows, std::set<std::string>* compartments) {
  // resolve() (as in `subject.where(resolve() is Patient)`) sees a stub of the referenced type: the
  // index needs only the type, which a literal reference (relative or absolute) carries.
  std::map<std::string, json::value, std::less<>> stubs;
  fhirpath::Context ctx;
  ctx.resource = &doc;  // %resource in component expressions (the sequence's chromosome)
  ctx.root_resource = &container;
  ctx.resolver = [&stubs](std::string_view ref) -> const json::value* {
    if (auto it = stubs.find(ref); it != stubs.end()) return &it->second;
    std::string_view path = ref;
    if (const auto h = path.find("/_history/"); h != std::string_view::npos) path = path.substr(0, h);
    const auto slash = path.rfind('/');
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == path.size()) return nullptr;
    const auto prev = path.rfind('/', slash - 1);
    const std::string_view type = path.substr(prev == std::string_view::npos ? 0 : prev + 1,
                                              slash - (prev == std::string_view::npos ? 0 : prev + 1));
    if (!fhir::is_resource_type(type)) return nullptr;
    json::object stub{{"resourceType", type}, {"id", path.substr(slash + 1)}};
    return &stubs.emplace(std::string(ref), json::value(std::move(stub))).first->second;
  };
  const auto& compartment_params = registry.patient_compartment_params(type);
  for (const SearchParam* sp : registry.for_type(type)) {
    if (!sp->compiled || sp->type == ParamType::kSpecial) continue;
    if (!sp->stored_target.empty()) {
      // Another reference parameter restricted to one target type (Observation patient): its
      // references are read from the other's rows; only its `:identifier` rows are its own.
      auto items = fhirpath::evaluate(*sp->compiled, doc, ctx);
      if (!items) continue;
      IndexRows own;
      Extractor x(own, sp->code, &container);
      for (const auto& v : *items) x.add(sp->type, v);
      for (auto& t : own.tokens) rows.tokens.push_back(std::move(t));
      continue;
    }
    // Unions of other parameters (combo-code = code | component-code) are read from theirs.
    if (!stores_own_rows(*sp)) continue;
    if (sp->type == ParamType::kComposite) {
      extract_composite(*sp, doc, ctx, rows);
      continue;
    }
    // _id and _lastUpdated are answered from the version facts, not index rows.
    if (sp->code == "_id" || sp->code == "_lastUpdated") continue;
    auto items = fhirpath::evaluate(*sp->compiled, doc, ctx);
    if (!items) continue;
    Extractor x(rows, sp->code, &container, sp->covered_parts.empty() ? nullptr : &sp->covered_parts);
    for (const auto& v : *items) {
      x.add(sp->type, v);
    }
  }
  // The patients whose compartments hold the resource, from the rows of the compartment's
  // parameters (a restricted one's are those of the parameter it restricts).
  if (compartments == nullptr) return;
  for (const auto& code : compartment_params) {
    const SearchParam* sp = registry.find(type, code);
    if (sp == nullptr || sp->type != ParamType::kReference) continue;
    const bool restricted = !sp->stored_target.empty();
    if (restricted && sp->stored_target != "Patient") continue;
    const std::string& stored = restricted ? sp->stored_as.front() : sp->code;
    for (const auto& r : rows.references) {
      if (r.param == stored && r.target_type == "Patient" && !r.target_id.empty()) {
        compartments->insert("Patient/" + r.target_id);
      }
    }
  }
}

}  // namespace

IndexRows extract(const boost::json::value& doc, std::string_view type, std::string_view id, const Registry& registry,
                  bool with_contained) {
  IndexRows rows;
  std::set<std::string> compartments;
  extract_into(doc, type, doc, registry, rows, &compartments);
  if (type == "Patient" && !id.empty()) compartments.insert("Patient/" + std::string(id));
  rows.compartments.assign(compartments.begin(), compartments.end());
  // Contained resources (R4 references.html#contained): each by its own type's parameters, with
  // `#id` references resolved inside this container. Nothing more happens without a `contained`.
  const auto* o = doc.if_object();
  const auto* list = with_contained && o != nullptr ? o->if_contains("contained") : nullptr;
  if (list == nullptr || !list->is_array()) return rows;
  for (const auto& c : list->get_array()) {
    if (rows.contained.size() + 1 >= static_cast<std::size_t>(kContainedSlots)) break;
    const auto* co = c.if_object();
    if (co == nullptr) continue;
    const std::string_view ctype = str_of(*co, "resourceType");
    const std::string_view cid = str_of(*co, "id");
    if (cid.empty() || !fhir::is_resource_type(ctype)) continue;  // not addressable: nothing can find it
    ContainedRows contained{std::string(ctype), std::string(cid), {}};
    extract_into(c, ctype, doc, registry, contained.rows, nullptr);
    contained.rows.tokens.push_back(TokenRow{"_id", {}, contained.id, {}});
    rows.contained.push_back(std::move(contained));
  }
  return rows;
}

}  // namespace ucr::search
