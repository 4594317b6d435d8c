#include "auth/jwt.hpp"

#include "auth/crypto.hpp"
#include "auth/detail/jose.hpp"
#include "core/log.hpp"
#include "store/store.hpp"

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <boost/json/serialize.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

namespace ucr::auth {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using detail::SigningKey;

struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using Bio = std::unique_ptr<BIO, BioFree>;

constexpr std::string_view kKeySuffix = ".pem";

core::Error io_error(std::string_view what, const fs::path& path, int err) {
  return core::Error::internal(fmt::format("key ring: cannot {} {}: {}", what, path.string(), std::strerror(err)));
}

std::shared_ptr<const SigningKey> make_signing_key(std::string kid, std::int64_t created, detail::Pkey key,
                                                   std::int64_t generation = 0) {
  auto xy = detail::p256_coordinates(key.get());
  if (!xy) return nullptr;
  auto k = std::make_shared<SigningKey>();
  k->kid = std::move(kid);
  k->created = created;
  k->generation = generation;
  k->key = std::move(key);
  k->x_b64 = base64url_encode(xy->first);
  k->y_b64 = base64url_encode(xy->second);
  return k;
}

/// The creation time encoded at the front of a kid ("<seconds>-<random>").
std::optional<std::int64_t> created_from_kid(std::string_view kid) {
  const auto dash = kid.find('-');
  if (dash == 0 || dash == std::string_view::npos || dash + 1 == kid.size()) return std::nullopt;
  std::int64_t created = 0;
  const auto* end = kid.data() + dash;
  const auto [ptr, ec] = std::from_chars(kid.data(), end, created);
  if (ec != std::errc() || ptr != end || created < 0) return std::nullopt;
  for (const char c : kid) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return std::nullopt;
  }
  return created;
}

/// Writes `text` to `path` with mode 0600 and makes it durable: a temporary file, fsync, rename, fsync of the
/// directory. A crash leaves either no key file or a complete one.
core::Result<void> write_private_file(const fs::path& path, std::string_view text) {
  const fs::path tmp = fs::path(path).concat(".tmp");
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) return io_error("create", tmp, errno);
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return io_error("write", tmp, err);
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fchmod(fd, 0600) != 0 || ::fsync(fd) != 0) {
    const int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    return io_error("sync", tmp, err);
  }
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    return io_error("rename", tmp, err);
  }
  const int dir_fd = ::open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
  return core::ok();
}

/// The private key as unencrypted PKCS#8 PEM (the caller cleanses it after use).
core::Result<std::string> pem_of(const SigningKey& key) {
  const Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return core::Error::internal("key ring: cannot encode the private key as PEM");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

/// A P-256 private key from PEM; null when it is not one (never prompts for a passphrase).
detail::Pkey key_from_pem(std::string_view pem) {
  const Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  pem_password_cb* no_passphrase = [](char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return 0; };
  detail::Pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
  if (key && !detail::is_p256(key.get())) key.reset();
  return key;
}

/// A shared ring's stored form of a key: "v1." + base64url(AES-256-GCM(PEM)), the kid authenticated.
constexpr std::string_view kSealedPrefix = "v1.";

core::Result<std::string> seal_key(const SigningKey& key, std::string_view kek) {
  auto pem = pem_of(key);
  if (!pem) return pem.error();
  std::string sealed = std::string(kSealedPrefix) + base64url_encode(aes256gcm_seal(kek, *pem, key.kid));
  OPENSSL_cleanse(pem->data(), pem->size());
  return sealed;
}

core::Result<std::shared_ptr<const SigningKey>> unseal_key(const store::SigningKeyRecord& r, std::string_view kek) {
  const std::string_view text = r.sealed;
  auto bytes = text.starts_with(kSealedPrefix) ? base64url_decode(text.substr(kSealedPrefix.size())) : std::nullopt;
  auto pem = bytes ? aes256gcm_open(kek, *bytes, r.kid) : std::nullopt;
  if (!pem) {
    return core::Error::invalid(fmt::format(
        "key ring: cannot decrypt signing key '{}' in the database: the key-encryption key (UCR_KEY_ENCRYPTION_KEY "
        "or --key-file) is not the one it was encrypted with",
        detail::printable(r.kid)));
  }
  detail::Pkey key = key_from_pem(*pem);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!key) return core::Error::internal(fmt::format("key ring: signing key '{}' is not a P-256 key", r.kid));
  auto made = make_signing_key(r.kid, r.created, std::move(key), r.generation);
  if (!made) return core::Error::internal(fmt::format("key ring: cannot read the public part of '{}'", r.kid));
  return made;
}

