#include "cli/security.hpp"

#include "audit/audit.hpp"
#include "auth/crypto.hpp"
#include "auth/totp.hpp"
#include "core/time.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <boost/json.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>

namespace ucr::cli {
namespace {

constexpr const char* kIssuerKey = "auth:issuer";

int fail(const std::string& message) {
  std::cerr << "ucr: " << message << "\n";
  return 1;
}

std::int64_t now_seconds() { return core::now_micros() / 1'000'000; }

std::string roles_list() {
  std::string out;
  for (const auto r : auth::all_roles()) {
    if (!out.empty()) out += ", ";
    out += auth::role_code(r);
  }
  return out;
}

/// The password for a new account: from standard input (--password-stdin) or UCR_PASSWORD; never
/// from the command line, where other users of the machine could see it.
core::Result<std::string> read_password(bool from_stdin) {
  if (from_stdin) {
    std::string line;
    std::getline(std::cin, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
  }
  if (const char* env = std::getenv("UCR_PASSWORD"); env != nullptr && *env != '\0') return std::string(env);
  return core::Error::invalid("give the password on standard input with --password-stdin, or in UCR_PASSWORD");
}

/// The key-encryption key of the shared signing keys from --key-file or UCR_KEY_ENCRYPTION_KEY (empty:
/// neither given). Messages name where the key came from, never the key.
core::Result<std::string> read_key_encryption_key(const std::string& key_file) {
  std::string text;
  std::string source = "UCR_KEY_ENCRYPTION_KEY";
  if (!key_file.empty()) {
    source = "--key-file " + key_file;
    struct stat st {};
    if (::stat(key_file.c_str(), &st) != 0) return core::Error::invalid(fmt::format("cannot read {}", source));
    if ((st.st_mode & 077U) != 0) {
      return core::Error::invalid(
          fmt::format("{} is readable by group or others (mode {:04o}); chmod 600 it", source, st.st_mode & 07777U));
    }
    std::ifstream in(key_file, std::ios::binary);
    if (!in) return core::Error::invalid(fmt::format("cannot read {}", source));
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  } else if (const char* env = std::getenv("UCR_KEY_ENCRYPTION_KEY"); env != nullptr) {
    text = env;
  }
  if (text.empty()) return std::string();
  auto key = auth::parse_key_text(text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!key) {
    return core::Error::invalid(fmt::format(
        "the key-encryption key in {} must be 32 bytes as 64 hex digits (e.g. from `openssl rand -hex 32`)", source));
  }
  return std::move(*key);
}

}  // namespace

CLI::Option* add_key_file_option(CLI::App& command, std::string& key_file) {
  return command.add_option("--key-file", key_file,
                            "File (mode 0600) holding the key that encrypts the token-signing keys kept in the "
                            "database (64 hex digits; or set UCR_KEY_ENCRYPTION_KEY). Keeps the keys in the database, "
                            "shared by every node; always so with --database");
}

CLI::Option* add_database_option(CLI::App& command, std::string& database) {
  return command
      .add_option("--database", database,
                  "PostgreSQL database instead of the embedded one: postgresql://USER@HOST:PORT/DB (password from "
                  "PGPASSWORD or ~/.pgpass; never put it on the command line)")
      ->envname("UCR_DATABASE");
}

void add_security_commands(CLI::App& app, SecurityArgs& a, std::string& data_dir, std::string& database) {
  a.admin = app.add_subcommand("admin", "Accounts, OAuth clients and access tokens of the built-in sign-in service.");
  a.admin->require_subcommand(1);
  auto* user = a.admin->add_subcommand("user", "Staff, patient and proxy accounts.");
  user->require_subcommand(1);
  a.user_add = user->add_subcommand(
      "add", "Create an account. The password comes from standard input (--password-stdin) or UCR_PASSWORD.");
  a.user_add->add_option("NAME", a.name, "Login name: 1-64 of a-z 0-9 . _ - @")->required();
  a.user_add->add_option("--role", a.role, "One of: " + roles_list())->capture_default_str();
  a.user_add->add_option("--display", a.display, "The person's name as shown to staff");
  a.user_add->add_option("--fhir-user", a.fhir_user, "Their FHIR record, e.g. Practitioner/123 or Patient/456");
  a.user_add->add_option("--organisation", a.organisation, "Organization/... they work for");
  a.user_add->add_option("--patient", a.patients,
                         "Patient id a patient or proxy account may see (repeat for a proxy of several)");
  a.user_add->add_flag("--password-stdin", a.password_stdin, "Read the password from the first line of standard input");
  a.user_list = user->add_subcommand("list", "List the accounts (never their passwords).");
  a.user_disable = user->add_subcommand("disable", "Stop an account signing in; its tokens stop working at once.");
  a.user_disable->add_option("NAME", a.name, "Login name")->required();
  a.user_enable = user->add_subcommand("enable", "Let a disabled account sign in again.");
  a.user_enable->add_option("NAME", a.name, "Login name")->required();
  a.user_password = user->add_subcommand("password", "Set a new password (standard input or UCR_PASSWORD); unlocks.");
  a.user_password->add_option("NAME", a.name, "Login name")->required();
  a.user_password->add_flag("--password-stdin", a.password_stdin, "Read the password from standard input");
  a.user_totp = user->add_subcommand("totp", "Turn on a second sign-in factor (TOTP) and print its secret and URI.");
  a.user_totp->add_option("NAME", a.name, "Login name")->required();

  auto* client = a.admin->add_subcommand("client", "OAuth clients (apps and systems).");
  client->require_subcommand(1);
  a.client_add = client->add_subcommand("add", "Register a client; prints its secret once (confidential clients).");
  a.client_add->add_option("ID", a.name, "Client id: 1-64 of a-z 0-9 . _ -")->required();
  a.client_add->add_option("--name", a.client_name, "Name shown on the sign-in page");
  a.client_add->add_flag("--public", a.public_client, "No secret (a browser or mobile app using PKCE)");
  a.client_add->add_option("--redirect", a.redirect_uris, "Redirect URI (repeat for several)");
  a.client_add->add_option("--scope", a.scopes, "The most it may be granted, e.g. \"system/*.rs\"")->required();
  a.client_add->add_option("--grant", a.grants, "authorization_code, client_credentials, refresh_token (repeat)")
      ->required();
  a.client_add->add_option("--role", a.role, "Role of its client-credentials tokens")->capture_default_str();
  a.client_add->add_option("--organisation", a.organisation, "Organization/... it acts for");

  a.token = a.admin->add_subcommand("token", "Print a short-lived access token for a user (scripts and tests).");
  a.token->add_option("--user", a.name, "Login name")->required();
  a.token->add_option("--scope", a.token_scope, "Scopes (default: the role's whole policy)");
  a.token->add_option("--minutes", a.token_minutes, "Lifetime")->capture_default_str()->check(CLI::Range(1, 1440));
  auto* keys = a.admin->add_subcommand("keys", "The keys that sign access tokens.");
  keys->require_subcommand(1);
  a.keys_rotate = keys->add_subcommand(
      "rotate",
      "Make a new signing key now (e.g. after a suspected compromise); tokens signed before stay valid until they "
      "expire. Servers take it up within 30 seconds when the keys are kept in the database (--database or "
      "--key-file), else when next started.");
  for (auto* leaf : {a.user_add, a.user_list, a.user_disable, a.user_enable, a.user_password, a.user_totp, a.client_add,
                     a.token, a.keys_rotate}) {
    leaf->add_option("--data", data_dir, "Directory of the embedded database (and of the signing keys)")
        ->capture_default_str();
    add_database_option(*leaf, database);
    add_key_file_option(*leaf, a.key_file);
  }

  a.audit = app.add_subcommand("audit", "The tamper-evident audit trail.");
  a.audit->require_subcommand(1);
  a.audit_verify = a.audit->add_subcommand(
      "verify", "Recompute the hash chain of every audit entry; exit 0 when intact, 1 with the first broken entry.");
  a.audit_verify->add_option("--data", data_dir, "Directory of the embedded database")->capture_default_str();
  add_database_option(*a.audit_verify, database);
  a.audit_verify->add_flag("--quiet", a.quiet, "No progress on standard error");
}

bool security_command_chosen(const SecurityArgs& a) { return a.admin->parsed() || a.audit->parsed(); }

core::Result<std::unique_ptr<auth::Provider>> open_provider(store::Store& store, const std::filesystem::path& data_dir,
                                                            std::string issuer, const KeyRingSettings& settings) {
  if (issuer.empty()) {
    auto recorded = store.get_meta(kIssuerKey);
    if (!recorded) return recorded.error();
    issuer = recorded->value_or("http://127.0.0.1:8080");
  }
  while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
  auto kek = read_key_encryption_key(settings.key_file);
  if (!kek) return kek.error();
  // Keys already in the database stay there: without the key-encryption key this refuses to start
  // (open_shared says what to give) rather than quietly signing with other keys.
  bool in_database = settings.shared || !kek->empty();
  if (!in_database) {
    auto held = store.signing_keys();
    in_database = held && !held->empty();
  }
  auto keys = in_database ? auth::KeyRing::open_shared(store, *kek, auth::KeyRingOptions{}, now_seconds())
                          : auth::KeyRing::open(data_dir / "keys", auth::KeyRingOptions{}, now_seconds());
  OPENSSL_cleanse(kek->data(), kek->size());
  if (!keys) return keys.error();
  auth::ProviderOptions po;
  po.issuer = issuer;
  po.audience = issuer + "/fhir";
  auto p = std::make_unique<auth::Provider>(store, std::move(*keys), po);
  if (auto r = p->load(); !r) return r.error();
  return p;
}

core::Result<void> seed_demo_accounts(auth::Provider& provider, store::Store& store, const std::string& issuer) {
  auto existing = provider.list_users();
  if (!existing) return existing.error();
  if (!existing->empty()) return core::ok();
  const auto first = [&store](const std::string& type) -> std::string {
    auto ids = store.find_ids(type, {}, 1);
    return ids && !ids->empty() ? type + "/" + ids->front() : std::string();
  };
  std::string practitioner = first("Practitioner");
  std::string organisation = first("Organization");
  auto patients = store.find_ids("Patient", {}, 200);
  std::string patient = patients && !patients->empty() ? patients->front() : std::string();
  const std::string child = patients && patients->size() > 1 ? patients->back() : patient;
  // The demo patient is the first one registered with a practice and a usual GP (not a hospital's
  // or council's copy), and staff accounts work at that practice as that GP, so that practice's
  // patients can be opened (a care relationship) and everyone else's need emergency access.
  const std::vector<std::string> none;
  for (const auto& id : patients ? *patients : none) {
    auto stored = store.read("Patient", id);
    if (!stored) continue;
    boost::system::error_code ec;
    const auto parsed = boost::json::parse(stored->json, ec);
    const auto* gps = !ec && parsed.is_object() ? parsed.as_object().if_contains("generalPractitioner") : nullptr;
    std::string org;
    std::string gp;
    for (const auto& g : gps != nullptr && gps->is_array() ? gps->as_array() : boost::json::array{}) {
      const auto* ref = g.is_object() ? g.as_object().if_contains("reference") : nullptr;
      if (ref == nullptr || !ref->is_string()) continue;
      const std::string reference(ref->as_string());
      if (reference.starts_with("Organization/")) org = reference;
      if (reference.starts_with("Practitioner/")) gp = reference;
    }
    if (!org.empty() && !gp.empty()) {
      organisation = org;
      practitioner = gp;
      patient = id;
      break;
    }
  }
  for (const auto role : auth::all_roles()) {
    auth::UserSpec u;
    u.name = std::string(auth::role_code(role));
    u.display = fmt::format("Demo {}", auth::role_title(role));
    u.role = role;
    u.password = fmt::format("ucr-demo-{}", auth::role_code(role));
    if (role == auth::Role::patient) {
      if (patient.empty()) continue;
      u.patients = {patient};
      u.fhir_user = "Patient/" + patient;
    } else if (role == auth::Role::proxy) {
      if (child.empty()) continue;
      u.patients = {child};
    } else if (role == auth::Role::data_quality_officer || role == auth::Role::administrator) {
      // Not clinicians: their decisions are recorded under their own names, not the demo GP's.
      u.organisation = organisation;
    } else if (role != auth::Role::analyst && role != auth::Role::integration) {
      u.fhir_user = practitioner;
      u.organisation = organisation;
    }
    if (auto r = provider.add_user(u); !r) return r;
  }
  auth::ClientSpec web;
  web.id = "ucr-web";
  web.name = "Universal Care Record";
  web.confidential = false;
  web.redirect_uris = {issuer + "/app/callback", "http://127.0.0.1:8080/app/callback",
                       "http://localhost:8080/app/callback"};
  web.scopes = "openid fhirUser launch/patient offline_access patient/*.cruds user/*.cruds";
  web.grant_types = {"authorization_code", "refresh_token"};
  if (auto r = provider.add_client(web); !r) return r.error();
  std::cerr << fmt::format(
      "demo: sign-in accounts created, one per role: user name = role code (gp, hospital-clinician, ..., patient, "
      "proxy, analyst, data-quality-officer, administrator), password = ucr-demo-<role code> (e.g. gp / ucr-demo-gp). "
      "Web client id: "
      "ucr-web. "
      "A token for scripts: ucr admin token --user gp\n");
  return core::ok();
}

int run_security_command(const SecurityArgs& a, store::Store& store, const std::filesystem::path& data_dir,
                         bool shared_keys) {
  if (a.audit_verify->parsed()) {
    const bool tty = isatty(STDERR_FILENO) != 0;
    auto report = audit::verify(store, [&](std::int64_t n) {
      if (a.quiet) return;
      if (tty) {
        std::cerr << fmt::format("\raudit: {} entries checked", n) << std::flush;
      } else if (n % 100000 == 0) {
        std::cerr << fmt::format("audit: {} entries checked\n", n);
      }
    });
    if (tty && !a.quiet) std::cerr << "\n";
    if (!report) return fail(report.error().message());
    if (report->bad_seq) {
      std::cout << fmt::format("audit trail BROKEN at entry {}: {}\n({} entries verified before it)\n",
                               *report->bad_seq, report->problem, report->entries);
      return 1;
    }
    std::cout << fmt::format("audit trail intact: {} entries, head {}\n", report->entries, report->head);
    return 0;
  }
  auto provider = open_provider(store, data_dir, {}, KeyRingSettings{shared_keys, a.key_file});
  if (!provider) return fail(provider.error().message());
  auto& p = **provider;
  if (a.user_add->parsed()) {
    auto role = auth::parse_role(a.role);
    if (!role) return fail(fmt::format("unknown role '{}'; roles: {}", a.role, roles_list()));
    auto password = read_password(a.password_stdin);
    if (!password) return fail(password.error().message());
    auth::UserSpec u{a.name, a.display, *role, *password, a.fhir_user, a.organisation, a.patients};
    if (auto r = p.add_user(u); !r) return fail(r.error().message());
    std::cout << fmt::format("user {} added ({})\n", a.name, auth::role_title(*role));
    return 0;
  }
  if (a.user_list->parsed()) {
    auto users = p.list_users();
    if (!users) return fail(users.error().message());
    std::cout << fmt::format("{:<24} {:<26} {:<9} {:<5} {}\n", "NAME", "ROLE", "STATUS", "2FA", "RECORD");
    for (const auto& u : *users) {
      std::string status = u.disabled ? "disabled" : u.locked_until > now_seconds() ? "locked" : "active";
      std::cout << fmt::format("{:<24} {:<26} {:<9} {:<5} {}\n", u.name, auth::role_code(u.role), status,
                               u.totp ? "yes" : "no", u.fhir_user);
    }
    return 0;
  }
  if (a.user_disable->parsed() || a.user_enable->parsed()) {
    const bool disable = a.user_disable->parsed();
    if (auto r = p.set_disabled(a.name, disable); !r) return fail(r.error().message());
    std::cout << fmt::format("user {} {}\n", a.name, disable ? "disabled" : "enabled");
    return 0;
  }
  if (a.user_password->parsed()) {
    auto password = read_password(a.password_stdin);
    if (!password) return fail(password.error().message());
    if (auto r = p.set_password(a.name, *password); !r) return fail(r.error().message());
    std::cout << fmt::format("password of {} changed\n", a.name);
    return 0;
  }
  if (a.user_totp->parsed()) {
    auto secret = p.enable_totp(a.name);
    if (!secret) return fail(secret.error().message());
    std::cout << fmt::format("secret: {}\nuri: {}\n", *secret, auth::totp_uri(*secret, a.name, "ucr"));
    return 0;
  }
  if (a.client_add->parsed()) {
    auto role = auth::parse_role(a.role);
    if (!role) return fail(fmt::format("unknown role '{}'; roles: {}", a.role, roles_list()));
    auth::ClientSpec c;
    c.id = a.name;
    c.name = a.client_name;
    c.confidential = !a.public_client;
    c.redirect_uris = a.redirect_uris;
    c.scopes = a.scopes;
    c.grant_types = a.grants;
    c.role = *role;
    c.organisation = a.organisation;
    auto secret = p.add_client(c);
    if (!secret) return fail(secret.error().message());
    std::cout << fmt::format("client {} added\n", a.name);
    if (!secret->empty()) std::cout << fmt::format("secret: {}\n(shown once; store it safely)\n", *secret);
    return 0;
  }
  if (a.keys_rotate->parsed()) {
    if (auto r = p.keys().rotate_now(now_seconds()); !r) return fail(r.error().message());
    std::cout << fmt::format("signing key {} made; it signs from now on\n", p.keys().current_kid());
    return 0;
  }
  if (a.token->parsed()) {
    auto token = p.mint_token(a.name, a.token_scope, static_cast<std::int64_t>(a.token_minutes) * 60, now_seconds());
    if (!token) return fail(token.error().message());
    std::cout << *token << "\n";
    return 0;
  }
  return fail("choose a command; see ucr admin --help");
}

}  // namespace ucr::cli
