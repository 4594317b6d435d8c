// core/ids: new logical ids and checks on FHIR ids. Thread-safe (per-thread generators).
#pragma once

#include <string>
#include <string_view>

namespace ucr::core {

/// A new random (version 4) UUID in lower-case text, used as a server-assigned logical id.
[[nodiscard]] std::string new_uuid();

/// R4 datatypes.html#id: [A-Za-z0-9\-\.]{1,64}
[[nodiscard]] bool is_valid_id(std::string_view id);

}  // namespace ucr::core
