#include "auth/detail/jose.hpp"

#include "auth/crypto.hpp"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <boost/json/parse.hpp>

#include <array>
#include <cmath>
#include <stdexcept>

namespace ucr::auth::detail {
namespace {

namespace json = boost::json;

struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_free(p); }
};
struct EcdsaSigFree {
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;
using Bn = std::unique_ptr<BIGNUM, BnFree>;
using EcdsaSig = std::unique_ptr<ECDSA_SIG, EcdsaSigFree>;
using ParamBld = std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree>;
using Params = std::unique_ptr<OSSL_PARAM, ParamFree>;

constexpr std::size_t kP256Bytes = 32;
/// NumericDates beyond 9999-12-31 are refused, which also keeps the arithmetic below far from overflow.
constexpr std::int64_t kMaxNumericDate = 253402300799;

// OpenSSL takes unsigned char pointers; these keep the casts in one place.
// NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast)
const unsigned char* bytes(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* bytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
// NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)

Bn to_bn(std::string_view big_endian) {
  return Bn(BN_bin2bn(bytes(big_endian), static_cast<int>(big_endian.size()), nullptr));
}

std::optional<std::string> bn_to_fixed(const BIGNUM* bn, std::size_t size) {
  if (bn == nullptr || BN_num_bytes(bn) > static_cast<int>(size)) return std::nullopt;
  std::string out(size, '\0');
  if (BN_bn2binpad(bn, bytes(out), static_cast<int>(size)) != static_cast<int>(size)) return std::nullopt;
  return out;
}

/// A NumericDate (RFC 7519 §2): integer or fractional seconds; empty when not a number or out of range.
std::optional<std::int64_t> numeric_date(const json::value& v) {
  if (v.is_int64()) {
    const std::int64_t n = v.get_int64();
    if (n < 0 || n > kMaxNumericDate) return std::nullopt;
    return n;
  }
  if (v.is_uint64()) {
    const std::uint64_t n = v.get_uint64();
    if (n > static_cast<std::uint64_t>(kMaxNumericDate)) return std::nullopt;
    return static_cast<std::int64_t>(n);
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (!std::isfinite(d) || d < 0 || d > static_cast<double>(kMaxNumericDate)) return std::nullopt;
    return static_cast<std::int64_t>(std::floor(d));
  }
  return std::nullopt;
}

/// The claim `name` as a NumericDate: nullopt inside when absent, an error when present and not a date.
core::Result<std::optional<std::int64_t>> optional_date(const json::object& claims, std::string_view name) {
  const auto* v = claims.if_contains(name);
  if (v == nullptr) return std::optional<std::int64_t>();
  auto d = numeric_date(*v);
  if (!d) return unauthorized(fmt::format("malformed token: {} is not a NumericDate", name));
  return std::optional<std::int64_t>(d);
}

bool audience_contains(const json::value& aud, std::string_view audience) {
  if (aud.is_string()) return aud.get_string() == audience;
  if (!aud.is_array()) return false;
  for (const auto& a : aud.get_array()) {
    if (a.is_string() && a.get_string() == audience) return true;
  }
  return false;
}

core::Result<json::object> decode_json_object(std::string_view part_b64, std::string_view what) {
  const auto text = base64url_decode(part_b64);
  if (!text) return unauthorized(fmt::format("malformed token: the {} is not base64url", what));
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return unauthorized(fmt::format("malformed token: the {} is not a JSON object", what));
  return std::move(v.get_object());
}

}  // namespace

std::string printable(std::string_view text) {
  constexpr std::size_t kMax = 64;
  std::string out;
  for (const char c : text.substr(0, kMax)) out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  if (text.size() > kMax) out += "...";
  return out;
}

core::Error unauthorized(std::string message) { return core::Error::make(401, "login", std::move(message)); }

core::Result<CompactJws> parse_compact(std::string_view token) {
  if (token.empty()) return unauthorized("malformed token: empty");
  if (token.size() > kMaxTokenBytes) return unauthorized("malformed token: longer than 16 KiB");
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return unauthorized("malformed token: a compact JWS has exactly three dot-separated parts");
  }
  CompactJws jws;
  jws.signing_input = token.substr(0, second);
  jws.payload_b64 = token.substr(first + 1, second - first - 1);
  auto header = decode_json_object(token.substr(0, first), "header");
  if (!header) return header.error();
  jws.header = std::move(*header);
  const auto* alg = jws.header.if_contains("alg");
  if (alg == nullptr || !alg->is_string()) return unauthorized("malformed token: the header has no alg");
  if (jws.header.contains("crit")) return unauthorized("malformed token: unsupported critical header parameters");
  auto signature = base64url_decode(token.substr(second + 1));
  if (!signature) return unauthorized("malformed token: the signature is not base64url");
  jws.signature = std::move(*signature);
  return jws;
}