core::Result<void> persist_key(const fs::path& dir, const SigningKey& key) {
  auto pem_result = pem_of(key);
  if (!pem_result) return pem_result.error();
  std::string pem = std::move(*pem_result);
  auto written = write_private_file(dir / (key.kid + std::string(kKeySuffix)), pem);
  OPENSSL_cleanse(pem.data(), pem.size());
  return written;
}

core::Result<std::shared_ptr<const SigningKey>> load_key(const fs::path& path) {
  const std::string kid = path.stem().string();
  const auto created = created_from_kid(kid);
  if (!created) {
    return core::Error::internal(
        fmt::format("key ring: {} is not named <creation seconds>-<random>.pem", path.string()));
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return io_error("stat", path, errno);
  if ((st.st_mode & 077U) != 0) {
    return core::Error::internal(fmt::format("key ring: {} is readable by group or others (mode {:04o}); expected 0600",
                                             path.string(), st.st_mode & 07777U));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return io_error("open", path, errno);
  std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // A callback that supplies no passphrase: an encrypted key fails instead of prompting on the terminal.
  pem_password_cb* no_passphrase = [](char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) { return 0; };
  detail::Pkey key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr) : nullptr);
  OPENSSL_cleanse(pem.data(), pem.size());
  if (!key || !detail::is_p256(key.get())) {
    return core::Error::internal(fmt::format("key ring: {} is not an unencrypted P-256 private key", path.string()));
  }
  auto signing = make_signing_key(kid, *created, std::move(key));
  if (!signing) return core::Error::internal(fmt::format("key ring: cannot read the public part of {}", path.string()));
  return signing;
}

core::Result<void> ensure_private_dir(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      return core::Error::internal(fmt::format("key ring: {} is not a directory", dir.string()));
    return core::ok();
  }
  if (dir.has_parent_path()) {
    fs::create_directories(dir.parent_path(), ec);
    if (ec) return io_error("create", dir.parent_path(), ec.value());
  }
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return io_error("create", dir, errno);
  return core::ok();
}

std::int64_t wall_clock_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

}  // namespace

KeyRing::KeyRing(std::optional<fs::path> dir, KeyRingOptions options) : dir_(std::move(dir)), options_(options) {}

KeyRing::~KeyRing() { OPENSSL_cleanse(kek_.data(), kek_.size()); }

core::Result<std::shared_ptr<KeyRing>> KeyRing::open(const fs::path& dir, KeyRingOptions options,
                                                     std::int64_t now_seconds) {
  if (options.rotate_after_seconds <= 0 || options.retain_seconds < 0) {
    return core::Error::invalid("key ring: rotate_after_seconds must be positive and retain_seconds not negative");
  }
  if (auto made = ensure_private_dir(dir); !made) return made.error();
  std::vector<std::shared_ptr<const SigningKey>> keys;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec) || it->path().extension() != kKeySuffix) continue;
    auto key = load_key(it->path());
    if (!key) return key.error();
    keys.push_back(std::move(*key));
  }
  if (ec) return io_error("list", dir, ec.value());
  std::sort(keys.begin(), keys.end(), [](const auto& a, const auto& b) {
    return a->created != b->created ? a->created < b->created : a->kid < b->kid;
  });
  std::shared_ptr<KeyRing> ring(new KeyRing(dir, options));
  ring->keys_ = std::move(keys);
  if (ring->keys_.empty()) {
    std::lock_guard rotating(ring->rotate_mutex_);
    if (auto added = ring->add_key(now_seconds); !added) return added.error();
  }
  if (auto rotated = ring->rotate_if_due(now_seconds); !rotated) return rotated.error();
  return ring;
}

