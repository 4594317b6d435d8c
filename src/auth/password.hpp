// auth/password: Argon2id password hashes (libsodium crypto_pwhash_str, PHC string format).
// Thread-safe: libsodium is initialised once on first use; every function may run on many threads.
#pragma once

#include "core/error.hpp"

#include <cstddef>
#include <string>
#include <string_view>

namespace ucr::auth {

/// Passwords are byte strings of this many bytes (UTF-8 is not normalised: the bytes typed are hashed).
inline constexpr std::size_t kMinPasswordBytes = 8;
/// Longer input is refused so a request cannot make the pre-hash expensive.
inline constexpr std::size_t kMaxPasswordBytes = 1024;

/// An Argon2id hash of `password` (opslimit and memlimit INTERACTIVE, random salt), e.g.
/// "$argon2id$v=19$m=65536,t=2,p=1$...". `invalid` when the password is shorter than kMinPasswordBytes or
/// longer than kMaxPasswordBytes; `exception` (500) when the 64 MiB working memory cannot be allocated.
[[nodiscard]] core::Result<std::string> hash_password(std::string_view password);

/// True when `password` matches `stored_hash` (any Argon2 hash libsodium reads). False for a malformed hash
/// and for a password longer than kMaxPasswordBytes (no such password was ever hashed).
[[nodiscard]] bool verify_password(std::string_view stored_hash, std::string_view password);

/// True when `stored_hash` is not an Argon2id hash with the current parameters (older, weaker or
/// unreadable): the caller should rehash the password after the next successful verify.
[[nodiscard]] bool password_needs_rehash(std::string_view stored_hash);

/// Spends the time of a verify_password that fails, against a fixed dummy hash. Call it when the user name
/// is unknown, so that an unknown name and a wrong password take the same time (no user enumeration).
void burn_password_time(std::string_view password);

}  // namespace ucr::auth
