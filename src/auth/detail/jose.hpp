// auth/detail/jose: internals shared by KeyRing, verify_jwt and TrustedIssuers: OpenSSL handles, compact JWS
// parsing, ES256/RS256 signatures and the registered-claim checks. Not part of the module's API.
#pragma once

#include "auth/jwt.hpp"
#include "core/error.hpp"

#include <openssl/evp.h>
#include <boost/json/object.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ucr::auth::detail {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

/// Longest token accepted; tokens from real issuers are a few kilobytes.
inline constexpr std::size_t kMaxTokenBytes = std::size_t{16} * 1024;

/// A compact JWS split and partly decoded. Views point into the token, which must outlive it.
struct CompactJws {
  std::string_view signing_input;  ///< "<header>.<payload>" as sent: what the signature covers
  std::string_view payload_b64;
  boost::json::object header;
  std::string signature;  ///< decoded bytes
};

/// `text` for an error message: at most 64 characters, anything but printable ASCII as '?' (token fields are
/// attacker-chosen and messages reach logs).
[[nodiscard]] std::string printable(std::string_view text);

/// A 401 "login" error, as every token failure is.
[[nodiscard]] core::Error unauthorized(std::string message);

/// Splits `token` into its three parts and decodes the header (a JSON object) and the signature. Refuses
/// oversized tokens, part counts other than three, bad base64url, a header that is not an object, an alg that
/// is not a string, and any "crit" header (no extension is understood, RFC 7515 §4.1.11).
[[nodiscard]] core::Result<CompactJws> parse_compact(std::string_view token);

/// The header's "alg" (parse_compact checked it is a string).
[[nodiscard]] std::string_view alg_of(const CompactJws& jws);
/// The header's "kid", empty when absent; an error when present and not a string.
[[nodiscard]] core::Result<std::string> kid_of(const CompactJws& jws);

/// The payload as a JSON object.
[[nodiscard]] core::Result<boost::json::object> decode_payload(const CompactJws& jws);

/// iss, aud, exp, nbf, iat and lifetime checks of RFC 7519 §4.1 against `options`.
[[nodiscard]] core::Result<void> check_claims(const boost::json::object& claims, const VerifyOptions& options);

/// A new P-256 key pair. Throws std::runtime_error when OpenSSL fails.
[[nodiscard]] Pkey generate_p256();
/// True when `key` is an EC key on P-256.
[[nodiscard]] bool is_p256(EVP_PKEY* key);
/// The affine coordinates of an EC P-256 key, 32 big-endian bytes each.
[[nodiscard]] std::optional<std::pair<std::string, std::string>> p256_coordinates(EVP_PKEY* key);
/// An EC P-256 public key from 32-byte coordinates; null when the point is not on the curve.
[[nodiscard]] Pkey p256_public_key(std::string_view x, std::string_view y);
/// An RSA public key from big-endian modulus and exponent; null when OpenSSL refuses them.
[[nodiscard]] Pkey rsa_public_key(std::string_view n, std::string_view e);

/// ECDSA signature conversions: DER ECDSA-Sig-Value <-> JOSE r||s (RFC 7518 §3.4), 32 bytes each for P-256.
[[nodiscard]] std::optional<std::string> ecdsa_der_to_jose(std::string_view der);
[[nodiscard]] std::optional<std::string> ecdsa_jose_to_der(std::string_view jose);

/// ES256 signature over `input` in JOSE form. Throws std::runtime_error when OpenSSL fails.
[[nodiscard]] std::string sign_es256(EVP_PKEY* key, std::string_view input);
/// True when `signature` (JOSE form, exactly 64 bytes) is a valid ES256 signature of `input`.
[[nodiscard]] bool verify_es256(EVP_PKEY* key, std::string_view input, std::string_view signature);
/// True when `signature` (exactly the modulus size) is a valid RS256 (RSASSA-PKCS1-v1_5, SHA-256) signature.
[[nodiscard]] bool verify_rs256(EVP_PKEY* key, std::string_view input, std::string_view signature);

/// A key the server signs with: kid, creation time and the private key (immutable once made).
struct SigningKey {
  std::string kid;
  std::int64_t created = 0;
  std::int64_t generation = 0;  ///< a shared ring's order of rotation (0 in a file or memory ring)
  Pkey key;
  std::string x_b64;  ///< public coordinates, base64url, for the JWKS
  std::string y_b64;
};

enum class JwkAlg { es256, rs256 };

/// One verification key of a trusted issuer.
struct PublicJwk {
  std::string kid;  ///< may be empty
  JwkAlg alg = JwkAlg::es256;
  std::shared_ptr<EVP_PKEY> key;
};

/// What a trusted issuer's tokens are checked against.
struct IssuerKeys {
  std::string audience;
  std::vector<PublicJwk> keys;
};

}  // namespace ucr::auth::detail
