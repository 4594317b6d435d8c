// One person's synthetic record: demographics, long-term conditions at calibrated prevalence,
// medicines, allergies, observations with trends, primary, urgent, community and hospital care,
// referrals, immunisations, flags and care plans, and source-system duplicates for matching.
#include "demo/demo.hpp"
#include "demo/detail/build.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bitset>
#include <cmath>
#include <optional>

namespace ucr::demo::detail {
namespace {

constexpr std::uint64_t kStreamPerson = 1;
/// Letters draw on their own stream, so adding them leaves the rest of each record as it was.
constexpr std::uint64_t kStreamDocuments = 4;

/// The demo's "today": records run up to the end of 2025 and ages are as at 1 January 2026.
constexpr std::int64_t kToday = days_from_civil(2026, 1, 1);
constexpr std::int64_t kWindowStart = days_from_civil(2021, 1, 1);
constexpr double kYears = static_cast<double>(kToday - kWindowStart) / 365.25;

constexpr std::string_view kActCode = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
constexpr std::string_view kObsCategory = "http://terminology.hl7.org/CodeSystem/observation-category";
constexpr std::string_view kConditionClinical = "http://terminology.hl7.org/CodeSystem/condition-clinical";
constexpr std::string_view kConditionVerification = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
constexpr std::string_view kConditionCategory = "http://terminology.hl7.org/CodeSystem/condition-category";
constexpr std::string_view kFlagCategory = "http://terminology.hl7.org/CodeSystem/flag-category";
constexpr std::string_view kParticipationType = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";

enum class DuplicateKind { kNoNhsNumber, kSurnameTypo, kNickname, kDobTransposed, kOldAddress };
constexpr std::array<std::string_view, 5> kDuplicateKindNames = {"no-nhs-number", "surname-typo", "nickname",
                                                                 "dob-transposed", "old-address"};
constexpr std::array<double, 5> kDuplicateKindWeights = {35, 20, 15, 15, 15};

struct Active {
  Ltc ltc;
  std::string url;  ///< the Condition's urn:uuid
  std::int64_t onset;
};

struct Baseline {
  double systolic = 120;
  double heart_rate = 72;
  double height_cm = 170;
  double bmi = 26;
  double hba1c = 38;
  double egfr = 95;
  double cholesterol = 5.2;
};

class PersonBuilder {
 public:
  PersonBuilder(const Directory& d, std::uint64_t seed, std::size_t n)
      : d_(d), seed_(seed), n_(n), rng_(derive_seed(seed, kStreamPerson, n)) {}

  json::array build() {
    demographics();
    conditions();
    placement();
    patient();
    allergies();
    medicines();
    baseline_observations();
    reviews();
    primary_care();
    urgent_and_hospital_care();
    referrals();
    community_care();
    immunisations();
    flags();
    duplicates();
    documents();
    interpret_results();
    return std::move(entries_);
  }

 private:
  // --- basics ----------------------------------------------------------------------------------

  std::string uuid() {
    const std::uint64_t a = mix64(derive_seed(seed_, n_ + 0x51ed270b27aa1ULL, uuid_counter_));
    const std::uint64_t b = mix64(a ^ (++uuid_counter_ * 0x9e3779b97f4a7c15ULL));
    return fmt::format("urn:uuid:{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}", a >> 32U, (a >> 16U) & 0xffffU, a & 0xfffU,
                       0x8000U | ((b >> 48U) & 0x3fffU), b & 0xffffffffffffULL);
  }

  void add(const std::string& url, json::object r) { entries_.push_back(post_entry(url, std::move(r))); }

  /// A day in [from, to] (to inclusive; from > to gives from).
  std::int64_t day_between(std::int64_t from, std::int64_t to) {
    if (to <= from) return from;
    return from + static_cast<std::int64_t>(rng_.below(static_cast<std::size_t>(to - from + 1)));
  }

  [[nodiscard]] int age_on(std::int64_t day) const {
    const Civil b = civil_from_days(birth_);
    const Civil c = civil_from_days(day);
    int age = c.year - b.year;
    if (c.month < b.month || (c.month == b.month && c.day < b.day)) --age;
    return age;
  }

  [[nodiscard]] std::int64_t birthday(int years) const {
    const Civil b = civil_from_days(birth_);
    return days_from_civil(b.year + years, b.month, std::min(b.day, 28));
  }

  [[nodiscard]] bool has(Ltc c) const { return ltcs_.test(static_cast<std::size_t>(c)); }

  [[nodiscard]] const Active* active(Ltc c) const {
    for (const auto& a : active_) {
      if (a.ltc == c) return &a;
    }
    return nullptr;
  }

  /// First day of care in the window (the later of the window start and birth).
  [[nodiscard]] std::int64_t first_day() const { return std::max(kWindowStart, birth_ + 1); }

  /// The part of the window the person was alive for (1 for everyone born before it).
  [[nodiscard]] double window_share() const {
    return static_cast<double>(kToday - first_day()) / static_cast<double>(kToday - kWindowStart);
  }

  int clinic_minute() { return 8 * 60 + 10 * static_cast<int>(rng_.below(54)); }

  // --- who -------------------------------------------------------------------------------------

  void demographics() {
    const std::size_t band = rng_.weighted(kAgeBandShare);
    int age = static_cast<int>(band) * 5 + static_cast<int>(rng_.below(5));
    if (band + 1 == kAgeBandShare.size())
      age = 90 + std::min(15, static_cast<int>(-std::log(1 - rng_.uniform()) * 3.5));
    female_ = rng_.chance(kAgeBandFemale.at(band));
    birth_ = kToday - 1 - static_cast<std::int64_t>(age) * 365 - age / 4 - static_cast<std::int64_t>(rng_.below(365));
    age_ = age_on(kToday);
    const int year = civil_from_days(birth_).year;
    const std::size_t era = year < 1960 ? 0 : (year < 1990 ? 1 : 2);

    std::array<double, kNamePools.size()> pool_weights{};
    for (std::size_t i = 0; i < kNamePools.size(); ++i) pool_weights.at(i) = kNamePools.at(i).weight;
    pool_ = &kNamePools.at(rng_.weighted(pool_weights));
    if (pool_ == kNamePools.data()) {
      // British surnames: Zipf-like, so Smith is common and Relf is rare.
      std::array<double, kBritishFamily.size()> w{};
      for (std::size_t i = 0; i < w.size(); ++i) w.at(i) = 1.0 / (static_cast<double>(i) + 4);
      family_ = kBritishFamily.at(rng_.weighted(w));
    } else {
      family_ = pool_->family[rng_.below(pool_->family.size())];
    }
    const auto& givens = female_ ? pool_->female.at(era) : pool_->male.at(era);
    given_ = givens[rng_.below(givens.size())];
    if (rng_.chance(0.35)) {
      const std::string_view middle = givens[rng_.below(givens.size())];
      if (middle != given_) middle_ = middle;
    }

    std::array<double, kLocalities.size()> lw{};
    for (std::size_t i = 0; i < kLocalities.size(); ++i) lw.at(i) = kLocalities.at(i).population;
    locality_ = rng_.weighted(lw);
    const Locality& loc = kLocalities.at(locality_);
    std::vector<double> tw;
    for (const Town& t : loc.towns) tw.push_back(t.weight);
    town_ = &loc.towns[rng_.weighted(tw)];
    std::size_t districts = 0;
    while (districts < town_->districts.size() && !town_->districts.at(districts).empty()) ++districts;
    postcode_ = fmt::format("{} {}{}", town_->districts.at(rng_.below(districts)), rng_.below(10), letters(2));
    line_ = fmt::format("{} {}", 1 + rng_.below(150), kStreets.at(rng_.below(kStreets.size())));

    const auto& practices = d_.practices_by_locality.at(locality_);
    practice_ = &d_.practices.at(practices.at(rng_.below(practices.size())));
    gp_ = practice_->gps.at(rng_.below(practice_->gps.size()));
    pharmacy_ = d_.pharmacies.at(locality_).at(rng_.below(d_.pharmacies.at(locality_).size()));
    patient_url_ = uuid();
  }

  std::string letters(int count) {
    static constexpr std::string_view kLetters = "ABDEFGHJLNPQRSTUWXYZ";
    std::string s;
    for (int i = 0; i < count; ++i) s += kLetters[rng_.below(kLetters.size())];
    return s;
  }

  void conditions() {
    for (std::size_t c = 0; c < kLtcs.size(); ++c) {
      const double p = ltc_probability(d_, c, age_, female_);
      if (p > 0 && rng_.chance(p)) ltcs_.set(c);
    }
    if (has(Ltc::kDiabetesType1) && has(Ltc::kDiabetesType2))
      ltcs_.reset(static_cast<std::size_t>(Ltc::kDiabetesType1));
  }

  void placement() {
    // Care-home residents: about 15% of people over 85 (ONS Census 2021, older people in care
    // homes), fewer below; more with dementia.
    double p = age_ >= 85 ? 0.14 : (age_ >= 75 ? 0.03 : (age_ >= 65 ? 0.005 : 0));
    if (has(Ltc::kDementia)) p *= 3;
    const auto& homes = d_.care_homes.at(locality_);
    if (!homes.empty() && rng_.chance(p)) care_home_ = &homes.at(rng_.below(homes.size()));
    needs_interpreter_ = !pool_->language.empty() && age_ >= 16 && rng_.chance(age_ >= 40 ? 0.3 : 0.1);
  }

