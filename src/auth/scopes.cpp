#include "auth/scopes.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <tuple>

namespace ucr::auth {
namespace {

constexpr std::array<std::string_view, 8> kOtherScopes = {
    "openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter", "offline_access", "online_access"};
constexpr std::string_view kLetters = "cruds";
constexpr std::size_t kMaxTypeLength = 64;

unsigned bit(Permission p) { return static_cast<unsigned>(p); }

core::Error bad_scope(std::string_view scope, std::string_view why) {
  return core::Error::invalid(fmt::format("invalid scope '{}': {}", scope, why));
}

/// RFC 6749 §3.3 scope-token characters: %x21 / %x23-5B / %x5D-7E.
bool is_scope_char(char c) { return c >= 0x21 && c <= 0x7E && c != '"' && c != '\\'; }

bool is_resource_type(std::string_view t) {
  if (t == "*") return true;
  if (t.empty() || t.size() > kMaxTypeLength || t.front() < 'A' || t.front() > 'Z') return false;
  return std::all_of(t.begin(), t.end(), [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); });
}

std::optional<ScopeContext> context_of(std::string_view s) {
  if (s == "patient") return ScopeContext::patient;
  if (s == "user") return ScopeContext::user;
  if (s == "system") return ScopeContext::system;
  return std::nullopt;
}

core::Result<unsigned> parse_permissions(std::string_view scope, std::string_view text, bool has_query) {
  // SMART v1 aliases, without a query (granular restrictions exist only in v2).
  const std::array<std::pair<std::string_view, unsigned>, 3> aliases = {
      std::pair<std::string_view, unsigned>{"read", bit(Permission::read) | bit(Permission::search)},
      {"write", bit(Permission::create) | bit(Permission::update) | bit(Permission::remove)},
      {"*", kAllPermissions}};
  for (const auto& [name, bits] : aliases) {
    if (text != name) continue;
    if (has_query) return bad_scope(scope, "a query restriction needs v2 permission letters (e.g. .rs?...)");
    return bits;
  }
  if (text.empty()) return bad_scope(scope, "no permissions after '.'");
  unsigned bits = 0;
  std::size_t next = 0;  // letters must come in the order c, r, u, d, s
  for (const char c : text) {
    const auto at = kLetters.find(c, next);
    if (at == std::string_view::npos) {
      return bad_scope(scope, kLetters.find(c) == std::string_view::npos
                                  ? "permissions are the letters c, r, u, d, s or read, write, *"
                                  : "permission letters must appear in the order c, r, u, d, s, each at most once");
    }
    bits |= 1U << at;
    next = at + 1;
  }
  return bits;
}

core::Result<ResourceScope> parse_resource(std::string_view scope) {
  const auto slash = scope.find('/');
  const auto context = context_of(scope.substr(0, slash));
  if (slash == std::string_view::npos || !context) return bad_scope(scope, "unknown scope");
  std::string_view rest = scope.substr(slash + 1);
  std::string_view query;
  const auto question = rest.find('?');
  if (question != std::string_view::npos) {
    query = rest.substr(question + 1);
    rest = rest.substr(0, question);
    if (query.empty()) return bad_scope(scope, "empty query after '?'");
  }
  const auto dot = rest.rfind('.');
  if (dot == std::string_view::npos) return bad_scope(scope, "expected <type>.<permissions>");
  const auto type = rest.substr(0, dot);
  if (!is_resource_type(type)) return bad_scope(scope, "not a resource type or '*'");
  auto permissions = parse_permissions(scope, rest.substr(dot + 1), !query.empty());
  if (!permissions) return permissions.error();
  return ResourceScope{*context, std::string(type), *permissions, std::string(query)};
}

bool context_matches(const ResourceScope& s, std::optional<ScopeContext> context) {
  return !context || s.context == *context;
}

bool type_matches(const ResourceScope& s, std::string_view type) { return s.type == "*" || s.type == type; }

/// Both restrictions at once: FHIR search parameters joined by '&' must all match.
std::string combine_queries(const std::string& a, const std::string& b) {
  if (a.empty() || a == b) return b;
  if (b.empty()) return a;
  return a + "&" + b;
}

}  // namespace