std::string_view alg_of(const CompactJws& jws) { return jws.header.at("alg").get_string(); }

core::Result<std::string> kid_of(const CompactJws& jws) {
  const auto* kid = jws.header.if_contains("kid");
  if (kid == nullptr) return std::string();
  if (!kid->is_string()) return unauthorized("malformed token: kid is not a string");
  return std::string(kid->get_string());
}

core::Result<json::object> decode_payload(const CompactJws& jws) {
  return decode_json_object(jws.payload_b64, "payload");
}

core::Result<void> check_claims(const json::object& claims, const VerifyOptions& options) {
  if (options.issuer.empty() || options.audience.empty()) {
    return unauthorized("wrong issuer or audience: the verifier has none configured");
  }
  const auto* iss = claims.if_contains("iss");
  if (iss == nullptr || !iss->is_string() || iss->get_string() != options.issuer) {
    return unauthorized(fmt::format("wrong issuer: expected '{}'", options.issuer));
  }
  const auto* aud = claims.if_contains("aud");
  if (aud == nullptr || !audience_contains(*aud, options.audience)) {
    return unauthorized(fmt::format("wrong audience: expected '{}'", options.audience));
  }
  if (!claims.contains("exp")) return unauthorized("missing exp: tokens without an expiry are refused");
  auto exp = optional_date(claims, "exp");
  if (!exp) return exp.error();
  auto nbf = optional_date(claims, "nbf");
  if (!nbf) return nbf.error();
  auto iat = optional_date(claims, "iat");
  if (!iat) return iat.error();
  const std::int64_t now = options.now_seconds;
  const std::int64_t leeway = options.leeway_seconds;
  if (now >= **exp + leeway) return unauthorized(fmt::format("token expired at {} (now {})", **exp, now));
  if (*nbf && **nbf > now + leeway) return unauthorized("token not yet valid: nbf is in the future");
  if (*iat && **iat > now + leeway) return unauthorized("token not yet valid: iat is in the future");
  const std::int64_t start = *iat ? **iat : now;
  if (**exp - start > options.max_lifetime_seconds) {
    return unauthorized(fmt::format("token lifetime too long: {} s, at most {} s accepted", **exp - start,
                                    options.max_lifetime_seconds));
  }
  return core::ok();
}

Pkey generate_p256() {
  Pkey key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!key) throw std::runtime_error("auth: P-256 key generation failed");
  return key;
}

bool is_p256(EVP_PKEY* key) {
  if (key == nullptr || EVP_PKEY_is_a(key, "EC") != 1) return false;
  std::array<char, 64> group{};
  std::size_t size = 0;
  if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(), &size) != 1) {
    return false;
  }
  const std::string_view name(group.data(), size);
  return name == "prime256v1" || name == "P-256";
}

std::optional<std::pair<std::string, std::string>> p256_coordinates(EVP_PKEY* key) {
  BIGNUM* x_raw = nullptr;
  BIGNUM* y_raw = nullptr;
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw);
  EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw);
  const Bn x(x_raw);
  const Bn y(y_raw);
  auto xs = bn_to_fixed(x.get(), kP256Bytes);
  auto ys = bn_to_fixed(y.get(), kP256Bytes);
  if (!xs || !ys) return std::nullopt;
  return std::make_pair(std::move(*xs), std::move(*ys));
}

