// Tests of the KeyRing kept in the database (KeyRing::open_shared): several nodes (rings) on one store sign
// and verify each other's tokens, rotate safely at the same moment, and keep private keys only encrypted.
// The store is an embedded one in a temporary directory; the same table exists on PostgreSQL (store tests).
#include "auth/crypto.hpp"
#include "auth/jwt.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace ucr::auth {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr std::int64_t kNow = 1'700'000'000;
constexpr std::string_view kIssuer = "https://ucr.example";
constexpr std::string_view kAudience = "https://ucr.example/fhir";

json::object claims_at(std::int64_t iat) {
  return {{"iss", kIssuer}, {"aud", kAudience}, {"sub", "gp"}, {"iat", iat}, {"exp", iat + 300}};
}

VerifyOptions options_at(std::int64_t now) {
  VerifyOptions o;
  o.issuer = std::string(kIssuer);
  o.audience = std::string(kAudience);
  o.now_seconds = now;
  return o;
}

/// 32 bytes from a seed (different seeds, different keys).
std::string kek(char seed) { return std::string(32, seed); }

class SharedKeyRing : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "ucr-keyring-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    auto s = store::open_sqlite_store(store::SqliteOptions{dir_});
    ASSERT_TRUE(s) << s.error().message();
    store_ = std::move(*s);
  }
  void TearDown() override {
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  /// A node: a ring on the shared store.
  std::shared_ptr<KeyRing> node(std::int64_t now = kNow, char seed = 'k') {
    auto r = KeyRing::open_shared(*store_, kek(seed), options_, now);
    EXPECT_TRUE(r) << r.error().message();
    return r ? *r : nullptr;
  }

  fs::path dir_;
  std::unique_ptr<store::Store> store_;
  KeyRingOptions options_;
};

TEST_F(SharedKeyRing, ATokenSignedByOneNodeVerifiesOnAnother) {
  auto a = node();
  auto b = node();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->current_kid(), b->current_kid()) << "the second node adopts the first node's key";
  const std::string token = a->sign(claims_at(kNow));
  auto claims = verify_jwt(token, *b, options_at(kNow));
  ASSERT_TRUE(claims) << claims.error().message();
  EXPECT_EQ(claims->at("sub").as_string(), "gp");
  auto keys = store_->signing_keys();
  ASSERT_TRUE(keys);
  EXPECT_EQ(keys->size(), 1u);
}

TEST_F(SharedKeyRing, PrivateKeysAreStoredOnlyEncrypted) {
  auto a = node();
  ASSERT_TRUE(a);
  auto keys = store_->signing_keys();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 1u);
  const auto& sealed = keys->front().sealed;
  EXPECT_TRUE(sealed.starts_with("v1.")) << sealed;
  EXPECT_EQ(sealed.find("PRIVATE KEY"), std::string::npos);
  auto bytes = base64url_decode(std::string_view(sealed).substr(3));
  ASSERT_TRUE(bytes);
  EXPECT_EQ(bytes->find("PRIVATE KEY"), std::string::npos);
  EXPECT_TRUE(aes256gcm_open(kek('k'), *bytes, keys->front().kid)) << "sealed under the key-encryption key";
  EXPECT_FALSE(aes256gcm_open(kek('x'), *bytes, keys->front().kid));
  EXPECT_FALSE(aes256gcm_open(kek('k'), *bytes, "another-kid")) << "the kid is authenticated";
}

TEST_F(SharedKeyRing, AWrongKeyEncryptionKeyIsRefused) {
  ASSERT_TRUE(node());
  auto other = KeyRing::open_shared(*store_, kek('x'), options_, kNow);
  ASSERT_FALSE(other);
  EXPECT_NE(other.error().message().find("key-encryption key"), std::string::npos) << other.error().message();
}

TEST_F(SharedKeyRing, NoKeyEncryptionKeyIsRefusedWithAClearMessage) {
  auto first = KeyRing::open_shared(*store_, "", options_, kNow);
  ASSERT_FALSE(first);
  EXPECT_NE(first.error().message().find("UCR_KEY_ENCRYPTION_KEY"), std::string::npos) << first.error().message();
  ASSERT_TRUE(node());
  auto later = KeyRing::open_shared(*store_, "", options_, kNow);
  ASSERT_FALSE(later);
  EXPECT_NE(later.error().message().find("holds encrypted signing keys"), std::string::npos) << later.error().message();
}

