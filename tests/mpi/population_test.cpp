// The labelled synthetic population: determinism, sizes, truth, and each corruption at rate 0 and 1.
#include "mpi/population.hpp"
#include "mpi/nhs_number.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <fmt/format.h>

#include <set>
#include <string>
#include <vector>

namespace ucr::mpi {
namespace {

namespace json = boost::json;

/// Options with no look-alikes and no corruption at all: copies equal their person.
PopulationOptions clean(std::size_t people) {
  PopulationOptions o;
  o.people = people;
  o.copies_per_person = 1.0;
  o.twin_rate = 0;
  o.namesake_rate = 0;
  o.parent_child_rate = 0;
  o.rates = CorruptionRates{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  return o;
}

std::vector<std::string> patients_of(const PopulationOptions& o) {
  std::vector<std::string> out;
  auto r = generate_patients(o, [&](const json::object& p, const RecordLabel&) { out.push_back(json::serialize(p)); });
  EXPECT_TRUE(r.has_value());
  return out;
}

TEST(Population, SameSeedSameRecordsOtherSeedOtherRecords) {
  PopulationOptions o;
  o.people = 300;
  const auto a = patients_of(o);
  EXPECT_EQ(a, patients_of(o));
  o.seed = 8;
  EXPECT_NE(a, patients_of(o));
}

TEST(Population, OriginalsFirstWithUniqueValidNhsNumbers) {
  PopulationOptions o;
  o.people = 2000;
  const auto pop = generate_population(o).value();
  ASSERT_EQ(pop.records.size(), pop.labels.size());
  EXPECT_GT(pop.persons.size(), o.people);  // look-alikes added
  std::set<std::string> numbers;
  for (std::size_t i = 0; i < pop.persons.size(); ++i) {
    EXPECT_TRUE(pop.labels[i].original);
    EXPECT_EQ(pop.labels[i].person, i);
    EXPECT_TRUE(is_valid_nhs_number(pop.records[i].nhs_number)) << pop.records[i].nhs_number;
    numbers.insert(pop.records[i].nhs_number);
    EXPECT_EQ(pop.records[i].id, "syn-" + std::to_string(i));
  }
  EXPECT_EQ(numbers.size(), pop.persons.size());
  for (std::size_t i = pop.persons.size(); i < pop.records.size(); ++i) EXPECT_FALSE(pop.labels[i].original);
  // About 0.6 copies per person.
  const auto copies = static_cast<double>(pop.records.size() - pop.persons.size());
  EXPECT_NEAR(copies / static_cast<double>(pop.persons.size()), 0.6, 0.05);
}

TEST(Population, TruePairsCountPairsOfRecordsOfOnePerson) {
  auto o = clean(50);
  o.copies_per_person = 2.0;  // three records each: three pairs
  const auto pop = generate_population(o).value();
  EXPECT_EQ(pop.records.size(), 150U);
  EXPECT_EQ(pop.true_pairs(), 150U);
  EXPECT_TRUE(pop.same_person(0, 50));
  EXPECT_FALSE(pop.same_person(0, 1));
}

TEST(Population, WithoutCorruptionCopiesEqualTheirPerson) {
  const auto pop = generate_population(clean(200)).value();
  ASSERT_EQ(pop.records.size(), 400U);
  for (std::size_t i = 200; i < 400; ++i) {
    const auto& copy = pop.records[i];
    const auto& person = pop.records[pop.labels[i].person];
    EXPECT_EQ(copy.nhs_number, person.nhs_number);
    EXPECT_EQ(copy.family_names, person.family_names);
    EXPECT_EQ(copy.given_names, person.given_names);
    EXPECT_EQ(copy.birth_date, person.birth_date);
    EXPECT_EQ(copy.postcodes, person.postcodes);
    EXPECT_EQ(copy.phones, person.phones);  // "+44 7..." and "07..." normalise alike
    EXPECT_EQ(copy.gp_practices, person.gp_practices);
    EXPECT_TRUE(copy.previous_postcodes.empty());  // other systems keep the current address only
  }
}

TEST(Population, PrimaryRecordsKeepAPreviousAddressAndAGpPractice) {
  auto o = clean(1000);
  o.address_history = 0.8;
  const auto pop = generate_population(o).value();
  std::size_t history = 0;
  std::size_t registered = 0;
  for (std::size_t p = 0; p < pop.persons.size(); ++p) {
    const auto& r = pop.records[p];
    ASSERT_EQ(r.postcodes.size(), 1U);
    history += r.previous_postcodes.size();
    EXPECT_LE(r.previous_postcodes.size(), 1U);
    if (!r.previous_postcodes.empty()) {
      EXPECT_NE(r.previous_postcodes[0], r.postcodes[0]);
    }
    registered += r.gp_practices.size();
    // Practices are of the home district: "ods:G8" + area + two-digit district + n.
    if (!r.gp_practices.empty()) {
      EXPECT_EQ(r.gp_practices[0].substr(0, 6), "ods:G8") << r.gp_practices[0];
    }
  }
  EXPECT_NEAR(static_cast<double>(history) / 1000.0, 0.8, 0.05);
  EXPECT_NEAR(static_cast<double>(registered) / 1000.0, 0.98, 0.02);

  o.address_history = 0;
  for (const auto& r : generate_population(o).value().records) EXPECT_TRUE(r.previous_postcodes.empty());
}

TEST(Population, OutOfDateCopiesHoldThePreviousAddressAndPractice) {
  auto o = clean(600);
  o.address_history = 1;
  o.rates.moved = 1;
  o.rates.moved_stale = 1;
  o.rates.gp_moved = 1;
  const auto pop = generate_population(o).value();
  for (std::size_t i = 600; i < 1200; ++i) {
    const auto& copy = pop.records[i];
    const auto& person = pop.records[pop.labels[i].person];
    ASSERT_EQ(person.previous_postcodes.size(), 1U);
    EXPECT_EQ(copy.postcodes, person.previous_postcodes);
    // A move that changed the practice: the old one is of the old district (two digits after the area).
    ASSERT_EQ(copy.gp_practices.size(), 1U);
    const auto district = copy.postcodes[0].district();
    EXPECT_EQ(copy.gp_practices[0].substr(7, 2), fmt::format("{:02}", std::stoi(district.substr(2))));
  }
  // Moves within the district keep the practice: the old address is in the same district.
  o.rates.gp_moved = 0;
  const auto near = generate_population(o).value();
  for (std::size_t i = 600; i < 1200; ++i) {
    const auto& copy = near.records[i];
    const auto& person = near.records[near.labels[i].person];
    EXPECT_EQ(copy.gp_practices, person.gp_practices);
    EXPECT_EQ(copy.postcodes[0].district(), person.postcodes[0].district());
    EXPECT_NE(copy.postcodes[0], person.postcodes[0]);
  }
}

TEST(Population, GpPracticeMissingAndChangedAtRateOne) {
  auto o = clean(300);
  o.rates.gp_missing = 1;
  const auto missing = generate_population(o).value();
  for (std::size_t i = 300; i < 600; ++i) EXPECT_TRUE(missing.records[i].gp_practices.empty());
  o.rates.gp_missing = 0;
  o.rates.gp_changed = 1;
  const auto pop = generate_population(o).value();
  for (std::size_t i = 300; i < 600; ++i) {
    const auto& copy = pop.records[i];
    const auto& person = pop.records[pop.labels[i].person];
    if (person.gp_practices.empty()) continue;
    ASSERT_EQ(copy.gp_practices.size(), 1U);
    EXPECT_NE(copy.gp_practices, person.gp_practices);
    EXPECT_EQ(copy.gp_practices[0].substr(0, 9), person.gp_practices[0].substr(0, 9));  // same district
  }
}

TEST(Population, EachCorruptionAtRateOne) {
  auto o = clean(300);
  o.rates.missing_nhs = 1;
  o.rates.transposed_date = 1;
  o.rates.moved = 1;
  o.rates.email_missing = 1;
  o.rates.gender_missing = 1;
  o.rates.middle_dropped = 1;
  const auto pop = generate_population(o).value();
  std::size_t transposed = 0;
  std::size_t moved = 0;
  for (std::size_t i = 300; i < 600; ++i) {
    const auto& copy = pop.records[i];
    const auto& person = pop.records[pop.labels[i].person];
    EXPECT_TRUE(copy.nhs_number.empty());
    EXPECT_TRUE(copy.emails.empty());
    EXPECT_TRUE(copy.gender.empty());
    EXPECT_TRUE(copy.middle_names.empty());
    EXPECT_EQ(copy.family_names, person.family_names);
    const auto& a = *copy.birth_date;
    const auto& b = *person.birth_date;
    if (b.day <= 12 && b.day != b.month) {
      EXPECT_EQ(a, (Date{b.year, b.day, b.month}));
      ++transposed;
    } else {
      EXPECT_EQ(a, b);
    }
    moved += copy.postcodes != person.postcodes ? 1 : 0;
  }
  EXPECT_GT(transposed, 50U);
  EXPECT_GT(moved, 280U);  // a move may land on the same postcode, rarely
}

TEST(Population, TyposNicknamesAndMarriedNamesChangeNames) {
  auto o = clean(400);
  o.rates.given_typo = 1;
  o.rates.married = 1;
  o.rates.maiden_kept = 1;
  const auto pop = generate_population(o).value();
  std::size_t married = 0;
  std::size_t typos = 0;
  for (std::size_t i = 400; i < 800; ++i) {
    const auto& copy = pop.records[i];
    const auto& person = pop.records[pop.labels[i].person];
    typos += copy.given_names[0] != person.given_names[0] ? 1 : 0;  // a swap of two equal letters changes nothing
    EXPECT_EQ(copy.given_names[0][0], person.given_names[0][0]);    // the first letter is kept
    if (person.gender == "female" && person.birth_date->year < 2000) {
      ASSERT_EQ(copy.family_names.size(), 2U);  // married name, then the maiden name
      EXPECT_NE(copy.family_names[0], person.family_names[0]);
      EXPECT_EQ(copy.family_names[1], person.family_names[0]);
      ++married;
    } else {
      EXPECT_EQ(copy.family_names, person.family_names);
    }
  }
  EXPECT_GT(married, 100U);
  EXPECT_GT(typos, 350U);

  auto n = clean(400);
  n.rates.nickname = 1;
  const auto nick = generate_population(n).value();
  std::size_t shortened = 0;
  for (std::size_t i = 400; i < 800; ++i) {
    shortened += nick.records[i].given_names != nick.records[nick.labels[i].person].given_names ? 1 : 0;
  }
  EXPECT_GT(shortened, 100U);
}

TEST(Population, LookAlikesAreDifferentPeopleWhoLookAlike) {
  auto o = clean(500);
  o.copies_per_person = 0;
  o.twin_rate = 0.2;
  o.namesake_rate = 0.2;
  o.parent_child_rate = 0.2;
  const auto pop = generate_population(o).value();
  std::size_t twins = 0;
  std::size_t namesakes = 0;
  std::size_t children = 0;
  for (std::size_t p = 500; p < pop.persons.size(); ++p) {
    const auto& person = pop.persons[p];
    const auto& a = pop.records[p];
    const auto& b = pop.records[person.relative];
    ASSERT_LT(person.relative, 500U);
    EXPECT_NE(a.nhs_number, b.nhs_number);
    EXPECT_EQ(pop.relation(p, person.relative), person.relation);
    EXPECT_EQ(pop.relation(person.relative, p), person.relation);
    EXPECT_EQ(a.family_names, b.family_names);
    switch (person.relation) {
      case Relation::kTwin:
        ++twins;
        EXPECT_EQ(a.birth_date, b.birth_date);
        EXPECT_EQ(a.postcodes, b.postcodes);
        EXPECT_NE(a.given_names, b.given_names);
        break;
      case Relation::kNamesake:
        ++namesakes;
        EXPECT_EQ(a.birth_date, b.birth_date);
        EXPECT_EQ(a.given_names, b.given_names);
        break;
      case Relation::kParentChild:
        ++children;
        EXPECT_GE(a.birth_date->year, b.birth_date->year + 18);
        EXPECT_EQ(a.given_names, b.given_names);
        EXPECT_EQ(a.postcodes, b.postcodes);
        break;
      case Relation::kNone:
        ADD_FAILURE() << "a look-alike without a relation";
    }
  }
  EXPECT_GT(twins, 60U);
  EXPECT_GT(namesakes, 60U);
  EXPECT_GT(children, 20U);
  EXPECT_EQ(pop.relation(0, 1), Relation::kNone);
}

TEST(Population, InvalidOptionsAreRefusedWithTheirName) {
  PopulationOptions o;
  o.rates.moved = 1.5;
  auto r = generate_population(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("moved rate"), std::string::npos);
  o = {};
  o.people = 0;
  EXPECT_FALSE(o.validate().has_value());
  o = {};
  o.twin_rate = -0.1;
  EXPECT_FALSE(o.validate().has_value());
  o = {};
  o.rates.gp_missing = 2;
  EXPECT_NE(o.validate().error().message().find("GP practice missing rate"), std::string::npos);
  o = {};
  o.address_history = -1;
  EXPECT_NE(o.validate().error().message().find("address history rate"), std::string::npos);
  o = {};
  o.copies_per_person = 21;
  EXPECT_FALSE(o.validate().has_value());
  EXPECT_TRUE(PopulationOptions{}.validate().has_value());
}

}  // namespace
}  // namespace ucr::mpi
