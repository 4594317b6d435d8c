// core/ids: new logical ids and checks on FHIR ids. Thread-safe (per-thread generators).
#pragma once

#include <string>
#include <string_view>

namespace ucr::core {

/// A new time-ordered (version 7) UUID in lower-case text, used as a server-assigned logical id:
/// the first 60 bits are the creation time, the last 62 random. Ids made one after another sort
/// together, so the store's id-keyed indexes grow at one end instead of taking each new id at a
/// random place (fewer pages touched per commit).
[[nodiscard]] std::string new_uuid();

/// R4 datatypes.html#id: [A-Za-z0-9\-\.]{1,64}
[[nodiscard]] bool is_valid_id(std::string_view id);

}  // namespace ucr::core
