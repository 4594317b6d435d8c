// auth/jwt: JSON Web Tokens (RFC 7519) signed by the server with ES256 (RFC 7518 §3.4) under rotating keys,
// and tokens from trusted external identity providers. KeyRing is thread-safe (see the class);
// TrustedIssuers is a value: build it, then share it const (verify may run on many threads).
#pragma once

#include "core/error.hpp"

#include <boost/json/object.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace ucr::store {
class Store;
}  // namespace ucr::store

namespace ucr::auth {

namespace detail {
struct SigningKey;
struct IssuerKeys;
}  // namespace detail

struct VerifyOptions;

struct KeyRingOptions {
  std::int64_t rotate_after_seconds = std::int64_t{7} * 24 * 3600;  ///< a new signing key after this
  /// Old keys are kept for verification this long after they stop signing (> longest token life).
  std::int64_t retain_seconds = std::int64_t{2} * 24 * 3600;
  /// maintain() looks at the ring again (a shared ring: re-reads the database, adopting keys other
  /// nodes made; any ring: rotates when due) at most this often.
  std::int64_t sync_seconds = 30;
};

/// ES256 (ECDSA P-256, SHA-256) signing keys with rotation. The newest key signs; older keys only verify,
/// until `retain_seconds` after a newer key replaced them. Thread-safe: sign, verify and jwks may run on many
/// threads while rotate_if_due runs (readers share a lock; a rotation holds it only to swap the key list).
///
/// A ring lives in a directory (one node, open) or in the database (open_shared), where every node on that
/// database reads the same keys, so a token signed by one node verifies on all. Shared private keys are
/// sealed with AES-256-GCM under a key-encryption key that never enters the database or a log.
class KeyRing {
 public:
  KeyRing(const KeyRing&) = delete;
  KeyRing& operator=(const KeyRing&) = delete;
  ~KeyRing();

  /// Loads every key in `dir` (PKCS#8 PEM private keys `<kid>.pem`, mode 0600; `dir` created 0700 if
  /// missing), creating a first key when there is none, and rotates if due. Refuses a key file readable by
  /// group or others, an unreadable or non-P-256 key, and options with rotate_after_seconds <= 0 or
  /// retain_seconds < 0. The kid is "<creation unix seconds>-<random>", so the age survives restarts.
  static core::Result<std::shared_ptr<KeyRing>> open(const std::filesystem::path& dir, KeyRingOptions options,
                                                     std::int64_t now_seconds);
  /// Opens the ring kept in `store` (the signing_key table) and shared by every node on that database;
  /// private keys are sealed under `key_encryption_key` (32 bytes, see parse_key_text). Creates the first
  /// key when the table is empty and rotates if due; when several nodes do so at once one key wins and the
  /// others adopt it. Refuses an empty key-encryption key, and keys it cannot unseal (a wrong key).
  static core::Result<std::shared_ptr<KeyRing>> open_shared(store::Store& store, std::string_view key_encryption_key,
                                                            KeyRingOptions options, std::int64_t now_seconds);
  /// One fresh key held in memory only (tests, development), created now by the wall clock.
  static std::shared_ptr<KeyRing> ephemeral();
  /// As ephemeral(), with the given options and creation time (tests of rotation).
  static std::shared_ptr<KeyRing> ephemeral(KeyRingOptions options, std::int64_t now_seconds);

  /// Makes a new signing key when the newest is rotate_after_seconds old; drops keys retain_seconds after
  /// they stopped signing. Persists (writes new files, deletes dropped ones) when opened from a dir.
  core::Result<void> rotate_if_due(std::int64_t now_seconds);
  /// Makes a new signing key now (e.g. after a suspected compromise), then drops expired keys as above.
  core::Result<void> rotate_now(std::int64_t now_seconds);
  /// At most every sync_seconds (a call in between returns at once, as does one while another thread is at
  /// it): a shared ring reads the database again and takes the keys other nodes made or dropped; then any
  /// ring rotates if due (rotate_if_due). Cheap enough to call on every request.
  core::Result<void> maintain(std::int64_t now_seconds);
  /// A shared ring reads the database again now, at most once a second (a token named a kid not held:
  /// another node may just have rotated). True when it read.
  bool reload_for_unknown_kid(std::int64_t now_seconds);
  /// True for a ring kept in the database.
  [[nodiscard]] bool shared() const { return store_ != nullptr; }

