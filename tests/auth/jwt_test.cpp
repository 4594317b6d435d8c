// Tests of auth/jwt KeyRing and verify_jwt: the round trip, each refused attack with its message, rotation and
// persistence.
#include "auth/jwt.hpp"

#include "auth/crypto.hpp"
#include "jose_test_util.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace ucr::auth {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::string_view kIssuer = "https://ucr.example/auth";
constexpr std::string_view kAudience = "https://ucr.example/fhir";

json::object claims_at(std::int64_t iat, std::int64_t lifetime = 300) {
  return {{"iss", kIssuer}, {"aud", kAudience}, {"sub", "Practitioner/1"}, {"iat", iat}, {"exp", iat + lifetime}};
}

VerifyOptions options_at(std::int64_t now) {
  VerifyOptions o;
  o.issuer = std::string(kIssuer);
  o.audience = std::string(kAudience);
  o.now_seconds = now;
  return o;
}

/// The message of the refusal, or "accepted" when the token verified.
std::string refusal(std::string_view token, const KeyRing& ring, const VerifyOptions& o) {
  auto r = verify_jwt(token, ring, o);
  if (r) return "accepted";
  EXPECT_EQ(r.error().status, 401);
  EXPECT_EQ(r.error().issues.at(0).code, "login");
  return r.error().message();
}

#define EXPECT_REFUSED(token, ring, options, prefix)                                                        \
  do {                                                                                                      \
    const std::string message_ = refusal((token), (ring), (options));                                       \
    EXPECT_TRUE(message_.starts_with(prefix)) << "expected '" << (prefix) << "', got '" << message_ << "'"; \
  } while (false)

std::vector<std::string> parts_of(const std::string& token) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (auto dot = token.find('.'); dot != std::string::npos; dot = token.find('.', start)) {
    out.push_back(token.substr(start, dot - start));
    start = dot + 1;
  }
  out.push_back(token.substr(start));
  return out;
}

json::object decoded(const std::string& part) { return json::parse(base64url_decode(part).value()).as_object(); }

class Jwt : public ::testing::Test {
 protected:
  std::shared_ptr<KeyRing> ring_ = KeyRing::ephemeral(KeyRingOptions{}, kNow);
};

TEST_F(Jwt, SignedTokenVerifiesAndReturnsItsClaims) {
  const auto token = ring_->sign(claims_at(kNow));
  const auto claims = verify_jwt(token, *ring_, options_at(kNow + 10));
  ASSERT_TRUE(claims) << claims.error().message();
  EXPECT_EQ(claims->at("sub").as_string(), "Practitioner/1");
  EXPECT_EQ(claims->at("iss").as_string(), kIssuer);
}

TEST_F(Jwt, HeaderIsEs256WithTheCurrentKid) {
  const auto parts = parts_of(ring_->sign(claims_at(kNow)));
  ASSERT_EQ(parts.size(), 3U);
  const auto header = decoded(parts[0]);
  EXPECT_EQ(header.at("alg").as_string(), "ES256");
  EXPECT_EQ(header.at("typ").as_string(), "JWT");
  EXPECT_EQ(header.at("kid").as_string(), ring_->current_kid());
  EXPECT_EQ(decoded(parts[1]), claims_at(kNow));
  // JOSE form: r||s, 64 bytes, not a DER sequence (which starts 0x30 and is 70-72 bytes).
  EXPECT_EQ(base64url_decode(parts[2])->size(), 64U);
}

TEST_F(Jwt, SignatureVerifiesWithAnIndependentVerifierFromTheJwks) {
  const auto token = ring_->sign(claims_at(kNow));
  const auto parts = parts_of(token);
  const auto jwk = ring_->jwks().at("keys").as_array().at(0).as_object();
  EXPECT_TRUE(test::independent_es256_verify(jwk, parts[0] + "." + parts[1], *base64url_decode(parts[2])));
  EXPECT_FALSE(test::independent_es256_verify(jwk, parts[0] + "." + parts[1] + "x", *base64url_decode(parts[2])));
}

