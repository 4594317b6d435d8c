// api/detail/capability: the CapabilityStatement describing exactly what this server implements.
#pragma once

#include <string>

namespace ucr::api::detail {

/// R4 capabilitystatement.html, as JSON text.
[[nodiscard]] std::string capability_statement(const std::string& base_url, const std::string& software_version);

}  // namespace ucr::api::detail
