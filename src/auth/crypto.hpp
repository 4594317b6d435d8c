// auth/crypto: encodings, digests, random tokens and comparisons shared by the OAuth2/SMART provider.
// Pure functions over values; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace ucr::auth {

/// RFC 4648 §5 base64url without padding (the JOSE form, RFC 7515 §2).
[[nodiscard]] std::string base64url_encode(std::string_view bytes);

/// Inverse of base64url_encode. Empty when `text` has padding, a character outside [A-Za-z0-9-_], a length
/// no encoding produces (4n+1), or non-zero unused bits in the last character (so each byte string has
/// exactly one accepted encoding: a token cannot be altered without changing its bytes).
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

/// RFC 4648 §6 base32 (A-Z2-7) without padding, as authenticator apps expect TOTP secrets.
[[nodiscard]] std::string base32_encode(std::string_view bytes);

/// Inverse of base32_encode. Accepts lower case, trailing '=' padding and spaces between groups (people
/// type secrets); empty on any other character or on a length no encoding produces.
[[nodiscard]] std::optional<std::string> base32_decode(std::string_view text);

/// `bytes` bytes from the operating system's CSPRNG, base64url encoded. 32 bytes give 256 bits.
/// Throws std::runtime_error only when the CSPRNG fails (a broken system, not an input error).
[[nodiscard]] std::string random_token(std::size_t bytes = 32);

/// `n` raw bytes from the CSPRNG (same failure rule as random_token).
[[nodiscard]] std::string random_bytes(std::size_t n);

/// SHA-256 of `data` as 64 lower-case hex digits.
[[nodiscard]] std::string sha256_hex(std::string_view data);

/// SHA-256 of `data` as 32 raw bytes.
[[nodiscard]] std::string sha256_raw(std::string_view data);

/// Equality whose running time depends only on the lengths, not on where the strings differ.
/// Different lengths return false at once: lengths of tokens and hashes are not secret.
[[nodiscard]] bool constant_time_equal(std::string_view a, std::string_view b);

/// True when `verifier` is a well-formed PKCE code_verifier (RFC 7636 §4.1: 43 to 128 characters of
/// [A-Za-z0-9-._~]).
[[nodiscard]] bool is_pkce_verifier(std::string_view verifier);

/// RFC 7636 §4.6, method S256: challenge == base64url(SHA-256(ASCII(verifier))). False for any malformed
/// verifier, so a client cannot pass a short or guessable one.
[[nodiscard]] bool pkce_s256_matches(std::string_view verifier, std::string_view challenge);

/// AES-256-GCM (NIST SP 800-38D) under a 32-byte `key` with a fresh random 96-bit nonce. Returns
/// nonce || ciphertext || 16-byte tag. `aad` is authenticated but not included (the caller stores it
/// beside). Throws std::invalid_argument for a key that is not 32 bytes, std::runtime_error when OpenSSL
/// fails.
[[nodiscard]] std::string aes256gcm_seal(std::string_view key, std::string_view plaintext, std::string_view aad);

/// Inverse of aes256gcm_seal; empty when the key or `aad` is not the one sealed with, or any byte was altered.
[[nodiscard]] std::optional<std::string> aes256gcm_open(std::string_view key, std::string_view sealed,
                                                        std::string_view aad);

/// A 32-byte key from its text form: 64 hex digits (`openssl rand -hex 32`) or 43 base64url characters,
/// surrounding white space ignored. Empty for anything else.
[[nodiscard]] std::optional<std::string> parse_key_text(std::string_view text);

}  // namespace ucr::auth
