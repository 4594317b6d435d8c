#include "core/ids.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <random>

namespace ucr::core {

std::string new_uuid() {
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  // RFC 9562 section 5.7: 48 bits of Unix time in milliseconds, the version, 12 bits of the
  // sub-millisecond time (its section 6.2, method 3), the variant and 62 random bits.
  const auto ns = static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  const std::uint64_t ms = ns / 1'000'000U;
  const std::uint64_t sub = ((ns % 1'000'000U) * 4096U) / 1'000'000U;
  const std::uint64_t high = (ms << 16U) | 0x7000U | sub;
  const std::uint64_t low = (gen() & 0x3FFF'FFFF'FFFF'FFFFULL) | 0x8000'0000'0000'0000ULL;
  std::array<std::uint8_t, 16> b{};
  for (std::size_t j = 0; j < 8; ++j) {
    b.at(j) = static_cast<std::uint8_t>(high >> ((7 - j) * 8));
    b.at(8 + j) = static_cast<std::uint8_t>(low >> ((7 - j) * 8));
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(36);
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[b.at(i) >> 4U]);
    out.push_back(kHex[b.at(i) & 0x0FU]);
  }
  return out;
}

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

}  // namespace ucr::core
