// mpi/evaluation: measures blocking and scoring on a labelled Population. Candidate pairs come from
// grouping records by their blocking keys (never all pairs); each pair is graded by a Matcher and
// counted against the truth: certain = auto-link, probable/possible = review queue, certainly-not =
// new person. Pure functions over values; a Matcher may be shared between threads.
#pragma once

#include "mpi/matcher.hpp"
#include "mpi/population.hpp"
#include "mpi/record.hpp"

#include <boost/json/value.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ucr::mpi {

/// Reports progress of a long stage ("blocking", "scoring", "comparing"): done of total units.
using ProgressFn = std::function<void(std::string_view stage, std::size_t done, std::size_t total)>;

/// The pairs of records that share at least one blocking key.
struct CandidatePairs {
  std::vector<std::pair<std::uint32_t, std::uint32_t>> pairs;  ///< first < second, sorted, distinct
  std::size_t distinct_keys = 0;                               ///< distinct blocking keys
  std::size_t key_entries = 0;                                 ///< (record, key) rows an index would hold
  std::size_t largest_block = 0;                               ///< most records sharing one key
  double seconds = 0;                                          ///< time taken (keys, grouping, pairing)
};

/// Groups the records by blocking_keys (an inverted index from key to records) and lists every pair of
/// records sharing a key, each once. Cost: the sum over keys of (records with the key)^2.
[[nodiscard]] CandidatePairs candidate_pairs(std::span<const PatientRecord> records, const ProgressFn& progress = {});

/// The comparison vector of every candidate pair (in order), e.g. as the sample for estimate_weights.
[[nodiscard]] std::vector<ComparisonVector> compare_pairs(std::span<const PatientRecord> records,
                                                          const CandidatePairs& candidates,
                                                          const ProgressFn& progress = {});

/// Confusion counts of one decision, over pairs of records.
struct LinkCounts {
  std::size_t true_positives = 0;          ///< pairs given this decision that are one person
  std::size_t false_positives = 0;         ///< pairs given this decision that are two people
  std::size_t false_negatives = 0;         ///< pairs of one person this decision should have caught (see Evaluation)
  [[nodiscard]] double precision() const;  ///< TP / (TP + FP); 1 when nothing was predicted
  [[nodiscard]] double recall() const;     ///< TP / (TP + FN); 1 when there was nothing to find
  [[nodiscard]] double f1() const;         ///< harmonic mean of precision and recall
};

struct EvaluationOptions {
  std::size_t max_examples = 5;  ///< wrong auto-links kept with their explanation
  ProgressFn progress;           ///< called about every 1% of the pairs ("scoring")
};

/// A review-queue or auto-link outcome by cause, for reading: e.g. "probable: no NHS number match and ...".
struct ReasonCount {
  std::string reason;  ///< "<grade>: <cap>" or "<grade>: by score"
  std::size_t same_person = 0;
  std::size_t different_people = 0;
};

/// The outcome of evaluate().
struct Evaluation {
  std::size_t records = 0;
  std::size_t persons = 0;
  std::size_t true_pairs = 0;          ///< pairs of records of one person
  std::size_t candidate_pairs = 0;     ///< pairs sharing a blocking key (all scored)
  std::size_t blocked_true_pairs = 0;  ///< true pairs among the candidates
  std::size_t distinct_keys = 0;
  std::size_t largest_block = 0;

  /// certain: TP/FP as graded; FN = true pairs not graded certain (unblocked included).
  LinkCounts auto_link;
  /// probable or possible: TP/FP as graded; FN = true pairs neither auto-linked nor queued (graded
  /// certainly-not or never blocked), so recall = share of the pairs left by auto-linking that review catches.
  LinkCounts review;
  /// certain, probable or possible: what a machine or a person will look at; FN = true pairs missed.
  LinkCounts any_link;
  /// Candidate pairs per grade (index = Grade) and how many of them are one person.
  std::array<std::size_t, 4> graded{};
  std::array<std::size_t, 4> graded_same{};
  /// Different-people pairs per relation (index = Relation) graded certain / probable-or-possible.
  std::array<std::size_t, 4> false_auto_by_relation{};
  std::array<std::size_t, 4> false_review_by_relation{};
  std::vector<ReasonCount> review_reasons;    ///< sorted by reason
  std::vector<Explanation> wrong_auto_links;  ///< the first max_examples false auto-links, explained

  double blocking_seconds = 0;
  double scoring_seconds = 0;                     ///< comparing and grading every candidate pair
  [[nodiscard]] double blocking_recall() const;   ///< blocked_true_pairs / true_pairs
  [[nodiscard]] double pairs_per_second() const;  ///< candidate pairs / scoring_seconds

  /// {"records", "persons", "true_pairs", "candidate_pairs", "blocking": {...}, "auto_link": {tp, fp, fn,
  ///  precision, recall, f1}, "review": {...}, "any_link": {...}, "grades": {...}, "false_links_by_relation",
  ///  "review_reasons", "wrong_auto_links", "timing": {...}}
  [[nodiscard]] boost::json::value to_json() const;
  /// A table for people to read (several lines, ending in a newline).
  [[nodiscard]] std::string to_text() const;
};

/// Grades every candidate pair of the population with `matcher` and counts the outcomes against the truth.
/// `candidates` must come from candidate_pairs(population.records).
[[nodiscard]] Evaluation evaluate(const Population& population, const CandidatePairs& candidates,
                                  const Matcher& matcher, const EvaluationOptions& options = {});

}  // namespace ucr::mpi
