#include "auth/totp.hpp"

#include "auth/crypto.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>

namespace ucr::auth {
namespace {

constexpr std::size_t kSecretBytes = 20;

/// RFC 4226 §5.3: HMAC-SHA1 of the big-endian counter, dynamic truncation, modulo 10^6.
std::optional<std::string> hotp(const std::string& key, std::uint64_t counter) {
  std::array<unsigned char, 8> message{};
  for (std::size_t i = 0; i < message.size(); ++i) {
    message[message.size() - 1 - i] = static_cast<unsigned char>((counter >> (8U * i)) & 0xFFU);
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> mac{};
  unsigned int mac_size = 0;
  if (HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()), message.data(), message.size(), mac.data(),
           &mac_size) == nullptr ||
      mac_size != 20) {
    return std::nullopt;
  }
  const unsigned offset = mac[19] & 0x0FU;
  const std::uint32_t binary = ((mac[offset] & 0x7FU) << 24U) | (static_cast<std::uint32_t>(mac[offset + 1]) << 16U) |
                               (static_cast<std::uint32_t>(mac[offset + 2]) << 8U) | mac[offset + 3];
  return fmt::format("{:06}", binary % 1'000'000U);
}

bool is_six_digits(std::string_view code) {
  return code.size() == static_cast<std::size_t>(kTotpDigits) &&
         std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string percent_encode(std::string_view text) {
  std::string out;
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out += fmt::format("%{:02X}", b);
    }
  }
  return out;
}

}  // namespace

std::string totp_new_secret() { return base32_encode(random_bytes(kSecretBytes)); }

std::optional<std::string> totp_code(std::string_view secret_base32, std::int64_t unix_seconds) {
  if (unix_seconds < 0) return std::nullopt;
  const auto key = base32_decode(secret_base32);
  if (!key || key->empty()) return std::nullopt;
  return hotp(*key, static_cast<std::uint64_t>(unix_seconds / kTotpStepSeconds));
}

std::optional<std::int64_t> totp_matching_step(std::string_view secret_base32, std::string_view code,
                                               std::int64_t unix_seconds, int window) {
  if (!is_six_digits(code) || unix_seconds < 0) return std::nullopt;
  const auto key = base32_decode(secret_base32);
  if (!key || key->empty()) return std::nullopt;
  const int w = std::clamp(window, 0, kTotpMaxWindow);
  const std::int64_t now_step = unix_seconds / kTotpStepSeconds;
  // Nearest step first, so drift is accounted to the smallest offset that explains the code.
  for (int distance = 0; distance <= w; ++distance) {
    for (const int sign : {-1, 1}) {
      if (distance == 0 && sign == 1) continue;
      const std::int64_t step = now_step + static_cast<std::int64_t>(sign) * distance;
      if (step < 0) continue;
      const auto expected = hotp(*key, static_cast<std::uint64_t>(step));
      if (expected && constant_time_equal(*expected, code)) return step;
    }
  }
  return std::nullopt;
}

bool totp_verify(std::string_view secret_base32, std::string_view code, std::int64_t unix_seconds, int window) {
  return totp_matching_step(secret_base32, code, unix_seconds, window).has_value();
}

std::string totp_uri(std::string_view secret_base32, std::string_view account, std::string_view issuer) {
  std::string secret;
  for (const char c : secret_base32) {
    if (c == ' ' || c == '=') continue;
    secret.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c);
  }
  const std::string label =
      issuer.empty() ? percent_encode(account) : percent_encode(issuer) + ":" + percent_encode(account);
  std::string uri = fmt::format("otpauth://totp/{}?secret={}", label, secret);
  if (!issuer.empty()) uri += "&issuer=" + percent_encode(issuer);
  uri += fmt::format("&algorithm=SHA1&digits={}&period={}", kTotpDigits, kTotpStepSeconds);
  return uri;
}

}  // namespace ucr::auth