core::Result<std::shared_ptr<KeyRing>> KeyRing::open_shared(store::Store& store, std::string_view key_encryption_key,
                                                            KeyRingOptions options, std::int64_t now_seconds) {
  if (options.rotate_after_seconds <= 0 || options.retain_seconds < 0) {
    return core::Error::invalid("key ring: rotate_after_seconds must be positive and retain_seconds not negative");
  }
  if (key_encryption_key.size() != 32) {
    auto held = store.signing_keys();
    if (!held) return held.error();
    return core::Error::invalid(
        held->empty()
            ? "key ring: the signing keys kept in a shared database are encrypted: give a key-encryption key (32 "
              "random bytes as 64 hex digits, e.g. from `openssl rand -hex 32`) in UCR_KEY_ENCRYPTION_KEY or in a "
              "file named by --key-file (mode 0600), the same on every node"
            : "key ring: the database holds encrypted signing keys: give the key-encryption key they were encrypted "
              "with in UCR_KEY_ENCRYPTION_KEY or in a file named by --key-file (mode 0600)");
  }
  std::shared_ptr<KeyRing> ring(new KeyRing(std::nullopt, options));
  ring->store_ = &store;
  ring->kek_ = std::string(key_encryption_key);
  const std::lock_guard rotating(ring->rotate_mutex_);
  if (auto synced = ring->sync_shared(now_seconds, false); !synced) return synced.error();
  ring->maintained_at_ = now_seconds;
  return ring;
}

core::Result<void> KeyRing::sync_shared(std::int64_t now_seconds, bool rotate) {
  std::vector<std::shared_ptr<const SigningKey>> held;
  {
    const std::shared_lock lock(mutex_);
    held = keys_;
  }
  // Two rounds at most: a key added by this node, or (when another node won the generation) adopted.
  for (int round = 0; round < 3; ++round) {
    auto records = store_->signing_keys();
    if (!records) return records.error();
    std::vector<std::shared_ptr<const SigningKey>> keys;
    for (const auto& r : *records) {
      // Keys already held are not decrypted again.
      const auto it = std::find_if(held.begin(), held.end(), [&r](const auto& k) { return k->kid == r.kid; });
      if (it != held.end()) {
        keys.push_back(*it);
        continue;
      }
      auto key = unseal_key(r, kek_);
      if (!key) return key.error();
      keys.push_back(std::move(*key));
    }
    const bool due = keys.empty() || rotate || now_seconds - keys.back()->created >= options_.rotate_after_seconds;
    if (!due || round == 2) {
      if (keys.empty()) return core::Error::internal("key ring: no signing key could be stored");
      // Drop keys retain_seconds after their successor began signing (as drop_retired does).
      std::size_t n = 0;
      while (n + 1 < keys.size() && keys[n + 1]->created + options_.retain_seconds <= now_seconds) ++n;
      if (n > 0) {
        if (auto dropped = store_->drop_signing_keys(keys[n]->generation); !dropped) return dropped;
        keys.erase(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n));
      }
      const std::unique_lock lock(mutex_);
      keys_ = std::move(keys);
      return core::ok();
    }
    const std::int64_t generation = keys.empty() ? 1 : keys.back()->generation + 1;
    // Keys stay ordered by creation even if this node's clock is behind the one that made the last key.
    const std::int64_t created = keys.empty() ? now_seconds : std::max(now_seconds, keys.back()->created);
    auto key =
        make_signing_key(fmt::format("{}-{}", created, random_token(9)), created, detail::generate_p256(), generation);
    if (!key) return core::Error::internal("key ring: cannot read the public part of a new key");
    auto sealed = seal_key(*key, kek_);
    if (!sealed) return sealed.error();
    auto added = store_->add_signing_key(store::SigningKeyRecord{generation, key->kid, created, std::move(*sealed)});
    if (!added) return added.error();
    if (*added) core::log_info(fmt::format("key ring: new signing key {} (generation {})", key->kid, generation));
    // Added or not (another node made this generation first), the next round reads the winner.
    held.push_back(std::move(key));
    rotate = false;
  }
  return core::ok();
}

