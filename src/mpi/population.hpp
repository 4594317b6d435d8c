// mpi/population: labelled synthetic test populations for measuring matching. Generates people (each
// held once in a "primary" system with a valid NHS number), look-alikes that are different people
// (twins, namesakes born the same day, parent and child of one name at one address), and corrupted copies
// of them as other source systems hold them (typos, nicknames, married surnames, moves, transposed dates,
// missing NHS numbers, ...) at configurable rates, with the truth: which records are the same person.
// Fictional data only. Deterministic: the same options (seed included) give the same population on every
// platform (the random numbers come from std::mt19937_64 with hand-written distributions). Pure; no state.
#pragma once

#include "core/error.hpp"
#include "mpi/record.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

namespace ucr::mpi {

/// Probabilities of each corruption, applied independently to every copy in another source system.
/// All in [0, 1]. Every person has a registered GP practice (98%, one of 3 per postcode district) and a
/// previous address: in the same district when the move kept the practice (1 - gp_moved), else anywhere.
struct CorruptionRates {
  double missing_nhs = 0.5;       ///< the copy holds no NHS number
  double nickname = 0.15;         ///< given name written as a short form (William -> Bill) when one is known
  double given_typo = 0.10;       ///< one keying error in the given name
  double middle_dropped = 0.3;    ///< middle name not held
  double married = 0.15;          ///< a woman born before 2000 holds another (married) surname
  double maiden_kept = 0.3;       ///< of those, the copy also keeps the old surname as a maiden name
  double family_typo = 0.10;      ///< one keying error in the family name (when not married)
  double transposed_date = 0.05;  ///< birth day and month swapped (when the day is 12 or less and differs)
  double date_typo = 0.05;        ///< birth day one digit off (when not transposed)
  double moved = 0.20;            ///< the copy holds another postcode than the primary record's current one
  double phone_changed = 0.15;    ///< another mobile number
  double phone_missing = 0.15;    ///< no phone (when not changed)
  double email_missing = 0.5;     ///< no e-mail
  double gender_missing = 0.05;   ///< no gender
  double moved_stale = 0.75;      ///< of moved copies, the copy is out of date: it holds the address the person moved
                                  ///< from (and the practice registered with then); else a newer address
  double gp_missing = 0.3;        ///< the copy holds no registered GP practice
  double gp_changed = 0.05;       ///< another practice in the same district without a move (re-registered)
  double gp_moved = 0.5;          ///< a move changed the GP practice (a move within the district keeps it)
};

/// What a population holds. The defaults make about 3,450 people and 2,070 corrupted copies.
struct PopulationOptions {
  std::size_t people = 3000;         ///< people generated independently (before look-alikes)
  std::uint64_t seed = 7;            ///< the same seed and options give the same population
  double copies_per_person = 0.6;    ///< mean corrupted copies per person (look-alikes included):
                                     ///< floor(c) each, one more with probability c - floor(c)
  double twin_rate = 0.067;          ///< share of people with a twin: same surname, birth date, address and
                                     ///< phone, another given name, gender at random
  double namesake_rate = 0.05;       ///< share of people with a namesake born the same day (same given and
                                     ///< family name and gender; another address, phone and NHS number)
  double parent_child_rate = 0.033;  ///< share of people born by 1985 with a child of the same name at the
                                     ///< same address and phone, born 18-35 years later
  double address_history = 0.8;      ///< share of primary records that keep the address the person lived at
                                     ///< before (Patient.address use "old" with a period), as PDS does
  CorruptionRates rates;

  /// Error `invalid` naming the option when a rate is outside [0, 1], copies_per_person outside [0, 20]
  /// or people is 0 or above 2,000,000.
  [[nodiscard]] core::Result<void> validate() const;
  /// {"people", "seed", "copies_per_person", "twin_rate", "namesake_rate", "parent_child_rate",
  ///  "address_history", "rates": {"missing_nhs", "nickname", ...}}, for reports.
  [[nodiscard]] boost::json::value to_json() const;
};

/// How a generated person relates to another one.
enum class Relation { kNone, kTwin, kNamesake, kParentChild };
/// "none", "twin", "namesake", "parent-child".
[[nodiscard]] std::string_view relation_code(Relation relation);

/// A generated person: a look-alike names the person it looks like (for reporting errors by cause).
struct SyntheticPerson {
  Relation relation = Relation::kNone;
  std::uint32_t relative = 0;  ///< the person this one is a look-alike of (when relation != kNone)
};

/// The truth about one generated Patient.
struct RecordLabel {
  std::uint32_t person = 0;  ///< index into the population's persons
  bool original = false;     ///< the primary-system record (uncorrupted, with NHS number), else a copy
};

/// A labelled population: records[i] belongs to persons[person_of[i]].
struct Population {
  PopulationOptions options;
  std::vector<SyntheticPerson> persons;
  std::vector<PatientRecord> records;  ///< extracted from the generated FHIR Patients (id "syn-<index>")
  std::vector<RecordLabel> labels;     ///< parallel to records

  [[nodiscard]] bool same_person(std::size_t a, std::size_t b) const { return labels[a].person == labels[b].person; }
  /// The relation of the people of two records (kNone when unrelated or the same person).
  [[nodiscard]] Relation relation(std::size_t a, std::size_t b) const;
  /// Pairs of records of one person: sum over persons of n(n-1)/2.
  [[nodiscard]] std::size_t true_pairs() const;
};

/// Called with each generated FHIR R4 Patient (id "syn-<index>", in order) and its truth.
using PatientSink = std::function<void(const boost::json::object& patient, const RecordLabel& label)>;

/// Generates the population as FHIR Patients: every person's primary record first, then the copies,
/// each person's copies together. Returns the persons. Errors: the options' validate().
[[nodiscard]] core::Result<std::vector<SyntheticPerson>> generate_patients(const PopulationOptions& options,
                                                                           const PatientSink& sink);

/// generate_patients, with each Patient read by record_from_patient.
[[nodiscard]] core::Result<Population> generate_population(const PopulationOptions& options);

}  // namespace ucr::mpi