  json::object patient_resource(bool with_nhs_number) {
    json::object p;
    p["resourceType"] = "Patient";
    json::object meta;
    meta["tag"] = json::array{coding(kPersonTagSystem, std::to_string(n_), "")};
    p["meta"] = std::move(meta);
    json::array ids;
    const std::string nhs = test_nhs_number(n_);
    if (with_nhs_number && !nhs.empty()) ids.push_back(identifier(kNhsNumber, nhs));
    p["identifier"] = std::move(ids);
    p["active"] = true;
    json::object name;
    name["use"] = "official";
    name["family"] = family_;
    json::array given{given_};
    if (!middle_.empty()) given.emplace_back(middle_);
    name["given"] = std::move(given);
    name["prefix"] = json::array{age_ < 18 ? (female_ ? "Miss" : "Master") : (female_ ? "Mrs" : "Mr")};
    p["name"] = json::array{std::move(name)};
    p["gender"] = female_ ? "female" : "male";
    p["birthDate"] = format_date(birth_);
    json::object a;
    a["use"] = "home";
    if (care_home_ != nullptr) {
      a["line"] = json::array{care_home_->name};
      a["city"] = care_home_->town;
      a["postalCode"] = care_home_->postcode;
    } else {
      a["line"] = json::array{line_};
      a["city"] = town_->name;
      a["postalCode"] = postcode_;
    }
    a["district"] = "Kent";
    a["country"] = "GB";
    p["address"] = json::array{std::move(a)};
    return p;
  }

  void patient() {
    json::object p = patient_resource(true);
    if (age_ >= 16 && care_home_ == nullptr) {
      // Ofcom's drama range (07700 900000-900999): never a real number.
      p["telecom"] = json::array{json::object{
          {"system", "phone"}, {"value", fmt::format("07700 900{:03}", rng_.below(1000))}, {"use", "mobile"}}};
    }
    p["generalPractitioner"] = json::array{link("Organization", practice_->id), link("Practitioner", gp_)};
    p["managingOrganization"] = link("Organization", practice_->id);
    if (needs_interpreter_) {
      p["communication"] = json::array{json::object{
          {"language", codeable("urn:ietf:bcp:47", pool_->language, pool_->language_name)}, {"preferred", true}}};
    }
    add(patient_url_, std::move(p));

    for (std::size_t c = 0; c < kLtcs.size(); ++c) {
      if (!ltcs_.test(c)) continue;
      const LtcDef& def = kLtcs.at(c);
      // Years since diagnosis: exponential, mean 8 years, no earlier than the register's age.
      const int min_onset = std::max(def.min_age, c == static_cast<std::size_t>(Ltc::kAsthma) ? 2 : def.min_age);
      const double years = std::min(
          static_cast<double>(std::max(0, age_ - min_onset)),
          -std::log(1 - rng_.uniform()) * (c == static_cast<std::size_t>(Ltc::kLearningDisability) ? 30.0 : 8.0));
      std::int64_t onset =
          kToday - 1 - static_cast<std::int64_t>(years * 365.25) - static_cast<std::int64_t>(rng_.below(60));
      onset = std::max(onset, birth_ + 1);
      Coded code{def.code, def.display};
      if (c == static_cast<std::size_t>(Ltc::kCancer)) {
        const std::size_t site = female_ ? std::array<std::size_t, 5>{0, 0, 0, 2, 3}.at(rng_.below(5))
                                         : std::array<std::size_t, 5>{1, 1, 2, 2, 3}.at(rng_.below(5));
        code = kCancerSites.at(site);
      }
      const std::string url = condition(code, "problem-list-item", onset, std::nullopt, gp_, "");
      active_.push_back(Active{static_cast<Ltc>(c), url, onset});
    }
  }

  std::string condition(const Coded& code, std::string_view category, std::int64_t onset,
                        std::optional<std::int64_t> abated, std::string_view recorder, const std::string& encounter) {
    json::object c;
    c["resourceType"] = "Condition";
    c["clinicalStatus"] = codeable(kConditionClinical, abated ? "resolved" : "active", abated ? "Resolved" : "Active");
    c["verificationStatus"] = codeable(kConditionVerification, "confirmed", "Confirmed");
    c["category"] = json::array{codeable(
        kConditionCategory, category, category == "problem-list-item" ? "Problem List Item" : "Encounter Diagnosis")};
    c["code"] = codeable(kSnomed, code.code, code.display);
    c["subject"] = link(patient_url_);
    if (!encounter.empty()) c["encounter"] = link(encounter);
    c["onsetDateTime"] = format_date(onset);
    if (abated) c["abatementDateTime"] = format_date(*abated);
    c["recordedDate"] =
        format_date(std::max(onset, std::min(kToday - 1, onset + static_cast<std::int64_t>(rng_.below(14)))));
    if (!recorder.empty()) c["recorder"] = link("Practitioner", recorder);
    std::string url = uuid();
    add(url, std::move(c));
    return url;
  }

  // --- allergies and medicines -------------------------------------------------------------------

  void allergies() {
    // About one in five GP records carries an allergy; penicillin is the commonest label.
    int count = rng_.chance(0.2) ? (rng_.chance(0.2) ? 2 : 1) : 0;
    std::array<double, kAllergies.size()> w{};
    for (std::size_t i = 0; i < w.size(); ++i) w.at(i) = kAllergies.at(i).weight;
    std::bitset<kAllergies.size()> seen;
    while (count-- > 0) {
      const std::size_t i = rng_.weighted(w);
      if (seen.test(i)) continue;
      seen.set(i);
      const AllergyDef& a = kAllergies.at(i);
      if (a.code == "91936005") penicillin_allergy_ = true;
      json::object r;
      r["resourceType"] = "AllergyIntolerance";
      r["clinicalStatus"] =
          codeable("http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active", "Active");
      r["verificationStatus"] =
          codeable("http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed", "Confirmed");
      r["type"] = "allergy";
      r["category"] = json::array{a.category};
      r["criticality"] = a.criticality;
      r["code"] = codeable(kSnomed, a.code, a.display);
      r["patient"] = link(patient_url_);
      r["recordedDate"] = format_date(day_between(birth_ + 365, kToday - 1));
      r["recorder"] = link("Practitioner", gp_);
      const bool severe = a.criticality == "high";
      json::object reaction;
      reaction["manifestation"] = json::array{severe ? codeable(kSnomed, "39579001", "Anaphylaxis")
                                                     : codeable(kSnomed, "271807003", "Eruption of skin")};
      reaction["severity"] = severe ? "severe" : "mild";
      r["reaction"] = json::array{std::move(reaction)};
      add(uuid(), std::move(r));
    }
  }

  void medicines() {
    std::bitset<kMedicines.size()> chosen;
    std::array<std::string, kMedicines.size()> reason;
    for (const Active& a : active_) {
      const LtcDef& def = kLtcs.at(static_cast<std::size_t>(a.ltc));
      for (int i = 0; i < def.med_count; ++i) {
        const Med m = def.meds.at(static_cast<std::size_t>(i));
        if (m == kNone || m == Med::kGtnSpray) {
          if (m == Med::kGtnSpray && rng_.chance(0.4)) chosen.set(static_cast<std::size_t>(m));
          continue;
        }
        const bool statin = m == Med::kAtorvastatin20 || m == Med::kAtorvastatin80;
        if ((statin && age_ < 40) || !rng_.chance(i == 0 ? 0.9 : 0.5)) continue;
        chosen.set(static_cast<std::size_t>(m));
        if (reason.at(static_cast<std::size_t>(m)).empty()) reason.at(static_cast<std::size_t>(m)) = a.url;
      }
    }
    if (chosen.test(static_cast<std::size_t>(Med::kAtorvastatin80)))
      chosen.reset(static_cast<std::size_t>(Med::kAtorvastatin20));
    on_statin_ = chosen.test(static_cast<std::size_t>(Med::kAtorvastatin20)) ||
                 chosen.test(static_cast<std::size_t>(Med::kAtorvastatin80));
    for (std::size_t m = 0; m < kMedicines.size(); ++m) {
      if (!chosen.test(m)) continue;
      const std::int64_t authored = day_between(std::max(first_day(), kToday - 400), kToday - 30);
      repeats_.push_back(static_cast<Med>(m));
      prescription(static_cast<Med>(m), authored, reason.at(m), true);
    }
  }

  void prescription(Med m, std::int64_t day, const std::string& reason, bool repeat) {
    const Medicine& med = kMedicines.at(static_cast<std::size_t>(m));
    json::object r;
    r["resourceType"] = "MedicationRequest";
    r["status"] = repeat ? "active" : "completed";
    r["intent"] = "order";
    r["category"] = json::array{
        codeable("http://terminology.hl7.org/CodeSystem/medicationrequest-category", "community", "Community")};
    r["medicationCodeableConcept"] = codeable(kDemoDmd, med.code, med.name);
    r["subject"] = link(patient_url_);
    r["authoredOn"] = format_date(day);
    r["requester"] = link("Practitioner", gp_);
    if (!reason.empty()) r["reasonReference"] = json::array{link(reason)};
    r["courseOfTherapyType"] =
        repeat ? codeable("http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", "continuous",
                          "Continuous long term therapy")
               : codeable("http://terminology.hl7.org/CodeSystem/medicationrequest-course-of-therapy", "acute",
                          "Short course (acute) therapy");
    r["dosageInstruction"] = json::array{json::object{{"text", med.dose}}};
    json::object dispense;
    if (repeat) dispense["numberOfRepeatsAllowed"] = 11;
    dispense["quantity"] = json::object{{"value", med.quantity}, {"unit", med.unit}};
    if (repeat) dispense["expectedSupplyDuration"] = quantity(std::int64_t{28}, "days", "d");
    dispense["performer"] = link("Organization", pharmacy_);
    r["dispenseRequest"] = std::move(dispense);
    add(uuid(), std::move(r));
  }

