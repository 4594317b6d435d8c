// cli/security: `ucr admin ...` (accounts, clients, tokens), `ucr audit verify`, and the wiring of
// the OAuth provider and audit trail into `ucr serve`.
#pragma once

#include "auth/provider.hpp"
#include "store/store.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace ucr::cli {

/// Options of `ucr admin` and `ucr audit`.
struct SecurityArgs {
  CLI::App* admin = nullptr;
  CLI::App* user_add = nullptr;
  CLI::App* user_list = nullptr;
  CLI::App* user_disable = nullptr;
  CLI::App* user_enable = nullptr;
  CLI::App* user_totp = nullptr;
  CLI::App* user_password = nullptr;
  CLI::App* client_add = nullptr;
  CLI::App* token = nullptr;
  CLI::App* keys_rotate = nullptr;
  CLI::App* audit = nullptr;
  CLI::App* audit_verify = nullptr;

  std::string name;
  std::string role = "gp";
  std::string display;
  std::string fhir_user;
  std::string organisation;
  std::vector<std::string> patients;
  bool password_stdin = false;

  std::string client_name;
  bool public_client = false;
  std::vector<std::string> redirect_uris;
  std::string scopes;
  std::vector<std::string> grants;

  std::string key_file;
  std::string token_scope;
  int token_minutes = 15;
  bool quiet = false;
};

/// Adds --database (also read from UCR_DATABASE) to a command.
CLI::Option* add_database_option(CLI::App& command, std::string& database);

/// Where the token-signing keys live.
struct KeyRingSettings {
  /// In the database, shared by every node on it (always with PostgreSQL), rather than in DIR/keys.
  bool shared = false;
  /// --key-file: a file (mode 0600) holding the key-encryption key of the shared keys; empty: the
  /// UCR_KEY_ENCRYPTION_KEY environment variable. Either given makes the ring shared.
  std::string key_file;
};

/// Adds --key-file to a command.
CLI::Option* add_key_file_option(CLI::App& command, std::string& key_file);

/// Registers `ucr admin ...` and `ucr audit ...` on the app; `data_dir` receives --data and
/// `database` --database (a PostgreSQL URL, used instead of the embedded database when given).
void add_security_commands(CLI::App& app, SecurityArgs& args, std::string& data_dir, std::string& database);

/// True when one of those commands was chosen.
[[nodiscard]] bool security_command_chosen(const SecurityArgs& args);

/// Runs the chosen command; returns the process exit code. `shared_keys`: the database is shared by
/// several nodes (PostgreSQL), so the signing keys are kept in it.
[[nodiscard]] int run_security_command(const SecurityArgs& args, store::Store& store,
                                       const std::filesystem::path& data_dir, bool shared_keys);

/// The signing keys (DIR/keys, or the database's shared ring, see KeyRingSettings) and provider of a
/// server. `issuer` empty: the one recorded by the last `ucr serve`, else http://127.0.0.1:8080.
[[nodiscard]] core::Result<std::unique_ptr<auth::Provider>> open_provider(store::Store& store,
                                                                          const std::filesystem::path& data_dir,
                                                                          std::string issuer,
                                                                          const KeyRingSettings& keys);

/// Creates the demo accounts (one per role) and the demo web client when there are no accounts
/// yet, and prints how to sign in.
[[nodiscard]] core::Result<void> seed_demo_accounts(auth::Provider& provider, store::Store& store,
                                                    const std::string& issuer);

}  // namespace ucr::cli
