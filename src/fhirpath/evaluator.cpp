#include "fhirpath/evaluator.hpp"

#include "fhirpath/model.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <utility>

namespace ucr::fhirpath {
namespace json = boost::json;
namespace {

constexpr int kMaxDepth = 400;

/// Counts one level of nesting while an expression node is evaluated.
class DepthGuard {
 public:
  explicit DepthGuard(int& depth) : depth_(depth) { ++depth_; }
  ~DepthGuard() { --depth_; }
  DepthGuard(const DepthGuard&) = delete;
  DepthGuard& operator=(const DepthGuard&) = delete;

 private:
  int& depth_;
};

bool is_logic(BinaryOp op) {
  return op == BinaryOp::kAnd || op == BinaryOp::kOr || op == BinaryOp::kXor || op == BinaryOp::kImplies;
}

bool is_number(const Value& v) { return v.kind == ValueKind::kInteger || v.kind == ValueKind::kDecimal; }
bool is_temporal(const Value& v) {
  return v.kind == ValueKind::kDate || v.kind == ValueKind::kDateTime || v.kind == ValueKind::kTime;
}
Decimal as_dec(const Value& v) {
  return v.kind == ValueKind::kInteger ? Decimal::from_int(v.as_integer()) : v.as_decimal();
}

std::string normalize_ws(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (std::isspace(static_cast<unsigned char>(c)) != 0) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  return out;
}

std::string_view kind_name(const Value& v) {
  switch (v.kind) {
    case ValueKind::kBoolean:
      return "Boolean";
    case ValueKind::kInteger:
      return "Integer";
    case ValueKind::kDecimal:
      return "Decimal";
    case ValueKind::kString:
      return "String";
    case ValueKind::kDate:
      return "Date";
    case ValueKind::kDateTime:
      return "DateTime";
    case ValueKind::kTime:
      return "Time";
    case ValueKind::kQuantity:
      return "Quantity";
    case ValueKind::kTypeInfo:
      return "TypeInfo";
    case ValueKind::kNode:
      return v.type.empty() ? std::string_view("element") : v.type;
  }
  return "value";
}

}  // namespace

// ------------------------------------------------------------------------------------------- helpers

/// The text of an item that to_system() turns into a String (a String, or a string node whose FHIR type
/// is not boolean/number/date-like), without copying it; nullopt for anything else.
std::optional<std::string_view> plain_string(const Value& v) {
  if (v.kind == ValueKind::kString) return std::string_view(v.as_string());
  if (!v.is_node() || v.node == nullptr || !v.node->is_string()) return std::nullopt;
  const std::string_view t = v.type;
  if (t == "boolean" || t == "integer" || t == "positiveInt" || t == "unsignedInt" || t == "integer64" ||
      t == "decimal" || t == "date" || t == "dateTime" || t == "instant" || t == "time") {
    return std::nullopt;
  }
  const json::string& s = v.node->get_string();
  return std::string_view(s.data(), s.size());
}

std::optional<std::string> string_value(const Value& v) {
  if (v.kind == ValueKind::kString) return v.as_string();
  if (v.is_node() && v.node != nullptr && v.node->is_string()) {
    if (v.type.empty() || (is_fhir_primitive(v.type) && v.type != "boolean" && v.type != "integer" &&
                           v.type != "decimal" && v.type != "positiveInt" && v.type != "unsignedInt")) {
      return std::string(v.node->get_string());
    }
  }
  return std::nullopt;
}

std::optional<bool> equal_items(const Value& a0, const Value& b0) {
  // Strings (the common case: codes, systems, names) compare without building System values.
  if (auto sa = plain_string(a0)) {
    if (auto sb = plain_string(b0)) return *sa == *sb;
  }
  Value a = to_system(a0), b = to_system(b0);
  if (a.is_node() || b.is_node()) {
    if (!a.is_node() || !b.is_node()) return false;
    if (a.node == nullptr || b.node == nullptr) return a.node == b.node && a.extension == b.extension;
    return *a.node == *b.node;
  }
  if (is_number(a) && is_number(b)) {
    if (a.kind == ValueKind::kInteger && b.kind == ValueKind::kInteger) return a.as_integer() == b.as_integer();
    return Decimal::compare(as_dec(a), as_dec(b)) == 0;
  }
  if (is_temporal(a) && is_temporal(b)) {
    if (!temporal_comparable(a.as_temporal(), b.as_temporal())) return false;
    auto c = compare_temporal(a.as_temporal(), b.as_temporal());
    if (!c) return std::nullopt;
    return *c == 0;
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case ValueKind::kBoolean:
      return a.as_bool() == b.as_bool();
    case ValueKind::kString:
      return a.as_string() == b.as_string();
    case ValueKind::kQuantity: {
      auto c = compare_quantity(a.as_quantity(), b.as_quantity());
      if (!c) return std::nullopt;
      return *c == 0;
    }
    case ValueKind::kTypeInfo:
      return a.as_type_info().name == b.as_type_info().name &&
             a.as_type_info().namespace_name == b.as_type_info().namespace_name;
    default:
      return false;
  }
}

bool equivalent_items(const Value& a0, const Value& b0) {
  Value a = to_system(a0), b = to_system(b0);
  if (a.is_node() || b.is_node()) {
    if (!a.is_node() || !b.is_node()) return false;
    if (a.node == nullptr || b.node == nullptr) return a.node == b.node;
    return *a.node == *b.node;
  }
  if (is_number(a) && is_number(b)) {
    Decimal x = as_dec(a), y = as_dec(b);
    int s = std::min(x.scale(), y.scale());
    return Decimal::compare(x.round(s), y.round(s)) == 0;
  }
  if (is_temporal(a) && is_temporal(b)) {
    if (!temporal_comparable(a.as_temporal(), b.as_temporal())) return false;
    auto c = compare_temporal(a.as_temporal(), b.as_temporal());
    return c && *c == 0;
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case ValueKind::kBoolean:
      return a.as_bool() == b.as_bool();
    case ValueKind::kString:
      return normalize_ws(a.as_string()) == normalize_ws(b.as_string());
    case ValueKind::kQuantity:
      return equivalent_quantity(a.as_quantity(), b.as_quantity()).value_or(false);
    default:
      return equal_items(a, b).value_or(false);
  }
}

std::optional<bool> equal_collections(const Collection& a, const Collection& b) {
  if (a.empty() || b.empty()) return std::nullopt;
  if (a.size() != b.size()) return false;
  bool unknown = false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto r = equal_items(a[i], b[i]);
    if (!r) {
      unknown = true;
    } else if (!*r) {
      return false;
    }
  }
  if (unknown) return std::nullopt;
  return true;
}