TEST_F(Jwt, AudienceMayBeAnArrayContainingOurs) {
  auto c = claims_at(kNow);
  c["aud"] = json::array{"https://other.example", kAudience};
  EXPECT_TRUE(verify_jwt(ring_->sign(c), *ring_, options_at(kNow)));
  c["aud"] = json::array{"https://other.example"};
  EXPECT_REFUSED(ring_->sign(c), *ring_, options_at(kNow), "wrong audience");
}

TEST_F(Jwt, RefusesGarbageAndWrongPartCounts) {
  const auto o = options_at(kNow);
  const auto good = ring_->sign(claims_at(kNow));
  EXPECT_REFUSED("", *ring_, o, "malformed token");
  EXPECT_REFUSED("garbage", *ring_, o, "malformed token");
  EXPECT_REFUSED("a.b", *ring_, o, "malformed token");
  EXPECT_REFUSED("a.b.c.d", *ring_, o, "malformed token");
  EXPECT_REFUSED("..", *ring_, o, "malformed token");
  EXPECT_REFUSED(good + ".", *ring_, o, "malformed token");
  EXPECT_REFUSED("!!!." + parts_of(good)[1] + "." + parts_of(good)[2], *ring_, o, "malformed token");
  EXPECT_REFUSED(base64url_encode("[1,2]") + ".e30.", *ring_, o, "malformed token");
  EXPECT_REFUSED(base64url_encode("{\"alg\":") + ".e30.", *ring_, o, "malformed token");
  EXPECT_REFUSED(std::string(20000, 'a') + ".b.c", *ring_, o, "malformed token");
  // A signature that is not base64url, or padded.
  EXPECT_REFUSED(good + "=", *ring_, o, "malformed token");
}

TEST_F(Jwt, RefusesExpiredTokensBeyondTheLeeway) {
  const auto token = ring_->sign(claims_at(kNow, 300));
  EXPECT_TRUE(verify_jwt(token, *ring_, options_at(kNow + 300 + 29)));  // within the 30 s leeway
  EXPECT_REFUSED(token, *ring_, options_at(kNow + 300 + 30), "token expired");
  EXPECT_REFUSED(token, *ring_, options_at(kNow + 3600), "token expired");
}

TEST_F(Jwt, RefusesTokensNotYetValidByNbf) {
  auto c = claims_at(kNow);
  c["nbf"] = kNow + 120;
  const auto token = ring_->sign(c);
  EXPECT_REFUSED(token, *ring_, options_at(kNow), "token not yet valid: nbf");
  EXPECT_TRUE(verify_jwt(token, *ring_, options_at(kNow + 100)));  // 120 - 30 s leeway
}

TEST_F(Jwt, RefusesTokensIssuedInTheFuture) {
  const auto token = ring_->sign(claims_at(kNow + 600));
  EXPECT_REFUSED(token, *ring_, options_at(kNow), "token not yet valid: iat");
}

TEST_F(Jwt, RefusesWrongAudience) {
  auto c = claims_at(kNow);
  c["aud"] = "https://attacker.example/fhir";
  EXPECT_REFUSED(ring_->sign(c), *ring_, options_at(kNow), "wrong audience");
  c.erase("aud");
  EXPECT_REFUSED(ring_->sign(c), *ring_, options_at(kNow), "wrong audience");
}

TEST_F(Jwt, RefusesWrongIssuer) {
  auto c = claims_at(kNow);
  c["iss"] = "https://ucr.example/auth/";  // near miss: exact match only
  EXPECT_REFUSED(ring_->sign(c), *ring_, options_at(kNow), "wrong issuer");
  c.erase("iss");
  EXPECT_REFUSED(ring_->sign(c), *ring_, options_at(kNow), "wrong issuer");
}

