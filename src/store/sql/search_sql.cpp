#include "store/sql/search_sql.hpp"

#include "core/time.hpp"
#include "search/index.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>
#include <variant>
#include <vector>

#include <cmath>
#include <cstdlib>

namespace ucr::store::sql {
namespace {

using search::Condition;
using search::Filter;
using search::ParamType;
using search::Prefix;

const char* table_of(ParamType t) {
  switch (t) {
    case ParamType::kString:
      return "idx_string";
    case ParamType::kToken:
      return "idx_token";
    case ParamType::kReference:
      return "idx_reference";
    case ParamType::kDate:
      return "idx_date";
    case ParamType::kNumber:
      return "idx_number";
    case ParamType::kQuantity:
      return "idx_quantity";
    case ParamType::kUri:
      return "idx_uri";
    case ParamType::kComposite:
      return "idx_composite";
    default:
      return "idx_token";
  }
}

/// LIKE pattern text with %, _ and \ escaped (used with ESCAPE '\').
std::string like_escape(const std::string& s) {
  std::string out;
  for (const char ch : s) {
    if (ch == '%' || ch == '_' || ch == '\\') out.push_back('\\');
    out.push_back(ch);
  }
  return out;
}

class Builder {
 public:
  explicit Builder(Sql& sql) : sql_(sql) {}

  std::string alias() { return fmt::format("c{}", next_alias_++); }
  std::string row_alias() { return fmt::format("i{}", next_alias_++); }

  void bind(Bind b) { sql_.binds.push_back(std::move(b)); }

  /// The rid of the resource that alias `a` is, or that contains it (when `a` is a contained one).
  static std::string container_of(const std::string& a) {
    return fmt::format("(CASE WHEN {0}.rid < 0 THEN (-{0}.rid) / {1} ELSE {0}.rid END)", a, search::kContainedSlots);
  }

  /// `column` is the contained rid of a resource contained in the resource with rid `container`.
  static std::string in_container(const std::string& column, const std::string& container) {
    return fmt::format("{0} BETWEEN -({1} * {2} + {3}) AND -({1} * {2} + 1)", column, container,
                       search::kContainedSlots, search::kContainedSlots - 1);
  }

  /// The id and lastUpdated of alias `a`: a resource (resource_current or a subquery with the same
  /// columns), or the `_id` token row of a contained resource (its local id; its container's date).
  std::string id_of(const std::string& a) const { return a + (token_aliases_.contains(a) ? ".code" : ".id"); }
  std::string updated_of(const std::string& a) const {
    if (!token_aliases_.contains(a)) return a + ".last_updated";
    return fmt::format("(SELECT u.last_updated FROM resource_current u WHERE u.rid = (-{}.rid) / {})", a,
                       search::kContainedSlots);
  }

  /// (cond OR cond ...) over resource alias `a` (of resource type `type`).
  std::string filter(const Filter& f, const std::string& a, const std::string& type) {
    std::string out = "(";
    for (std::size_t i = 0; i < f.any_of.size(); ++i) {
      if (i > 0) out += " OR ";
      out += condition(f.any_of[i], a, type);
    }
    return out + ")";
  }

  /// `column` starts with `prefix`, as a key range the index can seek (LIKE cannot use it here).
  std::string prefix_test(const std::string& column, const std::string& prefix) {
    if (prefix.empty()) return "TRUE";
    std::string upper = prefix;
    while (!upper.empty() && static_cast<unsigned char>(upper.back()) == 0xFF) upper.pop_back();
    if (upper.empty()) {
      bind(prefix);
      return column + " >= ?";
    }
    upper.back() = static_cast<char>(static_cast<unsigned char>(upper.back()) + 1);
    bind(prefix);
    bind(upper);
    return "(" + column + " >= ? AND " + column + " < ?)";
  }