bool equivalent_collections(const Collection& a, const Collection& b) {
  if (a.size() != b.size()) return false;
  std::vector<bool> used(b.size(), false);
  for (const Value& x : a) {
    bool found = false;
    for (std::size_t j = 0; j < b.size() && !found; ++j) {
      if (!used[j] && equivalent_items(x, b[j])) used[j] = found = true;
    }
    if (!found) return false;
  }
  return true;
}

Order compare_items(const Value& a0, const Value& b0) {
  Value a = to_system(a0), b = to_system(b0);
  auto from_int = [](int c) { return c < 0 ? Order::kLess : (c > 0 ? Order::kGreater : Order::kEqual); };
  if (is_number(a) && is_number(b)) return from_int(Decimal::compare(as_dec(a), as_dec(b)));
  if (a.kind == ValueKind::kString && b.kind == ValueKind::kString)
    return from_int(a.as_string().compare(b.as_string()));
  if (is_temporal(a) && is_temporal(b)) {
    if (!temporal_comparable(a.as_temporal(), b.as_temporal())) return Order::kIncompatible;
    auto c = compare_temporal(a.as_temporal(), b.as_temporal());
    return c ? from_int(*c) : Order::kUnknown;
  }
  if (a.kind == ValueKind::kQuantity && b.kind == ValueKind::kQuantity) {
    auto c = compare_quantity(a.as_quantity(), b.as_quantity());
    return c ? from_int(*c) : Order::kUnknown;
  }
  if (a.kind == ValueKind::kBoolean && b.kind == ValueKind::kBoolean) {
    return from_int(static_cast<int>(a.as_bool()) - static_cast<int>(b.as_bool()));
  }
  return Order::kIncompatible;
}

bool contains_item(const Collection& items, const Value& v) {
  return std::any_of(items.begin(), items.end(), [&](const Value& x) { return equal_items(x, v).value_or(false); });
}