TEST_F(Jwt, EmptyExpectedIssuerOrAudienceRefusesEverything) {
  const auto token = ring_->sign(claims_at(kNow));
  auto o = options_at(kNow);
  o.audience.clear();
  EXPECT_FALSE(verify_jwt(token, *ring_, o));
  o = options_at(kNow);
  o.issuer.clear();
  EXPECT_FALSE(verify_jwt(token, *ring_, o));
}

TEST_F(Jwt, RefusesUnsignedAlgNoneTokens) {
  const json::object header{{"alg", "none"}, {"typ", "JWT"}, {"kid", ring_->current_kid()}};
  const auto unsigned_token = test::signing_input(header, claims_at(kNow)) + ".";
  EXPECT_REFUSED(unsigned_token, *ring_, options_at(kNow), "unsupported alg 'none'");
  // Even with a real signature copied from a valid token.
  const auto good = parts_of(ring_->sign(claims_at(kNow)));
  EXPECT_REFUSED(test::signing_input(header, claims_at(kNow)) + "." + good[2], *ring_, options_at(kNow),
                 "unsupported alg 'none'");
  const json::object capital{{"alg", "None"}, {"kid", ring_->current_kid()}};
  EXPECT_REFUSED(test::signing_input(capital, claims_at(kNow)) + ".", *ring_, options_at(kNow), "unsupported alg");
}

