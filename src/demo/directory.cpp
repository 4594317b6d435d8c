// The region's directory: organisations, sites and wards, GP practices, pharmacies, care homes and
// staff, sized to the population; and the calibration of condition risks to published prevalence.
#include "demo/detail/build.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace ucr::demo::detail {
namespace {

constexpr std::uint64_t kStreamStaff = 2;
constexpr std::uint64_t kStreamPlaces = 3;
constexpr std::size_t kEntriesPerBundle = 2000;

constexpr std::string_view kOrgType = "http://terminology.hl7.org/CodeSystem/organization-type";
constexpr std::string_view kPhysicalType = "http://terminology.hl7.org/CodeSystem/location-physical-type";

/// People per GP practice, pharmacy and care home (England averages, rounded: NHS Digital
/// "Patients Registered at a GP Practice" ~8,000 per practice; ~11,500 community pharmacies and
/// ~15,000 care homes for ~57 million people).
constexpr double kPeoplePerPractice = 8000;
constexpr double kPeoplePerPharmacy = 5000;
constexpr double kPeoplePerCareHome = 4000;

struct StaffRole {
  std::string_view org;
  std::string_view key;
  std::string_view system;
  std::string_view code;
  std::string_view display;
  int count;
  bool doctor;
  std::string_view site;  ///< site id for the role's location, or empty
};

constexpr std::string_view kGpCode = "62247001";
constexpr std::string_view kNurseCode = "106292003";

constexpr std::array<StaffRole, 22> kStaffRoles = {{
    {"ekhuft", "ed", kSnomed, "309343006", "Physician", 6, true, "whh"},
    {"ekhuft", "consultant", kSnomed, "309343006", "Physician", 6, true, "kch"},
    {"ekhuft", "nurse", kSnomed, kNurseCode, "Professional nurse", 4, false, "qeqm"},
    {"mtw", "ed", kSnomed, "309343006", "Physician", 5, true, "mgh"},
    {"mtw", "consultant", kSnomed, "309343006", "Physician", 5, true, "twh"},
    {"mtw", "nurse", kSnomed, kNurseCode, "Professional nurse", 4, false, "mgh"},
    {"dgt", "ed", kSnomed, "309343006", "Physician", 4, true, "dvh"},
    {"dgt", "consultant", kSnomed, "309343006", "Physician", 4, true, "dvh"},
    {"dgt", "nurse", kSnomed, kNurseCode, "Professional nurse", 3, false, "dvh"},
    {"mft", "ed", kSnomed, "309343006", "Physician", 4, true, "mmh"},
    {"mft", "consultant", kSnomed, "309343006", "Physician", 4, true, "mmh"},
    {"mft", "nurse", kSnomed, kNurseCode, "Professional nurse", 3, false, "mmh"},
    {"kchft", "community-nurse", kSnomed, kNurseCode, "Professional nurse", 6, false, "qvmh"},
    {"mch", "community-nurse", kSnomed, kNurseCode, "Professional nurse", 3, false, ""},
    {"kmpt", "psychiatrist", kSnomed, "80584001", "Psychiatrist", 3, true, "priority"},
    {"secamb", "paramedic", kSnomed, "397897005", "Paramedic", 8, false, "secamb-kent"},
    {"ic24", "gp", kSnomed, kGpCode, "General practitioner", 3, true, "ic24-ashford"},
    {"medocc", "gp", kSnomed, kGpCode, "General practitioner", 2, true, "medocc-gillingham"},
    {"pilgrims", "nurse", kSnomed, kNurseCode, "Professional nurse", 2, false, "pilgrims-canterbury"},
    {"kcc", "social-worker", kSnomed, "106328005", "Social worker", 6, false, "kcc-hall"},
    {"medway", "social-worker", kSnomed, "106328005", "Social worker", 3, false, ""},
    {"kcc-childrens", "social-worker", kSnomed, "106328005", "Social worker", 4, false, "kcc-hall"},
}};

constexpr std::array<std::string_view, 5> kPracticeSuffixes = {"Medical Centre", "Surgery", "Health Centre",
                                                               "Medical Practice", "Family Practice"};

std::string site_location_id(std::string_view site) { return fmt::format("site-{}", site); }

json::object org_type(std::string_view hl7_code, std::string_view hl7_display, std::string_view kind) {
  json::object t;
  t["coding"] =
      json::array{coding(kOrgType, hl7_code, hl7_display), coding(kDemoConcept, fmt::format("org-{}", kind), kind)};
  return t;
}

json::object address(std::string_view line, std::string_view town, std::string_view postcode) {
  json::object a;
  a["use"] = "work";
  if (!line.empty()) a["line"] = json::array{line};
  a["city"] = town;
  a["district"] = "Kent";
  a["postalCode"] = postcode;
  a["country"] = "GB";
  return a;
}

json::object bed_count(int beds) { return json::object{{"url", kBedCountUrl}, {"valueInteger", beds}}; }

/// A fictional inward code (digit and two letters) so that addresses look like postcodes.
std::string inward(Rng& rng) {
  static constexpr std::string_view kLetters = "ABDEFGHJLNPQRSTUWXYZ";
  std::string s = std::to_string(rng.below(10));
  s += kLetters[rng.below(kLetters.size())];
  s += kLetters[rng.below(kLetters.size())];
  return s;
}

/// Practice, pharmacy and care-home counts for a locality: proportional, at least `minimum`.
std::size_t share_of(std::size_t people, std::size_t locality, double per, std::size_t minimum) {
  double total = 0;
  for (const auto& l : kLocalities) total += l.population;
  const double n = static_cast<double>(people) * kLocalities[locality].population / total / per;
  return std::max(minimum, static_cast<std::size_t>(std::lround(n)));
}

struct StaffName {
  std::string family;
  std::string given;
  bool female;
};

StaffName staff_name(Rng& rng) {
  // The workforce is drawn from the same pools with more weight on the non-British ones.
  std::array<double, kNamePools.size()> w{};
  for (std::size_t i = 0; i < kNamePools.size(); ++i) w.at(i) = i == 0 ? 65.0 : kNamePools.at(i).weight * 3;
  const NamePool& pool = kNamePools.at(rng.weighted(w));
  const bool female = rng.chance(0.6);
  const auto& given = female ? pool.female.at(1 + rng.below(2)) : pool.male.at(1 + rng.below(2));
  return StaffName{std::string(pool.family[rng.below(pool.family.size())]), std::string(given[rng.below(given.size())]),
                   female};
}

class Builder {
 public:
  Builder(std::uint64_t seed, std::size_t people)
      : seed_(seed), people_(people), places_(derive_seed(seed, kStreamPlaces, 0)) {}

