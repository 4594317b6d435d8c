// cli: the `ucr` program and its subcommands. The only place executables are defined.
#include "api/api.hpp"
#include "api/request.hpp"
#include "core/log.hpp"
#include "demo/demo.hpp"
#include "fhir/outcome.hpp"
#include "fhir/validator.hpp"
#include "fhirpath/fhirpath.hpp"
#include "http/server.hpp"
#include "store/sqlite/sqlite_store.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <boost/json.hpp>

#include <unistd.h>

#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>

namespace {

using namespace ucr;

bool split_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos) return false;
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  try {
    const int p = std::stoi(listen.substr(colon + 1));
    if (p < 0 || p > 65535) return false;
    port = static_cast<std::uint16_t>(p);
  } catch (const std::exception&) {
    return false;
  }
  return !host.empty();
}

/// Reads and parses a JSON file ('-' for standard input); on failure says why in `why`.
std::optional<boost::json::value> read_json(const std::string& file, std::string& why) {
  std::stringstream ss;
  if (file == "-") {
    ss << std::cin.rdbuf();
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      why = "cannot read " + file;
      return std::nullopt;
    }
    ss << in.rdbuf();
  }
  boost::system::error_code ec;
  auto v = boost::json::parse(ss.str(), ec);
  if (ec) {
    why = fmt::format("{} is not valid JSON: {}", file, ec.message());
    return std::nullopt;
  }
  return v;
}

int fail(const std::string& message) {
  std::cerr << "ucr: " << message << "\n";
  return 1;
}