TEST_F(Jwt, RefusesHs256SignedWithThePublicKey) {
  // The classic confusion: the attacker HMACs with bytes of the public key, hoping the verifier uses the
  // "key" it holds as an HMAC secret.
  const auto jwk = ring_->jwks().at("keys").as_array().at(0).as_object();
  const json::object header{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", ring_->current_kid()}};
  const auto input = test::signing_input(header, claims_at(kNow));
  for (const std::string& secret :
       {json::serialize(jwk), json::serialize(ring_->jwks()),
        *base64url_decode(jwk.at("x").as_string()) + *base64url_decode(jwk.at("y").as_string())}) {
    const auto forged = input + "." + base64url_encode(test::hmac_sha256(secret, input));
    EXPECT_REFUSED(forged, *ring_, options_at(kNow), "unsupported alg 'HS256'");
  }
}

TEST_F(Jwt, RefusesOtherAlgorithmsAndCriticalHeaders) {
  const auto good = parts_of(ring_->sign(claims_at(kNow)));
  for (const char* alg : {"ES384", "RS256", "PS256", "EdDSA", "es256"}) {
    const json::object header{{"alg", alg}, {"kid", ring_->current_kid()}};
    EXPECT_REFUSED(test::encode_part(header) + "." + good[1] + "." + good[2], *ring_, options_at(kNow),
                   "unsupported alg");
  }
  const json::object no_alg{{"kid", ring_->current_kid()}};
  EXPECT_REFUSED(test::encode_part(no_alg) + "." + good[1] + "." + good[2], *ring_, options_at(kNow),
                 "malformed token");
  const json::object crit{{"alg", "ES256"}, {"kid", ring_->current_kid()}, {"crit", json::array{"exp"}}};
  EXPECT_REFUSED(test::encode_part(crit) + "." + good[1] + "." + good[2], *ring_, options_at(kNow), "malformed token");
}

TEST_F(Jwt, RefusesATamperedPayload) {
  const auto parts = parts_of(ring_->sign(claims_at(kNow)));
  auto c = claims_at(kNow);
  c["sub"] = "Practitioner/2";
  EXPECT_REFUSED(parts[0] + "." + test::encode_part(c) + "." + parts[2], *ring_, options_at(kNow), "bad signature");
  // One flipped bit in the signature.
  auto sig = *base64url_decode(parts[2]);
  sig[10] = static_cast<char>(sig[10] ^ 1);
  EXPECT_REFUSED(parts[0] + "." + parts[1] + "." + base64url_encode(sig), *ring_, options_at(kNow), "bad signature");
  // A DER signature (what OpenSSL produces) is not the JOSE form.
  EXPECT_REFUSED(parts[0] + "." + parts[1] + "." + base64url_encode(std::string(70, '\x30')), *ring_, options_at(kNow),
                 "bad signature");
}

TEST_F(Jwt, RefusesATamperedKid) {
  ASSERT_TRUE(ring_->rotate_now(kNow + 1));  // two keys: a swapped kid names a real key that did not sign
  const auto parts = parts_of(ring_->sign(claims_at(kNow)));
  const auto kids = ring_->kids();
  ASSERT_EQ(kids.size(), 2U);
  const json::object other{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", kids[1]}};
  EXPECT_REFUSED(test::encode_part(other) + "." + parts[1] + "." + parts[2], *ring_, options_at(kNow), "bad signature");
  const json::object invented{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", "../../etc/passwd"}};
  EXPECT_REFUSED(test::encode_part(invented) + "." + parts[1] + "." + parts[2], *ring_, options_at(kNow),
                 "unknown kid");
  const json::object none{{"alg", "ES256"}, {"typ", "JWT"}};
  EXPECT_REFUSED(test::encode_part(none) + "." + parts[1] + "." + parts[2], *ring_, options_at(kNow), "unknown kid");
}

TEST_F(Jwt, RefusesATokenFromAnotherRing) {
  const auto other = KeyRing::ephemeral(KeyRingOptions{}, kNow);
  EXPECT_REFUSED(other->sign(claims_at(kNow)), *ring_, options_at(kNow), "unknown kid");
  // Same kid, different key: the signature decides.
  const auto parts = parts_of(other->sign(claims_at(kNow)));
  const json::object header{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", ring_->current_kid()}};
  EXPECT_REFUSED(test::encode_part(header) + "." + parts[1] + "." + parts[2], *ring_, options_at(kNow),
                 "bad signature");
}

TEST_F(Jwt, RefusesTokensWithoutExp) {
  auto c = claims_at(kNow);
  c.erase("exp");
  EXPECT_REFUSED(ring_->sign(c), *ring_, options_at(kNow), "missing exp");
  c["exp"] = "tomorrow";
  EXPECT_REFUSED(ring_->sign(c), *ring_, options_at(kNow), "malformed token");
}

constexpr std::int64_t kDay = 86'400;

TEST_F(Jwt, RefusesOverlongLifetimes) {
  const auto day = ring_->sign(claims_at(kNow, kDay));
  EXPECT_TRUE(verify_jwt(day, *ring_, options_at(kNow)));
  EXPECT_REFUSED(ring_->sign(claims_at(kNow, kDay + 1)), *ring_, options_at(kNow), "token lifetime too long");
  // Without iat the lifetime counts from now.
  auto c = claims_at(kNow, 30 * kDay);
  c.erase("iat");
  EXPECT_REFUSED(ring_->sign(c), *ring_, options_at(kNow), "token lifetime too long");
  auto o = options_at(kNow);
  o.max_lifetime_seconds = 60;
  EXPECT_REFUSED(ring_->sign(claims_at(kNow, 61)), *ring_, o, "token lifetime too long");
}

TEST_F(Jwt, AcceptsFractionalNumericDates) {
  auto c = claims_at(kNow);
  c["exp"] = static_cast<double>(kNow) + 300.5;
  c["iat"] = static_cast<double>(kNow) + 0.25;
  EXPECT_TRUE(verify_jwt(ring_->sign(c), *ring_, options_at(kNow)));
  c["exp"] = 1e300;
  EXPECT_REFUSED(ring_->sign(c), *ring_, options_at(kNow), "malformed token");
}

TEST(KeyRing, TokenSignedBeforeRotationVerifiesUntilRetentionEnds) {
  const KeyRingOptions opts{.rotate_after_seconds = 1000, .retain_seconds = 500};
  const auto ring = KeyRing::ephemeral(opts, kNow);
  const auto first_kid = ring->current_kid();
  const auto old_token = ring->sign(claims_at(kNow));

  ASSERT_TRUE(ring->rotate_now(kNow + 10));
  EXPECT_NE(ring->current_kid(), first_kid);
  EXPECT_EQ(ring->kids().size(), 2U);
  EXPECT_TRUE(verify_jwt(old_token, *ring, options_at(kNow + 20)));
  const auto new_token = ring->sign(claims_at(kNow + 20));
  EXPECT_EQ(decoded(parts_of(new_token)[0]).at("kid").as_string(), ring->current_kid());

  // 500 s after the new key took over, the old key is gone from verification even before a rotation runs...
  auto late = options_at(kNow + 10 + 500);
  late.leeway_seconds = 1'000'000;  // isolate the key check from expiry
  EXPECT_REFUSED(old_token, *ring, late, "unknown kid");
  EXPECT_EQ(ring->kids().size(), 2U);
  // ...and rotate_if_due drops it (no new key yet: the newest is 500 s old, rotation is at 1000 s).
  ASSERT_TRUE(ring->rotate_if_due(kNow + 10 + 500));
  EXPECT_EQ(ring->kids(), std::vector<std::string>{ring->current_kid()});
  EXPECT_EQ(ring->jwks().at("keys").as_array().size(), 1U);
}

TEST(KeyRing, RotatesOnlyWhenDue) {
  const KeyRingOptions opts{.rotate_after_seconds = 1000, .retain_seconds = 100};
  const auto ring = KeyRing::ephemeral(opts, kNow);
  const auto first = ring->current_kid();
  ASSERT_TRUE(ring->rotate_if_due(kNow + 999));
  EXPECT_EQ(ring->current_kid(), first);
  ASSERT_TRUE(ring->rotate_if_due(kNow + 1000));
  EXPECT_NE(ring->current_kid(), first);
  EXPECT_EQ(ring->kids().size(), 2U);
  ASSERT_TRUE(ring->rotate_if_due(kNow + 1100));
  EXPECT_EQ(ring->kids().size(), 1U);
}

TEST(KeyRing, JwksHasPublicPartsOnly) {
  const auto ring = KeyRing::ephemeral(KeyRingOptions{}, kNow);
  ASSERT_TRUE(ring->rotate_now(kNow + 1));
  const auto jwks = ring->jwks();
  ASSERT_EQ(jwks.size(), 1U);
  const auto& keys = jwks.at("keys").as_array();
  ASSERT_EQ(keys.size(), 2U);
  EXPECT_EQ(keys[0].at("kid").as_string(), ring->current_kid());  // newest first
  for (const auto& k : keys) {
    const auto& o = k.as_object();
    EXPECT_EQ(o.size(), 7U) << json::serialize(o);
    EXPECT_FALSE(o.contains("d"));
    EXPECT_EQ(o.at("kty").as_string(), "EC");
    EXPECT_EQ(o.at("crv").as_string(), "P-256");
    EXPECT_EQ(o.at("use").as_string(), "sig");
    EXPECT_EQ(o.at("alg").as_string(), "ES256");
    EXPECT_EQ(base64url_decode(o.at("x").as_string())->size(), 32U);
    EXPECT_EQ(base64url_decode(o.at("y").as_string())->size(), 32U);
  }
}

TEST(KeyRing, SignAndVerifyRunWhileRotating) {
  const auto ring = KeyRing::ephemeral(KeyRingOptions{.rotate_after_seconds = 1, .retain_seconds = 3600}, kNow);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> workers;
  workers.reserve(3);
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&] {
      while (!stop) {
        const auto token = ring->sign(claims_at(kNow));
        if (!verify_jwt(token, *ring, options_at(kNow))) ++failures;
        static_cast<void>(ring->jwks());
      }
    });
  }
  for (int i = 1; i <= 20; ++i) ASSERT_TRUE(ring->rotate_if_due(kNow + i));
  stop = true;
  for (auto& w : workers) w.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(ring->kids().size(), 21U);
}

class KeyRingDir : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("ucr-auth-test-" + random_token(6));
    dir_ = root_ / "keys";
  }
  void TearDown() override { fs::remove_all(root_); }

  static unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::stat(p.c_str(), &st), 0);
    return st.st_mode & 07777U;
  }
  std::vector<fs::path> pem_files() const {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
  }

  fs::path root_;
  fs::path dir_;
};

