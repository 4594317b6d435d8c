#include "mpi/blocking.hpp"

#include "mpi/compare.hpp"
#include "mpi/normalise.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace ucr::mpi {
namespace {

std::vector<std::string> surname_codes(const PatientRecord& r) {
  std::vector<std::string> codes;
  const auto add = [&codes](std::string_view s) {
    auto c = soundex(s);
    if (!c.empty() && std::find(codes.begin(), codes.end(), c) == codes.end()) codes.push_back(std::move(c));
  };
  for (const auto& family : r.family_names) {
    add(family);
    if (family.find(' ') == std::string::npos) continue;
    std::size_t i = 0;
    while (i < family.size()) {
      const auto j = std::min(family.find(' ', i), family.size());
      if (j - i > 1) add(std::string_view(family).substr(i, j - i));
      i = j + 1;
    }
  }
  return codes;
}

std::vector<std::string> given_codes(const PatientRecord& r) {
  std::vector<std::string> codes;
  const auto add = [&codes](std::string_view s) {
    auto c = soundex(s);
    if (!c.empty() && std::find(codes.begin(), codes.end(), c) == codes.end()) codes.push_back(std::move(c));
  };
  for (const auto& g : r.given_names) {
    add(g);
    for (const auto& formal : formal_names_of(g)) add(formal);
  }
  return codes;
}

}  // namespace

std::vector<std::string> blocking_keys(const PatientRecord& r) {
  std::vector<std::string> keys;
  if (!r.nhs_number.empty()) keys.push_back("nhs:" + r.nhs_number);
  const auto& dob = r.birth_date;
  const bool full_dob = dob && dob->day != 0;
  if (full_dob) {
    // One key for a date and its day/month transposition: the two numbers in ascending order, so 1970-12-03
    // and 1970-03-12 both give "dob:1970-03-12". A day above 12 cannot be a month, so such a date is its own
    // key. (Stores written before kept both orders as keys; the ascending one is among them, so they meet.)
    const auto lo = std::min(dob->month, dob->day);
    const auto hi = std::max(dob->month, dob->day);
    keys.push_back("dob:" + format_date(Date{dob->year, lo, hi}));
  }
  // Previous addresses too: an out-of-date copy elsewhere still holds the address the person moved from.
  std::vector<const Postcode*> postcodes;
  for (const auto& pc : r.postcodes) postcodes.push_back(&pc);
  for (const auto& pc : r.previous_postcodes) postcodes.push_back(&pc);
  const auto surnames = surname_codes(r);
  for (const auto& code : surnames) {
    for (const auto* pc : postcodes) keys.push_back(fmt::format("sx:{}|{}", code, pc->district()));
  }
  if (dob) {
    for (const auto& g : r.given_names) {
      for (const auto* pc : postcodes) keys.push_back(fmt::format("gi:{}|{}|{}", g.front(), dob->year, pc->sector()));
    }
    const auto givens = given_codes(r);
    for (const auto& s : surnames) {
      for (const auto& g : givens) keys.push_back(fmt::format("nm:{}|{}|{}", s, g, dob->year));
    }
  }
  for (const auto& p : r.phones) keys.push_back("tel:" + p);
  for (const auto& e : r.emails) keys.push_back("email:" + e);
  for (const auto& id : r.identifiers) keys.push_back(fmt::format("id:{}|{}", id.system, id.value));
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

}  // namespace ucr::mpi