  // --- observations --------------------------------------------------------------------------------

  json::object observation(std::string_view category, std::string_view category_display, std::string_view loinc,
                           std::string_view display, std::int64_t day, int minute, const std::string& encounter) {
    json::object o;
    o["resourceType"] = "Observation";
    o["status"] = "final";
    o["category"] = json::array{codeable(kObsCategory, category, category_display)};
    o["code"] = codeable(kLoinc, loinc, display);
    o["subject"] = link(patient_url_);
    if (!encounter.empty()) o["encounter"] = link(encounter);
    o["effectiveDateTime"] = format_date_time(day, minute);
    return o;
  }

  void vital(std::string_view loinc, std::string_view display, json::object value, std::int64_t day, int minute,
             const std::string& encounter) {
    json::object o = observation("vital-signs", "Vital Signs", loinc, display, day, minute, encounter);
    o["valueQuantity"] = std::move(value);
    add(uuid(), std::move(o));
  }

  void lab(std::string_view loinc, std::string_view display, json::object value, std::int64_t day,
           const std::string& encounter) {
    json::object o = observation("laboratory", "Laboratory", loinc, display, day, 9 * 60 + 30, encounter);
    o["valueQuantity"] = std::move(value);
    o["performer"] = json::array{link("Organization", kLocalities.at(locality_).acute_trust)};
    add(uuid(), std::move(o));
  }

  /// Years since the window opened: the clock for trends.
  static double years_in(std::int64_t day) { return static_cast<double>(day - kWindowStart) / 365.25; }

  void blood_pressure(std::int64_t day, int minute, const std::string& encounter, double extra = 0) {
    double sys = base_.systolic + extra + rng_.normal(0, 7);
    if (has(Ltc::kHypertension)) sys -= 2.5 * years_in(day);  // treatment brings it down
    sys = clamp(sys, 85, 210);
    const double dia = clamp(0.5 * sys + rng_.normal(16, 6), 45, 125);
    json::object o = observation("vital-signs", "Vital Signs", "85354-9",
                                 "Blood pressure panel with all children optional", day, minute, encounter);
    o["component"] = json::array{
        json::object{{"code", codeable(kLoinc, "8480-6", "Systolic blood pressure")},
                     {"valueQuantity", quantity(static_cast<std::int64_t>(std::lround(sys)), "mmHg", "mm[Hg]")}},
        json::object{{"code", codeable(kLoinc, "8462-4", "Diastolic blood pressure")},
                     {"valueQuantity", quantity(static_cast<std::int64_t>(std::lround(dia)), "mmHg", "mm[Hg]")}}};
    add(uuid(), std::move(o));
  }

  [[nodiscard]] double height_on(std::int64_t day) const {
    const int a = age_on(day);
    if (a >= 18) return base_.height_cm;
    // Children: a straight-line growth approximation up to adult height at 18.
    const double at_birth = 50;
    return at_birth + (base_.height_cm - at_birth) * std::min(1.0, (a + 0.5) / 18.0 * 1.05);
  }

  void weight_and_bmi(std::int64_t day, int minute, const std::string& encounter) {
    const double h = height_on(day) / 100;
    double bmi = base_.bmi + 0.15 * years_in(day) + rng_.normal(0, 0.4);
    if (age_on(day) < 18) bmi = clamp(15.5 + 0.25 * age_on(day) + rng_.normal(0, 1.2), 13, 30);
    const double kg = round_to(bmi * h * h, 1);
    vital("29463-7", "Body weight", quantity(kg, "kg", "kg"), day, minute, encounter);
    vital("39156-5", "Body mass index (BMI) [Ratio]", quantity(round_to(kg / (h * h), 1), "kg/m2", "kg/m2"), day,
          minute, encounter);
  }

  /// The NEWS2 inputs an emergency department records on arrival.
  void acute_vitals(std::int64_t day, int minute, const std::string& encounter, double severity) {
    const bool lungs = has(Ltc::kCopd);
    vital("8867-4", "Heart rate",
          quantity(static_cast<std::int64_t>(
                       std::lround(clamp(base_.heart_rate + 18 * severity + rng_.normal(0, 8), 40, 170))),
                   "beats/minute", "/min"),
          day, minute, encounter);
    vital("9279-1", "Respiratory rate",
          quantity(static_cast<std::int64_t>(std::lround(clamp(16 + 8 * severity + rng_.normal(0, 2), 8, 40))),
                   "breaths/minute", "/min"),
          day, minute, encounter);
    vital("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry",
          quantity(static_cast<std::int64_t>(
                       std::lround(clamp((lungs ? 93.0 : 97.0) - 4 * severity + rng_.normal(0, 1.2), 75, 100))),
                   "%", "%"),
          day, minute, encounter);
    vital("8310-5", "Body temperature",
          quantity(round_to(clamp(36.8 + 1.2 * severity * rng_.uniform() + rng_.normal(0, 0.3), 34.5, 40.5), 1), "Cel",
                   "Cel"),
          day, minute, encounter);
    blood_pressure(day, minute, encounter, 10 * severity);
  }

  void baseline_observations() {
    const double tall = female_ ? 163 : 176;
    base_.height_cm = clamp(rng_.normal(tall, 6.8), 140, 205);
    base_.bmi = has(Ltc::kObesity) ? clamp(rng_.normal(34, 3.5), 30, 55) : clamp(rng_.normal(26, 3.5), 17, 29.9);
    base_.heart_rate = rng_.normal(72, 8) + (has(Ltc::kAtrialFibrillation) ? 10 : 0);
    base_.systolic = 112 + 0.45 * std::max(0, age_ - 25) + rng_.normal(0, 9) + (has(Ltc::kHypertension) ? 22 : 0);
    base_.hba1c = has(Ltc::kDiabetesType1)   ? rng_.normal(70, 10)
                  : has(Ltc::kDiabetesType2) ? rng_.normal(62, 9)
                                             : rng_.normal(37, 3);
    base_.egfr = has(Ltc::kCkd) ? clamp(rng_.normal(48, 9), 15, 59)
                                : clamp(105 - 0.7 * std::max(0, age_ - 30) + rng_.normal(0, 8), 60, 130);
    base_.cholesterol = clamp(rng_.normal(5.3, 0.9), 3, 9);
    if (age_ < 16) return;
    // Smoking status, once (ONS Annual Population Survey 2022: ~13% of adults smoke).
    const double u = rng_.uniform();
    const bool copd = has(Ltc::kCopd);
    const Coded status = (u < (copd ? 0.35 : 0.13))   ? Coded{"77176002", "Smoker"}
                         : (u < (copd ? 0.95 : 0.38)) ? Coded{"8517006", "Ex-smoker"}
                                                      : Coded{"266919005", "Never smoked tobacco"};
    json::object o = observation("social-history", "Social History", "72166-2", "Tobacco smoking status",
                                 day_between(first_day(), kToday - 1), clinic_minute(), "");
    o["valueCodeableConcept"] = codeable(kSnomed, status.code, status.display);
    add(uuid(), std::move(o));
    vital("8302-2", "Body height", quantity(round_to(base_.height_cm, 1), "cm", "cm"),
          day_between(first_day(), kToday - 1), clinic_minute(), "");
  }

  // --- care ---------------------------------------------------------------------------------------

  std::string encounter(std::string_view cls, std::string_view cls_display, const Coded& type, std::int64_t day,
                        int minute, std::int64_t end_day, int end_minute, std::string_view provider,
                        std::string_view practitioner, std::string_view location, const json::object& extra = {}) {
    json::object e;
    e["resourceType"] = "Encounter";
    e["status"] = "finished";
    e["class"] = coding(kActCode, cls, cls_display);
    const bool demo_code = type.code.starts_with("demo-");
    e["type"] = json::array{codeable(demo_code ? kDemoConcept : kSnomed, type.code, type.display)};
    e["subject"] = link(patient_url_);
    if (!practitioner.empty()) {
      e["participant"] =
          json::array{json::object{{"type", json::array{codeable(kParticipationType, "PPRF", "primary performer")}},
                                   {"individual", link("Practitioner", practitioner)}}};
    }
    e["period"] =
        json::object{{"start", format_date_time(day, minute)}, {"end", format_date_time(end_day, end_minute)}};
    if (!location.empty()) e["location"] = json::array{json::object{{"location", link("Location", location)}}};
    e["serviceProvider"] = link("Organization", provider);
    for (const auto& kv : extra) e[kv.key()] = kv.value();
    std::string url = uuid();
    add(url, std::move(e));
    return url;
  }

  std::string gp_encounter(std::int64_t day, int minute, const Coded& type, bool nurse) {
    const bool phone = !nurse && rng_.chance(0.3);
    const std::string& who = nurse ? practice_->nurses.at(rng_.below(practice_->nurses.size()))
                                   : (rng_.chance(0.6) ? gp_ : practice_->gps.at(rng_.below(practice_->gps.size())));
    return encounter(phone ? "VR" : "AMB", phone ? "virtual" : "ambulatory", type, day, minute, day, minute + 10,
                     practice_->id, who, phone ? std::string() : "site-" + practice_->id);
  }