TEST_F(KeyRingDir, CreatesAPrivateDirectoryAndKeyFile) {
  const auto ring = KeyRing::open(dir_, KeyRingOptions{}, kNow);
  ASSERT_TRUE(ring) << ring.error().message();
  EXPECT_EQ(mode_of(dir_), 0700U);
  const auto files = pem_files();
  ASSERT_EQ(files.size(), 1U);
  EXPECT_EQ(files[0].filename(), (*ring)->current_kid() + ".pem");
  EXPECT_EQ(mode_of(files[0]), 0600U);
  std::ifstream in(files[0]);
  std::string first_line;
  std::getline(in, first_line);
  EXPECT_EQ(first_line, "-----BEGIN PRIVATE KEY-----");
}

TEST_F(KeyRingDir, KeysSurviveReopenAndOldTokensStillVerify) {
  const KeyRingOptions opts{.rotate_after_seconds = 1000, .retain_seconds = 500};
  std::string token;
  std::string kid;
  {
    const auto ring = KeyRing::open(dir_, opts, kNow).value();
    token = ring->sign(claims_at(kNow));
    kid = ring->current_kid();
  }
  {
    const auto ring = KeyRing::open(dir_, opts, kNow + 100).value();
    EXPECT_EQ(ring->current_kid(), kid);  // no new key: not yet due
    EXPECT_TRUE(verify_jwt(token, *ring, options_at(kNow + 100)));
  }
  {
    // Reopened after rotate_after: a new signing key, the old one still verifies, both on disk with 0600.
    const auto ring = KeyRing::open(dir_, opts, kNow + 1000).value();
    EXPECT_NE(ring->current_kid(), kid);
    auto o = options_at(kNow + 1000);
    o.leeway_seconds = 1'000'000;
    EXPECT_TRUE(verify_jwt(token, *ring, o));
    const auto files = pem_files();
    ASSERT_EQ(files.size(), 2U);
    for (const auto& f : files) EXPECT_EQ(mode_of(f), 0600U) << f;
  }
  {
    // After retention the old key is deleted from disk too.
    const auto ring = KeyRing::open(dir_, opts, kNow + 1500).value();
    EXPECT_EQ(ring->kids().size(), 1U);
    EXPECT_EQ(pem_files().size(), 1U);
    auto o = options_at(kNow + 1500);
    o.leeway_seconds = 1'000'000;
    EXPECT_REFUSED(token, *ring, o, "unknown kid");
  }
}

