// Tests of auth/crypto: base64url and base32 against RFC 4648 §10, digests against FIPS 180-2 examples, PKCE
// against RFC 7636 Appendix B.
#include "auth/crypto.hpp"

#include <gtest/gtest.h>

#include <array>
#include <set>
#include <string>

namespace ucr::auth {
namespace {

TEST(Base64Url, EncodesTheRfc4648Vectors) {
  // RFC 4648 §10, padding removed.
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode("fooba"), "Zm9vYmE");
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
}

TEST(Base64Url, UsesTheUrlSafeAlphabet) {
  // Standard base64 of FB FF BF is "+/+/": the URL alphabet (RFC 4648 §5) writes '-' and '_'.
  EXPECT_EQ(base64url_encode("\xFB\xFF\xBF"), "-_-_");
  EXPECT_EQ(base64url_decode("-_-_"), std::string("\xFB\xFF\xBF"));
}

TEST(Base64Url, RoundTripsEveryByteAtEveryLength) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= all.size(); ++n) {
    const auto bytes = all.substr(all.size() - n);
    const auto text = base64url_encode(bytes);
    EXPECT_EQ(text.find('='), std::string::npos);
    EXPECT_EQ(base64url_decode(text), bytes) << n;
  }
}

TEST(Base64Url, RejectsPaddingBadCharactersAndImpossibleLengths) {
  EXPECT_FALSE(base64url_decode("Zg=="));
  EXPECT_FALSE(base64url_decode("Zm8="));
  EXPECT_FALSE(base64url_decode("Zm+v"));  // standard alphabet
  EXPECT_FALSE(base64url_decode("Zm/v"));
  EXPECT_FALSE(base64url_decode("Zm9 v"));
  EXPECT_FALSE(base64url_decode("Zm9v\n"));
  EXPECT_FALSE(base64url_decode("Z"));      // 4n+1 characters cannot encode whole bytes
  EXPECT_FALSE(base64url_decode("Zm9vY"));  //
  EXPECT_EQ(base64url_decode(""), std::string());
}

TEST(Base64Url, RejectsNonCanonicalTrailingBits) {
  // "Zg" is 'f'; "Zh" decodes to the same byte with a stray low bit, so two texts would mean one token.
  EXPECT_EQ(base64url_decode("Zg"), std::string("f"));
  EXPECT_FALSE(base64url_decode("Zh"));
  EXPECT_FALSE(base64url_decode("Zm9"));  // "Zm8" is canonical for "fo"
}

TEST(Base32, EncodesTheRfc4648Vectors) {
  EXPECT_EQ(base32_encode(""), "");
  EXPECT_EQ(base32_encode("f"), "MY");
  EXPECT_EQ(base32_encode("fo"), "MZXQ");
  EXPECT_EQ(base32_encode("foo"), "MZXW6");
  EXPECT_EQ(base32_encode("foob"), "MZXW6YQ");
  EXPECT_EQ(base32_encode("fooba"), "MZXW6YTB");
  EXPECT_EQ(base32_encode("foobar"), "MZXW6YTBOI");
}

TEST(Base32, DecodesPaddedLowerCaseAndGroupedSecrets) {
  EXPECT_EQ(base32_decode("MZXW6YTBOI"), std::string("foobar"));
  EXPECT_EQ(base32_decode("MZXW6YTBOI======"), std::string("foobar"));
  EXPECT_EQ(base32_decode("mzxw6ytboi"), std::string("foobar"));
  EXPECT_EQ(base32_decode("MZXW 6YTB OI"), std::string("foobar"));
}

TEST(Base32, RejectsBadCharactersAndImpossibleLengths) {
  EXPECT_FALSE(base32_decode("MZXW6YT1"));  // '1' and '0' are not in the alphabet
  EXPECT_FALSE(base32_decode("MZXW0"));
  EXPECT_FALSE(base32_decode("MZ=XW"));
  EXPECT_FALSE(base32_decode("M"));  // 1, 3 or 6 trailing symbols encode no whole byte
  EXPECT_FALSE(base32_decode("MZX"));
  EXPECT_FALSE(base32_decode("MZXW6Y"));
  EXPECT_FALSE(
      base32_decode("MZ"
                    "\xC3\x89"));
}