  void reviews() {
    // Long-term condition reviews: once a year with the practice nurse, with the QOF measurements.
    if (active_.empty() || (active_.size() == 1 && (has(Ltc::kDepression) || has(Ltc::kObesity)))) return;
    const bool diabetes = has(Ltc::kDiabetesType1) || has(Ltc::kDiabetesType2);
    const bool kidney = diabetes || has(Ltc::kCkd) || has(Ltc::kHypertension) || has(Ltc::kHeartFailure);
    const bool lipids = diabetes || has(Ltc::kChd) || has(Ltc::kStroke) || has(Ltc::kCkd);
    for (int year = 2021; year <= 2025; ++year) {
      const std::int64_t start = std::max(first_day(), days_from_civil(year, 1, 1));
      const std::int64_t end = days_from_civil(year, 12, 31);
      if (start > end || !rng_.chance(0.85)) continue;
      const std::int64_t day = day_between(start, end);
      const int minute = clinic_minute();
      const std::string enc = gp_encounter(day, minute, Coded{"185349003", "Encounter for check up"}, true);
      blood_pressure(day, minute, enc);
      weight_and_bmi(day, minute, enc);
      if (has(Ltc::kAtrialFibrillation) || has(Ltc::kHeartFailure)) {
        vital("8867-4", "Heart rate",
              quantity(static_cast<std::int64_t>(std::lround(base_.heart_rate + rng_.normal(0, 8))), "beats/minute",
                       "/min"),
              day, minute, enc);
      }
      if (has(Ltc::kCopd) || has(Ltc::kAsthma)) {
        vital("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry",
              quantity(static_cast<std::int64_t>(
                           std::lround(clamp((has(Ltc::kCopd) ? 94.0 : 97.5) + rng_.normal(0, 1.2), 85, 100))),
                       "%", "%"),
              day, minute, enc);
      }
      const std::int64_t blood_day = std::max(first_day(), day - 7);
      const double t = years_in(blood_day);
      if (diabetes) {
        const double target = has(Ltc::kDiabetesType1) ? 60 : 53;
        const double v = std::max(target, base_.hba1c - 2.5 * t) + rng_.normal(0, 4);
        lab("59261-8", "Hemoglobin A1c/Hemoglobin.total in Blood by IFCC protocol",
            quantity(static_cast<std::int64_t>(std::lround(clamp(v, 30, 130))), "mmol/mol", "mmol/mol"), blood_day, "");
      }
      if (kidney) {
        const double egfr = base_.egfr - (has(Ltc::kCkd) ? 2.0 : 1.0) * t + rng_.normal(0, 3);
        json::object q =
            quantity(static_cast<std::int64_t>(std::lround(clamp(egfr, 5, 90))), "mL/min/1.73m2", "mL/min/{1.73_m2}");
        if (egfr > 90) q["comparator"] = ">";  // UK laboratories report higher values as ">90"
        lab("62238-1",
            "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or Blood by "
            "Creatinine-based formula (CKD-EPI)",
            std::move(q), blood_day, "");
        const double creatinine = (female_ ? 68.0 : 82.0) * std::pow(90.0 / clamp(egfr, 5, 130), 1.1);
        lab("14682-9", "Creatinine [Moles/volume] in Serum or Plasma",
            quantity(static_cast<std::int64_t>(std::lround(creatinine + rng_.normal(0, 4))), "umol/L", "umol/L"),
            blood_day, "");
        lab("2823-3", "Potassium [Moles/volume] in Serum or Plasma",
            quantity(round_to(clamp(rng_.normal(4.3, 0.35), 3.0, 6.2), 1), "mmol/L", "mmol/L"), blood_day, "");
      }
      if (lipids) {
        const double chol = base_.cholesterol - (on_statin_ ? std::min(1.6, 0.6 * (t + 1)) : 0) + rng_.normal(0, 0.3);
        lab("14647-2", "Cholesterol [Moles/volume] in Serum or Plasma",
            quantity(round_to(clamp(chol, 2.2, 9.5), 1), "mmol/L", "mmol/L"), blood_day, "");
      }
      if (has(Ltc::kSmi) || has(Ltc::kRheumatoid)) {
        lab("718-7", "Hemoglobin [Mass/volume] in Blood",
            quantity(static_cast<std::int64_t>(std::lround(rng_.normal(female_ ? 132 : 145, 10))), "g/L", "g/L"),
            blood_day, "");
      }
    }
  }

  [[nodiscard]] double gp_rate() const {
    // GP practice consultations a year (doctor or nurse, all reasons), NHS Digital "Appointments in
    // General Practice" shape, reduced to those that leave a coded record.
    double r = age_ < 5    ? 1.6
               : age_ < 17 ? 0.6
               : age_ < 40 ? (female_ ? 1.3 : 0.7)
               : age_ < 60 ? 1.2
               : age_ < 75 ? 1.8
                           : 2.4;
    return r + 0.25 * static_cast<double>(active_.size());
  }

  void primary_care() {
    const int visits = rng_.poisson(gp_rate() * kYears * window_share());
    std::array<double, kPrimaryCareAcute.size()> w{};
    for (std::size_t i = 0; i < w.size(); ++i) w.at(i) = kPrimaryCareAcute.at(i).weight;
    for (int v = 0; v < visits; ++v) {
      const std::int64_t day = day_between(first_day(), kToday - 1);
      const int minute = clinic_minute();
      if (rng_.chance(0.35)) {
        const AcuteDef& a = kPrimaryCareAcute.at(rng_.weighted(w));
        const std::string enc = gp_encounter(day, minute, Coded{"185347001", "Encounter for problem"}, false);
        const std::string cond = condition(Coded{a.code, a.display}, "encounter-diagnosis", day,
                                           day + 7 + static_cast<std::int64_t>(rng_.below(14)), gp_, enc);
        const Med m = penicillin_allergy_ ? a.penicillin_free : a.treatment;
        if (m != kNone) prescription(m, day, cond, false);
        if (a.code == "50417007" || a.code == "68566005") {
          vital("8310-5", "Body temperature", quantity(round_to(rng_.normal(37.9, 0.5), 1), "Cel", "Cel"), day, minute,
                enc);
          vital("8867-4", "Heart rate",
                quantity(static_cast<std::int64_t>(std::lround(base_.heart_rate + rng_.normal(12, 6))), "beats/minute",
                         "/min"),
                day, minute, enc);
          vital("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry",
                quantity(static_cast<std::int64_t>(std::lround(clamp(96 + rng_.normal(0, 1.5), 85, 100))), "%", "%"),
                day, minute, enc);
        }
      } else {
        const std::string enc = gp_encounter(day, minute, Coded{"390906007", "Follow-up encounter"}, rng_.chance(0.3));
        if (age_on(day) >= 18 && rng_.chance(0.45)) blood_pressure(day, minute, enc);
        if (rng_.chance(0.2)) weight_and_bmi(day, minute, enc);
      }
    }
  }

  [[nodiscard]] double ed_rate() const {
    // Type 1 A&E attendances a year by age (NHS Digital Hospital A&E Activity 2022-23 shape).
    return age_ < 5    ? 0.45
           : age_ < 17 ? 0.25
           : age_ < 40 ? 0.3
           : age_ < 60 ? 0.25
           : age_ < 75 ? 0.3
           : age_ < 85 ? 0.5
                       : 0.8;
  }

