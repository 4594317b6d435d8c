// Existence, filtering/projection, subsetting, combining, boolean, tree navigation and utility functions.
#include "fhirpath/evaluator.hpp"
#include "fhirpath/functions.hpp"
#include "fhirpath/model.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <vector>

namespace ucr::fhirpath {
namespace {

using R = core::Result<Collection>;

Collection one(Value v) { return Collection{std::move(v)}; }
Collection boolean(bool b) { return Collection{Value::boolean(b)}; }

Scope item_scope(const Collection& input, std::size_t i, const Scope& outer) {
  return Scope{std::span<const Value>(&input[i], 1), static_cast<std::int64_t>(i), outer.total};
}

/// Evaluates the criteria lambda on item i as a Boolean (empty counts as nullopt).
core::Result<std::optional<bool>> criteria(Evaluator& ev, const Node& call, const Collection& input, std::size_t i,
                                           const Scope& scope) {
  return ev.test(*call.args[0], item_scope(input, i, scope));
}

core::Result<std::optional<std::int64_t>> integer_arg(Evaluator& ev, const Node& call, std::size_t i,
                                                      const Scope& scope) {
  UCR_FP_TRY(c, ev.arg(call, i, scope));
  UCR_FP_TRY(v, singleton(ev, call, c));
  if (v == nullptr) return std::optional<std::int64_t>();
  Value s = to_system(*v);
  if (s.kind != ValueKind::kInteger) return ev.error(*call.args[i], "expected an Integer argument");
  return std::optional<std::int64_t>(s.as_integer());
}

R fn_empty(Evaluator&, const Node&, const Collection& in, const Scope&) { return boolean(in.empty()); }

R fn_exists(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  if (call.args.empty()) return boolean(!in.empty());
  for (std::size_t i = 0; i < in.size(); ++i) {
    UCR_FP_TRY(b, criteria(ev, call, in, i, scope));
    if (b == true) return boolean(true);
  }
  return boolean(false);
}

R fn_all(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  for (std::size_t i = 0; i < in.size(); ++i) {
    UCR_FP_TRY(b, criteria(ev, call, in, i, scope));
    if (b != true) return boolean(false);
  }
  return boolean(true);
}

/// allTrue / anyTrue / allFalse / anyFalse.
template <bool kAll, bool kValue>
R fn_bools(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  for (const Value& v0 : in) {
    Value v = to_system(v0);
    if (v.kind != ValueKind::kBoolean) return ev.error(call, "'" + call.name + "' needs Boolean items");
    if (kAll && v.as_bool() != kValue) return boolean(false);
    if (!kAll && v.as_bool() == kValue) return boolean(true);
  }
  return boolean(kAll);
}

R fn_subset_of(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(other, ev.arg(call, 0, scope));
  bool subset = call.name == "subsetOf";
  const Collection& small = subset ? in : other;
  const Collection& big = subset ? other : in;
  return boolean(std::all_of(small.begin(), small.end(), [&](const Value& v) { return contains_item(big, v); }));
}

R fn_count(Evaluator&, const Node&, const Collection& in, const Scope&) {
  return one(Value::integer(static_cast<std::int64_t>(in.size())));
}

R fn_distinct(Evaluator&, const Node&, const Collection& in, const Scope&) {
  Collection out;
  for (const Value& v : in) add_distinct(out, v);
  return out;
}

R fn_is_distinct(Evaluator&, const Node&, const Collection& in, const Scope&) {
  Collection out;
  for (const Value& v : in) add_distinct(out, v);
  return boolean(out.size() == in.size());
}

R fn_where(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  Collection out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    UCR_FP_TRY(b, criteria(ev, call, in, i, scope));
    if (b == true) out.push_back(in[i]);
  }
  return out;
}

R fn_select(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  Collection out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    UCR_FP_TRY(r, ev.eval(*call.args[0], item_scope(in, i, scope)));
    out.insert(out.end(), r.begin(), r.end());
  }
  return out;
}

/// Node identities (node, extension) already collected, for repeat(): a small open-addressing set.
class NodeSet {
 public:
  /// Adds the identity of `v`; false when it was already there.
  bool insert(const Value& v) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    if (place(Key{v.node, v.extension})) {
      ++size_;
      return true;
    }
    return false;
  }

 private:
  struct Key {
    const boost::json::value* node = nullptr;
    const boost::json::value* extension = nullptr;
    bool used = false;
  };

  static std::size_t hash(const Key& k) {
    auto h = std::bit_cast<std::uintptr_t>(k.node) * 0x9E3779B97F4A7C15ULL;
    h ^= std::bit_cast<std::uintptr_t>(k.extension) + 0x7F4A7C159E3779B9ULL + (h << 6) + (h >> 2);
    return static_cast<std::size_t>(h ^ (h >> 29));
  }

  bool place(Key k) {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash(k) & mask;; i = (i + 1) & mask) {
      Key& slot = slots_[i];
      if (!slot.used) {
        k.used = true;
        slot = k;
        return true;
      }
      if (slot.node == k.node && slot.extension == k.extension) return false;
    }
  }

  void grow() {
    std::vector<Key> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, Key{});
    for (const Key& k : old) {
      if (k.used) place(k);
    }
  }

  std::vector<Key> slots_;
  std::size_t size_ = 0;
};

