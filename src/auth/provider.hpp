// auth/provider: the built-in OAuth2 / OpenID Connect provider and the check of every bearer token.
//
// Accounts (users with Argon2id password hashes, lockout and optional TOTP; OAuth clients),
// authorization codes, refresh tokens and revocations live in the store's bookkeeping table, so
// they are as durable as the record and shared by every node on one database. Flows: authorization
// code with PKCE (S256 only) for the web apps, client credentials for systems, refresh tokens
// (rotated on use), revocation (RFC 7009). Access tokens are ES256 JWTs from a rotating KeyRing.
// Tokens from external identity providers are accepted by issuer and JWKS (TrustedIssuers).
//
// Nothing here knows HTTP: the api turns requests into these calls. Thread-safe.
#pragma once

#include "auth/jwt.hpp"
#include "auth/policy.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

#include <boost/json.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <variant>
#include <vector>

namespace ucr::auth {

struct UserSpec {
  std::string name;  ///< login name: 1-64 of a-z 0-9 . _ - @
  std::string display;
  Role role = Role::gp;
  std::string password;
  std::string fhir_user;              ///< "Practitioner/..", "Patient/..", "RelatedPerson/..", optional
  std::string organisation;           ///< "Organization/..", optional
  std::vector<std::string> patients;  ///< patient-facing roles: the Patient ids this account may see
};

struct UserInfo {
  std::string name;
  std::string display;
  Role role = Role::gp;
  std::string fhir_user;
  std::string organisation;
  std::vector<std::string> patients;
  bool disabled = false;
  bool totp = false;
  int failed_logins = 0;
  std::int64_t locked_until = 0;
};

struct ClientSpec {
  std::string id;  ///< 1-64 of a-z 0-9 . _ -
  std::string name;
  bool confidential = true;                ///< has a secret (client credentials, server-side apps)
  std::vector<std::string> redirect_uris;  ///< exact match for the authorization code flow
  std::string scopes;                      ///< the most it may be granted (space-separated SMART scopes)
  std::vector<std::string> grant_types;    ///< authorization_code, client_credentials, refresh_token
  Role role = Role::integration;           ///< the role of tokens it gets by client credentials
  std::string organisation;
};

struct ProviderOptions {
  std::string issuer;    ///< e.g. http://127.0.0.1:8080 (tokens' "iss", discovery URLs)
  std::string audience;  ///< the FHIR base, e.g. http://127.0.0.1:8080/fhir (tokens' "aud")
  std::int64_t access_ttl_seconds = 900;
  std::int64_t refresh_ttl_seconds = std::int64_t{8} * 3600;
  std::int64_t code_ttl_seconds = 60;
  int max_failed_logins = 5;  ///< then locked, for lockout_seconds doubling per further failure
  std::int64_t lockout_seconds = 60;
  std::int64_t max_lockout_seconds = 3600;
  /// A trusted issuer's JWKS file is read again at most this often, so that its key rotations
  /// are picked up without a restart ...
  std::int64_t jwks_recheck_seconds = 60;
  /// ... and at most this often when a token names a key the file did not have.
  std::int64_t jwks_retry_seconds = 5;
  /// Revocations and disabled accounts recorded by another ucr node on the same database (or by
  /// `ucr admin` while serving) take effect here within this many seconds. 0: on every request.
  std::int64_t shared_state_refresh_seconds = 15;
};

/// A validated authorization request (response_type=code).
struct AuthorizeRequest {
  std::string client_id;
  std::string client_name;
  std::string redirect_uri;
  std::string scope;
  std::string state;
  std::string code_challenge;
  std::string nonce;
};

/// Why an authorization request was refused. When `redirect` is false the redirect URI itself is
/// not trusted, so the error must be shown to the user rather than sent back to the client.
struct AuthorizeError {
  bool redirect = false;
  std::string error;  ///< OAuth error code
  std::string description;
};

struct LoginOutcome {
  bool ok = false;
  std::string location;  ///< where to send the browser (with code and state, or an error)
  std::string message;   ///< for the login page when !ok (the same for every failure)
  bool need_totp = false;
};

/// An OAuth endpoint's answer: status and a JSON body (RFC 6749 section 5).
struct OAuthResponse {
  int status = 200;
  boost::json::object body;
};

/// What the provider reports for the audit trail (logins, failed logins, tokens, revocations).
struct AuthEvent {
  std::string kind;  ///< login, login-failed, token, token-refused, revoke
  std::string user;
  std::string client_id;
  Role role = Role::patient;
  bool role_known = false;
  bool success = true;
  std::string detail;
  std::string address;
};

/// Hashes tokens for the verified-token cache (heterogeneous lookup by string_view).
struct TokenHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class Provider {
 public:
  Provider(store::Store& store, std::shared_ptr<KeyRing> keys, ProviderOptions options);
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;

  /// Loads revocations and disabled accounts (call once after construction).
  [[nodiscard]] core::Result<void> load();
  /// Reads the revoked tokens and disabled accounts again from the store (as load()); done by
  /// authenticate() when ProviderOptions::shared_state_refresh_seconds have passed.
  [[nodiscard]] core::Result<void> refresh_shared_state(std::int64_t now) const;

  // Accounts.
  [[nodiscard]] core::Result<void> add_user(const UserSpec& spec);
  [[nodiscard]] core::Result<std::vector<UserInfo>> list_users();
  [[nodiscard]] core::Result<UserInfo> user(const std::string& name);
  [[nodiscard]] core::Result<void> set_disabled(const std::string& name, bool disabled);
  [[nodiscard]] core::Result<void> set_password(const std::string& name, const std::string& password);
  /// Turns on a second factor and returns its secret (base32) for the user's authenticator app.
  [[nodiscard]] core::Result<std::string> enable_totp(const std::string& name);
  /// Registers a client; returns its secret for a confidential one (shown once, stored hashed).
  [[nodiscard]] core::Result<std::string> add_client(const ClientSpec& spec);

