// Tests of auth/jwt TrustedIssuers: ES256 and RS256 keys from a JWKS, tokens signed outside the module, and the
// algorithm attacks.
#include "auth/crypto.hpp"
#include "auth/jwt.hpp"
#include "jose_test_util.hpp"

#include <gtest/gtest.h>

namespace ucr::auth {
namespace {

namespace json = boost::json;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::string_view kCis2 = "https://am.nhsidentity.spineservices.nhs.uk/openam/oauth2/realms/root/realms/oidc";
constexpr std::string_view kNhsLogin = "https://auth.login.nhs.uk";
constexpr std::string_view kAudience = "ucr-client-id";

json::object claims_for(std::string_view iss, std::int64_t iat = kNow) {
  return {{"iss", iss}, {"aud", kAudience}, {"sub", "555555555555"}, {"iat", iat}, {"exp", iat + 600}};
}

std::string jwks_of(std::initializer_list<json::object> keys) {
  json::array a;
  for (const auto& k : keys) a.push_back(k);
  return json::serialize(json::object{{"keys", a}});
}

/// Keys made once: RSA generation is slow.
struct Keys {
  test::TestKey ec = test::TestKey::ec();
  test::TestKey rsa = test::TestKey::rsa();
  test::TestKey stranger = test::TestKey::ec();
};
const Keys& keys() {
  static const Keys kKeys;
  return kKeys;
}

class TrustedIssuersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(issuers_.add(std::string(kCis2), jwks_of({keys().ec.public_jwk("cis2-ec")}), std::string(kAudience)));
    auto rsa_jwk = keys().rsa.public_jwk("login-rsa");
    rsa_jwk["use"] = "sig";
    rsa_jwk["alg"] = "RS256";
    ASSERT_TRUE(issuers_.add(std::string(kNhsLogin), jwks_of({rsa_jwk}), std::string(kAudience)));
  }

  std::string refusal(std::string_view token, std::int64_t now = kNow) const {
    auto r = issuers_.verify(token, now);
    if (r) return "accepted";
    EXPECT_EQ(r.error().status, 401);
    return r.error().message();
  }

  TrustedIssuers issuers_;
};

#define EXPECT_REFUSED(token, prefix)                                                                       \
  do {                                                                                                      \
    const std::string message_ = refusal(token);                                                            \
    EXPECT_TRUE(message_.starts_with(prefix)) << "expected '" << (prefix) << "', got '" << message_ << "'"; \
  } while (false)

TEST_F(TrustedIssuersTest, KnowsTheIssuersAdded) {
  EXPECT_TRUE(issuers_.knows(kCis2));
  EXPECT_TRUE(issuers_.knows(kNhsLogin));
  EXPECT_FALSE(issuers_.knows("https://auth.login.nhs.uk/"));
}

TEST_F(TrustedIssuersTest, AcceptsAnEs256TokenFromItsIssuer) {
  const auto token = test::make_token(keys().ec, {{"alg", "ES256"}, {"kid", "cis2-ec"}}, claims_for(kCis2));
  const auto claims = issuers_.verify(token, kNow + 60);
  ASSERT_TRUE(claims) << claims.error().message();
  EXPECT_EQ(claims->at("sub").as_string(), "555555555555");
}

TEST_F(TrustedIssuersTest, AcceptsAnRs256TokenFromItsIssuer) {
  const auto token = test::make_token(keys().rsa, {{"alg", "RS256"}, {"kid", "login-rsa"}}, claims_for(kNhsLogin));
  const auto claims = issuers_.verify(token, kNow + 60);
  ASSERT_TRUE(claims) << claims.error().message();
  EXPECT_EQ(claims->at("iss").as_string(), kNhsLogin);
}

TEST_F(TrustedIssuersTest, TokenWithoutKidUsesTheIssuersOnlyKeyOfThatAlg) {
  const auto token = test::make_token(keys().rsa, {{"alg", "RS256"}}, claims_for(kNhsLogin));
  EXPECT_EQ(refusal(token), "accepted");
}

TEST_F(TrustedIssuersTest, RefusesUnknownIssuer) {
  const auto token =
      test::make_token(keys().ec, {{"alg", "ES256"}, {"kid", "cis2-ec"}}, claims_for("https://evil.example"));
  EXPECT_REFUSED(token, "unknown issuer");
  auto no_iss = claims_for(kCis2);
  no_iss.erase("iss");
  EXPECT_REFUSED(test::make_token(keys().ec, {{"alg", "ES256"}, {"kid", "cis2-ec"}}, no_iss), "unknown issuer");
}

TEST_F(TrustedIssuersTest, RefusesATokenOneIssuerSignedClaimingToBeAnother) {
  // NHS login's key signs a token that says it is from CIS2: CIS2 has no such key.
  const auto token = test::make_token(keys().rsa, {{"alg", "RS256"}, {"kid", "login-rsa"}}, claims_for(kCis2));
  EXPECT_REFUSED(token, "unknown kid");
  const auto no_kid = test::make_token(keys().rsa, {{"alg", "RS256"}}, claims_for(kCis2));
  EXPECT_REFUSED(no_kid, "alg does not match key");
}

