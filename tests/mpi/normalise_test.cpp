// Tests of mpi/normalise: names, nicknames, postcodes, phones and e-mail addresses.
#include "mpi/normalise.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ucr::mpi {
namespace {

using Tokens = std::vector<std::string>;

TEST(Fold, LowerCasesAndStripsLatin1Diacritics) {
  EXPECT_EQ(fold("ZOË Brontë"), "zoe bronte");
  EXPECT_EQ(fold("Ægir Straße"), "aegir strasse");
  EXPECT_EQ(fold("Ñúñez Ørsted"), "nunez orsted");
}

TEST(Fold, StripsLatinExtendedADiacritics) {
  EXPECT_EQ(fold("Łukasz Wałęsa"), "lukasz walesa");
  EXPECT_EQ(fold("Dvořák Šťastný"), "dvorak stastny");
  EXPECT_EQ(fold("Œuvre"), "oeuvre");
}

TEST(Fold, DropsApostrophesAndSpacesOtherPunctuation) {
  EXPECT_EQ(fold("O'Brien"), "obrien");
  EXPECT_EQ(fold("O\u2019Brien"), "obrien");  // typographic apostrophe
  EXPECT_EQ(fold("  Smith-Jones,  Anne.  "), "smith jones anne");
}

TEST(Fold, KeepsOtherScriptsUnchanged) { EXPECT_EQ(fold("Иван"), "Иван"); }

TEST(NameTokens, DropsTitlesAndSuffixes) {
  EXPECT_EQ(name_tokens("Dr. Anne-Marie SMITH-JONES Jnr"), (Tokens{"anne", "marie", "smith", "jones"}));
  EXPECT_EQ(normalise_name("Mrs Margaret Thatcher OBE"), "margaret thatcher");
  EXPECT_EQ(normalise_name("Sir"), "sir");  // nothing else left: keep it
}

TEST(Nicknames, TableHasAtLeastOneHundredAndFiftyPairs) { EXPECT_GE(nickname_pair_count(), 150U); }

TEST(Nicknames, ShortFormsMatchTheirFormalName) {
  EXPECT_TRUE(are_name_variants("bill", "william"));
  EXPECT_TRUE(are_name_variants("william", "bill"));
  EXPECT_TRUE(are_name_variants("peggy", "margaret"));
  EXPECT_TRUE(are_name_variants("bob", "robert"));
  EXPECT_TRUE(are_name_variants("liz", "elizabeth"));
  EXPECT_TRUE(are_name_variants("betty", "elizabeth"));
}

TEST(Nicknames, TwoShortFormsOfOneNameMatch) {
  EXPECT_TRUE(are_name_variants("bill", "billy"));
  EXPECT_TRUE(are_name_variants("maggie", "peggy"));
  EXPECT_TRUE(are_name_variants("beth", "liz"));
}

TEST(Nicknames, UnrelatedNamesDoNot) {
  EXPECT_FALSE(are_name_variants("william", "robert"));
  EXPECT_FALSE(are_name_variants("john", "james"));
  EXPECT_FALSE(are_name_variants("", "william"));
}

TEST(Nicknames, AmbiguousShortFormListsEveryFormalName) {
  const auto f = formal_names_of("alex");
  EXPECT_EQ(std::vector<std::string>(f.begin(), f.end()), (std::vector<std::string>{"alexander", "alexandra"}));
  EXPECT_TRUE(formal_names_of("william").empty());
}

TEST(Postcode, NormalisesCaseAndSpacing) {
  const auto pc = parse_postcode(" me145ab ").value();
  EXPECT_EQ(pc.full(), "ME14 5AB");
  EXPECT_EQ(pc.outward, "ME14");
  EXPECT_EQ(pc.inward, "5AB");
  EXPECT_EQ(pc.area(), "ME");
  EXPECT_EQ(pc.district(), "ME14");
  EXPECT_EQ(pc.sector(), "ME14 5");
  EXPECT_EQ(parse_postcode("ME14   5AB").value(), pc);
}

TEST(Postcode, AcceptsEveryOutwardShape) {
  for (const char* s : {"M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "W1A 0AX", "EC1A 1BB", "GIR 0AA"}) {
    EXPECT_TRUE(parse_postcode(s)) << s;
  }
}

TEST(Postcode, LondonSubDistrictLetterIsNotPartOfTheDistrict) {
  const auto pc = parse_postcode("EC1A 1BB").value();
  EXPECT_EQ(pc.district(), "EC1");
  EXPECT_EQ(pc.sector(), "EC1A 1");
}

TEST(Postcode, RejectsMalformed) {
  for (const char* s : {"", "ME14", "ME14 5A", "1ME4 5AB", "ME14 AAB", "ME145 5AB", "ME-14 5AB", "ME1 45AB6"}) {
    EXPECT_FALSE(parse_postcode(s)) << s;
  }
}

TEST(Phone, UkInternationalFormsBecomeNational) {
  EXPECT_EQ(normalise_phone("+44 7700 900123"), "07700900123");
  EXPECT_EQ(normalise_phone("0044 7700 900123"), "07700900123");
  EXPECT_EQ(normalise_phone("+44 (0)1622 123 456"), "01622123456");
  EXPECT_EQ(normalise_phone("(01622) 123-456"), "01622123456");
}

TEST(Phone, OtherCountriesKeepThePlus) { EXPECT_EQ(normalise_phone("+33 1 23 45 67 89"), "+33123456789"); }

TEST(Phone, TooFewDigitsIsEmpty) { EXPECT_EQ(normalise_phone("ext 12"), ""); }

TEST(Email, TrimsAndLowerCases) {
  EXPECT_EQ(normalise_email("  Jane.Doe@NHS.net "), "jane.doe@nhs.net");
  EXPECT_EQ(normalise_email("mailto:A@B.uk"), "a@b.uk");
  EXPECT_EQ(normalise_email("not an address"), "");
  EXPECT_EQ(normalise_email("a@b@c"), "");
}

}  // namespace
}  // namespace ucr::mpi
