#include "auth/jwt.hpp"

#include "auth/crypto.hpp"
#include "auth/detail/jose.hpp"

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

std::shared_ptr<const SigningKey> make_signing_key(std::string kid, std::int64_t created, detail::Pkey key) {
  auto xy = detail::p256_coordinates(key.get());
  if (!xy) return nullptr;
  auto k = std::make_shared<SigningKey>();
  k->kid = std::move(kid);
  k->created = created;
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

core::Result<void> persist_key(const fs::path& dir, const SigningKey& key) {
  const Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return core::Error::internal("key ring: cannot encode the private key as PEM");
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<std::size_t>(size));
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

KeyRing::~KeyRing() = default;

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
