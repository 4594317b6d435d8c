// mpi/matcher: Fellegi-Sunter probabilistic scoring of two PatientRecords, with graded field
// comparisons, m/u weights held in a MatchConfig (JSON), grades, explanations and EM estimation of
// the weights. A Matcher is immutable after construction; share it freely between threads.
#pragma once

#include "core/error.hpp"
#include "mpi/record.hpp"

#include <boost/json/value.hpp>

#include <array>
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ucr::mpi {

/// The compared fields, in the order of a ComparisonVector.
enum class Field {
  kNhsNumber,
  kFamilyName,
  kGivenName,
  kBirthDate,
  kGender,
  kPostcode,
  kPhone,
  kEmail,
  kLocalId,
  kGpPractice
};
inline constexpr std::size_t kFieldCount = 10;

/// Configuration name of a field: "nhs_number", "family_name", "given_name", "birth_date", "gender",
/// "postcode", "phone", "email", "local_id", "gp_practice".
[[nodiscard]] std::string_view field_name(Field field);

/// The agreement levels of a field, best first; the last is always "disagree".
///  nhs_number: exact, disagree                  family_name: exact, close, phonetic, disagree
///  given_name: exact, variant (nickname), close, partial (an initial, or a middle name), disagree
///  birth_date: exact, transposed, one_digit, partial, disagree
///  gender, phone, email, local_id, gp_practice: exact, disagree
///  postcode: exact (current addresses), previous (one record's postcode is a previous address of the
///            other, or both held it before), sector, district (current addresses), disagree
[[nodiscard]] std::span<const std::string_view> level_names(Field field);

/// Level of one field in a comparison: an index into level_names, or kMissing when either side lacks it.
inline constexpr int kMissing = -1;
/// One level per field (index = static_cast<size_t>(Field)).
using ComparisonVector = std::array<int, kFieldCount>;

/// Compares two records field by field; multi-valued fields take their best-agreeing pair of values.
[[nodiscard]] ComparisonVector compare(const PatientRecord& a, const PatientRecord& b);

/// P(level | match) and P(level | non-match), given that both records hold the field.
struct LevelWeight {
  double m = 0.5;
  double u = 0.5;
};

/// FHIR match-grade codes (http://hl7.org/fhir/StructureDefinition/match-grade), best first.
enum class Grade { kCertain, kProbable, kPossible, kCertainlyNot };
/// "certain", "probable", "possible", "certainly-not".
[[nodiscard]] std::string_view grade_code(Grade grade);

/// Weights, prior and thresholds. The defaults are data/mpi/match-config.json (compiled in).
struct MatchConfig {
  /// m/u per field and level, parallel to level_names(field).
  std::array<std::vector<LevelWeight>, kFieldCount> levels;
  /// Prior probability that a compared (blocked) pair is a match; the score is the posterior.
  double prior = 1e-3;
  double certain = 0.999;  ///< score >= certain: link automatically
  double probable = 0.9;   ///< score >= probable: review queue, likely
  double possible = 0.5;   ///< score >= possible: review queue; below: certainly-not
  /// Different valid NHS numbers make the pair certainly-not unless every other field agrees exactly
  /// (then possible, for review): two people must never be merged silently.
  bool nhs_disagreement_vetoes = true;
  /// Without an agreeing NHS number, "certain" also needs an agreeing given name (exact/variant/close),
  /// birth date (exact/transposed/one_digit), no gender disagreement, and one of postcode (exact, or a
  /// previous address of either record), phone, e-mail or local id (or the GP practice, see below);
  /// otherwise the grade is capped at probable, or at possible when the given names or birth dates disagree
  /// outright. Guards twins, namesakes born the same day, and parent and child.
  bool certain_needs_corroboration = true;
  /// Also accept the registered GP practice as corroboration, with the same family name (exact or close),
  /// the exact birth date and no conflicting phone. Off by default: on the generated populations a
  /// namesake born the same day at the same practice is about 1 in 300 namesakes, and the pairs it
  /// would add are 97-99% precise, short of what "certain" (0.999) promises. Turn it on where same-day
  /// namesakes are known to be rarer.
  bool gp_practice_corroborates = false;

  /// The shipped defaults.
  [[nodiscard]] static const MatchConfig& defaults();
  /// log2(m / u) of a level; 0 for kMissing.
  [[nodiscard]] double weight(Field field, int level) const;
  /// {"prior", "thresholds": {certain, probable, possible}, "rules": {...}, "fields": {name: {level: {m, u}}}}
  [[nodiscard]] boost::json::value to_json() const;
  /// Reads the JSON form; absent fields, levels and settings keep their defaults. Errors: unknown field
  /// or level names, probabilities outside (0, 1], thresholds not ordered certain >= probable >= possible.
  [[nodiscard]] static core::Result<MatchConfig> from_json(const boost::json::value& json);
};

/// The outcome of scoring one pair.
struct MatchScore {
  double weight = 0;  ///< sum of log2(m/u) over the fields both records hold
  double score = 0;   ///< posterior match probability in [0, 1], lowered below a grade when capped
  Grade grade = Grade::kCertainlyNot;
  std::string_view cap;  ///< why the grade was capped by a rule (static text), empty when not
  /// Without an agreeing NHS number: what corroborated the identity besides name, birth date and
  /// gender ("postcode", "phone", "email", "local id", "previous address", "gp practice"), empty when
  /// nothing did.
  std::string_view corroboration;
};

/// One field's part in a score, for people to read.
struct FieldExplanation {
  Field field = Field::kNhsNumber;
  std::string_view level;  ///< level name, or "missing"
  std::string a;           ///< the value compared from the first record ("" when absent)
  std::string b;           ///< the value compared from the second record
  double weight = 0;       ///< log2(m/u) contributed
};

struct Explanation {
  MatchScore result;
  std::vector<FieldExplanation> fields;  ///< one per Field, in Field order
  /// {"score", "weight", "grade", "cap"?, "corroboration"?, "fields": [{"field", "level", "a", "b", "weight"}]}
  [[nodiscard]] boost::json::value to_json() const;
};

class Matcher {
 public:
  explicit Matcher(MatchConfig config = MatchConfig::defaults()) : config_(std::move(config)) {}

  [[nodiscard]] const MatchConfig& config() const { return config_; }
  [[nodiscard]] MatchScore score(const ComparisonVector& comparison) const;
  [[nodiscard]] MatchScore score(const PatientRecord& a, const PatientRecord& b) const { return score(compare(a, b)); }
  /// score() with each field's level, values and weight.
  [[nodiscard]] Explanation explain(const PatientRecord& a, const PatientRecord& b) const;

 private:
  MatchConfig config_;
};

/// Settings of estimate_weights.
struct EmOptions {
  int max_iterations = 500;
  double tolerance = 1e-7;     ///< stop when no parameter moves more than this
  bool estimate_prior = true;  ///< otherwise the start prior is kept
  double floor = 1e-6;         ///< probabilities are kept within [floor, 1 - floor]
};

struct EmResult {
  MatchConfig config;  ///< `start` with m, u (and prior) replaced by the estimates
  int iterations = 0;
  bool converged = false;
  double log_likelihood = 0;
};

/// Expectation-Maximisation of m, u and the prior over comparison vectors of a sample of candidate
/// pairs, under the conditional-independence assumption of Fellegi-Sunter. Starts from `start`
/// (which also fixes which class is "match": the one whose agreement levels are likelier).
/// Source: Winkler, "Using the EM algorithm for weight computation in the Fellegi-Sunter model of
/// record linkage" (1988). Error `invalid` when the sample is empty.
[[nodiscard]] core::Result<EmResult> estimate_weights(std::span<const ComparisonVector> sample,
                                                      const MatchConfig& start = MatchConfig::defaults(),
                                                      const EmOptions& options = {});
/// The same over pairs of records (compared first).
[[nodiscard]] core::Result<EmResult> estimate_weights(std::span<const std::pair<PatientRecord, PatientRecord>> pairs,
                                                      const MatchConfig& start = MatchConfig::defaults(),
                                                      const EmOptions& options = {});

}  // namespace ucr::mpi