TEST_F(TrustedIssuersTest, RefusesRs256HeaderOnAnEcKey) {
  const auto token = test::make_token(keys().rsa, {{"alg", "RS256"}, {"kid", "cis2-ec"}}, claims_for(kCis2));
  EXPECT_REFUSED(token, "alg does not match key");
  const auto es_on_rsa = test::make_token(keys().ec, {{"alg", "ES256"}, {"kid", "login-rsa"}}, claims_for(kNhsLogin));
  EXPECT_REFUSED(es_on_rsa, "alg does not match key");
}

TEST_F(TrustedIssuersTest, RefusesHs256SignedWithThePublicKey) {
  for (const auto& [kid, iss, pem] : {std::tuple{"login-rsa", kNhsLogin, keys().rsa.public_pem()},
                                      std::tuple{"cis2-ec", kCis2, keys().ec.public_pem()}}) {
    const json::object header{{"alg", "HS256"}, {"kid", kid}};
    const auto input = test::signing_input(header, claims_for(iss));
    EXPECT_REFUSED(input + "." + base64url_encode(test::hmac_sha256(pem, input)), "unsupported alg 'HS256'");
  }
}

TEST_F(TrustedIssuersTest, RefusesAlgNone) {
  const json::object header{{"alg", "none"}};
  EXPECT_REFUSED(test::signing_input(header, claims_for(kNhsLogin)) + ".", "unsupported alg 'none'");
}

TEST_F(TrustedIssuersTest, RefusesBadSignaturesAndStrangers) {
  const auto token = test::make_token(keys().stranger, {{"alg", "ES256"}, {"kid", "cis2-ec"}}, claims_for(kCis2));
  EXPECT_REFUSED(token, "bad signature");
  auto good = test::make_token(keys().rsa, {{"alg", "RS256"}, {"kid", "login-rsa"}}, claims_for(kNhsLogin));
  auto tampered = claims_for(kNhsLogin);
  tampered["sub"] = "999999999999";
  const auto dot = good.rfind('.');
  const auto forged = test::encode_part({{"alg", "RS256"}, {"kid", "login-rsa"}}) + "." + test::encode_part(tampered) +
                      good.substr(dot);
  EXPECT_REFUSED(forged, "bad signature");
}

TEST_F(TrustedIssuersTest, AppliesTheSameClaimChecksAsVerifyJwt) {
  const json::object header{{"alg", "ES256"}, {"kid", "cis2-ec"}};
  auto c = claims_for(kCis2);
  c["aud"] = "someone-else";
  EXPECT_REFUSED(test::make_token(keys().ec, header, c), "wrong audience");
  EXPECT_REFUSED(test::make_token(keys().ec, header, claims_for(kCis2, kNow - 7200)), "token expired");
  EXPECT_REFUSED(test::make_token(keys().ec, header, claims_for(kCis2, kNow + 7200)), "token not yet valid");
  c = claims_for(kCis2);
  c.erase("exp");
  EXPECT_REFUSED(test::make_token(keys().ec, header, c), "missing exp");
}

TEST_F(TrustedIssuersTest, AddReplacesTheKeysOfAKnownIssuer) {
  ASSERT_TRUE(issuers_.add(std::string(kCis2), jwks_of({keys().stranger.public_jwk("new")}), std::string(kAudience)));
  EXPECT_REFUSED(test::make_token(keys().ec, {{"alg", "ES256"}, {"kid", "cis2-ec"}}, claims_for(kCis2)), "unknown kid");
  EXPECT_EQ(refusal(test::make_token(keys().stranger, {{"alg", "ES256"}, {"kid", "new"}}, claims_for(kCis2))),
            "accepted");
}

TEST(TrustedIssuers, AddRefusesWhatIsNotAUsableJwks) {
  TrustedIssuers t;
  const std::string aud(kAudience);
  EXPECT_FALSE(t.add("https://a", "not json", aud));
  EXPECT_FALSE(t.add("https://a", "{}", aud));
  EXPECT_FALSE(t.add("https://a", R"({"keys":[]})", aud));
  EXPECT_FALSE(t.add("https://a", R"({"keys":[{"kty":"oct","k":"c2VjcmV0"}]})", aud));  // HMAC secret
  EXPECT_FALSE(t.add("https://a", R"({"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]})", aud));
  // An EC point off the curve.
  EXPECT_FALSE(t.add("https://a",
                     jwks_of({{{"kty", "EC"},
                               {"crv", "P-256"},
                               {"x", base64url_encode(std::string(32, '\1'))},
                               {"y", base64url_encode(std::string(32, '\2'))}}}),
                     aud));
  // Private key material published by mistake.
  auto with_d = keys().ec.public_jwk("k");
  with_d["d"] = base64url_encode(std::string(32, '\7'));
  const auto leaked = t.add("https://a", jwks_of({with_d}), aud);
  ASSERT_FALSE(leaked);
  EXPECT_NE(leaked.error().message().find("private"), std::string::npos);
  EXPECT_FALSE(t.add("", jwks_of({keys().ec.public_jwk("k")}), aud));
  EXPECT_FALSE(t.add("https://a", jwks_of({keys().ec.public_jwk("k")}), ""));
  EXPECT_FALSE(t.knows("https://a"));
}