  void urgent_and_hospital_care() {
    const Locality& loc = kLocalities.at(locality_);
    std::vector<const Site*> eds;
    for (const Site& s : kSites) {
      if (s.org == loc.acute_trust && s.emergency_department) eds.push_back(&s);
    }
    const int attendances = rng_.poisson(ed_rate() * kYears * window_share());
    std::array<double, kEmergencies.size()> w{};
    for (std::size_t i = 0; i < w.size(); ++i) {
      w.at(i) = kEmergencies.at(i).weight;
      if (age_ < 60 && (kEmergencies.at(i).code == "5913000" || kEmergencies.at(i).code == "161898004")) w.at(i) /= 4;
    }
    const auto& ed_staff = d_.staff_of(fmt::format("{}/ed", loc.acute_trust));
    const auto& consultants = d_.staff_of(fmt::format("{}/consultant", loc.acute_trust));
    const auto& paramedics = d_.staff_of("secamb/paramedic");
    for (int i = 0; i < attendances; ++i) {
      const EmergencyDef& em = kEmergencies.at(rng_.weighted(w));
      const Site& site = *eds.at(rng_.below(eds.size()));
      const std::int64_t day = day_between(first_day(), kToday - 3);
      const int minute = static_cast<int>(rng_.below(std::size_t{22} * 60));
      ++hospital_contacts_;
      if (!paramedics.empty() && rng_.chance(age_ >= 65 ? 0.5 : 0.2)) {
        (void)encounter("FLD", "field", Coded{"demo-ambulance-response", "Ambulance response"}, day, minute, day,
                        minute + 40, "secamb", paramedics.at(rng_.below(paramedics.size())), "");
      }
      const double severity = clamp(rng_.uniform() + (em.admit > 0.5 ? 0.4 : 0), 0, 1.4);
      const bool admitted = rng_.chance(std::min(0.98, em.admit * (age_ >= 75 ? 1.4 : 1.0)));
      const int stay = 60 + static_cast<int>(rng_.below(200));  // minutes in the department
      json::object extra;
      extra["hospitalization"] = json::object{
          {"dischargeDisposition",
           admitted ? codeable("http://terminology.hl7.org/CodeSystem/discharge-disposition", "oth", "Other")
                    : codeable("http://terminology.hl7.org/CodeSystem/discharge-disposition", "home", "Home")}};
      const std::int64_t ed_end_day = day + (minute + 40 + stay) / (24 * 60);
      const int ed_end_min = (minute + 40 + stay) % (24 * 60);
      const std::string ed = encounter("EMER", "emergency", Coded{"4525004", "Emergency department patient visit"}, day,
                                       minute + 40, ed_end_day, ed_end_min, loc.acute_trust,
                                       ed_staff.empty() ? std::string() : ed_staff.at(rng_.below(ed_staff.size())),
                                       fmt::format("ward-{}-ed", site.id), extra);
      acute_vitals(day, minute + 50, ed, severity);
      const std::int64_t resolved = day + 7 + static_cast<std::int64_t>(rng_.below(40));
      const std::string cond = condition(Coded{em.code, em.display}, "encounter-diagnosis", day, resolved, "", ed);
      if (!admitted) continue;
      // Admission: length of stay roughly exponential, longer for older people (mean 4-9 days).
      const double mean = age_ >= 75 ? 9 : age_ >= 60 ? 6 : 3.5;
      const auto los = static_cast<std::int64_t>(std::max(0.0, -std::log(1 - rng_.uniform()) * mean));
      const std::int64_t out = std::min(kToday - 1, ed_end_day + los);
      const int out_min = 10 * 60 + static_cast<int>(rng_.below(std::size_t{8} * 60));
      const std::string ward = fmt::format("ward-{}-{}", site.id, age_ < 17 ? "paeds" : std::string(em.ward));
      std::string_view disposition = "home";
      std::string_view disposition_display = "Home";
      if (care_home_ != nullptr) {
        disposition = "snf";
        disposition_display = "Skilled nursing facility";
      } else if (age_ >= 80 && rng_.chance(0.15)) {
        disposition = "other-hcf";
        disposition_display = "Other healthcare facility";
      }
      json::object hx;
      hx["hospitalization"] = json::object{
          {"admitSource",
           codeable("http://terminology.hl7.org/CodeSystem/admit-source", "emd", "From accident/emergency department")},
          {"dischargeDisposition",
           codeable("http://terminology.hl7.org/CodeSystem/discharge-disposition", disposition, disposition_display)}};
      hx["reasonReference"] = json::array{link(cond)};
      hx["partOf"] = link(ed);
      json::object stay_location;
      stay_location["location"] = link("Location", ward);
      stay_location["status"] = "completed";
      stay_location["period"] =
          json::object{{"start", format_date_time(ed_end_day, ed_end_min)}, {"end", format_date_time(out, out_min)}};
      const std::string adm =
          encounter("IMP", "inpatient encounter", Coded{"183452005", "Emergency hospital admission"}, ed_end_day,
                    ed_end_min, out, out_min, loc.acute_trust,
                    consultants.empty() ? std::string() : consultants.at(rng_.below(consultants.size())), "", hx);
      // The ward's location replaces the plain one the helper adds (none was given).
      entries_.back().as_object()["resource"].as_object()["location"] = json::array{std::move(stay_location)};
      // Medicines reconciliation on admission: what the patient is taking, as the ward recorded it.
      for (const Med m : repeats_) {
        json::object s;
        s["resourceType"] = "MedicationStatement";
        s["status"] = "active";
        s["medicationCodeableConcept"] = codeable(kDemoDmd, kMedicines.at(static_cast<std::size_t>(m)).code,
                                                  kMedicines.at(static_cast<std::size_t>(m)).name);
        s["subject"] = link(patient_url_);
        s["context"] = link(adm);
        s["dateAsserted"] = format_date(ed_end_day);
        s["informationSource"] = link(patient_url_);
        add(uuid(), std::move(s));
      }
      // A set of observations on the ward each day of a short stay, fewer for long ones.
      for (std::int64_t dday = ed_end_day + 1; dday <= out && dday <= ed_end_day + 3; ++dday) {
        acute_vitals(dday, 8 * 60, adm, severity * 0.5);
      }
      if (age_ >= 18) {
        lab("718-7", "Hemoglobin [Mass/volume] in Blood",
            quantity(static_cast<std::int64_t>(std::lround(rng_.normal(female_ ? 125 : 135, 14))), "g/L", "g/L"),
            ed_end_day, adm);
        lab("2823-3", "Potassium [Moles/volume] in Serum or Plasma",
            quantity(round_to(clamp(rng_.normal(4.2, 0.45), 2.8, 6.5), 1), "mmol/L", "mmol/L"), ed_end_day, adm);
      }
    }
  }

  void referrals() {
    const Locality& loc = kLocalities.at(locality_);
    const double rate = 0.08 + 0.06 * static_cast<double>(active_.size()) + (age_ >= 50 ? 0.05 : 0);
    const int count = rng_.poisson(rate * kYears * window_share());
    const Site* clinic = nullptr;
    for (const Site& s : kSites) {
      if (s.org == loc.acute_trust) {
        clinic = &s;
        break;
      }
    }
    const auto& consultants = d_.staff_of(fmt::format("{}/consultant", loc.acute_trust));
    for (int i = 0; i < count; ++i) {
      std::size_t spec = rng_.below(kSpecialties.size());
      std::string reason;
      if (!active_.empty() && rng_.chance(0.6)) {
        const Active& a = active_.at(rng_.below(active_.size()));
        reason = a.url;
        switch (a.ltc) {
          case Ltc::kChd:
          case Ltc::kHeartFailure:
          case Ltc::kAtrialFibrillation:
          case Ltc::kHypertension:
            spec = 0;
            break;
          case Ltc::kCopd:
          case Ltc::kAsthma:
            spec = 1;
            break;
          case Ltc::kDiabetesType1:
          case Ltc::kDiabetesType2:
            spec = 2;
            break;
          case Ltc::kDementia:
            spec = 6;
            break;
          case Ltc::kDepression:
          case Ltc::kSmi:
            spec = 7;
            break;
          default:
            break;
        }
      }
      const bool mental = spec == 7;
      const std::int64_t day = day_between(first_day(), kToday - 1);
      const std::int64_t seen = day + 28 + static_cast<std::int64_t>(rng_.below(120));
      const bool attended = seen < kToday - 1 && rng_.chance(0.85);
      const std::string_view provider = mental ? std::string_view("kmpt") : loc.acute_trust;
      json::object r;
      r["resourceType"] = "ServiceRequest";
      r["status"] = attended ? "completed" : "active";
      r["intent"] = "order";
      r["category"] = json::array{codeable(kSnomed, "3457005", "Patient referral")};
      r["priority"] = rng_.chance(0.15) ? "urgent" : "routine";
      r["code"] = codeable(kDemoConcept, kSpecialties.at(spec).code, kSpecialties.at(spec).display);
      r["subject"] = link(patient_url_);
      r["authoredOn"] = format_date_time(day, clinic_minute());
      r["requester"] = link("Practitioner", gp_);
      r["performer"] = json::array{link("Organization", provider)};
      if (!reason.empty()) r["reasonReference"] = json::array{link(reason)};
      std::string url = uuid();
      add(url, std::move(r));
      if (!attended) continue;
      json::object extra;
      extra["basedOn"] = json::array{link(url)};
      const auto& mh = d_.staff_of("kmpt/psychiatrist");
      const int minute = clinic_minute();
      (void)encounter("AMB", "ambulatory", Coded{"185347001", "Encounter for problem"}, seen, minute, seen, minute + 20,
                      provider,
                      mental ? (mh.empty() ? std::string() : mh.at(rng_.below(mh.size())))
                             : (consultants.empty() ? std::string() : consultants.at(rng_.below(consultants.size()))),
                      mental ? std::string("site-priority") : fmt::format("site-{}", clinic->id), extra);
    }
  }

  void community_care() {
    // District nursing and home visits for the frail; out-of-hours calls for anyone.
    const Locality& loc = kLocalities.at(locality_);
    const auto& nurses = d_.staff_of(fmt::format("{}/community-nurse", loc.community));
    const bool frail = age_ >= 85 || has(Ltc::kHeartFailure) || (has(Ltc::kDementia) && care_home_ == nullptr);
    if (frail && !nurses.empty()) {
      const int visits = rng_.poisson(1.5 * kYears);
      for (int i = 0; i < visits; ++i) {
        const std::int64_t day = day_between(first_day(), kToday - 1);
        const int minute = clinic_minute();
        const std::string enc = encounter("HH", "home health", Coded{"185347001", "Encounter for problem"}, day, minute,
                                          day, minute + 30, loc.community, nurses.at(rng_.below(nurses.size())), "");
        if (rng_.chance(0.5)) blood_pressure(day, minute, enc);
      }
    }
    const auto& ooh = d_.staff_of(fmt::format("{}/gp", loc.out_of_hours));
    const int calls = rng_.poisson((age_ < 5 || age_ >= 75 ? 0.12 : 0.05) * kYears);
    for (int i = 0; i < calls && !ooh.empty(); ++i) {
      const std::int64_t day = day_between(first_day(), kToday - 1);
      const int minute = 19 * 60 + static_cast<int>(rng_.below(240));
      (void)encounter("VR", "virtual", Coded{"185347001", "Encounter for problem"}, day, minute, day, minute + 15,
                      loc.out_of_hours, ooh.at(rng_.below(ooh.size())), "");
    }
  }

  void immunisation(std::string_view code, std::string_view display, std::int64_t day) {
    if (day < first_day() || day >= kToday) return;
    json::object r;
    r["resourceType"] = "Immunization";
    r["status"] = "completed";
    r["vaccineCode"] = codeable(kDemoVaccine, code, display);
    r["patient"] = link(patient_url_);
    r["occurrenceDateTime"] = format_date(day);
    r["primarySource"] = true;
    r["lotNumber"] = fmt::format("DEMO{}", letters(2));
    r["performer"] = json::array{json::object{{"actor", link("Organization", practice_->id)}}};
    add(uuid(), std::move(r));
  }

