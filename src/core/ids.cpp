#include "core/ids.hpp"

#include <array>
#include <cstdint>
#include <random>

namespace ucr::core {

std::string new_uuid() {
  thread_local std::mt19937_64 gen{[] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(), rd(), rd(), rd(), rd()};
    return std::mt19937_64(seq);
  }()};
  std::array<std::uint8_t, 16> b{};
  for (std::size_t i = 0; i < b.size(); i += 8) {
    std::uint64_t r = gen();
    for (std::size_t j = 0; j < 8; ++j) {
      b.at(i + j) = static_cast<std::uint8_t>(r >> (j * 8));
    }
  }
  b[6] = static_cast<std::uint8_t>((b[6] & 0x0FU) | 0x40U);
  b[8] = static_cast<std::uint8_t>((b[8] & 0x3FU) | 0x80U);
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