  Directory build() {
    calibrate();
    fixed_organisations();
    sites();
    practices();
    pharmacies_and_care_homes();
    fixed_staff();
    bundles();
    return std::move(d_);
  }

 private:
  void calibrate() {
    // Expected prevalence = sum over age and sex of share * risk, over those at least min_age.
    // The cap at 0.95 is never reached with these tables, so one scale factor is exact.
    for (std::size_t c = 0; c < kLtcs.size(); ++c) {
      const LtcDef& def = kLtcs.at(c);
      double eligible = 0;
      double risk = 0;
      for (std::size_t band = 0; band < kAgeBandShare.size(); ++band) {
        for (int year = 0; year < 5; ++year) {
          const int age = static_cast<int>(band) * 5 + year;
          if (age < def.min_age) continue;
          const double share = kAgeBandShare.at(band) / 5;
          const double f = kAgeBandFemale.at(band);
          eligible += share;
          risk += share * def.age_risk.at(risk_band(age)) * (f * def.female_risk + (1 - f) * def.male_risk);
        }
      }
      d_.ltc_scale.at(c) = risk > 0 ? def.prevalence * eligible / risk : 0;
    }
  }

  void add_org(json::object o) { orgs_.push_back(put_entry(std::move(o))); }

  json::object organisation(std::string_view id, std::string_view name, std::string_view ods,
                            std::string_view demo_code, json::object type) {
    json::object o;
    o["resourceType"] = "Organization";
    o["id"] = id;
    o["identifier"] = json::array{ods.empty() ? identifier(kDemoOrgCode, demo_code) : identifier(kOds, ods)};
    o["active"] = true;
    o["type"] = json::array{std::move(type)};
    o["name"] = name;
    return o;
  }