  void immunisations() {
    // UK routine schedule (UKHSA "Complete routine immunisation schedule"), ~92% uptake per dose.
    struct Dose {
      int days;
      std::string_view code;
      std::string_view display;
    };
    static constexpr std::array<Dose, 15> kChildhood = {{{56, "6in1", "DTaP/IPV/Hib/HepB vaccine (6-in-1)"},
                                                         {56, "menb", "Meningococcal group B vaccine"},
                                                         {56, "rota", "Rotavirus vaccine"},
                                                         {84, "6in1", "DTaP/IPV/Hib/HepB vaccine (6-in-1)"},
                                                         {84, "pcv", "Pneumococcal conjugate vaccine"},
                                                         {84, "rota", "Rotavirus vaccine"},
                                                         {112, "6in1", "DTaP/IPV/Hib/HepB vaccine (6-in-1)"},
                                                         {112, "menb", "Meningococcal group B vaccine"},
                                                         {366, "hibmenc", "Hib/MenC vaccine"},
                                                         {366, "mmr", "Measles, mumps and rubella vaccine"},
                                                         {366, "pcv", "Pneumococcal conjugate vaccine"},
                                                         {366, "menb", "Meningococcal group B vaccine"},
                                                         {1218, "mmr", "Measles, mumps and rubella vaccine"},
                                                         {1218, "4in1", "DTaP/IPV pre-school booster (4-in-1)"},
                                                         {4383, "hpv", "Human papillomavirus vaccine"}}};
    for (const Dose& d : kChildhood) {
      if (rng_.chance(0.92))
        immunisation(d.code, d.display, birth_ + d.days + static_cast<std::int64_t>(rng_.below(21)));
    }
    if (rng_.chance(0.85)) {
      const std::int64_t teen = birthday(14) + static_cast<std::int64_t>(rng_.below(120));
      immunisation("tdipv", "Td/IPV teenage booster (3-in-1)", teen);
      immunisation("menacwy", "Meningococcal ACWY vaccine", teen);
    }
    const bool at_risk = has(Ltc::kDiabetesType1) || has(Ltc::kDiabetesType2) || has(Ltc::kCopd) || has(Ltc::kAsthma) ||
                         has(Ltc::kChd) || has(Ltc::kCkd) || has(Ltc::kHeartFailure) || has(Ltc::kStroke);
    for (int year = 2021; year <= 2025; ++year) {
      const std::int64_t autumn = days_from_civil(year, 10, 1) + static_cast<std::int64_t>(rng_.below(60));
      const int a = age_on(autumn);
      const double flu = a >= 65 ? 0.75 : (at_risk && a >= 18 ? 0.45 : (a >= 2 && a <= 16 ? 0.45 : 0));
      if (rng_.chance(flu)) {
        if (a < 18) {
          immunisation("flu-laiv", "Influenza vaccine, live attenuated (nasal)", autumn);
        } else {
          immunisation("flu", "Influenza vaccine, inactivated", autumn);
        }
      }
      const double covid = a >= 75 ? 0.7 : (a >= 65 && year <= 2023 ? 0.6 : 0);
      if (rng_.chance(covid)) immunisation("covid19", "COVID-19 vaccine", autumn + 7);
    }
    if (rng_.chance(0.7)) immunisation("ppv23", "Pneumococcal polysaccharide vaccine (PPV23)", birthday(65) + 60);
    if (rng_.chance(0.5)) immunisation("shingles", "Herpes zoster vaccine", birthday(70) + 90);
  }

  json::object flag(std::string_view category, std::string_view category_display, std::string_view code,
                    std::string_view display, std::int64_t start, std::string_view author) {
    json::object f;
    f["resourceType"] = "Flag";
    f["status"] = "active";
    f["category"] = json::array{codeable(kFlagCategory, category, category_display)};
    f["code"] = codeable(kDemoConcept, code, display);
    f["subject"] = link(patient_url_);
    f["period"] = json::object{{"start", format_date(start)}};
    f["author"] = link("Organization", author);
    return f;
  }

  void flags() {
    const Locality& loc = kLocalities.at(locality_);
    const std::string_view council = loc.council == "kcc" ? std::string_view("kcc-childrens") : loc.council;
    // Children on child-protection plans: about 42 per 10,000 children (DfE, Characteristics of
    // children in need, England, 2023).
    if (age_ < 18 && rng_.chance(0.0042 * 2)) {  // *2: plans last ~1 year; some ended in the window
      child_protection_ = true;
      const std::int64_t start = day_between(std::max(first_day(), kToday - 700), kToday - 30);
      const bool ended = rng_.chance(0.5);
      json::object f = flag("safety", "Safety", "child-protection-plan", "Subject of a child protection plan (CP-IS)",
                            start, council);
      if (ended) {
        f["status"] = "inactive";
        f["period"].as_object()["end"] = format_date(std::min(kToday - 1, start + 300));
      }
      add(uuid(), std::move(f));
      json::object c;
      c["resourceType"] = "CarePlan";
      c["status"] = ended ? "completed" : "active";
      c["intent"] = "plan";
      c["category"] = json::array{codeable(kDemoConcept, "child-protection", "Child protection plan")};
      c["title"] = "Child protection plan";
      c["description"] = "Multi-agency child protection plan; lead: children's social work services.";
      c["subject"] = link(patient_url_);
      json::object period{{"start", format_date(start)}};
      if (ended) period["end"] = format_date(std::min(kToday - 1, start + 300));
      c["period"] = std::move(period);
      c["author"] = link("Organization", council);
      add(uuid(), std::move(c));
    }
    if (has(Ltc::kLearningDisability)) {
      add(uuid(), flag("clinical", "Clinical", "reasonable-adjustment-learning-disability",
                       "Reasonable adjustments: learning disability (easy read, longer appointments, carer present)",
                       active(Ltc::kLearningDisability)->onset, practice_->id));
    }
    if (needs_interpreter_) {
      add(uuid(), flag("admin", "Administrative", "interpreter-required",
                       fmt::format("Interpreter required: {}", pool_->language_name),
                       day_between(birth_ + 1, kToday - 1), practice_->id));
    } else if (rng_.chance(age_ >= 75 ? 0.03 : 0.003)) {
      add(uuid(), flag("admin", "Administrative", "hearing-impairment",
                       "Communication need: hearing impairment (BSL interpreter or hearing loop)",
                       day_between(first_day(), kToday - 1), practice_->id));
    } else if (rng_.chance(age_ >= 75 ? 0.02 : 0.002)) {
      add(uuid(), flag("admin", "Administrative", "visual-impairment",
                       "Communication need: visual impairment (large print or audio)",
                       day_between(first_day(), kToday - 1), practice_->id));
    }
    // End-of-life preferences (ReSPECT / DNACPR): mostly the very old and those with advanced
    // illness; about 1% of the population (QOF palliative care register ~0.5%, plus ReSPECT forms).
    double eol = age_ >= 90 ? 0.3 : age_ >= 85 ? 0.15 : 0;
    if (has(Ltc::kHeartFailure) && age_ >= 75) eol = std::max(eol, 0.25);
    if (has(Ltc::kDementia)) eol = std::max(eol, 0.3);
    if (has(Ltc::kCancer) && age_ >= 70) eol = std::max(eol, 0.15);
    if (care_home_ != nullptr) eol = std::max(eol, 0.5);
    if (!rng_.chance(eol)) return;
    const std::int64_t day = day_between(std::max(first_day(), kToday - 900), kToday - 1);
    json::object c;
    c["resourceType"] = "Consent";
    c["status"] = "active";
    c["scope"] = codeable("http://terminology.hl7.org/CodeSystem/consentscope", "adr", "Advanced Care Directive");
    c["category"] = json::array{
        codeable("http://terminology.hl7.org/CodeSystem/consentcategorycodes", "dnr", "Do Not Resuscitate")};
    c["patient"] = link(patient_url_);
    c["dateTime"] = format_date_time(day, clinic_minute());
    c["performer"] = json::array{link(patient_url_)};
    c["organization"] = json::array{link("Organization", practice_->id)};
    c["policyRule"] = text_concept("ReSPECT (Recommended Summary Plan for Emergency Care and Treatment)");
    c["provision"] = json::object{
        {"type", "deny"}, {"code", json::array{codeable(kSnomed, "89666000", "Cardiopulmonary resuscitation")}}};
    add(uuid(), std::move(c));
    add(uuid(), flag("advance-directive", "Advance Directive", "dnacpr",
                     "DNACPR decision in place (ReSPECT form): do not attempt cardiopulmonary resuscitation", day,
                     practice_->id));
    static constexpr std::array<std::string_view, 4> kPlaces = {"home", "care home", "hospice", "hospital"};
    const std::string_view place = care_home_ != nullptr ? kPlaces.at(1) : kPlaces.at(rng_.below(3) == 2 ? 2 : 0);
    json::object plan;
    plan["resourceType"] = "CarePlan";
    plan["status"] = "active";
    plan["intent"] = "plan";
    plan["category"] = json::array{codeable(kDemoConcept, "end-of-life", "End of life care plan")};
    plan["title"] = "End of life care plan";
    plan["description"] =
        fmt::format("Preferred place of care and death: {}. DNACPR agreed with the patient and family.", place);
    plan["subject"] = link(patient_url_);
    plan["period"] = json::object{{"start", format_date(day)}};
    plan["author"] = link("Organization", practice_->id);
    add(uuid(), std::move(plan));
  }