int load_demo(store::Store& store, const demo::Options& options, const demo::LoadOptions& load_options) {
  api::Api api(store, api::ApiOptions{});
  const bool tty = isatty(STDERR_FILENO) != 0;
  const std::size_t step = std::max<std::size_t>(1, options.people / 10);
  std::size_t next_line = step;
  const auto line = [](const demo::Progress& p) {
    return fmt::format("demo: {}/{} people, {} resources, {:.0f} resources/s", p.people_done, p.people_total,
                       p.resources_done, p.resources_per_second);
  };
  auto r = demo::load(api, options, load_options, [&](const demo::Progress& p) {
    if (tty) {
      std::cerr << "\r" << line(p) << "   " << std::flush;
    } else if (p.people_done >= next_line || p.people_done == p.people_total) {
      std::cerr << line(p) << "\n";
      next_line = p.people_done + step;
    }
  });
  if (tty) std::cerr << "\n";
  if (!r) return fail("demo data could not be loaded: " + r.error().message());
  std::cerr << fmt::format("demo: loaded {} people ({} resources) in {:.1f} s, {:.0f} resources/s\n", r->people_done,
                           r->resources_done, r->seconds, r->resources_per_second);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ucr - the Universal Care Record: a FHIR R4 shared health and care record server.\n"
      "Run 'ucr <command> --help' for the options of each command."};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string(UCR_VERSION));
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->capture_default_str();

  // serve
  auto* serve = app.add_subcommand("serve", "Serve the FHIR R4 API (base /fhir), /healthz and /metrics over HTTP.");
  std::string listen = "127.0.0.1:8080";
  std::string data_dir = "./ucr-data";
  http::ServerOptions sopts;
  std::size_t max_body_mib = 16;
  std::size_t demo_people = 0;
  bool no_access_log = false;
  serve->add_option("--listen", listen, "HOST:PORT to listen on (port 0 picks a free one)")->capture_default_str();
  serve->add_option("--data", data_dir, "Directory of the embedded database (created if missing)")
      ->capture_default_str();
  serve->add_option("--threads", sopts.io_threads, "I/O threads (0: one per core)")->capture_default_str();
  serve->add_option("--max-body-mib", max_body_mib, "Largest request body accepted, in MiB (413 beyond)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  serve->add_option("--tls-cert", sopts.tls_cert, "PEM certificate chain; with --tls-key turns on HTTPS")
      ->check(CLI::ExistingFile);
  serve->add_option("--tls-key", sopts.tls_key, "PEM private key")->check(CLI::ExistingFile);
  serve->add_option("--public-base", sopts.public_base,
                    "External base URL used in links, e.g. https://ucr.example.org");
  serve->add_option("--web-root", sopts.web_root, "Directory of web app files served at /");
  serve->add_option("--demo", demo_people, "Load this many synthetic people first when the database is empty");
  std::uint64_t demo_seed = demo::kDefaultSeed;
  serve->add_option("--demo-seed", demo_seed, "Seed of the synthetic population (--demo)")->capture_default_str();
  serve->add_flag("--no-access-log", no_access_log, "Do not write one line per request to standard output");

  // demo
  auto* demo_cmd = app.add_subcommand(
      "demo", "Generate a synthetic Kent & Medway population (fictional people) and load it into the database.");
  demo::Options demo_options;
  demo::LoadOptions demo_load;
  demo_cmd->add_option("--data", data_dir, "Directory of the embedded database")->capture_default_str();
  demo_cmd->add_option("--patients,--people", demo_options.people, "How many people to create")
      ->capture_default_str()
      ->check(CLI::Range(1, 10000000));
  demo_cmd->add_option("--seed", demo_options.seed, "Seed: the same seed and size give the same population")
      ->capture_default_str();
  demo_cmd->add_option("--threads", demo_load.threads, "Loading threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 16));
  demo_cmd->add_option("--batch", demo_load.people_per_bundle, "People per transaction Bundle")
      ->capture_default_str()
      ->check(CLI::Range(1, 200));

  // check
  auto* check = app.add_subcommand("check", "Check the embedded database's integrity (exit 0 when sound).");
  check->add_option("--data", data_dir, "Directory of the embedded database")->capture_default_str();

  // validate
  auto* validate = app.add_subcommand("validate", "Validate a FHIR R4 JSON resource file; prints an OperationOutcome.");
  std::string file;
  validate->add_option("FILE", file, "The JSON file to validate ('-' for standard input)")->required();

  // fhirpath
  auto* fp = app.add_subcommand("fhirpath",
                                "Evaluate a FHIRPath expression on a JSON resource; prints the result "
                                "collection as JSON with the type of each item.");
  std::string expression;
  std::string input_file;
  fp->add_option("EXPRESSION", expression, "The FHIRPath expression, e.g. \"Patient.name.given\"")->required();
  fp->add_option("--input", input_file, "The resource (JSON file, '-' for standard input); none: empty input");

  CLI11_PARSE(app, argc, argv);
  core::init_logging(log_level);

  if (*fp) {
    boost::json::value input;
    if (!input_file.empty()) {
      std::string why;
      auto parsed = read_json(input_file, why);
      if (!parsed) return fail(why);
      input = std::move(*parsed);
    }
    auto compiled = fhirpath::compile(expression);
    if (!compiled) return fail(compiled.error().message());
    auto result = input.is_null() ? fhirpath::evaluate(**compiled, fhirpath::Collection{})
                                  : fhirpath::evaluate(**compiled, input);
    if (!result) return fail(result.error().message());
    std::cout << boost::json::serialize(fhirpath::to_json(*result)) << "\n";
    return 0;
  }

  if (*validate) {
    std::string why;
    auto v = read_json(file, why);
    if (!v) return fail(why);
    auto issues = fhir::validate_resource(*v);
    const bool bad = std::any_of(issues.begin(), issues.end(),
                                 [](const auto& i) { return i.severity == "error" || i.severity == "fatal"; });
    std::cout << boost::json::serialize(fhir::operation_outcome(issues)) << "\n";
    return bad ? 2 : 0;
  }

  auto opened = store::open_sqlite_store(store::SqliteOptions{data_dir});
  if (!opened) return fail(opened.error().message());
  auto& store = **opened;

  if (*check) {
    auto r = store.check_integrity();
    if (!r) return fail(r.error().message());
    std::cout << "ok\n";
    return 0;
  }
  if (*demo_cmd) return load_demo(store, demo_options, demo_load);

  // serve
  if (!split_listen(listen, sopts.host, sopts.port)) return fail("--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
  sopts.max_body_bytes = max_body_mib << 20U;
  core::set_access_log(!no_access_log);
  if (demo_people > 0) {
    auto existing = store.find_ids("Patient", {}, 1);
    if (existing && existing->empty()) {
      if (int rc = load_demo(store, demo::Options{.people = demo_people, .seed = demo_seed}, demo::LoadOptions{});
          rc != 0) {
        return rc;
      }
    }
  }
  api::Api api(store, api::ApiOptions{.software_version = UCR_VERSION});
  http::Server server(sopts, api, store);
  if (auto r = server.start(); !r) return fail(r.error().message());
  core::log_info(
      fmt::format("ucr serving FHIR R4 at http://{}:{}/fhir (data in {})", sopts.host, server.port(), data_dir));
  std::cout << fmt::format("listening on {}:{}", sopts.host, server.port()) << std::endl;
  server.run();
  core::log_info("stopped");
  return 0;
}
