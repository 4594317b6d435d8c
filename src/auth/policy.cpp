#include "auth/policy.hpp"

#include <algorithm>
#include <array>
#include <utility>

namespace ucr::auth {
namespace {

struct RoleInfo {
  Role role;
  std::string_view code;
  std::string_view title;
};

constexpr std::array<RoleInfo, 17> kRoles{{
    {Role::gp, "gp", "GP"},
    {Role::hospital_clinician, "hospital-clinician", "Hospital clinician"},
    {Role::community_nurse, "community-nurse", "Community nurse"},
    {Role::mental_health_clinician, "mental-health-clinician", "Mental health clinician"},
    {Role::paramedic, "paramedic", "Paramedic"},
    {Role::out_of_hours_clinician, "out-of-hours-clinician", "Out-of-hours clinician"},
    {Role::community_pharmacist, "community-pharmacist", "Community pharmacist"},
    {Role::optometrist, "optometrist", "Optometrist"},
    {Role::care_home_staff, "care-home-staff", "Care home staff"},
    {Role::adult_social_worker, "adult-social-worker", "Adult social worker"},
    {Role::childrens_social_worker, "childrens-social-worker", "Children's social worker"},
    {Role::patient, "patient", "Patient"},
    {Role::proxy, "proxy", "Proxy (carer or parent)"},
    {Role::analyst, "analyst", "Analyst"},
    {Role::data_quality_officer, "data-quality-officer", "Data quality officer"},
    {Role::administrator, "administrator", "Administrator"},
    {Role::integration, "integration", "Integration system"},
}};

constexpr std::array<std::pair<std::string_view, ResourceClass>, 70> kClasses{{
    {"AdverseEvent", ResourceClass::clinical},
    {"AllergyIntolerance", ResourceClass::clinical},
    {"BodyStructure", ResourceClass::clinical},
    {"CarePlan", ResourceClass::clinical},
    {"CareTeam", ResourceClass::clinical},
    {"ClinicalImpression", ResourceClass::clinical},
    {"Composition", ResourceClass::clinical},
    {"Condition", ResourceClass::clinical},
    {"Coverage", ResourceClass::clinical},
    {"DetectedIssue", ResourceClass::clinical},
    {"Device", ResourceClass::clinical},
    {"DeviceRequest", ResourceClass::clinical},
    {"DeviceUseStatement", ResourceClass::clinical},
    {"DiagnosticReport", ResourceClass::clinical},
    {"DocumentReference", ResourceClass::clinical},
    {"Encounter", ResourceClass::clinical},
    {"EpisodeOfCare", ResourceClass::clinical},
    {"FamilyMemberHistory", ResourceClass::clinical},
    {"Flag", ResourceClass::clinical},
    {"Goal", ResourceClass::clinical},
    {"ImagingStudy", ResourceClass::clinical},
    {"Immunization", ResourceClass::clinical},
    {"ImmunizationRecommendation", ResourceClass::clinical},
    {"List", ResourceClass::clinical},
    {"Media", ResourceClass::clinical},
    {"MedicationAdministration", ResourceClass::clinical},
    {"MedicationDispense", ResourceClass::clinical},
    {"MedicationRequest", ResourceClass::clinical},
    {"MedicationStatement", ResourceClass::clinical},
    {"NutritionOrder", ResourceClass::clinical},
    {"Observation", ResourceClass::clinical},
    {"Procedure", ResourceClass::clinical},
    {"QuestionnaireResponse", ResourceClass::clinical},
    {"RiskAssessment", ResourceClass::clinical},
    {"Specimen", ResourceClass::clinical},
    {"VisionPrescription", ResourceClass::clinical},
    {"Appointment", ResourceClass::workflow},
    {"AppointmentResponse", ResourceClass::workflow},
    {"Communication", ResourceClass::workflow},
    {"CommunicationRequest", ResourceClass::workflow},
    {"Schedule", ResourceClass::workflow},
    {"ServiceRequest", ResourceClass::workflow},
    {"Slot", ResourceClass::workflow},
    {"Task", ResourceClass::workflow},
    {"Patient", ResourceClass::demographics},
    {"RelatedPerson", ResourceClass::demographics},
    {"Endpoint", ResourceClass::directory},
    {"HealthcareService", ResourceClass::directory},
    {"Location", ResourceClass::directory},
    {"Organization", ResourceClass::directory},
    {"Practitioner", ResourceClass::directory},
    {"PractitionerRole", ResourceClass::directory},
    {"Consent", ResourceClass::consent},
    {"Linkage", ResourceClass::identity},
    {"Person", ResourceClass::identity},
    {"Provenance", ResourceClass::identity},
    {"AuditEvent", ResourceClass::audit},
    {"ActivityDefinition", ResourceClass::definitional},
    {"CapabilityStatement", ResourceClass::definitional},
    {"CodeSystem", ResourceClass::definitional},
    {"ConceptMap", ResourceClass::definitional},
    {"Library", ResourceClass::definitional},
    {"Measure", ResourceClass::definitional},
    {"Medication", ResourceClass::definitional},
    {"NamingSystem", ResourceClass::definitional},
    {"OperationDefinition", ResourceClass::definitional},
    {"PlanDefinition", ResourceClass::definitional},
    {"Questionnaire", ResourceClass::definitional},
    {"SearchParameter", ResourceClass::definitional},
    {"ValueSet", ResourceClass::definitional},
}};

constexpr unsigned kRead = static_cast<unsigned>(Permission::read) | static_cast<unsigned>(Permission::search);
constexpr unsigned kWrite = static_cast<unsigned>(Permission::create) | static_cast<unsigned>(Permission::update) |
                            static_cast<unsigned>(Permission::remove);
constexpr unsigned kAll = kRead | kWrite;

bool one_of(std::string_view type, std::initializer_list<std::string_view> types) {
  return std::find(types.begin(), types.end(), type) != types.end();
}

/// The permissions a role has on one resource type (its default policy; docs/security.md).
unsigned grants(Role role, std::string_view type) {
  const ResourceClass c = resource_class(type);
  const bool common_read = c == ResourceClass::directory || c == ResourceClass::definitional;
  switch (role) {
    case Role::gp:
    case Role::hospital_clinician:
      if (c == ResourceClass::clinical || c == ResourceClass::workflow || c == ResourceClass::demographics ||
          c == ResourceClass::consent)
        return kAll;
      if (c == ResourceClass::identity) return kRead;
      return common_read ? kRead : 0;
    case Role::community_nurse:
    case Role::mental_health_clinician:
    case Role::paramedic:
    case Role::out_of_hours_clinician:
      if (c == ResourceClass::clinical || c == ResourceClass::workflow) return kAll;
      if (c == ResourceClass::demographics || c == ResourceClass::consent || c == ResourceClass::identity) return kRead;
      return common_read ? kRead : 0;
    case Role::community_pharmacist:
      if (one_of(type, {"MedicationDispense", "MedicationStatement", "Immunization", "Communication", "Task"}))
        return kAll;
      if (one_of(type,
                 {"MedicationRequest", "AllergyIntolerance", "Condition", "Observation", "ServiceRequest", "Flag"}) ||
          c == ResourceClass::demographics || c == ResourceClass::consent)
        return kRead;
      return common_read ? kRead : 0;
    case Role::optometrist:
      if (one_of(type, {"Observation", "DiagnosticReport", "ServiceRequest", "Communication", "DocumentReference"}))
        return kAll;
      if (one_of(type, {"AllergyIntolerance", "Condition", "MedicationStatement", "MedicationRequest", "Flag"}) ||
          c == ResourceClass::demographics || c == ResourceClass::consent)
        return kRead;
      return common_read ? kRead : 0;
    case Role::care_home_staff:
      if (one_of(type, {"Observation", "MedicationAdministration", "Communication"})) return kAll;
      if (one_of(type, {"AllergyIntolerance", "Condition", "MedicationRequest", "MedicationStatement", "CarePlan",
                        "CareTeam", "Flag", "Appointment", "Goal"}) ||
          c == ResourceClass::demographics || c == ResourceClass::consent)
        return kRead;
      return common_read ? kRead : 0;
    case Role::adult_social_worker:
    case Role::childrens_social_worker:
      if (one_of(type,
                 {"CarePlan", "CareTeam", "Flag", "EpisodeOfCare", "Encounter", "Observation", "DocumentReference",
                  "Goal", "Communication", "Task", "ServiceRequest", "RelatedPerson", "Consent", "Appointment"}))
        return kAll;
      if (one_of(type, {"Condition", "AllergyIntolerance", "Patient"})) return kRead;
      return common_read ? kRead : 0;
    case Role::patient:
    case Role::proxy:
      if (one_of(type, {"Consent", "QuestionnaireResponse", "Communication", "Appointment"})) return kAll;
      if (c == ResourceClass::clinical || c == ResourceClass::workflow || c == ResourceClass::demographics ||
          c == ResourceClass::audit)
        return kRead;
      return common_read ? kRead : 0;
    case Role::analyst:
      // De-identified (the api removes identifiers from everything an analyst is shown).
      if (c == ResourceClass::clinical || c == ResourceClass::social_care || c == ResourceClass::workflow ||
          c == ResourceClass::demographics || c == ResourceClass::consent)
        return kRead;
      return common_read ? kRead : 0;
    case Role::data_quality_officer:
      // Keeps the index of people right: reviews possible duplicates (Tasks of the identity
      // service only; the api hides every other Task), links, merges and corrects demographics.
      // Never the clinical or social care record.
      if (type == "Patient") return kRead | static_cast<unsigned>(Permission::update);
      if (c == ResourceClass::demographics || c == ResourceClass::identity || type == "Task") return kRead;
      return common_read ? kRead : 0;
    case Role::administrator:
      if (c == ResourceClass::directory || c == ResourceClass::definitional || c == ResourceClass::identity ||
          type == "Task")
        return kAll;
      if (c == ResourceClass::demographics || c == ResourceClass::audit) return kRead;
      return 0;
    case Role::integration:
      if (c == ResourceClass::audit) return 0;
      if (c == ResourceClass::definitional) return kRead;
      return kAll;
  }
  return 0;
}

}  // namespace

const std::vector<Role>& all_roles() {
  static const std::vector<Role> kEvery = [] {
    std::vector<Role> out;
    out.reserve(kRoles.size());
    for (const auto& r : kRoles) out.push_back(r.role);
    return out;
  }();
  return kEvery;
}

std::string_view role_code(Role role) {
  for (const auto& r : kRoles) {
    if (r.role == role) return r.code;
  }
  return "unknown";
}

std::string_view role_title(Role role) {
  for (const auto& r : kRoles) {
    if (r.role == role) return r.title;
  }
  return "Unknown";
}

std::optional<Role> parse_role(std::string_view code) {
  for (const auto& r : kRoles) {
    if (r.code == code) return r.role;
  }
  return std::nullopt;
}

ResourceClass resource_class(std::string_view type) {
  for (const auto& [t, c] : kClasses) {
    if (t == type) return c;
  }
  return ResourceClass::other;
}

std::string_view resource_class_name(ResourceClass c) {
  switch (c) {
    case ResourceClass::clinical:
      return "clinical record";
    case ResourceClass::social_care:
      return "social care record";
    case ResourceClass::demographics:
      return "demographics";
    case ResourceClass::directory:
      return "directory";
    case ResourceClass::workflow:
      return "workflow";
    case ResourceClass::consent:
      return "consent";
    case ResourceClass::identity:
      return "identity management";
    case ResourceClass::audit:
      return "audit trail";
    case ResourceClass::definitional:
      return "definitions";
    case ResourceClass::other:
      return "other";
  }
  return "other";
}

const std::vector<LabelCoding>& sensitivity_labels() {
  static const std::vector<LabelCoding> kLabels{
      {"https://ucr.nhs.example/fhir/CodeSystem/sensitivity", "mental-health", Sensitivity::mental_health},
      {"https://ucr.nhs.example/fhir/CodeSystem/sensitivity", "sexual-health", Sensitivity::sexual_health},
      {"https://ucr.nhs.example/fhir/CodeSystem/sensitivity", "safeguarding", Sensitivity::safeguarding},
      {"https://ucr.nhs.example/fhir/CodeSystem/sensitivity", "gender-reassignment", Sensitivity::gender_reassignment},
      // HL7 v3 ActCode information sensitivity codes (terminology.hl7.org).
      {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "PSY", Sensitivity::mental_health},
      {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "STD", Sensitivity::sexual_health},
      {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "HIV", Sensitivity::sexual_health},
      {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "SEX", Sensitivity::sexual_health},
      {"http://terminology.hl7.org/CodeSystem/v3-ActCode", "SDV", Sensitivity::safeguarding},
  };
  return kLabels;
}

std::optional<Sensitivity> sensitivity_of(std::string_view system, std::string_view code) {
  for (const auto& l : sensitivity_labels()) {
    if (l.system == system && l.code == code) return l.sensitivity;
  }
  return std::nullopt;
}

std::string_view sensitivity_name(Sensitivity s) {
  switch (s) {
    case Sensitivity::mental_health:
      return "mental health";
    case Sensitivity::sexual_health:
      return "sexual health";
    case Sensitivity::safeguarding:
      return "safeguarding";
    case Sensitivity::gender_reassignment:
      return "gender reassignment";
  }
  return "sensitive";
}

bool role_sees(Role role, Sensitivity s) {
  if (role == Role::integration) return true;
  switch (s) {
    case Sensitivity::mental_health:
      return role == Role::gp || role == Role::mental_health_clinician || role == Role::patient;
    case Sensitivity::sexual_health:
      return role == Role::gp || role == Role::hospital_clinician || role == Role::patient;
    case Sensitivity::safeguarding:
      // Safeguarding notes are withheld from patients and proxies: sharing them can put someone at risk.
      return role == Role::gp || role == Role::hospital_clinician || role == Role::community_nurse ||
             role == Role::paramedic || role == Role::childrens_social_worker || role == Role::adult_social_worker;
    case Sensitivity::gender_reassignment:
      return role == Role::gp || role == Role::patient;
  }
  return false;
}

bool role_permits(Role role, std::string_view type, Permission p) {
  return (grants(role, type) & static_cast<unsigned>(p)) != 0;
}

bool is_patient_facing(Role role) { return role == Role::patient || role == Role::proxy; }

bool needs_relationship(Role role) {
  switch (role) {
    case Role::gp:
    case Role::hospital_clinician:
    case Role::community_nurse:
    case Role::mental_health_clinician:
    case Role::paramedic:
    case Role::out_of_hours_clinician:
    case Role::community_pharmacist:
    case Role::optometrist:
    case Role::care_home_staff:
    case Role::adult_social_worker:
    case Role::childrens_social_worker:
      return true;
    default:
      return false;
  }
}

}  // namespace ucr::auth