core::Result<void> KeyRing::maintain(std::int64_t now_seconds) {
  auto last = maintained_at_.load();
  if (now_seconds - last < options_.sync_seconds || !maintained_at_.compare_exchange_strong(last, now_seconds)) {
    return core::ok();
  }
  if (!shared()) return rotate_if_due(now_seconds);
  const std::unique_lock rotating(rotate_mutex_, std::try_to_lock);
  if (!rotating.owns_lock()) return core::ok();
  return sync_shared(now_seconds, false);
}

bool KeyRing::reload_for_unknown_kid(std::int64_t now_seconds) {
  if (!shared()) return false;
  auto last = reloaded_at_.load();
  if (now_seconds - last < 1 || !reloaded_at_.compare_exchange_strong(last, now_seconds)) return false;
  const std::lock_guard rotating(rotate_mutex_);
  if (auto synced = sync_shared(now_seconds, false); !synced) {
    core::log_warn("key ring: the signing keys could not be read again: " + synced.error().message());
    return false;
  }
  return true;
}

std::shared_ptr<KeyRing> KeyRing::ephemeral() { return ephemeral(KeyRingOptions{}, wall_clock_seconds()); }

std::shared_ptr<KeyRing> KeyRing::ephemeral(KeyRingOptions options, std::int64_t now_seconds) {
  std::shared_ptr<KeyRing> ring(new KeyRing(std::nullopt, options));
  std::lock_guard rotating(ring->rotate_mutex_);
  if (!ring->add_key(now_seconds)) throw std::runtime_error("auth: cannot create an ephemeral signing key");
  return ring;
}

// Called with rotate_mutex_ held. Generates (and persists) outside the reader lock; takes it only to append.
core::Result<void> KeyRing::add_key(std::int64_t now_seconds) {
  std::int64_t created = now_seconds;
  {
    const std::shared_lock lock(mutex_);
    // Keys stay ordered by creation even if the clock stepped back.
    if (!keys_.empty()) created = std::max(created, keys_.back()->created);
  }
  auto key = make_signing_key(fmt::format("{}-{}", created, random_token(9)), created, detail::generate_p256());
  if (!key) return core::Error::internal("key ring: cannot read the public part of a new key");
  if (dir_) {
    if (auto persisted = persist_key(*dir_, *key); !persisted) return persisted;
  }
  const std::unique_lock lock(mutex_);
  keys_.push_back(std::move(key));
  return core::ok();
}

// Called with rotate_mutex_ held. A key is dropped once retain_seconds have passed since its successor began
// signing; the newest key always stays.
core::Result<void> KeyRing::drop_retired(std::int64_t now_seconds) {
  std::vector<std::string> dropped;
  {
    const std::unique_lock lock(mutex_);
    std::size_t n = 0;
    while (n + 1 < keys_.size() && keys_[n + 1]->created + options_.retain_seconds <= now_seconds) ++n;
    for (std::size_t i = 0; i < n; ++i) dropped.push_back(keys_[i]->kid);
    keys_.erase(keys_.begin(), keys_.begin() + static_cast<std::ptrdiff_t>(n));
  }
  if (!dir_) return core::ok();
  for (const auto& kid : dropped) {
    const fs::path path = *dir_ / (kid + std::string(kKeySuffix));
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("delete", path, errno);
  }
  return core::ok();
}