void add_distinct(Collection& out, const Value& v) {
  if (!contains_item(out, v)) out.push_back(v);
}

core::Result<std::optional<bool>> to_boolean(const Evaluator& ev, const Node& at, const Collection& c) {
  if (c.empty()) return std::optional<bool>();
  if (c.size() > 1) return ev.error(at, "expected a single boolean but got " + std::to_string(c.size()) + " items");
  const Value& item = c.front();
  if (item.kind == ValueKind::kBoolean) return std::optional<bool>(item.as_bool());
  if (item.is_node()) {
    // to_system() makes a Boolean only of a JSON boolean typed boolean (or untyped).
    if (item.node != nullptr && item.node->is_bool() && (item.type.empty() || item.type == "boolean")) {
      return std::optional<bool>(item.node->get_bool());
    }
    return std::optional<bool>(true);
  }
  Value v = to_system(item);
  if (v.kind == ValueKind::kBoolean) return std::optional<bool>(v.as_bool());
  return std::optional<bool>(true);
}

core::Result<const Value*> singleton(const Evaluator& ev, const Node& at, const Collection& c) {
  if (c.empty()) return static_cast<const Value*>(nullptr);
  if (c.size() > 1) return ev.error(at, "expected a single item but got " + std::to_string(c.size()));
  return &c.front();
}

// ----------------------------------------------------------------------------------------- Evaluator

core::Result<const Collection*> Evaluator::arg_items(const Node& call, std::size_t i, const Scope& scope,
                                                     Collection& store) {
  const Node& a = *call.args[i];
  if (a.kind == NodeKind::kLiteral && depth_ <= kMaxDepth) return &a.literal;
  UCR_FP_TRY(items, eval(a, scope));
  store = std::move(items);
  return &store;
}

core::Error Evaluator::error(const Node& node, std::string_view message) const {
  return make_error(expr_.text(), node.offset, message);
}

const json::value* Evaluator::root_resource() const {
  if (ctx_.root_resource != nullptr) return ctx_.root_resource;
  if (ctx_.resource != nullptr) return ctx_.resource;
  if (input_.size() == 1 && input_.front().is_node()) return input_.front().node;
  return nullptr;
}

const Temporal& Evaluator::now() {
  if (!now_) {
    if (ctx_.now) {
      now_ = ctx_.now;
    } else {
      auto tp = std::chrono::system_clock::now();
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
      std::chrono::sys_days days{std::chrono::floor<std::chrono::days>(tp)};
      std::chrono::year_month_day ymd{days};
      std::int64_t rest = ms - std::chrono::duration_cast<std::chrono::milliseconds>(days.time_since_epoch()).count();
      Temporal t;
      t.kind = TemporalKind::kDateTime;
      t.precision = Precision::kMillisecond;
      t.year = static_cast<int>(ymd.year());
      t.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
      t.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
      t.hour = static_cast<int>(rest / 3600000);
      t.minute = static_cast<int>(rest / 60000 % 60);
      t.second = static_cast<int>(rest / 1000 % 60);
      t.millisecond = static_cast<int>(rest % 1000);
      t.has_timezone = true;
      now_ = t;
    }
  }
  return *now_;
}

