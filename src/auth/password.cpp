#include "auth/password.hpp"

#include "auth/crypto.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <array>
#include <stdexcept>

namespace ucr::auth {
namespace {

constexpr std::string_view kArgon2idPrefix = "$argon2id$";

/// The hash of a random password nobody knows, made with the INTERACTIVE parameters of libsodium 1.0.18.
/// burn_password_time checks it against the running library's parameters and makes a new one if they moved.
constexpr std::string_view kDummyHash =
    "$argon2id$v=19$m=65536,t=2,p=1$HBpTD/702k7eTbYKxy5yPA$NxRtUyCoScTE78kvykqmZ6dFLqTOF7kJZ9WXklOggZk";

void ensure_sodium() {
  // A function-local static is initialised once even when many threads arrive together.
  static const bool kReady = sodium_init() >= 0;
  if (!kReady) throw std::runtime_error("auth: libsodium failed to initialise");
}

/// `text` as a NUL-terminated string, or empty when it cannot be one libsodium reads.
bool as_c_string(std::string_view text, std::string& out) {
  if (text.size() >= crypto_pwhash_STRBYTES || text.find('\0') != std::string_view::npos) return false;
  out.assign(text);
  return true;
}

core::Result<std::string> hash_unchecked(std::string_view password) {
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return core::Error::internal("password hashing failed: not enough memory for Argon2id");
  }
  return std::string(out.data());
}

bool verify_unchecked(std::string_view stored_hash, std::string_view password) {
  std::string hash;
  if (!as_c_string(stored_hash, hash)) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

}  // namespace

core::Result<std::string> hash_password(std::string_view password) {
  if (password.size() < kMinPasswordBytes) {
    return core::Error::invalid(
        fmt::format("password too short: at least {} characters are required", kMinPasswordBytes));
  }
  if (password.size() > kMaxPasswordBytes) {
    return core::Error::invalid(fmt::format("password too long: at most {} bytes are accepted", kMaxPasswordBytes));
  }
  ensure_sodium();
  return hash_unchecked(password);
}

bool verify_password(std::string_view stored_hash, std::string_view password) {
  if (password.size() > kMaxPasswordBytes) return false;
  ensure_sodium();
  return verify_unchecked(stored_hash, password);
}

bool password_needs_rehash(std::string_view stored_hash) {
  ensure_sodium();
  std::string hash;
  if (!as_c_string(stored_hash, hash) || !stored_hash.starts_with(kArgon2idPrefix)) return true;
  return crypto_pwhash_argon2id_str_needs_rehash(hash.c_str(), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                                 crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}

void burn_password_time(std::string_view password) {
  if (password.size() > kMaxPasswordBytes) return;  // verify_password returns at once too
  ensure_sodium();
  static const std::string kDummy = [] {
    if (!password_needs_rehash(kDummyHash)) return std::string(kDummyHash);
    auto fresh = hash_unchecked(random_token(24));
    return fresh ? *fresh : std::string(kDummyHash);
  }();
  // The result is meaningless; only the work matters.
  static_cast<void>(verify_unchecked(kDummy, password));
}

}  // namespace ucr::auth
