#include "mpi/population.hpp"

#include "mpi/nhs_number.hpp"
#include "mpi/normalise.hpp"

#include <fmt/format.h>
#include <boost/json/array.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <utility>

namespace ucr::mpi {
namespace {

namespace json = boost::json;

// Common surnames and given names of England and Wales (ONS name statistics give the flavour; the lists
// and their order are ours). Earlier entries are picked far more often.
constexpr std::array<std::string_view, 120> kSurnames = {
    "smith",      "jones",    "williams", "taylor",   "brown",     "davies",   "evans",    "wilson",  "thomas",
    "johnson",    "roberts",  "robinson", "thompson", "wright",    "walker",   "white",    "edwards", "hughes",
    "green",      "hall",     "lewis",    "harris",   "clarke",    "patel",    "jackson",  "wood",    "turner",
    "martin",     "cooper",   "hill",     "ward",     "morris",    "moore",    "clark",    "lee",     "king",
    "baker",      "harrison", "morgan",   "allen",    "james",     "scott",    "phillips", "watson",  "davis",
    "parker",     "price",    "bennett",  "young",    "griffiths", "mitchell", "kelly",    "cook",    "carter",
    "richardson", "bailey",   "collins",  "bell",     "shaw",      "murphy",   "miller",   "cox",     "richards",
    "khan",       "marshall", "anderson", "simpson",  "ellis",     "adams",    "singh",    "begum",   "wilkinson",
    "foster",     "chapman",  "powell",   "webb",     "rogers",    "gray",     "mason",    "ali",     "hunt",
    "hussain",    "campbell", "matthews", "owen",     "palmer",    "holmes",   "mills",    "barnes",  "knight",
    "lloyd",      "butler",   "russell",  "barker",   "fisher",    "stevens",  "jenkins",  "murray",  "dixon",
    "harvey",     "graham",   "pearson",  "ahmed",    "fletcher",  "walsh",    "kaur",     "gibson",  "howard",
    "andrews",    "stewart",  "elliott",  "reynolds", "saunders",  "payne",    "fox",      "ford",    "pearce",
    "day",        "brooks",   "west",
};
constexpr std::array<std::string_view, 48> kMale = {
    "william",     "robert",    "john",      "james",    "michael", "david",   "richard",  "thomas",
    "christopher", "daniel",    "matthew",   "anthony",  "joseph",  "edward",  "peter",    "andrew",
    "stephen",     "jonathan",  "benjamin",  "samuel",   "oliver",  "harry",   "jack",     "george",
    "charlie",     "jacob",     "alfie",     "noah",     "leo",     "oscar",   "mohammed", "arthur",
    "henry",       "frederick", "alexander", "nicholas", "timothy", "kenneth", "ronald",   "gary",
    "mark",        "paul",      "steven",    "kevin",    "brian",   "ian",     "graham",   "colin"};
constexpr std::array<std::string_view, 48> kFemale = {
    "margaret",  "elizabeth", "mary",      "patricia", "jennifer", "susan",    "jessica",  "sarah",
    "karen",     "nancy",     "catherine", "deborah",  "rebecca",  "victoria", "samantha", "katherine",
    "christine", "amanda",    "rachel",    "emma",     "olivia",   "amelia",   "isla",     "ava",
    "mia",       "isabella",  "sophia",    "grace",    "lily",     "freya",    "emily",    "ivy",
    "ella",      "rosie",     "evie",      "florence", "alice",    "jean",     "joan",     "dorothy",
    "helen",     "julie",     "claire",    "louise",   "nicola",   "joanne",   "lisa",     "hannah"};
/// Short forms tried as nicknames; only those the nickname table maps to the given name are used.
constexpr std::array<std::string_view, 40> kShortForms = {
    "bill", "will",  "billy", "bob",   "rob",   "robbie", "jack", "johnny", "jim",    "jimmy",
    "mike", "dave",  "rich",  "dick",  "tom",   "chris",  "dan",  "matt",   "tony",   "joe",
    "ed",   "ted",   "pete",  "andy",  "steve", "ben",    "sam",  "peggy",  "maggie", "liz",
    "beth", "betty", "pat",   "jenny", "sue",   "jess",   "kate", "cathy",  "debbie", "vicky"};
/// Parts of the less common surnames (ours): prefix + suffix makes 800 names of the long tail.
constexpr std::array<std::string_view, 40> kSurnameHeads = {
    "ash",  "black", "bright", "brook", "cald",  "craw", "dun",   "elm",   "fair", "gold",
    "hay",  "hol",   "kings",  "lang",  "mar",   "mid",  "north", "oak",   "pen",  "rad",
    "red",  "ros",   "sand",   "shel",  "south", "stan", "stock", "thorn", "wal",  "wether",
    "whit", "wind",  "ald",    "bar",   "bur",   "chal", "dray",  "fen",   "hart", "lind"};
constexpr std::array<std::string_view, 20> kSurnameTails = {
    "ley",   "ton",    "worth", "field", "ford", "wood",  "more",  "ham", "by",  "well",
    "stone", "bridge", "ridge", "wick",  "cott", "combe", "hurst", "den", "man", "ling"};
/// Share of people with one of the 120 common surnames (Zipf-like among them: "smith" about 1.3% of all,
/// near its share in England and Wales); the rest have a long-tail surname, all about equally rare.
constexpr double kCommonSurname = 0.3;
constexpr double kSurnameSkew = 1.5;
/// Postcode areas of Kent and Medway.
constexpr std::array<std::string_view, 5> kAreas = {"ME", "CT", "TN", "DA", "BR"};
constexpr std::string_view kInwardLetters = "ABDEFGHJLNPQRSTUWXYZ";

constexpr double kPhoneHeld = 0.7;      ///< share of people with a mobile number
constexpr double kEmailHeld = 0.4;      ///< share of people with an e-mail address
constexpr double kMiddleHeld = 0.5;     ///< share of people with a middle name
constexpr double kYearTypo = 0.25;      ///< share of one-digit date typos in the year (else the day)
constexpr double kPhoneIntl = 0.3;      ///< copies writing the phone as +44 (formatting only)
constexpr double kPostcodeLower = 0.5;  ///< copies writing the postcode in lower case (formatting only)
constexpr double kGpRegistered = 0.98;  ///< share of people registered with a GP practice (primary record)
constexpr int kPracticesPerDistrict = 3;
constexpr int kDistricts = 20;       ///< districts 1..20 in each area
constexpr int kLastMoveYear = 2025;  ///< previous addresses end by this year
constexpr int kFirstYear = 1930;
constexpr int kLastYear = 2020;
constexpr int kLastParentYear = 1985;

/// NHS numbers begin with 9, like the NHS's published test numbers (9000000009, the 999 range); the
/// eight digits after the 9 walk a permutation of 0..10^8-1 (a stride not divisible by 2 or 5 is coprime
/// to 10^8), so they never repeat within a population. Numbers with check digit 10 are skipped.
constexpr std::uint64_t kNhsSpace = 100'000'000;
constexpr std::uint64_t kNhsStride = 31'415'927;

/// Deterministic random numbers on every platform: std::mt19937_64's output is fixed by the standard,
/// the distributions here are ours (the std:: ones differ between standard libraries).
class Random {
 public:
  explicit Random(std::uint64_t seed) : engine_(seed) {}

