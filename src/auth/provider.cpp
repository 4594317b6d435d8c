#include "auth/provider.hpp"

#include "auth/crypto.hpp"
#include "auth/password.hpp"
#include "auth/totp.hpp"
#include "core/log.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <mutex>

namespace ucr::auth {

namespace json = boost::json;

namespace {

constexpr std::string_view kUserKey = "auth:user:";
constexpr std::string_view kClientKey = "auth:client:";
constexpr std::string_view kCodeKey = "auth:code:";
constexpr std::string_view kRefreshKey = "auth:refresh:";
constexpr std::string_view kRevokedKey = "auth:revoked:";
constexpr std::string_view kFailedLogin = "The user name or password is not right, or the account cannot sign in now.";

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '@';
  });
}

bool valid_reference(std::string_view ref, std::string_view type_prefix) {
  if (ref.empty()) return true;
  if (!type_prefix.empty() && ref.rfind(type_prefix, 0) != 0) return false;
  const auto slash = ref.find('/');
  return slash != std::string_view::npos && slash + 1 < ref.size() && ref.size() <= 128;
}

std::string param(const std::vector<std::pair<std::string, std::string>>& params, std::string_view name) {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

int count_of(const std::vector<std::pair<std::string, std::string>>& params, std::string_view name) {
  return static_cast<int>(std::count_if(params.begin(), params.end(), [&](const auto& p) { return p.first == name; }));
}

std::string str(const json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key); v != nullptr && v->is_string()) return std::string(v->get_string());
  return {};
}

std::int64_t num(const json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key); v != nullptr && v->is_int64()) return v->get_int64();
  return 0;
}

std::vector<std::string> strings(const json::object& o, std::string_view key) {
  std::vector<std::string> out;
  if (const auto* v = o.if_contains(key); v != nullptr && v->is_array()) {
    for (const auto& x : v->get_array()) {
      if (x.is_string()) out.emplace_back(x.get_string());
    }
  }
  return out;
}

json::array to_array(const std::vector<std::string>& v) {
  json::array a;
  for (const auto& s : v) a.emplace_back(s);
  return a;
}

UserInfo user_from(const json::object& o) {
  UserInfo u;
  u.name = str(o, "name");
  u.display = str(o, "display");
  u.role = parse_role(str(o, "role")).value_or(Role::patient);
  u.fhir_user = str(o, "fhirUser");
  u.organisation = str(o, "organisation");
  u.patients = strings(o, "patients");
  if (const auto* d = o.if_contains("disabled"); d != nullptr && d->is_bool()) u.disabled = d->get_bool();
  u.totp = !str(o, "totp").empty();
  u.failed_logins = static_cast<int>(num(o, "failed"));
  u.locked_until = num(o, "lockedUntil");
  return u;
}

OAuthResponse oauth_error(int status, std::string_view error, std::string_view description) {
  OAuthResponse r;
  r.status = status;
  r.body = json::object{{"error", error}, {"error_description", description}};
  return r;
}