  /// A short-lived access token for a user, for scripting and tests (`ucr admin token`).
  [[nodiscard]] core::Result<std::string> mint_token(const std::string& user, const std::string& scope,
                                                     std::int64_t ttl_seconds, std::int64_t now);

  // Flows.
  [[nodiscard]] std::variant<AuthorizeRequest, AuthorizeError> check_authorize(
      const std::vector<std::pair<std::string, std::string>>& params) const;
  [[nodiscard]] LoginOutcome login(const AuthorizeRequest& request, const std::string& user,
                                   const std::string& password, const std::string& totp_code, std::int64_t now,
                                   const std::string& address);
  [[nodiscard]] OAuthResponse token(const std::vector<std::pair<std::string, std::string>>& form,
                                    std::optional<std::string_view> authorization, std::int64_t now,
                                    const std::string& address);
  [[nodiscard]] OAuthResponse revoke(const std::vector<std::pair<std::string, std::string>>& form,
                                     std::optional<std::string_view> authorization, std::int64_t now);

  /// Verifies an `Authorization: Bearer ...` header value. 401 errors say what was wrong.
  [[nodiscard]] core::Result<Principal> authenticate(std::string_view authorization, std::int64_t now) const;

  /// Trusts an external identity provider's tokens. Their "ucr_role" claim (or `default_role`)
  /// gives the role; "fhirUser", "organisation" and "patient" claims carry the rest.
  [[nodiscard]] core::Result<void> trust_issuer(const std::string& issuer, std::string_view jwks_json,
                                                const std::string& audience, Role default_role);
  /// As trust_issuer, with the JWKS read from a file that is read again while serving (see
  /// ProviderOptions::jwks_recheck_seconds): when it changes, the new keys replace the old; a file
  /// that has become unreadable or invalid keeps the keys last read (and says so in the log).
  [[nodiscard]] core::Result<void> trust_issuer_file(const std::string& issuer, const std::string& jwks_path,
                                                     const std::string& audience, Role default_role);

  [[nodiscard]] boost::json::object openid_configuration() const;
  [[nodiscard]] boost::json::object smart_configuration() const;
  [[nodiscard]] boost::json::object jwks() const;

  void on_event(std::function<void(const AuthEvent&)> listener) { listener_ = std::move(listener); }

  [[nodiscard]] const ProviderOptions& options() const { return options_; }
  /// Sets the issuer (and the FHIR base as audience) once the server knows its address; call
  /// before serving requests.
  void set_issuer(const std::string& issuer) {
    options_.issuer = issuer;
    options_.audience = issuer + "/fhir";
  }
  [[nodiscard]] KeyRing& keys() { return *keys_; }

 private:
  struct ClientRecord;
  [[nodiscard]] core::Result<std::optional<boost::json::object>> read_json(const std::string& key) const;
  [[nodiscard]] core::Result<ClientRecord> client(const std::string& id) const;
  [[nodiscard]] core::Result<ClientRecord> authenticate_client(
      const std::vector<std::pair<std::string, std::string>>& form,
      std::optional<std::string_view> authorization) const;
  [[nodiscard]] std::string sign_access(const UserInfo* user, const ClientRecord& client, const Scopes& scopes,
                                        std::int64_t now, std::int64_t ttl) const;
  [[nodiscard]] OAuthResponse issue(const UserInfo* user, const ClientRecord& client, const Scopes& scopes,
                                    std::int64_t now, bool with_refresh);
  [[nodiscard]] core::Result<Principal> verify_token(std::string_view token, std::int64_t now) const;
  [[nodiscard]] core::Result<void> still_valid(const Principal& p) const;
  void emit(const AuthEvent& e) const {
    if (listener_) listener_(e);
  }

  store::Store& store_;
  std::shared_ptr<KeyRing> keys_;
  ProviderOptions options_;
  /// Reads a trusted issuer's JWKS file again when it is due; true when new keys were taken.
  bool refresh_jwks(const std::string& issuer, std::int64_t now, bool after_failure) const;
  [[nodiscard]] std::shared_ptr<const TrustedIssuers> external() const {
    std::lock_guard lock(external_mu_);
    return external_;
  }
  struct JwksSource {
    std::string path;
    std::string audience;
    std::string content;
    std::int64_t checked = 0;
  };
  mutable std::mutex external_mu_;  // guards external_ and jwks_sources_
  mutable std::shared_ptr<const TrustedIssuers> external_ = std::make_shared<const TrustedIssuers>();
  mutable std::map<std::string, JwksSource, std::less<>> jwks_sources_;
  std::map<std::string, Role, std::less<>> external_roles_;
  mutable std::shared_mutex mu_;
  mutable std::set<std::string, std::less<>> revoked_;   // access-token ids
  mutable std::set<std::string, std::less<>> disabled_;  // user names
  mutable std::atomic<std::int64_t> refreshed_at_{0};
  std::uint64_t local_changes_ = 0;  // revocations and disablings made here (guarded by mu_)
  /// One reading for refresh_shared_state: false when a local change came in meanwhile.
  [[nodiscard]] core::Result<bool> read_shared_state(std::int64_t now, std::uint64_t changes) const;
  std::function<void(const AuthEvent&)> listener_;
  static constexpr std::size_t kMaxCachedTokens = 10000;
  mutable std::shared_mutex cache_mu_;
  mutable std::unordered_map<std::string, Principal, TokenHash, std::equal_to<>> verified_;
};

}  // namespace ucr::auth