  /// Uniform in [0, 1).
  double unit() { return static_cast<double>(engine_() >> 11U) * 0x1.0p-53; }
  bool chance(double p) { return unit() < p; }
  /// Uniform in [lo, hi].
  int uniform(int lo, int hi) {
    const auto span = static_cast<std::uint64_t>(hi - lo) + 1;
    return lo + static_cast<int>(engine_() % span);
  }
  std::uint64_t next() { return engine_(); }

  /// Zipf-like choice: early names are far commoner (the larger the skew, the more).
  template <std::size_t N>
  std::string pick(const std::array<std::string_view, N>& names, double skew = 2.2) {
    const auto i = static_cast<std::size_t>(std::pow(unit(), skew) * static_cast<double>(N));
    return std::string(names[std::min(i, N - 1)]);
  }

  std::string surname() {
    if (chance(kCommonSurname)) return pick(kSurnames, kSurnameSkew);
    return fmt::format("{}{}", kSurnameHeads[static_cast<std::size_t>(uniform(0, kSurnameHeads.size() - 1))],
                       kSurnameTails[static_cast<std::size_t>(uniform(0, kSurnameTails.size() - 1))]);
  }

 private:
  std::mt19937_64 engine_;
};

/// One person's true demographics, or one copy's as written.
struct Demographics {
  std::string nhs;
  std::string family;
  std::string maiden;
  std::string given;
  std::string middle;
  std::string gender;
  int year = 0;
  int month = 0;
  int day = 0;
  std::string postcode;
  std::string phone;
  std::string email;
  std::string gp;                 ///< ODS code of the registered GP practice, empty when none
  std::string previous_postcode;  ///< the address before the last move
  std::string previous_gp;        ///< the practice registered with there
  int moved_year = 0;             ///< when the person left the previous address
  bool history = false;           ///< the record keeps the previous address (use "old")
};

class Generator {
 public:
  explicit Generator(const PopulationOptions& options)
      : options_(options), random_(options.seed), nhs_position_(random_.next() % kNhsSpace) {
    for (const auto s : kShortForms) {
      for (const auto& formal : formal_names_of(s)) nicknames_[formal].emplace_back(s);
    }
  }