/// RFC 3986 percent-encoding for query values in redirects.
std::string encode(std::string_view s) {
  std::string out;
  for (const unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string with_query(const std::string& uri, std::string_view query) {
  return uri + (uri.find('?') == std::string::npos ? "?" : "&") + std::string(query);
}

}  // namespace

struct Provider::ClientRecord {
  std::string id;
  std::string name;
  bool confidential = true;
  std::string secret_hash;
  std::vector<std::string> redirect_uris;
  Scopes scopes;
  std::vector<std::string> grant_types;
  Role role = Role::integration;
  std::string organisation;

  [[nodiscard]] bool allows(std::string_view grant) const {
    return std::find(grant_types.begin(), grant_types.end(), grant) != grant_types.end();
  }
};

Provider::Provider(store::Store& store, std::shared_ptr<KeyRing> keys, ProviderOptions options)
    : store_(store), keys_(std::move(keys)), options_(std::move(options)) {}

core::Result<void> Provider::load() { return refresh_shared_state(0); }

core::Result<void> Provider::refresh_shared_state(std::int64_t now) const {
  // Built apart and swapped in, so requests are never held up by the reading. A revocation or
  // disabling made here meanwhile means the reading may have missed it: read again.
  for (int attempt = 0;; ++attempt) {
    std::uint64_t changes = 0;
    {
      std::shared_lock lock(mu_);
      changes = local_changes_;
    }
    auto r = read_shared_state(now, changes);
    if (!r) return r.error();
    if (*r || attempt == 3) return core::ok();
  }
}

core::Result<bool> Provider::read_shared_state(std::int64_t now, std::uint64_t changes) const {
  std::set<std::string, std::less<>> revoked;
  std::set<std::string, std::less<>> disabled;
  std::string after;
  for (;;) {
    auto page = store_.list_meta(std::string(kRevokedKey), after, 1000);
    if (!page) return page.error();
    for (const auto& [k, v] : *page) {
      std::int64_t exp = 0;
      const bool dated = std::from_chars(v.data(), v.data() + v.size(), exp).ec == std::errc{};
      if (!dated || exp >= now) revoked.insert(k.substr(kRevokedKey.size()));  // expired ones cannot be used anyway
    }
    if (page->size() < 1000) break;
    after = page->back().first;
  }
  after.clear();
  for (;;) {
    auto page = store_.list_meta(std::string(kUserKey), after, 1000);
    if (!page) return page.error();
    for (const auto& [k, v] : *page) {
      boost::system::error_code ec;
      auto doc = json::parse(v, ec);
      if (!ec && doc.is_object() && user_from(doc.get_object()).disabled) disabled.insert(k.substr(kUserKey.size()));
    }
    if (page->size() < 1000) break;
    after = page->back().first;
  }
  std::unique_lock lock(mu_);
  if (local_changes_ != changes) return false;
  revoked_ = std::move(revoked);
  disabled_ = std::move(disabled);
  return true;
}

core::Result<std::optional<json::object>> Provider::read_json(const std::string& key) const {
  auto v = store_.get_meta(key);
  if (!v) return v.error();
  if (!v->has_value()) return std::optional<json::object>{};
  boost::system::error_code ec;
  auto doc = json::parse(**v, ec);
  if (ec || !doc.is_object()) return core::Error::internal(fmt::format("the account record {} is unreadable", key));
  return std::optional<json::object>{std::move(doc.get_object())};
}

core::Result<void> Provider::add_user(const UserSpec& spec) {
  if (!valid_name(spec.name)) {
    return core::Error::invalid("a user name is 1 to 64 characters of a-z, 0-9, '.', '_', '-' and '@'");
  }
  if (!valid_reference(spec.fhir_user, "") || !valid_reference(spec.organisation, "Organization/")) {
    return core::Error::invalid(
        "fhirUser must be a reference such as Practitioner/123 and organisation one such as "
        "Organization/456");
  }
  if (is_patient_facing(spec.role) && spec.patients.empty() &&
      !(spec.role == Role::proxy && spec.fhir_user.starts_with("RelatedPerson/"))) {
    return core::Error::invalid(
        fmt::format("a {} account needs the Patient records it may see (--patient), or for a proxy their RelatedPerson "
                    "(--fhir-user RelatedPerson/...)",
                    role_code(spec.role)));
  }
  auto hash = hash_password(spec.password);
  if (!hash) return hash.error();
  json::object o{{"name", spec.name},
                 {"display", spec.display.empty() ? spec.name : spec.display},
                 {"role", role_code(spec.role)},
                 {"hash", *hash},
                 {"fhirUser", spec.fhir_user},
                 {"organisation", spec.organisation},
                 {"patients", to_array(spec.patients)},
                 {"disabled", false},
                 {"failed", 0},
                 {"lockedUntil", 0}};
  const std::string key = std::string(kUserKey) + spec.name;
  const std::string text = json::serialize(o);
  return store_.write([&](store::Transaction& t) -> core::Result<void> {
    auto existing = t.get_meta(key);
    if (!existing) return existing.error();
    if (existing->has_value()) return core::Error::conflict(fmt::format("the user '{}' exists already", spec.name));
    return t.set_meta(key, text);
  });
}

core::Result<std::vector<UserInfo>> Provider::list_users() {
  std::vector<UserInfo> out;
  std::string after;
  for (;;) {
    auto page = store_.list_meta(std::string(kUserKey), after, 1000);
    if (!page) return page.error();
    for (const auto& [k, v] : *page) {
      boost::system::error_code ec;
      auto doc = json::parse(v, ec);
      if (!ec && doc.is_object()) out.push_back(user_from(doc.get_object()));
    }
    if (page->size() < 1000) break;
    after = page->back().first;
  }
  return out;
}

core::Result<UserInfo> Provider::user(const std::string& name) {
  auto o = read_json(std::string(kUserKey) + name);
  if (!o) return o.error();
  if (!o->has_value()) return core::Error::not_found(fmt::format("no user '{}'", name));
  return user_from(**o);
}

namespace {

/// Read-modify-write of one account record inside a store transaction.
core::Result<void> update_record(store::Store& store, const std::string& key,
                                 const std::function<core::Result<void>(json::object&)>& change) {
  return store.write([&](store::Transaction& t) -> core::Result<void> {
    auto v = t.get_meta(key);
    if (!v) return v.error();
    if (!v->has_value())
      return core::Error::not_found(fmt::format("no such account ({})", key.substr(key.rfind(':') + 1)));
    boost::system::error_code ec;
    auto doc = json::parse(**v, ec);
    if (ec || !doc.is_object()) return core::Error::internal("the account record is unreadable");
    if (auto r = change(doc.get_object()); !r) return r;
    return t.set_meta(key, json::serialize(doc));
  });
}

}  // namespace

core::Result<void> Provider::set_disabled(const std::string& name, bool disabled) {
  auto r = update_record(store_, std::string(kUserKey) + name, [disabled](json::object& o) {
    o["disabled"] = disabled;
    return core::ok();
  });
  if (!r) return r;
  std::unique_lock lock(mu_);
  ++local_changes_;
  if (disabled) {
    disabled_.insert(name);
  } else {
    disabled_.erase(name);
  }
  return core::ok();
}

core::Result<void> Provider::set_password(const std::string& name, const std::string& password) {
  auto hash = hash_password(password);
  if (!hash) return hash.error();
  return update_record(store_, std::string(kUserKey) + name, [&hash](json::object& o) {
    o["hash"] = *hash;
    o["failed"] = 0;
    o["lockedUntil"] = 0;
    return core::ok();
  });
}

core::Result<std::string> Provider::enable_totp(const std::string& name) {
  std::string secret = totp_new_secret();
  auto r = update_record(store_, std::string(kUserKey) + name, [&secret](json::object& o) {
    o["totp"] = secret;
    return core::ok();
  });
  if (!r) return r.error();
  return secret;
}

core::Result<std::string> Provider::add_client(const ClientSpec& spec) {
  if (!valid_name(spec.id) || spec.id.find('@') != std::string::npos) {
    return core::Error::invalid("a client id is 1 to 64 characters of a-z, 0-9, '.', '_' and '-'");
  }
  auto scopes = Scopes::parse(spec.scopes);
  if (!scopes) return scopes.error();
  static const std::vector<std::string> kGrants{"authorization_code", "client_credentials", "refresh_token"};
  for (const auto& g : spec.grant_types) {
    if (std::find(kGrants.begin(), kGrants.end(), g) == kGrants.end()) {
      return core::Error::invalid(fmt::format("unknown grant type '{}'", g));
    }
  }
  const bool code_flow =
      std::find(spec.grant_types.begin(), spec.grant_types.end(), "authorization_code") != spec.grant_types.end();
  if (code_flow && spec.redirect_uris.empty()) {
    return core::Error::invalid("a client of the authorization code flow needs at least one redirect URI");
  }
  for (const auto& uri : spec.redirect_uris) {
    if (uri.rfind("https://", 0) != 0 && uri.rfind("http://127.0.0.1", 0) != 0 &&
        uri.rfind("http://localhost", 0) != 0) {
      return core::Error::invalid(fmt::format("redirect URI '{}' must be https (or http on loopback)", uri));
    }
    if (uri.find('#') != std::string::npos) return core::Error::invalid("a redirect URI cannot have a fragment");
  }
  if (!spec.confidential &&
      std::find(spec.grant_types.begin(), spec.grant_types.end(), "client_credentials") != spec.grant_types.end()) {
    return core::Error::invalid("a public client (no secret) cannot use client credentials");
  }
  std::string secret = spec.confidential ? random_token(32) : std::string();
  json::object o{{"id", spec.id},
                 {"name", spec.name.empty() ? spec.id : spec.name},
                 {"confidential", spec.confidential},
                 {"secret", spec.confidential ? sha256_hex(secret) : std::string()},
                 {"redirectUris", to_array(spec.redirect_uris)},
                 {"scopes", scopes->to_string()},
                 {"grants", to_array(spec.grant_types)},
                 {"role", role_code(spec.role)},
                 {"organisation", spec.organisation}};
  const std::string key = std::string(kClientKey) + spec.id;
  const std::string text = json::serialize(o);
  auto w = store_.write([&](store::Transaction& t) -> core::Result<void> {
    auto existing = t.get_meta(key);
    if (!existing) return existing.error();
    if (existing->has_value()) return core::Error::conflict(fmt::format("the client '{}' exists already", spec.id));
    return t.set_meta(key, text);
  });
  if (!w) return w.error();
  return secret;
}

core::Result<Provider::ClientRecord> Provider::client(const std::string& id) const {
  if (!valid_name(id)) return core::Error::make(401, "login", "unknown client");
  auto o = read_json(std::string(kClientKey) + id);
  if (!o) return o.error();
  if (!o->has_value()) return core::Error::make(401, "login", "unknown client");
  const json::object& c = **o;
  ClientRecord r;
  r.id = str(c, "id");
  r.name = str(c, "name");
  if (const auto* v = c.if_contains("confidential"); v != nullptr && v->is_bool()) r.confidential = v->get_bool();
  r.secret_hash = str(c, "secret");
  r.redirect_uris = strings(c, "redirectUris");
  auto scopes = Scopes::parse(str(c, "scopes"));
  if (scopes) r.scopes = std::move(*scopes);
  r.grant_types = strings(c, "grants");
  r.role = parse_role(str(c, "role")).value_or(Role::integration);
  r.organisation = str(c, "organisation");
  return r;
}

core::Result<Provider::ClientRecord> Provider::authenticate_client(
    const std::vector<std::pair<std::string, std::string>>& form, std::optional<std::string_view> authorization) const {
  std::string id = param(form, "client_id");
  std::string secret = param(form, "client_secret");
  if (authorization && authorization->rfind("Basic ", 0) == 0) {
    auto decoded = base64url_decode([&] {
      // Basic credentials are standard base64: map to the URL-safe alphabet and drop padding.
      std::string b(authorization->substr(6));
      for (auto& ch : b) {
        if (ch == '+') ch = '-';
        if (ch == '/') ch = '_';
      }
      while (!b.empty() && b.back() == '=') b.pop_back();
      return b;
    }());
    if (!decoded) return core::Error::make(401, "login", "the Basic credentials are not valid base64");
    const auto colon = decoded->find(':');
    if (colon == std::string::npos) return core::Error::make(401, "login", "the Basic credentials have no ':'");
    id = decoded->substr(0, colon);
    secret = decoded->substr(colon + 1);
  }
  if (id.empty()) return core::Error::make(401, "login", "no client_id");
  auto c = client(id);
  if (!c) return c.error();
  if (c->confidential) {
    if (secret.empty() || !constant_time_equal(sha256_hex(secret), c->secret_hash)) {
      return core::Error::make(401, "login", "client authentication failed");
    }
  }
  return c;
}

std::string Provider::sign_access(const UserInfo* user, const ClientRecord& client, const Scopes& scopes,
                                  std::int64_t now, std::int64_t ttl) const {
  // Rotation when due, and keys other nodes made (a shared ring), before choosing the signing key.
  if (auto r = keys_->maintain(now); !r) core::log_warn("key ring: " + r.error().message());
  json::object claims;
  claims["iss"] = options_.issuer;
  claims["aud"] = options_.audience;
  claims["sub"] = user != nullptr ? user->name : client.id;
  claims["iat"] = now;
  claims["nbf"] = now;
  claims["exp"] = now + ttl;
  claims["jti"] = random_token(16);
  claims["client_id"] = client.id;
  claims["scope"] = scopes.to_string();
  const Role role = user != nullptr ? user->role : client.role;
  claims["ucr_role"] = role_code(role);
  if (user != nullptr) {
    claims["name"] = user->display;
    if (!user->fhir_user.empty()) claims["fhirUser"] = options_.audience + "/" + user->fhir_user;
    if (!user->organisation.empty()) claims["organisation"] = user->organisation;
    if (!user->patients.empty()) {
      claims["patient"] = user->patients.front();
      claims["patients"] = to_array(user->patients);
    }
  } else if (!client.organisation.empty()) {
    claims["organisation"] = client.organisation;
  }
  return keys_->sign(claims);
}

OAuthResponse Provider::issue(const UserInfo* user, const ClientRecord& client, const Scopes& scopes, std::int64_t now,
                              bool with_refresh) {
  OAuthResponse r;
  r.body["access_token"] = sign_access(user, client, scopes, now, options_.access_ttl_seconds);
  r.body["token_type"] = "Bearer";
  r.body["expires_in"] = options_.access_ttl_seconds;
  r.body["scope"] = scopes.to_string();
  if (user != nullptr && !user->patients.empty() && scopes.has_context(ScopeContext::patient)) {
    r.body["patient"] = user->patients.front();
  }
  if (user != nullptr && !user->fhir_user.empty()) r.body["fhirUser"] = options_.audience + "/" + user->fhir_user;
  if (user != nullptr && with_refresh && client.allows("refresh_token") && scopes.has("offline_access")) {
    const std::string refresh = random_token(32);
    json::object rec{{"user", user->name},
                     {"client", client.id},
                     {"scope", scopes.to_string()},
                     {"expires", now + options_.refresh_ttl_seconds}};
    auto w = store_.write([&](store::Transaction& t) {
      return t.set_meta(std::string(kRefreshKey) + sha256_hex(refresh), json::serialize(rec));
    });
    if (!w) return oauth_error(503, "temporarily_unavailable", "the refresh token could not be stored; try again");
    r.body["refresh_token"] = refresh;
  }
  return r;
}

core::Result<std::string> Provider::mint_token(const std::string& name, const std::string& scope,
                                               std::int64_t ttl_seconds, std::int64_t now) {
  auto u = user(name);
  if (!u) return u.error();
  if (u->disabled) return core::Error::make(403, "forbidden", fmt::format("the user '{}' is disabled", name));
  auto scopes = Scopes::parse(
      scope.empty() ? std::string(is_patient_facing(u->role) ? "patient/*.cruds" : "user/*.cruds") : scope);
  if (!scopes) return scopes.error();
  if (ttl_seconds <= 0 || ttl_seconds > std::int64_t{24} * 3600)
    return core::Error::invalid("a token lives 1 second to 24 hours");
  ClientRecord cli;
  cli.id = "ucr-admin";
  cli.role = u->role;
  return sign_access(&*u, cli, *scopes, now, ttl_seconds);
}

std::variant<AuthorizeRequest, AuthorizeError> Provider::check_authorize(
    const std::vector<std::pair<std::string, std::string>>& params) const {
  for (const char* single :
       {"client_id", "redirect_uri", "response_type", "scope", "state", "code_challenge", "code_challenge_method"}) {
    if (count_of(params, single) > 1) {
      return AuthorizeError{false, "invalid_request", fmt::format("'{}' is given more than once", single)};
    }
  }
  AuthorizeRequest a;
  a.client_id = param(params, "client_id");
  auto c = client(a.client_id);
  if (!c) return AuthorizeError{false, "invalid_client", "this application is not registered with ucr"};
  if (!c->allows("authorization_code")) {
    return AuthorizeError{false, "unauthorized_client", "this application may not ask for sign-in"};
  }
  a.client_name = c->name;
  a.redirect_uri = param(params, "redirect_uri");
  if (a.redirect_uri.empty() && c->redirect_uris.size() == 1) a.redirect_uri = c->redirect_uris.front();
  if (std::find(c->redirect_uris.begin(), c->redirect_uris.end(), a.redirect_uri) == c->redirect_uris.end()) {
    return AuthorizeError{false, "invalid_request", "the redirect URI is not one registered for this application"};
  }
  a.state = param(params, "state");
  if (param(params, "response_type") != "code") {
    return AuthorizeError{true, "unsupported_response_type", "only response_type=code is supported"};
  }
  a.code_challenge = param(params, "code_challenge");
  if (a.code_challenge.size() != 43 || param(params, "code_challenge_method") != "S256") {
    return AuthorizeError{true, "invalid_request", "PKCE is required: code_challenge with code_challenge_method S256"};
  }
  const std::string aud = param(params, "aud");
  if (!aud.empty() && aud != options_.audience) {
    return AuthorizeError{true, "invalid_request", "aud is not this server's FHIR base URL"};
  }
  auto requested = Scopes::parse(param(params, "scope"));
  if (!requested) return AuthorizeError{true, "invalid_scope", requested.error().message()};
  const Scopes granted = Scopes::intersect(*requested, c->scopes);
  if (granted.resources().empty()) {
    return AuthorizeError{true, "invalid_scope", "none of the requested scopes is allowed for this application"};
  }
  a.scope = granted.to_string();
  a.nonce = param(params, "nonce");
  return a;
}

LoginOutcome Provider::login(const AuthorizeRequest& request, const std::string& name, const std::string& password,
                             const std::string& totp_code, std::int64_t now, const std::string& address) {
  LoginOutcome out;
  out.message = std::string(kFailedLogin);
  const auto fail = [&](std::string_view why, bool role_known, Role role) {
    emit(AuthEvent{"login-failed", name, request.client_id, role, role_known, false, std::string(why), address});
    return out;
  };
  if (!valid_name(name) || password.size() > 1024) {
    burn_password_time(password);
    return fail("unknown user", false, Role::patient);
  }
  const std::string key = std::string(kUserKey) + name;
  auto rec = read_json(key);
  if (!rec || !rec->has_value()) {
    burn_password_time(password);  // as long as a wrong password takes: no enumeration by timing
    return fail("unknown user", false, Role::patient);
  }
  UserInfo u = user_from(**rec);
  const std::string stored_hash = str(**rec, "hash");
  const std::string totp_secret = str(**rec, "totp");
  const bool password_ok = verify_password(stored_hash, password);
  if (u.disabled) return fail("account disabled", true, u.role);
  if (u.locked_until > now) {
    return fail(fmt::format("account locked for {} more seconds", u.locked_until - now), true, u.role);
  }
  bool ok = password_ok;
  if (ok && !totp_secret.empty()) {
    if (totp_code.empty()) {
      out.need_totp = true;
      out.message = "Enter the 6-digit code from your authenticator app.";
      return out;
    }
    ok = totp_verify(totp_secret, totp_code, now);
  }
  // Record the attempt: failures count towards a lockout that doubles with each further failure.
  const int max_failures = options_.max_failed_logins;
  const std::int64_t base = options_.lockout_seconds;
  const std::int64_t cap = options_.max_lockout_seconds;
  auto w = update_record(store_, key, [ok, now, max_failures, base, cap](json::object& o) {
    if (ok) {
      o["failed"] = 0;
      o["lockedUntil"] = 0;
      return core::ok();
    }
    const std::int64_t failed = num(o, "failed") + 1;
    o["failed"] = failed;
    if (failed >= max_failures) {
      const std::int64_t shift = std::min<std::int64_t>(failed - max_failures, 16);
      o["lockedUntil"] = now + std::min(cap, base << shift);
    }
    return core::ok();
  });
  if (!w) return fail("the sign-in could not be recorded", true, u.role);
  if (!ok) return fail(password_ok ? "wrong second factor" : "wrong password", true, u.role);
  if (is_patient_facing(u.role) && u.patients.empty() && !u.fhir_user.starts_with("RelatedPerson/")) {
    return fail("no patient record linked", true, u.role);
  }

  const std::string code = random_token(32);
  json::object c{{"client", request.client_id},         {"user", u.name},
                 {"redirect", request.redirect_uri},    {"scope", request.scope},
                 {"challenge", request.code_challenge}, {"expires", now + options_.code_ttl_seconds}};
  auto stored = store_.write(
      [&](store::Transaction& t) { return t.set_meta(std::string(kCodeKey) + sha256_hex(code), json::serialize(c)); });
  if (!stored) return fail("the code could not be stored", true, u.role);
  emit(AuthEvent{"login", u.name, request.client_id, u.role, true, true, {}, address});
  out.ok = true;
  out.message.clear();
  std::string q = "code=" + encode(code);
  if (!request.state.empty()) q += "&state=" + encode(request.state);
  out.location = with_query(request.redirect_uri, q);
  return out;
}

OAuthResponse Provider::token(const std::vector<std::pair<std::string, std::string>>& form,
                              std::optional<std::string_view> authorization, std::int64_t now,
                              const std::string& address) {
  for (const char* single : {"grant_type", "code", "code_verifier", "refresh_token", "client_id", "scope"}) {
    if (count_of(form, single) > 1)
      return oauth_error(400, "invalid_request", fmt::format("'{}' is given twice", single));
  }
  const std::string grant = param(form, "grant_type");
  auto cli = authenticate_client(form, authorization);
  if (!cli) {
    emit(AuthEvent{"token-refused",
                   {},
                   param(form, "client_id"),
                   Role::integration,
                   false,
                   false,
                   cli.error().message(),
                   address});
    return oauth_error(401, "invalid_client", cli.error().message());
  }
  if (grant.empty()) return oauth_error(400, "invalid_request", "grant_type is missing");
  if (!cli->allows(grant)) return oauth_error(400, "unauthorized_client", "this client may not use " + grant);

  if (grant == "client_credentials") {
    auto requested = Scopes::parse(param(form, "scope").empty() ? cli->scopes.to_string() : param(form, "scope"));
    if (!requested) return oauth_error(400, "invalid_scope", requested.error().message());
    const Scopes granted = Scopes::intersect(*requested, cli->scopes);
    if (granted.resources().empty() || !granted.has_context(ScopeContext::system)) {
      return oauth_error(400, "invalid_scope", "client credentials give system/ scopes only, within the client's");
    }
    emit(AuthEvent{"token", cli->id, cli->id, cli->role, true, true, "client_credentials", address});
    return issue(nullptr, *cli, granted, now, false);
  }

  if (grant == "authorization_code") {
    const std::string code = param(form, "code");
    const std::string verifier = param(form, "code_verifier");
    if (code.empty() || code.size() > 256) return oauth_error(400, "invalid_request", "code is missing");
    const std::string key = std::string(kCodeKey) + sha256_hex(code);
    // Take the code in one transaction: it can be redeemed once only.
    std::optional<json::object> taken;
    auto w = store_.write([&](store::Transaction& t) -> core::Result<void> {
      taken.reset();
      auto v = t.get_meta(key);
      if (!v) return v.error();
      if (!v->has_value()) return core::ok();
      boost::system::error_code ec;
      auto doc = json::parse(**v, ec);
      if (!ec && doc.is_object()) taken = std::move(doc.get_object());
      return t.delete_meta(key);
    });
    if (!w) return oauth_error(503, "temporarily_unavailable", "try again");
    if (!taken || num(*taken, "expires") < now) {
      return oauth_error(400, "invalid_grant", "the code is unknown, used or expired");
    }
    if (str(*taken, "client") != cli->id)
      return oauth_error(400, "invalid_grant", "the code was issued to another client");
    if (const auto redirect = param(form, "redirect_uri"); !redirect.empty() && redirect != str(*taken, "redirect")) {
      return oauth_error(400, "invalid_grant", "redirect_uri differs from the authorization request");
    }
    if (!pkce_s256_matches(verifier, str(*taken, "challenge"))) {
      return oauth_error(400, "invalid_grant", "code_verifier does not match the code challenge (PKCE)");
    }
    auto u = user(str(*taken, "user"));
    if (!u || u->disabled) return oauth_error(400, "invalid_grant", "the account cannot sign in");
    auto scopes = Scopes::parse(str(*taken, "scope"));
    if (!scopes) return oauth_error(400, "invalid_grant", "the code's scope is unreadable");
    emit(AuthEvent{"token", u->name, cli->id, u->role, true, true, "authorization_code", address});
    return issue(&*u, *cli, *scopes, now, true);
  }

  if (grant == "refresh_token") {
    const std::string refresh = param(form, "refresh_token");
    if (refresh.empty() || refresh.size() > 256) return oauth_error(400, "invalid_request", "refresh_token is missing");
    const std::string key = std::string(kRefreshKey) + sha256_hex(refresh);
    std::optional<json::object> taken;
    auto w = store_.write([&](store::Transaction& t) -> core::Result<void> {
      taken.reset();
      auto v = t.get_meta(key);
      if (!v) return v.error();
      if (!v->has_value()) return core::ok();
      boost::system::error_code ec;
      auto doc = json::parse(**v, ec);
      if (!ec && doc.is_object()) taken = std::move(doc.get_object());
      return t.delete_meta(key);  // rotated: each refresh token works once
    });
    if (!w) return oauth_error(503, "temporarily_unavailable", "try again");
    if (!taken || num(*taken, "expires") < now || str(*taken, "client") != cli->id) {
      return oauth_error(400, "invalid_grant", "the refresh token is unknown, used, revoked or expired");
    }
    auto u = user(str(*taken, "user"));
    if (!u || u->disabled) return oauth_error(400, "invalid_grant", "the account cannot sign in");
    auto scopes = Scopes::parse(str(*taken, "scope"));
    if (!scopes) return oauth_error(400, "invalid_grant", "the token's scope is unreadable");
    if (const auto narrower = param(form, "scope"); !narrower.empty()) {
      auto asked = Scopes::parse(narrower);
      if (!asked) return oauth_error(400, "invalid_scope", asked.error().message());
      *scopes = Scopes::intersect(*asked, *scopes);
    }
    emit(AuthEvent{"token", u->name, cli->id, u->role, true, true, "refresh_token", address});
    return issue(&*u, *cli, *scopes, now, true);
  }
  return oauth_error(400, "unsupported_grant_type", fmt::format("grant_type '{}' is not supported", grant));
}

OAuthResponse Provider::revoke(const std::vector<std::pair<std::string, std::string>>& form,
                               std::optional<std::string_view> authorization, std::int64_t now) {
  auto cli = authenticate_client(form, authorization);
  if (!cli) return oauth_error(401, "invalid_client", cli.error().message());
  const std::string token = param(form, "token");
  if (token.empty() || token.size() > 8192) return oauth_error(400, "invalid_request", "token is missing");
  // An access token (a JWT of ours): remember its id until it would have expired anyway.
  VerifyOptions vo;
  vo.issuer = options_.issuer;
  vo.audience = options_.audience;
  vo.now_seconds = now;
  if (auto claims = verify_jwt(token, *keys_, vo)) {
    if (str(*claims, "client_id") == cli->id) {
      const std::string jti = str(*claims, "jti");
      auto w = store_.write([&](store::Transaction& t) {
        return t.set_meta(std::string(kRevokedKey) + jti, std::to_string(num(*claims, "exp")));
      });
      if (!w) return oauth_error(503, "temporarily_unavailable", "try again");
      std::unique_lock lock(mu_);
      revoked_.insert(jti);
      ++local_changes_;
    }
  } else {
    // A refresh token: forget it (RFC 7009: unknown tokens are not an error).
    const std::string key = std::string(kRefreshKey) + sha256_hex(token);
    auto w = store_.write([&](store::Transaction& t) -> core::Result<void> {
      auto v = t.get_meta(key);
      if (!v) return v.error();
      if (!v->has_value()) return core::ok();
      boost::system::error_code ec;
      auto doc = json::parse(**v, ec);
      if (ec || !doc.is_object() || str(doc.get_object(), "client") != cli->id) return core::ok();
      return t.delete_meta(key);
    });
    if (!w) return oauth_error(503, "temporarily_unavailable", "try again");
  }
  emit(AuthEvent{"revoke", {}, cli->id, cli->role, true, true, {}, {}});
  return OAuthResponse{200, json::object{}};
}

core::Result<Principal> Provider::authenticate(std::string_view authorization, std::int64_t now) const {
  if (authorization.size() < 8 ||
      (authorization.substr(0, 7) != "Bearer " && authorization.substr(0, 7) != "bearer ")) {
    return core::Error::make(401, "login", "the Authorization header must be 'Bearer <access token>'");
  }
  const std::string_view token = authorization.substr(7);
  if (token.size() > 8192) return core::Error::make(401, "login", "the access token is too long");
  // Revocations and disabled accounts from other nodes: one request in the interval reads them.
  if (auto last = refreshed_at_.load();
      now - last >= options_.shared_state_refresh_seconds && refreshed_at_.compare_exchange_strong(last, now)) {
    if (auto r = refresh_shared_state(now); !r) {
      core::log_warn("revoked tokens and disabled accounts could not be read again: " + r.error().message());
    }
  }
  if (auto r = keys_->maintain(now); !r) core::log_warn("key ring: " + r.error().message());
  // A token verified before is not verified again (an ES256 verify costs far more than the rest of
  // a read); it still expires, and revocation and disabled accounts are checked on every request.
  {
    std::shared_lock lock(cache_mu_);
    if (auto it = verified_.find(token); it != verified_.end() && it->second.expires > now) {
      Principal p = it->second;
      lock.unlock();
      if (auto r = still_valid(p); !r) return r.error();
      return p;
    }
  }
  auto p = verify_token(token, now);
  if (!p) return p.error();
  {
    std::unique_lock lock(cache_mu_);
    if (verified_.size() >= kMaxCachedTokens) verified_.clear();
    verified_.emplace(std::string(token), *p);
  }
  if (auto r = still_valid(*p); !r) return r.error();
  return p;
}

core::Result<void> Provider::still_valid(const Principal& p) const {
  std::shared_lock lock(mu_);
  if (!p.jti.empty() && revoked_.count(p.jti) != 0) return core::Error::make(401, "login", "the token was revoked");
  if (p.issuer == options_.issuer && disabled_.count(p.subject) != 0) {
    return core::Error::make(401, "login", "the account is disabled");
  }
  return core::ok();
}

core::Result<Principal> Provider::verify_token(std::string_view token, std::int64_t now) const {
  // The issuer decides which keys apply; it is read unverified only to choose them.
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return core::Error::make(401, "login", "the access token is not a JWT");
  auto payload_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
  if (!payload_text) return core::Error::make(401, "login", "the access token is not a JWT");
  boost::system::error_code ec;
  auto payload = json::parse(*payload_text, ec);
  if (ec || !payload.is_object()) return core::Error::make(401, "login", "the access token is not a JWT");
  const std::string iss = str(payload.get_object(), "iss");
  core::Result<json::object> claims = core::Error::make(401, "login", "the token's issuer is not trusted");
  Role role = Role::patient;
  if (iss == options_.issuer) {
    VerifyOptions vo;
    vo.issuer = options_.issuer;
    vo.audience = options_.audience;
    vo.now_seconds = now;
    claims = verify_jwt(token, *keys_, vo);
    // A key another node on the same database has just made: read the shared ring again, once.
    if (!claims && claims.error().message().starts_with("unknown kid") && keys_->reload_for_unknown_kid(now)) {
      claims = verify_jwt(token, *keys_, vo);
    }
    if (!claims) return claims.error();
    auto r = parse_role(str(*claims, "ucr_role"));
    if (!r) return core::Error::make(401, "login", "the token names no ucr role");
    role = *r;
  } else if (auto ext = external(); ext->knows(iss)) {
    if (refresh_jwks(iss, now, false)) ext = external();
    claims = ext->verify(token, now);
    if (!claims && refresh_jwks(iss, now, true)) claims = external()->verify(token, now);
    if (!claims) return claims.error();
    const auto it = external_roles_.find(iss);
    role = parse_role(str(*claims, "ucr_role")).value_or(it != external_roles_.end() ? it->second : Role::patient);
  } else {
    return core::Error::make(401, "login", "the token's issuer is not trusted");
  }
  Principal p;
  p.subject = str(*claims, "sub");
  p.display = str(*claims, "name");
  p.role = role;
  p.issuer = iss;
  p.client_id = str(*claims, "client_id");
  p.jti = str(*claims, "jti");
  p.expires = num(*claims, "exp");
  p.organisation = str(*claims, "organisation");
  std::string fhir_user = str(*claims, "fhirUser");
  if (const auto pos = fhir_user.rfind('/'); pos != std::string::npos && pos > 0) {
    const auto type_start = fhir_user.rfind('/', pos - 1);
    fhir_user = fhir_user.substr(type_start == std::string::npos ? 0 : type_start + 1);
  }
  p.fhir_user = fhir_user;
  auto scopes = Scopes::parse(str(*claims, "scope"));
  if (!scopes) return core::Error::make(401, "login", "the token's scope is not valid: " + scopes.error().message());
  p.scopes = std::move(*scopes);
  p.patients = strings(*claims, "patients");
  if (p.patients.empty()) {
    if (auto one = str(*claims, "patient"); !one.empty()) p.patients.push_back(std::move(one));
  }
  if (p.subject.empty()) return core::Error::make(401, "login", "the token has no subject");
  if (is_patient_facing(p.role) && p.patients.empty() && !p.fhir_user.starts_with("RelatedPerson/")) {
    return core::Error::make(401, "login", "a patient-facing token must name the patient record (patient claim)");
  }
  return p;
}

core::Result<void> Provider::trust_issuer(const std::string& issuer, std::string_view jwks_json,
                                          const std::string& audience, Role default_role) {
  std::lock_guard lock(external_mu_);
  auto next = std::make_shared<TrustedIssuers>(*external_);
  if (auto r = next->add(issuer, jwks_json, audience); !r) return r;
  external_ = std::move(next);
  external_roles_[issuer] = default_role;
  return core::ok();
}

namespace {
std::optional<std::string> read_small_file(const std::string& path) {
  constexpr std::streamsize kMax = std::streamsize{1} << 20;  // a JWKS is a few KiB
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::string out(static_cast<std::size_t>(kMax) + 1, '\0');
  in.read(out.data(), kMax + 1);
  if (in.bad() || in.gcount() > kMax) return std::nullopt;
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}
}  // namespace

core::Result<void> Provider::trust_issuer_file(const std::string& issuer, const std::string& jwks_path,
                                               const std::string& audience, Role default_role) {
  auto content = read_small_file(jwks_path);
  if (!content) return core::Error::invalid(fmt::format("cannot read the JWKS file {} (at most 1 MiB)", jwks_path));
  if (auto r = trust_issuer(issuer, *content, audience, default_role); !r) return r;
  std::lock_guard lock(external_mu_);
  jwks_sources_[issuer] = JwksSource{jwks_path, audience, std::move(*content), 0};
  return core::ok();
}

bool Provider::refresh_jwks(const std::string& issuer, std::int64_t now, bool after_failure) const {
  std::lock_guard lock(external_mu_);
  const auto it = jwks_sources_.find(issuer);
  if (it == jwks_sources_.end()) return false;
  JwksSource& src = it->second;
  const std::int64_t interval = after_failure ? options_.jwks_retry_seconds : options_.jwks_recheck_seconds;
  if (src.checked != 0 && now - src.checked < interval) return false;
  src.checked = now;
  auto content = read_small_file(src.path);
  if (!content) {
    core::log_warn(fmt::format("the JWKS file of {} cannot be read; keeping the keys last read", issuer));
    return false;
  }
  if (*content == src.content) return false;
  auto next = std::make_shared<TrustedIssuers>(*external_);
  if (auto r = next->add(issuer, *content, src.audience); !r) {
    core::log_warn(
        fmt::format("the JWKS file of {} is not valid ({}); keeping the keys last read", issuer, r.error().message()));
    return false;
  }
  external_ = std::move(next);
  src.content = std::move(*content);
  core::log_info(fmt::format("the JWKS of {} changed: its new keys are in use", issuer));
  return true;
}

json::object Provider::openid_configuration() const {
  const std::string& b = options_.issuer;
  return json::object{
      {"issuer", b},
      {"authorization_endpoint", b + "/oauth/authorize"},
      {"token_endpoint", b + "/oauth/token"},
      {"revocation_endpoint", b + "/oauth/revoke"},
      {"jwks_uri", b + "/oauth/jwks"},
      {"response_types_supported", json::array{"code"}},
      {"grant_types_supported", json::array{"authorization_code", "client_credentials", "refresh_token"}},
      {"subject_types_supported", json::array{"public"}},
      {"id_token_signing_alg_values_supported", json::array{"ES256"}},
      {"token_endpoint_auth_methods_supported", json::array{"client_secret_basic", "client_secret_post", "none"}},
      {"code_challenge_methods_supported", json::array{"S256"}},
      {"scopes_supported", json::array{"openid", "fhirUser", "launch/patient", "offline_access", "patient/*.rs",
                                       "user/*.cruds", "system/*.rs"}},
      {"claims_supported", json::array{"sub", "name", "fhirUser", "ucr_role", "organisation", "patient"}},
  };
}

json::object Provider::smart_configuration() const {
  const std::string& b = options_.issuer;
  return json::object{
      {"issuer", b},
      {"jwks_uri", b + "/oauth/jwks"},
      {"authorization_endpoint", b + "/oauth/authorize"},
      {"token_endpoint", b + "/oauth/token"},
      {"revocation_endpoint", b + "/oauth/revoke"},
      {"grant_types_supported", json::array{"authorization_code", "client_credentials", "refresh_token"}},
      {"token_endpoint_auth_methods_supported", json::array{"client_secret_basic", "client_secret_post"}},
      {"scopes_supported", json::array{"openid", "fhirUser", "launch/patient", "offline_access", "patient/*.rs",
                                       "user/*.cruds", "system/*.rs"}},
      {"response_types_supported", json::array{"code"}},
      {"code_challenge_methods_supported", json::array{"S256"}},
      {"capabilities", json::array{"launch-standalone", "client-public", "client-confidential-symmetric",
                                   "permission-v1", "permission-v2", "permission-patient", "permission-user",
                                   "context-standalone-patient", "sso-openid-connect"}},
  };
}

json::object Provider::jwks() const { return keys_->jwks(); }

}  // namespace ucr::auth