  void fixed_organisations() {
    for (const FixedOrg& f : kFixedOrgs) {
      json::object type;
      switch (f.kind) {
        case OrgKind::kCcg:
          type = org_type("pay", "Payer", "ccg");
          break;
        case OrgKind::kAcute:
          type = org_type("prov", "Healthcare Provider", "acute-trust");
          break;
        case OrgKind::kCommunity:
          type = org_type("prov", "Healthcare Provider", "community-provider");
          break;
        case OrgKind::kMentalHealth:
          type = org_type("prov", "Healthcare Provider", "mental-health-trust");
          break;
        case OrgKind::kAmbulance:
          type = org_type("prov", "Healthcare Provider", "ambulance-trust");
          break;
        case OrgKind::kOutOfHours:
          type = org_type("prov", "Healthcare Provider", "out-of-hours");
          break;
        case OrgKind::kHospice:
          type = org_type("prov", "Healthcare Provider", "hospice");
          break;
        case OrgKind::kCouncil:
          type = org_type("govt", "Government", "local-authority");
          break;
      }
      json::object o = organisation(f.id, f.name, f.ods, f.demo_code, std::move(type));
      o["address"] = json::array{address("", f.town, f.district)};
      if (!f.parent.empty()) o["partOf"] = link("Organization", f.parent);
      add_org(std::move(o));
    }
  }

  void sites() {
    for (const Site& s : kSites) {
      std::span<const Ward> wards;
      switch (s.kind) {
        case SiteKind::kAcute:
          wards = kAcuteWards;
          break;
        case SiteKind::kCommunity:
          wards = kCommunityWards;
          break;
        case SiteKind::kMentalHealth:
          wards = kMentalHealthWards;
          break;
        case SiteKind::kHospice:
          wards = kHospiceWards;
          break;
        default:
          break;
      }
      const std::string site_id = site_location_id(s.id);
      int total = 0;
      for (const Ward& w : wards) {
        if (w.key == "ed" && !s.emergency_department) continue;
        const int beds = std::max(4, static_cast<int>(std::lround(w.beds * s.size)));
        total += w.key == "ed" ? 0 : beds;
        json::object l;
        l["resourceType"] = "Location";
        l["id"] = fmt::format("ward-{}-{}", s.id, w.key);
        l["status"] = "active";
        l["name"] = fmt::format("{}, {}", w.name, s.name);
        l["mode"] = "instance";
        l["type"] = json::array{text_concept(w.key == "ed" ? "Emergency department" : "Inpatient ward")};
        l["physicalType"] = codeable(kPhysicalType, "wa", "Ward");
        l["managingOrganization"] = link("Organization", s.org);
        l["partOf"] = link("Location", site_id);
        l["extension"] = json::array{bed_count(beds)};
        locations_.push_back(put_entry(std::move(l)));
      }
      json::object l;
      l["resourceType"] = "Location";
      l["id"] = site_id;
      l["identifier"] = json::array{identifier(kDemoSiteCode, fmt::format("DEMO-SITE-{}", s.id))};
      l["status"] = "active";
      l["name"] = s.name;
      l["mode"] = "instance";
      l["physicalType"] = codeable(kPhysicalType, "si", "Site");
      l["address"] = address("", s.town, fmt::format("{} {}", s.district, inward(places_)));
      l["managingOrganization"] = link("Organization", s.org);
      if (total > 0) l["extension"] = json::array{bed_count(total)};
      locations_.push_back(put_entry(std::move(l)));
    }
  }

