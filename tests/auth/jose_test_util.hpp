// Test helpers for auth: keys made with OpenSSL directly and tokens assembled by hand, independent of the code
// under test (only base64url, tested on its own, is shared).
#pragma once

#include <boost/json.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace ucr::auth::test {

/// Owns an OpenSSL EVP_PKEY without exposing OpenSSL headers to every test.
class TestKey {
 public:
  /// A fresh EC P-256 or RSA 2048 key pair.
  static TestKey ec();
  static TestKey rsa();

  /// The public JWK with `kid` ("kty", "crv", "x", "y" or "kty", "n", "e").
  [[nodiscard]] boost::json::object public_jwk(std::string_view kid) const;
  /// The public key as SubjectPublicKeyInfo PEM (what an attacker can download).
  [[nodiscard]] std::string public_pem() const;
  /// ES256 (r||s) or RS256 signature of `input`.
  [[nodiscard]] std::string sign(std::string_view input) const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

/// base64url(JSON) of a header or claims object.
[[nodiscard]] std::string encode_part(const boost::json::object& o);
/// "<header>.<payload>" ready to be signed.
[[nodiscard]] std::string signing_input(const boost::json::object& header, const boost::json::object& claims);
/// A compact JWS signed by `key` with the given header.
[[nodiscard]] std::string make_token(const TestKey& key, const boost::json::object& header,
                                     const boost::json::object& claims);
/// HMAC-SHA256 of `input` under `secret` (for the HS256 confusion attack).
[[nodiscard]] std::string hmac_sha256(std::string_view secret, std::string_view input);
/// True when `signature` (r||s) is a valid ES256 signature of `input` under the EC JWK `jwk`, checked with
/// OpenSSL directly.
[[nodiscard]] bool independent_es256_verify(const boost::json::object& jwk, std::string_view input,
                                            std::string_view signature);

}  // namespace ucr::auth::test
