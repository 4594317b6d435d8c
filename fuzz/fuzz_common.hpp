// fuzz/fuzz_common: one SQLite-backed Api per fuzzing process, and the check every fuzz target makes.
// The database lives in a temporary directory (on /dev/shm when present, so commits do not wait on a disk)
// that is removed at exit.
#pragma once

#include "api/api.hpp"
#include "core/log.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <unistd.h>

namespace ucr::fuzz {

class Env {
 public:
  static Env& get() {
    static Env env;
    return env;
  }
  api::Api& api() { return *api_; }
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;

 private:
  Env() {
    core::init_logging("off");
    std::error_code ec;
    std::filesystem::path base = std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                                              : std::filesystem::temp_directory_path();
    dir_ = base / ("ucr-fuzz-" + std::to_string(::getpid()) + "-" + std::to_string(std::random_device{}()));
    auto opened = store::open_sqlite_store(store::SqliteOptions{dir_});
    if (!opened) {
      std::fprintf(stderr, "fuzz: cannot open the store in %s: %s\n", dir_.c_str(), opened.error().message().c_str());
      std::abort();
    }
    store_ = std::move(*opened);
    api_ = std::make_unique<api::Api>(*store_, api::ApiOptions{});
  }
  ~Env() {
    api_.reset();
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<api::Api> api_;
};

/// Runs one request with `body` and aborts (a finding) when the server would answer 5xx.
inline void post(const char* path, const std::uint8_t* data, std::size_t size) {
  api::Request r;
  r.method = "POST";
  r.path = path;
  r.base_url = "http://fuzz.invalid/fhir";
  r.headers.add("Content-Type", "application/fhir+json");
  r.body.assign(reinterpret_cast<const char*>(data), size);
  const api::Response res = Env::get().api().handle(r);
  if (res.status >= 500) {
    std::fprintf(stderr, "fuzz: POST %s answered %d: %s\n", path, res.status, res.body.substr(0, 2000).c_str());
    std::abort();
  }
  if (res.status < 100) {
    std::fprintf(stderr, "fuzz: POST %s answered an invalid status %d\n", path, res.status);
    std::abort();
  }
}

}  // namespace ucr::fuzz
