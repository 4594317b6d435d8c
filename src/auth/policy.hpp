// auth/policy: who is asking (Principal), the roles of ucr and each role's default policy: which
// classes of resource it may read and write. Scopes narrow this further, never widen it; the
// record a professional may open is decided per patient by the api (relationship, consent).
// Plain values and pure functions; thread-safe.
#pragma once

#include "auth/scopes.hpp"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ucr::auth {

enum class Role {
  gp,
  hospital_clinician,
  community_nurse,
  mental_health_clinician,
  paramedic,
  out_of_hours_clinician,
  community_pharmacist,
  optometrist,
  care_home_staff,
  adult_social_worker,
  childrens_social_worker,
  patient,
  proxy,
  analyst,
  data_quality_officer,
  administrator,
  integration,
};

/// Every role, in the order above.
[[nodiscard]] const std::vector<Role>& all_roles();
/// The role's code as used in tokens, accounts and audit ("gp", "hospital-clinician", ...).
[[nodiscard]] std::string_view role_code(Role role);
/// A plain-English title ("GP", "Hospital clinician", ...).
[[nodiscard]] std::string_view role_title(Role role);
[[nodiscard]] std::optional<Role> parse_role(std::string_view code);

/// A class of FHIR resource, as the policy sees it.
enum class ResourceClass {
  clinical,      ///< problems, medications, allergies, observations, encounters, documents, care plans ...
  social_care,   ///< (no distinct R4 types: social care uses the clinical types with social-care categories)
  demographics,  ///< Patient, RelatedPerson, Person
  directory,     ///< Organization, Location, Practitioner, PractitionerRole, HealthcareService, Endpoint
  workflow,      ///< Task, Appointment, Schedule, Slot, Communication, ServiceRequest (referrals)
  consent,       ///< Consent
  identity,      ///< Patient linkage and merge operations, Provenance, Person
  audit,         ///< AuditEvent
  definitional,  ///< SearchParameter, ValueSet, CodeSystem, StructureDefinition, Questionnaire, ...
  other,
};

[[nodiscard]] ResourceClass resource_class(std::string_view type);
[[nodiscard]] std::string_view resource_class_name(ResourceClass c);

/// The role's default policy: may it do `p` on resources of `type` at all?
[[nodiscard]] bool role_permits(Role role, std::string_view type, Permission p);

/// Roles that see only their own record (or the records they are proxy for).
[[nodiscard]] bool is_patient_facing(Role role);
/// Professionals who need a care relationship with the patient (or emergency access) to see a record.
[[nodiscard]] bool needs_relationship(Role role);

/// Sensitive categories of record, carried as security labels (`meta.security`) and shown only to
/// the roles whose work needs them (docs/security.md).
enum class Sensitivity { mental_health, sexual_health, safeguarding, gender_reassignment };

/// The security-label codings that mark each category: ucr's own code system
/// (https://ucr.nhs.example/fhir/CodeSystem/sensitivity) and the HL7 v3 ActCode equivalents.
struct LabelCoding {
  std::string_view system;
  std::string_view code;
  Sensitivity sensitivity;
};
[[nodiscard]] const std::vector<LabelCoding>& sensitivity_labels();
[[nodiscard]] std::optional<Sensitivity> sensitivity_of(std::string_view system, std::string_view code);
[[nodiscard]] std::string_view sensitivity_name(Sensitivity s);
/// May the role see records in this category (given a relationship with the patient)?
[[nodiscard]] bool role_sees(Role role, Sensitivity s);

/// Who is making a request, from a verified access token.
struct Principal {
  std::string subject;  ///< user name, or client id for a system client
  std::string display;  ///< the person's name (audit; never shown to patients)
  Role role = Role::patient;
  std::string fhir_user;     ///< "Practitioner/..", "Patient/..", "RelatedPerson/.." when known
  std::string organisation;  ///< "Organization/.." the user works for, when known
  std::string client_id;     ///< the OAuth client the token was issued to
  Scopes scopes;
  std::vector<std::string> patients;  ///< for patient-facing roles: the Patient ids they may see
  /// For a proxy whose access rests on a consent that names resource types (`provision.class`):
  /// the only types they may see of that patient's record. A patient not listed here: no limit.
  std::map<std::string, std::vector<std::string>> patient_types;
  std::string jti;           ///< token id (revocation)
  std::int64_t expires = 0;  ///< unix seconds
  std::string issuer;        ///< who issued the token
};

}  // namespace ucr::auth