core::Result<Collection> Evaluator::eval(const Node& node, const Scope& scope) {
  if (depth_ > kMaxDepth) return error(node, "expression nested too deeply");
  DepthGuard guard(depth_);

  switch (node.kind) {
    case NodeKind::kLiteral:
      return node.literal;
    case NodeKind::kThis:
      return Collection(scope.this_items.begin(), scope.this_items.end());
    case NodeKind::kIndex:
      if (scope.index < 0) return Collection{};
      return Collection{Value::integer(scope.index)};
    case NodeKind::kTotal:
      if (scope.total == nullptr) return Collection{};
      return *scope.total;
    case NodeKind::kVariable:
      return variable(node);
    case NodeKind::kMember:
      return member(node, scope);
    case NodeKind::kFunction: {
      if (node.target) {
        UCR_FP_TRY(input, eval(*node.target, scope));
        return node.fn(*this, node, input, scope);
      }
      Collection input(scope.this_items.begin(), scope.this_items.end());
      return node.fn(*this, node, input, scope);
    }
    case NodeKind::kIndexer: {
      UCR_FP_TRY(input, eval(*node.target, scope));
      UCR_FP_TRY(index, eval(*node.args[0], scope));
      UCR_FP_TRY(i, singleton(*this, node, index));
      if (i == nullptr) return Collection{};
      Value iv = to_system(*i);
      if (iv.kind != ValueKind::kInteger) return error(node, "index must be an Integer");
      if (iv.as_integer() < 0 || static_cast<std::size_t>(iv.as_integer()) >= input.size()) return Collection{};
      return Collection{input[static_cast<std::size_t>(iv.as_integer())]};
    }
    case NodeKind::kUnary: {
      UCR_FP_TRY(operand, eval(*node.target, scope));
      UCR_FP_TRY(item, singleton(*this, node, operand));
      if (item == nullptr) return Collection{};
      Value v = to_system(*item);
      if (!node.negate && (is_number(v) || v.kind == ValueKind::kQuantity)) return Collection{v};
      if (v.kind == ValueKind::kInteger) return Collection{Value::integer(-v.as_integer())};
      if (v.kind == ValueKind::kDecimal) return Collection{Value::decimal(v.as_decimal().negated())};
      if (v.kind == ValueKind::kQuantity) {
        Quantity q = v.as_quantity();
        q.value = q.value.negated();
        return Collection{Value::quantity(std::move(q))};
      }
      return error(node,
                   std::string("cannot apply unary ") + (node.negate ? "-" : "+") + " to " + std::string(kind_name(v)));
    }
    case NodeKind::kBinary:
      return binary(node, scope);
    case NodeKind::kTypeOp: {
      UCR_FP_TRY(operand, eval(*node.target, scope));
      if (operand.empty()) return Collection{};
      if (node.is_as) {
        // Lenient like ofType(): R4 search parameters apply `x as T` to collections
        // ("(ActivityDefinition.useContext.value as CodeableConcept)"); the as() function stays strict.
        Collection out;
        for (const Value& v : operand) {
          if (is_of_type(v, node.type)) out.push_back(v);
        }
        return out;
      }
      if (operand.size() > 1) {
        return error(node, std::string("'") + (node.is_as ? "as" : "is") + "' needs a single item, got " +
                               std::to_string(operand.size()));
      }
      return Collection{Value::boolean(is_of_type(operand.front(), node.type))};
    }
  }
  return error(node, "unsupported expression");
}

bool Evaluator::selects_by_type(const Node& node, const Scope& scope) {
  if (!node.leading_type) return false;
  if (node.leading_resource) return true;
  return std::any_of(scope.this_items.begin(), scope.this_items.end(),
                     [&](const Value& v) { return v.is_node() && is_of_type(v, *node.leading_type); });
}

bool Evaluator::leading_type(const Node& node, const Scope& scope, Collection& out) {
  // A leading type name (Patient.name) selects the input items of that type.
  if (!node.leading_type) return false;
  for (const Value& v : scope.this_items) {
    if (v.is_node() && is_of_type(v, *node.leading_type)) out.push_back(v);
  }
  if (!out.empty() || node.leading_resource) return true;
  return false;
}

core::Result<Collection> Evaluator::member(const Node& node, const Scope& scope) {
  // A chain of member steps (a.b.c) is walked breadth-first between two reused collections instead of
  // one collection per step. The steps are collected from the last one back to the chain's start.
  constexpr std::size_t kMaxChain = 16;
  std::array<const Node*, kMaxChain> steps{};
  std::size_t count = 0;
  const Node* base = &node;
  while (base != nullptr && base->kind == NodeKind::kMember && count < kMaxChain) {
    steps[count++] = base;
    base = base->target.get();
  }
  // The depth each step would have been evaluated at recursively must stay within the limit (else the
  // one-step path below reports the error where it always did).
  if (depth_ + static_cast<int>(count) - 1 > kMaxDepth) count = 1, base = node.target.get();

  Collection cur;
  std::size_t first = count;  // steps[first - 1] is the first step still to navigate
  if (base != nullptr) {
    depth_ += static_cast<int>(count) - 1;
    auto in = eval(*base, scope);
    depth_ -= static_cast<int>(count) - 1;
    if (!in) return in.error();
    cur = std::move(*in);
  } else {
    // steps[count - 1] has no target: it applies to $this.
    const Node& lead = *steps[count - 1];
    --first;
    if (first > 0 && selects_by_type(lead, scope)) {
      // Patient.name: navigate from the selected $this items directly.
      const Node& step = *steps[--first];
      for (const Value& v : scope.this_items) {
        if (v.is_node() && is_of_type(v, *lead.leading_type)) navigate(v, step.name, cur, &step.hint);
      }
    } else if (!leading_type(lead, scope, cur)) {
      for (const Value& v : scope.this_items) navigate(v, lead.name, cur, &lead.hint);
    }
  }
  Collection next;
  for (std::size_t i = first; i-- > 0;) {
    const Node& step = *steps[i];
    next.clear();
    for (const Value& v : cur) navigate(v, step.name, next, &step.hint);
    cur.swap(next);
  }
  return cur;
}