TEST(RandomToken, IsBase64UrlOfTheRequestedBytesAndNeverRepeats) {
  const auto t = random_token();
  EXPECT_EQ(t.size(), 43U);
  ASSERT_TRUE(base64url_decode(t));
  EXPECT_EQ(base64url_decode(t)->size(), 32U);
  EXPECT_EQ(random_token(16).size(), 22U);
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(random_token());
  EXPECT_EQ(seen.size(), 1000U);
}

TEST(Sha256, MatchesTheFips180Examples) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256, RawIsTheSameDigestAsBytes) {
  const auto raw = sha256_raw("abc");
  ASSERT_EQ(raw.size(), 32U);
  EXPECT_EQ(static_cast<unsigned char>(raw[0]), 0xBA);
  EXPECT_EQ(static_cast<unsigned char>(raw[31]), 0xAD);
}

TEST(ConstantTimeEqual, ComparesContentAndLength) {
  EXPECT_TRUE(constant_time_equal("", ""));
  EXPECT_TRUE(constant_time_equal("secret-token", "secret-token"));
  EXPECT_FALSE(constant_time_equal("secret-token", "secret-tokeN"));
  EXPECT_FALSE(constant_time_equal("Secret-token", "secret-token"));
  EXPECT_FALSE(constant_time_equal("secret-token", "secret-token-"));
  EXPECT_FALSE(constant_time_equal("", "x"));
  EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

// RFC 7636 Appendix B: the verifier, the octets of its SHA-256, and the resulting S256 challenge.
constexpr std::string_view kRfcVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr std::string_view kRfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

TEST(Pkce, DigestOfTheRfc7636VerifierHasTheListedOctets) {
  constexpr std::array<int, 32> kOctets = {19, 211, 30,  150, 26,  26,  216, 236, 47,  22,  177,
                                           12, 76,  152, 46,  8,   118, 168, 120, 173, 109, 241,
                                           68, 86,  110, 225, 137, 74,  203, 112, 249, 195};
  const auto digest = sha256_raw(kRfcVerifier);
  ASSERT_EQ(digest.size(), kOctets.size());
  for (std::size_t i = 0; i < kOctets.size(); ++i) EXPECT_EQ(static_cast<unsigned char>(digest[i]), kOctets[i]) << i;
  EXPECT_EQ(base64url_encode(digest), kRfcChallenge);
}

TEST(Pkce, AcceptsTheRfc7636AppendixBExample) { EXPECT_TRUE(pkce_s256_matches(kRfcVerifier, kRfcChallenge)); }

TEST(Pkce, RefusesANearMissChallenge) {
  // Two misspellings of the RFC challenge that circulate; one character off must fail.
  EXPECT_FALSE(pkce_s256_matches(kRfcVerifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuz4jyPjsJ7E"));
  EXPECT_FALSE(pkce_s256_matches(kRfcVerifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"));
  EXPECT_FALSE(pkce_s256_matches(kRfcVerifier, std::string(kRfcChallenge) + "="));
  EXPECT_FALSE(pkce_s256_matches(kRfcVerifier, ""));
  // The plain method (challenge == verifier) is not S256.
  EXPECT_FALSE(pkce_s256_matches(kRfcVerifier, kRfcVerifier));
}

TEST(Pkce, RefusesMalformedVerifiersEvenWithTheirOwnChallenge) {
  const auto challenge_of = [](std::string_view v) { return base64url_encode(sha256_raw(v)); };
  const std::string v43(43, 'a');
  const std::string v128(128, '~');
  EXPECT_TRUE(pkce_s256_matches(v43, challenge_of(v43)));
  EXPECT_TRUE(pkce_s256_matches(v128, challenge_of(v128)));
  const std::string v42(42, 'a');
  const std::string v129(129, 'a');
  const std::string with_plus = std::string(42, 'a') + "+";
  const std::string with_space = std::string(42, 'a') + " ";
  const std::string with_pad = std::string(42, 'a') + "=";
  for (const auto& bad : {v42, v129, with_plus, with_space, with_pad}) {
    EXPECT_FALSE(is_pkce_verifier(bad)) << bad;
    EXPECT_FALSE(pkce_s256_matches(bad, challenge_of(bad))) << bad;
  }
}

}  // namespace
}  // namespace ucr::auth
