// api/detail/capability: the CapabilityStatement describing exactly what this server implements.
#pragma once

#include <string>

namespace ucr::api::detail {

/// R4 capabilitystatement.html, as JSON text.
/// `oauth_base` non-empty: the server requires SMART on FHIR tokens from that issuer (rest.security).
/// `bulk_export`: the Bulk Data $export operations are offered (system, Patient and Group level).
[[nodiscard]] std::string capability_statement(const std::string& base_url, const std::string& software_version,
                                               const std::string& oauth_base = {}, bool bulk_export = false);

}  // namespace ucr::api::detail