core::Result<Collection> Evaluator::variable(const Node& node) {
  const std::string& name = node.name;
  if (auto it = ctx_.variables.find(name); it != ctx_.variables.end()) return it->second;
  if (name == "context") return Collection(input_.begin(), input_.end());
  if (name == "resource" || name == "rootResource") {
    const json::value* r = name == "resource" ? ctx_.resource : root_resource();
    if (r == nullptr) r = ctx_.resource;
    if (r != nullptr) return Collection{resource_value(*r)};
    return Collection(input_.begin(), input_.end());
  }
  if (name == "ucum") return Collection{Value::string("http://unitsofmeasure.org")};
  if (name == "sct") return Collection{Value::string("http://snomed.info/sct")};
  if (name == "loinc") return Collection{Value::string("http://loinc.org")};
  if (name.starts_with("vs-")) return Collection{Value::string("http://hl7.org/fhir/ValueSet/" + name.substr(3))};
  if (name.starts_with("ext-")) {
    return Collection{Value::string("http://hl7.org/fhir/StructureDefinition/" + name.substr(4))};
  }
  return error(node, "undefined variable '%" + name + "'");
}

core::Result<std::optional<bool>> Evaluator::test(const Node& node, const Scope& scope) {
  // and/or/xor/implies and =/!= give at most one Boolean: computed without building a collection.
  if (node.kind != NodeKind::kBinary || !(is_logic(node.op) || node.op == BinaryOp::kEq || node.op == BinaryOp::kNe)) {
    UCR_FP_TRY(items, eval(node, scope));
    return to_boolean(*this, node, items);
  }
  if (depth_ > kMaxDepth) return error(node, "expression nested too deeply");
  DepthGuard guard(depth_);
  return is_logic(node.op) ? logic(node, scope) : equality(node, scope);
}

core::Result<std::optional<bool>> Evaluator::logic(const Node& node, const Scope& scope) {
  using B = std::optional<bool>;
  const BinaryOp op = node.op;
  UCR_FP_TRY(l, test(*node.args[0], scope));
  if (op == BinaryOp::kAnd && l == false) return B(false);
  if (op == BinaryOp::kOr && l == true) return B(true);
  if (op == BinaryOp::kImplies && l == false) return B(true);
  UCR_FP_TRY(r, test(*node.args[1], scope));
  switch (op) {
    case BinaryOp::kAnd:
      if (r == false) return B(false);
      if (l && r) return B(true);
      return B();
    case BinaryOp::kOr:
      if (r == true) return B(true);
      if (l && r) return B(false);
      return B();
    case BinaryOp::kXor:
      if (l && r) return B(*l != *r);
      return B();
    default:  // implies, l is true or empty
      if (r == true) return B(true);
      if (l && r) return B(false);
      return B();
  }
}

core::Result<std::pair<const Collection*, const Collection*>> Evaluator::operands(const Node& node, const Scope& scope,
                                                                                  Collection& lhs_items,
                                                                                  Collection& rhs_items) {
  // A literal operand ('phone', 100, @2000-01-01) is read in place instead of being copied (eval() would
  // only copy it, or report the depth limit, which is checked here the same way).
  const Node& lhs = *node.args[0];
  const Node& rhs = *node.args[1];
  const bool lhs_literal = lhs.kind == NodeKind::kLiteral && depth_ <= kMaxDepth;
  const bool rhs_literal = rhs.kind == NodeKind::kLiteral && depth_ <= kMaxDepth;
  if (!lhs_literal) {
    UCR_FP_TRY(l, eval(lhs, scope));
    lhs_items = std::move(l);
  }
  if (!rhs_literal) {
    UCR_FP_TRY(r, eval(rhs, scope));
    rhs_items = std::move(r);
  }
  return std::pair<const Collection*, const Collection*>(lhs_literal ? &lhs.literal : &lhs_items,
                                                         rhs_literal ? &rhs.literal : &rhs_items);
}

