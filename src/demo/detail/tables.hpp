// demo/detail/tables: the facts the synthetic population is drawn from, compiled in (the binary
// reads no data files). Organisation names and the ODS codes marked real are public; everything
// marked demo is fictional. Immutable; safe to share between threads.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

namespace ucr::demo::detail {

inline constexpr std::string_view kSnomed = "http://snomed.info/sct";
inline constexpr std::string_view kLoinc = "http://loinc.org";
inline constexpr std::string_view kUcum = "http://unitsofmeasure.org";
inline constexpr std::string_view kOds = "https://fhir.nhs.uk/Id/ods-organization-code";
inline constexpr std::string_view kNhsNumber = "https://fhir.nhs.uk/Id/nhs-number";
/// Fictional code systems for what has no well-known public code we are sure of.
inline constexpr std::string_view kDemoOrgCode = "https://ucr.example.org/fhir/Id/demo-organisation-code";
inline constexpr std::string_view kDemoSiteCode = "https://ucr.example.org/fhir/Id/demo-site-code";
inline constexpr std::string_view kDemoStaff = "https://ucr.example.org/fhir/Id/demo-staff-number";
inline constexpr std::string_view kDemoDmd = "https://ucr.example.org/fhir/CodeSystem/demo-dmd";
inline constexpr std::string_view kDemoConcept = "https://ucr.example.org/fhir/CodeSystem/demo-concept";
inline constexpr std::string_view kDemoVaccine = "https://ucr.example.org/fhir/CodeSystem/demo-vaccine";
inline constexpr std::string_view kBedCountUrl = "https://ucr.example.org/fhir/StructureDefinition/location-bed-count";

// ---------------------------------------------------------------------------------------------
// Places. Locality populations are the seed document's (Kent & Medway LDR, "Stakeholders"): East
// Kent ~750,000, West Kent ~470,000, DGS & Swale ~500,000, Medway ~303,000. Postcode districts
// are real; the inward codes generated with them are not.

struct Town {
  std::string_view name;
  std::array<std::string_view, 3> districts;  ///< postcode districts (empty when fewer)
  double weight;                              ///< rough relative population within the locality
};

inline constexpr std::array<Town, 12> kEastKentTowns = {{{"Canterbury", {"CT1", "CT2", "CT4"}, 55},
                                                         {"Ashford", {"TN23", "TN24", "TN25"}, 75},
                                                         {"Margate", {"CT9", "", ""}, 60},
                                                         {"Folkestone", {"CT19", "CT20", ""}, 50},
                                                         {"Dover", {"CT16", "CT17", ""}, 45},
                                                         {"Ramsgate", {"CT11", "CT12", ""}, 40},
                                                         {"Herne Bay", {"CT6", "", ""}, 38},
                                                         {"Whitstable", {"CT5", "", ""}, 32},
                                                         {"Deal", {"CT14", "", ""}, 30},
                                                         {"Broadstairs", {"CT10", "", ""}, 25},
                                                         {"Hythe", {"CT21", "", ""}, 15},
                                                         {"Faversham", {"ME13", "", ""}, 20}}};
inline constexpr std::array<Town, 9> kWestKentTowns = {{{"Maidstone", {"ME14", "ME15", "ME16"}, 110},
                                                        {"Tunbridge Wells", {"TN1", "TN2", "TN4"}, 60},
                                                        {"Tonbridge", {"TN9", "TN10", "TN11"}, 40},
                                                        {"Sevenoaks", {"TN13", "TN14", "TN15"}, 30},
                                                        {"West Malling", {"ME19", "", ""}, 15},
                                                        {"Larkfield", {"ME20", "", ""}, 15},
                                                        {"Snodland", {"ME6", "", ""}, 10},
                                                        {"Paddock Wood", {"TN12", "", ""}, 10},
                                                        {"Edenbridge", {"TN8", "", ""}, 8}}};
inline constexpr std::array<Town, 8> kDgsSwaleTowns = {{{"Dartford", {"DA1", "DA2", ""}, 70},
                                                        {"Gravesend", {"DA11", "DA12", ""}, 70},
                                                        {"Sittingbourne", {"ME9", "ME10", ""}, 50},
                                                        {"Sheerness", {"ME12", "", ""}, 25},
                                                        {"Swanley", {"BR8", "", ""}, 20},
                                                        {"Greenhithe", {"DA9", "", ""}, 15},
                                                        {"Swanscombe", {"DA10", "", ""}, 10},
                                                        {"Longfield", {"DA3", "", ""}, 10}}};
inline constexpr std::array<Town, 5> kMedwayTowns = {{{"Gillingham", {"ME7", "ME8", ""}, 100},
                                                      {"Chatham", {"ME4", "ME5", ""}, 75},
                                                      {"Rochester", {"ME1", "", ""}, 60},
                                                      {"Strood", {"ME2", "", ""}, 35},
                                                      {"Hoo", {"ME3", "", ""}, 10}}};

struct Locality {
  std::string_view key;          ///< short id fragment: ek, wk, ds, mw
  std::string_view name;         ///< as the seed names it
  double population;             ///< thousands (seed document)
  std::string_view acute_trust;  ///< Organization id
  std::string_view council;      ///< Organization id
  std::string_view community;    ///< Organization id of the community provider
  std::string_view out_of_hours;
  std::string_view hospice;
  std::span<const Town> towns;
};

inline constexpr std::array<Locality, 4> kLocalities = {{
    {"ek", "East Kent", 750, "ekhuft", "kcc", "kchft", "ic24", "pilgrims", kEastKentTowns},
    {"wk", "West Kent", 470, "mtw", "kcc", "kchft", "ic24", "weald", kWestKentTowns},
    {"ds", "Dartford, Gravesham & Swanley with Swale", 500, "dgt", "kcc", "kchft", "ic24", "ellenor", kDgsSwaleTowns},
    {"mw", "Medway", 303, "mft", "medway", "mch", "medocc", "wisdom", kMedwayTowns},
}};

inline constexpr std::array<std::string_view, 30> kStreets = {
    "High Street",    "Station Road",    "London Road", "Church Lane",     "Mill Lane",        "Victoria Road",
    "Park Road",      "Queens Road",     "Kings Road",  "Manor Road",      "School Lane",      "North Street",
    "Orchard Close",  "Chestnut Avenue", "The Street",  "Canterbury Road", "Maidstone Road",   "Hythe Road",
    "Albert Road",    "Grove Road",      "Oak Avenue",  "Hop Garden Way",  "Cherry Tree Walk", "Marsh Lane",
    "Harbour Street", "Castle Hill",     "Forge Lane",  "Windmill Road",   "Pilgrims Way",     "Oast Close"};

// ---------------------------------------------------------------------------------------------
// Organisations. Real ODS codes only where public and certain; others carry demo codes.

enum class OrgKind { kCcg, kAcute, kCommunity, kMentalHealth, kAmbulance, kOutOfHours, kHospice, kCouncil };

struct FixedOrg {
  std::string_view id;
  std::string_view name;
  std::string_view ods;  ///< real ODS code, or empty
  std::string_view demo_code;
  OrgKind kind;
  std::string_view town;
  std::string_view district;
  std::string_view parent;  ///< Organization id of partOf, or empty
};

inline constexpr std::array<FixedOrg, 26> kFixedOrgs = {{
    {"ccg-ashford", "NHS Ashford CCG", "09C", "", OrgKind::kCcg, "Ashford", "TN24", ""},
    {"ccg-canterbury", "NHS Canterbury and Coastal CCG", "09E", "", OrgKind::kCcg, "Canterbury", "CT1", ""},
    {"ccg-skc", "NHS South Kent Coast CCG", "10A", "", OrgKind::kCcg, "Dover", "CT16", ""},
    {"ccg-thanet", "NHS Thanet CCG", "10E", "", OrgKind::kCcg, "Margate", "CT9", ""},
    {"ccg-westkent", "NHS West Kent CCG", "99J", "", OrgKind::kCcg, "Maidstone", "ME19", ""},
    {"ccg-dgs", "NHS Dartford, Gravesham and Swanley CCG", "09J", "", OrgKind::kCcg, "Dartford", "DA1", ""},
    {"ccg-swale", "NHS Swale CCG", "10D", "", OrgKind::kCcg, "Sittingbourne", "ME10", ""},
    {"ccg-medway", "NHS Medway CCG", "09W", "", OrgKind::kCcg, "Chatham", "ME4", ""},
    {"ekhuft", "East Kent Hospitals University NHS Foundation Trust", "RVV", "", OrgKind::kAcute, "Canterbury", "CT1",
     ""},
    {"mtw", "Maidstone and Tunbridge Wells NHS Trust", "RWF", "", OrgKind::kAcute, "Maidstone", "ME16", ""},
    {"dgt", "Dartford and Gravesham NHS Trust", "RN7", "", OrgKind::kAcute, "Dartford", "DA2", ""},
    {"mft", "Medway NHS Foundation Trust", "RPA", "", OrgKind::kAcute, "Gillingham", "ME7", ""},
    {"kchft", "Kent Community Health NHS Foundation Trust", "RYY", "", OrgKind::kCommunity, "Maidstone", "ME14", ""},
    {"mch", "Medway Community Healthcare", "", "DEMO-MCH", OrgKind::kCommunity, "Gillingham", "ME8", ""},
    {"kmpt", "Kent and Medway NHS and Social Care Partnership Trust", "RXY", "", OrgKind::kMentalHealth, "Maidstone",
     "ME16", ""},
    {"secamb", "South East Coast Ambulance Service NHS Foundation Trust", "RYD", "", OrgKind::kAmbulance, "Crawley",
     "RH10", ""},
    {"ic24", "IC24 Kent Out of Hours Service", "", "DEMO-IC24", OrgKind::kOutOfHours, "Ashford", "TN24", ""},
    {"medocc", "Medway On Call Care (MedOCC)", "", "DEMO-MEDOCC", OrgKind::kOutOfHours, "Gillingham", "ME7", ""},
    {"pilgrims", "Pilgrims Hospices in East Kent", "", "DEMO-PILGRIMS", OrgKind::kHospice, "Canterbury", "CT2", ""},
    {"weald", "Hospice in the Weald", "", "DEMO-WEALD", OrgKind::kHospice, "Tunbridge Wells", "TN2", ""},
    {"ellenor", "ellenor Hospice", "", "DEMO-ELLENOR", OrgKind::kHospice, "Gravesend", "DA11", ""},
    {"wisdom", "Wisdom Hospice", "", "DEMO-WISDOM", OrgKind::kHospice, "Rochester", "ME1", ""},
    {"heartofkent", "Heart of Kent Hospice", "", "DEMO-HOKH", OrgKind::kHospice, "Aylesford", "ME20", ""},
    {"kcc", "Kent County Council", "", "DEMO-KCC", OrgKind::kCouncil, "Maidstone", "ME14", ""},
    {"medway", "Medway Council", "", "DEMO-MEDWAY", OrgKind::kCouncil, "Chatham", "ME4", ""},
    {"kcc-childrens", "Kent County Council Children's Social Work Services", "", "DEMO-KCC-CSC", OrgKind::kCouncil,
     "Maidstone", "ME14", "kcc"},
}};

/// Which CCG a practice in locality `l`, town index `t` belongs to (East Kent and DGS & Swale had several).
inline std::string_view ccg_for(std::string_view locality, std::string_view town) {
  if (locality == "ek") {
    if (town == "Ashford") return "ccg-ashford";
    if (town == "Margate" || town == "Ramsgate" || town == "Broadstairs") return "ccg-thanet";
    if (town == "Folkestone" || town == "Dover" || town == "Deal" || town == "Hythe") return "ccg-skc";
    return "ccg-canterbury";
  }
  if (locality == "wk") return "ccg-westkent";
  if (locality == "ds") return (town == "Sittingbourne" || town == "Sheerness") ? "ccg-swale" : "ccg-dgs";
  return "ccg-medway";
}

enum class SiteKind { kAcute, kCommunity, kMentalHealth, kHospice, kOutOfHours, kAmbulance, kCouncil };

struct Site {
  std::string_view id;
  std::string_view org;
  std::string_view name;
  std::string_view town;
  std::string_view district;
  SiteKind kind;
  bool emergency_department;
  double size;  ///< scales ward bed counts
};

inline constexpr std::array<Site, 23> kSites = {{
    {"whh", "ekhuft", "William Harvey Hospital", "Ashford", "TN24", SiteKind::kAcute, true, 1.2},
    {"qeqm", "ekhuft", "Queen Elizabeth The Queen Mother Hospital", "Margate", "CT9", SiteKind::kAcute, true, 1.0},
    {"kch", "ekhuft", "Kent and Canterbury Hospital", "Canterbury", "CT1", SiteKind::kAcute, false, 0.8},
    {"mgh", "mtw", "Maidstone Hospital", "Maidstone", "ME16", SiteKind::kAcute, true, 1.0},
    {"twh", "mtw", "Tunbridge Wells Hospital", "Pembury", "TN2", SiteKind::kAcute, true, 1.0},
    {"dvh", "dgt", "Darent Valley Hospital", "Dartford", "DA2", SiteKind::kAcute, true, 1.1},
    {"mmh", "mft", "Medway Maritime Hospital", "Gillingham", "ME7", SiteKind::kAcute, true, 1.3},
    {"qvmh", "kchft", "Queen Victoria Memorial Hospital", "Herne Bay", "CT6", SiteKind::kCommunity, false, 1.0},
    {"sevenoaks", "kchft", "Sevenoaks Hospital", "Sevenoaks", "TN13", SiteKind::kCommunity, false, 1.0},
    {"sheppey", "kchft", "Sheppey Community Hospital", "Minster-on-Sea", "ME12", SiteKind::kCommunity, false, 1.0},
    {"gravesham", "kchft", "Gravesham Community Hospital", "Gravesend", "DA11", SiteKind::kCommunity, false, 1.0},
    {"priority", "kmpt", "Priority House", "Maidstone", "ME16", SiteKind::kMentalHealth, false, 1.0},
    {"stmartins", "kmpt", "St Martin's Hospital", "Canterbury", "CT1", SiteKind::kMentalHealth, false, 1.0},
    {"littlebrook", "kmpt", "Little Brook Hospital", "Dartford", "DA2", SiteKind::kMentalHealth, false, 1.0},
    {"pilgrims-canterbury", "pilgrims", "Pilgrims Hospice Canterbury", "Canterbury", "CT2", SiteKind::kHospice, false,
     1.0},
    {"weald-pembury", "weald", "Hospice in the Weald", "Pembury", "TN2", SiteKind::kHospice, false, 1.2},
    {"ellenor-gravesend", "ellenor", "ellenor Hospice, Gravesend", "Gravesend", "DA11", SiteKind::kHospice, false, 1.0},
    {"wisdom-rochester", "wisdom", "Wisdom Hospice", "Rochester", "ME1", SiteKind::kHospice, false, 1.0},
    {"hokh-aylesford", "heartofkent", "Heart of Kent Hospice", "Aylesford", "ME20", SiteKind::kHospice, false, 1.0},
    {"ic24-ashford", "ic24", "IC24 out-of-hours base (demo site)", "Ashford", "TN24", SiteKind::kOutOfHours, false,
     1.0},
    {"medocc-gillingham", "medocc", "MedOCC out-of-hours base (demo site)", "Gillingham", "ME7", SiteKind::kOutOfHours,
     false, 1.0},
    {"secamb-kent", "secamb", "SECAmb Kent and Medway operations base (demo site)", "Coxheath", "ME17",
     SiteKind::kAmbulance, false, 1.0},
    {"kcc-hall", "kcc", "Sessions House, County Hall", "Maidstone", "ME14", SiteKind::kCouncil, false, 1.0},
}};

struct Ward {
  std::string_view key;
  std::string_view name;
  int beds;  ///< for a site of size 1.0
};

inline constexpr std::array<Ward, 10> kAcuteWards = {{{"ed", "Emergency Department", 40},
                                                      {"amu", "Acute Medical Unit", 36},
                                                      {"cardio", "Cardiology Ward", 28},
                                                      {"resp", "Respiratory Ward", 28},
                                                      {"elderly", "Care of the Elderly Ward", 30},
                                                      {"surg", "General Surgery Ward", 28},
                                                      {"ortho", "Trauma and Orthopaedic Ward", 30},
                                                      {"paeds", "Children's Ward", 20},
                                                      {"maternity", "Maternity Ward", 24},
                                                      {"icu", "Critical Care Unit", 12}}};
inline constexpr std::array<Ward, 1> kCommunityWards = {{{"rehab", "Inpatient Rehabilitation Ward", 24}}};
inline constexpr std::array<Ward, 2> kMentalHealthWards = {
    {{"adult", "Adult Acute Ward", 18}, {"older", "Older Adult Ward", 16}}};
inline constexpr std::array<Ward, 1> kHospiceWards = {{{"ipu", "Inpatient Unit", 12}}};

inline constexpr std::array<std::string_view, 16> kCareHomeNames = {
    "Oak Lodge",   "Beech House",  "Seaview",          "Orchard House", "Willow Court", "Hop Garden House",
    "The Cedars",  "Elm Grove",    "Maple Lodge",      "Cherry Trees",  "Downs View",   "Weald House",
    "Marsh Court", "Harbour View", "Chalk Hill House", "Bluebell Lodge"};

// ---------------------------------------------------------------------------------------------
// People. Age structure: approximate 5-year band shares for Kent and Medway after the ONS mid-2020
// population estimates (MYE2), rounded; percent of the population, 0-4 ... 85-89, 90+.
inline constexpr std::array<double, 19> kAgeBandShare = {5.5, 6.2, 6.2, 5.7, 5.3, 6.0, 6.2, 6.3, 6.0, 6.4,
                                                         7.2, 7.0, 6.1, 5.4, 5.6, 3.9, 2.8, 1.7, 1.0};
/// Share of women in each band (same source, rounded).
inline constexpr std::array<double, 19> kAgeBandFemale = {0.488, 0.487, 0.486, 0.482, 0.480, 0.500, 0.508,
                                                          0.510, 0.512, 0.512, 0.512, 0.510, 0.510, 0.515,
                                                          0.522, 0.535, 0.560, 0.600, 0.680};

/// Name pools by heritage; weights approximate Kent and Medway's 2021 Census ethnic groups.
struct NamePool {
  double weight;
  std::span<const std::string_view> family;
  std::array<std::span<const std::string_view>, 3> female;  ///< born before 1960, 1960-1989, 1990 on
  std::array<std::span<const std::string_view>, 3> male;
  std::string_view language;  ///< BCP-47 language for those who need an interpreter, or empty
  std::string_view language_name;
};

inline constexpr std::array<std::string_view, 60> kBritishFamily = {
    "Smith",    "Jones",  "Taylor",  "Brown",  "Williams", "Wilson",  "Johnson",  "Davies",  "Robinson",  "Wright",
    "Thompson", "Evans",  "Walker",  "White",  "Roberts",  "Green",   "Hall",     "Wood",    "Jackson",   "Clarke",
    "Harris",   "Lewis",  "Martin",  "Cooper", "King",     "Baker",   "Turner",   "Hill",    "Moore",     "Ward",
    "Clark",    "Morris", "Edwards", "Hughes", "Allen",    "Young",   "Mitchell", "Parker",  "Bennett",   "Cook",
    "Price",    "Bailey", "Palmer",  "Kelly",  "Murphy",   "O'Brien", "Campbell", "Stewart", "MacDonald", "Lloyd",
    "Pilcher",  "Godden", "Hoad",    "Friend", "Kemp",     "Fagg",    "Sayer",    "Gurr",    "Relf",      "Wickham"};
inline constexpr std::array<std::string_view, 18> kBritishFemaleOld = {
    "Margaret", "Patricia", "Susan", "Christine", "Jean",   "Barbara", "Mary",    "Sheila",    "Pauline",
    "Jennifer", "Janet",    "Joan",  "Doreen",    "Brenda", "Valerie", "Maureen", "Elizabeth", "Sandra"};
inline constexpr std::array<std::string_view, 18> kBritishFemaleMid = {
    "Sarah",  "Karen",  "Julie",  "Nicola", "Claire", "Emma",   "Lisa",    "Helen", "Michelle",
    "Joanne", "Rachel", "Louise", "Kelly",  "Laura",  "Amanda", "Rebecca", "Gemma", "Lucy"};
inline constexpr std::array<std::string_view, 20> kBritishFemaleYoung = {
    "Olivia", "Amelia",  "Isla",  "Ava",  "Mia",  "Grace", "Emily",     "Sophie", "Chloe", "Ruby",
    "Lily",   "Jessica", "Poppy", "Ella", "Evie", "Freya", "Charlotte", "Hannah", "Zoe",   "Isabella"};
inline constexpr std::array<std::string_view, 18> kBritishMaleOld = {
    "John",    "David", "Michael", "Peter",   "Robert", "Brian", "Alan",    "Kenneth", "William",
    "Anthony", "Roy",   "Derek",   "Terence", "Colin",  "Keith", "Raymond", "Dennis",  "George"};
inline constexpr std::array<std::string_view, 18> kBritishMaleMid = {
    "Paul", "Mark",  "Andrew", "Stephen", "Richard", "Christopher", "Daniel", "Matthew", "Darren",
    "Lee",  "Simon", "Gary",   "Craig",   "Jason",   "James",       "Neil",   "Thomas",  "Scott"};
inline constexpr std::array<std::string_view, 20> kBritishMaleYoung = {
    "Oliver", "George",  "Harry", "Noah",   "Jack",   "Leo",   "Arthur", "Oscar", "Charlie", "Jacob",
    "Alfie",  "Freddie", "Theo",  "Archie", "Joshua", "Ethan", "Samuel", "Lucas", "William", "Alexander"};

inline constexpr std::array<std::string_view, 14> kEuropeanFamily = {
    "Nowak",   "Wójcik",  "Kowalczyk", "Woźniak", "Mazur", "Krawczyk", "Zając",
    "Popescu", "Ionescu", "Popa",      "Dumitru", "Stan",  "Horvat",   "Novák"};
inline constexpr std::array<std::string_view, 10> kEuropeanFemale = {
    "Zofia", "Anna", "Katarzyna", "Magdalena", "Agnieszka", "Ioana", "Elena", "Maria", "Alina", "Łucja"};
inline constexpr std::array<std::string_view, 10> kEuropeanMale = {"Tomasz", "Piotr", "Krzysztof", "Jakub", "Marek",
                                                                   "Andrei", "Mihai", "Stefan",    "Paweł", "Lukas"};

inline constexpr std::array<std::string_view, 15> kSouthAsianFamily = {
    "Patel", "Singh",  "Shah",    "Khan",     "Ahmed",  "Hussain", "Ali",  "Sharma",
    "Gill",  "Sandhu", "Dhillon", "Chaudhry", "Rahman", "Mistry",  "Begum"};
inline constexpr std::array<std::string_view, 10> kSouthAsianFemale = {
    "Priya", "Aisha", "Fatima", "Anjali", "Harpreet", "Simran", "Nadia", "Zara", "Amira", "Sana"};
inline constexpr std::array<std::string_view, 10> kSouthAsianMale = {"Arjun",  "Mohammed", "Amir",  "Ravi",  "Sanjay",
                                                                     "Harjit", "Imran",    "Rohan", "Aryan", "Hamza"};

inline constexpr std::array<std::string_view, 7> kNepaliFamily = {"Gurung", "Rai",    "Limbu",   "Thapa",
                                                                  "Magar",  "Tamang", "Shrestha"};
inline constexpr std::array<std::string_view, 6> kNepaliFemale = {"Sita",  "Gita",   "Sunita",
                                                                  "Anita", "Kamala", "Sabina"};
inline constexpr std::array<std::string_view, 6> kNepaliMale = {"Bikram", "Rajendra", "Dil",
                                                                "Hari",   "Suman",    "Prakash"};

inline constexpr std::array<std::string_view, 14> kAfricanCaribbeanFamily = {
    "Okafor", "Adeyemi", "Mensah", "Okonkwo", "Boateng",  "Asante", "Bello",
    "Eze",    "Francis", "Joseph", "Grant",   "Campbell", "Oduya",  "Owusu"};
inline constexpr std::array<std::string_view, 8> kAfricanCaribbeanFemale = {"Chioma", "Ngozi",    "Abena",  "Adaeze",
                                                                            "Grace",  "Blessing", "Folake", "Esther"};
inline constexpr std::array<std::string_view, 8> kAfricanCaribbeanMale = {"Chinedu", "Kwame",  "Emeka",  "Tunde",
                                                                          "Kofi",    "Samuel", "Daniel", "Olu"};

inline constexpr std::array<std::string_view, 8> kEastAsianFamily = {"Wong", "Chen", "Li",     "Zhang",
                                                                     "Liu",  "Lam",  "Cheung", "Nguyen"};
inline constexpr std::array<std::string_view, 6> kEastAsianFemale = {"Mei", "Lin", "Xiu", "Yan", "Hui", "Linh"};
inline constexpr std::array<std::string_view, 6> kEastAsianMale = {"Wei", "Jun", "Hao", "Ming", "Jian", "Minh"};

inline constexpr std::array<std::string_view, 7> kTurkishFamily = {"Yılmaz", "Kaya",     "Demir", "Şahin",
                                                                   "Ahmadi", "Hosseini", "Karimi"};
inline constexpr std::array<std::string_view, 5> kTurkishFemale = {"Elif", "Zeynep", "Leyla", "Ayşe", "Shirin"};
inline constexpr std::array<std::string_view, 5> kTurkishMale = {"Mehmet", "Emre", "Ali", "Murat", "Reza"};

inline constexpr std::array<NamePool, 7> kNamePools = {{
    {87.0,
     kBritishFamily,
     {kBritishFemaleOld, kBritishFemaleMid, kBritishFemaleYoung},
     {kBritishMaleOld, kBritishMaleMid, kBritishMaleYoung},
     "",
     ""},
    {4.6,
     kEuropeanFamily,
     {kEuropeanFemale, kEuropeanFemale, kEuropeanFemale},
     {kEuropeanMale, kEuropeanMale, kEuropeanMale},
     "pl",
     "Polish"},
    {3.4,
     kSouthAsianFamily,
     {kSouthAsianFemale, kSouthAsianFemale, kSouthAsianFemale},
     {kSouthAsianMale, kSouthAsianMale, kSouthAsianMale},
     "pa",
     "Panjabi"},
    {0.9,
     kNepaliFamily,
     {kNepaliFemale, kNepaliFemale, kNepaliFemale},
     {kNepaliMale, kNepaliMale, kNepaliMale},
     "ne",
     "Nepali"},
    {2.4,
     kAfricanCaribbeanFamily,
     {kAfricanCaribbeanFemale, kAfricanCaribbeanFemale, kAfricanCaribbeanFemale},
     {kAfricanCaribbeanMale, kAfricanCaribbeanMale, kAfricanCaribbeanMale},
     "",
     ""},
    {0.9,
     kEastAsianFamily,
     {kEastAsianFemale, kEastAsianFemale, kEastAsianFemale},
     {kEastAsianMale, kEastAsianMale, kEastAsianMale},
     "zh",
     "Chinese"},
    {0.8,
     kTurkishFamily,
     {kTurkishFemale, kTurkishFemale, kTurkishFemale},
     {kTurkishMale, kTurkishMale, kTurkishMale},
     "tr",
     "Turkish"},
}};

struct Nickname {
  std::string_view name;
  std::string_view nickname;
};
inline constexpr std::array<Nickname, 30> kNicknames = {
    {{"William", "Bill"},      {"Robert", "Bob"},      {"Margaret", "Peggy"}, {"Elizabeth", "Liz"},
     {"Christopher", "Chris"}, {"Michael", "Mick"},    {"Anthony", "Tony"},   {"Richard", "Rick"},
     {"Thomas", "Tom"},        {"James", "Jim"},       {"Jennifer", "Jenny"}, {"Patricia", "Pat"},
     {"Susan", "Sue"},         {"Daniel", "Dan"},      {"Matthew", "Matt"},   {"Samuel", "Sam"},
     {"Joshua", "Josh"},       {"Katarzyna", "Kasia"}, {"Alexander", "Alex"}, {"Jessica", "Jess"},
     {"Charlotte", "Lottie"},  {"Mohammed", "Mo"},     {"Kenneth", "Ken"},    {"Andrew", "Andy"},
     {"Stephen", "Steve"},     {"Nicola", "Nicky"},    {"Rebecca", "Becky"},  {"Oliver", "Ollie"},
     {"Isabella", "Bella"},    {"Terence", "Terry"}}};

// ---------------------------------------------------------------------------------------------
// Medicines: dm+d-style names (virtual medicinal products) under a fictional code system, since
// the generator has no dm+d release to take real identifiers from.

struct Medicine {
  std::string_view code;
  std::string_view name;
  std::string_view dose;
  int quantity;
  std::string_view unit;
};

enum class Med : std::uint8_t {
  kAmlodipine,
  kRamipril,
  kIndapamide,
  kLosartan,
  kMetformin,
  kGliclazide,
  kSitagliptin,
  kEmpagliflozin,
  kInsulinGlargine,
  kInsulinAspart,
  kSalbutamol,
  kBeclometasone,
  kTiotropium,
  kBisoprolol,
  kFurosemide,
  kSpironolactone,
  kDonepezil,
  kMemantine,
  kSertraline,
  kCitalopram,
  kFluoxetine,
  kMirtazapine,
  kApixaban,
  kEdoxaban,
  kAtorvastatin20,
  kAtorvastatin80,
  kAspirin,
  kClopidogrel,
  kGtnSpray,
  kLevetiracetam,
  kLamotrigine,
  kOlanzapine,
  kAripiprazole,
  kMethotrexate,
  kFolicAcid,
  kLetrozole,
  kOmeprazole,
  kParacetamol,
  kAmoxicillin,
  kClarithromycin,
  kNitrofurantoin,
  kFlucloxacillin,
  kDoxycycline,
  kPrednisolone,
  kCount
};

inline constexpr std::array<Medicine, static_cast<std::size_t>(Med::kCount)> kMedicines = {{
    {"DEMO-VMP-0001", "Amlodipine 5mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0002", "Ramipril 5mg capsules", "One capsule once a day", 28, "capsule"},
    {"DEMO-VMP-0003", "Indapamide 2.5mg tablets", "One tablet each morning", 28, "tablet"},
    {"DEMO-VMP-0004", "Losartan 50mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0005", "Metformin 500mg tablets", "One tablet twice a day with food", 56, "tablet"},
    {"DEMO-VMP-0006", "Gliclazide 80mg tablets", "One tablet twice a day with food", 56, "tablet"},
    {"DEMO-VMP-0007", "Sitagliptin 100mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0008", "Empagliflozin 10mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0009", "Insulin glargine 100units/ml solution for injection 3ml pre-filled pens",
     "Inject as directed once a day", 5, "pre-filled pen"},
    {"DEMO-VMP-0010", "Insulin aspart 100units/ml solution for injection 3ml pre-filled pens",
     "Inject as directed with meals", 5, "pre-filled pen"},
    {"DEMO-VMP-0011", "Salbutamol 100micrograms/dose inhaler CFC free", "Two puffs when required", 1, "inhaler"},
    {"DEMO-VMP-0012", "Beclometasone 100micrograms/dose inhaler CFC free", "Two puffs twice a day", 1, "inhaler"},
    {"DEMO-VMP-0013", "Tiotropium 18microgram inhalation powder capsules", "Inhale one capsule once a day", 30,
     "capsule"},
    {"DEMO-VMP-0014", "Bisoprolol 2.5mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0015", "Furosemide 40mg tablets", "One tablet each morning", 28, "tablet"},
    {"DEMO-VMP-0016", "Spironolactone 25mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0017", "Donepezil 10mg tablets", "One tablet at night", 28, "tablet"},
    {"DEMO-VMP-0018", "Memantine 10mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0019", "Sertraline 50mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0020", "Citalopram 20mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0021", "Fluoxetine 20mg capsules", "One capsule once a day", 30, "capsule"},
    {"DEMO-VMP-0022", "Mirtazapine 30mg tablets", "One tablet at night", 28, "tablet"},
    {"DEMO-VMP-0023", "Apixaban 5mg tablets", "One tablet twice a day", 56, "tablet"},
    {"DEMO-VMP-0024", "Edoxaban 60mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0025", "Atorvastatin 20mg tablets", "One tablet at night", 28, "tablet"},
    {"DEMO-VMP-0026", "Atorvastatin 80mg tablets", "One tablet at night", 28, "tablet"},
    {"DEMO-VMP-0027", "Aspirin 75mg dispersible tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0028", "Clopidogrel 75mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0029", "Glyceryl trinitrate 400micrograms/dose pump sublingual spray",
     "One or two sprays under the tongue when required", 1, "spray"},
    {"DEMO-VMP-0030", "Levetiracetam 500mg tablets", "One tablet twice a day", 56, "tablet"},
    {"DEMO-VMP-0031", "Lamotrigine 100mg tablets", "One tablet twice a day", 56, "tablet"},
    {"DEMO-VMP-0032", "Olanzapine 10mg tablets", "One tablet at night", 28, "tablet"},
    {"DEMO-VMP-0033", "Aripiprazole 10mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0034", "Methotrexate 2.5mg tablets", "Four tablets once a WEEK on the same day", 16, "tablet"},
    {"DEMO-VMP-0035", "Folic acid 5mg tablets", "One tablet once a week, not on the methotrexate day", 4, "tablet"},
    {"DEMO-VMP-0036", "Letrozole 2.5mg tablets", "One tablet once a day", 28, "tablet"},
    {"DEMO-VMP-0037", "Omeprazole 20mg gastro-resistant capsules", "One capsule once a day", 28, "capsule"},
    {"DEMO-VMP-0038", "Paracetamol 500mg tablets", "Two tablets up to four times a day when required", 100, "tablet"},
    {"DEMO-VMP-0039", "Amoxicillin 500mg capsules", "One capsule three times a day for 5 days", 15, "capsule"},
    {"DEMO-VMP-0040", "Clarithromycin 500mg tablets", "One tablet twice a day for 5 days", 10, "tablet"},
    {"DEMO-VMP-0041", "Nitrofurantoin 100mg modified-release capsules", "One capsule twice a day for 3 days", 6,
     "capsule"},
    {"DEMO-VMP-0042", "Flucloxacillin 500mg capsules", "One capsule four times a day for 7 days", 28, "capsule"},
    {"DEMO-VMP-0043", "Doxycycline 100mg capsules", "Two capsules on day 1 then one daily for 4 days", 6, "capsule"},
    {"DEMO-VMP-0044", "Prednisolone 5mg tablets", "Six tablets once a day for 5 days", 30, "tablet"},
}};

// ---------------------------------------------------------------------------------------------
// Long-term conditions at published prevalence. Source: NHS Digital, Quality and Outcomes
// Framework (QOF) 2021-22, England prevalence on practice registers (denominator: the whole list,
// or those at least `min_age` where the register has an age threshold), rounded. The age and sex
// risk ratios are the generator's own shape; Population calibrates them to the overall figure.

enum class Ltc : std::uint8_t {
  kHypertension,
  kDiabetesType2,
  kDiabetesType1,
  kAsthma,
  kCopd,
  kHeartFailure,
  kDementia,
  kDepression,
  kAtrialFibrillation,
  kCkd,
  kCancer,
  kChd,
  kStroke,
  kEpilepsy,
  kLearningDisability,
  kSmi,
  kRheumatoid,
  kObesity,
  kCount
};

struct LtcDef {
  std::string_view key;
  std::string_view code;  ///< SNOMED CT
  std::string_view display;
  double prevalence;  ///< fraction of those aged min_age and over
  int min_age;
  std::array<double, 7> age_risk;  ///< 0-4, 5-16, 17-39, 40-59, 60-74, 75-84, 85+
  double female_risk;
  double male_risk;
  std::array<Med, 3> meds;  ///< usual treatment (Med::kCount: none)
  int med_count;
};

inline constexpr Med kNone = Med::kCount;

inline constexpr std::array<LtcDef, static_cast<std::size_t>(Ltc::kCount)> kLtcs = {{
    {"hypertension",
     "38341003",
     "Hypertensive disorder, systemic arterial",
     0.140,
     0,
     {0, 0, 0.04, 0.22, 0.5, 0.65, 0.7},
     1.0,
     1.05,
     {Med::kAmlodipine, Med::kRamipril, Med::kIndapamide},
     2},
    {"diabetes-t2",
     "44054006",
     "Diabetes mellitus type 2",
     0.067,
     17,
     {0, 0, 0.02, 0.09, 0.18, 0.21, 0.18},
     0.85,
     1.15,
     {Med::kMetformin, Med::kGliclazide, Med::kAtorvastatin20},
     3},
    {"diabetes-t1",
     "46635009",
     "Diabetes mellitus type 1",
     0.006,
     17,
     {0, 0, 1, 1, 1, 0.8, 0.6},
     0.9,
     1.1,
     {Med::kInsulinGlargine, Med::kInsulinAspart, kNone},
     2},
    {"asthma",
     "195967001",
     "Asthma",
     0.065,
     6,
     {0, 1.2, 1.1, 1.0, 1.0, 0.9, 0.8},
     1.2,
     0.85,
     {Med::kSalbutamol, Med::kBeclometasone, kNone},
     2},
    {"copd",
     "13645005",
     "Chronic obstructive lung disease",
     0.019,
     0,
     {0, 0, 0.001, 0.02, 0.06, 0.09, 0.09},
     1.0,
     1.0,
     {Med::kTiotropium, Med::kSalbutamol, kNone},
     2},
    {"heart-failure",
     "84114007",
     "Heart failure",
     0.010,
     0,
     {0, 0, 0.0005, 0.004, 0.02, 0.05, 0.1},
     0.85,
     1.2,
     {Med::kBisoprolol, Med::kFurosemide, Med::kRamipril},
     3},
    {"dementia",
     "52448006",
     "Dementia",
     0.008,
     0,
     {0, 0, 0, 0.001, 0.015, 0.07, 0.22},
     1.25,
     0.9,
     {Med::kDonepezil, kNone, kNone},
     1},
    {"depression",
     "35489007",
     "Depressive disorder",
     0.130,
     18,
     {0, 0, 1.1, 1.1, 0.9, 0.8, 0.7},
     1.6,
     0.8,
     {Med::kSertraline, kNone, kNone},
     1},
    {"atrial-fibrillation",
     "49436004",
     "Atrial fibrillation",
     0.021,
     0,
     {0, 0, 0.001, 0.01, 0.05, 0.12, 0.18},
     0.85,
     1.2,
     {Med::kApixaban, Med::kBisoprolol, kNone},
     2},
    {"ckd",
     "709044004",
     "Chronic kidney disease",
     0.040,
     18,
     {0, 0, 0.002, 0.02, 0.1, 0.25, 0.4},
     1.2,
     0.85,
     {kNone, kNone, kNone},
     0},
    {"cancer",
     "363346000",
     "Malignant neoplastic disease",
     0.033,
     0,
     {0, 0.001, 0.005, 0.03, 0.08, 0.12, 0.13},
     1.0,
     1.0,
     {kNone, kNone, kNone},
     0},
    {"chd",
     "53741008",
     "Coronary arteriosclerosis",
     0.030,
     0,
     {0, 0, 0.002, 0.025, 0.09, 0.15, 0.18},
     0.7,
     1.4,
     {Med::kAspirin, Med::kAtorvastatin80, Med::kGtnSpray},
     3},
    {"stroke",
     "230690007",
     "Cerebrovascular accident",
     0.018,
     0,
     {0, 0, 0.001, 0.01, 0.04, 0.08, 0.1},
     0.95,
     1.05,
     {Med::kClopidogrel, Med::kAtorvastatin80, kNone},
     2},
    {"epilepsy",
     "84757009",
     "Epilepsy",
     0.008,
     18,
     {0, 0, 1, 1, 1, 1, 1},
     1.0,
     1.0,
     {Med::kLevetiracetam, kNone, kNone},
     1},
    {"learning-disability",
     "110359009",
     "Intellectual disability",
     0.005,
     0,
     {1, 1, 1, 1, 0.8, 0.5, 0.3},
     0.8,
     1.2,
     {kNone, kNone, kNone},
     0},
    {"smi",
     "58214004",
     "Schizophrenia",
     0.0095,
     18,
     {0, 0, 1, 1.2, 1, 0.8, 0.6},
     0.9,
     1.1,
     {Med::kOlanzapine, kNone, kNone},
     1},
    {"rheumatoid-arthritis",
     "69896004",
     "Rheumatoid arthritis",
     0.0077,
     16,
     {0, 0, 0.3, 1, 1.6, 1.8, 1.6},
     1.6,
     0.5,
     {Med::kMethotrexate, Med::kFolicAcid, kNone},
     2},
    {"obesity", "414916001", "Obesity", 0.095, 18, {0, 0, 0.8, 1.2, 1.2, 0.9, 0.5}, 1.0, 1.0, {kNone, kNone, kNone}, 0},
}};

struct Coded {
  std::string_view code;
  std::string_view display;
};

/// Cancer sites (SNOMED CT) used for the cancer register.
inline constexpr std::array<Coded, 4> kCancerSites = {{{"254837009", "Malignant neoplasm of breast"},
                                                       {"399068003", "Malignant tumor of prostate"},
                                                       {"363406005", "Malignant tumor of colon"},
                                                       {"93880001", "Primary malignant neoplasm of lung"}}};

/// Allergies (SNOMED CT) with relative frequency.
struct AllergyDef {
  std::string_view code;
  std::string_view display;
  std::string_view category;  ///< medication | food | environment
  std::string_view criticality;
  double weight;
};
inline constexpr std::array<AllergyDef, 7> kAllergies = {{
    {"91936005", "Allergy to penicillin", "medication", "high", 45},
    {"91935009", "Allergy to peanuts", "food", "high", 10},
    {"300916003", "Latex allergy", "environment", "low", 5},
    {"91930004", "Allergy to eggs", "food", "low", 6},
    {"300913006", "Shellfish allergy", "food", "high", 6},
    {"418689008", "Allergy to grass pollen", "environment", "low", 18},
    {"232350006", "House dust mite allergy", "environment", "low", 10},
}};

/// Short illnesses seen in primary and urgent care (SNOMED CT), with their usual prescription.
struct AcuteDef {
  std::string_view code;
  std::string_view display;
  Med treatment;        ///< Med::kCount for none
  Med penicillin_free;  ///< alternative when allergic to penicillin
  double weight;
};
inline constexpr std::array<AcuteDef, 6> kPrimaryCareAcute = {{
    {"68566005", "Urinary tract infectious disease", Med::kNitrofurantoin, Med::kNitrofurantoin, 20},
    {"50417007", "Lower respiratory tract infection", Med::kAmoxicillin, Med::kDoxycycline, 25},
    {"128045006", "Cellulitis", Med::kFlucloxacillin, Med::kClarithromycin, 10},
    {"44465007", "Sprain of ankle", Med::kParacetamol, Med::kParacetamol, 10},
    {"195662009", "Acute viral pharyngitis", kNone, kNone, 25},
    {"21522001", "Abdominal pain", kNone, kNone, 10},
}};
/// Reasons for emergency department attendance (SNOMED CT) and how often they lead to admission.
struct EmergencyDef {
  std::string_view code;
  std::string_view display;
  double weight;
  double admit;           ///< probability of admission
  std::string_view ward;  ///< ward key when admitted
};
inline constexpr std::array<EmergencyDef, 9> kEmergencies = {{
    {"29857009", "Chest pain", 14, 0.30, "cardio"},
    {"161898004", "Falls", 14, 0.25, "elderly"},
    {"233604007", "Pneumonia", 6, 0.70, "resp"},
    {"5913000", "Fracture of neck of femur", 2, 0.97, "ortho"},
    {"21522001", "Abdominal pain", 14, 0.25, "surg"},
    {"44465007", "Sprain of ankle", 12, 0.01, "ortho"},
    {"68566005", "Urinary tract infectious disease", 8, 0.30, "amu"},
    {"267036007", "Dyspnea", 10, 0.40, "amu"},
    {"125605004", "Fracture of bone", 8, 0.20, "ortho"},
}};

/// Specialties for referrals; `code` is in the fictional concept system (text is what matters).
struct SpecialtyDef {
  std::string_view code;
  std::string_view display;
};
inline constexpr std::array<SpecialtyDef, 10> kSpecialties = {
    {{"ref-cardiology", "Referral to cardiology service"},
     {"ref-respiratory", "Referral to respiratory service"},
     {"ref-diabetes", "Referral to diabetic service"},
     {"ref-orthopaedics", "Referral to orthopaedic service"},
     {"ref-gastro", "Referral to gastroenterology service"},
     {"ref-dermatology", "Referral to dermatology service"},
     {"ref-memory", "Referral to memory clinic"},
     {"ref-mental-health", "Referral to mental health service"},
     {"ref-urology", "Referral to urology service"},
     {"ref-ent", "Referral to ENT service"}}};

}  // namespace ucr::demo::detail
