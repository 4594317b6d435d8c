// auth/totp: time-based one-time passwords for second-factor login (RFC 6238 over RFC 4226 HOTP):
// HMAC-SHA1, 30-second steps, 6 digits, secrets in RFC 4648 base32. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace ucr::auth {

inline constexpr std::int64_t kTotpStepSeconds = 30;
inline constexpr int kTotpDigits = 6;
/// totp_verify accepts at most this many steps either side of now, whatever window it is given.
inline constexpr int kTotpMaxWindow = 10;

/// A new secret: 20 random bytes (160 bits, RFC 4226 §4 R6) in base32 without padding (32 characters).
[[nodiscard]] std::string totp_new_secret();

/// The code for the step containing `unix_seconds` (RFC 6238 §4.2, T0 = 0), six digits with leading
/// zeros. Empty when the secret is not base32 or is empty, or the time is before 1970.
[[nodiscard]] std::optional<std::string> totp_code(std::string_view secret_base32, std::int64_t unix_seconds);

/// The step number (unix_seconds / 30) of the step within `window` steps of `unix_seconds` whose code is
/// `code`, nearest first; empty when none matches or the code is not exactly six digits. Callers store the
/// last accepted step per user and refuse a step not after it, so a code is used once (RFC 6238 §5.2).
[[nodiscard]] std::optional<std::int64_t> totp_matching_step(std::string_view secret_base32, std::string_view code,
                                                             std::int64_t unix_seconds, int window = 1);

/// True when totp_matching_step finds a step. `window` 1 accepts the previous and next step (clock drift
/// and typing time, RFC 6238 §5.2); negative counts as 0, above kTotpMaxWindow as kTotpMaxWindow.
[[nodiscard]] bool totp_verify(std::string_view secret_base32, std::string_view code, std::int64_t unix_seconds,
                               int window = 1);

/// The provisioning URI authenticator apps read from a QR code (Google Authenticator "Key Uri Format"):
/// otpauth://totp/<issuer>:<account>?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30,
/// issuer and account percent-encoded.
[[nodiscard]] std::string totp_uri(std::string_view secret_base32, std::string_view account, std::string_view issuer);

}  // namespace ucr::auth
