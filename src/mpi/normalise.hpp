// mpi/normalise: the canonical forms that matching compares: names (case, diacritics, punctuation,
// titles, nicknames), UK postcodes, phone numbers and e-mail addresses. Pure functions; thread-safe.
#pragma once

#include "core/error.hpp"

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace ucr::mpi {

/// Lower-case ASCII form of UTF-8 text: Latin-1 and Latin Extended-A letters lose their diacritics
/// ("Zoë" -> "zoe", "Łukasz" -> "lukasz", "Æ" -> "ae", "ß" -> "ss"); apostrophes vanish ("O'Brien" ->
/// "obrien"); other punctuation, hyphens and whitespace become single spaces; the result is trimmed.
/// Characters of other scripts are kept as they are.
[[nodiscard]] std::string fold(std::string_view text);

/// True for honorifics dropped from names: mr, mrs, ms, miss, mx, dr, prof, rev, sir, dame, lord, ...
[[nodiscard]] bool is_title(std::string_view folded_token);
/// True for name suffixes dropped from names: jr, jnr, sr, snr, ii, iii, obe, mbe, phd, ...
[[nodiscard]] bool is_name_suffix(std::string_view folded_token);

/// Folded tokens of a name with titles and suffixes removed (unless nothing else would remain):
/// "Dr. Anne-Marie SMITH-JONES Jnr" -> {"anne", "marie", "smith", "jones"}.
[[nodiscard]] std::vector<std::string> name_tokens(std::string_view text);

/// name_tokens joined by single spaces: the form names are compared in ("smith jones").
[[nodiscard]] std::string normalise_name(std::string_view text);

/// The formal names a short form or nickname stands for ("bill" -> {"william"}; "alex" -> {"alexander",
/// "alexandra"}); empty when `folded` is not a known short form. Table: data/mpi/nicknames.csv.
[[nodiscard]] std::span<const std::string> formal_names_of(std::string_view folded);

/// True when two folded given names are the same name or known variants of one name:
/// bill~william, bill~billy (both William), peggy~maggie (both Margaret). Symmetric.
[[nodiscard]] bool are_name_variants(std::string_view a, std::string_view b);

/// Number of short-form -> formal-name pairs in the compiled-in table.
[[nodiscard]] std::size_t nickname_pair_count();

/// A valid UK postcode split into its parts (e.g. "ME14 5AB"; "EC1A 1BB").
struct Postcode {
  std::string outward;  ///< "ME14", "EC1A"
  std::string inward;   ///< "5AB"

  /// Canonical form: upper case, one space: "ME14 5AB".
  [[nodiscard]] std::string full() const { return outward + ' ' + inward; }
  /// Postcode area, the leading letters: "ME".
  [[nodiscard]] std::string area() const;
  /// Postcode district: the outward code without a London sub-district letter: "ME14", "EC1".
  [[nodiscard]] std::string district() const;
  /// Postcode sector: outward code, space, first inward digit: "ME14 5".
  [[nodiscard]] std::string sector() const { return outward + ' ' + inward.substr(0, 1); }

  friend bool operator==(const Postcode&, const Postcode&) = default;
};

/// Parses a UK postcode in any case and spacing ("me145ab", " ME14  5AB "). Outward code forms A9, A99,
/// AA9, AA99, A9A, AA9A, inward 9AA (BS 7666); "GIR 0AA" is accepted. Error `invalid` otherwise.
[[nodiscard]] core::Result<Postcode> parse_postcode(std::string_view text);

/// Canonical phone number: digits only; UK international forms (+44, 0044, "+44 (0)") become the
/// national form with a leading 0 ("+44 7700 900123" -> "07700900123"); other international numbers
/// keep a leading '+' ("+33 1 23 45 67 89" -> "+33123456789"). Empty when fewer than 6 digits remain.
[[nodiscard]] std::string normalise_phone(std::string_view text);

/// Canonical e-mail address: trimmed and lower-cased; a leading "mailto:" removed. Empty unless it has
/// one '@' with text on both sides.
[[nodiscard]] std::string normalise_email(std::string_view text);

}  // namespace ucr::mpi
