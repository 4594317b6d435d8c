// Conversion functions: toX() / convertsToX() for Boolean, Integer, Decimal, String, Quantity, Date,
// DateTime and Time; plus the public to_string().
#include "fhirpath/evaluator.hpp"
#include "fhirpath/functions.hpp"
#include "fhirpath/model.hpp"

#include <algorithm>
#include <cctype>

namespace ucr::fhirpath {
namespace {

using R = core::Result<Collection>;

enum class Target : std::uint8_t { kBoolean, kInteger, kDecimal, kString, kQuantity, kDate, kDateTime, kTime };

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<Quantity> parse_quantity(std::string_view s) {
  std::size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0) ++i;
  }
  auto value = Decimal::parse(s.substr(0, i));
  if (!value) return std::nullopt;
  std::string_view rest = s.substr(i);
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  if (rest.empty()) return Quantity{*value, "1"};
  if (rest.size() >= 2 && rest.front() == '\'' && rest.back() == '\'') {
    return Quantity{*value, std::string(rest.substr(1, rest.size() - 2))};
  }
  if (is_calendar_keyword(rest)) return Quantity{*value, std::string(rest)};
  return std::nullopt;
}

std::optional<Value> convert(const Value& v, Target target) {
  switch (target) {
    case Target::kBoolean:
      switch (v.kind) {
        case ValueKind::kBoolean:
          return v;
        case ValueKind::kInteger:
          if (v.as_integer() == 0 || v.as_integer() == 1) return Value::boolean(v.as_integer() == 1);
          return std::nullopt;
        case ValueKind::kDecimal: {
          int c1 = Decimal::compare(v.as_decimal(), Decimal(1, 0)),
              c0 = Decimal::compare(v.as_decimal(), Decimal(0, 0));
          if (c1 == 0 || c0 == 0) return Value::boolean(c1 == 0);
          return std::nullopt;
        }
        case ValueKind::kString: {
          std::string s = lower(v.as_string());
          if (s == "true" || s == "t" || s == "yes" || s == "y" || s == "1" || s == "1.0") return Value::boolean(true);
          if (s == "false" || s == "f" || s == "no" || s == "n" || s == "0" || s == "0.0") return Value::boolean(false);
          return std::nullopt;
        }
        default:
          return std::nullopt;
      }
    case Target::kInteger:
      switch (v.kind) {
        case ValueKind::kInteger:
          return v;
        case ValueKind::kBoolean:
          return Value::integer(v.as_bool() ? 1 : 0);
        case ValueKind::kString: {
          const std::string& s = v.as_string();
          if (s.empty() || s.find('.') != std::string::npos) return std::nullopt;
          auto d = Decimal::parse(s);
          if (!d) return std::nullopt;
          auto i = d->to_int64();
          if (!i) return std::nullopt;
          return Value::integer(*i);
        }
        default:
          return std::nullopt;
      }
    case Target::kDecimal:
      switch (v.kind) {
        case ValueKind::kDecimal:
          return v;
        case ValueKind::kInteger:
          return Value::decimal(Decimal::from_int(v.as_integer()));
        case ValueKind::kBoolean:
          return Value::decimal(Decimal(v.as_bool() ? 10 : 0, 1));
        case ValueKind::kString: {
          auto d = Decimal::parse(v.as_string());
          if (!d) return std::nullopt;
          return Value::decimal(*d);
        }
        default:
          return std::nullopt;
      }
    case Target::kString: {
      auto s = to_string(v);
      if (!s) return std::nullopt;
      return Value::string(std::move(*s));
    }
    case Target::kQuantity:
      switch (v.kind) {
        case ValueKind::kQuantity:
          return v;
        case ValueKind::kInteger:
          return Value::quantity(Quantity{Decimal::from_int(v.as_integer()), "1"});
        case ValueKind::kDecimal:
          return Value::quantity(Quantity{v.as_decimal(), "1"});
        case ValueKind::kBoolean:
          return Value::quantity(Quantity{Decimal(v.as_bool() ? 10 : 0, 1), "1"});
        case ValueKind::kString: {
          auto q = parse_quantity(v.as_string());
          if (!q) return std::nullopt;
          return Value::quantity(std::move(*q));
        }
        default:
          return std::nullopt;
      }
    case Target::kDate:
      if (v.kind == ValueKind::kDate) return v;
      if (v.kind == ValueKind::kDateTime || v.kind == ValueKind::kString) {
        std::optional<Temporal> t;
        if (v.kind == ValueKind::kString) {
          t = Temporal::parse_date(v.as_string());
          if (!t) t = Temporal::parse_date_time(v.as_string());
        } else {
          t = v.as_temporal();
        }
        if (!t) return std::nullopt;
        t->kind = TemporalKind::kDate;
        t->precision = std::min(t->precision, Precision::kDay);
        t->has_timezone = false;
        return Value::temporal(*t);
      }
      return std::nullopt;
    case Target::kDateTime:
      if (v.kind == ValueKind::kDateTime) return v;
      if (v.kind == ValueKind::kDate) {
        Temporal t = v.as_temporal();
        t.kind = TemporalKind::kDateTime;
        return Value::temporal(t);
      }
      if (v.kind == ValueKind::kString) {
        auto t = Temporal::parse_date_time(v.as_string());
        if (!t) return std::nullopt;
        return Value::temporal(*t);
      }
      return std::nullopt;
    case Target::kTime:
      if (v.kind == ValueKind::kTime) return v;
      if (v.kind == ValueKind::kString) {
        auto t = Temporal::parse_time(v.as_string());
        if (!t) return std::nullopt;
        return Value::temporal(*t);
      }
      return std::nullopt;
  }
  return std::nullopt;
}