Pkey p256_public_key(std::string_view x, std::string_view y) {
  if (x.size() != kP256Bytes || y.size() != kP256Bytes) return nullptr;
  std::string point = "\x04";  // SEC 1 §2.3.3 uncompressed point
  point.append(x).append(y);
  std::string group = "prime256v1";
  const std::array<OSSL_PARAM, 3> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end()};
  const PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params.data())) != 1) {
    return nullptr;
  }
  Pkey key(raw);
  // Import decodes the point; the explicit check also refuses the point at infinity and small-order points.
  const PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

Pkey rsa_public_key(std::string_view n, std::string_view e) {
  const Bn bn_n = to_bn(n);
  const Bn bn_e = to_bn(e);
  const ParamBld bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1) {
    return nullptr;
  }
  const Params params(OSSL_PARAM_BLD_to_param(bld.get()));
  const PkeyCtx ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return nullptr;
  }
  Pkey key(raw);
  const PkeyCtx check(EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return key;
}

std::optional<std::string> ecdsa_der_to_jose(std::string_view der) {
  const unsigned char* p = bytes(der);
  const EcdsaSig sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size())));
  if (!sig) return std::nullopt;
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig.get(), &r, &s);
  auto rs = bn_to_fixed(r, kP256Bytes);
  auto ss = bn_to_fixed(s, kP256Bytes);
  if (!rs || !ss) return std::nullopt;
  return *rs + *ss;
}

std::optional<std::string> ecdsa_jose_to_der(std::string_view jose) {
  if (jose.size() != 2 * kP256Bytes) return std::nullopt;
  Bn r = to_bn(jose.substr(0, kP256Bytes));
  Bn s = to_bn(jose.substr(kP256Bytes));
  EcdsaSig sig(ECDSA_SIG_new());
  if (!r || !s || !sig || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) return std::nullopt;
  static_cast<void>(r.release());  // owned by sig now
  static_cast<void>(s.release());
  const int size = i2d_ECDSA_SIG(sig.get(), nullptr);
  if (size <= 0) return std::nullopt;
  std::string der(static_cast<std::size_t>(size), '\0');
  unsigned char* p = bytes(der);
  if (i2d_ECDSA_SIG(sig.get(), &p) != size) return std::nullopt;
  return der;
}

std::string sign_es256(EVP_PKEY* key, std::string_view input) {
  const MdCtx ctx(EVP_MD_CTX_new());
  std::size_t size = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &size, bytes(input), input.size()) != 1) {
    throw std::runtime_error("auth: ES256 signing failed to start");
  }
  std::string der(size, '\0');
  if (EVP_DigestSign(ctx.get(), bytes(der), &size, bytes(input), input.size()) != 1) {
    throw std::runtime_error("auth: ES256 signing failed");
  }
  der.resize(size);
  auto jose = ecdsa_der_to_jose(der);
  if (!jose) throw std::runtime_error("auth: ES256 signature conversion failed");
  return std::move(*jose);
}

bool verify_es256(EVP_PKEY* key, std::string_view input, std::string_view signature) {
  const auto der = ecdsa_jose_to_der(signature);
  if (!der || !is_p256(key)) return false;
  const MdCtx ctx(EVP_MD_CTX_new());
  return ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1 &&
         EVP_DigestVerify(ctx.get(), bytes(*der), der->size(), bytes(input), input.size()) == 1;
}

bool verify_rs256(EVP_PKEY* key, std::string_view input, std::string_view signature) {
  if (key == nullptr || EVP_PKEY_is_a(key, "RSA") != 1 ||
      signature.size() != static_cast<std::size_t>(EVP_PKEY_get_size(key))) {
    return false;
  }
  const MdCtx ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;  // owned by ctx
  return ctx && EVP_DigestVerifyInit(ctx.get(), &pctx, EVP_sha256(), nullptr, key) == 1 &&
         EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) == 1 &&
         EVP_DigestVerify(ctx.get(), bytes(signature), signature.size(), bytes(input), input.size()) == 1;
}

}  // namespace ucr::auth::detail
