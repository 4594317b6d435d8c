// Accuracy of blocking + scoring on the synthetic population of mpi/population (fixed seeds, default
// rates): people, corrupted copies from other systems and distinct look-alikes (twins, namesakes born
// the same day, parent and child of one name at one address). Prints the evaluation report; asserts
// auto-link precision and recall floors (the measured figures are in docs/mpi.md).
#include "mpi/evaluation.hpp"
#include "mpi/population.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <iostream>

namespace ucr::mpi {
namespace {

struct Measured {
  Population population;
  CandidatePairs candidates;
};

Measured make(std::uint64_t seed, double address_history = PopulationOptions{}.address_history) {
  PopulationOptions options;
  options.seed = seed;
  options.address_history = address_history;
  auto population = generate_population(options);
  EXPECT_TRUE(population.has_value());
  Measured m{std::move(*population), {}};
  m.candidates = candidate_pairs(m.population.records);
  return m;
}

Evaluation run(const Measured& m, const Matcher& matcher, std::string_view label) {
  auto e = evaluate(m.population, m.candidates, matcher);
  std::cout << fmt::format("mpi accuracy ({}):\n{}\n", label, e.to_text());
  return e;
}

TEST(Accuracy, SyntheticPopulationMeetsPrecisionAndRecallFloors) {
  const auto m = make(7);
  const auto e = run(m, Matcher(), "seed 7, default weights");
  EXPECT_GT(e.true_pairs, 1500U);
  EXPECT_GE(e.auto_link.precision(), 0.999);
  EXPECT_GE(e.auto_link.recall(), 0.965);  // measured 0.972
  EXPECT_GE(e.any_link.recall(), 0.99);
  EXPECT_GE(e.blocking_recall(), 0.99);
  EXPECT_EQ(e.false_auto_by_relation[static_cast<std::size_t>(Relation::kTwin)], 0U);
  EXPECT_EQ(e.false_auto_by_relation[static_cast<std::size_t>(Relation::kNamesake)], 0U);
  EXPECT_EQ(e.false_auto_by_relation[static_cast<std::size_t>(Relation::kParentChild)], 0U);
}

TEST(Accuracy, SecondPopulationWithDefaultAndEmEstimatedWeights) {
  // Another seed, scored with the shipped weights and with weights EM estimates from its own candidate
  // pairs. EM over blocked pairs over-estimates the share of matches (relatives share surname, address
  // and phone, against the independence assumption), so the caps carry precision; the floor is lower.
  const auto m = make(11);
  const auto d = run(m, Matcher(), "seed 11, default weights");
  EXPECT_GE(d.auto_link.precision(), 0.999);
  EXPECT_GE(d.auto_link.recall(), 0.965);  // measured 0.975
  EXPECT_GE(d.any_link.recall(), 0.99);

  const auto sample = compare_pairs(m.population.records, m.candidates);
  const auto estimated = estimate_weights(sample);
  ASSERT_TRUE(estimated.has_value());
  std::cout << fmt::format("EM: {} iterations, converged {}, prior {:.4f} (true share of matches {:.4f})\n",
                           estimated->iterations, estimated->converged, estimated->config.prior,
                           static_cast<double>(d.blocked_true_pairs) / static_cast<double>(d.candidate_pairs));
  EXPECT_TRUE(estimated->converged);
  const auto e = run(m, Matcher(estimated->config), "seed 11, EM-estimated weights");
  EXPECT_GE(e.auto_link.precision(), 0.99);
  EXPECT_GE(e.auto_link.recall(), 0.92);  // measured 0.948
}

TEST(Accuracy, PreviousAddressesAreWhatLinksPeopleWhoMoved) {
  // The same people, but primary records that keep no previous address: copies made before a move
  // have nothing but name and birth date to show, and go to review instead.
  const auto with = make(7);
  const auto without = make(7, 0.0);
  const auto a = run(with, Matcher(), "seed 7, address history kept");
  const auto b = run(without, Matcher(), "seed 7, no address history");
  EXPECT_GE(b.auto_link.precision(), 0.999);
  EXPECT_GT(a.auto_link.recall(), b.auto_link.recall() + 0.01);
  EXPECT_GE(b.any_link.recall(), 0.99);  // still found, for review
}

TEST(Accuracy, GpPracticeCorroborationKeepsTwinsAndParentsApart) {
  // With the GP practice accepted as corroboration, more moved people are linked; the given-name and
  // birth-date rules still keep twins and a parent and child (who share a practice) out.
  const auto m = make(7);
  auto config = MatchConfig::defaults();
  config.gp_practice_corroborates = true;
  const auto d = run(m, Matcher(), "seed 7, default rules");
  const auto e = run(m, Matcher(config), "seed 7, GP practice corroborates");
  EXPECT_GE(e.auto_link.precision(), 0.999);
  EXPECT_GT(e.auto_link.recall(), d.auto_link.recall());
  EXPECT_EQ(e.false_auto_by_relation[static_cast<std::size_t>(Relation::kTwin)], 0U);
  EXPECT_EQ(e.false_auto_by_relation[static_cast<std::size_t>(Relation::kParentChild)], 0U);
}

}  // namespace
}  // namespace ucr::mpi