  // --- duplicates ----------------------------------------------------------------------------------

  void duplicates() {
    const Locality& loc = kLocalities.at(locality_);
    // A hospital PAS copy: likelier for people the hospital has seen.
    if (rng_.chance(hospital_contacts_ > 0 ? 0.08 : 0.025)) duplicate(loc.acute_trust);
    // A social-care copy: every child on a plan, many older people, some with learning disability.
    const double social = child_protection_ ? 1.0 : has(Ltc::kLearningDisability) ? 0.3 : age_ >= 75 ? 0.06 : 0.005;
    if (rng_.chance(social)) duplicate(child_protection_ && loc.council == "kcc" ? "kcc-childrens" : loc.council);
  }

  void duplicate(std::string_view org) {
    const auto kind = static_cast<DuplicateKind>(rng_.weighted(kDuplicateKindWeights));
    const std::string family = family_;
    const std::string given = given_;
    const std::int64_t birth = birth_;
    const std::string postcode = postcode_;
    const std::string line = line_;
    bool with_nhs = false;
    switch (kind) {
      case DuplicateKind::kNoNhsNumber:
        break;
      case DuplicateKind::kSurnameTypo:
        family_ = typo(family_);
        break;
      case DuplicateKind::kNickname:
        given_ = nickname(given_);
        break;
      case DuplicateKind::kDobTransposed:
        with_nhs = rng_.chance(0.5);
        birth_ = transposed(birth_);
        break;
      case DuplicateKind::kOldAddress: {
        const Town& t = kLocalities.at(locality_).towns[rng_.below(kLocalities.at(locality_).towns.size())];
        postcode_ = fmt::format("{} {}{}", t.districts.at(0), rng_.below(10), letters(2));
        line_ = fmt::format("{} {}", 1 + rng_.below(150), kStreets.at(rng_.below(kStreets.size())));
        break;
      }
    }
    const CareHome* home = care_home_;
    if (kind == DuplicateKind::kOldAddress) care_home_ = nullptr;
    json::object p = patient_resource(with_nhs);
    care_home_ = home;
    p["meta"].as_object()["tag"].as_array().push_back(
        coding(kDuplicateTagSystem, kDuplicateKindNames.at(static_cast<std::size_t>(kind)), ""));
    p["identifier"].as_array().push_back(identifier(fmt::format("https://ucr.example.org/fhir/Id/{}-local-number", org),
                                                    fmt::format("{}{:08}", org.substr(0, 2), rng_.below(100000000))));
    p["identifier"].as_array().back().as_object()["type"] =
        codeable("http://terminology.hl7.org/CodeSystem/v2-0203", "MR", "Medical record number");
    p["managingOrganization"] = link("Organization", org);
    p["generalPractitioner"] = json::array{link("Organization", practice_->id)};
    add(uuid(), std::move(p));
    family_ = family;
    given_ = given;
    birth_ = birth;
    postcode_ = postcode;
    line_ = line;
  }

  // --- documents ---------------------------------------------------------------------------------

  /// Clinical letters about the person's most recent care, as DocumentReferences with the letter
  /// inline (text/plain, base64): the latest ED attendance, hospital stay and outpatient clinic,
  /// and the latest long-term condition review, so at most four per person.
  void documents() {
    Rng rng(derive_seed(seed_, kStreamDocuments, n_));
    std::vector<json::object> written;  // added once read: adding moves the entries the Seen point into
    Seen ed;
    Seen stay;
    Seen clinic;
    Seen review;
    for (const json::value& v : entries_) {
      const json::object& entry = v.as_object();
      const json::object& r = entry.at("resource").as_object();
      if (r.at("resourceType").as_string() != "Encounter") continue;
      const std::string_view cls = r.at("class").as_object().at("code").as_string();
      const std::string_view type =
          r.at("type").as_array().at(0).as_object().at("coding").as_array().at(0).as_object().at("code").as_string();
      const std::string_view provider = r.at("serviceProvider").as_object().at("reference").as_string();
      const Seen seen{std::string(entry.at("fullUrl").as_string()), &r};
      // Entries are not in date order: keep the latest of each kind.
      const auto later = [&](const Seen& current) {
        return current.encounter == nullptr || start_of(r) > start_of(*current.encounter);
      };
      if (cls == "EMER" && later(ed)) ed = seen;
      if (cls == "IMP" && later(stay)) stay = seen;
      if (cls == "AMB" && r.contains("basedOn") && later(clinic)) clinic = seen;
      if (cls == "AMB" && type == "185349003" && provider == "Organization/" + practice_->id && later(review))
        review = seen;
    }
    if (ed.encounter != nullptr) {
      const std::string diagnosis = diagnosis_of(ed.url);
      const bool admitted = stay.encounter != nullptr && stay.encounter->contains("partOf") &&
                            stay.encounter->at("partOf").as_object().at("reference").as_string() == ed.url;
      std::string text = letter_head("Emergency department attendance summary", *ed.encounter);
      text += fmt::format("Attended: {}\nDiagnosis: {}\n", long_date(start_of(*ed.encounter)), diagnosis);
      text += admitted ? "Outcome: admitted to a ward for further treatment.\n" : "Outcome: discharged home.\n";
      text += rng.chance(0.5) ? "Follow-up: no routine follow-up needed; please review if the symptoms return.\n"
                              : "Follow-up: please review at the practice within two weeks.\n";
      text += letter_foot(*ed.encounter, "Emergency Department");
      written.push_back(document(Coded{"371531000", "Report of clinical encounter"},
                                 "Emergency department attendance summary", ed, text, patient_url_));
    }
    if (stay.encounter != nullptr) {
      const json::object& hx = stay.encounter->at("hospitalization").as_object();
      const std::string_view to = hx.at("dischargeDisposition").as_object().at("text").as_string();
      std::string reason = "Not recorded";
      if (stay.encounter->contains("reasonReference")) {
        reason = diagnosis_of(std::string(
            stay.encounter->at("reasonReference").as_array().at(0).as_object().at("reference").as_string()));
      }
      std::string text = letter_head("Discharge summary", *stay.encounter);
      text += fmt::format("Admitted: {}\nDischarged: {}\nDischarged to: {}\nReason for admission: {}\n",
                          long_date(start_of(*stay.encounter)), long_date(end_of(*stay.encounter)), to, reason);
      text += "Medicines on discharge: as before admission; no changes made.\n";
      text += rng.chance(0.6) ? "Actions for the GP: please check kidney function and blood count in one week.\n"
                              : "Actions for the GP: none; the ward has arranged follow-up in clinic.\n";
      text += letter_foot(*stay.encounter, "Ward team");
      written.push_back(
          document(Coded{"373942005", "Discharge summary"}, "Discharge summary", stay, text, patient_url_));
    }
    if (clinic.encounter != nullptr) {
      std::string text = letter_head("Clinic letter", *clinic.encounter);
      text += fmt::format("Seen in clinic: {}\n", long_date(start_of(*clinic.encounter)));
      text += fmt::format("Dear colleague,\n\nThank you for referring {} {}. I saw them in clinic today. ", given_,
                          family_);
      text += rng.chance(0.5) ? "Their examination was unremarkable and I have reassured them. I have discharged "
                                "them back to your care.\n"
                              : "I have arranged further tests and will see them again in three months with the "
                                "results.\n";
      text += letter_foot(*clinic.encounter, "Outpatient clinic");
      written.push_back(
          document(Coded{"371530004", "Clinical consultation report"}, "Clinic letter", clinic, text, patient_url_));
    }
    if (review.encounter != nullptr && !active_.empty()) {
      std::string text = letter_head("Care plan review", *review.encounter);
      text += fmt::format("Reviewed: {}\nConditions reviewed:", long_date(start_of(*review.encounter)));
      for (const Active& a : active_) text += fmt::format(" {};", kLtcs.at(static_cast<std::size_t>(a.ltc)).display);
      text.back() = '\n';
      text += "Agreed goals: stay active, take medicines as prescribed, attend annual review.\n";
      text += rng.chance(0.7) ? "Changes: none; the plan continues as before.\n"
                              : "Changes: blood tests before the next review; see the nurse sooner if unwell.\n";
      text += letter_foot(*review.encounter, "Practice nursing team");
      written.push_back(document(Coded{"734163000", "Care plan"}, "Care plan review", review, text, patient_url_));
    }
    for (json::object& d : written) add(uuid(), std::move(d));
  }

  /// An Encounter of the record: its urn:uuid and resource (inside entries_, not moved while read).
  struct Seen {
    std::string url;
    const json::object* encounter = nullptr;
  };

  static std::string_view start_of(const json::object& encounter) {
    return encounter.at("period").as_object().at("start").as_string();
  }
  static std::string_view end_of(const json::object& encounter) {
    return encounter.at("period").as_object().at("end").as_string();
  }

  /// "2024-03-14T..." → "14 March 2024".
  static std::string long_date(std::string_view iso) {
    static constexpr std::array<std::string_view, 12> kMonths = {"January",   "February", "March",    "April",
                                                                 "May",       "June",     "July",     "August",
                                                                 "September", "October",  "November", "December"};
    const int year = std::stoi(std::string(iso.substr(0, 4)));
    const int month = std::stoi(std::string(iso.substr(5, 2)));
    const int day = std::stoi(std::string(iso.substr(8, 2)));
    return fmt::format("{} {} {}", day, kMonths.at(static_cast<std::size_t>(month - 1)), year);
  }