  std::string range_test(const Condition& c, const std::string& lo, const std::string& hi) {
    // Date ranges: the search value [low, high] against the stored [lo, hi] (R4 search.html#prefix).
    const auto b2 = [&](std::int64_t x, std::int64_t y) {
      bind(x);
      bind(y);
    };
    switch (c.prefix) {
      case Prefix::kEq:
        b2(c.low, c.high);
        return fmt::format("({0} >= ? AND {1} <= ?)", lo, hi);
      case Prefix::kNe:
        b2(c.low, c.high);
        return fmt::format("NOT ({0} >= ? AND {1} <= ?)", lo, hi);
      case Prefix::kGt:
        bind(c.high);
        return fmt::format("{} > ?", hi);
      case Prefix::kLt:
        bind(c.low);
        return fmt::format("{} < ?", lo);
      // ge / le: the range above (below) the search value overlaps the target's, or the search
      // value's range contains the target's.
      case Prefix::kGe:
        bind(c.high);
        b2(c.low, c.high);
        return fmt::format("({1} > ? OR ({0} >= ? AND {1} <= ?))", lo, hi);
      case Prefix::kLe:
        bind(c.low);
        b2(c.low, c.high);
        return fmt::format("({0} < ? OR ({0} >= ? AND {1} <= ?))", lo, hi);
      case Prefix::kSa:
        bind(c.high);
        return fmt::format("{} > ?", lo);
      case Prefix::kEb:
        bind(c.low);
        return fmt::format("{} < ?", hi);
      case Prefix::kAp: {
        // Approximately: within 10% of the distance to now (at least a day) either side.
        const auto now = core::now_micros();
        const std::int64_t delta = std::max<std::int64_t>(86'400'000'000, std::llabs(now - c.low) / 10);
        b2(c.high + delta, c.low - delta);
        return fmt::format("({} <= ? AND {} >= ?)", lo, hi);
      }
    }
    return "TRUE";
  }

  std::string number_test(const Condition& c, const std::string& v) {
    switch (c.prefix) {
      case Prefix::kEq:
        bind(c.number_low);
        bind(c.number_high);
        return fmt::format("({0} >= ? AND {0} < ?)", v);
      case Prefix::kNe:
        bind(c.number_low);
        bind(c.number_high);
        return fmt::format("NOT ({0} >= ? AND {0} < ?)", v);
      case Prefix::kGt:
      case Prefix::kSa:
        bind(c.number);
        return fmt::format("{} > ?", v);
      case Prefix::kLt:
      case Prefix::kEb:
        bind(c.number);
        return fmt::format("{} < ?", v);
      case Prefix::kGe:
        bind(c.number);
        return fmt::format("{} >= ?", v);
      case Prefix::kLe:
        bind(c.number);
        return fmt::format("{} <= ?", v);
      case Prefix::kAp: {
        const double delta = std::fabs(c.number) * 0.1;
        bind(c.number - delta);
        bind(c.number + delta);
        return fmt::format("({0} >= ? AND {0} <= ?)", v);
      }
    }
    return "TRUE";
  }

  /// The test on one index row alias `r` for a value condition.
  std::string row_test(const Condition& c, const std::string& r) {
    switch (c.type) {
      case ParamType::kString:
        if (c.modifier == "exact") {
          bind(c.text);
          return r + ".exact = ?";
        }
        if (c.modifier == "contains") {
          bind("%" + like_escape(c.text) + "%");
          return r + ".normalized LIKE ? ESCAPE '\\'";
        }
        return prefix_test(r + ".normalized", c.text);
      case ParamType::kToken: {
        if (c.modifier == "text") {
          return prefix_test(r + ".text", c.text);
        }
        std::string out = "TRUE";
        if (c.system) {
          bind(*c.system);
          out += " AND " + r + ".system = ?";
        }
        if (c.code) {
          bind(*c.code);
          out += " AND " + r + ".code = ?";
        }
        return "(" + out + ")";
      }
      case ParamType::kReference: {
        if (!c.text.empty()) {
          bind(c.text);
          return r + ".url = ?";
        }
        std::string out = "(";
        bind(c.target_id);
        out += r + ".target_id = ?";
        if (!c.target_type.empty()) {
          bind(c.target_type);
          out += " AND " + r + ".target_type = ?";
        }
        return out + ")";
      }
      case ParamType::kDate:
        return range_test(c, r + ".low", r + ".high");
      case ParamType::kNumber:
        return number_test(c, r + ".value");
      case ParamType::kQuantity: {
        std::string out = number_test(c, r + ".value");
        if (c.system) {
          bind(*c.system);
          out += " AND " + r + ".system = ?";
        }
        if (c.code && c.system) {  // number|system|code: the coded unit
          bind(*c.code);
          out += " AND " + r + ".code = ?";
        } else if (c.code) {  // number||code: the code or the unit as written
          bind(*c.code);
          bind(*c.code);
          out += " AND (" + r + ".code = ? OR " + r + ".unit = ?)";
        }
        return "(" + out + ")";
      }
      case ParamType::kUri:
        // URIs compare case-sensitively (LIKE would not), so prefixes are compared with substr().
        if (c.modifier == "below") {
          bind(c.text);
          bind(c.text);
          return "substr(" + r + ".uri, 1, length(?)) = ?";
        }
        if (c.modifier == "above") {
          bind(c.text);
          return "(length(" + r + ".uri) > 0 AND substr(?, 1, length(" + r + ".uri)) = " + r + ".uri)";
        }
        bind(c.text);
        return r + ".uri = ?";
      default:
        return "FALSE";
    }
  }

  /// The row test of one alternative, with reference:identifier and token:of-type read as tokens.
  std::string value_test(const Condition& c, const std::string& r) {
    if (c.type == ParamType::kComposite && (c.components.size() == 2 || c.components.size() == 3)) {
      std::string out = "(TRUE";
      const Condition& first = c.components[0];
      if (first.system) {
        bind(*first.system);
        out += " AND " + r + ".system1 = ?";
      }
      if (first.code) {
        bind(*first.code);
        out += " AND " + r + ".code1 = ?";
      }
      out += " AND " + row_test(c.components[1], r);
      // A third component (a number: a sequence coordinate) is kept in the row's low column.
      if (c.components.size() == 3) out += " AND " + number_test(c.components[2], r + ".low");
      return out + ")";
    }
    if (is_token_view(c) || (c.type == ParamType::kToken && c.modifier == "not")) {
      Condition token = c;
      token.type = ParamType::kToken;
      token.modifier.clear();
      return row_test(token, r);
    }
    return row_test(c, r);
  }

  static bool is_token_view(const Condition& c) {
    return (c.type == ParamType::kReference && c.modifier == "identifier") ||
           (c.type == ParamType::kToken && c.modifier == "of-type");
  }

  static const char* table_for(const Condition& c) { return is_token_view(c) ? "idx_token" : table_of(c.type); }

  /// `{r}.param = ?` for the parameter's index rows (or `IN (...)` for a union of parameters), bound.
  std::string param_test(const std::string& r, const std::string& param, const std::vector<std::string>& stored_as,
                         const std::string& suffix = {}, const std::string& stored_target = {}) {
    if (!stored_target.empty()) {
      // A reference parameter restricted to one target type: the other parameter's rows whose
      // target is of that type. Its `:identifier` rows (a suffix) are its own.
      if (!suffix.empty()) {
        bind(param + suffix);
        return r + ".param = ?";
      }
      bind(stored_as.front());
      bind(stored_target);
      return "(" + r + ".param = ? AND " + r + ".target_type = ?)";
    }
    if (stored_as.empty()) {
      bind(param + suffix);
      return r + ".param = ?";
    }
    std::string out = r + ".param IN (";
    for (std::size_t i = 0; i < stored_as.size(); ++i) {
      bind(stored_as[i] + suffix);
      out += i == 0 ? "?" : ", ?";
    }
    return out + ")";
  }

  std::string param_test(const std::string& r, const Condition& c) {
    return param_test(r, c.param, c.stored_as, is_token_view(c) ? ":" + c.modifier : std::string(), c.stored_target);
  }

  /// True when a filter can drive the search: a positive test on one indexed parameter (or a
  /// forward chain), so its matching rids can be read from the index's (type, param, value) key.
  static bool can_drive(const Filter& f) {
    if (f.any_of.empty()) return false;
    for (const auto& c : f.any_of) {
      if (c.param == "_id" || c.param == "_lastUpdated" || c.modifier == "missing" || c.modifier == "not") return false;
      if (c.chain && (c.reverse || f.any_of.size() != 1)) return false;
      if (c.type == ParamType::kReference && !c.chain && c.modifier != "identifier" && c.target_id.empty() &&
          c.text.empty()) {
        return false;
      }
    }
    return true;
  }

  /// Token parameters whose codes have only a few values in practice (R4 required bindings of a
  /// few codes), so they make poor drivers.
  static bool low_cardinality(std::string_view param) {
    static constexpr std::array<std::string_view, 12> kFew{
        "active", "clinical-status",     "deceased",  "gender",      "intent",       "priority",
        "status", "verification-status", "_security", "criticality", "experimental", "administrative-gender"};
    return std::find(kFew.begin(), kFew.end(), param) != kFew.end();
  }

  /// How selective a driving filter is likely to be (lower is better), without statistics.
  static int selectivity(const Filter& f) {
    const Condition& c = f.any_of.front();
    if (c.chain) return 4;
    switch (c.type) {
      case ParamType::kReference:
        return 1;
      case ParamType::kToken:
      case ParamType::kComposite:
        // Codes with a handful of values (gender, status, ...) match a large share of a type.
        if (low_cardinality(c.param)) return 8;
        return c.modifier == "text" ? 5 : 2;
      case ParamType::kUri:
        return 3;
      case ParamType::kString:
        return c.modifier == "exact" ? 3 : 5;
      case ParamType::kQuantity:
      case ParamType::kNumber:
        return 6;
      case ParamType::kDate:
        return 7;
      default:
        return 8;
    }
  }

  /// SELECT rid ... of the `type` resources whose chained parameter refers (`#id`) to a resource
  /// contained beside them that satisfies the chain: found from the contained resources.
  std::string contained_chain_rows(const Condition& c, const std::string& type) {
    const std::string marked = search::contained_type(c.chain_type);
    const std::string t = alias();
    const std::string r = row_alias();
    token_aliases_.insert(t);
    std::string out = "SELECT " + r + ".rid AS rid FROM ";
    const bool driven = can_drive(*c.chain);
    if (driven) {
      const std::string d = alias();
      out +=
          "(" + driver_rows(*c.chain, marked) + ") " + d + " JOIN idx_token " + t + " ON " + t + ".rid = " + d + ".rid";
    } else {
      out += "idx_token " + t;
    }
    // The referring rows are the container's own, or (in a search of contained resources) those of
    // another resource in the same container.
    const std::string container = fmt::format("((-{}.rid) / {})", t, search::kContainedSlots);
    const std::string same =
        type.starts_with(search::kContainedMark) ? in_container(r + ".rid", container) : r + ".rid = " + container;
    bind(type);
    bind(c.param);
    bind(c.chain_type);
    bind(marked);
    bind("_id");
    out += fmt::format(
        " JOIN idx_reference {0} ON {1} AND {0}.type = ? AND {0}.param = ? AND {0}.target_type = ? AND "
        "{0}.target_id = '' AND {0}.url = '#' || {2}.code WHERE {2}.type = ? AND {2}.param = ?",
        r, same, t);
    if (!driven) out += " AND " + filter(*c.chain, t, marked);
    return out;
  }

  /// SELECT DISTINCT rid ... for a driving filter.
  std::string driver_rows(const Filter& f, const std::string& type) {
    const Condition& first = f.any_of.front();
    const std::string r = row_alias();
    if (first.chain) {
      const std::string t = alias();
      bind(type);
      bind(first.param);
      bind(first.chain_type);
      std::string out = fmt::format(
                            "SELECT DISTINCT {0}.rid AS rid FROM idx_reference {0} JOIN resource_current {1} ON "
                            "{1}.type = {0}.target_type AND {1}.id = {0}.target_id AND {1}.deleted = 0 WHERE {0}.type "
                            "= ? AND {0}.param = ? AND {0}.target_type = ? AND ",
                            r, t) +
                        filter(*first.chain, t, first.chain_type);
      return out + " UNION " + contained_chain_rows(first, type);
    }
    bind(type);
    std::string out = fmt::format("SELECT DISTINCT {0}.rid AS rid FROM {1} {0} WHERE {0}.type = ? AND ", r,
                                  first.type == ParamType::kComposite ? "idx_composite" : table_for(first));
    out += param_test(r, first) + " AND (";
    for (std::size_t i = 0; i < f.any_of.size(); ++i) {
      if (i > 0) out += " OR ";
      out += value_test(f.any_of[i], r);
    }
    return out + ")";
  }

  /// A chain through a `#id` reference (R4 search.html#chaining, references.html#contained): a
  /// resource of chain_type contained in the same container as alias `a`, referred to by `a`'s
  /// parameter, that satisfies the chain.
  std::string contained_chain(const Condition& c, const std::string& a) {
    const std::string r = row_alias();
    const std::string t = alias();
    token_aliases_.insert(t);
    const std::string marked = search::contained_type(c.chain_type);
    bind(marked);
    bind("_id");
    bind(c.param);
    bind(c.chain_type);
    std::string out = fmt::format(
        "EXISTS (SELECT 1 FROM idx_reference {0} JOIN idx_token {1} ON {3} AND {1}.type = ? AND {1}.param = ? AND "
        "{1}.code = substr({0}.url, 2) WHERE {0}.rid = {2}.rid AND {0}.param = ? AND {0}.target_type = ? AND "
        "{0}.target_id = '' AND ",
        r, t, a, in_container(t + ".rid", container_of(a)));
    return out + filter(*c.chain, t, marked) + ")";
  }

  // Conditions other than the driving one are checked per candidate through the index tables'
  // owner index (rid), which holds a few dozen rows per resource.
  std::string condition(const Condition& c, const std::string& a, const std::string& type) {
    if (c.param == "_id") {
      if (c.modifier == "not") {
        bind(c.code.value_or(""));
        return id_of(a) + " != ?";
      }
      bind(c.code.value_or(""));
      return id_of(a) + " = ?";
    }
    if (c.param == "_lastUpdated") {
      const std::string updated = updated_of(a);
      return range_test(c, updated, updated);
    }
    if (c.chain) {
      const std::string r = row_alias();
      const std::string t = alias();
      std::string out;
      if (c.reverse) {
        // _has: a `chain_type` resource whose `param` refers to this one and satisfies the chain.
        bind(c.chain_type);
        bind(c.param);
        bind(type);
        out = fmt::format(
            "EXISTS (SELECT 1 FROM idx_reference {0} JOIN resource_current {1} ON {1}.rid = {0}.rid AND {1}.deleted = "
            "0 WHERE {0}.type = ? AND {0}.param = ? AND {0}.target_type = ? AND {0}.target_id = {2}.id AND ",
            r, t, a);
      } else {
        bind(c.param);
        bind(c.chain_type);
        out = fmt::format(
            "(EXISTS (SELECT 1 FROM idx_reference {0} JOIN resource_current {1} ON {1}.type = {0}.target_type AND "
            "{1}.id = {0}.target_id AND {1}.deleted = 0 WHERE {0}.rid = {2}.rid AND {0}.param = ? AND {0}.target_type "
            "= ? AND ",
            r, t, a);
        // One call per statement: the binds must follow the text's order.
        out += filter(*c.chain, t, c.chain_type);
        out += ") OR ";
        out += contained_chain(c, a);
        return out + ")";
      }
      return out + filter(*c.chain, t, c.chain_type) + ")";
    }
    const std::string r = row_alias();
    const std::string head = fmt::format("EXISTS (SELECT 1 FROM {0} {1} WHERE {1}.rid = {2}.rid AND ",
                                         c.type == ParamType::kComposite ? "idx_composite" : table_for(c), r, a) +
                             param_test(r, c);
    if (c.modifier == "missing") return (c.missing ? "NOT " : "") + head + ")";
    if (c.type == ParamType::kToken && c.modifier == "not") return "NOT " + head + " AND " + value_test(c, r) + ")";
    return head + " AND " + value_test(c, r) + ")";
  }

  std::string sort_expr(const search::SortKey& k, const std::string& a) {
    if (k.param == "_id") return a + ".id";
    if (k.param == "_lastUpdated") return a + ".last_updated";
    const char* column = "code";
    const char* agg = k.descending ? "MAX" : "MIN";
    switch (k.type) {
      case ParamType::kString:
        column = "normalized";
        break;
      case ParamType::kToken:
        column = "code";
        break;
      case ParamType::kReference:
        column = "target_id";
        break;
      case ParamType::kDate:
        column = k.descending ? "high" : "low";
        break;
      case ParamType::kNumber:
      case ParamType::kQuantity:
        column = "value";
        break;
      case ParamType::kUri:
        column = "uri";
        break;
      default:
        break;
    }
    return fmt::format("(SELECT {0}(s.{1}) FROM {2} s WHERE s.rid = {3}.rid AND ", agg, column, table_of(k.type), a) +
           param_test("s", k.param, k.stored_as, {}, k.stored_target) + ")";
  }

 private:
  Sql& sql_;
  int next_alias_ = 1;
  std::set<std::string, std::less<>> token_aliases_;  ///< aliases of contained resources' `_id` rows
};

}  // namespace

namespace {

/// The index of the filter that would drive the plan, or -1.
int choose_driver(const search::Plan& plan, bool& by_id) {
  by_id = std::any_of(plan.filters.begin(), plan.filters.end(), [](const Filter& f) {
    return f.any_of.size() == 1 && f.any_of[0].param == "_id" && f.any_of[0].modifier.empty();
  });
  int driver = -1;
  if (!by_id && !plan.compartment) {
    for (std::size_t i = 0; i < plan.filters.size(); ++i) {
      if (!Builder::can_drive(plan.filters[i])) continue;
      if (driver < 0 || Builder::selectivity(plan.filters[i]) <
                            Builder::selectivity(plan.filters[static_cast<std::size_t>(driver)])) {
        driver = static_cast<int>(i);
      }
    }
  }
  return driver;
}

}  // namespace

std::optional<Sql> driver_probe_sql(const search::Plan& plan, std::size_t cap) {
  if (!plan.sort.empty()) return std::nullopt;
  bool by_id = false;
  const int driver = choose_driver(plan, by_id);
  if (driver < 0 || Builder::selectivity(plan.filters[static_cast<std::size_t>(driver)]) < 5) return std::nullopt;
  // Only when the other filters are codes with few values too: a selective second filter (an exact
  // birth date, say) is better checked against the driver's rows than found by a walk of the type.
  for (std::size_t i = 0; i < plan.filters.size(); ++i) {
    if (static_cast<int>(i) != driver && Builder::selectivity(plan.filters[i]) < 8) return std::nullopt;
  }
  Sql sql;
  Builder b(sql);
  const std::string rows = b.driver_rows(plan.filters[static_cast<std::size_t>(driver)], plan.type);
  sql.binds.emplace_back(static_cast<std::int64_t>(cap));
  sql.text = "SELECT COUNT(*) FROM (" + rows + " LIMIT ?) AS probe";
  return sql;
}

Sql search_sql(const search::Plan& plan, bool count_only, std::size_t limit, std::size_t offset, bool scan_by_id,
               Dialect dialect) {
  Sql sql;
  Builder b(sql);
  // Drive the search from its most selective positive filter (or the patient compartment), read
  // from an index key, and check the other filters per candidate. A positive _id test uses the
  // primary key instead.
  bool by_id = false;
  int driver = choose_driver(plan, by_id);
  if (scan_by_id && !count_only && plan.sort.empty() && !plan.after_rid) driver = -1;
  if (!count_only && plan.sort.empty() && driver >= 0 && !plan.compartment && !plan.after) {
    // The driver's candidates in rid order, read from its index alone (rids are integers: sorting
    // even a hundred thousand of them is quick), then the other filters and the deleted flag are
    // checked on them in that order only until the page is full. Only the page's rows are looked
    // up in resource_current. A page in id order would first look up every candidate's id.
    std::string inner =
        "SELECT d.rid AS rid FROM (" + b.driver_rows(plan.filters[static_cast<std::size_t>(driver)], plan.type) + ") d";
    if (plan.after_rid) {
      b.bind(*plan.after_rid);
      inner += " WHERE d.rid > ?";
    }
    // With the driver the only filter, its rows are the matches (deleted resources have none), so
    // the candidates need be sorted only as far as the page: a top-N sort instead of a full one.
    std::string cut;
    if (plan.filters.size() == 1) {
      b.bind(static_cast<std::int64_t>(limit + offset));
      cut = " LIMIT ?";
    } else {
      cut = dialect == Dialect::kSqlite ? " LIMIT -1" : " OFFSET 0";
    }
    std::string where = "c0.type = ? AND c0.deleted = 0";
    b.bind(plan.type);
    for (std::size_t i = 0; i < plan.filters.size(); ++i) {
      if (static_cast<int>(i) == driver) continue;
      where += " AND " + b.filter(plan.filters[i], "c0", plan.type);
    }
    sql.binds.emplace_back(static_cast<std::int64_t>(limit));
    sql.binds.emplace_back(static_cast<std::int64_t>(offset));
    sql.rid_order = true;
    sql.text = dialect == Dialect::kSqlite ? "SELECT c0.id, c0.rid FROM (" + inner + " ORDER BY d.rid" + cut +
                                                 ") cand CROSS JOIN resource_current c0 ON c0.rid = cand.rid WHERE " +
                                                 where + " LIMIT ? OFFSET ?"
                                           : "SELECT c0.id, c0.rid FROM (" + inner + " ORDER BY d.rid" + cut +
                                                 ") cand JOIN resource_current c0 ON c0.rid = cand.rid WHERE " + where +
                                                 " ORDER BY cand.rid LIMIT ? OFFSET ?";
    return sql;
  }
  std::string from = "resource_current c0";
  if (plan.compartment && !by_id) {
    b.bind(*plan.compartment);
    b.bind(plan.type);
    from =
        "(SELECT k.rid AS rid FROM compartment k WHERE k.patient = ? AND k.type = ?) d JOIN resource_current c0 "
        "ON c0.rid = d.rid";
  } else if (driver >= 0) {
    from = "(" + b.driver_rows(plan.filters[static_cast<std::size_t>(driver)], plan.type) +
           ") d JOIN resource_current c0 ON c0.rid = d.rid";
  }
  // Unsorted, driven, continuing after an id cursor (a first page that walked the type in id order,
  // see scan_by_id): put the driver's candidates in id order first, then check the other filters on
  // them in that order only until the page is full, rather than checking every candidate and
  // sorting the survivors.
  // Deleted resources have no index rows, so the candidates are read from the rid index alone (it
  // holds type and id); the deleted flag is checked again, with the other filters, on the few
  // candidates the page needs. Also with the driver as the only filter.
  const bool lazy = !count_only && plan.sort.empty() && driver >= 0 && !plan.compartment;
  if (lazy) {
    b.bind(plan.type);
    std::string inner = "SELECT c0.rid AS rid, c0.id AS id FROM " + from + " WHERE c0.type = ?";
    if (plan.after) {
      b.bind(*plan.after);
      inner += " AND c0.id > ?";
    }
    // SQLite: LIMIT -1 keeps the ordered subquery from being flattened and CROSS JOIN keeps it the
    // outer loop, so rows come out in its order. PostgreSQL: OFFSET 0 keeps the subquery apart, and
    // the outer ORDER BY is met by its order.
    std::string where = "c0.deleted = 0";
    for (std::size_t i = 0; i < plan.filters.size(); ++i) {
      if (static_cast<int>(i) == driver) continue;
      where += " AND " + b.filter(plan.filters[i], "c0", plan.type);
    }
    sql.binds.emplace_back(static_cast<std::int64_t>(limit));
    sql.binds.emplace_back(static_cast<std::int64_t>(offset));
    sql.text = dialect == Dialect::kSqlite
                   ? "SELECT c0.id FROM (" + inner + " ORDER BY c0.id LIMIT -1) cand CROSS JOIN resource_current c0 " +
                         "ON c0.rid = cand.rid WHERE " + where + " LIMIT ? OFFSET ?"
                   : "SELECT c0.id FROM (" + inner + " ORDER BY c0.id OFFSET 0) cand JOIN resource_current c0 ON " +
                         "c0.rid = cand.rid WHERE " + where + " ORDER BY cand.id LIMIT ? OFFSET ?";
    return sql;
  }
  std::string where = "c0.type = ? AND c0.deleted = 0";
  b.bind(plan.type);
  if (plan.compartment && by_id) {
    b.bind(*plan.compartment);
    where += " AND EXISTS (SELECT 1 FROM compartment k WHERE k.rid = c0.rid AND k.patient = ?)";
  }
  for (std::size_t i = 0; i < plan.filters.size(); ++i) {
    if (static_cast<int>(i) == driver) continue;
    where += " AND " + b.filter(plan.filters[i], "c0", plan.type);
  }
  if (plan.after && plan.sort.empty() && !count_only) {
    b.bind(*plan.after);
    where += " AND c0.id > ?";
  }
  if (plan.after_rid && plan.sort.empty() && !count_only) {
    b.bind(*plan.after_rid);
    where += " AND c0.rid > ?";
  }
  if (count_only) {
    sql.text = "SELECT COUNT(*) FROM " + from + " WHERE " + where;
    return sql;
  }
  if (plan.sort.empty()) {
    sql.binds.emplace_back(static_cast<std::int64_t>(limit));
    sql.binds.emplace_back(static_cast<std::int64_t>(offset));
    // A rid cursor keeps the rid order its first page had.
    sql.rid_order = plan.after_rid.has_value();
    sql.text = "SELECT c0.id, c0.rid FROM " + from + " WHERE " + where + " ORDER BY c0." +
               (sql.rid_order ? "rid" : "id") + " LIMIT ? OFFSET ?";
    return sql;
  }
  // Sorted: the inner query computes each match's sort values (the select list comes first in the
  // text, so its binds go first); the outer one orders by them, and a cursor continues after the
  // last row seen, compared key by key in the sort's direction (NULLS LAST), then by id.
  std::vector<Bind> where_binds = std::move(sql.binds);
  sql.binds.clear();
  std::string select = "c0.id AS id";
  std::string order;
  for (std::size_t i = 0; i < plan.sort.size(); ++i) {
    const auto& k = plan.sort[i];
    select += fmt::format(", {} AS k{}", b.sort_expr(k, "c0"), i);
    order += fmt::format("k{}{}, ", i, k.descending ? " DESC NULLS LAST" : " ASC NULLS LAST");
  }
  order += "id";
  for (auto& x : where_binds) sql.binds.push_back(std::move(x));
  std::string outer_where;
  if (plan.after && plan.after_keys.size() == plan.sort.size()) {
    const auto bind_value = [&](const search::SortValue& v) {
      if (const auto* t = std::get_if<std::string>(&v)) {
        b.bind(*t);
      } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
        b.bind(*n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        b.bind(*d);
      }
    };
    const auto is_null = [](const search::SortValue& v) { return std::holds_alternative<std::monostate>(v); };
    std::string any;
    for (std::size_t i = 0; i <= plan.sort.size(); ++i) {
      std::string term;
      for (std::size_t j = 0; j < i; ++j) {
        const auto& v = plan.after_keys[j];
        term += is_null(v) ? fmt::format("k{} IS NULL AND ", j) : fmt::format("k{} = ? AND ", j);
        bind_value(v);
      }
      if (i == plan.sort.size()) {
        b.bind(*plan.after);
        term += "id > ?";
      } else {
        const auto& v = plan.after_keys[i];
        if (is_null(v)) continue;  // nothing sorts after an absent value but other absent values
        term += fmt::format("(k{0} {1} ? OR k{0} IS NULL)", i, plan.sort[i].descending ? "<" : ">");
        bind_value(v);
      }
      any += any.empty() ? "(" + term + ")" : " OR (" + term + ")";
    }
    outer_where = " WHERE " + any;
  }
  sql.binds.emplace_back(static_cast<std::int64_t>(limit));
  sql.binds.emplace_back(static_cast<std::int64_t>(offset));
  sql.text = "SELECT * FROM (SELECT " + select + " FROM " + from + " WHERE " + where + ") AS m" + outer_where +
             " ORDER BY " + order + " LIMIT ? OFFSET ?";
  return sql;
}

Sql contained_search_sql(const search::Plan& plan, bool count_only, std::size_t limit, std::size_t offset) {
  Sql sql;
  Builder b(sql);
  const bool sorted = !count_only && !plan.sort.empty();
  const bool containers = plan.contained_result == search::ContainedResult::kContainer;
  const std::string marked = search::contained_type(plan.type);
  // Each part selects (t, i, l [, k0, ...]): the type and id of the resource to return and, for a
  // contained resource returned itself, its local id; then the sort values of the match. A part's
  // binds follow its text: select list, FROM (with the driver), WHERE.
  const auto select_list = [&](const std::string& head) {
    std::string out = head;
    if (sorted) {
      for (std::size_t i = 0; i < plan.sort.size(); ++i)
        out += fmt::format(", {} AS k{}", b.sort_expr(plan.sort[i], "c0"), i);
    }
    return out;
  };
  const auto driver_of = [&](bool allow) {
    int driver = -1;
    if (!allow) return driver;
    for (std::size_t i = 0; i < plan.filters.size(); ++i) {
      if (!Builder::can_drive(plan.filters[i])) continue;
      if (driver < 0 || Builder::selectivity(plan.filters[i]) <
                            Builder::selectivity(plan.filters[static_cast<std::size_t>(driver)])) {
        driver = static_cast<int>(i);
      }
    }
    return driver;
  };
  // Contained resources of plan.type: each one's `_id` row (its key and local id), in a container
  // that exists; the alias c0 has the columns a resource has (rid, id, last_updated).
  std::string contained = "SELECT " + select_list(containers ? "c0.ctype AS t, c0.cid AS i, '' AS l"
                                                             : "c0.ctype AS t, c0.cid AS i, c0.id AS l");
  {
    const int driver = driver_of(true);
    std::string source = "idx_token k";
    if (driver >= 0) {
      source = "(" + b.driver_rows(plan.filters[static_cast<std::size_t>(driver)], marked) +
               ") d JOIN idx_token k ON k.rid = d.rid";
    }
    b.bind(marked);
    b.bind("_id");
    contained += fmt::format(
        " FROM (SELECT k.rid AS rid, k.code AS id, p.last_updated AS last_updated, p.type AS ctype, p.id AS cid, "
        "p.rid AS prid FROM {} JOIN resource_current p ON p.rid = (-k.rid) / {} WHERE k.type = ? AND k.param = ? "
        "AND p.deleted = 0) c0 WHERE TRUE",
        source, search::kContainedSlots);
    if (plan.compartment) {
      b.bind(*plan.compartment);
      contained += " AND EXISTS (SELECT 1 FROM compartment pk WHERE pk.rid = c0.prid AND pk.patient = ?)";
    }
    for (std::size_t i = 0; i < plan.filters.size(); ++i) {
      if (static_cast<int>(i) == driver) continue;
      contained += " AND " + b.filter(plan.filters[i], "c0", marked);
    }
  }
  std::string all = contained;
  if (plan.contained == search::Contained::kBoth) {
    bool by_id = false;
    const int driver = choose_driver(plan, by_id);
    std::string ordinary = "SELECT " + select_list("c0.type AS t, c0.id AS i, '' AS l") + " FROM ";
    if (driver >= 0) {
      ordinary += "(" + b.driver_rows(plan.filters[static_cast<std::size_t>(driver)], plan.type) +
                  ") d JOIN resource_current c0 ON c0.rid = d.rid";
    } else {
      ordinary += "resource_current c0";
    }
    b.bind(plan.type);
    ordinary += " WHERE c0.type = ? AND c0.deleted = 0";
    if (plan.compartment) {
      b.bind(*plan.compartment);
      ordinary += " AND EXISTS (SELECT 1 FROM compartment pk WHERE pk.rid = c0.rid AND pk.patient = ?)";
    }
    for (std::size_t i = 0; i < plan.filters.size(); ++i) {
      if (static_cast<int>(i) == driver) continue;
      ordinary += " AND " + b.filter(plan.filters[i], "c0", plan.type);
    }
    all += " UNION ALL " + ordinary;
  }
  // A container with several matching contained resources is one match.
  if (count_only) {
    sql.text = "SELECT COUNT(*) FROM (SELECT m.t FROM (" + all + ") m GROUP BY m.t, m.i, m.l) g";
    return sql;
  }
  std::string select = "m.t AS t, m.i AS i, m.l AS l";
  std::string order;
  if (sorted) {
    for (std::size_t i = 0; i < plan.sort.size(); ++i) {
      const bool desc = plan.sort[i].descending;
      select += fmt::format(", {}(m.k{}) AS s{}", desc ? "MAX" : "MIN", i, i);
      order += fmt::format("s{}{}, ", i, desc ? " DESC NULLS LAST" : " ASC NULLS LAST");
    }
  }
  order += "t, i, l";
  // A cursor continues after the last match seen: its sort values (in the sort's directions, NULLS
  // LAST), then its type, id and local id; exact while containers change between pages.
  std::string after;
  if (plan.after_match && plan.after_keys.size() == (sorted ? plan.sort.size() : 0)) {
    struct Key {
      std::string column;
      bool descending;
      search::SortValue value;
    };
    std::vector<Key> keys;
    for (std::size_t i = 0; i < plan.after_keys.size(); ++i) {
      keys.push_back(Key{fmt::format("s{}", i), plan.sort[i].descending, plan.after_keys[i]});
    }
    keys.push_back(Key{"t", false, (*plan.after_match)[0]});
    keys.push_back(Key{"i", false, (*plan.after_match)[1]});
    keys.push_back(Key{"l", false, (*plan.after_match)[2]});
    const auto bind_value = [&](const search::SortValue& v) {
      if (const auto* t = std::get_if<std::string>(&v)) {
        b.bind(*t);
      } else if (const auto* n = std::get_if<std::int64_t>(&v)) {
        b.bind(*n);
      } else if (const auto* d = std::get_if<double>(&v)) {
        b.bind(*d);
      }
    };
    const auto is_null = [](const search::SortValue& v) { return std::holds_alternative<std::monostate>(v); };
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (is_null(keys[i].value)) continue;  // nothing sorts after an absent value but other absent values
      std::string term;
      for (std::size_t j = 0; j < i; ++j) {
        term += is_null(keys[j].value) ? keys[j].column + " IS NULL AND " : keys[j].column + " = ? AND ";
        bind_value(keys[j].value);
      }
      const bool sort_key = i < plan.after_keys.size();
      term += sort_key ? fmt::format("({0} {1} ? OR {0} IS NULL)", keys[i].column, keys[i].descending ? "<" : ">")
                       : keys[i].column + " > ?";
      bind_value(keys[i].value);
      after += after.empty() ? "(" + term + ")" : " OR (" + term + ")";
    }
    after = " WHERE " + (after.empty() ? std::string("FALSE") : after);
  }
  sql.binds.emplace_back(static_cast<std::int64_t>(limit));
  sql.binds.emplace_back(static_cast<std::int64_t>(offset));
  sql.text = "SELECT * FROM (SELECT " + select + " FROM (" + all + ") m GROUP BY m.t, m.i, m.l) g" + after +
             " ORDER BY " + order + " LIMIT ? OFFSET ?";
  return sql;
}

namespace {

/// A token search value split into system and code: `code`, `system|code`, `system|`, `|code`.
struct TokenValue {
  std::optional<std::string> system;  // empty optional: any system; "": no system
  std::optional<std::string> code;    // empty optional: any code
};

TokenValue parse_token(const std::string& v) {
  TokenValue t;
  const auto bar = v.find('|');
  if (bar == std::string::npos) {
    t.code = v;
  } else {
    t.system = v.substr(0, bar);
    if (bar + 1 < v.size()) t.code = v.substr(bar + 1);
  }
  return t;
}

}  // namespace

search::Plan plan_of(const std::string& type, const std::vector<Criterion>& criteria) {
  search::Plan plan;
  plan.type = type;
  for (const auto& crit : criteria) {
    if (crit.values.empty()) continue;
    search::Filter f;
    for (const auto& v : crit.values) {
      search::Condition cond;
      cond.type = search::ParamType::kToken;
      cond.param = crit.param;
      if (crit.param == "_id") {
        cond.code = v;
      } else {
        TokenValue tv = parse_token(v);
        cond.system = std::move(tv.system);
        cond.code = std::move(tv.code);
      }
      f.any_of.push_back(std::move(cond));
    }
    plan.filters.push_back(std::move(f));
  }
  return plan;
}

std::string numbered_placeholders(const std::string& text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  int n = 0;
  for (const char ch : text) {
    if (ch == '?') {
      out += fmt::format("${}", ++n);
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

}  // namespace ucr::store::sql