core::Result<std::optional<bool>> Evaluator::equality(const Node& node, const Scope& scope) {
  Collection lhs_items;
  Collection rhs_items;
  UCR_FP_TRY(ab, operands(node, scope, lhs_items, rhs_items));
  auto r = equal_collections(*ab.first, *ab.second);
  if (node.op == BinaryOp::kNe && r) return std::optional<bool>(!*r);
  return r;
}

core::Result<Collection> Evaluator::binary(const Node& node, const Scope& scope) {
  const BinaryOp op = node.op;
  auto boolean = [](std::optional<bool> b) { return b ? Collection{Value::boolean(*b)} : Collection{}; };

  if (is_logic(op)) {
    UCR_FP_TRY(r, logic(node, scope));
    return boolean(r);
  }
  if (op == BinaryOp::kEq || op == BinaryOp::kNe) {
    UCR_FP_TRY(r, equality(node, scope));
    return boolean(r);
  }

  Collection lhs_items;
  Collection rhs_items;
  UCR_FP_TRY(ab, operands(node, scope, lhs_items, rhs_items));
  const Collection& a = *ab.first;
  const Collection& b = *ab.second;
  switch (op) {
    case BinaryOp::kUnion: {
      Collection out;
      out.reserve(a.size() + b.size());
      for (const Value& v : a) add_distinct(out, v);
      for (const Value& v : b) add_distinct(out, v);
      return out;
    }
    case BinaryOp::kEquiv:
      return boolean(equivalent_collections(a, b));
    case BinaryOp::kNotEquiv:
      return boolean(!equivalent_collections(a, b));
    case BinaryOp::kIn:
    case BinaryOp::kContains: {
      const Collection& item = op == BinaryOp::kIn ? a : b;
      const Collection& coll = op == BinaryOp::kIn ? b : a;
      if (item.empty()) return Collection{};
      if (item.size() > 1) return error(node, "membership test needs a single item");
      return boolean(contains_item(coll, item.front()));
    }
    case BinaryOp::kConcat: {
      if (a.size() > 1 || b.size() > 1) return error(node, "'&' needs single strings");
      std::string out;
      for (const Collection* c : {&a, &b}) {
        if (c->empty()) continue;
        auto s = string_value(to_system(c->front()));
        if (!s) return error(node, "'&' needs strings");
        out += *s;
      }
      return Collection{Value::string(std::move(out))};
    }
    default:
      break;
  }
  if (a.size() > 1 || b.size() > 1) return error(node, "operator needs single items, got a collection");
  if (a.empty() || b.empty()) return Collection{};
  Value x = to_system(a.front()), y = to_system(b.front());
  if (op == BinaryOp::kLt || op == BinaryOp::kLe || op == BinaryOp::kGt || op == BinaryOp::kGe) {
    Order o = compare_items(x, y);
    if (o == Order::kIncompatible) {
      return error(node, "cannot compare " + std::string(kind_name(x)) + " with " + std::string(kind_name(y)));
    }
    if (o == Order::kUnknown) return Collection{};
    bool r = op == BinaryOp::kLt   ? o == Order::kLess
             : op == BinaryOp::kLe ? o != Order::kGreater
             : op == BinaryOp::kGt ? o == Order::kGreater
                                   : o != Order::kLess;
    return boolean(r);
  }
  return arithmetic(node, x, y);
}

