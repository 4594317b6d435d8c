// Accuracy of blocking + scoring on a synthetic population (fixed seed): people, corrupted duplicates
// (typos, nicknames, married surnames, moves, transposed dates, missing NHS numbers) and distinct
// look-alikes (twins, namesakes born the same day, parent and child of one name at one address).
// Prints the measured precision and recall; asserts auto-link precision and a recall floor.
#include "mpi/blocking.hpp"
#include "mpi/matcher.hpp"
#include "mpi/nhs_number.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace ucr::mpi {
namespace {

namespace json = boost::json;

constexpr std::array<const char*, 120> kSurnames = {
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
constexpr std::array<const char*, 48> kMale = {
    "william",     "robert",    "john",      "james",    "michael", "david",   "richard",  "thomas",
    "christopher", "daniel",    "matthew",   "anthony",  "joseph",  "edward",  "peter",    "andrew",
    "stephen",     "jonathan",  "benjamin",  "samuel",   "oliver",  "harry",   "jack",     "george",
    "charlie",     "jacob",     "alfie",     "noah",     "leo",     "oscar",   "mohammed", "arthur",
    "henry",       "frederick", "alexander", "nicholas", "timothy", "kenneth", "ronald",   "gary",
    "mark",        "paul",      "steven",    "kevin",    "brian",   "ian",     "graham",   "colin"};
constexpr std::array<const char*, 48> kFemale = {
    "margaret",  "elizabeth", "mary",      "patricia", "jennifer", "susan",    "jessica",  "sarah",
    "karen",     "nancy",     "catherine", "deborah",  "rebecca",  "victoria", "samantha", "katherine",
    "christine", "amanda",    "rachel",    "emma",     "olivia",   "amelia",   "isla",     "ava",
    "mia",       "isabella",  "sophia",    "grace",    "lily",     "freya",    "emily",    "ivy",
    "ella",      "rosie",     "evie",      "florence", "alice",    "jean",     "joan",     "dorothy",
    "helen",     "julie",     "claire",    "louise",   "nicola",   "joanne",   "lisa",     "hannah"};
constexpr std::array<const char*, 5> kAreas = {"ME", "CT", "TN", "DA", "BR"};

/// One synthetic person's true demographics.
struct Person {
  std::string nhs;
  std::string family;
  std::string given;
  std::string middle;
  std::string gender;
  int year = 0;
  int month = 0;
  int day = 0;
  std::string postcode;
  std::string phone;
  std::string email;
};

class Generator {
 public:
  explicit Generator(std::uint64_t seed) : rng_(seed) {}

  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  /// Zipf-like choice: early names are far commoner, as surnames are.
  template <std::size_t N>
  std::string pick(const std::array<const char*, N>& names) {
    const double r = std::uniform_real_distribution<double>(0.0, 1.0)(rng_);
    const auto i = static_cast<std::size_t>(std::pow(r, 2.2) * static_cast<double>(N));
    return names[std::min(i, N - 1)];
  }

  std::string nhs_number() {
    for (;;) {
      std::string nine;
      for (int i = 0; i < 9; ++i) nine.push_back(static_cast<char>('0' + uniform(i == 0 ? 4 : 0, 9)));
      const int check = nhs_check_digit(nine);
      if (check == 10) continue;
      auto n = nine + static_cast<char>('0' + check);
      if (used_nhs_.insert(n).second) return n;
    }
  }

  std::string postcode() {
    const std::string letters = "ABDEFGHJLNPQRSTUWXYZ";
    return fmt::format("{}{} {}{}{}", kAreas[static_cast<std::size_t>(uniform(0, 4))], uniform(1, 20), uniform(0, 9),
                       letters[static_cast<std::size_t>(uniform(0, 19))],
                       letters[static_cast<std::size_t>(uniform(0, 19))]);
  }

  std::string phone() { return fmt::format("07{:09}", uniform(0, 999999999)); }

  Person person() {
    Person p;
    p.nhs = nhs_number();
    p.gender = chance(0.5) ? "male" : "female";
    p.given = p.gender == "male" ? pick(kMale) : pick(kFemale);
    if (chance(0.5)) p.middle = p.gender == "male" ? pick(kMale) : pick(kFemale);
    p.family = pick(kSurnames);
    p.year = uniform(1930, 2020);
    p.month = uniform(1, 12);
    p.day = uniform(1, 28);
    p.postcode = postcode();
    if (chance(0.7)) p.phone = phone();
    if (chance(0.4)) p.email = fmt::format("{}.{}{}@example.com", p.given, p.family, uniform(1, 999));
    return p;
  }

  /// One keying error: substitution, deletion, insertion or adjacent transposition.
  std::string typo(std::string s) {
    if (s.size() < 3) return s;
    const auto i = static_cast<std::size_t>(uniform(1, static_cast<int>(s.size()) - 2));
    const char c = static_cast<char>('a' + uniform(0, 25));
    switch (uniform(0, 3)) {
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

  std::mt19937_64& rng() { return rng_; }

 private:
  std::mt19937_64 rng_;
  std::set<std::string> used_nhs_;
};

/// A short form for a given name, if the nickname table knows one (searched by brute force over the pool).
std::string nickname_of(const std::string& given, Generator& g) {
  static constexpr std::array<const char*, 40> kShort = {
      "bill", "will",  "billy", "bob",   "rob",   "robbie", "jack", "johnny", "jim",    "jimmy",
      "mike", "dave",  "rich",  "dick",  "tom",   "chris",  "dan",  "matt",   "tony",   "joe",
      "ed",   "ted",   "pete",  "andy",  "steve", "ben",    "sam",  "peggy",  "maggie", "liz",
      "beth", "betty", "pat",   "jenny", "sue",   "jess",   "kate", "cathy",  "debbie", "vicky"};
  std::vector<std::string> options;
  for (const char* s : kShort) {
    const auto formal = formal_names_of(s);
    if (std::find(formal.begin(), formal.end(), given) != formal.end()) options.emplace_back(s);
  }
  if (options.empty()) return given;
  return options[static_cast<std::size_t>(g.uniform(0, static_cast<int>(options.size()) - 1))];
}

std::string capitalised(std::string s) {
  if (!s.empty()) s[0] = static_cast<char>(s[0] - 'a' + 'A');
  return s;
}

json::object to_patient(const Person& p, bool with_nhs, const std::string& maiden = {}) {
  json::object o{{"resourceType", "Patient"}};
  if (with_nhs) {
    o["identifier"] = json::array{json::object{{"system", kNhsNumberSystem}, {"value", p.nhs}}};
  }
  json::array given{capitalised(p.given)};
  if (!p.middle.empty()) given.emplace_back(capitalised(p.middle));
  json::array names{json::object{{"use", "official"}, {"family", capitalised(p.family)}, {"given", given}}};
  if (!maiden.empty())
    names.push_back(json::object{{"use", "maiden"}, {"family", capitalised(maiden)}, {"given", given}});
  o["name"] = std::move(names);
  if (p.year != 0) o["birthDate"] = fmt::format("{:04}-{:02}-{:02}", p.year, p.month, p.day);
  if (!p.gender.empty()) o["gender"] = p.gender;
  o["address"] = json::array{json::object{{"use", "home"}, {"postalCode", p.postcode}}};
  json::array telecom;
  if (!p.phone.empty()) telecom.push_back(json::object{{"system", "phone"}, {"value", p.phone}});
  if (!p.email.empty()) telecom.push_back(json::object{{"system", "email"}, {"value", p.email}});
  if (!telecom.empty()) o["telecom"] = std::move(telecom);
  return o;
}

/// A second system's record of `p`, with realistic corruption.
json::object corrupted(Person p, Generator& g) {
  const bool with_nhs = !g.chance(0.5);
  std::string maiden;
  if (g.chance(0.15)) p.given = nickname_of(p.given, g);
  if (g.chance(0.10)) p.given = g.typo(p.given);
  if (g.chance(0.3)) p.middle.clear();
  if (p.gender == "female" && p.year < 2000 && g.chance(0.15)) {
    const auto old = p.family;
    do {
      p.family = g.pick(kSurnames);
    } while (p.family == old);
    if (g.chance(0.3)) maiden = old;
  } else if (g.chance(0.10)) {
    p.family = g.typo(p.family);
  }
  const double r = std::uniform_real_distribution<double>(0.0, 1.0)(g.rng());
  if (r < 0.05 && p.day <= 12 && p.day != p.month) {
    std::swap(p.day, p.month);
  } else if (r < 0.10) {
    p.day = p.day % 10 == 9 ? p.day - 1 : p.day + 1;  // one digit off
  }
  if (g.chance(0.20)) p.postcode = g.postcode();                           // moved
  if (g.chance(0.3)) p.phone = g.chance(0.5) ? g.phone() : std::string();  // changed or not held
  if (!p.phone.empty() && g.chance(0.3)) p.phone = "+44 " + p.phone.substr(1);
  if (g.chance(0.5)) p.email.clear();
  if (g.chance(0.05)) p.gender.clear();
  if (g.chance(0.5)) {
    for (auto& c : p.postcode) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return to_patient(p, with_nhs, maiden);
}

/// A labelled population after blocking: records, their true person, and the candidate pairs.
struct Population {
  std::size_t people = 0;
  std::vector<PatientRecord> records;
  std::vector<std::size_t> owner;  ///< person index of each record
  std::vector<std::pair<std::size_t, std::size_t>> candidates;
  std::size_t true_pairs = 0;
};

Population make_population(std::uint64_t seed) {
  Generator g(seed);
  std::vector<Person> people;
  Population pop;
  const auto add = [&](const json::object& o, std::size_t person) {
    pop.records.push_back(record_from_patient(o).value());
    pop.owner.push_back(person);
  };

  // 3,000 people, each held once with their NHS number.
  for (int i = 0; i < 3000; ++i) people.push_back(g.person());
  // Look-alikes: twins (same surname, birth date, address and phone; another given name), namesakes born
  // the same day elsewhere, and parent/child of one name at one address.
  for (int i = 0; i < 200; ++i) {
    Person twin = people[static_cast<std::size_t>(i)];
    twin.nhs = g.nhs_number();
    twin.gender = g.chance(0.5) ? "male" : "female";
    do {
      twin.given = twin.gender == "male" ? g.pick(kMale) : g.pick(kFemale);
    } while (twin.given == people[static_cast<std::size_t>(i)].given);
    twin.middle.clear();
    twin.email.clear();
    people.push_back(twin);
  }
  for (int i = 200; i < 350; ++i) {
    Person namesake = g.person();
    const auto& p = people[static_cast<std::size_t>(i)];
    namesake.family = p.family;
    namesake.given = p.given;
    namesake.gender = p.gender;
    namesake.year = p.year;
    namesake.month = p.month;
    namesake.day = p.day;
    people.push_back(namesake);
  }
  for (int i = 350; i < 450; ++i) {
    Person child = people[static_cast<std::size_t>(i)];
    child.nhs = g.nhs_number();
    child.year = std::min(2020, child.year + g.uniform(18, 40));
    child.month = g.uniform(1, 12);
    child.day = g.uniform(1, 28);
    child.middle.clear();
    child.email.clear();
    people.push_back(child);
  }
  for (std::size_t i = 0; i < people.size(); ++i) add(to_patient(people[i], true), i);
  // 2,000 corrupted duplicates from other systems (the look-alikes included: the hard cases).
  for (int i = 0; i < 2000; ++i) {
    const auto who =
        static_cast<std::size_t>(i < 400 ? 3000 + i % 450 : g.uniform(0, static_cast<int>(people.size()) - 1));
    add(corrupted(people[who], g), who);
  }
  pop.people = people.size();

  // Blocking: an inverted index from key to records, as the store will hold it.
  std::unordered_map<std::string, std::vector<std::size_t>> index;
  for (std::size_t i = 0; i < pop.records.size(); ++i) {
    for (auto& k : blocking_keys(pop.records[i])) index[k].push_back(i);
  }
  std::set<std::pair<std::size_t, std::size_t>> candidates;
  for (const auto& [key, ids] : index) {
    for (std::size_t x = 0; x < ids.size(); ++x) {
      for (std::size_t y = x + 1; y < ids.size(); ++y) candidates.emplace(ids[x], ids[y]);
    }
  }
  pop.candidates.assign(candidates.begin(), candidates.end());
  std::map<std::size_t, std::size_t> per_person;
  for (const auto p : pop.owner) ++per_person[p];
  for (const auto& [p, n] : per_person) pop.true_pairs += n * (n - 1) / 2;
  return pop;
}

double ratio(std::size_t num, std::size_t den) {
  return den == 0 ? 1.0 : static_cast<double>(num) / static_cast<double>(den);
}

struct Measured {
  double auto_precision = 0;
  double auto_recall = 0;
  double review_or_auto_recall = 0;
  double blocking_recall = 0;
};

/// Scores every candidate pair, prints the figures (and any wrong auto-link, explained) and returns them.
Measured evaluate(const Population& pop, const Matcher& matcher, std::string_view label) {
  std::map<Grade, std::size_t> predicted;
  std::map<Grade, std::size_t> correct;
  std::map<std::string, std::size_t> true_review;
  std::map<std::string, std::size_t> false_review;
  std::size_t blocked_true = 0;
  for (const auto& [a, b] : pop.candidates) {
    const bool same = pop.owner[a] == pop.owner[b];
    blocked_true += same ? 1 : 0;
    const auto s = matcher.score(pop.records[a], pop.records[b]);
    ++predicted[s.grade];
    if (same) ++correct[s.grade];
    if (!same && s.grade == Grade::kCertain) {
      std::cout << "wrong auto-link: " << json::serialize(matcher.explain(pop.records[a], pop.records[b]).to_json())
                << "\n";
    }
    if (s.grade == Grade::kProbable || s.grade == Grade::kPossible) {
      auto why = fmt::format("{}: {}", grade_code(s.grade), s.cap.empty() ? std::string_view("by score") : s.cap);
      ++(same ? true_review : false_review)[why];
    }
  }
  Measured m;
  const std::size_t review_predicted = predicted[Grade::kProbable] + predicted[Grade::kPossible];
  const std::size_t review_correct = correct[Grade::kProbable] + correct[Grade::kPossible];
  m.auto_precision = ratio(correct[Grade::kCertain], predicted[Grade::kCertain]);
  m.auto_recall = ratio(correct[Grade::kCertain], pop.true_pairs);
  m.review_or_auto_recall = ratio(correct[Grade::kCertain] + review_correct, pop.true_pairs);
  m.blocking_recall = ratio(blocked_true, pop.true_pairs);
  std::cout << fmt::format(
      "mpi accuracy ({}): {} records of {} people; {} true pairs; {} candidate pairs ({} true: blocking recall "
      "{:.4f})\n"
      "  auto-link (certain): {} predicted, {} correct: precision {:.4f}, recall {:.4f}\n"
      "  review (probable+possible): {} predicted, {} correct: precision {:.4f} (probable {}/{}, possible {}/{})\n"
      "  recall of auto-link or review: {:.4f}; true pairs graded certainly-not: {}\n",
      label, pop.records.size(), pop.people, pop.true_pairs, pop.candidates.size(), blocked_true, m.blocking_recall,
      predicted[Grade::kCertain], correct[Grade::kCertain], m.auto_precision, m.auto_recall, review_predicted,
      review_correct, ratio(review_correct, review_predicted), correct[Grade::kProbable], predicted[Grade::kProbable],
      correct[Grade::kPossible], predicted[Grade::kPossible], m.review_or_auto_recall, correct[Grade::kCertainlyNot]);
  for (const auto& [why, n] : true_review) std::cout << fmt::format("  same person, review: {} x{}\n", why, n);
  for (const auto& [why, n] : false_review) std::cout << fmt::format("  different people, review: {} x{}\n", why, n);
  return m;
}

TEST(Accuracy, SyntheticPopulationMeetsPrecisionAndRecallTargets) {
  const auto pop = make_population(7);
  const auto m = evaluate(pop, Matcher(), "default weights");
  EXPECT_GE(m.auto_precision, 0.999);
  EXPECT_GE(m.auto_recall, 0.90);
  EXPECT_GE(m.review_or_auto_recall, 0.99);
  EXPECT_GE(m.blocking_recall, 0.99);
}

TEST(Accuracy, SecondPopulationWithDefaultAndEmEstimatedWeights) {
  // Another seed, scored with the shipped weights and with weights EM estimates from its own candidate
  // pairs. EM over blocked pairs over-estimates the share of matches (relatives share surname, address
  // and phone, against the independence assumption), so the caps carry precision; the floor is lower.
  const auto pop = make_population(11);
  const auto d = evaluate(pop, Matcher(), "second population, default weights");
  EXPECT_GE(d.auto_precision, 0.999);
  EXPECT_GE(d.review_or_auto_recall, 0.99);

  std::vector<ComparisonVector> sample;
  std::size_t matches = 0;
  for (const auto& [a, b] : pop.candidates) {
    sample.push_back(compare(pop.records[a], pop.records[b]));
    matches += pop.owner[a] == pop.owner[b] ? 1 : 0;
  }
  const auto estimated = estimate_weights(sample).value();
  std::cout << fmt::format("EM: {} iterations, converged {}, prior {:.4f} (true share of matches {:.4f})\n",
                           estimated.iterations, estimated.converged, estimated.config.prior,
                           ratio(matches, pop.candidates.size()));
  EXPECT_TRUE(estimated.converged);
  const auto m = evaluate(pop, Matcher(estimated.config), "second population, EM-estimated weights");
  EXPECT_GE(m.auto_precision, 0.99);
  EXPECT_GE(m.auto_recall, 0.85);
}

}  // namespace
}  // namespace ucr::mpi
