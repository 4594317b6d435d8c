// api/detail/bundle: batch and transaction Bundles (R4 http.html#transaction). Thread-safe.
#pragma once

#include "api/api.hpp"
#include "api/request.hpp"
#include "store/store.hpp"

namespace ucr::api::detail {

class RecentArrivals;

/// POST [base] with a Bundle of type batch or transaction. `arrivals` (may be null): the Patients
/// just created, against which the Bundle's Patients are matched again as they are written, and
/// to which they are added (hazard H30), as for single creates.
[[nodiscard]] Response handle_bundle(store::Store& store, const ApiOptions& options, const Request& request,
                                     RecentArrivals* arrivals = nullptr);

/// One batch entry or transaction GET as a request of its own, with the search parameters in force
/// on this thread (defined in api.cpp beside the request router).
[[nodiscard]] Response handle_entry(store::Store& store, const ApiOptions& options, const Request& request,
                                    RecentArrivals* arrivals = nullptr);

}  // namespace ucr::api::detail