TEST_F(SharedKeyRing, TwoNodesRotatingAtOnceMakeOneNewKeyAndBothAdoptIt) {
  auto a = node();
  auto b = node();
  ASSERT_TRUE(a && b);
  const std::string before = a->current_kid();
  const std::int64_t due = kNow + options_.rotate_after_seconds;
  for (int round = 0; round < 5; ++round) {
    const std::int64_t when = due + (round * options_.rotate_after_seconds);
    core::Result<void> ra = core::ok();
    core::Result<void> rb = core::ok();
    std::thread ta([&] { ra = a->rotate_if_due(when); });
    std::thread tb([&] { rb = b->rotate_if_due(when); });
    ta.join();
    tb.join();
    ASSERT_TRUE(ra) << ra.error().message();
    ASSERT_TRUE(rb) << rb.error().message();
    EXPECT_EQ(a->current_kid(), b->current_kid()) << "round " << round;
    auto keys = store_->signing_keys();
    ASSERT_TRUE(keys);
    // One key per generation: the new one, and the one before it (still verifying, retained).
    ASSERT_EQ(keys->size(), 2u) << "round " << round;
    EXPECT_EQ(keys->back().kid, a->current_kid());
    EXPECT_EQ(keys->back().generation, keys->front().generation + 1);
  }
  EXPECT_NE(a->current_kid(), before);
}

TEST_F(SharedKeyRing, AKeyMadeOnOneNodeIsTakenUpByTheOtherWhenItReadsTheRingAgain) {
  auto a = node();
  auto b = node();
  ASSERT_TRUE(a && b);
  ASSERT_TRUE(a->rotate_now(kNow + 10));
  const std::string token = a->sign(claims_at(kNow + 10));
  auto refused = verify_jwt(token, *b, options_at(kNow + 10));
  ASSERT_FALSE(refused) << "b has not read the ring since a rotated";
  EXPECT_TRUE(refused.error().message().starts_with("unknown kid"));
  // A token naming an unknown kid makes b read the ring again (at most once a second).
  EXPECT_TRUE(b->reload_for_unknown_kid(kNow + 10));
  EXPECT_FALSE(b->reload_for_unknown_kid(kNow + 10)) << "not twice in the same second";
  EXPECT_TRUE(verify_jwt(token, *b, options_at(kNow + 10)));
  EXPECT_EQ(b->current_kid(), a->current_kid());

  // And without such a token, maintain() reads it every sync_seconds.
  ASSERT_TRUE(a->rotate_now(kNow + 20));
  ASSERT_TRUE(b->maintain(kNow + 20 + options_.sync_seconds));
  EXPECT_EQ(b->current_kid(), a->current_kid());
}

TEST_F(SharedKeyRing, RetiredKeysLeaveTheDatabase) {
  auto a = node();
  ASSERT_TRUE(a);
  const std::int64_t later = kNow + options_.rotate_after_seconds;
  ASSERT_TRUE(a->rotate_if_due(later));
  ASSERT_EQ(store_->signing_keys()->size(), 2u);
  ASSERT_TRUE(a->rotate_if_due(later + options_.retain_seconds));
  auto keys = store_->signing_keys();
  ASSERT_TRUE(keys);
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ(keys->front().kid, a->current_kid());
  EXPECT_EQ(a->kids().size(), 1u);
}

TEST_F(SharedKeyRing, TheKeysSurviveARestartOfEveryNode) {
  std::string kid;
  {
    auto a = node();
    ASSERT_TRUE(a);
    kid = a->current_kid();
  }
  auto again = node(kNow + 60);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->current_kid(), kid);
}

TEST(KeyEncryption, SealedTextOpensOnlyWithTheSameKeyAndAssociatedData) {
  const std::string key = kek('a');
  const std::string sealed = aes256gcm_seal(key, "secret text", "kid-1");
  EXPECT_EQ(sealed.size(), 12u + 11u + 16u);
  EXPECT_EQ(sealed.find("secret"), std::string::npos);
  EXPECT_EQ(aes256gcm_open(key, sealed, "kid-1").value_or(""), "secret text");
  EXPECT_NE(aes256gcm_seal(key, "secret text", "kid-1"), sealed) << "a fresh nonce each time";
  std::string tampered = sealed;
  tampered[14] = static_cast<char>(tampered[14] ^ 1);
  EXPECT_FALSE(aes256gcm_open(key, tampered, "kid-1"));
  EXPECT_FALSE(aes256gcm_open(key, sealed.substr(0, 20), "kid-1"));
  EXPECT_FALSE(aes256gcm_open(kek('b'), sealed, "kid-1"));
  EXPECT_FALSE(aes256gcm_open("short", sealed, "kid-1"));
  EXPECT_THROW((void)aes256gcm_seal("short", "x", ""), std::invalid_argument);
}

TEST(KeyEncryption, KeysAreReadFromHexOrBase64urlText) {
  const std::string hex(64, 'a');
  EXPECT_EQ(parse_key_text(hex + "\n").value_or(""), std::string(32, '\xaa'));
  EXPECT_EQ(parse_key_text(base64url_encode(std::string(32, 'z'))).value_or(""), std::string(32, 'z'));
  EXPECT_FALSE(parse_key_text(std::string(62, 'a')));
  EXPECT_FALSE(parse_key_text(std::string(63, 'a') + "g"));
  EXPECT_FALSE(parse_key_text(base64url_encode(std::string(16, 'z'))));
  EXPECT_FALSE(parse_key_text(""));
}

}  // namespace
}  // namespace ucr::auth
