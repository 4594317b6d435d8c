// fhirpath/evaluator: walks a compiled expression over a collection (internal). One Evaluator per
// evaluate() call; it is not shared between threads (the Expression and Context it reads are).
#pragma once

#include "fhirpath/ast.hpp"

#include <optional>
#include <span>
#include <string_view>
#include <utility>

/// Evaluates `expr` (a core::Result), returning its error from the enclosing function, else binding
/// the value to `name`.
#define UCR_FP_TRY(name, expr)                        \
  auto name##_result_ = (expr);                       \
  if (!name##_result_) return name##_result_.error(); \
  auto& name = *name##_result_  // NOLINT(bugprone-macro-parentheses)

namespace ucr::fhirpath {

class Evaluator {
 public:
  Evaluator(const Expression& expr, const Context& ctx, std::span<const Value> input)
      : expr_(expr), ctx_(ctx), input_(input) {}

  /// Evaluates `node` with the given $this / $index / $total.
  core::Result<Collection> eval(const Node& node, const Scope& scope);
  /// Evaluates `node` as a condition (to_boolean of its value) with the given $this / $index / $total.
  core::Result<std::optional<bool>> test(const Node& node, const Scope& scope);
  /// Evaluates argument `i` of a call in the caller's scope.
  core::Result<Collection> arg(const Node& call, std::size_t i, const Scope& scope) {
    return eval(*call.args[i], scope);
  }
  /// Argument `i` evaluated into `store`, or the argument itself when it is a literal (not copied).
  core::Result<const Collection*> arg_items(const Node& call, std::size_t i, const Scope& scope, Collection& store);
  /// An evaluation error located at `node`.
  [[nodiscard]] core::Error error(const Node& node, std::string_view message) const;

  [[nodiscard]] const Context& context() const { return ctx_; }
  [[nodiscard]] std::span<const Value> input() const { return input_; }
  /// The resource resolve() searches (Bundle entries, contained): %rootResource or the input resource.
  [[nodiscard]] const boost::json::value* root_resource() const;
  /// The evaluation's clock reading (fixed for the whole evaluation).
  const Temporal& now();

 private:
  core::Result<Collection> member(const Node& node, const Scope& scope);
  /// Applies a leading type name (the `Patient` of Patient.name) to $this: true when it selected.
  bool leading_type(const Node& node, const Scope& scope, Collection& out);
  /// True when a leading type name selects from $this (rather than naming a child).
  bool selects_by_type(const Node& node, const Scope& scope);
  core::Result<Collection> binary(const Node& node, const Scope& scope);
  /// and / or / xor / implies.
  core::Result<std::optional<bool>> logic(const Node& node, const Scope& scope);
  /// = and != (empty when either side is empty or the result is unknown).
  core::Result<std::optional<bool>> equality(const Node& node, const Scope& scope);
  /// The operands of a binary node: literals in place, others evaluated into the given collections.
  core::Result<std::pair<const Collection*, const Collection*>> operands(const Node& node, const Scope& scope,
                                                                         Collection& lhs_items, Collection& rhs_items);
  core::Result<Collection> arithmetic(const Node& node, const Value& a, const Value& b);
  core::Result<Collection> variable(const Node& node);

  const Expression& expr_;
  const Context& ctx_;
  std::span<const Value> input_;
  std::optional<Temporal> now_;
  int depth_ = 0;
};

/// Ordering of two items.
enum class Order : std::uint8_t { kLess, kEqual, kGreater, kUnknown, kIncompatible };

/// `=` on single items: nullopt when unknown (e.g. dates of different precision).
std::optional<bool> equal_items(const Value& a, const Value& b);
/// `~` on single items.
bool equivalent_items(const Value& a, const Value& b);
/// `=` on collections (empty when either side is empty).
std::optional<bool> equal_collections(const Collection& a, const Collection& b);
/// `~` on collections (order-independent).
bool equivalent_collections(const Collection& a, const Collection& b);
/// Ordering for < <= > >= and sort().
Order compare_items(const Value& a, const Value& b);
/// True when `items` has an item equal to `v`.
bool contains_item(const Collection& items, const Value& v);
/// Appends `v` unless an equal item is already there (union / distinct semantics).
void add_distinct(Collection& out, const Value& v);

/// Singleton evaluation as Boolean: empty -> nullopt, one Boolean -> it, one other item -> true,
/// several -> error.
core::Result<std::optional<bool>> to_boolean(const Evaluator& ev, const Node& at, const Collection& c);
/// The single item (null when empty); error when several.
core::Result<const Value*> singleton(const Evaluator& ev, const Node& at, const Collection& c);
/// The text of an item that to_system() turns into a String, without copying it (a view into the item
/// or its JSON); nullopt for anything else, including dates and numbers held as JSON strings.
std::optional<std::string_view> plain_string(const Value& v);
/// The text of a String or FHIR string-like primitive; nullopt for anything else.
std::optional<std::string> string_value(const Value& v);

}  // namespace ucr::fhirpath