TEST(TrustedIssuers, SkipsEncryptionKeysButKeepsSigningKeys) {
  TrustedIssuers t;
  auto enc = keys().rsa.public_jwk("enc");
  enc["use"] = "enc";
  EXPECT_FALSE(t.add("https://a", jwks_of({enc}), std::string(kAudience)));
  EXPECT_TRUE(t.add("https://a", jwks_of({enc, keys().ec.public_jwk("sig")}), std::string(kAudience)));
  const auto token = test::make_token(keys().rsa, {{"alg", "RS256"}, {"kid", "enc"}}, claims_for("https://a"));
  auto r = t.verify(token, kNow);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().message().starts_with("unknown kid")) << r.error().message();
}

// Made with Python `cryptography` 48 (an independent JOSE implementation): a JWKS with an EC P-256 and an RSA
// 2048 key, and one token signed by each, iat 1700000000, exp 1700000600.
constexpr std::string_view kForeignJwks =
    R"({"keys":[{"kty":"EC","crv":"P-256","x":"2KhfsQpzFUMIYKrm2vit7nFq_XaKHl-kkhXg-xSeGCM","y":"S2xBHRRGPA86FYww8qVR7tAw46ur616WsAmhqqK7xv0","kid":"py-ec","use":"sig","alg":"ES256"},)"
    R"({"kty":"RSA","n":"q97D6Uv4VConuZC1SSAlpEZ9cSMXm_AaDGpGfeATZfU8EdmJCZU2bWHd2NUAC_SsErHj9Fy_e3scbwNHoAHYILM33gb8iBGf_tA9peqEW1jiJIxqc4uCmV9gqxzqQtz_ctN2Sui43ViojOZbYeZVESfJstkzuq6g_zPJTL6aVbCvrt5XjBJby5KwnT6lTFqVa_ySG7KyYN24HNx-1mMx1lQIr3Ez5pDZs6Aiapoux1hDFjaJaV--ad99gN9-0KDno_CuZ9rAkgJGJA8XRavCsWxvi2kYSavzM13mk_OROKHQlcrjnCTGL06iIu33iW8wezMiAkOasglpt3CZrWahEw","e":"AQAB","kid":"py-rsa","use":"sig","alg":"RS256"}]})";
constexpr std::string_view kForeignEs256 =
    "eyJhbGciOiJFUzI1NiIsImtpZCI6InB5LWVjIiwidHlwIjoiSldUIn0."
    "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwiYXVkIjoidWNyIiwic3ViIjoidXNlci0xIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMD"
    "A2MDB9."
    "bm-jyNSf9NTtUSj5cIjpRAj4bRte4wHi7U8P89HqiOokc1YTi8QzeE7z-XYnmzVWRXrLXoFxaqUOKWbHuCgMBg";
constexpr std::string_view kForeignRs256 =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6InB5LXJzYSIsInR5cCI6IkpXVCJ9."
    "eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwiYXVkIjoidWNyIiwic3ViIjoidXNlci0xIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMD"
    "A2MDB9."
    "FeffM_"
    "u9qEuOIZy0A7umine2fsc1MZBZlF3K8OLOhaQ6QwznBiunOMLuu4Tnc1yjCFfi1Orzp4MV8TVQD92UALTSJ1yhEU0TN44kkEg2DIDA1sbalSvQL"
    "B8PPjb7zLuC-zhFOyLA5Ja0nJVsHHlEv7LYk7P5_LgMXblvX406sv8-m3Sd0iOi7sSwYpZSNCgvzro2O06j_Q9QE5NwwRpAdpppIz5BJZwH0EYNzE-"
    "E-LF"
    "uasUq_52gQ0-peOGQar2n_WH7LqSvwc5ut6NwRBvAn8d8EIKmHpMXkAsVtXwM-1u2jkTJRO93qO9y3EfnzqZQpkk-sfOsOIl8JcBSiotmRA";

TEST(TrustedIssuers, VerifiesTokensSignedByAnotherImplementation) {
  TrustedIssuers t;
  ASSERT_TRUE(t.add("https://idp.example", kForeignJwks, "ucr"));
  for (const auto token : {kForeignEs256, kForeignRs256}) {
    const auto claims = t.verify(token, 1'700'000'100);
    ASSERT_TRUE(claims) << claims.error().message();
    EXPECT_EQ(claims->at("sub").as_string(), "user-1");
    // Any changed byte of the signature breaks it.
    std::string broken(token);
    broken[broken.size() - 5] = broken[broken.size() - 5] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(t.verify(broken, 1'700'000'100));
  }
}

}  // namespace
}  // namespace ucr::auth
