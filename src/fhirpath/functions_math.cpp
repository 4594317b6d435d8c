// Math functions (abs, ceiling, exp, floor, ln, log, power, round, sqrt, truncate) and the precision
// functions lowBoundary/highBoundary/precision/comparable.
#include "fhirpath/evaluator.hpp"
#include "fhirpath/functions.hpp"
#include "fhirpath/model.hpp"

#include <cmath>

namespace ucr::fhirpath {
namespace {

using R = core::Result<Collection>;

Decimal as_dec(const Value& v) {
  return v.kind == ValueKind::kInteger ? Decimal::from_int(v.as_integer()) : v.as_decimal();
}
bool is_number(const Value& v) { return v.kind == ValueKind::kInteger || v.kind == ValueKind::kDecimal; }

/// The single System value of the input (nullopt when empty).
core::Result<std::optional<Value>> input_value(Evaluator& ev, const Node& call, const Collection& in) {
  UCR_FP_TRY(v, singleton(ev, call, in));
  if (v == nullptr) return std::optional<Value>();
  return std::optional<Value>(to_system(*v));
}

core::Result<std::optional<Value>> number_input(Evaluator& ev, const Node& call, const Collection& in) {
  UCR_FP_TRY(v, input_value(ev, call, in));
  if (v && !is_number(*v)) return ev.error(call, "'" + call.name + "' needs a number");
  return v;
}

core::Result<std::optional<Value>> number_arg(Evaluator& ev, const Node& call, std::size_t i, const Scope& scope) {
  UCR_FP_TRY(c, ev.arg(call, i, scope));
  UCR_FP_TRY(v, singleton(ev, *call.args[i], c));
  if (v == nullptr) return std::optional<Value>();
  Value s = to_system(*v);
  if (!is_number(s)) return ev.error(*call.args[i], "expected a number argument");
  return std::optional<Value>(s);
}

Collection from_double(double d) {
  auto r = Decimal::from_double(d);
  if (!r) return Collection{};
  return Collection{Value::decimal(*r)};
}

R fn_abs(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(v, input_value(ev, call, in));
  if (!v) return Collection{};
  if (v->kind == ValueKind::kInteger) {
    if (v->as_integer() == INT64_MIN) return ev.error(call, "integer overflow");
    return Collection{Value::integer(std::llabs(v->as_integer()))};
  }
  if (v->kind == ValueKind::kDecimal) return Collection{Value::decimal(v->as_decimal().abs())};
  if (v->kind == ValueKind::kQuantity) {
    Quantity q = v->as_quantity();
    q.value = q.value.abs();
    return Collection{Value::quantity(std::move(q))};
  }
  return ev.error(call, "abs() needs a number or quantity");
}

template <int kMode>  // 0 ceiling, 1 floor, 2 truncate
R fn_rounding(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(v, number_input(ev, call, in));
  if (!v) return Collection{};
  if (v->kind == ValueKind::kInteger) return Collection{*v};
  const Decimal& d = v->as_decimal();
  Decimal r = kMode == 0 ? d.ceiling(0) : (kMode == 1 ? d.floor(0) : d.truncate(0));
  auto i = r.to_int64();
  if (!i) return ev.error(call, "result out of Integer range");
  return Collection{Value::integer(*i)};
}

R fn_unary_math(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(v, number_input(ev, call, in));
  if (!v) return Collection{};
  double x = as_dec(*v).to_double();
  if (call.name == "exp") return from_double(std::exp(x));
  if (call.name == "ln") return x <= 0 ? Collection{} : from_double(std::log(x));
  return x < 0 ? Collection{} : from_double(std::sqrt(x));  // sqrt
}

R fn_log(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(v, number_input(ev, call, in));
  UCR_FP_TRY(base, number_arg(ev, call, 0, scope));
  if (!v || !base) return Collection{};
  double x = as_dec(*v).to_double(), b = as_dec(*base).to_double();
  if (x <= 0 || b <= 0 || b == 1) return Collection{};
  return from_double(std::log(x) / std::log(b));
}

R fn_power(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(v, number_input(ev, call, in));
  UCR_FP_TRY(e, number_arg(ev, call, 0, scope));
  if (!v || !e) return Collection{};
  if (v->kind == ValueKind::kInteger && e->kind == ValueKind::kInteger && e->as_integer() >= 0) {
    std::int64_t r = 1;
    for (std::int64_t k = 0; k < e->as_integer(); ++k) {
      if (__builtin_mul_overflow(r, v->as_integer(), &r)) return ev.error(call, "integer overflow");
      if (r == 0 || r == 1) break;
    }
    return Collection{Value::integer(r)};
  }
  double r = std::pow(as_dec(*v).to_double(), as_dec(*e).to_double());
  if (!std::isfinite(r)) return Collection{};
  return from_double(r);
}

R fn_round(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(v, number_input(ev, call, in));
  if (!v) return Collection{};
  std::int64_t digits = 0;
  if (!call.args.empty()) {
    UCR_FP_TRY(p, number_arg(ev, call, 0, scope));
    if (!p) return Collection{};
    if (p->kind != ValueKind::kInteger || p->as_integer() < 0)
      return ev.error(call, "round() precision must be a non-negative Integer");
    digits = std::min<std::int64_t>(p->as_integer(), Decimal::kMaxScale);
  }
  return Collection{Value::decimal(as_dec(*v).round(static_cast<int>(digits)))};
}

std::optional<Decimal> decimal_boundary(const Decimal& d, std::int64_t precision, bool high) {
  if (precision < 0 || precision > Decimal::kMaxScale) return std::nullopt;
  Int128 m;
  if (__builtin_mul_overflow(d.mantissa(), Int128(10), &m)) return std::nullopt;
  Decimal edge(high ? m + 5 : m - 5, d.scale() + 1);
  auto p = static_cast<int>(precision);
  if (p >= edge.scale()) return edge.rescaled(p);
  return high ? edge.ceiling(p) : edge.floor(p);
}

int days_in(int y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return kDays[m - 1];
}

std::optional<Temporal> temporal_boundary(const Temporal& t0, std::optional<std::int64_t> precision, bool high) {
  Temporal t = t0;
  static constexpr std::pair<int, Precision> kDate[] = {
      {4, Precision::kYear},    {6, Precision::kMonth},   {8, Precision::kDay},         {10, Precision::kHour},
      {12, Precision::kMinute}, {14, Precision::kSecond}, {17, Precision::kMillisecond}};
  static constexpr std::pair<int, Precision> kTime[] = {
      {2, Precision::kHour}, {4, Precision::kMinute}, {6, Precision::kSecond}, {9, Precision::kMillisecond}};
  bool time = t.kind == TemporalKind::kTime;
  std::int64_t p = precision.value_or(time ? 9 : (t.kind == TemporalKind::kDate ? 8 : 17));
  std::optional<Precision> target;
  for (const auto& [digits, prec] :
       time ? std::span<const std::pair<int, Precision>>(kTime) : std::span<const std::pair<int, Precision>>(kDate)) {
    if (digits == p) target = prec;
  }
  if (!target) return std::nullopt;
  if (t.precision < Precision::kMonth) t.month = high ? 12 : 1;
  if (t.precision < Precision::kDay) t.day = high ? days_in(t.year, t.month) : 1;
  if (t.precision < Precision::kHour) t.hour = high ? 23 : 0;
  if (t.precision < Precision::kMinute) t.minute = high ? 59 : 0;
  if (t.precision < Precision::kSecond) t.second = high ? 59 : 0;
  if (t.precision < Precision::kMillisecond) t.millisecond = high ? 999 : 0;
  t.precision = *target;
  if (!time && *target >= Precision::kHour) {
    t.kind = TemporalKind::kDateTime;
    if (!t.has_timezone) {
      t.has_timezone = true;
      t.tz_minutes = high ? -12 * 60 : 14 * 60;
    }
  }
  return t;
}

R fn_boundary(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  bool high = call.name == "highBoundary";
  UCR_FP_TRY(v, input_value(ev, call, in));
  if (!v) return Collection{};
  std::optional<std::int64_t> precision;
  if (!call.args.empty()) {
    UCR_FP_TRY(p, number_arg(ev, call, 0, scope));
    if (!p) return Collection{};
    if (p->kind != ValueKind::kInteger) return ev.error(call, "precision must be an Integer");
    precision = p->as_integer();
  }
  if (is_number(*v) || v->kind == ValueKind::kQuantity) {
    Decimal d = v->kind == ValueKind::kQuantity ? v->as_quantity().value : as_dec(*v);
    auto r = decimal_boundary(d, precision.value_or(8), high);
    if (!r) return Collection{};
    if (v->kind == ValueKind::kQuantity) return Collection{Value::quantity(Quantity{*r, v->as_quantity().unit})};
    return Collection{Value::decimal(*r)};
  }
  if (v->kind == ValueKind::kDate || v->kind == ValueKind::kDateTime || v->kind == ValueKind::kTime) {
    auto r = temporal_boundary(v->as_temporal(), precision, high);
    if (!r) return Collection{};
    return Collection{Value::temporal(*r)};
  }
  return ev.error(call, "'" + call.name + "' needs a number, quantity or date/time");
}

R fn_precision(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(v, input_value(ev, call, in));
  if (!v) return Collection{};
  if (v->kind == ValueKind::kInteger) return Collection{Value::integer(0)};
  if (v->kind == ValueKind::kDecimal) return Collection{Value::integer(v->as_decimal().scale())};
  if (v->kind == ValueKind::kDate || v->kind == ValueKind::kDateTime || v->kind == ValueKind::kTime) {
    return Collection{Value::integer(v->as_temporal().precision_digits())};
  }
  return ev.error(call, "precision() needs a number or date/time");
}

R fn_comparable(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(v, input_value(ev, call, in));
  UCR_FP_TRY(c, ev.arg(call, 0, scope));
  UCR_FP_TRY(o, singleton(ev, call, c));
  if (!v || o == nullptr) return Collection{};
  Value other = to_system(*o);
  if (v->kind != ValueKind::kQuantity || other.kind != ValueKind::kQuantity) {
    return ev.error(call, "comparable() needs quantities");
  }
  return Collection{Value::boolean(quantities_comparable(v->as_quantity(), other.as_quantity()))};
}

constexpr FunctionDef kFunctions[] = {
    {"abs", fn_abs, 0, 0},
    {"ceiling", fn_rounding<0>, 0, 0},
    {"floor", fn_rounding<1>, 0, 0},
    {"truncate", fn_rounding<2>, 0, 0},
    {"exp", fn_unary_math, 0, 0},
    {"ln", fn_unary_math, 0, 0},
    {"sqrt", fn_unary_math, 0, 0},
    {"log", fn_log, 1, 1},
    {"power", fn_power, 1, 1},
    {"round", fn_round, 0, 1},
    {"lowBoundary", fn_boundary, 0, 1},
    {"highBoundary", fn_boundary, 0, 1},
    {"precision", fn_precision, 0, 0},
    {"comparable", fn_comparable, 1, 1},
};

}  // namespace

std::span<const FunctionDef> math_functions() { return kFunctions; }

}  // namespace ucr::fhirpath
