// fhirpath/functions: the table of FHIRPath functions and the helpers they share (internal).
// The table is immutable; thread-safe.
#pragma once

#include "fhirpath/ast.hpp"

#include <string_view>

namespace ucr::fhirpath {

/// One function of the table.
struct FunctionDef {
  std::string_view name;
  FunctionImpl impl = nullptr;
  int min_args = 0;
  int max_args = 0;
  bool type_argument = false;  ///< is()/as()/ofType(): the argument is a type specifier
};

/// The function called `name`; null when there is none.
const FunctionDef* find_function(std::string_view name);

// Function families (each file registers its own list).
std::span<const FunctionDef> existence_functions();
std::span<const FunctionDef> string_functions();
std::span<const FunctionDef> math_functions();
std::span<const FunctionDef> conversion_functions();
std::span<const FunctionDef> fhir_functions();

}  // namespace ucr::fhirpath