std::string_view to_string(ScopeContext c) {
  switch (c) {
    case ScopeContext::patient:
      return "patient";
    case ScopeContext::user:
      return "user";
    case ScopeContext::system:
      return "system";
  }
  return "patient";
}

std::string permission_letters(unsigned permissions) {
  std::string out;
  for (std::size_t i = 0; i < kLetters.size(); ++i) {
    if ((permissions & (1U << i)) != 0) out.push_back(kLetters[i]);
  }
  return out;
}

core::Result<Scopes> Scopes::parse(std::string_view text) {
  Scopes out;
  std::size_t pos = 0;
  while (pos < text.size()) {
    if (text[pos] == ' ') {
      ++pos;
      continue;
    }
    const auto end = std::min(text.find(' ', pos), text.size());
    const auto scope = text.substr(pos, end - pos);
    pos = end;
    if (!std::all_of(scope.begin(), scope.end(), is_scope_char)) {
      return bad_scope(scope, "characters outside the OAuth scope-token set");
    }
    if (std::find(kOtherScopes.begin(), kOtherScopes.end(), scope) != kOtherScopes.end()) {
      out.add_other(scope);
      continue;
    }
    auto resource = parse_resource(scope);
    if (!resource) return resource.error();
    out.add(std::move(*resource));
  }
  out.canonicalise();
  return out;
}

void Scopes::add(ResourceScope scope) {
  for (auto& s : resources_) {
    if (s.context == scope.context && s.type == scope.type && s.query == scope.query) {
      s.permissions |= scope.permissions;
      return;
    }
  }
  resources_.push_back(std::move(scope));
}

void Scopes::add_other(std::string_view scope) {
  if (!has(scope)) others_.emplace_back(scope);
}

void Scopes::canonicalise() {
  std::sort(resources_.begin(), resources_.end(), [](const ResourceScope& a, const ResourceScope& b) {
    return std::tie(a.context, a.type, a.query) < std::tie(b.context, b.type, b.query);
  });
  std::sort(others_.begin(), others_.end());
}

bool Scopes::permits(std::string_view type, Permission p, std::optional<ScopeContext> context) const {
  return std::any_of(resources_.begin(), resources_.end(), [&](const ResourceScope& s) {
    return context_matches(s, context) && type_matches(s, type) && (s.permissions & bit(p)) != 0;
  });
}

std::vector<std::string> Scopes::restrictions(std::string_view type, Permission p,
                                              std::optional<ScopeContext> context) const {
  std::vector<std::string> out;
  for (const auto& s : resources_) {
    if (!context_matches(s, context) || !type_matches(s, type) || (s.permissions & bit(p)) == 0) continue;
    if (s.query.empty()) return {};
    if (std::find(out.begin(), out.end(), s.query) == out.end()) out.push_back(s.query);
  }
  return out;
}

bool Scopes::has_context(ScopeContext c) const {
  return std::any_of(resources_.begin(), resources_.end(), [c](const ResourceScope& s) { return s.context == c; });
}

bool Scopes::has(std::string_view other_scope) const {
  return std::find(others_.begin(), others_.end(), other_scope) != others_.end();
}

Scopes Scopes::intersect(const Scopes& requested, const Scopes& allowed) {
  Scopes out;
  for (const auto& r : requested.resources_) {
    for (const auto& a : allowed.resources_) {
      if (r.context != a.context) continue;
      if (r.type != "*" && a.type != "*" && r.type != a.type) continue;
      const unsigned permissions = r.permissions & a.permissions;
      if (permissions == 0) continue;
      out.add(
          ResourceScope{r.context, r.type == "*" ? a.type : r.type, permissions, combine_queries(r.query, a.query)});
    }
  }
  for (const auto& o : requested.others_) {
    if (allowed.has(o)) out.add_other(o);
  }
  out.canonicalise();
  return out;
}

std::string Scopes::to_string() const {
  std::string out;
  const auto append = [&out](std::string_view s) {
    if (!out.empty()) out.push_back(' ');
    out += s;
  };
  for (const auto& s : resources_) {
    std::string one = fmt::format("{}/{}.{}", auth::to_string(s.context), s.type, permission_letters(s.permissions));
    if (!s.query.empty()) one += "?" + s.query;
    append(one);
  }
  for (const auto& o : others_) append(o);
  return out;
}

}  // namespace ucr::auth