R fn_repeat(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  // An item already collected is skipped: by identity for nodes (fast, and what repeat() needs), by
  // equality for System values.
  Collection out;
  NodeSet nodes;
  Collection frontier = in;
  while (!frontier.empty()) {
    Collection next;
    for (std::size_t i = 0; i < frontier.size(); ++i) {
      UCR_FP_TRY(r, ev.eval(*call.args[0], item_scope(frontier, i, scope)));
      for (Value& v : r) {
        if (v.is_node() ? !nodes.insert(v) : contains_item(out, v)) continue;
        out.push_back(v);
        next.push_back(std::move(v));
      }
    }
    frontier = std::move(next);
  }
  return out;
}

R fn_children(Evaluator&, const Node&, const Collection& in, const Scope&) {
  Collection out;
  for (const Value& v : in) all_children(v, out);
  return out;
}

R fn_descendants(Evaluator&, const Node&, const Collection& in, const Scope&) {
  // Breadth-first with `out` as the queue: the children of in, then theirs, level by level.
  Collection out;
  if (!in.empty()) out.reserve(64);
  for (const Value& v : in) all_children(v, out);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const Value item = out[i];  // all_children appends to `out`, which may move its items
    all_children(item, out);
  }
  return out;
}

R fn_single(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  if (in.size() > 1) return ev.error(call, "single() on a collection of " + std::to_string(in.size()) + " items");
  return in;
}

R fn_first(Evaluator&, const Node&, const Collection& in, const Scope&) {
  return in.empty() ? Collection{} : one(in.front());
}
R fn_last(Evaluator&, const Node&, const Collection& in, const Scope&) {
  return in.empty() ? Collection{} : one(in.back());
}
R fn_tail(Evaluator&, const Node&, const Collection& in, const Scope&) {
  return in.size() <= 1 ? Collection{} : Collection(in.begin() + 1, in.end());
}

R fn_skip_take(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(n, integer_arg(ev, call, 0, scope));
  if (!n) return Collection{};
  auto k = static_cast<std::size_t>(std::clamp<std::int64_t>(*n, 0, static_cast<std::int64_t>(in.size())));
  if (call.name == "skip") return Collection(in.begin() + static_cast<std::ptrdiff_t>(k), in.end());
  return Collection(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(k));
}

R fn_intersect(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(other, ev.arg(call, 0, scope));
  Collection out;
  for (const Value& v : in) {
    if (contains_item(other, v)) add_distinct(out, v);
  }
  return out;
}

R fn_exclude(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(other, ev.arg(call, 0, scope));
  Collection out;
  for (const Value& v : in) {
    if (!contains_item(other, v)) out.push_back(v);
  }
  return out;
}

R fn_union(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(other, ev.arg(call, 0, scope));
  Collection out;
  for (const Value& v : in) add_distinct(out, v);
  for (const Value& v : other) add_distinct(out, v);
  return out;
}

R fn_combine(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(other, ev.arg(call, 0, scope));
  Collection out = in;
  out.insert(out.end(), other.begin(), other.end());
  return out;
}

R fn_not(Evaluator& ev, const Node& call, const Collection& in, const Scope&) {
  UCR_FP_TRY(b, to_boolean(ev, call, in));
  if (!b) return Collection{};
  return boolean(!*b);
}

R fn_iif(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  Scope inner = scope;
  if (call.target) {
    if (in.size() > 1) return ev.error(call, "iif() on a collection of " + std::to_string(in.size()) + " items");
    if (in.size() == 1) inner.this_items = std::span<const Value>(&in[0], 1);
  }
  UCR_FP_TRY(c, ev.arg(call, 0, inner));
  if (c.size() > 1) return ev.error(*call.args[0], "iif() criterion must be a single Boolean");
  bool cond = false;
  if (c.size() == 1) {
    Value v = to_system(c.front());
    if (v.kind != ValueKind::kBoolean) return ev.error(*call.args[0], "iif() criterion must be a Boolean");
    cond = v.as_bool();
  }
  if (cond) return ev.arg(call, 1, inner);
  if (call.args.size() > 2) return ev.arg(call, 2, inner);
  return Collection{};
}

R fn_aggregate(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  Collection total;
  if (call.args.size() > 1) {
    UCR_FP_TRY(init, ev.arg(call, 1, scope));
    total = std::move(init);
  }
  for (std::size_t i = 0; i < in.size(); ++i) {
    Scope s = item_scope(in, i, scope);
    s.total = &total;
    UCR_FP_TRY(r, ev.eval(*call.args[0], s));
    total = std::move(r);
  }
  return total;
}

