// Tests of auth/scopes: SMART App Launch v2 scope syntax with the v1 aliases, permission checks and the
// narrowing of a request to a client's registered scopes.
#include "auth/scopes.hpp"

#include <gtest/gtest.h>

namespace ucr::auth {
namespace {

Scopes parsed(std::string_view text) {
  auto s = Scopes::parse(text);
  EXPECT_TRUE(s) << text << ": " << s.error().message();
  return s ? *s : Scopes{};
}

constexpr unsigned kRead = static_cast<unsigned>(Permission::read);
constexpr unsigned kSearch = static_cast<unsigned>(Permission::search);

TEST(Scopes, ParsesV2ResourceScopes) {
  const auto s = parsed("patient/Observation.rs");
  ASSERT_EQ(s.resources().size(), 1U);
  const auto& r = s.resources()[0];
  EXPECT_EQ(r.context, ScopeContext::patient);
  EXPECT_EQ(r.type, "Observation");
  EXPECT_EQ(r.permissions, kRead | kSearch);
  EXPECT_EQ(r.query, "");
  EXPECT_EQ(parsed("user/*.cruds").resources().at(0).permissions, kAllPermissions);
  EXPECT_EQ(parsed("system/Patient.c").resources().at(0).context, ScopeContext::system);
}

TEST(Scopes, KeepsTheGranularQueryOfV2Scopes) {
  const auto s =
      parsed("patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory");
  ASSERT_EQ(s.resources().size(), 1U);
  EXPECT_EQ(s.resources()[0].type, "Observation");
  EXPECT_EQ(s.resources()[0].query, "category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory");
}

TEST(Scopes, MapsV1AliasesToV2Permissions) {
  EXPECT_EQ(parsed("patient/*.read").to_string(), "patient/*.rs");
  EXPECT_EQ(parsed("user/Observation.write").to_string(), "user/Observation.cud");
  EXPECT_EQ(parsed("system/*.*").to_string(), "system/*.cruds");
  // v1 read + write is everything.
  EXPECT_EQ(parsed("patient/Patient.read patient/Patient.write").to_string(), "patient/Patient.cruds");
}

TEST(Scopes, RefusesPermissionLettersOutOfOrderOrRepeated) {
  for (const char* bad : {"patient/*.sr", "patient/*.rr", "user/Observation.dc", "patient/*.rsc"}) {
    const auto s = Scopes::parse(bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_NE(s.error().message().find(bad), std::string::npos) << s.error().message();
    EXPECT_NE(s.error().message().find("order"), std::string::npos) << s.error().message();
  }
}

TEST(Scopes, RefusesUnknownAndMalformedScopesNamingThem) {
  for (const char* bad : {"admin", "patient/Observation", "patient/Observation.", "patient/Observation.x",
                          "patient/observation.rs", "practitioner/*.rs", "patient/*.RS", "patient/*.read?code=x",
                          "patient/Observation.rs?", "launch/practitioner", "OPENID", "/*.rs", "patient/.rs"}) {
    const auto s = Scopes::parse(std::string("openid ") + bad);
    ASSERT_FALSE(s) << bad;
    EXPECT_EQ(s.error().status, 400);
    EXPECT_NE(s.error().message().find(std::string("'") + bad + "'"), std::string::npos) << s.error().message();
  }
  EXPECT_FALSE(Scopes::parse("patient/*.rs\"x"));
  EXPECT_FALSE(Scopes::parse("patient/*.rs\tuser/*.rs"));
}

TEST(Scopes, KeepsNonResourceScopesInOthers) {
  const auto s = parsed(
      "openid fhirUser profile launch launch/patient launch/encounter offline_access online_access patient/*.rs");
  EXPECT_EQ(s.others().size(), 8U);
  EXPECT_TRUE(s.has("offline_access"));
  EXPECT_TRUE(s.has("launch/patient"));
  EXPECT_FALSE(s.has("patient/*.rs"));
  EXPECT_FALSE(parsed("openid").has("offline_access"));
}

TEST(Scopes, EmptyAndExtraSpacesAreFine) {
  EXPECT_TRUE(parsed("").empty());
  EXPECT_TRUE(parsed("   ").empty());
  EXPECT_EQ(parsed("  openid   patient/*.rs ").to_string(), "patient/*.rs openid");
}

TEST(Scopes, PermitsByTypePermissionAndContext) {
  const auto s = parsed("patient/Observation.rs user/Patient.cru");
  EXPECT_TRUE(s.permits("Observation", Permission::read));
  EXPECT_TRUE(s.permits("Observation", Permission::search, ScopeContext::patient));
  EXPECT_FALSE(s.permits("Observation", Permission::read, ScopeContext::user));
  EXPECT_FALSE(s.permits("Observation", Permission::update));
  EXPECT_FALSE(s.permits("Condition", Permission::read));
  EXPECT_TRUE(s.permits("Patient", Permission::create, ScopeContext::user));
  EXPECT_FALSE(s.permits("Patient", Permission::remove));
  EXPECT_FALSE(s.permits("Patient", Permission::search));
  EXPECT_TRUE(s.has_context(ScopeContext::patient));
  EXPECT_TRUE(s.has_context(ScopeContext::user));
  EXPECT_FALSE(s.has_context(ScopeContext::system));
}

TEST(Scopes, WildcardTypeCoversEveryResourceType) {
  const auto s = parsed("system/*.rs");
  EXPECT_TRUE(s.permits("Patient", Permission::read));
  EXPECT_TRUE(s.permits("MedicationRequest", Permission::search, ScopeContext::system));
  EXPECT_FALSE(s.permits("Patient", Permission::create));
  EXPECT_FALSE(s.permits("Patient", Permission::read, ScopeContext::patient));
}

TEST(Scopes, RestrictionsListTheQueriesUnlessSomeScopeIsUnrestricted) {
  const auto lab = parsed("patient/Observation.rs?category=laboratory patient/Observation.rs?category=vital-signs");
  EXPECT_TRUE(lab.permits("Observation", Permission::read));
  EXPECT_EQ(lab.restrictions("Observation", Permission::read),
            (std::vector<std::string>{"category=laboratory", "category=vital-signs"}));
  const auto with_all = parsed("patient/Observation.rs?category=laboratory patient/*.r");
  EXPECT_TRUE(with_all.restrictions("Observation", Permission::read).empty());
  // The unrestricted scope grants read only; search stays restricted.
  EXPECT_EQ(with_all.restrictions("Observation", Permission::search), std::vector<std::string>{"category=laboratory"});
}

TEST(Scopes, IntersectKeepsThePermissionsBothGrant) {
  const auto narrowed =
      Scopes::intersect(parsed("patient/*.cruds openid offline_access"), parsed("patient/*.rs openid launch/patient"));
  EXPECT_EQ(narrowed.to_string(), "patient/*.rs openid");
  EXPECT_FALSE(narrowed.has("offline_access"));
}

TEST(Scopes, IntersectNarrowsTheTypeAndDropsWhatIsNotAllowed) {
  EXPECT_EQ(Scopes::intersect(parsed("patient/*.rs"), parsed("patient/Observation.rs patient/Patient.r")).to_string(),
            "patient/Observation.rs patient/Patient.r");
  EXPECT_EQ(Scopes::intersect(parsed("patient/Observation.cruds"), parsed("patient/*.r")).to_string(),
            "patient/Observation.r");
  EXPECT_EQ(Scopes::intersect(parsed("user/*.rs"), parsed("patient/*.rs")).to_string(), "");  // other context
  EXPECT_EQ(Scopes::intersect(parsed("patient/Condition.rs"), parsed("patient/Observation.rs")).to_string(), "");
  EXPECT_EQ(Scopes::intersect(parsed("patient/*.c"), parsed("patient/*.rs")).to_string(), "");
}

TEST(Scopes, IntersectKeepsBothQueryRestrictions) {
  EXPECT_EQ(Scopes::intersect(parsed("patient/Observation.rs"), parsed("patient/Observation.rs?category=laboratory"))
                .to_string(),
            "patient/Observation.rs?category=laboratory");
  EXPECT_EQ(Scopes::intersect(parsed("patient/Observation.rs?code=x"), parsed("patient/*.rs?category=laboratory"))
                .to_string(),
            "patient/Observation.rs?code=x&category=laboratory");
}

TEST(Scopes, ToStringIsCanonicalAndRoundTrips) {
  const auto s = parsed(
      "offline_access system/Patient.read patient/Observation.rs openid patient/Condition.s "
      "patient/Condition.r user/*.write");
  EXPECT_EQ(s.to_string(),
            "patient/Condition.rs patient/Observation.rs user/*.cud system/Patient.rs offline_access openid");
  EXPECT_EQ(parsed(s.to_string()), s);
  EXPECT_EQ(parsed("openid openid").to_string(), "openid");
}

}  // namespace
}  // namespace ucr::auth
