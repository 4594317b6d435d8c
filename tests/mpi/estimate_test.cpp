// Tests of estimate_weights: EM recovers known m/u probabilities and prior from synthetic comparisons.
#include "mpi/matcher.hpp"

#include <gtest/gtest.h>

#include <random>

namespace ucr::mpi {
namespace {

/// Draws a level from a distribution over levels.
int draw(std::mt19937_64& rng, const std::vector<double>& p) {
  std::discrete_distribution<int> d(p.begin(), p.end());
  return d(rng);
}

TEST(EstimateWeights, RecoversKnownProbabilitiesFromSyntheticComparisons) {
  // True parameters: a distinct, plausible m/u for every level of every field.
  MatchConfig truth = MatchConfig::defaults();
  truth.prior = 0.15;
  const auto set = [&](Field f, std::vector<LevelWeight> w) {
    truth.levels[static_cast<std::size_t>(f)] = std::move(w);
  };
  set(Field::kNhsNumber, {{0.97, 0.01}, {0.03, 0.99}});
  set(Field::kFamilyName, {{0.80, 0.05}, {0.10, 0.05}, {0.05, 0.10}, {0.05, 0.80}});
  set(Field::kGivenName, {{0.75, 0.06}, {0.10, 0.04}, {0.07, 0.05}, {0.03, 0.05}, {0.05, 0.80}});
  set(Field::kBirthDate, {{0.85, 0.05}, {0.04, 0.02}, {0.05, 0.05}, {0.03, 0.18}, {0.03, 0.70}});
  set(Field::kGender, {{0.97, 0.50}, {0.03, 0.50}});
  set(Field::kPostcode, {{0.60, 0.03}, {0.10, 0.02}, {0.10, 0.07}, {0.10, 0.18}, {0.10, 0.70}});
  set(Field::kPhone, {{0.60, 0.02}, {0.40, 0.98}});
  set(Field::kEmail, {{0.65, 0.01}, {0.35, 0.99}});
  set(Field::kLocalId, {{0.90, 0.02}, {0.10, 0.98}});
  set(Field::kGpPractice, {{0.80, 0.10}, {0.20, 0.90}});
  const std::array<double, kFieldCount> present = {0.6, 1.0, 1.0, 0.95, 0.9, 0.8, 0.5, 0.3, 0.4, 0.7};

  std::mt19937_64 rng(20240601);
  std::bernoulli_distribution is_match(truth.prior);
  std::vector<ComparisonVector> sample;
  for (int n = 0; n < 100000; ++n) {
    const bool match = is_match(rng);
    ComparisonVector v{};
    for (std::size_t f = 0; f < kFieldCount; ++f) {
      if (!std::bernoulli_distribution(present[f])(rng)) {
        v[f] = kMissing;
        continue;
      }
      std::vector<double> p;
      for (const auto& w : truth.levels[f]) p.push_back(match ? w.m : w.u);
      v[f] = draw(rng, p);
    }
    sample.push_back(v);
  }

  // Start from the shipped defaults, far from the truth.
  const auto r = estimate_weights(sample).value();
  EXPECT_TRUE(r.converged);
  EXPECT_NEAR(r.config.prior, truth.prior, 0.01);
  for (std::size_t f = 0; f < kFieldCount; ++f) {
    ASSERT_EQ(truth.levels[f].size(), level_names(static_cast<Field>(f)).size()) << field_name(static_cast<Field>(f));
    for (std::size_t l = 0; l < truth.levels[f].size(); ++l) {
      EXPECT_NEAR(r.config.levels[f][l].m, truth.levels[f][l].m, 0.02)
          << field_name(static_cast<Field>(f)) << " level " << l;
      EXPECT_NEAR(r.config.levels[f][l].u, truth.levels[f][l].u, 0.02)
          << field_name(static_cast<Field>(f)) << " level " << l;
    }
  }
  // The estimate keeps the thresholds and rules of the start configuration.
  EXPECT_DOUBLE_EQ(r.config.certain, MatchConfig::defaults().certain);
}

TEST(EstimateWeights, KeepsThePriorWhenAskedTo) {
  std::vector<ComparisonVector> sample(100, ComparisonVector{0, 0, 0, 0, 0, 0, 0, 0, 0, 0});
  sample.resize(1000, ComparisonVector{1, 3, 4, 4, 1, 4, 1, 1, 1, 1});
  EmOptions o;
  o.estimate_prior = false;
  const auto r = estimate_weights(sample, MatchConfig::defaults(), o).value();
  EXPECT_DOUBLE_EQ(r.config.prior, MatchConfig::defaults().prior);
}

TEST(EstimateWeights, RejectsAnEmptySample) { EXPECT_FALSE(estimate_weights(std::span<const ComparisonVector>{})); }

}  // namespace
}  // namespace ucr::mpi