  std::string add_staff(std::string_view org, std::string_view key, std::string_view system, std::string_view code,
                        std::string_view display, bool doctor, std::string_view location_id) {
    const std::size_t index = staff_count_++;
    Rng rng(derive_seed(seed_, kStreamStaff, index));
    const StaffName name = staff_name(rng);
    const auto& list = d_.staff[fmt::format("{}/{}", org, key)];
    std::string id = fmt::format("pr-{}-{}-{}", org, key, list.size() + 1);
    json::object p;
    p["resourceType"] = "Practitioner";
    p["id"] = id;
    p["identifier"] = json::array{identifier(kDemoStaff, fmt::format("DEMO{:07}", 1000 + index))};
    p["active"] = true;
    json::object n;
    n["use"] = "official";
    n["family"] = name.family;
    n["given"] = json::array{name.given};
    if (doctor) n["prefix"] = json::array{"Dr"};
    p["name"] = json::array{std::move(n)};
    p["gender"] = name.female ? "female" : "male";
    practitioners_.push_back(put_entry(std::move(p)));

    json::object r;
    r["resourceType"] = "PractitionerRole";
    r["id"] = "role-" + id;
    r["active"] = true;
    r["practitioner"] =
        ref_display("Practitioner/" + id, fmt::format("{}{} {}", doctor ? "Dr " : "", name.given, name.family));
    r["organization"] = link("Organization", org);
    r["code"] = json::array{codeable(system, code, display)};
    if (!location_id.empty()) r["location"] = json::array{link("Location", location_id)};
    roles_.push_back(put_entry(std::move(r)));
    d_.staff[fmt::format("{}/{}", org, key)].push_back(id);
    return id;
  }

  void practices() {
    std::size_t code_number = 0;
    for (std::size_t l = 0; l < kLocalities.size(); ++l) {
      const Locality& loc = kLocalities.at(l);
      const std::size_t count = share_of(people_, l, kPeoplePerPractice, 2);
      // Towns in proportion to their weight: practice k goes to the town furthest below its share.
      std::vector<double> given(loc.towns.size(), 0);
      double total_weight = 0;
      for (const Town& t : loc.towns) total_weight += t.weight;
      for (std::size_t k = 0; k < count; ++k) {
        std::size_t best = 0;  // the first practice is in the locality's principal (first-listed) town
        double best_gap = k == 0 ? 1e9 : -1e9;
        for (std::size_t t = 0; t < loc.towns.size() && k > 0; ++t) {
          const double gap = loc.towns[t].weight / total_weight * static_cast<double>(k + 1) - given[t];
          if (gap > best_gap) {
            best_gap = gap;
            best = t;
          }
        }
        const Town& town = loc.towns[best];
        const int nth = static_cast<int>(given[best]);
        given[best] += 1;
        Practice p;
        p.code = fmt::format("{}{:03}", loc.key, k + 1);
        p.id = "practice-" + p.code;
        p.locality = l;
        p.town = town.name;
        const std::string_view street = kStreets.at((code_number * 7 + 3) % kStreets.size());
        p.name = nth == 0
                     ? fmt::format("{} {}", town.name, kPracticeSuffixes.at(code_number % kPracticeSuffixes.size()))
                     : fmt::format("{} {}, {}", street, kPracticeSuffixes.at(code_number % kPracticeSuffixes.size()),
                                   town.name);
        ++code_number;
        std::string upper = p.code;
        std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
        json::object o =
            organisation(p.id, p.name, "", "DEMO-GP-" + upper, org_type("prov", "Healthcare Provider", "gp-practice"));
        const std::string postcode = fmt::format("{} {}", town.districts[0], inward(places_));
        o["address"] = json::array{address(fmt::format("{} {}", 1 + places_.below(90), street), town.name, postcode)};
        o["partOf"] = link("Organization", ccg_for(loc.key, town.name));
        add_org(std::move(o));

        json::object site;
        site["resourceType"] = "Location";
        site["id"] = "site-" + p.id;
        site["status"] = "active";
        site["name"] = p.name;
        site["mode"] = "instance";
        site["physicalType"] = codeable(kPhysicalType, "bu", "Building");
        site["managingOrganization"] = link("Organization", p.id);
        locations_.push_back(put_entry(std::move(site)));

        for (int g = 0; g < 4; ++g) {
          p.gps.push_back(add_staff(p.id, "gp", kSnomed, kGpCode, "General practitioner", true, "site-" + p.id));
        }
        for (int g = 0; g < 2; ++g) {
          p.nurses.push_back(
              add_staff(p.id, "nurse", kSnomed, kNurseCode, "Professional nurse", false, "site-" + p.id));
        }
        d_.practices_by_locality.at(l).push_back(d_.practices.size());
        d_.practices.push_back(std::move(p));
      }
    }
  }

