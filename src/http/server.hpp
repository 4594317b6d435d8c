// http: the HTTP/1.1 (optionally TLS) server in front of the FHIR API, on Boost.Beast/Asio.
// One Server per process; start() then run() on one thread, stop() from any thread.
#pragma once

#include "api/api.hpp"
#include "core/error.hpp"
#include "store/store.hpp"

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

namespace ucr::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;        ///< 0 picks a free port (see Server::port)
  std::size_t io_threads = 0;       ///< 0: one per core
  std::size_t worker_threads = 32;  ///< threads that wait on writes, so group commit can batch them
  std::size_t max_body_bytes = 16U << 20U;
  std::size_t max_header_bytes = 16U << 10U;
  std::chrono::seconds header_timeout{30};  ///< idle keep-alive wait plus header arrival
  std::chrono::seconds body_timeout{60};
  std::chrono::seconds write_timeout{60};
  std::chrono::seconds shutdown_grace{30};
  std::string tls_cert;  ///< PEM files; both set turns TLS on
  std::string tls_key;
  std::string public_base;         ///< e.g. https://ucr.example.nhs.uk; empty: derived from the listen address
  std::filesystem::path web_root;  ///< the web apps' built files, served at /app/ (see static_files.hpp)
  bool handle_signals = true;      ///< stop gracefully on SIGINT/SIGTERM
};

class Server {
 public:
  Server(ServerOptions options, api::Api& api, store::Store& store);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Binds and listens. Errors (port in use, bad TLS files) are returned, not thrown.
  [[nodiscard]] core::Result<void> start();
  /// The bound port (useful with port 0).
  [[nodiscard]] std::uint16_t port() const;
  /// Serves until stop() or a signal; returns after in-flight requests have finished.
  void run();
  /// Stops accepting, lets in-flight requests finish (up to the grace period), then returns from run().
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ucr::http
