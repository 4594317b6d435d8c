// Tests of auth/password: Argon2id hashes, verification, rehash detection, length limits, and the dummy work
// that keeps unknown user names as slow as wrong passwords.
#include "auth/password.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace ucr::auth {
namespace {

constexpr std::string_view kPassword = "correct horse battery";

TEST(Password, HashIsArgon2idWithInteractiveLimitsAndVerifies) {
  const auto hash = hash_password(kPassword);
  ASSERT_TRUE(hash) << hash.error().message();
  EXPECT_TRUE(hash->starts_with("$argon2id$v=19$m=65536,t=2,p=1$")) << *hash;
  EXPECT_TRUE(verify_password(*hash, kPassword));
  EXPECT_FALSE(password_needs_rehash(*hash));
}

TEST(Password, WrongPasswordDoesNotVerify) {
  const auto hash = hash_password(kPassword).value();
  EXPECT_FALSE(verify_password(hash, "correct horse batterY"));
  EXPECT_FALSE(verify_password(hash, "correct horse battery "));
  EXPECT_FALSE(verify_password(hash, ""));
}

TEST(Password, SamePasswordHashesDifferentlyEachTime) {
  const auto a = hash_password(kPassword).value();
  const auto b = hash_password(kPassword).value();
  EXPECT_NE(a, b);  // random salt
  EXPECT_TRUE(verify_password(a, kPassword));
  EXPECT_TRUE(verify_password(b, kPassword));
}

TEST(Password, RefusesTooShortAndTooLongWithAClearError) {
  const auto short_one = hash_password("1234567");
  ASSERT_FALSE(short_one);
  EXPECT_EQ(short_one.error().status, 400);
  EXPECT_NE(short_one.error().message().find("too short"), std::string::npos) << short_one.error().message();
  EXPECT_NE(short_one.error().message().find('8'), std::string::npos);
  EXPECT_TRUE(hash_password("12345678"));

  const std::string longest(kMaxPasswordBytes, 'x');
  const auto ok = hash_password(longest);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(verify_password(*ok, longest));
  const auto long_one = hash_password(longest + "x");
  ASSERT_FALSE(long_one);
  EXPECT_NE(long_one.error().message().find("too long"), std::string::npos) << long_one.error().message();
  // A password that could never have been stored does not verify.
  EXPECT_FALSE(verify_password(*ok, longest + "x"));
}

TEST(Password, BytesAfterANulCount) {
  const std::string with_nul("abcdefgh\0ijk", 12);
  const auto hash = hash_password(with_nul).value();
  EXPECT_TRUE(verify_password(hash, with_nul));
  EXPECT_FALSE(verify_password(hash, "abcdefgh"));
}

TEST(Password, MalformedStoredHashNeverVerifies) {
  const auto hash = hash_password(kPassword).value();
  EXPECT_FALSE(verify_password("", kPassword));
  EXPECT_FALSE(verify_password("not a hash", kPassword));
  EXPECT_FALSE(verify_password(hash.substr(0, hash.size() - 4), kPassword));
  EXPECT_FALSE(verify_password(hash + std::string(1, '\0') + "x", kPassword));
  EXPECT_FALSE(verify_password(std::string(200, 'a'), kPassword));
}

// Made with libsodium 1.0.18 for the password "correct horse battery": Argon2id with t=1, m=8 KiB, and
// Argon2i with t=4, m=32 KiB.
constexpr std::string_view kWeakArgon2id =
    "$argon2id$v=19$m=8,t=1,p=1$ZPysXxxYf7ePMeTHCmB/wA$bkzrT6aPR0FMhkK9Yx9niBGAgaPbzCX3WkQo169jmDI";
constexpr std::string_view kArgon2i =
    "$argon2i$v=19$m=32,t=4,p=1$IA9HQsStPSGGxBOMxqt9Yw$gWtrWcycd2rTnqGplNUhJp6mkq7lyMu/fBLdP6OjfhE";

TEST(Password, OlderHashesStillVerifyButNeedRehash) {
  EXPECT_TRUE(verify_password(kWeakArgon2id, kPassword));
  EXPECT_TRUE(password_needs_rehash(kWeakArgon2id));
  EXPECT_TRUE(verify_password(kArgon2i, kPassword));
  EXPECT_TRUE(password_needs_rehash(kArgon2i));
  EXPECT_FALSE(verify_password(kArgon2i, "wrong password"));
}

TEST(Password, UnreadableHashNeedsRehash) {
  EXPECT_TRUE(password_needs_rehash(""));
  EXPECT_TRUE(password_needs_rehash("$2b$12$abcdefghijklmnopqrstuv"));  // bcrypt
  EXPECT_TRUE(password_needs_rehash("$argon2id$v=19$garbage"));
}

}  // namespace
}  // namespace ucr::auth
