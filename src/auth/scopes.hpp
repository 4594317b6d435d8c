// auth/scopes: SMART App Launch scopes (v2 "patient/Observation.rs?category=...", with the v1 ".read", ".write",
// ".*" aliases) and the OpenID/launch scopes beside them. Values; thread-safe when not mutated.
#pragma once

#include "core/error.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ucr::auth {

enum class ScopeContext { patient, user, system };
enum class Permission : unsigned { create = 1, read = 2, update = 4, remove = 8, search = 16 };

/// Every permission bit: "cruds".
inline constexpr unsigned kAllPermissions = 31;

/// One resource scope: SMART App Launch v2 §"Scopes for requesting FHIR resources".
struct ResourceScope {
  ScopeContext context = ScopeContext::patient;
  std::string type;          ///< resource type or "*"
  unsigned permissions = 0;  ///< bit set of Permission; never 0 in parsed scopes
  std::string query;         ///< SMART v2 granular restriction after '?', e.g. "category=laboratory" (may be empty)

  friend bool operator==(const ResourceScope&, const ResourceScope&) = default;
};

class Scopes {
 public:
  /// Parses a space-separated scope string (RFC 6749 §3.3). Resource scopes: "<context>/<type>.<permissions>"
  /// with context patient|user|system, type a resource type or "*", and v2 permissions: letters c,r,u,d,s in
  /// that order, each at most once, optionally "?<query>"; or the v1 aliases ".read" = rs, ".write" = cud,
  /// ".*" = cruds. Non-resource scopes (openid, fhirUser, profile, launch, launch/patient, launch/encounter,
  /// offline_access, online_access) are kept in others(). Anything else is an `invalid` error naming the bad
  /// scope (the OAuth layer answers invalid_scope). Scopes naming the same context, type and query merge.
  static core::Result<Scopes> parse(std::string_view text);

  /// True when some scope of the given context (or any context when nullopt) grants `p` on `type`, with or
  /// without a query restriction (see restrictions).
  [[nodiscard]] bool permits(std::string_view type, Permission p,
                             std::optional<ScopeContext> context = std::nullopt) const;
  /// The query restrictions of the scopes that grant p on type: empty when some granting scope is
  /// unrestricted (so empty + permits() means unrestricted); otherwise a resource is allowed when it matches
  /// any one of them.
  [[nodiscard]] std::vector<std::string> restrictions(std::string_view type, Permission p,
                                                      std::optional<ScopeContext> context = std::nullopt) const;
  [[nodiscard]] bool has_context(ScopeContext c) const;
  /// True when the non-resource scope is present, e.g. "offline_access", "launch/patient".
  [[nodiscard]] bool has(std::string_view other_scope) const;
  /// The subset of `requested` allowed by `allowed` (a client's registered scopes): each requested resource
  /// scope is kept with the permissions both grant, for the narrower type and with both queries (e.g.
  /// requested patient/*.cruds, allowed patient/*.rs -> patient/*.rs; requested patient/*.rs, allowed
  /// patient/Observation.rs -> patient/Observation.rs); others kept if allowed has them.
  [[nodiscard]] static Scopes intersect(const Scopes& requested, const Scopes& allowed);
  /// Canonical v2 form: resource scopes sorted by context (patient, user, system), type and query, then the
  /// others sorted; single spaces between.
  [[nodiscard]] std::string to_string() const;
  [[nodiscard]] bool empty() const { return resources_.empty() && others_.empty(); }
  [[nodiscard]] const std::vector<ResourceScope>& resources() const { return resources_; }
  [[nodiscard]] const std::vector<std::string>& others() const { return others_; }

  friend bool operator==(const Scopes&, const Scopes&) = default;

 private:
  void add(ResourceScope scope);
  void add_other(std::string_view scope);
  void canonicalise();

  std::vector<ResourceScope> resources_;
  std::vector<std::string> others_;
};

/// "patient", "user" or "system".
[[nodiscard]] std::string_view to_string(ScopeContext c);
/// The v2 letters of a permission set, e.g. "rs".
[[nodiscard]] std::string permission_letters(unsigned permissions);

}  // namespace ucr::auth
