// api/detail/registry_scope: the search parameters in force for the request a thread is working
// on. A request takes one snapshot of the server's registry (R4 plus its SearchParameter
// resources) when it starts and keeps it for all its work, including the part the store's writer
// thread runs, so one request never sees two sets of parameters. Each scope is per thread.
#pragma once

#include "search/registry.hpp"

namespace ucr::api::detail {

/// The registry of the innermost RegistryScope on this thread; R4 only outside any scope.
[[nodiscard]] const search::Registry& registry();

/// Makes `registry` (which must outlive the scope) the one in force on this thread until the
/// scope ends.
class RegistryScope {
 public:
  explicit RegistryScope(const search::Registry& registry);
  RegistryScope(const RegistryScope&) = delete;
  RegistryScope& operator=(const RegistryScope&) = delete;
  ~RegistryScope();

 private:
  const search::Registry* previous_;
};

}  // namespace ucr::api::detail
