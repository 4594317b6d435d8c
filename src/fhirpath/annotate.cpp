// Compile-time annotation of a parsed expression: leading type names resolved once, and for each member
// step the child lookup of the definition its input items are predicted to have (from the types along
// the path: Patient.name.given looks up `name` in Patient and `given` in HumanName). A prediction is only
// a cache key: at run time an item whose definition differs is looked up as before, so a wrong or
// missing prediction costs speed, never correctness.
#include "fhirpath/ast.hpp"
#include "fhirpath/model.hpp"

#include <algorithm>
#include <array>
#include <string_view>

namespace ucr::fhirpath {
namespace {

/// Functions whose result items are (a subset of) their input items.
constexpr std::array<std::string_view, 12> kFilters = {"where",  "first",    "last",      "tail",    "skip",  "take",
                                                       "single", "distinct", "intersect", "exclude", "trace", "sort"};
/// Functions evaluating their first argument on each input item.
constexpr std::array<std::string_view, 7> kIterators = {"where",  "select",    "exists", "all",
                                                        "repeat", "aggregate", "sort"};

bool listed(std::string_view name, std::span<const std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

/// The definition of a FHIR type specifier (complex types and resources), else null.
const fhir::TypeDefinition* spec_definition(const TypeSpec& spec) {
  if (spec.ns != "FHIR") return nullptr;
  return fhir::find_type(spec.name);
}

/// The definition items of `hint`'s element have (as model.cpp types them), when it is one.
const fhir::TypeDefinition* child_definition(const MemberHint& hint) {
  if (hint.child == nullptr) return nullptr;
  const fhir::ElementDefinition* el = hint.child->element;
  if (el->children != nullptr) return el->children;
  const fhir::ElementType& t = el->types[hint.child->type_index];
  return t.is_resource ? nullptr : t.definition;
}

struct Annotator {
  const fhir::TypeDefinition* root_hint = nullptr;

  /// Annotates `node` evaluated with $this of definition `this_def`; returns its items' predicted definition.
  const fhir::TypeDefinition* visit(Node& node, const fhir::TypeDefinition* this_def) {
    switch (node.kind) {
      case NodeKind::kThis:
        return this_def;
      case NodeKind::kMember:
        return member(node, this_def);
      case NodeKind::kFunction:
        return function(node, this_def);
      case NodeKind::kIndexer: {
        const fhir::TypeDefinition* in = visit(*node.target, this_def);
        for (auto& a : node.args) {
          if (a) visit(*a, this_def);
        }
        return in;
      }
      case NodeKind::kUnary:
        visit(*node.target, this_def);
        return nullptr;
      case NodeKind::kBinary: {
        const fhir::TypeDefinition* l = node.args[0] ? visit(*node.args[0], this_def) : nullptr;
        const fhir::TypeDefinition* r = node.args[1] ? visit(*node.args[1], this_def) : nullptr;
        return node.op == BinaryOp::kUnion && l == r ? l : nullptr;
      }
      case NodeKind::kTypeOp:
        visit(*node.target, this_def);
        return node.is_as ? spec_definition(node.type) : nullptr;
      default:
        return nullptr;
    }
  }

  const fhir::TypeDefinition* member(Node& node, const fhir::TypeDefinition* this_def) {
    const fhir::TypeDefinition* in = this_def;
    const fhir::TypeDefinition* leading = nullptr;
    if (node.target) {
      in = visit(*node.target, this_def);
    } else if (!node.name.empty() && node.name[0] >= 'A' && node.name[0] <= 'Z') {
      node.leading_type = resolve_type("FHIR", node.name);
      node.leading_resource = fhir::is_resource_type(node.name);
      if (node.leading_type) {
        leading = fhir::find_type(node.name);
        if (node.leading_resource && root_hint == nullptr && leading != nullptr && leading->is_resource) {
          root_hint = leading;
        }
      }
    }
    node.hint = member_hint(in, node.name);
    if (leading != nullptr) return leading;
    return child_definition(node.hint);
  }

  const fhir::TypeDefinition* function(Node& node, const fhir::TypeDefinition* this_def) {
    const fhir::TypeDefinition* in = node.target ? visit(*node.target, this_def) : this_def;
    const bool iterates = listed(node.name, kIterators);
    const fhir::TypeDefinition* first_arg = nullptr;
    for (std::size_t i = 0; i < node.args.size(); ++i) {
      if (!node.args[i]) continue;
      const fhir::TypeDefinition* r = visit(*node.args[i], iterates && i == 0 ? in : this_def);
      if (i == 0) first_arg = r;
    }
    if (listed(node.name, kFilters)) return in;
    if (node.name == "select" || node.name == "repeat") return first_arg;
    if (node.name == "ofType" || node.name == "as") return spec_definition(node.type);
    return nullptr;
  }
};

}  // namespace

const fhir::TypeDefinition* annotate(Node& root) {
  Annotator a;
  a.visit(root, nullptr);
  return a.root_hint;
}

}  // namespace ucr::fhirpath
