// The synthetic population: valid R4, deterministic, at published prevalence, with the documented
// duplicates and volume (docs/demo.md), and loadable through the API.
#include "demo/demo.hpp"

#include "api/api.hpp"
#include "fhir/validator.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace ucr::demo {
namespace {

namespace json = boost::json;

constexpr std::string_view kNhs = "https://fhir.nhs.uk/Id/nhs-number";

std::vector<json::object> resources_of(const std::string& bundle) {
  std::vector<json::object> out;
  const json::value parsed = json::parse(bundle);
  for (const auto& e : parsed.at("entry").as_array()) {
    out.push_back(e.at("resource").as_object());
  }
  return out;
}

std::string type_of(const json::object& r) { return std::string(r.at("resourceType").as_string()); }

bool has_tag(const json::object& r, std::string_view system) {
  const auto* meta = r.if_contains("meta");
  if (meta == nullptr) return false;
  for (const auto& t : meta->at("tag").as_array()) {
    if (t.at("system").as_string() == system) return true;
  }
  return false;
}

std::string nhs_number(const json::object& patient) {
  for (const auto& id : patient.at("identifier").as_array()) {
    if (id.at("system").as_string() == kNhs) return std::string(id.at("value").as_string());
  }
  return {};
}

/// Age on 1 January 2026 (the demo's "today") from a YYYY-MM-DD birth date.
int age_of(const json::object& patient) {
  const std::string b(patient.at("birthDate").as_string());
  const int y = std::stoi(b.substr(0, 4));
  return 2025 - y + ((b.substr(5) == "01-01") ? 1 : 0);
}

// --- NHS numbers ------------------------------------------------------------------------------

TEST(DemoNhsNumber, ValidModulus11InThe999RangeAndDistinct) {
  std::set<std::string> seen;
  for (std::size_t n = 0; n < 120000; ++n) {
    const std::string s = test_nhs_number(n);
    ASSERT_TRUE(valid_nhs_number(s)) << n << " -> " << s;
    ASSERT_EQ(s.substr(0, 3), "999");
    ASSERT_TRUE(seen.insert(s).second) << "repeated " << s;
  }
  for (std::size_t n = kNhsNumberCapacity - 20; n < kNhsNumberCapacity; ++n) {
    EXPECT_TRUE(valid_nhs_number(test_nhs_number(n)));
  }
  EXPECT_EQ(test_nhs_number(kNhsNumberCapacity), "");
}

TEST(DemoNhsNumber, CheckDigitRules) {
  EXPECT_TRUE(valid_nhs_number("9434765919"));   // the NHS's published example
  EXPECT_FALSE(valid_nhs_number("9434765918"));  // wrong check digit
  EXPECT_FALSE(valid_nhs_number("943476591"));
  EXPECT_FALSE(valid_nhs_number("94347659a9"));
}

// --- Determinism ------------------------------------------------------------------------------

TEST(DemoPopulation, SameSeedAndSizeGiveIdenticalText) {
  const Population a(Options{.people = 400, .seed = 7});
  const Population b(Options{.people = 400, .seed = 7});
  EXPECT_EQ(a.directory_bundles(), b.directory_bundles());
  for (std::size_t n = 0; n < 60; ++n) ASSERT_EQ(a.person_bundle(n), b.person_bundle(n)) << n;
  EXPECT_EQ(a.people_bundle(10, 5), b.people_bundle(10, 5));
}

TEST(DemoPopulation, SeedChangesThePopulation) {
  const Population a(Options{.people = 400, .seed = 7});
  const Population b(Options{.people = 400, .seed = 8});
  std::size_t differ = 0;
  for (std::size_t n = 0; n < 20; ++n) differ += a.person_bundle(n) != b.person_bundle(n) ? 1 : 0;
  EXPECT_EQ(differ, 20U);
}

// --- Validity -----------------------------------------------------------------------------------

TEST(DemoPopulation, EveryResourceValidatesAgainstR4) {
  const Population pop(Options{.people = 20000, .seed = 3});
  std::size_t checked = 0;
  std::map<std::string, std::size_t> types;
  const auto check = [&](const std::string& bundle) {
    for (const auto& r : resources_of(bundle)) {
      const auto issues = fhir::validate_resource(r);
      ++checked;
      ++types[type_of(r)];
      for (const auto& i : issues) {
        ADD_FAILURE() << type_of(r) << ": " << i.expression << ": " << i.diagnostics << "\n" << json::serialize(r);
      }
      if (!issues.empty()) return false;
    }
    return true;
  };
  for (const auto& b : pop.directory_bundles()) ASSERT_TRUE(check(b));
  for (std::size_t n = 0; n < 300; ++n) ASSERT_TRUE(check(pop.person_bundle(n))) << "person " << n;
  EXPECT_GT(checked, 10000U);
  for (const char* t : {"Organization", "Location", "Practitioner", "PractitionerRole", "Patient", "Condition",
                        "AllergyIntolerance", "MedicationRequest", "MedicationStatement", "Observation", "Encounter",
                        "ServiceRequest", "Immunization", "Flag", "CarePlan", "Consent", "DocumentReference"}) {
    EXPECT_GT(types[t], 0U) << t << " never generated";
  }
  // The Bundles themselves are valid transactions.
  EXPECT_TRUE(fhir::validate_resource(json::parse(pop.person_bundle(1))).empty());
}

/// The text of a DocumentReference's inline attachment (base64 decoded).
std::string letter_text(const json::object& d) {
  const std::string_view in = d.at("content").as_array().at(0).at("attachment").at("data").as_string();
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::uint32_t bits = 0;
  int count = 0;
  for (const char c : in) {
    if (c == '=') break;
    const auto v = kAlphabet.find(c);
    if (v == std::string_view::npos) return {};
    bits = (bits << 6U) | static_cast<std::uint32_t>(v);
    count += 6;
    if (count >= 8) {
      count -= 8;
      out += static_cast<char>((bits >> static_cast<unsigned>(count)) & 0xffU);
    }
  }
  return out;
}

TEST(DemoPopulation, LettersAreInlinePlainTextAboutTheirEncounter) {
  const Population pop(Options{.people = 2000, .seed = 1});
  std::size_t letters = 0;
  std::size_t people_with_letters = 0;
  std::map<std::string, std::size_t> by_type;
  for (std::size_t n = 0; n < 200; ++n) {
    const auto record = resources_of(pop.person_bundle(n));
    std::string family;
    for (const auto& r : record) {
      if (type_of(r) == "Patient" && family.empty()) family = std::string(r.at("name").at(0).at("family").as_string());
    }
    std::size_t mine = 0;
    for (const auto& r : record) {
      if (type_of(r) != "DocumentReference") continue;
      ++mine;
      ++by_type[std::string(r.at("type").at("text").as_string())];
      const auto& a = r.at("content").at(0).at("attachment").as_object();
      EXPECT_EQ(a.at("contentType").as_string(), "text/plain; charset=utf-8");
      const std::string text = letter_text(r);
      EXPECT_NE(text.find(family), std::string::npos) << "the letter names the patient: " << text;
      EXPECT_NE(text.find("synthetic"), std::string::npos) << text;
      EXPECT_EQ(r.at("type").at("coding").at(0).at("system").as_string(), "http://snomed.info/sct");
      EXPECT_TRUE(r.at("custodian").at("reference").as_string().starts_with("Organization/"));
      EXPECT_TRUE(r.at("context").at("encounter").at(0).at("reference").as_string().starts_with("urn:uuid:"));
      EXPECT_EQ(r.at("status").as_string(), "current");
    }
    EXPECT_LE(mine, 4U) << "a few letters per person, so loading stays quick";
    letters += mine;
    if (mine > 0) ++people_with_letters;
  }
  EXPECT_GT(people_with_letters, 60U);
  for (const char* t :
       {"Emergency department attendance summary", "Discharge summary", "Clinic letter", "Care plan review"}) {
    EXPECT_GT(by_type[t], 0U) << t;
  }
  std::cout << "[ letters  ] " << letters << " for 200 people\n";
}

TEST(DemoPopulation, LaboratoryResultsAreInterpretedAgainstTheirRange) {
  const Population pop(Options{.people = 2000, .seed = 1});
  std::map<std::string, std::size_t> codes;
  for (std::size_t n = 0; n < 300; ++n) {
    for (const auto& r : resources_of(pop.person_bundle(n))) {
      if (type_of(r) != "Observation" ||
          r.at("category").at(0).at("coding").at(0).at("code").as_string() != "laboratory")
        continue;
      ASSERT_TRUE(r.contains("interpretation")) << json::serialize(r);
      const std::string code(r.at("interpretation").at(0).at("coding").at(0).at("code").as_string());
      ++codes[code];
      const auto& q = r.at("valueQuantity").as_object();
      if (q.contains("comparator")) continue;
      const double v = q.at("value").to_number<double>();
      const auto& range = r.at("referenceRange").at(0).as_object();
      const bool above = range.contains("high") && v > range.at("high").at("value").to_number<double>();
      const bool below = range.contains("low") && v < range.at("low").at("value").to_number<double>();
      if (code == "N") {
        EXPECT_FALSE(above || below) << json::serialize(r);
      }
      if (code == "H" || code == "HH") {
        EXPECT_TRUE(above) << json::serialize(r);
      }
      if (code == "L" || code == "LL") {
        EXPECT_TRUE(below) << json::serialize(r);
      }
    }
  }
  EXPECT_GT(codes["N"], 0U);
  EXPECT_GT(codes["H"], 0U);
  EXPECT_GT(codes["L"], 0U);
}

TEST(DemoPopulation, ReferencesResolveWithinTheBundleOrTheDirectory) {
  const Population pop(Options{.people = 2000, .seed = 1});
  std::set<std::string> directory;
  for (const auto& b : pop.directory_bundles()) {
    for (const auto& r : resources_of(b)) directory.insert(type_of(r) + "/" + std::string(r.at("id").as_string()));
  }
  const std::function<void(const json::value&, const std::set<std::string>&)> walk =
      [&](const json::value& v, const std::set<std::string>& local) {
        if (const auto* o = v.if_object()) {
          if (const auto* r = o->if_contains("reference"); r != nullptr && r->is_string()) {
            const std::string ref(r->as_string());
            EXPECT_TRUE(local.count(ref) > 0 || directory.count(ref) > 0) << "dangling " << ref;
          }
          for (const auto& [k, x] : *o) walk(x, local);
        } else if (const auto* a = v.if_array()) {
          for (const auto& x : *a) walk(x, local);
        }
      };
  for (const auto& b : pop.directory_bundles()) walk(json::parse(b), {});
  for (std::size_t n = 0; n < 200; ++n) {
    const json::value bundle = json::parse(pop.person_bundle(n));
    std::set<std::string> local;
    for (const auto& e : bundle.at("entry").as_array()) local.insert(std::string(e.at("fullUrl").as_string()));
    walk(bundle, local);
  }
}

TEST(DemoPopulation, DirectoryHasTheRegionsOrganisations) {
  const Population small(Options{.people = 100, .seed = 1});
  const Population large(Options{.people = 200000, .seed = 1});
  EXPECT_EQ(small.practice_count(), 8U);  // a handful: two per locality at least
  EXPECT_NEAR(static_cast<double>(large.practice_count()), 200000.0 / 8000, 3);
  std::set<std::string> ods;
  std::map<std::string, int> beds;
  for (const auto& b : small.directory_bundles()) {
    for (const auto& r : resources_of(b)) {
      if (type_of(r) == "Organization") {
        for (const auto& id : r.at("identifier").as_array()) {
          if (id.at("system").as_string() == "https://fhir.nhs.uk/Id/ods-organization-code") {
            ods.insert(std::string(id.at("value").as_string()));
          }
        }
      }
      if (type_of(r) == "Location" && r.contains("extension")) {
        beds[std::string(r.at("id").as_string())] =
            static_cast<int>(r.at("extension").as_array()[0].at("valueInteger").as_int64());
      }
    }
  }
  for (const char* code : {"RVV", "RWF", "RN7", "RPA", "RYY", "RXY", "RYD", "99J", "09W"}) {
    EXPECT_EQ(ods.count(code), 1U) << code;
  }
  EXPECT_GT(beds["site-whh"], 200);
  EXPECT_GT(beds["ward-mmh-amu"], 30);
}

// --- Epidemiology over 5,000 generated people (generation only) -------------------------------

struct Survey {
  std::size_t people = 0;
  std::size_t resources = 0;
  std::size_t with_duplicate = 0;
  std::size_t duplicates = 0;
  std::size_t duplicates_without_nhs = 0;
  std::size_t over_65 = 0;
  std::size_t female = 0;
  std::vector<int> ages;
  std::vector<std::set<std::string>> codes;  // problem-list codes per person
  std::map<std::string, std::size_t> types;
};

const Survey& survey() {
  static const Survey kSurvey = [] {
    Survey out;
    constexpr std::size_t kPeople = 5000;
    const Population pop(Options{.people = kPeople, .seed = 11});
    for (std::size_t n = 0; n < kPeople; ++n) {
      const auto rs = resources_of(pop.person_bundle(n));
      out.resources += rs.size();
      std::set<std::string> codes;
      std::size_t dups = 0;
      for (const auto& r : rs) {
        const std::string t = type_of(r);
        ++out.types[t];
        if (t == "Patient") {
          EXPECT_TRUE(has_tag(r, kPersonTagSystem));
          const std::string tag(r.at("meta").at("tag").as_array()[0].at("code").as_string());
          EXPECT_EQ(tag, std::to_string(n));
          if (has_tag(r, kDuplicateTagSystem)) {
            ++dups;
            if (nhs_number(r).empty()) ++out.duplicates_without_nhs;
          } else {
            EXPECT_EQ(nhs_number(r), test_nhs_number(n));
            out.ages.push_back(age_of(r));
            if (age_of(r) >= 65) ++out.over_65;
            if (r.at("gender").as_string() == "female") ++out.female;
          }
        }
        if (t == "Condition" && json::serialize(r.at("category")).find("problem-list-item") != std::string::npos) {
          codes.insert(std::string(r.at("code").at("coding").as_array()[0].at("code").as_string()));
        }
      }
      out.duplicates += dups;
      out.with_duplicate += dups > 0 ? 1 : 0;
      out.codes.push_back(std::move(codes));
      ++out.people;
    }
    return out;
  }();
  return kSurvey;
}

struct Prevalence {
  const char* name;
  std::vector<std::string> codes;  // SNOMED CT codes that put a person on the register
  double expected;                 // QOF 2021-22 England, rounded (docs/demo.md)
  int min_age;
};

TEST(DemoEpidemiology, LongTermConditionsAtPublishedPrevalence) {
  const Survey& s = survey();
  const std::vector<Prevalence> table = {
      {"hypertension", {"38341003"}, 0.140, 0},
      {"diabetes", {"44054006", "46635009"}, 0.073, 17},
      {"asthma", {"195967001"}, 0.065, 6},
      {"COPD", {"13645005"}, 0.019, 0},
      {"heart failure", {"84114007"}, 0.010, 0},
      {"dementia", {"52448006"}, 0.008, 0},
      {"depression", {"35489007"}, 0.130, 18},
      {"atrial fibrillation", {"49436004"}, 0.021, 0},
      {"CKD", {"709044004"}, 0.040, 18},
      {"cancer", {"254837009", "399068003", "363406005", "93880001"}, 0.033, 0},
      {"CHD", {"53741008"}, 0.030, 0},
      {"stroke", {"230690007"}, 0.018, 0},
      {"learning disability", {"110359009"}, 0.005, 0},
  };
  for (const auto& p : table) {
    std::size_t eligible = 0;
    std::size_t cases = 0;
    for (std::size_t i = 0; i < s.people; ++i) {
      if (s.ages[i] < p.min_age) continue;
      ++eligible;
      for (const auto& c : p.codes) {
        if (s.codes[i].count(c) > 0) {
          ++cases;
          break;
        }
      }
    }
    const double observed = static_cast<double>(cases) / static_cast<double>(eligible);
    const double sigma = std::sqrt(p.expected * (1 - p.expected) / static_cast<double>(eligible));
    EXPECT_NEAR(observed, p.expected, 4 * sigma + 0.002) << p.name << ": " << cases << "/" << eligible;
  }
}

TEST(DemoEpidemiology, AgeAndSexStructure) {
  const Survey& s = survey();
  // ONS mid-2020 shape for Kent and Medway: ~20% aged 65 and over, ~51% female.
  EXPECT_NEAR(static_cast<double>(s.over_65) / static_cast<double>(s.people), 0.204, 0.025);
  EXPECT_NEAR(static_cast<double>(s.female) / static_cast<double>(s.people), 0.51, 0.03);
}

TEST(DemoEpidemiology, DuplicatesAtTheDocumentedRate) {
  const Survey& s = survey();
  const double rate = static_cast<double>(s.with_duplicate) / static_cast<double>(s.people);
  EXPECT_GE(rate, 0.04) << "docs/demo.md: 4-10% of people have a source-system duplicate";
  EXPECT_LE(rate, 0.10);
  EXPECT_GT(s.duplicates_without_nhs, s.duplicates / 2) << "most duplicates lack an NHS number";
}

TEST(DemoEpidemiology, AboutFiftyResourcesPerPerson) {
  const Survey& s = survey();
  const double mean = static_cast<double>(s.resources) / static_cast<double>(s.people);
  std::cout << "[ volume   ] " << mean << " resources per person;";
  for (const auto& [t, c] : s.types)
    std::cout << " " << t << " " << static_cast<double>(c) / static_cast<double>(s.people);
  std::cout << "\n";
  EXPECT_GE(mean, 40.0) << "docs/demo.md: 40-60 resources per person";
  EXPECT_LE(mean, 60.0);
}

// --- Loading through the API --------------------------------------------------------------------

TEST(DemoLoad, LoadsThroughTheApiWithProgress) {
  std::string tmpl = (std::filesystem::temp_directory_path() / "ucr-demo-test-XXXXXX").string();
  ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
  const std::filesystem::path dir(tmpl);
  {
    store::SqliteOptions options;
    options.directory = dir;
    auto opened = store::open_sqlite_store(options);
    ASSERT_TRUE(opened) << opened.error().message();
    api::Api api(**opened, api::ApiOptions{});
    std::size_t calls = 0;
    std::size_t last_people = 0;
    const Options options_in{.people = 45, .seed = 5};
    auto loaded = load(api, options_in, LoadOptions{.people_per_bundle = 10, .threads = 2}, [&](const Progress& p) {
      ++calls;
      EXPECT_GE(p.people_done, last_people);
      last_people = p.people_done;
      EXPECT_EQ(p.people_total, 45U);
    });
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_EQ(loaded->people_done, 45U);
    EXPECT_GT(calls, 5U);
    // What was generated is what was stored.
    const Population pop(options_in);
    std::size_t expected_patients = 0;
    std::size_t expected_resources = 0;
    for (const auto& b : pop.directory_bundles()) expected_resources += resources_of(b).size();
    for (std::size_t n = 0; n < 45; ++n) {
      for (const auto& r : resources_of(pop.person_bundle(n))) {
        ++expected_resources;
        expected_patients += type_of(r) == "Patient" ? 1 : 0;
      }
    }
    EXPECT_EQ(loaded->resources_done, expected_resources);
    auto patients = (*opened)->find_ids("Patient", {}, 100000);
    ASSERT_TRUE(patients);
    EXPECT_EQ(patients->size(), expected_patients);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

}  // namespace
}  // namespace ucr::demo
