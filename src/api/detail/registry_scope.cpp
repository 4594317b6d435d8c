#include "api/detail/registry_scope.hpp"

namespace ucr::api::detail {
namespace {

// The innermost scope's registry on this thread (null outside any scope).
thread_local const search::Registry* t_registry = nullptr;

}  // namespace

const search::Registry& registry() { return t_registry != nullptr ? *t_registry : search::Registry::r4(); }

RegistryScope::RegistryScope(const search::Registry& registry) : previous_(t_registry) { t_registry = &registry; }

RegistryScope::~RegistryScope() { t_registry = previous_; }

}  // namespace ucr::api::detail
