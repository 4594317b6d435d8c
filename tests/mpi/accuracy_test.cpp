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

Measured make(std::uint64_t seed) {
  PopulationOptions options;
  options.seed = seed;
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
  EXPECT_GE(e.auto_link.recall(), 0.90);
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
  EXPECT_GE(e.auto_link.recall(), 0.85);
}

}  // namespace
}  // namespace ucr::mpi