R fn_trace(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  UCR_FP_TRY(name, ev.arg(call, 0, scope));
  std::string label = name.empty() ? std::string() : string_value(to_system(name.front())).value_or("");
  if (ev.context().trace) {
    if (call.args.size() > 1) {
      Collection projected;
      for (std::size_t i = 0; i < in.size(); ++i) {
        UCR_FP_TRY(r, ev.eval(*call.args[1], item_scope(in, i, scope)));
        projected.insert(projected.end(), r.begin(), r.end());
      }
      ev.context().trace(label, projected);
    } else {
      ev.context().trace(label, in);
    }
  }
  return in;
}

R fn_now(Evaluator& ev, const Node& call, const Collection&, const Scope&) {
  Temporal t = ev.now();
  if (call.name == "today") {
    t.kind = TemporalKind::kDate;
    t.precision = Precision::kDay;
    t.has_timezone = false;
    t.hour = t.minute = t.second = t.millisecond = 0;
  } else if (call.name == "timeOfDay") {
    t.kind = TemporalKind::kTime;
    t.has_timezone = false;
  }
  return one(Value::temporal(t));
}

R fn_sort(Evaluator& ev, const Node& call, const Collection& in, const Scope& scope) {
  struct Keyed {
    std::size_t index;
    std::vector<Collection> keys;
  };
  std::vector<Keyed> rows;
  std::vector<bool> descending;
  std::vector<const Node*> keys;
  for (const auto& a : call.args) {
    const Node* k = a.get();
    bool desc = false;
    if (k->kind == NodeKind::kUnary && k->negate) {
      desc = true;
      k = k->target.get();
    }
    keys.push_back(k);
    descending.push_back(desc);
  }
  for (std::size_t i = 0; i < in.size(); ++i) {
    Keyed row{i, {}};
    if (keys.empty()) row.keys.push_back(Collection{in[i]});
    for (const Node* k : keys) {
      UCR_FP_TRY(r, ev.eval(*k, item_scope(in, i, scope)));
      if (r.size() > 1) return ev.error(*k, "sort key must be a single item");
      row.keys.push_back(std::move(r));
    }
    rows.push_back(std::move(row));
  }
  bool incompatible = false;
  std::stable_sort(rows.begin(), rows.end(), [&](const Keyed& a, const Keyed& b) {
    for (std::size_t k = 0; k < a.keys.size(); ++k) {
      const Collection& x = a.keys[k];
      const Collection& y = b.keys[k];
      bool desc = k < descending.size() && descending[k];
      if (x.empty() || y.empty()) {
        if (x.empty() == y.empty()) continue;
        return desc ? x.empty() : !x.empty();  // empty sorts last ascending, first descending
      }
      Order o = compare_items(x.front(), y.front());
      if (o == Order::kIncompatible) incompatible = true;
      if (o == Order::kLess) return !desc;
      if (o == Order::kGreater) return desc;
    }
    return false;
  });
  if (incompatible) return ev.error(call, "sort() items are not comparable");
  Collection out;
  out.reserve(rows.size());
  for (const Keyed& r : rows) out.push_back(in[r.index]);
  return out;
}

constexpr FunctionDef kFunctions[] = {
    {"empty", fn_empty, 0, 0},
    {"exists", fn_exists, 0, 1},
    {"all", fn_all, 1, 1},
    {"allTrue", fn_bools<true, true>, 0, 0},
    {"anyTrue", fn_bools<false, true>, 0, 0},
    {"allFalse", fn_bools<true, false>, 0, 0},
    {"anyFalse", fn_bools<false, false>, 0, 0},
    {"subsetOf", fn_subset_of, 1, 1},
    {"supersetOf", fn_subset_of, 1, 1},
    {"count", fn_count, 0, 0},
    {"distinct", fn_distinct, 0, 0},
    {"isDistinct", fn_is_distinct, 0, 0},
    {"where", fn_where, 1, 1},
    {"select", fn_select, 1, 1},
    {"repeat", fn_repeat, 1, 1},
    {"children", fn_children, 0, 0},
    {"descendants", fn_descendants, 0, 0},
    {"single", fn_single, 0, 0},
    {"first", fn_first, 0, 0},
    {"last", fn_last, 0, 0},
    {"tail", fn_tail, 0, 0},
    {"skip", fn_skip_take, 1, 1},
    {"take", fn_skip_take, 1, 1},
    {"intersect", fn_intersect, 1, 1},
    {"exclude", fn_exclude, 1, 1},
    {"union", fn_union, 1, 1},
    {"combine", fn_combine, 1, 1},
    {"not", fn_not, 0, 0},
    {"iif", fn_iif, 2, 3},
    {"aggregate", fn_aggregate, 1, 2},
    {"trace", fn_trace, 1, 2},
    {"now", fn_now, 0, 0},
    {"today", fn_now, 0, 0},
    {"timeOfDay", fn_now, 0, 0},
    {"sort", fn_sort, 0, 8},
};

}  // namespace

std::span<const FunctionDef> existence_functions() { return kFunctions; }

const FunctionDef* find_function(std::string_view name) {
  for (auto family :
       {existence_functions(), string_functions(), math_functions(), conversion_functions(), fhir_functions()}) {
    for (const FunctionDef& f : family) {
      if (f.name == name) return &f;
    }
  }
  return nullptr;
}

}  // namespace ucr::fhirpath