  Random& random() { return random_; }

  std::string nhs_number() {
    for (;;) {
      nhs_position_ = (nhs_position_ + kNhsStride) % kNhsSpace;
      const auto nine = fmt::format("9{:08}", nhs_position_);
      const int check = nhs_check_digit(nine);
      if (check != 10) return nine + static_cast<char>('0' + check);
    }
  }

  std::string postcode() {
    return postcode_in(static_cast<std::size_t>(random_.uniform(0, kAreas.size() - 1)), random_.uniform(1, kDistricts));
  }

  std::string postcode_in(std::size_t area, int district) {
    return fmt::format("{}{} {}{}{}", kAreas[area], district, random_.uniform(0, 9),
                       kInwardLetters[static_cast<std::size_t>(random_.uniform(0, kInwardLetters.size() - 1))],
                       kInwardLetters[static_cast<std::size_t>(random_.uniform(0, kInwardLetters.size() - 1))]);
  }

  /// Another postcode in the district of `postcode` (as generated: upper case, area letters then district).
  std::string postcode_near(const std::string& postcode) {
    const auto [area, district] = place_of(postcode);
    for (;;) {
      auto other = postcode_in(area, district);
      if (other != postcode) return other;
    }
  }

  /// A GP practice of the district of `postcode`: fictional ODS-shaped codes "G8" + area + district + n.
  std::string practice_near(const std::string& postcode) {
    const auto [area, district] = place_of(postcode);
    return fmt::format("G8{}{:02}{}", area, district, random_.uniform(1, kPracticesPerDistrict));
  }

  static std::pair<std::size_t, int> place_of(const std::string& postcode) {
    std::size_t letters = 0;
    while (letters < postcode.size() && postcode[letters] >= 'A' && postcode[letters] <= 'Z') ++letters;
    const auto area = std::find(kAreas.begin(), kAreas.end(), std::string_view(postcode).substr(0, letters));
    int district = 0;
    for (std::size_t i = letters; i < postcode.size() && postcode[i] >= '0' && postcode[i] <= '9'; ++i) {
      district = district * 10 + (postcode[i] - '0');
    }
    return {static_cast<std::size_t>(area - kAreas.begin()), district};
  }

