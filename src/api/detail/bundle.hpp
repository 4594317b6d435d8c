// api/detail/bundle: batch and transaction Bundles (R4 http.html#transaction). Thread-safe.
#pragma once

#include "api/api.hpp"
#include "api/request.hpp"
#include "store/store.hpp"

namespace ucr::api::detail {

/// POST [base] with a Bundle of type batch or transaction.
[[nodiscard]] Response handle_bundle(store::Store& store, const ApiOptions& options, const Request& request);

/// One batch entry or transaction GET as a request of its own, with the search parameters in force
/// on this thread (defined in api.cpp beside the request router).
[[nodiscard]] Response handle_entry(store::Store& store, const ApiOptions& options, const Request& request);

}  // namespace ucr::api::detail