template <Target kTarget, bool kTest>
R fn_convert(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(item, singleton(ev, call, in));
  if (item == nullptr) return Collection{};
  Value v = to_system(*item);
  std::optional<Value> r = v.is_node() ? std::nullopt : convert(v, kTarget);
  if (kTarget == Target::kQuantity && r && !call.args.empty()) {
    UCR_FP_TRY(uc, ev.arg(call, 0, scope));
    UCR_FP_TRY(u, singleton(ev, *call.args[0], uc));
    if (u != nullptr) {
      auto unit = string_value(to_system(*u));
      if (!unit) return ev.error(*call.args[0], "unit must be a string");
      auto q = convert_quantity(r->as_quantity(), *unit);
      r = q ? std::optional<Value>(Value::quantity(std::move(*q))) : std::nullopt;
    }
  }
  if (kTest) return Collection{Value::boolean(r.has_value())};
  if (!r) return Collection{};
  return Collection{std::move(*r)};
}

constexpr FunctionDef kFunctions[] = {
    {"toBoolean", fn_convert<Target::kBoolean, false>, 0, 0},
    {"convertsToBoolean", fn_convert<Target::kBoolean, true>, 0, 0},
    {"toInteger", fn_convert<Target::kInteger, false>, 0, 0},
    {"convertsToInteger", fn_convert<Target::kInteger, true>, 0, 0},
    {"toDecimal", fn_convert<Target::kDecimal, false>, 0, 0},
    {"convertsToDecimal", fn_convert<Target::kDecimal, true>, 0, 0},
    {"toString", fn_convert<Target::kString, false>, 0, 0},
    {"convertsToString", fn_convert<Target::kString, true>, 0, 0},
    {"toQuantity", fn_convert<Target::kQuantity, false>, 0, 1},
    {"convertsToQuantity", fn_convert<Target::kQuantity, true>, 0, 1},
    {"toDate", fn_convert<Target::kDate, false>, 0, 0},
    {"convertsToDate", fn_convert<Target::kDate, true>, 0, 0},
    {"toDateTime", fn_convert<Target::kDateTime, false>, 0, 0},
    {"convertsToDateTime", fn_convert<Target::kDateTime, true>, 0, 0},
    {"toTime", fn_convert<Target::kTime, false>, 0, 0},
    {"convertsToTime", fn_convert<Target::kTime, true>, 0, 0},
};

}  // namespace

std::span<const FunctionDef> conversion_functions() { return kFunctions; }

std::optional<std::string> to_string(const Value& v0) {
  Value v = to_system(v0);
  switch (v.kind) {
    case ValueKind::kBoolean:
      return std::string(v.as_bool() ? "true" : "false");
    case ValueKind::kInteger:
      return std::to_string(v.as_integer());
    case ValueKind::kDecimal:
      return v.as_decimal().to_string();
    case ValueKind::kString:
      return v.as_string();
    case ValueKind::kDate:
    case ValueKind::kDateTime:
    case ValueKind::kTime:
      return v.as_temporal().to_string();
    case ValueKind::kQuantity:
      return v.as_quantity().to_string();
    default:
      return std::nullopt;
  }
}

}  // namespace ucr::fhirpath