  /// The display of the Condition recorded at an encounter (or named by its urn:uuid).
  [[nodiscard]] std::string diagnosis_of(const std::string& url) const {
    for (const json::value& v : entries_) {
      const json::object& entry = v.as_object();
      const json::object& r = entry.at("resource").as_object();
      if (r.at("resourceType").as_string() != "Condition") continue;
      const bool at = r.contains("encounter") && r.at("encounter").as_object().at("reference").as_string() == url;
      if (at || entry.at("fullUrl").as_string() == url)
        return std::string(r.at("code").as_object().at("text").as_string());
    }
    return "Not recorded";
  }

  [[nodiscard]] std::string organisation_name(std::string_view reference) const {
    const std::string_view id = reference.substr(reference.find('/') + 1);
    if (id == practice_->id) return practice_->name;
    for (const FixedOrg& o : kFixedOrgs) {
      if (o.id == id) return std::string(o.name);
    }
    return std::string(id);
  }

  [[nodiscard]] std::string letter_head(std::string_view title, const json::object& encounter) const {
    const std::string_view provider = encounter.at("serviceProvider").as_object().at("reference").as_string();
    return fmt::format("{}\n{}\n\nPatient: {} {}\nDate of birth: {}\n\n", title, organisation_name(provider), given_,
                       family_, long_date(format_date(birth_)));
  }

  [[nodiscard]] std::string letter_foot(const json::object& encounter, std::string_view team) const {
    const std::string_view provider = encounter.at("serviceProvider").as_object().at("reference").as_string();
    return fmt::format("\nYours sincerely,\n{}, {}\n(This is a synthetic letter made for the demonstration.)\n", team,
                       organisation_name(provider));
  }

  static json::object document(const Coded& type, std::string_view title, const Seen& seen, const std::string& text,
                               const std::string& patient) {
    const json::object& e = *seen.encounter;
    json::object d;
    d["resourceType"] = "DocumentReference";
    d["status"] = "current";
    d["docStatus"] = "final";
    json::object t = codeable(kSnomed, type.code, type.display);
    t["text"] = title;
    d["type"] = std::move(t);
    d["subject"] = link(patient);
    d["date"] = end_of(e);
    if (e.contains("participant")) {
      d["author"] = json::array{e.at("participant").as_array().at(0).as_object().at("individual")};
    }
    d["custodian"] = e.at("serviceProvider");
    d["description"] = title;
    json::object attachment;
    attachment["contentType"] = "text/plain; charset=utf-8";
    attachment["language"] = "en-GB";
    attachment["data"] = base64(text);
    attachment["title"] = title;
    attachment["creation"] = end_of(e);
    d["content"] = json::array{json::object{{"attachment", std::move(attachment)}}};
    d["context"] = json::object{{"encounter", json::array{link(seen.url)}}, {"period", e.at("period")}};
    return d;
  }

  static std::string base64(std::string_view in) {
    static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < in.size(); i += 3) {
      const std::size_t n = std::min<std::size_t>(3, in.size() - i);
      std::uint32_t v = 0;
      for (std::size_t k = 0; k < 3; ++k) {
        v = (v << 8U) | (k < n ? static_cast<unsigned char>(in[i + k]) : 0U);
      }
      for (std::size_t k = 0; k < 4; ++k) {
        out += k <= n ? kAlphabet.at((v >> (18U - 6U * k)) & 0x3fU) : '=';
      }
    }
    return out;
  }

  // --- result interpretation -----------------------------------------------------------------------

  /// A laboratory reference range (adult; the sex-specific ones for haemoglobin and creatinine),
  /// with the limits beyond which a result is critical (0 when there is none).
  struct Range {
    std::string_view loinc;
    double low = 0;   ///< 0: no lower limit
    double high = 0;  ///< 0: no upper limit
    double critical_low = 0;
    double critical_high = 0;
  };

  [[nodiscard]] Range range_of(std::string_view loinc) const {
    if (loinc == "718-7") return female_ ? Range{loinc, 115, 165, 70, 0} : Range{loinc, 130, 180, 70, 0};
    if (loinc == "14682-9") return female_ ? Range{loinc, 45, 84, 0, 0} : Range{loinc, 59, 104, 0, 0};
    if (loinc == "2823-3") return Range{loinc, 3.5, 5.3, 2.5, 6.5};
    if (loinc == "59261-8") return Range{loinc, 0, 41, 0, 0};   // HbA1c: 42-47 at risk, 48 and over diabetes
    if (loinc == "62238-1") return Range{loinc, 60, 0, 15, 0};  // eGFR: below 60 reduced, below 15 failure
    if (loinc == "14647-2") return Range{loinc, 0, 5.0, 0, 0};  // total cholesterol: 5.0 or under advised
    return Range{};
  }

  /// Each laboratory result gets its reference range and an interpretation (R4
  /// v3-ObservationInterpretation: N, L, H, LL, HH), as a laboratory system reports them. A separate
  /// pass over the record, so the rest of the generator is unchanged by it.
  void interpret_results() {
    static constexpr std::string_view kInterpretation =
        "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
    for (json::value& v : entries_) {
      json::object& r = v.as_object().at("resource").as_object();
      if (r.at("resourceType").as_string() != "Observation" || !r.contains("valueQuantity")) continue;
      const std::string_view loinc =
          r.at("code").as_object().at("coding").as_array().at(0).as_object().at("code").as_string();
      const Range range = range_of(loinc);
      if (range.loinc.empty()) continue;
      const json::object& q = r.at("valueQuantity").as_object();
      const double value = q.at("value").to_number<double>();
      const auto limit = [&](double x) {
        return json::object{{"value", x}, {"unit", q.at("unit")}, {"system", q.at("system")}, {"code", q.at("code")}};
      };
      json::object rr;
      if (range.low > 0) rr["low"] = limit(range.low);
      if (range.high > 0) rr["high"] = limit(range.high);
      std::string_view code = "N";
      std::string_view display = "Normal";
      if (q.contains("comparator")) {
        // ">90": above every limit that matters here.
      } else if (range.critical_low > 0 && value < range.critical_low) {
        code = "LL";
        display = "Critical low";
      } else if (range.critical_high > 0 && value > range.critical_high) {
        code = "HH";
        display = "Critical high";
      } else if (range.low > 0 && value < range.low) {
        code = "L";
        display = "Low";
      } else if (range.high > 0 && value > range.high) {
        code = "H";
        display = "High";
      }
      r["referenceRange"] = json::array{std::move(rr)};
      r["interpretation"] = json::array{codeable(kInterpretation, code, display)};
    }
  }

  /// Day and month swapped when that is a date, else the day's digits swapped, else the day next to it.
  static std::int64_t transposed(std::int64_t day) {
    const Civil c = civil_from_days(day);
    if (c.day <= 12 && c.day != c.month) return days_from_civil(c.year, c.day, c.month);
    const int swapped = (c.day % 10) * 10 + c.day / 10;
    if (swapped >= 1 && swapped <= 28 && swapped != c.day) return days_from_civil(c.year, c.month, swapped);
    return day + (c.day < 28 ? 1 : -1);
  }

  /// One keying slip in an ASCII letter (names with accents keep those letters intact).
  std::string typo(const std::string& s) {
    const auto ascii = [&](std::size_t i) { return i < s.size() && static_cast<unsigned char>(s[i]) < 0x80; };
    std::vector<std::size_t> at;
    for (std::size_t i = 1; i + 1 < s.size(); ++i) {
      if (ascii(i) && ascii(i + 1) && s[i] != s[i + 1]) at.push_back(i);
    }
    if (at.empty()) return s + "e";
    std::string out = s;
    const std::size_t i = at.at(rng_.below(at.size()));
    switch (rng_.below(3)) {
      case 0:
        std::swap(out[i], out[i + 1]);
        break;  // transposition
      case 1:
        out.erase(i, 1);
        break;  // omission
      default:
        out.insert(i, 1, out[i]);
        break;  // doubling
    }
    return out;
  }

  std::string nickname(const std::string& s) {
    for (const Nickname& k : kNicknames) {
      if (k.name == s) return std::string(k.nickname);
    }
    // A shortened form, cut at a character boundary.
    std::size_t cut = std::min(s.size(), std::max<std::size_t>(3, s.size() / 2));
    while (cut < s.size() && (static_cast<unsigned char>(s[cut]) & 0xC0U) == 0x80U) ++cut;
    return s.substr(0, cut);
  }

  const Directory& d_;
  std::uint64_t seed_;
  std::size_t n_;
  Rng rng_;
  std::uint64_t uuid_counter_ = 0;
  json::array entries_;

  bool female_ = false;
  std::int64_t birth_ = 0;
  int age_ = 0;
  const NamePool* pool_ = nullptr;
  std::string family_;
  std::string given_;
  std::string middle_;
  std::size_t locality_ = 0;
  const Town* town_ = nullptr;
  std::string postcode_;
  std::string line_;
  const Practice* practice_ = nullptr;
  std::string gp_;
  std::string pharmacy_;
  const CareHome* care_home_ = nullptr;
  bool needs_interpreter_ = false;
  std::string patient_url_;
  std::bitset<kLtcs.size()> ltcs_;
  std::vector<Active> active_;
  std::vector<Med> repeats_;
  bool penicillin_allergy_ = false;
  bool on_statin_ = false;
  bool child_protection_ = false;
  int hospital_contacts_ = 0;
  Baseline base_;
};

}  // namespace

json::array person_entries(const Directory& directory, std::uint64_t seed, std::size_t n) {
  return PersonBuilder(directory, seed, n).build();
}

}  // namespace ucr::demo::detail
