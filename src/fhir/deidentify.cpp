#include "fhir/deidentify.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <string_view>

namespace ucr::fhir {

namespace json = boost::json;

namespace {

/// Keys removed wherever they occur: direct identifiers and free text that may name someone.
constexpr std::array<std::string_view, 12> kRemoved{
    "identifier",          // NHS number, hospital and social-care numbers, order numbers
    "telecom",             // phone numbers and e-mail addresses
    "photo",               //
    "note",                // annotations: free text
    "comment",             // free text (Appointment, ...)
    "patientInstruction",  // free text
    "description",         // free text (DocumentReference, CarePlan, ...)
    "valueHumanName",      // extensions carrying a name,
    "valueContactPoint",   // a phone number,
    "valueIdentifier",     // an identifier,
    "valueAttachment",     // or a document
    "valueAddress",        // or an address
};

/// Resource types that are never about a patient: the directory of services and staff, and
/// definitions. They are left as they are.
bool shared_reference_data(std::string_view type) {
  static constexpr std::array<std::string_view, 20> kTypes{"Organization",
                                                           "Location",
                                                           "Practitioner",
                                                           "PractitionerRole",
                                                           "HealthcareService",
                                                           "Endpoint",
                                                           "Medication",
                                                           "Substance",
                                                           "ValueSet",
                                                           "CodeSystem",
                                                           "ConceptMap",
                                                           "SearchParameter",
                                                           "StructureDefinition",
                                                           "Questionnaire",
                                                           "ActivityDefinition",
                                                           "PlanDefinition",
                                                           "Library",
                                                           "Measure",
                                                           "NamingSystem",
                                                           "OperationDefinition"};
  return std::find(kTypes.begin(), kTypes.end(), type) != kTypes.end();
}

/// Resource types that describe a person (their `name` is a HumanName).
bool describes_person(std::string_view type) {
  return type == "Patient" || type == "RelatedPerson" || type == "Person";
}

std::string year_of(std::string_view date) {
  return std::string(date.substr(0, std::min<std::size_t>(4, date.size())));
}

/// An Address cut to its district: the outward code of the postcode, the country, the use.
json::object generalised_address(const json::object& address) {
  json::object out;
  if (const auto* use = address.if_contains("use")) out["use"] = *use;
  if (const auto* pc = address.if_contains("postalCode"); pc != nullptr && pc->is_string()) {
    if (auto district = outward_code(pc->get_string()); !district.empty()) out["postalCode"] = district;
  }
  if (const auto* country = address.if_contains("country")) out["country"] = *country;
  return out;
}

void scrub(json::value& v);

void scrub_object(json::object& o) {
  for (const auto key : kRemoved) o.erase(key);
  // An Attachment (it has a contentType): its data, address and title may identify.
  if (o.contains("contentType")) {
    o.erase("data");
    o.erase("url");
    o.erase("title");
  }
  // A Reference's display text may be a person's name.
  if (const auto* ref = o.if_contains("reference"); ref != nullptr && ref->is_string()) {
    o.erase("display");
  }
  for (auto& [key, child] : o) scrub(child);
}

void scrub(json::value& v) {
  if (v.is_object()) {
    scrub_object(v.get_object());
  } else if (v.is_array()) {
    for (auto& item : v.get_array()) scrub(item);
  }
}

}  // namespace

std::string outward_code(std::string_view postcode) {
  std::string compact;
  for (const char c : postcode) {
    if (std::isalnum(static_cast<unsigned char>(c)) != 0) {
      compact.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  // The inward code is always a digit and two letters; the outward code is 2 to 4 characters.
  if (compact.size() < 5 || compact.size() > 7) return {};
  const std::string_view inward = std::string_view(compact).substr(compact.size() - 3);
  if (std::isdigit(static_cast<unsigned char>(inward[0])) == 0 ||
      std::isalpha(static_cast<unsigned char>(inward[1])) == 0 ||
      std::isalpha(static_cast<unsigned char>(inward[2])) == 0 ||
      std::isalpha(static_cast<unsigned char>(compact[0])) == 0) {
    return {};
  }
  return compact.substr(0, compact.size() - 3);
}

void deidentify(json::object& resource) {
  std::string type;
  if (const auto* rt = resource.if_contains("resourceType"); rt != nullptr && rt->is_string()) {
    type = std::string(rt->get_string());
  }
  if (type == "Bundle") {
    if (auto* entries = resource.if_contains("entry"); entries != nullptr && entries->is_array()) {
      for (auto& e : entries->get_array()) {
        if (!e.is_object()) continue;
        if (auto* r = e.get_object().if_contains("resource"); r != nullptr && r->is_object())
          deidentify(r->get_object());
      }
    }
    return;
  }
  if (type == "OperationOutcome" || type == "CapabilityStatement" || shared_reference_data(type)) return;
  resource.erase("text");  // the narrative repeats the record in free text
  if (describes_person(type)) {
    resource.erase("name");
    resource.erase("contact");
    if (auto* b = resource.if_contains("birthDate"); b != nullptr && b->is_string()) *b = year_of(b->get_string());
    if (auto* d = resource.if_contains("deceasedDateTime"); d != nullptr && d->is_string()) {
      *d = year_of(d->get_string());
    }
    if (auto* addresses = resource.if_contains("address"); addresses != nullptr && addresses->is_array()) {
      json::array out;
      for (const auto& a : addresses->get_array()) {
        if (a.is_object()) out.emplace_back(generalised_address(a.get_object()));
      }
      *addresses = std::move(out);
    }
  }
  if (auto* contained = resource.if_contains("contained"); contained != nullptr && contained->is_array()) {
    for (auto& c : contained->get_array()) {
      if (c.is_object()) deidentify(c.get_object());
    }
  }
  for (const auto key : kRemoved) resource.erase(key);
  for (auto& [key, child] : resource) {
    if (key != "contained" && key != "meta") scrub(child);
  }
  // Mark the copy: HL7 v3 ObservationValue PSEUDED (pseudonymised).
  json::value& meta = resource["meta"];
  if (!meta.is_object()) meta.emplace_object();
  json::value& labels = meta.get_object()["security"];
  if (!labels.is_array()) labels.emplace_array();
  labels.get_array().push_back(json::object{{"system", "http://terminology.hl7.org/CodeSystem/v3-ObservationValue"},
                                            {"code", "PSEUDED"},
                                            {"display", "pseudonymized"}});
}

}  // namespace ucr::fhir
