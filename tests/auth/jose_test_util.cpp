#include "jose_test_util.hpp"

#include "auth/crypto.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <array>
#include <stdexcept>

namespace ucr::auth::test {
namespace {

namespace json = boost::json;

const unsigned char* u(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("test OpenSSL call failed: ") + what);
}

std::string bn_bytes(const BIGNUM* bn, int width) {
  std::string out(static_cast<std::size_t>(width > 0 ? width : BN_num_bytes(bn)), '\0');
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  check(BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size())) > 0, "bn2bin");
  return out;
}

std::string bn_param(EVP_PKEY* key, const char* name, int width) {
  BIGNUM* bn = nullptr;
  check(EVP_PKEY_get_bn_param(key, name, &bn) == 1, name);
  std::string out = bn_bytes(bn, width);
  BN_free(bn);
  return out;
}

}  // namespace

struct TestKey::Impl {
  EVP_PKEY* key = nullptr;
  bool is_ec = true;
  Impl() = default;
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl() { EVP_PKEY_free(key); }
};

TestKey TestKey::ec() {
  TestKey k;
  k.impl_ = std::make_shared<Impl>();
  k.impl_->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  check(k.impl_->key != nullptr, "EC keygen");
  return k;
}

TestKey TestKey::rsa() {
  TestKey k;
  k.impl_ = std::make_shared<Impl>();
  k.impl_->is_ec = false;
  k.impl_->key = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<std::size_t>(2048));
  check(k.impl_->key != nullptr, "RSA keygen");
  return k;
}

json::object TestKey::public_jwk(std::string_view kid) const {
  if (impl_->is_ec) {
    return {{"kty", "EC"},
            {"crv", "P-256"},
            {"x", base64url_encode(bn_param(impl_->key, OSSL_PKEY_PARAM_EC_PUB_X, 32))},
            {"y", base64url_encode(bn_param(impl_->key, OSSL_PKEY_PARAM_EC_PUB_Y, 32))},
            {"kid", kid}};
  }
  return {{"kty", "RSA"},
          {"n", base64url_encode(bn_param(impl_->key, OSSL_PKEY_PARAM_RSA_N, 0))},
          {"e", base64url_encode(bn_param(impl_->key, OSSL_PKEY_PARAM_RSA_E, 0))},
          {"kid", kid}};
}

std::string TestKey::public_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  check(bio != nullptr && PEM_write_bio_PUBKEY(bio, impl_->key) == 1, "PEM_write_bio_PUBKEY");
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return out;
}

std::string TestKey::sign(std::string_view input) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t size = 0;
  check(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, impl_->key) == 1, "DigestSignInit");
  check(EVP_DigestSign(ctx, nullptr, &size, u(input), input.size()) == 1, "DigestSign size");
  std::string sig(size, '\0');
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  check(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &size, u(input), input.size()) == 1,
        "DigestSign");
  EVP_MD_CTX_free(ctx);
  sig.resize(size);
  if (!impl_->is_ec) return sig;
  // DER ECDSA-Sig-Value -> r||s
  const unsigned char* p = u(sig);
  ECDSA_SIG* der = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
  check(der != nullptr, "d2i_ECDSA_SIG");
  std::string out = bn_bytes(ECDSA_SIG_get0_r(der), 32) + bn_bytes(ECDSA_SIG_get0_s(der), 32);
  ECDSA_SIG_free(der);
  return out;
}

std::string encode_part(const json::object& o) { return base64url_encode(json::serialize(o)); }

std::string signing_input(const json::object& header, const json::object& claims) {
  return encode_part(header) + "." + encode_part(claims);
}

std::string make_token(const TestKey& key, const json::object& header, const json::object& claims) {
  const std::string input = signing_input(header, claims);
  return input + "." + base64url_encode(key.sign(input));
}

std::string hmac_sha256(std::string_view secret, std::string_view input) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int size = 0;
  check(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()), u(input), input.size(), mac.data(), &size) !=
            nullptr,
        "HMAC");
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast)
  return {reinterpret_cast<const char*>(mac.data()), size};
}

bool independent_es256_verify(const json::object& jwk, std::string_view input, std::string_view signature) {
  const auto x = base64url_decode(jwk.at("x").as_string());
  const auto y = base64url_decode(jwk.at("y").as_string());
  if (!x || !y || signature.size() != 64) return false;
  std::string point = "\x04" + *x + *y;
  std::string group = "prime256v1";
  std::array<OSSL_PARAM, 3> params = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group.data(), 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end()};
  EVP_PKEY_CTX* pctx = EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr);
  EVP_PKEY* key = nullptr;
  check(pctx != nullptr && EVP_PKEY_fromdata_init(pctx) == 1 &&
            EVP_PKEY_fromdata(pctx, &key, EVP_PKEY_PUBLIC_KEY, params.data()) == 1,
        "fromdata");
  EVP_PKEY_CTX_free(pctx);
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(u(signature), 32, nullptr), BN_bin2bn(u(signature.substr(32)), 32, nullptr));
  unsigned char* der = nullptr;
  const int der_size = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok = EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key) == 1 &&
                  EVP_DigestVerify(ctx, der, static_cast<std::size_t>(der_size), u(input), input.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  EVP_PKEY_free(key);
  return ok;
}

}  // namespace ucr::auth::test
