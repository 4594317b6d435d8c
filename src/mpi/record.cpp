#include "mpi/record.hpp"

#include "mpi/nhs_number.hpp"

#include <boost/json.hpp>

#include <algorithm>

namespace ucr::mpi {
namespace {

namespace json = boost::json;

std::string_view str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

const json::array* arr(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_array() ? &v->get_array() : nullptr;
}

template <class T>
void add_unique(std::vector<T>& v, T x) {
  if (std::find(v.begin(), v.end(), x) == v.end()) v.push_back(std::move(x));
}

/// Rank of a HumanName.use: official names first, then usual, then the rest (maiden and old last).
int name_rank(std::string_view use) {
  if (use == "official") return 0;
  if (use.empty() || use == "usual") return 1;
  if (use == "nickname") return 2;
  return 3;
}

void add_name(PatientRecord& r, const json::object& name) {
  std::vector<std::string> given;
  if (const auto* g = arr(name, "given")) {
    for (const auto& v : *g) {
      if (!v.is_string()) continue;
      for (auto& t : name_tokens(v.get_string())) given.push_back(std::move(t));
    }
  }
  std::string family = normalise_name(str(name, "family"));
  if (family.empty() && given.empty()) {
    auto tokens = name_tokens(str(name, "text"));
    if (!tokens.empty()) {
      family = tokens.back();
      tokens.pop_back();
      given = std::move(tokens);
    }
  }
  if (!family.empty()) add_unique(r.family_names, std::move(family));
  for (std::size_t i = 0; i < given.size(); ++i) {
    if (i == 0) {
      add_unique(r.given_names, given[i]);
    } else {
      add_unique(r.middle_names, given[i]);
    }
  }
}

}  // namespace

core::Result<PatientRecord> record_from_patient(const json::object& patient) {
  if (str(patient, "resourceType") != "Patient") return core::Error::invalid("Not a Patient resource", "Patient");
  PatientRecord r;
  r.id = std::string(str(patient, "id"));

  if (const auto* ids = arr(patient, "identifier")) {
    for (const auto& v : *ids) {
      if (!v.is_object()) continue;
      const auto system = str(v.get_object(), "system");
      const auto value = str(v.get_object(), "value");
      if (value.empty()) continue;
      if (system == kNhsNumberSystem) {
        auto canonical = canonicalise_nhs_number(value);
        if (canonical && r.nhs_number.empty()) {
          r.nhs_number = std::move(*canonical);
        } else if (!canonical) {
          r.invalid_nhs_numbers.emplace_back(value);
        }
      } else if (!system.empty()) {
        add_unique(r.identifiers, LocalId{std::string(system), std::string(value)});
      }
    }
  }

  if (const auto* names = arr(patient, "name")) {
    std::vector<const json::object*> ordered;
    for (const auto& v : *names) {
      if (v.is_object() && str(v.get_object(), "use") != "anonymous") ordered.push_back(&v.get_object());
    }
    std::stable_sort(ordered.begin(), ordered.end(), [](const json::object* a, const json::object* b) {
      return name_rank(str(*a, "use")) < name_rank(str(*b, "use"));
    });
    for (const auto* n : ordered) add_name(r, *n);
  }

  r.birth_date = parse_date(str(patient, "birthDate"));
  const auto gender = str(patient, "gender");
  if (gender == "male" || gender == "female" || gender == "other") r.gender = std::string(gender);

  if (const auto* addresses = arr(patient, "address")) {
    std::vector<const json::object*> ordered;
    for (const auto& v : *addresses) {
      if (v.is_object()) ordered.push_back(&v.get_object());
    }
    // An address is previous when its use is "old" or its period has ended (R4 Address.period.end).
    const auto previous = [](const json::object* a) {
      if (str(*a, "use") == "old") return true;
      const auto* period = a->if_contains("period");
      return period != nullptr && period->is_object() && !str(period->get_object(), "end").empty();
    };
    // Home addresses first: the first postcode is the one blocking trusts most.
    const auto rank = [](const json::object* a) { return str(*a, "use") == "home" ? 0 : 1; };
    std::stable_sort(ordered.begin(), ordered.end(),
                     [&](const json::object* a, const json::object* b) { return rank(a) < rank(b); });
    for (const auto* a : ordered) {
      if (previous(a)) continue;
      if (auto pc = parse_postcode(str(*a, "postalCode"))) add_unique(r.postcodes, std::move(*pc));
    }
    for (const auto* a : ordered) {
      if (!previous(a)) continue;
      auto pc = parse_postcode(str(*a, "postalCode"));
      if (pc && std::find(r.postcodes.begin(), r.postcodes.end(), *pc) == r.postcodes.end()) {
        add_unique(r.previous_postcodes, std::move(*pc));
      }
    }
  }

  if (const auto* gps = arr(patient, "generalPractitioner")) {
    for (const auto& v : *gps) {
      if (!v.is_object()) continue;
      const auto& ref = v.get_object();
      const auto reference = str(ref, "reference");
      const auto type = str(ref, "type");
      const auto* id = ref.if_contains("identifier");
      if (id != nullptr && id->is_object() && str(id->get_object(), "system") == kOdsOrganisationSystem &&
          !str(id->get_object(), "value").empty() && (type.empty() || type == "Organization")) {
        std::string code(str(id->get_object(), "value"));
        std::transform(code.begin(), code.end(), code.begin(),
                       [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; });
        add_unique(r.gp_practices, "ods:" + code);
      } else if (reference.starts_with("Organization/") && reference.size() > 13) {
        add_unique(r.gp_practices, std::string(reference));
      }
    }
  }

  if (const auto* telecom = arr(patient, "telecom")) {
    for (const auto& v : *telecom) {
      if (!v.is_object()) continue;
      const auto system = str(v.get_object(), "system");
      const auto value = str(v.get_object(), "value");
      if (system == "phone" || system == "sms") {
        if (auto p = normalise_phone(value); !p.empty()) add_unique(r.phones, std::move(p));
      } else if (system == "email") {
        if (auto e = normalise_email(value); !e.empty()) add_unique(r.emails, std::move(e));
      }
    }
  }
  return r;
}

}  // namespace ucr::mpi