  std::string phone() { return fmt::format("07{:09}", random_.uniform(0, 999'999'999)); }

  std::string given_name(const std::string& gender) {
    return gender == "male" ? random_.pick(kMale) : random_.pick(kFemale);
  }

  Demographics person() {
    Demographics p;
    p.nhs = nhs_number();
    p.gender = random_.chance(0.5) ? "male" : "female";
    p.given = given_name(p.gender);
    if (random_.chance(kMiddleHeld)) p.middle = given_name(p.gender);
    p.family = random_.surname();
    p.year = random_.uniform(kFirstYear, kLastYear);
    p.month = random_.uniform(1, 12);
    p.day = random_.uniform(1, 28);
    p.postcode = postcode();
    if (random_.chance(kPhoneHeld)) p.phone = phone();
    if (random_.chance(kEmailHeld)) {
      p.email = fmt::format("{}.{}{}@example.com", p.given, p.family, random_.uniform(1, 999));
    }
    // The address before the last move: nearby when the move kept the GP practice, else anywhere.
    const bool registered = random_.chance(kGpRegistered);
    if (random_.chance(options_.rates.gp_moved)) {
      p.previous_postcode = postcode();
      p.previous_gp = practice_near(p.previous_postcode);
      if (registered) p.gp = practice_near(p.postcode);
    } else {
      p.previous_postcode = postcode_near(p.postcode);
      if (registered) p.gp = practice_near(p.postcode);
      p.previous_gp = p.gp;
    }
    p.moved_year = random_.uniform(std::max(p.year, 2000), kLastMoveYear);
    p.history = random_.chance(options_.address_history);
    return p;
  }

  /// One keying error: substitution, deletion, insertion or adjacent transposition (not the first letter).
  std::string typo(std::string s) {
    if (s.size() < 3) return s;
    const auto i = static_cast<std::size_t>(random_.uniform(1, static_cast<int>(s.size()) - 2));
    const char c = static_cast<char>('a' + random_.uniform(0, 25));
    switch (random_.uniform(0, 3)) {
      case 0:
        s[i] = c;
        break;
      case 1:
        s.erase(i, 1);
        break;
      case 2:
        s.insert(i, 1, c);
        break;
      default:
        std::swap(s[i], s[i + 1]);
    }
    return s;
  }

  std::string nickname_of(const std::string& given) {
    const auto it = nicknames_.find(given);
    if (it == nicknames_.end()) return given;
    return it->second[static_cast<std::size_t>(random_.uniform(0, static_cast<int>(it->second.size()) - 1))];
  }