  /// Compact JWS (RFC 7515 §7.1): header {"alg":"ES256","typ":"JWT","kid":...}, the claims as given,
  /// signature in JOSE form (r||s, 64 bytes, not DER). The caller sets iss, aud, iat, exp.
  [[nodiscard]] std::string sign(const boost::json::object& claims) const;
  /// RFC 7517 JWK Set {"keys":[{kty:EC, crv:P-256, x, y, kid, use:sig, alg:ES256}, ...]}, newest first,
  /// public parts only.
  [[nodiscard]] boost::json::object jwks() const;
  /// The kid of the key that signs now.
  [[nodiscard]] std::string current_kid() const;
  /// Every kid held, newest first.
  [[nodiscard]] std::vector<std::string> kids() const;

 private:
  KeyRing(std::optional<std::filesystem::path> dir, KeyRingOptions options);

  /// Shared ring, rotate_mutex_ held: reads the table, adds a key of the next generation when `rotate` or
  /// due (or none exists), adopts whichever key won that generation, drops retired keys.
  core::Result<void> sync_shared(std::int64_t now_seconds, bool rotate);
  core::Result<void> add_key(std::int64_t now_seconds);
  core::Result<void> drop_retired(std::int64_t now_seconds);
  /// The key `kid` if held and not yet past retention at `now_seconds`; null otherwise.
  [[nodiscard]] std::shared_ptr<const detail::SigningKey> find_key(std::string_view kid,
                                                                   std::int64_t now_seconds) const;
  friend core::Result<boost::json::object> verify_jwt(std::string_view token, const KeyRing& ring,
                                                      const VerifyOptions& options);

  const std::optional<std::filesystem::path> dir_;
  const KeyRingOptions options_;
  std::mutex rotate_mutex_;  ///< serialises rotations; never taken by readers
  mutable std::shared_mutex mutex_;
  std::vector<std::shared_ptr<const detail::SigningKey>> keys_;  ///< guarded by mutex_; oldest first, never empty
  store::Store* store_ = nullptr;  ///< a shared ring's database; null for a file or memory ring
  std::string kek_;                ///< a shared ring's key-encryption key (cleansed on destruction)
  std::atomic<std::int64_t> maintained_at_{0};
  std::atomic<std::int64_t> reloaded_at_{0};
};

struct VerifyOptions {
  std::string issuer;    ///< required exact match of "iss"
  std::string audience;  ///< "aud" (string or array) must contain it
  std::int64_t now_seconds = 0;
  std::int64_t leeway_seconds = 30;  ///< clock skew allowed for exp/nbf/iat
  std::int64_t max_lifetime_seconds =
      std::int64_t{24} * 3600;  ///< tokens with exp - iat (or exp - now) beyond this are refused
};

/// Verifies a compact JWS signed by one of the ring's keys and returns its claims. Each failure is an error
/// (HTTP 401, issue code "login") whose message starts with the check that failed: "malformed token",
/// "unsupported alg" (only ES256; "none", HS256 etc. refused before any key is used), "unknown kid",
/// "bad signature", "wrong issuer", "wrong audience", "missing exp", "token expired", "token not yet valid"
/// (nbf or iat in the future), "token lifetime too long". An empty issuer or audience in `options` refuses
/// every token (fail closed).
[[nodiscard]] core::Result<boost::json::object> verify_jwt(std::string_view token, const KeyRing& ring,
                                                           const VerifyOptions& options);

/// Tokens from external identity providers (e.g. NHS CIS2, NHS login): trusted issuers each with their JWKS
/// and expected audience. Keys used: kty EC crv P-256 (ES256) and kty RSA with n, e of 2048 to 8192 bits
/// (RS256); keys with another kty, curve, "use" or "alg" are skipped.
class TrustedIssuers {
 public:
  /// Trusts `issuer` (exact "iss") with the keys of `jwks_json` and tokens whose "aud" contains `audience`.
  /// Replaces the keys of an issuer already known (a JWKS refresh). `invalid` when the JSON is not a JWK Set,
  /// a usable-looking key is malformed, a key carries private parts, or no key is usable.
  core::Result<void> add(std::string issuer, std::string_view jwks_json, std::string audience);
  [[nodiscard]] bool knows(std::string_view issuer) const;
  /// Reads "iss" from the (unverified) payload, picks that issuer's key by kid (or its only key of the alg when
  /// the header has no kid), checks alg (ES256 or RS256 only, matching the key type; never "none", never
  /// HMAC), then the signature and the same claim checks as verify_jwt (VerifyOptions defaults). Errors as
  /// verify_jwt's, plus "unknown issuer" and "alg does not match key".
  [[nodiscard]] core::Result<boost::json::object> verify(std::string_view token, std::int64_t now_seconds) const;

 private:
  std::map<std::string, std::shared_ptr<const detail::IssuerKeys>, std::less<>> issuers_;
};

}  // namespace ucr::auth
