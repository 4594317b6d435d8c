// api: FHIR R4 REST interactions as Request -> Response, with no knowledge of sockets.
// An Api is safe to call from many threads at once (all state is in the Store).
#pragma once

#include "api/request.hpp"
#include "store/store.hpp"

#include <cstddef>

namespace ucr::api {

struct ApiOptions {
  std::size_t default_page_size = 50;
  std::size_t max_page_size = 1000;
  std::size_t max_bundle_entries = 10000;
  std::string software_version = "0.1.0";
};

class Api {
 public:
  Api(store::Store& store, ApiOptions options) : store_(store), options_(std::move(options)) {}

  /// Handles one request under the FHIR base (path starting /fhir). Never throws for bad input.
  [[nodiscard]] Response handle(const Request& request);

  /// True when handling `request` may write (so callers can move it off latency-sensitive threads).
  [[nodiscard]] static bool may_write(const Request& request);

 private:
  store::Store& store_;
  ApiOptions options_;
};

}  // namespace ucr::api
