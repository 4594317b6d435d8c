// Candidate pairs from blocking keys, and the evaluation's counts, on small generated populations.
#include "mpi/evaluation.hpp"
#include "mpi/blocking.hpp"
#include "mpi/population.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ucr::mpi {
namespace {

namespace json = boost::json;

Population small(std::size_t people, std::uint64_t seed = 3) {
  PopulationOptions o;
  o.people = people;
  o.seed = seed;
  return generate_population(o).value();
}

TEST(CandidatePairs, ExactlyThePairsSharingAKey) {
  const auto pop = small(400);
  const auto c = candidate_pairs(pop.records);
  // Brute force over all pairs, only here: keys as sorted sets.
  std::vector<std::vector<std::string>> keys;
  std::set<std::string> distinct;
  std::size_t entries = 0;
  for (const auto& r : pop.records) {
    keys.push_back(blocking_keys(r));
    entries += keys.back().size();
    distinct.insert(keys.back().begin(), keys.back().end());
  }
  std::vector<std::pair<std::uint32_t, std::uint32_t>> expected;
  for (std::uint32_t i = 0; i < keys.size(); ++i) {
    for (std::uint32_t j = i + 1; j < keys.size(); ++j) {
      std::vector<std::string> shared;
      std::set_intersection(keys[i].begin(), keys[i].end(), keys[j].begin(), keys[j].end(), std::back_inserter(shared));
      if (!shared.empty()) expected.emplace_back(i, j);
    }
  }
  EXPECT_EQ(c.pairs, expected);
  EXPECT_EQ(c.distinct_keys, distinct.size());
  EXPECT_EQ(c.key_entries, entries);
  EXPECT_GE(c.largest_block, 2U);
}

TEST(CandidatePairs, EmptyAndSingleRecord) {
  EXPECT_TRUE(candidate_pairs({}).pairs.empty());
  const auto pop = small(1);
  const auto c = candidate_pairs(std::span(pop.records).first(1));
  EXPECT_TRUE(c.pairs.empty());
  EXPECT_GT(c.distinct_keys, 0U);
}

TEST(LinkCounts, PrecisionRecallF1) {
  const LinkCounts c{90, 10, 30};
  EXPECT_DOUBLE_EQ(c.precision(), 0.9);
  EXPECT_DOUBLE_EQ(c.recall(), 0.75);
  EXPECT_NEAR(c.f1(), 2 * 0.9 * 0.75 / 1.65, 1e-12);
  const LinkCounts none{};
  EXPECT_DOUBLE_EQ(none.precision(), 1.0);
  EXPECT_DOUBLE_EQ(none.recall(), 1.0);
  const LinkCounts wrong{0, 5, 5};
  EXPECT_DOUBLE_EQ(wrong.f1(), 0.0);
}

TEST(Evaluate, CountsAddUp) {
  const auto pop = small(1500);
  const auto c = candidate_pairs(pop.records);
  std::size_t last_done = 0;
  std::size_t last_total = 0;
  EvaluationOptions options;
  options.progress = [&](std::string_view stage, std::size_t done, std::size_t total) {
    EXPECT_EQ(stage, "scoring");
    EXPECT_GE(done, last_done);
    last_done = done;
    last_total = total;
  };
  const auto e = evaluate(pop, c, Matcher(), options);
  EXPECT_EQ(last_done, c.pairs.size());
  EXPECT_EQ(last_total, c.pairs.size());

  EXPECT_EQ(e.records, pop.records.size());
  EXPECT_EQ(e.persons, pop.persons.size());
  EXPECT_EQ(e.true_pairs, pop.true_pairs());
  EXPECT_EQ(e.candidate_pairs, c.pairs.size());
  std::size_t graded = 0;
  std::size_t same = 0;
  for (std::size_t g = 0; g < 4; ++g) {
    graded += e.graded[g];
    same += e.graded_same[g];
  }
  EXPECT_EQ(graded, e.candidate_pairs);
  EXPECT_EQ(same, e.blocked_true_pairs);
  EXPECT_EQ(e.auto_link.true_positives + e.auto_link.false_negatives, e.true_pairs);
  EXPECT_EQ(e.any_link.true_positives + e.any_link.false_negatives, e.true_pairs);
  EXPECT_EQ(e.auto_link.true_positives + e.review.true_positives + e.review.false_negatives, e.true_pairs);
  std::size_t reasons = 0;
  for (const auto& r : e.review_reasons) reasons += r.same_person + r.different_people;
  EXPECT_EQ(reasons, e.review.true_positives + e.review.false_positives);
  // The default rules never auto-link different people here.
  EXPECT_EQ(e.auto_link.false_positives, 0U);
  EXPECT_TRUE(e.wrong_auto_links.empty());
  EXPECT_GT(e.auto_link.recall(), 0.85);
  EXPECT_GT(e.blocking_recall(), 0.98);

  const auto j = e.to_json().as_object();
  EXPECT_EQ(j.at("candidate_pairs").to_number<std::size_t>(), e.candidate_pairs);
  EXPECT_EQ(j.at("auto_link").at("tp").to_number<std::size_t>(), e.auto_link.true_positives);
  EXPECT_TRUE(j.at("grades").as_object().contains("certainly-not"));
  EXPECT_TRUE(j.at("false_links_by_relation").as_object().contains("twin"));
  const auto text = e.to_text();
  EXPECT_NE(text.find("auto-link (certain)"), std::string::npos);
  EXPECT_NE(text.find("blocking recall"), std::string::npos);
}

TEST(Evaluate, SameInputSameCounts) {
  const auto pop = small(800, 5);
  const auto c = candidate_pairs(pop.records);
  const auto a = evaluate(pop, c, Matcher());
  const auto b = evaluate(pop, c, Matcher());
  EXPECT_EQ(a.graded, b.graded);
  EXPECT_EQ(a.graded_same, b.graded_same);
  EXPECT_EQ(a.false_review_by_relation, b.false_review_by_relation);
}

TEST(Evaluate, AMatcherThatLinksEverythingIsCaughtAndExplained) {
  const auto pop = small(300);
  const auto c = candidate_pairs(pop.records);
  auto config = MatchConfig::defaults();
  config.certain = 0;
  config.probable = 0;
  config.possible = 0;
  config.nhs_disagreement_vetoes = false;
  config.certain_needs_corroboration = false;
  EvaluationOptions options;
  options.max_examples = 3;
  const auto e = evaluate(pop, c, Matcher(config), options);
  EXPECT_EQ(e.graded[static_cast<std::size_t>(Grade::kCertain)], e.candidate_pairs);
  EXPECT_EQ(e.auto_link.false_positives, e.candidate_pairs - e.blocked_true_pairs);
  EXPECT_LT(e.auto_link.precision(), 0.9);
  EXPECT_EQ(e.auto_link.true_positives, e.blocked_true_pairs);
  EXPECT_EQ(e.review.true_positives + e.review.false_positives, 0U);
  ASSERT_EQ(e.wrong_auto_links.size(), 3U);
  EXPECT_EQ(e.wrong_auto_links[0].fields.size(), kFieldCount);
  std::size_t by_relation = 0;
  for (const auto n : e.false_auto_by_relation) by_relation += n;
  EXPECT_EQ(by_relation, e.auto_link.false_positives);
}

TEST(Evaluate, CleanCopiesAreAllAutoLinked) {
  PopulationOptions o;
  o.people = 500;
  o.copies_per_person = 1;
  o.twin_rate = 0;
  o.namesake_rate = 0;
  o.parent_child_rate = 0;
  o.rates = CorruptionRates{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const auto pop = generate_population(o).value();
  const auto e = evaluate(pop, candidate_pairs(pop.records), Matcher());
  EXPECT_EQ(e.true_pairs, 500U);
  EXPECT_EQ(e.auto_link.true_positives, 500U);
  EXPECT_EQ(e.auto_link.false_positives, 0U);
  EXPECT_DOUBLE_EQ(e.auto_link.f1(), 1.0);
}

TEST(CompareCandidatePairs, OneVectorPerPairInOrder) {
  const auto pop = small(200);
  const auto c = candidate_pairs(pop.records);
  const auto v = compare_pairs(pop.records, c);
  ASSERT_EQ(v.size(), c.pairs.size());
  for (std::size_t i = 0; i < v.size(); i += 7) {
    EXPECT_EQ(v[i], compare(pop.records[c.pairs[i].first], pop.records[c.pairs[i].second]));
  }
}

}  // namespace
}  // namespace ucr::mpi