core::Result<Collection> Evaluator::arithmetic(const Node& node, const Value& x, const Value& y) {
  const BinaryOp op = node.op;
  auto mismatch = [&] {
    static constexpr std::string_view kOps[] = {"*", "/", "div", "mod", "+", "-"};
    return error(node, "operator '" + std::string(kOps[static_cast<int>(op)]) + "' cannot combine " +
                           std::string(kind_name(x)) + " and " + std::string(kind_name(y)));
  };
  auto dec = [&](std::optional<Decimal> d) -> core::Result<Collection> {
    if (!d) return Collection{};
    return Collection{Value::decimal(*d)};
  };
  if (x.kind == ValueKind::kInteger && y.kind == ValueKind::kInteger) {
    std::int64_t a = x.as_integer(), b = y.as_integer(), r = 0;
    switch (op) {
      case BinaryOp::kAdd:
        if (__builtin_add_overflow(a, b, &r)) return error(node, "integer overflow");
        return Collection{Value::integer(r)};
      case BinaryOp::kSub:
        if (__builtin_sub_overflow(a, b, &r)) return error(node, "integer overflow");
        return Collection{Value::integer(r)};
      case BinaryOp::kMul:
        if (__builtin_mul_overflow(a, b, &r)) return error(node, "integer overflow");
        return Collection{Value::integer(r)};
      case BinaryOp::kIntDiv:
        if (b == 0 || (a == INT64_MIN && b == -1)) return Collection{};
        return Collection{Value::integer(a / b)};
      case BinaryOp::kMod:
        if (b == 0 || (a == INT64_MIN && b == -1)) return Collection{};
        return Collection{Value::integer(a % b)};
      default:
        break;  // '/' gives a Decimal
    }
  }
  if (is_number(x) && is_number(y)) {
    Decimal a = as_dec(x), b = as_dec(y);
    switch (op) {
      case BinaryOp::kAdd:
        return dec(Decimal::add(a, b));
      case BinaryOp::kSub:
        return dec(Decimal::subtract(a, b));
      case BinaryOp::kMul:
        return dec(Decimal::multiply(a, b));
      case BinaryOp::kDiv:
        return dec(Decimal::divide(a, b));
      case BinaryOp::kIntDiv: {
        auto q = Decimal::divide(a, b);
        if (!q) return Collection{};
        if (auto i = q->truncate(0).to_int64()) return Collection{Value::integer(*i)};
        return Collection{};
      }
      case BinaryOp::kMod:
        return dec(Decimal::modulo(a, b));
      default:
        return mismatch();
    }
  }
  if (x.kind == ValueKind::kString && y.kind == ValueKind::kString && op == BinaryOp::kAdd) {
    return Collection{Value::string(x.as_string() + y.as_string())};
  }
  if (is_temporal(x) && y.kind == ValueKind::kQuantity && (op == BinaryOp::kAdd || op == BinaryOp::kSub)) {
    auto t = add_duration(x.as_temporal(), y.as_quantity(), op == BinaryOp::kAdd ? 1 : -1);
    if (!t) return error(node, "cannot add " + y.as_quantity().to_string() + " to a " + std::string(kind_name(x)));
    return Collection{Value::temporal(*t)};
  }
  auto as_quantity = [](const Value& v) -> std::optional<Quantity> {
    if (v.kind == ValueKind::kQuantity) return v.as_quantity();
    if (is_number(v)) return Quantity{as_dec(v), "1"};
    return std::nullopt;
  };
  auto qx = as_quantity(x), qy = as_quantity(y);
  if (qx && qy && (x.kind == ValueKind::kQuantity || y.kind == ValueKind::kQuantity)) {
    auto quantity = [](std::optional<Quantity> q) { return q ? Collection{Value::quantity(*q)} : Collection{}; };
    switch (op) {
      case BinaryOp::kMul:
        return quantity(multiply_quantity(*qx, *qy));
      case BinaryOp::kDiv:
        return quantity(divide_quantity(*qx, *qy));
      case BinaryOp::kAdd:
      case BinaryOp::kSub: {
        if (x.kind != ValueKind::kQuantity || y.kind != ValueKind::kQuantity) return mismatch();
        auto conv = convert_quantity(*qy, qx->unit);
        if (!conv) return Collection{};
        auto v =
            op == BinaryOp::kAdd ? Decimal::add(qx->value, conv->value) : Decimal::subtract(qx->value, conv->value);
        if (!v) return Collection{};
        return Collection{Value::quantity(Quantity{*v, qx->unit})};
      }
      default:
        return mismatch();
    }
  }
  return mismatch();
}

}  // namespace ucr::fhirpath