TEST_F(KeyRingDir, RefusesAKeyFileReadableByOthers) {
  const auto ring = KeyRing::open(dir_, KeyRingOptions{}, kNow).value();
  const auto file = pem_files().at(0);
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  const auto reopened = KeyRing::open(dir_, KeyRingOptions{}, kNow);
  ASSERT_FALSE(reopened);
  EXPECT_NE(reopened.error().message().find("readable by group or others"), std::string::npos)
      << reopened.error().message();
}

TEST_F(KeyRingDir, RefusesAFileThatIsNotAP256Key) {
  fs::create_directories(dir_);
  const auto path = dir_ / "1700000000-abc.pem";
  {
    std::ofstream out(path);
    out << "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
  const auto ring = KeyRing::open(dir_, KeyRingOptions{}, kNow);
  ASSERT_FALSE(ring);
  EXPECT_NE(ring.error().message().find("not an unencrypted P-256 private key"), std::string::npos)
      << ring.error().message();
}

TEST_F(KeyRingDir, RefusesNonsenseOptions) {
  EXPECT_FALSE(KeyRing::open(dir_, KeyRingOptions{.rotate_after_seconds = 0, .retain_seconds = 10}, kNow));
  EXPECT_FALSE(KeyRing::open(dir_, KeyRingOptions{.rotate_after_seconds = 10, .retain_seconds = -1}, kNow));
}

}  // namespace
}  // namespace ucr::auth