core::Result<void> KeyRing::rotate_if_due(std::int64_t now_seconds) {
  const std::lock_guard rotating(rotate_mutex_);
  if (shared()) return sync_shared(now_seconds, false);
  std::int64_t newest = 0;
  {
    const std::shared_lock lock(mutex_);
    newest = keys_.back()->created;
  }
  if (now_seconds - newest >= options_.rotate_after_seconds) {
    if (auto added = add_key(now_seconds); !added) return added;
  }
  return drop_retired(now_seconds);
}

core::Result<void> KeyRing::rotate_now(std::int64_t now_seconds) {
  const std::lock_guard rotating(rotate_mutex_);
  if (shared()) return sync_shared(now_seconds, true);
  if (auto added = add_key(now_seconds); !added) return added;
  return drop_retired(now_seconds);
}

std::string KeyRing::sign(const json::object& claims) const {
  std::shared_ptr<const SigningKey> key;
  {
    const std::shared_lock lock(mutex_);
    key = keys_.back();
  }
  const json::object header{{"alg", "ES256"}, {"typ", "JWT"}, {"kid", key->kid}};
  std::string token = base64url_encode(json::serialize(header));
  token += '.';
  token += base64url_encode(json::serialize(claims));
  const std::string signature = detail::sign_es256(key->key.get(), token);
  token += '.';
  token += base64url_encode(signature);
  return token;
}

json::object KeyRing::jwks() const {
  json::array keys;
  const std::shared_lock lock(mutex_);
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) {
    const auto& k = **it;
    keys.push_back(json::object{{"kty", "EC"},
                                {"crv", "P-256"},
                                {"x", k.x_b64},
                                {"y", k.y_b64},
                                {"kid", k.kid},
                                {"use", "sig"},
                                {"alg", "ES256"}});
  }
  return json::object{{"keys", std::move(keys)}};
}

std::string KeyRing::current_kid() const {
  const std::shared_lock lock(mutex_);
  return keys_.back()->kid;
}

std::vector<std::string> KeyRing::kids() const {
  std::vector<std::string> out;
  const std::shared_lock lock(mutex_);
  for (auto it = keys_.rbegin(); it != keys_.rend(); ++it) out.push_back((*it)->kid);
  return out;
}

std::shared_ptr<const SigningKey> KeyRing::find_key(std::string_view kid, std::int64_t now_seconds) const {
  const std::shared_lock lock(mutex_);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (keys_[i]->kid != kid) continue;
    // Past retention is as good as gone, even if no rotation has run since to drop it.
    const bool retired = i + 1 < keys_.size() && keys_[i + 1]->created + options_.retain_seconds <= now_seconds;
    return retired ? nullptr : keys_[i];
  }
  return nullptr;
}

core::Result<json::object> verify_jwt(std::string_view token, const KeyRing& ring, const VerifyOptions& options) {
  auto jws = detail::parse_compact(token);
  if (!jws) return jws.error();
  // The algorithm is decided here, never by the token: anything but ES256 is refused before a key is touched.
  const auto alg = detail::alg_of(*jws);
  if (alg != "ES256")
    return detail::unauthorized(fmt::format("unsupported alg '{}': only ES256 is accepted", detail::printable(alg)));
  auto kid = detail::kid_of(*jws);
  if (!kid) return kid.error();
  if (kid->empty()) return detail::unauthorized("unknown kid: the header has none");
  const auto key = ring.find_key(*kid, options.now_seconds);
  if (!key) return detail::unauthorized(fmt::format("unknown kid '{}'", detail::printable(*kid)));
  if (!detail::verify_es256(key->key.get(), jws->signing_input, jws->signature)) {
    return detail::unauthorized("bad signature");
  }
  auto claims = detail::decode_payload(*jws);
  if (!claims) return claims.error();
  if (auto checked = detail::check_claims(*claims, options); !checked) return checked.error();
  return claims;
}

}  // namespace ucr::auth
