// fhirpath/ast: the syntax tree of a compiled FHIRPath expression (internal). Built once by the parser,
// then only read: safe to share between threads.
#pragma once

#include "core/error.hpp"
#include "fhirpath/fhirpath.hpp"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace ucr::fhirpath {

class Evaluator;
struct Node;

/// $this / $index / $total of the innermost iteration.
struct Scope {
  std::span<const Value> this_items;  ///< $this (the whole input at the top level)
  std::int64_t index = -1;            ///< $index, -1 outside an iteration
  const Collection* total = nullptr;  ///< $total inside aggregate()
};

/// A function implementation: `call` is the kFunction node (args unevaluated), `input` its focus.
using FunctionImpl = core::Result<Collection> (*)(Evaluator& ev, const Node& call, const Collection& input,
                                                  const Scope& scope);

/// A resolved type specifier.
struct TypeSpec {
  std::string ns;          ///< "System" or "FHIR"
  std::string name;        ///< "Integer", "HumanName", "string"
  bool qualified = false;  ///< written with a namespace
};

/// What a member step resolves to on input items of one predicted definition, computed at compile time
/// (see `annotate`). Used only when an item's definition is `def`; other items are looked up as usual.
struct MemberHint {
  const fhir::TypeDefinition* def = nullptr;        ///< the predicted definition of the input items
  const fhir::ChildLookup* child = nullptr;         ///< def->find(name)
  const fhir::ElementDefinition* choice = nullptr;  ///< the choice element `name[x]` when `child` is null
};

enum class NodeKind : std::uint8_t {
  kLiteral,   ///< `literal` (an empty collection for {})
  kMember,    ///< `target`.name, or name on $this when target is null
  kFunction,  ///< `target`.name(args), or name(args) on $this when target is null
  kThis,
  kIndex,
  kTotal,
  kVariable,  ///< %name
  kIndexer,   ///< target[args[0]]
  kUnary,     ///< -target / +target
  kBinary,    ///< args[0] op args[1]
  kTypeOp,    ///< target is/as type
};

enum class BinaryOp : std::uint8_t {
  kMul,
  kDiv,
  kIntDiv,
  kMod,
  kAdd,
  kSub,
  kConcat,
  kUnion,
  kLt,
  kLe,
  kGt,
  kGe,
  kEq,
  kNe,
  kEquiv,
  kNotEquiv,
  kIn,
  kContains,
  kAnd,
  kOr,
  kXor,
  kImplies,
};

struct Node {
  NodeKind kind = NodeKind::kLiteral;
  std::size_t offset = 0;  ///< byte offset in the expression text
  BinaryOp op = BinaryOp::kAdd;
  bool negate = false;  ///< kUnary: '-' (else '+')
  bool is_as = false;   ///< kTypeOp: 'as' (else 'is')
  std::string name;     ///< member / function / variable name
  Collection literal;   ///< kLiteral
  std::unique_ptr<Node> target;
  std::vector<std::unique_ptr<Node>> args;
  FunctionImpl fn = nullptr;  ///< kFunction
  TypeSpec type;              ///< kTypeOp, and is()/as()/ofType() calls

  // Precomputed by `annotate` after parsing; read-only afterwards.
  std::optional<TypeSpec> leading_type;  ///< kMember without target: `name` read as a FHIR type (Patient.name)
  bool leading_resource = false;         ///< ... and it is a resource type
  MemberHint hint;                       ///< kMember: the child lookup for the predicted input definition
};

}  // namespace ucr::fhirpath

namespace ucr::fhirpath {

/// A compiled expression: the source text and its tree.
class Expression {
 public:
  Expression(std::string text, std::unique_ptr<Node> root, const fhir::TypeDefinition* root_hint = nullptr)
      : text_(std::move(text)), root_(std::move(root)), root_hint_(root_hint) {}
  [[nodiscard]] const std::string& text() const { return text_; }
  [[nodiscard]] const Node& root() const { return *root_; }
  /// The resource type the expression starts from (Patient for Patient.name), if any: a resource input
  /// of that type is typed without a lookup.
  [[nodiscard]] const fhir::TypeDefinition* root_hint() const { return root_hint_; }

 private:
  std::string text_;
  std::unique_ptr<Node> root_;
  const fhir::TypeDefinition* root_hint_ = nullptr;
};

/// "line:col" (1-based) of a byte offset in `text`.
std::string position_of(std::string_view text, std::size_t offset);
/// An invalid-expression error "fhirpath: <line:col>: <message>" carrying the expression text.
core::Error make_error(std::string_view text, std::size_t offset, std::string_view message);

/// Parses an expression (no cache).
core::Result<std::unique_ptr<Node>> parse(std::string_view text);
/// Precomputes per-node lookups (leading type names, member hints from the types the expression's
/// paths predict); returns the resource type definition the expression starts from, if any.
const fhir::TypeDefinition* annotate(Node& root);

}  // namespace ucr::fhirpath
