// api/copy: moves everything one Store holds into another, empty one (an embedded database to
// PostgreSQL): every version in its original order with its version number, time and method, the
// search index of each current version (rebuilt with the search parameters in force), the
// bookkeeping (accounts, clients, markers) and the audit trail with its hash chain. Not
// thread-safe with writers on either store: run it with both servers stopped.
#pragma once

#include "core/error.hpp"
#include "search/registry.hpp"
#include "store/store.hpp"

#include <cstddef>
#include <functional>
#include <string_view>

namespace ucr::api {

struct CopyCounts {
  std::size_t versions = 0;
  std::size_t resources = 0;  ///< current, not deleted
  std::size_t audit_entries = 0;
  std::size_t meta_entries = 0;
};

struct CopyReport {
  CopyCounts source;
  CopyCounts target;  ///< counted again in the target after the copy
  [[nodiscard]] bool verified() const {
    return source.versions == target.versions && source.resources == target.resources &&
           source.audit_entries == target.audit_entries && source.meta_entries == target.meta_entries;
  }
};

/// Called as the copy goes: a stage ("versions", "audit", "bookkeeping"), items done and the total.
using CopyProgress = std::function<void(std::string_view stage, std::size_t done, std::size_t total)>;

/// Copies `from` into `to`, which must hold no resource version, audit entry or bookkeeping value
/// (400 otherwise). `registry`: the search parameters in force in `from` (Api::search_parameters).
[[nodiscard]] core::Result<CopyReport> copy_store(store::Store& from, store::Store& to,
                                                  const search::Registry& registry, const CopyProgress& progress);

}  // namespace ucr::api