  /// Another source system's record of `p`, with corruption at the configured rates.
  Demographics corrupted(Demographics p) {
    const auto& r = options_.rates;
    if (random_.chance(r.missing_nhs)) p.nhs.clear();
    if (random_.chance(r.nickname)) p.given = nickname_of(p.given);
    if (random_.chance(r.given_typo)) p.given = typo(p.given);
    if (random_.chance(r.middle_dropped)) p.middle.clear();
    if (p.gender == "female" && p.year < 2000 && random_.chance(r.married)) {
      const auto old = p.family;
      do {
        p.family = random_.surname();
      } while (p.family == old);
      if (random_.chance(r.maiden_kept)) p.maiden = old;
    } else if (random_.chance(r.family_typo)) {
      p.family = typo(p.family);
    }
    if (random_.chance(r.transposed_date) && p.day <= 12 && p.day != p.month) {
      std::swap(p.day, p.month);
    } else if (random_.chance(r.date_typo)) {
      if (random_.chance(kYearTypo)) {
        p.year += p.year % 10 == 9 || p.year >= kLastYear ? -1 : 1;
      } else {
        p.day += p.day % 10 == 9 || p.day >= 28 ? -1 : 1;
      }
    }
    if (random_.chance(r.moved)) {
      if (random_.chance(r.moved_stale)) {
        // Out of date: last updated before the person moved.
        p.postcode = p.previous_postcode;
        p.gp = p.previous_gp;
      } else if (random_.chance(r.gp_moved)) {
        // Newer than the primary record: a move it has not heard of.
        p.postcode = postcode();
        p.gp = practice_near(p.postcode);
      } else {
        p.postcode = postcode_near(p.postcode);
      }
    } else if (!p.gp.empty() && random_.chance(r.gp_changed)) {
      const auto old = p.gp;
      do {
        p.gp = practice_near(p.postcode);
      } while (p.gp == old);
    }
    if (random_.chance(r.gp_missing)) p.gp.clear();
    p.history = false;  // other systems keep the current address only
    if (random_.chance(r.phone_changed)) {
      p.phone = phone();
    } else if (random_.chance(r.phone_missing)) {
      p.phone.clear();
    }
    if (!p.phone.empty() && random_.chance(kPhoneIntl)) p.phone = "+44 " + p.phone.substr(1);
    if (random_.chance(r.email_missing)) p.email.clear();
    if (random_.chance(r.gender_missing)) p.gender.clear();
    if (random_.chance(kPostcodeLower)) {
      std::transform(p.postcode.begin(), p.postcode.end(), p.postcode.begin(),
                     [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; });
    }
    return p;
  }