  void pharmacies_and_care_homes() {
    for (std::size_t l = 0; l < kLocalities.size(); ++l) {
      const Locality& loc = kLocalities.at(l);
      std::vector<double> weights;
      for (const Town& t : loc.towns) weights.push_back(t.weight);
      const std::size_t pharmacies = share_of(people_, l, kPeoplePerPharmacy, 1);
      for (std::size_t k = 0; k < pharmacies; ++k) {
        const Town& town = loc.towns[k == 0 ? 0 : places_.weighted(weights)];
        const std::string id = fmt::format("pharmacy-{}{:03}", loc.key, k + 1);
        const std::string_view street = kStreets.at(places_.below(kStreets.size()));
        const std::string name = k % 2 == 0 ? fmt::format("{} Pharmacy ({})", town.name, k + 1)
                                            : fmt::format("{} Chemist, {}", street, town.name);
        json::object o = organisation(id, name, "", fmt::format("DEMO-PH-{}{:03}", loc.key, k + 1),
                                      org_type("prov", "Healthcare Provider", "community-pharmacy"));
        o["address"] = json::array{address(fmt::format("{} {}", 1 + places_.below(120), street), town.name,
                                           fmt::format("{} {}", town.districts[0], inward(places_)))};
        add_org(std::move(o));
        d_.pharmacies.at(l).push_back(id);
      }
      const std::size_t homes = share_of(people_, l, kPeoplePerCareHome, 1);
      for (std::size_t k = 0; k < homes; ++k) {
        const Town& town = loc.towns[places_.weighted(weights)];
        CareHome h;
        h.id = fmt::format("carehome-{}{:03}", loc.key, k + 1);
        h.name = fmt::format("{} Care Home", kCareHomeNames.at((k * 5 + l * 3) % kCareHomeNames.size()));
        h.town = town.name;
        h.postcode = fmt::format("{} {}", town.districts[0], inward(places_));
        json::object o = organisation(h.id, h.name, "", fmt::format("DEMO-CH-{}{:03}", loc.key, k + 1),
                                      org_type("prov", "Healthcare Provider", "care-home"));
        o["address"] = json::array{address(h.name, h.town, h.postcode)};
        add_org(std::move(o));
        d_.care_homes.at(l).push_back(std::move(h));
      }
    }
  }

  void fixed_staff() {
    for (const StaffRole& r : kStaffRoles) {
      for (int i = 0; i < r.count; ++i) {
        (void)add_staff(r.org, r.key, r.system, r.code, r.display, r.doctor,
                        r.site.empty() ? std::string() : site_location_id(r.site));
      }
    }
  }

  void bundles() {
    json::array all;
    for (auto* part : {&orgs_, &locations_, &practitioners_, &roles_}) {
      for (auto& e : *part) all.push_back(std::move(e));
    }
    for (std::size_t start = 0; start < all.size(); start += kEntriesPerBundle) {
      json::array chunk;
      for (std::size_t i = start; i < std::min(all.size(), start + kEntriesPerBundle); ++i)
        chunk.push_back(std::move(all[i]));
      d_.bundles.push_back(transaction(std::move(chunk)));
    }
  }

  std::uint64_t seed_;
  std::size_t people_;
  Rng places_;
  std::size_t staff_count_ = 0;
  Directory d_;
  json::array orgs_;
  json::array locations_;
  json::array practitioners_;
  json::array roles_;
};

}  // namespace

const std::vector<std::string>& Directory::staff_of(std::string_view key) const {
  static const std::vector<std::string> kEmpty;
  const auto it = staff.find(key);
  return it == staff.end() ? kEmpty : it->second;
}

Directory build_directory(std::uint64_t seed, std::size_t people) { return Builder(seed, people).build(); }

std::string format_date(std::int64_t day) {
  const Civil c = civil_from_days(day);
  return fmt::format("{:04}-{:02}-{:02}", c.year, c.month, c.day);
}

std::string format_date_time(std::int64_t day, int minute) {
  const Civil c = civil_from_days(day);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:00Z", c.year, c.month, c.day, minute / 60, minute % 60);
}

}  // namespace ucr::demo::detail
