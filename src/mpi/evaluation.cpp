#include "mpi/evaluation.hpp"

#include "mpi/blocking.hpp"

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <unordered_map>

namespace ucr::mpi {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kProgressSteps = 100;
constexpr std::array<Grade, 4> kGrades = {Grade::kCertain, Grade::kProbable, Grade::kPossible, Grade::kCertainlyNot};
constexpr std::array<Relation, 4> kRelations = {Relation::kTwin, Relation::kNamesake, Relation::kParentChild,
                                                Relation::kNone};

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double ratio(std::size_t num, std::size_t den) {
  return den == 0 ? 1.0 : static_cast<double>(num) / static_cast<double>(den);
}

/// Calls progress about every 1% of total (and at the end).
class Stepper {
 public:
  Stepper(const ProgressFn& progress, std::string_view stage, std::size_t total)
      : progress_(progress), stage_(stage), total_(total), step_(std::max<std::size_t>(1, total / kProgressSteps)) {}
  void at(std::size_t done) const {
    if (progress_ && (done % step_ == 0 || done == total_)) progress_(stage_, done, total_);
  }

 private:
  const ProgressFn& progress_;
  std::string_view stage_;
  std::size_t total_;
  std::size_t step_;
};

/// 1234567 -> "1,234,567".
std::string grouped(std::size_t n) {
  auto digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

json::object counts_json(const LinkCounts& c) {
  return json::object{{"tp", c.true_positives},     {"fp", c.false_positives}, {"fn", c.false_negatives},
                      {"precision", c.precision()}, {"recall", c.recall()},    {"f1", c.f1()}};
}

}  // namespace

CandidatePairs candidate_pairs(std::span<const PatientRecord> records, const ProgressFn& progress) {
  const auto start = Clock::now();
  CandidatePairs out;
  const auto n = records.size();

  // The inverted index as compressed rows: each record's key ids, then each key's records (ascending).
  std::unordered_map<std::string, std::uint32_t> key_ids;
  std::vector<std::size_t> record_offsets(n + 1, 0);
  std::vector<std::uint32_t> record_keys;
  const Stepper keying(progress, "blocking", n);
  for (std::size_t i = 0; i < n; ++i) {
    for (auto& key : blocking_keys(records[i])) {
      const auto next_id = static_cast<std::uint32_t>(key_ids.size());
      record_keys.push_back(key_ids.try_emplace(std::move(key), next_id).first->second);
    }
    record_offsets[i + 1] = record_keys.size();
    keying.at(i + 1);
  }
  out.distinct_keys = key_ids.size();
  out.key_entries = record_keys.size();
  key_ids = {};

  std::vector<std::size_t> key_offsets(out.distinct_keys + 1, 0);
  for (const auto id : record_keys) ++key_offsets[id + 1];
  for (std::size_t k = 0; k < out.distinct_keys; ++k) {
    out.largest_block = std::max(out.largest_block, key_offsets[k + 1]);
    key_offsets[k + 1] += key_offsets[k];
  }
  std::vector<std::uint32_t> key_records(record_keys.size());
  {
    auto cursor = key_offsets;
    for (std::size_t i = 0; i < n; ++i) {
      for (auto r = record_offsets[i]; r < record_offsets[i + 1]; ++r) {
        key_records[cursor[record_keys[r]]++] = static_cast<std::uint32_t>(i);
      }
    }
  }

  // Each record's later partners across its keys, de-duplicated per record (no global set of pairs).
  std::vector<std::uint32_t> partners;
  for (std::size_t i = 0; i < n; ++i) {
    partners.clear();
    for (auto r = record_offsets[i]; r < record_offsets[i + 1]; ++r) {
      const auto id = record_keys[r];
      const auto* first = key_records.data() + key_offsets[id];
      const auto* last = key_records.data() + key_offsets[id + 1];
      partners.insert(partners.end(), std::upper_bound(first, last, static_cast<std::uint32_t>(i)), last);
    }
    std::sort(partners.begin(), partners.end());
    partners.erase(std::unique(partners.begin(), partners.end()), partners.end());
    for (const auto j : partners) out.pairs.emplace_back(static_cast<std::uint32_t>(i), j);
  }
  out.seconds = seconds_since(start);
  return out;
}

std::vector<ComparisonVector> compare_pairs(std::span<const PatientRecord> records, const CandidatePairs& candidates,
                                            const ProgressFn& progress) {
  std::vector<ComparisonVector> out;
  out.reserve(candidates.pairs.size());
  const Stepper stepper(progress, "comparing", candidates.pairs.size());
  for (const auto& [a, b] : candidates.pairs) {
    out.push_back(compare(records[a], records[b]));
    stepper.at(out.size());
  }
  return out;
}

double LinkCounts::precision() const { return ratio(true_positives, true_positives + false_positives); }
double LinkCounts::recall() const { return ratio(true_positives, true_positives + false_negatives); }
double LinkCounts::f1() const {
  const double p = precision();
  const double r = recall();
  return p + r == 0 ? 0.0 : 2 * p * r / (p + r);
}

double Evaluation::blocking_recall() const { return ratio(blocked_true_pairs, true_pairs); }
double Evaluation::pairs_per_second() const {
  return scoring_seconds > 0 ? static_cast<double>(candidate_pairs) / scoring_seconds : 0.0;
}

Evaluation evaluate(const Population& population, const CandidatePairs& candidates, const Matcher& matcher,
                    const EvaluationOptions& options) {
  const auto start = Clock::now();
  Evaluation e;
  e.records = population.records.size();
  e.persons = population.persons.size();
  e.true_pairs = population.true_pairs();
  e.candidate_pairs = candidates.pairs.size();
  e.distinct_keys = candidates.distinct_keys;
  e.largest_block = candidates.largest_block;
  e.blocking_seconds = candidates.seconds;

  std::map<std::pair<Grade, std::string_view>, ReasonCount> reasons;
  const Stepper stepper(options.progress, "scoring", candidates.pairs.size());
  std::size_t done = 0;
  for (const auto& [a, b] : candidates.pairs) {
    const auto& ra = population.records[a];
    const auto& rb = population.records[b];
    const bool same = population.same_person(a, b);
    const auto s = matcher.score(ra, rb);
    const auto g = static_cast<std::size_t>(s.grade);
    ++e.graded[g];
    if (same) {
      ++e.blocked_true_pairs;
      ++e.graded_same[g];
    } else if (s.grade == Grade::kCertain) {
      ++e.false_auto_by_relation[static_cast<std::size_t>(population.relation(a, b))];
      if (e.wrong_auto_links.size() < options.max_examples) e.wrong_auto_links.push_back(matcher.explain(ra, rb));
    } else if (s.grade != Grade::kCertainlyNot) {
      ++e.false_review_by_relation[static_cast<std::size_t>(population.relation(a, b))];
    }
    if (s.grade == Grade::kProbable || s.grade == Grade::kPossible) {
      auto& reason = reasons[{s.grade, s.cap}];
      ++(same ? reason.same_person : reason.different_people);
    }
    stepper.at(++done);
  }
  e.scoring_seconds = seconds_since(start);

  const auto certain = static_cast<std::size_t>(Grade::kCertain);
  const auto probable = static_cast<std::size_t>(Grade::kProbable);
  const auto possible = static_cast<std::size_t>(Grade::kPossible);
  e.auto_link.true_positives = e.graded_same[certain];
  e.auto_link.false_positives = e.graded[certain] - e.graded_same[certain];
  e.auto_link.false_negatives = e.true_pairs - e.auto_link.true_positives;
  e.review.true_positives = e.graded_same[probable] + e.graded_same[possible];
  e.review.false_positives = e.graded[probable] + e.graded[possible] - e.review.true_positives;
  e.review.false_negatives = e.true_pairs - e.auto_link.true_positives - e.review.true_positives;
  e.any_link.true_positives = e.auto_link.true_positives + e.review.true_positives;
  e.any_link.false_positives = e.auto_link.false_positives + e.review.false_positives;
  e.any_link.false_negatives = e.review.false_negatives;
  for (auto& [key, count] : reasons) {
    count.reason = fmt::format("{}: {}", grade_code(key.first), key.second.empty() ? "by score" : key.second);
    e.review_reasons.push_back(std::move(count));
  }
  std::sort(e.review_reasons.begin(), e.review_reasons.end(),
            [](const ReasonCount& x, const ReasonCount& y) { return x.reason < y.reason; });
  return e;
}

json::value Evaluation::to_json() const {
  json::object grades;
  for (const auto g : kGrades) {
    const auto i = static_cast<std::size_t>(g);
    grades[grade_code(g)] = json::object{{"pairs", graded[i]}, {"same_person", graded_same[i]}};
  }
  json::object by_relation;
  for (const auto r : kRelations) {
    const auto i = static_cast<std::size_t>(r);
    by_relation[relation_code(r)] =
        json::object{{"auto_link", false_auto_by_relation[i]}, {"review", false_review_by_relation[i]}};
  }
  json::array why;
  for (const auto& r : review_reasons) {
    why.push_back(
        json::object{{"reason", r.reason}, {"same_person", r.same_person}, {"different_people", r.different_people}});
  }
  json::array wrong;
  for (const auto& x : wrong_auto_links) wrong.push_back(x.to_json());
  return json::object{
      {"records", records},
      {"persons", persons},
      {"true_pairs", true_pairs},
      {"candidate_pairs", candidate_pairs},
      {"blocking", json::object{{"true_pairs_blocked", blocked_true_pairs},
                                {"recall", blocking_recall()},
                                {"distinct_keys", distinct_keys},
                                {"largest_block", largest_block},
                                {"pairs_per_record", ratio(candidate_pairs, records)}}},
      {"auto_link", counts_json(auto_link)},
      {"review", counts_json(review)},
      {"any_link", counts_json(any_link)},
      {"grades", std::move(grades)},
      {"false_links_by_relation", std::move(by_relation)},
      {"review_reasons", std::move(why)},
      {"wrong_auto_links", std::move(wrong)},
      {"timing", json::object{{"blocking_seconds", blocking_seconds},
                              {"scoring_seconds", scoring_seconds},
                              {"pairs_per_second", pairs_per_second()}}},
  };
}

std::string Evaluation::to_text() const {
  std::string out;
  auto line = [&out](const std::string& s) {
    out += s;
    out += '\n';
  };
  line(fmt::format("records     {} of {} people; {} true pairs (pairs of records of one person)", grouped(records),
                   grouped(persons), grouped(true_pairs)));
  line(
      fmt::format("blocking    {} candidate pairs ({:.2f} per record) from {} keys, largest block {}; "
                  "{} true pairs share a key: blocking recall {:.4f}",
                  grouped(candidate_pairs), ratio(candidate_pairs, records), grouped(distinct_keys),
                  grouped(largest_block), grouped(blocked_true_pairs), blocking_recall()));
  line(fmt::format("time        blocking {:.2f} s; scoring {:.2f} s, {} pairs/s", blocking_seconds, scoring_seconds,
                   grouped(static_cast<std::size_t>(pairs_per_second()))));
  line("");
  line(fmt::format("{:<30} {:>9} {:>9} {:>9} {:>10} {:>8} {:>8}", "decision", "TP", "FP", "FN", "precision", "recall",
                   "F1"));
  const auto row = [&](std::string_view name, const LinkCounts& c) {
    line(fmt::format("{:<30} {:>9} {:>9} {:>9} {:>10.4f} {:>8.4f} {:>8.4f}", name, grouped(c.true_positives),
                     grouped(c.false_positives), grouped(c.false_negatives), c.precision(), c.recall(), c.f1()));
  };
  row("auto-link (certain)", auto_link);
  row("review (probable, possible)", review);
  row("auto-link or review", any_link);
  line("  FN: auto-link = true pairs not graded certain; review = true pairs neither linked nor queued");
  line("");
  line(fmt::format("{:<30} {:>9} {:>12} {:>16}", "grade", "pairs", "same person", "different people"));
  for (const auto g : kGrades) {
    const auto i = static_cast<std::size_t>(g);
    line(fmt::format("{:<30} {:>9} {:>12} {:>16}", grade_code(g), grouped(graded[i]), grouped(graded_same[i]),
                     grouped(graded[i] - graded_same[i])));
  }
  line(fmt::format("{:<30} {:>9} {:>12} {:>16}", "(not blocked)", "", grouped(true_pairs - blocked_true_pairs), ""));
  line("");
  line(fmt::format("{:<30} {:>9} {:>12}", "different people, by relation", "auto-link", "review"));
  for (const auto r : kRelations) {
    const auto i = static_cast<std::size_t>(r);
    line(fmt::format("{:<30} {:>9} {:>12}", r == Relation::kNone ? "unrelated" : relation_code(r),
                     grouped(false_auto_by_relation[i]), grouped(false_review_by_relation[i])));
  }
  if (!review_reasons.empty()) {
    line("");
    line(fmt::format("{:<100} {:>6} {:>9}", "review queue, by reason", "same", "different"));
    for (const auto& r : review_reasons) {
      line(fmt::format("  {:<98} {:>6} {:>9}", r.reason, grouped(r.same_person), grouped(r.different_people)));
    }
  }
  for (const auto& w : wrong_auto_links) line("wrong auto-link: " + json::serialize(w.to_json()));
  return out;
}

}  // namespace ucr::mpi
