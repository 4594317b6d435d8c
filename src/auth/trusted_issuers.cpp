#include "auth/crypto.hpp"
#include "auth/detail/jose.hpp"
#include "auth/jwt.hpp"

#include <fmt/format.h>
#include <boost/json/parse.hpp>

namespace ucr::auth {
namespace {

namespace json = boost::json;
using detail::JwkAlg;
using detail::PublicJwk;

constexpr int kMinRsaBits = 2048;
constexpr int kMaxRsaBits = 8192;

std::string_view alg_name(JwkAlg alg) { return alg == JwkAlg::es256 ? "ES256" : "RS256"; }
std::string_view kty_name(JwkAlg alg) { return alg == JwkAlg::es256 ? "EC" : "RSA"; }

std::string_view string_member(const json::object& o, std::string_view name) {
  const auto* v = o.if_contains(name);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

/// A base64url member decoded, or empty when absent or not base64url.
std::optional<std::string> bytes_member(const json::object& o, std::string_view name) {
  const auto text = string_member(o, name);
  if (text.empty()) return std::nullopt;
  return base64url_decode(text);
}

core::Error bad_jwks(std::string_view issuer, std::string_view why) {
  return core::Error::invalid(fmt::format("JWKS of trusted issuer '{}': {}", issuer, why));
}

/// The key `jwk` describes; nullopt inside when it is of a kind not used here (skipped), an error when it
/// claims to be usable but is malformed.
core::Result<std::optional<PublicJwk>> read_jwk(std::string_view issuer, const json::object& jwk) {
  const auto kty = string_member(jwk, "kty");
  const auto use = string_member(jwk, "use");
  const auto alg = string_member(jwk, "alg");
  if (jwk.contains("d") || jwk.contains("p") || jwk.contains("k")) {
    return bad_jwks(issuer, "a key carries private or symmetric key material");
  }
  if (!use.empty() && use != "sig") return std::optional<PublicJwk>();
  PublicJwk out;
  out.kid = std::string(string_member(jwk, "kid"));
  if (kty == "EC") {
    if (string_member(jwk, "crv") != "P-256" || (!alg.empty() && alg != "ES256")) return std::optional<PublicJwk>();
    const auto x = bytes_member(jwk, "x");
    const auto y = bytes_member(jwk, "y");
    detail::Pkey key = x && y ? detail::p256_public_key(*x, *y) : nullptr;
    if (!key) return bad_jwks(issuer, fmt::format("EC key '{}' is not a point on P-256", detail::printable(out.kid)));
    out.alg = JwkAlg::es256;
    out.key = std::shared_ptr<EVP_PKEY>(key.release(), detail::PkeyFree());
    return std::optional<PublicJwk>(std::move(out));
  }
  if (kty == "RSA") {
    if (!alg.empty() && alg != "RS256") return std::optional<PublicJwk>();
    const auto n = bytes_member(jwk, "n");
    const auto e = bytes_member(jwk, "e");
    detail::Pkey key = n && e ? detail::rsa_public_key(*n, *e) : nullptr;
    if (!key) return bad_jwks(issuer, fmt::format("RSA key '{}' has no valid n and e", detail::printable(out.kid)));
    const int bits = EVP_PKEY_get_bits(key.get());
    if (bits < kMinRsaBits || bits > kMaxRsaBits) return std::optional<PublicJwk>();
    out.alg = JwkAlg::rs256;
    out.key = std::shared_ptr<EVP_PKEY>(key.release(), detail::PkeyFree());
    return std::optional<PublicJwk>(std::move(out));
  }
  return std::optional<PublicJwk>();
}

}  // namespace

core::Result<void> TrustedIssuers::add(std::string issuer, std::string_view jwks_json, std::string audience) {
  if (issuer.empty() || audience.empty())
    return core::Error::invalid("trusted issuer: issuer and audience are required");
  boost::system::error_code ec;
  const json::value jwks = json::parse(jwks_json, ec);
  const auto* keys = !ec && jwks.is_object() ? jwks.get_object().if_contains("keys") : nullptr;
  if (keys == nullptr || !keys->is_array()) return bad_jwks(issuer, "not a JWK Set (an object with a \"keys\" array)");
  auto entry = std::make_shared<detail::IssuerKeys>();
  entry->audience = std::move(audience);
  for (const auto& k : keys->get_array()) {
    if (!k.is_object()) return bad_jwks(issuer, "a key is not a JSON object");
    auto jwk = read_jwk(issuer, k.get_object());
    if (!jwk) return jwk.error();
    if (*jwk) entry->keys.push_back(std::move(**jwk));
  }
  if (entry->keys.empty()) return bad_jwks(issuer, "no usable ES256 (EC P-256) or RS256 (RSA) signing key");
  issuers_[std::move(issuer)] = std::move(entry);
  return core::ok();
}

bool TrustedIssuers::knows(std::string_view issuer) const { return issuers_.find(issuer) != issuers_.end(); }

core::Result<json::object> TrustedIssuers::verify(std::string_view token, std::int64_t now_seconds) const {
  auto jws = detail::parse_compact(token);
  if (!jws) return jws.error();
  // The algorithm is checked before anything else: "none" and HMAC (whose secret an attacker would pick to be
  // a public key) never reach a key.
  const auto alg_text = detail::alg_of(*jws);
  if (alg_text != "ES256" && alg_text != "RS256") {
    return detail::unauthorized(
        fmt::format("unsupported alg '{}': only ES256 and RS256 are accepted", detail::printable(alg_text)));
  }
  const JwkAlg alg = alg_text == "ES256" ? JwkAlg::es256 : JwkAlg::rs256;
  auto kid = detail::kid_of(*jws);
  if (!kid) return kid.error();
  // The issuer is read before verification only to choose the keys; the signature is checked before any claim
  // is trusted.
  auto unverified = detail::decode_payload(*jws);
  if (!unverified) return unverified.error();
  const auto* iss = unverified->if_contains("iss");
  if (iss == nullptr || !iss->is_string()) return detail::unauthorized("unknown issuer: the token has no iss");
  const auto found = issuers_.find(std::string_view(iss->get_string()));
  if (found == issuers_.end()) {
    return detail::unauthorized(fmt::format("unknown issuer '{}'", detail::printable(iss->get_string())));
  }
  const detail::IssuerKeys& issuer = *found->second;

  const PublicJwk* key = nullptr;
  if (!kid->empty()) {
    const PublicJwk* other_type = nullptr;
    for (const auto& k : issuer.keys) {
      if (k.kid != *kid) continue;
      if (k.alg == alg) {
        key = &k;
        break;
      }
      other_type = &k;
    }
    if (key == nullptr && other_type != nullptr) {
      return detail::unauthorized(fmt::format("alg does not match key: {} token, kid '{}' is an {} key", alg_text,
                                              detail::printable(*kid), kty_name(other_type->alg)));
    }
    if (key == nullptr) return detail::unauthorized(fmt::format("unknown kid '{}'", detail::printable(*kid)));
  } else {
    for (const auto& k : issuer.keys) {
      if (k.alg != alg) continue;
      if (key != nullptr)
        return detail::unauthorized("unknown kid: the header has none and the issuer has several keys");
      key = &k;
    }
    if (key == nullptr) {
      return detail::unauthorized(fmt::format("alg does not match key: the issuer has no {} key", alg_name(alg)));
    }
  }

  const bool valid = alg == JwkAlg::es256 ? detail::verify_es256(key->key.get(), jws->signing_input, jws->signature)
                                          : detail::verify_rs256(key->key.get(), jws->signing_input, jws->signature);
  if (!valid) return detail::unauthorized("bad signature");
  VerifyOptions options;
  options.issuer = found->first;
  options.audience = issuer.audience;
  options.now_seconds = now_seconds;
  if (auto checked = detail::check_claims(*unverified, options); !checked) return checked.error();
  return unverified;
}

}  // namespace ucr::auth