 private:
  const PopulationOptions& options_;
  Random random_;
  std::uint64_t nhs_position_;
  std::unordered_map<std::string, std::vector<std::string>> nicknames_;
};

std::string capitalised(std::string s) {
  if (!s.empty() && s[0] >= 'a' && s[0] <= 'z') s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

json::object to_patient(const Demographics& p, std::size_t index) {
  json::object o{{"resourceType", "Patient"}, {"id", fmt::format("syn-{}", index)}};
  if (!p.nhs.empty()) {
    o["identifier"] = json::array{json::object{{"system", kNhsNumberSystem}, {"value", p.nhs}}};
  }
  json::array given{capitalised(p.given)};
  if (!p.middle.empty()) given.emplace_back(capitalised(p.middle));
  json::array names{json::object{{"use", "official"}, {"family", capitalised(p.family)}, {"given", given}}};
  if (!p.maiden.empty()) {
    names.push_back(json::object{{"use", "maiden"}, {"family", capitalised(p.maiden)}, {"given", given}});
  }
  o["name"] = std::move(names);
  o["birthDate"] = fmt::format("{:04}-{:02}-{:02}", p.year, p.month, p.day);
  if (!p.gender.empty()) o["gender"] = p.gender;
  json::array addresses{json::object{{"use", "home"}, {"postalCode", p.postcode}}};
  if (p.history && !p.previous_postcode.empty()) {
    addresses.push_back(json::object{{"use", "old"},
                                     {"postalCode", p.previous_postcode},
                                     {"period", json::object{{"end", fmt::format("{:04}-06-30", p.moved_year)}}}});
  }
  o["address"] = std::move(addresses);
  if (!p.gp.empty()) {
    o["generalPractitioner"] = json::array{json::object{
        {"type", "Organization"}, {"identifier", json::object{{"system", kOdsOrganisationSystem}, {"value", p.gp}}}}};
  }
  json::array telecom;
  if (!p.phone.empty()) telecom.push_back(json::object{{"system", "phone"}, {"value", p.phone}});
  if (!p.email.empty()) telecom.push_back(json::object{{"system", "email"}, {"value", p.email}});
  if (!telecom.empty()) o["telecom"] = std::move(telecom);
  return o;
}

core::Result<void> check_rate(double rate, std::string_view name) {
  if (!(rate >= 0.0 && rate <= 1.0)) {
    return core::Error::invalid(fmt::format("population: {} must be between 0 and 1 (got {})", name, rate));
  }
  return core::ok();
}

}  // namespace

core::Result<void> PopulationOptions::validate() const {
  if (people == 0 || people > 2'000'000) {
    return core::Error::invalid(fmt::format("population: people must be between 1 and 2,000,000 (got {})", people));
  }
  if (!(copies_per_person >= 0.0 && copies_per_person <= 20.0)) {
    return core::Error::invalid(
        fmt::format("population: copies per person must be between 0 and 20 (got {})", copies_per_person));
  }
  const std::array<std::pair<double, std::string_view>, 22> all = {{
      {twin_rate, "twin rate"},
      {address_history, "address history rate"},
      {rates.moved_stale, "moved-stale rate"},
      {rates.gp_missing, "GP practice missing rate"},
      {rates.gp_changed, "GP practice changed rate"},
      {rates.gp_moved, "GP practice changed on a move rate"},
      {namesake_rate, "namesake rate"},
      {parent_child_rate, "parent-child rate"},
      {rates.missing_nhs, "missing NHS number rate"},
      {rates.nickname, "nickname rate"},
      {rates.given_typo, "given-name typo rate"},
      {rates.middle_dropped, "middle-name dropped rate"},
      {rates.married, "married-surname rate"},
      {rates.maiden_kept, "maiden-name kept rate"},
      {rates.family_typo, "family-name typo rate"},
      {rates.transposed_date, "transposed-date rate"},
      {rates.date_typo, "date typo rate"},
      {rates.moved, "moved rate"},
      {rates.phone_changed, "phone changed rate"},
      {rates.phone_missing, "phone missing rate"},
      {rates.email_missing, "e-mail missing rate"},
      {rates.gender_missing, "gender missing rate"},
  }};
  for (const auto& [rate, name] : all) {
    if (auto r = check_rate(rate, name); !r) return r;
  }
  return core::ok();
}

json::value PopulationOptions::to_json() const {
  return json::object{
      {"people", people},
      {"seed", seed},
      {"copies_per_person", copies_per_person},
      {"twin_rate", twin_rate},
      {"namesake_rate", namesake_rate},
      {"parent_child_rate", parent_child_rate},
      {"address_history", address_history},
      {"rates", json::object{{"missing_nhs", rates.missing_nhs},
                             {"nickname", rates.nickname},
                             {"given_typo", rates.given_typo},
                             {"middle_dropped", rates.middle_dropped},
                             {"married", rates.married},
                             {"maiden_kept", rates.maiden_kept},
                             {"family_typo", rates.family_typo},
                             {"transposed_date", rates.transposed_date},
                             {"date_typo", rates.date_typo},
                             {"moved", rates.moved},
                             {"moved_stale", rates.moved_stale},
                             {"gp_missing", rates.gp_missing},
                             {"gp_changed", rates.gp_changed},
                             {"gp_moved", rates.gp_moved},
                             {"phone_changed", rates.phone_changed},
                             {"phone_missing", rates.phone_missing},
                             {"email_missing", rates.email_missing},
                             {"gender_missing", rates.gender_missing}}},
  };
}

std::string_view relation_code(Relation relation) {
  switch (relation) {
    case Relation::kNone:
      return "none";
    case Relation::kTwin:
      return "twin";
    case Relation::kNamesake:
      return "namesake";
    case Relation::kParentChild:
      return "parent-child";
  }
  return "none";
}

Relation Population::relation(std::size_t a, std::size_t b) const {
  const auto pa = labels[a].person;
  const auto pb = labels[b].person;
  if (pa == pb) return Relation::kNone;
  const auto& x = persons[pa];
  const auto& y = persons[pb];
  if (x.relation != Relation::kNone && x.relative == pb) return x.relation;
  if (y.relation != Relation::kNone && y.relative == pa) return y.relation;
  return Relation::kNone;
}

std::size_t Population::true_pairs() const {
  std::vector<std::size_t> per_person(persons.size(), 0);
  for (const auto& l : labels) ++per_person[l.person];
  std::size_t pairs = 0;
  for (const auto n : per_person) pairs += n * (n - (n > 0 ? 1 : 0)) / 2;
  return pairs;
}

core::Result<std::vector<SyntheticPerson>> generate_patients(const PopulationOptions& options,
                                                             const PatientSink& sink) {
  if (auto ok = options.validate(); !ok) return ok.error();
  Generator g(options);
  auto& random = g.random();
  std::vector<Demographics> people;
  std::vector<SyntheticPerson> persons;
  people.reserve(options.people);
  for (std::size_t i = 0; i < options.people; ++i) people.push_back(g.person());
  persons.resize(people.size());

  const auto add = [&](Demographics d, Relation relation, std::size_t relative) {
    people.push_back(std::move(d));
    persons.push_back(SyntheticPerson{relation, static_cast<std::uint32_t>(relative)});
  };
  // Twins: same surname, birth date, address and phone; another given name; no middle name or e-mail.
  for (std::size_t i = 0; i < options.people; ++i) {
    if (!random.chance(options.twin_rate)) continue;
    Demographics twin = people[i];
    twin.nhs = g.nhs_number();
    twin.gender = random.chance(0.5) ? "male" : "female";
    do {
      twin.given = g.given_name(twin.gender);
    } while (twin.given == people[i].given);
    twin.middle.clear();
    twin.email.clear();
    add(std::move(twin), Relation::kTwin, i);
  }
  // Namesakes born the same day: same given and family name and gender, living elsewhere.
  for (std::size_t i = 0; i < options.people; ++i) {
    if (!random.chance(options.namesake_rate)) continue;
    Demographics namesake = g.person();
    const auto& p = people[i];
    namesake.family = p.family;
    namesake.given = p.given;
    namesake.gender = p.gender;
    namesake.year = p.year;
    namesake.month = p.month;
    namesake.day = p.day;
    namesake.email.clear();
    add(std::move(namesake), Relation::kNamesake, i);
  }
  // A child of the same name at the same address and phone.
  for (std::size_t i = 0; i < options.people; ++i) {
    if (people[i].year > kLastParentYear || !random.chance(options.parent_child_rate)) continue;
    Demographics child = people[i];
    child.nhs = g.nhs_number();
    child.year = std::min(kLastYear, child.year + random.uniform(18, 35));
    child.month = random.uniform(1, 12);
    child.day = random.uniform(1, 28);
    child.middle.clear();
    child.email.clear();
    add(std::move(child), Relation::kParentChild, i);
  }

  std::size_t index = 0;
  for (std::size_t p = 0; p < people.size(); ++p) {
    sink(to_patient(people[p], index++), RecordLabel{static_cast<std::uint32_t>(p), true});
  }
  const double whole = std::floor(options.copies_per_person);
  const double fraction = options.copies_per_person - whole;
  for (std::size_t p = 0; p < people.size(); ++p) {
    const auto copies = static_cast<int>(whole) + (random.chance(fraction) ? 1 : 0);
    for (int c = 0; c < copies; ++c) {
      sink(to_patient(g.corrupted(people[p]), index++), RecordLabel{static_cast<std::uint32_t>(p), false});
    }
  }
  return persons;
}

core::Result<Population> generate_population(const PopulationOptions& options) {
  Population pop;
  pop.options = options;
  std::optional<core::Error> failed;
  auto persons = generate_patients(options, [&](const json::object& patient, const RecordLabel& label) {
    if (failed) return;
    auto record = record_from_patient(patient);
    if (!record) {
      failed = record.error();
      return;
    }
    pop.records.push_back(std::move(*record));
    pop.labels.push_back(label);
  });
  if (!persons) return persons.error();
  if (failed) return *failed;
  pop.persons = std::move(*persons);
  return pop;
}

}  // namespace ucr::mpi
